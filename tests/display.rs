//! What the desktop tests and the bench need around the window: a virtual
//! display (Xvfb) and a D-Bus session of their own, child processes stopped
//! when dropped, a process's tree, and the `rserve-desk` binary built once.
// Test support: a panic here is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"))
}

/// Names a desktop binary built already (the bench's release build).
pub const DESKTOP_BIN_ENV: &str = "RDESK_DESKTOP_BIN";

/// The desktop binary: `$RDESK_DESKTOP_BIN`, else the debug build, built
/// once per run (the UI must be built into app/dist first).
pub fn desktop_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        if let Some(bin) = std::env::var_os(DESKTOP_BIN_ENV) {
            return PathBuf::from(bin);
        }
        assert!(
            workspace().join("app/dist/rdesk-app.js").is_file(),
            "the UI is not built: run `cargo xtask ui` (cargo xtask test does)"
        );
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", "rdesk-desktop"])
            .current_dir(workspace())
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building rserve-desk failed");
        target_dir().join("debug").join("rserve-desk")
    })
}

/// The process and all its descendants, from `/proc/*/stat`.
pub fn process_tree(root: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parents.push((pid, ppid));
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    found
}

/// The processes of the tree of `root` named `name` (as `/proc/*/comm`
/// has it, cut at 15 bytes: `WebKitWebProces`).
pub fn processes_named(root: u32, name: &str) -> Vec<u32> {
    process_tree(root)
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == name)
        })
        .collect()
}

/// A child process stopped with SIGTERM (then SIGKILL) when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `cmd` and returns it with the first line it prints.
fn spawn_reading_line(cmd: &mut Command) -> (Proc, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (Proc(child), line.trim().to_owned())
}

/// Xvfb (1280x800) and a D-Bus session daemon, both ours.
pub struct VirtualDesktop {
    /// `:N`, for `DISPLAY`.
    pub display: String,
    /// For `DBUS_SESSION_BUS_ADDRESS`.
    pub bus_address: String,
    /// The session's own config folder (`XDG_CONFIG_HOME`): a window's
    /// saved size and autostart entries never carry over to the next test,
    /// nor into the user's own folder. The cache folder stays shared: an
    /// empty one makes every start rebuild WebKit's caches (GStreamer's
    /// registry among them), which the bench would count as start time.
    config: tempfile::TempDir,
    // The bus goes before the display.
    _dbus: Proc,
    _xvfb: Proc,
}

impl VirtualDesktop {
    pub fn start() -> Self {
        let (xvfb, display) = spawn_reading_line(Command::new("Xvfb").args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
        ]));
        let (dbus, bus_address) = spawn_reading_line(Command::new("dbus-daemon").args([
            "--session",
            "--nofork",
            "--print-address=1",
        ]));
        Self {
            display: format!(":{display}"),
            bus_address,
            config: tempfile::tempdir().expect("a temporary folder"),
            _dbus: dbus,
            _xvfb: xvfb,
        }
    }

    /// `cmd` with this display, bus and config folder.
    pub fn env<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        cmd.env("DISPLAY", &self.display)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus_address)
            .env("XDG_CONFIG_HOME", self.config.path())
    }

    /// Asks the top-level window titled `title` to close, as a window
    /// manager does when its close button is clicked (`WM_DELETE_WINDOW`);
    /// false when no such window is mapped.
    pub fn close_window(&self, title: &str) -> bool {
        use x11rb::connection::Connection;
        use x11rb::protocol::xproto::{
            AtomEnum, ClientMessageEvent, ConnectionExt, EventMask, MapState,
        };
        let (conn, screen) = x11rb::connect(Some(&self.display)).expect("the display answers");
        let root = conn.setup().roots[screen].root;
        let atom = |name: &str| {
            conn.intern_atom(false, name.as_bytes())
                .expect("intern_atom")
                .reply()
                .expect("an atom")
                .atom
        };
        let (protocols, delete) = (atom("WM_PROTOCOLS"), atom("WM_DELETE_WINDOW"));
        let children = conn
            .query_tree(root)
            .expect("query_tree")
            .reply()
            .expect("the root's windows")
            .children;
        let titled = children.into_iter().find(|&w| {
            let mapped = conn
                .get_window_attributes(w)
                .ok()
                .and_then(|c| c.reply().ok())
                .is_some_and(|a| a.map_state == MapState::VIEWABLE);
            let name = conn
                .get_property(false, w, AtomEnum::WM_NAME, AtomEnum::ANY, 0, 256)
                .ok()
                .and_then(|c| c.reply().ok())
                .map(|p| p.value);
            mapped && name.as_deref() == Some(title.as_bytes())
        });
        let Some(window) = titled else {
            return false;
        };
        let event = ClientMessageEvent::new(32, window, protocols, [delete, 0, 0, 0, 0]);
        conn.send_event(false, window, EventMask::NO_EVENT, event)
            .expect("send_event");
        conn.flush().expect("flush");
        true
    }

    /// Saves the whole screen as a PNG at `path`, with ImageMagick's
    /// `import`: the pixels the X server shows, whatever renderer WebKit
    /// uses (WebDriver's own screenshot hangs once the page has changed
    /// when WebKit draws without DMA-BUF, as `rendering.rs` has it).
    pub fn screenshot(&self, path: &Path) {
        let status = self
            .env(Command::new("import").args(["-window", "root"]).arg(path))
            .stderr(Stdio::null())
            .status()
            .expect("ImageMagick's import runs");
        assert!(status.success(), "import could not save {}", path.display());
    }

    /// The colour of one screen pixel as `#RRGGBB`, read with ImageMagick's `import`.
    pub fn pixel(&self, x: u32, y: u32) -> Option<String> {
        let out = self
            .env(Command::new("import").args([
                "-window",
                "root",
                "-crop",
                &format!("1x1+{x}+{y}"),
                "-depth",
                "8",
                "txt:-",
            ]))
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.split_whitespace()
            .find(|w| w.starts_with('#') && w.len() >= 7)
            .map(|w| w[..7].to_uppercase())
    }
}
