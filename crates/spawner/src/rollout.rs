//! Switching an app between versions without dropping a request, on Docker:
//! start a new container beside the old ones (same Traefik service) and wait
//! until it is healthy; later, when the caller has seen the router reach it,
//! drain an old container (its health check fails, so Traefik stops sending
//! it new connections), wait for its open connections to end, and remove it;
//! then the next replica, so that replicas are replaced one at a time.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::exec::StartExecResults;
use bollard::models::{
    ContainerCreateBody, ContainerSummary, ExecConfig, HealthConfig, HealthStatusEnum, HostConfig,
    HostConfigLogConfig, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::CreateContainerOptionsBuilder;
use futures_util::StreamExt;

use crate::docker::DockerSpawner;
use crate::error::SpawnError;
use crate::labels::{self, Routing};
use crate::settings::{SecretEnv, Settings};
use crate::spec::Slug;
use crate::state::{ContainerRef, DeployEvent, summary_to_state};
use crate::status::AppStatus;

/// The user of `rserve-base` (uid and gid 10001); set explicitly so no image can run as root.
pub const APP_USER: &str = "10001:10001";
/// The file whose presence makes the health check fail: the container is draining.
const DRAIN_MARKER: &str = "/tmp/.rserve-desk-drain";
/// The health check of app containers: `rserve-base`'s own (Rserve's greeting
/// on the QAP port), failing while the container drains. Set here rather than
/// in the image so containers of any `rserve-base` build can be drained.
pub(crate) fn health_test() -> Vec<String> {
    let script = format!(
        "if [ -e {DRAIN_MARKER} ]; then echo draining; exit 1; fi; exec bash /opt/rserve/healthcheck.sh"
    );
    ["CMD", "bash", "-c", &script].map(str::to_owned).to_vec()
}

/// One version of an app to run: an image and how its containers run.
pub(crate) struct Version<'a> {
    pub slug: &'a Slug,
    pub app_id: &'a str,
    pub image: &'a str,
    pub image_id: &'a str,
    /// The image's own labels (the app's description); the container repeats them.
    pub image_labels: HashMap<String, String>,
    pub settings: &'a Settings,
    pub secrets: &'a SecretEnv,
}

/// What starting a version found or made.
pub(crate) struct Started {
    pub containers: Vec<ContainerRef>,
    pub previous: Vec<ContainerRef>,
    /// See [`crate::Deployed::replica_stem`].
    pub replica_stem: String,
}

/// A container by id and the name it was created with (its probe path), even while draining.
fn container_ref(c: &ContainerSummary) -> ContainerRef {
    let state = summary_to_state(c);
    ContainerRef {
        name: labels::created_name(&state.name).to_owned(),
        id: state.id,
    }
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

impl DockerSpawner {
    /// Runs `version` beside whatever else of the app runs, and waits until
    /// its first replica is healthy; all of them when nothing of the app runs
    /// (there is nothing to replace one at a time). Containers already running
    /// this image with these settings are kept; on any failure the new
    /// containers are removed and the old ones are untouched.
    pub(crate) async fn start_version(
        &self,
        version: Version<'_>,
        progress: &(dyn Fn(DeployEvent) + Send + Sync),
    ) -> Result<Started, SpawnError> {
        let existing = self.containers(labels::APP_ID, version.app_id).await?;
        let hash = version.settings.hash();
        let (mut same, mut previous): (Vec<&ContainerSummary>, Vec<&ContainerSummary>) =
            existing.iter().partition(|c| {
                c.image_id.as_deref() == Some(version.image_id)
                    && c.labels.as_ref().and_then(|l| l.get(labels::SETTINGS_HASH)) == Some(&hash)
            });
        if !self.secrets_unchanged(&same, &version).await? {
            previous.append(&mut same);
        }
        if same.len() == usize::from(version.settings.replicas) {
            for c in &same {
                let state = summary_to_state(c);
                if state.state == AppStatus::Running {
                    progress(DeployEvent::Step(format!(
                        "{} already runs this version",
                        state.name
                    )));
                } else {
                    progress(DeployEvent::Step(format!(
                        "starting the existing container {}",
                        state.name
                    )));
                    self.docker
                        .start_container(
                            &state.id,
                            None::<bollard::query_parameters::StartContainerOptions>,
                        )
                        .await
                        .map_err(SpawnError::docker("start the container"))?;
                }
                self.wait_healthy(version.slug, &state.id).await?;
            }
            let containers: Vec<ContainerRef> = same.into_iter().map(container_ref).collect();
            return Ok(Started {
                replica_stem: containers
                    .first()
                    .map(|c| labels::replica_stem(&c.name).to_owned())
                    .unwrap_or_default(),
                containers,
                previous: previous.into_iter().map(container_ref).collect(),
            });
        }

        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let stem = labels::replicas_stem(version.slug, version.image_id, stamp);
        let serving = existing
            .iter()
            .any(|c| c.state == Some(bollard::models::ContainerSummaryStateEnum::RUNNING));
        let first_step = if serving {
            1
        } else {
            version.settings.replicas
        };
        let mut started = Vec::new();
        for replica in 1..=first_step {
            match self.start_replica(&version, &stem, replica, progress).await {
                Ok(c) => started.push(c),
                Err(e) => {
                    for c in &started {
                        self.remove_container(&c.id).await?;
                    }
                    return Err(e);
                }
            }
        }
        Ok(Started {
            containers: started,
            previous: existing.iter().map(container_ref).collect(),
            replica_stem: stem,
        })
    }

    /// Whether `containers` were created with the secret values `version`
    /// passes. The settings' hash names the secrets but, being a label,
    /// never holds their values; so a new value is looked for in each
    /// container's environment, compared here and kept nowhere.
    async fn secrets_unchanged(
        &self,
        containers: &[&ContainerSummary],
        version: &Version<'_>,
    ) -> Result<bool, SpawnError> {
        let wanted = version.secrets.container_env(version.settings);
        if wanted.is_empty() {
            return Ok(true);
        }
        for container in containers {
            let Some(id) = container.id.as_deref() else {
                return Ok(false);
            };
            let inspected = self
                .docker
                .inspect_container(
                    id,
                    None::<bollard::query_parameters::InspectContainerOptions>,
                )
                .await
                .map_err(SpawnError::docker("inspect a container's environment"))?;
            let env = inspected.config.and_then(|c| c.env).unwrap_or_default();
            if !wanted.iter().all(|line| env.contains(line)) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Starts replica number `replica` of `version`, named `STEM-REPLICA`,
    /// and waits until it is healthy; removes it if it is not.
    pub(crate) async fn start_replica(
        &self,
        version: &Version<'_>,
        stem: &str,
        replica: u8,
        progress: &(dyn Fn(DeployEvent) + Send + Sync),
    ) -> Result<ContainerRef, SpawnError> {
        let name = labels::replica_name(stem, replica);
        progress(DeployEvent::Step(format!("starting container {name}")));
        let id = self.start_one(version, &name).await?;
        Ok(ContainerRef { id, name })
    }

    /// Creates and starts one container and waits for it to be healthy; removes it if it is not.
    async fn start_one(&self, version: &Version<'_>, name: &str) -> Result<String, SpawnError> {
        self.ensure_access_volume(version.slug).await?;
        let created = self
            .docker
            .create_container(
                Some(CreateContainerOptionsBuilder::default().name(name).build()),
                self.container_spec(version, name),
            )
            .await
            .map_err(SpawnError::docker("create the container"))?;
        let healthy = match self
            .docker
            .start_container(
                &created.id,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
        {
            Ok(()) => self.wait_healthy(version.slug, &created.id).await,
            Err(e) => Err(SpawnError::docker("start the container")(e)),
        };
        match healthy {
            Ok(()) => Ok(created.id),
            Err(e) => {
                self.remove_container(&created.id).await?;
                Err(e)
            }
        }
    }

    fn container_spec(&self, version: &Version<'_>, name: &str) -> ContainerCreateBody {
        let settings = version.settings;
        let mut all_labels = version.image_labels.clone();
        all_labels.extend(labels::settings_labels(settings));
        all_labels.extend(labels::traefik_labels(Routing {
            slug: version.slug,
            provider: labels::Provider::Docker,
            network: &self.config.network,
            container: Some(name),
            domain: settings.domain.as_ref(),
            public_host: self.config.public_host.as_deref(),
            cert_resolver: self.config.cert_resolver.as_deref(),
            allow: &settings.allow,
        }));
        let mut env: Vec<String> = settings
            .env()
            .map(|(k, v)| format!("{}={v}", k.as_str()))
            .collect();
        env.extend(version.secrets.container_env(settings));
        env.push(format!("RDESK_ACCESS={}", settings.access));
        env.push(format!("RDESK_TOKENS={}/tokens", labels::ACCESS_MOUNT));
        env.push(format!("RDESK_MEMORY_MB={}", settings.memory_mb));
        let memory = i64::from(settings.memory_mb) * 1024 * 1024;
        ContainerCreateBody {
            image: Some(version.image.to_owned()),
            user: Some(APP_USER.to_owned()),
            env: Some(env),
            labels: Some(all_labels),
            // The image's check, run often enough that a new container joins
            // the router soon after Rserve listens and a drained one leaves it soon.
            healthcheck: Some(HealthConfig {
                test: Some(health_test()),
                interval: Some(nanos(self.config.health_interval)),
                timeout: Some(nanos(Duration::from_secs(2))),
                retries: Some(i64::from(self.config.health_retries)),
                start_period: Some(nanos(self.config.health_timeout)),
                start_interval: None,
            }),
            host_config: Some(HostConfig {
                network_mode: Some(self.config.network.clone()),
                // The app's token hashes; written only through the spawner's token methods.
                binds: Some(vec![format!(
                    "{}:{}:ro",
                    labels::access_volume(version.slug),
                    labels::ACCESS_MOUNT
                )]),
                memory: Some(memory),
                memory_swap: Some(memory),
                nano_cpus: Some(i64::from(settings.millicpus) * 1_000_000),
                pids_limit: Some(256),
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
    pub(crate) async fn wait_healthy(&self, slug: &Slug, id: &str) -> Result<(), SpawnError> {
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
                _ if state.oom_killed == Some(true) => Some(format!(
                    "it was killed for using more than its memory limit ({} MiB)",
                    inspected
                        .host_config
                        .and_then(|h| h.memory)
                        .unwrap_or_default()
                        / (1024 * 1024)
                )),
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
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs a command in a running container; returns its exit code and output.
    async fn exec(&self, id: &str, cmd: &[&str]) -> Result<(i64, String), SpawnError> {
        let exec = self
            .docker
            .create_exec(
                id,
                ExecConfig {
                    cmd: Some(cmd.iter().map(|s| (*s).to_owned()).collect()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(SpawnError::docker(format!("run {} in {id}", cmd[0])))?;
        let mut text = String::new();
        if let StartExecResults::Attached { mut output, .. } = self
            .docker
            .start_exec(&exec.id, None)
            .await
            .map_err(SpawnError::docker(format!("run {} in {id}", cmd[0])))?
        {
            while let Some(Ok(chunk)) = output.next().await {
                text.push_str(&chunk.to_string());
            }
        }
        let code = self
            .docker
            .inspect_exec(&exec.id)
            .await
            .map_err(SpawnError::docker("inspect a command's exit"))?
            .exit_code
            .unwrap_or(-1);
        Ok((code, text))
    }

    async fn is_running(&self, id: &str) -> Result<bool, SpawnError> {
        match self.docker.inspect_container(id, None).await {
            Ok(c) => Ok(c.state.and_then(|s| s.running).unwrap_or(false)),
            Err(e) if crate::error::is_not_found(&e) => Ok(false),
            Err(e) => Err(SpawnError::docker(format!("inspect container {id}"))(e)),
        }
    }

    /// Marks a container as draining: renamed `…-draining` (events of it are
    /// a retirement from now on), and its health check fails, so the router
    /// stops sending it new connections. A stopped one needs nothing.
    pub(crate) async fn drain_container(&self, id: &str) -> Result<(), SpawnError> {
        let inspected = match self.docker.inspect_container(id, None).await {
            Ok(c) => c,
            Err(e) if crate::error::is_not_found(&e) => return Ok(()),
            Err(e) => return Err(SpawnError::docker(format!("inspect container {id}"))(e)),
        };
        if inspected.state.and_then(|s| s.running) != Some(true) {
            return Ok(());
        }
        let name = inspected.name.unwrap_or_default();
        let name = name.trim_start_matches('/');
        if !labels::is_draining(name) {
            self.docker
                .rename_container(
                    id,
                    bollard::query_parameters::RenameContainerOptionsBuilder::default()
                        .name(&labels::draining_name(name))
                        .build(),
                )
                .await
                .map_err(SpawnError::docker(format!(
                    "rename {name} while draining it"
                )))?;
        }
        let (code, text) = self.exec(id, &["touch", DRAIN_MARKER]).await?;
        if code == 0 {
            Ok(())
        } else {
            Err(SpawnError::Drain {
                container: id.to_owned(),
                reason: text.trim().to_owned(),
            })
        }
    }

    /// Open client connections on the WebSocket port, read from the container's own `/proc/net`.
    async fn open_connections(&self, id: &str) -> Result<usize, SpawnError> {
        let port = format!(":{:04X}", labels::WEBSOCKET_PORT);
        let script = format!(
            "n=0; for f in /proc/net/tcp /proc/net/tcp6; do [ -r $f ] || continue; \
             while read -r _ local _ st _; do \
             case \"$local\" in *{port}) [ \"$st\" = 01 ] && n=$((n+1));; esac; \
             done < $f; done; echo $n"
        );
        let (_, text) = self.exec(id, &["bash", "-c", &script]).await?;
        Ok(text.trim().parse().unwrap_or(0))
    }

    /// Waits (at most `grace`) until a drained container has no open connections, then removes it.
    pub(crate) async fn retire_container(
        &self,
        id: &str,
        grace: Duration,
    ) -> Result<(), SpawnError> {
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline
            && self.is_running(id).await?
            && self.open_connections(id).await? > 0
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.remove_container(id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::DockerConfig;
    use crate::settings::{Domain, EnvName};

    fn spawner() -> DockerSpawner {
        // Nothing is sent: the client connects on its first request (the path need only exist).
        let docker =
            bollard::Docker::connect_with_unix("/dev/null", 5, bollard::API_DEFAULT_VERSION)
                .unwrap();
        DockerSpawner::new(docker, DockerConfig::new("net"))
    }

    #[test]
    fn containers_run_limited_hardened_and_with_secrets_only_in_their_environment() {
        let slug = Slug::parse("sales").unwrap();
        let name = |n: &str| EnvName::parse(n).unwrap();
        let mut settings = Settings::default();
        settings.memory_mb = 256;
        settings.millicpus = 1500;
        settings.domain = Some(Domain::parse("sales.example.com").unwrap());
        settings
            .set_env(vec![(name("MODE"), "fast".into())], vec![name("TOKEN")])
            .unwrap();
        let secrets = SecretEnv::new(vec![(name("TOKEN"), "hunter2".into())]).unwrap();
        let body = spawner().container_spec(
            &Version {
                slug: &slug,
                app_id: "id",
                image: "img",
                image_id: "sha256:abc",
                image_labels: HashMap::from([("io.rserve-desk.slug".into(), "sales".into())]),
                settings: &settings,
                secrets: &secrets,
            },
            "rserve-desk-sales-abc-1",
        );
        let host = body.host_config.unwrap();
        assert_eq!(host.memory, Some(256 << 20));
        assert_eq!(host.memory_swap, host.memory, "no swap beyond the limit");
        assert_eq!(host.nano_cpus, Some(1_500_000_000));
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_owned()]));
        assert_eq!(body.user.as_deref(), Some(APP_USER));
        assert_eq!(
            body.env.unwrap(),
            [
                "MODE=fast",
                "TOKEN=hunter2",
                "RDESK_ACCESS=token",
                "RDESK_TOKENS=/run/rserve-desk/access/tokens",
                "RDESK_MEMORY_MB=256"
            ]
        );
        assert_eq!(
            host.binds,
            Some(vec![
                "rserve-desk-access-sales:/run/rserve-desk/access:ro".to_owned()
            ])
        );
        let labels = body.labels.unwrap();
        assert!(labels.values().all(|v| !v.contains("hunter2")));
        assert!(labels[labels::SETTINGS].contains("\"TOKEN\""));
        assert_eq!(
            labels["traefik.http.routers.rdesk-domain-sales.rule"],
            "Host(`sales.example.com`)"
        );
        let check = body.healthcheck.unwrap();
        assert!(check.test.unwrap()[3].starts_with("if [ -e /tmp/.rserve-desk-drain ]"));
        assert_eq!(check.interval, Some(500_000_000));
    }
}
