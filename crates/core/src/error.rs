//! The one error of the engine's operations: every lower error with the
//! context of what was being done, readable as a sentence.

use crate::{host::HostError, intake::IntakeError, store::StoreError};

#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error("there is no host named `{0}`; `rdesk host list` shows the hosts")]
    UnknownHost(String),
    #[error(
        "the host name `{0}` is not valid: use 1 to 40 letters, digits, dots, dashes or underscores"
    )]
    InvalidHostName(String),
    #[error("there is no app `{slug}` on host `{host}`")]
    UnknownApp { host: String, slug: String },
    #[error(transparent)]
    Spec(#[from] rdesk_spawner::SpecError),
    #[error("on host `{host}`: {source}")]
    Spawn {
        host: String,
        #[source]
        source: rdesk_spawner::SpawnError,
    },
    #[error(transparent)]
    Host(#[from] HostError),
    #[error(transparent)]
    Intake(#[from] IntakeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bootstrap(Box<crate::bootstrap::BootstrapError>),
    #[error("calling `{function}` of app `{slug}` at {url}: {source}")]
    Call {
        slug: String,
        function: String,
        url: String,
        #[source]
        source: Box<rserve_qap::Error>,
    },
    #[error("the public URL `{0}` is not valid: give http://HOST[:PORT] or https://HOST[:PORT]")]
    PublicUrl(String),
    #[error("host `{0}` has no R version to build on: bootstrap it with an R version first")]
    NoRVersion(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<crate::bootstrap::BootstrapError> for DeskError {
    fn from(e: crate::bootstrap::BootstrapError) -> Self {
        Self::Bootstrap(Box::new(e))
    }
}

impl DeskError {
    pub(crate) fn spawn(host: &str) -> impl FnOnce(rdesk_spawner::SpawnError) -> Self + '_ {
        move |source| match source {
            rdesk_spawner::SpawnError::NotFound(slug) => Self::UnknownApp {
                host: host.to_owned(),
                slug,
            },
            source => Self::Spawn {
                host: host.to_owned(),
                source,
            },
        }
    }
}
