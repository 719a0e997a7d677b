//! The words for an app's state: [`AppStatus`] (what Docker and the events
//! stream say, plus what we read into them: a crash, an OOM kill, a missing
//! container), how bad each is ([`Severity`]), and a container's health
//! check ([`HealthCheck`]). The same words are stored in the cache and
//! printed as JSON, so they never change; `rdesk-ipc` mirrors them for the UI.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An app's (or one container's) state, as one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AppStatus {
    /// Docker runs it and its health check, if any, passes.
    Running,
    /// Docker runs it; its first health check is pending.
    Starting,
    /// Docker runs it; its health check fails.
    Unhealthy,
    /// Made, never started.
    Created,
    Paused,
    /// Docker is restarting it.
    Restarting,
    /// Docker is removing it.
    Removing,
    /// Stopped, or ended with exit code 0.
    Exited,
    /// Docker could not stop or remove it cleanly.
    Dead,
    /// Ended with a non-zero exit code.
    Crashed,
    /// Killed for exceeding its memory limit.
    OomKilled,
    /// Its container was removed.
    Removed,
    /// The app has no container.
    Missing,
    /// A word this version does not know (from Docker or an older cache).
    #[serde(other)]
    Unknown,
}

/// How bad a status is, best first: `max()` of some statuses is the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Serving.
    Up,
    /// On its way up.
    Waiting,
    /// Stopped on purpose: not a problem.
    Stopped,
    /// There but not serving well (failing health checks, restarting).
    Degraded,
    /// Not there, or ended badly.
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

    /// The word stored in the cache, printed, and used in JSON.
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

    /// Reads a stored or Docker word; one this version does not know is
    /// [`AppStatus::Unknown`], never an error.
    pub fn parse(word: &str) -> AppStatus {
        AppStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == word)
            .unwrap_or(AppStatus::Unknown)
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

    /// The container ended (whether stopped, crashed or killed).
    pub fn has_ended(self) -> bool {
        matches!(
            self,
            AppStatus::Exited | AppStatus::Dead | AppStatus::Crashed | AppStatus::OomKilled
        )
    }

    /// Ended badly: what a listing, which shows only `exited`, cannot tell.
    pub fn ended_badly(self) -> bool {
        matches!(self, AppStatus::Crashed | AppStatus::OomKilled)
    }
}

impl fmt::Display for AppStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A container's health check, as Docker reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthCheck {
    Healthy,
    Unhealthy,
    /// Not passed yet (or a word this version does not know).
    #[serde(other)]
    Starting,
}

impl HealthCheck {
    /// Docker's word: `healthy`, `unhealthy`, `starting`; any other is `Starting`.
    pub fn parse(word: &str) -> HealthCheck {
        match word {
            "healthy" => HealthCheck::Healthy,
            "unhealthy" => HealthCheck::Unhealthy,
            _ => HealthCheck::Starting,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HealthCheck::Starting => "starting",
            HealthCheck::Healthy => "healthy",
            HealthCheck::Unhealthy => "unhealthy",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips_through_its_stored_word_and_json() {
        for status in AppStatus::ALL {
            assert_eq!(AppStatus::parse(status.as_str()), status);
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            assert_eq!(serde_json::from_str::<AppStatus>(&json).unwrap(), status);
            assert_eq!(status.to_string(), status.as_str());
        }
        assert_eq!(AppStatus::OomKilled.as_str(), "oom-killed");
    }

    #[test]
    fn the_stored_words_are_the_ones_older_versions_wrote() {
        let words: Vec<&str> = AppStatus::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            words,
            [
                "running",
                "starting",
                "unhealthy",
                "created",
                "paused",
                "restarting",
                "removing",
                "exited",
                "dead",
                "crashed",
                "oom-killed",
                "removed",
                "missing",
                "unknown"
            ]
        );
    }

    #[test]
    fn an_unknown_word_is_unknown_not_an_error() {
        for word in ["", "Running", "oom_killed", "frozen"] {
            assert_eq!(AppStatus::parse(word), AppStatus::Unknown, "{word:?}");
            let json = serde_json::to_string(word).unwrap();
            assert_eq!(
                serde_json::from_str::<AppStatus>(&json).unwrap(),
                AppStatus::Unknown
            );
        }
        assert!(AppStatus::Unknown.is_problem());
    }

    #[test]
    fn the_worst_status_is_the_most_severe() {
        use AppStatus::*;
        let worst = |s: &[AppStatus]| s.iter().map(|s| s.severity()).max();
        assert_eq!(worst(&[Running, Starting]), Some(Severity::Waiting));
        assert_eq!(worst(&[Running, Exited, Starting]), Some(Severity::Stopped));
        assert_eq!(worst(&[Exited, Unhealthy]), Some(Severity::Degraded));
        assert_eq!(worst(&[Unhealthy, Crashed, Running]), Some(Severity::Down));
        assert!(Running.is_up() && !Starting.is_up());
        for fine in [Running, Starting, Created, Exited, Paused, Removed] {
            assert!(!fine.is_problem(), "{fine}");
        }
        for bad in [Crashed, OomKilled, Unhealthy, Restarting, Missing, Dead] {
            assert!(bad.is_problem(), "{bad}");
        }
    }

    #[test]
    fn health_checks_read_dockers_words() {
        for h in [
            HealthCheck::Starting,
            HealthCheck::Healthy,
            HealthCheck::Unhealthy,
        ] {
            assert_eq!(HealthCheck::parse(h.as_str()), h);
            assert_eq!(
                serde_json::to_string(&h).unwrap(),
                format!("\"{}\"", h.as_str())
            );
        }
        assert_eq!(HealthCheck::parse("none"), HealthCheck::Starting);
    }
}
