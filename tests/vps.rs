//! The bare VPS stand-in of `cargo xtask standin vps` (a network namespace
//! at 10.213.7.2 with its own sshd, no Docker until a bootstrap starts one):
//! its address from the environment, a root shell on it, and a reset back
//! to empty.

use std::process::{Command, Output, Stdio};

/// The Traefik image the stand-in builds, sent to the VPS.
pub const TRAEFIK_IMAGE: &str = "rserve-desk/traefik:3.7.15";
/// What `rserve-base` builds on, sent to the VPS.
pub const BASE_IMAGE: &str = "debian:bookworm";

/// The bare VPS stand-in, from the variables `cargo xtask standin env` prints.
pub struct Vps {
    /// `root@10.213.7.2:22`
    pub ssh: String,
    pub identity: String,
    pub public_url: String,
    /// The file only the VPS's own `/var/lib/docker` holds.
    pub marker: String,
    pub r_version: String,
}

impl Vps {
    /// The VPS, unless the end-to-end environment is not set up (then `what` says it is skipped).
    pub fn from_env(what: &str) -> Option<Vps> {
        if !crate::e2e_enabled(what) {
            return None;
        }
        let Ok(ssh) = std::env::var("RDESK_VPS_SSH") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "{what}: CI is set but RDESK_VPS_SSH is not: the bare VPS stand-in is missing"
            );
            eprintln!("{what}: skipped (RDESK_VPS_SSH is not set: no bare VPS stand-in)");
            return None;
        };
        let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set"));
        Some(Vps {
            ssh,
            identity: var("RDESK_STANDIN_IDENTITY"),
            public_url: var("RDESK_VPS_PUBLIC_URL"),
            marker: var("RDESK_VPS_MARKER"),
            r_version: var("RDESK_STANDIN_R_VERSION"),
        })
    }

    /// Runs a shell script on the VPS as root.
    pub fn sh(&self, script: &str) -> Output {
        let (login, port) = self.ssh.rsplit_once(':').expect("USER@HOST:PORT");
        Command::new("ssh")
            .args(["-i", &self.identity, "-p", port])
            .args(["-o", "UserKnownHostsFile=/dev/null"])
            .args(["-o", "StrictHostKeyChecking=no"])
            .args(["-o", "BatchMode=yes", "-o", "LogLevel=ERROR"])
            .args(["-o", "ConnectTimeout=10"])
            .arg(login)
            .arg(script)
            .stdin(Stdio::null())
            .output()
            .expect("ssh runs")
    }

    pub fn sh_ok(&self, script: &str) -> String {
        let out = self.sh(script);
        assert!(
            out.status.success(),
            "on the VPS: {script}\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Back to empty: its dockerd stopped by its pid file (bounded wait), its
    /// data root wiped, its bridges deleted. Refuses unless the marker proves this is the VPS's
    /// own `/var/lib/docker`, never the workstation's.
    pub fn reset(&self) {
        let marker = &self.marker;
        let script = format!(
            r#"set -eu
test -e /var/lib/docker/{marker} || {{ echo "not the VPS stand-in: no /var/lib/docker/{marker}" >&2; exit 3; }}
if [ -s /run/docker.pid ]; then
  pid=$(cat /run/docker.pid)
  if [ "$(cat /proc/$pid/comm 2>/dev/null)" = dockerd ]; then
    kill -TERM "$pid"
    i=0
    while [ -e /proc/$pid ]; do
      i=$((i + 1)); [ "$i" -le 600 ] || {{ echo "dockerd $pid did not stop in 60 s" >&2; exit 4; }}
      sleep 0.1
    done
  fi
fi
find /var/lib/docker /var/lib/containerd -mindepth 1 -maxdepth 1 ! -name {marker} -exec rm -rf {{}} +
rm -f /run/docker.pid /run/docker.sock
# The stopped dockerd's bridges stay in the VPS's network namespace; left
# there, their subnets use up Docker's address pools after a few resets.
for bridge in $(ip -o link show type bridge | sed -n 's/^[0-9]*: \([^:@]*\).*/\1/p'); do
  ip link delete "$bridge"
done
echo empty"#
        );
        assert_eq!(self.sh_ok(&script), "empty");
        assert!(
            !self.sh("docker info").status.success(),
            "Docker still answers on the VPS after the reset"
        );
    }

    pub fn bootstrap_args(&self) -> Vec<String> {
        [
            "host",
            "bootstrap",
            "vps",
            "--send-images",
            "--traefik-image",
            TRAEFIK_IMAGE,
            "--base-image",
            BASE_IMAGE,
            "--r-version",
            &self.r_version,
            "--json",
        ]
        .map(str::to_owned)
        .to_vec()
    }
}
