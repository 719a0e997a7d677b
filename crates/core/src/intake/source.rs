//! The result of intake: an app's files in memory, sorted by path, with the
//! hash that identifies this exact code.

use std::fmt;

use sha2::{Digest, Sha256};

/// One file of an app.
#[derive(Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Relative, `/`-separated, normalized: no empty, `.` or `..` components.
    pub path: String,
    pub contents: Vec<u8>,
    /// Whether any execute bit was set (folder or archive mode); informative,
    /// it is not part of [`AppSource::code_hash`].
    pub executable: bool,
}

impl SourceFile {
    /// Whether this is R code: a `.R` or `.r` file.
    pub fn is_r(&self) -> bool {
        is_r_path(&self.path)
    }
}

impl fmt::Debug for SourceFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SourceFile({}, {} bytes{})",
            self.path,
            self.contents.len(),
            if self.executable { ", executable" } else { "" }
        )
    }
}

pub(crate) fn is_r_path(path: &str) -> bool {
    path.ends_with(".R") || path.ends_with(".r")
}

/// An app's code, validated and held in memory; nothing of it is on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSource {
    /// The folder name, the archive's single top folder or its file stem, or
    /// the first `.R` file's stem: a starting point for a default slug. Raw,
    /// not validated.
    pub name_hint: String,
    /// Sorted by path (byte-wise), without duplicates.
    pub files: Vec<SourceFile>,
    /// Sum of the files' sizes.
    pub total_bytes: u64,
    /// Junk that was left out, sorted: a folder as `.git/`, a file as
    /// `sub/.DS_Store`, relative to the app's root.
    pub skipped: Vec<String>,
}

impl AppSource {
    /// SHA-256, as lower-case hex, of the files' paths and contents in path
    /// order, each field prefixed with its length as a little-endian `u64`.
    /// Neither modification times nor the order of `files` matter. This is
    /// the same framing as the spawner's `AppSpec::code_hash`, so the hash of
    /// what was taken in can be compared with a deployed app's label.
    pub fn code_hash(&self) -> String {
        let mut files: Vec<&SourceFile> = self.files.iter().collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let mut h = Sha256::new();
        for file in files {
            frame(&mut h, file.path.as_bytes());
            frame(&mut h, &file.contents);
        }
        hex::encode(h.finalize())
    }

    /// The R code files (`.R`, `.r`), in path order.
    pub fn r_files(&self) -> Vec<&SourceFile> {
        self.files.iter().filter(|f| f.is_r()).collect()
    }

    /// The file at a normalized path, if any.
    pub fn file(&self, path: &str) -> Option<&SourceFile> {
        self.files
            .binary_search_by(|f| f.path.as_str().cmp(path))
            .ok()
            .and_then(|i| self.files.get(i))
    }
}

fn frame(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, contents: &[u8]) -> SourceFile {
        SourceFile {
            path: path.to_owned(),
            contents: contents.to_vec(),
            executable: false,
        }
    }

    fn source(files: Vec<SourceFile>) -> AppSource {
        AppSource {
            name_hint: "x".into(),
            total_bytes: files.iter().map(|f| f.contents.len() as u64).sum(),
            files,
            skipped: vec![],
        }
    }

    #[test]
    fn code_hash_ignores_order_and_frames_unambiguously() {
        let a = source(vec![file("a.R", b"1"), file("b.R", b"2")]);
        let b = source(vec![file("b.R", b"2"), file("a.R", b"1")]);
        assert_eq!(a.code_hash(), b.code_hash());
        assert_eq!(a.code_hash().len(), 64);
        // Moving bytes between a path and its contents changes the hash.
        let c = source(vec![file("a.R1", b""), file("b.R", b"2")]);
        assert_ne!(a.code_hash(), c.code_hash());
        let d = source(vec![file("a.R", b"12"), file("b.R", b"")]);
        assert_ne!(a.code_hash(), d.code_hash());
        let mut e = a.clone();
        e.files[0].executable = true;
        assert_eq!(a.code_hash(), e.code_hash());
    }

    #[test]
    fn code_hash_matches_the_spawners() {
        let src = source(vec![
            file("R/helpers.R", b"h <- function() 1\n"),
            file("app.R", b"f <- function(x) x + 1\n"),
            file("data/x.csv", b"a,b\n1,2\n"),
        ]);
        let files = src
            .files
            .iter()
            .map(|f| rdesk_spawner::AppFile::new(&f.path, f.contents.clone()).unwrap())
            .collect();
        let spec = rdesk_spawner::AppSpec::new(
            rdesk_spawner::Slug::parse("demo").unwrap(),
            "id".into(),
            rdesk_spawner::RVersion::parse("4.4.1").unwrap(),
            vec![],
            rdesk_spawner::RepoUrl::default(),
            rdesk_spawner::Mode::Ocap,
            files,
        )
        .unwrap();
        assert_eq!(src.code_hash(), spec.code_hash());
    }

    #[test]
    fn r_files_and_lookup() {
        let src = source(vec![
            file("R/a.r", b""),
            file("app.R", b""),
            file("notes.Rmd", b""),
        ]);
        let names: Vec<&str> = src.r_files().iter().map(|f| f.path.as_str()).collect();
        assert_eq!(names, ["R/a.r", "app.R"]);
        assert!(src.file("app.R").is_some());
        assert!(src.file("nope.R").is_none());
    }
}
