//! Private row types that sqlx decodes query results into, and their
//! conversion to the domain records, so `model` stays free of sqlx.

use rdesk_spawner::AppStatus;

use super::action::{DeploymentAction, Outcome};
use super::error::StoreError;
use super::model::{
    AppRecord, DeploymentRecord, GitOrigin, HostKind, HostRecord, NewDeployment, StatusEvent,
};

#[derive(sqlx::FromRow)]
pub(super) struct HostRow {
    name: String,
    kind: String,
    ssh_target: Option<String>,
    identity_file: Option<String>,
    public_url: String,
    added_at: i64,
}

impl TryFrom<HostRow> for HostRecord {
    type Error = StoreError;

    fn try_from(row: HostRow) -> Result<HostRecord, StoreError> {
        let kind = HostKind::parse(&row.kind).ok_or_else(|| StoreError::Corrupt {
            what: format!("host {:?}", row.name),
            reason: format!("unknown kind {:?}", row.kind),
        })?;
        Ok(HostRecord {
            name: row.name,
            kind,
            ssh_target: row.ssh_target,
            identity_file: row.identity_file,
            public_url: row.public_url,
            added_at: row.added_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct AppRow {
    host: String,
    slug: String,
    app_id: String,
    r_version: String,
    mode: String,
    packages: String,
    repo: Option<String>,
    code_hash: String,
    config_hash: String,
    image_id: Option<String>,
    container_id: Option<String>,
    status: String,
    updated_at: i64,
}

impl TryFrom<AppRow> for AppRecord {
    type Error = StoreError;

    fn try_from(row: AppRow) -> Result<AppRecord, StoreError> {
        let packages: Vec<String> =
            serde_json::from_str(&row.packages).map_err(|e| StoreError::Corrupt {
                what: format!("app {:?} of host {:?}", row.slug, row.host),
                reason: format!("package list is not a JSON array of strings: {e}"),
            })?;
        Ok(AppRecord {
            host: row.host,
            slug: row.slug,
            app_id: row.app_id,
            r_version: row.r_version,
            mode: row.mode,
            packages,
            repo: row.repo,
            code_hash: row.code_hash,
            config_hash: row.config_hash,
            image_id: row.image_id,
            container_id: row.container_id,
            status: AppStatus::parse(&row.status),
            updated_at: row.updated_at,
        })
    }
}

/// A list of strings as JSON text, as stored in `apps.packages`.
pub(super) fn json_strings(strings: &[String]) -> String {
    serde_json::Value::from(strings.to_vec()).to_string()
}

#[derive(sqlx::FromRow)]
pub(super) struct DeploymentRow {
    id: i64,
    host: String,
    slug: String,
    app_id: String,
    action: String,
    code_hash: String,
    image_id: Option<String>,
    outcome: String,
    message: Option<String>,
    started_at: i64,
    duration_ms: i64,
    git_url: Option<String>,
    git_ref: Option<String>,
    git_commit: Option<String>,
}

impl From<DeploymentRow> for DeploymentRecord {
    fn from(row: DeploymentRow) -> DeploymentRecord {
        DeploymentRecord {
            id: row.id,
            deployment: NewDeployment {
                host: row.host,
                slug: row.slug,
                app_id: row.app_id,
                action: DeploymentAction::parse(&row.action),
                code_hash: row.code_hash,
                image_id: row.image_id,
                outcome: Outcome::parse(&row.outcome),
                message: row.message,
                started_at: row.started_at,
                duration_ms: row.duration_ms,
                origin: match (row.git_url, row.git_ref, row.git_commit) {
                    (Some(url), Some(reference), Some(commit)) => Some(GitOrigin {
                        url,
                        reference,
                        commit,
                    }),
                    _ => None,
                },
            },
        }
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct StatusEventRow {
    id: i64,
    host: String,
    slug: String,
    at: i64,
    status: String,
    detail: Option<String>,
}

impl From<StatusEventRow> for StatusEvent {
    fn from(row: StatusEventRow) -> StatusEvent {
        StatusEvent {
            id: row.id,
            host: row.host,
            slug: row.slug,
            at: row.at,
            status: AppStatus::parse(&row.status),
            detail: row.detail,
        }
    }
}
