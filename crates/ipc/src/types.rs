//! The arguments and results of the commands, as plain serde records (the UI
//! compiles them to wasm32).

use serde::{Deserialize, Serialize};

use crate::{Action, AppStatus, DeploymentAction, Outcome};

/// The arguments of a command that takes none (`{}` on the wire).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoArgs {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostView {
    pub name: String,
    /// `"ssh"` or `"local"`.
    pub kind: String,
    pub ssh_target: Option<String>,
    pub identity_file: Option<String>,
    pub public_url: String,
    /// Unix milliseconds.
    pub added_at: i64,
}

/// A change to how a host is reached; `None` keeps a value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeHostArgs {
    pub host: String,
    pub public_url: Option<String>,
    /// `""` goes back to the agent and `~/.ssh`.
    pub identity_file: Option<String>,
    /// As typed: a number from 1 to 65535.
    pub port: Option<String>,
}

/// A VPS over SSH when `ssh` is given, else this machine's Docker.
/// Its `Debug` never shows the password or passphrase.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddHostArgs {
    pub name: String,
    /// `user@host[:port]` or an `~/.ssh/config` alias.
    pub ssh: Option<String>,
    /// A private key file; else the agent's or `~/.ssh`'s keys.
    pub identity: Option<String>,
    pub public_url: Option<String>,
    /// The SSH password, kept in the OS keyring.
    pub password: Option<String>,
    /// The key file's passphrase, kept in the OS keyring.
    pub passphrase: Option<String>,
    /// The fingerprint of the host key the user confirmed (from `host_key`):
    /// only that key is accepted, before anything is sent to the host.
    pub host_key_fingerprint: Option<String>,
}

/// Where a host to be added is, to learn its key first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostKeyArgs {
    pub name: String,
    /// `user@host[:port]` or an `~/.ssh/config` alias; none for this machine's Docker.
    pub ssh: Option<String>,
}

impl std::fmt::Debug for AddHostArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("AddHostArgs")
            .field("name", &self.name)
            .field("ssh", &self.ssh)
            .field("identity", &self.identity)
            .field("public_url", &self.public_url)
            .field("password", &hidden(&self.password))
            .field("passphrase", &hidden(&self.passphrase))
            .field("host_key_fingerprint", &self.host_key_fingerprint)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddedHost {
    pub host: HostView,
    /// The host key pinned on first contact (`SHA256:...`), for the user to compare.
    pub host_key_fingerprint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostArgs {
    pub host: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppArgs {
    pub host: String,
    pub slug: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleArgs {
    pub host: String,
    pub slug: String,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppView {
    pub host: String,
    pub slug: String,
    pub status: AppStatus,
    pub r_version: String,
    /// `ocap` or `eval`.
    pub mode: String,
    pub packages: Vec<String>,
    pub repo: Option<String>,
    /// Where clients reach it (`ws://` or `wss://`).
    pub url: String,
    /// When this state was last seen on the host, Unix milliseconds.
    pub updated_at: i64,
}

/// A host's apps: read from the host just now (`live`), or from the cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppsList {
    pub host: String,
    pub apps: Vec<AppView>,
    pub live: bool,
    /// Why the host could not be reached, when that was tried and failed.
    pub offline_reason: Option<String>,
    /// The cluster the host is a worker of: its apps are listed there.
    pub worker_of: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathsArgs {
    pub paths: Vec<String>,
}

/// What dropped files would deploy as, to prefill the new-app form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropPreview {
    /// Made from the folder, archive or file name; the user may change it.
    pub slug: String,
    pub files: Vec<String>,
    /// Junk left out (`.git/`, `.Rhistory`, ...).
    pub skipped: Vec<String>,
    /// Found in `library()`, `require()`, `pkg::`, `DESCRIPTION` and `renv.lock`.
    pub packages: Vec<String>,
    pub total_bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployArgs {
    pub host: String,
    pub paths: Vec<String>,
    pub slug: Option<String>,
    pub r_version: Option<String>,
    /// Added to the detected ones.
    pub packages: Vec<String>,
    pub repo: Option<String>,
    pub mode: Option<String>,
    /// The containers' settings, as the app page's form takes them; `None`
    /// keeps the app's (or the default).
    pub memory: Option<String>,
    pub cpus: Option<String>,
    pub replicas: Option<String>,
    pub domain: Option<String>,
    /// `NAME=value`, added or replaced.
    pub env: Vec<String>,
    /// Secret variables, name and value: kept in the OS keyring and passed
    /// to the app; put back as they were when the deploy fails.
    #[serde(default)]
    pub secrets: Vec<(String, String)>,
    /// A git repository to clone on this workstation instead of `paths`.
    #[serde(default)]
    pub git: Option<GitSource>,
}

/// A git repository and what to check out: a branch, tag or commit (the
/// default branch when `None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitSource {
    pub url: String,
    pub reference: Option<String>,
}

/// Progress of a deploy, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DeployProgress {
    /// The files were read and checked.
    Received {
        files: Vec<String>,
        total_bytes: u64,
    },
    /// A step begins.
    Step { text: String },
    /// A line of the image build's output.
    BuildLog { text: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployResult {
    pub slug: String,
    pub url: String,
    pub r_version: String,
    pub packages: Vec<String>,
    pub files: Vec<String>,
    /// False when nothing changed and no image was built.
    pub built: bool,
    /// Whether the app answered at its URL before the deploy returned.
    pub answering: bool,
    pub duration_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentView {
    pub action: DeploymentAction,
    pub outcome: Outcome,
    pub message: Option<String>,
    pub code_hash: String,
    pub started_at: i64,
    pub duration_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusView {
    pub at: i64,
    pub status: AppStatus,
    pub detail: Option<String>,
}

/// Newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryView {
    pub deployments: Vec<DeploymentView>,
    pub status_events: Vec<StatusView>,
}

/// A picture of one metric over a range, as an SVG document: an app's
/// (`slug`), or the host's totals (no slug; `uptime` shows every app).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartArgs {
    pub host: String,
    pub slug: Option<String>,
    /// `cpu`, `memory`, `network`, `requests` or `uptime`.
    pub metric: String,
    /// How far back, e.g. `1h`, `24h`, `7d`.
    pub range: String,
    /// The reader's clock, in minutes ahead of UTC: the time axis is on it.
    pub utc_offset_min: i32,
}

/// A drawn chart: the SVG document (shown as an image, never as markup in
/// the page) and the same in words, its text alternative.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChartView {
    pub svg: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogsArgs {
    pub host: String,
    pub slug: String,
    /// How many of the last lines come first.
    pub tail: usize,
    /// Then new lines as they are written, until `stop_logs` for this app
    /// (or another follow of it) ends it.
    pub follow: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLineView {
    pub stderr: bool,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootstrapArgs {
    pub host: String,
    pub r_versions: Vec<String>,
    pub domain: Option<String>,
    pub email: Option<String>,
    pub http_port: Option<u16>,
    pub https_port: Option<u16>,
    /// Send the images the host cannot pull from this machine's Docker.
    pub send_images: bool,
    /// The Traefik image, when not the default (a mirror, a pinned build).
    pub traefik_image: Option<String>,
    /// What `rserve-base` builds on, when not `rocker/r-ver:<R>`.
    pub base_image: Option<String>,
}

/// One step's state as it changes: `started`, `done`, `skipped`, `failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootstrapStep {
    pub step: String,
    pub state: String,
    pub duration_ms: u64,
    pub output_tail: String,
    /// How many steps the run has, as far as known yet: the progress bar's end.
    pub planned: u32,
}

/// One past bootstrap of a host, newest first in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootstrapRunView {
    pub started_at: i64,
    pub duration_ms: i64,
    pub outcome: Outcome,
    /// Why it failed.
    pub message: Option<String>,
    /// Where each step ended.
    pub steps: Vec<BootstrapStep>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootstrapSummary {
    /// False when every step was already done.
    pub changed: bool,
    pub steps: Vec<BootstrapStep>,
}

/// How an app's containers run: what the app page shows and edits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppSettingsView {
    pub memory_mb: u32,
    /// Thousandths of a CPU.
    pub millicpus: u32,
    pub replicas: u8,
    pub domain: Option<String>,
    /// Plain variables, `(name, value)`.
    pub env: Vec<(String, String)>,
    /// Names of the secret variables passed (their values stay in the keyring).
    pub secrets: Vec<String>,
    /// On a cluster, the node each running replica is on (a node twice when
    /// it runs two); empty on a single host.
    #[serde(default)]
    pub nodes: Vec<String>,
}

/// A change of an app's container settings; `None` keeps a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetAppSettingsArgs {
    pub host: String,
    pub slug: String,
    /// `512m`, `2g`.
    pub memory: Option<String>,
    /// `0.5`, `2`.
    pub cpus: Option<String>,
    pub replicas: Option<String>,
    /// `""` removes the domain.
    pub domain: Option<String>,
    /// `NAME=value`, added or replaced.
    pub env: Vec<String>,
    /// Names of plain variables to drop.
    pub unset_env: Vec<String>,
}

/// What running the app's image with new settings did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchResult {
    pub slug: String,
    pub image: String,
    pub url: String,
    pub answering: bool,
    pub duration_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsView {
    pub launch_at_login: bool,
    /// Seconds one app's repeated problems stay quiet after a notification.
    pub alert_throttle_secs: u64,
    /// Where each alert is also posted as JSON; empty for none.
    pub webhook_url: String,
}

/// What a repair of an unusable cache did; the window restarts on the new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheRepairView {
    /// Where the unusable database file was moved (never deleted).
    pub moved_to: String,
    /// The hosts copied into the new database.
    pub hosts: Vec<String>,
    /// Why no host could be read from the old file, when none could.
    pub unreadable: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_stay_out_of_debug() {
        let args = AddHostArgs {
            name: "vps".into(),
            password: Some("hunter2".into()),
            ..AddHostArgs::default()
        };
        let shown = format!("{args:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("<redacted>"),
            "{shown}"
        );
    }

    #[test]
    fn progress_is_tagged() {
        let p = DeployProgress::Step {
            text: "building".into(),
        };
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            serde_json::json!({"kind": "step", "text": "building"})
        );
    }
}

/// Who may call an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessView {
    /// `token` or `public`.
    pub access: String,
    /// CIDRs callers must come from; empty: any.
    pub allow: Vec<String>,
    /// A complete rserve-js program that calls the app this way.
    pub rserve_js: String,
    /// The same through the `rdesk` command line.
    pub rdesk_call: String,
    /// An R program (RSclient) that calls the app through a tunnel.
    pub r_qap: String,
}

/// An open tunnel for R over QAP to an app: where R connects while it is
/// open, and the R program that calls the app through it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TunnelInfo {
    pub address: String,
    pub port: u16,
    pub r_qap: String,
}

/// A change of who may call an app (the same gated switch as other settings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetAccessArgs {
    pub host: String,
    pub slug: String,
    /// `token` or `public`; `None` keeps it.
    pub access: Option<String>,
    /// The new allow-list; `Some(vec![])` drops it, `None` keeps it.
    pub allow: Option<Vec<String>>,
}

/// One of an app's tokens as listed: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// 8 hex digits; what `revoke_token` takes.
    pub id: String,
    /// What the token starts with (`rdt_<id>_`).
    pub prefix: String,
    pub name: String,
    pub created_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateTokenArgs {
    pub host: String,
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenArgs {
    pub host: String,
    pub slug: String,
    /// The id or prefix of [`TokenInfo`].
    pub id: String,
}

/// A token just made: `token` is shown once and cannot be fetched again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTokenView {
    pub info: TokenInfo,
    pub token: String,
}
