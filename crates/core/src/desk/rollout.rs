//! A host session's side of a switch between versions: after the spawner has
//! started one (a deploy, a rollback to a kept image, or the running image
//! with new settings), gate it through the router ([`crate::switch`]), prune
//! old images, and tell whether the app answers. Rollbacks, settings changes
//! and the list of kept versions live here too.

use std::time::Instant;

use rdesk_spawner::{DeployEvent, Deployed, SecretEnv, Settings, Slug, SpawnError, Version};
use serde::Serialize;

use super::HostSession;
use super::calls::websocket_url;
use super::deploy::{ANSWER_TIMEOUT, wait_until_answering};
use crate::app_settings::{self, SettingsRequest};
use crate::error::DeskError;
use crate::store::{DeploymentAction, NewDeployment, Outcome, now_ms};
use crate::switch::{self, NewVersion, SwitchTimeouts, Switched};

/// What running a kept image again did (a rollback, a change of settings), for the user.
#[derive(Debug, Clone, Serialize)]
pub struct SwitchReport {
    pub host: String,
    pub slug: String,
    pub url: String,
    pub deployed: Deployed,
    pub switched: Switched,
    pub answering: bool,
    pub duration_ms: i64,
}

impl HostSession {
    /// Gates a started version through the router and replaces the old
    /// containers with its replicas one at a time; on a failure of the first
    /// the new containers are gone and the old version serves.
    pub(super) async fn roll_out(
        &self,
        slug: &Slug,
        started: Result<Deployed, SpawnError>,
        settings: &Settings,
        secrets: &SecretEnv,
        progress: &(dyn Fn(DeployEvent) + Send + Sync),
    ) -> Result<(Deployed, Switched), DeskError> {
        let mut deployed = started.map_err(DeskError::spawn(self.name()))?;
        let switched = switch::switch(
            self.spawner(),
            &self.record.public_url,
            NewVersion {
                slug,
                deployed: &deployed,
                settings,
                secrets,
            },
            SwitchTimeouts::default(),
            progress,
        )
        .await
        .map_err(|source| DeskError::Switch {
            host: self.name().to_owned(),
            source,
        })?;
        deployed.containers.extend(switched.added.iter().cloned());
        let pruned = self
            .spawner
            .prune(slug)
            .await
            .map_err(DeskError::spawn(self.name()))?;
        if !pruned.is_empty() {
            progress(DeployEvent::Step(format!(
                "removed old images {}",
                pruned.join(", ")
            )));
        }
        Ok((deployed, switched))
    }

    /// The app's URL, and whether it answers there (known already when the router was watched).
    pub(super) async fn answering(
        &self,
        slug: &Slug,
        switched: &Switched,
        progress: &(dyn Fn(DeployEvent) + Send + Sync),
    ) -> Result<(String, bool), DeskError> {
        self.refresh_apps().await?;
        let url = websocket_url(&self.record.public_url, slug);
        if switched.routed {
            return Ok((url, true));
        }
        progress(DeployEvent::Step(format!(
            "waiting for the app to answer at {url}"
        )));
        let answering = match wait_until_answering(&url, ANSWER_TIMEOUT).await {
            Ok(()) => true,
            Err(e) => {
                progress(DeployEvent::Step(format!(
                    "the app runs but does not answer at {url} yet: {e}"
                )));
                false
            }
        };
        Ok((url, answering))
    }

    /// The app's kept images, newest first; the running one is marked current.
    pub async fn versions(&self, slug: &str) -> Result<Vec<Version>, DeskError> {
        self.spawner
            .versions(&Slug::parse(slug)?)
            .await
            .map_err(DeskError::spawn(self.name()))
    }

    /// Switches the app back to a kept image (the newest one not running when
    /// `version` is `None`; else an image reference, id or code-hash prefix
    /// from [`HostSession::versions`]) through the same gated path, without building.
    pub async fn rollback(
        &self,
        slug: &str,
        version: Option<&str>,
        progress: &(dyn Fn(DeployEvent) + Send + Sync),
    ) -> Result<SwitchReport, DeskError> {
        let slug = Slug::parse(slug)?;
        let versions = self.versions(slug.as_str()).await?;
        let current = self.status(slug.as_str()).await?;
        let chosen = pick_version(&versions, version).ok_or_else(|| {
            DeskError::spawn(self.name())(SpawnError::NoSuchVersion {
                slug: slug.to_string(),
                version: version.unwrap_or("(an earlier version)").to_owned(),
            })
        })?;
        self.run_kept(
            &slug,
            chosen,
            &current.app_id,
            &current.settings,
            DeploymentAction::Rollback,
            progress,
        )
        .await
    }

    /// Runs the app's current image (the newest kept one when none runs)
    /// with its settings changed by `request` (limits, replicas, domain,
    /// variables), through the same gated path, without building.
    pub async fn apply_settings(
        &self,
        slug: &str,
        request: &SettingsRequest,
        progress: &(dyn Fn(DeployEvent) + Send + Sync),
    ) -> Result<SwitchReport, DeskError> {
        let slug = Slug::parse(slug)?;
        let current = self.status(slug.as_str()).await?;
        let settings = app_settings::resolve(request, Some(&current.settings))?;
        let mode = rdesk_spawner::Mode::parse(&current.mode).unwrap_or_default();
        rdesk_spawner::check_mode(mode, settings.access)?;
        let versions = self.versions(slug.as_str()).await?;
        let running = versions
            .iter()
            .find(|v| v.current)
            .or_else(|| versions.first())
            .ok_or_else(|| {
                DeskError::spawn(self.name())(SpawnError::NoSuchVersion {
                    slug: slug.to_string(),
                    version: "(the running version)".to_owned(),
                })
            })?;
        self.run_kept(
            &slug,
            running,
            &current.app_id,
            &settings,
            DeploymentAction::Settings,
            progress,
        )
        .await
    }

    /// Starts the kept image `chosen` with `settings`, gates it through the
    /// router, and records the attempt as `action` in the deployment history.
    async fn run_kept(
        &self,
        slug: &Slug,
        chosen: &Version,
        app_id: &str,
        settings: &Settings,
        action: DeploymentAction,
        progress: &(dyn Fn(DeployEvent) + Send + Sync),
    ) -> Result<SwitchReport, DeskError> {
        let started_at = now_ms();
        let clock = Instant::now();
        let secrets = self.secret_env(slug, settings).await?;
        let started = self
            .spawner
            .rollback(slug, &chosen.image, settings, &secrets, progress)
            .await;
        let outcome = self
            .roll_out(slug, started, settings, &secrets, progress)
            .await;
        self.store
            .record_deployment(NewDeployment {
                host: self.name().to_owned(),
                slug: slug.to_string(),
                app_id: app_id.to_owned(),
                action,
                code_hash: chosen.code_hash.clone(),
                image_id: outcome.as_ref().ok().map(|(d, _)| d.image_id.clone()),
                outcome: Outcome::of(&outcome),
                message: outcome.as_ref().err().map(ToString::to_string),
                started_at,
                duration_ms: clock.elapsed().as_millis() as i64,
                origin: None,
            })
            .await?;
        let (deployed, switched) = outcome?;
        let (url, answering) = self.answering(slug, &switched, progress).await?;
        Ok(SwitchReport {
            host: self.name().to_owned(),
            slug: slug.to_string(),
            url,
            deployed,
            switched,
            answering,
            duration_ms: clock.elapsed().as_millis() as i64,
        })
    }
}

/// The version `wanted` names (image reference, image id or code hash, or a
/// prefix of the last two), or without `wanted` the newest one not running.
fn pick_version<'a>(versions: &'a [Version], wanted: Option<&str>) -> Option<&'a Version> {
    match wanted {
        None => versions.iter().find(|v| !v.current),
        Some(w) => {
            let bare = w.trim_start_matches("sha256:");
            versions.iter().find(|v| {
                v.image == w
                    || (bare.len() >= 6
                        && (v.image_id.trim_start_matches("sha256:").starts_with(bare)
                            || v.code_hash.starts_with(bare)))
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(image: &str, id: &str, code: &str, current: bool) -> Version {
        Version {
            image: image.into(),
            image_id: format!("sha256:{id}"),
            code_hash: code.into(),
            r_version: "4.4.1".into(),
            packages: Vec::new(),
            origin: None,
            created: 0,
            current,
        }
    }

    #[test]
    fn rollback_targets_are_named_or_the_newest_not_running() {
        let versions = [
            version("app:new", "aaaaaaaa11", "c0ffee0001", true),
            version("app:old", "bbbbbbbb22", "deadbeef02", false),
            version("app:older", "cccccccc33", "feedface03", false),
        ];
        assert_eq!(pick_version(&versions, None).unwrap().image, "app:old");
        assert_eq!(
            pick_version(&versions, Some("app:older")).unwrap().image,
            "app:older"
        );
        assert_eq!(
            pick_version(&versions, Some("cccccc")).unwrap().image,
            "app:older"
        );
        assert_eq!(
            pick_version(&versions, Some("sha256:bbbbbb"))
                .unwrap()
                .image,
            "app:old"
        );
        assert_eq!(
            pick_version(&versions, Some("feedface")).unwrap().image,
            "app:older"
        );
        assert!(
            pick_version(&versions, Some("ccc")).is_none(),
            "too short to be sure"
        );
        assert!(pick_version(&versions, Some("app:none")).is_none());
        assert!(pick_version(&versions[..1], None).is_none());
    }
}
