//! The stand-in's slow path: `cargo xtask relay` (see `relay.rs`) in the
//! background on 127.0.0.1:[`SLOW_SSH_PORT`], in front of the stand-in's
//! sshd, adding [`SLOW_DELAY_MS`] each way under a [`SLOW_CAP_MBIT`] cap.
//! Its pid file, the arguments it was started with and its log are in
//! `.standin/relay/`; `up` keeps a running relay started with the same
//! arguments and `down` stops it by pid.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::facts::{SLOW_CAP_MBIT, SLOW_DELAY_MS, SLOW_SSH_PORT, SSH_HOST, SSH_PORT, Standin};
use crate::ui::{self, Health, Outcome};
use crate::{http, procs, sh};

fn pid_file(st: &Standin) -> PathBuf {
    st.relay_dir().join("relay.pid")
}

/// The arguments the running relay was started with.
fn args_file(st: &Standin) -> PathBuf {
    st.relay_dir().join("relay.args")
}

fn log(st: &Standin) -> PathBuf {
    st.relay_dir().join("relay.log")
}

/// `cargo xtask relay ...`'s arguments for the stand-in.
fn relay_args() -> Vec<String> {
    vec![
        "relay".into(),
        "--listen".into(),
        format!("{SSH_HOST}:{SLOW_SSH_PORT}"),
        "--to".into(),
        format!("{SSH_HOST}:{SSH_PORT}"),
        "--delay-ms".into(),
        SLOW_DELAY_MS.to_string(),
        "--cap-mbit".into(),
        SLOW_CAP_MBIT.to_string(),
    ]
}

/// The relay is this very program (`xtask relay`), so its process name is ours.
fn comm() -> Result<String> {
    let exe = std::env::current_exe().context("cannot find the xtask binary")?;
    let name = exe
        .file_name()
        .context("the xtask binary has no name")?
        .to_string_lossy();
    // The kernel keeps the first 15 bytes of a process's name.
    Ok(name.chars().take(15).collect())
}

/// The relay's pid, when its pid file names a live `xtask relay` (not
/// another xtask that got the pid later).
fn running(st: &Standin) -> Option<u32> {
    let pid = procs::running(&pid_file(st), &comm().ok()?)?;
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    cmdline
        .split(|&b| b == 0)
        .any(|arg| arg == b"relay")
        .then_some(pid)
}

/// sshd's banner, read through the relay.
fn answers() -> bool {
    http::banner(SSH_HOST, SLOW_SSH_PORT, Duration::from_secs(3))
        .is_ok_and(|b| b.starts_with("SSH-"))
}

pub fn up(st: &Standin) -> Result<Outcome> {
    let args = relay_args().join(" ");
    let what = format!(
        "{SSH_HOST}:{SLOW_SSH_PORT} -> sshd, {SLOW_DELAY_MS} ms each way, cap {SLOW_CAP_MBIT} Mbit/s"
    );
    if let Some(pid) = running(st) {
        let same = fs::read_to_string(args_file(st)).is_ok_and(|a| a.trim() == args);
        if same && answers() {
            return ui::already(format!("relay pid {pid}: {what}"));
        }
        ui::note(format!(
            "restarting relay pid {pid} (new arguments, or not answering)"
        ));
        procs::stop(pid, &comm()?, Duration::from_secs(5))?;
    }
    fs::create_dir_all(st.relay_dir())?;
    let out = sh::open_log(&log(st))?;
    // Its own process group: a terminal's hangup or ^C of this xtask does not reach it.
    let child = Command::new(std::env::current_exe()?)
        .args(relay_args())
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .process_group(0)
        .spawn()
        .context("cannot start the relay")?;
    let pid = child.id();
    fs::write(pid_file(st), format!("{pid}\n"))?;
    fs::write(args_file(st), format!("{args}\n"))?;
    if !procs::wait_until(Duration::from_secs(10), answers) {
        bail!(
            "the relay (pid {pid}) did not pass sshd's banner within 10 s; its log:\n{}",
            sh::tail(&log(st), 10)
        );
    }
    ui::done(format!("started relay pid {pid}: {what}"))
}

pub fn down(st: &Standin) -> Result<Outcome> {
    match running(st) {
        Some(pid) => {
            procs::stop(pid, &comm()?, Duration::from_secs(5))?;
            let _ = fs::remove_file(pid_file(st));
            ui::done(format!("stopped relay pid {pid}"))
        }
        None => ui::already("not running"),
    }
}

pub fn status(st: &Standin) -> Health {
    match running(st) {
        Some(pid) if answers() => ui::healthy(format!(
            "pid {pid}, sshd answers through {SSH_HOST}:{SLOW_SSH_PORT} ({SLOW_DELAY_MS} ms each way, {SLOW_CAP_MBIT} Mbit/s)"
        )),
        Some(pid) => ui::unhealthy(format!(
            "pid {pid}, sshd does not answer through {SSH_HOST}:{SLOW_SSH_PORT}"
        )),
        None => ui::unhealthy("not running"),
    }
}
