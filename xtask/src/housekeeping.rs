//! Keeping the target directory from filling the disk: CI reuses one target
//! directory across runs on the same machine (`.ci/run`), and each run that
//! changes a dependency leaves the previous test executables beside the new
//! ones, tens of gigabytes over a few days. When the disk is short of room,
//! `cargo xtask test` drops what cargo rebuilds anyway: the incremental
//! caches and every executable in `debug/deps` older than the newest of its
//! name.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result};
use nix::sys::statvfs::statvfs;

/// Below this much free space, the target directory is tidied up.
const LOW_ON_SPACE: u64 = 40 << 30;

/// Tidies `target` up when its disk has less than [`LOW_ON_SPACE`] free;
/// says what it freed, or why nothing needed to go.
pub fn tidy_target(target: &Path) -> Result<String> {
    if !target.exists() {
        return Ok("no target directory yet".to_owned());
    }
    let before = free_bytes(target)?;
    if before >= LOW_ON_SPACE {
        return Ok(format!("{} free, nothing to do", gib(before)));
    }
    let debug = target.join("debug");
    remove_dir(&debug.join("incremental"))?;
    for stale in superseded_executables(&debug.join("deps"))? {
        fs::remove_file(&stale).with_context(|| format!("removing {}", stale.display()))?;
    }
    let after = free_bytes(target)?;
    Ok(format!(
        "{} free, was {}: dropped incremental caches and superseded test executables",
        gib(after),
        gib(before)
    ))
}

fn free_bytes(path: &Path) -> Result<u64> {
    let stats =
        statvfs(path).with_context(|| format!("reading the free space of {}", path.display()))?;
    Ok(stats.blocks_available() * stats.fragment_size())
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

fn remove_dir(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// Executables in `deps` (`name-<16 hex digits>`, no extension) that a newer
/// one of the same name has replaced.
fn superseded_executables(deps: &Path) -> Result<Vec<PathBuf>> {
    let Ok(entries) = fs::read_dir(deps) else {
        return Ok(Vec::new());
    };
    let mut by_name: HashMap<String, Vec<(SystemTime, PathBuf)>> = HashMap::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = entry.metadata() else { continue };
        let executable = meta.is_file() && meta.permissions().mode() & 0o111 != 0;
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(crate_name)
        else {
            continue;
        };
        if executable && let Ok(modified) = meta.modified() {
            by_name
                .entry(name.to_owned())
                .or_default()
                .push((modified, path));
        }
    }
    let mut stale = Vec::new();
    for mut builds in by_name.into_values() {
        builds.sort_by_key(|b| std::cmp::Reverse(b.0));
        stale.extend(builds.into_iter().skip(1).map(|(_, path)| path));
    }
    Ok(stale)
}

/// `swarm` of `swarm-f92f6c675737d586`; `None` for anything else (libraries
/// have an extension, build outputs other forms).
fn crate_name(file: &str) -> Option<&str> {
    let (name, hash) = file.rsplit_once('-')?;
    (hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit())).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hashed_names_without_an_extension_are_executables_of_a_crate() {
        assert_eq!(crate_name("swarm-f92f6c675737d586"), Some("swarm"));
        assert_eq!(
            crate_name("rdesk_core-0123456789abcdef"),
            Some("rdesk_core")
        );
        assert_eq!(crate_name("librdesk_core-0123456789abcdef.rlib"), None);
        assert_eq!(crate_name("swarm-f92f6c67"), None);
        assert_eq!(crate_name("swarm"), None);
    }

    #[test]
    fn every_executable_but_the_newest_of_its_name_is_superseded() {
        let dir = tempfile::tempdir().unwrap();
        let make = |name: &str, mode: u32, age_s: u64| {
            let path = dir.path().join(name);
            fs::write(&path, b"x").unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let when = SystemTime::now() - std::time::Duration::from_secs(age_s);
            fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(when)
                .unwrap();
            path
        };
        let old = make("swarm-0000000000000001", 0o755, 300);
        make("swarm-0000000000000002", 0o755, 10);
        make("monitor-0000000000000003", 0o755, 300);
        make("swarm-0000000000000004.d", 0o644, 500);
        make("libswarm-0000000000000005.rlib", 0o644, 600);
        assert_eq!(superseded_executables(dir.path()).unwrap(), vec![old]);
    }
}
