//! The one error of the engine's operations: every lower error with the
//! context of what was being done, readable as a sentence.

use crate::{host::HostError, intake::IntakeError, store::StoreError};

#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error("there is no host named `{0}`; `rdesk host list` shows the hosts")]
    UnknownHost(String),
    #[error(
        "the host name `{0}` is not valid: use 1 to 40 letters, digits, dots, dashes or underscores"
    )]
    InvalidHostName(String),
    #[error(
        "the host key of `{host}` is now {offered}, not the {confirmed} you confirmed; nothing was added (check the server's key before adding it again)"
    )]
    HostKeyNotConfirmed {
        host: String,
        confirmed: String,
        offered: String,
    },
    #[error(
        "a {kind} for host `{host}` goes only to a host key you confirmed, and none was: \
         nothing was sent or kept; confirm the key it offers on a terminal, or give \
         --fingerprint SHA256:... as `ssh-keygen -lf` prints it on the server"
    )]
    SecretNeedsConfirmedKey {
        host: String,
        kind: crate::secrets::SecretKind,
    },
    #[error(
        "the window deploys only what was dropped onto it or given when it was started, \
         and {} was neither: drop it onto the window",
        path.display()
    )]
    PathNotGranted { path: std::path::PathBuf },
    #[error("there is no app `{slug}` on host `{host}`")]
    UnknownApp { host: String, slug: String },
    #[error(transparent)]
    Spec(#[from] rdesk_spawner::SpecError),
    #[error(transparent)]
    Environment(#[from] crate::environment::EnvironmentError),
    #[error(transparent)]
    Git(#[from] crate::git::GitError),
    #[error("on host `{host}`: {source}")]
    Spawn {
        host: String,
        #[source]
        source: rdesk_spawner::SpawnError,
    },
    #[error("on host `{host}`: {source}")]
    Switch {
        host: String,
        #[source]
        source: crate::switch::SwitchError,
    },
    #[error(transparent)]
    Settings(#[from] rdesk_spawner::SettingsError),
    #[error(transparent)]
    Token(#[from] rdesk_spawner::TokenError),
    #[error(
        "app `{slug}` has no token `{id}`; `rdesk token list {slug}` shows its tokens (revoked ones are gone)"
    )]
    UnknownToken { slug: String, id: String },
    #[error(transparent)]
    AppSecret(#[from] crate::secrets::AppSecretError),
    #[error(transparent)]
    Host(#[from] HostError),
    #[error(transparent)]
    Cluster(#[from] crate::desk::ClusterError),
    #[error(transparent)]
    Intake(#[from] IntakeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bootstrap(Box<crate::bootstrap::BootstrapError>),
    #[error("calling `{function}` of app `{slug}` at {url}: {source}")]
    Call {
        slug: String,
        function: String,
        url: String,
        #[source]
        source: Box<rserve_qap::Error>,
    },
    #[error("the public URL `{0}` is not valid: give http://HOST[:PORT] or https://HOST[:PORT]")]
    PublicUrl(String),
    #[error("host `{0}` has no R version to build on: bootstrap it with an R version first")]
    NoRVersion(String),
    /// A chart or metrics request that cannot be answered as asked.
    #[error("{0}")]
    Chart(String),
    #[error("{0}")]
    InvalidHostChange(String),
    #[error("the alert settings: {0}")]
    AlertSettings(String),
    #[error("the keyring for host `{host}`: {source}")]
    Secret {
        host: String,
        #[source]
        source: crate::secrets::SecretError,
    },
    #[error(
        "host `{host}` refused the SSH login with the {kind} just given ({reason}); nothing \
         was kept: check it and add the host again"
    )]
    SecretRefusedOnAdd {
        host: String,
        kind: crate::secrets::SecretKind,
        reason: String,
    },
    #[error(
        "host `{0}` logs in with a secret from the keyring, but the helper `rdesk-askpass` \
         that hands it to ssh is not beside this program; reinstall Rserve Desk or set \
         RDESK_ASKPASS to its path"
    )]
    AskpassMissing(String),
    #[error("could not forward {what} through the SSH session of host `{host}`: {reason}")]
    Forward {
        host: String,
        what: String,
        reason: String,
    },
    #[error(
        "port {0} on this machine's 127.0.0.1 is in use: give another with --port, or none for a free one"
    )]
    PortInUse(u16),
    #[error(
        "app `{slug}` on host `{host}` is not running ({status}): start it with `rdesk start {slug} --host {host}` first"
    )]
    AppNotRunning {
        host: String,
        slug: String,
        status: String,
    },
    #[error(
        "the request to `{function}` of app `{slug}` ({}) is larger than the app accepts ({}, an eighth of its {memory_mb} MiB memory limit): send less, or raise the limit with `rdesk set {slug} --memory ...`",
        crate::error::mebibytes(*request_bytes),
        crate::error::mebibytes(*limit_bytes)
    )]
    RequestTooLarge {
        slug: String,
        function: String,
        request_bytes: u64,
        limit_bytes: u64,
        memory_mb: u32,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<crate::bootstrap::BootstrapError> for DeskError {
    fn from(e: crate::bootstrap::BootstrapError) -> Self {
        Self::Bootstrap(Box::new(e))
    }
}

impl DeskError {
    pub(crate) fn spawn(host: &str) -> impl FnOnce(rdesk_spawner::SpawnError) -> Self + '_ {
        move |source| match source {
            rdesk_spawner::SpawnError::NotFound(slug) => Self::UnknownApp {
                host: host.to_owned(),
                slug,
            },
            source => Self::Spawn {
                host: host.to_owned(),
                source,
            },
        }
    }
}

/// A size for people: `100 MiB`, `16.5 MiB`, `800 KiB`.
pub(crate) fn mebibytes(bytes: u64) -> String {
    let mib = bytes as f64 / f64::from(1u32 << 20);
    if mib >= 10.0 {
        format!("{mib:.0} MiB")
    } else if mib >= 1.0 {
        format!("{mib:.1} MiB")
    } else {
        format!("{} KiB", bytes.div_ceil(1024))
    }
}

/// An error and its causes as one sentence for people: each cause is added
/// unless the text so far already says it (some errors print their cause,
/// others only chain it). Both shells show errors through this.
pub fn sentence(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(current) = cause {
        let text = current.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        cause = current.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer says: {0}")]
    struct Repeats(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Chains(#[source] std::io::Error);

    #[test]
    fn causes_are_said_once() {
        let inner = || std::io::Error::other("disk full");
        assert_eq!(sentence(&Repeats(inner())), "outer says: disk full");
        assert_eq!(sentence(&Chains(inner())), "outer: disk full");
    }
}
