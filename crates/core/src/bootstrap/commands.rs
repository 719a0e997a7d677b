//! The bootstrap's commands as pure functions, kamal-style: each returns the
//! exact argv (and stdin, for scripts and build contexts) that the runner
//! sends over SSH, so unit tests assert the strings that reach the VPS.
//! Nothing here runs anything.

use sha2::{Digest, Sha256};

use rdesk_spawner::RVersion;
use rdesk_spawner::labels::{CONFIG_HASH, OWNER, OWNER_VALUE, ROLE};

use super::options::Validated;
use super::traefik::TRAEFIK_CONFIG_PATH;
use super::{ACME_VOLUME, NETWORK, TRAEFIK_CONTAINER};

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

    /// Prints the network's owner label; fails when there is no such network.
    pub fn network_inspect(&self) -> RemoteCommand {
        let format = format!("{{{{index .Labels \"{OWNER}\"}}}}");
        self.cmd_owned(vec![
            "network".into(),
            "inspect".into(),
            "--format".into(),
            format,
            NETWORK.into(),
        ])
    }

    /// Creates the private network, labelled as ours.
    pub fn network_create(&self) -> RemoteCommand {
        self.cmd_owned(vec![
            "network".into(),
            "create".into(),
            "--driver".into(),
            "bridge".into(),
            "--label".into(),
            format!("{OWNER}={OWNER_VALUE}"),
            "--label".into(),
            format!("{ROLE}=network"),
            NETWORK.into(),
        ])
    }

    /// Prints `<config hash> <running>` of the Traefik container; fails when
    /// there is none.
    pub fn traefik_inspect(&self) -> RemoteCommand {
        let format =
            format!("{{{{index .Config.Labels \"{CONFIG_HASH}\"}}}} {{{{.State.Running}}}}");
        self.cmd_owned(vec![
            "inspect".into(),
            "--type".into(),
            "container".into(),
            "--format".into(),
            format,
            TRAEFIK_CONTAINER.into(),
        ])
    }

    pub fn traefik_remove(&self) -> RemoteCommand {
        self.cmd(["rm", "--force", TRAEFIK_CONTAINER])
    }

    /// The labelled volume holding Let's Encrypt's `acme.json`.
    pub fn acme_volume_create(&self) -> RemoteCommand {
        self.cmd_owned(vec![
            "volume".into(),
            "create".into(),
            "--label".into(),
            format!("{OWNER}={OWNER_VALUE}"),
            "--label".into(),
            format!("{ROLE}=traefik"),
            ACME_VOLUME.into(),
        ])
    }

    /// Creates (not starts) Traefik: public HTTP and HTTPS, dashboard and
    /// metrics on the VPS's loopback only, the Docker socket read-only, a
    /// restart policy, and the configuration file given to it by
    /// [`DockerCli::traefik_copy_config`].
    pub fn traefik_create(&self, options: &Validated, config_hash: &str) -> RemoteCommand {
        let p = |host: &str, port: u16| format!("{host}{port}:{port}");
        self.cmd_owned(vec![
            "create".into(),
            "--name".into(),
            TRAEFIK_CONTAINER.into(),
            "--label".into(),
            format!("{OWNER}={OWNER_VALUE}"),
            "--label".into(),
            format!("{ROLE}=traefik"),
            "--label".into(),
            format!("{CONFIG_HASH}={config_hash}"),
            "--network".into(),
            NETWORK.into(),
            "--restart".into(),
            "unless-stopped".into(),
            "--publish".into(),
            p("", options.http_port),
            "--publish".into(),
            p("", options.https_port),
            "--publish".into(),
            p("127.0.0.1:", options.dashboard_port),
            "--publish".into(),
            p("127.0.0.1:", options.metrics_port),
            "--volume".into(),
            format!("{}:/var/run/docker.sock:ro", options.docker_socket),
            "--volume".into(),
            format!("{ACME_VOLUME}:/acme"),
            options.traefik_image.clone(),
            format!("--configFile={TRAEFIK_CONFIG_PATH}"),
        ])
    }

    /// `docker cp -` of a tar holding `etc/traefik/traefik.yml` into the
    /// created container (works with a `FROM scratch` image, needs no file on
    /// the VPS).
    pub fn traefik_copy_config(&self, config: &str) -> std::io::Result<RemoteCommand> {
        let tar = tar_of(
            &["etc/", "etc/traefik/"],
            &[("etc/traefik/traefik.yml", config.as_bytes(), 0o644)],
        )?;
        Ok(self
            .cmd(["cp", "-", &format!("{TRAEFIK_CONTAINER}:/")])
            .with_stdin(tar))
    }

    pub fn traefik_start(&self) -> RemoteCommand {
        self.cmd(["start", TRAEFIK_CONTAINER])
    }

    /// Prints the image's id; fails when the VPS does not have it.
    pub fn image_id(&self, image: &str) -> RemoteCommand {
        self.cmd(["image", "inspect", "--format", "{{.Id}}", image])
    }

    /// Prints the context hash label of `rserve-base:<R>`; fails when the
    /// image is missing.
    pub fn base_inspect(&self, r: &RVersion) -> RemoteCommand {
        let format = format!("{{{{index .Config.Labels \"{CONFIG_HASH}\"}}}}");
        self.cmd_owned(vec![
            "image".into(),
            "inspect".into(),
            "--format".into(),
            format,
            base_tag(r),
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

/// The images the VPS needs before Traefik and `rserve-base` can be made:
/// the Traefik image, and the base of each `rserve-base:<R>` to be built (the
/// given `base_image`, else `rocker/r-ver:<R>`), without repeats. The R
/// versions in `sent` need no base: their `rserve-base` is sent ready-made.
pub fn needed_images(options: &Validated, sent: &[RVersion]) -> Vec<String> {
    let mut images = vec![options.traefik_image.clone()];
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

/// What the Traefik container is made of: its configuration and how it runs.
pub fn traefik_hash(options: &Validated, config: &str) -> String {
    hash_parts(&[
        config,
        &options.traefik_image,
        &options.docker_socket,
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

/// First 16 hex digits of SHA-256 over the parts, each length-prefixed.
fn hash_parts(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())[..16].to_owned()
}

/// A deterministic tar (mtime 0, root-owned) of directories and files.
fn tar_of(dirs: &[&str], files: &[(&str, &[u8], u32)]) -> std::io::Result<Vec<u8>> {
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
    fn network() {
        let d = DockerCli { sudo: false };
        assert_eq!(
            d.network_inspect().argv,
            [
                "docker",
                "network",
                "inspect",
                "--format",
                "{{index .Labels \"io.rserve-desk.owner\"}}",
                "rserve-desk"
            ]
        );
        assert_eq!(
            d.network_create().display(),
            "docker network create --driver bridge --label io.rserve-desk.owner=rserve-desk \
             --label io.rserve-desk.role=network rserve-desk"
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
            d.traefik_inspect().argv,
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
            d.traefik_create(&options, "0123456789abcdef").display(),
            "docker create --name rserve-desk-traefik \
             --label io.rserve-desk.owner=rserve-desk --label io.rserve-desk.role=traefik \
             --label io.rserve-desk.config-hash=0123456789abcdef \
             --network rserve-desk --restart unless-stopped \
             --publish 8880:8880 --publish 8443:8443 \
             --publish 127.0.0.1:8089:8089 --publish 127.0.0.1:8082:8082 \
             --volume /var/run/docker.sock:/var/run/docker.sock:ro \
             --volume rserve-desk-traefik-acme:/acme \
             rserve-desk/traefik:3.7.15 --configFile=/etc/traefik/traefik.yml"
        );
        assert_eq!(
            d.acme_volume_create().display(),
            "docker volume create --label io.rserve-desk.owner=rserve-desk \
             --label io.rserve-desk.role=traefik rserve-desk-traefik-acme"
        );
        assert_eq!(
            d.traefik_remove().display(),
            "docker rm --force rserve-desk-traefik"
        );
        assert_eq!(
            d.traefik_start().display(),
            "docker start rserve-desk-traefik"
        );
        let copy = d.traefik_copy_config("global: {}\n").unwrap();
        assert_eq!(copy.argv, ["docker", "cp", "-", "rserve-desk-traefik:/"]);
        assert_eq!(
            entries(copy.stdin.as_deref().unwrap()),
            [
                ("etc/".into(), 0o755, String::new()),
                ("etc/traefik/".into(), 0o755, String::new()),
                (
                    "etc/traefik/traefik.yml".into(),
                    0o644,
                    "global: {}\n".into()
                ),
            ]
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
            needed_images(&v(BootstrapOptions::default()), &[]),
            ["traefik:v3.3"]
        );
        let two = BootstrapOptions {
            r_versions: vec!["4.4.1".into(), "4.2.2".into()],
            ..BootstrapOptions::default()
        };
        assert_eq!(
            needed_images(&v(two.clone()), &[]),
            ["traefik:v3.3", "rocker/r-ver:4.4.1", "rocker/r-ver:4.2.2"]
        );
        // A ready-made rserve-base:4.4.1 is sent instead: its base is not needed.
        let sent = [RVersion::parse("4.4.1").unwrap()];
        assert_eq!(
            needed_images(&v(two.clone()), &sent),
            ["traefik:v3.3", "rocker/r-ver:4.2.2"]
        );
        let debian = BootstrapOptions {
            base_image: Some("debian:bookworm".into()),
            ..two
        };
        assert_eq!(
            needed_images(&v(debian.clone()), &[]),
            ["traefik:v3.3", "debian:bookworm"]
        );
        let both = [
            RVersion::parse("4.4.1").unwrap(),
            RVersion::parse("4.2.2").unwrap(),
        ];
        assert_eq!(needed_images(&v(debian), &both), ["traefik:v3.3"]);
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
            d.base_inspect(&r).display(),
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
