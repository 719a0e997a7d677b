//! Debian packages of the stand-in and the desktop build: installs only what `dpkg -s` says is
//! missing, running `apt-get update` once and only when something is.

use std::process::Command;

use anyhow::Result;

use crate::facts::{APT_PACKAGES, DESKTOP_APT_PACKAGES, Standin};
use crate::sh;
use crate::ui::{self, Health, Outcome};

/// True when `dpkg -s` output says the package is installed.
fn installed_status(dpkg_status: &str) -> bool {
    dpkg_status
        .lines()
        .any(|l| l.trim() == "Status: install ok installed")
}

fn installed(package: &str) -> bool {
    Command::new("dpkg")
        .args(["-s", package])
        .output()
        .is_ok_and(|o| o.status.success() && installed_status(&String::from_utf8_lossy(&o.stdout)))
}

pub fn missing() -> Vec<&'static str> {
    APT_PACKAGES
        .iter()
        .chain(DESKTOP_APT_PACKAGES)
        .copied()
        .filter(|p| !installed(p))
        .collect()
}

fn apt_get(args: &[&str]) -> Command {
    let mut cmd = Command::new("apt-get");
    cmd.env("DEBIAN_FRONTEND", "noninteractive")
        // Wait for another apt run's lock instead of failing at once.
        .args(["-o", "DPkg::Lock::Timeout=300", "-q"])
        .args(args);
    cmd
}

pub fn up(st: &Standin) -> Result<Outcome> {
    let missing = missing();
    if missing.is_empty() {
        return ui::already(format!(
            "{} packages",
            APT_PACKAGES.len() + DESKTOP_APT_PACKAGES.len()
        ));
    }
    let log = st.log("apt");
    ui::note(format!("apt-get update (log: {})", log.display()));
    sh::run_logged(&mut apt_get(&["update"]), &log)?;
    ui::note(format!("apt-get install {}", missing.join(" ")));
    let mut install = apt_get(&["install", "-y", "--no-install-recommends"]);
    install.args(&missing);
    sh::run_logged(&mut install, &log)?;
    ui::done(format!("installed {}", missing.join(" ")))
}

pub fn status() -> Health {
    let missing = missing();
    if missing.is_empty() {
        ui::healthy("all installed")
    } else {
        ui::unhealthy(format!("missing: {}", missing.join(" ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_dpkg_status() {
        assert!(installed_status(
            "Package: x\nStatus: install ok installed\nVersion: 1\n"
        ));
        assert!(!installed_status(
            "Package: x\nStatus: deinstall ok config-files\n"
        ));
        assert!(!installed_status(""));
    }
}
