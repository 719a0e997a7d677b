//! What a recorded deployment step did ([`DeploymentAction`]) and how it, or
//! a bootstrap, ended ([`Outcome`]). Their words are the stored text and the
//! JSON, as older versions wrote them; a word this version does not know
//! reads as `Unknown`, never as an error.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a deployment step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentAction {
    /// A deploy: built what was missing and switched to it.
    Build,
    Start,
    Stop,
    Restart,
    Remove,
    /// Switched back to a kept version.
    Rollback,
    /// Ran the current version with changed settings.
    Settings,
    /// A word this version does not know (from a newer one).
    #[serde(other)]
    Unknown,
}

impl DeploymentAction {
    /// Every action, in declaration order.
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

    /// The word stored and printed.
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

    /// Reads a stored word; an unknown one is [`DeploymentAction::Unknown`].
    pub fn parse(word: &str) -> DeploymentAction {
        DeploymentAction::ALL
            .into_iter()
            .find(|a| a.as_str() == word)
            .unwrap_or(DeploymentAction::Unknown)
    }
}

impl fmt::Display for DeploymentAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// How a deployment step or a bootstrap ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Failed,
    /// A word this version does not know (from a newer one).
    #[serde(other)]
    Unknown,
}

impl Outcome {
    /// Every outcome, in declaration order.
    pub const ALL: [Outcome; 3] = [Outcome::Ok, Outcome::Failed, Outcome::Unknown];

    /// `Ok` when `result` is, else `Failed`.
    pub fn of<T, E>(result: &Result<T, E>) -> Outcome {
        if result.is_ok() {
            Outcome::Ok
        } else {
            Outcome::Failed
        }
    }

    /// The word stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed => "failed",
            Outcome::Unknown => "unknown",
        }
    }

    /// Reads a stored word; an unknown one is [`Outcome::Unknown`].
    pub fn parse(word: &str) -> Outcome {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str() == word)
            .unwrap_or(Outcome::Unknown)
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

    #[test]
    fn every_word_round_trips_through_the_database_text_and_json() {
        for action in DeploymentAction::ALL {
            assert_eq!(DeploymentAction::parse(action.as_str()), action);
            let json = serde_json::to_string(&action).unwrap();
            assert_eq!(json, format!("\"{action}\""));
            assert_eq!(
                serde_json::from_str::<DeploymentAction>(&json).unwrap(),
                action
            );
        }
        for outcome in Outcome::ALL {
            assert_eq!(Outcome::parse(outcome.as_str()), outcome);
            let json = serde_json::to_string(&outcome).unwrap();
            assert_eq!(json, format!("\"{outcome}\""));
            assert_eq!(serde_json::from_str::<Outcome>(&json).unwrap(), outcome);
        }
    }

    #[test]
    fn the_stored_words_are_the_ones_older_versions_wrote() {
        let actions: Vec<&str> = DeploymentAction::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(
            actions,
            [
                "build", "start", "stop", "restart", "remove", "rollback", "settings", "unknown"
            ]
        );
        assert_eq!(
            Outcome::ALL.map(Outcome::as_str),
            ["ok", "failed", "unknown"]
        );
    }

    #[test]
    fn unknown_words_read_as_unknown() {
        assert_eq!(
            DeploymentAction::parse("migrate"),
            DeploymentAction::Unknown
        );
        assert_eq!(DeploymentAction::parse("Build"), DeploymentAction::Unknown);
        assert_eq!(Outcome::parse(""), Outcome::Unknown);
        assert_eq!(
            serde_json::from_str::<Outcome>("\"partial\"").unwrap(),
            Outcome::Unknown
        );
    }

    #[test]
    fn an_outcome_is_read_from_a_result() {
        assert_eq!(Outcome::of(&Ok::<(), ()>(())), Outcome::Ok);
        assert_eq!(Outcome::of(&Err::<(), _>("no")), Outcome::Failed);
    }
}
