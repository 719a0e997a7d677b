//! The window's state (hosts, each host's apps, the page shown, a dropped
//! app's form, a running deploy, what each app is busy with, the question
//! a dialog asks) and the calls that fill it. The window first shows what
//! the cache has, then what each host says.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos::task::spawn_local;
pub use rdesk_ipc::Page;
use rdesk_ipc::events::{AppChanged, Dropped};
use rdesk_ipc::{
    AppView, AppsList, Command, DeployArgs, DeployProgress, DeployResult, DropPreview, GitSource,
    HostArgs, HostView, NoArgs, PathsArgs, PickArgs, cmd,
};

use crate::bridge::{self, invoke, invoke_streaming};

/// Files dropped onto a host's dashboard, waiting for the user to confirm the new app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApp {
    pub host: String,
    /// Dropped or picked files, or a git repository to clone.
    pub paths: Vec<String>,
    pub git: Option<GitSource>,
    pub preview: DropPreview,
}

/// A deploy in progress or just finished, as the progress panel shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeployRun {
    pub what: String,
    pub files: Vec<String>,
    pub lines: Vec<String>,
    pub done: Option<Result<DeployResult, String>>,
}

/// A question asked before something that cannot be undone: the dialog's
/// title, what will happen (a sentence a line), the confirming button's
/// words, and what it does.
#[derive(Clone)]
pub struct Confirm {
    pub title: String,
    pub lines: Vec<String>,
    pub action: String,
    pub on_confirm: Callback<()>,
}

/// An app, as `(host, slug)`.
pub type AppKey = (String, String);

#[derive(Clone, Copy)]
pub struct Ui {
    pub hosts: RwSignal<Vec<HostView>>,
    pub apps: RwSignal<BTreeMap<String, AppsList>>,
    pub page: RwSignal<Page>,
    pub error: RwSignal<Option<String>>,
    pub now: RwSignal<i64>,
    pub new_app: RwSignal<Option<NewApp>>,
    pub deploy: RwSignal<Option<DeployRun>>,
    /// What each app is busy with ("Stopping…"): its buttons wait meanwhile.
    pub busy: RwSignal<BTreeMap<AppKey, String>>,
    pub confirm: RwSignal<Option<Confirm>>,
    /// How many samples each host's monitor has recorded while the window
    /// is open, a signal per host: a page redraws with its host's samples only.
    samples: StoredValue<BTreeMap<String, RwSignal<u64>>>,
    /// The window's own reactive owner: per-host signals live as long as it,
    /// whichever page first asked for them.
    root: StoredValue<Option<Owner>>,
    /// The number of the newest reload asked of each host: an older answer
    /// arriving after a newer one (an app's state as it was before the
    /// event that asked for the newer) is dropped.
    reloads: StoredValue<BTreeMap<String, u64>>,
}

pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

impl Ui {
    pub fn new() -> Self {
        Self {
            hosts: RwSignal::new(Vec::new()),
            apps: RwSignal::new(BTreeMap::new()),
            page: RwSignal::new(Page::Hosts),
            error: RwSignal::new(None),
            now: RwSignal::new(now_ms()),
            new_app: RwSignal::new(None),
            deploy: RwSignal::new(None),
            busy: RwSignal::new(BTreeMap::new()),
            confirm: RwSignal::new(None),
            samples: StoredValue::new(BTreeMap::new()),
            root: StoredValue::new(Owner::current()),
            reloads: StoredValue::new(BTreeMap::new()),
        }
    }

    pub fn fail(&self, message: impl Into<String>) {
        self.error.set(Some(message.into()));
    }

    /// Asks the shell `C` with `args`, handing the answer to `then`; a
    /// failure is shown as the window's error.
    pub fn fetch<C: Command>(self, args: C::Args, then: impl FnOnce(C::Output) + 'static) {
        spawn_local(async move {
            match invoke::<C>(&args).await {
                Ok(answer) => then(answer),
                Err(e) => self.fail(e.message),
            }
        });
    }

    /// A host's monitor recorded a sample: its numbers and charts redraw.
    pub fn sampled(&self, host: String) {
        self.samples_of(host).update(|n| *n += 1);
    }

    /// How many samples of `host` came: what reads it redraws with each of
    /// that host's samples, not with other hosts'.
    pub fn samples_of(&self, host: String) -> RwSignal<u64> {
        if let Some(kept) = self.samples.with_value(|s| s.get(&host).copied()) {
            return kept;
        }
        let made = match self.root.get_value() {
            Some(root) => root.with(|| RwSignal::new(0)),
            None => RwSignal::new(0),
        };
        self.samples.update_value(|s| {
            s.insert(host, made);
        });
        made
    }

    /// What the app is busy with, if anything (tracked).
    pub fn busy_with(&self, host: &str, slug: &str) -> Option<String> {
        self.busy
            .with(|b| b.get(&(host.to_owned(), slug.to_owned())).cloned())
    }

    /// Marks the app busy with `what`; false when it already is busy, so a
    /// second click never sends a second operation.
    pub fn begin(&self, key: &AppKey, what: &str) -> bool {
        let free = self.busy.with_untracked(|b| !b.contains_key(key));
        if free {
            self.busy.update(|b| {
                b.insert(key.clone(), what.to_owned());
            });
        }
        free
    }

    pub fn end(&self, key: &AppKey) {
        self.busy.update(|b| {
            b.remove(key);
        });
    }

    /// Shows `app` as an action left it, before the host's next listing.
    pub fn update_app(&self, app: AppView) {
        self.apps.update(|m| {
            if let Some(shown) = m
                .get_mut(&app.host)
                .and_then(|l| l.apps.iter_mut().find(|a| a.slug == app.slug))
            {
                *shown = app;
            }
        });
    }

    fn set_list(&self, list: AppsList) {
        // A cached list never replaces a live one that came first.
        let keep_live = !list.live
            && list.offline_reason.is_none()
            && self
                .apps
                .with_untracked(|m| m.get(&list.host).is_some_and(|l| l.live));
        if !keep_live {
            self.apps.update(|m| {
                m.insert(list.host.clone(), list);
            });
        }
    }

    /// Hosts and their cached apps at once, then each host's live list; at
    /// start-up (`pick_first`) the first host's page is shown, or the
    /// welcome page when there is no host yet.
    pub fn load(self, pick_first: bool) {
        spawn_local(async move {
            let hosts = match invoke::<cmd::Hosts>(&NoArgs {}).await {
                Ok(h) => h,
                Err(e) => return self.fail(e.message),
            };
            self.hosts.set(hosts.clone());
            if pick_first && self.page.get_untracked() == Page::Hosts {
                self.page.set(match hosts.first() {
                    Some(first) => Page::Host(first.name.clone()),
                    None => Page::Welcome,
                });
            }
            for host in &hosts {
                let args = HostArgs {
                    host: host.name.clone(),
                };
                match invoke::<cmd::CachedApps>(&args).await {
                    Ok(list) => self.set_list(list),
                    Err(e) => self.fail(e.message),
                }
            }
            for host in hosts {
                self.reload(host.name);
            }
        });
    }

    /// A host was added: from the welcome page, the window goes to it.
    pub fn host_added(self, host: &str) {
        self.error.set(None);
        if self.page.get_untracked() == Page::Welcome {
            self.page.set(Page::Host(host.to_owned()));
        }
        self.load(false);
    }

    /// An app's status changed on a host (its events stream said so): shown
    /// at once, then the host's apps are read again for the rest.
    pub fn app_changed(self, change: AppChanged) {
        self.apps.update(|m| {
            if let Some(app) = m
                .get_mut(&change.host)
                .and_then(|l| l.apps.iter_mut().find(|a| a.slug == change.slug))
            {
                app.status = change.status;
                app.updated_at = now_ms();
            }
        });
        self.reload(change.host);
    }

    /// Asks the host for its apps (the cache when it cannot be reached).
    pub fn reload(self, host: String) {
        let number = self.reloads.try_update_value(|r| {
            let n = r.entry(host.clone()).or_default();
            *n += 1;
            *n
        });
        spawn_local(async move {
            let answer = invoke::<cmd::Apps>(&HostArgs { host: host.clone() }).await;
            let newest = self.reloads.with_value(|r| r.get(&host).copied()) == number;
            match answer {
                Ok(list) if newest => self.set_list(list),
                Ok(_) => {}
                Err(e) => self.fail(e.message),
            }
        });
    }

    /// Files were dropped at a point of the window: onto an app, a new
    /// version of it; elsewhere on a host's page, the new-app form.
    pub fn dropped(self, drop: Dropped) {
        let target = bridge::element_at(drop.position.x, drop.position.y)
            .and_then(|e| e.closest("[data-drop-slug]").ok().flatten());
        if let Some(row) = target
            && let (Some(host), Some(slug)) = (
                row.get_attribute("data-drop-host"),
                row.get_attribute("data-drop-slug"),
            )
        {
            return self.start_deploy(DeployArgs {
                host,
                paths: drop.paths,
                slug: Some(slug),
                ..DeployArgs::default()
            });
        }
        let Some(host) = self.page.get_untracked().host().map(str::to_owned) else {
            return self
                .fail("Choose a host on the left, then drop the app's files onto its page.");
        };
        self.new_app_from(host, drop.paths);
    }

    /// Asks the shell's file picker for an app's files or folder, then
    /// opens the new-app form for `host` with them; nothing when cancelled.
    pub fn pick(self, host: String, what: PickArgs) {
        spawn_local(async move {
            match invoke::<cmd::PickApp>(&what).await {
                Ok(paths) if paths.is_empty() => {}
                Ok(paths) => self.new_app_from(host, paths),
                Err(e) => self.fail(e.message),
            }
        });
    }

    /// The new-app form for `paths` (dropped or picked) on `host`, filled
    /// from the shell's preview of them.
    fn new_app_from(self, host: String, paths: Vec<String>) {
        spawn_local(async move {
            let args = PathsArgs {
                paths: paths.clone(),
            };
            match invoke::<cmd::Preview>(&args).await {
                Ok(preview) => self.new_app.set(Some(NewApp {
                    host,
                    paths,
                    git: None,
                    preview,
                })),
                Err(e) => self.fail(e.message),
            }
        });
    }

    /// The new-app form for a git repository on `host`, filled from a
    /// clone the shell makes of it; `false` when it cannot be cloned (said
    /// as the window's error).
    pub async fn new_app_from_git(self, host: String, git: GitSource) -> bool {
        match invoke::<cmd::PreviewGit>(&git).await {
            Ok(preview) => {
                self.new_app.set(Some(NewApp {
                    host,
                    paths: Vec::new(),
                    git: Some(git),
                    preview,
                }));
                true
            }
            Err(e) => {
                self.fail(e.message);
                false
            }
        }
    }

    /// Deploys, showing the files received and each step and build line as they come.
    pub fn start_deploy(self, args: DeployArgs) {
        let what = match &args.slug {
            Some(slug) => format!("{slug} on {}", args.host),
            None => format!("a new app on {}", args.host),
        };
        self.deploy.set(Some(DeployRun {
            what,
            ..DeployRun::default()
        }));
        let deploy = self.deploy;
        spawn_local(async move {
            let on_progress = move |p: DeployProgress| {
                deploy.update(|run| {
                    let Some(run) = run else { return };
                    match p {
                        DeployProgress::Received { files, .. } => run.files = files,
                        DeployProgress::Step { text } => run.lines.push(format!("==> {text}")),
                        DeployProgress::BuildLog { text } => run.lines.push(text),
                    }
                })
            };
            let result = invoke_streaming::<cmd::Deploy>(&args, on_progress).await;
            deploy.update(|run| {
                if let Some(run) = run {
                    run.done = Some(result.map_err(|e| e.message));
                }
            });
            self.reload(args.host);
        });
    }
}
