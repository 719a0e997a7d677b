//! The engine's front door: hosts, deploys and app operations as the desktop
//! shell and `rdesk` use them. It joins the pieces (store, host connection,
//! intake, spawner, QAP client) and records what happened in the cache; the
//! host's labels stay the source of truth. Each part has its own file:
//!
//! - `hosts`: adding, listing, removing, re-pinning hosts; input checks.
//! - `sessions`: the pool, one live connection per host; `session`: a
//!   [`HostSession`] and how the desk gets one.
//! - `bootstrapping`: plan and run a host's bootstrap.
//! - `deploy`: a deploy from dropped files; `rollout`: switches, rollbacks,
//!   settings and kept versions.
//! - `apps`: the app list and lifecycle, status, remove, logs.
//! - `calls`: calling an app as a client does; `access`: tokens;
//!   `app_secrets`: secret settings; `cache_repair`: rebuilding the cache.
//! - `tunnel`: R over QAP to an app through the host's SSH session.

use std::path::Path;

use crate::bootstrap;
use crate::error::DeskError;
use crate::paths;
use crate::store::Store;

mod access;
mod app_secrets;
mod apps;
mod bootstrapping;
mod cache_repair;
mod calls;
mod clusters;
mod container_use;
mod deploy;
mod hosts;
mod rollout;
mod session;
mod sessions;
mod tunnel;

pub use access::{NewToken, TokenView};
pub use apps::{Acted, AppHistory, AppsView, Lifecycle};
pub use cache_repair::{CacheRepair, HostRebuilt};
pub use calls::{CallArgument, app_url};
pub use clusters::ClusterError;
pub use container_use::ContainerUse;
pub use deploy::{DeployReport, DeployRequest};
pub use hosts::{AddedHost, HostChange, NewHost};
pub use rollout::SwitchReport;
pub use rserve_qap::Signature;
pub use session::{HostCheck, HostSession};
pub use sessions::RECONNECT_WAIT;
pub use tunnel::{APP_QAP_PORT, QapTunnel, TunnelView};

/// The Docker network apps join on every host (no traffic between its containers).
pub const NETWORK: &str = bootstrap::NETWORK;
/// Traefik's certificate resolver, as `remote-bootstrap/traefik.yml` names it.
const CERT_RESOLVER: &str = "letsencrypt";

/// The engine, over one data directory, with one live session per host.
pub struct Desk {
    store: Store,
    sessions: sessions::SessionPool,
    /// Each host's memory as last read, for its summary.
    pub(crate) memory_totals: crate::summary::MemoryTotals,
}

impl Desk {
    /// Opens (creating if needed) the cache in `data_dir`, after cleaning up
    /// what killed runs left (ssh masters still logged in to a host).
    pub async fn open(data_dir: &Path) -> Result<Self, DeskError> {
        crate::host::reap_abandoned(&paths::runtime_base()).await;
        let store = Store::open(paths::database(data_dir)).await?;
        Ok(Self::over(store))
    }

    fn over(store: Store) -> Self {
        Self {
            store,
            sessions: sessions::SessionPool::default(),
            memory_totals: crate::summary::MemoryTotals::default(),
        }
    }

    /// Closes every host's session, waiting until its ssh master is gone:
    /// what a shell does last.
    pub async fn shutdown(&self) {
        self.sessions.shutdown().await;
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
}
