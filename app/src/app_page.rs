//! One app's page, in three tabs: the everyday things first (status and
//! lifecycle, charts, versions with rollback, history, logs), then its
//! settings (containers, secret variables, removing it after a question),
//! then the console and who may call it with client snippets.

use leptos::prelude::*;
use leptos::task::spawn_local;
use rdesk_ipc::{AppArgs, AppSettingsView, HistoryView, cmd};

use crate::access::Access;
use crate::app_settings::AppSettings;
use crate::apps::{LifecycleButtons, badge};
use crate::bridge::invoke;
use crate::charts::Charts;
use crate::console::Console;
use crate::format::{age, local_time};
use crate::logs_view::Logs;
use crate::numbers::SummaryCards;
use crate::secrets::Secrets;
use crate::state::{AppKey, Confirm, Page, Ui};
use crate::versions::Versions;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tab {
    Overview,
    Settings,
    Clients,
}

impl Tab {
    const ALL: [Tab; 3] = [Tab::Overview, Tab::Settings, Tab::Clients];

    fn id(self) -> &'static str {
        match self {
            Tab::Overview => "overview",
            Tab::Settings => "settings",
            Tab::Clients => "clients",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Tab::Overview => "Overview",
            Tab::Settings => "Settings",
            Tab::Clients => "Console & clients",
        }
    }
}

/// "5 min ago (2026-12-04 17:45)".
fn when(now: i64, at: i64) -> String {
    format!("{} ({})", age(now, at), local_time(at))
}

/// Asks, then removes the app; the window goes back to the host's page.
fn ask_remove(ui: Ui, key: AppKey) {
    let (host, slug) = key.clone();
    let on_confirm = Callback::new(move |()| {
        let key = key.clone();
        if !ui.begin(&key, "Removing…") {
            return;
        }
        spawn_local(async move {
            let args = AppArgs {
                host: key.0.clone(),
                slug: key.1.clone(),
            };
            let done = invoke::<cmd::RemoveApp>(&args).await;
            ui.end(&key);
            match done {
                Ok(()) => {
                    ui.page.set(Page::Host(key.0.clone()));
                    ui.reload(key.0);
                }
                Err(e) => ui.fail(e.message),
            }
        });
    });
    ui.confirm.set(Some(Confirm {
        title: format!("Remove {slug} from {host}?"),
        lines: vec![
            format!("Its containers on {host} stop and are deleted, and so are all its kept versions (images): it can no longer be started or rolled back."),
            "Its secret variables are deleted from this computer's keyring.".to_owned(),
            "Its history and charts stay on this computer.".to_owned(),
        ],
        action: format!("Remove {slug}"),
        on_confirm,
    }));
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
    let tab = RwSignal::new(Tab::Overview);
    let history = RwSignal::new(None::<HistoryView>);
    let args = AppArgs {
        host: host.clone(),
        slug: slug.clone(),
    };
    let load_history = Callback::new(move |()| {
        ui.fetch::<cmd::History>(args.clone(), move |h| history.set(Some(h)))
    });
    load_history.run(());
    // Read once for the settings tab's two parts: the form and the secrets.
    let settings = RwSignal::new(None::<AppSettingsView>);
    let load_settings = {
        let args = AppArgs {
            host: host.clone(),
            slug: slug.clone(),
        };
        Callback::new(move |()| {
            ui.fetch::<cmd::AppSettings>(args.clone(), move |s| settings.set(Some(s)))
        })
    };
    load_settings.run(());
    let key: AppKey = (host.clone(), slug.clone());
    let tabs = Tab::ALL.map(|t| {
        view! {
            <button role="tab" id=format!("tab-{}", t.id()) aria-controls=format!("panel-{}", t.id())
                aria-selected=move || (tab.get() == t).to_string()
                on:click=move |_| tab.set(t)>{t.label()}</button>
        }
    });
    let panel = move |t: Tab| {
        (
            format!("panel-{}", t.id()),
            format!("tab-{}", t.id()),
            move || tab.get() != t,
        )
    };
    let (overview_id, overview_tab, overview_hidden) = panel(Tab::Overview);
    let (settings_id, settings_tab, settings_hidden) = panel(Tab::Settings);
    let (clients_id, clients_tab, clients_hidden) = panel(Tab::Clients);
    view! {
        <section class="page app-page">
            <h2>
                <a href="#" on:click={let host = host.clone(); move |_| ui.page.set(Page::Host(host.clone()))}>{host.clone()}</a>
                " / " {slug.clone()}
            </h2>
            <div class="app-head">
                {move || app.get().map(|a| view! { <span id="app-status" class=badge(a.status)>{a.status.as_str()}</span> })}
                " " <LifecycleButtons host=host.clone() slug=slug.clone()/>
            </div>
            <div role="tablist" aria-label="The app's page" class="tabs">{tabs}</div>

            <div role="tabpanel" id=overview_id aria-labelledby=overview_tab hidden=overview_hidden>
                <SummaryCards host=host.clone() slug=Some(slug.clone())/>
                {move || app.get().map(|a| view! {
                    <dl class="settings">
                        <dt>"R version"</dt><dd>{a.r_version.clone()}</dd>
                        <dt>"Packages"</dt><dd>{if a.packages.is_empty() { "none".to_owned() } else { a.packages.join(", ") }}</dd>
                        <dt>"Mode"</dt><dd>{a.mode.clone()}</dd>
                        <dt>"Repository"</dt><dd>{a.repo.clone().unwrap_or_else(|| "CRAN".into())}</dd>
                        <dt>"URL"</dt><dd><code>{a.url.clone()}</code></dd>
                    </dl>
                })}
                <h3>"Charts"</h3>
                <Charts host=host.clone() slug=Some(slug.clone())/>
                <h3>"Versions"</h3>
                <Versions host=host.clone() slug=slug.clone() history=history on_switched=load_history/>
                <h3>"History"</h3>
                <table class="history">
                    <tbody>
                        {move || history.get().map(|h| {
                            let now = ui.now.get();
                            let deployments = h.deployments.into_iter().map(|d| view! {
                                <tr><td>{when(now, d.started_at)}</td><td>{d.action.as_str()}</td><td>{d.outcome.as_str()}</td><td>{d.message.unwrap_or_default()}</td></tr>
                            }).collect::<Vec<_>>();
                            let statuses = h.status_events.into_iter().map(|s| view! {
                                <tr><td>{when(now, s.at)}</td><td>"status"</td><td>{s.status.as_str()}</td><td>{s.detail.unwrap_or_default()}</td></tr>
                            }).collect::<Vec<_>>();
                            (deployments, statuses)
                        })}
                    </tbody>
                </table>
                <Logs host=host.clone() slug=slug.clone()/>
            </div>

            <div role="tabpanel" id=settings_id aria-labelledby=settings_tab hidden=settings_hidden>
                <AppSettings host=host.clone() slug=slug.clone() settings=settings reload=load_settings/>
                <Secrets host=host.clone() slug=slug.clone() settings=settings reload=load_settings/>
                <h3>"Remove"</h3>
                <div class="box danger-zone">
                    <button id="app-remove" class="danger" prop:disabled={let key = key.clone(); move || ui.busy_with(&key.0, &key.1).is_some()}
                        on:click={let key = key.clone(); move |_| ask_remove(ui, key.clone())}>"Remove this app…"</button>
                </div>
            </div>

            <div role="tabpanel" id=clients_id aria-labelledby=clients_tab hidden=clients_hidden>
                <Console host=host.clone() slug=slug.clone()/>
                <Access host=host.clone() slug=slug.clone()/>
            </div>
        </section>
    }
}
