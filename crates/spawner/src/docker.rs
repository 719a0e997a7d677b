//! The Docker Engine backend of the spawner: builds images from in-memory
//! contexts, runs app containers on the Traefik network with our labels, and
//! lists, stops, removes and prunes them (the switch between versions is
//! `rollout`'s).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::body_full;
use bollard::models::ContainerSummary;
use bollard::query_parameters::{
    BuildImageOptionsBuilder, ListContainersOptionsBuilder, ListImagesOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
    RestartContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use futures_util::stream::{BoxStream, StreamExt};

use crate::error::{SpawnError, is_conflict, is_not_found};
use crate::rollout::Version;
use crate::settings::{SecretEnv, Settings};
use crate::state::{
    AppState, ContainerRef, ContainerState, DeployEvent, Deployed, LogLine, LogStream, Removed,
    Version as AppVersion,
};
use crate::{context, labels, spec::AppSpec, spec::Slug};

/// How the Docker backend places and checks app containers.
#[derive(Debug, Clone)]
pub struct DockerConfig {
    /// The network app containers join (Traefik's label names it).
    pub network: String,
    /// The network build steps run on (so a repository served on it resolves,
    /// while the apps' network is out of reach); `None` for Docker's default.
    pub build_network: Option<String>,
    /// The host's own public name (checked: a DNS name or an IP address);
    /// apps' path routes answer only under it.
    pub public_host: Option<String>,
    /// How long a new container may take to pass its health check.
    pub health_timeout: Duration,
    /// How often Docker runs a container's health check (Docker 20.10 has no
    /// faster start-up interval, so this one serves both joining and draining).
    pub health_interval: Duration,
    /// Failed checks in a row before Docker calls a container unhealthy.
    pub health_retries: u32,
    /// How many images of each app to keep for rollbacks.
    pub keep_images: usize,
    /// Traefik's certificate resolver for apps' own domains, when the host has one.
    pub cert_resolver: Option<String>,
}

impl DockerConfig {
    pub fn new(network: impl Into<String>) -> Self {
        Self {
            network: network.into(),
            build_network: None,
            public_host: None,
            health_timeout: Duration::from_secs(60),
            health_interval: Duration::from_millis(500),
            health_retries: 3,
            keep_images: 3,
            cert_resolver: None,
        }
    }
}

/// The spawner over one Docker Engine.
#[derive(Debug, Clone)]
pub struct DockerSpawner {
    pub(crate) docker: Docker,
    pub(crate) config: DockerConfig,
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

    /// The image's id when it exists and was built on the base image `base_id`
    /// (so a new `rserve-base`, e.g. a new start-up script, reaches every app
    /// on its next deploy).
    async fn image_built_on(
        &self,
        reference: &str,
        base_id: &str,
    ) -> Result<Option<String>, SpawnError> {
        match self.docker.inspect_image(reference).await {
            Ok(image) => {
                let on = image
                    .config
                    .and_then(|c| c.labels)
                    .and_then(|l| l.get(labels::BASE_ID).cloned());
                Ok(image.id.filter(|_| on.as_deref() == Some(base_id)))
            }
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(SpawnError::docker(format!("inspect image {reference}"))(e)),
        }
    }

    /// Refuses early, before anything is built, when the host lacks the base image or a network.
    async fn check_host_ready(&self, spec: &AppSpec) -> Result<(), SpawnError> {
        if self.image_id(&context::base_image(spec)).await?.is_none() {
            return Err(SpawnError::RVersionUnavailable {
                version: spec.r_version.to_string(),
                available: self.r_versions().await?,
            });
        }
        let networks = std::iter::once(&self.config.network).chain(&self.config.build_network);
        for network in networks {
            match self.docker.inspect_network(network, None).await {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => {
                    return Err(SpawnError::NetworkMissing(network.clone()));
                }
                Err(e) => return Err(SpawnError::docker("inspect the network")(e)),
            }
        }
        Ok(())
    }

    /// Refuses, before anything is built or started, an own domain another
    /// app of this host already answers under.
    async fn check_domain_free(&self, slug: &Slug, settings: &Settings) -> Result<(), SpawnError> {
        let Some(domain) = &settings.domain else {
            return Ok(());
        };
        for c in self.app_containers(&[]).await? {
            let labels = c.labels.unwrap_or_default();
            let other = labels.get(labels::SLUG).map(String::as_str);
            let theirs = labels
                .get(labels::SETTINGS)
                .map(|raw| Settings::from_label_value(raw))
                .and_then(|s| s.domain);
            if let (Some(other), Some(theirs)) = (other, theirs)
                && other != slug.as_str()
                && theirs == *domain
            {
                return Err(SpawnError::DomainTaken {
                    domain: domain.as_str().to_owned(),
                    other: other.to_owned(),
                });
            }
        }
        Ok(())
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
        progress: &(dyn Fn(DeployEvent) + Send + Sync),
    ) -> Result<String, SpawnError> {
        let mut options = BuildImageOptionsBuilder::default()
            .dockerfile("Dockerfile")
            .t(tag)
            .rm(true)
            .forcerm(true);
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
        let base_id = self
            .image_id(&context::base_image(spec))
            .await?
            .unwrap_or_default();
        let app_image = context::app_image(spec);
        if let Some(id) = self.image_built_on(&app_image, &base_id).await? {
            progress(DeployEvent::Step(format!(
                "image {app_image} is up to date, not rebuilding"
            )));
            return Ok((id, false, true));
        }
        let packages_image = context::packages_image(spec);
        let mut packages_reused = true;
        // A removal of another app may take a packages layer no image uses
        // yet, between its build and the code layer's: then once more.
        let mut retried = false;
        loop {
            if let Some(packages_image) = &packages_image {
                if self
                    .image_built_on(packages_image, &base_id)
                    .await?
                    .is_some()
                {
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
                    let tar =
                        context::dockerfile_only(&context::packages_dockerfile(spec, &base_id))?;
                    self.build("the packages layer", packages_image, tar, progress)
                        .await?;
                }
            }
            progress(DeployEvent::Step(format!(
                "building code layer {app_image}"
            )));
            let built = self
                .build(
                    "the app image",
                    &app_image,
                    context::app_context(spec, &base_id)?,
                    progress,
                )
                .await;
            match (built, &packages_image) {
                (Ok(id), _) => return Ok((id, true, packages_reused)),
                (Err(e), Some(packages_image))
                    if !retried
                        && self
                            .image_built_on(packages_image, &base_id)
                            .await?
                            .is_none() =>
                {
                    retried = true;
                    progress(DeployEvent::Step(format!(
                        "the packages layer {packages_image} went away while building ({e}); building it again"
                    )));
                }
                (Err(e), _) => return Err(e),
            }
        }
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
    pub(crate) async fn containers(
        &self,
        label: &str,
        value: &str,
    ) -> Result<Vec<ContainerSummary>, SpawnError> {
        self.app_containers(&[(label, value)]).await
    }

    async fn containers_of(&self, slug: &Slug) -> Result<Vec<ContainerSummary>, SpawnError> {
        self.containers(labels::SLUG, slug.as_str()).await
    }

    pub(crate) async fn log_tail(&self, id: &str) -> Vec<String> {
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

    pub(crate) async fn remove_container(&self, id: &str) -> Result<(), SpawnError> {
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
        self.remove_image_if(reference, false).await
    }

    /// Removes an image; with `keep_in_use`, an image something now builds
    /// on or runs (Docker's 409) is kept instead of being an error.
    async fn remove_image_if(
        &self,
        reference: &str,
        keep_in_use: bool,
    ) -> Result<bool, SpawnError> {
        let options = RemoveImageOptionsBuilder::default().build();
        match self
            .docker
            .remove_image(reference, Some(options), None)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) if keep_in_use && is_conflict(&e) => Ok(false),
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

    /// Removes packages layers that no app image builds on any more. Only
    /// tagged ones: the untagged images of a build in progress carry the
    /// packages labels they inherit, and removing them breaks that build.
    /// A layer another app's deploy is building on right now (Docker says it
    /// is in use) is kept: it is about to be used again.
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
            let tagged = image.repo_tags.iter().any(|t| t != "<none>:<none>");
            if tagged
                && !key.is_some_and(|k| used.contains(k))
                && self.remove_image_if(&image.id, true).await?
            {
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

    /// The replicas of the app's newest version: the containers running its newest container's image.
    async fn replica_ids(&self, slug: &Slug) -> Result<Vec<String>, SpawnError> {
        let all = self.containers_of(slug).await?;
        let newest = all
            .first()
            .map(|c| c.image_id.clone())
            .ok_or_else(|| Self::not_found(slug))?;
        Ok(all
            .into_iter()
            .filter(|c| c.image_id == newest)
            .filter_map(|c| c.id)
            .collect())
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

pub(crate) fn summary_to_state(c: &ContainerSummary) -> ContainerState {
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

impl DockerSpawner {
    /// A kept image of the app: its app id, image id and labels; refused
    /// unless the image is one of this app's.
    async fn kept_image(
        &self,
        slug: &Slug,
        image: &str,
    ) -> Result<(String, String, HashMap<String, String>), SpawnError> {
        let no_such_version = || SpawnError::NoSuchVersion {
            slug: slug.to_string(),
            version: image.to_owned(),
        };
        let inspected = match self.docker.inspect_image(image).await {
            Ok(i) => i,
            Err(e) if is_not_found(&e) => return Err(no_such_version()),
            Err(e) => return Err(SpawnError::docker(format!("inspect image {image}"))(e)),
        };
        let image_labels = inspected.config.and_then(|c| c.labels).unwrap_or_default();
        let ours = image_labels.get(labels::ROLE).map(String::as_str) == Some("app")
            && image_labels.get(labels::SLUG).map(String::as_str) == Some(slug.as_str());
        match (
            image_labels.get(labels::APP_ID).cloned(),
            inspected.id,
            ours,
        ) {
            (Some(app_id), Some(image_id), true) => Ok((app_id, image_id, image_labels)),
            _ => Err(no_such_version()),
        }
    }
}

#[async_trait::async_trait]
impl crate::Spawner for DockerSpawner {
    async fn deploy(
        &self,
        spec: &AppSpec,
        progress: &(dyn Fn(DeployEvent) + Send + Sync),
    ) -> Result<Deployed, SpawnError> {
        self.check_host_ready(spec).await?;
        self.check_domain_free(&spec.slug, &spec.settings).await?;
        let build_clock = Instant::now();
        let (image_id, built, packages_reused) = self.ensure_image(spec, progress).await?;
        let build_ms = build_clock.elapsed().as_millis() as u64;
        let image = context::app_image(spec);
        let started = self
            .start_version(
                Version {
                    slug: &spec.slug,
                    app_id: &spec.app_id,
                    image: &image,
                    image_id: &image_id,
                    image_labels: labels::app_labels(spec),
                    settings: &spec.settings,
                    secrets: &spec.secrets,
                },
                progress,
            )
            .await;
        let started = match started {
            Ok(started) => started,
            Err(e) => {
                if built {
                    // The version never served: its image goes too. Why it
                    // failed is what the user needs to hear; should removing
                    // fail, the next deploy's pruning takes the image.
                    let _removed = self.remove_image(&image).await;
                }
                return Err(e);
            }
        };
        Ok(Deployed {
            image,
            image_id,
            containers: started.containers,
            replicas: spec.settings.replicas,
            replica_stem: started.replica_stem,
            previous: started.previous,
            built,
            packages_reused,
            build_ms,
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
        self.check_domain_free(slug, settings).await?;
        let (app_id, image_id, image_labels) = self.kept_image(slug, image).await?;
        progress(DeployEvent::Step(format!(
            "running the kept image {image}, without building"
        )));
        let started = self
            .start_version(
                Version {
                    slug,
                    app_id: &app_id,
                    image,
                    image_id: &image_id,
                    image_labels: image_labels.clone(),
                    settings,
                    secrets,
                },
                progress,
            )
            .await?;
        Ok(Deployed {
            image: image.to_owned(),
            image_id,
            containers: started.containers,
            replicas: settings.replicas,
            replica_stem: started.replica_stem,
            previous: started.previous,
            built: false,
            packages_reused: true,
            build_ms: 0,
        })
    }

    async fn add_replica(
        &self,
        slug: &Slug,
        deployed: &Deployed,
        settings: &Settings,
        secrets: &SecretEnv,
        progress: &(dyn Fn(DeployEvent) + Send + Sync),
    ) -> Result<ContainerRef, SpawnError> {
        let (app_id, image_id, image_labels) = self.kept_image(slug, &deployed.image).await?;
        let replica = u8::try_from(deployed.containers.len() + 1).unwrap_or(u8::MAX);
        self.start_replica(
            &Version {
                slug,
                app_id: &app_id,
                image: &deployed.image,
                image_id: &image_id,
                image_labels,
                settings,
                secrets,
            },
            &deployed.replica_stem,
            replica,
            progress,
        )
        .await
    }

    async fn versions(&self, slug: &Slug) -> Result<Vec<AppVersion>, SpawnError> {
        let running: Vec<String> = self
            .containers_of(slug)
            .await?
            .into_iter()
            .filter(|c| c.state == Some(bollard::models::ContainerSummaryStateEnum::RUNNING))
            .filter_map(|c| c.image_id)
            .collect();
        let images = self
            .images(labels::ours(
                labels::Role::App,
                &[(labels::SLUG, slug.as_str())],
            ))
            .await?;
        if images.is_empty() {
            return Err(Self::not_found(slug));
        }
        Ok(images
            .into_iter()
            .map(|i| AppVersion {
                image: i.repo_tags.first().cloned().unwrap_or_else(|| i.id.clone()),
                code_hash: i.labels.get(labels::CODE_HASH).cloned().unwrap_or_default(),
                created: i.created,
                current: running.contains(&i.id),
                image_id: i.id,
            })
            .collect())
    }

    async fn drain(&self, container: &ContainerRef) -> Result<(), SpawnError> {
        self.drain_container(&container.id).await
    }

    async fn retire(&self, container: &ContainerRef, grace: Duration) -> Result<(), SpawnError> {
        self.retire_container(&container.id, grace).await
    }

    async fn prune(&self, slug: &Slug) -> Result<Vec<String>, SpawnError> {
        let mut removed = Vec::new();
        let mut app_ids: Vec<String> = self
            .containers_of(slug)
            .await?
            .iter()
            .filter_map(|c| c.labels.as_ref()?.get(labels::APP_ID).cloned())
            .collect();
        app_ids.sort();
        app_ids.dedup();
        for app_id in &app_ids {
            removed.extend(
                self.prune_app_images(app_id, self.config.keep_images)
                    .await?,
            );
        }
        Ok(removed)
    }

    async fn start(&self, slug: &Slug) -> Result<(), SpawnError> {
        for id in self.replica_ids(slug).await? {
            self.docker
                .start_container(
                    &id,
                    None::<bollard::query_parameters::StartContainerOptions>,
                )
                .await
                .or_else(already_in_that_state)
                .map_err(SpawnError::docker(format!("start {slug}")))?;
        }
        Ok(())
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
        for id in self.replica_ids(slug).await? {
            self.docker
                .restart_container(
                    &id,
                    Some(RestartContainerOptionsBuilder::default().t(10).build()),
                )
                .await
                .map_err(SpawnError::docker(format!("restart {slug}")))?;
        }
        Ok(())
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
        self.remove_access_volume(slug).await?;
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
