//! The About panel: the program's and its parts' versions, where data and
//! logs are kept, and "Copy diagnostics" (versions, hosts without secrets,
//! the last log lines), also shown so the user sees what is copied.

use leptos::prelude::*;
use leptos::task::spawn_local;
use rdesk_ipc::{AboutView, NoArgs, cmd};

use crate::bridge::invoke;
use crate::clipboard::copy_to_clipboard;
use crate::state::Ui;

#[component]
pub fn AboutPage() -> impl IntoView {
    let ui = expect_context::<Ui>();
    let about = RwSignal::new(None::<AboutView>);
    let report = RwSignal::new(None::<String>);
    spawn_local(async move {
        match invoke::<cmd::About>(&NoArgs {}).await {
            Ok(a) => about.set(Some(a)),
            Err(e) => ui.fail(e.message),
        }
    });
    let copy = move |_| {
        spawn_local(async move {
            match invoke::<cmd::Diagnostics>(&NoArgs {}).await {
                Ok(text) => {
                    copy_to_clipboard(&text);
                    report.set(Some(text));
                }
                Err(e) => ui.fail(e.message),
            }
        });
    };
    view! {
        <section class="page about" id="about">
            <h2>"About"</h2>
            {move || about.get().map(|a| view! {
                <p id="about-program"><b>{a.program.clone()}</b></p>
                <dl class="settings" id="about-versions">
                    {a.versions.iter().map(|v| view! { <dt>{v.part.clone()}</dt><dd>{v.version.clone()}</dd> }).collect::<Vec<_>>()}
                    <dt>"Data"</dt><dd id="about-data">{a.data_dir.clone()}</dd>
                    <dt>"Logs"</dt><dd id="about-logs">{a.log_dir.clone()}</dd>
                </dl>
            })}
            <p class="muted">"Passwords and key passphrases are kept in the OS keyring, never in these folders."</p>
            <button id="copy-diagnostics" type="button" on:click=copy>"Copy diagnostics"</button>
            {move || report.get().map(|text| view! {
                <p class="ok">"Copied to the clipboard:"</p>
                <pre id="diagnostics">{text}</pre>
            })}
        </section>
    }
}
