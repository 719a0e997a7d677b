//! Replacing an unusable database ([`CacheProblem`](super::CacheProblem)):
//! what can still be read from it (the hosts, their pinned keys, which
//! secrets the keyring holds for them) is kept, the file is moved aside,
//! renamed with the time and never deleted, and a new database takes its
//! place with what was kept. Each host's apps come back from its labels
//! (the caller's job: the store does not reach hosts); history and metrics
//! stay in the moved file.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use super::error::StoreError;
use super::rows::HostRow;
use super::{HostRecord, Store, now_ms};
use crate::secrets::SecretKind;

/// What a repair did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Repaired {
    /// Where the unusable file now is.
    pub moved_to: PathBuf,
    /// The hosts copied into the new database.
    pub hosts: Vec<String>,
    /// Why the hosts could not be read from the old file, when they could not.
    pub unreadable: Option<String>,
}

/// What is read from the old file before it is moved.
#[derive(Default)]
struct Salvage {
    hosts: Vec<HostRecord>,
    keys: Vec<(String, String)>,
    secrets: Vec<(String, String)>,
    /// The repositories chosen for hosts (none in a file older than the table).
    repos: Vec<(String, String)>,
    /// `(cluster, worker)` pairs (none in a file older than the table).
    workers: Vec<(String, String)>,
}

impl Store {
    /// Moves the database at `path` aside (with its `-wal` and `-shm`
    /// files) and opens a new one there holding the hosts, pinned keys,
    /// secret notes and chosen repositories that could still be read from it. Call it only for a
    /// database [`Store::open`] refused: it does not ask.
    pub async fn repair(path: impl AsRef<Path>) -> Result<(Store, Repaired), StoreError> {
        let path = path.as_ref();
        let (salvage, unreadable) = match salvage(path).await {
            Ok(salvage) => (salvage, None),
            Err(e) => (Salvage::default(), Some(crate::error::sentence(&e))),
        };
        let moved_to = move_aside(path)?;
        let store = Store::open(path).await?;
        let mut hosts = Vec::new();
        for host in salvage.hosts {
            let name = host.name.clone();
            match store.add_host(host).await {
                Ok(()) => hosts.push(name),
                Err(e) => tracing::warn!(host = name, "not kept in the repair: {e}"),
            }
        }
        for (host, line) in salvage.keys.iter().filter(|(h, _)| hosts.contains(h)) {
            if let Err(e) = store.pin_host_key(host, line).await {
                tracing::warn!(host, "its pinned key was not kept in the repair: {e}");
            }
        }
        for (host, kind) in salvage.secrets.iter().filter(|(h, _)| hosts.contains(h)) {
            if let Some(kind) = SecretKind::ALL.into_iter().find(|k| k.slug() == kind)
                && let Err(e) = store.note_secret(host, kind).await
            {
                tracing::warn!(host, "its secret note was not kept in the repair: {e}");
            }
        }
        for (host, repo) in salvage.repos.iter().filter(|(h, _)| hosts.contains(h)) {
            if let Err(e) = store.set_host_repo(host, Some(repo)).await {
                tracing::warn!(host, "its repository was not kept in the repair: {e}");
            }
        }
        for (cluster, node) in &salvage.workers {
            if hosts.contains(cluster)
                && hosts.contains(node)
                && let Err(e) = store.join_cluster(cluster, node).await
            {
                tracing::warn!(node, "its cluster was not kept in the repair: {e}");
            }
        }
        Ok((
            store,
            Repaired {
                moved_to,
                hosts,
                unreadable,
            },
        ))
    }
}

/// Reads the hosts, their keys, secret notes and repositories, opening the
/// file read-only.
async fn salvage(path: &Path) -> Result<Salvage, StoreError> {
    let failed = |source| StoreError::Open {
        path: path.to_path_buf(),
        source,
    };
    let options = SqliteConnectOptions::new().filename(path).read_only(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(failed)?;
    let read = async {
        let hosts = sqlx::query_as::<_, HostRow>(
            "SELECT name, kind, ssh_target, identity_file, public_url, added_at FROM hosts",
        )
        .fetch_all(&pool)
        .await?;
        let keys = sqlx::query_as::<_, (String, String)>("SELECT host, key_line FROM host_keys")
            .fetch_all(&pool)
            .await?;
        let secrets = sqlx::query_as::<_, (String, String)>("SELECT host, kind FROM host_secrets")
            .fetch_all(&pool)
            .await?;
        let repos = sqlx::query_as::<_, (String, String)>("SELECT host, repo FROM host_repos")
            .fetch_all(&pool)
            .await
            .unwrap_or_default();
        let workers = sqlx::query_as::<_, (String, String)>(
            "SELECT cluster, node FROM cluster_nodes ORDER BY joined_at, node",
        )
        .fetch_all(&pool)
        .await
        .unwrap_or_default();
        Ok::<_, sqlx::Error>((hosts, keys, secrets, repos, workers))
    }
    .await;
    pool.close().await;
    let (hosts, keys, secrets, repos, workers) = read.map_err(failed)?;
    Ok(Salvage {
        hosts: hosts
            .into_iter()
            .filter_map(|row| HostRecord::try_from(row).ok())
            .collect(),
        keys,
        secrets,
        repos,
        workers,
    })
}

/// Renames `path` and its `-wal`/`-shm` companions to
/// `<name>.broken-<UTC time>` (a WAL left behind would be replayed into
/// the new file); returns the new name of the main file.
fn move_aside(path: &Path) -> Result<PathBuf, StoreError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "rdesk.sqlite".to_owned());
    let stamp = utc_stamp(now_ms());
    let mut moved = path.with_file_name(format!("{name}.broken-{stamp}"));
    let mut n = 1;
    while moved.exists() {
        n += 1;
        moved = path.with_file_name(format!("{name}.broken-{stamp}-{n}"));
    }
    let failed = |source| StoreError::MoveAside {
        path: path.to_path_buf(),
        source,
    };
    for suffix in ["-wal", "-shm"] {
        let companion = with_suffix(path, suffix);
        if companion.exists() {
            std::fs::rename(&companion, with_suffix(&moved, suffix)).map_err(failed)?;
        }
    }
    std::fs::rename(path, &moved).map_err(failed)?;
    Ok(moved)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut text = path.as_os_str().to_owned();
    text.push(suffix);
    PathBuf::from(text)
}

/// `YYYYmmddTHHMMSSZ` of unix milliseconds `ms`.
fn utc_stamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_else(|| format!("{ms}ms"))
}

#[cfg(test)]
mod tests {
    use super::super::CacheProblem;
    use super::super::test_support::{app, deployment, host};
    use super::*;

    const KEY: &str = "vps1.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOm8";

    /// A database at `path` with host `vps1` (pinned key, a password in the
    /// keyring, worker `node2`), one app and `deployments` deployments, closed.
    async fn filled(path: &Path, deployments: i64) {
        let store = Store::open(path).await.unwrap();
        store.add_host(host("vps1")).await.unwrap();
        store.add_host(host("node2")).await.unwrap();
        store.join_cluster("vps1", "node2").await.unwrap();
        store.pin_host_key("vps1", KEY).await.unwrap();
        store
            .note_secret("vps1", SecretKind::SshPassword)
            .await
            .unwrap();
        store
            .set_host_repo("vps1", Some("posit:2026-12-03"))
            .await
            .unwrap();
        store.upsert_app(app("vps1", "web")).await.unwrap();
        for i in 0..deployments {
            store
                .record_deployment(deployment("vps1", "web", 1_700_000_000_000 + i))
                .await
                .unwrap();
        }
        store.close().await;
    }

    /// Opens `path` as it is, without migrating: what a newer build would do.
    async fn raw(path: &Path) -> sqlx::SqlitePool {
        SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(SqliteConnectOptions::new().filename(path))
            .await
            .unwrap()
    }

    /// The repaired store holds the host, its key and secret note, and no
    /// cached app or history; the moved file is still there.
    async fn assert_hosts_kept(store: &Store, repaired: &Repaired) {
        assert_eq!(repaired.hosts, vec!["vps1".to_owned(), "node2".to_owned()]);
        assert_eq!(repaired.unreadable, None);
        assert_eq!(
            store.hosts().await.unwrap(),
            vec![host("node2"), host("vps1")]
        );
        assert_eq!(store.cluster_nodes("vps1").await.unwrap(), ["node2"]);
        assert_eq!(
            store.pinned_host_key("vps1").await.unwrap().as_deref(),
            Some(KEY)
        );
        assert_eq!(
            store.secret_kinds("vps1").await.unwrap(),
            vec![SecretKind::SshPassword]
        );
        assert_eq!(
            store.host_repo("vps1").await.unwrap().as_deref(),
            Some("posit:2026-12-03")
        );
        assert!(store.apps("vps1").await.unwrap().is_empty());
        assert!(repaired.moved_to.is_file());
    }

    #[tokio::test]
    async fn a_database_of_a_newer_version_is_refused_and_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rdesk.sqlite");
        filled(&path, 3).await;
        let pool = raw(&path).await;
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES (9999, 'from a newer build', 1, x'00', 0)",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;

        let err = Store::open(&path).await.unwrap_err();
        assert!(
            matches!(
                &err,
                StoreError::Unusable {
                    problem: CacheProblem::NewerVersion { migration: 9999 },
                    ..
                }
            ),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains("newer Rserve Desk"), "{text}");
        assert!(text.contains("rdesk repair-cache"), "{text}");

        let (store, repaired) = Store::repair(&path).await.unwrap();
        assert_hosts_kept(&store, &repaired).await;
        let name = repaired.moved_to.file_name().unwrap().to_string_lossy();
        assert!(name.starts_with("rdesk.sqlite.broken-20"), "{name}");
        store.close().await;
        // The moved file is intact, history and the newer migration included.
        let pool = raw(&repaired.moved_to).await;
        let newest: i64 = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(newest, 9999);
        let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deployments")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(kept, 3);
        pool.close().await;
        Store::open(&path).await.unwrap().close().await;
    }

    #[tokio::test]
    async fn a_file_that_is_not_sqlite_is_refused_and_moved_aside_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rdesk.sqlite");
        let junk = "this is a note, not a database\n".repeat(300);
        std::fs::write(&path, &junk).unwrap();

        let err = Store::open(&path).await.unwrap_err();
        assert!(
            matches!(
                &err,
                StoreError::Unusable {
                    problem: CacheProblem::NotADatabase,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string().contains("is not a SQLite database"),
            "{err}"
        );

        let (store, repaired) = Store::repair(&path).await.unwrap();
        assert!(repaired.hosts.is_empty());
        assert!(repaired.unreadable.is_some());
        assert!(store.hosts().await.unwrap().is_empty());
        assert_eq!(std::fs::read_to_string(&repaired.moved_to).unwrap(), junk);
        store.close().await;
        Store::open(&path).await.unwrap().close().await;
    }

    #[tokio::test]
    async fn a_damaged_database_is_refused_and_its_hosts_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rdesk.sqlite");
        // Enough history to fill many pages after the hosts' ones.
        filled(&path, 400).await;
        let mut bytes = std::fs::read(&path).unwrap();
        let page = usize::from(u16::from_be_bytes([bytes[16], bytes[17]]));
        let pages = bytes.len() / page;
        assert!(pages > 12, "only {pages} pages");
        // The last pages hold deployments: make them garbage.
        for byte in &mut bytes[(pages - 4) * page..] {
            *byte = 0xA5;
        }
        std::fs::write(&path, &bytes).unwrap();

        let err = Store::open(&path).await.unwrap_err();
        let StoreError::Unusable {
            problem: CacheProblem::Damaged { report },
            ..
        } = &err
        else {
            panic!("{err:?}");
        };
        assert!(!report.is_empty());
        assert!(err.to_string().contains("is damaged"), "{err}");

        let (store, repaired) = Store::repair(&path).await.unwrap();
        assert_hosts_kept(&store, &repaired).await;
        store.close().await;
        Store::open(&path).await.unwrap().close().await;
    }

    #[test]
    fn stamps_are_utc_calendar_times() {
        assert_eq!(utc_stamp(0), "19700101T000000Z");
        // 2026-12-03 16:49:23 UTC
        assert_eq!(utc_stamp(1_796_316_563_000), "20261203T164923Z");
        assert_eq!(utc_stamp(951_782_400_000), "20000229T000000Z");
    }
}
