//! Local history of bootstraps: when each ran on a host, how it ended, and
//! its steps as JSON. It goes with its host.

use serde::{Deserialize, Serialize};

use super::Store;
use super::action::Outcome;
use super::error::{StoreError, host_row_write};

/// One bootstrap run of a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootstrapRecord {
    pub host: String,
    pub started_at: i64,
    pub duration_ms: i64,
    pub outcome: Outcome,
    pub message: Option<String>,
    /// The step events, as JSON.
    pub steps: serde_json::Value,
}

#[derive(sqlx::FromRow)]
struct BootstrapRow {
    host: String,
    started_at: i64,
    duration_ms: i64,
    outcome: String,
    message: Option<String>,
    steps: String,
}

impl Store {
    /// Records a bootstrap run. Fails with [`StoreError::HostNotFound`] if the host is not known.
    pub async fn record_bootstrap(&self, b: &BootstrapRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO bootstraps (host, started_at, duration_ms, outcome, message, steps)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(&b.host)
        .bind(b.started_at)
        .bind(b.duration_ms)
        .bind(b.outcome.as_str())
        .bind(&b.message)
        .bind(b.steps.to_string())
        .execute(&self.pool)
        .await
        .map_err(|e| {
            host_row_write(
                &b.host,
                format!("record a bootstrap of host {:?}", b.host),
                e,
            )
        })?;
        Ok(())
    }

    /// The last `limit` bootstraps of a host, newest first.
    pub async fn bootstraps(
        &self,
        host: &str,
        limit: u32,
    ) -> Result<Vec<BootstrapRecord>, StoreError> {
        let rows = sqlx::query_as::<_, BootstrapRow>(
            "SELECT host, started_at, duration_ms, outcome, message, steps
             FROM bootstraps WHERE host = ?1
             ORDER BY started_at DESC, id DESC LIMIT ?2",
        )
        .bind(host)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| StoreError::db(format!("read the bootstraps of host {host:?}"), e))?;
        rows.into_iter()
            .map(|row| {
                let steps = serde_json::from_str(&row.steps).map_err(|e| StoreError::Corrupt {
                    what: format!("the steps of a bootstrap of host {host:?}"),
                    reason: e.to_string(),
                })?;
                Ok(BootstrapRecord {
                    host: row.host,
                    started_at: row.started_at,
                    duration_ms: row.duration_ms,
                    outcome: Outcome::parse(&row.outcome),
                    message: row.message,
                    steps,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{HostKind, HostRecord};

    fn record(host: &str, at: i64, outcome: Outcome) -> BootstrapRecord {
        BootstrapRecord {
            host: host.into(),
            started_at: at,
            duration_ms: 1200,
            outcome,
            message: None,
            steps: serde_json::json!([{"step": "network", "state": "done"}]),
        }
    }

    #[tokio::test]
    async fn bootstraps_are_kept_newest_first_and_go_with_their_host() {
        let store = Store::open_in_memory().await.unwrap();
        store
            .add_host(HostRecord {
                name: "vps".into(),
                kind: HostKind::Local,
                ssh_target: None,
                identity_file: None,
                public_url: "http://127.0.0.1".into(),
                added_at: 1,
            })
            .await
            .unwrap();
        store
            .record_bootstrap(&record("vps", 10, Outcome::Failed))
            .await
            .unwrap();
        store
            .record_bootstrap(&record("vps", 20, Outcome::Ok))
            .await
            .unwrap();
        let all = store.bootstraps("vps", 10).await.unwrap();
        assert_eq!(
            all.iter().map(|b| b.started_at).collect::<Vec<_>>(),
            [20, 10]
        );
        assert_eq!(all[0].steps[0]["step"], "network");

        let unknown = store
            .record_bootstrap(&record("nope", 1, Outcome::Ok))
            .await;
        assert!(
            matches!(unknown, Err(StoreError::HostNotFound { .. })),
            "{unknown:?}"
        );

        store.remove_host("vps").await.unwrap();
        assert!(store.bootstraps("vps", 10).await.unwrap().is_empty());
    }
}
