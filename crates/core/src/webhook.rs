//! The optional alert webhook: every notification also goes, as a JSON
//! POST, to a URL the user sets (a chat's incoming webhook, an incident
//! tool). HTTPS is checked against the system's root certificates. A URL
//! often holds a token, so sentences name only its scheme and host.

use std::time::Duration;

use serde::Serialize;

use crate::alerts::Notice;

/// How long one delivery may take.
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("the webhook URL is not an http:// or https:// URL with a host: {0}")]
    BadUrl(String),
    #[error("the webhook's HTTP client could not be made: {0}")]
    Client(String),
    #[error("the webhook at {site} could not be reached: {reason}")]
    Unreachable { site: String, reason: String },
    #[error("the webhook at {site} answered HTTP {status}")]
    Refused { site: String, status: u16 },
}

/// What the webhook receives for one notification. `text` repeats title
/// and body, for chat webhooks that show only that field.
#[derive(Debug, Serialize)]
pub struct AlertPayload<'a> {
    pub kind: &'static str,
    pub host: &'a str,
    pub app: Option<&'a str>,
    pub title: &'a str,
    pub body: &'a str,
    pub text: String,
    pub at_ms: i64,
}

impl<'a> AlertPayload<'a> {
    pub fn new(notice: &'a Notice, at_ms: i64) -> Self {
        Self {
            kind: notice.kind.as_str(),
            host: &notice.host,
            app: notice.slug.as_deref(),
            title: &notice.title,
            body: &notice.body,
            text: format!("{}: {}", notice.title, notice.body),
            at_ms,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Webhook {
    url: reqwest::Url,
    client: reqwest::Client,
}

impl Webhook {
    pub fn new(url: &str) -> Result<Self, WebhookError> {
        let url =
            reqwest::Url::parse(url.trim()).map_err(|e| WebhookError::BadUrl(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(WebhookError::BadUrl(format!(
                "{}: is not http(s)",
                url.scheme()
            )));
        }
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        let tls = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| WebhookError::Client(e.to_string()))?;
        Ok(Self { url, client })
    }

    /// `https://hooks.example.com`: where the webhook goes, without its path.
    pub fn site(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        match self.url.port() {
            Some(port) => format!("{}://{host}:{port}", self.url.scheme()),
            None => format!("{}://{host}", self.url.scheme()),
        }
    }

    /// POSTs `notice` as JSON; a status other than 2xx is an error.
    pub async fn send(&self, notice: &Notice, at_ms: i64) -> Result<(), WebhookError> {
        let answer = self
            .client
            .post(self.url.clone())
            .json(&AlertPayload::new(notice, at_ms))
            .send()
            .await
            .map_err(|e| WebhookError::Unreachable {
                site: self.site(),
                reason: e.without_url().to_string(),
            })?;
        let status = answer.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(WebhookError::Refused {
                site: self.site(),
                status: status.as_u16(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::alerts::NoticeKind;

    fn notice() -> Notice {
        Notice {
            host: "vps".into(),
            slug: Some("calc".into()),
            kind: NoticeKind::Problem,
            title: "calc crashed (exit code 137)".into(),
            body: "App `calc` on host `vps` crashed (exit code 137).".into(),
        }
    }

    #[test]
    fn only_http_urls_with_a_host_are_webhooks() {
        for bad in [
            "",
            "hooks.example.com/x",
            "ftp://example.com/x",
            "file:///etc/passwd",
            "https://",
        ] {
            assert!(
                matches!(Webhook::new(bad), Err(WebhookError::BadUrl(_))),
                "{bad}"
            );
        }
        let hook = Webhook::new(" https://hooks.example.com/services/T0/B0/secret ").unwrap();
        assert_eq!(
            hook.site(),
            "https://hooks.example.com",
            "no token in sentences"
        );
    }

    /// A one-request HTTP server on 127.0.0.1: answers `status` and hands back what it read.
    async fn receiver(status: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/hook/secret-token",
            listener.local_addr().unwrap()
        );
        let task = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut read = Vec::new();
            let mut buffer = [0_u8; 4096];
            loop {
                let n = stream.read(&mut buffer).await.unwrap();
                read.extend_from_slice(&buffer[..n]);
                let text = String::from_utf8_lossy(&read);
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if body.len() >= length || n == 0 {
                        break;
                    }
                }
            }
            let answer =
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            stream.write_all(answer.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&read).into_owned()
        });
        (url, task)
    }

    #[tokio::test]
    async fn a_notice_is_posted_as_json() {
        let (url, received) = receiver("204 No Content").await;
        Webhook::new(&url)
            .unwrap()
            .send(&notice(), 1_700_000_000_000)
            .await
            .unwrap();
        let request = received.await.unwrap();
        assert!(
            request.starts_with("POST /hook/secret-token HTTP/1.1"),
            "{request}"
        );
        assert!(
            request
                .to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{request}"
        );
        let body: serde_json::Value =
            serde_json::from_str(request.split_once("\r\n\r\n").unwrap().1).unwrap();
        assert_eq!(body["kind"], "problem");
        assert_eq!(body["host"], "vps");
        assert_eq!(body["app"], "calc");
        assert_eq!(body["title"], "calc crashed (exit code 137)");
        assert_eq!(body["at_ms"], 1_700_000_000_000_i64);
        assert!(body["text"].as_str().unwrap().starts_with("calc crashed"));
    }

    #[tokio::test]
    async fn a_refusal_or_no_server_is_a_sentence_without_the_token() {
        let (url, received) = receiver("500 Internal Server Error").await;
        let refused = Webhook::new(&url)
            .unwrap()
            .send(&notice(), 0)
            .await
            .unwrap_err();
        received.await.unwrap();
        assert!(
            refused.to_string().ends_with("answered HTTP 500"),
            "{refused}"
        );
        assert!(!refused.to_string().contains("secret-token"), "{refused}");
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook/secret-token", closed.local_addr().unwrap());
        drop(closed);
        let unreachable = Webhook::new(&url)
            .unwrap()
            .send(&notice(), 0)
            .await
            .unwrap_err();
        assert!(
            matches!(unreachable, WebhookError::Unreachable { .. }),
            "{unreachable}"
        );
        assert!(
            !unreachable.to_string().contains("secret-token"),
            "{unreachable}"
        );
    }
}
