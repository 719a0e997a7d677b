//! What a killed run leaves behind: its ssh masters, holding a session to
//! the host until they exit on their own ([`master::LINGER`](super::master::LINGER)
//! after the run's lease closed), and its private directory, which stays. Each run's directory names its owner's pid
//! ([`paths::RUNTIME_OWNER_FILE`]); [`reap_abandoned`] finds the directories
//! whose owner is gone, exits their masters (`ssh -O exit`, then by pid) and
//! removes them. Directories of live runs, any without an owner file, and
//! any that is not a private directory of this user (owned by the user,
//! mode 0700, not a link) are left alone: in a shared `/tmp` another user
//! could plant a directory with our prefix and an owner file to make us
//! act on their sockets.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::process;
use crate::paths;

/// How long one master may take to exit before it is signalled.
const EXIT_GRACE: Duration = Duration::from_secs(3);

/// Cleans up after runs in `base` whose owner process is gone; returns the
/// directories removed. Best effort: what cannot be removed is logged.
pub async fn reap_abandoned(base: &Path) -> Vec<PathBuf> {
    match paths::effective_uid() {
        Ok(uid) => reap_abandoned_of(base, uid).await,
        Err(e) => {
            tracing::warn!("leftovers not cleaned up: this process's user id is unknown: {e}");
            Vec::new()
        }
    }
}

/// [`reap_abandoned`] for the directories of user `uid`.
async fn reap_abandoned_of(base: &Path, uid: u32) -> Vec<PathBuf> {
    let mut reaped = Vec::new();
    let Ok(entries) = std::fs::read_dir(base) else {
        return reaped;
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        let named_ours = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(paths::RUNTIME_DIR_PREFIX));
        if !named_ours {
            continue;
        }
        match std::fs::symlink_metadata(&dir) {
            Ok(meta) if paths::is_private_dir(&meta, uid) => {}
            Ok(meta) if meta.is_dir() || meta.file_type().is_symlink() => {
                tracing::warn!(
                    dir = %dir.display(),
                    "left alone: not a private (0700) directory of this user"
                );
                continue;
            }
            _ => continue,
        }
        let Some(owner) = std::fs::read_to_string(dir.join(paths::RUNTIME_OWNER_FILE))
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())
        else {
            continue;
        };
        if owner == std::process::id() || process::is_alive(owner).await {
            continue;
        }
        for socket in control_sockets(&dir) {
            exit_master(&socket).await;
        }
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {
                tracing::info!(dir = %dir.display(), owner, "cleaned up after a run that was killed");
                reaped.push(dir);
            }
            Err(e) => {
                tracing::warn!(dir = %dir.display(), "could not remove a killed run's directory: {e}")
            }
        }
    }
    reaped
}

/// The ssh control sockets one level down: `<run>/<connection>/master`.
fn control_sockets(run: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(run)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("master"))
        .filter(|p| p.exists())
        .collect()
}

async fn exit_master(socket: &Path) {
    let pid = match process::control_check(socket, EXIT_GRACE).await {
        Ok(pid) => pid,
        // Not answering: nothing is listening there any more.
        Err(_) => return,
    };
    let _ = tokio::time::timeout(
        EXIT_GRACE,
        tokio::process::Command::new("ssh")
            .arg("-S")
            .arg(socket)
            .args(["-o", "BatchMode=yes", "-O", "exit", "none"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .status(),
    )
    .await;
    if let Some(pid) = pid
        && let Err(reason) = process::ensure_gone(pid, EXIT_GRACE).await
    {
        tracing::warn!(pid, "a killed run's ssh master: {reason}");
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn run_dir(base: &Path, name: &str, owner: Option<&str>) -> PathBuf {
        let dir = base.join(name);
        std::fs::create_dir_all(dir.join("rdabc123")).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        if let Some(owner) = owner {
            std::fs::write(dir.join(paths::RUNTIME_OWNER_FILE), owner).unwrap();
        }
        dir
    }

    #[tokio::test]
    async fn only_directories_of_runs_that_are_gone_are_removed() {
        let base = tempfile::tempdir().unwrap();
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        let gone_pid = gone.id();
        gone.wait().unwrap();
        let dead = run_dir(base.path(), "rdesk-dead", Some(&format!("{gone_pid}\n")));
        let mine = run_dir(
            base.path(),
            "rdesk-mine",
            Some(&std::process::id().to_string()),
        );
        let unowned = run_dir(base.path(), "rdesk-unowned", None);
        let garbled = run_dir(base.path(), "rdesk-garbled", Some("not a pid"));
        let other = run_dir(base.path(), "something-else", Some(&gone_pid.to_string()));

        assert_eq!(reap_abandoned(base.path()).await, vec![dead.clone()]);
        assert!(!dead.exists());
        for kept in [mine, unowned, garbled, other] {
            assert!(kept.exists(), "{}", kept.display());
        }
        assert!(
            reap_abandoned(&base.path().join("missing"))
                .await
                .is_empty()
        );
    }

    /// A run that is gone, in a directory that must not be trusted.
    #[tokio::test]
    async fn directories_not_private_to_this_user_are_left_alone() {
        let base = tempfile::tempdir().unwrap();
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        let gone_pid = gone.id().to_string();
        gone.wait().unwrap();
        let uid = paths::effective_uid().unwrap();

        let open = run_dir(base.path(), "rdesk-open", Some(&gone_pid));
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        let theirs = run_dir(base.path(), "rdesk-theirs", Some(&gone_pid));
        let elsewhere = tempfile::tempdir().unwrap();
        let target = run_dir(elsewhere.path(), "rdesk-target", Some(&gone_pid));
        let link = base.path().join("rdesk-link");
        std::os::unix::fs::symlink(&target, &link).unwrap();

        // Seen as another user, even the private directory is not ours.
        assert!(reap_abandoned_of(base.path(), uid + 1).await.is_empty());
        assert!(theirs.exists());
        // As ourselves: only the private one goes; the 0755 one and the
        // link (and what it points to) stay.
        assert_eq!(reap_abandoned_of(base.path(), uid).await, vec![theirs]);
        assert!(open.exists());
        assert!(link.exists() && target.exists());
    }
}
