//! [`crate::Spawner`] on Docker: each operation put together from `docker`'s
//! queries and removals, `build`, `rollout` and `tokens`, plus the checks a
//! deploy makes before anything is built (an own domain no other app has).

use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::query_parameters::{
    LogsOptionsBuilder, RestartContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use futures_util::stream::{BoxStream, StreamExt};

use crate::docker::DockerSpawner;
use crate::error::SpawnError;
use crate::origin::Origin;
use crate::retry::once_more_if_cut;
use crate::rollout::Version;
use crate::settings::{SecretEnv, Settings};
use crate::state::{
    AppState, ContainerRef, DeployEvent, Deployed, LogLine, LogStream, Removed,
    Version as AppVersion, group_into_apps,
};
use crate::{context, labels, spec::AppSpec, spec::Slug};

impl DockerSpawner {
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

#[async_trait::async_trait]
impl crate::Spawner for DockerSpawner {
    async fn deploy(
        &self,
        spec: &AppSpec,
        progress: &(dyn Fn(DeployEvent) + Send + Sync),
    ) -> Result<Deployed, SpawnError> {
        let base_id = self.check_host_ready(spec).await?;
        self.check_domain_free(&spec.slug, &spec.settings).await?;
        let build_clock = Instant::now();
        let (image_id, built, packages_reused) =
            self.ensure_image(spec, &base_id, progress).await?;
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
            rolled_out: false,
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
            rolled_out: false,
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
                r_version: i.labels.get(labels::R_VERSION).cloned().unwrap_or_default(),
                packages: labels::package_list(&i.labels),
                origin: i
                    .labels
                    .get(labels::ORIGIN)
                    .and_then(|o| Origin::from_label(o)),
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
            once_more_if_cut(|| {
                self.docker.start_container(
                    &id,
                    None::<bollard::query_parameters::StartContainerOptions>,
                )
            })
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
            once_more_if_cut(|| {
                self.docker.stop_container(
                    &id,
                    Some(StopContainerOptionsBuilder::default().t(10).build()),
                )
            })
            .await
            .or_else(already_in_that_state)
            .map_err(SpawnError::docker(format!("stop {slug}")))?;
        }
        Ok(())
    }

    async fn restart(&self, slug: &Slug) -> Result<(), SpawnError> {
        for id in self.replica_ids(slug).await? {
            once_more_if_cut(|| {
                self.docker.restart_container(
                    &id,
                    Some(RestartContainerOptionsBuilder::default().t(10).build()),
                )
            })
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
        self.remove_access_helpers(slug).await?;
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

    async fn stats(&self, container_id: &str) -> Result<Option<crate::StatsReading>, SpawnError> {
        crate::stats::container_stats(&self.docker, container_id).await
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

    async fn host_memory_bytes(&self) -> Result<u64, SpawnError> {
        let info = self
            .docker
            .info()
            .await
            .map_err(SpawnError::docker("report its memory"))?;
        let total = info.mem_total.unwrap_or_default();
        u64::try_from(total)
            .ok()
            .filter(|bytes| *bytes > 0)
            .ok_or(SpawnError::Unreadable {
                what: "memory total".to_owned(),
                value: total.to_string(),
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
