//! A cluster made one swarm (issue 16), through the Docker API of each node
//! over its own SSH tunnel, after each node's own bootstrap ([`super::Role`]).
//! Each step checks first and is skipped when done, like the one-host steps:
//!
//! - `swarm`: the manager initialises a swarm, advertised at the address its
//!   SSH session reached (`SSH_CONNECTION`'s server address);
//! - `join:<node>`: each worker joins with the manager's worker token, and
//!   the manager sees it ready (and forgets the entry of an earlier join);
//! - `traefik-networks`: the manager's Traefik container (its own step
//!   made it, reading the swarm) joins every app's overlay network, which
//!   a new Traefik container is not on yet (each deploy joins it to its
//!   app's network; see the spawner's `swarm::walls`).
//!
//! A node in another swarm is refused with a sentence and left as it is.
//! `plan` checks the same, changing nothing (`--dry-run`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{
    LocalNodeState, NetworkConnectRequest, NodeState, SwarmInfo, SwarmInitRequest, SwarmJoinRequest,
};
use bollard::query_parameters::{
    DeleteNodeOptions, InspectContainerOptions, ListNetworksOptions, ListNodesOptions,
};
use rdesk_spawner::labels;

mod plan;

pub use plan::plan;

use super::TRAEFIK_CONTAINER;
use super::commands::RemoteCommand;
use super::run::{BootstrapError, Progress, Remote, StepEvent, StepState};

/// Swarm's control port, where workers join.
pub const SWARM_PORT: u16 = 2377;
/// How long a joined worker may take to be seen ready.
const SETTLE: Duration = Duration::from_secs(60);

pub(crate) const STEP_SWARM: &str = "swarm";
pub(crate) const STEP_TRAEFIK_NETWORKS: &str = "traefik-networks";

/// One node of the cluster: its host's name, its Docker through its tunnel
/// and its SSH session.
pub struct SwarmNode<'a> {
    pub name: &'a str,
    pub docker: Docker,
    pub session: &'a openssh::Session,
}

/// What the swarm steps found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmReport {
    /// The manager's advertised address (`IP:2377`).
    pub manager_addr: String,
    pub steps: Vec<StepEvent>,
}

/// Makes `manager` and `workers` one swarm, and the manager's Traefik a
/// member of every app's network; `join:<name>` steps are named by the
/// workers.
pub async fn form(
    manager: &SwarmNode<'_>,
    workers: &[SwarmNode<'_>],
    sink: &(dyn Fn(StepEvent) + Send + Sync),
) -> Result<SwarmReport, BootstrapError> {
    let mut progress = Progress {
        sink,
        finished: Vec::new(),
        planned: 2 + workers.len(),
    };
    let mut manager_addr = String::new();
    progress
        .step(STEP_SWARM, async {
            let address = reached_address(manager, STEP_SWARM).await?;
            let (state, note) = init(&manager.docker, &address).await?;
            manager_addr = format!("{address}:{SWARM_PORT}");
            Ok((state, note))
        })
        .await?;
    for worker in workers {
        let name = format!("join:{}", worker.name);
        progress
            .step(&name, join(manager, worker, &manager_addr, &name))
            .await?;
    }
    progress
        .step(STEP_TRAEFIK_NETWORKS, traefik_networks(&manager.docker))
        .await?;
    Ok(SwarmReport {
        manager_addr,
        steps: progress.finished,
    })
}

pub(super) fn docker_error(step: &str) -> impl Fn(bollard::errors::Error) -> BootstrapError + '_ {
    move |source| BootstrapError::Docker {
        step: step.to_owned(),
        source,
    }
}

pub(super) fn refused(step: &str, reason: impl Into<String>) -> BootstrapError {
    BootstrapError::Swarm {
        step: step.to_owned(),
        reason: reason.into(),
    }
}

/// The node's address as its SSH session reached it: what the other nodes
/// and the workstation reach too.
async fn reached_address(node: &SwarmNode<'_>, step: &str) -> Result<String, BootstrapError> {
    let probe = RemoteCommand::new(["sh", "-c", "echo $SSH_CONNECTION"]);
    let out = node
        .session
        .run(step, &probe, Duration::from_secs(30))
        .await?;
    server_address(&out.stdout).ok_or_else(|| {
        refused(
            step,
            format!(
                "could not tell {}'s address from its SSH session (SSH_CONNECTION is {:?})",
                node.name,
                out.stdout.trim()
            ),
        )
    })
}

/// The server's address in `SSH_CONNECTION` (`client port server port`).
fn server_address(ssh_connection: &str) -> Option<String> {
    let fields: Vec<&str> = ssh_connection.split_whitespace().collect();
    let address = *fields.get(2)?;
    address
        .parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| ip.to_string())
}

/// Where the manager stands before `swarm`: done, to do, or refused (the
/// sentence).
enum ManagerState {
    Manager(String),
    Outside,
    Refused(String),
}

fn manager_state(swarm: SwarmInfo) -> ManagerState {
    match swarm.local_node_state {
        Some(LocalNodeState::ACTIVE) if swarm.control_available == Some(true) => {
            ManagerState::Manager(format!(
                "already the manager of a swarm, at {}",
                swarm.node_addr.unwrap_or_default()
            ))
        }
        Some(LocalNodeState::ACTIVE) => ManagerState::Refused(
            "this VPS is a worker of another swarm; leave it there (`docker swarm leave`) or make that swarm's manager the cluster".to_owned(),
        ),
        Some(LocalNodeState::PENDING | LocalNodeState::LOCKED | LocalNodeState::ERROR) => {
            ManagerState::Refused(format!(
                "this VPS's swarm state is {:?} ({}); fix or leave it on the VPS, then run the bootstrap again",
                swarm.local_node_state,
                swarm.error.unwrap_or_default()
            ))
        }
        _ => ManagerState::Outside,
    }
}

async fn init(docker: &Docker, address: &str) -> Result<(StepState, String), BootstrapError> {
    let info = docker.info().await.map_err(docker_error(STEP_SWARM))?;
    match manager_state(info.swarm.unwrap_or_default()) {
        ManagerState::Manager(note) => return Ok((StepState::Skipped, note)),
        ManagerState::Refused(reason) => return Err(refused(STEP_SWARM, reason)),
        ManagerState::Outside => {}
    }
    let id = docker
        .init_swarm(SwarmInitRequest {
            listen_addr: Some(format!("0.0.0.0:{SWARM_PORT}")),
            advertise_addr: Some(address.to_owned()),
            ..Default::default()
        })
        .await
        .map_err(docker_error(STEP_SWARM))?;
    Ok((
        StepState::Done,
        format!("made a swarm ({id}), its manager advertised at {address}:{SWARM_PORT}"),
    ))
}

async fn join(
    manager: &SwarmNode<'_>,
    worker: &SwarmNode<'_>,
    manager_addr: &str,
    step: &str,
) -> Result<(StepState, String), BootstrapError> {
    let (node_id, found) = worker_state(manager, worker, step).await?;
    let state = match found {
        WorkerState::Refused(reason) => return Err(refused(step, reason)),
        WorkerState::Member => StepState::Skipped,
        WorkerState::Outside => {
            let token = manager
                .docker
                .inspect_swarm()
                .await
                .map_err(docker_error(step))?
                .join_tokens
                .and_then(|t| t.worker)
                .ok_or_else(|| refused(step, "the manager gave no worker join token"))?;
            let address = reached_address(worker, step).await?;
            worker
                .docker
                .join_swarm(SwarmJoinRequest {
                    listen_addr: Some(format!("0.0.0.0:{SWARM_PORT}")),
                    advertise_addr: Some(address),
                    remote_addrs: Some(vec![manager_addr.to_owned()]),
                    join_token: Some(token),
                    ..Default::default()
                })
                .await
                .map_err(docker_error(step))?;
            StepState::Done
        }
    };
    let node_id = match state {
        StepState::Done => {
            let info = worker.docker.info().await.map_err(docker_error(step))?;
            info.swarm.and_then(|s| s.node_id).unwrap_or_default()
        }
        _ => node_id,
    };
    let ready = wait_ready(&manager.docker, &node_id, step).await?;
    let verb = if state == StepState::Done {
        "joined"
    } else {
        "already a worker"
    };
    let mut note = format!("{} {verb}, ready at {ready}", worker.name);
    let stale = forget_earlier_entries(&manager.docker, &node_id, &ready, step).await?;
    if stale > 0 {
        note.push_str(&format!(
            "; removed {stale} earlier entry of it from the swarm's node list"
        ));
    }
    Ok((state, note))
}

/// Where a worker stands before its `join:` step.
enum WorkerState {
    /// A node of the manager's swarm.
    Member,
    Outside,
    Refused(String),
}

/// The worker's swarm node id (empty outside a swarm) and where it stands.
async fn worker_state(
    manager: &SwarmNode<'_>,
    worker: &SwarmNode<'_>,
    step: &str,
) -> Result<(String, WorkerState), BootstrapError> {
    let info = worker.docker.info().await.map_err(docker_error(step))?;
    let swarm = info.swarm.unwrap_or_default();
    let node_id = swarm.node_id.clone().unwrap_or_default();
    let state = match swarm.local_node_state {
        Some(LocalNodeState::ACTIVE) => {
            if known_node(&manager.docker, &node_id, step).await?.is_none() {
                WorkerState::Refused(format!(
                    "{} is in another swarm; leave it there (`docker swarm leave` on it) and run the bootstrap again",
                    worker.name
                ))
            } else {
                WorkerState::Member
            }
        }
        Some(LocalNodeState::PENDING | LocalNodeState::LOCKED | LocalNodeState::ERROR) => {
            WorkerState::Refused(format!(
                "{}'s swarm state is {:?} ({}); leave it on the VPS (`docker swarm leave --force`), then run the bootstrap again",
                worker.name,
                swarm.local_node_state,
                swarm.error.unwrap_or_default()
            ))
        }
        _ => WorkerState::Outside,
    };
    Ok((node_id, state))
}

/// A VPS that left the swarm and joined again is a new node to the manager,
/// which keeps the old one (down) for ever; removes the old entries at the
/// same address. Returns how many.
async fn forget_earlier_entries(
    manager: &Docker,
    current: &str,
    address: &str,
    step: &str,
) -> Result<usize, BootstrapError> {
    let nodes = manager
        .list_nodes(None::<ListNodesOptions>)
        .await
        .map_err(docker_error(step))?;
    let mut removed = 0;
    for node in nodes {
        let Some(id) = node.id else { continue };
        let same_address = node.status.and_then(|s| s.addr).as_deref() == Some(address);
        if same_address && id != current {
            manager
                .delete_node(&id, Some(DeleteNodeOptions { force: true }))
                .await
                .map_err(docker_error(step))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The manager's view of node `id`: its address, once ready.
async fn known_node(
    manager: &Docker,
    id: &str,
    step: &str,
) -> Result<Option<(NodeState, String)>, BootstrapError> {
    if id.is_empty() {
        return Ok(None);
    }
    let nodes = manager
        .list_nodes(None::<ListNodesOptions>)
        .await
        .map_err(docker_error(step))?;
    Ok(nodes
        .into_iter()
        .find(|n| n.id.as_deref() == Some(id))
        .and_then(|n| n.status)
        .map(|s| {
            (
                s.state.unwrap_or(NodeState::UNKNOWN),
                s.addr.unwrap_or_default(),
            )
        }))
}

async fn wait_ready(manager: &Docker, id: &str, step: &str) -> Result<String, BootstrapError> {
    let started = Instant::now();
    loop {
        let seen = known_node(manager, id, step).await?;
        if let Some((NodeState::READY, addr)) = &seen {
            return Ok(addr.clone());
        }
        if started.elapsed() > SETTLE {
            return Err(refused(
                step,
                format!(
                    "the manager did not see the node ready within {} s (last seen: {seen:?})",
                    SETTLE.as_secs()
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Joins the manager's Traefik container to every app network it is not on.
async fn traefik_networks(docker: &Docker) -> Result<(StepState, String), BootstrapError> {
    let step = STEP_TRAEFIK_NETWORKS;
    let mut joined = Vec::new();
    for name in networks_without_traefik(docker).await? {
        docker
            .connect_network(
                &name,
                NetworkConnectRequest {
                    container: TRAEFIK_CONTAINER.to_owned(),
                    ..Default::default()
                },
            )
            .await
            .map_err(docker_error(step))?;
        joined.push(name);
    }
    if joined.is_empty() {
        Ok((
            StepState::Skipped,
            "Traefik is on every app's network".to_owned(),
        ))
    } else {
        Ok((
            StepState::Done,
            format!("Traefik joined {}", joined.join(", ")),
        ))
    }
}

/// The app networks the manager's Traefik container is not on.
async fn networks_without_traefik(docker: &Docker) -> Result<Vec<String>, BootstrapError> {
    let step = STEP_TRAEFIK_NETWORKS;
    let traefik = docker
        .inspect_container(TRAEFIK_CONTAINER, None::<InspectContainerOptions>)
        .await
        .map_err(docker_error(step))?;
    let on: Vec<String> = traefik
        .network_settings
        .and_then(|n| n.networks)
        .map(|n| n.into_keys().collect())
        .unwrap_or_default();
    let apps = docker
        .list_networks(Some(ListNetworksOptions {
            filters: Some(HashMap::from([(
                "label".to_owned(),
                labels::ours(labels::Role::AppNetwork, &[]),
            )])),
        }))
        .await
        .map_err(docker_error(step))?;
    Ok(apps
        .into_iter()
        .filter_map(|n| n.name)
        .filter(|name| !on.contains(name))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_the_servers_side_of_ssh_connection() {
        assert_eq!(
            server_address("10.213.8.1 53122 10.213.8.11 22\n").as_deref(),
            Some("10.213.8.11")
        );
        assert_eq!(
            server_address("2001:db8::1 5000 2001:db8::2 22").as_deref(),
            Some("2001:db8::2")
        );
        assert_eq!(server_address(""), None);
        assert_eq!(server_address("a b c;rm d"), None);
    }
}
