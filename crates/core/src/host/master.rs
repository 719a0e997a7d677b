//! Launching a host's ssh ControlMaster ourselves, then handing it to
//! `openssh` with [`Session::resume`].
//!
//! The `openssh` crate's own launcher forces `BatchMode=yes`, which turns
//! every prompt off, askpass included; a host whose SSH password or key
//! passphrase lives in the keyring needs ssh to ask `rdesk-askpass` instead.
//! So the master is started here with the same options the crate would use
//! ([`argv`], pure and unit-tested), plus the askpass environment when the
//! host has a secret, and `BatchMode=yes` when it has none. ssh's log and
//! the helper's stderr go to one file in the connection's private directory;
//! it is the text a failure is explained from.
//!
//! A master's lifetime is its owner's ([`Lease`]): it stays while one
//! channel through it is open (`ControlPersist` counts only open channels,
//! not listening forwards), and a lease holds one open (a remote `cat` fed
//! by a pipe from this process) for as long as this process lives. When the
//! process ends, however it ends (SIGKILL included), the kernel closes the
//! pipe, `cat` sees end of input, the channel closes, and the master exits
//! [`LINGER`] later once no other channel is open. An operation in flight
//! is never cut: while its process lives the lease is open, and after its
//! process died there is no operation left to cut.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use openssh::Session;

use crate::secrets::askpass::AskpassEnv;

/// How long a master stays after its last channel closed (its lease's
/// included): what is left of a run that was killed lingers this long.
pub(crate) const LINGER: Duration = Duration::from_secs(30);

/// What the master is launched with.
pub(crate) struct MasterSpec<'a> {
    pub destination: &'a str,
    pub port: Option<u16>,
    pub identity: Option<&'a Path>,
    pub known_hosts: &'a Path,
    /// `true`: the key must match the pinned one; `false`: accept the
    /// first key and record it (first contact, or a repin).
    pub strict: bool,
    pub connect_timeout: Duration,
    pub server_alive_interval: Duration,
    /// Set when the host's password or key passphrase is in the keyring.
    pub askpass: Option<&'a AskpassEnv>,
}

/// The control socket and the log file inside `dir`.
pub(crate) fn paths(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("master"), dir.join("ssh.log"))
}

/// ssh's arguments for a backgrounded ControlMaster that stays until
/// `ssh -O exit`, or [`LINGER`] after its last channel (the [`Lease`])
/// closed.
pub(crate) fn argv(spec: &MasterSpec<'_>, control: &Path, log: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    let mut push = |a: &str| args.push(a.into());
    push("-E");
    args.push(log.into());
    args.push("-S".into());
    args.push(control.into());
    for arg in ["-M", "-f", "-N", "-o"] {
        args.push(arg.into());
    }
    args.push(format!("ControlPersist={}s", LINGER.as_secs()).into());
    let mut option = |o: String| {
        args.push("-o".into());
        args.push(o.into());
    };
    match spec.askpass {
        // One prompt per method: a wrong secret fails at once.
        Some(_) => {
            option("BatchMode=no".to_owned());
            option("NumberOfPasswordPrompts=1".to_owned());
        }
        None => option("BatchMode=yes".to_owned()),
    }
    option(format!(
        "StrictHostKeyChecking={}",
        if spec.strict { "yes" } else { "accept-new" }
    ));
    option(format!(
        "ConnectTimeout={}",
        spec.connect_timeout.as_secs().max(1)
    ));
    option(format!(
        "ServerAliveInterval={}",
        spec.server_alive_interval.as_secs().max(1)
    ));
    let mut known_hosts = OsString::from("UserKnownHostsFile=");
    known_hosts.push(spec.known_hosts);
    args.push("-o".into());
    args.push(known_hosts);
    if let Some(port) = spec.port {
        args.push("-p".into());
        args.push(port.to_string().into());
    }
    if let Some(identity) = spec.identity {
        args.push("-o".into());
        args.push("IdentitiesOnly=yes".into());
        args.push("-i".into());
        args.push(identity.into());
    }
    // The destination was validated (no leading `-`); `--` makes sure.
    args.push("--".into());
    args.push(spec.destination.into());
    args
}

/// Starts the master in `dir` and waits until it has authenticated and
/// forked. On failure, returns what ssh (and the askpass helper) said.
pub(crate) async fn launch(spec: &MasterSpec<'_>, dir: &Path) -> Result<Session, String> {
    let (control, log) = paths(dir);
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(|e| format!("could not create ssh's log file: {e}"))?;
    let mut cmd = tokio::process::Command::new("ssh");
    cmd.args(argv(spec, &control, &log))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // A file, not a pipe: the backgrounded master keeps it open.
        .stderr(log_file)
        .kill_on_drop(true);
    if let Some(askpass) = spec.askpass {
        cmd.envs(askpass.vars());
    }
    let mut child = cmd.spawn().map_err(|e| {
        format!("could not run ssh: {e} (os error 2 means OpenSSH's client is missing)")
    })?;
    // Authentication (a keyring read over D-Bus included) gets its own
    // margin beyond the TCP connect timeout.
    let within = spec.connect_timeout * 2 + Duration::from_secs(10);
    let status = match tokio::time::timeout(within, child.wait()).await {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => return Err(format!("waiting for ssh failed: {e}")),
        Err(_) => {
            let _ = child.kill().await;
            return Err(format!(
                "ssh did not log in within {} s: connection timed out",
                within.as_secs()
            ));
        }
    };
    if status.success() && control.exists() {
        Ok(Session::resume(control.into(), Some(log.into())))
    } else {
        let said = std::fs::read_to_string(&log).unwrap_or_default();
        Err(if said.trim().is_empty() {
            format!("ssh exited with {status} and said nothing")
        } else {
            said
        })
    }
}

/// The channel that keeps a master alive while this process lives: a
/// mux client running `cat` on the host with its input a pipe from here.
/// Dropping it kills the client, so the master exits [`LINGER`] later
/// unless it was told to exit before.
#[derive(Debug)]
pub(crate) struct Lease {
    // Never written to: only its end of the pipe being open matters.
    client: tokio::process::Child,
}

/// ssh's arguments for the lease's mux client: through the master's socket
/// only, never a login of its own.
fn lease_argv(control: &Path, destination: &str) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["-S".into(), control.into()];
    for arg in [
        "-T",
        "-o",
        "ControlMaster=no",
        "-o",
        "BatchMode=yes",
        "--",
        destination,
        "exec cat",
    ] {
        args.push(arg.into());
    }
    args
}

impl Lease {
    /// Opens the lease on the master at `control`.
    pub(crate) fn take(control: &Path, destination: &str) -> std::io::Result<Lease> {
        let client = tokio::process::Command::new("ssh")
            .args(lease_argv(control, destination))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        Ok(Lease { client })
    }

    /// Ends the lease now and waits (briefly) until its process is gone.
    pub(crate) async fn end(mut self) {
        let _ = self.client.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(3), self.client.wait()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec<'a>(askpass: Option<&'a AskpassEnv>) -> MasterSpec<'a> {
        MasterSpec {
            destination: "deploy@vps.example.org",
            port: Some(2222),
            identity: Some(Path::new("/home/u/.ssh/id_ed25519")),
            known_hosts: Path::new("/run/rd1/known_hosts"),
            strict: true,
            connect_timeout: Duration::from_secs(10),
            server_alive_interval: Duration::from_secs(15),
            askpass,
        }
    }

    fn joined(args: Vec<OsString>) -> String {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn key_only_hosts_never_prompt() {
        let args = argv(
            &spec(None),
            Path::new("/run/rd1/master"),
            Path::new("/run/rd1/ssh.log"),
        );
        assert_eq!(
            joined(args),
            "-E /run/rd1/ssh.log -S /run/rd1/master -M -f -N -o ControlPersist=30s \
             -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=10 \
             -o ServerAliveInterval=15 -o UserKnownHostsFile=/run/rd1/known_hosts \
             -p 2222 -o IdentitiesOnly=yes -i /home/u/.ssh/id_ed25519 -- deploy@vps.example.org"
        );
    }

    #[test]
    fn hosts_with_a_keyring_secret_ask_once_and_carry_no_secret() {
        let askpass = AskpassEnv::new("/opt/rdesk/rdesk-askpass", "prod");
        let mut s = spec(Some(&askpass));
        s.strict = false;
        s.port = None;
        s.identity = None;
        let text = joined(argv(
            &s,
            Path::new("/run/rd1/master"),
            Path::new("/run/rd1/ssh.log"),
        ));
        assert!(
            text.contains("-o BatchMode=no -o NumberOfPasswordPrompts=1"),
            "{text}"
        );
        assert!(text.contains("StrictHostKeyChecking=accept-new"), "{text}");
        assert!(!text.contains("-p "), "{text}");
        assert!(!text.contains("rdesk-askpass"), "{text}");
        assert!(text.ends_with("-- deploy@vps.example.org"), "{text}");
    }

    #[test]
    fn the_lease_goes_through_the_master_only() {
        assert_eq!(
            joined(lease_argv(Path::new("/run/rd1/master"), "deploy@vps")),
            "-S /run/rd1/master -T -o ControlMaster=no -o BatchMode=yes -- deploy@vps exec cat"
        );
    }

    #[tokio::test]
    async fn a_missing_host_fails_with_what_ssh_said() {
        let dir = tempfile::tempdir().unwrap();
        let known = dir.path().join("known_hosts");
        std::fs::write(&known, "").unwrap();
        let s = MasterSpec {
            destination: "root@127.0.0.1",
            port: Some(1),
            identity: None,
            known_hosts: &known,
            strict: false,
            connect_timeout: Duration::from_secs(5),
            server_alive_interval: Duration::from_secs(5),
            askpass: None,
        };
        let said = launch(&s, dir.path()).await.unwrap_err();
        assert!(said.to_lowercase().contains("connection refused"), "{said}");
    }
}
