//! [`Connection`]: one open connection to one host's Docker, over one SSH
//! session (or the local socket), with its [`ConnectOptions`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::Docker;

use super::tunnel::{self, PinMode, SshTarget, Tunnel};
use super::{HostError, HostTarget, docker, process};
use crate::secrets::askpass::AskpassEnv;
use crate::store::Store;

/// How connections are made and watched.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Where each connection makes its private 0700 directory (control
    /// socket, forwarded Docker socket, known_hosts). Created 0700 when
    /// missing. Keep the path short (at most 47 bytes): Unix socket paths
    /// are limited, e.g. `$XDG_RUNTIME_DIR/rdesk`.
    pub runtime_dir: PathBuf,
    /// ssh's `ConnectTimeout`; also bounds the port forward request.
    pub connect_timeout: Duration,
    /// ssh's `ServerAliveInterval`: a dead link ends the master after
    /// three unanswered probes.
    pub server_alive_interval: Duration,
    /// How long Docker may take to answer a ping or a version request.
    pub docker_timeout: Duration,
    /// Bound of one health check ([`Connection::check`]).
    pub check_timeout: Duration,
    /// Whether [`Connection::open`] fails when Docker does not answer on an
    /// SSH host. `false` keeps the session for bootstrapping a VPS without
    /// Docker yet; see [`Connection::docker_ready`].
    pub require_docker: bool,
    /// How often the supervisor checks an open connection.
    pub health_interval: Duration,
    /// The supervisor's first delay before re-opening; doubled per failed
    /// attempt up to `backoff_max`.
    pub backoff_initial: Duration,
    /// The longest delay between two attempts.
    pub backoff_max: Duration,
    /// Set for a host whose SSH password or key passphrase is kept in the
    /// keyring: ssh asks `rdesk-askpass` for it. `None`: ssh never prompts.
    pub askpass: Option<AskpassEnv>,
}

impl ConnectOptions {
    /// Defaults: connect 10 s, keep-alive 15 s, Docker 10 s, check 5 s,
    /// health every 10 s, backoff 1 s doubling to 60 s.
    pub fn new(runtime_dir: impl Into<PathBuf>) -> ConnectOptions {
        ConnectOptions {
            runtime_dir: runtime_dir.into(),
            connect_timeout: Duration::from_secs(10),
            server_alive_interval: Duration::from_secs(15),
            docker_timeout: Duration::from_secs(10),
            check_timeout: Duration::from_secs(5),
            require_docker: true,
            health_interval: Duration::from_secs(10),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            askpass: None,
        }
    }

    /// The delay before re-open attempt `attempt` (1-based): deterministic,
    /// doubling, capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.backoff_initial
            .saturating_mul(factor)
            .min(self.backoff_max)
    }
}

/// An open connection to one host's Docker: for an SSH host, one
/// multiplexed session with Docker's socket forwarded to a Unix socket in a
/// private directory; for the local host, the local socket.
///
/// Close it with [`Connection::close`]. Dropping it also exits the master
/// (openssh runs `ssh -O exit`, blocking briefly) and removes the private
/// directory, but without checking that the master is gone.
#[derive(Debug)]
pub struct Connection {
    name: String,
    target: HostTarget,
    docker: Docker,
    docker_ready: bool,
    docker_socket: PathBuf,
    tunnel: Option<Tunnel>,
}

impl Connection {
    /// Opens the connection to host `name` and pings its Docker.
    ///
    /// For an SSH target the host key must match the one pinned in `store`;
    /// with no pin, the key the server shows is accepted and pinned (first
    /// contact). A different key fails with [`HostError::HostKeyChanged`]
    /// and leaves nothing behind. The host must be in `store` for its first
    /// key to be pinned.
    pub async fn open(
        name: &str,
        target: HostTarget,
        options: &ConnectOptions,
        store: &Store,
    ) -> Result<Connection, HostError> {
        Self::open_pinning(name, target, options, store, PinMode::Store).await
    }

    /// Opens the connection accepting a new host key whose fingerprint is
    /// `expected_fingerprint` (`SHA256:...`), and pins it in place of the
    /// old one: the deliberate answer to [`HostError::HostKeyChanged`] once
    /// the user has checked the new fingerprint. Any other key fails with
    /// `HostKeyChanged` and the old pin stays.
    pub async fn repin(
        name: &str,
        target: HostTarget,
        options: &ConnectOptions,
        store: &Store,
        expected_fingerprint: &str,
    ) -> Result<Connection, HostError> {
        let mode = PinMode::Repin {
            expected: expected_fingerprint,
        };
        Self::open_pinning(name, target, options, store, mode).await
    }

    async fn open_pinning(
        name: &str,
        target: HostTarget,
        options: &ConnectOptions,
        store: &Store,
        mode: PinMode<'_>,
    ) -> Result<Connection, HostError> {
        match &target {
            HostTarget::Local { socket } => {
                probe_local_socket(name, socket, options.docker_timeout).await?;
                let docker = docker::connect(name, socket, options.docker_timeout).await?;
                Ok(Connection {
                    name: name.to_owned(),
                    docker_socket: socket.clone(),
                    target,
                    docker,
                    docker_ready: true,
                    tunnel: None,
                })
            }
            HostTarget::Ssh {
                destination,
                port,
                identity,
                remote_socket,
            } => {
                let ssh = SshTarget {
                    destination,
                    port: *port,
                    identity: identity.as_deref(),
                    remote_socket,
                };
                let tunnel = tunnel::open(name, ssh, options, store, mode).await?;
                let (docker, docker_ready) = match docker::connect(
                    name,
                    &tunnel.docker_socket,
                    options.docker_timeout,
                )
                .await
                {
                    Ok(docker) => (docker, true),
                    Err(e) => {
                        let e = tunnel.diagnose(name, e, options.check_timeout).await;
                        if options.require_docker {
                            if let Err(close) = tunnel.close(name).await {
                                tracing::warn!(host = name, error = %close, "closing after a failed open");
                            }
                            return Err(e);
                        }
                        tracing::warn!(host = name, error = %e, "connected without Docker");
                        match unchecked_client(&tunnel.docker_socket) {
                            Some(docker) => (docker, false),
                            None => {
                                let _ = tunnel.close(name).await;
                                return Err(e);
                            }
                        }
                    }
                };
                Ok(Connection {
                    name: name.to_owned(),
                    docker_socket: tunnel.docker_socket.clone(),
                    target,
                    docker,
                    docker_ready,
                    tunnel: Some(tunnel),
                })
            }
        }
    }

    /// The host's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where this connection leads.
    pub fn target(&self) -> &HostTarget {
        &self.target
    }

    /// A client of the host's Docker; clones share one transport.
    pub fn docker(&self) -> Docker {
        self.docker.clone()
    }

    /// Whether Docker answered when the connection opened. Only `false`
    /// with [`ConnectOptions::require_docker`] off; the client then has the
    /// default API version and its requests fail until Docker runs.
    pub fn docker_ready(&self) -> bool {
        self.docker_ready
    }

    /// The SSH session, for running commands on the host; `None` for the
    /// local host.
    pub fn session(&self) -> Option<&openssh::Session> {
        self.tunnel.as_ref().map(|t| &t.session)
    }

    /// The local Unix socket Docker is reached through: the forwarded one
    /// in the private directory, or the local daemon's.
    pub fn docker_socket(&self) -> &Path {
        &self.docker_socket
    }

    /// The ssh control socket of the master, for an SSH host.
    pub fn control_socket(&self) -> Option<&Path> {
        self.tunnel.as_ref().map(|t| t.control_socket.as_path())
    }

    /// The pid of the ssh master, as it said at open, for an SSH host.
    pub fn master_pid(&self) -> Option<u32> {
        self.tunnel.as_ref().and_then(|t| t.master_pid)
    }

    /// The pinned host key's fingerprint, `SHA256:...`, for an SSH host.
    pub fn host_key_fingerprint(&self) -> Option<&str> {
        self.tunnel.as_ref().map(|t| t.fingerprint.as_str())
    }

    /// The pinned known_hosts line, for an SSH host.
    pub fn host_key_line(&self) -> Option<&str> {
        self.tunnel.as_ref().map(|t| t.host_key_line.as_str())
    }

    /// Whether this open pinned the host key (first contact or re-pin), so
    /// the UI can show the fingerprint it just trusted.
    pub fn pinned_now(&self) -> bool {
        self.tunnel.as_ref().is_some_and(|t| t.pinned_now)
    }

    /// Whether the ssh master still runs, asked of the system, not of ssh:
    /// no process is started, so it costs nothing to ask before every use.
    /// Always `true` for the local socket.
    pub async fn master_alive(&self) -> bool {
        match &self.tunnel {
            None => true,
            Some(tunnel) => match tunnel.master_pid {
                Some(pid) => process::is_alive(pid).await,
                None => tunnel.control_socket.exists(),
            },
        }
    }

    /// Checks, within `timeout` in all, that the ssh master runs
    /// ([`HostError::Disconnected`] if not) and that Docker answers a ping
    /// through it ([`HostError::DockerNotAnswering`] if not). A hung link
    /// costs `timeout`; no process is started.
    pub async fn check(&self, timeout: Duration) -> Result<(), HostError> {
        self.check_master().await?;
        docker::ping(&self.name, &self.docker, timeout).await
    }

    /// [`HostError::Disconnected`] when the ssh master is gone.
    pub async fn check_master(&self) -> Result<(), HostError> {
        if self.master_alive().await {
            Ok(())
        } else {
            Err(HostError::Disconnected {
                host: self.name.clone(),
                reason: "its ssh master is gone".to_owned(),
            })
        }
    }

    /// Closes the connection: drops the Docker client, exits the ssh master
    /// gently (`ssh -O exit`, which also ends the forward), makes sure the
    /// master process is gone (signalling it only if it lingers), and
    /// removes the private directory.
    pub async fn close(self) -> Result<(), HostError> {
        let Connection {
            name,
            docker,
            tunnel,
            ..
        } = self;
        drop(docker);
        match tunnel {
            Some(tunnel) => tunnel.close(&name).await,
            None => Ok(()),
        }
    }
}

/// A client on `socket` with bollard's default API version, not yet
/// checked against any daemon.
fn unchecked_client(socket: &Path) -> Option<Docker> {
    docker::client(socket.to_str()?, bollard::API_DEFAULT_VERSION).ok()
}

/// Connects to the local daemon's socket once, to tell a missing socket,
/// a permission problem and a stopped daemon apart.
async fn probe_local_socket(host: &str, socket: &Path, within: Duration) -> Result<(), HostError> {
    use std::io::ErrorKind;
    let path = socket.display().to_string();
    let result = tokio::time::timeout(within, tokio::net::UnixStream::connect(socket)).await;
    let err = match result {
        Ok(Ok(_stream)) => return Ok(()),
        Ok(Err(e)) => e,
        Err(_) => {
            return Err(HostError::DockerNotAnswering {
                host: host.to_owned(),
                reason: format!("its socket {path} did not accept a connection in time"),
            });
        }
    };
    Err(match err.kind() {
        ErrorKind::NotFound => HostError::SocketMissing {
            host: host.to_owned(),
            path,
        },
        ErrorKind::PermissionDenied => {
            let user_name = std::env::var("USER")
                .or_else(|_| std::env::var("LOGNAME"))
                .unwrap_or_else(|_| "$USER".to_owned());
            HostError::SocketDenied {
                host: host.to_owned(),
                path,
                user: "your user".to_owned(),
                user_name,
            }
        }
        ErrorKind::ConnectionRefused => HostError::DockerNotAnswering {
            host: host.to_owned(),
            reason: format!("nothing listens on its socket {path}; is dockerd running?"),
        },
        _ => HostError::DockerNotAnswering {
            host: host.to_owned(),
            reason: format!("its socket {path} could not be opened: {err}"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let mut o = ConnectOptions::new("/tmp/x");
        o.backoff_initial = Duration::from_millis(500);
        o.backoff_max = Duration::from_secs(5);
        let delays: Vec<_> = (1..=7).map(|a| o.backoff(a).as_millis()).collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 5000, 5000, 5000]);
        assert_eq!(o.backoff(0).as_millis(), 500);
        assert_eq!(o.backoff(u32::MAX), Duration::from_secs(5));
    }

    #[tokio::test]
    async fn a_missing_local_socket_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in_memory().await.unwrap();
        let target = HostTarget::Local {
            socket: dir.path().join("docker.sock"),
        };
        let err = Connection::open("laptop", target, &ConnectOptions::new(dir.path()), &store)
            .await
            .unwrap_err();
        assert!(matches!(err, HostError::SocketMissing { .. }), "{err:?}");
        assert!(err.to_string().contains("host \"laptop\""), "{err}");
    }

    #[tokio::test]
    async fn a_dead_local_socket_is_docker_not_answering() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docker.sock");
        // Bound, then closed: the file stays, nobody listens.
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        let store = Store::open_in_memory().await.unwrap();
        let target = HostTarget::Local { socket: path };
        let err = Connection::open("laptop", target, &ConnectOptions::new(dir.path()), &store)
            .await
            .unwrap_err();
        assert!(
            matches!(err, HostError::DockerNotAnswering { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("dockerd running"), "{err}");
    }

    #[tokio::test]
    async fn an_identity_file_that_does_not_exist_fails_before_ssh_runs() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in_memory().await.unwrap();
        let target = HostTarget::parse_ssh("root@127.0.0.1:1")
            .unwrap()
            .with_identity(dir.path().join("no_such_key"));
        let err = Connection::open("vps1", target, &ConnectOptions::new(dir.path()), &store)
            .await
            .unwrap_err();
        assert!(matches!(err, HostError::AuthFailed { .. }), "{err:?}");
        assert!(err.to_string().contains("no_such_key"), "{err}");
    }
}
