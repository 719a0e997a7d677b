//! Traefik's dashboard, which the bootstrap publishes only on the VPS's
//! loopback: reached through the host's own SSH session by forwarding a
//! port on this machine's loopback to it, for as long as the session is open.

use std::borrow::Cow;

use openssh::{ForwardType, Socket};

use crate::desk::HostSession;
use crate::error::DeskError;

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
    let host = session.host().name.clone();
    let dashboard = |local_port| Dashboard {
        host: host.clone(),
        url: format!("http://127.0.0.1:{local_port}/dashboard/"),
        local_port,
        remote_port,
    };
    let Some(ssh) = session.connection().session() else {
        return Ok(dashboard(remote_port));
    };
    let local_port = match local_port {
        Some(port) => port,
        None => free_port().await?,
    };
    let forward_error = |reason: String| DeskError::Forward {
        host: host.clone(),
        what: format!("127.0.0.1:{local_port} to the dashboard on its 127.0.0.1:{remote_port}"),
        reason,
    };
    ssh.request_port_forward(
        ForwardType::Local,
        Socket::TcpSocket {
            host: Cow::Borrowed("127.0.0.1"),
            port: local_port,
        },
        Socket::TcpSocket {
            host: Cow::Borrowed("127.0.0.1"),
            port: remote_port,
        },
    )
    .await
    .map_err(|e| forward_error(e.to_string()))?;
    Ok(dashboard(local_port))
}

/// A port nobody listens on right now on this machine's loopback.
async fn free_port() -> Result<u16, DeskError> {
    let addr = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .and_then(|l| l.local_addr())
        .map_err(|source| DeskError::Io {
            what: "finding a free local port for the dashboard".to_owned(),
            source,
        })?;
    Ok(addr.port())
}
