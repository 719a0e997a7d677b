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
}

/// `rdesk` beside this test's directory, when the workspace's binaries were built.
fn rdesk_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let path = exe.parent()?.parent()?.join("rdesk");
    path.is_file().then_some(path)
}

/// The pids of processes whose command line contains `needle`.
fn pids_with_cmdline(needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(needle) {
            pids.push(pid);
        }
    }
    pids
}

/// Whether any process's command line or environment holds `secret`.
fn processes_holding(secret: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        if entry
            .file_name()
            .to_str()
            .is_none_or(|n| n.parse::<u32>().is_err())
        {
            continue;
        }
        for file in ["cmdline", "environ"] {
            let bytes = fs::read(entry.path().join(file)).unwrap_or_default();
            if String::from_utf8_lossy(&bytes).contains(secret) {
                found.push(format!("{}/{file}", entry.path().display()));
            }
        }
    }
    found
}

/// The fingerprint of the stand-in sshd's key, as `ssh-keygen -lf` prints it.
fn standin_fingerprint() -> String {
    let dir = PathBuf::from(std::env::var("RDESK_STANDIN_DIR").expect("RDESK_STANDIN_DIR"));
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(dir.join("sshd").join("ssh_host_ed25519_key.pub"))
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .nth(1)
        .expect("a fingerprint")
        .to_owned()
}

/// `rdesk` with this session's keyring, its own data directory and debug logs.
fn rdesk(session: &Session, program: &Path, data: &Path, args: &[&str], input: &str) -> Output {
    let mut cmd = session.command(program);
    cmd.env("RUST_LOG", "debug,sqlx=warn")
        .arg("--data-dir")
        .arg(data)
        .args(args);
    run(cmd, input.as_bytes(), Duration::from_secs(90))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The whole product path of a password kept in the keyring: `rdesk host add
/// --ask-password` stores it and logs in through `rdesk-askpass`, the tunnel
/// works for Docker, a wrong password is a clear error, `host rm` deletes
/// it from the keyring, and the password is never in SQLite, the logs, or
/// any process's command line or environment while the tunnel is open.
#[test]
fn rdesk_logs_in_with_a_password_kept_in_the_keyring() {
    if !e2e("rdesk_logs_in_with_a_password_kept_in_the_keyring") {
        return;
    }
    let (Ok(target), Ok(pw_file)) = (
        std::env::var("RDESK_STANDIN_PW_SSH"),
        std::env::var("RDESK_STANDIN_PW_FILE"),
    ) else {
        panic!(
            "RDESK_STANDIN_PW_SSH and RDESK_STANDIN_PW_FILE must be set: run under `cargo xtask test`"
        );
    };
    let (Some(program), Some(_)) = (rdesk_binary(), askpass_binary()) else {
        panic!("rdesk and rdesk-askpass must be built beside this test (cargo build --workspace)");
    };
    let password = fs::read_to_string(&pw_file).unwrap().trim().to_owned();
    assert_eq!(
        password.len(),
        32,
        "the stand-in's password file looks wrong"
    );
    let session = Session::start();
    let data = session.dir.path().join("rdesk-data");
    let mut said = String::new();
    // A password goes only to a confirmed key: the stand-in's, as checked on it.
    let fingerprint = standin_fingerprint();

    // A wrong password on add: refused, and nothing is kept anywhere.
    let out = rdesk(
        &session,
        &program,
        &data,
        &[
            "host",
            "add",
            "pw-wrong",
            "--ssh",
            &target,
            "--ask-password",
            "--fingerprint",
            &fingerprint,
        ],
        "not-the-password\n",
    );
    said.push_str(&text(&out));
    assert!(!out.status.success());
    assert!(
        text(&out).contains("refused the SSH login with the SSH password just given"),
        "{}",
        text(&out)
    );
    assert_eq!(
        session.child("get:pw-wrong:ssh-password", ""),
        Ok("none".to_owned())
    );

    let out = rdesk(
        &session,
        &program,
        &data,
        &[
            "host",
            "add",
            "pw",
            "--ssh",
            &target,
            "--ask-password",
            "--fingerprint",
            &fingerprint,
        ],
        &format!("{password}\n"),
    );
    said.push_str(&text(&out));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("host key pinned: SHA256:"),
        "{}",
        text(&out)
    );

    // The tunnel reaches Docker as the password user (group docker).
    let out = rdesk(
        &session,
        &program,
        &data,
        &["host", "check", "pw", "--json"],
        "",
    );
    said.push_str(&text(&out));
    assert!(out.status.success(), "{}", text(&out));
    let check: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        check["docker_version"]
            .as_str()
            .is_some_and(|v| !v.is_empty())
    );

    // While a tunnel is open, no process shows the password.
    let runtime = session.dir.path().join("runtime");
    let mut watch = session.command(&program);
    watch
        .env("RUST_LOG", "debug,sqlx=warn")
        .arg("--data-dir")
        .arg(&data)
        .args(["watch", "--host", "pw"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(session.dir.path().join("watch.err")).unwrap());
    let mut watch = watch.spawn().unwrap();
    let needle = runtime.display().to_string();
    wait_until(
        "the ssh master of rdesk watch",
        Duration::from_secs(30),
        || {
            pids_with_cmdline(&needle).iter().any(|pid| {
                fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "ssh")
            })
        },
    );
    let holding = processes_holding(&password);
    let masters = pids_with_cmdline(&needle);
    let _ = watch.kill();
    let _ = watch.wait();
    for pid in masters {
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }
    assert!(holding.is_empty(), "the password is visible in {holding:?}");
    said.push_str(&fs::read_to_string(session.dir.path().join("watch.err")).unwrap());

    // A wrong password kept later: a sentence that says what to do.
    let out = rdesk(
        &session,
        &program,
        &data,
        &[
            "host",
            "set-secret",
            "pw",
            "--password",
            "--fingerprint",
            &fingerprint,
        ],
        "also-wrong\n",
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = rdesk(&session, &program, &data, &["host", "check", "pw"], "");
    said.push_str(&text(&out));
    assert!(!out.status.success());
    assert!(
        text(&out).contains("refused the SSH login with the secret kept in the keyring for it")
            && text(&out).contains("rdesk host set-secret pw"),
        "{}",
        text(&out)
    );

    // The cache and every word rdesk said hold no password.
    for entry in fs::read_dir(&data).unwrap().flatten() {
        let bytes = fs::read(entry.path()).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&password),
            "{} holds the password",
            entry.path().display()
        );
    }
    assert!(
        said.contains("DEBUG") || said.contains("INFO"),
        "debug logs were not captured"
    );
    assert!(
        !said.contains(&password),
        "rdesk's output holds the password"
    );
    assert!(!said.contains("also-wrong") && !said.contains("not-the-password"));

    // Removing the host removes its secret from the keyring.
    let out = rdesk(&session, &program, &data, &["host", "rm", "pw"], "");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        session.child("get:pw:ssh-password", ""),
        Ok("none".to_owned())
    );
}
