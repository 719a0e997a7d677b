//! What each of an app's running containers (a cluster's tasks) uses now,
//! and on which node: two stats readings of each, a second apart, for
//! `rdesk status --use`. The charts' history is the monitor's, per app.

use std::time::Duration;

use futures_util::future::join_all;
use rdesk_spawner::{AppState, ContainerState, SpawnError, StatsReading};
use serde::Serialize;

use super::HostSession;
use crate::error::DeskError;

/// How long the CPU use is measured over.
const MEASURED_OVER: Duration = Duration::from_secs(1);

/// What one of an app's containers uses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerUse {
    pub container: String,
    /// The cluster node it runs on; `None` on a single host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// CPU over the last second or so, in percent of one core.
    pub cpu_percent: f64,
    /// Memory in use, without the page cache.
    pub memory_bytes: u64,
    pub memory_limit_bytes: u64,
}

impl HostSession {
    /// What each running container of `app` (as [`HostSession::status`]
    /// just read it) uses, in its order; a container that stops or goes
    /// meanwhile is left out. Fails when no container could be read at all.
    pub async fn container_use(&self, app: &AppState) -> Result<Vec<ContainerUse>, DeskError> {
        let running: Vec<&ContainerState> = app.running().collect();
        let mut first = self.read_all(&running).await;
        if !first.is_empty()
            && first.iter().all(Result::is_err)
            && let Err(e) = first.remove(0)
        {
            return Err(DeskError::spawn(self.name())(e));
        }
        tokio::time::sleep(MEASURED_OVER).await;
        let second = self.read_all(&running).await;
        Ok(running
            .iter()
            .zip(first.into_iter().zip(second))
            .filter_map(|(container, readings)| match readings {
                (Ok(Some(before)), Ok(Some(now))) => Some(ContainerUse {
                    container: container.name.clone(),
                    node: container.node.clone(),
                    cpu_percent: now.cpu_percent_since(&before).unwrap_or(0.0),
                    memory_bytes: now.memory_bytes,
                    memory_limit_bytes: now.memory_limit_bytes,
                }),
                _ => None,
            })
            .collect())
    }

    /// A reading of each container, all at once.
    async fn read_all(
        &self,
        containers: &[&ContainerState],
    ) -> Vec<Result<Option<StatsReading>, SpawnError>> {
        join_all(containers.iter().map(|c| self.spawner.stats(&c.id))).await
    }
}
