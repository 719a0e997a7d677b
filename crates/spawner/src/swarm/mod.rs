//! [`crate::Spawner`] on a Docker swarm (issue 16): each app a swarm
//! service on the cluster's overlay network, its replicas spread over the
//! nodes, each update rolling and health-gated, rolled back by the swarm
//! when the new tasks fail ([`service`]).
//!
//! Images: every node builds the app's image itself from the same
//! in-memory build context (kilobytes sent over each node's tunnel), on the
//! `rserve-base` the bootstrap gave every node; the service names the image
//! by its tag, which every node has. So no image crosses the workstation's
//! link per deploy and no registry has to be secured and opened between the
//! VPSs. The price: a packages layer is installed on each node (at once),
//! from the same pinned versions or dated snapshot.
//!
//! Tokens are a swarm config every task mounts ([`tokens`]), secret
//! variables swarm secrets ([`secrets`]), never in a service's spec, which
//! every client of the manager reads.
//! Apps are read back from the services' labels and their tasks'
//! containers on every node; their events come from every node, less the
//! swarm's own replacements ([`events`]).

mod events;
mod listing;
mod rollout;
mod secrets;
mod service;
mod tokens;
mod walls;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::query_parameters::InspectServiceOptions;
use futures_util::stream::BoxStream;

pub use rollout::replace_service;
use service::ServiceVersion;
pub use service::service_name;

use crate::docker::{DockerConfig, DockerSpawner};
use crate::error::{SpawnError, is_not_found};
use crate::labels;
use crate::settings::{SecretEnv, Settings};
use crate::spec::{AppSpec, Slug};
use crate::state::{AppState, ContainerRef, DeployEvent, Deployed, LogLine, Removed, Version};
use crate::{AppEvent, Spawner, StatsReading, context};

/// One node: its name (its host's, as the user knows it) and its Docker.
#[derive(Debug, Clone)]
pub struct SwarmNode {
    pub name: String,
    pub docker: Docker,
}

/// The spawner over a swarm: the manager's Docker for services, every
/// node's for builds, containers, logs and statistics.
#[derive(Debug, Clone)]
pub struct SwarmSpawner {
    manager: Docker,
    config: DockerConfig,
    /// The manager first; each with a config whose network is the node's
    /// own bridge (the overlay network shows on a node only once a task of
    /// it runs there), for the build checks.
    nodes: Vec<(String, DockerSpawner)>,
    /// Which node (an index into `nodes`) each container the last listing
    /// saw runs on, so a statistics stream finds its node without asking
    /// every node.
    placed: Arc<Mutex<HashMap<String, usize>>>,
    /// The manager's Traefik container, which joins each app's network ([`walls`]).
    traefik: String,
}

/// How long a rollout may take per replica, beyond the health check.
const PER_REPLICA: Duration = Duration::from_secs(30);

impl SwarmSpawner {
    /// `config.network` is each node's own network, which the build checks
    /// look for (each app's tasks are on an overlay network of their own);
    /// `traefik` the manager's Traefik container.
    pub fn new(
        manager: SwarmNode,
        workers: Vec<SwarmNode>,
        config: DockerConfig,
        traefik: &str,
    ) -> Self {
        let nodes = std::iter::once(manager.clone())
            .chain(workers)
            .map(|n| (n.name, DockerSpawner::new(n.docker, config.clone())))
            .collect();
        Self {
            manager: manager.docker,
            config,
            nodes,
            placed: Arc::default(),
            traefik: traefik.to_owned(),
        }
    }

    fn manager_node(&self) -> &DockerSpawner {
        &self.nodes[0].1
    }

    /// The R versions every node has a `rserve-base` for.
    pub async fn r_versions(&self) -> Result<Vec<String>, SpawnError> {
        let mut common = self.manager_node().r_versions().await?;
        for (_, node) in &self.nodes[1..] {
            let there = node.r_versions().await?;
            common.retain(|v| there.contains(v));
        }
        Ok(common)
    }

    fn unsupported(what: &str) -> SpawnError {
        SpawnError::NotOnSwarm(what.to_owned())
    }

    /// Builds the app's image on every node at once: the manager's progress
    /// as it is, the workers' steps named by their node.
    async fn build_everywhere(
        &self,
        spec: &AppSpec,
        progress: &(dyn Fn(DeployEvent) + Send + Sync),
    ) -> Result<(String, bool, bool), SpawnError> {
        let builds = self.nodes.iter().enumerate().map(|(i, (name, node))| {
            let named = move |event: DeployEvent| {
                if i == 0 {
                    progress(event);
                } else if let DeployEvent::Step(text) = event {
                    progress(DeployEvent::Step(format!("{name}: {text}")));
                }
            };
            async move {
                let base_id = node
                    .check_host_ready(spec)
                    .await
                    .map_err(|e| on_node(name, e))?;
                node.ensure_image(spec, &base_id, &named)
                    .await
                    .map_err(|e| on_node(name, e))
            }
        });
        let results = futures_util::future::join_all(builds).await;
        let mut first = None;
        for result in results {
            let built = result?;
            first.get_or_insert(built);
        }
        first.ok_or_else(|| Self::unsupported("a cluster without nodes"))
    }

    async fn current_service(
        &self,
        slug: &Slug,
    ) -> Result<Option<bollard::models::Service>, SpawnError> {
        match self
            .manager
            .inspect_service(&service_name(slug), None::<InspectServiceOptions>)
            .await
        {
            Ok(service) => Ok(Some(service)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(SpawnError::docker(format!("inspect the service of {slug}"))(e)),
        }
    }
}

/// A node's error, naming the node.
fn on_node(name: &str, e: SpawnError) -> SpawnError {
    SpawnError::OnNode {
        node: name.to_owned(),
        source: Box::new(e),
    }
}

#[async_trait::async_trait]
impl Spawner for SwarmSpawner {
    async fn deploy(
        &self,
        spec: &AppSpec,
        progress: &(dyn Fn(DeployEvent) + Send + Sync),
    ) -> Result<Deployed, SpawnError> {
        let clock = Instant::now();
        let (image_id, built, packages_reused) = self.build_everywhere(spec, progress).await?;
        let build_ms = clock.elapsed().as_millis() as u64;
        let image = context::app_image(spec);
        let containers = self
            .roll_out(
                ServiceVersion {
                    slug: &spec.slug,
                    image: &image,
                    image_labels: labels::app_labels(spec),
                    settings: &spec.settings,
                    secrets: &spec.secrets,
                    replicas: spec.settings.replicas,
                },
                progress,
            )
            .await?;
        Ok(Deployed {
            image,
            image_id,
            containers,
            replicas: spec.settings.replicas,
            replica_stem: String::new(),
            previous: Vec::new(),
            built,
            packages_reused,
            build_ms,
            rolled_out: true,
        })
    }

    async fn rollback(
        &self,
        slug: &Slug,
        image: &str,
        settings: &Settings,
        secrets: &SecretEnv,
        progress: &(dyn Fn(DeployEvent) + Send + Sync),
    ) -> Result<Deployed, SpawnError> {
        let (_, image_id, image_labels) = self.manager_node().kept_image(slug, image).await?;
        for (name, node) in &self.nodes[1..] {
            node.kept_image(slug, image)
                .await
                .map_err(|e| on_node(name, e))?;
        }
        progress(DeployEvent::Step(format!(
            "running the kept image {image} on every node, without building"
        )));
        let containers = self
            .roll_out(
                ServiceVersion {
                    slug,
                    image,
                    image_labels,
                    settings,
                    secrets,
                    replicas: settings.replicas,
                },
                progress,
            )
            .await?;
        Ok(Deployed {
            image: image.to_owned(),
            image_id,
            containers,
            replicas: settings.replicas,
            replica_stem: String::new(),
            previous: Vec::new(),
            built: false,
            packages_reused: true,
            build_ms: 0,
            rolled_out: true,
        })
    }

    async fn add_replica(
        &self,
        _slug: &Slug,
        _deployed: &Deployed,
        _settings: &Settings,
        _secrets: &SecretEnv,
        _progress: &(dyn Fn(DeployEvent) + Send + Sync),
    ) -> Result<ContainerRef, SpawnError> {
        Err(Self::unsupported(
            "adding replicas one by one (a service rolls out by itself)",
        ))
    }

    /// The kept images (every node has the same), the service's current one marked.
    async fn versions(&self, slug: &Slug) -> Result<Vec<Version>, SpawnError> {
        let mut versions = self.manager_node().versions(slug).await?;
        let current = self
            .current_service(slug)
            .await?
            .and_then(|s| s.spec)
            .and_then(|s| s.task_template)
            .and_then(|t| t.container_spec)
            .and_then(|c| c.image)
            .map(|image| image.split('@').next().unwrap_or(&image).to_owned());
        for version in &mut versions {
            version.current = current.as_deref() == Some(version.image.as_str());
        }
        Ok(versions)
    }

    async fn drain(&self, _container: &ContainerRef) -> Result<(), SpawnError> {
        Err(Self::unsupported(
            "draining a task (the swarm replaces tasks itself)",
        ))
    }

    async fn retire(&self, _container: &ContainerRef, _grace: Duration) -> Result<(), SpawnError> {
        Err(Self::unsupported(
            "retiring a task (the swarm replaces tasks itself)",
        ))
    }

    async fn prune(&self, slug: &Slug) -> Result<Vec<String>, SpawnError> {
        let mut removed = Vec::new();
        for (name, node) in &self.nodes {
            match node.prune(slug).await {
                Ok(images) => removed.extend(images),
                Err(SpawnError::NotFound(_)) => {}
                Err(e) => return Err(on_node(name, e)),
            }
        }
        removed.sort();
        removed.dedup();
        Ok(removed)
    }

    async fn start(&self, slug: &Slug) -> Result<(), SpawnError> {
        self.scale(slug, rollout::wanted_replicas).await
    }

    async fn stop(&self, slug: &Slug) -> Result<(), SpawnError> {
        self.scale(slug, |_| 0).await
    }

    /// A rolling restart: every task replaced, start-first, as by an update.
    async fn restart(&self, slug: &Slug) -> Result<(), SpawnError> {
        self.update(slug, "restart", |spec| {
            let task = spec.task_template.get_or_insert_with(Default::default);
            task.force_update = Some(task.force_update.unwrap_or(0) + 1);
        })
        .await
    }

    async fn remove(&self, slug: &Slug) -> Result<Removed, SpawnError> {
        let mut removed = Removed::default();
        let had_service = self.current_service(slug).await?.is_some();
        if had_service {
            self.manager
                .delete_service(&service_name(slug))
                .await
                .map_err(SpawnError::docker(format!("remove the service of {slug}")))?;
            removed.containers.push(service_name(slug));
        }
        // The tasks' containers go with the service, on each node in its time.
        let deadline = Instant::now() + service::STOP_GRACE + Duration::from_secs(30);
        while Instant::now() < deadline
            && self
                .containers(Some(slug))
                .await?
                .iter()
                .any(|(_, c)| c.state == Some(bollard::models::ContainerSummaryStateEnum::RUNNING))
        {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        self.remove_unused_token_configs(Some(slug)).await;
        self.remove_unused_secrets(slug).await;
        self.wall_down(slug).await?;
        let mut found = had_service;
        for (name, node) in &self.nodes {
            match node.remove(slug).await {
                Ok(there) => {
                    found = true;
                    removed.containers.extend(there.containers);
                    removed.images.extend(there.images);
                }
                Err(SpawnError::NotFound(_)) => {}
                Err(e) => return Err(on_node(name, e)),
            }
        }
        if !found {
            return Err(DockerSpawner::not_found(slug));
        }
        removed.images.sort();
        removed.images.dedup();
        Ok(removed)
    }

    async fn status(&self, slug: &Slug) -> Result<AppState, SpawnError> {
        self.apps(Some(slug))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| DockerSpawner::not_found(slug))
    }

    async fn list(&self) -> Result<Vec<AppState>, SpawnError> {
        self.apps(None).await
    }

    /// Every node's events, less the swarm's own replacements ([`events`]).
    fn events(
        &self,
        since_ms: i64,
        until_ms: Option<i64>,
    ) -> BoxStream<'static, Result<AppEvent, SpawnError>> {
        self.cluster_events(since_ms, until_ms)
    }

    /// A reading of a task's container, from the node it runs on (named in it).
    async fn stats(&self, container_id: &str) -> Result<Option<StatsReading>, SpawnError> {
        let Some((name, node)) = self.node_of(container_id).await else {
            return Ok(None);
        };
        let reading = crate::stats::container_stats(&node.docker, container_id).await?;
        Ok(reading.map(|r| StatsReading {
            node: Some(name.clone()),
            ..r
        }))
    }

    async fn host_time_ms(&self) -> Result<i64, SpawnError> {
        self.manager_node().host_time_ms().await
    }

    /// The cluster's memory: every node's.
    async fn host_memory_bytes(&self) -> Result<u64, SpawnError> {
        let mut total = 0;
        for (name, node) in &self.nodes {
            total += node
                .host_memory_bytes()
                .await
                .map_err(|e| on_node(name, e))?;
        }
        Ok(total)
    }

    /// The output of the app's newest container, on whichever node it runs.
    async fn logs(
        &self,
        slug: &Slug,
        tail: usize,
        follow: bool,
    ) -> Result<BoxStream<'static, Result<LogLine, SpawnError>>, SpawnError> {
        let newest = self
            .containers(Some(slug))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| DockerSpawner::not_found(slug))?;
        let (name, _) = newest;
        let node = self
            .nodes
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, node)| node)
            .ok_or_else(|| DockerSpawner::not_found(slug))?;
        node.logs(slug, tail, follow).await
    }
}
