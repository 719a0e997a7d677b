//! Traefik's dashboard, which the bootstrap publishes only where the host
//! itself reaches it (its loopback; on a cluster, the manager's Traefik's
//! address on its bridge): reached through the host's own SSH session by
//! forwarding a port on this machine's loopback to it, for as long as the
//! session is open.

use crate::bootstrap::TRAEFIK_CONTAINER;
use crate::desk::HostSession;
use crate::error::DeskError;
use crate::forward::LocalForward;
use crate::traefik_address::private_address;

/// The dashboard's port on the VPS (`BootstrapOptions::dashboard_port`).
pub const DEFAULT_REMOTE_PORT: u16 = 8089;

/// Where the dashboard answers while the forward is open.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Dashboard {
    pub host: String,
    pub url: String,
    pub local_port: u16,
    pub remote_port: u16,
}

/// Forwards `127.0.0.1:local_port` here (a free one when `None`) to
/// `remote_port` where the host reaches the bootstrap's Traefik (its
/// `127.0.0.1` when there is no such container: another Traefik of the
/// user's). A local host needs no forward.
pub async fn open(
    session: &HostSession,
    local_port: Option<u16>,
    remote_port: u16,
) -> Result<Dashboard, DeskError> {
    let connection = session.connection();
    let local_port = match connection.session() {
        None => remote_port,
        Some(_) => {
            let remote_host = private_address(connection, TRAEFIK_CONTAINER)
                .await
                .unwrap_or_else(|| "127.0.0.1".to_owned());
            LocalForward::open(
                connection,
                local_port,
                &remote_host,
                remote_port,
                "the dashboard",
            )
            .await?
            .local_port
        }
    };
    Ok(Dashboard {
        host: session.host().name.clone(),
        url: format!("http://127.0.0.1:{local_port}/dashboard/"),
        local_port,
        remote_port,
    })
}
