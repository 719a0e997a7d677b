//! Why a spawner operation failed, as a sentence the user can act on, and
//! why a token record cannot be kept (its own error, also one of the former).

/// The error of every spawner operation.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("Docker refused to {action}: {source}")]
    Docker {
        action: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error(
        "R {version} is not available on this host (no image rserve-base:{version}); available: {}",
        list_or_none(.available)
    )]
    RVersionUnavailable {
        version: String,
        available: Vec<String>,
    },
    #[error("the Docker network `{0}` does not exist on this host: bootstrap the host first")]
    NetworkMissing(String),
    #[error(
        "the domain {domain} already belongs to the app `{other}` on this host: give this app another domain, or take it from `{other}` first"
    )]
    DomainTaken { domain: String, other: String },
    #[error("building {what} failed: {message}{}", tail(.log_tail))]
    BuildFailed {
        what: String,
        message: String,
        log_tail: Vec<String>,
    },
    #[error("the new version of `{slug}` did not become healthy: {reason}; the previous version, if any, keeps serving{}", tail(.log_tail))]
    Unhealthy {
        slug: String,
        reason: String,
        log_tail: Vec<String>,
    },
    #[error("could not drain container {container} before retiring it: {reason}")]
    Drain { container: String, reason: String },
    #[error(
        "`{version}` is not a kept version of `{slug}` on this host (`rdesk versions` lists them)"
    )]
    NoSuchVersion { slug: String, version: String },
    #[error("there is no app `{0}` on this host")]
    NotFound(String),
    #[error("a cluster does not do {0} yet; deploy such an app to a single host")]
    NotOnSwarm(String),
    #[error(
        "the cluster's Traefik container `{0}` is not on its manager: run the cluster's bootstrap again"
    )]
    NoTraefik(String),
    #[error("on node {node}: {source}")]
    OnNode {
        node: String,
        #[source]
        source: Box<SpawnError>,
    },
    #[error("Docker's {what} was unreadable: {value:?}")]
    Unreadable { what: String, value: String },
    #[error("could not make the build context: {0}")]
    Context(#[from] std::io::Error),
    #[error("could not pack the app's tokens: {0}")]
    PackTokens(std::io::Error),
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// Why a token record cannot be kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error(
        "the token name `{0}` is not valid: 1 to 40 letters, digits, spaces, `.`, `_`, `-` or `@`"
    )]
    Name(String),
    #[error("`{0}` is not a token id: give the 8 hex digits `rdesk token list` shows")]
    Id(String),
}

impl SpawnError {
    pub(crate) fn docker(action: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> Self {
        let action = action.into();
        move |source| Self::Docker { action, source }
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none (bootstrap the host with an R version)".to_owned()
    } else {
        items.join(", ")
    }
}

fn tail(lines: &[String]) -> String {
    if lines.is_empty() {
        String::new()
    } else {
        format!("\nlast lines of the log:\n  {}", lines.join("\n  "))
    }
}

/// Whether a Docker error is a plain "no such object" (HTTP 404).
/// Docker's 409: the object is in use (an image with child images or containers).
pub(crate) fn is_conflict(err: &bollard::errors::Error) -> bool {
    matches!(
        err,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 409,
            ..
        }
    )
}

pub(crate) fn is_not_found(err: &bollard::errors::Error) -> bool {
    matches!(
        err,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}
