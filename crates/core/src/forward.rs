//! A TCP port on this machine's loopback forwarded through a host's SSH
//! session to an address the host reaches (its own loopback, a container on
//! its Docker network), until it is cancelled or the session ends: what
//! Traefik's dashboard and `rdesk tunnel` open.

use std::borrow::Cow;

use openssh::{ForwardType, Socket};

use crate::error::DeskError;
use crate::host::Connection;

/// One open forward: `127.0.0.1:local_port` here to `remote_host:remote_port`
/// as the host sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalForward {
    pub local_port: u16,
    pub remote_host: String,
    pub remote_port: u16,
}

impl LocalForward {
    /// Forwards `127.0.0.1:local_port` (a free port when `None`) through the
    /// session of `connection`, which must have one (a local host has no SSH
    /// session: its addresses are reachable as they are). `what` names the
    /// far end in errors ("the dashboard").
    pub(crate) async fn open(
        connection: &Connection,
        local_port: Option<u16>,
        remote_host: &str,
        remote_port: u16,
        what: &str,
    ) -> Result<LocalForward, DeskError> {
        let local_port = match local_port {
            Some(port) => check_free(port).await?,
            None => free_port().await?,
        };
        let forward = LocalForward {
            local_port,
            remote_host: remote_host.to_owned(),
            remote_port,
        };
        let Some(ssh) = connection.session() else {
            return Err(forward.error(connection, what, "the host has no SSH session".into()));
        };
        let (local, remote) = forward.sockets();
        ssh.request_port_forward(ForwardType::Local, local, remote)
            .await
            .map_err(|e| forward.error(connection, what, e.to_string()))?;
        Ok(forward)
    }

    /// Cancels the forward (connections through it end). A session that is
    /// gone took its forwards with it, so a failure is only logged.
    pub async fn close(&self, connection: &Connection) {
        let Some(ssh) = connection.session() else {
            return;
        };
        let (local, remote) = self.sockets();
        if let Err(e) = ssh
            .close_port_forward(ForwardType::Local, local, remote)
            .await
        {
            tracing::warn!(
                host = connection.name(),
                "cancelling the forward of 127.0.0.1:{}: {e}",
                self.local_port
            );
        }
    }

    fn sockets(&self) -> (Socket<'_>, Socket<'_>) {
        (
            Socket::TcpSocket {
                host: Cow::Borrowed("127.0.0.1"),
                port: self.local_port,
            },
            Socket::TcpSocket {
                host: Cow::Borrowed(self.remote_host.as_str()),
                port: self.remote_port,
            },
        )
    }

    fn error(&self, connection: &Connection, what: &str, reason: String) -> DeskError {
        DeskError::Forward {
            host: connection.name().to_owned(),
            what: format!(
                "127.0.0.1:{} to {what} at {}:{}",
                self.local_port, self.remote_host, self.remote_port
            ),
            reason,
        }
    }
}

/// `port` when nothing listens on it on this machine's loopback.
async fn check_free(port: u16) -> Result<u16, DeskError> {
    match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(_) => Ok(port),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(DeskError::PortInUse(port)),
        Err(source) => Err(DeskError::Io {
            what: format!("checking port {port} on this machine's 127.0.0.1"),
            source,
        }),
    }
}

/// A port nobody listens on right now on this machine's loopback.
async fn free_port() -> Result<u16, DeskError> {
    let addr = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .and_then(|l| l.local_addr())
        .map_err(|source| DeskError::Io {
            what: "finding a free port on this machine's 127.0.0.1".to_owned(),
            source,
        })?;
    Ok(addr.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_port_in_use_is_refused_with_its_number() {
        let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = check_free(port).await.unwrap_err();
        assert!(matches!(err, DeskError::PortInUse(p) if p == port), "{err}");
        drop(taken);
        assert_eq!(check_free(port).await.unwrap(), port);
    }
}
