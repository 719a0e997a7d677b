//! The shell's state: the engine, the notification throttle, the alert
//! webhook and the notifications waiting for a click, the log follows, which hosts are
//! unreachable (as their watchers last said), the running watchers, the
//! open R tunnels, the operations under way, the paths the window may deploy, why the cache is
//! unusable (when it is), what the About panel shows, and where the window
//! was when it was closed to the tray.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rdesk_core::DeskError;
use rdesk_core::alert_settings::AlertSettings;
use rdesk_core::alerts::Alerts;
use rdesk_core::desk::Desk;
use rdesk_core::diagnostics::About;
use rdesk_core::webhook::Webhook;
use rdesk_ipc::{AppsList, OverviewView, ViewPlace};

use crate::follows::Follows;
use crate::grants::Grants;
use crate::tunnels::Tunnels;
use crate::work::Work;
use crate::{convert, notify};

pub struct Shell {
    pub desk: Arc<Desk>,
    pub alerts: Arc<Mutex<Alerts>>,
    /// Where alerts are also posted, when the user set a webhook.
    pub webhook: Mutex<Option<Webhook>>,
    pub notifications: notify::Waiting,
    pub follows: Follows,
    pub tunnels: Tunnels,
    /// The operations that change a host, while they run.
    pub work: Work,
    offline: Mutex<HashMap<String, String>>,
    pub watchers: Mutex<HashMap<String, tauri::async_runtime::JoinHandle<()>>>,
    pub grants: Grants,
    /// Why the cache file could not be used: the engine then runs on an
    /// empty in-memory cache, and the window offers the repair.
    pub cache_problem: Option<String>,
    pub about: About,
    /// The window's page and scroll, as it last said; a re-created window opens there.
    view: Mutex<Option<ViewPlace>>,
}

impl Shell {
    /// The shell over `desk`; a window opened later starts at `place`.
    pub fn new(
        desk: Desk,
        cache_problem: Option<String>,
        about: About,
        place: Option<ViewPlace>,
    ) -> Self {
        let settings = AlertSettings::load(&about.data_dir).unwrap_or_else(|e| {
            tracing::warn!(
                "{}; using the default alert settings",
                rdesk_core::sentence(&e)
            );
            AlertSettings::default()
        });
        let webhook = settings.check().unwrap_or_else(|e| {
            tracing::warn!("{}", rdesk_core::sentence(&e));
            None
        });
        Self {
            about,
            view: Mutex::new(place),
            grants: Grants::default(),
            cache_problem,
            desk: Arc::new(desk),
            alerts: Arc::new(Mutex::new(Alerts::new(settings.throttle()))),
            webhook: Mutex::new(webhook),
            notifications: notify::Waiting::default(),
            follows: Follows::default(),
            tunnels: Tunnels::default(),
            work: Work::default(),
            offline: Mutex::new(HashMap::new()),
            watchers: Mutex::new(HashMap::new()),
        }
    }

    /// Keeps where the window is.
    pub fn remember_view(&self, place: ViewPlace) {
        if let Ok(mut view) = self.view.lock() {
            *view = Some(place);
        }
    }

    /// Where the window was, for a re-created one.
    pub fn last_view(&self) -> Option<ViewPlace> {
        self.view.lock().ok()?.clone()
    }

    /// Notes whether `host` is reachable; `None` is reachable.
    pub fn set_offline(&self, host: &str, reason: Option<String>) {
        if let Ok(mut map) = self.offline.lock() {
            match reason {
                Some(r) => map.insert(host.to_owned(), r),
                None => map.remove(host),
            };
        }
    }

    pub fn offline_reason(&self, host: &str) -> Option<String> {
        self.offline.lock().ok()?.get(host).cloned()
    }

    /// A host's apps as the cache has them, without contacting it.
    pub async fn cached_apps(&self, host: &str) -> Result<AppsList, DeskError> {
        let record = self.desk.host(host).await?;
        let apps = self.desk.store().apps(host).await?;
        Ok(AppsList {
            host: host.to_owned(),
            apps: apps
                .into_iter()
                .map(|a| convert::app(&record.public_url, a))
                .collect(),
            live: false,
            offline_reason: self.offline_reason(host),
            worker_of: self.desk.cluster_of(host).await?,
        })
    }

    /// Every host's state from the cache and the watchers: what the tray shows.
    pub async fn overview(&self) -> Result<OverviewView, DeskError> {
        let mut lists = Vec::new();
        for host in self.desk.hosts().await? {
            lists.push(self.cached_apps(&host.name).await?);
        }
        Ok(OverviewView::from_lists(&lists))
    }
}
