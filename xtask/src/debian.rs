//! The `debian:bookworm` base image (no registry to pull from): when it is
//! missing, `debootstrap --variant=minbase` into a temporary folder in
//! `.standin/` and `docker import` it.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::docker::{self, docker};
use crate::facts::{
    DEBIAN_IMAGE, DEBIAN_SUITE, DEBOOTSTRAP, OWNER, OWNER_LABEL, ROLE_LABEL, Standin,
};
use crate::sh;
use crate::ui::{self, Health, Outcome};

/// The Debian mirror the host's apt uses for the suite, so the image's apt
/// (whose sources debootstrap writes) goes where the host's goes. `None`
/// leaves debootstrap's default.
fn host_mirror() -> Option<String> {
    let mut texts = Vec::new();
    if let Ok(dir) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut files: Vec<_> = dir.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            if f.extension().is_some_and(|e| e == "sources" || e == "list") {
                texts.push((f.clone(), fs::read_to_string(&f).unwrap_or_default()));
            }
        }
    }
    texts.push((
        "/etc/apt/sources.list".into(),
        fs::read_to_string("/etc/apt/sources.list").unwrap_or_default(),
    ));
    texts.iter().find_map(|(path, text)| mirror_of(path, text))
}

fn mirror_in_deb822(text: &str) -> Option<String> {
    text.split("\n\n").find_map(|stanza| {
        let field = |name: &str| {
            stanza.lines().find_map(|l| {
                l.strip_prefix(name)
                    .and_then(|r| r.strip_prefix(':'))
                    .map(str::trim)
            })
        };
        let is_deb = field("Types").is_some_and(|t| t.split_whitespace().any(|t| t == "deb"));
        let suite =
            field("Suites").is_some_and(|s| s.split_whitespace().any(|s| s == DEBIAN_SUITE));
        let uri = field("URIs")?.split_whitespace().next()?;
        (is_deb && suite && uri.starts_with("http")).then(|| uri.to_string())
    })
}

fn mirror_in_list(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("deb ")?.trim_start();
        let rest = match rest.strip_prefix('[') {
            Some(options) => options.split_once(']')?.1,
            None => rest,
        };
        let mut words = rest.split_whitespace();
        let (uri, suite) = (words.next()?, words.next()?);
        (uri.starts_with("http") && suite == DEBIAN_SUITE).then(|| uri.to_string())
    })
}

/// The mirror named in one sources file (deb822 `.sources` or one-line).
fn mirror_of(path: &Path, text: &str) -> Option<String> {
    if path.extension().is_some_and(|e| e == "sources") {
        mirror_in_deb822(text)
    } else {
        mirror_in_list(text)
    }
}

pub fn up(st: &Standin) -> Result<Outcome> {
    if let Some(img) = docker::image(DEBIAN_IMAGE) {
        return ui::already(format!("image {DEBIAN_IMAGE} ({})", short(&img.id)));
    }
    if !sh::have(DEBOOTSTRAP) {
        bail!("{DEBOOTSTRAP} is missing (apt step)");
    }
    let root = st.dir.join("debootstrap-root");
    if root.exists() {
        fs::remove_dir_all(&root).with_context(|| format!("cannot clear {}", root.display()))?;
    }
    let log = st.log("debootstrap");
    let mirror = host_mirror();
    ui::note(format!(
        "debootstrap --variant=minbase {DEBIAN_SUITE} {} (log: {})",
        mirror.as_deref().unwrap_or("(default mirror)"),
        log.display()
    ));
    let mut boot = Command::new(DEBOOTSTRAP);
    // debootstrap runs chroot, mount and friends from PATH.
    boot.env("PATH", sh::system_path());
    boot.args(["--variant=minbase", DEBIAN_SUITE]).arg(&root);
    if let Some(m) = &mirror {
        boot.arg(m);
    }
    sh::run_logged(&mut boot, &log)?;

    ui::note(format!("docker import as {DEBIAN_IMAGE}"));
    let mut tar = Command::new("tar")
        .args(["--numeric-owner", "-C"])
        .arg(&root)
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .stderr(sh::open_log(&log)?)
        .spawn()
        .context("cannot run tar")?;
    let tar_out = tar.stdout.take().context("tar has no stdout")?;
    let import = docker()
        .args(["import", "--change", "CMD [\"bash\"]", "--change"])
        .arg(format!(
            "LABEL {OWNER_LABEL}={OWNER} {ROLE_LABEL}=debian-base"
        ))
        .args(["-", DEBIAN_IMAGE])
        .stdin(Stdio::from(tar_out))
        .stderr(sh::open_log(&log)?)
        .output()
        .context("cannot run docker import")?;
    let tar_status = tar.wait()?;
    if !tar_status.success() || !import.status.success() {
        bail!(
            "tar ({tar_status}) | docker import ({}) failed; last lines of {}:\n{}",
            import.status,
            log.display(),
            sh::tail(&log, 20)
        );
    }
    fs::remove_dir_all(&root).with_context(|| format!("cannot remove {}", root.display()))?;
    let id = docker::image(DEBIAN_IMAGE)
        .map(|i| i.id)
        .unwrap_or_default();
    ui::done(format!("imported {DEBIAN_IMAGE} ({})", short(&id)))
}

/// The first 12 hex digits of an image id.
pub fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

pub fn status() -> Health {
    match docker::image(DEBIAN_IMAGE) {
        Some(img) => ui::healthy(format!("{DEBIAN_IMAGE} ({})", short(&img.id))),
        None => ui::unhealthy(format!("{DEBIAN_IMAGE} missing")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_suite_mirror() {
        let deb822 = "Types: deb\n# comment\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n";
        assert_eq!(
            mirror_of(Path::new("a.sources"), deb822).as_deref(),
            Some("http://mirror.example/debian")
        );
        let list = "# x\ndeb [signed-by=/k.gpg] http://m.example/debian bookworm main\n";
        assert_eq!(
            mirror_of(Path::new("sources.list"), list).as_deref(),
            Some("http://m.example/debian")
        );
        assert_eq!(
            mirror_of(Path::new("x.list"), "deb http://m/debian bullseye main\n"),
            None
        );
        assert_eq!(short("sha256:0123456789abcdef"), "0123456789ab");
    }
}
