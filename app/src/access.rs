//! The app page's "Who may call it": the access mode and IP allow-list
//! (changed through the gated switch, no rebuild), the app's tokens (made,
//! shown once, listed by prefix, revoked), the client snippets that call
//! the app the way its access wants, and a tunnel for R over QAP.

use leptos::prelude::*;
use leptos::task::spawn_local;
use rdesk_ipc::{
    AccessView, AppArgs, CreateTokenArgs, NewTokenView, SetAccessArgs, TokenArgs, TokenInfo,
    TunnelInfo, cmd,
};

use crate::bridge::invoke;
use crate::clipboard::copy_to_clipboard;
use crate::format::age;
use crate::state::Ui;
use crate::switching::{Switch, SwitchProgress};

/// The allow-list of the form: one CIDR a line (commas and spaces work too).
fn allow_list(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn describe(access: &str) -> &'static str {
    match access {
        "public" => "public: anyone who reaches the URL may call it",
        _ => "token: a caller presents one of the app's tokens",
    }
}

#[component]
pub fn Access(host: String, slug: String) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let args = AppArgs { host, slug };
    let loaded = RwSignal::new(None::<AccessView>);
    let tokens = RwSignal::new(Vec::<TokenInfo>::new());
    let (mode, allow) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let switch = Switch::new();
    let (token_name, made) = (
        RwSignal::new(String::new()),
        RwSignal::new(None::<NewTokenView>),
    );
    let revoking = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let tunnel = RwSignal::new(None::<TunnelInfo>);

    let load = {
        let args = args.clone();
        move || {
            let args = args.clone();
            spawn_local(async move {
                match invoke::<cmd::AppAccess>(&args).await {
                    Ok(a) => {
                        mode.set(a.access.clone());
                        allow.set(a.allow.join("\n"));
                        loaded.set(Some(a));
                    }
                    Err(e) => ui.fail(e.message),
                }
                match invoke::<cmd::Tokens>(&args).await {
                    Ok(t) => tokens.set(t),
                    Err(e) => ui.fail(e.message),
                }
            });
        }
    };
    load();

    let apply = {
        let (args, load) = (args.clone(), load.clone());
        move |_| {
            if busy.get_untracked() {
                return;
            }
            let change = SetAccessArgs {
                host: args.host.clone(),
                slug: args.slug.clone(),
                access: Some(mode.get_untracked()),
                allow: Some(allow_list(&allow.get_untracked())),
            };
            busy.set(true);
            let load = load.clone();
            spawn_local(async move {
                let applied = switch.run::<cmd::SetAppAccess>(&change).await;
                busy.set(false);
                if applied {
                    load();
                }
            });
        }
    };

    let create = {
        let (args, load) = (args.clone(), load.clone());
        move |_| {
            if busy.get_untracked() {
                return;
            }
            let request = CreateTokenArgs {
                host: args.host.clone(),
                slug: args.slug.clone(),
                name: token_name.get_untracked().trim().to_owned(),
            };
            busy.set(true);
            let load = load.clone();
            spawn_local(async move {
                match invoke::<cmd::CreateToken>(&request).await {
                    Ok(new) => {
                        made.set(Some(new));
                        token_name.set(String::new());
                        load();
                    }
                    Err(e) => ui.fail(e.message),
                }
                busy.set(false);
            });
        }
    };

    // Revoking asks first: the first click arms the row's button, the second revokes.
    let revoke = {
        let (args, load) = (args.clone(), load.clone());
        move |id: String| {
            if revoking.get_untracked().as_deref() != Some(id.as_str()) {
                revoking.set(Some(id));
                return;
            }
            revoking.set(None);
            let request = TokenArgs {
                host: args.host.clone(),
                slug: args.slug.clone(),
                id,
            };
            let load = load.clone();
            spawn_local(async move {
                if let Err(e) = invoke::<cmd::RevokeToken>(&request).await {
                    ui.fail(e.message);
                }
                load();
            });
        }
    };

    // R over QAP: a tunnel through the host's SSH session, open until the
    // button closes it or this page goes away.
    let toggle_tunnel = {
        let args = args.clone();
        move |_| {
            let args = args.clone();
            spawn_local(async move {
                if tunnel.get_untracked().is_some() {
                    if let Err(e) = invoke::<cmd::CloseTunnel>(&args).await {
                        ui.fail(e.message);
                    }
                    tunnel.set(None);
                    return;
                }
                match invoke::<cmd::OpenTunnel>(&args).await {
                    Ok(open) => tunnel.set(Some(open)),
                    Err(e) => ui.fail(e.message),
                }
            });
        }
    };
    {
        let args = args.clone();
        on_cleanup(move || {
            if tunnel.try_get_untracked().flatten().is_some() {
                spawn_local(async move {
                    let _ = invoke::<cmd::CloseTunnel>(&args).await;
                });
            }
        });
    }

    view! {
        <h3>"Who may call it"</h3>
        <div class="box access">
            <p id="access-now">{move || loaded.get().map(|a| {
                let allow = if a.allow.is_empty() { "from anywhere".to_owned() } else { format!("only from {}", a.allow.join(", ")) };
                format!("Now {}, {allow}.", describe(&a.access))
            })}</p>
            <label>"Access"
                <select id="access-mode" prop:value=move || mode.get() on:change=move |e| mode.set(event_target_value(&e))>
                    <option value="token">"token (callers present a token)"</option>
                    <option value="public">"public (anyone with the URL; never for eval apps)"</option>
                </select>
            </label>
            <label>"IP allow-list (CIDRs, one a line; empty: anywhere)"
                <textarea id="access-allow" bind:value=allow placeholder="203.0.113.0/24"></textarea>
            </label>
            <button id="access-apply" prop:disabled=move || busy.get() on:click=apply>"Apply (restarts the app, no rebuild)"</button>
            <SwitchProgress switch=switch/>

            <h4>"Tokens"</h4>
            <table id="tokens">
                <thead><tr><th>"Name"</th><th>"Starts with"</th><th>"Made"</th><th></th></tr></thead>
                <tbody>
                    {move || {
                        let now = ui.now.get();
                        tokens.get().into_iter().map(|t| {
                            let id = t.id.clone();
                            let armed = {
                                let id = id.clone();
                                Signal::derive(move || revoking.get().as_deref() == Some(id.as_str()))
                            };
                            let revoke = revoke.clone();
                            view! {
                                <tr data-token=t.id.clone()>
                                    <td>{t.name.clone()}</td>
                                    <td><code>{format!("{}…", t.prefix)}</code></td>
                                    <td>{age(now, t.created_ms)}</td>
                                    <td><button class="small revoke" class:danger=armed
                                        on:click=move |_| revoke(id.clone())>
                                        {move || if armed.get() { "Really revoke?" } else { "Revoke" }}
                                    </button></td>
                                </tr>
                            }
                        }).collect::<Vec<_>>()
                    }}
                </tbody>
            </table>
            <div class="new-token">
                <label>"New token named" <input id="token-name" bind:value=token_name placeholder="e.g. website"/></label>
                <button id="token-create" prop:disabled=move || busy.get() on:click=create>"Create token"</button>
            </div>
            {move || made.get().map(|new| {
                let token = new.token.clone();
                view! {
                    <div class="made-token" role="status">
                        <p>"Token “" {new.info.name.clone()} "”: copy it now, it is shown only this once (the host keeps only its hash)."</p>
                        <code id="made-token">{new.token.clone()}</code>
                        " " <button class="small" on:click=move |_| copy_to_clipboard(&token)>"Copy"</button>
                        " " <button class="small" on:click=move |_| made.set(None)>"Done"</button>
                    </div>
                }
            })}

            <h4>"Call it from a client"</h4>
            {move || loaded.get().map(|a| {
                let (js, call) = (a.rserve_js.clone(), a.rdesk_call.clone());
                view! {
                    <p class="muted">"rserve-js (Node or, with rserve.min.js, a web page):"</p>
                    <pre id="snippet-js" class="snippet">{a.rserve_js.clone()}</pre>
                    <button class="small" on:click=move |_| copy_to_clipboard(&js)>"Copy"</button>
                    <p class="muted">"From a terminal or R's system2():"</p>
                    <pre id="snippet-rdesk" class="snippet">{a.rdesk_call.clone()}</pre>
                    <button class="small" on:click=move |_| copy_to_clipboard(&call)>"Copy"</button>
                }
            })}
            <p class="muted">"R (RSclient) over QAP, through a tunnel on this machine's 127.0.0.1 that the host's SSH session carries:"</p>
            <button id="tunnel-toggle" class="small" on:click=toggle_tunnel>
                {move || if tunnel.get().is_some() { "Close the tunnel" } else { "Open a tunnel for R" }}
            </button>
            <span id="tunnel-port">{move || tunnel.get().map(|t| format!(" open on {}:{}", t.address, t.port))}</span>
            {move || {
                let r = tunnel.get().map(|t| t.r_qap).or_else(|| loaded.get().map(|a| a.r_qap))?;
                let copy = r.clone();
                Some(view! {
                    <pre id="snippet-r" class="snippet">{r}</pre>
                    <button class="small" on:click=move |_| copy_to_clipboard(&copy)>"Copy"</button>
                })
            }}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_allow_list_is_read_one_cidr_a_line_or_comma_separated() {
        assert_eq!(
            allow_list("10.0.0.0/8\n 192.0.2.0/24, 2001:db8::/32\n\n"),
            ["10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32"]
        );
        assert!(allow_list("  \n").is_empty());
    }
}
