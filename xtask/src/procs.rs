//! Background processes that xtask starts (dockerd, sshd): their pid files,
//! whether they are alive, and stopping them by pid, never by name.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::sh;

/// The pid in a pid file, if it holds one.
pub fn read_pid(pid_file: &Path) -> Option<u32> {
    fs::read_to_string(pid_file).ok()?.trim().parse().ok()
}

/// True when `pid` is a live (not zombie) process whose command name is `comm`.
pub fn alive(pid: u32, comm: &str) -> bool {
    let proc_dir = Path::new("/proc").join(pid.to_string());
    let Ok(name) = fs::read_to_string(proc_dir.join("comm")) else {
        return false;
    };
    if name.trim() != comm {
        return false;
    }
    // Field 3 of /proc/PID/stat is the state; skip past the "(comm)" field.
    let stat = fs::read_to_string(proc_dir.join("stat")).unwrap_or_default();
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    state != Some("Z")
}

/// The pid from `pid_file` when that process is alive and is `comm`.
pub fn running(pid_file: &Path, comm: &str) -> Option<u32> {
    read_pid(pid_file).filter(|&pid| alive(pid, comm))
}

/// Sends SIGTERM to `pid`, waits up to `grace` for it to end, then SIGKILL.
pub fn stop(pid: u32, comm: &str, grace: Duration) -> Result<()> {
    if !alive(pid, comm) {
        return Ok(());
    }
    sh::succeeds(Command::new("kill").args(["-TERM", &pid.to_string()]));
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if !alive(pid, comm) {
            return Ok(());
        }
        sleep(Duration::from_millis(100));
    }
    sh::succeeds(Command::new("kill").args(["-KILL", &pid.to_string()]));
    sleep(Duration::from_millis(300));
    if alive(pid, comm) {
        bail!("{comm} (pid {pid}) did not stop");
    }
    Ok(())
}

/// Polls `ready` every 100 ms until it is true or `limit` has passed.
pub fn wait_until(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if ready() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_itself_and_stops_a_child() {
        let me = std::process::id();
        let comm = fs::read_to_string(format!("/proc/{me}/comm")).unwrap();
        assert!(alive(me, comm.trim()));
        assert!(!alive(me, "surely-not-this"));

        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        // Until the child has exec'd, it still bears the test's name.
        assert!(wait_until(Duration::from_secs(5), || alive(pid, "sleep")));
        let waiter = std::thread::spawn(move || child.wait().unwrap());
        stop(pid, "sleep", Duration::from_secs(5)).unwrap();
        waiter.join().unwrap();
        assert!(!alive(pid, "sleep"));
        assert!(wait_until(Duration::from_millis(50), || true));
        assert!(!wait_until(Duration::from_millis(50), || false));
    }
}
