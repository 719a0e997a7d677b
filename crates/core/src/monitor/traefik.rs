//! Requests per app from Traefik's Prometheus metrics, read through the
//! host's SSH session and never through a public port: the session forwards a
//! Unix socket in the connection's private directory to the metrics entry
//! point where the host reaches it (`traefik_address`). For the
//! workstation's own Docker it is reached directly.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use openssh::{ForwardType, Socket};
use rdesk_spawner::labels::slug_of_traefik_service;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::host::Connection;
use crate::traefik_address::private_address;

/// The largest metrics page read; Traefik's is a few hundred KB at most.
const MAX_PAGE: u64 = 16 << 20;

/// How long one fetch of the metrics page may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);

/// Where the metrics page is served on the host.
#[derive(Debug, Clone)]
enum Endpoint {
    /// A socket forwarded through the SSH session to the address Traefik
    /// listens at on the host.
    Forwarded { socket: PathBuf, to: String },
    /// The container's address, reachable from here (local Docker).
    Direct(String, u16),
}

/// A reader of one host's Traefik metrics.
#[derive(Debug)]
pub(crate) struct TraefikMetrics {
    container: String,
    port: u16,
    endpoint: Option<Endpoint>,
    forwards: u32,
}

/// Why the requests could not be read this time.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MetricsError {
    #[error("the Traefik container {0} was not found or has no address")]
    NoContainer(String),
    #[error("could not forward Traefik's metrics through the SSH session: {0}")]
    Forward(String),
    #[error("Traefik's metrics did not answer: {0}")]
    Fetch(String),
}

impl TraefikMetrics {
    pub(crate) fn new(container: &str, port: u16) -> Self {
        Self {
            container: container.to_owned(),
            port,
            endpoint: None,
            forwards: 0,
        }
    }

    /// Requests served so far per app slug (Traefik's counters since it
    /// started). A failure forgets the endpoint, so the next call finds the
    /// container again (it may have been re-created with a new address).
    pub(crate) async fn requests(
        &mut self,
        connection: &Connection,
    ) -> Result<HashMap<String, u64>, MetricsError> {
        let endpoint = match &self.endpoint {
            Some(e) => e.clone(),
            None => self.connect(connection).await?,
        };
        let page = tokio::time::timeout(FETCH_TIMEOUT, fetch(&endpoint))
            .await
            .map_err(|_| MetricsError::Fetch("no answer in time".to_owned()))
            .and_then(|r| r.map_err(|e| MetricsError::Fetch(e.to_string())));
        match page {
            Ok(page) => {
                self.endpoint = Some(endpoint);
                Ok(requests_by_app(&page))
            }
            Err(e) => {
                self.endpoint = None;
                self.cancel(connection, &endpoint).await;
                Err(e)
            }
        }
    }

    /// Cancels a forward that did not answer, so a page that stays out of
    /// reach does not leave one more forward in the SSH session at every
    /// tick.
    async fn cancel(&self, connection: &Connection, endpoint: &Endpoint) {
        let (Endpoint::Forwarded { socket, to }, Some(session)) = (endpoint, connection.session())
        else {
            return;
        };
        let (local, remote) = forward_sockets(socket, to, self.port);
        let closed = session
            .close_port_forward(ForwardType::Local, local, remote)
            .await;
        if let Err(e) = closed {
            tracing::debug!("cancelling the forward to Traefik's metrics: {e}");
        }
        let _gone = std::fs::remove_file(socket);
    }

    /// Finds the container's address and, over SSH, forwards a new socket to it.
    async fn connect(&mut self, connection: &Connection) -> Result<Endpoint, MetricsError> {
        let address = private_address(connection, &self.container)
            .await
            .ok_or_else(|| MetricsError::NoContainer(self.container.clone()))?;
        let Some(session) = connection.session() else {
            return Ok(Endpoint::Direct(address, self.port));
        };
        self.forwards += 1;
        let socket = connection
            .docker_socket()
            .with_file_name(format!("traefik-metrics-{}.sock", self.forwards));
        let (local, remote) = forward_sockets(&socket, &address, self.port);
        tokio::time::timeout(
            FETCH_TIMEOUT,
            session.request_port_forward(ForwardType::Local, local, remote),
        )
        .await
        .map_err(|_| MetricsError::Forward("ssh did not answer in time".to_owned()))?
        .map_err(|e| MetricsError::Forward(e.to_string()))?;
        Ok(Endpoint::Forwarded {
            socket,
            to: address,
        })
    }
}

/// The two ends of the forward from `socket` here to `to:port` on the host.
fn forward_sockets<'a>(socket: &'a Path, to: &'a str, port: u16) -> (Socket<'a>, Socket<'a>) {
    (
        Socket::UnixSocket {
            path: Cow::Borrowed(socket),
        },
        Socket::TcpSocket {
            host: Cow::Borrowed(to),
            port,
        },
    )
}

async fn fetch(endpoint: &Endpoint) -> std::io::Result<String> {
    match endpoint {
        Endpoint::Forwarded { socket, .. } => {
            get(tokio::net::UnixStream::connect(socket).await?).await
        }
        Endpoint::Direct(host, port) => {
            get(tokio::net::TcpStream::connect((host.as_str(), *port)).await?).await
        }
    }
}

/// `GET /metrics` over HTTP/1.0 (no chunking, the server closes), the body.
async fn get(mut stream: impl AsyncRead + AsyncWrite + Unpin) -> std::io::Result<String> {
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: traefik\r\n\r\n")
        .await?;
    let mut raw = Vec::new();
    stream.take(MAX_PAGE).read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("not an HTTP answer"))?;
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(std::io::Error::other(format!("it answered {status:?}")));
    }
    Ok(body.to_owned())
}

/// Sums `traefik_service_requests_total` over codes, methods and protocols
/// per app, from a Prometheus text page.
fn requests_by_app(page: &str) -> HashMap<String, u64> {
    let mut totals = HashMap::new();
    for line in page.lines() {
        let Some(rest) = line.strip_prefix("traefik_service_requests_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once('}') else {
            continue;
        };
        let Some(slug) = label(labels, "service").and_then(slug_of_traefik_service) else {
            continue;
        };
        let Ok(count) = value.trim().parse::<f64>() else {
            continue;
        };
        *totals.entry(slug.to_owned()).or_insert(0) += count.max(0.0) as u64;
    }
    totals
}

/// The value of `name="..."` in a Prometheus label set.
fn label<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    let start = labels
        .split(',')
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix("=\""))?;
    start.split('"').next()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"# HELP traefik_service_requests_total How many HTTP requests processed on a service.
# TYPE traefik_service_requests_total counter
traefik_service_requests_total{code="101",method="GET",protocol="websocket",service="rserve-desk-sales@docker"} 7
traefik_service_requests_total{code="502",method="GET",protocol="http",service="rserve-desk-sales@docker"} 2
traefik_service_requests_total{code="200",method="GET",protocol="http",service="rserve-desk-api@docker"} 1e+03
traefik_service_requests_total{code="200",method="GET",protocol="http",service="api@internal"} 9
traefik_service_requests_total{code="0",method="GET",protocol="websocket",service="rserve-desk-sw@swarm"} 413
traefik_service_request_duration_seconds_count{code="200",method="GET",protocol="http",service="rserve-desk-api@docker"} 5
traefik_entrypoint_requests_total{code="200",entrypoint="web",method="GET",protocol="http"} 1012
"#;

    #[test]
    fn requests_are_summed_per_app_from_the_service_counters() {
        let got = requests_by_app(PAGE);
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got["sales"], 9);
        assert_eq!(got["api"], 1000);
        // A cluster's Traefik reads swarm services.
        assert_eq!(got["sw"], 413);
    }

    #[test]
    fn a_page_without_app_services_gives_nothing() {
        assert!(requests_by_app("").is_empty());
        assert!(requests_by_app("traefik_service_requests_total{service=\"x\"} oops\n").is_empty());
    }

    #[test]
    fn labels_are_read_by_name() {
        assert_eq!(
            label(r#"a="1",service="s@docker""#, "service"),
            Some("s@docker")
        );
        assert_eq!(label(r#"myservice="no""#, "service"), None);
    }

    #[tokio::test]
    async fn the_page_is_read_over_http_and_errors_say_what_came_back() {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let serve = tokio::spawn(async move {
            let mut request = [0u8; 64];
            let n = server.read(&mut request).await.unwrap();
            assert!(request[..n].starts_with(b"GET /metrics HTTP/1.0\r\n"));
            server
                .write_all(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nbody\n")
                .await
                .unwrap();
        });
        assert_eq!(get(client).await.unwrap(), "body\n");
        serve.await.unwrap();

        let (client, mut server) = tokio::io::duplex(1 << 16);
        tokio::spawn(async move {
            server
                .write_all(b"HTTP/1.0 404 Not Found\r\n\r\n404 page not found\n")
                .await
                .unwrap();
        });
        let err = get(client).await.unwrap_err();
        assert!(err.to_string().contains("404 Not Found"), "{err}");
    }
}
