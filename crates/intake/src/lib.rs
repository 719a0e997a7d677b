//! Intake of app code: turns what the user gives (a folder, one or more files,
//! a `.zip`, a `.tar.gz`/`.tgz` or a `.tar`) into an [`AppSource`], a
//! validated set of files held in memory, and finds the R packages the code
//! uses ([`detect_packages`]) and what they declare about their R
//! environment ([`declared_environment`]). Nothing is ever written to disk here; the
//! spawner builds its Docker build context from the result.
//!
//! Rules, each refused with its own [`IntakeError`] naming the entry:
//! - entry names must be relative, UTF-8, without NUL, control characters,
//!   `..` components, a Windows drive or (outside zips) a backslash; see
//!   `names` for the details;
//! - archives may hold only regular files and folders: symbolic links, hard
//!   links, devices and FIFOs are refused (we cannot know what a link would
//!   point to on the VPS);
//! - in a folder, a symbolic link is followed when it resolves inside the
//!   folder (its target's contents are taken in under the link's own path),
//!   and refused when it points outside, is broken, or loops back into one of
//!   its parent folders; devices, FIFOs and sockets are refused;
//! - two entries with the same normalized path, or a path that is both a file
//!   and a folder, are refused;
//! - [`Limits`] are enforced on the bytes actually read, never on sizes an
//!   archive declares (a declared size over the per-file limit is refused
//!   early, a smaller one is not believed); a tar stream as a whole may expand
//!   to at most [`Limits::max_expanded_bytes`], and an input may hold at most
//!   [`Limits::max_entries`] entries of any kind;
//! - corrupt or truncated archives, unsupported file types, missing paths and
//!   inputs without any `.R`/`.r` file are refused.
//!
//! Junk (`.git/`, `__MACOSX/`, `.DS_Store`, `.Rproj.user/`, `.Rhistory`,
//! `.RData`, `.Renviron`, `.Rprofile`, renv's own `renv/` folder, editor
//! backups...) is skipped
//! silently and listed in [`AppSource::skipped`]. Empty folders are dropped.
//! When every file of an archive sits under one top-level folder, that folder
//! is stripped and becomes the [`AppSource::name_hint`].

mod collector;
mod dcf;
mod declared;
mod error;
mod files;
mod folder;
mod names;
mod packages;
mod rlex;
mod source;
mod tarball;
#[cfg(test)]
mod test_support;
mod zipfile;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub use declared::{APT_FILE, Declared, Lock, LockedPackage, declared_environment};
pub use error::IntakeError;
pub use packages::{detect_packages, is_built_in};
pub use source::{AppSource, SourceFile};

/// Default for [`Limits::max_total_bytes`]: 64 MiB.
pub const DEFAULT_MAX_TOTAL_BYTES: u64 = 64 * 1024 * 1024;
/// Default for [`Limits::max_file_bytes`]: 16 MiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// Default for [`Limits::max_files`].
pub const DEFAULT_MAX_FILES: usize = 5000;

/// How much an app may hold. Counted on the bytes actually read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// All kept files together.
    pub max_total_bytes: u64,
    /// Any one file.
    pub max_file_bytes: u64,
    /// Number of kept files (junk and folders do not count).
    pub max_files: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_total_bytes: DEFAULT_MAX_TOTAL_BYTES,
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            max_files: DEFAULT_MAX_FILES,
        }
    }
}

impl Limits {
    /// Entries of any kind (files, folders, skipped junk, archive metadata)
    /// an input may hold: four times [`Self::max_files`].
    pub fn max_entries(&self) -> usize {
        self.max_files.saturating_mul(4)
    }

    /// How far a tar stream may expand in total, headers and skipped junk
    /// included: four times [`Self::max_total_bytes`]. (A zip's skipped
    /// entries are never decompressed, so this applies to tar only.)
    pub fn max_expanded_bytes(&self) -> u64 {
        self.max_total_bytes.saturating_mul(4)
    }
}

/// What one given path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    Folder,
    Archive(ArchiveKind),
    RFile,
    OtherFile,
}

/// The archive formats taken in, recognised by file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArchiveKind {
    Zip,
    TarGz,
    Tar,
}

/// Takes in an app's code: one folder, one archive (`.zip`, `.tar.gz`,
/// `.tgz`, `.tar`), or one or several files taken flat by file name (at
/// least one of them a `.R` file; the others, say `renv.lock` or a data
/// file, come along). Symbolic links given here directly are followed.
pub fn collect(paths: &[PathBuf], limits: &Limits) -> Result<AppSource, IntakeError> {
    let Some(first) = paths.first() else {
        return Err(IntakeError::NoInput);
    };
    let kinds = paths
        .iter()
        .map(|p| classify(p))
        .collect::<Result<Vec<_>, _>>()?;
    match kinds.as_slice() {
        [Input::Folder] => folder::collect(first, limits),
        [Input::Archive(kind)] => match kind {
            ArchiveKind::Zip => zipfile::collect(first, limits),
            ArchiveKind::TarGz | ArchiveKind::Tar => tarball::collect(first, *kind, limits),
        },
        [Input::OtherFile] => Err(IntakeError::UnsupportedFileType {
            path: first.clone(),
        }),
        _ => {
            if let Some(i) = kinds
                .iter()
                .position(|k| matches!(k, Input::Folder | Input::Archive(_)))
            {
                return Err(IntakeError::MixedInput {
                    path: paths[i].clone(),
                });
            }
            files::collect(paths, limits)
        }
    }
}

fn classify(path: &Path) -> Result<Input, IntakeError> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(IntakeError::NotFound {
                path: path.to_owned(),
            });
        }
        Err(e) => return Err(IntakeError::io(path, e)),
    };
    if meta.is_dir() {
        return Ok(Input::Folder);
    }
    if !meta.is_file() {
        return Err(IntakeError::SpecialFile {
            entry: path.display().to_string(),
            kind: folder::special_kind(&meta.file_type()),
        });
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    Ok(if let Some(kind) = archive_kind(&name) {
        Input::Archive(kind)
    } else if name.ends_with(".r") {
        Input::RFile
    } else {
        Input::OtherFile
    })
}

/// The archive kind of a lower-cased file name.
fn archive_kind(name: &str) -> Option<ArchiveKind> {
    if name.ends_with(".zip") {
        Some(ArchiveKind::Zip)
    } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        Some(ArchiveKind::TarGz)
    } else if name.ends_with(".tar") {
        Some(ArchiveKind::Tar)
    } else {
        None
    }
}

/// An archive's file name without its archive extension(s).
fn archive_stem(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lower = name.to_lowercase();
    for ext in [".tar.gz", ".tgz", ".zip", ".tar"] {
        if lower.ends_with(ext) {
            return name[..name.len() - ext.len()].to_owned();
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[test]
    fn nothing_given_or_missing_paths_are_refused() {
        assert!(matches!(
            collect(&[], &Limits::default()),
            Err(IntakeError::NoInput)
        ));
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = collect(std::slice::from_ref(&missing), &Limits::default()).unwrap_err();
        assert!(matches!(&err, IntakeError::NotFound { path } if *path == missing));
        assert!(err.to_string().contains("nope"));
    }

    #[test]
    fn unsupported_file_types_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["app.rar", "app.7z", "notes.txt", "app.tar.xz"] {
            let path = write(dir.path(), name, b"Rar!\x1a\x07\x00");
            let err = collect(&[path], &Limits::default()).unwrap_err();
            assert!(
                matches!(&err, IntakeError::UnsupportedFileType { path } if path.ends_with(name)),
                "{name}: {err}"
            );
            assert!(err.to_string().contains(name));
        }
    }

    #[test]
    fn folders_and_archives_do_not_mix_with_other_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let r = write(dir.path(), "app.R", b"f <- function() 1\n");
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let zip = write(dir.path(), "x.zip", &zip_bytes(&[("a.R", b"1")]));
        for other in [sub, zip] {
            let err = collect(&[r.clone(), other.clone()], &Limits::default()).unwrap_err();
            assert!(matches!(&err, IntakeError::MixedInput { path } if *path == other));
        }
    }

    #[test]
    fn archive_stems() {
        assert_eq!(archive_stem(Path::new("/x/My App.tar.gz")), "My App");
        assert_eq!(archive_stem(Path::new("a.TGZ")), "a");
        assert_eq!(archive_stem(Path::new("a.b.zip")), "a.b");
        assert_eq!(archive_kind("a.tar.gz"), Some(ArchiveKind::TarGz));
        assert_eq!(archive_kind("a.gz"), None);
    }

    #[test]
    fn limits_default_as_documented() {
        let l = Limits::default();
        assert_eq!(l.max_total_bytes, 64 << 20);
        assert_eq!(l.max_file_bytes, 16 << 20);
        assert_eq!(l.max_files, 5000);
        assert_eq!(l.max_entries(), 20_000);
        assert_eq!(l.max_expanded_bytes(), 256 << 20);
    }

    /// Archives written by the real tools (GNU tar in its pax and gnu
    /// formats, Info-ZIP, git archive with its PAX global header) read back
    /// as the folder they were made from. Skipped when a tool is missing.
    #[test]
    fn archives_from_real_tools_match_the_folder() {
        use std::process::Command;
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("myapp");
        let long = format!("R/{}/deep.R", "nested".repeat(20));
        write(&app, "app.R", b"library(dplyr)\nf <- function(x) x\n");
        write(&app, &long, b"d <- 1\n");
        write(&app, "data/\u{e9}t\u{e9}.csv", b"a,b\n1,2\n");
        write(&app, ".Rhistory", b"q()\n");
        let folder = collect(std::slice::from_ref(&app), &Limits::default()).unwrap();
        assert_eq!(folder.files.len(), 3);

        let run = |program: &str, args: &[&str], cwd: &Path| {
            Command::new(program)
                .args(args)
                .current_dir(cwd)
                .output()
                .is_ok_and(|o| o.status.success())
        };
        let mut made = vec![];
        for (name, args) in [
            ("pax.tar.gz", vec!["--format=pax", "-czf"]),
            ("gnu.tgz", vec!["--format=gnu", "-czf"]),
            ("plain.tar", vec!["--format=pax", "-cf"]),
        ] {
            let out = dir.path().join(name);
            let out_s = out.to_string_lossy().into_owned();
            let mut all = args.clone();
            all.extend([out_s.as_str(), "myapp"]);
            if run("tar", &all, dir.path()) {
                made.push(out);
            }
        }
        let zip_out = dir.path().join("info.zip");
        if run(
            "zip",
            &["-qr", &zip_out.to_string_lossy(), "myapp"],
            dir.path(),
        ) {
            made.push(zip_out);
        }
        let git_out = dir.path().join("git.tar.gz");
        let git_ok = run("git", &["init", "-q"], &app)
            && run("git", &["add", "-A"], &app)
            && run(
                "git",
                &[
                    "-c",
                    "user.name=t",
                    "-c",
                    "user.email=t@example.com",
                    "commit",
                    "-qm",
                    "x",
                ],
                &app,
            )
            && run(
                "git",
                &[
                    "archive",
                    "--format=tar.gz",
                    "--prefix=myapp/",
                    "-o",
                    &git_out.to_string_lossy(),
                    "HEAD",
                ],
                &app,
            );
        if git_ok {
            made.push(git_out);
        }
        if made.is_empty() {
            eprintln!("no archiving tool found; skipped");
        }
        for archive in made {
            let src = collect(std::slice::from_ref(&archive), &Limits::default())
                .unwrap_or_else(|e| panic!("{}: {e}", archive.display()));
            assert_eq!(src.name_hint, "myapp", "{}", archive.display());
            assert_eq!(src.files, folder.files, "{}", archive.display());
            assert_eq!(src.files, folder.files);
        }
    }

    /// Intake never writes: malicious and valid archives alike leave the
    /// temporary folder they sit in exactly as it was, and nothing appears
    /// where `..` or absolute entries point.
    #[test]
    fn nothing_is_written_anywhere() {
        let outer = tempfile::tempdir().unwrap();
        let work = outer.path().join("work");
        std::fs::create_dir(&work).unwrap();
        let unique = format!("rdesk-intake-escape-{}", std::process::id());
        let escape_abs = std::env::temp_dir().join(&unique);
        let evil_tar = tar_gz(&[
            raw_file(b"app.R", b"f <- function() 1\n"),
            raw_file(format!("../../{unique}").as_bytes(), b"pwned"),
        ]);
        let evil_abs = tar_gz(&[
            raw_file(b"app.R", b"f <- function() 1\n"),
            raw_file(escape_abs.to_string_lossy().as_bytes(), b"pwned"),
        ]);
        let evil_link = tar_gz(&[raw_symlink(
            b"app.R",
            escape_abs.to_string_lossy().as_bytes(),
        )]);
        let evil_zip = zip_bytes(&[("app.R", b"1"), (&format!("../{unique}"), b"pwned")]);
        let good_tar = tar_gz(&[raw_file(b"top/app.R", b"f <- function() 1\n")]);
        let good_zip = zip_bytes(&[("top/app.R", b"f <- function() 1\n")]);
        let inputs = [
            write(&work, "evil.tar.gz", &evil_tar),
            write(&work, "abs.tgz", &evil_abs),
            write(&work, "link.tgz", &evil_link),
            write(&work, "evil.zip", &evil_zip),
            write(&work, "good.tar.gz", &good_tar),
            write(&work, "good.zip", &good_zip),
        ];
        let before = snapshot(outer.path());
        let mut oks = 0;
        for input in &inputs {
            if collect(std::slice::from_ref(input), &Limits::default()).is_ok() {
                oks += 1;
            }
        }
        collect(std::slice::from_ref(&work), &Limits::default()).unwrap_err();
        assert_eq!(oks, 2);
        assert_eq!(snapshot(outer.path()), before);
        assert!(!escape_abs.exists());
        assert!(!outer.path().join(&unique).exists());
        assert!(!Path::new("..").join(&unique).exists());
        assert!(!Path::new("../..").join(&unique).exists());
    }
}
