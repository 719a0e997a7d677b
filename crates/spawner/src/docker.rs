//! The spawner's handle on one Docker Engine ([`DockerSpawner`], with its
//! [`DockerConfig`]) and the plain queries and removals every operation
//! shares: our containers and images found by their labels, a container's
//! last log lines, removing containers and images, pruning kept images.
//! Building images is `build`'s, switching versions `rollout`'s, an app's
//! tokens `tokens`'; `backend` puts them together as the [`crate::Spawner`].

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::models::ContainerSummary;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
};
use futures_util::stream::StreamExt;

use crate::Spawner as _;
use crate::error::{SpawnError, is_conflict, is_not_found};
use crate::labels;
use crate::spec::Slug;

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
pub(crate) const TAIL_LINES: usize = 15;

/// How long a new packages layer no app image builds on yet is safe from
/// removal: far longer than a deploy takes from building it to building its
/// code layer on it, and than the clocks of two machines drift apart.
const PACKAGES_GRACE_SECS: i64 = 60 * 60;

impl DockerSpawner {
    pub fn new(docker: Docker, config: DockerConfig) -> Self {
        Self { docker, config }
    }

    pub(crate) async fn image_id(&self, reference: &str) -> Result<Option<String>, SpawnError> {
        match self.docker.inspect_image(reference).await {
            Ok(image) => Ok(image.id),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(SpawnError::docker(format!("inspect image {reference}"))(e)),
        }
    }

    /// Our app containers carrying `extra` labels too, newest first.
    pub(crate) async fn app_containers(
        &self,
        extra: &[(&str, &str)],
    ) -> Result<Vec<ContainerSummary>, SpawnError> {
        self.containers_in_role(labels::Role::App, extra).await
    }

    /// Our containers of `role` carrying `extra` labels too, newest first.
    pub(crate) async fn containers_in_role(
        &self,
        role: labels::Role,
        extra: &[(&str, &str)],
    ) -> Result<Vec<ContainerSummary>, SpawnError> {
        let label_filters = labels::ours(role, extra);
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

    pub(crate) async fn containers_of(
        &self,
        slug: &Slug,
    ) -> Result<Vec<ContainerSummary>, SpawnError> {
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

    pub(crate) async fn remove_image(&self, reference: &str) -> Result<bool, SpawnError> {
        self.remove_image_if(reference, false).await
    }

    /// Removes an image; with `keep_in_use`, an image something now builds
    /// on or runs (Docker's 409) is kept instead of being an error.
    pub(crate) async fn remove_image_if(
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

    pub(crate) async fn images(
        &self,
        label_filters: Vec<String>,
    ) -> Result<Vec<bollard::models::ImageSummary>, SpawnError> {
        self.images_where("label", label_filters).await
    }

    /// Images matching one Docker filter (`label`, `reference`, …), newest first.
    pub(crate) async fn images_where(
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
    pub(crate) async fn prune_app_images(
        &self,
        app_id: &str,
        keep: usize,
    ) -> Result<Vec<String>, SpawnError> {
        // Both asked at once: over a slow link each is a round trip.
        let (containers, images) = futures_util::try_join!(
            self.containers(labels::APP_ID, app_id),
            self.images(labels::ours(labels::Role::App, &[(labels::APP_ID, app_id)])),
        )?;
        let in_use: Vec<String> = containers.into_iter().filter_map(|c| c.image_id).collect();
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
    /// is in use) is kept: it is about to be used again. So is one built in
    /// the last [`PACKAGES_GRACE_SECS`] by the VPS's clock: a deploy that
    /// has just built it has not started its code layer on it yet.
    pub(crate) async fn prune_packages_images(&self) -> Result<Vec<String>, SpawnError> {
        let built_before = self.host_time_ms().await? / 1000 - PACKAGES_GRACE_SECS;
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
                && image.created < built_before
                && !key.is_some_and(|k| used.contains(k))
                && self.remove_image_if(&image.id, true).await?
            {
                removed.extend(image.repo_tags);
            }
        }
        Ok(removed)
    }

    /// The id of the container that serves (or last served) the app.
    pub(crate) async fn current_id(&self, slug: &Slug) -> Result<String, SpawnError> {
        self.containers_of(slug)
            .await?
            .into_iter()
            .find_map(|c| c.id)
            .ok_or_else(|| Self::not_found(slug))
    }

    /// The replicas of the app's newest version: the containers running its newest container's image.
    pub(crate) async fn replica_ids(&self, slug: &Slug) -> Result<Vec<String>, SpawnError> {
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

    pub(crate) fn not_found(slug: &Slug) -> SpawnError {
        SpawnError::NotFound(slug.to_string())
    }

    /// A kept image of the app: its app id, image id and labels; refused
    /// unless the image is one of this app's.
    pub(crate) async fn kept_image(
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
