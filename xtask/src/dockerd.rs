//! The Docker engine: when nothing answers on the Docker socket, starts
//! `dockerd` in the background (its own session, pid file and log in
//! `.standin/`) and waits, bounded, for it to answer.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::facts::{DOCKER_SOCKET, DOCKERD, START_STOP_DAEMON, Standin};
use crate::http::docker_answers;
use crate::procs;
use crate::sh;
use crate::ui::{self, Health, Outcome};

const START_LIMIT: Duration = Duration::from_secs(90);

/// dockerd's own pid file, written by any dockerd (ours or not).
const SYSTEM_PID_FILE: &str = "/var/run/docker.pid";

fn pid_file(st: &Standin) -> PathBuf {
    st.dir.join("dockerd.pid")
}

fn socket() -> &'static Path {
    Path::new(DOCKER_SOCKET)
}

pub fn up(st: &Standin) -> Result<Outcome> {
    if docker_answers(socket()) {
        let whose = match procs::running(&pid_file(st), "dockerd") {
            Some(pid) => format!("started by xtask, pid {pid}"),
            None => "not started by xtask; left alone".to_string(),
        };
        return ui::already(format!("{DOCKER_SOCKET} answers ({whose})"));
    }
    // A dockerd that is still starting: wait for it rather than start another.
    if let Some(pid) = procs::running(Path::new(SYSTEM_PID_FILE), "dockerd") {
        ui::note(format!(
            "dockerd pid {pid} is running; waiting for its socket"
        ));
        if procs::wait_until(START_LIMIT, || docker_answers(socket())) {
            return ui::already(format!("{DOCKER_SOCKET} answers (dockerd pid {pid})"));
        }
        bail!("dockerd pid {pid} runs but {DOCKER_SOCKET} does not answer");
    }
    if !Path::new(DOCKERD).exists() {
        bail!("{DOCKERD} is missing (the docker.io package installs it)");
    }
    // A pid file left by a dockerd that is gone (after a reboot) stops a new
    // dockerd when its pid now belongs to another process.
    if Path::new(SYSTEM_PID_FILE).exists() {
        std::fs::remove_file(SYSTEM_PID_FILE)
            .with_context(|| format!("cannot remove the stale {SYSTEM_PID_FILE}"))?;
    }
    let log = st.log("dockerd");
    sh::open_log(&log)?;
    // start-stop-daemon detaches dockerd into its own session with no
    // inherited descriptors, so it outlives xtask and holds no pipe of ours.
    sh::run_logged(
        Command::new(START_STOP_DAEMON)
            .args(["--start", "--background", "--make-pidfile", "--pidfile"])
            .arg(pid_file(st))
            .arg("--output")
            .arg(&log)
            .args(["--exec", DOCKERD])
            // dockerd runs iptables, containerd and runc from PATH.
            .env("PATH", sh::system_path()),
        &st.log("dockerd-start"),
    )?;
    if !procs::wait_until(START_LIMIT, || docker_answers(socket())) {
        bail!(
            "dockerd did not answer on {DOCKER_SOCKET} within {}s; last lines of {}:\n{}",
            START_LIMIT.as_secs(),
            log.display(),
            sh::tail(&log, 30)
        );
    }
    let pid = procs::read_pid(&pid_file(st)).unwrap_or_default();
    ui::done(format!(
        "started dockerd, pid {pid} (log: {})",
        log.display()
    ))
}

pub fn down(st: &Standin) -> Result<Outcome> {
    match procs::running(&pid_file(st), "dockerd") {
        Some(pid) => {
            procs::stop(pid, "dockerd", Duration::from_secs(30))?;
            let _ = std::fs::remove_file(pid_file(st));
            ui::done(format!("stopped dockerd pid {pid}"))
        }
        None if docker_answers(socket()) => {
            ui::already("dockerd was not started by xtask; left running")
        }
        None => ui::already("not running"),
    }
}

pub fn answers() -> bool {
    docker_answers(socket())
}

pub fn status(st: &Standin) -> Health {
    match (answers(), procs::running(&pid_file(st), "dockerd")) {
        (true, Some(pid)) => ui::healthy(format!("answers (started by xtask, pid {pid})")),
        (true, None) => ui::healthy("answers (not started by xtask)"),
        (false, _) => ui::unhealthy(format!("nothing answers on {DOCKER_SOCKET}")),
    }
}
