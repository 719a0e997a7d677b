//! The health-gated switch, seen from the workstation. The spawner has started
//! a new version beside the old one; here we wait until the host's router
//! reaches every new container (a real QAP handshake at the container's own
//! probe path, through Traefik at the host's public URL), and only then retire
//! the old containers one at a time: drain it (its health check fails, the
//! router stops sending it new connections), wait until the router has dropped
//! it (its probe path answers 404), let its open connections finish, remove it.
//! A new version the router never reaches is removed again, and the old one
//! keeps serving.

use std::time::{Duration, Instant};

use rdesk_spawner::{ContainerRef, DeployEvent, Deployed, SpawnError, Spawner, labels};

/// How long each stage of the switch may take.
#[derive(Debug, Clone, Copy)]
pub struct SwitchTimeouts {
    /// For the router to reach a new container.
    pub route: Duration,
    /// For the router to drop a drained container.
    pub drop: Duration,
    /// For a dropped container's open connections to end.
    pub drain: Duration,
}

impl Default for SwitchTimeouts {
    fn default() -> Self {
        Self {
            route: Duration::from_secs(20),
            drop: Duration::from_secs(15),
            drain: Duration::from_secs(10),
        }
    }
}

/// Why a switch did not complete.
#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    #[error(
        "the router never reached the new container {container} at {url} within {} s ({last}); it was removed and the previous version keeps serving",
        .within.as_secs()
    )]
    NotRouted {
        container: String,
        url: String,
        within: Duration,
        last: String,
    },
    #[error(transparent)]
    Spawn(#[from] SpawnError),
}

/// `ws://HOST[:PORT]` for `http://…`, `wss://…` for `https://…`.
pub(crate) fn websocket_origin(public_url: &str) -> String {
    let base = public_url
        .strip_prefix("https://")
        .map(|rest| format!("wss://{rest}"))
        .or_else(|| {
            public_url
                .strip_prefix("http://")
                .map(|rest| format!("ws://{rest}"))
        })
        .unwrap_or_else(|| public_url.to_owned());
    base.trim_end_matches('/').to_owned()
}

/// The URL where one container answers alone through the router.
pub fn probe_url(public_url: &str, container: &str) -> String {
    format!(
        "{}{}",
        websocket_origin(public_url),
        labels::probe_path(container)
    )
}

/// What one attempt to reach a probe URL found.
enum Probe {
    Answers,
    /// The router has no route there (HTTP 404).
    NoRoute,
    Other(String),
}

async fn probe(url: &str) -> Probe {
    let options = rserve_qap::ClientOptions {
        connect_timeout: Duration::from_secs(2),
        ..rserve_qap::ClientOptions::default()
    };
    match rserve_qap::Client::connect_ws_with(url, options).await {
        Ok(client) => {
            client.close().await;
            Probe::Answers
        }
        Err(e) if e.http_status() == Some(404) => Probe::NoRoute,
        Err(e) => Probe::Other(e.to_string()),
    }
}

/// Retries `probe` every 100 ms until `done` says yes or `within` passes; returns the last finding.
async fn until(url: &str, within: Duration, done: impl Fn(&Probe) -> bool) -> Result<(), String> {
    let deadline = Instant::now() + within;
    loop {
        let found = probe(url).await;
        if done(&found) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(match found {
                Probe::Answers => "it still answers".to_owned(),
                Probe::NoRoute => "no route (404)".to_owned(),
                Probe::Other(e) => e,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What a switch did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Switched {
    /// Whether the router was seen reaching every new container.
    pub routed: bool,
    /// Ids of the previous containers, now removed.
    pub retired: Vec<String>,
}

/// Waits until the router reaches every new container, then retires the
/// previous ones one at a time. A first deploy the router does not reach
/// keeps running (there is nothing to fall back to) and is reported as not
/// routed.
pub async fn switch(
    spawner: &dyn Spawner,
    public_url: &str,
    deployed: &Deployed,
    timeouts: SwitchTimeouts,
    progress: &(dyn Fn(DeployEvent) + Send + Sync),
) -> Result<Switched, SwitchError> {
    for new in &deployed.containers {
        let url = probe_url(public_url, &new.name);
        progress(DeployEvent::Step(format!(
            "waiting for the router to reach {}",
            new.name
        )));
        if let Err(last) = until(&url, timeouts.route, |p| matches!(p, Probe::Answers)).await {
            if deployed.previous.is_empty() {
                progress(DeployEvent::Step(format!(
                    "the router does not reach {} at {url} yet: {last}",
                    new.name
                )));
                return Ok(Switched::default());
            }
            discard(spawner, &deployed.containers).await?;
            return Err(SwitchError::NotRouted {
                container: new.name.clone(),
                url,
                within: timeouts.route,
                last,
            });
        }
    }
    let mut retired = Vec::new();
    for old in &deployed.previous {
        progress(DeployEvent::Step(format!("draining {}", old.name)));
        spawner.drain(old).await?;
        let url = probe_url(public_url, &old.name);
        if let Err(last) = until(&url, timeouts.drop, |p| matches!(p, Probe::NoRoute)).await {
            progress(DeployEvent::Step(format!(
                "the router still reaches {} after {} s ({last}); retiring it anyway",
                old.name,
                timeouts.drop.as_secs()
            )));
        }
        progress(DeployEvent::Step(format!(
            "retiring {} once its open connections end",
            old.name
        )));
        spawner.retire(old, timeouts.drain).await?;
        retired.push(old.id.clone());
    }
    Ok(Switched {
        routed: true,
        retired,
    })
}

/// Removes containers that never served.
async fn discard(spawner: &dyn Spawner, containers: &[ContainerRef]) -> Result<(), SpawnError> {
    for c in containers {
        spawner.retire(c, Duration::ZERO).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_go_through_the_public_url_to_one_container() {
        assert_eq!(
            probe_url("http://127.0.0.1:18080/", "rserve-desk-x-1"),
            "ws://127.0.0.1:18080/.rserve-desk/probe/rserve-desk-x-1"
        );
        assert_eq!(
            probe_url("https://vps.example.com", "c"),
            "wss://vps.example.com/.rserve-desk/probe/c"
        );
    }
}
