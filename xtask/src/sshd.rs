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

/// One sshd of ours: its configuration, host key, authorized keys, log and
/// pid file in `dir`, and where it listens. The stand-in's runs here; the
/// bare VPS's (`vps.rs`) inside its namespaces.
pub struct Daemon {
    /// Names its start log, `.standin/logs/<name>-start.log`.
    pub name: &'static str,
    pub dir: PathBuf,
    pub host: &'static str,
    pub port: u16,
}

impl Daemon {
    pub fn config(&self) -> PathBuf {
        self.dir.join("sshd_config")
    }

    pub fn host_key(&self) -> PathBuf {
        self.dir.join("ssh_host_ed25519_key")
    }

    pub fn authorized_keys(&self) -> PathBuf {
        self.dir.join("authorized_keys")
    }

    pub fn pid_file(&self) -> PathBuf {
        self.dir.join("sshd.pid")
    }

    pub fn log(&self) -> PathBuf {
        self.dir.join("sshd.log")
    }

    /// Hash of the configuration the running sshd was started with.
    fn running_hash(&self) -> PathBuf {
        self.dir.join("running.hash")
    }

    pub fn answers(&self) -> bool {
        http::banner(self.host, self.port, Duration::from_secs(2))
            .is_ok_and(|b| b.starts_with("SSH-"))
    }

    pub fn running(&self) -> Option<u32> {
        procs::running(&self.pid_file(), "sshd")
    }

    /// `ssh` to this sshd with the stand-in's client key, as the tests and
    /// the product use it (the caller adds `USER@HOST` and the command).
    pub fn ssh(&self, st: &Standin) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.arg("-i")
            .arg(st.client_key())
            .args(["-p", &self.port.to_string()])
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

    /// Makes the client and host keys, authorized_keys and `config` (what
    /// [`Daemon::config`] names), then starts sshd by `launch` unless it runs
    /// with the same configuration and `extra` (what else its start depends
    /// on). `before_start` runs before a (re)start.
    pub fn up(
        &self,
        st: &Standin,
        config: &str,
        extra: &str,
        launch: &mut Command,
        before_start: impl FnOnce() -> Result<()>,
    ) -> Result<Outcome> {
        let (host, port) = (self.host, self.port);
        fs::create_dir_all(&self.dir)?;
        let mut made = Vec::new();
        if keygen(&st.client_key(), "rserve-desk-standin-client")? {
            made.push("client key");
        }
        if keygen(&self.host_key(), &format!("rserve-desk-sshd-{host}"))? {
            made.push("host key");
        }
        let client_pub = fs::read_to_string(st.client_key().with_extension("pub"))?;
        if write_if_changed(&self.authorized_keys(), &client_pub)? {
            made.push("authorized_keys");
        }
        if write_if_changed(&self.config(), config)? {
            made.push("sshd_config");
        }
        let host_pub = fs::read_to_string(self.host_key().with_extension("pub"))?;
        let hash = hash_parts([config, host_pub.as_str(), extra]);

        if let Some(pid) = self.running() {
            let same = fs::read_to_string(self.running_hash()).is_ok_and(|h| h.trim() == hash);
            if same && made.is_empty() && self.answers() {
                return ui::already(format!("sshd pid {pid} on {host}:{port}"));
            }
            ui::note(format!(
                "restarting sshd pid {pid} for its new configuration"
            ));
            procs::stop(pid, "sshd", Duration::from_secs(10))?;
        }
        before_start()?;
        if self.answers() {
            bail!(
                "something else answers on {host}:{port} (not the sshd of {}); stop it first",
                self.pid_file().display()
            );
        }
        sh::capture(Command::new(SSHD).arg("-t").arg("-f").arg(self.config()))
            .context("sshd rejects its configuration")?;
        let _ = fs::remove_file(self.pid_file());
        // sshd detaches by itself and closes every descriptor it inherited.
        sh::run_logged(launch, &st.log(&format!("{}-start", self.name)))?;
        let started = procs::wait_until(Duration::from_secs(15), || {
            self.running().is_some() && self.answers()
        });
        if !started {
            bail!(
                "sshd did not come up on {host}:{port}; last lines of {}:\n{}",
                self.log().display(),
                sh::tail(&self.log(), 20)
            );
        }
        fs::write(self.running_hash(), format!("{hash}\n"))?;
        let pid = procs::read_pid(&self.pid_file()).unwrap_or_default();
        let made = if made.is_empty() {
            String::new()
        } else {
            format!(", made {}", made.join(", "))
        };
        ui::done(format!("started sshd pid {pid} on {host}:{port}{made}"))
    }

    pub fn down(&self) -> Result<Outcome> {
        match self.running() {
            Some(pid) => {
                procs::stop(pid, "sshd", Duration::from_secs(10))?;
                let _ = fs::remove_file(self.pid_file());
                let _ = fs::remove_file(self.running_hash());
                ui::done(format!("stopped sshd pid {pid}"))
            }
            None => ui::already("sshd not running"),
        }
    }

    pub fn status(&self) -> Health {
        let (host, port) = (self.host, self.port);
        match self.running() {
            Some(pid) if self.answers() => {
                ui::healthy(format!("pid {pid}, answers on {host}:{port}"))
            }
            Some(pid) => ui::unhealthy(format!("pid {pid}, not answering on {host}:{port}")),
            None => ui::unhealthy("not running"),
        }
    }
}

fn daemon(st: &Standin) -> Daemon {
    Daemon {
        name: "sshd",
        dir: st.sshd_dir(),
        host: SSH_HOST,
        port: SSH_PORT,
    }
}

fn config_text(d: &Daemon) -> String {
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
        host_key = q(&d.host_key()),
        pid_file = q(&d.pid_file()),
        authorized_keys = q(&d.authorized_keys()),
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

pub fn up(st: &Standin) -> Result<Outcome> {
    // Privilege separation needs it; /run is a tmpfs, so after every boot.
    fs::create_dir_all("/run/sshd").context("cannot create /run/sshd")?;
    let d = daemon(st);
    let mut launch = Command::new(SSHD);
    launch.arg("-f").arg(d.config()).arg("-E").arg(d.log());
    d.up(st, &config_text(&d), "", &mut launch, || Ok(()))
}

/// Forwards the Docker socket over SSH to a local Unix socket and pings the
/// engine through it. Skipped when it passed with the same sshd and keys.
pub fn forward_check(st: &Standin) -> Result<Outcome> {
    let d = daemon(st);
    let pid = d.running().context("sshd is not running")?;
    let client_pub = fs::read_to_string(st.client_key().with_extension("pub"))?;
    let running = fs::read_to_string(d.running_hash()).unwrap_or_default();
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
    let mut child = d
        .ssh(st)
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
            sh::tail(&d.log(), 10)
        );
    }
    stamps.set("ssh-forward-check", &key)?;
    ui::done(format!(
        "ssh -L <socket>:{DOCKER_SOCKET} {SSH_USER}@{SSH_HOST} -p {SSH_PORT} reached the Docker engine"
    ))
}

pub fn down(st: &Standin) -> Result<Outcome> {
    daemon(st).down()
}

pub fn status(st: &Standin) -> Health {
    daemon(st).status()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_has_what_the_tests_rely_on() {
        let st = Standin::at(PathBuf::from("/r"));
        let text = config_text(&daemon(&st));
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
