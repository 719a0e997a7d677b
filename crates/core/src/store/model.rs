//! The plain records the store reads and writes. They carry no sqlx types
//! and serialize with serde, so they can cross IPC to the UI as they are.

use rdesk_spawner::{AppStatus, Origin};
use serde::{Deserialize, Serialize};

use super::action::{DeploymentAction, Outcome};

/// How Rserve Desk reaches a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HostKind {
    /// A VPS reached over one SSH session.
    Ssh,
    /// The workstation's own Docker daemon.
    Local,
}

impl HostKind {
    /// The name stored in the database and used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            HostKind::Ssh => "ssh",
            HostKind::Local => "local",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<HostKind> {
        match s {
            "ssh" => Some(HostKind::Ssh),
            "local" => Some(HostKind::Local),
            _ => None,
        }
    }
}

/// A host the user added. Holds no secret: only where a key file is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostRecord {
    /// Unique name chosen by the user.
    pub name: String,
    pub kind: HostKind,
    /// `user@host:port` or an `~/.ssh/config` alias; required for
    /// [`HostKind::Ssh`].
    pub ssh_target: Option<String>,
    /// Path of the private key file to use, if not the agent's.
    pub identity_file: Option<String>,
    /// Base URL under which the host's apps are served.
    pub public_url: String,
    /// Unix milliseconds.
    pub added_at: i64,
}

/// The cached state of one app on one host, as its container labels and
/// Docker last described it. Keyed by `(host, slug)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRecord {
    pub host: String,
    pub slug: String,
    pub app_id: String,
    pub r_version: String,
    /// `"ocap"` or `"eval"`.
    pub mode: String,
    /// R packages, in the order given.
    pub packages: Vec<String>,
    /// The CRAN-like repository the packages come from, if not the default.
    pub repo: Option<String>,
    pub code_hash: String,
    pub config_hash: String,
    pub image_id: Option<String>,
    pub container_id: Option<String>,
    /// Stored as its word (`running`, `oom-killed`, …).
    pub status: AppStatus,
    /// Unix milliseconds.
    pub updated_at: i64,
}

/// A deployment step to record; the store assigns its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDeployment {
    pub host: String,
    pub slug: String,
    pub app_id: String,
    pub action: DeploymentAction,
    pub code_hash: String,
    pub image_id: Option<String>,
    pub outcome: Outcome,
    /// Why it failed, or a short note.
    pub message: Option<String>,
    /// Unix milliseconds.
    pub started_at: i64,
    pub duration_ms: i64,
    /// The git commit a build's code came from, if it came from git.
    pub origin: Option<GitOrigin>,
}

/// Where a build's code came from in git.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitOrigin {
    /// Without credentials.
    pub url: String,
    /// The branch, tag or commit asked for.
    pub reference: String,
    pub commit: String,
}

impl From<&Origin> for GitOrigin {
    fn from(o: &Origin) -> Self {
        Self {
            url: o.url().to_owned(),
            reference: o.reference().to_owned(),
            commit: o.commit().to_owned(),
        }
    }
}

/// A recorded deployment step. Kept after its app is removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentRecord {
    pub id: i64,
    #[serde(flatten)]
    pub deployment: NewDeployment,
}

/// A change of an app's status, as recorded by
/// [`Store::record_status`](super::Store::record_status).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusEvent {
    pub id: i64,
    pub host: String,
    pub slug: String,
    /// Unix milliseconds.
    pub at: i64,
    pub status: AppStatus,
    /// E.g. an exit code or "OOM killed".
    pub detail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_kind_is_lowercase_in_json_and_in_the_database() {
        for kind in [HostKind::Ssh, HostKind::Local] {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(HostKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(HostKind::parse("SSH"), None);
    }
}
