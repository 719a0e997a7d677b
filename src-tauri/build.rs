//! Tauri's build step. The UI's `app/dist` is built by `cargo xtask ui`; when
//! it is missing (a fresh clone compiled by plain cargo, e.g. clippy), a
//! one-page placeholder says how to build it, so the shell still compiles.

use std::path::Path;

fn main() {
    let dist = Path::new("../app/dist");
    println!("cargo:rerun-if-changed=../app/dist");
    if !dist.join("index.html").exists() {
        let page = "<!doctype html><meta charset=utf-8><title>Rserve Desk</title>\
            <p>The UI is not built: run <code>cargo xtask ui</code> (or <code>cargo xtask run</code>).</p>";
        if let Err(e) = std::fs::create_dir_all(dist)
            .and_then(|()| std::fs::write(dist.join("index.html"), page))
        {
            println!("cargo:warning=cannot write the placeholder UI in app/dist: {e}");
        }
    }
    tauri_build::build()
}
