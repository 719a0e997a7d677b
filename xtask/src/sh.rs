//! Running other programs: for their output, quietly for a yes/no, or with
//! their output appended to a log file whose tail is shown when they fail.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// How many log lines a failure shows.
const TAIL_LINES: usize = 40;

/// `cargo`: the one running this xtask (`$CARGO`) when there is one.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// `cargo run -p rdesk-e2e --bin NAME --` in `repo`: a program of the
/// end-to-end crate; its own arguments follow.
pub fn e2e_program(repo: &Path, name: &str) -> Command {
    let mut cmd = cargo();
    cmd.args(["run", "--quiet", "-p", "rdesk-e2e", "--bin", name, "--"])
        .current_dir(repo);
    cmd
}

/// The command line, for messages.
pub fn describe(cmd: &Command) -> String {
    let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
    parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}

/// Runs `cmd` and returns its standard output, trimmed; fails with its
/// standard error when it exits non-zero.
pub fn capture(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run `{}`", describe(cmd)))?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({}): {}",
            describe(cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Runs `cmd` with no output shown; true when it exits zero.
pub fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Opens `log` for appending, creating its folder.
pub fn open_log(log: &Path) -> Result<File> {
    if let Some(dir) = log.parent() {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("cannot open {}", log.display()))
}

/// Runs `cmd` with its output appended to `log`; on failure the error shows
/// the log's last lines.
pub fn run_logged(cmd: &mut Command, log: &Path) -> Result<()> {
    let mut file = open_log(log)?;
    writeln!(file, "\n$ {}", describe(cmd))?;
    let status = cmd
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .status()
        .with_context(|| format!("cannot run `{}`", describe(cmd)))?;
    if !status.success() {
        bail!(
            "`{}` failed ({status}); last lines of {}:\n{}",
            describe(cmd),
            log.display(),
            tail(log, TAIL_LINES)
        );
    }
    Ok(())
}

/// Runs `cmd` with its output shown; fails when it exits non-zero.
pub fn run_shown(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("cannot run `{}`", describe(cmd)))?;
    if !status.success() {
        bail!("`{}` failed ({status})", describe(cmd));
    }
    Ok(())
}

/// The last `n` lines of a text file ("" when it cannot be read).
pub fn tail(path: &Path, n: usize) -> String {
    let text = fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// PATH with the system folders appended, for daemons started from a shell
/// whose PATH may lack the `sbin` ones.
pub fn system_path() -> String {
    let mut path = std::env::var("PATH").unwrap_or_default();
    for dir in [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ] {
        if !path.split(':').any(|d| d == dir) {
            if !path.is_empty() {
                path.push(':');
            }
            path.push_str(dir);
        }
    }
    path
}

/// True when `program` is found on PATH (or is an existing path).
pub fn have(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).exists();
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        let dir = std::env::temp_dir().join(format!("xtask-tail-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let f = dir.join("log");
        fs::write(&f, "a\nb\nc\n").unwrap();
        assert_eq!(tail(&f, 2), "b\nc");
        assert_eq!(tail(&f, 10), "a\nb\nc");
        assert_eq!(tail(&dir.join("missing"), 2), "");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn capture_and_failures() {
        assert_eq!(capture(Command::new("echo").arg(" hi ")).unwrap(), "hi");
        let err = capture(Command::new("sh").args(["-c", "echo boom >&2; exit 3"])).unwrap_err();
        assert!(err.to_string().contains("boom"), "{err}");
        assert!(succeeds(&mut Command::new("true")));
        assert!(!succeeds(&mut Command::new("false")));
        assert!(have("sh"));
        assert!(system_path().split(':').any(|d| d == "/usr/sbin"));
        assert!(!have("surely-not-a-program-xtask"));
    }
}
