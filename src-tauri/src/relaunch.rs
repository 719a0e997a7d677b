//! The process replacing itself (`exec`, same pid) so that what it no
//! longer needs is gone. Two moments:
//!
//! - At start, when the environment lacks the settings that keep WebKitGTK
//!   light ([`LEAN_ENV`]: no GPU compositing, no GL in GTK), the process
//!   runs itself again with them added; a value the user set is kept.
//!   They can only be set before GTK and WebKit start, and only by a
//!   launcher: `set_var` is unsafe in a multithreaded process.
//! - When the last window closed, the process ends (its sessions closed
//!   like at quit) and runs itself again with `--tray`: a tray process
//!   that never held a webview costs a fraction of one that did (WebKit's
//!   libraries, its network process and the heap stay with a process).
//!
//! When `exec` fails, the caller goes on in the process it has. The
//! children of the image before (the window's WebKit processes, ending
//! with it) are still this pid's children: [`reap_inherited`] waits for
//! them, so none stays a zombie.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU8, Ordering};

use nix::sys::wait::waitpid;
use nix::unistd::Pid;

/// What makes the webview and GTK light: WebKit draws without GPU
/// compositing (its web process then needs about 80 MB less) and GTK
/// creates no GL context (no Mesa and LLVM loaded in the tray).
pub const LEAN_ENV: [(&str, &str); 2] = [
    ("WEBKIT_DISABLE_COMPOSITING_MODE", "1"),
    ("GDK_DEBUG", "gl-disable"),
];

/// What the process does once its run ended: [`END`], or [`TRAY`] when
/// the last window closed and nothing keeps the process as it is, or
/// [`QUIT`] when the user quit (windows closing during a quit do not make
/// it a tray).
static AT_EXIT: AtomicU8 = AtomicU8::new(END);
const END: u8 = 0;
const TRAY: u8 = 1;
const QUIT: u8 = 2;

/// Runs this program again with `args` and [`LEAN_ENV`] added, unless the
/// environment has every one of them set already. Returns only when it
/// did not run again (with the reason when `exec` failed).
pub fn with_lean_env(args: &[OsString]) -> Option<std::io::Error> {
    let missing: Vec<(&str, &str)> = LEAN_ENV
        .into_iter()
        .filter(|(name, _)| std::env::var_os(name).is_none())
        .collect();
    if missing.is_empty() {
        return None;
    }
    Some(itself(args).envs(missing).exec())
}

/// Marks the process to become the tray once its run ended, unless the
/// user quit.
pub fn into_tray_at_exit() {
    let _ = AT_EXIT.compare_exchange(END, TRAY, Ordering::SeqCst, Ordering::SeqCst);
}

/// Marks the process to end with its run: the user quit.
pub fn quit_at_exit() {
    AT_EXIT.store(QUIT, Ordering::SeqCst);
}

/// Whether the process is to become the tray.
pub fn into_tray_asked() -> bool {
    AT_EXIT.load(Ordering::SeqCst) == TRAY
}

/// Waits, on a thread of its own, for the children this process had before
/// it ran itself again: nothing of this image started them, so nothing
/// else waits for them. Call before starting any child.
pub fn reap_inherited() {
    let me = std::process::id().to_string();
    let inherited: Vec<Pid> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
            let ppid = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?;
            (ppid == me).then(|| Pid::from_raw(pid))
        })
        .collect();
    if inherited.is_empty() {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("reap-inherited".to_owned())
        .spawn(move || {
            for child in inherited {
                let _ = waitpid(child, None);
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot wait for the processes of the window before: {e}");
    }
}

/// Runs this program again with `args`. Returns only when it could not.
pub fn again(args: &[OsString]) -> std::io::Error {
    itself(args).exec()
}

/// This program, at the path it was started from: when a package upgrade
/// replaced the file, the kernel names the old one "PATH (deleted)", and
/// the new one at PATH is what runs.
fn itself(args: &[OsString]) -> Command {
    let program = std::env::current_exe()
        .map(|path| {
            let text = path.to_string_lossy();
            match text.strip_suffix(" (deleted)") {
                Some(original) if !path.exists() => PathBuf::from(original),
                _ => path,
            }
        })
        .unwrap_or_else(|_| PathBuf::from("rserve-desk"));
    let mut command = Command::new(program);
    command.args(args);
    command
}
