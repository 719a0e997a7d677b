//! The Docker Engine backend of the spawner: builds images from in-memory
//! contexts, runs app containers on the Traefik network with our labels, and
//! switches versions only once the new container is healthy.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::body_full;
use bollard::models::{
    ContainerCreateBody, ContainerSummary, HealthStatusEnum, HostConfig, HostConfigLogConfig,
    RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateContainerOptionsBuilder, ListContainersOptionsBuilder,
    ListImagesOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveImageOptionsBuilder, RestartContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use futures_util::stream::{BoxStream, StreamExt};

use crate::error::{SpawnError, is_not_found};
use crate::state::{AppState, ContainerState, DeployEvent, Deployed, LogLine, LogStream, Removed};
use crate::{context, labels, spec::AppSpec, spec::Slug};

/// How the Docker backend places and checks app containers.
#[derive(Debug, Clone)]
pub struct DockerConfig {
    /// The network Traefik watches; app containers join it.
    pub network: String,
    /// The network build steps run on (so a repository served on it resolves); `None` for Docker's default.
    pub build_network: Option<String>,
    /// How long a new container may take to pass its health check.
    pub health_timeout: Duration,
    /// How many images of each app to keep for rollbacks.
    pub keep_images: usize,
    /// How long old and new containers serve side by side after the new one is
    /// healthy, so the router picks up the new one before the old one goes.
    pub switch_grace: Duration,
}

impl DockerConfig {
    pub fn new(network: impl Into<String>) -> Self {
        Self {
            network: network.into(),
            build_network: None,
            health_timeout: Duration::from_secs(60),
            keep_images: 3,
            switch_grace: Duration::from_secs(3),
        }
    }
}

/// The spawner over one Docker Engine.
#[derive(Debug, Clone)]
pub struct DockerSpawner {
    docker: Docker,
    config: DockerConfig,
}

/// Lines of a failed build or container log kept for the error message.
const TAIL_LINES: usize = 15;

impl DockerSpawner {
    pub fn new(docker: Docker, config: DockerConfig) -> Self {
        Self { docker, config }
    }

    async fn image_id(&self, reference: &str) -> Result<Option<String>, SpawnError> {
        match self.docker.inspect_image(reference).await {
            Ok(image) => Ok(image.id),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(SpawnError::docker(format!("inspect image {reference}"))(e)),
        }
    }

    /// Refuses early, before anything is built, when the host lacks the base image or the network.
    async fn check_host_ready(&self, spec: &AppSpec) -> Result<(), SpawnError> {
        if self.image_id(&context::base_image(spec)).await?.is_none() {
            return Err(SpawnError::RVersionUnavailable {
                version: spec.r_version.to_string(),
                available: self.r_versions().await?,
            });
        }
        match self
            .docker
            .inspect_network(&self.config.network, None)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => {
                Err(SpawnError::NetworkMissing(self.config.network.clone()))
            }
            Err(e) => Err(SpawnError::docker("inspect the network")(e)),
        }
    }

    /// The R versions this host has a `rserve-base` image for.
    pub async fn r_versions(&self) -> Result<Vec<String>, SpawnError> {
        let images = self
            .images_where("reference", vec!["rserve-base".to_owned()])
            .await?;
        let mut versions: Vec<String> = images
            .iter()
            .flat_map(|i| &i.repo_tags)
            .filter_map(|t| t.strip_prefix("rserve-base:"))
            .map(str::to_owned)
            .collect();
        versions.sort();
        versions.dedup();
        Ok(versions)
    }

    /// Runs one image build, streaming its output, and returns the new image's id.
    async fn build(
        &self,
        what: &str,
        tag: &str,
        tar: Vec<u8>,
        image_labels: HashMap<String, String>,
        progress: &(dyn Fn(DeployEvent) + Send + Sync),
    ) -> Result<String, SpawnError> {
        let mut options = BuildImageOptionsBuilder::default()
            .dockerfile("Dockerfile")
            .t(tag)
            .rm(true)
            .forcerm(true)
            .labels(&image_labels);
        if let Some(network) = &self.config.build_network {
            options = options.networkmode(network);
        }
        let mut stream =
            self.docker
                .build_image(options.build(), None, Some(body_full(tar.into())));
        let mut tail: Vec<String> = Vec::new();
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| SpawnError::BuildFailed {
                what: what.to_owned(),
                message: e.to_string(),
                log_tail: tail.clone(),
            })?;
            if let Some(text) = info.stream {
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    progress(DeployEvent::BuildLog(line.to_owned()));
                    if tail.len() == TAIL_LINES {
                        tail.remove(0);
                    }
                    tail.push(line.to_owned());
                }
            }
            if let Some(message) = info.error_detail.and_then(|d| d.message) {
                return Err(SpawnError::BuildFailed {
                    what: what.to_owned(),
                    message,
                    log_tail: tail,
                });
            }
        }
        self.image_id(tag)
            .await?
            .ok_or_else(|| SpawnError::BuildFailed {
                what: what.to_owned(),
                message: format!("Docker reported no image {tag} after the build"),
                log_tail: tail,
            })
    }

    /// Builds the packages layer (unless it exists) and the code layer (unless it exists).
    /// Returns the app image's id, whether it was built, and whether packages were reused.
    async fn ensure_image(
        &self,
        spec: &AppSpec,
        progress: &(dyn Fn(DeployEvent) + Send + Sync),
    ) -> Result<(String, bool, bool), SpawnError> {
        let app_image = context::app_image(spec);
        if let Some(id) = self.image_id(&app_image).await? {
            progress(DeployEvent::Step(format!(
                "image {app_image} is up to date, not rebuilding"
            )));
            return Ok((id, false, true));
        }
        let mut packages_reused = true;
        if let Some(packages_image) = context::packages_image(spec) {
            if self.image_id(&packages_image).await?.is_some() {
                progress(DeployEvent::Step(format!(
                    "reusing packages layer {packages_image}"
                )));
            } else {
                packages_reused = false;
                progress(DeployEvent::Step(format!(
                    "building packages layer {packages_image} ({})",
                    spec.packages()
                        .iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
                let tar = context::dockerfile_only(&context::packages_dockerfile(spec))?;
                self.build(
                    "the packages layer",
                    &packages_image,
                    tar,
                    labels::packages_labels(spec),
                    progress,
                )
                .await?;
            }
        }
        progress(DeployEvent::Step(format!(
            "building code layer {app_image}"
        )));
        let id = self
            .build(
                "the app image",
                &app_image,
                context::app_context(spec)?,
                labels::app_labels(spec),
                progress,
            )
            .await?;
        Ok((id, true, packages_reused))
    }

    /// Our app containers carrying `extra` labels too, newest first.
    async fn app_containers(
        &self,
        extra: &[(&str, &str)],
    ) -> Result<Vec<ContainerSummary>, SpawnError> {
        let label_filters = labels::ours(labels::Role::App, extra);
        let filters = HashMap::from([("label".to_owned(), label_filters)]);
        let mut list = self
            .docker
            .list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await
            .map_err(SpawnError::docker("list containers"))?;
        list.sort_by_key(|c| std::cmp::Reverse(c.created.unwrap_or(0)));
        Ok(list)
    }

    /// The containers of an app, newest first, found by one of its labels.
    async fn containers(
        &self,
        label: &str,
        value: &str,
    ) -> Result<Vec<ContainerSummary>, SpawnError> {
        self.app_containers(&[(label, value)]).await
    }

    async fn containers_of(&self, slug: &Slug) -> Result<Vec<ContainerSummary>, SpawnError> {
        self.containers(labels::SLUG, slug.as_str()).await
    }

    fn container_spec(&self, spec: &AppSpec, image: &str) -> ContainerCreateBody {
        let mut all_labels = labels::app_labels(spec);
        all_labels.extend(labels::traefik_labels(&spec.slug, &self.config.network));
        ContainerCreateBody {
            image: Some(image.to_owned()),
            labels: Some(all_labels),
            host_config: Some(HostConfig {
                network_mode: Some(self.config.network.clone()),
                restart_policy: Some(RestartPolicy {
                    name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                    maximum_retry_count: None,
                }),
                log_config: Some(HostConfigLogConfig {
                    typ: Some("json-file".to_owned()),
                    config: Some(HashMap::from([
                        ("max-size".to_owned(), "10m".to_owned()),
                        ("max-file".to_owned(), "3".to_owned()),
                    ])),
                }),
                readonly_rootfs: Some(true),
                tmpfs: Some(HashMap::from([(
                    "/tmp".to_owned(),
                    "rw,noexec,nosuid,size=256m".to_owned(),
                )])),
                cap_drop: Some(vec!["ALL".to_owned()]),
                security_opt: Some(vec!["no-new-privileges:true".to_owned()]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Waits until the container passes its health check, or says why it never did.
    async fn wait_healthy(&self, slug: &Slug, id: &str) -> Result<(), SpawnError> {
        let deadline = Instant::now() + self.config.health_timeout;
        loop {
            let inspected = self
                .docker
                .inspect_container(id, None)
                .await
                .map_err(SpawnError::docker("inspect the new container"))?;
            let state = inspected.state.unwrap_or_default();
            let health = state.health.as_ref().and_then(|h| h.status);
            let reason = match (state.running, health) {
                (Some(true), Some(HealthStatusEnum::HEALTHY))
                | (Some(true), Some(HealthStatusEnum::NONE) | None) => return Ok(()),
                (Some(true), Some(HealthStatusEnum::UNHEALTHY)) => {
                    Some("its health check failed".to_owned())
                }
                (Some(true), _) => None,
                _ if state.restarting == Some(true) || state.status.is_some() => Some(format!(
                    "it stopped with exit code {}",
                    state.exit_code.unwrap_or_default()
                )),
                _ => None,
            };
            let reason = reason.or_else(|| {
                (Instant::now() >= deadline).then(|| {
                    format!(
                        "it was not healthy after {} s",
                        self.config.health_timeout.as_secs()
                    )
                })
            });
            if let Some(reason) = reason {
                return Err(SpawnError::Unhealthy {
                    slug: slug.to_string(),
                    reason,
                    log_tail: self.log_tail(id).await,
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn log_tail(&self, id: &str) -> Vec<String> {
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail(&TAIL_LINES.to_string())
            .build();
        self.docker
            .logs(id, Some(options))
            .filter_map(|line| async move { line.ok() })
            .map(|line| line.to_string().trim_end().to_owned())
            .collect()
            .await
    }

    async fn remove_container(&self, id: &str) -> Result<(), SpawnError> {
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match self.docker.remove_container(id, Some(options)).await {
            Err(e) if !is_not_found(&e) => {
                Err(SpawnError::docker(format!("remove container {id}"))(e))
            }
            _ => Ok(()),
        }
    }

    async fn remove_image(&self, reference: &str) -> Result<bool, SpawnError> {
        let options = RemoveImageOptionsBuilder::default().build();
        match self
            .docker
            .remove_image(reference, Some(options), None)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(SpawnError::docker(format!("remove image {reference}"))(e)),
        }
    }

    async fn images(
        &self,
        label_filters: Vec<String>,
    ) -> Result<Vec<bollard::models::ImageSummary>, SpawnError> {
        self.images_where("label", label_filters).await
    }

    /// Images matching one Docker filter (`label`, `reference`, …), newest first.
    async fn images_where(
        &self,
        filter: &str,
        values: Vec<String>,
    ) -> Result<Vec<bollard::models::ImageSummary>, SpawnError> {
        let filters = HashMap::from([(filter.to_owned(), values)]);
        let mut images = self
            .docker
            .list_images(Some(
                ListImagesOptionsBuilder::default()
                    .filters(&filters)
                    .build(),
            ))
            .await
            .map_err(SpawnError::docker("list images"))?;
        images.sort_by_key(|i| std::cmp::Reverse(i.created));
        Ok(images)
    }

    /// Removes an app's images beyond the newest `keep`, never one a container uses.
    async fn prune_app_images(&self, app_id: &str, keep: usize) -> Result<Vec<String>, SpawnError> {
        let in_use: Vec<String> = self
            .containers(labels::APP_ID, app_id)
            .await?
            .into_iter()
            .filter_map(|c| c.image_id)
            .collect();
        let images = self
            .images(labels::ours(labels::Role::App, &[(labels::APP_ID, app_id)]))
            .await?;
        let mut removed = Vec::new();
        for image in images.into_iter().skip(keep) {
            if !in_use.contains(&image.id) && self.remove_image(&image.id).await? {
                removed.extend(image.repo_tags);
            }
        }
        Ok(removed)
    }

    /// Removes packages layers that no app image builds on any more.
    async fn prune_packages_images(&self) -> Result<Vec<String>, SpawnError> {
        let used: Vec<String> = self
            .images(labels::ours(labels::Role::App, &[]))
            .await?
            .into_iter()
            .filter_map(|i| i.labels.get(labels::PACKAGES_KEY).cloned())
            .collect();
        let mut removed = Vec::new();
        for image in self
            .images(labels::ours(labels::Role::Packages, &[]))
            .await?
        {
            let key = image.labels.get(labels::PACKAGES_KEY);
            if !key.is_some_and(|k| used.contains(k)) && self.remove_image(&image.id).await? {
                removed.extend(image.repo_tags);
            }
        }
        Ok(removed)
    }

    /// The id of the container that serves (or last served) the app.
    async fn current_id(&self, slug: &Slug) -> Result<String, SpawnError> {
        self.containers_of(slug)
            .await?
            .into_iter()
            .find_map(|c| c.id)
            .ok_or_else(|| Self::not_found(slug))
    }

    fn not_found(slug: &Slug) -> SpawnError {
        SpawnError::NotFound(slug.to_string())
    }
}

/// Docker answers 304 when a container is already started or stopped: that is success.
fn already_in_that_state(e: bollard::errors::Error) -> Result<(), bollard::errors::Error> {
    match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code: 304, ..
        } => Ok(()),
        e => Err(e),
    }
}

fn summary_to_state(c: &ContainerSummary) -> ContainerState {
    let detail = c.status.clone().unwrap_or_default();
    let health = ["unhealthy", "healthy", "health: starting"]
        .into_iter()
        .find(|h| detail.contains(&format!("({h})")))
        .map(|h| h.trim_start_matches("health: ").to_owned());
    ContainerState {
        id: c.id.clone().unwrap_or_default(),
        name: c
            .names
            .as_ref()
            .and_then(|n| n.first())
            .map(|n| n.trim_start_matches('/').to_owned())
            .unwrap_or_default(),
        image: c.image.clone().unwrap_or_default(),
        state: c.state.map(|s| s.to_string()).unwrap_or_default(),
        health,
        detail,
        created: c.created.unwrap_or_default(),
    }
}

fn group_into_apps(containers: &[ContainerSummary]) -> Vec<AppState> {
    let mut by_app: Vec<AppState> = Vec::new();
    for c in containers {
        let labels = c.labels.clone().unwrap_or_default();
        let state = summary_to_state(c);
        let app_id = labels.get(labels::APP_ID);
        match by_app.iter_mut().find(|a| Some(&a.app_id) == app_id) {
            Some(app) => app.containers.push(state),
            None => by_app.extend(AppState::from_labels(&labels, vec![state])),
        }
    }
    by_app.sort_by(|a, b| a.slug.cmp(&b.slug));
    by_app
}

#[async_trait::async_trait]
impl crate::Spawner for DockerSpawner {
    async fn deploy(
        &self,
        spec: &AppSpec,
        progress: &(dyn Fn(DeployEvent) + Send + Sync),
    ) -> Result<Deployed, SpawnError> {
        self.check_host_ready(spec).await?;
        let build_clock = Instant::now();
        let (image_id, built, packages_reused) = self.ensure_image(spec, progress).await?;
        let build_ms = build_clock.elapsed().as_millis() as u64;
        let existing = self.containers(labels::APP_ID, &spec.app_id).await?;
        let image = context::app_image(spec);

        if let Some(same) = existing
            .iter()
            .find(|c| c.image_id.as_deref() == Some(&image_id))
        {
            let id = same.id.clone().unwrap_or_default();
            let state = summary_to_state(same);
            if state.state != "running" {
                progress(DeployEvent::Step(format!(
                    "starting the existing container {}",
                    state.name
                )));
                self.docker
                    .start_container(
                        &id,
                        None::<bollard::query_parameters::StartContainerOptions>,
                    )
                    .await
                    .map_err(SpawnError::docker("start the container"))?;
            } else {
                progress(DeployEvent::Step(
                    "this version is already running".to_owned(),
                ));
            }
            self.wait_healthy(&spec.slug, &id).await?;
            return Ok(Deployed {
                image,
                image_id,
                container_id: id,
                built,
                packages_reused,
                build_ms,
                replaced: vec![],
            });
        }

        let name = format!(
            "rserve-desk-{}-{}",
            spec.slug,
            &image_id.trim_start_matches("sha256:")[..12]
        );
        progress(DeployEvent::Step(format!("starting container {name}")));
        let created = self
            .docker
            .create_container(
                Some(CreateContainerOptionsBuilder::default().name(&name).build()),
                self.container_spec(spec, &image),
            )
            .await
            .map_err(SpawnError::docker("create the container"))?;
        let started = self
            .docker
            .start_container(
                &created.id,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
            .map_err(SpawnError::docker("start the container"));
        let healthy = match started {
            Ok(()) => {
                progress(DeployEvent::Step("waiting for the health check".to_owned()));
                self.wait_healthy(&spec.slug, &created.id).await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = healthy {
            self.remove_container(&created.id).await?;
            return Err(e);
        }

        let mut replaced = Vec::new();
        if !existing.is_empty() {
            progress(DeployEvent::Step(
                "new version healthy; letting the router pick it up before the old one goes"
                    .to_owned(),
            ));
            tokio::time::sleep(self.config.switch_grace).await;
        }
        for old in existing {
            let id = old.id.unwrap_or_default();
            progress(DeployEvent::Step(format!(
                "removing the previous container {}",
                &id[..12.min(id.len())]
            )));
            self.remove_container(&id).await?;
            replaced.push(id);
        }
        self.prune_app_images(&spec.app_id, self.config.keep_images)
            .await?;
        Ok(Deployed {
            image,
            image_id,
            container_id: created.id,
            built,
            packages_reused,
            build_ms,
            replaced,
        })
    }

    async fn start(&self, slug: &Slug) -> Result<(), SpawnError> {
        let id = self.current_id(slug).await?;
        self.docker
            .start_container(
                &id,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
            .or_else(already_in_that_state)
            .map_err(SpawnError::docker(format!("start {slug}")))
    }

    async fn stop(&self, slug: &Slug) -> Result<(), SpawnError> {
        let current = self.containers_of(slug).await?;
        if current.is_empty() {
            return Err(Self::not_found(slug));
        }
        for c in current {
            let id = c.id.unwrap_or_default();
            self.docker
                .stop_container(
                    &id,
                    Some(StopContainerOptionsBuilder::default().t(10).build()),
                )
                .await
                .or_else(already_in_that_state)
                .map_err(SpawnError::docker(format!("stop {slug}")))?;
        }
        Ok(())
    }

    async fn restart(&self, slug: &Slug) -> Result<(), SpawnError> {
        let id = self.current_id(slug).await?;
        self.docker
            .restart_container(
                &id,
                Some(RestartContainerOptionsBuilder::default().t(10).build()),
            )
            .await
            .map_err(SpawnError::docker(format!("restart {slug}")))
    }

    async fn remove(&self, slug: &Slug) -> Result<Removed, SpawnError> {
        let current = self.containers_of(slug).await?;
        let app_ids: Vec<String> = current
            .iter()
            .filter_map(|c| c.labels.as_ref()?.get(labels::APP_ID).cloned())
            .collect();
        let app_images = self
            .images(labels::ours(
                labels::Role::App,
                &[(labels::SLUG, slug.as_str())],
            ))
            .await?;
        if current.is_empty() && app_images.is_empty() {
            return Err(Self::not_found(slug));
        }
        let mut removed = Removed::default();
        for c in current {
            let id = c.id.unwrap_or_default();
            self.remove_container(&id).await?;
            removed.containers.push(id);
        }
        for app_id in app_ids {
            removed
                .images
                .extend(self.prune_app_images(&app_id, 0).await?);
        }
        for image in app_images {
            if self.remove_image(&image.id).await? {
                removed.images.extend(image.repo_tags);
            }
        }
        removed.images.extend(self.prune_packages_images().await?);
        Ok(removed)
    }

    async fn status(&self, slug: &Slug) -> Result<AppState, SpawnError> {
        group_into_apps(&self.containers_of(slug).await?)
            .into_iter()
            .next()
            .ok_or_else(|| Self::not_found(slug))
    }

    async fn list(&self) -> Result<Vec<AppState>, SpawnError> {
        Ok(group_into_apps(&self.app_containers(&[]).await?))
    }

    fn events(
        &self,
        since_ms: i64,
        until_ms: Option<i64>,
    ) -> BoxStream<'static, Result<crate::AppEvent, SpawnError>> {
        crate::events::app_events(&self.docker, since_ms, until_ms)
    }

    fn stats(
        &self,
        container_id: &str,
    ) -> BoxStream<'static, Result<crate::StatsSample, SpawnError>> {
        crate::stats::container_stats(&self.docker, container_id)
    }

    async fn host_time_ms(&self) -> Result<i64, SpawnError> {
        let info = self
            .docker
            .info()
            .await
            .map_err(SpawnError::docker("report its time"))?;
        let text = info.system_time.unwrap_or_default();
        crate::time::parse_rfc3339_ms(&text).ok_or(SpawnError::Unreadable {
            what: "clock".to_owned(),
            value: text,
        })
    }

    async fn logs(
        &self,
        slug: &Slug,
        tail: usize,
        follow: bool,
    ) -> Result<BoxStream<'static, Result<LogLine, SpawnError>>, SpawnError> {
        let id = self.current_id(slug).await?;
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .follow(follow)
            .tail(&tail.to_string())
            .build();
        let docker = self.docker.clone();
        let stream = async_stream_logs(docker, id, options);
        Ok(stream)
    }
}

fn async_stream_logs(
    docker: Docker,
    id: String,
    options: bollard::query_parameters::LogsOptions,
) -> BoxStream<'static, Result<LogLine, SpawnError>> {
    use bollard::container::LogOutput;
    futures_util::stream::once(async move { docker.logs(&id, Some(options)) })
        .flatten()
        .map(|item| {
            let output = item.map_err(SpawnError::docker("read the logs"))?;
            let (stream, bytes) = match output {
                LogOutput::StdErr { message } => (LogStream::Stderr, message),
                LogOutput::StdOut { message }
                | LogOutput::Console { message }
                | LogOutput::StdIn { message } => (LogStream::Stdout, message),
            };
            Ok(LogLine {
                stream,
                text: String::from_utf8_lossy(&bytes).trim_end().to_owned(),
            })
        })
        .boxed()
}
