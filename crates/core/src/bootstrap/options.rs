//! What the user asks of a bootstrap ([`BootstrapOptions`]) and its
//! validation: every value is checked here before it reaches a command line,
//! a label or the rendered Traefik configuration (design principle 9).

use rdesk_spawner::{RVersion, is_dns_name};

/// The Docker socket on a Debian/Ubuntu VPS, mounted into Traefik.
pub const DEFAULT_DOCKER_SOCKET: &str = "/var/run/docker.sock";
/// The Traefik image run when none is given.
pub const DEFAULT_TRAEFIK_IMAGE: &str = "traefik:v3.3";

/// The choices of one bootstrap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapOptions {
    /// Domain for the Let's Encrypt certificate; with `email`, turns on HTTPS.
    pub domain: Option<String>,
    /// Contact e-mail for Let's Encrypt; required together with `domain`.
    pub email: Option<String>,
    /// Public HTTP entry point (`web`).
    pub http_port: u16,
    /// Public HTTPS entry point (`websecure`).
    pub https_port: u16,
    /// Dashboard, API and ping; published on the VPS's 127.0.0.1 only.
    pub dashboard_port: u16,
    /// Prometheus metrics; published on the VPS's 127.0.0.1 only.
    pub metrics_port: u16,
    /// One `rserve-base:<R>` image is built for each.
    pub r_versions: Vec<String>,
    /// `BASE_IMAGE` build argument of `rserve-base` (default: `rocker/r-ver:<R>`).
    pub base_image: Option<String>,
    /// The Traefik image to run.
    pub traefik_image: String,
    /// The Docker socket on the VPS, mounted read-only into Traefik.
    pub docker_socket: String,
}

impl Default for BootstrapOptions {
    fn default() -> Self {
        BootstrapOptions {
            domain: None,
            email: None,
            http_port: 80,
            https_port: 443,
            dashboard_port: 8089,
            metrics_port: 8082,
            r_versions: Vec::new(),
            base_image: None,
            traefik_image: DEFAULT_TRAEFIK_IMAGE.to_owned(),
            docker_socket: DEFAULT_DOCKER_SOCKET.to_owned(),
        }
    }
}

/// What the user chose for a bootstrap, in the window's form or on the
/// command line: what is not given, or blank, keeps its default.
#[derive(Debug, Clone, Default)]
pub struct BootstrapChoices {
    pub domain: Option<String>,
    pub email: Option<String>,
    pub http_port: Option<u16>,
    pub https_port: Option<u16>,
    pub r_versions: Vec<String>,
    pub base_image: Option<String>,
    pub traefik_image: Option<String>,
}

impl From<BootstrapChoices> for BootstrapOptions {
    fn from(chosen: BootstrapChoices) -> Self {
        let given =
            |text: Option<String>| text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
        let defaults = BootstrapOptions::default();
        BootstrapOptions {
            domain: given(chosen.domain),
            email: given(chosen.email),
            http_port: chosen.http_port.unwrap_or(defaults.http_port),
            https_port: chosen.https_port.unwrap_or(defaults.https_port),
            r_versions: chosen.r_versions,
            base_image: given(chosen.base_image),
            traefik_image: given(chosen.traefik_image).unwrap_or(defaults.traefik_image.clone()),
            ..defaults
        }
    }
}

/// Domain and e-mail for Let's Encrypt, both validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    pub domain: String,
    pub email: String,
}

/// Options that passed [`BootstrapOptions::validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validated {
    pub tls: Option<Tls>,
    pub http_port: u16,
    pub https_port: u16,
    pub dashboard_port: u16,
    pub metrics_port: u16,
    pub r_versions: Vec<RVersion>,
    pub base_image: Option<String>,
    pub traefik_image: String,
    pub docker_socket: String,
}

/// Why the options were refused; one sentence each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    #[error(
        "'{0}' is not a valid domain name (letters, digits and hyphens in dot-separated labels, e.g. r.example.org)"
    )]
    Domain(String),
    #[error("'{0}' is not a valid e-mail address (e.g. admin@example.org)")]
    Email(String),
    #[error("a domain and an e-mail go together (Let's Encrypt needs both); {0} was given alone")]
    HalfTls(&'static str),
    #[error("port 0 is not valid for the {0} entry point")]
    PortZero(&'static str),
    #[error("the {0} and {1} entry points cannot share port {2}")]
    PortClash(&'static str, &'static str, u16),
    #[error("'{0}' is not an R version (MAJOR.MINOR.PATCH, e.g. 4.4.1)")]
    RVersion(String),
    #[error("'{0}' is not a valid image reference")]
    Image(String),
    #[error("'{0}' is not a valid socket path (absolute, no spaces, quotes or ':')")]
    Socket(String),
}

impl BootstrapOptions {
    /// Checks every value; the result is what commands are built from.
    pub fn validate(&self) -> Result<Validated, OptionsError> {
        let tls = match (&self.domain, &self.email) {
            (None, None) => None,
            (Some(_), None) => return Err(OptionsError::HalfTls("a domain")),
            (None, Some(_)) => return Err(OptionsError::HalfTls("an e-mail")),
            (Some(domain), Some(email)) => {
                let domain = domain.trim().to_ascii_lowercase();
                if !is_dns_name(&domain) {
                    return Err(OptionsError::Domain(domain));
                }
                if !valid_email(email.trim()) {
                    return Err(OptionsError::Email(email.clone()));
                }
                Some(Tls {
                    domain,
                    email: email.trim().to_owned(),
                })
            }
        };
        let ports = [
            ("HTTP", self.http_port),
            ("HTTPS", self.https_port),
            ("dashboard", self.dashboard_port),
            ("metrics", self.metrics_port),
        ];
        for (i, (name, port)) in ports.iter().enumerate() {
            if *port == 0 {
                return Err(OptionsError::PortZero(name));
            }
            for (other, other_port) in &ports[..i] {
                if other_port == port {
                    return Err(OptionsError::PortClash(other, name, *port));
                }
            }
        }
        let mut r_versions = Vec::new();
        for raw in &self.r_versions {
            let version =
                RVersion::parse(raw.trim()).map_err(|_| OptionsError::RVersion(raw.clone()))?;
            if !r_versions.contains(&version) {
                r_versions.push(version);
            }
        }
        if let Some(image) = &self.base_image
            && !valid_image(image)
        {
            return Err(OptionsError::Image(image.clone()));
        }
        if !valid_image(&self.traefik_image) {
            return Err(OptionsError::Image(self.traefik_image.clone()));
        }
        let socket = &self.docker_socket;
        let socket_ok = socket.starts_with('/')
            && socket.len() < 256
            && socket
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b));
        if !socket_ok {
            return Err(OptionsError::Socket(socket.clone()));
        }
        Ok(Validated {
            tls,
            http_port: self.http_port,
            https_port: self.https_port,
            dashboard_port: self.dashboard_port,
            metrics_port: self.metrics_port,
            r_versions,
            base_image: self.base_image.clone(),
            traefik_image: self.traefik_image.clone(),
            docker_socket: socket.clone(),
        })
    }
}

/// `local@domain` with a plain local part (`[A-Za-z0-9._%+-]`, no leading,
/// trailing or double dot) and a [`is_dns_name`].
pub fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    (1..=64).contains(&local.len())
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._%+-".contains(&b))
        && is_dns_name(&domain.to_ascii_lowercase())
}

/// A Docker image reference: `[A-Za-z0-9._/:@-]`, not starting with `-`.
fn valid_image(image: &str) -> bool {
    !image.is_empty()
        && image.len() <= 255
        && !image.starts_with('-')
        && image
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._/:@-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_left_blank_keep_their_defaults() {
        let options = BootstrapOptions::from(BootstrapChoices {
            domain: Some(" ".into()),
            email: Some(" me@example.org ".into()),
            https_port: Some(8443),
            traefik_image: Some(String::new()),
            ..BootstrapChoices::default()
        });
        let defaults = BootstrapOptions::default();
        assert_eq!(options.domain, None);
        assert_eq!(options.email.as_deref(), Some("me@example.org"));
        assert_eq!(options.http_port, defaults.http_port);
        assert_eq!(options.https_port, 8443);
        assert_eq!(options.traefik_image, defaults.traefik_image);
    }

    fn with_tls(domain: &str, email: &str) -> BootstrapOptions {
        BootstrapOptions {
            domain: Some(domain.into()),
            email: Some(email.into()),
            ..BootstrapOptions::default()
        }
    }

    #[test]
    fn defaults_are_valid_and_without_tls() {
        let v = BootstrapOptions::default().validate().unwrap();
        assert_eq!(v.tls, None);
        assert_eq!((v.http_port, v.https_port), (80, 443));
    }

    #[test]
    fn domains() {
        for ok in ["r.example.org", "example.org", "a-b.c1.example.co"] {
            assert!(is_dns_name(ok), "{ok}");
        }
        for bad in [
            "",
            "localhost",
            "-a.example.org",
            "a-.example.org",
            "a..org",
            "example.1",
            "ex ample.org",
            "example.org;rm",
            "exa\"mple.org",
            &format!("{}.org", "a".repeat(64)),
        ] {
            assert!(!is_dns_name(bad), "{bad}");
        }
        let v = with_tls(" R.Example.ORG ", "me@example.org")
            .validate()
            .unwrap();
        assert_eq!(v.tls.unwrap().domain, "r.example.org");
        assert_eq!(
            with_tls("bad_domain.org", "me@example.org").validate(),
            Err(OptionsError::Domain("bad_domain.org".into()))
        );
    }

    #[test]
    fn emails() {
        for ok in ["me@example.org", "first.last+tag@mail.example.co"] {
            assert!(valid_email(ok), "{ok}");
        }
        for bad in [
            "me",
            "@example.org",
            "me@",
            "me@localhost",
            ".me@example.org",
            "m..e@example.org",
            "me\"@example.org",
            "me@example.org\nx: y",
        ] {
            assert!(!valid_email(bad), "{bad:?}");
        }
        let err = with_tls("example.org", "nope").validate().unwrap_err();
        assert_eq!(
            err.to_string(),
            "'nope' is not a valid e-mail address (e.g. admin@example.org)"
        );
    }

    #[test]
    fn domain_and_email_go_together() {
        let half = BootstrapOptions {
            domain: Some("example.org".into()),
            ..BootstrapOptions::default()
        };
        assert_eq!(half.validate(), Err(OptionsError::HalfTls("a domain")));
        let half = BootstrapOptions {
            email: Some("me@example.org".into()),
            ..BootstrapOptions::default()
        };
        assert_eq!(half.validate(), Err(OptionsError::HalfTls("an e-mail")));
    }

    #[test]
    fn ports() {
        let zero = BootstrapOptions {
            http_port: 0,
            ..BootstrapOptions::default()
        };
        assert_eq!(zero.validate(), Err(OptionsError::PortZero("HTTP")));
        let clash = BootstrapOptions {
            metrics_port: 443,
            ..BootstrapOptions::default()
        };
        assert_eq!(
            clash.validate().unwrap_err().to_string(),
            "the HTTPS and metrics entry points cannot share port 443"
        );
    }

    #[test]
    fn r_versions_images_and_socket() {
        let v = BootstrapOptions {
            r_versions: vec!["4.4.1".into(), "4.2.2".into(), "4.4.1".into()],
            base_image: Some("debian:bookworm".into()),
            ..BootstrapOptions::default()
        }
        .validate()
        .unwrap();
        let versions: Vec<&str> = v.r_versions.iter().map(|r| r.as_str()).collect();
        assert_eq!(versions, ["4.4.1", "4.2.2"]);
        let bad = BootstrapOptions {
            r_versions: vec!["4.4".into()],
            ..BootstrapOptions::default()
        };
        assert_eq!(bad.validate(), Err(OptionsError::RVersion("4.4".into())));
        let bad = BootstrapOptions {
            base_image: Some("--privileged".into()),
            ..BootstrapOptions::default()
        };
        assert_eq!(
            bad.validate(),
            Err(OptionsError::Image("--privileged".into()))
        );
        let bad = BootstrapOptions {
            docker_socket: "/run/docker.sock:/etc".into(),
            ..BootstrapOptions::default()
        };
        assert!(matches!(bad.validate(), Err(OptionsError::Socket(_))));
    }
}
