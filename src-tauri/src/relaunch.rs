//! The process replacing itself (`exec`, same pid) so that what it no
//! longer needs is gone. Two moments:
//!
//! - At start, when the environment lacks the setting that keeps GTK light
//!   ([`LEAN_ENV`]: no GL context in GTK), the process runs itself again
//!   with it added; a value the user set is kept. It can only be set before
//!   GTK starts, and only by a launcher: `set_var` is unsafe in a
//!   multithreaded process.
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
use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::wait::waitpid;
use nix::unistd::Pid;

/// What makes GTK light: it creates no GL context, so the tray loads no
/// Mesa and LLVM (about 20 MB). WebKit's own drawing is left as it is:
/// `WEBKIT_DISABLE_COMPOSITING_MODE` would save about 80 MB in the web
/// process, but the window's WebDriver commands then hang (seen in the
/// desktop tests), and they are how the window is tested.
pub const LEAN_ENV: [(&str, &str); 1] = [("GDK_DEBUG", "gl-disable")];

/// The code the run ends with when the process is to go on as the tray
/// ([`again`] with `--tray`) rather than end.
pub const INTO_TRAY: i32 = 75;

/// Set when the user quit: windows closing during a quit must not make
/// the process a tray.
static QUITTING: AtomicBool = AtomicBool::new(false);

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

/// Notes that the run ends because the user quit.
pub fn quitting() {
    QUITTING.store(true, Ordering::SeqCst);
}

/// Whether the user quit.
pub fn quit_asked() -> bool {
    QUITTING.load(Ordering::SeqCst)
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
