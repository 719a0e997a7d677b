//! R over QAP (RSclient) to an app: Traefik routes only WebSocket, and
//! RSclient's TLS sends no server name, so Traefik could not tell apps apart
//! on one TLS port. Instead a port on this machine's loopback is forwarded
//! through the host's one SSH session to the QAP port of the app's current
//! container on the apps' network (on a cluster, through the session of
//! the node running one of its tasks, to the task's address on that node),
//! until the tunnel is closed. The tunnel carries bytes only: calls still
//! need the app's token.

use std::sync::Arc;

use rdesk_spawner::{AppStatus, ContainerState, Mode, SpawnError};
use serde::Serialize;

use super::session::HostSpawner;
use super::{HostSession, NETWORK};
use crate::error::DeskError;
use crate::forward::LocalForward;
use crate::host::Connection;
use crate::snippets;

/// Rserve's QAP port in every app container (`rserve-base/start.R`).
pub const APP_QAP_PORT: u16 = 6311;

/// The bridge every swarm task has beside its overlay networks, reached
/// from its own node.
const GATEWAY_BRIDGE: &str = "docker_gwbridge";

/// Where R reaches an app while its tunnel is open, and the R program that does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TunnelView {
    pub host: String,
    pub slug: String,
    /// What R connects to: 127.0.0.1 through SSH (a local host's container
    /// is reached at its own address).
    pub address: String,
    pub port: u16,
    /// The container the tunnel leads to (a redeploy replaces it: open the
    /// tunnel again).
    pub container: String,
    /// [`snippets::r_qap`] for this app through this tunnel.
    pub r_snippet: String,
}

/// An open tunnel; [`QapTunnel::close`] cancels its forward.
pub struct QapTunnel {
    view: TunnelView,
    connection: Arc<Connection>,
    forward: Option<LocalForward>,
}

impl QapTunnel {
    pub fn view(&self) -> &TunnelView {
        &self.view
    }

    /// Cancels the forward: connections through it end, and no ssh
    /// process or listening port is left for it.
    pub async fn close(self) {
        if let Some(forward) = &self.forward {
            forward.close(&self.connection).await;
        }
    }
}

impl HostSession {
    /// Opens a tunnel to app `slug`'s QAP port on `127.0.0.1:local_port`
    /// (a free port when `None`).
    pub async fn open_tunnel(
        &self,
        slug: &str,
        local_port: Option<u16>,
    ) -> Result<QapTunnel, DeskError> {
        let state = self.status(slug).await?;
        let not_running = || DeskError::AppNotRunning {
            host: self.name().to_owned(),
            slug: slug.to_owned(),
            status: state.status().to_string(),
        };
        let container = state
            .containers
            .iter()
            .find(|c| c.state == AppStatus::Running && !c.is_draining())
            .ok_or_else(not_running)?;
        let (connection, container_address) = match &self.spawner {
            HostSpawner::Docker(_) => (
                Arc::clone(&self.connection),
                self.address_on_network(&container.name).await?,
            ),
            HostSpawner::Swarm(_) => self.task_address(container).await?,
        };
        let (address, port, forward) = match connection.session() {
            None => (container_address, APP_QAP_PORT, None),
            Some(_) => {
                let what = format!("the QAP port of app `{slug}`");
                let forward = LocalForward::open(
                    &connection,
                    local_port,
                    &container_address,
                    APP_QAP_PORT,
                    &what,
                )
                .await?;
                ("127.0.0.1".to_owned(), forward.local_port, Some(forward))
            }
        };
        let mode = Mode::parse(&state.mode)?;
        let r_snippet = snippets::r_qap(slug, self.name(), mode, state.settings.access, Some(port));
        Ok(QapTunnel {
            view: TunnelView {
                host: self.name().to_owned(),
                slug: slug.to_owned(),
                address,
                port,
                container: container.name.clone(),
                r_snippet,
            },
            connection,
            forward,
        })
    }

    /// A cluster task's node's connection, and the task's address on that
    /// node's `docker_gwbridge`: the one the node itself reaches (its
    /// overlay address is reached only from its app's network). Docker
    /// turns traffic between containers off on that bridge, so it is no way
    /// from one app to another.
    async fn task_address(
        &self,
        task: &ContainerState,
    ) -> Result<(Arc<Connection>, String), DeskError> {
        let node = task.node.as_deref().unwrap_or(self.name());
        let connection = match self.workers.iter().find(|(name, _)| name == node) {
            Some((_, worker)) => Arc::clone(worker),
            None => Arc::clone(&self.connection),
        };
        let unreachable = |reason: String| DeskError::Forward {
            host: node.to_owned(),
            what: format!("a port to {}", task.name),
            reason,
        };
        let bridge = connection
            .docker()
            .inspect_network(
                GATEWAY_BRIDGE,
                None::<bollard::query_parameters::InspectNetworkOptions>,
            )
            .await
            .map_err(|e| unreachable(format!("{GATEWAY_BRIDGE}: {e}")))?;
        let address = bridge
            .containers
            .and_then(|mut c| c.remove(&task.id))
            .and_then(|endpoint| endpoint.ipv4_address)
            .and_then(|cidr| cidr.split('/').next().map(str::to_owned))
            .filter(|ip| !ip.is_empty())
            .ok_or_else(|| unreachable(format!("it has no address on {GATEWAY_BRIDGE}")))?;
        Ok((connection, address))
    }

    /// The container's address on the apps' network.
    async fn address_on_network(&self, container: &str) -> Result<String, DeskError> {
        let inspected = self
            .connection
            .docker()
            .inspect_container(
                container,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
            .map_err(|e| {
                DeskError::spawn(self.name())(SpawnError::Docker {
                    action: format!("inspect {container}"),
                    source: e,
                })
            })?;
        inspected
            .network_settings
            .and_then(|n| n.networks)
            .and_then(|mut networks| networks.remove(NETWORK))
            .and_then(|n| n.ip_address)
            .filter(|ip| !ip.is_empty())
            .ok_or_else(|| DeskError::Forward {
                host: self.name().to_owned(),
                what: format!("a port to {container}"),
                reason: format!("it has no address on the network {NETWORK}"),
            })
    }
}
