//! The package repository a host's new apps install from, when the user
//! chose one for the host: kept as the user wrote it (a URL or
//! `posit:YYYY-MM-DD`), validated by the desk before it comes here.

use super::Store;
use super::error::{StoreError, host_row_write};

impl Store {
    /// Sets (`Some`) or clears (`None`) the repository of `host`.
    pub async fn set_host_repo(&self, host: &str, repo: Option<&str>) -> Result<(), StoreError> {
        let query = match repo {
            Some(repo) => sqlx::query(
                "INSERT INTO host_repos (host, repo) VALUES (?1, ?2)
                 ON CONFLICT (host) DO UPDATE SET repo = excluded.repo",
            )
            .bind(host)
            .bind(repo),
            None => sqlx::query("DELETE FROM host_repos WHERE host = ?1").bind(host),
        };
        query
            .execute(&self.pool)
            .await
            .map_err(|e| host_row_write(host, format!("set the repository of host {host:?}"), e))?;
        Ok(())
    }

    /// The repository the user chose for `host`, if any.
    pub async fn host_repo(&self, host: &str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT repo FROM host_repos WHERE host = ?1")
            .bind(host)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| StoreError::db(format!("read the repository of host {host:?}"), e))
    }
}

#[cfg(test)]
mod tests {
    use crate::store::StoreError;
    use crate::store::test_support::{host, store as memory_store};

    #[tokio::test]
    async fn a_host_repository_is_set_cleared_and_goes_with_the_host() {
        let store = memory_store().await;
        store.add_host(host("vps1")).await.unwrap();
        assert_eq!(store.host_repo("vps1").await.unwrap(), None);
        store.set_host_repo("vps1", Some("http://a")).await.unwrap();
        store
            .set_host_repo("vps1", Some("posit:2026-12-03"))
            .await
            .unwrap();
        assert_eq!(
            store.host_repo("vps1").await.unwrap().as_deref(),
            Some("posit:2026-12-03")
        );
        store.set_host_repo("vps1", None).await.unwrap();
        assert_eq!(store.host_repo("vps1").await.unwrap(), None);
        store.set_host_repo("vps1", Some("http://a")).await.unwrap();
        store.remove_host("vps1").await.unwrap();
        assert_eq!(store.host_repo("vps1").await.unwrap(), None);
        let err = store
            .set_host_repo("ghost", Some("http://a"))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::HostNotFound { .. }), "{err:?}");
    }
}
