//! The status history a host's uptime grid is drawn from: every status
//! change of its apps in a range, plus the status each app was in when the
//! range began.

use super::Store;
use super::error::StoreError;
use super::model::StatusEvent;
use super::rows::StatusEventRow;

impl Store {
    /// The status changes of `host`'s apps in `[from_ms, to_ms)`, with each
    /// app's last change before `from_ms` first, ordered by app, then time.
    pub async fn status_timeline(
        &self,
        host: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<StatusEvent>, StoreError> {
        let rows = sqlx::query_as::<_, StatusEventRow>(
            "SELECT id, host, slug, at, status, detail FROM status_events e
             WHERE host = ?1 AND (
                 (at >= ?2 AND at < ?3)
                 OR id = (SELECT id FROM status_events p
                          WHERE p.host = ?1 AND p.slug = e.slug AND p.at < ?2
                          ORDER BY p.at DESC, p.id DESC LIMIT 1))
             ORDER BY slug, at, id",
        )
        .bind(host)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| StoreError::db(format!("read the status history of host {host:?}"), e))?;
        Ok(rows.into_iter().map(StatusEvent::from).collect())
    }
}

#[cfg(test)]
mod tests {
    use rdesk_spawner::AppStatus;

    use super::super::test_support::{host, store};

    #[tokio::test]
    async fn the_timeline_starts_with_the_status_in_force() {
        let store = store().await;
        store.add_host(host("vps1")).await.unwrap();
        store.add_host(host("vps2")).await.unwrap();
        for (slug, at, status) in [
            ("web", 100, AppStatus::Running),
            ("web", 200, AppStatus::Crashed),
            ("web", 1_100, AppStatus::Running),
            ("web", 2_100, AppStatus::Exited),
            ("api", 1_500, AppStatus::Running),
        ] {
            store
                .record_status_at("vps1", slug, status, None, at)
                .await
                .unwrap();
        }
        store
            .record_status_at("vps2", "web", AppStatus::Running, None, 1_200)
            .await
            .unwrap();
        let got: Vec<(String, i64, AppStatus)> = store
            .status_timeline("vps1", 1_000, 2_000)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.slug, e.at, e.status))
            .collect();
        let want = [
            ("api", 1_500, AppStatus::Running),
            ("web", 200, AppStatus::Crashed),
            ("web", 1_100, AppStatus::Running),
        ]
        .map(|(s, a, st)| (s.to_owned(), a, st));
        assert_eq!(got, want);
    }
}
