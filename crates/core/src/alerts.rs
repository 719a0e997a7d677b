//! Which events deserve a desktop notification: a non-zero exit, an OOM
//! kill or a failed health check names the app and the reason; repeats for
//! the same app within the throttle window are held back; a recovery (the
//! health check passes again) is announced once, and only after a problem
//! that was announced. A host that stops answering is announced once, and
//! once when it is back. Pure bookkeeping over a clock the caller passes
//! in, so it is tested without Docker or a window.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use rdesk_spawner::{AppEvent, AppEventKind, HealthCheck};

/// How long repeated problems of one app stay quiet after a notification.
pub const DEFAULT_THROTTLE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    Problem,
    Recovered,
    HostOffline,
    HostBack,
}

impl NoticeKind {
    /// The word for it in a webhook's JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Problem => "problem",
            NoticeKind::Recovered => "recovered",
            NoticeKind::HostOffline => "host_offline",
            NoticeKind::HostBack => "host_back",
        }
    }
}

/// A notification to show: about an app, or (no slug) about a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub host: String,
    pub slug: Option<String>,
    pub kind: NoticeKind,
    pub title: String,
    pub body: String,
}

#[derive(Debug, Default)]
struct AppAlert {
    last_problem_notice: Option<Instant>,
    /// Problems held back since the last notification.
    held_back: u32,
    /// A problem was announced and no recovery since.
    announced_trouble: bool,
}

/// Per-app throttling state across hosts, and which hosts were announced offline.
#[derive(Debug)]
pub struct Alerts {
    throttle: Duration,
    apps: HashMap<(String, String), AppAlert>,
    offline: HashSet<String>,
}

/// The reason an event is a problem, if it is one.
fn problem(kind: &AppEventKind) -> Option<String> {
    match kind {
        AppEventKind::Died { exit_code } if *exit_code != 0 => {
            Some(format!("crashed (exit code {exit_code})"))
        }
        AppEventKind::OomKilled => Some("was killed for running out of memory".to_owned()),
        AppEventKind::Health {
            status: HealthCheck::Unhealthy,
        } => Some("is unhealthy (its health check fails)".to_owned()),
        _ => None,
    }
}

impl Alerts {
    pub fn new(throttle: Duration) -> Self {
        Self {
            throttle,
            apps: HashMap::new(),
            offline: HashSet::new(),
        }
    }

    /// How long repeated problems of one app stay quiet from now on.
    pub fn set_throttle(&mut self, throttle: Duration) {
        self.throttle = throttle;
    }

    /// The notification `host` going offline (`Some(reason)`) or answering
    /// again (`None`) calls for: one when it stops answering however many
    /// retries fail, one when it is back, and none for a host that never
    /// went offline.
    pub fn on_connection(&mut self, host: &str, offline: Option<&str>) -> Option<Notice> {
        let notice = |kind, title: String, body: String| Notice {
            host: host.to_owned(),
            slug: None,
            kind,
            title,
            body,
        };
        match offline {
            Some(reason) if self.offline.insert(host.to_owned()) => Some(notice(
                NoticeKind::HostOffline,
                format!("{host} is not answering"),
                format!(
                    "Host `{host}` cannot be reached ({reason}); its apps show their last known state until it answers."
                ),
            )),
            None if self.offline.remove(host) => Some(notice(
                NoticeKind::HostBack,
                format!("{host} is back"),
                format!("Host `{host}` answers again."),
            )),
            _ => None,
        }
    }

    /// The notification `event` on `host` calls for at `now`, if any.
    pub fn on_event(&mut self, host: &str, event: &AppEvent, now: Instant) -> Option<Notice> {
        let state = self
            .apps
            .entry((host.to_owned(), event.slug.clone()))
            .or_default();
        let notice = |kind, title: String, body: String| Notice {
            host: host.to_owned(),
            slug: Some(event.slug.clone()),
            kind,
            title,
            body,
        };
        if let Some(reason) = problem(&event.kind) {
            let quiet = state
                .last_problem_notice
                .is_some_and(|at| now.saturating_duration_since(at) < self.throttle);
            if quiet {
                state.held_back += 1;
                return None;
            }
            let again = match std::mem::take(&mut state.held_back) {
                0 => String::new(),
                n => format!(" ({n} more problem(s) since the last notice)"),
            };
            state.last_problem_notice = Some(now);
            state.announced_trouble = true;
            return Some(notice(
                NoticeKind::Problem,
                format!("{} {reason}", event.slug),
                format!("App `{}` on host `{host}` {reason}{again}.", event.slug),
            ));
        }
        let healthy = event.kind
            == AppEventKind::Health {
                status: HealthCheck::Healthy,
            };
        if healthy && std::mem::take(&mut state.announced_trouble) {
            return Some(notice(
                NoticeKind::Recovered,
                format!("{} recovered", event.slug),
                format!(
                    "App `{}` on host `{host}` is running and healthy again.",
                    event.slug
                ),
            ));
        }
        None
    }
}

impl Default for Alerts {
    fn default() -> Self {
        Self::new(DEFAULT_THROTTLE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(slug: &str, kind: AppEventKind) -> AppEvent {
        AppEvent {
            slug: slug.into(),
            app_id: "id".into(),
            container_id: "c".into(),
            kind,
            at_ms: 0,
        }
    }

    fn died(code: i64) -> AppEventKind {
        AppEventKind::Died { exit_code: code }
    }

    fn health(status: HealthCheck) -> AppEventKind {
        AppEventKind::Health { status }
    }

    #[test]
    fn a_crash_names_the_app_and_the_reason() {
        let mut alerts = Alerts::default();
        let n = alerts
            .on_event("vps", &event("calc", died(137)), Instant::now())
            .unwrap();
        assert_eq!(n.kind, NoticeKind::Problem);
        assert_eq!(n.title, "calc crashed (exit code 137)");
        assert_eq!(n.body, "App `calc` on host `vps` crashed (exit code 137).");
    }

    #[test]
    fn clean_exits_starts_and_first_health_are_quiet() {
        let mut alerts = Alerts::default();
        let now = Instant::now();
        for kind in [
            died(0),
            AppEventKind::Started,
            health(HealthCheck::Starting),
            health(HealthCheck::Healthy),
            AppEventKind::Destroyed,
        ] {
            assert_eq!(alerts.on_event("h", &event("a", kind), now), None);
        }
    }

    #[test]
    fn repeats_within_the_window_are_held_back_then_counted() {
        let mut alerts = Alerts::new(Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(alerts.on_event("h", &event("a", died(137)), t0).is_some());
        // An OOM kill also ends in a death: one notice for both.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(
            alerts.on_event("h", &event("a", AppEventKind::OomKilled), t1),
            None
        );
        assert_eq!(alerts.on_event("h", &event("a", died(137)), t1), None);
        // Another app is not held back by the first one's window.
        assert!(alerts.on_event("h", &event("b", died(1)), t1).is_some());
        // The same slug on another host is another app.
        assert!(alerts.on_event("h2", &event("a", died(1)), t1).is_some());
        let later = t0 + Duration::from_secs(61);
        let n = alerts
            .on_event("h", &event("a", health(HealthCheck::Unhealthy)), later)
            .unwrap();
        assert_eq!(
            n.body,
            "App `a` on host `h` is unhealthy (its health check fails) (2 more problem(s) since the last notice)."
        );
    }

    #[test]
    fn a_recovery_is_announced_once_after_an_announced_problem() {
        let mut alerts = Alerts::new(Duration::from_secs(60));
        let t0 = Instant::now();
        alerts.on_event("h", &event("a", died(137)), t0).unwrap();
        let n = alerts
            .on_event("h", &event("a", health(HealthCheck::Healthy)), t0)
            .unwrap();
        assert_eq!(n.kind, NoticeKind::Recovered);
        assert_eq!(n.title, "a recovered");
        assert_eq!(
            alerts.on_event("h", &event("a", health(HealthCheck::Healthy)), t0),
            None
        );
        // A crash held back by the window: its recovery is not announced either.
        assert_eq!(alerts.on_event("h", &event("a", died(137)), t0), None);
        assert_eq!(
            alerts.on_event("h", &event("a", health(HealthCheck::Healthy)), t0),
            None
        );
    }

    #[test]
    fn a_host_going_offline_is_announced_once_and_once_when_back() {
        let mut alerts = Alerts::default();
        assert_eq!(alerts.on_connection("vps", None), None, "never offline");
        let n = alerts
            .on_connection("vps", Some("connection refused"))
            .unwrap();
        assert_eq!((n.kind, n.slug.as_deref()), (NoticeKind::HostOffline, None));
        assert_eq!(n.title, "vps is not answering");
        assert!(n.body.contains("connection refused"), "{}", n.body);
        assert_eq!(
            alerts.on_connection("vps", Some("timed out")),
            None,
            "a retry"
        );
        assert!(alerts.on_connection("other", Some("refused")).is_some());
        let back = alerts.on_connection("vps", None).unwrap();
        assert_eq!(
            (back.kind, back.title.as_str()),
            (NoticeKind::HostBack, "vps is back")
        );
        assert_eq!(alerts.on_connection("vps", None), None);
    }

    #[test]
    fn a_new_throttle_applies_from_the_next_problem() {
        let mut alerts = Alerts::new(Duration::from_secs(60));
        let t0 = Instant::now();
        alerts.on_event("h", &event("a", died(137)), t0).unwrap();
        alerts.set_throttle(Duration::from_secs(5));
        let t1 = t0 + Duration::from_secs(6);
        assert!(alerts.on_event("h", &event("a", died(137)), t1).is_some());
    }
}
