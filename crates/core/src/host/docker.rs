//! The bollard side of a connection: a client on a Unix socket (the local
//! daemon's, or the one forwarded from a VPS) whose API version suits the
//! daemon, and the ping that proves Docker answers. bollard asks for a newer
//! API than older daemons speak (Docker 20.10 answers at most 1.41) and puts
//! the version in every path, so the first `/version` may be refused as "too
//! new": then the client drops to the daemon's maximum and negotiates again.

use std::path::Path;
use std::time::Duration;

use bollard::errors::Error as BollardError;
use bollard::{API_DEFAULT_VERSION, ClientVersion, Docker};

use super::HostError;
use super::error::human;

/// bollard's own default: the time one request may take.
const REQUEST_TIMEOUT_SECS: u64 = 120;

/// The oldest API version asked for when a daemon refuses bollard's default
/// without saying its maximum: Docker 20.10, as on Debian 12.
const API_FLOOR: ClientVersion = ClientVersion {
    major_version: 1,
    minor_version: 41,
};

/// A client for the daemon behind `socket`, its version negotiated and the
/// daemon pinged, each step within `timeout`.
pub(crate) async fn connect(
    host: &str,
    socket: &Path,
    timeout: Duration,
) -> Result<Docker, HostError> {
    let path = socket
        .to_str()
        .ok_or_else(|| HostError::DockerNotAnswering {
            host: host.to_owned(),
            reason: format!("the socket path {} is not UTF-8", socket.display()),
        })?;
    let open = |version: &ClientVersion| {
        Docker::connect_with_unix(path, REQUEST_TIMEOUT_SECS, version).map_err(|e| {
            HostError::DockerNotAnswering {
                host: host.to_owned(),
                reason: format!("no client for {path}: {e}"),
            }
        })
    };
    let docker = match within(
        host,
        timeout,
        open(API_DEFAULT_VERSION)?.negotiate_version(),
    )
    .await?
    {
        Ok(docker) => docker,
        Err(BollardError::DockerResponseServerError {
            status_code: 400,
            message,
        }) => {
            let version = max_version_in(&message).unwrap_or(API_FLOOR);
            within(host, timeout, open(&version)?.negotiate_version())
                .await?
                .map_err(|e| not_answering(host, &e))?
        }
        Err(e) => return Err(not_answering(host, &e)),
    };
    ping(host, &docker, timeout).await?;
    Ok(docker)
}

/// Pings the daemon within `timeout`.
pub(crate) async fn ping(host: &str, docker: &Docker, timeout: Duration) -> Result<(), HostError> {
    within(host, timeout, docker.ping())
        .await?
        .map(drop)
        .map_err(|e| not_answering(host, &e))
}

async fn within<T>(
    host: &str,
    timeout: Duration,
    future: impl Future<Output = T>,
) -> Result<T, HostError> {
    tokio::time::timeout(timeout, future)
        .await
        .map_err(|_| HostError::DockerNotAnswering {
            host: host.to_owned(),
            reason: format!("no answer within {}", human(timeout)),
        })
}

fn not_answering(host: &str, err: &BollardError) -> HostError {
    let mut reason = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        let text = s.to_string();
        if !reason.contains(&text) {
            reason.push_str(": ");
            reason.push_str(&text);
        }
        source = s.source();
    }
    HostError::DockerNotAnswering {
        host: host.to_owned(),
        reason,
    }
}

/// The version in "client version 1.53 is too new. Maximum supported API
/// version is 1.41".
fn max_version_in(message: &str) -> Option<ClientVersion> {
    let rest = message.split_once("Maximum supported API version is")?.1;
    let word = rest.split_ascii_whitespace().next()?.trim_end_matches('.');
    let (major, minor) = word.split_once('.')?;
    Some(ClientVersion {
        major_version: major.parse().ok()?,
        minor_version: minor.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_maximum_version_from_dockerds_refusal() {
        let v =
            max_version_in("client version 1.53 is too new. Maximum supported API version is 1.41")
                .unwrap();
        assert_eq!((v.major_version, v.minor_version), (1, 41));
        let v = max_version_in("Maximum supported API version is 1.47.").unwrap();
        assert_eq!((v.major_version, v.minor_version), (1, 47));
        assert!(max_version_in("page not found").is_none());
        assert!(max_version_in("Maximum supported API version is x.y").is_none());
    }
}
