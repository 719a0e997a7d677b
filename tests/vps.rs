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

/// The variable `name` that `cargo xtask standin env` sets for `stand_in`;
/// without it the test `what` is skipped, and fails under CI.
fn stand_in_var(what: &str, name: &str, stand_in: &str) -> Option<String> {
    let value = std::env::var(name).ok();
    if value.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{what}: CI is set but {name} is not: the {stand_in} is missing"
        );
        eprintln!("{what}: skipped ({name} is not set: no {stand_in})");
    }
    value
}

impl Vps {
    /// The VPS, unless the end-to-end environment is not set up (then `what` says it is skipped).
    pub fn from_env(what: &str) -> Option<Vps> {
        if !crate::e2e_enabled(what) {
            return None;
        }
        let ssh = stand_in_var(what, "RDESK_VPS_SSH", "bare VPS stand-in")?;
        let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set"));
        Some(Vps {
            ssh,
            identity: var("RDESK_STANDIN_IDENTITY"),
            public_url: var("RDESK_VPS_PUBLIC_URL"),
            marker: var("RDESK_VPS_MARKER"),
            r_version: var("RDESK_STANDIN_R_VERSION"),
        })
    }

    /// The swarm stand-in's nodes (`cargo xtask standin swarm`), the
    /// manager-to-be first, unless the end-to-end environment is not set up.
    pub fn swarm_from_env(what: &str) -> Option<Vec<Vps>> {
        let first = Vps::from_env(what)?;
        let list = stand_in_var(what, "RDESK_SWARM_SSH", "swarm stand-in")?;
        Some(
            list.split(',')
                .map(|ssh| {
                    let host = ssh
                        .split_once('@')
                        .and_then(|(_, rest)| rest.rsplit_once(':'))
                        .map(|(host, _)| host)
                        .expect("USER@HOST:PORT");
                    Vps {
                        ssh: ssh.to_owned(),
                        public_url: format!("http://{host}"),
                        identity: first.identity.clone(),
                        marker: first.marker.clone(),
                        r_version: first.r_version.clone(),
                    }
                })
                .collect(),
        )
    }

    /// The same nodes reached through their slow relays (`cargo xtask relay`
    /// in front of each node's sshd, the delay and cap of [`crate::SlowLink`]),
    /// from `RDESK_SWARM_SLOW_SSH`; their public URLs stay the nodes' own.
    pub fn swarm_over_the_slow_links(what: &str) -> Option<Vec<Vps>> {
        let nodes = Vps::swarm_from_env(what)?;
        let list = stand_in_var(what, "RDESK_SWARM_SLOW_SSH", "swarm stand-in's slow relays")?;
        let relayed: Vec<&str> = list.split(',').collect();
        assert_eq!(
            relayed.len(),
            nodes.len(),
            "RDESK_SWARM_SLOW_SSH names {} relays for {} nodes",
            relayed.len(),
            nodes.len()
        );
        Some(
            nodes
                .into_iter()
                .zip(relayed)
                .map(|(node, ssh)| Vps {
                    ssh: ssh.to_owned(),
                    ..node
                })
                .collect(),
        )
    }

    /// Its address, as its SSH target names it.
    pub fn address(&self) -> &str {
        self.public_url.trim_start_matches("http://")
    }

    /// `ssh` running a shell script on the VPS as root, not started yet.
    pub fn command(&self, script: &str) -> Command {
        let (login, port) = self.ssh.rsplit_once(':').expect("USER@HOST:PORT");
        let mut ssh = Command::new("ssh");
        ssh.args(["-i", &self.identity, "-p", port])
            .args(["-o", "UserKnownHostsFile=/dev/null"])
            .args(["-o", "StrictHostKeyChecking=no"])
            .args(["-o", "BatchMode=yes", "-o", "LogLevel=ERROR"])
            .args(["-o", "ConnectTimeout=10"])
            .arg(login)
            .arg(script);
        ssh
    }

    /// Runs a shell script on the VPS as root.
    pub fn sh(&self, script: &str) -> Output {
        self.command(script)
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
# A swarm's overlay networks leave their namespaces mounted here.
for ns in /run/docker/netns/*; do
  [ -e "$ns" ] || continue
  umount "$ns" 2>/dev/null || true
  rm -f "$ns"
done
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
        self.bootstrap_args_of("vps")
    }

    /// `rdesk host bootstrap HOST --send-images ... --json`.
    pub fn bootstrap_args_of(&self, host: &str) -> Vec<String> {
        [
            "host",
            "bootstrap",
            host,
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
