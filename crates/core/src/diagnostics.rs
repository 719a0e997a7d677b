//! What a user sends with a bug report: the program's and its parts'
//! versions, the OS, where data and logs are, every host without secrets
//! (its target, whether a key file or the keyring is used, its apps'
//! states from the cache) and the last lines of the newest log. The desktop
//! app's About panel copies it; `rdesk diagnostics` prints it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::DeskError;
use crate::desk::Desk;
use crate::store::HostKind;

/// How many of the newest log's last lines a report carries.
pub const LOG_LINES: usize = 40;

/// The program and where it keeps its files, as the About panel shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct About {
    /// `rserve-desk 0.1.0`.
    pub program: String,
    /// The parts known when it starts (the program's own first); OpenSSH
    /// and the OS are read when asked, in [`About::versions`].
    parts: Vec<(String, String)>,
    pub data_dir: PathBuf,
    /// Where the desktop app writes its logs (the CLI logs to stderr).
    pub log_dir: PathBuf,
}

impl About {
    /// `program` at `version`, with the engine's own part, rdesk-core.
    /// Nothing is run: this is made at start-up.
    pub fn new(program: &str, version: &str, data_dir: PathBuf, log_dir: PathBuf) -> Self {
        let parts = vec![
            (program.to_owned(), version.to_owned()),
            (
                "rdesk-core".to_owned(),
                env!("CARGO_PKG_VERSION").to_owned(),
            ),
        ];
        Self {
            program: format!("{program} {version}"),
            parts,
            data_dir,
            log_dir,
        }
    }

    /// Adds a part's version (the window's toolkit and webview).
    pub fn with(mut self, part: &str, version: impl Into<String>) -> Self {
        self.parts.push((part.to_owned(), version.into()));
        self
    }

    /// Every part's name and version: those given, then OpenSSH (as
    /// `ssh -V` says, run now) and the OS.
    pub fn versions(&self) -> Vec<(String, String)> {
        let mut versions = self.parts.clone();
        versions.push(("OpenSSH".to_owned(), openssh_version()));
        versions.push(("OS".to_owned(), os_name()));
        versions
    }
}

/// What `ssh -V` prints (to stderr), or why there is nothing.
fn openssh_version() -> String {
    match Command::new("ssh").arg("-V").output() {
        Ok(out) => {
            let text = String::from_utf8_lossy(if out.stderr.is_empty() {
                &out.stdout
            } else {
                &out.stderr
            })
            .trim()
            .to_owned();
            if text.is_empty() {
                "ssh -V printed nothing".to_owned()
            } else {
                text
            }
        }
        Err(e) => format!("not found ({e})"),
    }
}

/// `PRETTY_NAME` of `/etc/os-release`, else the OS family, with the CPU.
fn os_name() -> String {
    let pretty = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_owned())
        })
        .unwrap_or_else(|| std::env::consts::OS.to_owned());
    format!("{pretty}, {}", std::env::consts::ARCH)
}

/// The diagnostics report over `desk`'s cache.
pub async fn report(desk: &Desk, about: &About) -> Result<String, DeskError> {
    let mut out = String::new();
    let _ = writeln!(out, "Rserve Desk diagnostics");
    for (part, version) in about.versions() {
        let _ = writeln!(out, "{part}: {version}");
    }
    let _ = writeln!(out, "data folder: {}", about.data_dir.display());
    let _ = writeln!(out, "log folder: {}", about.log_dir.display());
    let hosts = desk.hosts().await?;
    let _ = writeln!(out, "hosts: {}", hosts.len());
    for host in hosts {
        let reached = match host.kind {
            HostKind::Local => "this machine's Docker".to_owned(),
            HostKind::Ssh => format!(
                "ssh {} ({})",
                host.ssh_target.as_deref().unwrap_or("?"),
                if host.identity_file.is_some() {
                    "a key file"
                } else {
                    "the agent, ~/.ssh or the keyring"
                }
            ),
        };
        let apps = desk.store().apps(&host.name).await?;
        let mut states: BTreeMap<&str, usize> = BTreeMap::new();
        for app in &apps {
            *states.entry(app.status.as_str()).or_default() += 1;
        }
        let states: Vec<String> = states.iter().map(|(s, n)| format!("{n} {s}")).collect();
        let _ = writeln!(
            out,
            "  {}: {reached}, {}, {} apps{}",
            host.name,
            host.public_url,
            apps.len(),
            if states.is_empty() {
                String::new()
            } else {
                format!(" ({})", states.join(", "))
            }
        );
    }
    match newest_log(&about.log_dir) {
        Some(file) => {
            let lines = last_lines(&file, LOG_LINES);
            let _ = writeln!(
                out,
                "last {} lines of {}:",
                lines.len(),
                file.file_name().unwrap_or_default().to_string_lossy()
            );
            for line in lines {
                let _ = writeln!(out, "  {line}");
            }
        }
        None => {
            let _ = writeln!(out, "no log file yet");
        }
    }
    Ok(out)
}

/// The most recently written file in `dir`.
fn newest_log(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .max()
        .map(|(_, path)| path)
}

/// The last `n` lines of a text file (lossily decoded).
fn last_lines(file: &Path, n: usize) -> Vec<String> {
    let text = std::fs::read(file).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| (*l).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desk::NewHost;
    use crate::host::HostTarget;

    #[tokio::test]
    async fn a_report_names_versions_folders_hosts_and_the_newest_logs_last_lines() {
        let data = tempfile::tempdir().unwrap();
        let logs = tempfile::tempdir().unwrap();
        let desk = Desk::open(data.path()).await.unwrap();
        desk.add_host(NewHost {
            name: "laptop".into(),
            target: HostTarget::local(),
            public_url: Some("http://localhost:8080".into()),
            secret: None,
            confirmed_fingerprint: None,
        })
        .await
        .unwrap();
        std::fs::write(logs.path().join("rserve-desk.log.2026-12-01"), "old\n").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let lines: String = (1..=50).map(|i| format!("line {i}\n")).collect();
        std::fs::write(logs.path().join("rserve-desk.log.2026-12-02"), lines).unwrap();
        let about = About::new(
            "rserve-desk",
            "9.9.9",
            data.path().to_owned(),
            logs.path().to_owned(),
        )
        .with("Tauri", "2.x");
        let text = report(&desk, &about).await.unwrap();
        assert!(text.contains("rserve-desk: 9.9.9\n"), "{text}");
        assert!(text.contains("Tauri: 2.x\n"), "{text}");
        assert!(text.contains("OpenSSH: "), "{text}");
        assert!(
            text.contains(&format!("data folder: {}", data.path().display())),
            "{text}"
        );
        assert!(
            text.contains("  laptop: this machine's Docker, http://localhost:8080, 0 apps\n"),
            "{text}"
        );
        assert!(
            text.contains("last 40 lines of rserve-desk.log.2026-12-02:"),
            "{text}"
        );
        assert!(text.contains("  line 11\n") && text.ends_with("  line 50\n"));
        assert!(
            !text.contains(" line 10\n") && !text.contains("  old\n"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_report_without_logs_says_so() {
        let data = tempfile::tempdir().unwrap();
        let logs = tempfile::tempdir().unwrap();
        let desk = Desk::open(data.path()).await.unwrap();
        let about = About::new(
            "rdesk",
            "1.0.0",
            data.path().to_owned(),
            logs.path().join("missing"),
        );
        let text = report(&desk, &about).await.unwrap();
        assert!(
            text.contains("hosts: 0\n") && text.ends_with("no log file yet\n"),
            "{text}"
        );
    }
}
