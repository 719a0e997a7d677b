//! sshd as the stand-in VPS: its own configuration, host key, authorized
//! keys, log and pid file in `.standin/sshd/`, listening on 127.0.0.1:2222;
//! a client key pair `.standin/client_key` authorized for root; and a check
//! that an SSH-forwarded Unix socket reaches the Docker engine.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::facts::{DOCKER_SOCKET, PW_USER, SSH_HOST, SSH_PORT, SSH_USER, SSHD, Standin};
use crate::http;
use crate::procs;
use crate::sh;
use crate::state::{Stamps, hash_parts};
use crate::ui::{self, Health, Outcome};

struct Paths {
    dir: PathBuf,
    config: PathBuf,
    host_key: PathBuf,
    authorized_keys: PathBuf,
    pid_file: PathBuf,
    log: PathBuf,
    /// Hash of the configuration the running sshd was started with.
    running_hash: PathBuf,
}

fn paths(st: &Standin) -> Paths {
    let dir = st.sshd_dir();
    Paths {
        config: dir.join("sshd_config"),
        host_key: dir.join("ssh_host_ed25519_key"),
        authorized_keys: dir.join("authorized_keys"),
        pid_file: dir.join("sshd.pid"),
        log: dir.join("sshd.log"),
        running_hash: dir.join("running.hash"),
        dir,
    }
}

fn config_text(p: &Paths) -> String {
    let q = |path: &Path| format!("\"{}\"", path.display());
    format!(
        "# Written by `cargo xtask standin up`: the stand-in VPS's sshd.\n\
         ListenAddress {SSH_HOST}\n\
         Port {SSH_PORT}\n\
         HostKey {host_key}\n\
         PidFile {pid_file}\n\
         AuthorizedKeysFile {authorized_keys}\n\
         PermitRootLogin prohibit-password\n\
         PubkeyAuthentication yes\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         UsePAM no\n\
         StrictModes no\n\
         AllowTcpForwarding yes\n\
         AllowStreamLocalForwarding yes\n\
         StreamLocalBindUnlink yes\n\
         MaxSessions 64\n\
         MaxStartups 64:30:128\n\
         Subsystem sftp internal-sftp\n\
         LogLevel VERBOSE\n\
         Match User {PW_USER}\n\
         \x20   PasswordAuthentication yes\n",
        host_key = q(&p.host_key),
        pid_file = q(&p.pid_file),
        authorized_keys = q(&p.authorized_keys),
    )
}

fn keygen(file: &Path, comment: &str) -> Result<bool> {
    if file.is_file() && file.with_extension("pub").is_file() {
        return Ok(false);
    }
    let _ = fs::remove_file(file);
    let _ = fs::remove_file(file.with_extension("pub"));
    sh::capture(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
            .arg(file),
    )?;
    Ok(true)
}

/// Writes `text` to `path` unless it already holds it; true when written.
fn write_if_changed(path: &Path, text: &str) -> Result<bool> {
    if fs::read_to_string(path).is_ok_and(|t| t == text) {
        return Ok(false);
    }
    fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(true)
}

fn answers() -> bool {
    http::banner(SSH_HOST, SSH_PORT, Duration::from_secs(2)).is_ok_and(|b| b.starts_with("SSH-"))
}

pub fn up(st: &Standin) -> Result<Outcome> {
    let p = paths(st);
    fs::create_dir_all(&p.dir)?;
    // Privilege separation needs it; /run is a tmpfs, so after every boot.
    fs::create_dir_all("/run/sshd").context("cannot create /run/sshd")?;
    let mut made = Vec::new();
    if keygen(&st.client_key(), "rserve-desk-standin-client")? {
        made.push("client key");
    }
    if keygen(&p.host_key, "rserve-desk-standin-host")? {
        made.push("host key");
    }
    let client_pub = fs::read_to_string(st.client_key().with_extension("pub"))?;
    if write_if_changed(&p.authorized_keys, &client_pub)? {
        made.push("authorized_keys");
    }
    let config = config_text(&p);
    if write_if_changed(&p.config, &config)? {
        made.push("sshd_config");
    }
    let host_pub = fs::read_to_string(p.host_key.with_extension("pub"))?;
    let hash = hash_parts([config.as_str(), host_pub.as_str()]);

    if let Some(pid) = procs::running(&p.pid_file, "sshd") {
        let same = fs::read_to_string(&p.running_hash).is_ok_and(|h| h.trim() == hash);
        if same && made.is_empty() && answers() {
            return ui::already(format!("sshd pid {pid} on {SSH_HOST}:{SSH_PORT}"));
        }
        ui::note(format!(
            "restarting sshd pid {pid} for its new configuration"
        ));
        procs::stop(pid, "sshd", Duration::from_secs(10))?;
    }
    if answers() {
        bail!(
            "something else answers on {SSH_HOST}:{SSH_PORT} (not the sshd of {}); stop it first",
            p.pid_file.display()
        );
    }
    sh::capture(Command::new(SSHD).arg("-t").arg("-f").arg(&p.config))
        .context("sshd rejects its configuration")?;
    let _ = fs::remove_file(&p.pid_file);
    // sshd detaches by itself and closes every descriptor it inherited.
    sh::run_logged(
        Command::new(SSHD)
            .arg("-f")
            .arg(&p.config)
            .arg("-E")
            .arg(&p.log),
        &st.log("sshd-start"),
    )?;
    let started = procs::wait_until(Duration::from_secs(15), || {
        procs::running(&p.pid_file, "sshd").is_some() && answers()
    });
    if !started {
        bail!(
            "sshd did not come up on {SSH_HOST}:{SSH_PORT}; last lines of {}:\n{}",
            p.log.display(),
            sh::tail(&p.log, 20)
        );
    }
    fs::write(&p.running_hash, format!("{hash}\n"))?;
    let pid = procs::read_pid(&p.pid_file).unwrap_or_default();
    let made = if made.is_empty() {
        String::new()
    } else {
        format!(", made {}", made.join(", "))
    };
    ui::done(format!(
        "started sshd pid {pid} on {SSH_HOST}:{SSH_PORT}{made}"
    ))
}

/// `ssh` options for the stand-in, as the tests and the product use them.
pub fn ssh_command(st: &Standin) -> Command {
    let mut cmd = Command::new("ssh");
    cmd.arg("-i")
        .arg(st.client_key())
        .args(["-p", &SSH_PORT.to_string()])
        .args([
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "LogLevel=ERROR",
            "-o",
            "ConnectTimeout=10",
        ]);
    cmd
}

/// Forwards the Docker socket over SSH to a local Unix socket and pings the
/// engine through it. Skipped when it passed with the same sshd and keys.
pub fn forward_check(st: &Standin) -> Result<Outcome> {
    let p = paths(st);
    let pid = procs::running(&p.pid_file, "sshd").context("sshd is not running")?;
    let client_pub = fs::read_to_string(st.client_key().with_extension("pub"))?;
    let running = fs::read_to_string(&p.running_hash).unwrap_or_default();
    let key = hash_parts([
        pid.to_string().as_str(),
        running.trim(),
        client_pub.as_str(),
    ]);
    let stamps = Stamps::new(st.stamps());
    if stamps.matches("ssh-forward-check", &key) {
        return ui::already("Docker socket forwarding over SSH checked with this sshd");
    }
    let socket = std::env::temp_dir().join(format!("rdesk-xtask-{}.sock", std::process::id()));
    let _ = fs::remove_file(&socket);
    let log = st.log("ssh-forward-check");
    let mut child = ssh_command(st)
        .args(["-N", "-o", "ExitOnForwardFailure=yes", "-L"])
        .arg(format!("{}:{DOCKER_SOCKET}", socket.display()))
        .arg(format!("{SSH_USER}@{SSH_HOST}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(sh::open_log(&log)?)
        .spawn()
        .context("cannot run ssh")?;
    let ok = procs::wait_until(Duration::from_secs(15), || http::docker_answers(&socket));
    let _ = child.kill();
    let _ = child.wait();
    let _ = fs::remove_file(&socket);
    if !ok {
        bail!(
            "no Docker engine answered through `ssh -L {}:{DOCKER_SOCKET}`; ssh said:\n{}\nsshd's log:\n{}",
            socket.display(),
            sh::tail(&log, 10),
            sh::tail(&p.log, 10)
        );
    }
    stamps.set("ssh-forward-check", &key)?;
    ui::done(format!(
        "ssh -L <socket>:{DOCKER_SOCKET} {SSH_USER}@{SSH_HOST} -p {SSH_PORT} reached the Docker engine"
    ))
}

pub fn down(st: &Standin) -> Result<Outcome> {
    let p = paths(st);
    match procs::running(&p.pid_file, "sshd") {
        Some(pid) => {
            procs::stop(pid, "sshd", Duration::from_secs(10))?;
            let _ = fs::remove_file(&p.pid_file);
            let _ = fs::remove_file(&p.running_hash);
            ui::done(format!("stopped sshd pid {pid}"))
        }
        None => ui::already("sshd not running"),
    }
}

pub fn status(st: &Standin) -> Health {
    let p = paths(st);
    match procs::running(&p.pid_file, "sshd") {
        Some(pid) if answers() => {
            ui::healthy(format!("pid {pid}, answers on {SSH_HOST}:{SSH_PORT}"))
        }
        Some(pid) => ui::unhealthy(format!("pid {pid}, not answering on {SSH_HOST}:{SSH_PORT}")),
        None => ui::unhealthy("not running"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_has_what_the_tests_rely_on() {
        let st = Standin::at(PathBuf::from("/r"));
        let text = config_text(&paths(&st));
        for line in [
            "ListenAddress 127.0.0.1",
            "Port 2222",
            "AllowStreamLocalForwarding yes",
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication no",
            "StrictModes no",
            "AuthorizedKeysFile \"/r/.standin/sshd/authorized_keys\"",
            "PidFile \"/r/.standin/sshd/sshd.pid\"",
            "HostKey \"/r/.standin/sshd/ssh_host_ed25519_key\"",
            "Match User rdesk-pw",
            "    PasswordAuthentication yes",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
