//! The read-only Docker API filter on the stand-in, as the product's
//! bootstrap runs it on a VPS: the image `rserve-desk/docker-filter:1` built
//! from `remote-bootstrap/docker-filter/` FROM the local `debian:bookworm`
//! (HAProxy from Debian's packages), labelled with the same config hash the
//! bootstrap checks (so `--send-images` sends this one to a bare VPS), and
//! the container `rserve-desk-docker-filter` (no network, read-only, no
//! capabilities, no new privileges) whose socket Traefik reads Docker through.

use std::fs;

use anyhow::{Context, Result};

use crate::docker::{self, Build, ContainerSpec, docker};
use crate::facts::{
    CONFIG_HASH_LABEL, DEBIAN_IMAGE, DOCKER_SOCKET, FILTER_CONTAINER, FILTER_IMAGE,
    FILTER_SOCKET_DIR, FILTER_VOLUME, HASH_LABEL, OWNER, OWNER_LABEL, ROLE_LABEL, Standin,
};
use crate::sh;
use crate::state::hash_parts;
use crate::ui::{self, Health, Outcome};

const DOCKERFILE: &str = include_str!("../../remote-bootstrap/docker-filter/Dockerfile");
const HAPROXY_CFG: &str = include_str!("../../remote-bootstrap/docker-filter/haproxy.cfg");

/// The hash `rdesk_core::bootstrap::filter::filter_hash` gives the same files
/// (16 hex digits of the same length-prefixed SHA-256).
fn config_hash() -> String {
    hash_parts([DOCKERFILE, HAPROXY_CFG])[..16].to_string()
}

pub fn image(st: &Standin) -> Result<Outcome> {
    let debian = docker::image(DEBIAN_IMAGE)
        .context("debian image missing")?
        .id;
    let hash = hash_parts([DOCKERFILE, HAPROXY_CFG, debian.as_str()]);
    if docker::image(FILTER_IMAGE).is_some_and(|i| i.hash() == Some(hash.as_str())) {
        return ui::already(format!("image {FILTER_IMAGE}"));
    }
    let context = st.dir.join("docker-filter-image");
    fs::create_dir_all(&context)?;
    fs::write(context.join("Dockerfile"), DOCKERFILE)?;
    fs::write(context.join("haproxy.cfg"), HAPROXY_CFG)?;
    let mut build = Build::new(FILTER_IMAGE, &context);
    build.labels = vec![
        (OWNER_LABEL, OWNER.to_string()),
        (ROLE_LABEL, "docker-filter".to_string()),
        (HASH_LABEL, hash),
        (CONFIG_HASH_LABEL, config_hash()),
    ];
    build.run(&st.log("docker-filter"))?;
    ui::done(format!("built image {FILTER_IMAGE}"))
}

fn spec() -> ContainerSpec<'static> {
    let options = [
        "--network",
        "none",
        "--restart",
        "unless-stopped",
        "--read-only",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges:true",
        "--volume",
        &format!("{DOCKER_SOCKET}:/var/run/docker.sock:ro"),
        "--volume",
        &format!("{FILTER_VOLUME}:{FILTER_SOCKET_DIR}"),
    ]
    .map(String::from);
    ContainerSpec {
        name: FILTER_CONTAINER,
        role: "docker-filter",
        image: FILTER_IMAGE,
        options: options.to_vec(),
        command: Vec::new(),
    }
}

pub fn container() -> Result<Outcome> {
    sh::capture(
        docker()
            .args(["volume", "create", "--label"])
            .arg(format!("{OWNER_LABEL}={OWNER}"))
            .arg("--label")
            .arg(format!("{ROLE_LABEL}=docker-filter"))
            .arg(FILTER_VOLUME),
    )?;
    spec().ensure()
}

pub fn down() -> Result<Outcome> {
    if docker::remove_container(FILTER_CONTAINER)? {
        ui::done(format!("removed {FILTER_CONTAINER}"))
    } else {
        ui::already("no filter container")
    }
}

pub fn status() -> Health {
    match docker::container(FILTER_CONTAINER) {
        Some(c) if c.running() => ui::healthy(format!("{FILTER_CONTAINER} running")),
        Some(c) => ui::unhealthy(format!("{FILTER_CONTAINER} {}", c.status)),
        None => ui::unhealthy(format!("container {FILTER_CONTAINER} missing")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_label_is_the_bootstraps_hash_of_the_same_files() {
        // rdesk_core::bootstrap::commands::hash_parts keeps the first 16 hex
        // digits of this very construction.
        assert_eq!(config_hash().len(), 16);
        assert!(hash_parts([DOCKERFILE, HAPROXY_CFG]).starts_with(&config_hash()));
        assert!(HAPROXY_CFG.contains(FILTER_SOCKET_DIR));
    }
}
