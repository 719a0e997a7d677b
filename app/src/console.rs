//! The app page's console: call one of the app's functions with JSON
//! arguments, through the host's Traefik as a client would, and see the
//! answer or the sentence.

use leptos::prelude::*;
use leptos::task::spawn_local;
use rdesk_ipc::{CallArgs, cmd};

use crate::bridge::invoke;
use crate::format::call_args;

#[component]
pub fn Console(host: String, slug: String) -> impl IntoView {
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
        <div class="console">
            <label>"Function" <input id="console-fn" bind:value=function placeholder="function name"/></label>
            <label>"Arguments (JSON)" <input id="console-args" bind:value=arguments placeholder="[1, 2] or \"text\""/></label>
            <button id="console-call" on:click=call>"Call"</button>
        </div>
        <pre id="console-result" role="status" class=move || match result.get() { Some(Err(_)) => "bad", _ => "" }>
            {move || result.get().map(|r| r.unwrap_or_else(|e| e))}
        </pre>
    }
}
