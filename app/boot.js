// Loads the Leptos UI that `cargo xtask ui` built with wasm-bindgen --target web.
import init from "./rdesk-app.js";
init();
