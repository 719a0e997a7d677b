//! Entry names: turning a raw name from an archive or a folder into a safe,
//! relative, `/`-separated path, and recognising junk that is skipped.
//!
//! A name is refused (never repaired) when it holds a NUL byte, is not UTF-8,
//! holds a control character, is absolute, starts with a Windows drive
//! (`C:`), has a `..` component, or is too long. Backslashes are refused in
//! tar archives and folders; in zip archives they are read as separators
//! (Windows PowerShell 5 writes zips that way) and the parts are then checked
//! like any other, so `..\..\x` is still refused. Empty and `.` components are
//! dropped, so `./a//b` is `a/b`.

use super::IntakeError;

/// Longest accepted path, in bytes (Linux's `PATH_MAX`).
const MAX_PATH_BYTES: usize = 4096;
/// Longest accepted path component, in bytes (Linux's `NAME_MAX`).
const MAX_COMPONENT_BYTES: usize = 255;

/// Folders (or files) that are never part of an app, wherever they appear:
/// version control, macOS resource forks, RStudio state and renv's own
/// folder (its library holds workstation binaries, and its `activate.R`
/// would bootstrap renv inside the container; packages come from
/// `renv.lock` instead, see `detect_packages`).
const JUNK_DIRS: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    "__MACOSX",
    ".Rproj.user",
    ".Ruserdata",
    "renv",
];

/// Files that are never part of an app: OS metadata, R session leftovers,
/// and the workstation's R start-up files (`.Renviron` often holds personal
/// tokens that must not be baked into an image; `.Rprofile` would run on the
/// server at start-up and usually activates renv, which is not there).
const JUNK_FILES: &[&str] = &[
    ".Renviron",
    ".Rprofile",
    ".DS_Store",
    ".Rhistory",
    ".RData",
    ".Rapp.history",
    "Thumbs.db",
    "desktop.ini",
];

/// How separators are read in a raw name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backslash {
    /// A backslash is an error (tar archives, folders).
    Refuse,
    /// A backslash separates components, like `/` (zip archives).
    Separator,
}

/// Normalizes a raw entry name. `Ok(None)` means the name is the root itself
/// (`""`, `.`, `./`), which holds nothing to take in.
pub(crate) fn normalize(raw: &[u8], backslash: Backslash) -> Result<Option<String>, IntakeError> {
    let shown = || String::from_utf8_lossy(raw).into_owned();
    if raw.contains(&0) {
        return Err(IntakeError::NulInPath { entry: shown() });
    }
    let Ok(text) = std::str::from_utf8(raw) else {
        return Err(IntakeError::NonUtf8Path { entry: shown() });
    };
    let entry = || text.to_owned();
    if text.chars().any(char::is_control) {
        return Err(IntakeError::ControlCharInPath { entry: entry() });
    }
    if text.len() > MAX_PATH_BYTES {
        return Err(IntakeError::PathTooLong { entry: entry() });
    }
    let unified;
    let text_slash = if text.contains('\\') {
        match backslash {
            Backslash::Refuse => return Err(IntakeError::BackslashInPath { entry: entry() }),
            Backslash::Separator => {
                unified = text.replace('\\', "/");
                unified.as_str()
            }
        }
    } else {
        text
    };
    if text_slash.starts_with('/') {
        return Err(IntakeError::AbsolutePath { entry: entry() });
    }
    let bytes = text_slash.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return Err(IntakeError::WindowsDrivePath { entry: entry() });
    }
    let mut parts = Vec::new();
    for part in text_slash.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(IntakeError::ParentDirInPath { entry: entry() }),
            _ if part.len() > MAX_COMPONENT_BYTES => {
                return Err(IntakeError::PathTooLong { entry: entry() });
            }
            _ => parts.push(part),
        }
    }
    if parts.is_empty() {
        Ok(None)
    } else {
        Ok(Some(parts.join("/")))
    }
}

/// Checks one component of a folder walk (a name `read_dir` gave), as
/// [`normalize`] would with backslashes refused; `shown` is the relative path
/// used in the error.
pub(crate) fn check_component(name: &str, shown: &str) -> Result<(), IntakeError> {
    let entry = || shown.to_owned();
    if name.contains('\0') {
        Err(IntakeError::NulInPath { entry: entry() })
    } else if name.chars().any(char::is_control) {
        Err(IntakeError::ControlCharInPath { entry: entry() })
    } else if name.contains('\\') {
        Err(IntakeError::BackslashInPath { entry: entry() })
    } else if name == ".." || name == "." || name.is_empty() || name.contains('/') {
        Err(IntakeError::ParentDirInPath { entry: entry() })
    } else if name.len() > MAX_COMPONENT_BYTES || shown.len() > MAX_PATH_BYTES {
        Err(IntakeError::PathTooLong { entry: entry() })
    } else {
        Ok(())
    }
}

/// Whether one path component names junk.
pub(crate) fn is_junk_name(name: &str) -> bool {
    JUNK_DIRS.contains(&name)
        || JUNK_FILES.contains(&name)
        // AppleDouble companions (`._app.R`), editor backups and swap files.
        || name.starts_with("._")
        || name.ends_with('~')
        || (name.starts_with('.') && name.ends_with(".swp"))
}

/// If a normalized path is junk, the part of it to report as skipped: the
/// path up to the first junk component, with a trailing `/` when that
/// component is a folder (`.git/`, `sub/__MACOSX/`) or the file itself.
pub(crate) fn junk_prefix(path: &str, is_dir: bool) -> Option<String> {
    let parts: Vec<&str> = path.split('/').collect();
    let at = parts.iter().position(|p| is_junk_name(p))?;
    let mut shown = parts[..=at].join("/");
    if at + 1 < parts.len() || is_dir {
        shown.push('/');
    }
    Some(shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> Option<String> {
        normalize(raw.as_bytes(), Backslash::Refuse).unwrap()
    }

    #[test]
    fn plain_names_are_normalized() {
        assert_eq!(ok("app.R").as_deref(), Some("app.R"));
        assert_eq!(ok("./a//b/./c.R").as_deref(), Some("a/b/c.R"));
        assert_eq!(ok("dir/").as_deref(), Some("dir"));
        assert_eq!(ok("./"), None);
        assert_eq!(ok(""), None);
        assert_eq!(ok("données/été.R").as_deref(), Some("données/été.R"));
        assert_eq!(ok("a..b/..c.R").as_deref(), Some("a..b/..c.R"));
    }

    #[test]
    fn dangerous_names_are_refused_each_with_its_own_error() {
        let err = |raw: &[u8]| normalize(raw, Backslash::Refuse).unwrap_err();
        assert!(matches!(
            err(b"../x.R"),
            IntakeError::ParentDirInPath { .. }
        ));
        assert!(matches!(
            err(b"a/../../x.R"),
            IntakeError::ParentDirInPath { .. }
        ));
        assert!(matches!(err(b"a/.."), IntakeError::ParentDirInPath { .. }));
        assert!(matches!(
            err(b"/etc/passwd"),
            IntakeError::AbsolutePath { .. }
        ));
        assert!(matches!(
            err(b"//server/share"),
            IntakeError::AbsolutePath { .. }
        ));
        assert!(matches!(
            err(b"C:/x.R"),
            IntakeError::WindowsDrivePath { .. }
        ));
        assert!(matches!(
            err(b"c:x.R"),
            IntakeError::WindowsDrivePath { .. }
        ));
        assert!(matches!(
            err(b"..\\x.R"),
            IntakeError::BackslashInPath { .. }
        ));
        assert!(matches!(err(b"a\0b.R"), IntakeError::NulInPath { .. }));
        assert!(matches!(
            err(b"a\nb.R"),
            IntakeError::ControlCharInPath { .. }
        ));
        assert!(matches!(err(b"a\xffb.R"), IntakeError::NonUtf8Path { .. }));
        let long = "a".repeat(MAX_COMPONENT_BYTES + 1);
        assert!(matches!(
            err(long.as_bytes()),
            IntakeError::PathTooLong { .. }
        ));
        // The message names the entry.
        assert!(err(b"../secret.R").to_string().contains("../secret.R"));
    }

    #[test]
    fn zip_backslashes_are_separators_and_still_checked() {
        let zip = |raw: &str| normalize(raw.as_bytes(), Backslash::Separator);
        assert_eq!(zip("app\\R\\x.R").unwrap().as_deref(), Some("app/R/x.R"));
        assert!(matches!(
            zip("..\\..\\evil.R"),
            Err(IntakeError::ParentDirInPath { .. })
        ));
        assert!(matches!(
            zip("C:\\Windows\\x.R"),
            Err(IntakeError::WindowsDrivePath { .. })
        ));
        assert!(matches!(
            zip("\\\\server\\x.R"),
            Err(IntakeError::AbsolutePath { .. })
        ));
    }

    #[test]
    fn junk_is_recognised_anywhere() {
        assert_eq!(junk_prefix(".git/config", false).as_deref(), Some(".git/"));
        assert_eq!(junk_prefix(".git", true).as_deref(), Some(".git/"));
        assert_eq!(
            junk_prefix("__MACOSX/app/._x.R", false).as_deref(),
            Some("__MACOSX/")
        );
        assert_eq!(
            junk_prefix("app/.DS_Store", false).as_deref(),
            Some("app/.DS_Store")
        );
        assert_eq!(
            junk_prefix("app/.Rproj.user/x", false).as_deref(),
            Some("app/.Rproj.user/")
        );
        assert_eq!(
            junk_prefix("renv/library/x/DESCRIPTION", false).as_deref(),
            Some("renv/")
        );
        assert_eq!(junk_prefix("app.R~", false).as_deref(), Some("app.R~"));
        assert_eq!(junk_prefix(".RData", false).as_deref(), Some(".RData"));
        assert_eq!(
            junk_prefix(".Rhistory", false).as_deref(),
            Some(".Rhistory")
        );
        assert_eq!(junk_prefix("app.R", false), None);
        for startup in [".Rprofile", ".Renviron", "sub/.Renviron"] {
            assert_eq!(junk_prefix(startup, false).as_deref(), Some(startup));
        }
        assert_eq!(junk_prefix("renv.lock", false), None);
        assert_eq!(junk_prefix("R/git.R", false), None);
    }

    #[test]
    fn folder_components_are_checked() {
        assert!(check_component("app.R", "app.R").is_ok());
        assert!(matches!(
            check_component("a\\b.R", "x/a\\b.R"),
            Err(IntakeError::BackslashInPath { .. })
        ));
        assert!(matches!(
            check_component("a\tb", "a\tb"),
            Err(IntakeError::ControlCharInPath { .. })
        ));
    }
}
