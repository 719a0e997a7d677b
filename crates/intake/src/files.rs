//! Intake of loose files: one or several files given directly, taken flat by
//! file name (`/home/me/a/app.R` becomes `app.R`). At least one must be R code.
//! Two files with the same name are refused, whatever folders they came from.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::collector::{Collector, TopFolder};
use super::names::{check_component, is_junk_name};
use super::source::is_r_path;
use super::{IntakeError, Limits};

pub(crate) fn collect(paths: &[PathBuf], limits: &Limits) -> Result<super::AppSource, IntakeError> {
    let mut c = Collector::new(limits);
    for path in paths {
        let Some(name) = path.file_name() else {
            return Err(IntakeError::UnsupportedFileType { path: path.clone() });
        };
        let Some(name) = name.to_str() else {
            return Err(IntakeError::NonUtf8Path {
                entry: name.to_string_lossy().into_owned(),
            });
        };
        c.note_entry(name)?;
        check_component(name, name)?;
        if is_junk_name(name) {
            c.skip(name.to_owned());
            continue;
        }
        let (contents, executable) = read_file(&c, path, name)?;
        c.add(name.to_owned(), contents, executable)?;
    }
    let hint = paths
        .iter()
        .find(|p| p.to_str().is_some_and(is_r_path))
        .or(paths.first())
        .and_then(|p| p.file_stem())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let origin = paths.first().map(PathBuf::as_path).unwrap_or(Path::new(""));
    c.finish(hint, TopFolder::Keep, origin)
}

/// Reads one regular file (following symbolic links) through the collector's
/// limits, after [`Collector::precheck`]. `shown` names it in errors.
pub(crate) fn read_file(
    c: &Collector<'_>,
    path: &Path,
    shown: &str,
) -> Result<(Vec<u8>, bool), IntakeError> {
    let file = File::open(path).map_err(|e| IntakeError::io(path, e))?;
    // Checked on the open handle, so what is read is what was checked.
    let meta = file.metadata().map_err(|e| IntakeError::io(path, e))?;
    if !meta.is_file() {
        return Err(IntakeError::SpecialFile {
            entry: shown.to_owned(),
            kind: super::folder::special_kind(&meta.file_type()),
        });
    }
    // The size on disk may refuse a big file without reading it; what is
    // read is still counted.
    c.precheck(shown, Some(meta.len()))?;
    let contents = c.read_limited(shown, &file, |e| IntakeError::io(path, e))?;
    Ok((contents, is_executable(&meta)))
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::super::test_support::write;
    use super::super::{Limits, collect};
    use super::*;

    #[test]
    fn several_r_files_are_taken_flat_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "one/app.R", b"library(shiny)\n");
        let b = write(dir.path(), "two/helpers.r", b"h <- function() 1\n");
        let lock = write(dir.path(), "renv.lock", b"{}");
        let src = collect(&[a, b, lock], &Limits::default()).unwrap();
        let paths: Vec<&str> = src.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["app.R", "helpers.r", "renv.lock"]);
        assert_eq!(src.name_hint, "app");
        assert_eq!(src.total_bytes, 15 + 18 + 2);
        assert_eq!(src.r_files().len(), 2);
    }

    #[test]
    fn one_r_file_is_an_app() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "sales.R", b"f <- function() 1\n");
        let src = collect(&[a], &Limits::default()).unwrap();
        assert_eq!(src.name_hint, "sales");
        assert_eq!(src.files.len(), 1);
        assert!(!src.files[0].executable);
    }

    #[test]
    fn the_same_name_twice_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "one/app.R", b"1");
        let b = write(dir.path(), "two/app.R", b"2");
        assert!(matches!(
            collect(&[a, b], &Limits::default()),
            Err(IntakeError::DuplicatePath { path }) if path == "app.R"
        ));
    }

    #[test]
    fn files_without_r_code_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "data.csv", b"a\n");
        let b = write(dir.path(), "renv.lock", b"{}");
        assert!(matches!(
            collect(&[a.clone(), b], &Limits::default()),
            Err(IntakeError::NoRFiles { path }) if path == a
        ));
    }

    #[test]
    fn loose_files_obey_the_limits() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a.R", &[b'#'; 100]);
        let b = write(dir.path(), "b.R", &[b'#'; 100]);
        let small = Limits {
            max_total_bytes: 150,
            max_file_bytes: 100,
            max_files: 10,
        };
        assert!(matches!(
            collect(&[a.clone(), b.clone()], &small),
            Err(IntakeError::TotalTooLarge { entry, .. }) if entry == "b.R"
        ));
        let tiny = Limits {
            max_file_bytes: 99,
            ..small
        };
        assert!(matches!(
            collect(&[a, b], &tiny),
            Err(IntakeError::FileTooLarge { entry, .. }) if entry == "a.R"
        ));
    }
}
