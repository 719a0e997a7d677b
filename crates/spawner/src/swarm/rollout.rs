//! Creating or updating an app's service and watching the swarm roll it
//! out: every replica of the new spec running and healthy, or the update
//! rolled back (its failed tasks' reasons kept for the sentence); scaling
//! and other changes of the spec.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::models::{ServiceUpdateStatusStateEnum, TaskState};
use bollard::query_parameters::{ListTasksOptions, UpdateServiceOptions};

use super::service::{ServiceVersion, service_name, service_spec};
use super::tokens::{mount_tokens, tokens_config};
use super::{PER_REPLICA, SwarmSpawner};
use crate::docker::DockerSpawner;
use crate::error::SpawnError;
use crate::labels;
use crate::settings::Settings;
use crate::spec::Slug;
use crate::state::{ContainerRef, DeployEvent};

impl SwarmSpawner {
    /// Creates the app's service, or updates it to `version` (a rolling
    /// update), then waits until the swarm has finished: every replica of
    /// this spec running and healthy, or the update rolled back.
    pub(super) async fn roll_out(
        &self,
        version: ServiceVersion<'_>,
        progress: &(dyn Fn(DeployEvent) + Send + Sync),
    ) -> Result<Vec<ContainerRef>, SpawnError> {
        let slug = version.slug;
        self.wall_in(slug).await?;
        let mut spec = service_spec(&self.config, &version);
        let current = self.current_service(slug).await?;
        let tokens = match current
            .as_ref()
            .and_then(|s| s.spec.as_ref())
            .and_then(tokens_config)
        {
            Some(kept) => kept,
            None => self.tokens_config_for(slug, &[]).await?,
        };
        mount_tokens(&mut spec, tokens);
        let secrets = self
            .secret_mounts(slug, version.settings, version.secrets)
            .await?;
        if let Some(container) = spec
            .task_template
            .as_mut()
            .and_then(|t| t.container_spec.as_mut())
        {
            container.secrets = Some(secrets);
        }
        let wanted = spec
            .task_template
            .as_ref()
            .map(TaskIdentity::of)
            .unwrap_or_default();
        if current.is_some() {
            progress(DeployEvent::Step(format!(
                "updating the service {} one task at a time, each new one healthy before an old one stops",
                service_name(slug)
            )));
            self.update(slug, "update", |current| *current = spec)
                .await?;
        } else {
            progress(DeployEvent::Step(format!(
                "creating the service {} with {} replica(s)",
                service_name(slug),
                version.replicas
            )));
            self.manager
                .create_service(spec, None)
                .await
                .map_err(SpawnError::docker(format!("create the service of {slug}")))?;
        }
        let converged = self
            .wait_converged(slug, &wanted, version.replicas, progress)
            .await;
        self.remove_unused_secrets(slug).await;
        converged
    }

    /// Waits for the service's update to end, and `replicas` tasks of the
    /// `wanted` spec to run.
    pub(super) async fn wait_converged(
        &self,
        slug: &Slug,
        wanted: &TaskIdentity,
        replicas: u8,
        progress: &(dyn Fn(DeployEvent) + Send + Sync),
    ) -> Result<Vec<ContainerRef>, SpawnError> {
        let deadline = Instant::now()
            + (self.config.health_timeout + PER_REPLICA) * u32::from(replicas.max(1));
        let mut reported = 0;
        loop {
            let service = self
                .current_service(slug)
                .await?
                .ok_or_else(|| DockerSpawner::not_found(slug))?;
            let update = service.update_status.as_ref();
            let state = update.and_then(|u| u.state);
            let message = update.and_then(|u| u.message.clone()).unwrap_or_default();
            if matches!(
                state,
                Some(
                    ServiceUpdateStatusStateEnum::ROLLBACK_STARTED
                        | ServiceUpdateStatusStateEnum::ROLLBACK_COMPLETED
                        | ServiceUpdateStatusStateEnum::ROLLBACK_PAUSED
                        | ServiceUpdateStatusStateEnum::PAUSED
                )
            ) {
                if state == Some(ServiceUpdateStatusStateEnum::ROLLBACK_STARTED) {
                    progress(DeployEvent::Step(
                        "the new tasks failed; the swarm is rolling back".to_owned(),
                    ));
                    self.wait_rolled_back(slug, deadline).await?;
                }
                return Err(SpawnError::Unhealthy {
                    slug: slug.to_string(),
                    reason: format!("the swarm stopped the update ({message}) and rolled it back"),
                    log_tail: self.failed_task_reasons(slug).await?,
                });
            }
            let running = self.running_tasks(slug, wanted).await?;
            if running.len() > reported {
                reported = running.len();
                progress(DeployEvent::Step(format!(
                    "{reported} of {replicas} task(s) of the new version healthy"
                )));
            }
            let updating = state == Some(ServiceUpdateStatusStateEnum::UPDATING);
            if !updating && running.len() >= usize::from(replicas) {
                return Ok(running.into_iter().map(|(c, _)| c).collect());
            }
            if Instant::now() > deadline {
                return Err(SpawnError::Unhealthy {
                    slug: slug.to_string(),
                    reason: format!(
                        "{} of {replicas} task(s) ran within the time allowed ({message})",
                        running.len()
                    ),
                    log_tail: self.failed_task_reasons(slug).await?,
                });
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    pub(super) async fn wait_rolled_back(
        &self,
        slug: &Slug,
        deadline: Instant,
    ) -> Result<(), SpawnError> {
        while Instant::now() < deadline {
            let state = self
                .current_service(slug)
                .await?
                .and_then(|s| s.update_status)
                .and_then(|u| u.state);
            if state != Some(ServiceUpdateStatusStateEnum::ROLLBACK_STARTED) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Ok(())
    }

    /// The app's tasks of the `wanted` spec that the swarm wants running and
    /// that run (healthy) now, as `(container, node id)`.
    async fn running_tasks(
        &self,
        slug: &Slug,
        wanted: &TaskIdentity,
    ) -> Result<Vec<(ContainerRef, String)>, SpawnError> {
        let tasks = self.tasks(slug).await?;
        Ok(tasks
            .into_iter()
            .filter(|t| t.desired_state == Some(TaskState::RUNNING))
            .filter(|t| t.status.as_ref().and_then(|s| s.state) == Some(TaskState::RUNNING))
            .filter(|t| {
                t.spec
                    .as_ref()
                    .is_some_and(|spec| TaskIdentity::of(spec) == *wanted)
            })
            .filter_map(|t| {
                let id = t.status?.container_status?.container_id?;
                Some((
                    ContainerRef {
                        name: t.name.unwrap_or_else(|| id.clone()),
                        id,
                    },
                    t.node_id.unwrap_or_default(),
                ))
            })
            .collect())
    }

    pub(super) async fn tasks(
        &self,
        slug: &Slug,
    ) -> Result<Vec<bollard::models::Task>, SpawnError> {
        self.manager
            .list_tasks(Some(ListTasksOptions {
                filters: Some(HashMap::from([(
                    "service".to_owned(),
                    vec![service_name(slug)],
                )])),
            }))
            .await
            .map_err(SpawnError::docker(format!("list the tasks of {slug}")))
    }

    /// Why the app's failed tasks failed (at most five).
    pub(super) async fn failed_task_reasons(&self, slug: &Slug) -> Result<Vec<String>, SpawnError> {
        let tasks = self.tasks(slug).await?;
        Ok(tasks
            .into_iter()
            .filter_map(|t| t.status)
            .filter(|s| {
                matches!(
                    s.state,
                    Some(TaskState::FAILED | TaskState::REJECTED | TaskState::SHUTDOWN)
                ) && s.err.is_some()
            })
            .filter_map(|s| s.err)
            .take(5)
            .collect())
    }

    /// Changes the app's service spec with `change` and hands it to the
    /// swarm (`what` names the change in an error).
    pub(super) async fn update(
        &self,
        slug: &Slug,
        what: &str,
        change: impl FnOnce(&mut bollard::models::ServiceSpec),
    ) -> Result<(), SpawnError> {
        let service = self
            .current_service(slug)
            .await?
            .ok_or_else(|| DockerSpawner::not_found(slug))?;
        let mut spec = service.spec.clone().unwrap_or_default();
        change(&mut spec);
        replace_service(&self.manager, &service, spec)
            .await
            .map_err(SpawnError::docker(format!("{what} the service of {slug}")))
    }

    /// Scales the service to the replicas `replicas` picks from its spec (0
    /// stops it), changing nothing else.
    pub(super) async fn scale(
        &self,
        slug: &Slug,
        replicas: impl FnOnce(&bollard::models::ServiceSpec) -> u8,
    ) -> Result<(), SpawnError> {
        self.update(slug, "scale", |spec| {
            let wanted = replicas(spec);
            let mode = spec.mode.get_or_insert_with(Default::default);
            mode.replicated
                .get_or_insert_with(Default::default)
                .replicas = Some(i64::from(wanted));
        })
        .await
    }
}

/// The replicas the app's settings label on `spec` asks for.
pub(super) fn wanted_replicas(spec: &bollard::models::ServiceSpec) -> u8 {
    spec.labels
        .as_ref()
        .and_then(|l| l.get(labels::SETTINGS))
        .map(|raw| Settings::from_label_value(raw).replicas)
        .unwrap_or(1)
}

/// Hands `spec` to the swarm in place of the current spec of `service` (an
/// update, refused by the swarm if the service changed since it was read).
pub async fn replace_service(
    docker: &bollard::Docker,
    service: &bollard::models::Service,
    spec: bollard::models::ServiceSpec,
) -> Result<(), bollard::errors::Error> {
    let version = service
        .version
        .as_ref()
        .and_then(|v| v.index)
        .and_then(|i| i32::try_from(i).ok())
        .unwrap_or_default();
    let name = spec.name.clone().unwrap_or_default();
    docker
        .update_service(
            &name,
            spec,
            UpdateServiceOptions {
                version,
                ..Default::default()
            },
            None,
        )
        .await
        .map(|_| ())
}

/// What tells a task of one spec from a task of the one before, whatever
/// changed: its image, its tokens file, its settings (hashed in a label).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct TaskIdentity {
    image: Option<String>,
    tokens: Option<String>,
    settings: Option<String>,
    /// The swarm secrets mounted, which change with a variable's value.
    secrets: Vec<String>,
}

impl TaskIdentity {
    pub(super) fn of(spec: &bollard::models::TaskSpec) -> Self {
        let container = spec.container_spec.as_ref();
        let image = container
            .and_then(|c| c.image.as_deref())
            // The swarm may pin a tag to its digest: `tag@sha256:…`.
            .map(|i| i.split('@').next().unwrap_or(i).to_owned());
        let settings = container
            .and_then(|c| c.labels.as_ref())
            .and_then(|l| l.get(labels::SETTINGS_HASH).cloned());
        let tokens = container
            .and_then(|c| c.configs.as_ref())
            .and_then(|configs| {
                configs.iter().find(|c| {
                    c.config_name
                        .as_deref()
                        .is_some_and(|n| n.starts_with("rserve-desk-tokens-"))
                })
            })
            .and_then(|c| c.config_id.clone());
        let mut secrets: Vec<String> = container
            .and_then(|c| c.secrets.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|s| s.secret_id.clone())
            .collect();
        secrets.sort();
        Self {
            image,
            tokens,
            settings,
            secrets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{TaskSpec, TaskSpecContainerSpec, TaskSpecContainerSpecConfigs};

    fn task(image: &str, tokens: &str, settings: &str) -> TaskSpec {
        TaskSpec {
            container_spec: Some(TaskSpecContainerSpec {
                image: Some(image.to_owned()),
                labels: Some(HashMap::from([(
                    labels::SETTINGS_HASH.to_owned(),
                    settings.to_owned(),
                )])),
                configs: Some(vec![TaskSpecContainerSpecConfigs {
                    config_id: Some(tokens.to_owned()),
                    config_name: Some(format!("rserve-desk-tokens-x-{tokens}")),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_new_spec_is_told_by_its_image_tokens_or_settings() {
        let now = TaskIdentity::of(&task("app:1", "t1", "s1"));
        assert_eq!(TaskIdentity::of(&task("app:1@sha256:ab", "t1", "s1")), now);
        assert_ne!(TaskIdentity::of(&task("app:2", "t1", "s1")), now);
        assert_ne!(TaskIdentity::of(&task("app:1", "t2", "s1")), now);
        assert_ne!(TaskIdentity::of(&task("app:1", "t1", "s2")), now);
    }
}
