//! Building an app's image from in-memory contexts: the host is checked
//! first (its `rserve-base:<R>` image, its networks), then the packages layer
//! is built unless one on the same base exists, then the code layer, with the
//! build's output streamed as progress.

use bollard::body_full;
use bollard::query_parameters::BuildImageOptionsBuilder;
use futures_util::stream::StreamExt;

use crate::docker::{DockerSpawner, TAIL_LINES};
use crate::error::{SpawnError, is_not_found};
use crate::state::DeployEvent;
use crate::{context, labels, spec::AppSpec};

impl DockerSpawner {
    /// The image's id when it exists and was built on the base image `base_id`
    /// (so a new `rserve-base`, e.g. a new start-up script, reaches every app
    /// on its next deploy).
    pub(crate) async fn image_built_on(
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

    /// Refuses early, before anything is built, when the host lacks the base
    /// image or a network; else the base image's id. The three are asked at
    /// once: over a slow link each question is a round trip.
    pub(crate) async fn check_host_ready(&self, spec: &AppSpec) -> Result<String, SpawnError> {
        let network_exists =
            async |network: &String| match self.docker.inspect_network(network, None).await {
                Ok(_) => Ok(()),
                Err(e) if is_not_found(&e) => Err(SpawnError::NetworkMissing(network.clone())),
                Err(e) => Err(SpawnError::docker("inspect the network")(e)),
            };
        let build_network_exists = async || match &self.config.build_network {
            Some(network) => network_exists(network).await,
            None => Ok(()),
        };
        let base_image = context::base_image(spec);
        let (base_id, network, build_network) = futures_util::join!(
            self.image_id(&base_image),
            network_exists(&self.config.network),
            build_network_exists(),
        );
        let Some(base_id) = base_id? else {
            return Err(SpawnError::RVersionUnavailable {
                version: spec.r_version.to_string(),
                available: self.r_versions().await?,
            });
        };
        network?;
        build_network?;
        Ok(base_id)
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
    pub(crate) async fn build(
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
                    message: own_sentence(&tail).unwrap_or(message),
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
    pub(crate) async fn ensure_image(
        &self,
        spec: &AppSpec,
        base_id: &str,
        progress: &(dyn Fn(DeployEvent) + Send + Sync),
    ) -> Result<(String, bool, bool), SpawnError> {
        let app_image = context::app_image(spec);
        if let Some(id) = self.image_built_on(&app_image, base_id).await? {
            progress(DeployEvent::Step(format!(
                "image {app_image} is up to date, not rebuilding"
            )));
            return Ok((id, false, true));
        }
        let packages_image = context::packages_image(spec);
        let mut packages_reused = true;
        // A removal of another app may take a reused packages layer that no
        // image built on any more, before the code layer is: then once more.
        let mut retried = false;
        loop {
            if let Some(packages_image) = &packages_image {
                if self
                    .image_built_on(packages_image, base_id)
                    .await?
                    .is_some()
                {
                    progress(DeployEvent::Step(format!(
                        "reusing packages layer {packages_image} ({})",
                        spec.environment.describe()
                    )));
                } else {
                    packages_reused = false;
                    progress(DeployEvent::Step(format!(
                        "building packages layer {packages_image} ({})",
                        spec.environment.describe()
                    )));
                    let tar = context::packages_context(spec, base_id)?;
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
                    context::app_context(spec, base_id)?,
                    progress,
                )
                .await;
            match (built, &packages_image) {
                (Ok(id), _) => return Ok((id, true, packages_reused)),
                (Err(e), Some(packages_image))
                    if !retried
                        && self
                            .image_built_on(packages_image, base_id)
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
}

/// The sentence a build step of ours gave for its failure: the last log line
/// `rserve-desk: <sentence>` (the installer's, apt's step's), without the prefix.
fn own_sentence(tail: &[String]) -> Option<String> {
    tail.iter()
        .rev()
        .find_map(|l| l.trim().strip_prefix("rserve-desk: "))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_step_of_ours_says_why_it_failed() {
        let tail = |lines: &[&str]| lines.iter().map(|l| (*l).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            own_sentence(&tail(&[
                "trying URL",
                "rserve-desk: renv.lock asks for rdeskdemo 0.3.0, which ...",
                "Execution halted"
            ])),
            Some("renv.lock asks for rdeskdemo 0.3.0, which ...".to_owned())
        );
        assert_eq!(own_sentence(&tail(&["E: Unable to locate package"])), None);
    }
}
