//! An unusable local database, seen from the engine: the window runs on an
//! empty in-memory cache to say why ([`Desk::without_cache`]), and both
//! shells repair it the same way ([`Desk::repair_cache`]): the file moved
//! aside with what can be read from it kept, then each kept host's apps
//! rebuilt from its labels.

use std::path::Path;

use serde::Serialize;

use super::Desk;
use crate::error::DeskError;
use crate::paths;
use crate::store::{CacheProblem, Repaired, Store, StoreError};

/// What a repair of the cache did.
#[derive(Debug, Clone, Serialize)]
pub struct CacheRepair {
    #[serde(flatten)]
    pub repaired: Repaired,
    /// Each kept host's apps, read again from its labels.
    pub rebuilt: Vec<HostRebuilt>,
}

/// One host's apps after a repair.
#[derive(Debug, Clone, Serialize)]
pub struct HostRebuilt {
    pub host: String,
    /// How many apps its labels list; `None` when it could not be reached.
    pub apps: Option<usize>,
    /// Why it could not be reached: its apps come back on the next connection.
    pub offline_reason: Option<String>,
}

impl Desk {
    /// An engine over an empty in-memory cache that keeps nothing: what the
    /// window runs on while the cache file is unusable, to show why and
    /// offer the repair.
    pub async fn without_cache() -> Result<Self, DeskError> {
        Ok(Self::over(Store::open_in_memory().await?))
    }

    /// Repairs the cache in `data_dir` if [`Desk::open`] refuses it as
    /// unusable: moves it aside, keeps what can be read from it, and lists
    /// each kept host's apps from its labels. `Ok(None)` when the cache is
    /// usable: nothing is moved.
    pub async fn repair_cache(data_dir: &Path) -> Result<Option<(Self, CacheRepair)>, DeskError> {
        let path = paths::database(data_dir);
        match Store::open(&path).await {
            Ok(store) => {
                store.close().await;
                return Ok(None);
            }
            Err(StoreError::Unusable { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let (store, repaired) = Store::repair(&path).await?;
        let desk = Self::over(store);
        let mut rebuilt = Vec::new();
        for host in &repaired.hosts {
            let (apps, offline_reason) = match desk.apps(host).await {
                Ok(view) if view.offline_reason.is_none() => (Some(view.apps.len()), None),
                Ok(view) => (None, view.offline_reason),
                Err(e) => (None, Some(crate::sentence(&e))),
            };
            rebuilt.push(HostRebuilt {
                host: host.clone(),
                apps,
                offline_reason,
            });
        }
        Ok(Some((desk, CacheRepair { repaired, rebuilt })))
    }
}

impl DeskError {
    /// Why the cache file is unusable, when that is what this error is.
    pub fn cache_problem(&self) -> Option<&CacheProblem> {
        match self {
            DeskError::Store(StoreError::Unusable { problem, .. }) => Some(problem),
            _ => None,
        }
    }
}
