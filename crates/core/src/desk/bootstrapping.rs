//! Bootstrapping a host from the desk: the plan (changing nothing), the run
//! over a session of its own (the host may have no Docker yet), images sent
//! from this workstation's Docker, the run recorded in the cache, and the
//! runs read back.

use std::time::Instant;

use super::Desk;
use crate::bootstrap::{self, BootstrapOptions, BootstrapPlan, BootstrapReport, StepEvent};
use crate::error::DeskError;
use crate::host::{ConnectOptions, Connection, HostTarget};
use crate::store::{BootstrapRecord, Outcome, now_ms};

/// One recorded bootstrap: how it ended, and where each step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapRun {
    pub started_at: i64,
    pub duration_ms: i64,
    pub outcome: Outcome,
    pub message: Option<String>,
    /// Each step's last event, in the order the steps began.
    pub steps: Vec<StepEvent>,
}

/// The last event of each step, in the order the steps began.
fn last_of_each_step(events: Vec<StepEvent>) -> Vec<StepEvent> {
    let mut steps: Vec<StepEvent> = Vec::new();
    for event in events {
        match steps.iter_mut().find(|s| s.step == event.step) {
            Some(kept) => *kept = event,
            None => steps.push(event),
        }
    }
    steps
}

impl Desk {
    /// The host's last `limit` bootstraps from this workstation, newest first.
    pub async fn bootstrap_history(
        &self,
        host: &str,
        limit: u32,
    ) -> Result<Vec<BootstrapRun>, DeskError> {
        self.host(host).await?;
        let records = self.store.bootstraps(host, limit).await?;
        Ok(records
            .into_iter()
            .map(|r| BootstrapRun {
                started_at: r.started_at,
                duration_ms: r.duration_ms,
                outcome: r.outcome,
                message: r.message,
                steps: last_of_each_step(serde_json::from_value(r.steps).unwrap_or_default()),
            })
            .collect())
    }

    /// What a bootstrap of the host would do, changing nothing. The host may
    /// have no Docker yet.
    pub async fn bootstrap_plan(
        &self,
        host: &str,
        options: &BootstrapOptions,
    ) -> Result<BootstrapPlan, DeskError> {
        let record = self.host(host).await?;
        let session = self.connect_with(&record, None, false).await?;
        let plan = bootstrap::plan(&session.connection, options).await;
        session.close().await;
        Ok(plan?)
    }

    /// Bootstraps the host: each step checks first and is skipped when done,
    /// so this can run again at any time, also after an interruption. With
    /// `send_images`, the images the host cannot pull (Traefik's, a ready-made
    /// `rserve-base:<R>` or else its base) are sent from this workstation's
    /// Docker (the local socket) through the tunnel.
    pub async fn bootstrap(
        &self,
        host: &str,
        options: &BootstrapOptions,
        send_images: bool,
        progress: &(dyn Fn(StepEvent) + Send + Sync),
    ) -> Result<BootstrapReport, DeskError> {
        let record = self.host(host).await?;
        let started_at = now_ms();
        let clock = Instant::now();
        let events = std::sync::Mutex::new(Vec::new());
        let recording = |event: StepEvent| {
            if let Ok(mut events) = events.lock() {
                events.push(event.clone());
            }
            progress(event);
        };
        let outcome = match self.connect_with(&record, None, false).await {
            Ok(session) => {
                let report = if send_images {
                    match self.workstation_docker().await {
                        Ok(here) => bootstrap::run_sending_images(
                            &session.connection,
                            options,
                            &here,
                            &recording,
                        )
                        .await
                        .map_err(DeskError::from),
                        Err(e) => Err(e),
                    }
                } else {
                    bootstrap::run(&session.connection, options, &recording)
                        .await
                        .map_err(DeskError::from)
                };
                session.close().await;
                report
            }
            Err(e) => Err(e),
        };
        let steps = events.into_inner().unwrap_or_default();
        self.store
            .record_bootstrap(&BootstrapRecord {
                host: host.to_owned(),
                started_at,
                duration_ms: clock.elapsed().as_millis() as i64,
                outcome: Outcome::of(&outcome),
                message: outcome.as_ref().err().map(ToString::to_string),
                steps: serde_json::to_value(&steps).unwrap_or_default(),
            })
            .await?;
        outcome
    }

    /// This workstation's own Docker, where images are sent from.
    async fn workstation_docker(&self) -> Result<bollard::Docker, DeskError> {
        let target = HostTarget::Local {
            socket: crate::host::DEFAULT_DOCKER_SOCKET.into(),
        };
        let options = ConnectOptions::new(std::env::temp_dir());
        let local = Connection::open("this workstation", target, &options, &self.store).await?;
        Ok(local.docker())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap::StepState;

    fn event(step: &str, state: StepState) -> StepEvent {
        StepEvent {
            step: step.into(),
            state,
            duration_ms: 0,
            output_tail: String::new(),
            planned: 2,
        }
    }

    #[test]
    fn each_step_shows_where_it_ended_in_the_order_it_began() {
        let steps = last_of_each_step(vec![
            event("check-host", StepState::Started),
            event("check-host", StepState::Skipped),
            event("install-docker", StepState::Started),
            event("install-docker", StepState::Failed),
        ]);
        let ended: Vec<(&str, StepState)> =
            steps.iter().map(|s| (s.step.as_str(), s.state)).collect();
        assert_eq!(
            ended,
            [
                ("check-host", StepState::Skipped),
                ("install-docker", StepState::Failed)
            ]
        );
    }
}
