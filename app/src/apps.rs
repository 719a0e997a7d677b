//! A host's dashboard (each app's status, R version, URL, start/stop/restart,
//! and how old the state is when the host is offline) and one app's detail
//! page (settings, a console, who may call it with client snippets,
//! container settings to edit, charts, history, live logs).

use leptos::prelude::*;
use leptos::task::spawn_local;
use rdesk_ipc::{
    Action, AppArgs, AppStatus, AppView, CallArgs, HistoryView, LifecycleArgs, LogLineView,
    LogsArgs, Severity, cmd,
};

use crate::access::Access;
use crate::app_settings::AppSettings;
use crate::bridge::{invoke, invoke_streaming};
use crate::charts::Charts;
use crate::format::{age, call_args};
use crate::state::{Page, Ui};

/// How many of the last log lines a follow starts with.
const LOG_TAIL: usize = 200;
/// How many log lines the page keeps while following.
const LOG_LINES_KEPT: usize = 2000;

fn badge(status: AppStatus) -> &'static str {
    match status.severity() {
        Severity::Up => "badge ok",
        Severity::Waiting => "badge wait",
        Severity::Stopped => "badge off",
        Severity::Degraded | Severity::Down => "badge bad",
    }
}

fn lifecycle(ui: Ui, app: &AppView, action: Action) {
    let args = LifecycleArgs {
        host: app.host.clone(),
        slug: app.slug.clone(),
        action,
    };
    spawn_local(async move {
        match invoke::<cmd::Lifecycle>(&args).await {
            Ok(_) => ui.reload(args.host),
            Err(e) => ui.fail(e.message),
        }
    });
}

#[component]
pub fn Dashboard(host: String) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let list = {
        let host = host.clone();
        Memo::new(move |_| ui.apps.with(|m| m.get(&host).cloned()))
    };
    let reload = {
        let host = host.clone();
        move |_| ui.reload(host.clone())
    };
    view! {
        <section class="page dropzone">
            <h2>{host.clone()} " " <button class="small" on:click=reload>"Refresh"</button></h2>
            {move || list.get().map(|l| match (&l.offline_reason, l.live) {
                (Some(reason), _) => view! { <p class="offline">"Offline: " {reason.clone()} " — showing the last known state."</p> }.into_any(),
                (None, false) => view! { <p class="muted">"From the cache; asking the host…"</p> }.into_any(),
                (None, true) => ().into_any(),
            })}
            <table id="apps">
                <thead><tr><th>"App"</th><th>"Status"</th><th>"R"</th><th>"URL"</th><th>"Seen"</th><th></th></tr></thead>
                <tbody>
                    {move || list.get().map(|l| {
                        let stale = !l.live;
                        l.apps.into_iter().map(|a| {
                            let (start, stop, restart, detail) = (a.clone(), a.clone(), a.clone(), a.clone());
                            view! {
                                <tr data-drop-host=a.host.clone() data-drop-slug=a.slug.clone()>
                                    <td><a href="#" class="open" on:click=move |_| ui.page.set(Page::App(detail.host.clone(), detail.slug.clone()))>{a.slug.clone()}</a></td>
                                    <td><span class=badge(a.status)>{a.status.as_str()}</span></td>
                                    <td>{a.r_version.clone()}</td>
                                    <td><code>{a.url.clone()}</code></td>
                                    <td class="seen">{move || if stale { format!("last seen {}", age(ui.now.get(), a.updated_at)) } else { "now".to_owned() }}</td>
                                    <td class="actions">
                                        <button class="small start" on:click=move |_| lifecycle(ui, &start, Action::Start)>"Start"</button>
                                        <button class="small stop" on:click=move |_| lifecycle(ui, &stop, Action::Stop)>"Stop"</button>
                                        <button class="small restart" on:click=move |_| lifecycle(ui, &restart, Action::Restart)>"Restart"</button>
                                    </td>
                                </tr>
                            }
                        }).collect::<Vec<_>>()
                    })}
                </tbody>
            </table>
            <p class="hint">"Drop a folder, .R files or a .zip/.tar.gz here to deploy a new app; drop onto an app's row to deploy a new version of it."</p>
            <h3>"Host overview"</h3>
            <Charts host=host.clone() slug=None/>
        </section>
    }
}

#[component]
pub fn AppDetail(host: String, slug: String) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let app = {
        let (host, slug) = (host.clone(), slug.clone());
        Memo::new(move |_| {
            ui.apps.with(|m| {
                m.get(&host)
                    .and_then(|l| l.apps.iter().find(|a| a.slug == slug).cloned())
            })
        })
    };
    let history = RwSignal::new(None::<HistoryView>);
    let logs = RwSignal::new(Vec::<LogLineView>::new());
    let (function, arguments) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let result = RwSignal::new(None::<Result<String, String>>);
    let args = AppArgs {
        host: host.clone(),
        slug: slug.clone(),
    };
    {
        let args = args.clone();
        spawn_local(async move {
            match invoke::<cmd::History>(&args).await {
                Ok(h) => history.set(Some(h)),
                Err(e) => ui.fail(e.message),
            }
        });
    }
    // The logs: the last lines, then live ones while "Follow" is on; leaving
    // the page ends the follow.
    let following = RwSignal::new(false);
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
    {
        let args = args.clone();
        on_cleanup(move || {
            if following.get_untracked() {
                spawn_local(async move {
                    let _ = invoke::<cmd::StopLogs>(&args).await;
                });
            }
        });
    }
    let call = {
        let args = args.clone();
        move |_| {
            let parsed = call_args(&arguments.get_untracked());
            let call = match parsed {
                Ok(values) => CallArgs {
                    host: args.host.clone(),
                    slug: args.slug.clone(),
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
        }
    };
    view! {
        <section class="page">
            <h2>
                <a href="#" on:click={let host = host.clone(); move |_| ui.page.set(Page::Host(host.clone()))}>{host.clone()}</a>
                " / " {slug.clone()}
            </h2>
            {move || app.get().map(|a| view! {
                <dl class="settings">
                    <dt>"Status"</dt><dd><span class=badge(a.status)>{a.status.as_str()}</span></dd>
                    <dt>"Slug"</dt><dd>{a.slug.clone()}</dd>
                    <dt>"R version"</dt><dd>{a.r_version.clone()}</dd>
                    <dt>"Packages"</dt><dd>{if a.packages.is_empty() { "none".to_owned() } else { a.packages.join(", ") }}</dd>
                    <dt>"Mode"</dt><dd>{a.mode.clone()}</dd>
                    <dt>"Repository"</dt><dd>{a.repo.clone().unwrap_or_else(|| "CRAN".into())}</dd>
                    <dt>"URL"</dt><dd><code>{a.url.clone()}</code></dd>
                </dl>
            })}
            <h3>"Console"</h3>
            <div class="console">
                <input id="console-fn" bind:value=function placeholder="function name"/>
                <input id="console-args" bind:value=arguments placeholder="JSON arguments, e.g. [1, 2] or \"text\""/>
                <button id="console-call" on:click=call>"Call"</button>
            </div>
            <pre id="console-result" class=move || match result.get() { Some(Err(_)) => "bad", _ => "" }>
                {move || result.get().map(|r| r.unwrap_or_else(|e| e))}
            </pre>
            <Access host=host.clone() slug=slug.clone()/>
            <AppSettings host=host.clone() slug=slug.clone()/>
            <h3>"Charts"</h3>
            <Charts host=host.clone() slug=Some(slug.clone())/>
            <h3>"History"</h3>
            <table class="history">
                <tbody>
                    {move || history.get().map(|h| {
                        let now = ui.now.get();
                        let deployments = h.deployments.into_iter().map(|d| view! {
                            <tr><td>{age(now, d.started_at)}</td><td>{d.action.as_str()}</td><td>{d.outcome.as_str()}</td><td>{d.message.unwrap_or_default()}</td></tr>
                        }).collect::<Vec<_>>();
                        let statuses = h.status_events.into_iter().map(|s| view! {
                            <tr><td>{age(now, s.at)}</td><td>"status"</td><td>{s.status.as_str()}</td><td>{s.detail.unwrap_or_default()}</td></tr>
                        }).collect::<Vec<_>>();
                        (deployments, statuses)
                    })}
                </tbody>
            </table>
            <h3>"Logs " <button id="logs-follow" class="small" on:click=follow_logs>{move || if following.get() { "Stop following" } else { "Follow (last 200 lines, then live)" }}</button></h3>
            <pre class="logs">
                {move || logs.get().into_iter().map(|l| view! { <span class=if l.stderr { "err" } else { "" }>{l.text}"\n"</span> }).collect::<Vec<_>>()}
            </pre>
        </section>
    }
}
