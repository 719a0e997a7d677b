//! The accumulator every kind of input feeds: it enforces the limits by
//! counting the bytes actually read (never trusting a declared size), refuses
//! duplicates, records skipped junk, and finally checks the whole set
//! (single top folder stripping, file/folder clashes, at least one `.R` file).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read};
use std::path::Path;

use super::source::{AppSource, SourceFile, is_r_path};
use super::{IntakeError, Limits};

/// Whether to strip a single top-level folder at the end (archives only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TopFolder {
    Keep,
    StripIfSingle,
}

pub(crate) struct Collector<'a> {
    limits: &'a Limits,
    files: BTreeMap<String, SourceFile>,
    skipped: BTreeSet<String>,
    total: u64,
    entries: usize,
}

impl<'a> Collector<'a> {
    pub(crate) fn new(limits: &'a Limits) -> Self {
        Self {
            limits,
            files: BTreeMap::new(),
            skipped: BTreeSet::new(),
            total: 0,
            entries: 0,
        }
    }

    /// Counts one entry of any kind (file, folder, junk, metadata); there may
    /// be at most [`Limits::max_entries`] of them.
    pub(crate) fn note_entry(&mut self, shown: &str) -> Result<(), IntakeError> {
        self.entries += 1;
        let limit = self.limits.max_entries();
        if self.entries > limit {
            return Err(IntakeError::TooManyEntries {
                entry: shown.to_owned(),
                limit,
            });
        }
        Ok(())
    }

    pub(crate) fn skip(&mut self, shown: String) {
        self.skipped.insert(shown);
    }

    /// Checks, before any byte is read, that a file may still be added at
    /// `path`, and that its declared size (when the format has one) is not
    /// already over the per-file limit.
    pub(crate) fn precheck(&self, path: &str, declared: Option<u64>) -> Result<(), IntakeError> {
        if self.files.contains_key(path) {
            return Err(IntakeError::DuplicatePath {
                path: path.to_owned(),
            });
        }
        if self.files.len() >= self.limits.max_files {
            return Err(IntakeError::TooManyFiles {
                entry: path.to_owned(),
                limit: self.limits.max_files,
            });
        }
        if declared.is_some_and(|size| size > self.limits.max_file_bytes) {
            return Err(IntakeError::FileTooLarge {
                entry: path.to_owned(),
                limit: self.limits.max_file_bytes,
            });
        }
        Ok(())
    }

    /// Reads a file's contents, at most up to the per-file limit plus one
    /// byte to notice a file past it, then checks what is left of the total.
    /// The buffer grows with the bytes that actually arrive. A read error goes
    /// through `on_error`, which knows whether it means a corrupt archive or
    /// an unreadable file.
    pub(crate) fn read_limited<R: Read>(
        &self,
        path: &str,
        reader: R,
        on_error: impl FnOnce(io::Error) -> IntakeError,
    ) -> Result<Vec<u8>, IntakeError> {
        let left = self.limits.max_total_bytes.saturating_sub(self.total);
        let mut contents = Vec::new();
        reader
            .take(self.limits.max_file_bytes.saturating_add(1))
            .read_to_end(&mut contents)
            .map_err(on_error)?;
        let read = contents.len() as u64;
        if read > self.limits.max_file_bytes {
            return Err(IntakeError::FileTooLarge {
                entry: path.to_owned(),
                limit: self.limits.max_file_bytes,
            });
        }
        if read > left {
            return Err(IntakeError::TotalTooLarge {
                entry: path.to_owned(),
                limit: self.limits.max_total_bytes,
            });
        }
        Ok(contents)
    }

    /// Adds a file whose contents [`Self::read_limited`] returned.
    pub(crate) fn add(
        &mut self,
        path: String,
        contents: Vec<u8>,
        executable: bool,
    ) -> Result<(), IntakeError> {
        self.precheck(&path, None)?;
        let size = contents.len() as u64;
        let total = self.total.saturating_add(size);
        if size > self.limits.max_file_bytes {
            return Err(IntakeError::FileTooLarge {
                entry: path,
                limit: self.limits.max_file_bytes,
            });
        }
        if total > self.limits.max_total_bytes {
            return Err(IntakeError::TotalTooLarge {
                entry: path,
                limit: self.limits.max_total_bytes,
            });
        }
        self.total = total;
        self.files.insert(
            path.clone(),
            SourceFile {
                path,
                contents,
                executable,
            },
        );
        Ok(())
    }

    /// Checks the whole set and hands it over. `origin` is what the user gave,
    /// named in a "no .R file" error.
    pub(crate) fn finish(
        self,
        mut name_hint: String,
        top: TopFolder,
        origin: &Path,
    ) -> Result<AppSource, IntakeError> {
        let Self {
            mut files,
            mut skipped,
            total,
            ..
        } = self;
        if top == TopFolder::StripIfSingle
            && let Some(folder) = single_top_folder(&files)
        {
            let prefix = format!("{folder}/");
            files = files
                .into_values()
                .filter_map(|mut f| {
                    let rest = f.path.strip_prefix(&prefix)?.to_owned();
                    f.path = rest;
                    Some((f.path.clone(), f))
                })
                .collect();
            skipped = skipped
                .into_iter()
                .map(|s| match s.strip_prefix(&prefix) {
                    Some(rest) => rest.to_owned(),
                    None => s,
                })
                .collect();
            name_hint = folder;
        }
        if let Some(path) = file_folder_clash(&files) {
            return Err(IntakeError::FileFolderConflict { path });
        }
        if !files.keys().any(|p| is_r_path(p)) {
            return Err(IntakeError::NoRFiles {
                path: origin.to_owned(),
            });
        }
        Ok(AppSource {
            name_hint,
            files: files.into_values().collect(),
            total_bytes: total,
            skipped: skipped.into_iter().collect(),
        })
    }
}

/// The first component shared by every file, if every file sits below it.
fn single_top_folder(files: &BTreeMap<String, SourceFile>) -> Option<String> {
    let mut top: Option<&str> = None;
    for path in files.keys() {
        let (first, _) = path.split_once('/')?;
        match top {
            None => top = Some(first),
            Some(t) if t == first => {}
            Some(_) => return None,
        }
    }
    top.map(str::to_owned)
}

/// A path that is a file and also the folder of another file (`R` and
/// `R/x.R`): no file system can hold both.
fn file_folder_clash(files: &BTreeMap<String, SourceFile>) -> Option<String> {
    for path in files.keys() {
        let below = format!("{path}/");
        if files
            .range(below.clone()..)
            .next()
            .is_some_and(|(p, _)| p.starts_with(&below))
        {
            return Some(path.clone());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(file: u64, total: u64, count: usize) -> Limits {
        Limits {
            max_total_bytes: total,
            max_file_bytes: file,
            max_files: count,
        }
    }

    fn read_add(c: &mut Collector<'_>, path: &str, data: &[u8]) -> Result<(), IntakeError> {
        c.precheck(path, None)?;
        let contents = c.read_limited(path, data, |e| IntakeError::io(path, e))?;
        c.add(path.to_owned(), contents, false)
    }

    #[test]
    fn limits_count_bytes_read() {
        let l = limits(10, 15, 3);
        let mut c = Collector::new(&l);
        read_add(&mut c, "a.R", &[b'x'; 10]).unwrap();
        assert!(matches!(
            read_add(&mut c, "b.R", &[b'x'; 11]),
            Err(IntakeError::FileTooLarge { entry, limit: 10 }) if entry == "b.R"
        ));
        assert!(matches!(
            read_add(&mut c, "c.R", &[b'x'; 6]),
            Err(IntakeError::TotalTooLarge { entry, limit: 15 }) if entry == "c.R"
        ));
        read_add(&mut c, "d.R", &[b'x'; 5]).unwrap();
        read_add(&mut c, "e.R", b"").unwrap();
        assert!(matches!(
            read_add(&mut c, "f.R", b""),
            Err(IntakeError::TooManyFiles { limit: 3, .. })
        ));
        assert!(matches!(
            read_add(&mut c, "a.R", b""),
            Err(IntakeError::DuplicatePath { path }) if path == "a.R"
        ));
    }

    #[test]
    fn a_declared_size_over_the_limit_is_refused_before_reading() {
        let l = limits(10, 100, 10);
        let c = Collector::new(&l);
        assert!(matches!(
            c.precheck("big.R", Some(11)),
            Err(IntakeError::FileTooLarge { .. })
        ));
        assert!(c.precheck("ok.R", Some(10)).is_ok());
    }

    #[test]
    fn clashes_and_single_top_folder() {
        let l = Limits::default();
        let mut c = Collector::new(&l);
        read_add(&mut c, "R", b"").unwrap();
        read_add(&mut c, "R/x.R", b"").unwrap();
        assert!(matches!(
            c.finish("n".into(), TopFolder::Keep, Path::new("in")),
            Err(IntakeError::FileFolderConflict { path }) if path == "R"
        ));

        let mut c = Collector::new(&l);
        read_add(&mut c, "R-x.R", b"").unwrap();
        read_add(&mut c, "R/x.R", b"").unwrap();
        let src = c
            .finish("n".into(), TopFolder::StripIfSingle, Path::new("in"))
            .unwrap();
        assert_eq!(src.files.len(), 2);
        assert_eq!(src.name_hint, "n");
    }
}
