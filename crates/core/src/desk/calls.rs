//! Calling an app's functions from the desk as a client does (and asking
//! it which functions it offers): over WebSocket through the host's
//! Traefik, with this workstation's token; and the URLs clients reach an
//! app at.

use rdesk_spawner::Slug;
use rserve_qap::Signature;

use super::Desk;
use crate::error::DeskError;
use crate::secrets::Secret;

/// One argument of a call: `Some(name)` for `name = value`, `None` for a
/// positional one.
pub type CallArgument = (Option<String>, serde_json::Value);

impl Desk {
    /// Calls a function of an app through the host's Traefik over WebSocket,
    /// as a browser would, with this workstation's token for the app.
    pub async fn call(
        &self,
        host: &str,
        slug: &str,
        function: &str,
        args: &[CallArgument],
    ) -> Result<serde_json::Value, DeskError> {
        self.call_with(host, slug, function, args, None).await
    }

    /// [`Desk::call`] with `token` when given; else with this workstation's
    /// token from the keyring, and when the app refuses that (or there is
    /// none), with a new one made through the host's session (kept in the
    /// keyring; without a keyring made for this call and revoked after it).
    /// A request the app dropped for being larger than its input buffer is
    /// said as such, with the limit read from the host.
    pub async fn call_with(
        &self,
        host: &str,
        slug: &str,
        function: &str,
        args: &[CallArgument],
        token: Option<Secret>,
    ) -> Result<serde_json::Value, DeskError> {
        self.ask(host, slug, token, &Call { function, args }).await
    }

    /// The functions app `slug` lets this workstation call, with their
    /// arguments when the app says them, asked of the app itself as a
    /// client would.
    pub async fn functions(&self, host: &str, slug: &str) -> Result<Vec<Signature>, DeskError> {
        self.ask(host, slug, None, &Functions).await
    }

    /// One question to the app, asked on a connection of its own as
    /// [`Desk::call_with`] describes.
    async fn ask<Q: Question>(
        &self,
        host: &str,
        slug: &str,
        token: Option<Secret>,
        question: &Q,
    ) -> Result<Q::Answer, DeskError> {
        let function = question.function();
        let record = self.host(host).await?;
        let slug = Slug::parse(slug)?;
        let url = websocket_url(&record.public_url, &slug);
        let call_error = |source| DeskError::Call {
            slug: slug.to_string(),
            function: function.to_owned(),
            url: url.clone(),
            source: Box::new(source),
        };
        let explicit = token.is_some();
        let token = match token {
            Some(t) => Some(t),
            None => self.stored_token(host, &slug).await,
        };
        let result = match ask_once(&url, token.as_ref(), question).await {
            Err(rserve_qap::Error::AccessRefused { .. }) if !explicit => {
                let fresh = self.new_workstation_token(host, &slug).await?;
                let result = ask_once(&url, Some(&fresh.token), question).await;
                if let Some(id) = fresh.one_call_id {
                    self.revoke_token(host, slug.as_str(), &id).await?;
                }
                result
            }
            other => other,
        };
        if let Err(rserve_qap::Error::RequestDropped { bytes, .. }) = &result
            && let Some((limit_bytes, memory_mb)) = self.input_limit(host, &slug).await
            && *bytes > limit_bytes
        {
            return Err(DeskError::RequestTooLarge {
                slug: slug.to_string(),
                function: function.to_owned(),
                request_bytes: *bytes,
                limit_bytes,
                memory_mb,
            });
        }
        result.map_err(call_error)
    }

    /// The largest request app `slug` accepts, in bytes, and the memory
    /// limit it comes from (`start.R` gives Rserve's input buffer an eighth
    /// of it, at least 1 MiB); `None` when the host cannot say.
    async fn input_limit(&self, host: &str, slug: &Slug) -> Option<(u64, u32)> {
        let state = self
            .with_session(host, async |s| s.status(slug.as_str()).await)
            .await
            .ok()?;
        let memory_mb = state.settings.memory_mb;
        Some((input_limit_bytes(memory_mb), memory_mb))
    }
}

/// Rserve's input buffer under `start.R` for a memory limit of `memory_mb`:
/// `maxinbuf` is `memory_mb * 128` kB, at least 1024 kB.
fn input_limit_bytes(memory_mb: u32) -> u64 {
    (u64::from(memory_mb) * 128).max(1024) * 1024
}

/// What one connection to an app asks of it.
trait Question: Sync {
    type Answer: Send;
    /// What is asked, as sentences name it.
    fn function(&self) -> &str;
    fn put<'c>(
        &'c self,
        client: &'c mut rserve_qap::Client,
    ) -> impl Future<Output = Result<Self::Answer, rserve_qap::Error>> + Send + 'c;
}

/// A call of one function.
struct Call<'a> {
    function: &'a str,
    args: &'a [CallArgument],
}

impl Question for Call<'_> {
    type Answer = serde_json::Value;
    fn function(&self) -> &str {
        self.function
    }
    fn put<'c>(
        &'c self,
        client: &'c mut rserve_qap::Client,
    ) -> impl Future<Output = Result<serde_json::Value, rserve_qap::Error>> + Send + 'c {
        client.call_json_named(self.function, self.args)
    }
}

/// The list of functions with their arguments.
struct Functions;

impl Question for Functions {
    type Answer = Vec<Signature>;
    fn function(&self) -> &str {
        "(its list of functions)"
    }
    fn put<'c>(
        &'c self,
        client: &'c mut rserve_qap::Client,
    ) -> impl Future<Output = Result<Vec<Signature>, rserve_qap::Error>> + Send + 'c {
        client.list_signatures()
    }
}

/// One connection, one question, with `token` if any.
async fn ask_once<Q: Question>(
    url: &str,
    token: Option<&Secret>,
    question: &Q,
) -> Result<Q::Answer, rserve_qap::Error> {
    let options = rserve_qap::ClientOptions {
        token: token.map(|t| rserve_qap::AccessToken::new(t.expose())),
        ..rserve_qap::ClientOptions::default()
    };
    let mut client = rserve_qap::Client::connect_ws_with(url, options).await?;
    let result = question.put(&mut client).await;
    client.close().await;
    result
}

/// Where clients reach app `slug` of a host served at `public_url`.
pub fn app_url(public_url: &str, slug: &str) -> Result<String, DeskError> {
    Ok(websocket_url(public_url, &Slug::parse(slug)?))
}

/// `ws://HOST/slug` for `http://HOST`, `wss://` for `https://`.
pub(super) fn websocket_url(public_url: &str, slug: &Slug) -> String {
    format!("{}/{slug}", crate::switch::websocket_origin(public_url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_input_limit_is_an_eighth_of_the_memory_limit_and_at_least_1_mib() {
        assert_eq!(input_limit_bytes(128), 16 << 20);
        assert_eq!(input_limit_bytes(512), 64 << 20);
        assert_eq!(input_limit_bytes(4), 1 << 20);
    }

    #[test]
    fn websocket_urls_follow_the_scheme() {
        let slug = Slug::parse("demo").unwrap();
        assert_eq!(websocket_url("http://h:8080", &slug), "ws://h:8080/demo");
        assert_eq!(websocket_url("https://h", &slug), "wss://h/demo");
    }
}
