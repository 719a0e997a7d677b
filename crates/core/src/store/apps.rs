//! The cached app list of each host: what runs there, under which image and
//! container, and its last known status. Rebuilt from container labels by
//! [`Store::replace_apps`]; removing an app keeps its history.

use std::collections::HashSet;

use sqlx::Sqlite;

use super::Store;
use super::error::{StoreError, is_foreign_key_violation};
use super::model::AppRecord;
use super::rows::{AppRow, json_strings};

const SELECT_APP: &str = "SELECT host, slug, app_id, r_version, mode, packages, repo, code_hash,
        config_hash, image_id, container_id, status, updated_at
 FROM apps";

impl Store {
    /// Inserts the app, or replaces the cached state of `(host, slug)`.
    /// Fails with [`StoreError::HostNotFound`] if the host is not known.
    pub async fn upsert_app(&self, app: AppRecord) -> Result<(), StoreError> {
        upsert(&self.pool, &app)
            .await
            .map_err(|e| upsert_error(&app, e))
    }

    /// The cached app `slug` of `host`, if any.
    pub async fn app(&self, host: &str, slug: &str) -> Result<Option<AppRecord>, StoreError> {
        sqlx::query_as::<_, AppRow>(sqlx::AssertSqlSafe(format!(
            "{SELECT_APP} WHERE host = ?1 AND slug = ?2"
        )))
        .bind(host)
        .bind(slug)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| StoreError::db(format!("read app {slug:?} of host {host:?}"), e))?
        .map(AppRecord::try_from)
        .transpose()
    }

    /// The cached apps of `host`, by slug. Empty for an unknown host.
    pub async fn apps(&self, host: &str) -> Result<Vec<AppRecord>, StoreError> {
        sqlx::query_as::<_, AppRow>(sqlx::AssertSqlSafe(format!(
            "{SELECT_APP} WHERE host = ?1 ORDER BY slug"
        )))
        .bind(host)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| StoreError::db(format!("list the apps of host {host:?}"), e))?
        .into_iter()
        .map(AppRecord::try_from)
        .collect()
    }

    /// Removes the cached app; its deployments and status events stay as
    /// history. Returns whether it was cached.
    pub async fn remove_app(&self, host: &str, slug: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM apps WHERE host = ?1 AND slug = ?2")
            .bind(host)
            .bind(slug)
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::db(format!("remove app {slug:?} of host {host:?}"), e))?;
        Ok(done.rows_affected() > 0)
    }

    /// Makes `apps` the whole cached app list of `host`, as rebuilt from the
    /// VPS's container labels: in one transaction, cached apps missing from
    /// `apps` are deleted and the others upserted. Returns the slugs deleted.
    /// Every app must belong to `host` ([`StoreError::HostMismatch`]), and the
    /// host must be known ([`StoreError::HostNotFound`]); on any error
    /// nothing changes.
    pub async fn replace_apps(
        &self,
        host: &str,
        apps: Vec<AppRecord>,
    ) -> Result<Vec<String>, StoreError> {
        if let Some(stray) = apps.iter().find(|a| a.host != host) {
            return Err(StoreError::HostMismatch {
                host: host.to_owned(),
                app_host: stray.host.clone(),
                slug: stray.slug.clone(),
            });
        }
        let action = || format!("replace the apps of host {host:?}");

        let mut tx = self
            .write_transaction()
            .await
            .map_err(|e| StoreError::db(action(), e))?;

        let known: Option<i64> = sqlx::query_scalar("SELECT 1 FROM hosts WHERE name = ?1")
            .bind(host)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| StoreError::db(action(), e))?;
        if known.is_none() {
            return Err(StoreError::HostNotFound {
                name: host.to_owned(),
            });
        }

        let keep: HashSet<&str> = apps.iter().map(|a| a.slug.as_str()).collect();
        let cached: Vec<String> =
            sqlx::query_scalar("SELECT slug FROM apps WHERE host = ?1 ORDER BY slug")
                .bind(host)
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| StoreError::db(action(), e))?;
        let removed: Vec<String> = cached
            .into_iter()
            .filter(|slug| !keep.contains(slug.as_str()))
            .collect();
        for slug in &removed {
            sqlx::query("DELETE FROM apps WHERE host = ?1 AND slug = ?2")
                .bind(host)
                .bind(slug)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::db(action(), e))?;
        }

        for app in &apps {
            upsert(&mut *tx, app)
                .await
                .map_err(|e| upsert_error(app, e))?;
        }

        // Dropping `tx` on any early return above rolls everything back.
        tx.commit().await.map_err(|e| StoreError::db(action(), e))?;
        Ok(removed)
    }
}

async fn upsert<'c, E>(executor: E, app: &AppRecord) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = Sqlite>,
{
    sqlx::query(
        "INSERT INTO apps (host, slug, app_id, r_version, mode, packages, repo, code_hash,
                           config_hash, image_id, container_id, status, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (host, slug) DO UPDATE SET
             app_id = excluded.app_id,
             r_version = excluded.r_version,
             mode = excluded.mode,
             packages = excluded.packages,
             repo = excluded.repo,
             code_hash = excluded.code_hash,
             config_hash = excluded.config_hash,
             image_id = excluded.image_id,
             container_id = excluded.container_id,
             status = excluded.status,
             updated_at = excluded.updated_at",
    )
    .bind(&app.host)
    .bind(&app.slug)
    .bind(&app.app_id)
    .bind(&app.r_version)
    .bind(&app.mode)
    .bind(json_strings(&app.packages))
    .bind(&app.repo)
    .bind(&app.code_hash)
    .bind(&app.config_hash)
    .bind(&app.image_id)
    .bind(&app.container_id)
    .bind(app.status.as_str())
    .bind(app.updated_at)
    .execute(executor)
    .await?;
    Ok(())
}

fn upsert_error(app: &AppRecord, e: sqlx::Error) -> StoreError {
    if is_foreign_key_violation(&e) {
        StoreError::HostNotFound {
            name: app.host.clone(),
        }
    } else {
        StoreError::db(format!("save app {:?} of host {:?}", app.slug, app.host), e)
    }
}

#[cfg(test)]
mod tests {
    use rdesk_spawner::AppStatus;

    use super::super::test_support::{app, deployment, host, store};
    use super::*;

    #[tokio::test]
    async fn upsert_inserts_then_updates() {
        let store = store().await;
        store.add_host(host("vps1")).await.unwrap();
        assert_eq!(store.app("vps1", "web").await.unwrap(), None);

        store.upsert_app(app("vps1", "web")).await.unwrap();
        assert_eq!(
            store.app("vps1", "web").await.unwrap(),
            Some(app("vps1", "web"))
        );

        let mut changed = app("vps1", "web");
        changed.status = AppStatus::Exited;
        changed.packages = vec![];
        changed.repo = None;
        changed.container_id = None;
        changed.code_hash = "c2".into();
        changed.updated_at += 1;
        store.upsert_app(changed.clone()).await.unwrap();
        assert_eq!(
            store.app("vps1", "web").await.unwrap(),
            Some(changed.clone())
        );
        assert_eq!(store.apps("vps1").await.unwrap(), vec![changed]);
    }

    #[tokio::test]
    async fn upsert_needs_a_known_host() {
        let store = store().await;
        let err = store.upsert_app(app("ghost", "web")).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::HostNotFound { name } if name == "ghost"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn apps_are_per_host_and_sorted() {
        let store = store().await;
        store.add_host(host("vps1")).await.unwrap();
        store.add_host(host("vps2")).await.unwrap();
        store.upsert_app(app("vps1", "zeta")).await.unwrap();
        store.upsert_app(app("vps1", "alpha")).await.unwrap();
        store.upsert_app(app("vps2", "alpha")).await.unwrap();

        let slugs: Vec<String> = store
            .apps("vps1")
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.slug)
            .collect();
        assert_eq!(slugs, ["alpha", "zeta"]);
        assert_eq!(
            store.apps("vps2").await.unwrap(),
            vec![app("vps2", "alpha")]
        );
        assert!(store.apps("nowhere").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn remove_app_keeps_history() {
        let store = store().await;
        store.add_host(host("vps1")).await.unwrap();
        store.upsert_app(app("vps1", "web")).await.unwrap();
        store.upsert_app(app("vps1", "api")).await.unwrap();
        store
            .record_deployment(deployment("vps1", "web", 1))
            .await
            .unwrap();
        store
            .record_status("vps1", "web", AppStatus::Running, None)
            .await
            .unwrap();

        assert!(store.remove_app("vps1", "web").await.unwrap());
        assert!(!store.remove_app("vps1", "web").await.unwrap());

        assert_eq!(store.app("vps1", "web").await.unwrap(), None);
        assert_eq!(store.apps("vps1").await.unwrap(), vec![app("vps1", "api")]);
        assert_eq!(store.deployments("vps1", "web", 10).await.unwrap().len(), 1);
        assert_eq!(
            store.status_events("vps1", "web", 10).await.unwrap().len(),
            1
        );
    }

    #[tokio::test]
    async fn replace_apps_deletes_missing_and_upserts_the_rest() {
        let store = store().await;
        store.add_host(host("vps1")).await.unwrap();
        store.add_host(host("vps2")).await.unwrap();
        store.upsert_app(app("vps1", "old")).await.unwrap();
        store.upsert_app(app("vps1", "web")).await.unwrap();
        store.upsert_app(app("vps2", "old")).await.unwrap();

        let mut web = app("vps1", "web");
        web.status = AppStatus::Exited;
        let fresh = app("vps1", "fresh");
        let removed = store
            .replace_apps("vps1", vec![web.clone(), fresh.clone()])
            .await
            .unwrap();

        assert_eq!(removed, ["old"]);
        assert_eq!(store.apps("vps1").await.unwrap(), vec![fresh, web]);
        // Other hosts are untouched.
        assert_eq!(store.apps("vps2").await.unwrap(), vec![app("vps2", "old")]);

        // An empty list empties the host's cache.
        let removed = store.replace_apps("vps1", vec![]).await.unwrap();
        assert_eq!(removed, ["fresh", "web"]);
        assert!(store.apps("vps1").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn replace_apps_checks_host_before_changing_anything() {
        let store = store().await;
        store.add_host(host("vps1")).await.unwrap();
        store.upsert_app(app("vps1", "web")).await.unwrap();

        let err = store
            .replace_apps("vps1", vec![app("vps1", "a"), app("vps2", "b")])
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::HostMismatch { app_host, slug, .. }
                if app_host == "vps2" && slug == "b"),
            "{err:?}"
        );

        let err = store.replace_apps("ghost", vec![]).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::HostNotFound { name } if name == "ghost"),
            "{err:?}"
        );
        assert_eq!(store.apps("vps1").await.unwrap(), vec![app("vps1", "web")]);
    }

    #[tokio::test]
    async fn replace_apps_rolls_back_when_a_write_fails_midway() {
        let store = store().await;
        store.add_host(host("vps1")).await.unwrap();
        store.upsert_app(app("vps1", "old")).await.unwrap();
        store.upsert_app(app("vps1", "web")).await.unwrap();
        // Make the insert of one particular app fail inside the transaction,
        // after the delete and an upsert have already run.
        sqlx::query(
            "CREATE TEMP TRIGGER fail_boom BEFORE INSERT ON apps
             WHEN NEW.slug = 'boom' BEGIN SELECT RAISE(ABORT, 'boom refused'); END",
        )
        .execute(&store.pool)
        .await
        .unwrap();

        let mut web = app("vps1", "web");
        web.status = AppStatus::Exited;
        let err = store
            .replace_apps("vps1", vec![web, app("vps1", "new"), app("vps1", "boom")])
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Database { .. }), "{err:?}");
        assert!(
            err.to_string()
                .contains(r#"save app "boom" of host "vps1""#),
            "{err}"
        );

        // Nothing changed: "old" still there, "web" not updated, "new" absent.
        assert_eq!(
            store.apps("vps1").await.unwrap(),
            vec![app("vps1", "old"), app("vps1", "web")]
        );
        // And the store is usable afterwards (no transaction left open).
        store
            .replace_apps("vps1", vec![app("vps1", "new")])
            .await
            .unwrap();
        assert_eq!(store.apps("vps1").await.unwrap(), vec![app("vps1", "new")]);
    }

    #[tokio::test]
    async fn replace_apps_is_atomic_for_concurrent_readers() {
        // On a file: a reader on another connection never sees a half-done
        // replacement.
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("rdesk.sqlite")).await.unwrap();
        store.add_host(host("vps1")).await.unwrap();
        let before: Vec<AppRecord> = (0..20).map(|i| app("vps1", &format!("a{i:02}"))).collect();
        let after: Vec<AppRecord> = (0..20).map(|i| app("vps1", &format!("b{i:02}"))).collect();
        store.replace_apps("vps1", before.clone()).await.unwrap();

        let writer = {
            let store = store.clone();
            let (before, after) = (before.clone(), after.clone());
            tokio::spawn(async move {
                for round in 0..20 {
                    let next = if round % 2 == 0 { &after } else { &before };
                    store.replace_apps("vps1", next.clone()).await.unwrap();
                }
            })
        };
        for _ in 0..50 {
            let seen = store.apps("vps1").await.unwrap();
            assert!(seen == before || seen == after, "half-done list: {seen:?}");
            tokio::task::yield_now().await;
        }
        writer.await.unwrap();
    }
}
