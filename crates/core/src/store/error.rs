//! The one error type of the store: a sentence per case, naming the host or
//! app concerned, with the underlying sqlx or I/O error as its source.

use std::path::PathBuf;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The directory meant to hold the database could not be created.
    #[error("could not create the directory {} for the local database", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },

    /// The database file could not be opened or created.
    #[error("could not open the local database at {}", path.display())]
    Open { path: PathBuf, source: sqlx::Error },

    /// The database file cannot be used as it is: newer, not SQLite, or damaged.
    #[error(
        "the local database at {} {problem}; `rdesk repair-cache` (or Repair in the window) \
         moves it aside, renamed with the time and never deleted, and starts a new one: the \
         hosts, their pinned keys and which secrets the keyring holds for them are copied \
         when they can still be read, each host's apps come back from its labels, and the \
         deploy and status history and metrics stay in the moved file; the keyring is not \
         touched",
        path.display()
    )]
    Unusable {
        path: PathBuf,
        problem: super::CacheProblem,
    },

    /// An unusable database could not be moved aside.
    #[error("could not move the unusable local database at {} aside", path.display())]
    MoveAside {
        path: PathBuf,
        source: std::io::Error,
    },

    /// The embedded migrations could not be applied.
    #[error("could not bring the local database at {} up to date", path.display())]
    Migrate {
        path: PathBuf,
        source: sqlx::migrate::MigrateError,
    },

    /// [`Store::add_host`](super::Store::add_host) with a name already taken.
    #[error("a host named {name:?} already exists")]
    HostExists { name: String },

    /// An operation on a host that is not in the store.
    #[error("host {node:?} is already a worker of cluster {cluster:?}")]
    InCluster { node: String, cluster: String },
    #[error("no host named {name:?} is known")]
    HostNotFound { name: String },

    /// A host record that cannot be saved as given.
    #[error("host {name:?} cannot be saved: {reason}")]
    InvalidHost { name: String, reason: &'static str },

    /// A host key line that is not one OpenSSH known_hosts line.
    #[error("the host key to pin for host {host:?} is not a known_hosts line: {reason}")]
    InvalidHostKey { host: String, reason: &'static str },

    /// [`Store::replace_apps`](super::Store::replace_apps) was given an app
    /// of another host.
    #[error(
        "app {slug:?} belongs to host {app_host:?}, not to {host:?} whose apps are being replaced"
    )]
    HostMismatch {
        host: String,
        app_host: String,
        slug: String,
    },

    /// A stored row could not be turned back into a record.
    #[error("the stored {what} is unreadable: {reason}")]
    Corrupt { what: String, reason: String },

    /// Any other database failure, with what was being done.
    #[error("the local database failed to {action}")]
    Database { action: String, source: sqlx::Error },
}

impl StoreError {
    /// Wraps a sqlx error with a description of the action, e.g.
    /// `read app "web" of host "vps1"`.
    pub(crate) fn db(action: impl Into<String>, source: sqlx::Error) -> StoreError {
        StoreError::Database {
            action: action.into(),
            source,
        }
    }
}

/// Whether `err` is a foreign key violation, i.e. a row naming a host that is
/// not in `hosts`.
pub(crate) fn is_foreign_key_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_foreign_key_violation())
}

/// The error of a write of a row that belongs to `host`: the host's absence
/// (a foreign key violation) as [`StoreError::HostNotFound`], anything else
/// as a failure to do `action`.
pub(crate) fn host_row_write(
    host: &str,
    action: impl Into<String>,
    err: sqlx::Error,
) -> StoreError {
    if is_foreign_key_violation(&err) {
        StoreError::HostNotFound {
            name: host.to_owned(),
        }
    } else {
        StoreError::db(action, err)
    }
}

/// Whether `err` is a primary key or unique violation.
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}
