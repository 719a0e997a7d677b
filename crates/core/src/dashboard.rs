//! Traefik's dashboard, which the bootstrap publishes only on the VPS's
//! loopback: reached through the host's own SSH session by forwarding a
//! port on this machine's loopback to it, for as long as the session is open.

use crate::desk::HostSession;
use crate::error::DeskError;
use crate::forward::LocalForward;

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
/// `127.0.0.1:remote_port` on the host. A local host needs no forward.
pub async fn open(
    session: &HostSession,
    local_port: Option<u16>,
    remote_port: u16,
) -> Result<Dashboard, DeskError> {
    let connection = session.connection();
    let local_port = match connection.session() {
        None => remote_port,
        Some(_) => {
            LocalForward::open(
                connection,
                local_port,
                "127.0.0.1",
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
