//! An app as a swarm service: its spec, made from the same image labels,
//! settings and Traefik routes as one host's containers, plus how the swarm
//! replaces its tasks: one at a time, the new one started first and let in
//! only once its health check passes, an update whose new tasks fail rolled
//! back by the swarm itself. The services use `dnsrr` (Traefik balances over
//! the tasks' own addresses) and nothing needs IPVS.
//!
//! A task being replaced is first marked for shutdown, which takes it out
//! of Traefik's list at its next poll (every 2 s); its container's first
//! process, a small shell around `start.R`, keeps Rserve answering for
//! [`DRAIN_SECS`] seconds after the stop signal, so a call Traefik sent it just before
//! still gets its answer, then stops Rserve and exits 0: a replaced task
//! ends as stopped, not as a crash the monitor would report.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{
    EndpointSpec, EndpointSpecModeEnum, HealthConfig, Limit, Mount, MountTmpfsOptions, MountType,
    NetworkAttachmentConfig, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated,
    ServiceSpecRollbackConfig, ServiceSpecRollbackConfigFailureActionEnum,
    ServiceSpecRollbackConfigOrderEnum, ServiceSpecUpdateConfig,
    ServiceSpecUpdateConfigFailureActionEnum, ServiceSpecUpdateConfigOrderEnum, TaskSpec,
    TaskSpecContainerSpec, TaskSpecLogDriver, TaskSpecResources, TaskSpecRestartPolicy,
    TaskSpecRestartPolicyConditionEnum,
};

use super::secrets::SECRETS_DIR;
use super::walls::app_network;
use crate::docker::DockerConfig;
use crate::labels::{self, Provider, Routing};
use crate::rollout::{APP_USER, health_test};
use crate::settings::{SecretEnv, Settings};
use crate::spec::Slug;

/// A swarm service's name: the app's Traefik service name, `rserve-desk-<slug>`.
pub fn service_name(slug: &Slug) -> String {
    format!("rserve-desk-{slug}")
}

/// How long a task being replaced keeps answering: longer than Traefik's
/// poll of the swarm (2 s) plus a call in flight.
const DRAIN_SECS: u64 = 4;
/// How long the swarm waits for a stopped task before it kills it.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(DRAIN_SECS + 8);

/// The task's first process: the app's secret variables exported from
/// their files (a value's trailing newlines kept), `start.R` in the
/// background, and on the stop signal, [`DRAIN_SECS`] of answering, then
/// Rserve stopped and exit 0. When R ends by itself, its exit code is the
/// task's.
fn entrypoint() -> Vec<String> {
    let script = format!(
        "for f in {SECRETS_DIR}/*; do [ -f \"$f\" ] || continue; \
         v=\"$(cat \"$f\"; printf x)\"; export \"${{f##*/}}=${{v%x}}\"; done; \
         Rscript /opt/rserve/start.R & app=$!; \
         trap 'sleep {DRAIN_SECS}; kill -TERM \"$app\" 2>/dev/null; wait \"$app\"; exit 0' TERM; \
         wait \"$app\""
    );
    ["bash", "-c", &script].map(str::to_owned).to_vec()
}
/// How long a new task is watched after it turned healthy before the update
/// goes on (a crash in it rolls the update back).
pub(crate) const MONITOR: Duration = Duration::from_secs(4);

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// What a version of an app runs as.
pub(crate) struct ServiceVersion<'a> {
    pub slug: &'a Slug,
    pub image: &'a str,
    /// The image's labels: the app's description, read back by `list`.
    pub image_labels: HashMap<String, String>,
    pub settings: &'a Settings,
    /// The values of the secret variables the settings name.
    pub secrets: &'a SecretEnv,
    /// How many tasks run: the settings' replicas, 0 while the app is stopped.
    pub replicas: u8,
}

/// The service's spec: labels (the app's, its settings', Traefik's) on the
/// service and its tasks' containers, the container as hardened as one
/// host's, and the rolling update and rollback.
pub(crate) fn service_spec(config: &DockerConfig, version: &ServiceVersion<'_>) -> ServiceSpec {
    let settings = version.settings;
    let mut container_labels = version.image_labels.clone();
    container_labels.extend(labels::settings_labels(settings));
    let network = app_network(version.slug);
    let mut service_labels = container_labels.clone();
    service_labels.extend(labels::traefik_labels(Routing {
        slug: version.slug,
        provider: Provider::Swarm,
        network: &network,
        container: None,
        domain: settings.domain.as_ref(),
        public_host: config.public_host.as_deref(),
        cert_resolver: config.cert_resolver.as_deref(),
        allow: &settings.allow,
    }));
    let mut env: Vec<String> = settings
        .env()
        .map(|(k, v)| format!("{}={v}", k.as_str()))
        .collect();
    env.push(format!("RDESK_ACCESS={}", settings.access));
    env.push(format!("RDESK_MEMORY_MB={}", settings.memory_mb));
    let memory = i64::from(settings.memory_mb) * 1024 * 1024;
    ServiceSpec {
        name: Some(service_name(version.slug)),
        labels: Some(service_labels),
        task_template: Some(TaskSpec {
            container_spec: Some(TaskSpecContainerSpec {
                image: Some(version.image.to_owned()),
                labels: Some(container_labels),
                user: Some(APP_USER.to_owned()),
                env: Some(env),
                read_only: Some(true),
                capability_drop: Some(vec!["ALL".to_owned()]),
                command: Some(entrypoint()),
                stop_grace_period: Some(nanos(STOP_GRACE)),
                health_check: Some(HealthConfig {
                    test: Some(health_test()),
                    interval: Some(nanos(config.health_interval)),
                    timeout: Some(nanos(Duration::from_secs(2))),
                    retries: Some(i64::from(config.health_retries)),
                    start_period: Some(nanos(config.health_timeout)),
                    start_interval: None,
                }),
                mounts: Some(vec![Mount {
                    target: Some("/tmp".to_owned()),
                    typ: Some(MountType::TMPFS),
                    tmpfs_options: Some(MountTmpfsOptions {
                        size_bytes: Some(256 * 1024 * 1024),
                        ..Default::default()
                    }),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            resources: Some(TaskSpecResources {
                limits: Some(Limit {
                    nano_cpus: Some(i64::from(settings.millicpus) * 1_000_000),
                    memory_bytes: Some(memory),
                    pids: Some(256),
                }),
                ..Default::default()
            }),
            restart_policy: Some(TaskSpecRestartPolicy {
                condition: Some(TaskSpecRestartPolicyConditionEnum::ANY),
                ..Default::default()
            }),
            networks: Some(vec![NetworkAttachmentConfig {
                target: Some(network),
                ..Default::default()
            }]),
            log_driver: Some(TaskSpecLogDriver {
                name: Some("json-file".to_owned()),
                options: Some(HashMap::from([
                    ("max-size".to_owned(), "10m".to_owned()),
                    ("max-file".to_owned(), "3".to_owned()),
                ])),
            }),
            ..Default::default()
        }),
        mode: Some(ServiceSpecMode {
            replicated: Some(ServiceSpecModeReplicated {
                replicas: Some(i64::from(version.replicas)),
            }),
            ..Default::default()
        }),
        update_config: Some(ServiceSpecUpdateConfig {
            parallelism: Some(1),
            delay: Some(0),
            failure_action: Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK),
            monitor: Some(nanos(MONITOR)),
            max_failure_ratio: Some(0.0),
            order: Some(ServiceSpecUpdateConfigOrderEnum::START_FIRST),
        }),
        rollback_config: Some(ServiceSpecRollbackConfig {
            parallelism: Some(1),
            delay: Some(0),
            failure_action: Some(ServiceSpecRollbackConfigFailureActionEnum::PAUSE),
            monitor: Some(nanos(MONITOR)),
            max_failure_ratio: Some(0.0),
            order: Some(ServiceSpecRollbackConfigOrderEnum::START_FIRST),
        }),
        endpoint_spec: Some(EndpointSpec {
            mode: Some(EndpointSpecModeEnum::DNSRR),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::EnvName;

    #[test]
    fn a_service_rolls_out_start_first_and_rolls_back_on_failure() {
        let slug = Slug::parse("sales").unwrap();
        let mut settings = Settings::default();
        let key = EnvName::parse("API_KEY").unwrap();
        settings
            .set_env(
                vec![(EnvName::parse("MODE").unwrap(), "fast".into())],
                vec![key.clone()],
            )
            .unwrap();
        let secrets = SecretEnv::new(vec![(key, "s3cret".into())]).unwrap();
        let config = DockerConfig::new("rserve-desk");
        let spec = service_spec(
            &config,
            &ServiceVersion {
                slug: &slug,
                image: "rserve-desk/app-sales:abc",
                image_labels: HashMap::from([(labels::SLUG.to_owned(), "sales".to_owned())]),
                settings: &settings,
                secrets: &secrets,
                replicas: 3,
            },
        );
        let written = serde_json::to_string(&spec).unwrap();
        assert!(written.contains("MODE=fast"), "{written}");
        assert!(
            !written.contains("s3cret"),
            "a secret's value is never in the spec: {written}"
        );
        assert_eq!(spec.name.as_deref(), Some("rserve-desk-sales"));
        let update = spec.update_config.unwrap();
        assert_eq!(
            update.order,
            Some(ServiceSpecUpdateConfigOrderEnum::START_FIRST)
        );
        assert_eq!(
            update.failure_action,
            Some(ServiceSpecUpdateConfigFailureActionEnum::ROLLBACK)
        );
        assert_eq!(update.parallelism, Some(1));
        assert_eq!(
            spec.endpoint_spec.unwrap().mode,
            Some(EndpointSpecModeEnum::DNSRR)
        );
        assert_eq!(spec.mode.unwrap().replicated.unwrap().replicas, Some(3));
        let networks = spec.task_template.as_ref().unwrap().networks.clone();
        let network = networks.unwrap()[0].target.clone().unwrap();
        assert_eq!(network, "rserve-desk-app-sales", "the app's own network");
        let labels = spec.labels.unwrap();
        assert_eq!(labels["traefik.swarm.network"], network);
        assert!(!labels.contains_key("traefik.docker.network"));
        assert!(
            !labels.keys().any(|k| k.contains("rdesk-probe")),
            "{labels:?}"
        );
        assert_eq!(
            labels["traefik.http.routers.rserve-desk-sales.middlewares"],
            "rserve-desk-sales-strip,rserve-desk-sales-retry"
        );
        assert_eq!(
            labels["traefik.http.middlewares.rserve-desk-sales-retry.retry.attempts"],
            "3"
        );
        assert_eq!(labels[labels::SLUG], "sales");
        let task = spec.task_template.unwrap();
        let container = task.container_spec.unwrap();
        assert_eq!(container.read_only, Some(true));
        assert_eq!(container.capability_drop.unwrap(), ["ALL"]);
        assert_eq!(container.user.as_deref(), Some(APP_USER));
        assert!(container.env.unwrap().contains(&"MODE=fast".to_owned()));
        assert!(
            !container
                .labels
                .unwrap()
                .keys()
                .any(|k| k.starts_with("traefik.")),
            "routes are the service's, not each container's"
        );
        assert!(container.health_check.unwrap().test.is_some());
        let command = container.command.unwrap();
        assert_eq!(command[..2], ["bash", "-c"]);
        assert!(command[2].contains("trap 'sleep 4;"), "{command:?}");
        let limits = task.resources.unwrap().limits.unwrap();
        assert_eq!(limits.memory_bytes, Some(512 * 1024 * 1024));
        assert_eq!(limits.pids, Some(256));
    }
}
