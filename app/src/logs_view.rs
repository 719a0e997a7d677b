//! The app page's logs: the last lines, then live ones while "Follow" is
//! on; leaving the page ends the follow.

use leptos::prelude::*;
use leptos::task::spawn_local;
use rdesk_ipc::{AppArgs, LogLineView, LogsArgs, cmd};

use crate::bridge::{invoke, invoke_streaming};
use crate::state::Ui;

/// How many of the last log lines a follow starts with.
const LOG_TAIL: usize = 200;
/// How many log lines the page keeps while following.
const LOG_LINES_KEPT: usize = 2000;

#[component]
pub fn Logs(host: String, slug: String) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let logs = RwSignal::new(Vec::<LogLineView>::new());
    let following = RwSignal::new(false);
    let args = AppArgs { host, slug };
    let follow_logs = {
        let args = args.clone();
        move |_| {
            if following.get_untracked() {
                following.set(false);
                let args = args.clone();
                spawn_local(async move {
                    if let Err(e) = invoke::<cmd::StopLogs>(&args).await {
                        ui.fail(e.message);
                    }
                });
                return;
            }
            following.set(true);
            logs.set(Vec::new());
            let args = LogsArgs {
                host: args.host.clone(),
                slug: args.slug.clone(),
                tail: LOG_TAIL,
                follow: true,
            };
            spawn_local(async move {
                let append = move |line: LogLineView| {
                    logs.update(|l| {
                        l.push(line);
                        let extra = l.len().saturating_sub(LOG_LINES_KEPT);
                        l.drain(..extra);
                    })
                };
                let done = invoke_streaming::<cmd::Logs>(&args, append).await;
                following.set(false);
                if let Err(e) = done {
                    ui.fail(e.message);
                }
            });
        }
    };
    on_cleanup(move || {
        if following.get_untracked() {
            spawn_local(async move {
                let _ = invoke::<cmd::StopLogs>(&args).await;
            });
        }
    });
    view! {
        <h3>"Logs " <button id="logs-follow" class="small" on:click=follow_logs>{move || if following.get() { "Stop following" } else { "Follow (last 200 lines, then live)" }}</button></h3>
        <pre class="logs" aria-live="polite">
            {move || logs.get().into_iter().map(|l| view! { <span class=if l.stderr { "err" } else { "" }>{l.text}"\n"</span> }).collect::<Vec<_>>()}
        </pre>
    }
}
