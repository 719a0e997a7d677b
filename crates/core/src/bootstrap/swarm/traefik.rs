//! The cluster's Traefik: a swarm service on the manager (`traefik` step).
//! Its static configuration is a swarm config named by its hash (configs
//! cannot change); it reads the manager's Docker through the read-only
//! filter's socket, never Docker's own; its public ports are published on
//! the manager itself (host mode: the ingress routing mesh needs IPVS,
//! which not every VPS kernel has); it drops every
//! capability but binding low ports and has a read-only root. A host that
//! was a single host first loses its Traefik container here.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bollard::Docker;
use bollard::models::{
    ConfigSpec, EndpointPortConfig, EndpointPortConfigPublishModeEnum, EndpointSpec, Mount,
    MountType, NetworkAttachmentConfig, ServiceSpec, TaskSpec, TaskSpecContainerSpec,
    TaskSpecContainerSpecConfigs, TaskSpecContainerSpecFile1, TaskSpecPlacement,
    TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum, TaskState,
};
use bollard::query_parameters::{InspectServiceOptions, ListTasksOptions, RemoveContainerOptions};
use rdesk_spawner::labels::CONFIG_HASH;

use super::super::commands::hash_parts;
use super::super::filter::{FILTER_SOCKET_DIR, FILTER_VOLUME};
use super::super::options::Validated;
use super::super::run::{BootstrapError, StepState};
use super::super::traefik::{TRAEFIK_CONFIG_PATH, render_swarm_traefik_config};
use super::super::{ACME_VOLUME, SWARM_NETWORK, TRAEFIK_CONTAINER};
use super::{SETTLE, STEP_TRAEFIK_SERVICE, TRAEFIK_SERVICE, docker_error, owner_labels, refused};

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

pub(super) async fn service(
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
            rdesk_spawner::replace_service(docker, &service, spec)
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
