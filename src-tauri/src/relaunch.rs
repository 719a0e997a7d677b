//! The process replacing itself (`exec`, same pid) so that what it no
//! longer needs is gone: when the last window closed, the process ends
//! (its sessions closed like at quit) and runs itself again with
//! `--tray`. A tray process that never held a webview costs a fraction of
//! one that did (WebKit's libraries, its network process and the heap stay
//! with a process).
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

/// The code the run ends with when the process is to go on as the tray
/// ([`again`] with `--tray`) rather than end.
pub const INTO_TRAY: i32 = 75;

/// Set when the user quit: windows closing during a quit must not make
/// the process a tray.
static QUITTING: AtomicBool = AtomicBool::new(false);

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
