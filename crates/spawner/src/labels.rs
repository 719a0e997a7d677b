//! The labels that make containers and images ours, and the Traefik labels that
//! route `/<slug>` to an app. Labels are the source of truth: an app's
//! description can be read back from them alone (design principle 1).

use std::collections::HashMap;

use sha2::Digest;

use crate::settings::access::Cidr;
use crate::settings::{Domain, Settings};
use crate::spec::{AppSpec, Slug};

/// Prefix of every label we set.
pub const PREFIX: &str = "io.rserve-desk.";
pub const OWNER: &str = "io.rserve-desk.owner";
pub const OWNER_VALUE: &str = "rserve-desk";
pub const ROLE: &str = "io.rserve-desk.role";
pub const APP_ID: &str = "io.rserve-desk.app-id";
pub const SLUG: &str = "io.rserve-desk.slug";
pub const CODE_HASH: &str = "io.rserve-desk.code-hash";
pub const CONFIG_HASH: &str = "io.rserve-desk.config-hash";
pub const R_VERSION: &str = "io.rserve-desk.r-version";
pub const MODE: &str = "io.rserve-desk.mode";
pub const PACKAGES: &str = "io.rserve-desk.packages";
pub const PACKAGES_KEY: &str = "io.rserve-desk.packages-key";
pub const REPO: &str = "io.rserve-desk.repo";
/// An app image's git origin (`URL REF COMMIT`), when its code came from git.
pub const ORIGIN: &str = "io.rserve-desk.origin";
/// The Debian packages a packages layer installed, comma-separated.
pub const SYSTEM_PACKAGES: &str = "io.rserve-desk.system-packages";
/// The id of the `rserve-base` image an app image or packages layer was built on.
pub const BASE_ID: &str = "io.rserve-desk.base-id";
/// A container's [`Settings`] (limits, replicas, domain, plain variables, secret names), as JSON.
pub const SETTINGS: &str = "io.rserve-desk.settings";
/// Hash of [`SETTINGS`]: equal image and hash mean the container needs no replacing.
pub const SETTINGS_HASH: &str = "io.rserve-desk.settings-hash";

/// What an image or container of ours is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// An app's code image or running container.
    App,
    /// A packages layer shared by apps with the same packages.
    Packages,
    /// The volume of an app's token hashes ([`access_volume`]).
    Access,
    /// A cluster app's own overlay network, its wall.
    AppNetwork,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::App => "app",
            Self::Packages => "packages",
            Self::Access => "access",
            Self::AppNetwork => "app-network",
        }
    }
}

/// `label=KEY=VALUE` filter for the Docker API.
fn filter(key: &str, value: &str) -> String {
    format!("{key}={value}")
}

/// Label filters selecting our objects of one role, narrowed by `extra` labels.
pub fn ours(role: Role, extra: &[(&str, &str)]) -> Vec<String> {
    [(OWNER, OWNER_VALUE), (ROLE, role.as_str())]
        .iter()
        .chain(extra)
        .map(|(k, v)| filter(k, v))
        .collect()
}

/// The packages an image or container's labels name, in their order.
pub fn package_list(labels: &HashMap<String, String>) -> Vec<String> {
    labels
        .get(PACKAGES)
        .map(|list| {
            list.split(',')
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The labels of an app's image and container.
pub fn app_labels(spec: &AppSpec) -> HashMap<String, String> {
    let mut all = layer_labels(spec, Role::App);
    all.extend(
        [
            (APP_ID, spec.app_id.clone()),
            (SLUG, spec.slug.to_string()),
            (CODE_HASH, spec.code_hash()),
            (CONFIG_HASH, spec.config_hash()),
            (MODE, spec.mode.as_str().to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    if let Some(origin) = &spec.origin {
        all.insert(ORIGIN.to_owned(), origin.to_string());
    }
    all
}

/// The labels of a packages layer image.
pub fn packages_labels(spec: &AppSpec) -> HashMap<String, String> {
    layer_labels(spec, Role::Packages)
}

/// What an app image and its packages layer both say: owner, role, R and packages.
fn layer_labels(spec: &AppSpec, role: Role) -> HashMap<String, String> {
    let env = &spec.environment;
    let packages: Vec<String> = env.packages().iter().map(ToString::to_string).collect();
    let system: Vec<&str> = env.system().iter().map(|d| d.as_str()).collect();
    [
        (OWNER, OWNER_VALUE.to_owned()),
        (ROLE, role.as_str().to_owned()),
        (R_VERSION, spec.r_version.to_string()),
        (PACKAGES, packages.join(",")),
        (PACKAGES_KEY, spec.packages_key()),
        (
            REPO,
            env.primary_repo()
                .map(ToString::to_string)
                .unwrap_or_default(),
        ),
        (SYSTEM_PACKAGES, system.join(",")),
    ]
    .map(|(k, v)| (k.to_owned(), v))
    .into_iter()
    .collect()
}

/// The labels a container adds to its image's: how it runs.
pub fn settings_labels(settings: &Settings) -> HashMap<String, String> {
    HashMap::from([
        (SETTINGS.to_owned(), settings.to_label_value()),
        (SETTINGS_HASH.to_owned(), settings.hash()),
    ])
}

/// The Docker volume holding app `slug`'s token hashes, mounted read-only
/// at [`ACCESS_MOUNT`] in its containers.
pub fn access_volume(slug: &Slug) -> String {
    format!("rserve-desk-access-{slug}")
}

/// Where an app container finds its access volume (`start.R` reads `tokens` there).
pub const ACCESS_MOUNT: &str = "/run/rserve-desk/access";

/// The labels of an app's access volume.
pub fn access_volume_labels(slug: &Slug) -> HashMap<String, String> {
    [
        (OWNER, OWNER_VALUE.to_owned()),
        (ROLE, Role::Access.as_str().to_owned()),
        (SLUG, slug.to_string()),
    ]
    .map(|(k, v)| (k.to_owned(), v))
    .into_iter()
    .collect()
}

/// What every app container's name starts with (`rserve-desk-<slug>-…`);
/// a build step's container has a name Docker made up.
pub(crate) const CONTAINER_PREFIX: &str = "rserve-desk-";
/// What a draining container's name ends with, so that its health turning
/// bad, its death and its removal read as a retirement, not as the app failing.
const DRAINING_SUFFIX: &str = "-draining";

/// The stem of the container names of one version's replicas:
/// `rserve-desk-<slug>-<first 8 hex digits of the image id>-<stamp in hex>`,
/// `stamp` being milliseconds since the epoch, kept to 24 bits.
pub(crate) fn replicas_stem(slug: &Slug, image_id: &str, stamp_ms: u128) -> String {
    format!(
        "{CONTAINER_PREFIX}{slug}-{}-{:x}",
        &image_id.trim_start_matches("sha256:")[..8],
        stamp_ms % 0xff_ffff,
    )
}

/// The name of replica `replica` of a version (`STEM-N`).
pub(crate) fn replica_name(stem: &str, replica: u8) -> String {
    format!("{stem}-{replica}")
}

/// The stem of a replica's container name (`STEM-N`).
pub(crate) fn replica_stem(name: &str) -> &str {
    name.rsplit_once('-').map_or(name, |(stem, _)| stem)
}

/// The name a container is renamed to while it drains.
pub(crate) fn draining_name(name: &str) -> String {
    format!("{name}{DRAINING_SUFFIX}")
}

/// Whether a container (by name, with or without Docker's leading `/`) is being retired.
pub(crate) fn is_draining(name: &str) -> bool {
    name.ends_with(DRAINING_SUFFIX)
}

/// The name a container was created with, also while it drains (its probe path's).
pub(crate) fn created_name(name: &str) -> &str {
    name.strip_suffix(DRAINING_SUFFIX).unwrap_or(name)
}

/// Port inside the container where Rserve speaks QAP over WebSocket.
pub const WEBSOCKET_PORT: u16 = 8081;

/// The name of an app's Traefik router and service.
fn traefik_service(slug: &str) -> String {
    format!("{TRAEFIK_SERVICE_PREFIX}{slug}")
}

const TRAEFIK_SERVICE_PREFIX: &str = "rserve-desk-";

/// The app slug of a Traefik service name as its metrics label it
/// (`rserve-desk-SLUG@PROVIDER`: `@docker` on one host, `@swarm` on a
/// cluster); `None` for services that are not an app's.
pub fn slug_of_traefik_service(service: &str) -> Option<&str> {
    let name = service.rsplit_once('@').map_or(service, |(name, _)| name);
    name.strip_prefix(TRAEFIK_SERVICE_PREFIX)
        .filter(|slug| Slug::parse(slug).is_ok())
}

/// Where one container answers on its own through Traefik, whatever its app's
/// other containers do: a deploy knows the router has the new container when
/// this path answers, and has dropped an old one when its path is gone.
pub fn probe_path(container: &str) -> String {
    format!("/.rserve-desk/probe/{container}")
}

/// Which of Traefik's providers reads the labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// Traefik's Docker provider, from each container's labels.
    Docker,
    /// Its swarm provider, from a service's labels.
    Swarm,
}

/// How one container (or one swarm service) of an app is reached through Traefik.
#[derive(Debug, Clone, Copy)]
pub struct Routing<'a> {
    pub slug: &'a Slug,
    pub provider: Provider,
    pub network: &'a str,
    /// The container's name (its probe path and service); a swarm service
    /// has none (it replaces its tasks itself, nothing probes them one by one).
    pub container: Option<&'a str>,
    pub domain: Option<&'a Domain>,
    /// The host's own public name (a DNS name or an IP address, already
    /// checked): the `/<slug>` and probe routes answer only under it, never
    /// under another app's domain. `None` when the host has none.
    pub public_host: Option<&'a str>,
    /// Traefik's certificate resolver for the domain's TLS, when the host has one.
    pub cert_resolver: Option<&'a str>,
    /// Networks callers must come from; empty: any.
    pub allow: &'a [Cidr],
}

/// `Host(`public_host`) && (rule)` when the host has a public name, else the rule.
fn under_public_host(public_host: Option<&str>, rule: String) -> String {
    match public_host {
        Some(host) => format!("Host(`{host}`) && ({rule})"),
        None => rule,
    }
}

/// Traefik labels routing `/<slug>` (and everything below it) under the
/// host's public name to the app's WebSocket port, with the prefix stripped,
/// and the app's own domain, if any, at its root. Every container of the app carries the same service name, so
/// during a redeploy Traefik balances over old and new. Each container also
/// has a router of its own at [`probe_path`]. An allow-list puts Traefik's
/// `ipAllowList` middleware in front of every one of these routers.
pub fn traefik_labels(r: Routing<'_>) -> HashMap<String, String> {
    let name = traefik_service(r.slug.as_str());
    let router = format!("traefik.http.routers.{name}");
    let strip = format!("{name}-strip");
    let port = WEBSOCKET_PORT.to_string();
    let network_key = match r.provider {
        Provider::Docker => "traefik.docker.network",
        Provider::Swarm => "traefik.swarm.network",
    };
    let mut all: HashMap<String, String> = [
        ("traefik.enable".to_owned(), "true".to_owned()),
        (network_key.to_owned(), r.network.to_owned()),
        (
            format!("{router}.rule"),
            under_public_host(
                r.public_host,
                format!("Path(`/{slug}`) || PathPrefix(`/{slug}/`)", slug = r.slug),
            ),
        ),
        (format!("{router}.service"), name.clone()),
        (format!("{router}.middlewares"), strip.clone()),
        (
            format!("traefik.http.middlewares.{strip}.stripprefix.prefixes"),
            format!("/{}", r.slug),
        ),
        (
            format!("traefik.http.services.{name}.loadbalancer.server.port"),
            port.clone(),
        ),
    ]
    .into_iter()
    .collect();
    if let Some(container) = r.container {
        let probe = format!("rdesk-probe-{container}");
        let probe_router = format!("traefik.http.routers.{probe}");
        all.extend([
            (
                format!("{probe_router}.rule"),
                under_public_host(r.public_host, format!("Path(`{}`)", probe_path(container))),
            ),
            (format!("{probe_router}.service"), probe.clone()),
            (
                format!("{probe_router}.middlewares"),
                format!("{probe}-strip"),
            ),
            (
                format!("traefik.http.middlewares.{probe}-strip.stripprefix.prefixes"),
                probe_path(container),
            ),
            (
                format!("traefik.http.services.{probe}.loadbalancer.server.port"),
                port,
            ),
        ]);
    }
    if let Some(domain) = r.domain {
        let domain_router = format!("traefik.http.routers.rdesk-domain-{}", r.slug);
        all.insert(
            format!("{domain_router}.rule"),
            format!("Host(`{}`)", domain.as_str()),
        );
        all.insert(format!("{domain_router}.service"), name.clone());
        if let Some(resolver) = r.cert_resolver {
            all.insert(format!("{domain_router}.tls"), "true".to_owned());
            all.insert(
                format!("{domain_router}.tls.certresolver"),
                resolver.to_owned(),
            );
        }
    }
    add_allow_list(&mut all, &name, r.allow);
    if r.provider == Provider::Swarm {
        add_retry(&mut all, &name);
    }
    all
}

/// Adds the `ipAllowList` middleware `NAME-allow-HASH` and appends it to
/// every router of these labels (the app's path and domain routers and the
/// probe). The hash of the list is in the name so that during a switch the
/// old and the new container never define one middleware two ways (Traefik
/// would drop it, and every router using it).
fn add_allow_list(all: &mut HashMap<String, String>, name: &str, allow: &[Cidr]) {
    if allow.is_empty() {
        return;
    }
    let ranges: Vec<String> = allow.iter().map(ToString::to_string).collect();
    let ranges = ranges.join(",");
    let digest = sha2::Sha256::digest(ranges.as_bytes());
    let middleware = format!("{name}-allow-{}", hex::encode(&digest[..4]));
    in_front_of_every_router(all, &middleware);
    all.insert(
        format!("traefik.http.middlewares.{middleware}.ipallowlist.sourcerange"),
        ranges,
    );
}

/// Puts `middleware` last in front of each router of these labels.
fn in_front_of_every_router(all: &mut HashMap<String, String>, middleware: &str) {
    let routers: Vec<String> = all
        .keys()
        .filter_map(|k| k.strip_suffix(".rule"))
        .map(str::to_owned)
        .collect();
    for router in routers {
        let key = format!("{router}.middlewares");
        let value = match all.get(&key) {
            Some(existing) => format!("{existing},{middleware}"),
            None => middleware.to_owned(),
        };
        all.insert(key, value);
    }
}

/// A swarm service's routes try another task when one cannot be reached
/// (a node just lost, before the swarm has moved its tasks): Traefik's
/// retry middleware, which retries only when no answer has begun.
fn add_retry(all: &mut HashMap<String, String>, name: &str) {
    let middleware = format!("{name}-retry");
    in_front_of_every_router(all, &middleware);
    all.insert(
        format!("traefik.http.middlewares.{middleware}.retry.attempts"),
        "3".to_owned(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_names_read_back_through_replicas_and_draining() {
        let slug = Slug::parse("sales").unwrap();
        let stem = replicas_stem(&slug, "sha256:0123456789abcdef", 0x1_00_00_2a);
        assert_eq!(stem, "rserve-desk-sales-01234567-2b");
        let second = replica_name(&stem, 2);
        assert_eq!(second, "rserve-desk-sales-01234567-2b-2");
        assert!(second.starts_with(CONTAINER_PREFIX));
        assert_eq!(replica_stem(&second), stem);
        let draining = draining_name(&second);
        assert!(is_draining(&draining) && !is_draining(&second));
        assert_eq!(created_name(&draining), second);
        assert_eq!(created_name(&second), second);
    }

    #[test]
    fn traefik_services_name_their_app() {
        assert_eq!(
            slug_of_traefik_service("rserve-desk-sales@docker"),
            Some("sales")
        );
        assert_eq!(slug_of_traefik_service("rserve-desk-sales"), Some("sales"));
        assert_eq!(
            slug_of_traefik_service("rserve-desk-sales@swarm"),
            Some("sales")
        );
        assert_eq!(slug_of_traefik_service("api@internal"), None);
        assert_eq!(slug_of_traefik_service("rserve-desk-@docker"), None);
    }
    use crate::spec::{RepoUrl, sample};

    fn spec() -> AppSpec {
        let mut spec = sample(
            &[("main.R", "f <- function() 1")],
            &["zoo", "abc"],
            RepoUrl::default(),
        )
        .unwrap();
        spec.slug = Slug::parse("sales").unwrap();
        spec
    }

    #[test]
    fn app_labels_describe_the_app_completely() {
        let labels = app_labels(&spec());
        assert_eq!(labels[OWNER], "rserve-desk");
        assert_eq!(labels[ROLE], "app");
        assert_eq!(labels[SLUG], "sales");
        assert_eq!(labels[PACKAGES], "abc,zoo");
        assert_eq!(package_list(&labels), ["abc", "zoo"]);
        assert_eq!(labels[CODE_HASH], spec().code_hash());
        assert!(labels.keys().all(|k| k.starts_with(PREFIX)));
        assert!(package_list(&HashMap::from([(PACKAGES.to_owned(), String::new())])).is_empty());
    }

    fn routing<'a>(slug: &'a Slug, domain: Option<&'a Domain>) -> Routing<'a> {
        Routing {
            slug,
            provider: Provider::Docker,
            network: "net",
            container: Some("rserve-desk-sales-abc-1"),
            domain,
            public_host: None,
            cert_resolver: None,
            allow: &[],
        }
    }

    #[test]
    fn an_allow_list_guards_every_router_of_the_app() {
        let slug = Slug::parse("sales").unwrap();
        let domain = Domain::parse("sales.example.com").unwrap();
        let allow = [
            Cidr::parse("10.0.0.0/8").unwrap(),
            Cidr::parse("2001:db8::/32").unwrap(),
        ];
        let labels = traefik_labels(Routing {
            allow: &allow,
            ..routing(&slug, Some(&domain))
        });
        let middleware = "rserve-desk-sales-allow-5f636a71";
        assert_eq!(
            labels[&format!("traefik.http.middlewares.{middleware}.ipallowlist.sourcerange")],
            "10.0.0.0/8,2001:db8::/32"
        );
        assert_eq!(
            labels["traefik.http.routers.rserve-desk-sales.middlewares"],
            format!("rserve-desk-sales-strip,{middleware}")
        );
        assert_eq!(
            labels["traefik.http.routers.rdesk-domain-sales.middlewares"],
            middleware
        );
        assert_eq!(
            labels["traefik.http.routers.rdesk-probe-rserve-desk-sales-abc-1.middlewares"],
            format!("rdesk-probe-rserve-desk-sales-abc-1-strip,{middleware}")
        );
        let open = traefik_labels(routing(&slug, Some(&domain)));
        assert!(open.keys().all(|k| !k.contains("allow")), "{open:?}");
        assert_eq!(access_volume(&slug), "rserve-desk-access-sales");
        assert_eq!(access_volume_labels(&slug)[ROLE], "access");
    }

    #[test]
    fn with_a_public_name_the_path_and_probe_routes_answer_only_under_it() {
        let slug = Slug::parse("sales").unwrap();
        let domain = Domain::parse("sales.example.com").unwrap();
        let labels = traefik_labels(Routing {
            public_host: Some("r.example.org"),
            ..routing(&slug, Some(&domain))
        });
        assert_eq!(
            labels["traefik.http.routers.rserve-desk-sales.rule"],
            "Host(`r.example.org`) && (Path(`/sales`) || PathPrefix(`/sales/`))"
        );
        assert_eq!(
            labels["traefik.http.routers.rdesk-probe-rserve-desk-sales-abc-1.rule"],
            "Host(`r.example.org`) && (Path(`/.rserve-desk/probe/rserve-desk-sales-abc-1`))"
        );
        // The app's own domain is its root only.
        assert_eq!(
            labels["traefik.http.routers.rdesk-domain-sales.rule"],
            "Host(`sales.example.com`)"
        );
    }

    #[test]
    fn routing_matches_the_slug_and_below_but_not_longer_names() {
        let slug = Slug::parse("sales").unwrap();
        let labels = traefik_labels(routing(&slug, None));
        assert_eq!(
            labels["traefik.http.routers.rserve-desk-sales.rule"],
            "Path(`/sales`) || PathPrefix(`/sales/`)"
        );
        assert_eq!(
            labels["traefik.http.middlewares.rserve-desk-sales-strip.stripprefix.prefixes"],
            "/sales"
        );
        assert_eq!(
            labels["traefik.http.services.rserve-desk-sales.loadbalancer.server.port"],
            "8081"
        );
        assert_eq!(labels["traefik.docker.network"], "net");
        assert!(!labels.keys().any(|k| k.contains("rdesk-domain")));
    }

    #[test]
    fn each_container_answers_alone_at_its_probe_path() {
        let slug = Slug::parse("sales").unwrap();
        let labels = traefik_labels(routing(&slug, None));
        let router = "traefik.http.routers.rdesk-probe-rserve-desk-sales-abc-1";
        assert_eq!(
            labels[&format!("{router}.rule")],
            "Path(`/.rserve-desk/probe/rserve-desk-sales-abc-1`)"
        );
        assert_eq!(
            labels[&format!("{router}.service")],
            "rdesk-probe-rserve-desk-sales-abc-1"
        );
    }

    #[test]
    fn an_own_domain_routes_its_root_with_tls_only_when_the_host_has_a_resolver() {
        let slug = Slug::parse("sales").unwrap();
        let domain = Domain::parse("sales.example.com").unwrap();
        let plain = traefik_labels(routing(&slug, Some(&domain)));
        let router = "traefik.http.routers.rdesk-domain-sales";
        assert_eq!(
            plain[&format!("{router}.rule")],
            "Host(`sales.example.com`)"
        );
        assert_eq!(plain[&format!("{router}.service")], "rserve-desk-sales");
        assert!(!plain.contains_key(&format!("{router}.tls")));
        let tls = traefik_labels(Routing {
            cert_resolver: Some("letsencrypt"),
            ..routing(&slug, Some(&domain))
        });
        assert_eq!(tls[&format!("{router}.tls.certresolver")], "letsencrypt");
    }

    #[test]
    fn settings_labels_carry_no_secret_values() {
        let labels = settings_labels(&Settings::default());
        assert_eq!(labels.len(), 2);
        assert_eq!(labels[SETTINGS_HASH], Settings::default().hash());
    }
}
