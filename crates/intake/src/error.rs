//! Why intake refused what it was given: one variant per rule, each naming the
//! offending path or archive entry so the user can fix it.

use std::io;
use std::path::PathBuf;

/// What went wrong while taking in an app's code. Entry names are shown with
/// Rust's debug quoting, so control characters and odd bytes are visible.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntakeError {
    #[error("nothing to take in: give a folder, one or more .R files, a .zip or a .tar.gz")]
    NoInput,
    #[error("{}: no such file or folder", .path.display())]
    NotFound { path: PathBuf },
    #[error("reading {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "{}: unsupported file type; give a folder, .R files, a .zip, a .tar.gz or a .tgz",
        .path.display()
    )]
    UnsupportedFileType { path: PathBuf },
    #[error(
        "{}: give one folder, one archive, or one or more files, not a mix of them",
        .path.display()
    )]
    MixedInput { path: PathBuf },

    #[error("{entry:?}: the path contains a NUL byte")]
    NulInPath { entry: String },
    #[error("{entry:?}: the path is not valid UTF-8")]
    NonUtf8Path { entry: String },
    #[error("{entry:?}: the path contains a control character")]
    ControlCharInPath { entry: String },
    #[error("{entry:?}: the path is absolute; app files must be relative")]
    AbsolutePath { entry: String },
    #[error("{entry:?}: the path goes up with `..`")]
    ParentDirInPath { entry: String },
    #[error("{entry:?}: the path starts with a Windows drive")]
    WindowsDrivePath { entry: String },
    #[error("{entry:?}: the path contains a backslash")]
    BackslashInPath { entry: String },
    #[error("{entry:?}: the path is too long")]
    PathTooLong { entry: String },

    #[error(
        "{entry:?}: symbolic link (to {target:?}) in an archive; archives may hold only files and folders"
    )]
    SymlinkInArchive { entry: String, target: String },
    #[error(
        "{entry:?}: hard link (to {target:?}) in an archive; archives may hold only files and folders"
    )]
    HardlinkInArchive { entry: String, target: String },
    #[error("{entry:?}: symbolic link pointing outside the folder, to {}", .target.display())]
    SymlinkOutside { entry: String, target: PathBuf },
    #[error("{entry:?}: symbolic link that cannot be resolved: {reason}")]
    BrokenSymlink { entry: String, reason: String },
    #[error("{entry:?}: symbolic link back into one of its own parent folders")]
    SymlinkLoop { entry: String },
    #[error("{entry:?}: a {kind}, not a regular file or folder")]
    SpecialFile { entry: String, kind: &'static str },
    #[error("{entry:?}: unsupported archive entry ({kind})")]
    UnsupportedEntry { entry: String, kind: String },
    #[error("{entry:?}: the entry is encrypted; give an archive without a password")]
    EncryptedEntry { entry: String },
    #[error("{path:?}: the same path appears twice")]
    DuplicatePath { path: String },
    #[error("{path:?}: is both a file and a folder")]
    FileFolderConflict { path: String },

    #[error("{entry:?}: the file is larger than the limit of {limit} bytes")]
    FileTooLarge { entry: String, limit: u64 },
    #[error("{entry:?}: with this file the app exceeds the limit of {limit} bytes in total")]
    TotalTooLarge { entry: String, limit: u64 },
    #[error("{entry:?}: with this file the app exceeds the limit of {limit} files")]
    TooManyFiles { entry: String, limit: usize },
    #[error("{entry:?}: too many entries (files, folders and skipped ones), the limit is {limit}")]
    TooManyEntries { entry: String, limit: usize },
    #[error("{}: the archive expands to more than {limit} bytes", .archive.display())]
    ArchiveTooLarge { archive: PathBuf, limit: u64 },
    #[error("{}: corrupt or truncated archive: {detail}", .archive.display())]
    CorruptArchive { archive: PathBuf, detail: String },

    #[error("renv.lock cannot be read: {reason}")]
    Lock { reason: String },
    #[error("{}: no .R file found", .path.display())]
    NoRFiles { path: PathBuf },
}

impl IntakeError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(archive: impl Into<PathBuf>, detail: impl Into<String>) -> Self {
        Self::CorruptArchive {
            archive: archive.into(),
            detail: detail.into(),
        }
    }
}
