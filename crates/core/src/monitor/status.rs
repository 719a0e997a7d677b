//! Which status an event leaves an app in, and whether a container listing
//! agrees with the status already recorded, so that catching up after a
//! reconnect neither invents a transition nor records one twice.

use std::collections::HashSet;

use rdesk_spawner::{AppEvent, AppEventKind, AppStatus};

/// Docker reports an OOM kill as `oom` and then `die`; this remembers the
/// first so the second keeps the app `oom-killed` rather than `crashed`.
/// It also remembers which containers died: a health check that was under
/// way when its container died can report `healthy` just after the `die`,
/// which says nothing about an app that is down.
#[derive(Debug, Default)]
pub(crate) struct StatusReader {
    oom_killed: HashSet<String>,
    dead: HashSet<String>,
}

impl StatusReader {
    /// The status `event` leaves its app in, and a detail worth keeping;
    /// `None` when the event says nothing about the app.
    pub(crate) fn status(&mut self, event: &AppEvent) -> Option<(AppStatus, Option<String>)> {
        let container = &event.container_id;
        match &event.kind {
            AppEventKind::OomKilled => {
                self.oom_killed.insert(container.clone());
            }
            AppEventKind::Died { exit_code } => {
                self.dead.insert(container.clone());
                if self.oom_killed.remove(container) {
                    return Some((
                        AppStatus::OomKilled,
                        Some(format!("out of memory, exit code {exit_code}")),
                    ));
                }
            }
            AppEventKind::Started => {
                self.dead.remove(container);
            }
            AppEventKind::Health { .. } if self.dead.contains(container) => return None,
            AppEventKind::Destroyed => {
                self.dead.remove(container);
            }
            AppEventKind::Health { .. } => {}
        }
        Some(event.kind.status())
    }
}

/// Whether the status a container listing shows (`AppState::status`) says
/// the same as the last recorded one: a listing shows `exited` for an app
/// whose death was recorded as a crash or an OOM kill, and `starting` for
/// one whose start was recorded while its first health check is pending.
pub fn agrees(listed: AppStatus, recorded: Option<AppStatus>) -> bool {
    match (listed, recorded) {
        (_, None) => false,
        (AppStatus::Starting, Some(AppStatus::Running)) => true,
        (AppStatus::Exited | AppStatus::Dead, Some(r)) => r.has_ended(),
        (l, Some(r)) => l == r,
    }
}

/// The status to show for an app whose container listing says `listed`: a
/// listing cannot tell a crash from a deliberate stop, so a stopped container
/// whose death was recorded as a crash or an OOM kill stays that.
pub fn shown(listed: AppStatus, recorded: Option<AppStatus>) -> AppStatus {
    match (listed, recorded) {
        (AppStatus::Exited | AppStatus::Dead, Some(r)) if r.ended_badly() => r,
        _ => listed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AppStatus::{Crashed, Dead, Exited, OomKilled, Running, Starting, Unhealthy};
    use rdesk_spawner::HealthCheck;

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
        let mut read = |container: &str, kind| reader.status(&event(container, kind)).unwrap();
        assert_eq!(read("c1", AppEventKind::OomKilled).0, OomKilled);
        assert_eq!(
            read("c1", AppEventKind::Died { exit_code: 137 }),
            (OomKilled, Some("out of memory, exit code 137".to_owned()))
        );
        // Only once, and only for that container.
        assert_eq!(read("c1", AppEventKind::Died { exit_code: 137 }).0, Crashed);
        read("c1", AppEventKind::OomKilled);
        assert_eq!(read("c2", AppEventKind::Died { exit_code: 1 }).0, Crashed);
    }

    #[test]
    fn a_health_check_ending_after_its_container_died_says_nothing() {
        let mut reader = StatusReader::default();
        let healthy = || AppEventKind::Health {
            status: HealthCheck::Healthy,
        };
        assert_eq!(
            reader.status(&event("c1", healthy())),
            Some((Running, None))
        );
        reader.status(&event("c1", AppEventKind::Died { exit_code: 137 }));
        assert_eq!(reader.status(&event("c1", healthy())), None);
        assert_eq!(
            reader.status(&event("c2", healthy())),
            Some((Running, None)),
            "another container's health still counts"
        );
        reader.status(&event("c1", AppEventKind::Started));
        assert_eq!(
            reader.status(&event("c1", healthy())),
            Some((Running, None)),
            "started again, its health counts again"
        );
    }

    #[test]
    fn a_listing_agrees_with_the_death_recorded_before() {
        assert!(agrees(Exited, Some(Crashed)));
        assert_eq!(shown(Exited, Some(Crashed)), Crashed);
        assert_eq!(shown(Dead, Some(OomKilled)), OomKilled);
        assert_eq!(shown(Exited, Some(Exited)), Exited);
        assert_eq!(shown(Running, Some(Crashed)), Running);
        assert_eq!(shown(Exited, None), Exited);
        assert!(agrees(Exited, Some(OomKilled)));
        assert!(agrees(Running, Some(Running)));
        assert!(agrees(Starting, Some(Running)));
        assert!(!agrees(Unhealthy, Some(Running)));
        assert!(!agrees(Running, Some(Crashed)));
        assert!(!agrees(Exited, Some(Running)));
        assert!(!agrees(Running, None));
    }
}
