//! Where Rserve Desk keeps its files on the workstation: the data directory
//! (SQLite cache) and private runtime directories for forwarded sockets.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Environment variable that overrides the data directory.
pub const DATA_DIR_ENV: &str = "RDESK_DATA_DIR";

/// The data directory: `$RDESK_DATA_DIR`, else the platform's data directory
/// (`~/.local/share/rserve-desk` on Linux, `~/Library/Application Support/rserve-desk` on macOS).
pub fn data_dir() -> PathBuf {
    std::env::var_os(DATA_DIR_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| dirs::data_dir().map(|d| d.join("rserve-desk")))
        .unwrap_or_else(|| PathBuf::from(".rserve-desk"))
}

/// The SQLite file inside a data directory.
pub fn database(data_dir: &Path) -> PathBuf {
    data_dir.join("rdesk.sqlite")
}

/// Longest base directory for sockets: the SSH control and forwarded sockets
/// go two levels below it, and Unix socket paths are limited to about 100 bytes.
const MAX_RUNTIME_BASE: usize = 24;

/// Prefix of the per-run directories in [`runtime_base`].
pub const RUNTIME_DIR_PREFIX: &str = "rdesk-";
/// The file in a per-run directory naming the pid of the process it belongs to.
pub const RUNTIME_OWNER_FILE: &str = "owner.pid";

/// Where per-run socket directories go: `$XDG_RUNTIME_DIR` when it is short
/// enough, else `/tmp` (macOS's per-user temporary directory is too long for
/// socket paths).
pub fn runtime_base() -> PathBuf {
    dirs::runtime_dir()
        .filter(|d| d.as_os_str().len() <= MAX_RUNTIME_BASE)
        .unwrap_or_else(|| PathBuf::from("/tmp"))
}

/// A new private (0700) directory for one run's sockets in [`runtime_base`],
/// removed when dropped. It names this process as its owner, so a later run
/// can clean up after this one if it is killed.
pub fn private_runtime_dir() -> std::io::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix(RUNTIME_DIR_PREFIX)
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in(runtime_base())?;
    std::fs::write(
        dir.path().join(RUNTIME_OWNER_FILE),
        format!("{}\n", std::process::id()),
    )?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_dirs_are_private_short_and_removed() {
        let dir = private_runtime_dir().unwrap();
        let path = dir.path().to_owned();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        assert!(
            path.as_os_str().len() <= MAX_RUNTIME_BASE + 14,
            "{}",
            path.display()
        );
        drop(dir);
        assert!(!path.exists());
    }

    #[test]
    fn the_database_lives_in_the_data_dir() {
        assert_eq!(database(Path::new("/d")), PathBuf::from("/d/rdesk.sqlite"));
    }
}
