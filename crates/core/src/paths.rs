//! Where Rserve Desk keeps its files on the workstation: the data directory
//! (SQLite cache) and private runtime directories for forwarded sockets, and
//! keeping both private: directories 0700 and files 0600, owned by the user.

use std::fs::{self, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
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

/// Environment variable that overrides the log directory.
pub const LOG_DIR_ENV: &str = "RDESK_LOG_DIR";

/// The desktop app's log directory: `$RDESK_LOG_DIR`, else the platform's
/// state directory (`$XDG_STATE_HOME/rserve-desk/logs`, by default
/// `~/.local/state/rserve-desk/logs`) on Linux, `~/Library/Logs/rserve-desk`
/// on macOS.
pub fn log_dir() -> PathBuf {
    std::env::var_os(LOG_DIR_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| dirs::state_dir().map(|d| d.join("rserve-desk").join("logs")))
        .or_else(|| dirs::home_dir().map(|h| h.join("Library/Logs/rserve-desk")))
        .unwrap_or_else(|| data_dir().join("logs"))
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

/// This process's effective user id: the owner of a file it creates (std
/// has no `geteuid`, and this crate forbids unsafe code).
pub fn effective_uid() -> io::Result<u32> {
    Ok(tempfile::tempfile()?.metadata()?.uid())
}

/// Whether `meta` is a directory (not a link to one) of user `uid` that only
/// that user may enter: mode 0700.
pub fn is_private_dir(meta: &fs::Metadata, uid: u32) -> bool {
    meta.file_type().is_dir() && meta.uid() == uid && meta.mode() & 0o777 == 0o700
}

/// Makes `dir` a private directory: created 0700 (with any missing
/// parents) when missing; an existing one of this user is set to 0700 (an
/// install from before this rule); one that belongs to another user, or a
/// link, is refused.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let meta = fs::symlink_metadata(dir)?;
    if !meta.file_type().is_dir() {
        return Err(io::Error::other(format!(
            "{} is not a directory (a link or a file)",
            dir.display()
        )));
    }
    if meta.uid() != effective_uid()? {
        return Err(io::Error::other(format!(
            "{} belongs to another user (uid {})",
            dir.display(),
            meta.uid()
        )));
    }
    if meta.mode() & 0o777 != 0o700 {
        fs::set_permissions(dir, Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Makes `file` exist with mode 0600, creating it empty when missing and
/// setting an existing one to 0600; a link or anything but a plain file is
/// refused (it sits in a private directory, so nobody else can swap it).
pub fn ensure_private_file(file: &Path) -> io::Result<()> {
    match fs::symlink_metadata(file) {
        Ok(meta) if !meta.file_type().is_file() => Err(io::Error::other(format!(
            "{} is not a plain file (a link or a directory)",
            file.display()
        ))),
        Ok(meta) if meta.mode() & 0o777 != 0o600 => {
            fs::set_permissions(file, Permissions::from_mode(0o600))
        }
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(file)
            .map(drop),
        Err(e) => Err(e),
    }
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

    #[test]
    fn private_dirs_are_created_0700_and_old_ones_tightened() {
        let base = tempfile::tempdir().unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().mode() & 0o777;
        let fresh = base.path().join("a").join("data");
        ensure_private_dir(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o700);
        let old = base.path().join("old");
        fs::create_dir(&old).unwrap();
        fs::set_permissions(&old, Permissions::from_mode(0o755)).unwrap();
        ensure_private_dir(&old).unwrap();
        assert_eq!(mode(&old), 0o700);
        let uid = effective_uid().unwrap();
        assert!(is_private_dir(&fs::symlink_metadata(&old).unwrap(), uid));

        let link = base.path().join("link");
        std::os::unix::fs::symlink(&old, &link).unwrap();
        let err = ensure_private_dir(&link).unwrap_err();
        assert!(err.to_string().contains("not a directory"), "{err}");
    }

    #[test]
    fn private_files_are_0600_and_links_refused() {
        let base = tempfile::tempdir().unwrap();
        let file = base.path().join("db");
        ensure_private_file(&file).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(&file), 0o600);
        fs::write(&file, b"kept").unwrap();
        fs::set_permissions(&file, Permissions::from_mode(0o644)).unwrap();
        ensure_private_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(fs::read(&file).unwrap(), b"kept", "never truncated");

        let link = base.path().join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(ensure_private_file(&link).is_err());
    }

    #[test]
    fn the_effective_uid_owns_what_this_process_makes() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            fs::metadata(dir.path()).unwrap().uid(),
            effective_uid().unwrap()
        );
    }
}
