//! The stand-in's slow paths: `cargo xtask relay` (see `relay.rs`) in the
//! background on 127.0.0.1, in front of an sshd, adding [`SLOW_DELAY_MS`]
//! each way under a [`SLOW_CAP_MBIT`] cap. One is in front of the stand-in's
//! sshd, on [`SLOW_SSH_PORT`] ([`SlowPath::standin`]); one is in front of
//! each swarm node's, on the node's own port ([`SlowPath::swarm_node`]).
//! Each keeps its pid file, the arguments it was started with and its log
//! in a folder of its own; `up` keeps a running relay started with the same
//! arguments and `down` stops it by pid.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::facts::{
    SLOW_CAP_MBIT, SLOW_DELAY_MS, SLOW_SSH_PORT, SSH_HOST, SSH_PORT, Standin, SwarmNode,
    VPS_SSH_PORT,
};
use crate::ui::{self, Health, Outcome};
use crate::{http, procs, sh};

/// One relay in front of one sshd.
pub struct SlowPath {
    /// The relay's port on [`SSH_HOST`].
    listen_port: u16,
    /// The sshd behind it, `ADDRESS:PORT`.
    upstream: String,
    /// Whose sshd that is, for the messages.
    serves: String,
    /// Its pid file, arguments and log.
    dir: PathBuf,
}

impl SlowPath {
    /// The one in front of the stand-in's sshd, its files in `.standin/relay/`.
    pub fn standin(st: &Standin) -> Self {
        Self {
            listen_port: SLOW_SSH_PORT,
            upstream: format!("{SSH_HOST}:{SSH_PORT}"),
            serves: "sshd".to_owned(),
            dir: st.relay_dir(),
        }
    }

    /// The one in front of swarm node `node`'s sshd, its files in
    /// `.standin/relay/<node>/`.
    pub fn swarm_node(st: &Standin, node: &SwarmNode) -> Self {
        Self {
            listen_port: node.slow_ssh_port,
            upstream: format!("{}:{VPS_SSH_PORT}", node.addr),
            serves: format!("{}'s sshd", node.name),
            dir: st.relay_dir().join(node.name),
        }
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.join("relay.pid")
    }

    /// The arguments the running relay was started with.
    fn args_file(&self) -> PathBuf {
        self.dir.join("relay.args")
    }

    fn log(&self) -> PathBuf {
        self.dir.join("relay.log")
    }

    /// `cargo xtask relay ...`'s arguments.
    fn relay_args(&self) -> Vec<String> {
        vec![
            "relay".into(),
            "--listen".into(),
            format!("{SSH_HOST}:{}", self.listen_port),
            "--to".into(),
            self.upstream.clone(),
            "--delay-ms".into(),
            SLOW_DELAY_MS.to_string(),
            "--cap-mbit".into(),
            SLOW_CAP_MBIT.to_string(),
        ]
    }

    /// The relay's pid, when its pid file names a live `xtask relay` (not
    /// another xtask that got the pid later).
    fn running(&self) -> Option<u32> {
        let pid = procs::running(&self.pid_file(), &comm().ok()?)?;
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        cmdline
            .split(|&b| b == 0)
            .any(|arg| arg == b"relay")
            .then_some(pid)
    }

    /// sshd's banner, read through the relay.
    fn answers(&self) -> bool {
        http::banner(SSH_HOST, self.listen_port, Duration::from_secs(3))
            .is_ok_and(|b| b.starts_with("SSH-"))
    }

    fn describe(&self) -> String {
        format!(
            "{SSH_HOST}:{} -> {} ({}), {SLOW_DELAY_MS} ms each way, cap {SLOW_CAP_MBIT} Mbit/s",
            self.listen_port, self.serves, self.upstream
        )
    }

    pub fn up(&self) -> Result<Outcome> {
        let args = self.relay_args().join(" ");
        if let Some(pid) = self.running() {
            let same = fs::read_to_string(self.args_file()).is_ok_and(|a| a.trim() == args);
            if same && self.answers() {
                return ui::already(format!("relay pid {pid}: {}", self.describe()));
            }
            ui::note(format!(
                "restarting relay pid {pid} (new arguments, or not answering)"
            ));
            procs::stop(pid, &comm()?, Duration::from_secs(5))?;
        }
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        let out = sh::open_log(&self.log())?;
        // Its own process group: a terminal's hangup or ^C of this xtask does not reach it.
        let child = Command::new(std::env::current_exe()?)
            .args(self.relay_args())
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start the relay in front of {}", self.serves))?;
        let pid = child.id();
        fs::write(self.pid_file(), format!("{pid}\n"))?;
        fs::write(self.args_file(), format!("{args}\n"))?;
        if !procs::wait_until(Duration::from_secs(10), || self.answers()) {
            bail!(
                "the relay (pid {pid}) did not pass {}'s banner within 10 s; its log:\n{}",
                self.serves,
                sh::tail(&self.log(), 10)
            );
        }
        ui::done(format!("started relay pid {pid}: {}", self.describe()))
    }

    pub fn down(&self) -> Result<Outcome> {
        match self.running() {
            Some(pid) => {
                procs::stop(pid, &comm()?, Duration::from_secs(5))?;
                let _ = fs::remove_file(self.pid_file());
                ui::done(format!("stopped relay pid {pid}"))
            }
            None => ui::already("not running"),
        }
    }

    pub fn status(&self) -> Health {
        let port = self.listen_port;
        match self.running() {
            Some(pid) if self.answers() => ui::healthy(format!(
                "pid {pid}, {} answers through {SSH_HOST}:{port} ({SLOW_DELAY_MS} ms each way, {SLOW_CAP_MBIT} Mbit/s)",
                self.serves
            )),
            Some(pid) => ui::unhealthy(format!(
                "pid {pid}, {} does not answer through {SSH_HOST}:{port}",
                self.serves
            )),
            None => ui::unhealthy("not running"),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::SWARM_NODES;

    #[test]
    fn the_standin_relay_keeps_its_port_and_folder() {
        let st = Standin::at(PathBuf::from("/r"));
        let path = SlowPath::standin(&st);
        assert_eq!(
            path.relay_args().join(" "),
            "relay --listen 127.0.0.1:2223 --to 127.0.0.1:2222 --delay-ms 40 --cap-mbit 64"
        );
        assert_eq!(
            path.pid_file(),
            PathBuf::from("/r/.standin/relay/relay.pid")
        );
    }

    #[test]
    fn each_node_has_a_relay_of_its_own_in_front_of_its_sshd() {
        let st = Standin::at(PathBuf::from("/r"));
        let path = SlowPath::swarm_node(&st, &SWARM_NODES[1]);
        assert_eq!(
            path.relay_args().join(" "),
            "relay --listen 127.0.0.1:2232 --to 10.213.8.12:22 --delay-ms 40 --cap-mbit 64"
        );
        assert_eq!(
            path.args_file(),
            PathBuf::from("/r/.standin/relay/node2/relay.args")
        );
    }
}
