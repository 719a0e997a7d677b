//! What the spawner reports about apps: their description read back from
//! labels, their containers' state, and the progress of a deploy.

use std::collections::HashMap;

use bollard::models::ContainerSummary;
use serde::Serialize;

use crate::labels;
use crate::origin::Origin;
use crate::settings::Settings;
use crate::status::{AppStatus, HealthCheck};

/// An app as found on the host, described by its labels alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppState {
    pub slug: String,
    pub app_id: String,
    pub r_version: String,
    pub mode: String,
    pub packages: Vec<String>,
    pub repo: String,
    pub code_hash: String,
    pub config_hash: String,
    /// How the newest container runs.
    pub settings: Settings,
    /// Newest first; more than one with replicas, or while a redeploy switches over.
    pub containers: Vec<ContainerState>,
}

impl AppState {
    /// Reads an app's description from a container's labels; `None` when they are not ours.
    pub(crate) fn from_labels(
        labels: &HashMap<String, String>,
        containers: Vec<ContainerState>,
    ) -> Option<Self> {
        let get = |k: &str| labels.get(k).cloned();
        if get(labels::OWNER)? != labels::OWNER_VALUE {
            return None;
        }
        let packages = labels::package_list(labels);
        Some(Self {
            slug: get(labels::SLUG)?,
            app_id: get(labels::APP_ID)?,
            r_version: get(labels::R_VERSION).unwrap_or_default(),
            mode: get(labels::MODE).unwrap_or_default(),
            packages,
            repo: get(labels::REPO).unwrap_or_default(),
            code_hash: get(labels::CODE_HASH).unwrap_or_default(),
            config_hash: get(labels::CONFIG_HASH).unwrap_or_default(),
            settings: Settings::from_label_value(&get(labels::SETTINGS).unwrap_or_default()),
            containers,
        })
    }

    /// Its running containers: each replica, and an old one still running
    /// beside a new one during a redeploy.
    pub fn running(&self) -> impl Iterator<Item = &ContainerState> {
        self.containers
            .iter()
            .filter(|c| c.state == AppStatus::Running)
    }

    /// The container that serves (or last served) the app.
    pub fn current(&self) -> Option<&ContainerState> {
        self.containers.first()
    }

    /// The app's status: its current container's, [`AppStatus::Missing`] without one.
    pub fn status(&self) -> AppStatus {
        self.current()
            .map(ContainerState::status)
            .unwrap_or(AppStatus::Missing)
    }
}

/// One container of an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerState {
    pub id: String,
    pub name: String,
    pub image: String,
    /// Docker's state: created, running, paused, restarting, removing, exited, dead.
    pub state: AppStatus,
    /// When the image has a health check.
    pub health: Option<HealthCheck>,
    /// Docker's human status line, e.g. "Up 2 minutes (healthy)".
    pub detail: String,
    /// Unix seconds.
    pub created: i64,
    /// The cluster node it runs on; `None` on a single host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

impl ContainerState {
    /// `running` only when Docker runs it and its health check (if any) passes.
    pub fn status(&self) -> AppStatus {
        match (self.state, self.health) {
            (AppStatus::Running, Some(HealthCheck::Unhealthy)) => AppStatus::Unhealthy,
            (AppStatus::Running, Some(HealthCheck::Starting)) => AppStatus::Starting,
            (state, _) => state,
        }
    }

    /// Whether it is an old version on its way out, serving no new calls.
    pub fn is_draining(&self) -> bool {
        labels::is_draining(&self.name)
    }
}

/// Progress of a deploy, in the order it happens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", content = "text", rename_all = "snake_case")]
pub enum DeployEvent {
    /// A step begins, e.g. "building the packages layer".
    Step(String),
    /// A line of Docker's build output.
    BuildLog(String),
}

/// A container, by id and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerRef {
    pub id: String,
    pub name: String,
}

/// What a deploy or a rollback started. The new containers are healthy; the
/// previous ones still serve beside them until the caller has seen the router
/// reach the new ones and retires the old ([`crate::Spawner::drain`],
/// [`crate::Spawner::retire`]), starting the version's further replicas
/// ([`crate::Spawner::add_replica`]) one at a time as it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deployed {
    pub image: String,
    pub image_id: String,
    /// The containers of this version, healthy. Already running ones when nothing changed.
    pub containers: Vec<ContainerRef>,
    /// How many replicas the version runs; while old containers serve, only
    /// the first is started, and the caller adds the others.
    pub replicas: u8,
    /// What the names of the version's replica containers start with.
    #[serde(skip)]
    pub replica_stem: String,
    /// Containers of other versions (or settings) of the app, still there.
    pub previous: Vec<ContainerRef>,
    /// False when the image already existed (unchanged code and configuration).
    pub built: bool,
    /// True when an existing packages layer was used instead of installing again.
    pub packages_reused: bool,
    /// Time spent building images (zero when nothing was built).
    pub build_ms: u64,
    /// The spawner replaced the previous version itself (a swarm's rolling
    /// update): `containers` are every replica, and nothing is left to switch.
    pub rolled_out: bool,
}

/// One kept image of an app: a version it can be rolled back to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Version {
    /// The image reference, e.g. `rserve-desk/app-demo:1a2b3c4d5e6f-...`.
    pub image: String,
    pub image_id: String,
    pub code_hash: String,
    /// The R version and packages the image was built with.
    pub r_version: String,
    pub packages: Vec<String>,
    /// The git commit its code came from, if it came from git.
    pub origin: Option<Origin>,
    /// Unix seconds.
    pub created: i64,
    /// Whether a container of the app runs this image now.
    pub current: bool,
}

/// What removing an app took away.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Removed {
    pub containers: Vec<String>,
    pub images: Vec<String>,
}

/// One line of an app's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    pub stream: LogStream,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// A container as a listing reports it; its health is read from the status text.
pub(crate) fn summary_to_state(c: &ContainerSummary) -> ContainerState {
    let detail = c.status.clone().unwrap_or_default();
    let health = ["unhealthy", "healthy", "health: starting"]
        .into_iter()
        .find(|h| detail.contains(&format!("({h})")))
        .map(|h| HealthCheck::parse(h.trim_start_matches("health: ")));
    ContainerState {
        id: c.id.clone().unwrap_or_default(),
        name: c
            .names
            .as_ref()
            .and_then(|n| n.first())
            .map(|n| n.trim_start_matches('/').to_owned())
            .unwrap_or_default(),
        image: c.image.clone().unwrap_or_default(),
        state: c
            .state
            .map_or(AppStatus::Unknown, |s| AppStatus::parse(s.as_ref())),
        health,
        detail,
        created: c.created.unwrap_or_default(),
        node: None,
    }
}

/// Listed containers as apps (by app id, sorted by slug); containers whose
/// labels are not ours are left out.
pub(crate) fn group_into_apps(containers: &[ContainerSummary]) -> Vec<AppState> {
    let mut by_app: Vec<AppState> = Vec::new();
    for c in containers {
        let labels = c.labels.clone().unwrap_or_default();
        let state = summary_to_state(c);
        let app_id = labels.get(labels::APP_ID);
        match by_app.iter_mut().find(|a| Some(&a.app_id) == app_id) {
            Some(app) => app.containers.push(state),
            None => by_app.extend(AppState::from_labels(&labels, vec![state])),
        }
    }
    by_app.sort_by(|a, b| a.slug.cmp(&b.slug));
    by_app
}
