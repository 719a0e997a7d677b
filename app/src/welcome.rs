//! The welcome page, shown while there is no host: add a VPS (its host key
//! is shown to trust first) or try this machine's Docker at once.

use leptos::prelude::*;

use crate::add_host::{AddHostForm, add_local};
use crate::state::Ui;

/// The name this machine's Docker gets when added from here.
const THIS_MACHINE: &str = "this-machine";

#[component]
pub fn WelcomePage() -> impl IntoView {
    let ui = expect_context::<Ui>();
    view! {
        <section class="page welcome" id="welcome">
            <h2>"Welcome to Rserve Desk"</h2>
            <p>"Serve the functions of your R code from your own server: drop a folder of R files onto a host, and Rserve Desk builds it into an Rserve container behind Traefik, watches it, and tells you when it crashes. Everything goes over SSH; nothing runs on the server but Docker, Traefik and your apps."</p>
            <div class="choices">
                <div class="box choice">
                    <h3>"Add your VPS"</h3>
                    <p class="muted">"A Linux server you can reach with SSH as root, or as a user in the docker group. Its host key is shown first, for you to compare and trust; then set it up from the Hosts page (Docker, Traefik, TLS) with “Bootstrap…”."</p>
                    <AddHostForm ssh_only=true/>
                </div>
                <div class="box choice">
                    <h3>"Try it on this machine"</h3>
                    <p class="muted">"Uses this machine's Docker, no server needed: your apps run here, and you can move to a VPS later."</p>
                    <button id="welcome-local" type="button" on:click=move |_| add_local(ui, THIS_MACHINE)>"Use this machine's Docker"</button>
                </div>
            </div>
        </section>
    }
}
