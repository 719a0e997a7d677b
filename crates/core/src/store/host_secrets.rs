//! Which kinds of secret the OS keyring holds for each host. The secrets
//! themselves never come here (design principle 4): only the kind, so the
//! host module knows to let ssh ask the keyring, and removing a host knows
//! what to delete there.

use super::error::{StoreError, host_row_write};
use super::{Store, now_ms};
use crate::secrets::SecretKind;

impl Store {
    /// Notes that the keyring holds a secret of `kind` for `host`.
    pub async fn note_secret(&self, host: &str, kind: SecretKind) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO host_secrets (host, kind, saved_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (host, kind) DO UPDATE SET saved_at = excluded.saved_at",
        )
        .bind(host)
        .bind(kind.slug())
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(|e| host_row_write(host, format!("note a secret of host {host:?}"), e))?;
        Ok(())
    }

    /// Forgets that the keyring holds a secret of `kind` for `host`.
    pub async fn forget_secret(&self, host: &str, kind: SecretKind) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM host_secrets WHERE host = ?1 AND kind = ?2")
            .bind(host)
            .bind(kind.slug())
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::db(format!("forget a secret of host {host:?}"), e))?;
        Ok(())
    }

    /// The kinds of secret the keyring holds for `host`.
    pub async fn secret_kinds(&self, host: &str) -> Result<Vec<SecretKind>, StoreError> {
        let slugs: Vec<String> =
            sqlx::query_scalar("SELECT kind FROM host_secrets WHERE host = ?1 ORDER BY kind")
                .bind(host)
                .fetch_all(&self.pool)
                .await
                .map_err(|e| StoreError::db(format!("list the secrets of host {host:?}"), e))?;
        slugs
            .iter()
            .map(|slug| {
                SecretKind::ALL
                    .into_iter()
                    .find(|k| k.slug() == slug)
                    .ok_or_else(|| StoreError::Corrupt {
                        what: format!("secrets of host {host:?}"),
                        reason: format!("unknown kind {slug:?}"),
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::secrets::SecretKind;
    use crate::store::StoreError;
    use crate::store::test_support::{host, store as memory_store};

    #[tokio::test]
    async fn kinds_are_noted_once_and_go_with_the_host() {
        let store = memory_store().await;
        store.add_host(host("vps1")).await.unwrap();
        assert!(store.secret_kinds("vps1").await.unwrap().is_empty());
        store
            .note_secret("vps1", SecretKind::SshPassword)
            .await
            .unwrap();
        store
            .note_secret("vps1", SecretKind::SshPassword)
            .await
            .unwrap();
        store
            .note_secret("vps1", SecretKind::KeyPassphrase)
            .await
            .unwrap();
        assert_eq!(
            store.secret_kinds("vps1").await.unwrap(),
            vec![SecretKind::KeyPassphrase, SecretKind::SshPassword]
        );
        store
            .forget_secret("vps1", SecretKind::KeyPassphrase)
            .await
            .unwrap();
        assert_eq!(
            store.secret_kinds("vps1").await.unwrap(),
            vec![SecretKind::SshPassword]
        );
        store.remove_host("vps1").await.unwrap();
        assert!(store.secret_kinds("vps1").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_unknown_host_has_no_secrets_to_note() {
        let store = memory_store().await;
        let err = store
            .note_secret("ghost", SecretKind::SshPassword)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::HostNotFound { .. }), "{err:?}");
    }
}
