//! A private desktop session for tests that need the OS keyring: a D-Bus
//! daemon (or the bus of a test's virtual desktop) and an unlocked
//! gnome-keyring in a temporary home, children of the test, stopped by pid
//! on drop. Processes that should use this keyring
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
    /// The bus daemon, when the session made its own.
    dbus: Option<Child>,
    keyring: Option<Child>,
}

fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < within, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn log(root: &Path, name: &str) -> fs::File {
    fs::File::create(root.join(name)).expect("log file")
}

fn session_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for sub in ["home", "data", "runtime"] {
        fs::create_dir(dir.path().join(sub)).expect("mkdir");
    }
    dir
}

impl KeyringSession {
    /// A bus of its own, and the keyring on it.
    pub fn start() -> Self {
        let dir = session_dir();
        let socket = dir.path().join("bus");
        let dbus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile"])
            .arg(format!("--address=unix:path={}", socket.display()))
            .stdin(Stdio::null())
            .stdout(log(dir.path(), "dbus.out"))
            .stderr(log(dir.path(), "dbus.err"))
            .spawn()
            .expect("dbus-daemon (apt package dbus) must be installed");
        let session = Self {
            bus: format!("unix:path={}", socket.display()),
            dbus: Some(dbus),
            keyring: None,
            dir,
        };
        wait_until("the D-Bus socket", Duration::from_secs(10), || {
            socket.exists()
        });
        session.with_keyring()
    }

    /// The keyring on an existing bus (a virtual desktop's, whose apps find it there).
    pub fn on_bus(bus: &str) -> Self {
        Self {
            bus: bus.to_owned(),
            dbus: None,
            keyring: None,
            dir: session_dir(),
        }
        .with_keyring()
    }

    fn with_keyring(mut self) -> Self {
        let mut keyring = self
            .command("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .stdin(Stdio::piped())
            .stdout(log(self.dir.path(), "keyring.out"))
            .stderr(log(self.dir.path(), "keyring.err"))
            .spawn()
            .expect("gnome-keyring-daemon (apt package gnome-keyring) must be installed");
        let mut stdin = keyring.stdin.take().expect("stdin");
        stdin.write_all(b"e2e-keyring-unlock").expect("unlock");
        drop(stdin);
        self.keyring = Some(keyring);
        wait_until("gnome-keyring on the bus", Duration::from_secs(15), || {
            self.command("dbus-send")
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
        self
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

    /// `rdesk ARGS` on this session's bus with `desk`'s data directory,
    /// `input` on its standard input.
    pub fn rdesk(&self, desk: &crate::Rdesk, args: &[&str], input: &str) -> std::process::Output {
        let mut child = self
            .command(crate::rdesk_binary())
            .args(args)
            .env("RDESK_DATA_DIR", desk.data_dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("rdesk runs");
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(input.as_bytes())
            .expect("rdesk reads its input");
        child.wait_with_output().expect("rdesk ends")
    }
}

impl Drop for KeyringSession {
    fn drop(&mut self) {
        if let Some(mut keyring) = self.keyring.take() {
            let _ = keyring.kill();
            let _ = keyring.wait();
        }
        if let Some(mut dbus) = self.dbus.take() {
            let _ = dbus.kill();
            let _ = dbus.wait();
        }
    }
}
