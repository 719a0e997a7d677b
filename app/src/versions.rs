//! The app page's kept versions: each one's code hash, R version, packages,
//! when it was built and when it last ran (from the app's history), and
//! "Roll back to this", which switches to it through the same gated path as
//! a deploy, its steps shown as they happen.

use leptos::prelude::*;
use leptos::task::spawn_local;
use rdesk_ipc::{AppArgs, DeploymentAction, HistoryView, Outcome, RollbackArgs, VersionView, cmd};

use crate::format::local_time;
use crate::state::{AppKey, Ui};
use crate::switching::{Switch, SwitchProgress};

/// How many characters of a code hash name a version.
const HASH_SHOWN: usize = 12;

/// When the version with `code_hash` last started serving: the newest
/// deployment, rollback or settings change of that code that went well.
fn last_ran(history: &HistoryView, code_hash: &str) -> Option<i64> {
    history
        .deployments
        .iter()
        .filter(|d| d.code_hash == code_hash && d.outcome == Outcome::Ok)
        .filter(|d| {
            matches!(
                d.action,
                DeploymentAction::Build | DeploymentAction::Rollback | DeploymentAction::Settings
            )
        })
        .map(|d| d.started_at)
        .max()
}

#[component]
pub fn Versions(
    host: String,
    slug: String,
    history: RwSignal<Option<HistoryView>>,
    /// Called after a rollback, to read the app's history again.
    on_switched: Callback<()>,
) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let versions = RwSignal::new(None::<Vec<VersionView>>);
    let switch = Switch::new();
    let args = AppArgs {
        host: host.clone(),
        slug: slug.clone(),
    };
    let load = move || ui.fetch::<cmd::Versions>(args.clone(), move |v| versions.set(Some(v)));
    load();
    let key: AppKey = (host, slug);
    let busy = {
        let key = key.clone();
        Memo::new(move |_| ui.busy_with(&key.0, &key.1).is_some())
    };
    let roll_back = move |version: VersionView| {
        let key = key.clone();
        if !ui.begin(&key, "Rolling back…") {
            return;
        }
        let load = load.clone();
        spawn_local(async move {
            let args = RollbackArgs {
                host: key.0.clone(),
                slug: key.1.clone(),
                version: version.image,
            };
            switch.run::<cmd::Rollback>(&args).await;
            ui.end(&key);
            load();
            on_switched.run(());
            ui.reload(key.0);
        });
    };
    view! {
        <table id="versions">
            <caption class="muted">"Kept versions, newest first"</caption>
            <thead><tr><th>"Code"</th><th>"R"</th><th>"Packages"</th><th>"Built"</th><th>"Last ran"</th><th></th></tr></thead>
            <tbody>
                {move || versions.get().map(|list| list.into_iter().map(|v| {
                    let hash: String = v.code_hash.chars().take(HASH_SHOWN).collect();
                    let shown = hash.clone();
                    let ran = history.with(|h| h.as_ref().and_then(|h| last_ran(h, &v.code_hash)));
                    let (current, chosen) = (v.current, v.clone());
                    let roll_back = roll_back.clone();
                    view! {
                        <tr class="version" class:current=current data-code=hash.clone()>
                            <td><code>{shown}</code>{current.then(|| view! { " " <span class="badge ok">"running"</span> })}
                                {v.origin.as_ref().map(|o| {
                                    let commit: String = o.commit.chars().take(HASH_SHOWN).collect();
                                    view! { <br/><span class="origin muted" title=o.url.clone()>{format!("git {} at {commit}", o.reference)}</span> }
                                })}
                            </td>
                            <td>{v.r_version.clone()}</td>
                            <td>{if v.packages.is_empty() { "none".to_owned() } else { v.packages.join(", ") }}</td>
                            <td class="built">{local_time(v.built_at)}</td>
                            <td class="ran">{ran.map_or_else(|| "—".to_owned(), local_time)}</td>
                            <td>
                                <button class="small rollback" prop:disabled=move || current || busy.get()
                                    on:click=move |_| roll_back(chosen.clone())>
                                    {if current { "Running" } else { "Roll back to this" }}
                                </button>
                            </td>
                        </tr>
                    }
                }).collect::<Vec<_>>())}
            </tbody>
        </table>
            <SwitchProgress switch=switch id="rollback-outcome"/>
    }
}

#[cfg(test)]
mod tests {
    use rdesk_ipc::DeploymentView;

    use super::*;

    fn deployment(
        action: DeploymentAction,
        outcome: Outcome,
        code: &str,
        at: i64,
    ) -> DeploymentView {
        DeploymentView {
            action,
            outcome,
            message: None,
            code_hash: code.into(),
            started_at: at,
            duration_ms: 0,
        }
    }

    #[test]
    fn a_version_last_ran_when_it_last_started_serving() {
        let history = HistoryView {
            deployments: vec![
                deployment(DeploymentAction::Build, Outcome::Ok, "aa", 10),
                deployment(DeploymentAction::Rollback, Outcome::Ok, "aa", 30),
                deployment(DeploymentAction::Rollback, Outcome::Failed, "aa", 40),
                deployment(DeploymentAction::Stop, Outcome::Ok, "aa", 50),
                deployment(DeploymentAction::Build, Outcome::Ok, "bb", 20),
            ],
            status_events: Vec::new(),
        };
        assert_eq!(last_ran(&history, "aa"), Some(30));
        assert_eq!(last_ran(&history, "bb"), Some(20));
        assert_eq!(last_ran(&history, "cc"), None);
    }
}
