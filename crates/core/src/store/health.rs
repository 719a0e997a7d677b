//! Whether the database file can be used as it is: a SQLite file, intact
//! (`PRAGMA quick_check`), and with no migration this build does not know.
//! What is wrong is a [`CacheProblem`]; [`Store::repair`](super::Store::repair)
//! moves such a file aside.

use serde::Serialize;
use sqlx::SqlitePool;
use sqlx::migrate::MigrateError;

/// SQLite's result codes for a damaged file and for a file that is not a database.
const SQLITE_CORRUPT: &str = "11";
const SQLITE_NOTADB: &str = "26";

/// Why the database file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CacheProblem {
    /// It has a migration this build does not know: a newer Rserve Desk
    /// wrote it (or another build with other migrations).
    #[error(
        "was written by a newer Rserve Desk (its migration {migration} is unknown to this one)"
    )]
    NewerVersion { migration: i64 },
    /// The file is not a SQLite database at all.
    #[error("is not a SQLite database")]
    NotADatabase,
    /// SQLite reports damage: what its check said.
    #[error("is damaged ({report})")]
    Damaged { report: String },
}

/// The problem an error of opening or reading the file shows, if it shows one.
pub(super) fn problem_of(error: &sqlx::Error) -> Option<CacheProblem> {
    let database = error.as_database_error()?;
    match database.code().as_deref() {
        Some(SQLITE_NOTADB) => Some(CacheProblem::NotADatabase),
        Some(SQLITE_CORRUPT) => Some(CacheProblem::Damaged {
            report: database.message().to_owned(),
        }),
        _ => None,
    }
}

/// The problem a failed migration shows, if it shows one.
pub(super) fn problem_of_migration(error: &MigrateError) -> Option<CacheProblem> {
    match error {
        MigrateError::VersionMissing(migration) | MigrateError::VersionMismatch(migration) => {
            Some(CacheProblem::NewerVersion {
                migration: *migration,
            })
        }
        MigrateError::Execute(e) => problem_of(e),
        _ => None,
    }
}

/// Runs SQLite's quick check (the structure of every page and index, in
/// one pass over the file): `Ok(None)` when it says "ok".
pub(super) async fn quick_check(pool: &SqlitePool) -> Result<Option<CacheProblem>, sqlx::Error> {
    let lines: Vec<String> = match sqlx::query_scalar("PRAGMA quick_check(5)")
        .fetch_all(pool)
        .await
    {
        Ok(lines) => lines,
        Err(e) => return problem_of(&e).map(Some).ok_or(e),
    };
    if lines.len() == 1 && lines[0] == "ok" {
        Ok(None)
    } else {
        Ok(Some(CacheProblem::Damaged {
            report: lines.join("; "),
        }))
    }
}
