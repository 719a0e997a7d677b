//! The app page's console: the functions the app offers (asked of the app
//! as a client would; a click picks one), a call of one with JSON
//! arguments through the host's Traefik, and the answer or the sentence,
//! with a copy button.

use leptos::prelude::*;
use leptos::task::spawn_local;
use rdesk_ipc::{AppArgs, CallArgs, cmd};

use crate::bridge::invoke;
use crate::clipboard::copy_to_clipboard;
use crate::format::call_args;
use crate::state::Ui;

#[component]
pub fn Console(host: String, slug: String) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let offered = RwSignal::new(None::<Vec<String>>);
    ui.fetch::<cmd::Functions>(
        AppArgs {
            host: host.clone(),
            slug: slug.clone(),
        },
        move |names| offered.set(Some(names)),
    );
    let (function, arguments) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let result = RwSignal::new(None::<Result<String, String>>);
    let call = move |_| {
        let call = match call_args(&arguments.get_untracked()) {
            Ok(values) => CallArgs {
                host: host.clone(),
                slug: slug.clone(),
                function: function.get_untracked().trim().to_owned(),
                args: values,
            },
            Err(e) => return result.set(Some(Err(e))),
        };
        result.set(None);
        spawn_local(async move {
            result.set(Some(match invoke::<cmd::Call>(&call).await {
                Ok(v) => Ok(serde_json::to_string_pretty(&v).unwrap_or_default()),
                Err(e) => Err(e.message),
            }));
        });
    };
    view! {
        <h3>"Console"</h3>
        <p id="console-functions" class="functions">
            "Its functions: "
            {move || match offered.get() {
                None => view! { <span class="muted">"asking the app…"</span> }.into_any(),
                Some(names) if names.is_empty() => view! { <span class="muted">"none"</span> }.into_any(),
                Some(names) => names.into_iter().map(|name| {
                    let pick = name.clone();
                    view! { <button class="small function" on:click=move |_| function.set(pick.clone())>{name}</button> " " }
                }).collect::<Vec<_>>().into_any(),
            }}
        </p>
        <div class="console">
            <label>"Function" <input id="console-fn" bind:value=function placeholder="function name"/></label>
            <label>"Arguments (JSON)" <input id="console-args" bind:value=arguments placeholder="[1, 2] or \"text\""/></label>
            <button id="console-call" on:click=call>"Call"</button>
        </div>
        <pre id="console-result" role="status" class=move || match result.get() { Some(Err(_)) => "bad", _ => "" }>
            {move || result.get().map(|r| r.unwrap_or_else(|e| e))}
        </pre>
        {move || result.get().map(|r| {
            let text = r.unwrap_or_else(|e| e);
            view! { <button id="console-copy" class="small" on:click=move |_| copy_to_clipboard(&text)>"Copy the answer"</button> }
        })}
    }
}
