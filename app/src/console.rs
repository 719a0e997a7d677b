//! The app page's console: the functions the app offers with their
//! arguments (asked of the app as a client would; a click picks one), a
//! call of one with a field per named argument and a box of positional
//! ones, through the host's Traefik, and the answer or the sentence, with a
//! copy button.

use leptos::prelude::*;
use leptos::task::spawn_local;
use rdesk_ipc::{AppArgs, CallArgs, FunctionView, cmd};

use crate::arguments;
use crate::bridge::invoke;
use crate::clipboard::copy_to_clipboard;
use crate::state::Ui;

#[component]
pub fn Console(host: String, slug: String) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let offered = RwSignal::new(None::<Vec<FunctionView>>);
    ui.fetch::<cmd::Functions>(
        AppArgs {
            host: host.clone(),
            slug: slug.clone(),
        },
        move |functions| offered.set(Some(functions)),
    );
    let (function, positional) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    // The named fields of the chosen function: (name, default) and what is typed.
    let chosen = Memo::new(move |_| {
        let name = function.get();
        offered.with(|offered| {
            offered
                .iter()
                .flatten()
                .find(|f| f.name == name.trim())
                .cloned()
        })
    });
    let typed = RwSignal::new(Vec::<(String, String)>::new());
    Effect::new(move |_| {
        let fields = chosen.with(|f| f.as_ref().map(arguments::fields_of).unwrap_or_default());
        typed.set(
            fields
                .into_iter()
                .map(|(name, _)| (name, String::new()))
                .collect(),
        );
    });
    let result = RwSignal::new(None::<Result<String, String>>);
    let call = move |_| {
        let args = arguments::positional(&positional.get_untracked());
        let named = typed.with_untracked(|fields| arguments::named(fields));
        let call = match (args, named) {
            (Ok(args), Ok(named)) => CallArgs {
                host: host.clone(),
                slug: slug.clone(),
                function: function.get_untracked().trim().to_owned(),
                args,
                named,
            },
            (Err(e), _) | (_, Err(e)) => return result.set(Some(Err(e))),
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
                Some(functions) if functions.is_empty() => view! { <span class="muted">"none"</span> }.into_any(),
                Some(functions) => functions.into_iter().map(|f| {
                    let (pick, shown) = (f.name.clone(), arguments::signature(&f));
                    view! {
                        <button class="small function" data-function=f.name.clone()
                            on:click=move |_| function.set(pick.clone())>{shown}</button> " "
                    }
                }).collect::<Vec<_>>().into_any(),
            }}
        </p>
        <div class="console">
            <label>"Function" <input id="console-fn" bind:value=function placeholder="function name"/></label>
            <label>
                {move || if chosen.with(|f| f.as_ref().is_some_and(|f| !arguments::fields_of(f).is_empty())) {
                    "More arguments, by position (JSON)"
                } else {
                    "Arguments (JSON)"
                }}
                <input id="console-args" bind:value=positional placeholder="[1, 2] or \"text\""/>
            </label>
            <button id="console-call" on:click=call>"Call"</button>
        </div>
        {move || chosen.get().map(|f| {
            let fields = arguments::fields_of(&f);
            if fields.is_empty() {
                let said = if f.arguments.is_some() { "It takes no named arguments." } else { "The app does not say its arguments." };
                return view! { <p id="console-form" class="muted">{said}</p> }.into_any();
            }
            view! {
                <fieldset id="console-form" class="console-form">
                    <legend>{format!("Arguments of {} (JSON values; an empty one is left out)", f.name)}</legend>
                    {fields.into_iter().enumerate().map(|(i, (name, default))| {
                        let placeholder = default.map(|d| format!("default: {d}")).unwrap_or_else(|| "no default".to_owned());
                        view! {
                            <label>{name.clone()}
                                <input data-argument=name placeholder=placeholder
                                    prop:value=move || typed.with(|t| t.get(i).map(|(_, v)| v.clone()).unwrap_or_default())
                                    on:input=move |ev| {
                                        let value = event_target_value(&ev);
                                        typed.update(|t| if let Some(field) = t.get_mut(i) { field.1 = value; });
                                    }/>
                            </label>
                        }
                    }).collect::<Vec<_>>()}
                </fieldset>
            }.into_any()
        })}
        <pre id="console-result" role="status" class=move || match result.get() { Some(Err(_)) => "bad", _ => "" }>
            {move || result.get().map(|r| r.unwrap_or_else(|e| e))}
        </pre>
        {move || result.get().map(|r| {
            let text = r.unwrap_or_else(|e| e);
            view! { <button id="console-copy" class="small" on:click=move |_| copy_to_clipboard(&text)>"Copy the answer"</button> }
        })}
    }
}
