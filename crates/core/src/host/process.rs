//! The ssh master as a process: asking it whether it runs (`ssh -O check`)
//! under a timeout that kills the asking process, so a hung master costs
//! the timeout and leaves nothing behind; reading its pid; and making sure
//! it is gone after a close. Only the master this module was told about is
//! ever signalled, by pid, and only while it still is an `ssh` process.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use tokio::time::{Instant, sleep, timeout};

use super::error::{human, ssh_summary};

/// Asks the master behind `control_socket` whether it runs. `Ok` carries
/// its pid when ssh said it; `Err` says why it is not usable.
pub(crate) async fn control_check(
    control_socket: &Path,
    within: Duration,
) -> Result<Option<u32>, String> {
    let mut cmd = Command::new("ssh");
    cmd.arg("-S")
        .arg(control_socket)
        .args(["-o", "BatchMode=yes", "-O", "check", "none"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = match timeout(within, cmd.output()).await {
        Err(_) => {
            return Err(format!(
                "its ssh master did not answer within {}",
                human(within)
            ));
        }
        Ok(Err(e)) => return Err(format!("ssh -O check could not run: {e}")),
        Ok(Ok(output)) => output,
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.success() {
        Ok(master_pid_in(&stderr))
    } else {
        Err(format!("its ssh master is gone ({})", ssh_summary(&stderr)))
    }
}

/// The pid in ssh's "Master running (pid=1234)".
fn master_pid_in(text: &str) -> Option<u32> {
    let rest = text.split_once("(pid=")?.1;
    rest.split_once(')')?.0.parse().ok()
}

/// Whether `pid` is a live process (a zombie counts as gone).
pub(crate) async fn is_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        let Ok(stat) = tokio::fs::read_to_string(format!("/proc/{pid}/stat")).await else {
            return false;
        };
        // "pid (comm) S ...": the state follows the last ')'.
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next());
        !matches!(state, Some('Z' | 'X') | None)
    } else {
        kill(pid, "0").await
    }
}

/// Whether `pid` runs the `ssh` program, so a recycled pid is never hit.
async fn is_ssh(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        tokio::fs::read_to_string(format!("/proc/{pid}/comm"))
            .await
            .is_ok_and(|comm| comm.trim() == "ssh")
    } else {
        let out = Command::new("ps")
            .args(["-o", "comm=", "-p", &pid.to_string()])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .await;
        out.is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .rsplit('/')
                .next()
                .is_some_and(|name| name == "ssh")
        })
    }
}

/// Sends `signal` (a name or number, as `kill -SIGNAL` takes it) to `pid`.
async fn kill(pid: u32, signal: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success())
}

/// Waits up to `within` for `pid` to exit; whether it did.
pub(crate) async fn wait_gone(pid: u32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if !is_alive(pid).await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        sleep(Duration::from_millis(25)).await;
    }
}

/// Makes sure the ssh master `pid` has exited: waits `grace` for it to
/// finish on its own (after `-O exit`), then sends SIGTERM, then SIGKILL.
pub(crate) async fn ensure_gone(pid: u32, grace: Duration) -> Result<(), String> {
    if wait_gone(pid, grace).await {
        return Ok(());
    }
    for signal in ["TERM", "KILL"] {
        if !is_ssh(pid).await {
            // Gone, or the pid now belongs to someone else.
            return Ok(());
        }
        tracing::warn!(
            pid,
            signal,
            "the ssh master did not exit when asked; signalling it"
        );
        kill(pid, signal).await;
        if wait_gone(pid, Duration::from_secs(2)).await {
            return Ok(());
        }
    }
    Err(format!("its ssh master (pid {pid}) is still running"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_master_pid() {
        assert_eq!(master_pid_in("Master running (pid=13677)\r\n"), Some(13677));
        assert_eq!(
            master_pid_in("Control socket connect(x): No such file"),
            None
        );
        assert_eq!(master_pid_in("(pid=abc)"), None);
    }

    #[tokio::test]
    async fn a_missing_control_socket_is_reported_quickly() {
        let dir = tempfile::tempdir().unwrap();
        let started = std::time::Instant::now();
        let err = control_check(&dir.path().join("nothing"), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(err.contains("gone"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn liveness_of_this_process_and_a_finished_one() {
        assert!(is_alive(std::process::id()).await);
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(wait_gone(pid, Duration::from_secs(2)).await);
        // Not an ssh process: ensure_gone never signals it.
        assert!(!is_ssh(std::process::id()).await);
    }
}
