//! Intake of a folder: walks it (in name order), skipping junk without
//! descending into it, and reads every regular file through the limits.
//!
//! Symbolic links: one that resolves inside the folder is followed, its
//! target's contents taken in under the link's own path (a linked folder is
//! walked like a real one); one that points outside the folder is refused
//! ([`IntakeError::SymlinkOutside`]), as are broken links and links back into
//! one of their own parent folders. Devices, FIFOs and sockets are refused.
//! The folder given itself may be a symbolic link.

use std::fs::{self, FileType};
use std::path::{Path, PathBuf};

use super::collector::{Collector, TopFolder};
use super::files::read_file;
use super::names::{check_component, junk_prefix};
use super::{AppSource, IntakeError, Limits};

pub(crate) fn collect(dir: &Path, limits: &Limits) -> Result<AppSource, IntakeError> {
    let root = fs::canonicalize(dir).map_err(|e| IntakeError::io(dir, e))?;
    let hint = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut walk = Walk {
        root: &root,
        collector: Collector::new(limits),
        ancestors: vec![root.clone()],
    };
    walk.dir(&root, "")?;
    walk.collector.finish(hint, TopFolder::Keep, dir)
}

struct Walk<'a> {
    /// The canonical folder given.
    root: &'a Path,
    collector: Collector<'a>,
    /// Canonical folders from the root down to the one being walked.
    ancestors: Vec<PathBuf>,
}

impl Walk<'_> {
    /// Walks `real` (a canonical folder inside the root) whose relative path
    /// is `rel` (`""` for the root).
    fn dir(&mut self, real: &Path, rel: &str) -> Result<(), IntakeError> {
        let mut entries = fs::read_dir(real)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|e| IntakeError::io(real, e))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let os_name = entry.file_name();
            let shown = join(rel, &os_name.to_string_lossy());
            self.collector.note_entry(&shown)?;
            let Some(name) = os_name.to_str() else {
                return Err(IntakeError::NonUtf8Path { entry: shown });
            };
            check_component(name, &shown)?;
            let path = entry.path();
            let file_type = entry.file_type().map_err(|e| IntakeError::io(&path, e))?;
            if let Some(junk) = junk_prefix(&shown, file_type.is_dir()) {
                self.collector.skip(junk);
                continue;
            }
            if file_type.is_symlink() {
                self.symlink(&path, shown)?;
            } else if file_type.is_dir() {
                self.ancestors.push(path.clone());
                self.dir(&path, &shown)?;
                self.ancestors.pop();
            } else if file_type.is_file() {
                self.file(&path, shown)?;
            } else {
                return Err(IntakeError::SpecialFile {
                    entry: shown,
                    kind: special_kind(&file_type),
                });
            }
        }
        Ok(())
    }

    fn symlink(&mut self, link: &Path, shown: String) -> Result<(), IntakeError> {
        let target = fs::canonicalize(link).map_err(|e| IntakeError::BrokenSymlink {
            entry: shown.clone(),
            reason: e.to_string(),
        })?;
        if !target.starts_with(self.root) {
            return Err(IntakeError::SymlinkOutside {
                entry: shown,
                target,
            });
        }
        let meta = fs::metadata(&target).map_err(|e| IntakeError::io(&target, e))?;
        if meta.is_dir() {
            if self.ancestors.contains(&target) {
                return Err(IntakeError::SymlinkLoop { entry: shown });
            }
            self.ancestors.push(target.clone());
            self.dir(&target, &shown)?;
            self.ancestors.pop();
            Ok(())
        } else if meta.is_file() {
            self.file(&target, shown)
        } else {
            Err(IntakeError::SpecialFile {
                entry: shown,
                kind: special_kind(&meta.file_type()),
            })
        }
    }

    fn file(&mut self, real: &Path, shown: String) -> Result<(), IntakeError> {
        let (contents, executable) = read_file(&self.collector, real, &shown)?;
        self.collector.add(shown, contents, executable)
    }
}

fn join(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_owned()
    } else {
        format!("{rel}/{name}")
    }
}

/// Names a file type that is neither a regular file nor a folder.
#[cfg(unix)]
pub(crate) fn special_kind(file_type: &FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_fifo() {
        "named pipe (FIFO)"
    } else if file_type.is_socket() {
        "socket"
    } else if file_type.is_char_device() {
        "character device"
    } else if file_type.is_block_device() {
        "block device"
    } else if file_type.is_symlink() {
        "symbolic link"
    } else {
        "special file"
    }
}

#[cfg(not(unix))]
pub(crate) fn special_kind(file_type: &FileType) -> &'static str {
    if file_type.is_symlink() {
        "symbolic link"
    } else {
        "special file"
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::{PermissionsExt, symlink};

    use super::super::test_support::{snapshot, write};
    use super::super::{Limits, collect};
    use super::*;

    fn take(dir: &Path) -> Result<AppSource, IntakeError> {
        collect(&[dir.to_owned()], &Limits::default())
    }

    fn app(dir: &Path) -> PathBuf {
        let app = dir.join("myapp");
        write(&app, "app.R", b"library(dplyr)\nf <- function(x) x\n");
        write(&app, "R/helpers.R", b"h <- function() 1\n");
        write(&app, "data/x.csv", b"a,b\n1,2\n");
        app
    }

    #[test]
    fn a_folder_is_taken_in_sorted_with_junk_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        write(&app, ".git/config", b"[core]\n");
        write(&app, ".git/objects/ab/cdef", b"blob");
        write(&app, ".DS_Store", b"\0\0");
        write(&app, "R/.DS_Store", b"\0\0");
        write(&app, ".Rhistory", b"q()\n");
        write(&app, ".RData", b"RDX3");
        write(&app, ".Rproj.user/shared/x", b"{}");
        write(
            &app,
            "renv/library/R-4.4/x/dplyr/DESCRIPTION",
            b"Package: dplyr\n",
        );
        write(&app, "renv/activate.R", b"source('x')\n");
        write(&app, ".Rprofile", b"options(digits = 3)\n");
        write(&app, ".Renviron", b"GITHUB_PAT=not-for-the-server\n");
        let script = write(&app, "run.sh", b"#!/bin/sh\n");
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();

        let before = snapshot(dir.path());
        let src = take(&app).unwrap();
        assert_eq!(snapshot(dir.path()), before);
        let paths: Vec<&str> = src.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["R/helpers.R", "app.R", "data/x.csv", "run.sh"]);
        assert_eq!(
            src.skipped,
            [
                ".DS_Store",
                ".RData",
                ".Renviron",
                ".Rhistory",
                ".Rprofile",
                ".Rproj.user/",
                ".git/",
                "R/.DS_Store",
                "renv/"
            ]
        );
        assert_eq!(src.name_hint, "myapp");
        assert!(src.file("run.sh").unwrap().executable);
        assert!(!src.file("app.R").unwrap().executable);
        assert_eq!(
            src.total_bytes,
            src.files
                .iter()
                .map(|f| f.contents.len() as u64)
                .sum::<u64>()
        );
    }

    #[test]
    fn what_is_taken_in_does_not_depend_on_times_or_location() {
        let one = tempfile::tempdir().unwrap();
        let two = tempfile::tempdir().unwrap();
        let a = take(&app(one.path())).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let b = take(&app(two.path())).unwrap();
        assert_eq!(a.files, b.files);
        write(&app(two.path()), "R/helpers.R", b"h <- function() 2\n");
        assert_ne!(a.files, take(&two.path().join("myapp")).unwrap().files);
    }

    #[test]
    fn a_symlink_pointing_outside_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        let secret = write(dir.path(), "secret.txt", b"password");
        symlink(&secret, app.join("data/leak.txt")).unwrap();
        let err = take(&app).unwrap_err();
        assert!(
            matches!(&err, IntakeError::SymlinkOutside { entry, .. } if entry == "data/leak.txt"),
            "{err}"
        );
        assert!(err.to_string().contains("data/leak.txt"));

        let dir = tempfile::tempdir().unwrap();
        let app = super::tests::app(dir.path());
        symlink("/etc", app.join("etc")).unwrap();
        assert!(matches!(
            take(&app),
            Err(IntakeError::SymlinkOutside { .. })
        ));

        let dir = tempfile::tempdir().unwrap();
        let app = super::tests::app(dir.path());
        symlink("../../", app.join("R/up")).unwrap();
        assert!(matches!(
            take(&app),
            Err(IntakeError::SymlinkOutside { .. })
        ));
    }

    #[test]
    fn symlinks_inside_are_followed_and_loops_refused() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        symlink("helpers.R", app.join("R/alias.R")).unwrap();
        symlink("../data", app.join("R/data")).unwrap();
        let src = take(&app).unwrap();
        assert_eq!(
            src.file("R/alias.R").unwrap().contents,
            src.file("R/helpers.R").unwrap().contents
        );
        assert!(src.file("R/data/x.csv").is_some());

        symlink("..", app.join("R/loop")).unwrap();
        assert!(matches!(
            take(&app),
            Err(IntakeError::SymlinkLoop { entry }) if entry == "R/loop"
        ));
    }

    #[test]
    fn broken_symlinks_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        symlink("nowhere.R", app.join("gone.R")).unwrap();
        assert!(matches!(
            take(&app),
            Err(IntakeError::BrokenSymlink { entry, .. }) if entry == "gone.R"
        ));
    }

    #[test]
    fn junk_symlinks_are_never_looked_at() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        // renv's library links into the global cache, outside the folder.
        fs::create_dir_all(app.join("renv/library")).unwrap();
        symlink("/usr", app.join("renv/library/dplyr")).unwrap();
        assert!(take(&app).is_ok());
    }

    #[test]
    fn sockets_and_fifos_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        let _listener = std::os::unix::net::UnixListener::bind(app.join("data/sock")).unwrap();
        assert!(matches!(
            take(&app),
            Err(IntakeError::SpecialFile { entry, kind: "socket" }) if entry == "data/sock"
        ));

        let dir = tempfile::tempdir().unwrap();
        let app = super::tests::app(dir.path());
        let made = std::process::Command::new("mkfifo")
            .arg(app.join("pipe"))
            .status()
            .is_ok_and(|s| s.success());
        if made {
            assert!(matches!(
                take(&app),
                Err(IntakeError::SpecialFile {
                    kind: "named pipe (FIFO)",
                    ..
                })
            ));
        }
    }

    #[test]
    fn a_folder_without_r_code_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "data.csv", b"a\n");
        write(dir.path(), ".git/x.R", b"1\n");
        assert!(matches!(
            take(dir.path()),
            Err(IntakeError::NoRFiles { .. })
        ));
    }

    #[test]
    fn folder_limits_count_files_and_entries() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..5 {
            write(dir.path(), &format!("f{i}.R"), b"1\n");
        }
        let limits = Limits {
            max_files: 4,
            ..Limits::default()
        };
        assert!(matches!(
            collect(&[dir.path().to_owned()], &limits),
            Err(IntakeError::TooManyFiles { entry, limit: 4 }) if entry == "f4.R"
        ));
        for i in 0..20 {
            fs::create_dir(dir.path().join(format!("d{i}"))).unwrap();
        }
        let limits = Limits {
            max_files: 5,
            ..Limits::default()
        };
        assert!(matches!(
            collect(&[dir.path().to_owned()], &limits),
            Err(IntakeError::TooManyEntries { limit: 20, .. })
        ));
    }

    #[test]
    fn odd_names_in_a_folder_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "app.R", b"1\n");
        write(dir.path(), "a\\b.R", b"1\n");
        assert!(matches!(
            take(dir.path()),
            Err(IntakeError::BackslashInPath { entry }) if entry == "a\\b.R"
        ));
    }

    #[test]
    fn the_folder_given_may_be_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        let link = dir.path().join("current");
        symlink(&app, &link).unwrap();
        let src = take(&link).unwrap();
        assert_eq!(src.name_hint, "myapp");
        assert_eq!(src.files.len(), 3);
    }
}
