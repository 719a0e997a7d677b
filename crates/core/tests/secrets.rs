//! End-to-end tests of secrets in a real Secret Service: each test starts its
//! own D-Bus session (`dbus-daemon`) and its own unlocked `gnome-keyring` in a
//! temporary home, and runs every keyring client as a child process whose
//! environment points at that bus (nothing is set in this process). The
//! children are this test binary re-run in a "child role" (see
//! [`child_role`]) and the `rdesk-askpass` binary beside it, when built.
//!
//! They run only with `RDESK_E2E=1`; otherwise each prints "skipped" and
//! passes. The ssh test also needs the stand-in (`cargo xtask standin env`).
//! Everything started is stopped by its pid; every wait is bounded.
// Test helpers: a panic is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// ssh options for the throwaway test key against the stand-in: that key only,
/// no agent, and no known_hosts (the stand-in's host key is not the subject here).
const TEST_KEY_ONLY: &[&str] = &[
    "-o",
    "IdentitiesOnly=yes",
    "-o",
    "IdentityAgent=none",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "ConnectTimeout=10",
];

use rdesk_core::secrets::askpass::AskpassEnv;
use rdesk_core::secrets::{Secret, SecretKind, SecretStore};
use tempfile::TempDir;

/// Tells a re-run of this binary which keyring operation to do.
const CHILD_VAR: &str = "RDESK_SECRETS_TEST_CHILD";
/// Marks the line of a child's stdout that carries its answer.
const RESULT: &str = "RESULT:";
const KEYRING_PASSWORD: &str = "e2e-keyring-unlock";

fn e2e(test: &str) -> bool {
    if std::env::var("RDESK_E2E").as_deref() == Ok("1") {
        return true;
    }
    println!("skipped {test}: set RDESK_E2E=1 (and run under `cargo xtask test`)");
    false
}

/// Waits up to `within` for `done`, checking every 50 ms.
fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < within, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `cmd` to its end with stdin `input`, killing it (by pid) after
/// `within`.
fn run(mut cmd: Command, input: &[u8], within: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {cmd:?}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input).unwrap();
    drop(stdin);
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > within {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{cmd:?} did not finish within {within:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A private desktop session: a D-Bus daemon and an unlocked gnome-keyring,
/// both our children, killed on drop.
struct Session {
    dir: TempDir,
    bus: String,
    dbus: Child,
    keyring: Option<Child>,
}

impl Session {
    fn start() -> Session {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["home", "data", "runtime"] {
            fs::create_dir(dir.path().join(sub)).unwrap();
        }
        let socket = dir.path().join("bus");
        let root = dir.path().to_path_buf();
        let log = |name: &str| fs::File::create(root.join(name)).unwrap();
        let dbus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile"])
            .arg(format!("--address=unix:path={}", socket.display()))
            .stdin(Stdio::null())
            .stdout(log("dbus.out"))
            .stderr(log("dbus.err"))
            .spawn()
            .expect("dbus-daemon (apt package dbus) must be installed");
        let mut session = Session {
            bus: format!("unix:path={}", socket.display()),
            dir,
            dbus,
            keyring: None,
        };
        wait_until("the D-Bus socket", Duration::from_secs(10), || {
            socket.exists()
        });

        let mut keyring = session
            .command("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .stdin(Stdio::piped())
            .stdout(log("keyring.out"))
            .stderr(log("keyring.err"))
            .spawn()
            .expect("gnome-keyring-daemon (apt package gnome-keyring) must be installed");
        let mut stdin = keyring.stdin.take().unwrap();
        stdin.write_all(KEYRING_PASSWORD.as_bytes()).unwrap();
        drop(stdin);
        session.keyring = Some(keyring);
        wait_until("gnome-keyring on the bus", Duration::from_secs(15), || {
            let mut q = session.command("dbus-send");
            q.args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus.NameHasOwner",
                "string:org.freedesktop.secrets",
            ]);
            let out = run(q, b"", Duration::from_secs(5));
            String::from_utf8_lossy(&out.stdout).contains("boolean true")
        });
        session
    }

    /// `program` with this session's bus and a temporary home; no display.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        let d = self.dir.path();
        cmd.env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .env("HOME", d.join("home"))
            .env("XDG_DATA_HOME", d.join("data"))
            .env("XDG_RUNTIME_DIR", d.join("runtime"))
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("SSH_AUTH_SOCK")
            .env_remove(CHILD_VAR);
        cmd
    }

    /// This test binary re-run as the child `role`, with `input` on stdin:
    /// its `RESULT:` line, or its error.
    fn child(&self, role: &str, input: &str) -> Result<String, String> {
        let mut cmd = self.command(std::env::current_exe().unwrap());
        cmd.env(CHILD_VAR, role)
            .args(["--exact", "child_role", "--nocapture", "--test-threads=1"]);
        child_result(run(cmd, input.as_bytes(), Duration::from_secs(30)))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(mut keyring) = self.keyring.take() {
            let _ = keyring.kill();
            let _ = keyring.wait();
        }
        let _ = self.dbus.kill();
        let _ = self.dbus.wait();
    }
}

fn child_result(out: Output) -> Result<String, String> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let result = stdout
        .lines()
        .find_map(|l| l.split_once(RESULT).map(|(_, r)| r))
        .unwrap_or_else(|| {
            panic!(
                "child printed no result; stdout: {stdout}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    match result.strip_prefix("ok:") {
        Some(value) => Ok(value.to_owned()),
        None => Err(result.strip_prefix("err:").unwrap_or(result).to_owned()),
    }
}

fn kind(name: &str) -> SecretKind {
    match name {
        "ssh-password" => SecretKind::SshPassword,
        "key-passphrase" => SecretKind::KeyPassphrase,
        other => panic!("unknown kind {other}"),
    }
}

/// Not a test of its own: the body of a child process started by
/// [`Session::child`]. `RDESK_SECRETS_TEST_CHILD` is `open`,
/// `set:HOST:KIND` (the secret on stdin), `get:HOST:KIND`,
/// `delete:HOST:KIND` or `delete-all:HOST`. Without it, this does nothing.
#[test]
fn child_role() {
    let Ok(role) = std::env::var(CHILD_VAR) else {
        return;
    };
    let parts: Vec<&str> = role.split(':').collect();
    let result = SecretStore::open().and_then(|store| match parts.as_slice() {
        ["open"] => Ok("opened".to_owned()),
        ["set", host, k] => {
            let mut input = String::new();
            std::io::stdin().read_to_string(&mut input).unwrap();
            store
                .set(host, kind(k), &Secret::from(input))
                .map(|()| "stored".to_owned())
        }
        ["get", host, k] => store.get(host, kind(k)).map(|s| match s {
            Some(s) => format!("some:{}", s.expose()),
            None => "none".to_owned(),
        }),
        ["delete", host, k] => store.delete(host, kind(k)).map(|()| "deleted".to_owned()),
        ["delete-all", host] => store
            .delete_all_for_host(host)
            .map(|()| "deleted".to_owned()),
        _ => panic!("unknown child role {role}"),
    });
    match result {
        Ok(value) => println!("{RESULT}ok:{value}"),
        Err(e) => println!("{RESULT}err:{e}"),
    }
}

/// `rdesk-askpass` beside this test's directory (`target/debug`), when the
/// workspace's binaries were built (`cargo xtask test` builds them).
fn askpass_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let path = exe.parent()?.parent()?.join("rdesk-askpass");
    path.is_file().then_some(path)
}

fn askpass(session: &Session, program: &Path, host: &str, prompt: &str) -> Output {
    let mut cmd = session.command(program);
    cmd.env("RDESK_ASKPASS_HOST", host).arg(prompt);
    run(cmd, b"", Duration::from_secs(30))
}

#[test]
fn secrets_round_trip_through_a_private_secret_service() {
    if !e2e("secrets_round_trip_through_a_private_secret_service") {
        return;
    }
    let session = Session::start();

    // Without a bus there is no keyring, and we say so instead of using
    // keyring's in-memory mock.
    let mut no_bus = session.command(std::env::current_exe().unwrap());
    no_bus
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env(CHILD_VAR, "open")
        .args(["--exact", "child_role", "--nocapture"]);
    let err = child_result(run(no_bus, b"", Duration::from_secs(30))).unwrap_err();
    assert!(err.starts_with("no OS keyring available: "), "{err}");

    assert_eq!(session.child("open", ""), Ok("opened".to_owned()));
    let password = "correct horse: battery staple";
    let passphrase = "pp-42 \u{e9}";
    assert_eq!(
        session.child("set:e2e-host:ssh-password", password),
        Ok("stored".to_owned())
    );
    assert_eq!(
        session.child("set:e2e-host:key-passphrase", passphrase),
        Ok("stored".to_owned())
    );
    assert_eq!(
        session.child("get:e2e-host:ssh-password", ""),
        Ok(format!("some:{password}"))
    );
    assert_eq!(
        session.child("get:e2e-host:key-passphrase", ""),
        Ok(format!("some:{passphrase}"))
    );
    assert_eq!(
        session.child("get:other-host:ssh-password", ""),
        Ok("none".to_owned())
    );
    // Replacing keeps one entry.
    assert_eq!(
        session.child("set:e2e-host:ssh-password", "second"),
        Ok("stored".to_owned())
    );
    assert_eq!(
        session.child("get:e2e-host:ssh-password", ""),
        Ok("some:second".to_owned())
    );
    assert_eq!(
        session.child("set:e2e-host:ssh-password", password),
        Ok("stored".to_owned())
    );

    match askpass_binary() {
        Some(program) => {
            let out = askpass(
                &session,
                &program,
                "e2e-host",
                "root@127.0.0.1's password: ",
            );
            assert!(out.status.success(), "{out:?}");
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                format!("{password}\n")
            );

            let prompt = "Enter passphrase for key '/k/id_ed25519': ";
            let out = askpass(&session, &program, "e2e-host", prompt);
            assert!(out.status.success(), "{out:?}");
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                format!("{passphrase}\n")
            );

            let prompt = "The authenticity of host 'x' can't be established.\n\
                          Are you sure you want to continue connecting (yes/no/[fingerprint])? ";
            for (host, prompt, says) in [
                ("e2e-host", prompt, "refusing to confirm a host key"),
                (
                    "other-host",
                    "Password: ",
                    "no SSH password is stored for host `other-host`",
                ),
                (
                    "e2e-host",
                    "Verification code: ",
                    "no stored secret answers",
                ),
            ] {
                let out = askpass(&session, &program, host, prompt);
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert!(!out.status.success(), "{prompt}: {out:?}");
                assert!(out.stdout.is_empty(), "{prompt}: {out:?}");
                assert!(stderr.contains(says), "{prompt}: {stderr}");
                assert!(!stderr.contains(password) && !stderr.contains(passphrase));
            }
        }
        None => println!("rdesk-askpass is not built beside this test: its part skipped"),
    }

    assert_eq!(
        session.child("delete-all:e2e-host", ""),
        Ok("deleted".to_owned())
    );
    for k in ["ssh-password", "key-passphrase"] {
        assert_eq!(
            session.child(&format!("get:e2e-host:{k}"), ""),
            Ok("none".to_owned())
        );
        // Deleting what is not there is fine.
        assert_eq!(
            session.child(&format!("delete:e2e-host:{k}"), ""),
            Ok("deleted".to_owned())
        );
    }

    // The secrets never reached the keyring's files in clear text.
    for entry in fs::read_dir(session.dir.path().join("data/keyrings")).unwrap() {
        let bytes = fs::read(entry.unwrap().path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(password) && !text.contains(passphrase));
    }
}

/// Removes the line it added to the stand-in's `authorized_keys` on drop.
struct AuthorizedKey {
    file: PathBuf,
    line: String,
}

impl AuthorizedKey {
    fn add(file: PathBuf, line: &str) -> AuthorizedKey {
        let line = line.trim().to_owned();
        let mut f = fs::OpenOptions::new().append(true).open(&file).unwrap();
        writeln!(f, "{line}").unwrap();
        AuthorizedKey { file, line }
    }
}

impl Drop for AuthorizedKey {
    fn drop(&mut self) {
        if let Ok(text) = fs::read_to_string(&self.file) {
            let kept: String = text
                .lines()
                .filter(|l| l.trim() != self.line)
                .map(|l| format!("{l}\n"))
                .collect();
            let _ = fs::write(&self.file, kept);
        }
    }
}

/// ssh with `SSH_ASKPASS=rdesk-askpass`, `SSH_ASKPASS_REQUIRE=force` and no
/// display asks our helper for a key's passphrase, which comes from the
/// keyring; a wrong one stored fails the login.
#[test]
fn ssh_asks_rdesk_askpass_for_a_key_passphrase() {
    if !e2e("ssh_asks_rdesk_askpass_for_a_key_passphrase") {
        return;
    }
    let Some(standin_dir) = std::env::var_os("RDESK_STANDIN_DIR").map(PathBuf::from) else {
        println!("skipped: RDESK_STANDIN_DIR is not set; see `cargo xtask standin env`");
        return;
    };
    let Some(program) = askpass_binary() else {
        println!("skipped: rdesk-askpass is not built beside this test");
        return;
    };
    let session = Session::start();
    let key = session.dir.path().join("id_ed25519");
    let passphrase = "askpass-e2e-passphrase";
    let mut keygen = Command::new("ssh-keygen");
    keygen
        .args([
            "-q",
            "-t",
            "ed25519",
            "-C",
            "rdesk-askpass-e2e",
            "-N",
            passphrase,
            "-f",
        ])
        .arg(&key);
    let out = run(keygen, b"", Duration::from_secs(30));
    assert!(out.status.success(), "{out:?}");
    let public = fs::read_to_string(key.with_extension("pub")).unwrap();
    let _authorized = AuthorizedKey::add(standin_dir.join("sshd/authorized_keys"), &public);

    let ssh = |host: &str| {
        let mut cmd = session.command("ssh");
        cmd.env("SSH_ASKPASS", &program)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("RDESK_ASKPASS_HOST", host)
            .args(["-F", "/dev/null", "-p", "2222", "-i"])
            .arg(&key)
            .args(TEST_KEY_ONLY)
            .args([
                "-o",
                "BatchMode=no",
                "-o",
                "NumberOfPasswordPrompts=1",
                "root@127.0.0.1",
                "echo",
                "askpass-login-ok",
            ]);
        run(cmd, b"", Duration::from_secs(60))
    };

    assert_eq!(
        session.child("set:askpass-e2e:key-passphrase", passphrase),
        Ok("stored".to_owned())
    );
    let out = ssh("askpass-e2e");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "askpass-login-ok"
    );

    // A wrong passphrase in the keyring: the login fails, and nothing leaks.
    assert_eq!(
        session.child("set:askpass-wrong:key-passphrase", "not the passphrase"),
        Ok("stored".to_owned())
    );
    let out = ssh("askpass-wrong");
    assert!(!out.status.success(), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("not the passphrase"));
    // A host with no secret at all: our helper says why.
    let out = ssh("askpass-none");
    assert!(!out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no key passphrase is stored for host `askpass-none`"),
        "{stderr}"
    );

    // The wiring the host module needs (the openssh crate forces
    // BatchMode=yes, which turns askpass off): a ControlMaster we launch
    // with `AskpassEnv`, then used and closed through its control socket.
    let ctl = session.dir.path().join("master.sock");
    let mut master = session.command("ssh");
    master
        .args(["-F", "/dev/null", "-M", "-f", "-N", "-S"])
        .arg(&ctl)
        .args(["-o", "ControlPersist=yes", "-p", "2222", "-i"])
        .arg(&key)
        .args(TEST_KEY_ONLY);
    AskpassEnv::new(&program, "askpass-e2e").apply(&mut master);
    master
        .arg("root@127.0.0.1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // A file, not a pipe: the backgrounded master keeps it open.
        .stderr(fs::File::create(session.dir.path().join("master.err")).unwrap());
    let mut launcher = master.spawn().unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = launcher.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = launcher.kill();
            panic!("the ssh master did not authenticate within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _master = Master::new(&session, ctl.clone());
    assert!(
        status.success(),
        "{status}: {}",
        fs::read_to_string(session.dir.path().join("master.err")).unwrap_or_default()
    );
    let mut through = session.command("ssh");
    through.args(["-F", "/dev/null", "-S"]).arg(&ctl).args([
        "-o",
        "BatchMode=yes",
        "root@127.0.0.1",
        "echo",
        "via-master",
    ]);
    let out = run(through, b"", Duration::from_secs(30));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "via-master");
}

/// A ControlMaster closed on drop with `-O exit`, and killed by its pid if
/// that did not end it.
struct Master {
    cmd: Command,
    ctl: PathBuf,
    pid: Option<u32>,
}

impl Master {
    fn new(session: &Session, ctl: PathBuf) -> Master {
        let mut cmd = session.command("ssh");
        cmd.args(["-F", "/dev/null", "-S"]).arg(&ctl);
        let mut check = session.command("ssh");
        check
            .args(["-F", "/dev/null", "-S"])
            .arg(&ctl)
            .args(["-O", "check", "root@127.0.0.1"]);
        let out = run(check, b"", Duration::from_secs(10));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let pid = stderr
            .split_once("(pid=")
            .and_then(|(_, rest)| rest.split(')').next())
            .and_then(|pid| pid.parse().ok());
        Master { cmd, ctl, pid }
    }
}

impl Drop for Master {
    fn drop(&mut self) {
        if self.ctl.exists() {
            self.cmd.args(["-O", "exit", "root@127.0.0.1"]);
            let _ = self
                .cmd
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        if let Some(pid) = self.pid {
            let proc = PathBuf::from(format!("/proc/{pid}"));
            let deadline = Instant::now() + Duration::from_secs(5);
            while proc.exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if proc.exists() {
                let _ = Command::new("kill").arg(pid.to_string()).status();
            }
        }
    }
}
