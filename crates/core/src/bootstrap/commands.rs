//! The bootstrap's commands as pure functions, kamal-style: each returns the
//! exact argv (and stdin, for scripts and build contexts) that the runner
//! sends over SSH, so unit tests assert the strings that reach the VPS.
//! Nothing here runs anything.

use sha2::{Digest, Sha256};

use rdesk_spawner::RVersion;
use rdesk_spawner::labels::{CONFIG_HASH, OWNER, OWNER_VALUE, ROLE};

use super::filter::{
    FILTER_BASE_IMAGE, FILTER_CONTAINER, FILTER_IMAGE, FILTER_SOCKET_DIR, FILTER_VOLUME,
    filter_context, filter_hash,
};
use super::options::Validated;
use super::traefik::{TRAEFIK_CONFIG_DIR, TRAEFIK_CONFIG_PATH};
use super::{
    ACME_VOLUME, BUILD_NETWORK, ICC_OPTION, NETWORK, TRAEFIK_CONFIG_VOLUME, TRAEFIK_CONTAINER,
    TRAEFIK_PRIVATE_ALIAS,
};

/// `remote-bootstrap/install-docker.sh`, sent as stdin of `sh -s`.
pub const INSTALL_DOCKER_SH: &str = include_str!("../../../../remote-bootstrap/install-docker.sh");
/// The `rserve-base` build context, embedded so the workstation needs no checkout.
pub const BASE_DOCKERFILE: &str = include_str!("../../../../rserve-base/Dockerfile");
pub const BASE_START_R: &str = include_str!("../../../../rserve-base/start.R");
pub const BASE_HEALTHCHECK_SH: &str = include_str!("../../../../rserve-base/healthcheck.sh");

/// One command for the VPS: the argv (each element is quoted for the remote
/// shell by the runner) and what to write on its stdin.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteCommand {
    pub argv: Vec<String>,
    pub stdin: Option<Vec<u8>>,
}

impl RemoteCommand {
    pub fn new<I, S>(argv: I) -> RemoteCommand
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        RemoteCommand {
            argv: argv.into_iter().map(Into::into).collect(),
            stdin: None,
        }
    }

    pub fn with_stdin(mut self, stdin: impl Into<Vec<u8>>) -> RemoteCommand {
        self.stdin = Some(stdin.into());
        self
    }

    /// The argv joined by spaces, plus the size of stdin: for logs and errors.
    pub fn display(&self) -> String {
        let line = self.argv.join(" ");
        match &self.stdin {
            Some(bytes) => format!("{line} < ({} bytes)", bytes.len()),
            None => line,
        }
    }
}

impl std::fmt::Debug for RemoteCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display())
    }
}

/// `sh -s -- --check` with the install script: exit 0 when Docker is installed,
/// running and usable by the user (nothing to do).
pub fn install_docker_check() -> RemoteCommand {
    RemoteCommand::new(["sh", "-s", "--", "--check"]).with_stdin(INSTALL_DOCKER_SH)
}

/// `sh -s` with the install script: installs, starts, grants access.
pub fn install_docker() -> RemoteCommand {
    RemoteCommand::new(["sh", "-s"]).with_stdin(INSTALL_DOCKER_SH)
}

/// How the SSH user reaches the Docker CLI on the VPS: directly (root or in
/// the group `docker`), or through password-less sudo (just added to the
/// group, which the running SSH session does not see yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DockerCli {
    pub sudo: bool,
}

impl DockerCli {
    fn cmd<'a>(&self, args: impl IntoIterator<Item = &'a str>) -> RemoteCommand {
        let prefix: &[&str] = if self.sudo {
            &["sudo", "-n", "docker"]
        } else {
            &["docker"]
        };
        RemoteCommand::new(prefix.iter().copied().chain(args))
    }

    fn cmd_owned(&self, args: Vec<String>) -> RemoteCommand {
        let mut cmd = self.cmd([]);
        cmd.argv.extend(args);
        cmd
    }

    /// Succeeds when this way reaches the daemon; prints its version.
    pub fn version(&self) -> RemoteCommand {
        self.cmd(["version", "--format", "{{.Server.Version}}"])
    }

    /// Prints `<owner label> <enable_icc option>` of the apps' network;
    /// fails when there is no such network.
    pub fn network_inspect(&self) -> RemoteCommand {
        let format =
            format!("{{{{index .Labels \"{OWNER}\"}}}} {{{{index .Options \"{ICC_OPTION}\"}}}}");
        self.cmd_owned(vec![
            "network".into(),
            "inspect".into(),
            "--format".into(),
            format,
            NETWORK.into(),
        ])
    }

    /// Creates the apps' network, labelled as ours, with inter-container
    /// traffic off: an app cannot reach another app's containers, and Traefik
    /// (on the host's network) still reaches every one.
    pub fn network_create(&self) -> RemoteCommand {
        self.cmd_owned(vec![
            "network".into(),
            "create".into(),
            "--driver".into(),
            "bridge".into(),
            "--opt".into(),
            format!("{ICC_OPTION}=false"),
            "--label".into(),
            format!("{OWNER}={OWNER_VALUE}"),
            "--label".into(),
            format!("{ROLE}=network"),
            NETWORK.into(),
        ])
    }

    /// Prints the ids of the containers on the apps' network, space-separated.
    pub fn network_members(&self) -> RemoteCommand {
        self.cmd([
            "network",
            "inspect",
            "--format",
            "{{range $id, $c := .Containers}}{{$id}} {{end}}",
            NETWORK,
        ])
    }

    pub fn network_disconnect(&self, container: &str) -> RemoteCommand {
        self.cmd(["network", "disconnect", "--force", NETWORK, container])
    }

    pub fn network_connect(&self, container: &str) -> RemoteCommand {
        self.cmd(["network", "connect", NETWORK, container])
    }

    pub fn network_remove(&self) -> RemoteCommand {
        self.cmd(["network", "rm", NETWORK])
    }

    /// Prints `<id> <networks, comma-separated>` of each app container of ours.
    pub fn app_containers(&self) -> RemoteCommand {
        self.cmd_owned(vec![
            "ps".into(),
            "--all".into(),
            "--filter".into(),
            format!("label={OWNER}={OWNER_VALUE}"),
            "--filter".into(),
            format!("label={ROLE}=app"),
            "--format".into(),
            "{{.ID}} {{.Networks}}".into(),
        ])
    }

    /// Prints the build network's owner label; fails when there is none.
    pub fn build_network_inspect(&self) -> RemoteCommand {
        let format = format!("{{{{index .Labels \"{OWNER}\"}}}}");
        self.cmd_owned(vec![
            "network".into(),
            "inspect".into(),
            "--format".into(),
            format,
            BUILD_NETWORK.into(),
        ])
    }

    /// Creates the network package builds run on: the repositories are
    /// reached from it, the apps are not.
    pub fn build_network_create(&self) -> RemoteCommand {
        self.cmd_owned(vec![
            "network".into(),
            "create".into(),
            "--driver".into(),
            "bridge".into(),
            "--label".into(),
            format!("{OWNER}={OWNER_VALUE}"),
            "--label".into(),
            format!("{ROLE}=build-network"),
            BUILD_NETWORK.into(),
        ])
    }

    /// Prints `<config hash> <running>` of a container; fails when there is
    /// none.
    pub fn container_state(&self, name: &str) -> RemoteCommand {
        let format =
            format!("{{{{index .Config.Labels \"{CONFIG_HASH}\"}}}} {{{{.State.Running}}}}");
        self.cmd_owned(vec![
            "inspect".into(),
            "--type".into(),
            "container".into(),
            "--format".into(),
            format,
            name.into(),
        ])
    }

    pub fn container_remove(&self, name: &str) -> RemoteCommand {
        self.cmd(["rm", "--force", name])
    }

    pub fn container_start(&self, name: &str) -> RemoteCommand {
        self.cmd(["start", name])
    }

    /// A labelled volume of ours.
    pub fn volume_create(&self, name: &str, role: &str) -> RemoteCommand {
        self.cmd_owned(vec![
            "volume".into(),
            "create".into(),
            "--label".into(),
            format!("{OWNER}={OWNER_VALUE}"),
            "--label".into(),
            format!("{ROLE}={role}"),
            name.into(),
        ])
    }

    /// Creates (not starts) the Docker API filter: no network, a read-only
    /// root, no capabilities, no new privileges; the Docker socket mounted
    /// read-only, its own socket in [`FILTER_VOLUME`].
    pub fn filter_create(&self, options: &Validated, config_hash: &str) -> RemoteCommand {
        let mut args = vec![
            "create".into(),
            "--name".into(),
            FILTER_CONTAINER.into(),
            "--label".into(),
            format!("{OWNER}={OWNER_VALUE}"),
            "--label".into(),
            format!("{ROLE}=docker-filter"),
            "--label".into(),
            format!("{CONFIG_HASH}={config_hash}"),
            "--network".into(),
            "none".into(),
            "--restart".into(),
            "unless-stopped".into(),
        ];
        args.extend(locked_down());
        args.extend([
            "--volume".into(),
            format!("{}:/var/run/docker.sock:ro", options.docker_socket),
            "--volume".into(),
            format!("{FILTER_VOLUME}:{FILTER_SOCKET_DIR}"),
            FILTER_IMAGE.into(),
        ]);
        self.cmd_owned(args)
    }

    /// `docker build ... -` of the filter's image from the embedded context,
    /// labelled with [`filter_hash`].
    pub fn filter_build(&self) -> std::io::Result<RemoteCommand> {
        Ok(self
            .cmd_owned(vec![
                "build".into(),
                "--tag".into(),
                FILTER_IMAGE.into(),
                "--label".into(),
                format!("{CONFIG_HASH}={}", filter_hash()),
                "-".into(),
            ])
            .with_stdin(filter_context()?))
    }

    /// Creates (not starts) Traefik on the host's network, so it reaches the
    /// apps' containers by their addresses while they cannot reach its
    /// private entry points (bound to the VPS's 127.0.0.1 by the
    /// configuration); or, on a cluster's manager, on the walled bridge
    /// with its public ports published and a name of its own there for the
    /// private entry points (see [`TraefikNetwork::Published`]). Only the
    /// capability to bind ports below 1024, no new privileges, a read-only
    /// root; Docker only through the filter's socket (read-only mount); the
    /// configuration given to it by [`DockerCli::traefik_copy_config`] into
    /// its own volume.
    pub fn traefik_create(
        &self,
        options: &Validated,
        config_hash: &str,
        network: TraefikNetwork,
    ) -> RemoteCommand {
        let mut args = vec![
            "create".into(),
            "--name".into(),
            TRAEFIK_CONTAINER.into(),
            "--label".into(),
            format!("{OWNER}={OWNER_VALUE}"),
            "--label".into(),
            format!("{ROLE}=traefik"),
            "--label".into(),
            format!("{CONFIG_HASH}={config_hash}"),
        ];
        match network {
            TraefikNetwork::Host => args.extend(["--network".into(), "host".into()]),
            TraefikNetwork::Published => {
                args.extend([
                    "--network".into(),
                    NETWORK.into(),
                    "--network-alias".into(),
                    TRAEFIK_PRIVATE_ALIAS.into(),
                ]);
                for port in [options.http_port, options.https_port] {
                    args.extend(["--publish".into(), format!("{port}:{port}")]);
                }
            }
        }
        args.extend(["--restart".into(), "unless-stopped".into()]);
        args.extend(locked_down());
        args.extend([
            "--cap-add".into(),
            "NET_BIND_SERVICE".into(),
            "--volume".into(),
            format!("{FILTER_VOLUME}:{FILTER_SOCKET_DIR}:ro"),
            "--volume".into(),
            format!("{TRAEFIK_CONFIG_VOLUME}:{TRAEFIK_CONFIG_DIR}"),
            "--volume".into(),
            format!("{ACME_VOLUME}:/acme"),
            options.traefik_image.clone(),
            format!("--configFile={TRAEFIK_CONFIG_PATH}"),
        ]);
        self.cmd_owned(args)
    }

    /// `docker cp -` of a tar holding `traefik.yml` into the created
    /// container's configuration volume (works with a `FROM scratch` image
    /// and a read-only root, needs no file on the VPS).
    pub fn traefik_copy_config(&self, config: &str) -> std::io::Result<RemoteCommand> {
        let tar = tar_of(&[], &[("traefik.yml", config.as_bytes(), 0o644)])?;
        Ok(self
            .cmd([
                "cp",
                "-",
                &format!("{TRAEFIK_CONTAINER}:{TRAEFIK_CONFIG_DIR}"),
            ])
            .with_stdin(tar))
    }

    /// Prints the image's id; fails when the VPS does not have it.
    pub fn image_id(&self, image: &str) -> RemoteCommand {
        self.cmd(["image", "inspect", "--format", "{{.Id}}", image])
    }

    /// Prints an image's config hash label; fails when the image is missing.
    pub fn image_hash(&self, image: &str) -> RemoteCommand {
        let format = format!("{{{{index .Config.Labels \"{CONFIG_HASH}\"}}}}");
        self.cmd_owned(vec![
            "image".into(),
            "inspect".into(),
            "--format".into(),
            format,
            image.into(),
        ])
    }

    /// `docker build ... -` of `rserve-base:<R>` with the embedded context as
    /// a tar on stdin, labelled with [`base_hash`].
    pub fn base_build(&self, options: &Validated, r: &RVersion) -> std::io::Result<RemoteCommand> {
        let mut args = vec![
            "build".to_owned(),
            "--tag".into(),
            base_tag(r),
            "--build-arg".into(),
            format!("R_VERSION={r}"),
        ];
        if let Some(base) = &options.base_image {
            args.push("--build-arg".into());
            args.push(format!("BASE_IMAGE={base}"));
        }
        args.extend([
            "--label".into(),
            format!("{CONFIG_HASH}={}", base_hash(options, r)),
            "-".into(),
        ]);
        Ok(self.cmd_owned(args).with_stdin(base_context()?))
    }
}

/// `--read-only --cap-drop ALL --security-opt no-new-privileges:true`.
fn locked_down() -> [String; 5] {
    [
        "--read-only",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges:true",
    ]
    .map(str::to_owned)
}

/// What the VPS needs before the filter, Traefik and `rserve-base` can be
/// made and lacks a ready-made copy of: the Traefik image; the filter's base
/// unless `filter_sent` (its image then comes ready-made); and the base of
/// each `rserve-base:<R>` to be built (the given `base_image`, else
/// `rocker/r-ver:<R>`), without repeats. The R versions in `sent` need no
/// base: their `rserve-base` is sent ready-made.
pub fn needed_images(options: &Validated, sent: &[RVersion], filter_sent: bool) -> Vec<String> {
    let mut images = vec![options.traefik_image.clone()];
    if !filter_sent {
        images.push(FILTER_BASE_IMAGE.to_owned());
    }
    for r in options.r_versions.iter().filter(|r| !sent.contains(r)) {
        let base = options
            .base_image
            .clone()
            .unwrap_or_else(|| format!("rocker/r-ver:{r}"));
        if !images.contains(&base) {
            images.push(base);
        }
    }
    images
}

/// `rserve-base:<R>`.
pub fn base_tag(r: &RVersion) -> String {
    format!("rserve-base:{r}")
}

/// What `rserve-base:<R>` is built from: the three files, R and the base image.
pub fn base_hash(options: &Validated, r: &RVersion) -> String {
    hash_parts(&[
        BASE_DOCKERFILE,
        BASE_START_R,
        BASE_HEALTHCHECK_SH,
        r.as_str(),
        options.base_image.as_deref().unwrap_or(""),
    ])
}

/// What the filter's container is made of: its image and the socket it reads.
pub fn filter_container_hash(options: &Validated) -> String {
    hash_parts(&[&filter_hash(), &options.docker_socket])
}

/// What the Traefik container is made of: its configuration and how it runs.
/// Where Traefik's container is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraefikNetwork {
    /// The VPS's own network (one host): it reaches every app container on
    /// the walled bridge by its address, its private entry points on the
    /// VPS's 127.0.0.1.
    Host,
    /// The manager's walled bridge, its public ports published there (a
    /// cluster's): it joins each app's overlay network, which a container
    /// on the host's network cannot. Its private entry points listen at its
    /// address on the bridge only, which the apps' overlays cannot route to.
    Published,
}

pub fn traefik_hash(options: &Validated, config: &str) -> String {
    hash_parts(&[
        TRAEFIK_SHAPE,
        config,
        &options.traefik_image,
        &options.http_port.to_string(),
        &options.https_port.to_string(),
        &options.dashboard_port.to_string(),
        &options.metrics_port.to_string(),
    ])
}

/// The `rserve-base` build context: `Dockerfile`, `start.R`, `healthcheck.sh`.
pub fn base_context() -> std::io::Result<Vec<u8>> {
    tar_of(
        &[],
        &[
            ("Dockerfile", BASE_DOCKERFILE.as_bytes(), 0o644),
            ("start.R", BASE_START_R.as_bytes(), 0o644),
            ("healthcheck.sh", BASE_HEALTHCHECK_SH.as_bytes(), 0o755),
        ],
    )
}

/// How the Traefik container runs, as far as its options do not say: a
/// change here re-creates it (e.g. a VPS bootstrapped before the walls).
const TRAEFIK_SHAPE: &str = "host network, filtered Docker, read-only, NET_BIND_SERVICE only";

/// First 16 hex digits of SHA-256 over the parts, each length-prefixed.
pub(crate) fn hash_parts(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())[..16].to_owned()
}

/// A deterministic tar (mtime 0, root-owned) of directories and files.
pub(crate) fn tar_of(dirs: &[&str], files: &[(&str, &[u8], u32)]) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for dir in dirs {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(0o755);
        header.set_size(0);
        header.set_mtime(0);
        builder.append_data(&mut header, dir, std::io::empty())?;
    }
    for (path, bytes, mode) in files {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(*mode);
        header.set_size(bytes.len() as u64);
        header.set_mtime(0);
        builder.append_data(&mut header, path, *bytes)?;
    }
    builder.into_inner()
}

#[cfg(test)]
mod tests {
    use super::super::options::BootstrapOptions;
    use super::*;

    fn v(options: BootstrapOptions) -> Validated {
        options.validate().unwrap()
    }

    fn entries(tar: &[u8]) -> Vec<(String, u32, String)> {
        let mut archive = tar::Archive::new(tar);
        let mut out = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().display().to_string();
            let mode = entry.header().mode().unwrap();
            let mut body = String::new();
            std::io::Read::read_to_string(&mut entry, &mut body).unwrap();
            out.push((path, mode, body));
        }
        out
    }

    #[test]
    fn install_script_goes_through_stdin() {
        let check = install_docker_check();
        assert_eq!(check.argv, ["sh", "-s", "--", "--check"]);
        assert_eq!(check.stdin.as_deref(), Some(INSTALL_DOCKER_SH.as_bytes()));
        let install = install_docker();
        assert_eq!(install.argv, ["sh", "-s"]);
        assert!(install.display().starts_with("sh -s < ("));
        assert!(INSTALL_DOCKER_SH.starts_with("#!/bin/sh\n"));
        assert!(INSTALL_DOCKER_SH.contains("docker.io"));
    }

    #[test]
    fn docker_cli_direct_or_sudo() {
        assert_eq!(
            DockerCli { sudo: false }.version().argv,
            ["docker", "version", "--format", "{{.Server.Version}}"]
        );
        assert_eq!(
            DockerCli { sudo: true }.version().argv,
            [
                "sudo",
                "-n",
                "docker",
                "version",
                "--format",
                "{{.Server.Version}}"
            ]
        );
    }

    #[test]
    fn networks() {
        let d = DockerCli { sudo: false };
        assert_eq!(
            d.network_inspect().argv,
            [
                "docker",
                "network",
                "inspect",
                "--format",
                "{{index .Labels \"io.rserve-desk.owner\"}} \
                 {{index .Options \"com.docker.network.bridge.enable_icc\"}}",
                "rserve-desk"
            ]
        );
        assert_eq!(
            d.network_create().display(),
            "docker network create --driver bridge \
             --opt com.docker.network.bridge.enable_icc=false \
             --label io.rserve-desk.owner=rserve-desk \
             --label io.rserve-desk.role=network rserve-desk"
        );
        assert_eq!(
            d.network_members().argv,
            [
                "docker",
                "network",
                "inspect",
                "--format",
                "{{range $id, $c := .Containers}}{{$id}} {{end}}",
                "rserve-desk"
            ]
        );
        assert_eq!(
            d.network_disconnect("c1").display(),
            "docker network disconnect --force rserve-desk c1"
        );
        assert_eq!(
            d.network_remove().display(),
            "docker network rm rserve-desk"
        );
        assert_eq!(
            d.network_connect("c1").display(),
            "docker network connect rserve-desk c1"
        );
        assert_eq!(
            d.app_containers().argv,
            [
                "docker",
                "ps",
                "--all",
                "--filter",
                "label=io.rserve-desk.owner=rserve-desk",
                "--filter",
                "label=io.rserve-desk.role=app",
                "--format",
                "{{.ID}} {{.Networks}}"
            ]
        );
        assert_eq!(
            d.build_network_inspect().display(),
            "docker network inspect --format {{index .Labels \"io.rserve-desk.owner\"}} \
             rserve-desk-build"
        );
        assert_eq!(
            d.build_network_create().display(),
            "docker network create --driver bridge --label io.rserve-desk.owner=rserve-desk \
             --label io.rserve-desk.role=build-network rserve-desk-build"
        );
    }

    #[test]
    fn traefik_container() {
        let d = DockerCli { sudo: false };
        let options = v(BootstrapOptions {
            http_port: 8880,
            https_port: 8443,
            traefik_image: "rserve-desk/traefik:3.7.15".into(),
            ..BootstrapOptions::default()
        });
        assert_eq!(
            d.container_state(TRAEFIK_CONTAINER).argv,
            [
                "docker",
                "inspect",
                "--type",
                "container",
                "--format",
                "{{index .Config.Labels \"io.rserve-desk.config-hash\"}} {{.State.Running}}",
                "rserve-desk-traefik"
            ]
        );
        assert_eq!(
            d.traefik_create(&options, "0123456789abcdef", TraefikNetwork::Host)
                .display(),
            "docker create --name rserve-desk-traefik \
             --label io.rserve-desk.owner=rserve-desk --label io.rserve-desk.role=traefik \
             --label io.rserve-desk.config-hash=0123456789abcdef \
             --network host --restart unless-stopped \
             --read-only --cap-drop ALL --security-opt no-new-privileges:true \
             --cap-add NET_BIND_SERVICE \
             --volume rserve-desk-docker-filter:/run/rserve-desk-filter:ro \
             --volume rserve-desk-traefik-config:/etc/traefik \
             --volume rserve-desk-traefik-acme:/acme \
             rserve-desk/traefik:3.7.15 --configFile=/etc/traefik/traefik.yml"
        );
        let cluster = d
            .traefik_create(&options, "0123456789abcdef", TraefikNetwork::Published)
            .display();
        assert!(
            cluster.contains(
                " --network rserve-desk --network-alias rserve-desk-traefik-private \
                 --publish 8880:8880 --publish 8443:8443 --restart unless-stopped "
            ),
            "a cluster's Traefik is on the walled bridge, named there for its private \
             entry points, its ports published: {cluster}"
        );
        assert_eq!(
            d.volume_create(ACME_VOLUME, "traefik").display(),
            "docker volume create --label io.rserve-desk.owner=rserve-desk \
             --label io.rserve-desk.role=traefik rserve-desk-traefik-acme"
        );
        assert_eq!(
            d.container_remove(TRAEFIK_CONTAINER).display(),
            "docker rm --force rserve-desk-traefik"
        );
        assert_eq!(
            d.container_start(TRAEFIK_CONTAINER).display(),
            "docker start rserve-desk-traefik"
        );
        let copy = d.traefik_copy_config("global: {}\n").unwrap();
        assert_eq!(
            copy.argv,
            ["docker", "cp", "-", "rserve-desk-traefik:/etc/traefik"]
        );
        assert_eq!(
            entries(copy.stdin.as_deref().unwrap()),
            [("traefik.yml".into(), 0o644, "global: {}\n".into())]
        );
    }

    #[test]
    fn docker_filter() {
        let d = DockerCli { sudo: true };
        let options = v(BootstrapOptions::default());
        assert_eq!(
            d.filter_create(&options, "0123456789abcdef").display(),
            "sudo -n docker create --name rserve-desk-docker-filter \
             --label io.rserve-desk.owner=rserve-desk --label io.rserve-desk.role=docker-filter \
             --label io.rserve-desk.config-hash=0123456789abcdef \
             --network none --restart unless-stopped \
             --read-only --cap-drop ALL --security-opt no-new-privileges:true \
             --volume /var/run/docker.sock:/var/run/docker.sock:ro \
             --volume rserve-desk-docker-filter:/run/rserve-desk-filter \
             rserve-desk/docker-filter:1"
        );
        let build = d.filter_build().unwrap();
        assert_eq!(
            build.argv.join(" "),
            format!(
                "sudo -n docker build --tag rserve-desk/docker-filter:1 \
                 --label io.rserve-desk.config-hash={} -",
                filter_hash()
            )
        );
        let files = entries(build.stdin.as_deref().unwrap());
        assert_eq!(files[0].0, "Dockerfile");
        assert_eq!(files[1].0, "haproxy.cfg");
        assert_eq!(
            d.image_hash(FILTER_IMAGE).display(),
            "sudo -n docker image inspect --format \
             {{index .Config.Labels \"io.rserve-desk.config-hash\"}} rserve-desk/docker-filter:1"
        );
        let other_socket = v(BootstrapOptions {
            docker_socket: "/run/docker.sock".into(),
            ..BootstrapOptions::default()
        });
        assert_ne!(
            filter_container_hash(&options),
            filter_container_hash(&other_socket)
        );
    }

    #[test]
    fn images_the_vps_needs() {
        let d = DockerCli { sudo: false };
        assert_eq!(
            d.image_id("traefik:v3.3").display(),
            "docker image inspect --format {{.Id}} traefik:v3.3"
        );
        assert_eq!(
            needed_images(&v(BootstrapOptions::default()), &[], true),
            ["traefik:v3.3"]
        );
        assert_eq!(
            needed_images(&v(BootstrapOptions::default()), &[], false),
            ["traefik:v3.3", "debian:bookworm"]
        );
        let two = BootstrapOptions {
            r_versions: vec!["4.4.1".into(), "4.2.2".into()],
            ..BootstrapOptions::default()
        };
        assert_eq!(
            needed_images(&v(two.clone()), &[], true),
            ["traefik:v3.3", "rocker/r-ver:4.4.1", "rocker/r-ver:4.2.2"]
        );
        // A ready-made rserve-base:4.4.1 is sent instead: its base is not needed.
        let sent = [RVersion::parse("4.4.1").unwrap()];
        assert_eq!(
            needed_images(&v(two.clone()), &sent, true),
            ["traefik:v3.3", "rocker/r-ver:4.2.2"]
        );
        let debian = BootstrapOptions {
            base_image: Some("debian:bookworm".into()),
            ..two
        };
        assert_eq!(
            needed_images(&v(debian.clone()), &[], false),
            ["traefik:v3.3", "debian:bookworm"]
        );
        let both = [
            RVersion::parse("4.4.1").unwrap(),
            RVersion::parse("4.2.2").unwrap(),
        ];
        assert_eq!(needed_images(&v(debian), &both, true), ["traefik:v3.3"]);
    }

    #[test]
    fn hashes_follow_what_matters() {
        let a = v(BootstrapOptions::default());
        let b = v(BootstrapOptions {
            http_port: 8880,
            ..BootstrapOptions::default()
        });
        assert_eq!(traefik_hash(&a, "x"), traefik_hash(&a, "x"));
        assert_ne!(traefik_hash(&a, "x"), traefik_hash(&a, "y"));
        assert_ne!(traefik_hash(&a, "x"), traefik_hash(&b, "x"));
        assert_eq!(traefik_hash(&a, "x").len(), 16);
        let r = RVersion::parse("4.2.2").unwrap();
        let with_base = v(BootstrapOptions {
            base_image: Some("debian:bookworm".into()),
            ..BootstrapOptions::default()
        });
        assert_ne!(base_hash(&a, &r), base_hash(&with_base, &r));
        assert_ne!(
            base_hash(&a, &r),
            base_hash(&a, &RVersion::parse("4.4.1").unwrap())
        );
    }

    #[test]
    fn rserve_base() {
        let d = DockerCli { sudo: true };
        let r = RVersion::parse("4.2.2").unwrap();
        let options = v(BootstrapOptions {
            base_image: Some("debian:bookworm".into()),
            ..BootstrapOptions::default()
        });
        assert_eq!(
            d.image_hash(&base_tag(&r)).display(),
            "sudo -n docker image inspect --format \
             {{index .Config.Labels \"io.rserve-desk.config-hash\"}} rserve-base:4.2.2"
        );
        let build = d.base_build(&options, &r).unwrap();
        let hash = base_hash(&options, &r);
        assert_eq!(
            build.argv.join(" "),
            format!(
                "sudo -n docker build --tag rserve-base:4.2.2 --build-arg R_VERSION=4.2.2 \
                 --build-arg BASE_IMAGE=debian:bookworm \
                 --label io.rserve-desk.config-hash={hash} -"
            )
        );
        let files = entries(build.stdin.as_deref().unwrap());
        let names: Vec<(&str, u32)> = files.iter().map(|(p, m, _)| (p.as_str(), *m)).collect();
        assert_eq!(
            names,
            [
                ("Dockerfile", 0o644),
                ("start.R", 0o644),
                ("healthcheck.sh", 0o755)
            ]
        );
        assert_eq!(files[0].2, BASE_DOCKERFILE);
        let plain = d.base_build(&v(BootstrapOptions::default()), &r).unwrap();
        assert!(!plain.argv.iter().any(|a| a.starts_with("BASE_IMAGE=")));
        // Same inputs, same bytes: the context is deterministic.
        assert_eq!(base_context().unwrap(), base_context().unwrap());
    }
}
