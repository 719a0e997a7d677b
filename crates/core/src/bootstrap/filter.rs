//! The read-only Docker API filter Traefik reads Docker through: HAProxy
//! from Debian's packages (`remote-bootstrap/docker-filter/`), listening on
//! a Unix socket in a volume that only Traefik also mounts. Only the GET
//! and HEAD calls of Traefik's Docker provider pass (`/_ping`, `/version`,
//! `/containers/json`, `/containers/<id>/json`, `/networks`, `/events`),
//! and its swarm provider's (`/services`, `/tasks`, `/nodes/<id>`); every other call is
//! answered 403. Here: the embedded build context, its
//! hash and the names the bootstrap and the stand-in share.

use super::commands::{hash_parts, tar_of};

pub const FILTER_DOCKERFILE: &str =
    include_str!("../../../../remote-bootstrap/docker-filter/Dockerfile");
pub const FILTER_HAPROXY_CFG: &str =
    include_str!("../../../../remote-bootstrap/docker-filter/haproxy.cfg");

/// The filter's image, built FROM `debian:bookworm` (on the VPS, or sent).
pub const FILTER_IMAGE: &str = "rserve-desk/docker-filter:1";
/// What the filter's image is built on.
pub const FILTER_BASE_IMAGE: &str = "debian:bookworm";
/// The filter's container.
pub const FILTER_CONTAINER: &str = "rserve-desk-docker-filter";
/// The volume holding the filter's socket, mounted by the filter and Traefik.
pub const FILTER_VOLUME: &str = "rserve-desk-docker-filter";
/// Where both mount [`FILTER_VOLUME`].
pub const FILTER_SOCKET_DIR: &str = "/run/rserve-desk-filter";
/// The filtered Docker API as Traefik's endpoint.
pub const FILTER_ENDPOINT: &str = "unix:///run/rserve-desk-filter/docker.sock";

/// What the filter's image is built from (its two files).
pub fn filter_hash() -> String {
    hash_parts(&[FILTER_DOCKERFILE, FILTER_HAPROXY_CFG])
}

/// The build context: `Dockerfile` and `haproxy.cfg`.
pub fn filter_context() -> std::io::Result<Vec<u8>> {
    tar_of(
        &[],
        &[
            ("Dockerfile", FILTER_DOCKERFILE.as_bytes(), 0o644),
            ("haproxy.cfg", FILTER_HAPROXY_CFG.as_bytes(), 0o644),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_is_built_from_debian_and_the_config_listens_where_traefik_reads() {
        assert!(FILTER_DOCKERFILE.contains(&format!("FROM {FILTER_BASE_IMAGE}\n")));
        assert!(FILTER_HAPROXY_CFG.contains(&format!("bind unix@{FILTER_SOCKET_DIR}/docker.sock")));
        assert_eq!(
            FILTER_ENDPOINT,
            format!("unix://{FILTER_SOCKET_DIR}/docker.sock")
        );
        assert_eq!(filter_hash().len(), 16);
        assert_eq!(filter_context().unwrap(), filter_context().unwrap());
    }
}
