//! The SSH side of a connection: one private 0700 directory per connection
//! holding the host's own known_hosts file, the ssh control socket and the
//! forwarded Docker socket; one multiplexed `openssh` session (the system
//! `ssh`, so `~/.ssh/config`, the ssh-agent and identity files work as
//! usual); host key pinning against the store; the forward of the remote
//! Docker socket to a local Unix socket through that same session (never a
//! TCP port); and, when Docker does not answer through it, asking the host
//! why. Closing exits the master gently and then makes sure it is gone.

use std::borrow::Cow;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use openssh::{ForwardType, Session, Socket};
use tempfile::TempDir;

use super::error::{classify_connect_failure, human, openssh_text};
use super::known_hosts::{KeyLine, first_key_line};
use super::master::{self, MasterSpec};
use super::{ConnectOptions, HostError, keyscan, process};
use crate::store::Store;

/// Unix socket paths are at most 104 bytes on macOS (108 on Linux). The
/// longest one here is ssh's temporary control socket,
/// `<runtime_dir>/rdXXXXXX/master.<16 chars>`, which is 33 bytes longer
/// than the runtime directory.
pub(crate) const MAX_RUNTIME_DIR_LEN: usize = 103 - 33;

/// How long `ssh -O exit` may take before the master is signalled.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Which key the session must present.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PinMode<'a> {
    /// The store's pin; with none, accept the first key and pin it.
    Store,
    /// Ignore the store's pin, accept a key whose fingerprint is this one
    /// and pin it in place of the old. The key is learned first without
    /// logging in ([`keyscan`]), so the login itself is held to it: a
    /// password never goes to a key that was not the expected one.
    Repin { expected: &'a str },
}

/// An open SSH session with Docker's socket forwarded.
#[derive(Debug)]
pub(crate) struct Tunnel {
    // Dropped before `dir`: its Drop runs `ssh -O exit` on the socket there.
    pub session: Session,
    /// Keeps the master alive exactly as long as this process.
    pub lease: Option<master::Lease>,
    pub control_socket: PathBuf,
    pub master_pid: Option<u32>,
    pub docker_socket: PathBuf,
    pub remote_socket: String,
    pub host_key_line: String,
    pub fingerprint: String,
    pub pinned_now: bool,
    pub dir: TempDir,
}

/// The SSH settings of a target, borrowed.
pub(crate) struct SshTarget<'a> {
    pub destination: &'a str,
    pub port: Option<u16>,
    pub identity: Option<&'a Path>,
    pub remote_socket: &'a str,
}

pub(crate) async fn open(
    host: &str,
    target: SshTarget<'_>,
    options: &ConnectOptions,
    store: &Store,
    mode: PinMode<'_>,
) -> Result<Tunnel, HostError> {
    validate_remote_socket(host, target.remote_socket)?;
    if let Some(identity) = target.identity
        && !identity.is_file()
    {
        return Err(HostError::AuthFailed {
            host: host.to_owned(),
            reason: format!("its identity file {} does not exist", identity.display()),
        });
    }

    let pinned_line = match mode {
        PinMode::Store => store
            .pinned_host_key(host)
            .await
            .map_err(|source| HostError::Store {
                host: host.to_owned(),
                action: "read the pinned host key",
                source,
            })?,
        PinMode::Repin { expected } => Some(expected_key(host, &target, options, expected).await?),
    };
    let pinned = match &pinned_line {
        Some(line) => Some(
            KeyLine::parse(line).map_err(|reason| HostError::PinUnreadable {
                host: host.to_owned(),
                reason: reason.to_owned(),
            })?,
        ),
        None => None,
    };
    let pinned_fp = pinned.as_ref().map(KeyLine::fingerprint);
    // Trust on first use only for key authentication: a secret from the
    // keyring goes only to a key held in our known_hosts file.
    if pinned.is_none() && options.askpass.is_some() {
        return Err(HostError::UnconfirmedKey {
            host: host.to_owned(),
        });
    }

    let dir = private_dir(host, &options.runtime_dir)?;
    let known_hosts = dir.path().join("known_hosts");
    let contents = pinned
        .as_ref()
        .map(KeyLine::pin_file_line)
        .unwrap_or_default();
    write_private(&known_hosts, &contents).map_err(|e| HostError::RuntimeDir {
        host: host.to_owned(),
        path: dir.path().to_path_buf(),
        reason: format!("could not write its known_hosts file: {e}"),
    })?;

    tracing::info!(
        host,
        destination = target.destination,
        askpass = options.askpass.is_some(),
        "opening the SSH session"
    );
    let spec = MasterSpec {
        destination: target.destination,
        port: target.port,
        identity: target.identity,
        known_hosts: &known_hosts,
        // A pin must match exactly; without one, accept-new: ssh adds the
        // key it sees to our file, and we pin that.
        strict: pinned.is_some(),
        connect_timeout: options.connect_timeout,
        server_alive_interval: options.server_alive_interval,
        askpass: options.askpass.as_ref(),
    };
    let session = master::launch(&spec, dir.path()).await.map_err(|said| {
        classify_connect_failure(host, pinned_fp.as_deref(), &said, options.askpass.is_some())
    })?;
    let control_socket = session.control_socket().to_path_buf();
    // From here on, `abandon` closes the session on every error path.

    let (host_key_line, fingerprint, pinned_now) = match (mode, pinned_line, pinned_fp) {
        (PinMode::Store, Some(line), Some(fp)) => (line, fp, false),
        (PinMode::Repin { .. }, Some(line), Some(fp)) => (line, fp, true),
        _ => match accepted_key(host, &known_hosts) {
            Ok((line, fp)) => (line, fp, true),
            Err(e) => {
                abandon(session).await;
                return Err(e);
            }
        },
    };
    if pinned_now {
        if let Err(source) = store.pin_host_key(host, &host_key_line).await {
            abandon(session).await;
            return Err(HostError::Store {
                host: host.to_owned(),
                action: "pin the host key",
                source,
            });
        }
        tracing::info!(host, fingerprint, "pinned the host key");
    }

    let master_pid = match process::control_check(&control_socket, options.check_timeout).await {
        Ok(pid) => pid,
        Err(reason) => {
            abandon(session).await;
            return Err(HostError::Disconnected {
                host: host.to_owned(),
                reason,
            });
        }
    };

    let docker_socket = dir.path().join("docker.sock");
    let forward = tokio::time::timeout(
        options.connect_timeout,
        session.request_port_forward(
            ForwardType::Local,
            Socket::UnixSocket {
                path: Cow::Borrowed(docker_socket.as_path()),
            },
            Socket::UnixSocket {
                path: Cow::Borrowed(Path::new(target.remote_socket)),
            },
        ),
    )
    .await;
    let forward_error = match forward {
        Ok(Ok(())) if docker_socket.exists() => None,
        Ok(Ok(())) => Some("ssh said yes but made no local socket".to_owned()),
        Ok(Err(e)) => Some(openssh_text(&e)),
        Err(_) => Some(format!(
            "no answer within {}",
            human(options.connect_timeout)
        )),
    };
    if let Some(reason) = forward_error {
        abandon(session).await;
        return Err(HostError::Forward {
            host: host.to_owned(),
            remote_socket: target.remote_socket.to_owned(),
            reason,
        });
    }
    tracing::info!(
        host,
        master_pid,
        "SSH session open, Docker's socket forwarded"
    );
    let lease = master::Lease::take(&control_socket, target.destination)
        .inspect_err(|e| {
            tracing::warn!(
                host,
                "no lease on the SSH master ({e}): it ends {} s after its last use",
                master::LINGER.as_secs()
            )
        })
        .ok();

    Ok(Tunnel {
        session,
        lease,
        control_socket,
        master_pid,
        docker_socket,
        remote_socket: target.remote_socket.to_owned(),
        host_key_line,
        fingerprint,
        pinned_now,
        dir,
    })
}

/// The key ssh accepted into an empty known_hosts file (first contact).
fn accepted_key(host: &str, known_hosts: &Path) -> Result<(String, String), HostError> {
    let contents = fs::read_to_string(known_hosts).unwrap_or_default();
    let line = first_key_line(&contents).ok_or_else(|| HostError::Ssh {
        host: host.to_owned(),
        reason: "ssh connected without recording the host key, so it cannot be pinned; \
                 is the key already in /etc/ssh/ssh_known_hosts, or does ~/.ssh/config set \
                 KnownHostsCommand for this host?"
            .to_owned(),
    })?;
    let fingerprint = KeyLine::parse(line)
        .map(|k| k.fingerprint())
        .map_err(|reason| HostError::PinUnreadable {
            host: host.to_owned(),
            reason: reason.to_owned(),
        })?;
    Ok((line.to_owned(), fingerprint))
}

/// The key the host offers, learned without logging in, when its
/// fingerprint is `expected`; any other key is [`HostError::HostKeyChanged`].
async fn expected_key(
    host: &str,
    target: &SshTarget<'_>,
    options: &ConnectOptions,
    expected: &str,
) -> Result<String, HostError> {
    let line = keyscan::scan(
        host,
        target.destination,
        target.port,
        &options.runtime_dir,
        options.connect_timeout,
    )
    .await?;
    let offered = KeyLine::parse(&line)
        .map(|k| k.fingerprint())
        .map_err(|reason| HostError::PinUnreadable {
            host: host.to_owned(),
            reason: reason.to_owned(),
        })?;
    if offered == expected.trim() {
        Ok(line)
    } else {
        Err(HostError::HostKeyChanged {
            host: host.to_owned(),
            pinned: Some(expected.trim().to_owned()),
            offered: Some(offered),
        })
    }
}

impl Tunnel {
    /// When Docker did not answer through the tunnel: asks the host whether
    /// its socket exists and is usable, and returns the more precise error,
    /// or `docker_error` when the socket looks fine.
    pub(crate) async fn diagnose(
        &self,
        host: &str,
        docker_error: HostError,
        within: Duration,
    ) -> HostError {
        const SCRIPT: &str = r#"if [ ! -e "$1" ]; then echo missing; elif [ -r "$1" ] && [ -w "$1" ]; then echo usable; else echo denied; fi; id -un"#;
        let mut cmd = self.session.command("sh");
        cmd.arg("-c")
            .arg(SCRIPT)
            .arg("rdesk-probe")
            .arg(&self.remote_socket);
        let output = match tokio::time::timeout(within, cmd.output()).await {
            Ok(Ok(output)) if output.status.success() => output,
            _ => return docker_error,
        };
        let stdout = String::from_utf8_lossy(&output.stdout);
        let mut lines = stdout.lines().map(str::trim);
        let verdict = lines.next().unwrap_or_default();
        let user_name = lines.next().unwrap_or_default().to_owned();
        match verdict {
            "missing" => HostError::SocketMissing {
                host: host.to_owned(),
                path: self.remote_socket.clone(),
            },
            "denied" => HostError::SocketDenied {
                host: host.to_owned(),
                path: self.remote_socket.clone(),
                user: if user_name.is_empty() {
                    "the SSH user".to_owned()
                } else {
                    format!("the user {user_name:?}")
                },
                user_name: if user_name.is_empty() {
                    "$USER".to_owned()
                } else {
                    user_name
                },
            },
            _ => match docker_error {
                HostError::DockerNotAnswering { host, reason } => HostError::DockerNotAnswering {
                    host,
                    reason: format!(
                        "{reason} (its socket {} is there, so dockerd may be stopped, or sshd \
                         may forbid forwarding Unix sockets: AllowStreamLocalForwarding)",
                        self.remote_socket
                    ),
                },
                other => other,
            },
        }
    }

    /// Exits the master gently (`ssh -O exit`), makes sure its process and
    /// the lease's are gone, and removes the private directory.
    pub(crate) async fn close(self, host: &str) -> Result<(), HostError> {
        let Tunnel {
            session,
            lease,
            master_pid,
            dir,
            ..
        } = self;
        match tokio::time::timeout(CLOSE_TIMEOUT, session.close()).await {
            Ok(Ok(())) => {}
            // Already gone (killed, or the link died): nothing to exit.
            Ok(Err(e)) => tracing::debug!(host, error = %openssh_text(&e), "ssh -O exit failed"),
            Err(_) => tracing::warn!(host, "ssh -O exit did not answer in time"),
        }
        if let Some(lease) = lease {
            lease.end().await;
        }
        let gone = match master_pid {
            Some(pid) => process::ensure_gone(pid, Duration::from_secs(3)).await,
            None => Ok(()),
        };
        let path = dir.path().to_path_buf();
        let removed = dir.close();
        gone.map_err(|reason| HostError::Close {
            host: host.to_owned(),
            reason,
        })?;
        removed.map_err(|e| HostError::RuntimeDir {
            host: host.to_owned(),
            path,
            reason: format!("could not remove it: {e}"),
        })?;
        tracing::info!(host, "SSH session closed");
        Ok(())
    }
}

/// Closes a session that will not be used, within a bound.
async fn abandon(session: Session) {
    if tokio::time::timeout(CLOSE_TIMEOUT, session.close())
        .await
        .is_err()
    {
        tracing::warn!("ssh -O exit did not answer in time while giving up a session");
    }
}

/// A fresh 0700 directory inside `runtime_dir` (created 0700 if missing),
/// removed when the returned handle drops.
pub(crate) fn private_dir(host: &str, runtime_dir: &Path) -> Result<TempDir, HostError> {
    let fail = |path: &Path, reason: String| HostError::RuntimeDir {
        host: host.to_owned(),
        path: path.to_path_buf(),
        reason,
    };
    let runtime_dir = std::path::absolute(runtime_dir)
        .map_err(|e| fail(runtime_dir, format!("its absolute path is unknown: {e}")))?;
    let Some(text) = runtime_dir.to_str() else {
        return Err(fail(&runtime_dir, "its path is not UTF-8".to_owned()));
    };
    if text.contains(':') {
        return Err(fail(
            &runtime_dir,
            "its path contains ':', which ssh cannot forward a socket to".to_owned(),
        ));
    }
    if text.len() > MAX_RUNTIME_DIR_LEN {
        return Err(fail(
            &runtime_dir,
            format!(
                "its path is {} bytes long, and the sockets inside would exceed the Unix \
                 limit; use a directory of at most {MAX_RUNTIME_DIR_LEN} bytes",
                text.len()
            ),
        ));
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&runtime_dir)
        .map_err(|e| fail(&runtime_dir, format!("could not create it: {e}")))?;
    let dir = tempfile::Builder::new()
        .prefix("rd")
        .rand_bytes(6)
        .permissions(fs::Permissions::from_mode(0o700))
        .tempdir_in(&runtime_dir)
        .map_err(|e| {
            fail(
                &runtime_dir,
                format!("could not create a directory in it: {e}"),
            )
        })?;
    let mode = fs::metadata(dir.path())
        .map_err(|e| fail(dir.path(), e.to_string()))?
        .permissions()
        .mode();
    if mode & 0o777 != 0o700 {
        return Err(fail(
            dir.path(),
            format!("it has mode {:o} instead of 700", mode & 0o777),
        ));
    }
    Ok(dir)
}

/// Creates `path` readable by its owner only and writes `contents`.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

/// The remote socket goes into `ssh -L local:remote`: an absolute path
/// without ':' or whitespace.
fn validate_remote_socket(host: &str, path: &str) -> Result<(), HostError> {
    let reason = if !path.starts_with('/') {
        Some("it is not an absolute path")
    } else if path.contains(':') {
        Some("it contains ':'")
    } else if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("it contains a space or a control character")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(HostError::InvalidRecord {
            host: host.to_owned(),
            reason: format!("Docker's remote socket path {path:?} is unusable: {reason}"),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_dirs_are_0700_and_removed_on_drop() {
        let base = tempfile::tempdir().unwrap();
        let runtime = base.path().join("run").join("rdesk");
        let dir = private_dir("vps1", &runtime).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(dir.path()), 0o700);
        assert_eq!(
            mode(&runtime),
            0o700,
            "a missing runtime dir is created 0700"
        );
        assert!(dir.path().starts_with(&runtime));
        let path = dir.path().to_path_buf();
        drop(dir);
        assert!(!path.exists());
    }

    #[test]
    fn private_dir_refuses_paths_sockets_cannot_live_in() {
        let long = PathBuf::from(format!("/tmp/{}", "x".repeat(MAX_RUNTIME_DIR_LEN)));
        let err = private_dir("vps1", &long).unwrap_err();
        assert!(matches!(err, HostError::RuntimeDir { .. }), "{err:?}");
        assert!(err.to_string().contains("at most 70 bytes"), "{err}");
        assert!(err.to_string().contains("\"vps1\""), "{err}");
        assert!(!long.exists());

        let err = private_dir("vps1", Path::new("/tmp/a:b")).unwrap_err();
        assert!(err.to_string().contains("':'"), "{err}");
    }

    #[test]
    fn the_known_hosts_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        write_private(&path, "* ssh-ed25519 AAAA\n").unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // Never follows or reuses an existing file.
        assert!(write_private(&path, "").is_err());
    }

    #[test]
    fn accepted_key_reads_what_ssh_added() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        let key = crate::host::known_hosts::tests::STANDIN_KEY;
        let line = format!("|1|salt=|hash= {key}");
        fs::write(&path, format!("{line}\n")).unwrap();

        let (got, fp) = accepted_key("vps1", &path).unwrap();
        assert_eq!(got, line);
        assert_eq!(fp, "SHA256:+EXy+r4bFTEyaDlAGxtsfAQy+Hw2dIvDWpZe9An4fxM");

        fs::write(&path, "").unwrap();
        let err = accepted_key("vps1", &path).unwrap_err();
        assert!(err.to_string().contains("without recording"), "{err}");
    }

    #[test]
    fn remote_socket_paths_are_checked() {
        assert!(validate_remote_socket("h", "/var/run/docker.sock").is_ok());
        assert!(validate_remote_socket("h", "/run/user/1000/docker.sock").is_ok());
        for bad in ["docker.sock", "/a:b", "/a b", "/a\nb", ""] {
            assert!(validate_remote_socket("h", bad).is_err(), "{bad:?}");
        }
    }
}
