//! An app's life on a host: the host's app list (live from its labels, or
//! the cache when it cannot be reached), start, stop, restart, status,
//! remove and logs, each recorded in the cache.

use std::time::Instant;

use futures_util::stream::BoxStream;
use rdesk_spawner::{AppState, LogLine, Removed, Slug, SpawnError};
use serde::Serialize;

use super::{Desk, HostSession};
use crate::error::DeskError;
use crate::monitor;
use crate::store::{AppRecord, DeploymentAction, DeploymentRecord, StatusEvent, now_ms};

/// The apps of a host: live from its labels, or the cached list when it cannot be reached.
#[derive(Debug, Clone, Serialize)]
pub struct AppsView {
    pub host: String,
    pub apps: Vec<AppRecord>,
    /// Why the host could not be reached, when it could not; `None` when the
    /// list was read from the host just now.
    pub offline_reason: Option<String>,
    /// The cluster the host is a worker of: the apps it runs are that
    /// cluster's, listed there.
    pub worker_of: Option<String>,
}

impl Desk {
    /// The host's apps, rebuilding the cache from its labels; the cached list
    /// (marked not live) when the host cannot be reached; none for a
    /// cluster's worker, whose apps are the cluster's.
    pub async fn apps(&self, host: &str) -> Result<AppsView, DeskError> {
        let record = self.host(host).await?;
        if let Some(cluster) = self.cluster_of(host).await? {
            return Ok(AppsView {
                host: host.to_owned(),
                apps: Vec::new(),
                offline_reason: None,
                worker_of: Some(cluster),
            });
        }
        match self.connect(&record).await {
            Ok(session) => {
                let result = session.refresh_apps().await;
                session.close().await;
                Ok(AppsView {
                    host: host.to_owned(),
                    apps: result?,
                    offline_reason: None,
                    worker_of: None,
                })
            }
            Err(DeskError::Host(e)) => Ok(AppsView {
                host: host.to_owned(),
                apps: self.store.apps(host).await?,
                offline_reason: Some(e.to_string()),
                worker_of: None,
            }),
            Err(e) => Err(e),
        }
    }
}

/// How long after an event (by the host's clock) a container listing may
/// still show the state from before it.
const LISTING_LAG_MS: i64 = 3_000;

impl HostSession {
    /// Rebuilds the cached app list of this host from its containers' labels.
    pub async fn refresh_apps(&self) -> Result<Vec<AppRecord>, DeskError> {
        Ok(self.refresh().await?.1)
    }

    /// [`HostSession::refresh_apps`], returning what the host listed.
    pub(crate) async fn refresh_apps_live(&self) -> Result<Vec<AppState>, DeskError> {
        Ok(self.refresh().await?.0)
    }

    /// Lists the apps and caches them. A status is recorded only where the
    /// listing disagrees with the last one recorded ([`monitor::agrees`]), so
    /// a listing never invents a change; the status cached is the one to
    /// show ([`monitor::shown`]), so an app that crashed and stayed down is
    /// not taken for one that was stopped.
    async fn refresh(&self) -> Result<(Vec<AppState>, Vec<AppRecord>), DeskError> {
        let live = self
            .spawner
            .list()
            .await
            .map_err(DeskError::spawn(self.name()))?;
        let mut records = Vec::with_capacity(live.len());
        let mut host_now = None;
        for app in &live {
            let last = self.store.status_events(self.name(), &app.slug, 1).await?;
            let recorded = last.first().map(|e| e.status);
            let mut listed = app.status();
            if let Some(event) = last.first()
                && !monitor::agrees(listed, recorded)
            {
                // Docker's listing lags its events by a moment: a container
                // whose `die` was just recorded can still be listed running.
                let now = match host_now {
                    Some(now) => now,
                    None => *host_now.insert(
                        self.spawner
                            .host_time_ms()
                            .await
                            .map_err(DeskError::spawn(self.name()))?,
                    ),
                };
                if now - event.at < LISTING_LAG_MS {
                    listed = event.status;
                }
            }
            if !monitor::agrees(listed, recorded) {
                self.store
                    .record_status(self.name(), &app.slug, listed, None)
                    .await?;
            }
            let mut record = app_record(self.name(), app);
            record.status = monitor::shown(listed, recorded);
            records.push(record);
        }
        self.store
            .replace_apps(self.name(), records.clone())
            .await?;
        Ok((live, records))
    }

    /// Runs start, stop or restart, records it in the app's history, and
    /// returns the app as the host now lists it and as the cache now has it.
    pub async fn act(&self, slug: &str, action: Lifecycle) -> Result<Acted, DeskError> {
        let slug = Slug::parse(slug)?;
        let clock = Instant::now();
        let outcome = match action {
            Lifecycle::Start => self.spawner.start(&slug).await,
            Lifecycle::Stop => self.spawner.stop(&slug).await,
            Lifecycle::Restart => self.spawner.restart(&slug).await,
        }
        .map_err(DeskError::spawn(self.name()));
        if !matches!(outcome, Err(DeskError::UnknownApp { .. })) {
            let failure = outcome.as_ref().err().map(ToString::to_string);
            self.record(&slug, action.into(), failure, clock).await?;
        }
        outcome?;
        let (live, records) = self.refresh().await?;
        live.into_iter()
            .zip(records)
            .find(|(state, _)| state.slug == slug.as_str())
            .map(|(state, record)| Acted { state, record })
            .ok_or_else(|| DeskError::UnknownApp {
                host: self.name().to_owned(),
                slug: slug.to_string(),
            })
    }

    pub async fn status(&self, slug: &str) -> Result<AppState, DeskError> {
        self.spawner
            .status(&Slug::parse(slug)?)
            .await
            .map_err(DeskError::spawn(self.name()))
    }

    /// Removes the app's containers and images from the host, it from the
    /// cache, and its secret variables from the keyring.
    pub async fn remove(&self, slug: &str) -> Result<Removed, DeskError> {
        let slug = Slug::parse(slug)?;
        let clock = Instant::now();
        let settings = self
            .spawner
            .status(&slug)
            .await
            .map(|app| app.settings)
            .unwrap_or_default();
        let removed = self
            .spawner
            .remove(&slug)
            .await
            .map_err(DeskError::spawn(self.name()));
        if !matches!(removed, Err(DeskError::UnknownApp { .. })) {
            let failure = removed.as_ref().err().map(ToString::to_string);
            self.record(&slug, DeploymentAction::Remove, failure, clock)
                .await?;
        }
        let removed = removed?;
        self.store.remove_app(self.name(), slug.as_str()).await?;
        self.forget_secrets(&slug, &settings).await?;
        Ok(removed)
    }

    pub async fn logs(
        &self,
        slug: &str,
        tail: usize,
        follow: bool,
    ) -> Result<BoxStream<'static, Result<LogLine, SpawnError>>, DeskError> {
        self.spawner
            .logs(&Slug::parse(slug)?, tail, follow)
            .await
            .map_err(DeskError::spawn(self.name()))
    }
}

/// What the user can do to an app that exists: start, stop, restart it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    Start,
    Stop,
    Restart,
}

/// An app after a [`Lifecycle`] action: as the host lists it, and its
/// cached record (what the window shows).
#[derive(Debug, Clone)]
pub struct Acted {
    pub state: AppState,
    pub record: AppRecord,
}

impl From<Lifecycle> for DeploymentAction {
    fn from(action: Lifecycle) -> DeploymentAction {
        match action {
            Lifecycle::Start => DeploymentAction::Start,
            Lifecycle::Stop => DeploymentAction::Stop,
            Lifecycle::Restart => DeploymentAction::Restart,
        }
    }
}

fn app_record(host: &str, app: &AppState) -> AppRecord {
    let current = app.current();
    AppRecord {
        host: host.to_owned(),
        slug: app.slug.clone(),
        app_id: app.app_id.clone(),
        r_version: app.r_version.clone(),
        mode: app.mode.clone(),
        packages: app.packages.clone(),
        repo: Some(app.repo.clone()).filter(|r| !r.is_empty()),
        code_hash: app.code_hash.clone(),
        config_hash: app.config_hash.clone(),
        image_id: current.map(|c| c.image.clone()),
        container_id: current.map(|c| c.id.clone()),
        status: app.status(),
        updated_at: now_ms(),
    }
}

/// An app's recent history, newest first: its deployments and its status
/// changes, as the cache has them.
#[derive(Debug, Clone)]
pub struct AppHistory {
    pub deployments: Vec<DeploymentRecord>,
    pub status_events: Vec<StatusEvent>,
}

impl Desk {
    /// The last `limit` deployments and status changes of app `slug` of
    /// `host` (a known host), read from the cache.
    pub async fn history(
        &self,
        host: &str,
        slug: &str,
        limit: u32,
    ) -> Result<AppHistory, DeskError> {
        self.host(host).await?;
        Ok(AppHistory {
            deployments: self.store.deployments(host, slug, limit).await?,
            status_events: self.store.status_events(host, slug, limit).await?,
        })
    }
}
