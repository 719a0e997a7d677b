//! Hosts the user added, and the SSH host key pinned for each on first
//! contact. Removing a host removes everything the store holds about it.

use super::error::{StoreError, host_row_write, is_unique_violation};
use super::model::{HostKind, HostRecord};
use super::rows::HostRow;
use super::{Store, now_ms};

impl Store {
    /// Adds a host. Fails with [`StoreError::HostExists`] if the name is
    /// taken, and [`StoreError::InvalidHost`] for an empty name or an SSH
    /// host without a target.
    pub async fn add_host(&self, host: HostRecord) -> Result<(), StoreError> {
        validate_host(&host)?;
        let result = sqlx::query(
            "INSERT INTO hosts (name, kind, ssh_target, identity_file, public_url, added_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(&host.name)
        .bind(host.kind.as_str())
        .bind(&host.ssh_target)
        .bind(&host.identity_file)
        .bind(&host.public_url)
        .bind(host.added_at)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(StoreError::HostExists { name: host.name }),
            Err(e) => Err(StoreError::db(format!("add host {:?}", host.name), e)),
        }
    }

    /// Replaces how an existing host is reached and where its apps answer
    /// (its SSH target, identity file, public URL); the name, kind, pinned
    /// key and history stay. [`StoreError::HostNotFound`] if there is none.
    pub async fn update_host(&self, host: &HostRecord) -> Result<(), StoreError> {
        validate_host(host)?;
        let done = sqlx::query(
            "UPDATE hosts SET ssh_target = ?2, identity_file = ?3, public_url = ?4 WHERE name = ?1",
        )
        .bind(&host.name)
        .bind(&host.ssh_target)
        .bind(&host.identity_file)
        .bind(&host.public_url)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::db(format!("update host {:?}", host.name), e))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::HostNotFound {
                name: host.name.clone(),
            });
        }
        Ok(())
    }

    /// The host named `name`, if any.
    pub async fn host(&self, name: &str) -> Result<Option<HostRecord>, StoreError> {
        sqlx::query_as::<_, HostRow>(
            "SELECT name, kind, ssh_target, identity_file, public_url, added_at
             FROM hosts WHERE name = ?1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| StoreError::db(format!("read host {name:?}"), e))?
        .map(HostRecord::try_from)
        .transpose()
    }

    /// All hosts, in the order they were added.
    pub async fn hosts(&self) -> Result<Vec<HostRecord>, StoreError> {
        sqlx::query_as::<_, HostRow>(
            "SELECT name, kind, ssh_target, identity_file, public_url, added_at
             FROM hosts ORDER BY added_at, name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| StoreError::db("list hosts", e))?
        .into_iter()
        .map(HostRecord::try_from)
        .collect()
    }

    /// Removes a host with its apps, deployments, status events and pinned
    /// host key. Returns whether the host existed.
    pub async fn remove_host(&self, name: &str) -> Result<bool, StoreError> {
        // Every table referencing hosts does so ON DELETE CASCADE.
        let done = sqlx::query("DELETE FROM hosts WHERE name = ?1")
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::db(format!("remove host {name:?}"), e))?;
        Ok(done.rows_affected() > 0)
    }

    /// Pins `key_line`, one OpenSSH known_hosts line, as the host key of
    /// `host`, replacing any earlier pin. Whether a changed key may replace
    /// the pin is the caller's decision.
    pub async fn pin_host_key(&self, host: &str, key_line: &str) -> Result<(), StoreError> {
        let key_line = key_line.trim();
        let invalid = |reason| StoreError::InvalidHostKey {
            host: host.to_owned(),
            reason,
        };
        if key_line.is_empty() {
            return Err(invalid("it is empty"));
        }
        if key_line.contains(['\n', '\r']) {
            return Err(invalid("it spans several lines"));
        }
        sqlx::query(
            "INSERT INTO host_keys (host, key_line, pinned_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (host) DO UPDATE SET
                 key_line = excluded.key_line, pinned_at = excluded.pinned_at",
        )
        .bind(host)
        .bind(key_line)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(|e| host_row_write(host, format!("pin the host key of {host:?}"), e))?;
        Ok(())
    }

    /// The known_hosts line pinned for `host`, if any.
    pub async fn pinned_host_key(&self, host: &str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT key_line FROM host_keys WHERE host = ?1")
            .bind(host)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| StoreError::db(format!("read the host key of {host:?}"), e))
    }
}

fn validate_host(host: &HostRecord) -> Result<(), StoreError> {
    let invalid = |reason| StoreError::InvalidHost {
        name: host.name.clone(),
        reason,
    };
    if host.name.trim().is_empty() {
        return Err(invalid("its name is empty"));
    }
    if host.kind == HostKind::Ssh
        && host
            .ssh_target
            .as_deref()
            .is_none_or(|t| t.trim().is_empty())
    {
        return Err(invalid("an SSH host needs an SSH target"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rdesk_spawner::AppStatus;

    use super::super::test_support::{app, deployment, host, store};
    use super::*;

    #[tokio::test]
    async fn add_then_read_hosts() {
        let store = store().await;
        assert!(store.hosts().await.unwrap().is_empty());
        assert_eq!(store.host("vps1").await.unwrap(), None);

        let mut local = host("laptop");
        local.kind = HostKind::Local;
        local.ssh_target = None;
        local.identity_file = None;
        local.added_at += 10;
        store.add_host(host("vps1")).await.unwrap();
        store.add_host(local.clone()).await.unwrap();

        assert_eq!(store.host("vps1").await.unwrap(), Some(host("vps1")));
        assert_eq!(store.host("laptop").await.unwrap(), Some(local.clone()));
        assert_eq!(store.hosts().await.unwrap(), vec![host("vps1"), local]);
    }

    #[tokio::test]
    async fn an_update_changes_how_a_host_is_reached_and_nothing_else() {
        let store = store().await;
        store.add_host(host("vps1")).await.unwrap();
        let mut changed = host("vps1");
        changed.ssh_target = Some("root@vps1.example:2222".into());
        changed.identity_file = None;
        changed.public_url = "https://apps.example".into();
        changed.added_at += 99;
        store.update_host(&changed).await.unwrap();
        let kept = store.host("vps1").await.unwrap().unwrap();
        assert_eq!(kept.ssh_target, changed.ssh_target);
        assert_eq!(kept.public_url, "https://apps.example");
        assert_eq!(
            kept.added_at,
            host("vps1").added_at,
            "when it was added stays"
        );
        let missing = store.update_host(&host("nope")).await.unwrap_err();
        assert!(
            matches!(missing, StoreError::HostNotFound { .. }),
            "{missing:?}"
        );
    }

    #[tokio::test]
    async fn add_host_refuses_a_taken_name() {
        let store = store().await;
        store.add_host(host("vps1")).await.unwrap();
        let mut other = host("vps1");
        other.public_url = "https://other.example".into();
        let err = store.add_host(other).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::HostExists { name } if name == "vps1"),
            "{err:?}"
        );
        assert_eq!(err.to_string(), r#"a host named "vps1" already exists"#);
        // The first one is untouched.
        assert_eq!(store.host("vps1").await.unwrap(), Some(host("vps1")));
    }

    #[tokio::test]
    async fn add_host_refuses_invalid_records() {
        let store = store().await;
        let mut no_target = host("vps1");
        no_target.ssh_target = None;
        let err = store.add_host(no_target).await.unwrap_err();
        assert!(matches!(err, StoreError::InvalidHost { .. }), "{err:?}");
        assert!(err.to_string().contains("SSH target"), "{err}");

        let mut blank_target = host("vps1");
        blank_target.ssh_target = Some("  ".into());
        assert!(matches!(
            store.add_host(blank_target).await,
            Err(StoreError::InvalidHost { .. })
        ));

        let err = store.add_host(host(" ")).await.unwrap_err();
        assert!(matches!(err, StoreError::InvalidHost { .. }), "{err:?}");
        assert!(store.hosts().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn remove_host_cascades_to_everything_about_it() {
        let store = store().await;
        for name in ["vps1", "vps2"] {
            store.add_host(host(name)).await.unwrap();
            store.upsert_app(app(name, "web")).await.unwrap();
            store
                .record_deployment(deployment(name, "web", 1))
                .await
                .unwrap();
            store
                .record_status(name, "web", AppStatus::Running, None)
                .await
                .unwrap();
            store
                .pin_host_key(name, &format!("{name} ssh-ed25519 AAAA"))
                .await
                .unwrap();
        }

        assert!(store.remove_host("vps1").await.unwrap());

        assert_eq!(store.host("vps1").await.unwrap(), None);
        assert!(store.apps("vps1").await.unwrap().is_empty());
        assert!(
            store
                .deployments("vps1", "web", 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .status_events("vps1", "web", 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.pinned_host_key("vps1").await.unwrap(), None);
        // No orphans left in any table.
        for table in ["apps", "deployments", "status_events", "host_keys"] {
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE host = 'vps1'");
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&store.pool)
                .await
                .unwrap();
            assert_eq!(n, 0, "{table}");
        }

        // The other host keeps all of its data.
        assert_eq!(store.apps("vps2").await.unwrap().len(), 1);
        assert_eq!(store.deployments("vps2", "web", 10).await.unwrap().len(), 1);
        assert_eq!(
            store.status_events("vps2", "web", 10).await.unwrap().len(),
            1
        );
        assert!(store.pinned_host_key("vps2").await.unwrap().is_some());

        // Removing again is not an error, and the name is free again.
        assert!(!store.remove_host("vps1").await.unwrap());
        store.add_host(host("vps1")).await.unwrap();
        assert!(store.apps("vps1").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn pin_and_repin_host_keys() {
        let store = store().await;
        store.add_host(host("vps1")).await.unwrap();
        assert_eq!(store.pinned_host_key("vps1").await.unwrap(), None);

        let line = "[vps1.example]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA";
        store
            .pin_host_key("vps1", &format!("{line}\n"))
            .await
            .unwrap();
        assert_eq!(
            store.pinned_host_key("vps1").await.unwrap().as_deref(),
            Some(line)
        );

        let newer = "[vps1.example]:2222 ecdsa-sha2-nistp256 AAAAE2Vj";
        store.pin_host_key("vps1", newer).await.unwrap();
        assert_eq!(
            store.pinned_host_key("vps1").await.unwrap().as_deref(),
            Some(newer)
        );
    }

    #[tokio::test]
    async fn pin_host_key_checks_host_and_line() {
        let store = store().await;
        let err = store
            .pin_host_key("nowhere", "nowhere ssh-ed25519 AAAA")
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::HostNotFound { name } if name == "nowhere"),
            "{err:?}"
        );

        store.add_host(host("vps1")).await.unwrap();
        for bad in ["", "  \n", "a ssh-ed25519 AAAA\nb ssh-ed25519 BBBB"] {
            let err = store.pin_host_key("vps1", bad).await.unwrap_err();
            assert!(matches!(err, StoreError::InvalidHostKey { .. }), "{err:?}");
        }
        assert_eq!(store.pinned_host_key("vps1").await.unwrap(), None);
    }
}
