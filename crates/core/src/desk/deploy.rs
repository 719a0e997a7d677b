//! Deploying from the desk: the user's files read once and checked, the
//! spec built against what the host has, the spawner's rollout, the
//! deployment recorded, and the wait until the router reaches the app.

use std::time::{Duration, Instant};

use rdesk_spawner::{
    AppFile, AppSpec, AppState, DeployEvent, Deployed, Mode, PackageName, RVersion, Repository,
    Slug, SpawnError,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::HostSession;
use crate::app_settings::SettingsRequest;
use crate::environment::{self, Chosen};
use crate::error::DeskError;
use crate::intake;
use crate::preview::AppFiles;
use crate::store::{DeploymentAction, GitOrigin, NewDeployment, Outcome, now_ms};
use crate::switch::Switched;

/// What the user asks to deploy.
#[derive(Debug, Clone, Default)]
pub struct DeployRequest {
    /// Defaults to a slug made from the folder, archive or file name.
    pub slug: Option<String>,
    /// Defaults to the app's current version, else its `renv.lock`'s when
    /// the host has it, else the newest on the host.
    pub r_version: Option<String>,
    /// Added to the packages detected in the code.
    pub packages: Vec<String>,
    /// Defaults to the app's current repository, else the host's, else
    /// Posit Package Manager's snapshot of yesterday; replaces a
    /// `renv.lock`'s `CRAN`.
    pub repo: Option<String>,
    /// Defaults to the app's current mode, else OCAP.
    pub mode: Option<String>,
    /// Limits, replicas, domain, variables; what is left open stays as it is.
    pub settings: SettingsRequest,
}

/// What a deploy did, for the user.
#[derive(Debug, Clone, Serialize)]
pub struct DeployReport {
    pub host: String,
    pub slug: String,
    pub url: String,
    pub r_version: String,
    pub packages: Vec<String>,
    pub files: Vec<String>,
    pub deployed: Deployed,
    /// What the health-gated switch did: whether the router reached the new
    /// containers, and which old ones were retired.
    pub switched: Switched,
    /// Whether the app answered a QAP handshake at its URL before the deploy returned.
    pub answering: bool,
    pub duration_ms: i64,
}

impl HostSession {
    /// Takes the user's files, builds what changed and switches the app to the new version.
    /// The attempt is recorded in the deployment history whatever its outcome.
    pub async fn deploy(
        &self,
        request: &DeployRequest,
        files: &AppFiles,
        progress: &(dyn Fn(DeployEvent) + Send + Sync),
    ) -> Result<DeployReport, DeskError> {
        let started_at = now_ms();
        let clock = Instant::now();
        let source = files.source();
        let slug = slug_for(request, source)?;
        let current = match self.spawner.status(&slug).await {
            Ok(state) => Some(state),
            Err(SpawnError::NotFound(_)) => None,
            Err(e) => return Err(DeskError::spawn(self.name())(e)),
        };
        let mut spec = self.spec(request, source, &slug, current.as_ref()).await?;
        spec.origin = files.origin().cloned();
        progress(DeployEvent::Step(format!(
            "deploying {} file(s){} as `{slug}` with R {}{}",
            spec.files().len(),
            spec.origin
                .as_ref()
                .map(|o| format!(
                    " from {} {} at {}",
                    o.url(),
                    o.reference(),
                    o.short_commit()
                ))
                .unwrap_or_default(),
            spec.r_version,
            if spec.environment.is_empty() {
                String::new()
            } else {
                format!(" and packages {}", spec.environment.describe())
            }
        )));
        let outcome = self
            .roll_out(
                &slug,
                self.spawner.deploy(&spec, progress).await,
                &spec.settings,
                &spec.secrets,
                progress,
            )
            .await;
        let duration_ms = clock.elapsed().as_millis() as i64;
        self.store
            .record_deployment(NewDeployment {
                host: self.name().to_owned(),
                slug: slug.to_string(),
                app_id: spec.app_id.clone(),
                action: DeploymentAction::Build,
                code_hash: spec.code_hash(),
                image_id: outcome.as_ref().ok().map(|(d, _)| d.image_id.clone()),
                outcome: Outcome::of(&outcome),
                message: outcome.as_ref().err().map(ToString::to_string),
                started_at,
                duration_ms,
                origin: spec.origin.as_ref().map(GitOrigin::from),
            })
            .await?;
        let (deployed, switched) = outcome?;
        let (url, answering) = self.answering(&slug, &switched, progress).await?;
        Ok(DeployReport {
            host: self.name().to_owned(),
            answering,
            url,
            slug: slug.to_string(),
            r_version: spec.r_version.to_string(),
            packages: spec
                .environment
                .packages()
                .iter()
                .map(ToString::to_string)
                .collect(),
            files: spec.files().iter().map(|f| f.path.clone()).collect(),
            deployed,
            switched,
            duration_ms,
        })
    }

    /// Turns the request and the collected files into a validated spec; what the
    /// request leaves open comes from the app's current version, then defaults.
    async fn spec(
        &self,
        request: &DeployRequest,
        source: &intake::AppSource,
        slug: &Slug,
        current: Option<&AppState>,
    ) -> Result<AppSpec, DeskError> {
        let declared = intake::declared_environment(source)?;
        // A new app takes its lock's R version when the host has it.
        let r_version = match (&request.r_version, current) {
            (Some(v), _) => RVersion::parse(v)?,
            (None, Some(app)) => RVersion::parse(&app.r_version)?,
            (None, None) => {
                let available = self.r_versions().await?;
                let locked = declared.lock.as_ref().and_then(|l| l.r_version.as_ref());
                let chosen = match locked {
                    Some(v) if available.contains(v) => Some(v.clone()),
                    _ => available
                        .into_iter()
                        .max_by(|a, b| version_key(a).cmp(&version_key(b))),
                };
                RVersion::parse(
                    &chosen.ok_or_else(|| DeskError::NoRVersion(self.name().to_owned()))?,
                )?
            }
        };
        let asked = request
            .packages
            .iter()
            .map(|p| PackageName::parse(p))
            .collect::<Result<Vec<_>, _>>()?;
        let chosen = match (&request.repo, current) {
            (Some(r), _) => Chosen {
                repo: Repository::parse(r)?,
                explicit: true,
            },
            (None, Some(app)) if !app.repo.is_empty() => Chosen {
                repo: Repository::parse(&app.repo)?,
                explicit: false,
            },
            _ => Chosen {
                repo: match self.store.host_repo(self.name()).await? {
                    Some(repo) => Repository::parse(&repo)?,
                    None => environment::default_repository(now_ms()),
                },
                explicit: false,
            },
        };
        let environment = environment::resolve(
            &declared,
            &intake::detect_packages(source),
            asked,
            chosen,
            &r_version,
        )?;
        let mode = match (&request.mode, current) {
            (Some(m), _) => Mode::parse(m)?,
            (None, Some(app)) => Mode::parse(&app.mode).unwrap_or_default(),
            _ => Mode::default(),
        };
        let files = source
            .files
            .iter()
            .map(|f| AppFile::new(&f.path, f.contents.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let app_id = current
            .map(|a| a.app_id.clone())
            .unwrap_or_else(|| new_app_id(self.name(), slug));
        let mut spec = AppSpec::new(slug.clone(), app_id, r_version, environment, mode, files)?;
        spec.settings =
            crate::app_settings::resolve(&request.settings, current.map(|a| &a.settings))?;
        rdesk_spawner::check_mode(mode, spec.settings.access)?;
        spec.secrets = self.secret_env(slug, &spec.settings).await?;
        Ok(spec)
    }

    /// Adds a lifecycle action (start, stop, restart, remove) to the app's history.
    pub(super) async fn record(
        &self,
        slug: &Slug,
        action: DeploymentAction,
        failure: Option<String>,
        clock: Instant,
    ) -> Result<(), DeskError> {
        let app_id = self
            .store
            .app(self.name(), slug.as_str())
            .await?
            .map(|a| a.app_id)
            .unwrap_or_default();
        self.store
            .record_deployment(NewDeployment {
                host: self.name().to_owned(),
                slug: slug.to_string(),
                app_id,
                action,
                code_hash: String::new(),
                image_id: None,
                outcome: if failure.is_none() {
                    Outcome::Ok
                } else {
                    Outcome::Failed
                },
                message: failure,
                started_at: now_ms() - clock.elapsed().as_millis() as i64,
                duration_ms: clock.elapsed().as_millis() as i64,
                origin: None,
            })
            .await?;
        Ok(())
    }
}

/// How long a deploy waits for the router to reach a new app.
pub(super) const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);

/// Waits until a QAP handshake succeeds at `url`, trying every quarter second.
pub(super) async fn wait_until_answering(
    url: &str,
    within: Duration,
) -> Result<(), rserve_qap::Error> {
    let deadline = Instant::now() + within;
    loop {
        match rserve_qap::Client::connect_ws(url).await {
            Ok(client) => {
                client.close().await;
                return Ok(());
            }
            Err(e) if crate::switch::answered(&e) => return Ok(()),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// A fresh, practically unique app id.
fn new_app_id(host: &str, slug: &Slug) -> String {
    let mut h = Sha256::new();
    h.update(host.as_bytes());
    h.update(slug.as_str().as_bytes());
    h.update(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_nanos()
            .to_le_bytes(),
    );
    h.update(std::process::id().to_le_bytes());
    hex::encode(&h.finalize()[..8])
}

fn version_key(v: &str) -> Vec<u32> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// The app's slug: the one asked for, else one made from the folder,
/// archive or file name.
pub(super) fn slug_for(
    request: &DeployRequest,
    source: &intake::AppSource,
) -> Result<Slug, DeskError> {
    match &request.slug {
        Some(s) => Ok(Slug::parse(s)?),
        None => Ok(Slug::suggest(&source.name_hint)
            .ok_or_else(|| rdesk_spawner::SpecError::Slug(source.name_hint.clone()))?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_r_version_compares_numerically() {
        let newest = ["4.2.2", "4.10.0", "4.9.1"]
            .into_iter()
            .max_by(|a, b| version_key(a).cmp(&version_key(b)));
        assert_eq!(newest, Some("4.10.0"));
    }

    #[test]
    fn app_ids_differ_between_calls() {
        let slug = Slug::parse("demo").unwrap();
        assert_ne!(new_app_id("h", &slug), new_app_id("h", &slug));
    }
}
