//! Bootstrapping a host from the desk: the plan (changing nothing), the run
//! over a session of its own (the host may have no Docker yet), images sent
//! from this workstation's Docker, the run recorded in the cache, and the
//! runs read back.

use std::time::Instant;

use super::{Desk, HostSession};
use crate::bootstrap::swarm::{self, SwarmNode};
use crate::bootstrap::{self, BootstrapOptions, BootstrapPlan, BootstrapReport, Role, StepEvent};
use crate::error::DeskError;
use crate::host::{ConnectOptions, Connection, HostTarget};
use crate::store::{BootstrapRecord, HostRecord, Outcome, now_ms};

/// A cluster node's Docker and SSH session, for the swarm steps.
fn node(session: &HostSession) -> Result<SwarmNode<'_>, bootstrap::BootstrapError> {
    session
        .connection
        .session()
        .map(|ssh| SwarmNode {
            name: &session.host().name,
            docker: session.connection.docker(),
            session: ssh,
        })
        .ok_or_else(|| bootstrap::BootstrapError::NotSsh(session.host().name.clone()))
}

/// Closes the sessions of a cluster's nodes.
async fn close_cluster(manager: HostSession, workers: Vec<HostSession>) {
    for session in std::iter::once(manager).chain(workers) {
        session.close().await;
    }
}

/// The plan of a cluster, over its nodes' sessions.
async fn plan_cluster(
    manager: &HostSession,
    workers: &[HostSession],
    options: &BootstrapOptions,
    workstation: Option<&bollard::Docker>,
) -> Result<BootstrapPlan, DeskError> {
    let mut plan =
        bootstrap::plan(&manager.connection, options, Role::Manager, workstation).await?;
    for worker in workers {
        let name = &worker.host().name;
        let planned =
            bootstrap::plan(&worker.connection, options, Role::Worker, workstation).await?;
        plan.steps.extend(planned.steps.into_iter().map(|mut step| {
            step.step = format!("{name}/{}", step.step);
            step
        }));
    }
    let manager_node = node(manager)?;
    let worker_nodes = workers.iter().map(node).collect::<Result<Vec<_>, _>>()?;
    plan.steps
        .extend(swarm::plan(&manager_node, &worker_nodes).await);
    Ok(plan)
}

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
    /// have no Docker yet. A cluster's plan has the manager's steps, each
    /// worker's (named `<worker>/<step>`) and the swarm's, as its bootstrap
    /// takes them; its facts are the manager's. With `send_images`, the plan
    /// is of [`Desk::bootstrap`] sending images: which it would send from
    /// this workstation, and which it could not.
    pub async fn bootstrap_plan(
        &self,
        host: &str,
        options: &BootstrapOptions,
        send_images: bool,
    ) -> Result<BootstrapPlan, DeskError> {
        let record = self.host(host).await?;
        let workers = self.store.cluster_nodes(host).await?;
        let here = match send_images {
            true => Some(self.workstation_docker().await?),
            false => None,
        };
        if workers.is_empty() {
            let session = self.connect_with(&record, None, false).await?;
            let plan =
                bootstrap::plan(&session.connection, options, Role::Host, here.as_ref()).await;
            session.close().await;
            return Ok(plan?);
        }
        let (manager, workers) = self.cluster_sessions(&record, &workers).await?;
        let plan = plan_cluster(&manager, &workers, options, here.as_ref()).await;
        close_cluster(manager, workers).await;
        plan
    }

    /// A session of the cluster's manager, then one of each worker; none is
    /// left open when one cannot be opened.
    async fn cluster_sessions(
        &self,
        manager: &HostRecord,
        workers: &[String],
    ) -> Result<(HostSession, Vec<HostSession>), DeskError> {
        let manager = self.connect_with(manager, None, false).await?;
        let mut sessions = Vec::new();
        for name in workers {
            let opened = match self.host(name).await {
                Ok(worker) => self.connect_with(&worker, None, false).await,
                Err(e) => Err(e),
            };
            match opened {
                Ok(session) => sessions.push(session),
                Err(e) => {
                    close_cluster(manager, sessions).await;
                    return Err(e);
                }
            }
        }
        Ok((manager, sessions))
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
        let workers = self.store.cluster_nodes(host).await?;
        let outcome = if workers.is_empty() {
            self.bootstrap_host(&record, options, send_images, &recording)
                .await
        } else {
            self.bootstrap_cluster(&record, &workers, options, send_images, &recording)
                .await
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

    /// One host's bootstrap over a session of its own.
    async fn bootstrap_host(
        &self,
        record: &HostRecord,
        options: &BootstrapOptions,
        send_images: bool,
        progress: &(dyn Fn(StepEvent) + Send + Sync),
    ) -> Result<BootstrapReport, DeskError> {
        let session = self.connect_with(record, None, false).await?;
        let here = match send_images {
            true => match self.workstation_docker().await {
                Ok(here) => Some(here),
                Err(e) => {
                    session.close().await;
                    return Err(e);
                }
            },
            false => None,
        };
        let report = bootstrap::run_as(
            &session.connection,
            options,
            Role::Host,
            here.as_ref(),
            progress,
        )
        .await;
        session.close().await;
        Ok(report?)
    }

    /// A cluster's bootstrap: the manager's own steps, each worker's (named
    /// `<worker>/<step>`; with `send_images`, each gets `rserve-base` from
    /// here too), then the swarm made of them, each node over a session of
    /// its own. The manager's report, with every step in it.
    async fn bootstrap_cluster(
        &self,
        record: &HostRecord,
        workers: &[String],
        options: &BootstrapOptions,
        send_images: bool,
        progress: &(dyn Fn(StepEvent) + Send + Sync),
    ) -> Result<BootstrapReport, DeskError> {
        // Bad options are refused before any node is reached.
        options
            .validate()
            .map_err(bootstrap::BootstrapError::from)?;
        let (manager, workers) = self.cluster_sessions(record, workers).await?;
        let result = self
            .run_cluster(&manager, &workers, options, send_images, progress)
            .await;
        close_cluster(manager, workers).await;
        result
    }

    async fn run_cluster(
        &self,
        manager: &HostSession,
        workers: &[HostSession],
        options: &BootstrapOptions,
        send_images: bool,
        progress: &(dyn Fn(StepEvent) + Send + Sync),
    ) -> Result<BootstrapReport, DeskError> {
        let here = match send_images {
            true => Some(self.workstation_docker().await?),
            false => None,
        };
        let mut report = bootstrap::run_as(
            &manager.connection,
            options,
            Role::Manager,
            here.as_ref(),
            progress,
        )
        .await?;
        for worker in workers {
            let name = worker.host().name.clone();
            let named = |mut event: StepEvent| {
                event.step = format!("{name}/{}", event.step);
                progress(event);
            };
            let done = bootstrap::run_as(
                &worker.connection,
                options,
                Role::Worker,
                here.as_ref(),
                &named,
            )
            .await?;
            report.steps.extend(done.steps.into_iter().map(|mut event| {
                event.step = format!("{name}/{}", event.step);
                event
            }));
        }
        let manager_node = node(manager)?;
        let worker_nodes = workers.iter().map(node).collect::<Result<Vec<_>, _>>()?;
        let formed = swarm::form(&manager_node, &worker_nodes, progress).await?;
        report.steps.extend(formed.steps);
        Ok(report)
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
