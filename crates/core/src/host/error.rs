//! [`HostError`], the one error type of host connections, and the reading of
//! `ssh`'s own messages into it. Every message is a sentence naming the host
//! and, where the user can act, saying what to do. No message carries a
//! password, a passphrase or key material: `ssh` never prints them and this
//! module never reads a private key.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::store::StoreError;

/// Why a host connection could not be opened, checked or closed.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// What the user typed as an SSH target cannot be one.
    #[error("{input:?} is not a valid SSH target: it {reason}")]
    InvalidTarget { input: String, reason: String },

    /// A saved host whose settings cannot make a target.
    #[error("host {host:?} cannot be connected as saved: {reason}")]
    InvalidRecord { host: String, reason: String },

    /// The private directory of the connection could not be made, checked
    /// or removed.
    #[error(
        "the private directory for the connection to host {host:?} at {} is unusable: {reason}",
        path.display()
    )]
    RuntimeDir {
        host: String,
        path: PathBuf,
        reason: String,
    },

    /// The network did not lead to an SSH server: refused, timed out, no
    /// route, unknown name, or the server hung up before the handshake.
    #[error("host {host:?} is unreachable: {reason}")]
    Unreachable { host: String, reason: String },

    /// The SSH server refused every key offered.
    #[error(
        "host {host:?} refused the SSH login ({reason}); check the user name, and that one of \
         your keys (ssh-agent, ~/.ssh or the host's identity file) is in the server's \
         ~/.ssh/authorized_keys"
    )]
    AuthFailed { host: String, reason: String },

    /// The login with the password or key passphrase kept in the keyring
    /// for the host was refused.
    #[error(
        "host {host:?} refused the SSH login with the secret kept in the keyring for it \
         ({reason}); if the password or key passphrase changed, store the new one with \
         `rdesk host set-secret {host}`"
    )]
    SecretRefused { host: String, reason: String },

    /// ssh asked for the host's password or key passphrase and the keyring
    /// could not answer (none stored, locked, no Secret Service).
    #[error(
        "the SSH login to host {host:?} needs a secret from the keyring, which failed: {reason}"
    )]
    SecretUnavailable { host: String, reason: String },

    /// The server's host key is not the one pinned on first contact.
    #[error("{}", host_key_changed_message(host, pinned.as_deref(), offered.as_deref()))]
    HostKeyChanged {
        host: String,
        /// Fingerprint of the pinned key, when there is a pin.
        pinned: Option<String>,
        /// Fingerprint of the key the server offered, when ssh said it.
        offered: Option<String>,
    },

    /// A login that would send a password or key passphrase to a host key
    /// nobody confirmed (no pin to hold ssh to): refused before ssh runs.
    #[error(
        "host {host:?} logs in with a secret from the keyring, but no host key is pinned for it, \
         so the secret could reach any server; nothing was sent: confirm its key with \
         `rdesk host repin {host} --fingerprint SHA256:...` after checking it on the server"
    )]
    UnconfirmedKey { host: String },

    /// The key pinned in the store is not a known_hosts line.
    #[error(
        "the host key pinned for host {host:?} is unreadable ({reason}); re-pin the host key \
         deliberately after checking its fingerprint"
    )]
    PinUnreadable { host: String, reason: String },

    /// `ssh` failed in a way none of the other cases describes.
    #[error("ssh could not connect to host {host:?}: {reason}")]
    Ssh { host: String, reason: String },

    /// The master would not forward Docker's socket.
    #[error(
        "the SSH connection to host {host:?} would not forward Docker's socket {remote_socket}: {reason}"
    )]
    Forward {
        host: String,
        remote_socket: String,
        reason: String,
    },

    /// Docker's socket does not exist (on the VPS, or here for a local host).
    #[error(
        "Docker's socket {path} does not exist on host {host:?}; is Docker installed and running there?"
    )]
    SocketMissing { host: String, path: String },

    /// The user may not open Docker's socket.
    #[error(
        "{user} may not use Docker's socket {path} on host {host:?}; add {user} to the docker \
         group (sudo usermod -aG docker {user_name}), then reconnect"
    )]
    SocketDenied {
        host: String,
        path: String,
        /// `the user "deploy"`, or `your user` when the name is unknown.
        user: String,
        /// The bare user name, or `$USER`.
        user_name: String,
    },

    /// Docker's socket is there but the daemon did not answer in time or
    /// answered with an error.
    #[error("Docker on host {host:?} did not answer: {reason}")]
    DockerNotAnswering { host: String, reason: String },

    /// The SSH master is gone or does not answer.
    #[error("the SSH connection to host {host:?} is down: {reason}")]
    Disconnected { host: String, reason: String },

    /// The SSH master would not exit, even when told to.
    #[error("the SSH connection to host {host:?} did not close: {reason}")]
    Close { host: String, reason: String },

    /// The store could not read or write the host's pinned key.
    #[error("the local database could not {action} of host {host:?}")]
    Store {
        host: String,
        action: &'static str,
        source: StoreError,
    },
}

/// Which case of [`HostError`] happened, for a UI that branches on it
/// (e.g. offering to re-pin a changed key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HostErrorKind {
    InvalidTarget,
    Unreachable,
    AuthFailed,
    HostKeyChanged,
    SocketMissing,
    SocketDenied,
    DockerNotAnswering,
    Disconnected,
    Other,
}

impl HostError {
    /// The kind of this error.
    pub fn kind(&self) -> HostErrorKind {
        match self {
            HostError::InvalidTarget { .. } | HostError::InvalidRecord { .. } => {
                HostErrorKind::InvalidTarget
            }
            HostError::Unreachable { .. } => HostErrorKind::Unreachable,
            HostError::AuthFailed { .. }
            | HostError::SecretRefused { .. }
            | HostError::SecretUnavailable { .. } => HostErrorKind::AuthFailed,
            HostError::HostKeyChanged { .. }
            | HostError::PinUnreadable { .. }
            | HostError::UnconfirmedKey { .. } => HostErrorKind::HostKeyChanged,
            HostError::SocketMissing { .. } => HostErrorKind::SocketMissing,
            HostError::SocketDenied { .. } => HostErrorKind::SocketDenied,
            HostError::DockerNotAnswering { .. } => HostErrorKind::DockerNotAnswering,
            HostError::Disconnected { .. } => HostErrorKind::Disconnected,
            HostError::RuntimeDir { .. }
            | HostError::Ssh { .. }
            | HostError::Forward { .. }
            | HostError::Close { .. }
            | HostError::Store { .. } => HostErrorKind::Other,
        }
    }

    /// Whether trying again, unchanged, cannot help: the user has to act
    /// first (fix the target, the key, the pin or the docker group).
    /// Retrying a refused login would also look like an attack to fail2ban.
    pub fn needs_user(&self) -> bool {
        matches!(
            self,
            HostError::InvalidTarget { .. }
                | HostError::InvalidRecord { .. }
                | HostError::RuntimeDir { .. }
                | HostError::AuthFailed { .. }
                | HostError::SecretRefused { .. }
                | HostError::SecretUnavailable { .. }
                | HostError::HostKeyChanged { .. }
                | HostError::PinUnreadable { .. }
                | HostError::UnconfirmedKey { .. }
                | HostError::SocketDenied { .. }
        )
    }
}

fn host_key_changed_message(host: &str, pinned: Option<&str>, offered: Option<&str>) -> String {
    let pinned = match pinned {
        Some(fp) => format!("the one pinned on first contact ({fp})"),
        None => "the one already known for it".to_owned(),
    };
    let offered = match offered {
        Some(fp) => format!(" The server now offers {fp}."),
        None => String::new(),
    };
    format!(
        "the SSH host key of host {host:?} differs from {pinned}, so Rserve Desk did not \
         connect: someone may be intercepting the connection.{offered} If you know the \
         server's key changed (it was reinstalled, or its keys were replaced), compare the \
         new fingerprint with the one the server itself shows (ssh-keygen -lf \
         /etc/ssh/ssh_host_ed25519_key.pub on its console), then re-pin the host key \
         deliberately."
    )
}

/// A timeout as words, e.g. `5 s` or `250 ms`.
pub(crate) fn human(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// What an openssh error says at its root: for a failed connection, what
/// `ssh` wrote to its log; else the innermost error's message.
pub(crate) fn openssh_text(err: &openssh::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        text = s.to_string();
        source = s.source();
    }
    text
}

/// The line of `ssh`'s output that says what went wrong: the last one that
/// is not a banner, a warning about adding a key, or blank.
pub(crate) fn ssh_summary(output: &str) -> String {
    output
        .lines()
        .map(str::trim)
        .map(|l| l.strip_prefix("ssh: ").unwrap_or(l))
        .rfind(|l| {
            !l.is_empty()
                && !l.starts_with('@')
                && !l.starts_with("Warning: Permanently added")
                && !l.starts_with("debug")
        })
        .unwrap_or("ssh gave no reason")
        .trim_end_matches('.')
        .to_owned()
}

/// What `rdesk-askpass` said on failing, from ssh's log.
fn askpass_complaint(text: &str) -> Option<&str> {
    text.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("rdesk-askpass: "))
}

/// Turns a failed master launch into the matching [`HostError`]. `pinned`
/// is the fingerprint of the key pinned for the host, if any; `askpass`
/// says whether ssh could ask the keyring for a secret.
pub(crate) fn classify_connect_failure(
    host: &str,
    pinned: Option<&str>,
    text: &str,
    askpass: bool,
) -> HostError {
    let host = host.to_owned();
    let lower = text.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
    if has(&[
        "remote host identification has changed",
        "host key verification failed",
        "you have requested strict checking",
    ]) {
        return HostError::HostKeyChanged {
            host,
            pinned: pinned.map(str::to_owned),
            offered: super::known_hosts::offered_fingerprint(text),
        };
    }
    let reason = ssh_summary(text);
    if has(&[
        "permission denied (",
        "too many authentication failures",
        "no more authentication methods",
    ]) {
        return match (askpass, askpass_complaint(text)) {
            (true, Some(complaint)) => HostError::SecretUnavailable {
                host,
                reason: complaint.trim_end_matches('.').to_owned(),
            },
            (true, None) => HostError::SecretRefused { host, reason },
            (false, _) => HostError::AuthFailed { host, reason },
        };
    }
    if has(&[
        "connection refused",
        "timed out",
        "could not resolve hostname",
        "name or service not known",
        "temporary failure in name resolution",
        "no route to host",
        "network is unreachable",
        "host is down",
        "kex_exchange_identification",
        "connection closed by",
        "connection reset",
    ]) {
        return HostError::Unreachable { host, reason };
    }
    if has(&["no such file or directory (os error 2)"]) {
        return HostError::Ssh {
            host,
            reason: "the ssh program did not run; is OpenSSH's client installed and on PATH?"
                .to_owned(),
        };
    }
    HostError::Ssh { host, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHANGED: &str = "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
Someone could be eavesdropping on you right now (man-in-the-middle attack)!
It is also possible that a host key has just been changed.
The fingerprint for the ED25519 key sent by the remote host is
SHA256:+EXy+r4bFTEyaDlAGxtsfAQy+Hw2dIvDWpZe9An4fxM.
Please contact your system administrator.
Add correct host key in /tmp/rdx.bdCI/kh to get rid of this message.
Offending ED25519 key in /tmp/rdx.bdCI/kh:1
  remove with:
  ssh-keygen -f \"/tmp/rdx.bdCI/kh\" -R \"[127.0.0.1]:2222\"
Host key for [127.0.0.1]:2222 has changed and you have requested strict checking.
Host key verification failed.";

    #[test]
    fn a_changed_key_names_both_fingerprints_and_how_to_re_pin() {
        let err = classify_connect_failure("vps1", Some("SHA256:pinnedpinned"), CHANGED, false);
        match &err {
            HostError::HostKeyChanged {
                host,
                pinned,
                offered,
            } => {
                assert_eq!(host, "vps1");
                assert_eq!(pinned.as_deref(), Some("SHA256:pinnedpinned"));
                assert_eq!(
                    offered.as_deref(),
                    Some("SHA256:+EXy+r4bFTEyaDlAGxtsfAQy+Hw2dIvDWpZe9An4fxM")
                );
            }
            other => panic!("{other:?}"),
        }
        let text = err.to_string();
        assert!(text.contains("host \"vps1\""), "{text}");
        assert!(
            text.contains("pinned on first contact (SHA256:pinnedpinned)"),
            "{text}"
        );
        assert!(text.contains("re-pin"), "{text}");
        assert!(text.contains("SHA256:+EXy"), "{text}");
        assert_eq!(err.kind(), HostErrorKind::HostKeyChanged);
        assert!(err.needs_user());
    }

    #[test]
    fn reads_ssh_failures_into_cases() {
        let refused = classify_connect_failure(
            "vps1",
            None,
            "ssh: connect to host 127.0.0.1 port 2299: Connection refused",
            false,
        );
        assert!(
            matches!(&refused, HostError::Unreachable { .. }),
            "{refused:?}"
        );
        assert_eq!(
            refused.to_string(),
            "host \"vps1\" is unreachable: connect to host 127.0.0.1 port 2299: Connection refused"
        );
        assert!(!refused.needs_user());

        let denied = classify_connect_failure(
            "vps1",
            None,
            "Warning: Permanently added '[127.0.0.1]:2222' (ED25519) to the list of known hosts.\n\
             nobody@127.0.0.1: Permission denied (publickey).",
            false,
        );
        assert!(
            matches!(&denied, HostError::AuthFailed { .. }),
            "{denied:?}"
        );
        assert!(
            denied.to_string().contains("Permission denied (publickey)"),
            "{denied}"
        );
        assert!(denied.needs_user());

        for text in [
            "ssh: connect to host 10.1.1.1 port 22: Connection timed out",
            "ssh: Could not resolve hostname nope.invalid: Name or service not known",
            "kex_exchange_identification: read: Connection reset by peer",
            "ssh: connect to host 10.1.1.1 port 22: No route to host",
        ] {
            let err = classify_connect_failure("vps1", None, text, false);
            assert!(
                matches!(err, HostError::Unreachable { .. }),
                "{text}: {err:?}"
            );
        }

        let other = classify_connect_failure("vps1", None, "Bad configuration option: foo", false);
        assert!(matches!(other, HostError::Ssh { .. }), "{other:?}");
    }

    #[test]
    fn keyring_logins_say_which_side_failed() {
        let refused = "Permission denied, please try again.\n\
                       pw@127.0.0.1: Permission denied (publickey,password).";
        let err = classify_connect_failure("vps1", None, refused, true);
        assert_eq!(
            err.to_string(),
            "host \"vps1\" refused the SSH login with the secret kept in the keyring for it \
             (pw@127.0.0.1: Permission denied (publickey,password)); if the password or key \
             passphrase changed, store the new one with `rdesk host set-secret vps1`"
        );
        let missing = "rdesk-askpass: no SSH password is stored for host `vps1`; store one\n\
                       pw@127.0.0.1: Permission denied (publickey,password).";
        let err = classify_connect_failure("vps1", None, missing, true);
        assert!(
            matches!(&err, HostError::SecretUnavailable { reason, .. }
                if reason == "no SSH password is stored for host `vps1`; store one"),
            "{err:?}"
        );
        assert!(err.needs_user());
        assert_eq!(err.kind(), HostErrorKind::AuthFailed);
    }

    #[test]
    fn summary_takes_the_last_meaningful_line() {
        assert_eq!(ssh_summary(""), "ssh gave no reason");
        assert_eq!(
            ssh_summary(
                "Warning: Permanently added 'x' (ED25519) to the list of known hosts.\n\nssh: boom.\n"
            ),
            "boom"
        );
    }

    #[test]
    fn socket_denied_says_how_to_fix_it() {
        let err = HostError::SocketDenied {
            host: "vps1".into(),
            path: "/var/run/docker.sock".into(),
            user: "the user \"deploy\"".into(),
            user_name: "deploy".into(),
        };
        assert_eq!(
            err.to_string(),
            "the user \"deploy\" may not use Docker's socket /var/run/docker.sock on host \"vps1\"; \
             add the user \"deploy\" to the docker group (sudo usermod -aG docker deploy), then reconnect"
        );
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_secs(5)), "5 s");
        assert_eq!(human(Duration::from_millis(250)), "250 ms");
    }
}
