//! The walls between a cluster's apps. Each app's tasks are on an overlay
//! network of their own, which the manager's Traefik container joins; no
//! two apps share a network, so no task can open a connection to another
//! app's (on one host, `enable_icc=false` on the one bridge does this). The
//! networks are attachable so that Traefik, a plain container, can join
//! them as they come, at once; a swarm service's networks change only by
//! replacing its tasks, which for Traefik would cut every app's calls at
//! each new app.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::models::{NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest};
use bollard::query_parameters::InspectContainerOptions;

use super::SwarmSpawner;
use crate::error::{SpawnError, is_not_found};
use crate::labels::{self, Role};
use crate::spec::Slug;

/// The overlay network of an app on a cluster.
pub fn app_network(slug: &Slug) -> String {
    format!("rserve-desk-app-{slug}")
}

/// How long the swarm may take to take a removed service's tasks off its network.
const DETACH: Duration = Duration::from_secs(30);

impl SwarmSpawner {
    /// Makes the app's network when it is missing, and joins Traefik to it.
    pub(super) async fn wall_in(&self, slug: &Slug) -> Result<(), SpawnError> {
        let name = app_network(slug);
        let exists = match self.manager.inspect_network(&name, None).await {
            Ok(_) => true,
            Err(e) if is_not_found(&e) => false,
            Err(e) => return Err(SpawnError::docker(format!("inspect the network {name}"))(e)),
        };
        if !exists {
            self.manager
                .create_network(NetworkCreateRequest {
                    name: name.clone(),
                    driver: Some("overlay".to_owned()),
                    attachable: Some(true),
                    labels: Some(network_labels(slug)),
                    ..Default::default()
                })
                .await
                .map_err(SpawnError::docker(format!("create the network {name}")))?;
        }
        if !self.traefik_networks().await?.contains(&name) {
            self.manager
                .connect_network(
                    &name,
                    NetworkConnectRequest {
                        container: self.traefik.clone(),
                        ..Default::default()
                    },
                )
                .await
                .map_err(SpawnError::docker(format!(
                    "join Traefik ({}) to {name}",
                    self.traefik
                )))?;
        }
        Ok(())
    }

    /// Takes Traefik off the app's network and removes the network, once
    /// the swarm has taken the removed service's tasks off it; nothing to
    /// do when there is no such network.
    pub(super) async fn wall_down(&self, slug: &Slug) -> Result<(), SpawnError> {
        let name = app_network(slug);
        let joined = match self.traefik_networks().await {
            Ok(networks) => networks.contains(&name),
            Err(SpawnError::NoTraefik(_)) => false,
            Err(e) => return Err(e),
        };
        if joined {
            let left = self
                .manager
                .disconnect_network(
                    &name,
                    NetworkDisconnectRequest {
                        container: self.traefik.clone(),
                        force: Some(true),
                    },
                )
                .await;
            if let Err(e) = left
                && !is_not_found(&e)
            {
                return Err(SpawnError::docker(format!("take Traefik off {name}"))(e));
            }
        }
        let deadline = Instant::now() + DETACH;
        loop {
            match self.manager.remove_network(&name).await {
                Ok(()) => return Ok(()),
                Err(e) if is_not_found(&e) => return Ok(()),
                Err(e) if Instant::now() >= deadline => {
                    return Err(SpawnError::docker(format!("remove the network {name}"))(e));
                }
                // Still in use by a task on its way out.
                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }

    /// The networks Traefik's container is on.
    async fn traefik_networks(&self) -> Result<Vec<String>, SpawnError> {
        let traefik = self
            .manager
            .inspect_container(&self.traefik, None::<InspectContainerOptions>)
            .await
            .map_err(|e| {
                if is_not_found(&e) {
                    SpawnError::NoTraefik(self.traefik.clone())
                } else {
                    SpawnError::docker(format!("inspect Traefik ({})", self.traefik))(e)
                }
            })?;
        Ok(traefik
            .network_settings
            .and_then(|n| n.networks)
            .map(|n| n.into_keys().collect())
            .unwrap_or_default())
    }
}

/// An app network's labels: ours, its role, its app.
fn network_labels(slug: &Slug) -> HashMap<String, String> {
    [
        (labels::OWNER, labels::OWNER_VALUE.to_owned()),
        (labels::ROLE, Role::AppNetwork.as_str().to_owned()),
        (labels::SLUG, slug.to_string()),
    ]
    .map(|(k, v)| (k.to_owned(), v))
    .into_iter()
    .collect()
}
