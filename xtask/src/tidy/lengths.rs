//! Source files' lengths: no `.rs` file over [`MAX_LINES`] lines unless
//! [`LONG_FILES`], the one allow-list, says why it may be.

use std::path::Path;

use anyhow::{Context, Result};

/// Lines a source file may have before it must be split or allowed.
pub(super) const MAX_LINES: usize = 600;

/// Where source files are looked for, from the repository's root.
const SOURCE_ROOTS: &[&str] = &["crates", "src-tauri", "app", "xtask", "tests", "fuzz"];

/// Folders never looked into: build output, installed npm packages, the built UI.
const SKIPPED_DIRS: &[&str] = &["target", "node_modules", "dist"];

/// Source files allowed over [`MAX_LINES`] lines, each with why it may be long.
/// An entry whose file is gone or short again is itself a failure: remove it.
pub(super) const LONG_FILES: &[(&str, &str)] = &[
    (
        "crates/core/src/bootstrap/run.rs",
        "one check-then-change function per bootstrap step, in step order",
    ),
    (
        "crates/core/src/bootstrap/commands.rs",
        "the steps' exact command lines, and unit tests asserting each one",
    ),
    (
        "crates/core/src/bootstrap/tests.rs",
        "a test file: the runner's many cases against an in-memory host",
    ),
    (
        "crates/core/src/store/metrics.rs",
        "the three resolutions' writes, roll-ups and queries, a third of it tests",
    ),
    (
        "crates/intake/src/tarball.rs",
        "half of it unit tests: one per kind of hostile archive entry",
    ),
    (
        "crates/qap/src/codec.rs",
        "every SEXP type's encoding and decoding; 29 round-trip tests are 40% of it",
    ),
    (
        "crates/qap/src/client.rs",
        "one connection's whole protocol: greeting, login, OCAP and eval, TCP and WebSocket",
    ),
    (
        "crates/qap/tests/real_rserve.rs",
        "a test file: many cases against a real Rserve",
    ),
    (
        "crates/core/tests/bootstrap.rs",
        "a test file: install-docker.sh run for real in throwaway containers",
    ),
    (
        "crates/core/tests/secrets.rs",
        "a test file: each case sets up its own D-Bus session and keyring",
    ),
    (
        "tests/deploys.rs",
        "a test file: many redeploy cases, each under a client that never stops calling",
    ),
    (
        "tests/desktop.rs",
        "a test file: the real window driven case by case",
    ),
];

/// Long source files not allowed, and allow-list entries no longer needed.
pub(super) fn check_lengths(files: &[(String, usize)], allowed: &[(&str, &str)]) -> Vec<String> {
    let mut failures: Vec<String> = files
        .iter()
        .filter(|(path, lines)| *lines > MAX_LINES && !allowed.iter().any(|(a, _)| a == path))
        .map(|(path, lines)| {
            format!(
                "`{path}` has {lines} lines, over the {MAX_LINES} a source file may have; split it, or add it to LONG_FILES in xtask/src/tidy/lengths.rs with why it may be long."
            )
        })
        .collect();
    for (path, _) in allowed {
        match files.iter().find(|(p, _)| p == path) {
            None => failures.push(format!(
                "`{path}` is on tidy's list of long files but is no longer there; remove it from LONG_FILES in xtask/src/tidy/lengths.rs."
            )),
            Some((_, lines)) if *lines <= MAX_LINES => failures.push(format!(
                "`{path}` is on tidy's list of long files but has only {lines} lines; remove it from LONG_FILES in xtask/src/tidy/lengths.rs."
            )),
            Some(_) => {}
        }
    }
    failures
}

/// Every `.rs` file under the source roots, by path from `repo` with `/`, and its line count.
pub(super) fn source_lengths(repo: &Path) -> Result<Vec<(String, usize)>> {
    fn walk(repo: &Path, dir: &Path, out: &mut Vec<(String, usize)>) -> Result<()> {
        for entry in
            std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?
        {
            let entry = entry?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type()?.is_dir() {
                if !name.starts_with('.') && !SKIPPED_DIRS.contains(&name.as_str()) {
                    walk(repo, &path, out)?;
                }
            } else if name.ends_with(".rs") {
                let bytes = std::fs::read(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let relative = path.strip_prefix(repo).unwrap_or(&path);
                let relative: Vec<String> = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push((relative.join("/"), bytecount_lines(&bytes)));
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    for root in SOURCE_ROOTS {
        let dir = repo.join(root);
        if dir.is_dir() {
            walk(repo, &dir, &mut files)?;
        }
    }
    files.sort();
    Ok(files)
}

/// Lines as `wc -l` counts them.
fn bytecount_lines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|b| **b == b'\n').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_file_is_caught_unless_allowed_and_a_needless_entry_is_too() {
        let files = vec![
            ("crates/core/src/desk.rs".to_owned(), 1224),
            ("crates/qap/src/codec.rs".to_owned(), 601),
            ("xtask/src/tidy.rs".to_owned(), MAX_LINES),
            ("crates/spawner/src/labels.rs".to_owned(), 480),
        ];
        let allowed = [
            ("crates/core/src/desk.rs", "many parts"),
            ("crates/spawner/src/labels.rs", "was long once"),
            ("crates/core/src/gone.rs", "split already"),
        ];
        assert_eq!(
            check_lengths(&files, &allowed),
            [
                "`crates/qap/src/codec.rs` has 601 lines, over the 600 a source file may have; split it, or add it to LONG_FILES in xtask/src/tidy/lengths.rs with why it may be long.",
                "`crates/spawner/src/labels.rs` is on tidy's list of long files but has only 480 lines; remove it from LONG_FILES in xtask/src/tidy/lengths.rs.",
                "`crates/core/src/gone.rs` is on tidy's list of long files but is no longer there; remove it from LONG_FILES in xtask/src/tidy/lengths.rs.",
            ]
        );
    }

    #[test]
    fn source_files_are_found_under_the_roots_and_counted_like_wc() {
        let repo = std::env::temp_dir().join(format!("xtask-tidy-{}", std::process::id()));
        let write = |path: &str, text: &str| {
            let path = repo.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("crates/a/src/lib.rs", "one\ntwo\nthree\n");
        write("crates/a/src/last.rs", "no newline at the end");
        write("crates/target/x.rs", "");
        write("target/debug/build.rs", "\n");
        write("tests/node/node_modules/m/x.rs", "\n");
        write("tests/.hidden/x.rs", "\n");
        write("docs/not_a_root.rs", "\n");
        write("xtask/src/notes.txt", "\n");
        let found = source_lengths(&repo);
        std::fs::remove_dir_all(&repo).unwrap();
        assert_eq!(
            found.unwrap(),
            [
                ("crates/a/src/last.rs".to_owned(), 0),
                ("crates/a/src/lib.rs".to_owned(), 3)
            ]
        );
    }
}
