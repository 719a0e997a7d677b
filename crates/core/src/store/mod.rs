//! The local SQLite cache and history of Rserve Desk.
//!
//! The VPS is the source of truth (design principle 1): the `apps` table is a
//! cache that [`Store::replace_apps`] rebuilds from container labels, so the
//! window can open at once and show the last known state while a host is
//! unreachable. Deployments and status changes are kept as local history, and
//! each host's pinned SSH host key lives here too. Secrets never do.
//!
//! This module owns the database file: opening it (WAL, foreign keys, busy
//! timeout) and the embedded migrations in `crates/core/migrations`. The
//! domain types (`model`) carry no sqlx types; rows are mapped in `rows`.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod action;
mod apps;
mod bootstraps;
mod cluster_nodes;
mod error;
mod health;
mod history;
mod host_repos;
mod host_secrets;
mod hosts;
mod metrics;
mod model;
mod repair;
mod rows;
mod uptime;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::paths;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use action::{DeploymentAction, Outcome};
pub use bootstraps::BootstrapRecord;
pub use error::StoreError;
pub use health::CacheProblem;
pub use metrics::{MetricPoint, MetricSample, MetricSeries, Resolution, RollUp, SAMPLE_SECONDS};
pub use model::{
    AppRecord, DeploymentRecord, GitOrigin, HostKind, HostRecord, NewDeployment, StatusEvent,
};
pub use repair::Repaired;

/// How long a statement waits for another connection's write lock before
/// failing with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections in the pool of a file database. WAL lets readers run beside
/// the one writer.
const MAX_CONNECTIONS: u32 = 4;

/// The migrations of this database, embedded at compile time.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A handle on the local database. Cheap to clone: clones share one pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens the database at `path`, creating its parent directory (0700)
    /// and the file (0600) when missing, and tightening both on an existing
    /// install; applies any pending migrations. A file that is not SQLite,
    /// fails SQLite's quick check or has a migration this build does not
    /// know is [`StoreError::Unusable`].
    pub async fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            paths::ensure_private_dir(parent).map_err(|source| StoreError::CreateDir {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        private_files(path).map_err(|source| StoreError::CreateDir {
            path: path.to_path_buf(),
            source,
        })?;
        let unusable = |problem| StoreError::Unusable {
            path: path.to_path_buf(),
            problem,
        };
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(|source| match health::problem_of(&source) {
                Some(problem) => unusable(problem),
                None => StoreError::Open {
                    path: path.to_path_buf(),
                    source,
                },
            })?;
        let checked = health::quick_check(&pool).await;
        let problem = match checked {
            Ok(problem) => problem,
            Err(source) => {
                pool.close().await;
                return Err(StoreError::Open {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        if let Some(problem) = problem {
            pool.close().await;
            return Err(unusable(problem));
        }
        Self::migrated(pool, path.to_path_buf()).await
    }

    /// Opens a fresh, empty database in memory, for tests. It lives as long
    /// as the returned handle and its clones.
    pub async fn open_in_memory() -> Result<Store, StoreError> {
        let path = PathBuf::from(":memory:");
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(|source| StoreError::Open {
                path: path.clone(),
                source,
            })?
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        // One connection that is never closed: each in-memory connection
        // would otherwise be a database of its own, and vanish when dropped.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                path: path.clone(),
                source,
            })?;
        Self::migrated(pool, path).await
    }

    /// A transaction that reads before it writes: it takes the write lock
    /// up front (`BEGIN IMMEDIATE`, waiting up to [`BUSY_TIMEOUT`]), since a
    /// deferred one whose snapshot another connection wrote past fails at
    /// its first write at once (`SQLITE_BUSY_SNAPSHOT`, which no timeout
    /// waits out).
    async fn write_transaction(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    async fn migrated(pool: SqlitePool, path: PathBuf) -> Result<Store, StoreError> {
        if let Err(source) = MIGRATOR.run(&pool).await {
            pool.close().await;
            return Err(match health::problem_of_migration(&source) {
                Some(problem) => StoreError::Unusable { path, problem },
                None => StoreError::Migrate { path, source },
            });
        }
        Ok(Store { pool })
    }

    /// Closes every connection, checkpointing the WAL into the main file.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Makes the database file private (0600), creating it empty when missing,
/// and sets its `-wal` and `-shm` files to 0600 when an earlier install left
/// them wider (SQLite creates them with the database file's mode).
fn private_files(path: &Path) -> std::io::Result<()> {
    paths::ensure_private_file(path)?;
    for suffix in ["-wal", "-shm"] {
        let mut companion = path.as_os_str().to_owned();
        companion.push(suffix);
        let companion = PathBuf::from(companion);
        if companion.exists() {
            paths::ensure_private_file(&companion)?;
        }
    }
    Ok(())
}

/// The current time in unix milliseconds, the unit of every timestamp here.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
pub(crate) mod test_support;

#[cfg(test)]
mod tests {
    use super::test_support::{app, host};
    use super::*;

    #[tokio::test]
    async fn file_store_uses_wal_and_keeps_data_on_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir
            .path()
            .join("nested")
            .join("deeper")
            .join("rdesk.sqlite");

        let store = Store::open(&path).await.unwrap();
        assert!(path.exists(), "database file created with its parent dirs");
        store.add_host(host("vps1")).await.unwrap();
        store.upsert_app(app("vps1", "web")).await.unwrap();
        store
            .pin_host_key("vps1", "vps1.example ssh-ed25519 AAAAC3Nza")
            .await
            .unwrap();

        let wal = path.with_file_name("rdesk.sqlite-wal");
        assert!(wal.exists(), "WAL file appears after a write");
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(fk, 1);
        store.close().await;
        drop(store);

        // Reopening runs the migrator again: nothing to do, data intact.
        let store = Store::open(&path).await.unwrap();
        assert_eq!(store.hosts().await.unwrap(), vec![host("vps1")]);
        assert_eq!(
            store.app("vps1", "web").await.unwrap(),
            Some(app("vps1", "web"))
        );
        assert_eq!(
            store.pinned_host_key("vps1").await.unwrap().as_deref(),
            Some("vps1.example ssh-ed25519 AAAAC3Nza")
        );
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(applied, i64::try_from(MIGRATOR.iter().count()).unwrap());
        store.close().await;

        // A third open of the same file also succeeds (idempotent migrations).
        Store::open(&path).await.unwrap().close().await;
    }

    #[tokio::test]
    async fn two_handles_on_one_file_see_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rdesk.sqlite");
        let a = Store::open(&path).await.unwrap();
        let b = Store::open(&path).await.unwrap();
        a.add_host(host("vps1")).await.unwrap();
        assert_eq!(b.host("vps1").await.unwrap(), Some(host("vps1")));
    }

    #[tokio::test]
    async fn in_memory_stores_are_separate_and_migrated() {
        let a = Store::open_in_memory().await.unwrap();
        let b = Store::open_in_memory().await.unwrap();
        a.add_host(host("vps1")).await.unwrap();
        assert!(b.hosts().await.unwrap().is_empty());
        // A clone shares the same database.
        assert_eq!(a.clone().hosts().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn open_fails_clearly_when_the_parent_is_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("not-a-dir");
        std::fs::write(&blocker, b"x").unwrap();
        let err = Store::open(blocker.join("rdesk.sqlite")).await.unwrap_err();
        assert!(matches!(err, StoreError::CreateDir { .. }), "{err:?}");
        assert!(err.to_string().contains("not-a-dir"), "{err}");
    }

    #[tokio::test]
    async fn the_data_dir_is_private_and_the_database_too_also_on_an_old_install() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let base = tempfile::tempdir().unwrap();

        let data = base.path().join("new").join("rserve-desk");
        let path = data.join("rdesk.sqlite");
        let store = Store::open(&path).await.unwrap();
        store.add_host(host("vps1")).await.unwrap();
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&path.with_file_name("rdesk.sqlite-wal")), 0o600);
        assert_eq!(mode(&path.with_file_name("rdesk.sqlite-shm")), 0o600);
        store.close().await;

        // An install from before: everything readable by all.
        let set =
            |p: &Path, m| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
        let store = Store::open(&path).await.unwrap();
        store.add_host(host("vps2")).await.unwrap();
        set(&data, 0o755);
        for file in ["rdesk.sqlite", "rdesk.sqlite-wal", "rdesk.sqlite-shm"] {
            set(&data.join(file), 0o644);
        }
        let again = Store::open(&path).await.unwrap();
        assert_eq!(mode(&data), 0o700);
        for file in ["rdesk.sqlite", "rdesk.sqlite-wal", "rdesk.sqlite-shm"] {
            assert_eq!(mode(&data.join(file)), 0o600, "{file}");
        }
        assert_eq!(again.hosts().await.unwrap().len(), 2);
    }

    #[test]
    fn now_ms_is_plausible() {
        // After 2020-01-01 and in milliseconds, not seconds.
        assert!(now_ms() > 1_577_836_800_000);
    }
}
