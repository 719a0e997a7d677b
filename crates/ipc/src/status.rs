//! The words the UI and the tray read about apps: an app's [`AppStatus`]
//! and how bad it is ([`Severity`]), and a deployment step's
//! [`DeploymentAction`] and [`Outcome`]. They mirror `rdesk_spawner::AppStatus`
//! and `rdesk_core::store`'s words (this crate depends on serde alone, and
//! the UI cannot compile those crates): the same variants, the same JSON
//! words; the desktop shell converts with exhaustive matches and tests that
//! both sides agree on every word and severity.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An app's state, as one word (`running`, `crashed`, `oom-killed`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AppStatus {
    Running,
    Starting,
    Unhealthy,
    Created,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
    Crashed,
    OomKilled,
    Removed,
    Missing,
    #[serde(other)]
    Unknown,
}

/// How bad a status is, best first: `max()` of some statuses is the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Up,
    Waiting,
    /// Stopped on purpose: not a problem.
    Stopped,
    Degraded,
    Down,
}

impl AppStatus {
    /// Every status, in declaration order.
    pub const ALL: [AppStatus; 14] = [
        AppStatus::Running,
        AppStatus::Starting,
        AppStatus::Unhealthy,
        AppStatus::Created,
        AppStatus::Paused,
        AppStatus::Restarting,
        AppStatus::Removing,
        AppStatus::Exited,
        AppStatus::Dead,
        AppStatus::Crashed,
        AppStatus::OomKilled,
        AppStatus::Removed,
        AppStatus::Missing,
        AppStatus::Unknown,
    ];

    /// The word shown, the same as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            AppStatus::Running => "running",
            AppStatus::Starting => "starting",
            AppStatus::Unhealthy => "unhealthy",
            AppStatus::Created => "created",
            AppStatus::Paused => "paused",
            AppStatus::Restarting => "restarting",
            AppStatus::Removing => "removing",
            AppStatus::Exited => "exited",
            AppStatus::Dead => "dead",
            AppStatus::Crashed => "crashed",
            AppStatus::OomKilled => "oom-killed",
            AppStatus::Removed => "removed",
            AppStatus::Missing => "missing",
            AppStatus::Unknown => "unknown",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            AppStatus::Running => Severity::Up,
            AppStatus::Starting | AppStatus::Created => Severity::Waiting,
            AppStatus::Exited | AppStatus::Paused | AppStatus::Removing | AppStatus::Removed => {
                Severity::Stopped
            }
            AppStatus::Unhealthy | AppStatus::Restarting => Severity::Degraded,
            AppStatus::Dead
            | AppStatus::Crashed
            | AppStatus::OomKilled
            | AppStatus::Missing
            | AppStatus::Unknown => Severity::Down,
        }
    }

    /// Serving now.
    pub fn is_up(self) -> bool {
        self.severity() == Severity::Up
    }

    /// Worth reporting (a stopped app is not).
    pub fn is_problem(self) -> bool {
        self.severity() >= Severity::Degraded
    }

    /// Whether `action` makes sense for an app in this state: Start when
    /// its container is not running, Stop when it runs (or is paused),
    /// Restart when it has a container. An unknown state allows all.
    pub fn allows(self, action: Action) -> bool {
        use AppStatus::*;
        match action {
            Action::Start => matches!(
                self,
                Created | Exited | Dead | Crashed | OomKilled | Unknown
            ),
            Action::Stop => matches!(
                self,
                Running | Starting | Unhealthy | Paused | Restarting | Unknown
            ),
            Action::Restart => !matches!(self, Removing | Removed | Missing),
        }
    }
}

/// What the window's lifecycle buttons ask of an app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Start,
    Stop,
    Restart,
}

impl fmt::Display for AppStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// What a recorded deployment step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentAction {
    Build,
    Start,
    Stop,
    Restart,
    Remove,
    Rollback,
    Settings,
    #[serde(other)]
    Unknown,
}

impl DeploymentAction {
    pub const ALL: [DeploymentAction; 8] = [
        DeploymentAction::Build,
        DeploymentAction::Start,
        DeploymentAction::Stop,
        DeploymentAction::Restart,
        DeploymentAction::Remove,
        DeploymentAction::Rollback,
        DeploymentAction::Settings,
        DeploymentAction::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentAction::Build => "build",
            DeploymentAction::Start => "start",
            DeploymentAction::Stop => "stop",
            DeploymentAction::Restart => "restart",
            DeploymentAction::Remove => "remove",
            DeploymentAction::Rollback => "rollback",
            DeploymentAction::Settings => "settings",
            DeploymentAction::Unknown => "unknown",
        }
    }
}

impl fmt::Display for DeploymentAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// How a recorded deployment step (or bootstrap) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Failed,
    #[serde(other)]
    Unknown,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Ok, Outcome::Failed, Outcome::Unknown];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json<T: Serialize>(value: T) -> String {
        serde_json::to_string(&value).unwrap()
    }

    #[test]
    fn every_word_is_its_json_and_reads_back() {
        for s in AppStatus::ALL {
            assert_eq!(json(s), format!("\"{s}\""));
            assert_eq!(serde_json::from_str::<AppStatus>(&json(s)).unwrap(), s);
        }
        for a in DeploymentAction::ALL {
            assert_eq!(json(a), format!("\"{a}\""));
            assert_eq!(
                serde_json::from_str::<DeploymentAction>(&json(a)).unwrap(),
                a
            );
        }
        for o in Outcome::ALL {
            assert_eq!(json(o), format!("\"{o}\""));
            assert_eq!(serde_json::from_str::<Outcome>(&json(o)).unwrap(), o);
        }
        assert_eq!(json(AppStatus::OomKilled), "\"oom-killed\"");
    }

    #[test]
    fn a_word_from_a_newer_shell_is_unknown() {
        assert_eq!(
            serde_json::from_str::<AppStatus>("\"frozen\"").unwrap(),
            AppStatus::Unknown
        );
        assert_eq!(
            serde_json::from_str::<DeploymentAction>("\"migrate\"").unwrap(),
            DeploymentAction::Unknown
        );
        assert_eq!(
            serde_json::from_str::<Outcome>("\"partial\"").unwrap(),
            Outcome::Unknown
        );
    }

    #[test]
    fn each_state_allows_the_actions_that_make_sense() {
        assert!(AppStatus::Running.allows(Action::Stop));
        assert!(!AppStatus::Running.allows(Action::Start));
        assert!(AppStatus::Exited.allows(Action::Start));
        assert!(!AppStatus::Exited.allows(Action::Stop));
        assert!(AppStatus::Crashed.allows(Action::Restart));
        assert!(!AppStatus::Missing.allows(Action::Restart));
        for status in AppStatus::ALL {
            assert!(
                [Action::Start, Action::Stop, Action::Restart]
                    .into_iter()
                    .any(|a| status.allows(a))
                    || matches!(
                        status,
                        AppStatus::Removing | AppStatus::Removed | AppStatus::Missing
                    ),
                "{status} allows nothing"
            );
        }
    }

    #[test]
    fn stopped_is_not_a_problem_but_unhealthy_is() {
        use AppStatus::*;
        for fine in [Running, Starting, Created, Exited, Paused, Removed] {
            assert!(!fine.is_problem(), "{fine}");
        }
        for bad in [
            Crashed, OomKilled, Unhealthy, Restarting, Missing, Dead, Unknown,
        ] {
            assert!(bad.is_problem(), "{bad}");
        }
        assert!(Running.is_up() && !Starting.is_up());
        assert!(Crashed.severity() > Unhealthy.severity());
        assert!(Unhealthy.severity() > Exited.severity());
        assert!(Exited.severity() > Starting.severity());
        assert!(Starting.severity() > Running.severity());
    }
}
