//! The bollard side of a connection: a client on a Unix socket (the local
//! daemon's, or the one forwarded from a VPS) whose API version suits the
//! daemon, and the ping that proves Docker answers. bollard asks for a newer
//! API than older daemons speak (Docker 20.10 answers at most 1.41) and puts
//! the version in every path, so the first `/version` may be refused as "too
//! new": then the client drops to the daemon's maximum and negotiates again.
//!
//! The client keeps its connections open between requests. bollard's own
//! Unix client opens one per request, and over a VPS's forwarded socket
//! each new connection is a new SSH channel: a round trip more for every
//! Docker call, which doubled the time of each over a slow link.

use std::path::Path;
use std::time::Duration;

use bollard::errors::Error as BollardError;
use bollard::{API_DEFAULT_VERSION, BollardRequest, ClientVersion, Docker};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use hyperlocal::UnixConnector;

use super::HostError;
use super::error::human;

/// bollard's own default: the time one request may take.
const REQUEST_TIMEOUT_SECS: u64 = 120;
/// Connections kept open between requests: enough for the monitor's stats
/// reads at once (all but 8 of these) and for the calls a window makes at
/// once, besides the streams (events, logs) that hold their own.
pub(crate) const KEPT_CONNECTIONS: usize = 72;
/// How long an unused connection (an SSH channel on a VPS) is kept.
const IDLE_FOR: Duration = Duration::from_secs(60);

/// A client of the daemon behind the Unix socket `path` that speaks API
/// `version` and reuses its connections.
pub(crate) fn client(path: &str, version: &ClientVersion) -> Result<Docker, BollardError> {
    let pool = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(KEPT_CONNECTIONS)
        .pool_idle_timeout(IDLE_FOR)
        .build(UnixConnector);
    let send = move |request: BollardRequest| {
        let pool = pool.clone();
        async move { pool.request(request).await.map_err(BollardError::from) }
    };
    // The address as hyperlocal reads it: the socket's path, hex-encoded, as the URI's host.
    let address = format!("unix://{}", hex::encode(path));
    Docker::connect_with_custom_transport(send, Some(address), REQUEST_TIMEOUT_SECS, version)
}

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
        client(path, version).map_err(|e| HostError::DockerNotAnswering {
            host: host.to_owned(),
            reason: format!("no client for {path}: {e}"),
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
