//! The hosts page: every host, bootstrapped with a live step list or
//! forgotten, and the form to add one; and the settings page.

use leptos::prelude::*;
use leptos::task::spawn_local;
use rdesk_ipc::{
    BootstrapArgs, BootstrapRunView, BootstrapStep, ChangeHostArgs, HostArgs, HostView, NoArgs,
    SettingsView, cmd,
};

use crate::add_host::{AddHostForm, non_empty};
use crate::bridge::{invoke, invoke_streaming};
use crate::format::{local_time, word_list};
use crate::state::{Confirm, Page, Ui};

#[component]
pub fn HostsPage() -> impl IntoView {
    let ui = expect_context::<Ui>();
    view! {
        <section class="page">
            <h2>"Hosts"</h2>
            <ul class="host-list">
                // Keyed by name: a reload of the hosts keeps each entry's open
                // forms; what it shows of the host is read again.
                <For each=move || ui.hosts.get() key=|h| h.name.clone() let:h>
                    {
                        let (name, shown) = (h.name.clone(), h.name.clone());
                        let reached = move || ui.hosts.with(|all| {
                            all.iter().find(|x| x.name == shown).map(|x| format!(
                                "{} · {}",
                                x.ssh_target.clone().unwrap_or_else(|| "local Docker".into()),
                                x.public_url
                            ))
                        });
                        view! {
                            <li>
                                <a href="#" on:click=move |_| ui.page.set(Page::Host(name.clone()))>{h.name.clone()}</a>
                                " " <span class="muted reached">{reached}</span>
                                <Bootstrap host=h.name.clone()/>
                                <ChangeHost host=h.clone()/>
                                <RemoveHost host=h.name.clone()/>
                            </li>
                        }
                    }
                </For>
            </ul>
            <h3>"Add a host"</h3>
            <AddHostForm/>
        </section>
    }
}

/// The port of `user@host:port` or `user@[v6]:port`, if it names one.
fn port_of(ssh_target: &str) -> Option<&str> {
    let (_, port) = ssh_target.rsplit_once(':')?;
    (!ssh_target.ends_with(']') && port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty())
        .then_some(port)
}

/// How a host is reached (SSH port, identity file) and its public URL,
/// changed after the host is reached once with them.
#[component]
fn ChangeHost(host: HostView) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let open = RwSignal::new(false);
    let ssh = host.kind == "ssh";
    let public_url = RwSignal::new(host.public_url.clone());
    let identity = RwSignal::new(host.identity_file.clone().unwrap_or_default());
    let port = RwSignal::new(
        host.ssh_target
            .as_deref()
            .and_then(port_of)
            .unwrap_or_default()
            .to_owned(),
    );
    let outcome = RwSignal::new(None::<Result<String, String>>);
    let name = host.name.clone();
    let save = move |_| {
        let args = ChangeHostArgs {
            host: name.clone(),
            public_url: Some(public_url.get_untracked()),
            identity_file: ssh.then(|| identity.get_untracked()),
            port: ssh
                .then(|| port.get_untracked())
                .filter(|p| !p.trim().is_empty()),
        };
        outcome.set(Some(Ok("reaching the host with the change…".into())));
        spawn_local(async move {
            match invoke::<cmd::ChangeHost>(&args).await {
                Ok(_) => {
                    outcome.set(Some(Ok("Saved.".into())));
                    ui.load(false);
                }
                Err(e) => outcome.set(Some(Err(e.message))),
            }
        });
    };
    view! {
        <button class="small host-change-open" on:click=move |_| open.update(|o| *o = !*o)>"Change…"</button>
        <Show when=move || open.get()>
            <div class="box host-change" data-host=host.name.clone()>
                <label>"Public URL (where its apps answer)" <input class="public-url" bind:value=public_url/></label>
                {ssh.then(|| view! {
                    <label>"SSH port" <input class="port" inputmode="numeric" bind:value=port placeholder="22 or ~/.ssh/config's"/></label>
                    <label>"Identity file (empty: the agent and ~/.ssh)" <input class="identity" bind:value=identity/></label>
                })}
                <button class="save" on:click=save.clone()>"Save"</button>
                <p role="status" class=move || match outcome.get() { Some(Err(_)) => "outcome bad", _ => "outcome" }>
                    {move || outcome.get().map(|o| match o { Ok(t) | Err(t) => t })}
                </p>
            </div>
        </Show>
    }
}

#[component]
fn RemoveHost(host: String) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let ask = move |_| {
        let forget = {
            let host = host.clone();
            Callback::new(move |()| {
                let host = host.clone();
                spawn_local(async move {
                    match invoke::<cmd::RemoveHost>(&HostArgs { host: host.clone() }).await {
                        Ok(()) => {
                            ui.apps.update(|m| {
                                m.remove(&host);
                            });
                            ui.load(false);
                        }
                        Err(e) => ui.fail(e.message),
                    }
                });
            })
        };
        ui.confirm.set(Some(Confirm {
            title: format!("Forget {host}?"),
            lines: vec![
                format!("Nothing on {host} changes: its apps keep running and answering."),
                "This computer forgets how to reach it (its address and pinned host key), its password or key passphrase in the keyring, and its apps' history and charts.".to_owned(),
                "Adding it again later shows its apps again, from their labels.".to_owned(),
            ],
            action: format!("Forget {host}"),
            on_confirm: forget,
        }));
    };
    view! { <button class="small host-forget" on:click=ask>"Forget…"</button> }
}

#[component]
fn Bootstrap(host: String) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let open = RwSignal::new(false);
    let (versions, http_port) = (
        RwSignal::new(String::from("4.4.1")),
        RwSignal::new(String::from("80")),
    );
    let (domain, email) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let send_images = RwSignal::new(false);
    let (traefik_image, base_image) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let steps = RwSignal::new(Vec::<BootstrapStep>::new());
    let outcome = RwSignal::new(None::<String>);
    let history = RwSignal::new(Vec::<BootstrapRunView>::new());
    let load_history = {
        let host = host.clone();
        move || {
            ui.fetch::<cmd::BootstrapHistory>(HostArgs { host: host.clone() }, move |h| {
                history.set(h)
            })
        }
    };
    load_history();
    let (host_name, history_host) = (host.clone(), host.clone());
    let run = move |_| {
        let load_history = load_history.clone();
        let args = BootstrapArgs {
            host: host.clone(),
            r_versions: word_list(&versions.get_untracked()),
            domain: non_empty(domain.get_untracked()),
            email: non_empty(email.get_untracked()),
            http_port: http_port.get_untracked().trim().parse().ok(),
            https_port: None,
            send_images: send_images.get_untracked(),
            traefik_image: non_empty(traefik_image.get_untracked()),
            base_image: non_empty(base_image.get_untracked()),
        };
        steps.set(Vec::new());
        outcome.set(Some("running…".into()));
        spawn_local(async move {
            let on_step = move |s: BootstrapStep| {
                steps.update(|list| match list.iter_mut().find(|x| x.step == s.step) {
                    Some(x) => *x = s,
                    None => list.push(s),
                })
            };
            let done = invoke_streaming::<cmd::Bootstrap>(&args, on_step).await;
            outcome.set(Some(match done {
                Ok(s) if s.changed => "Bootstrapped.".into(),
                Ok(_) => "Everything was already set up.".into(),
                Err(e) => e.message,
            }));
            load_history();
            ui.reload(args.host);
        });
    };
    view! {
        <button class="small bootstrap-open" on:click=move |_| open.update(|o| *o = !*o)>"Bootstrap…"</button>
        <Show when=move || open.get()>
            <div class="box bootstrap" data-host=host_name.clone()>
                <label>"R versions" <input class="r-versions" bind:value=versions/></label>
                <label>"HTTP port" <input bind:value=http_port/></label>
                <label>"Domain (HTTPS)" <input bind:value=domain/></label>
                <label>"E-mail (Let's Encrypt)" <input bind:value=email/></label>
                <label class="check"><input class="send-images" type="checkbox" bind:checked=send_images/> "Send images from this machine (the host cannot pull)"</label>
                <details>
                    <summary>"Images"</summary>
                    <label>"Traefik image" <input class="traefik-image" bind:value=traefik_image placeholder="traefik:v3.3"/></label>
                    <label>"R base image" <input class="base-image" bind:value=base_image placeholder="rocker/r-ver:<R version>"/></label>
                </details>
                <button class="run" on:click=run.clone()>"Run bootstrap"</button>
                {move || {
                    let list = steps.get();
                    let planned = list.iter().map(|s| s.planned).max().unwrap_or(0);
                    let ended = list.iter().filter(|s| s.state != "started").count();
                    (planned > 0).then(|| view! {
                        <progress class="bootstrap-progress" max=planned value=ended></progress>
                        " " <span class="progress-text">{format!("{ended} of {planned} steps")}</span>
                    })
                }}
                <ol class="steps">
                    {move || steps.get().into_iter().map(|s| view! {
                        <li class=format!("step {}", s.state)>
                            <b>{s.step.clone()}</b> " " {s.state.clone()}
                            {(s.duration_ms > 0).then(|| format!(" ({:.1} s)", s.duration_ms as f64 / 1000.0))}
                            {(!s.output_tail.is_empty()).then(|| view! { <pre>{s.output_tail.clone()}</pre> })}
                        </li>
                    }).collect::<Vec<_>>()}
                </ol>
                <p class="outcome">{move || outcome.get()}</p>
            </div>
        </Show>
        <details class="bootstrap-history" data-host=history_host>
            <summary>{move || format!("Past bootstraps ({})", history.with(Vec::len))}</summary>
            <table>
                <tbody>
                    {move || history.get().into_iter().map(|run| view! {
                        <tr class=format!("run {}", run.outcome.as_str())>
                            <td>{local_time(run.started_at)}</td>
                            <td>{run.outcome.as_str()}</td>
                            <td>{format!("{:.1} s", run.duration_ms as f64 / 1000.0)}</td>
                            <td>
                                {run.steps.iter().map(|s| format!("{} {}", s.step, s.state)).collect::<Vec<_>>().join(" · ")}
                                {run.message.map(|m| view! { <br/><span class="bad">{m}</span> })}
                            </td>
                        </tr>
                    }).collect::<Vec<_>>()}
                </tbody>
            </table>
        </details>
    }
}

#[component]
pub fn SettingsPage() -> impl IntoView {
    let ui = expect_context::<Ui>();
    let loaded = RwSignal::new(None::<SettingsView>);
    let (throttle, webhook) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let saved = RwSignal::new(None::<Result<String, String>>);
    let show = move |s: SettingsView| {
        throttle.set(s.alert_throttle_secs.to_string());
        webhook.set(s.webhook_url.clone());
        loaded.set(Some(s));
    };
    ui.fetch::<cmd::Settings>(NoArgs {}, show);
    let store = move |wanted: SettingsView| {
        spawn_local(async move {
            match invoke::<cmd::SetSettings>(&wanted).await {
                Ok(s) => {
                    show(s);
                    saved.set(Some(Ok("Saved.".into())));
                }
                Err(e) => saved.set(Some(Err(e.message))),
            }
        });
    };
    let toggle = move |_| {
        if let Some(current) = loaded.get_untracked() {
            store(SettingsView {
                launch_at_login: !current.launch_at_login,
                ..current
            });
        }
    };
    let save_alerts = move |_| {
        let Some(current) = loaded.get_untracked() else {
            return;
        };
        let Ok(secs) = throttle.get_untracked().trim().parse::<u64>() else {
            return saved.set(Some(Err(format!(
                "the throttle must be a number of seconds, not “{}”",
                throttle.get_untracked().trim()
            ))));
        };
        store(SettingsView {
            alert_throttle_secs: secs,
            webhook_url: webhook.get_untracked().trim().to_owned(),
            ..current
        });
    };
    view! {
        <section class="page">
            <h2>"Settings"</h2>
            <label class="check">
                <input id="launch-at-login" type="checkbox" prop:checked=move || loaded.get().is_some_and(|s| s.launch_at_login) on:change=toggle/>
                "Start Rserve Desk when I log in (it stays in the tray)"
            </label>
            <p class="muted">"Closing the window keeps Rserve Desk in the tray; quit from the tray menu."</p>
            <h3>"Alerts"</h3>
            <div class="box alerts">
                <p class="muted">"A crash, an out-of-memory kill or a failing health check raises a notification, and so does a host that stops answering (and again when it is back)."</p>
                <label>"Quiet time after one app's notification (seconds)" <input id="alert-throttle" inputmode="numeric" bind:value=throttle/></label>
                <label>"Webhook: also POST each alert as JSON to (optional)" <input id="alert-webhook" type="url" bind:value=webhook placeholder="https://hooks.example.com/…" autocomplete="off"/></label>
                <button id="alerts-save" on:click=save_alerts>"Save"</button>
                <p id="alerts-saved" role="status" class=move || match saved.get() { Some(Err(_)) => "outcome bad", _ => "outcome" }>
                    {move || saved.get().map(|o| match o { Ok(t) | Err(t) => t })}
                </p>
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_is_read_from_an_ssh_target() {
        assert_eq!(port_of("root@vps.example:2222"), Some("2222"));
        assert_eq!(port_of("root@vps.example"), None);
        assert_eq!(port_of("root@[2001:db8::1]:22"), Some("22"));
        assert_eq!(port_of("root@[2001:db8::1]"), None);
        assert_eq!(port_of("my-alias"), None);
    }
}
