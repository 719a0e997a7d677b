//! What happens to app containers, as it happens: one Docker events stream,
//! filtered by our labels, turned into [`AppEvent`]s. Events, not polling
//! (design principle 7).

use std::collections::HashMap;

use bollard::Docker;
use bollard::models::EventMessage;
use bollard::query_parameters::EventsOptionsBuilder;
use futures_util::stream::{BoxStream, StreamExt};
use serde::Serialize;

use crate::error::SpawnError;
use crate::labels;
use crate::status::{AppStatus, HealthCheck};

/// One thing that happened to an app's container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppEvent {
    pub slug: String,
    pub app_id: String,
    pub container_id: String,
    pub kind: AppEventKind,
    /// Unix milliseconds, as Docker stamped it.
    pub at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AppEventKind {
    Started,
    /// The process ended; a non-zero code after a kill or a crash.
    Died {
        exit_code: i64,
    },
    /// The kernel killed it for exceeding its memory limit.
    OomKilled,
    /// Its health check changed.
    Health {
        status: HealthCheck,
    },
    Destroyed,
}

impl AppEventKind {
    /// The app status this event leaves behind, and a detail worth keeping.
    pub fn status(&self) -> (AppStatus, Option<String>) {
        match self {
            Self::Started => (AppStatus::Running, None),
            Self::Died { exit_code: 0 } => (AppStatus::Exited, None),
            Self::Died { exit_code } => {
                (AppStatus::Crashed, Some(format!("exit code {exit_code}")))
            }
            Self::OomKilled => (AppStatus::OomKilled, Some("out of memory".to_owned())),
            Self::Health { status } => (
                match status {
                    HealthCheck::Unhealthy => AppStatus::Unhealthy,
                    HealthCheck::Healthy => AppStatus::Running,
                    HealthCheck::Starting => AppStatus::Starting,
                },
                None,
            ),
            Self::Destroyed => (AppStatus::Removed, None),
        }
    }
}

/// Docker actions we turn into events; others (exec, attach, …) are noise.
const ACTIONS: &[&str] = &["start", "die", "oom", "health_status", "destroy"];

/// Our app containers' events from `since_ms` (unix milliseconds, on the
/// host's clock) on: those Docker still keeps from before now first, then new
/// ones as they happen; with `until_ms`, the stream ends there. The request
/// goes out only when the stream is first polled, but nothing from `since_ms`
/// on is lost.
pub fn app_events(
    docker: &Docker,
    since_ms: i64,
    until_ms: Option<i64>,
) -> BoxStream<'static, Result<AppEvent, SpawnError>> {
    let filters = HashMap::from([
        ("type".to_owned(), vec!["container".to_owned()]),
        ("label".to_owned(), labels::ours(labels::Role::App, &[])),
        (
            "event".to_owned(),
            ACTIONS.iter().map(|a| (*a).to_owned()).collect(),
        ),
    ]);
    let mut options = EventsOptionsBuilder::default()
        .since(&docker_time(since_ms))
        .filters(&filters);
    if let Some(until_ms) = until_ms {
        options = options.until(&docker_time(until_ms));
    }
    let options = options.build();
    docker
        .events(Some(options))
        .filter_map(|item| async move {
            match item {
                Ok(message) => to_app_event(message).map(Ok),
                Err(source) => Some(Err(SpawnError::Docker {
                    action: "stream container events".to_owned(),
                    source,
                })),
            }
        })
        .boxed()
}

/// Docker's `seconds.nanoseconds` form of a unix-milliseconds time.
fn docker_time(ms: i64) -> String {
    format!(
        "{}.{:09}",
        ms.div_euclid(1000),
        ms.rem_euclid(1000) * 1_000_000
    )
}

/// Reads one Docker event; `None` for events that are not about our apps.
fn to_app_event(message: EventMessage) -> Option<AppEvent> {
    let action = message.action?;
    let actor = message.actor?;
    let attributes = actor.attributes.unwrap_or_default();
    let name = attributes
        .get("name")
        .map(String::as_str)
        .unwrap_or_default();
    if !name.starts_with(labels::CONTAINER_PREFIX) || labels::is_draining(name) {
        // A build step's container (it carries the image's labels), or a
        // redeploy retiring an old container: the app itself is fine.
        return None;
    }
    let kind = match action.split_once(": ") {
        Some(("health_status", status)) => AppEventKind::Health {
            status: HealthCheck::parse(status),
        },
        _ => match action.as_str() {
            "start" => AppEventKind::Started,
            "die" => AppEventKind::Died {
                exit_code: attributes
                    .get("exitCode")
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(-1),
            },
            "oom" => AppEventKind::OomKilled,
            "destroy" => AppEventKind::Destroyed,
            _ => return None,
        },
    };
    Some(AppEvent {
        slug: attributes.get(labels::SLUG)?.clone(),
        app_id: attributes.get(labels::APP_ID)?.clone(),
        container_id: actor.id.unwrap_or_default(),
        kind,
        at_ms: message
            .time_nano
            .map(|ns| ns / 1_000_000)
            .or(message.time.map(|s| s * 1000))
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use bollard::models::EventActor;

    use super::*;

    fn message(action: &str, extra: &[(&str, &str)]) -> EventMessage {
        let attributes: HashMap<String, String> = [
            (labels::SLUG, "sales"),
            (labels::APP_ID, "a1"),
            ("name", "rserve-desk-sales-1"),
        ]
        .into_iter()
        .chain(extra.iter().copied())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        EventMessage {
            action: Some(action.to_owned()),
            actor: Some(EventActor {
                id: Some("c1".to_owned()),
                attributes: Some(attributes),
            }),
            time_nano: Some(1_700_000_000_123_456_789),
            ..Default::default()
        }
    }

    #[test]
    fn docker_events_become_app_events_with_a_status() {
        let died = to_app_event(message("die", &[("exitCode", "137")])).unwrap();
        assert_eq!(died.kind, AppEventKind::Died { exit_code: 137 });
        assert_eq!(
            died.kind.status(),
            (AppStatus::Crashed, Some("exit code 137".to_owned()))
        );
        assert_eq!(died.slug, "sales");
        assert_eq!(died.at_ms, 1_700_000_000_123);

        let clean = to_app_event(message("die", &[("exitCode", "0")])).unwrap();
        assert_eq!(clean.kind.status().0, AppStatus::Exited);
        let oom = to_app_event(message("oom", &[])).unwrap();
        assert_eq!(oom.kind.status().0, AppStatus::OomKilled);
        let sick = to_app_event(message("health_status: unhealthy", &[])).unwrap();
        assert_eq!(
            sick.kind,
            AppEventKind::Health {
                status: HealthCheck::Unhealthy
            }
        );
        assert_eq!(sick.kind.status().0, AppStatus::Unhealthy);
        assert_eq!(
            to_app_event(message("start", &[])).unwrap().kind.status().0,
            AppStatus::Running
        );
    }

    #[test]
    fn times_are_sent_as_docker_writes_them() {
        assert_eq!(docker_time(1_700_000_000_123), "1700000000.123000000");
        assert_eq!(docker_time(5), "0.005000000");
    }

    #[test]
    fn build_step_containers_are_not_the_app() {
        for action in ["start", "die", "destroy"] {
            assert_eq!(
                to_app_event(message(action, &[("name", "nice_faraday")])),
                None
            );
        }
    }

    #[test]
    fn a_retired_container_going_unhealthy_dying_and_going_is_not_the_app_failing() {
        let retired = [("name", "rserve-desk-sales-1-draining")];
        for action in ["health_status: unhealthy", "die", "destroy"] {
            assert_eq!(to_app_event(message(action, &retired)), None, "{action}");
        }
    }

    #[test]
    fn events_without_our_labels_or_of_other_kinds_are_dropped() {
        assert_eq!(to_app_event(message("exec_start: sh", &[])), None);
        let mut foreign = message("start", &[]);
        if let Some(actor) = foreign.actor.as_mut() {
            actor.attributes = Some(HashMap::new());
        }
        assert_eq!(to_app_event(foreign), None);
    }
}
