//! Where Rserve Desk keeps its files on the workstation: the data directory
//! (SQLite cache) and private runtime directories for forwarded sockets.

use std::path::PathBuf;

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
pub fn database(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("rdesk.sqlite")
}

/// A new private (0700) directory for one run's sockets, removed when dropped.
/// Kept short because Unix socket paths are limited to about 100 bytes.
pub fn private_runtime_dir() -> std::io::Result<tempfile::TempDir> {
    let base = dirs::runtime_dir().unwrap_or_else(std::env::temp_dir);
    tempfile::Builder::new().prefix("rdesk-").tempdir_in(base)
}
