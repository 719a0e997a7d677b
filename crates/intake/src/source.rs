//! The result of intake: an app's files in memory, sorted by path. (The hash
//! that identifies the code is the spawner's `AppSpec::code_hash`.)

use std::fmt;

/// One file of an app.
#[derive(Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Relative, `/`-separated, normalized: no empty, `.` or `..` components.
    pub path: String,
    pub contents: Vec<u8>,
    /// Whether any execute bit was set (folder or archive mode); informative,
    /// it does not change the image (files are copied read-only).
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
