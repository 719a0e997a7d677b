//! A private desktop session for tests that need the OS keyring: a D-Bus
//! daemon and an unlocked gnome-keyring in a temporary home, both children of
//! the test, stopped by pid on drop. Processes that should use this keyring
//! are started with [`KeyringSession::command`]; nothing is set in the test
//! process itself.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct KeyringSession {
    dir: tempfile::TempDir,
    bus: String,
    dbus: Child,
    keyring: Option<Child>,
}

fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < within, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl KeyringSession {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        for sub in ["home", "data", "runtime"] {
            fs::create_dir(dir.path().join(sub)).expect("mkdir");
        }
        let socket = dir.path().join("bus");
        let log = |root: &Path, name: &str| fs::File::create(root.join(name)).expect("log file");
        let dbus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile"])
            .arg(format!("--address=unix:path={}", socket.display()))
            .stdin(Stdio::null())
            .stdout(log(dir.path(), "dbus.out"))
            .stderr(log(dir.path(), "dbus.err"))
            .spawn()
            .expect("dbus-daemon (apt package dbus) must be installed");
        let mut session = Self {
            bus: format!("unix:path={}", socket.display()),
            dbus,
            keyring: None,
            dir,
        };
        wait_until("the D-Bus socket", Duration::from_secs(10), || {
            socket.exists()
        });
        let mut keyring = session
            .command("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .stdin(Stdio::piped())
            .stdout(log(session.dir.path(), "keyring.out"))
            .stderr(log(session.dir.path(), "keyring.err"))
            .spawn()
            .expect("gnome-keyring-daemon (apt package gnome-keyring) must be installed");
        let mut stdin = keyring.stdin.take().expect("stdin");
        stdin.write_all(b"e2e-keyring-unlock").expect("unlock");
        drop(stdin);
        session.keyring = Some(keyring);
        wait_until("gnome-keyring on the bus", Duration::from_secs(15), || {
            session
                .command("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.secrets",
                ])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("boolean true"))
        });
        session
    }

    /// `program` on this session's bus, with a temporary home and no display.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        let d = self.dir.path();
        cmd.env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .env("HOME", d.join("home"))
            .env("XDG_DATA_HOME", d.join("data"))
            .env("XDG_RUNTIME_DIR", d.join("runtime"))
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY");
        cmd
    }
}

impl Drop for KeyringSession {
    fn drop(&mut self) {
        if let Some(mut keyring) = self.keyring.take() {
            let _ = keyring.kill();
            let _ = keyring.wait();
        }
        let _ = self.dbus.kill();
        let _ = self.dbus.wait();
    }
}
