//! Renders Traefik's static configuration from the template
//! `remote-bootstrap/traefik.yml`: `{{name}}` placeholders are replaced by
//! validated values, the lines between `#if tls` and `#endif` are kept only
//! when a domain and an e-mail were given, those between `#if docker` or
//! `#if swarm` and `#endif` only for that [`Provider`].

use super::filter::FILTER_ENDPOINT;
use super::options::Validated;
use super::{NETWORK, TRAEFIK_PRIVATE_ALIAS};

/// The template, as shipped in `remote-bootstrap/`.
pub const TRAEFIK_TEMPLATE: &str = include_str!("../../../../remote-bootstrap/traefik.yml");

/// Where Traefik's configuration volume is mounted.
pub const TRAEFIK_CONFIG_DIR: &str = "/etc/traefik";
/// Where the rendered file lives inside the Traefik container.
pub const TRAEFIK_CONFIG_PATH: &str = "/etc/traefik/traefik.yml";

/// The template is broken (a bug of ours, caught by the tests).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("the Traefik template uses an unknown placeholder {{{{{0}}}}}")]
    Unknown(String),
    #[error("the Traefik template has an unbalanced '#if' / '#endif' at line {0}")]
    Unbalanced(usize),
    #[error("the Traefik template has an unknown condition '#if {0}'")]
    UnknownCondition(String),
}

/// Where Traefik learns its routes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// One host: its containers' labels (Traefik on the host's network).
    Docker,
    /// A cluster: its swarm services' labels (Traefik a container on the
    /// manager's bridge).
    Swarm,
}

impl Provider {
    /// Where the private entry points (dashboard, metrics) listen: the
    /// VPS's 127.0.0.1 for Traefik on the host's network, the address of
    /// [`TRAEFIK_PRIVATE_ALIAS`] on the manager's bridge for a cluster's.
    fn private_host(self) -> &'static str {
        match self {
            Provider::Docker => "127.0.0.1",
            Provider::Swarm => TRAEFIK_PRIVATE_ALIAS,
        }
    }
}

/// Renders `traefik.yml` for one host.
pub fn render_traefik_config(options: &Validated) -> Result<String, TemplateError> {
    render(TRAEFIK_TEMPLATE, options, Provider::Docker)
}

/// Renders `traefik.yml` for a cluster's Traefik.
pub fn render_swarm_traefik_config(options: &Validated) -> Result<String, TemplateError> {
    render(TRAEFIK_TEMPLATE, options, Provider::Swarm)
}

fn render(
    template: &str,
    options: &Validated,
    provider: Provider,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    // The condition being read, and whether its lines are kept.
    let mut inside: Option<bool> = None;
    for (n, line) in template.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(condition) = trimmed.strip_prefix("#if ") {
            if inside.is_some() {
                return Err(TemplateError::Unbalanced(n + 1));
            }
            inside = Some(match condition {
                "tls" => options.tls.is_some(),
                "docker" => provider == Provider::Docker,
                "swarm" => provider == Provider::Swarm,
                other => return Err(TemplateError::UnknownCondition(other.to_owned())),
            });
            continue;
        }
        if trimmed == "#endif" {
            if inside.take().is_none() {
                return Err(TemplateError::Unbalanced(n + 1));
            }
            continue;
        }
        if inside != Some(false) {
            out.push_str(&substitute(line, options, provider)?);
            out.push('\n');
        }
    }
    if inside.is_some() {
        return Err(TemplateError::Unbalanced(template.lines().count()));
    }
    Ok(out)
}

fn substitute(
    line: &str,
    options: &Validated,
    provider: Provider,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = &after[..end];
        let value = match (name, &options.tls) {
            ("http_port", _) => options.http_port.to_string(),
            ("https_port", _) => options.https_port.to_string(),
            ("dashboard_port", _) => options.dashboard_port.to_string(),
            ("metrics_port", _) => options.metrics_port.to_string(),
            ("private_host", _) => provider.private_host().to_owned(),
            ("network", _) => NETWORK.to_owned(),
            ("docker_endpoint", _) => FILTER_ENDPOINT.to_owned(),
            ("domain", Some(tls)) => tls.domain.clone(),
            ("email", Some(tls)) => tls.email.clone(),
            _ => return Err(TemplateError::Unknown(name.to_owned())),
        };
        out.push_str(&value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::options::BootstrapOptions;
    use super::*;

    /// The body shared by both snapshots (after the template's comment).
    fn rendered(options: BootstrapOptions) -> String {
        let text = render_traefik_config(&options.validate().unwrap()).unwrap();
        let body = text.find("global:").unwrap();
        text[body..].to_owned()
    }

    #[test]
    fn without_a_domain_plain_http_and_no_resolver() {
        let text = rendered(BootstrapOptions {
            http_port: 8880,
            https_port: 8443,
            ..BootstrapOptions::default()
        });
        assert_eq!(
            text,
            r#"global:
  checkNewVersion: false
  sendAnonymousUsage: false

log:
  level: INFO

entryPoints:
  web:
    address: ":8880"
  websecure:
    address: ":8443"
  traefik:
    address: "127.0.0.1:8089"
  metrics:
    address: "127.0.0.1:8082"

providers:
  # A change of containers (a new version healthy, an old one draining) is
  # applied 200 ms after the previous one rather than Traefik's default 2 s,
  # which every deploy waited out twice.
  providersThrottleDuration: 200ms
  docker:
    endpoint: "unix:///run/rserve-desk-filter/docker.sock"
    exposedByDefault: false
    network: "rserve-desk"
    watch: true

api:
  dashboard: true
  insecure: true

ping:
  entryPoint: traefik

metrics:
  prometheus:
    entryPoint: metrics
    addEntryPointsLabels: true
    addRoutersLabels: true
    addServicesLabels: true
"#
        );
        assert!(!text.contains("certResolver") && !text.contains("redirections"));
        assert!(!text.contains("acme"));
    }

    /// The HTTPS part exists only with a domain. Let's Encrypt (ACME) itself
    /// cannot be reached from this test machine, so only the rendered
    /// configuration is checked here, not that a certificate is issued.
    #[test]
    fn with_a_domain_https_redirect_and_lets_encrypt() {
        let text = rendered(BootstrapOptions {
            domain: Some("r.example.org".into()),
            email: Some("admin@example.org".into()),
            ..BootstrapOptions::default()
        });
        assert_eq!(
            text,
            r#"global:
  checkNewVersion: false
  sendAnonymousUsage: false

log:
  level: INFO

entryPoints:
  web:
    address: ":80"
    http:
      redirections:
        entryPoint:
          to: websecure
          scheme: https
          permanent: true
  websecure:
    address: ":443"
    http:
      tls:
        certResolver: letsencrypt
        domains:
          - main: "r.example.org"
  traefik:
    address: "127.0.0.1:8089"
  metrics:
    address: "127.0.0.1:8082"

providers:
  # A change of containers (a new version healthy, an old one draining) is
  # applied 200 ms after the previous one rather than Traefik's default 2 s,
  # which every deploy waited out twice.
  providersThrottleDuration: 200ms
  docker:
    endpoint: "unix:///run/rserve-desk-filter/docker.sock"
    exposedByDefault: false
    network: "rserve-desk"
    watch: true

api:
  dashboard: true
  insecure: true

ping:
  entryPoint: traefik

metrics:
  prometheus:
    entryPoint: metrics
    addEntryPointsLabels: true
    addRoutersLabels: true
    addServicesLabels: true

certificatesResolvers:
  letsencrypt:
    acme:
      email: "admin@example.org"
      storage: /acme/acme.json
      httpChallenge:
        entryPoint: web
"#
        );
    }

    #[test]
    fn template_errors_are_caught() {
        let v = BootstrapOptions::default().validate().unwrap();
        let render = |template, options| render(template, options, Provider::Docker);
        assert_eq!(
            render("a: {{nope}}\n", &v),
            Err(TemplateError::Unknown("nope".into()))
        );
        // A TLS value used outside a TLS block without TLS is a template bug.
        assert_eq!(
            render("a: {{domain}}\n", &v),
            Err(TemplateError::Unknown("domain".into()))
        );
        assert_eq!(
            render("#if tls\na: b\n", &v),
            Err(TemplateError::Unbalanced(2))
        );
        assert_eq!(render("#endif\n", &v), Err(TemplateError::Unbalanced(1)));
        assert_eq!(
            render("#if tls\n#if swarm\n#endif\n#endif\n", &v),
            Err(TemplateError::Unbalanced(2))
        );
        assert_eq!(
            render("#if cloud\n#endif\n", &v),
            Err(TemplateError::UnknownCondition("cloud".into()))
        );
    }

    #[test]
    fn a_cluster_reads_swarm_services_each_on_its_own_network() {
        let v = BootstrapOptions::default().validate().unwrap();
        let text = render_swarm_traefik_config(&v).unwrap();
        let providers = &text[text.find("providers:").unwrap()..text.find("api:").unwrap()];
        assert!(!providers.contains("docker:"), "{providers}");
        assert!(providers.contains("  swarm:\n"), "{providers}");
        assert!(
            !providers.contains("network:"),
            "each service names its network: {providers}"
        );
        assert!(providers.contains("    exposedByDefault: false\n"));
        assert!(providers.contains("    refreshSeconds: 2\n"));
        assert!(providers.contains("unix:///run/rserve-desk-filter/docker.sock"));
        assert!(text.contains("serversTransport:\n  forwardingTimeouts:\n    dialTimeout: 2s\n"));
        let one_host = render_traefik_config(&v).unwrap();
        assert!(!one_host.contains("swarm:"));
        assert!(!one_host.contains("serversTransport"));
    }

    #[test]
    fn a_clusters_dashboard_and_metrics_listen_at_its_private_name_only() {
        let v = BootstrapOptions::default().validate().unwrap();
        let text = render_swarm_traefik_config(&v).unwrap();
        assert!(text.contains(
            "  traefik:\n    address: \"rserve-desk-traefik-private:8089\"\n  \
             metrics:\n    address: \"rserve-desk-traefik-private:8082\"\n"
        ));
        assert!(text.contains("  web:\n    address: \":80\"\n"));
    }
}
