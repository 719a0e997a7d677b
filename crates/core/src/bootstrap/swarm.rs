//! A cluster made one swarm (issue 16), through the Docker API of each node
//! over its own SSH tunnel, after each node's own bootstrap ([`super::Role`]).
//! Each step checks first and is skipped when done, like the one-host steps:
//!
//! - `swarm`: the manager initialises a swarm, advertised at the address its
//!   SSH session reached (`SSH_CONNECTION`'s server address);
//! - `join:<node>`: each worker joins with the manager's worker token, and
//!   the manager sees it ready;
//! - `overlay`: the apps' overlay network [`SWARM_NETWORK`];
//! - `traefik`: Traefik as a swarm service on the manager: its static
//!   configuration a swarm config (named by its hash, as configs cannot
//!   change), the swarm provider reading the manager's Docker through the
//!   read-only filter, the public ports published on the manager itself
//!   (host mode: this needs no IPVS, which the ingress routing mesh does), a
//!   single-host Traefik container of ours removed first.
//!
//! A node in another swarm, or an overlay network of the same name that is
//! not ours, is refused with a sentence and left as it is.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bollard::Docker;
use bollard::models::{
    ConfigSpec, EndpointPortConfig, EndpointPortConfigPublishModeEnum, EndpointSpec,
    LocalNodeState, Mount, MountType, NetworkAttachmentConfig, NetworkCreateRequest, NodeState,
    ServiceSpec, SwarmInitRequest, SwarmJoinRequest, TaskSpec, TaskSpecContainerSpec,
    TaskSpecContainerSpecConfigs, TaskSpecContainerSpecFile1, TaskSpecPlacement,
    TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum, TaskState,
};
use bollard::query_parameters::{
    InspectServiceOptions, ListNodesOptions, ListTasksOptions, RemoveContainerOptions,
    UpdateServiceOptions,
};
use rdesk_spawner::labels::{CONFIG_HASH, OWNER, OWNER_VALUE, ROLE};

use super::commands::{RemoteCommand, hash_parts};
use super::filter::{FILTER_SOCKET_DIR, FILTER_VOLUME};
use super::options::Validated;
use super::run::{BootstrapError, Progress, Remote, StepEvent, StepState};
use super::traefik::{TRAEFIK_CONFIG_PATH, render_swarm_traefik_config};
use super::{ACME_VOLUME, SWARM_NETWORK, TRAEFIK_CONTAINER};

/// Swarm's control port, where workers join.
pub const SWARM_PORT: u16 = 2377;
/// The cluster's Traefik service (the same name as one host's container).
pub const TRAEFIK_SERVICE: &str = TRAEFIK_CONTAINER;
/// How long a joined worker may take to be seen ready, and Traefik's task to run.
const SETTLE: Duration = Duration::from_secs(60);

pub(crate) const STEP_SWARM: &str = "swarm";
pub(crate) const STEP_OVERLAY: &str = "overlay";
pub(crate) const STEP_TRAEFIK_SERVICE: &str = "traefik";

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

/// Makes `manager` and `workers` one swarm with the apps' overlay network
/// and Traefik as a service; `join:<name>` steps are named by the workers.
pub async fn form(
    manager: &SwarmNode<'_>,
    workers: &[SwarmNode<'_>],
    options: &Validated,
    sink: &(dyn Fn(StepEvent) + Send + Sync),
) -> Result<SwarmReport, BootstrapError> {
    let mut progress = Progress {
        sink,
        finished: Vec::new(),
        planned: 3 + workers.len(),
    };
    macro_rules! step {
        ($name:expr, $body:expr) => {{
            let name: &str = $name;
            let started = progress.start(name);
            match $body.await {
                Ok((state, output)) => {
                    progress.finish(name, started, state, &output);
                }
                Err(e) => {
                    let e: BootstrapError = e;
                    progress.finish(name, started, StepState::Failed, &e.to_string());
                    return Err(e);
                }
            }
        }};
    }

    let mut manager_addr = String::new();
    step!(STEP_SWARM, async {
        let address = reached_address(manager, STEP_SWARM).await?;
        let (state, note) = init(&manager.docker, &address).await?;
        manager_addr = format!("{address}:{SWARM_PORT}");
        Ok((state, note))
    });
    for worker in workers {
        let name = format!("join:{}", worker.name);
        step!(&name, join(manager, worker, &manager_addr, &name));
    }
    step!(STEP_OVERLAY, overlay(&manager.docker));
    step!(STEP_TRAEFIK_SERVICE, traefik(&manager.docker, options));
    Ok(SwarmReport {
        manager_addr,
        steps: progress.finished,
    })
}

fn docker_error(step: &str) -> impl Fn(bollard::errors::Error) -> BootstrapError + '_ {
    move |source| BootstrapError::Docker {
        step: step.to_owned(),
        source,
    }
}

fn refused(step: &str, reason: impl Into<String>) -> BootstrapError {
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

async fn init(docker: &Docker, address: &str) -> Result<(StepState, String), BootstrapError> {
    let info = docker.info().await.map_err(docker_error(STEP_SWARM))?;
    let swarm = info.swarm.unwrap_or_default();
    match swarm.local_node_state {
        Some(LocalNodeState::ACTIVE) if swarm.control_available == Some(true) => {
            return Ok((
                StepState::Skipped,
                format!(
                    "already the manager of a swarm, at {}",
                    swarm.node_addr.unwrap_or_default()
                ),
            ));
        }
        Some(LocalNodeState::ACTIVE) => {
            return Err(refused(
                STEP_SWARM,
                "this VPS is a worker of another swarm; leave it there (`docker swarm leave`) or make that swarm's manager the cluster",
            ));
        }
        Some(LocalNodeState::PENDING | LocalNodeState::LOCKED | LocalNodeState::ERROR) => {
            return Err(refused(
                STEP_SWARM,
                format!(
                    "this VPS's swarm state is {:?} ({}); fix or leave it on the VPS, then run the bootstrap again",
                    swarm.local_node_state,
                    swarm.error.unwrap_or_default()
                ),
            ));
        }
        _ => {}
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
    let info = worker.docker.info().await.map_err(docker_error(step))?;
    let swarm = info.swarm.unwrap_or_default();
    let node_id = swarm.node_id.clone().unwrap_or_default();
    let state = match swarm.local_node_state {
        Some(LocalNodeState::ACTIVE) => {
            if known_node(&manager.docker, &node_id, step).await?.is_none() {
                return Err(refused(
                    step,
                    format!(
                        "{} is in another swarm; leave it there (`docker swarm leave` on it) and run the bootstrap again",
                        worker.name
                    ),
                ));
            }
            StepState::Skipped
        }
        Some(LocalNodeState::PENDING | LocalNodeState::LOCKED | LocalNodeState::ERROR) => {
            return Err(refused(
                step,
                format!(
                    "{}'s swarm state is {:?} ({}); leave it on the VPS (`docker swarm leave --force`), then run the bootstrap again",
                    worker.name,
                    swarm.local_node_state,
                    swarm.error.unwrap_or_default()
                ),
            ));
        }
        _ => {
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
    Ok((state, format!("{} {verb}, ready at {ready}", worker.name)))
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

fn owner_labels(role: &str) -> HashMap<String, String> {
    HashMap::from([
        (OWNER.to_owned(), OWNER_VALUE.to_owned()),
        (ROLE.to_owned(), role.to_owned()),
    ])
}

async fn overlay(docker: &Docker) -> Result<(StepState, String), BootstrapError> {
    let step = STEP_OVERLAY;
    match docker
        .inspect_network(
            SWARM_NETWORK,
            None::<bollard::query_parameters::InspectNetworkOptions>,
        )
        .await
    {
        Ok(network) => {
            let ours = network
                .labels
                .as_ref()
                .and_then(|l| l.get(OWNER))
                .is_some_and(|v| v == OWNER_VALUE);
            let overlay = network.driver.as_deref() == Some("overlay");
            if ours && overlay {
                return Ok((
                    StepState::Skipped,
                    format!("overlay network {SWARM_NETWORK} already there"),
                ));
            }
            Err(refused(
                step,
                format!(
                    "a network {SWARM_NETWORK} exists that Rserve Desk did not make as an overlay network; remove or rename it and run the bootstrap again"
                ),
            ))
        }
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {
            docker
                .create_network(NetworkCreateRequest {
                    name: SWARM_NETWORK.to_owned(),
                    driver: Some("overlay".to_owned()),
                    labels: Some(owner_labels("network")),
                    ..Default::default()
                })
                .await
                .map_err(docker_error(step))?;
            Ok((
                StepState::Done,
                format!("made the overlay network {SWARM_NETWORK}"),
            ))
        }
        Err(e) => Err(docker_error(step)(e)),
    }
}

/// The Traefik service for these options: its static configuration as the
/// swarm config `config_name`, and everything that defines it hashed in its
/// `config-hash` label.
fn traefik_spec(
    options: &Validated,
    config_name: &str,
    config_id: &str,
    hash: &str,
) -> ServiceSpec {
    let mut labels = owner_labels("traefik");
    labels.insert(CONFIG_HASH.to_owned(), hash.to_owned());
    let port = |target: u16| EndpointPortConfig {
        target_port: Some(i64::from(target)),
        published_port: Some(i64::from(target)),
        publish_mode: Some(EndpointPortConfigPublishModeEnum::HOST),
        ..Default::default()
    };
    let volume = |source: &str, target: &str, read_only: bool| Mount {
        typ: Some(MountType::VOLUME),
        source: Some(source.to_owned()),
        target: Some(target.to_owned()),
        read_only: Some(read_only),
        ..Default::default()
    };
    ServiceSpec {
        name: Some(TRAEFIK_SERVICE.to_owned()),
        labels: Some(labels.clone()),
        task_template: Some(TaskSpec {
            container_spec: Some(TaskSpecContainerSpec {
                image: Some(options.traefik_image.clone()),
                labels: Some(labels),
                args: Some(vec![format!("--configFile={TRAEFIK_CONFIG_PATH}")]),
                read_only: Some(true),
                capability_drop: Some(vec!["ALL".to_owned()]),
                capability_add: Some(vec!["CAP_NET_BIND_SERVICE".to_owned()]),
                mounts: Some(vec![
                    volume(FILTER_VOLUME, FILTER_SOCKET_DIR, true),
                    volume(ACME_VOLUME, "/acme", false),
                ]),
                configs: Some(vec![TaskSpecContainerSpecConfigs {
                    file: Some(TaskSpecContainerSpecFile1 {
                        name: Some(TRAEFIK_CONFIG_PATH.to_owned()),
                        uid: Some("0".to_owned()),
                        gid: Some("0".to_owned()),
                        mode: Some(0o444),
                    }),
                    config_id: Some(config_id.to_owned()),
                    config_name: Some(config_name.to_owned()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            placement: Some(TaskSpecPlacement {
                constraints: Some(vec!["node.role==manager".to_owned()]),
                ..Default::default()
            }),
            restart_policy: Some(TaskSpecRestartPolicy {
                condition: Some(TaskSpecRestartPolicyConditionEnum::ANY),
                ..Default::default()
            }),
            networks: Some(vec![NetworkAttachmentConfig {
                target: Some(SWARM_NETWORK.to_owned()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        endpoint_spec: Some(EndpointSpec {
            ports: Some(vec![port(options.http_port), port(options.https_port)]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn traefik(
    docker: &Docker,
    options: &Validated,
) -> Result<(StepState, String), BootstrapError> {
    let step = STEP_TRAEFIK_SERVICE;
    let config = render_swarm_traefik_config(options)?;
    let ports = format!("{} {}", options.http_port, options.https_port);
    let hash = hash_parts(&[&config, &options.traefik_image, &ports]);
    let existing = match docker
        .inspect_service(TRAEFIK_SERVICE, None::<InspectServiceOptions>)
        .await
    {
        Ok(service) => Some(service),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => None,
        Err(e) => return Err(docker_error(step)(e)),
    };
    let current_hash = existing
        .as_ref()
        .and_then(|s| s.spec.as_ref())
        .and_then(|s| s.labels.as_ref())
        .and_then(|l| l.get(CONFIG_HASH))
        .cloned();
    if current_hash.as_deref() == Some(hash.as_str()) && task_running(docker, step).await? {
        return Ok((
            StepState::Skipped,
            format!("service {TRAEFIK_SERVICE} already running with this configuration"),
        ));
    }
    let mut log = Vec::new();
    // A host that was a single host first has Traefik as a container on
    // the same ports.
    match docker
        .remove_container(
            TRAEFIK_CONTAINER,
            Some(RemoveContainerOptions {
                force: true,
                ..Default::default()
            }),
        )
        .await
    {
        Ok(()) => log.push(format!(
            "removed the single-host container {TRAEFIK_CONTAINER}"
        )),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {}
        Err(e) => return Err(docker_error(step)(e)),
    }
    let config_name = format!("{TRAEFIK_SERVICE}-{hash}");
    let config_id = match docker.inspect_config(&config_name).await {
        Ok(found) => found.id.unwrap_or_default(),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => {
            let made = docker
                .create_config(ConfigSpec {
                    name: Some(config_name.clone()),
                    labels: Some(owner_labels("traefik")),
                    data: Some(base64::engine::general_purpose::STANDARD.encode(&config)),
                    ..Default::default()
                })
                .await
                .map_err(docker_error(step))?;
            log.push(format!("made the swarm config {config_name}"));
            made.id
        }
        Err(e) => return Err(docker_error(step)(e)),
    };
    let spec = traefik_spec(options, &config_name, &config_id, &hash);
    match existing {
        Some(service) => {
            let version = service
                .version
                .and_then(|v| v.index)
                .and_then(|i| i32::try_from(i).ok())
                .unwrap_or_default();
            docker
                .update_service(
                    TRAEFIK_SERVICE,
                    spec,
                    UpdateServiceOptions {
                        version,
                        ..Default::default()
                    },
                    None,
                )
                .await
                .map_err(docker_error(step))?;
            log.push(format!("updated the service {TRAEFIK_SERVICE}"));
        }
        None => {
            docker
                .create_service(spec, None)
                .await
                .map_err(docker_error(step))?;
            log.push(format!("made the service {TRAEFIK_SERVICE}"));
        }
    }
    let started = Instant::now();
    while !task_running(docker, step).await? {
        if started.elapsed() > SETTLE {
            return Err(refused(
                step,
                format!(
                    "Traefik's task did not run within {} s: {}",
                    SETTLE.as_secs(),
                    last_task_error(docker, step).await?
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    log.push("its task runs".to_owned());
    Ok((StepState::Done, log.join("\n")))
}

async fn traefik_tasks(
    docker: &Docker,
    step: &str,
) -> Result<Vec<bollard::models::Task>, BootstrapError> {
    docker
        .list_tasks(Some(ListTasksOptions {
            filters: Some(HashMap::from([(
                "service".to_owned(),
                vec![TRAEFIK_SERVICE.to_owned()],
            )])),
        }))
        .await
        .map_err(docker_error(step))
}

/// A task the swarm wants running (of the current spec) runs.
async fn task_running(docker: &Docker, step: &str) -> Result<bool, BootstrapError> {
    Ok(traefik_tasks(docker, step).await?.iter().any(|t| {
        t.status.as_ref().and_then(|s| s.state) == Some(TaskState::RUNNING)
            && t.desired_state == Some(TaskState::RUNNING)
    }))
}

async fn last_task_error(docker: &Docker, step: &str) -> Result<String, BootstrapError> {
    let tasks = traefik_tasks(docker, step).await?;
    Ok(tasks
        .iter()
        .filter_map(|t| t.status.as_ref())
        .filter_map(|s| s.err.clone().or_else(|| s.message.clone()))
        .next_back()
        .unwrap_or_else(|| "no task was scheduled".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap::BootstrapOptions;

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

    #[test]
    fn traefik_runs_on_the_manager_locked_down_with_its_ports_on_the_host() {
        let options = BootstrapOptions::default().validate().unwrap();
        let spec = traefik_spec(&options, "cfg", "id1", "h1");
        let task = spec.task_template.unwrap();
        assert_eq!(
            task.placement.unwrap().constraints.unwrap(),
            ["node.role==manager"]
        );
        let container = task.container_spec.unwrap();
        assert_eq!(container.read_only, Some(true));
        assert_eq!(container.capability_drop.unwrap(), ["ALL"]);
        assert_eq!(
            container
                .labels
                .unwrap()
                .get(CONFIG_HASH)
                .map(String::as_str),
            Some("h1")
        );
        let mounts = container.mounts.unwrap();
        assert!(
            mounts
                .iter()
                .any(|m| m.source.as_deref() == Some(FILTER_VOLUME) && m.read_only == Some(true))
        );
        assert!(
            !mounts.iter().any(|m| m
                .source
                .as_deref()
                .is_some_and(|s| s.contains("docker.sock"))),
            "Traefik never mounts Docker's own socket"
        );
        let ports = spec.endpoint_spec.unwrap().ports.unwrap();
        assert!(ports.iter().all(|p| p.publish_mode
            == Some(EndpointPortConfigPublishModeEnum::HOST)
            && p.published_port == p.target_port));
        assert_eq!(
            task.networks.unwrap()[0].target.as_deref(),
            Some(SWARM_NETWORK)
        );
    }
}
