//! The health-gated switch, seen from the workstation. The spawner has started
//! a new version's first replica beside the old ones; here, one replica at a
//! time, we wait until the host's router reaches the new container (a real
//! QAP handshake at the container's own probe path, through Traefik at the
//! host's public URL), and only then retire one old container: drain it (its
//! health check fails, the router stops sending it new connections), wait
//! until the router has dropped it (its probe path answers 404), let its open
//! connections finish, remove it; then the spawner starts the next replica.
//! So an app of N replicas never runs more than N + 1 containers. A first
//! replica the router never reaches is removed again, and the old version
//! keeps serving; a later one stops the rollout where it is, every container
//! still running keeps serving.

use std::time::{Duration, Instant};

use rdesk_spawner::{
    ContainerRef, DeployEvent, Deployed, SecretEnv, Settings, Slug, SpawnError, Spawner, labels,
};

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
    #[error(
        "the rollout stopped after {replaced} of {replicas} replicas ran the new version: {reason}; the {replaced} new and {left} previous containers keep serving (`rdesk rollback` returns to the previous version)"
    )]
    Stalled {
        replaced: usize,
        replicas: usize,
        left: usize,
        reason: String,
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
        Err(e) if answered(&e) => Probe::Answers,
        Err(e) => Probe::Other(e.to_string()),
    }
}

/// Whether a failed connection still shows the app behind the router: it
/// refused access (no token), or the router's allow-list refused this
/// workstation (HTTP 403, which only a router that has the route sends).
pub(crate) fn answered(e: &rserve_qap::Error) -> bool {
    matches!(e, rserve_qap::Error::AccessRefused { .. }) || e.http_status() == Some(403)
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
    /// The replicas started during the switch, after the first.
    pub added: Vec<ContainerRef>,
}

/// The version being switched to, as the spawner needs it to add replicas.
pub struct NewVersion<'a> {
    pub slug: &'a Slug,
    pub deployed: &'a Deployed,
    pub settings: &'a Settings,
    pub secrets: &'a SecretEnv,
}

/// Replaces the previous containers with the new version's replicas one at a
/// time: each new one is gated through the router before one old one is
/// retired and the next new one is started. A first deploy the router does
/// not reach keeps running (there is nothing to fall back to) and is
/// reported as not routed.
pub async fn switch(
    spawner: &dyn Spawner,
    public_url: &str,
    version: NewVersion<'_>,
    timeouts: SwitchTimeouts,
    progress: &(dyn Fn(DeployEvent) + Send + Sync),
) -> Result<Switched, SwitchError> {
    let deployed = version.deployed;
    if deployed.rolled_out {
        return routed_app(public_url, version.slug, timeouts, progress).await;
    }
    let replicas = usize::from(deployed.replicas).max(deployed.containers.len());
    let mut containers = deployed.containers.clone();
    let mut previous = deployed.previous.iter();
    let mut switched = Switched {
        routed: true,
        ..Switched::default()
    };
    let stalled = |replaced: usize, retired: usize, reason: String| SwitchError::Stalled {
        replaced,
        replicas,
        left: deployed.previous.len() - retired,
        reason,
    };
    for replica in 0..replicas {
        if replica == containers.len() {
            let so_far = Deployed {
                containers: containers.clone(),
                ..deployed.clone()
            };
            let added = spawner
                .add_replica(
                    version.slug,
                    &so_far,
                    version.settings,
                    version.secrets,
                    progress,
                )
                .await
                .map_err(|e| stalled(replica, switched.retired.len(), e.to_string()))?;
            containers.push(added.clone());
            switched.added.push(added);
        }
        let new = &containers[replica];
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
            if replica == 0 {
                discard(spawner, &containers).await?;
                return Err(SwitchError::NotRouted {
                    container: new.name.clone(),
                    url,
                    within: timeouts.route,
                    last,
                });
            }
            discard(spawner, std::slice::from_ref(new)).await?;
            let reason = format!(
                "the router never reached {} within {} s ({last}), so it was removed",
                new.name,
                timeouts.route.as_secs()
            );
            return Err(stalled(replica, switched.retired.len(), reason));
        }
        if let Some(old) = previous.next() {
            retire(spawner, public_url, old, timeouts, progress).await?;
            switched.retired.push(old.id.clone());
        }
    }
    for old in previous {
        retire(spawner, public_url, old, timeouts, progress).await?;
        switched.retired.push(old.id.clone());
    }
    Ok(switched)
}

/// A version its spawner rolled out itself (a swarm service): waits until
/// the router reaches the app at its own path, which it does once it has
/// read the new service (a first deploy) or at once (an update).
async fn routed_app(
    public_url: &str,
    slug: &Slug,
    timeouts: SwitchTimeouts,
    progress: &(dyn Fn(DeployEvent) + Send + Sync),
) -> Result<Switched, SwitchError> {
    let url = format!("{}/{slug}", websocket_origin(public_url));
    progress(DeployEvent::Step(format!(
        "waiting for the router to reach {slug}"
    )));
    match until(&url, timeouts.route, |p| matches!(p, Probe::Answers)).await {
        Ok(()) => Ok(Switched {
            routed: true,
            ..Switched::default()
        }),
        Err(last) => {
            progress(DeployEvent::Step(format!(
                "the router does not reach {slug} at {url} yet: {last}"
            )));
            Ok(Switched::default())
        }
    }
}

/// Drains `old`, waits until the router has dropped it, lets its open
/// connections end and removes it.
async fn retire(
    spawner: &dyn Spawner,
    public_url: &str,
    old: &ContainerRef,
    timeouts: SwitchTimeouts,
    progress: &(dyn Fn(DeployEvent) + Send + Sync),
) -> Result<(), SpawnError> {
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
    spawner.retire(old, timeouts.drain).await
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
