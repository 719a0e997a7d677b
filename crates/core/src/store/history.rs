//! Local history: each deployment step (build, start, stop, restart,
//! remove) with its outcome, and each change of an app's status. History
//! outlives the app it describes and goes only with its host.

use rdesk_spawner::AppStatus;

use super::error::{StoreError, is_foreign_key_violation};
use super::model::{DeploymentRecord, NewDeployment, StatusEvent};
use super::rows::{DeploymentRow, StatusEventRow};
use super::{Store, now_ms};

impl Store {
    /// Records a deployment step and returns its id. Fails with
    /// [`StoreError::HostNotFound`] if the host is not known; the app need
    /// not be cached (a first build that failed has none).
    pub async fn record_deployment(&self, d: NewDeployment) -> Result<i64, StoreError> {
        let result = sqlx::query_scalar(
            "INSERT INTO deployments (host, slug, app_id, action, code_hash, image_id, outcome,
                                      message, started_at, duration_ms,
                                      git_url, git_ref, git_commit)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             RETURNING id",
        )
        .bind(&d.host)
        .bind(&d.slug)
        .bind(&d.app_id)
        .bind(d.action.as_str())
        .bind(&d.code_hash)
        .bind(&d.image_id)
        .bind(d.outcome.as_str())
        .bind(&d.message)
        .bind(d.started_at)
        .bind(d.duration_ms)
        .bind(d.origin.as_ref().map(|o| &o.url))
        .bind(d.origin.as_ref().map(|o| &o.reference))
        .bind(d.origin.as_ref().map(|o| &o.commit))
        .fetch_one(&self.pool)
        .await;
        match result {
            Ok(id) => Ok(id),
            Err(e) if is_foreign_key_violation(&e) => {
                Err(StoreError::HostNotFound { name: d.host })
            }
            Err(e) => Err(StoreError::db(
                format!(
                    "record the {} of app {:?} of host {:?}",
                    d.action, d.slug, d.host
                ),
                e,
            )),
        }
    }

    /// The last `limit` deployment steps of an app, newest first.
    pub async fn deployments(
        &self,
        host: &str,
        slug: &str,
        limit: u32,
    ) -> Result<Vec<DeploymentRecord>, StoreError> {
        let rows = sqlx::query_as::<_, DeploymentRow>(
            "SELECT id, host, slug, app_id, action, code_hash, image_id, outcome, message,
                    started_at, duration_ms, git_url, git_ref, git_commit
             FROM deployments WHERE host = ?1 AND slug = ?2
             ORDER BY started_at DESC, id DESC LIMIT ?3",
        )
        .bind(host)
        .bind(slug)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| {
            StoreError::db(
                format!("read the deployments of app {slug:?} of host {host:?}"),
                e,
            )
        })?;
        Ok(rows.into_iter().map(DeploymentRecord::from).collect())
    }

    /// Records `status` for an app, stamped now, unless it equals the last
    /// status recorded for that app (the detail is not compared). Returns
    /// whether an event was inserted. Fails with
    /// [`StoreError::HostNotFound`] if the host is not known.
    pub async fn record_status(
        &self,
        host: &str,
        slug: &str,
        status: AppStatus,
        detail: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.record_status_at(host, slug, status, detail, now_ms())
            .await
    }

    /// [`Store::record_status`] stamped `at` (unix milliseconds), e.g. the
    /// time Docker gave the event.
    pub async fn record_status_at(
        &self,
        host: &str,
        slug: &str,
        status: AppStatus,
        detail: Option<&str>,
        at: i64,
    ) -> Result<bool, StoreError> {
        // One statement, so the comparison and the insert are atomic.
        let result = sqlx::query(
            "INSERT INTO status_events (host, slug, at, status, detail)
             SELECT ?1, ?2, ?3, ?4, ?5
             WHERE (SELECT status FROM status_events
                    WHERE host = ?1 AND slug = ?2
                    ORDER BY id DESC LIMIT 1) IS NOT ?4",
        )
        .bind(host)
        .bind(slug)
        .bind(at)
        .bind(status.as_str())
        .bind(detail)
        .execute(&self.pool)
        .await;
        match result {
            Ok(done) => Ok(done.rows_affected() > 0),
            Err(e) if is_foreign_key_violation(&e) => Err(StoreError::HostNotFound {
                name: host.to_owned(),
            }),
            Err(e) => Err(StoreError::db(
                format!("record the status of app {slug:?} of host {host:?}"),
                e,
            )),
        }
    }

    /// The last `limit` status changes of an app, newest first.
    pub async fn status_events(
        &self,
        host: &str,
        slug: &str,
        limit: u32,
    ) -> Result<Vec<StatusEvent>, StoreError> {
        let rows = sqlx::query_as::<_, StatusEventRow>(
            "SELECT id, host, slug, at, status, detail
             FROM status_events WHERE host = ?1 AND slug = ?2
             ORDER BY id DESC LIMIT ?3",
        )
        .bind(host)
        .bind(slug)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| {
            StoreError::db(
                format!("read the status history of app {slug:?} of host {host:?}"),
                e,
            )
        })?;
        Ok(rows.into_iter().map(StatusEvent::from).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{app, deployment, host, store};
    use super::*;
    use crate::store::{DeploymentAction, Outcome};

    #[tokio::test]
    async fn deployments_round_trip_newest_first_with_limit() {
        let store = store().await;
        store.add_host(host("vps1")).await.unwrap();

        let first = deployment("vps1", "web", 1_000);
        let mut failed = deployment("vps1", "web", 3_000);
        failed.outcome = Outcome::Failed;
        failed.message = Some("R package 'foo' not found".into());
        failed.image_id = None;
        // Same start time as `failed`: the later insert counts as newer.
        let mut stop = deployment("vps1", "web", 3_000);
        stop.action = DeploymentAction::Stop;
        let other_app = deployment("vps1", "api", 2_000);

        let id1 = store.record_deployment(first.clone()).await.unwrap();
        let id2 = store.record_deployment(failed.clone()).await.unwrap();
        let id3 = store.record_deployment(stop.clone()).await.unwrap();
        store.record_deployment(other_app).await.unwrap();
        assert!(id1 < id2 && id2 < id3);

        let got = store.deployments("vps1", "web", 10).await.unwrap();
        let ids: Vec<i64> = got.iter().map(|d| d.id).collect();
        assert_eq!(ids, [id3, id2, id1]);
        assert_eq!(got[1], record(id2, failed));
        assert_eq!(got[2], record(id1, first));

        let top = store.deployments("vps1", "web", 1).await.unwrap();
        assert_eq!(top, vec![record(id3, stop)]);
        assert!(
            store
                .deployments("vps1", "web", 0)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .deployments("vps1", "nope", 10)
                .await
                .unwrap()
                .is_empty()
        );
    }

    fn record(id: i64, deployment: NewDeployment) -> DeploymentRecord {
        DeploymentRecord { id, deployment }
    }

    #[tokio::test]
    async fn record_deployment_needs_a_known_host_not_an_app() {
        let store = store().await;
        let err = store
            .record_deployment(deployment("ghost", "web", 1))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::HostNotFound { name } if name == "ghost"),
            "{err:?}"
        );
        store.add_host(host("vps1")).await.unwrap();
        // No app "web" is cached: a first build is still recorded.
        store
            .record_deployment(deployment("vps1", "web", 1))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn record_status_inserts_only_changes() {
        let store = store().await;
        store.add_host(host("vps1")).await.unwrap();
        let before = now_ms();

        assert!(
            store
                .record_status("vps1", "web", AppStatus::Created, None)
                .await
                .unwrap()
        );
        assert!(
            store
                .record_status("vps1", "web", AppStatus::Running, None)
                .await
                .unwrap()
        );
        assert!(
            !store
                .record_status("vps1", "web", AppStatus::Running, None)
                .await
                .unwrap()
        );
        // Same status, other detail: still no new event.
        assert!(
            !store
                .record_status("vps1", "web", AppStatus::Running, Some("health: ok"))
                .await
                .unwrap()
        );
        assert!(
            store
                .record_status(
                    "vps1",
                    "web",
                    AppStatus::Exited,
                    Some("exit code 137, OOM killed")
                )
                .await
                .unwrap()
        );
        assert!(
            store
                .record_status("vps1", "web", AppStatus::Running, None)
                .await
                .unwrap()
        );
        // Each app is compared with its own last status.
        assert!(
            store
                .record_status("vps1", "api", AppStatus::Running, None)
                .await
                .unwrap()
        );

        let events = store.status_events("vps1", "web", 10).await.unwrap();
        let statuses: Vec<&str> = events.iter().map(|e| e.status.as_str()).collect();
        assert_eq!(statuses, ["running", "exited", "running", "created"]);
        assert_eq!(
            events[1].detail.as_deref(),
            Some("exit code 137, OOM killed")
        );
        assert_eq!(events[0].detail, None);
        assert!(events.iter().all(|e| e.host == "vps1" && e.slug == "web"));
        assert!(events.iter().all(|e| e.at >= before && e.at <= now_ms()));
        assert!(events.windows(2).all(|w| w[0].id > w[1].id));

        let last_two = store.status_events("vps1", "web", 2).await.unwrap();
        assert_eq!(last_two, events[..2].to_vec());
        assert_eq!(
            store.status_events("vps1", "api", 10).await.unwrap().len(),
            1
        );
    }

    #[tokio::test]
    async fn the_words_stored_are_the_old_ones_and_unknown_words_still_read() {
        let store = store().await;
        store.add_host(host("vps1")).await.unwrap();
        let mut web = app("vps1", "web");
        web.status = AppStatus::OomKilled;
        store.upsert_app(web).await.unwrap();
        let mut oom = deployment("vps1", "web", 1_000);
        oom.action = DeploymentAction::Rollback;
        oom.outcome = Outcome::Failed;
        store.record_deployment(oom).await.unwrap();
        store
            .record_status_at("vps1", "web", AppStatus::OomKilled, None, 1_000)
            .await
            .unwrap();
        let stored: (String, String, String, String) = sqlx::query_as(
            "SELECT d.action, d.outcome, s.status, a.status
             FROM deployments d, status_events s, apps a",
        )
        .fetch_one(&store.pool)
        .await
        .unwrap();
        assert_eq!(
            stored,
            (
                "rollback".into(),
                "failed".into(),
                "oom-killed".into(),
                "oom-killed".into()
            )
        );

        // Words a newer version (or a hand-edited file) wrote.
        sqlx::query(
            "UPDATE deployments SET action = 'migrate', outcome = 'partial';
             UPDATE status_events SET status = 'frozen';
             UPDATE apps SET status = 'frozen';",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        let read = &store.deployments("vps1", "web", 1).await.unwrap()[0];
        assert_eq!(
            (read.deployment.action, read.deployment.outcome),
            (DeploymentAction::Unknown, Outcome::Unknown)
        );
        let events = store.status_events("vps1", "web", 1).await.unwrap();
        assert_eq!(events[0].status, AppStatus::Unknown);
        let cached = store.app("vps1", "web").await.unwrap().unwrap();
        assert_eq!(cached.status, AppStatus::Unknown);
    }

    #[tokio::test]
    async fn record_status_needs_a_known_host() {
        let store = store().await;
        let err = store
            .record_status("ghost", "web", AppStatus::Running, None)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::HostNotFound { name } if name == "ghost"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn concurrent_identical_statuses_insert_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("rdesk.sqlite")).await.unwrap();
        store.add_host(host("vps1")).await.unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .record_status("vps1", "web", AppStatus::Running, None)
                        .await
                })
            })
            .collect();
        let mut inserted = 0;
        for task in tasks {
            if task.await.unwrap().unwrap() {
                inserted += 1;
            }
        }
        assert_eq!(inserted, 1);
        assert_eq!(
            store.status_events("vps1", "web", 10).await.unwrap().len(),
            1
        );
    }
}
