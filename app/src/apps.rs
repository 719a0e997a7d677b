//! A host's dashboard (each app's status, R version, URL, how old the state
//! is when the host is offline) and the start/stop/restart buttons it and
//! the app page share: each enabled only when its action makes sense, busy
//! while it runs, one operation at a time per app.

use leptos::prelude::*;
use leptos::task::spawn_local;
use rdesk_ipc::{Action, AppStatus, AppsList, LifecycleArgs, PickArgs, Severity, cmd};

use crate::bridge::invoke;
use crate::charts::Charts;
use crate::format::age;
use crate::git_deploy::GitDeploy;
use crate::numbers::SummaryCards;
use crate::state::{AppKey, Page, Ui};

pub fn badge(status: AppStatus) -> &'static str {
    match status.severity() {
        Severity::Up => "badge ok",
        Severity::Waiting => "badge wait",
        Severity::Stopped => "badge off",
        Severity::Degraded | Severity::Down => "badge bad",
    }
}

fn busy_word(action: Action) -> &'static str {
    match action {
        Action::Start => "Starting…",
        Action::Stop => "Stopping…",
        Action::Restart => "Restarting…",
    }
}

fn lifecycle(ui: Ui, key: AppKey, action: Action) {
    if !ui.begin(&key, busy_word(action)) {
        return;
    }
    let args = LifecycleArgs {
        host: key.0.clone(),
        slug: key.1.clone(),
        action,
    };
    spawn_local(async move {
        let done = invoke::<cmd::Lifecycle>(&args).await;
        ui.end(&key);
        match done {
            Ok(app) => {
                ui.update_app(app);
                ui.reload(args.host);
            }
            Err(e) => ui.fail(e.message),
        }
    });
}

/// Start, Stop and Restart for one app, and what it is busy with.
#[component]
pub fn LifecycleButtons(host: String, slug: String) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let key: AppKey = (host, slug);
    let status = {
        let key = key.clone();
        Memo::new(move |_| {
            ui.apps.with(|m| {
                m.get(&key.0)
                    .and_then(|l| l.apps.iter().find(|a| a.slug == key.1))
                    .map(|a| a.status)
            })
        })
    };
    let busy = {
        let key = key.clone();
        Memo::new(move |_| ui.busy_with(&key.0, &key.1))
    };
    let button = move |action: Action, class: &'static str, label: &'static str| {
        let key = key.clone();
        let disabled =
            move || busy.get().is_some() || !status.get().is_some_and(|s| s.allows(action));
        view! {
            <button class=format!("small {class}") prop:disabled=disabled
                on:click=move |_| lifecycle(ui, key.clone(), action)>{label}</button>
        }
    };
    view! {
        {button(Action::Start, "start", "Start")}
        {button(Action::Stop, "stop", "Stop")}
        {button(Action::Restart, "restart", "Restart")}
        <span class="busy muted" role="status">{move || busy.get()}</span>
    }
}

/// A host's page: its apps, numbers and charts; for a cluster's worker,
/// whose cluster it is (its apps are listed there).
#[component]
pub fn Dashboard(host: String) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let list = {
        let host = host.clone();
        Memo::new(move |_| ui.apps.with(|m| m.get(&host).cloned()))
    };
    // Whether the list is known yet, and whose worker the host is: the
    // page below is drawn once, not at every reload.
    let role = Memo::new(move |_| list.with(|l| l.as_ref().map(|l| l.worker_of.clone())));
    let reload = {
        let host = host.clone();
        move |_| ui.reload(host.clone())
    };
    view! {
        <section class="page dropzone">
            <h2>{host.clone()} " " <button class="small" on:click=reload>"Refresh"</button></h2>
            {move || match role.get() {
                None => view! { <p class="muted">"Asking the host…"</p> }.into_any(),
                Some(Some(cluster)) => {
                    let name = cluster.clone();
                    view! { <p class="worker">{host.clone()} " is a worker of cluster "
                        <a href="#" class="cluster" on:click=move |_| ui.page.set(Page::Host(name.clone()))>{cluster}</a>
                        ": the apps it runs are listed, deployed and watched there."</p> }.into_any()
                }
                Some(None) => view! { <HostApps host=host.clone() list=list/> }.into_any(),
            }}
        </section>
    }
}

/// A host's apps (with their state's age when it is offline), its numbers,
/// the ways to deploy to it, and its charts.
#[component]
fn HostApps(host: String, list: Memo<Option<AppsList>>) -> impl IntoView {
    let ui = expect_context::<Ui>();
    view! {
        {move || list.get().map(|l| match (&l.offline_reason, l.live) {
            (Some(reason), _) => view! { <p class="offline">"Offline: " {reason.clone()} " — showing the last known state."</p> }.into_any(),
            (None, false) => view! { <p class="muted">"From the cache; asking the host…"</p> }.into_any(),
            (None, true) => ().into_any(),
        })}
        <SummaryCards host=host.clone() slug=None/>
        <table id="apps">
            <thead><tr><th>"App"</th><th>"Status"</th><th>"R"</th><th>"URL"</th><th>"Seen"</th><th></th></tr></thead>
            <tbody>
                {move || list.get().map(|l| {
                    let stale = !l.live;
                    l.apps.into_iter().map(|a| {
                        let detail = a.clone();
                        view! {
                            <tr data-drop-host=a.host.clone() data-drop-slug=a.slug.clone()>
                                <td><a href="#" class="open" on:click=move |_| ui.page.set(Page::App(detail.host.clone(), detail.slug.clone()))>{a.slug.clone()}</a></td>
                                <td><span class=badge(a.status)>{a.status.as_str()}</span></td>
                                <td>{a.r_version.clone()}</td>
                                <td><code>{a.url.clone()}</code></td>
                                <td class="seen">{move || if stale { format!("last seen {}", age(ui.now.get(), a.updated_at)) } else { "now".to_owned() }}</td>
                                <td class="actions"><LifecycleButtons host=a.host.clone() slug=a.slug.clone()/></td>
                            </tr>
                        }
                    }).collect::<Vec<_>>()
                })}
            </tbody>
        </table>
        <p class="hint">"Drop a folder, .R files or a .zip/.tar.gz here to deploy a new app; drop onto an app's row to deploy a new version of it. Or "
            <button id="pick-files" class="small" on:click={
                let host = host.clone();
                move |_| ui.pick(host.clone(), PickArgs::Files)
            }>"Choose files…"</button>
            " "
            <button id="pick-folder" class="small" on:click={
                let host = host.clone();
                move |_| ui.pick(host.clone(), PickArgs::Folder)
            }>"Choose a folder…"</button>
        </p>
        <GitDeploy host=host.clone()/>
        <h3>"Host overview"</h3>
        <Charts host=host.clone() slug=None/>
    }
}
