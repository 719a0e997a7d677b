//! The overview the tray and the window both show: each host's counts and
//! problem apps, and the worst state across hosts.

use serde::{Deserialize, Serialize};

use crate::{AppView, AppsList};

/// The state the tray icon shows, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    SomethingDown,
    HostOffline,
    AllRunning,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostSummary {
    pub host: String,
    pub running: usize,
    pub total: usize,
    /// Apps that crashed, were OOM-killed, are unhealthy or missing, as
    /// `slug (status)`, the worst first.
    pub problems: Vec<String>,
    pub offline_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverviewView {
    pub health: Health,
    pub hosts: Vec<HostSummary>,
}

/// The apps, the most severe status first (in their order among equals).
fn worst_first(apps: &[AppView]) -> Vec<&AppView> {
    let mut sorted: Vec<&AppView> = apps.iter().collect();
    sorted.sort_by_key(|a| std::cmp::Reverse(a.status.severity()));
    sorted
}

impl OverviewView {
    /// The worst state across hosts: a problem app (an offline host's as
    /// last seen count too, so a crash is never hidden behind an offline
    /// host), then an unreachable host, else all running.
    pub fn from_lists(lists: &[AppsList]) -> Self {
        let hosts: Vec<HostSummary> = lists
            .iter()
            .map(|list| HostSummary {
                host: list.host.clone(),
                running: list.apps.iter().filter(|a| a.status.is_up()).count(),
                total: list.apps.len(),
                problems: worst_first(&list.apps)
                    .into_iter()
                    .filter(|a| a.status.is_problem())
                    .map(|a| format!("{} ({})", a.slug, a.status))
                    .collect(),
                offline_reason: list.offline_reason.clone(),
            })
            .collect();
        let health = hosts
            .iter()
            .map(|h| {
                if !h.problems.is_empty() {
                    Health::SomethingDown
                } else if h.offline_reason.is_some() {
                    Health::HostOffline
                } else {
                    Health::AllRunning
                }
            })
            .min()
            .unwrap_or(Health::AllRunning);
        Self { health, hosts }
    }

    /// The hosts that did not answer.
    pub fn offline_hosts(&self) -> Vec<&str> {
        self.hosts
            .iter()
            .filter(|h| h.offline_reason.is_some())
            .map(|h| h.host.as_str())
            .collect()
    }

    /// How many apps have a problem, across hosts.
    pub fn problem_count(&self) -> usize {
        self.hosts.iter().map(|h| h.problems.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AppStatus;

    fn app(slug: &str, status: AppStatus) -> AppView {
        AppView {
            host: "h".into(),
            slug: slug.into(),
            status,
            r_version: "4.2.2".into(),
            mode: "ocap".into(),
            packages: vec![],
            repo: None,
            url: format!("ws://h/{slug}"),
            updated_at: 0,
        }
    }

    fn list(host: &str, apps: Vec<AppView>, offline: Option<&str>) -> AppsList {
        AppsList {
            host: host.into(),
            apps,
            live: offline.is_none(),
            offline_reason: offline.map(str::to_owned),
            worker_of: None,
        }
    }

    #[test]
    fn the_worst_host_decides() {
        let fine = list(
            "a",
            vec![app("x", AppStatus::Running), app("y", AppStatus::Exited)],
            None,
        );
        let down = list("b", vec![app("z", AppStatus::Crashed)], None);
        let gone = list(
            "c",
            vec![app("w", AppStatus::Running)],
            Some("connection refused"),
        );
        assert_eq!(
            OverviewView::from_lists(std::slice::from_ref(&fine)).health,
            Health::AllRunning
        );
        let both = OverviewView::from_lists(&[fine.clone(), down.clone()]);
        assert_eq!(both.health, Health::SomethingDown);
        assert_eq!(both.hosts[1].problems, vec!["z (crashed)"]);
        assert_eq!((both.hosts[0].running, both.hosts[0].total), (1, 2));
        assert_eq!(
            OverviewView::from_lists(&[gone.clone(), fine]).health,
            Health::HostOffline
        );
        let crash_and_offline = OverviewView::from_lists(&[gone, down]);
        assert_eq!(
            crash_and_offline.health,
            Health::SomethingDown,
            "a crash shows even while another host is offline"
        );
        assert_eq!(crash_and_offline.offline_hosts(), ["c"]);
        assert_eq!(crash_and_offline.problem_count(), 1);
        assert_eq!(OverviewView::from_lists(&[]).health, Health::AllRunning);
    }

    #[test]
    fn problems_are_listed_worst_first() {
        let apps = vec![
            app("a", AppStatus::Unhealthy),
            app("b", AppStatus::Exited),
            app("c", AppStatus::OomKilled),
            app("d", AppStatus::Restarting),
            app("e", AppStatus::Crashed),
        ];
        let overview = OverviewView::from_lists(&[list("h", apps, None)]);
        assert_eq!(
            overview.hosts[0].problems,
            [
                "c (oom-killed)",
                "e (crashed)",
                "a (unhealthy)",
                "d (restarting)"
            ]
        );
    }
}
