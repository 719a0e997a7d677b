//! Fixtures shared by the store's unit tests.

use rdesk_spawner::AppStatus;

use super::Store;
use super::action::{DeploymentAction, Outcome};
use super::model::{AppRecord, HostKind, HostRecord, NewDeployment};

/// A fresh in-memory store.
pub(crate) async fn store() -> Store {
    Store::open_in_memory().await.unwrap()
}

/// An SSH host named `name`.
pub(crate) fn host(name: &str) -> HostRecord {
    HostRecord {
        name: name.to_owned(),
        kind: HostKind::Ssh,
        ssh_target: Some(format!("deploy@{name}.example:2222")),
        identity_file: Some("~/.ssh/id_ed25519".to_owned()),
        public_url: format!("https://{name}.example"),
        added_at: 1_700_000_000_000,
    }
}

/// A running app `slug` on `host`.
pub(crate) fn app(host: &str, slug: &str) -> AppRecord {
    AppRecord {
        host: host.to_owned(),
        slug: slug.to_owned(),
        app_id: format!("{host}-{slug}-id"),
        r_version: "4.2.2".to_owned(),
        mode: "ocap".to_owned(),
        packages: vec!["jsonlite".to_owned(), "Rcpp".to_owned()],
        repo: Some("https://cloud.r-project.org".to_owned()),
        code_hash: "c1".to_owned(),
        config_hash: "k1".to_owned(),
        image_id: Some("sha256:abc".to_owned()),
        container_id: Some("0123456789ab".to_owned()),
        status: AppStatus::Running,
        updated_at: 1_700_000_000_500,
    }
}

/// A successful build of `slug` on `host` started at `started_at`.
pub(crate) fn deployment(host: &str, slug: &str, started_at: i64) -> NewDeployment {
    NewDeployment {
        host: host.to_owned(),
        slug: slug.to_owned(),
        app_id: format!("{host}-{slug}-id"),
        action: DeploymentAction::Build,
        code_hash: "c1".to_owned(),
        image_id: Some("sha256:abc".to_owned()),
        outcome: Outcome::Ok,
        message: None,
        started_at,
        duration_ms: 1_234,
        origin: None,
    }
}
