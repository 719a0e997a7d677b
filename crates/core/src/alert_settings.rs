//! The user's alert settings, kept in `alerts.json` in the data folder,
//! readable by the user alone (a webhook URL often holds a token): how long
//! one app's repeated problems stay quiet, and the webhook, if any.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::alerts::DEFAULT_THROTTLE;
use crate::error::DeskError;
use crate::paths::ensure_private_file;
use crate::webhook::Webhook;

/// The longest a throttle may be: a day.
pub const MAX_THROTTLE_SECS: u64 = 86_400;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertSettings {
    /// Seconds one app's repeated problems stay quiet after a notification.
    pub throttle_secs: u64,
    pub webhook_url: Option<String>,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            throttle_secs: DEFAULT_THROTTLE.as_secs(),
            webhook_url: None,
        }
    }
}

fn file(data_dir: &Path) -> PathBuf {
    data_dir.join("alerts.json")
}

fn io_error(what: &str, file: &Path, source: std::io::Error) -> DeskError {
    DeskError::Io {
        what: format!("{what} {}", file.display()),
        source,
    }
}

impl AlertSettings {
    /// The settings kept in `data_dir`; the defaults when none are kept yet.
    pub fn load(data_dir: &Path) -> Result<Self, DeskError> {
        let file = file(data_dir);
        match std::fs::read(&file) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                DeskError::AlertSettings(format!(
                    "{} is not readable ({e}); save the settings again to replace it",
                    file.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(io_error("reading", &file, e)),
        }
    }

    /// Checks the settings: the throttle within a day, the webhook an
    /// http(s) URL. Returns the webhook to use.
    pub fn check(&self) -> Result<Option<Webhook>, DeskError> {
        if self.throttle_secs > MAX_THROTTLE_SECS {
            return Err(DeskError::AlertSettings(format!(
                "a throttle of {} s is over a day ({MAX_THROTTLE_SECS} s)",
                self.throttle_secs
            )));
        }
        self.webhook_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(Webhook::new)
            .transpose()
            .map_err(|e| DeskError::AlertSettings(e.to_string()))
    }

    pub fn throttle(&self) -> Duration {
        Duration::from_secs(self.throttle_secs)
    }

    /// Checks, then keeps the settings in `data_dir` (a file only the user
    /// can read); returns the webhook to use.
    pub fn save(&self, data_dir: &Path) -> Result<Option<Webhook>, DeskError> {
        let webhook = self.check()?;
        let file = file(data_dir);
        let kept = Self {
            throttle_secs: self.throttle_secs,
            webhook_url: self
                .webhook_url
                .as_deref()
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(str::to_owned),
        };
        let json = serde_json::to_vec_pretty(&kept)
            .map_err(|e| DeskError::AlertSettings(e.to_string()))?;
        ensure_private_file(&file).map_err(|e| io_error("protecting", &file, e))?;
        std::fs::write(&file, json).map_err(|e| io_error("writing", &file, e))?;
        Ok(webhook)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn settings_round_trip_privately_and_bad_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            AlertSettings::load(dir.path()).unwrap(),
            AlertSettings::default()
        );
        let wanted = AlertSettings {
            throttle_secs: 5,
            webhook_url: Some(" http://127.0.0.1:9/hook ".into()),
        };
        let webhook = wanted.save(dir.path()).unwrap().unwrap();
        assert_eq!(webhook.site(), "http://127.0.0.1:9");
        let loaded = AlertSettings::load(dir.path()).unwrap();
        assert_eq!(
            loaded.webhook_url.as_deref(),
            Some("http://127.0.0.1:9/hook")
        );
        assert_eq!(loaded.throttle(), Duration::from_secs(5));
        let mode = std::fs::metadata(file(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        let too_long = AlertSettings {
            throttle_secs: MAX_THROTTLE_SECS + 1,
            ..loaded.clone()
        };
        assert!(
            too_long
                .save(dir.path())
                .unwrap_err()
                .to_string()
                .contains("over a day")
        );
        let not_a_url = AlertSettings {
            webhook_url: Some("hooks.example.com".into()),
            ..loaded.clone()
        };
        assert!(not_a_url.save(dir.path()).is_err());
        assert_eq!(
            AlertSettings::load(dir.path()).unwrap(),
            loaded,
            "a refused change keeps the old settings"
        );

        std::fs::write(file(dir.path()), "{not json").unwrap();
        assert!(
            AlertSettings::load(dir.path())
                .unwrap_err()
                .to_string()
                .contains("save the settings again")
        );
    }
}
