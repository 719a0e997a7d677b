//! Which status an event leaves an app in, and whether a container listing
//! agrees with the status already recorded, so that catching up after a
//! reconnect neither invents a transition nor records one twice.

use std::collections::HashSet;

use rdesk_spawner::{AppEvent, AppEventKind};

/// Docker reports an OOM kill as `oom` and then `die`; this remembers the
/// first so the second keeps the app `oom-killed` rather than `crashed`.
#[derive(Debug, Default)]
pub(crate) struct StatusReader {
    oom_killed: HashSet<String>,
}

impl StatusReader {
    /// The status `event` leaves its app in, and a detail worth keeping.
    pub(crate) fn status(&mut self, event: &AppEvent) -> (&'static str, Option<String>) {
        match &event.kind {
            AppEventKind::OomKilled => {
                self.oom_killed.insert(event.container_id.clone());
            }
            AppEventKind::Died { exit_code } if self.oom_killed.remove(&event.container_id) => {
                return (
                    "oom-killed",
                    Some(format!("out of memory, exit code {exit_code}")),
                );
            }
            _ => {}
        }
        event.kind.status()
    }
}

/// Whether the status a container listing shows (`AppState::status`) says
/// the same as the last recorded one: a listing shows `exited` for an app
/// whose death was recorded as a crash or an OOM kill, and `starting` for
/// one whose start was recorded while its first health check is pending.
pub fn agrees(listed: &str, recorded: Option<&str>) -> bool {
    match (listed, recorded) {
        (_, None) => false,
        ("starting", Some("running")) => true,
        ("exited" | "dead", Some(r)) => matches!(r, "exited" | "crashed" | "oom-killed" | "dead"),
        (l, Some(r)) => l == r,
    }
}

/// The status to show for an app whose container listing says `listed`: a
/// listing cannot tell a crash from a deliberate stop, so a stopped container
/// whose death was recorded as a crash or an OOM kill stays that.
pub fn shown<'a>(listed: &'a str, recorded: Option<&'a str>) -> &'a str {
    match (listed, recorded) {
        ("exited" | "dead", Some(r @ ("crashed" | "oom-killed"))) => r,
        _ => listed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(container: &str, kind: AppEventKind) -> AppEvent {
        AppEvent {
            slug: "web".into(),
            app_id: "a1".into(),
            container_id: container.into(),
            kind,
            at_ms: 1,
        }
    }

    #[test]
    fn a_death_after_an_oom_kill_stays_an_oom_kill() {
        let mut reader = StatusReader::default();
        assert_eq!(
            reader.status(&event("c1", AppEventKind::OomKilled)).0,
            "oom-killed"
        );
        assert_eq!(
            reader.status(&event("c1", AppEventKind::Died { exit_code: 137 })),
            (
                "oom-killed",
                Some("out of memory, exit code 137".to_owned())
            )
        );
        // Only once, and only for that container.
        assert_eq!(
            reader
                .status(&event("c1", AppEventKind::Died { exit_code: 137 }))
                .0,
            "crashed"
        );
        reader.status(&event("c1", AppEventKind::OomKilled));
        assert_eq!(
            reader
                .status(&event("c2", AppEventKind::Died { exit_code: 1 }))
                .0,
            "crashed"
        );
    }

    #[test]
    fn a_listing_agrees_with_the_death_recorded_before() {
        assert!(agrees("exited", Some("crashed")));
        assert_eq!(shown("exited", Some("crashed")), "crashed");
        assert_eq!(shown("dead", Some("oom-killed")), "oom-killed");
        assert_eq!(shown("exited", Some("exited")), "exited");
        assert_eq!(shown("running", Some("crashed")), "running");
        assert_eq!(shown("exited", None), "exited");
        assert!(agrees("exited", Some("oom-killed")));
        assert!(agrees("running", Some("running")));
        assert!(agrees("starting", Some("running")));
        assert!(!agrees("unhealthy", Some("running")));
        assert!(!agrees("running", Some("crashed")));
        assert!(!agrees("exited", Some("running")));
        assert!(!agrees("running", None));
    }
}
