//! A cluster's app events: every node's Docker events, less those of what
//! the swarm did on purpose, which say nothing about the app. A task it
//! replaced (a rolling update, a rollback, a task moved) ends while the
//! service still wants its replicas, and an old task's container it prunes
//! is destroyed while the service lives on; on one host, the draining
//! containers' events are left out the same way. A task that crashed, an
//! app stopped (scaled to 0) or removed, still counts.

use bollard::models::{Task, TaskState};
use futures_util::stream::{self, BoxStream, StreamExt};

use super::SwarmSpawner;
use crate::error::SpawnError;
use crate::events::{AppEvent, AppEventKind, app_events};
use crate::spec::Slug;

impl SwarmSpawner {
    /// Every node's app events, merged as they come, less the swarm's own
    /// replacements (see the module's comment).
    pub(super) fn cluster_events(
        &self,
        since_ms: i64,
        until_ms: Option<i64>,
    ) -> BoxStream<'static, Result<AppEvent, SpawnError>> {
        let streams: Vec<_> = self
            .nodes
            .iter()
            .map(|(_, node)| app_events(&node.docker, since_ms, until_ms))
            .collect();
        let this = self.clone();
        stream::select_all(streams)
            .filter_map(move |item| {
                let this = this.clone();
                async move {
                    match item {
                        Ok(event) if this.done_by_the_swarm(&event).await => None,
                        other => Some(other),
                    }
                }
            })
            .boxed()
    }

    /// Whether `event` is the swarm replacing or pruning a task of a
    /// service that still wants replicas. When the manager cannot be asked,
    /// the event counts.
    async fn done_by_the_swarm(&self, event: &AppEvent) -> bool {
        if !matches!(
            event.kind,
            AppEventKind::Died { .. } | AppEventKind::Destroyed
        ) {
            return false;
        }
        let Ok(slug) = Slug::parse(&event.slug) else {
            return false;
        };
        let wanted = match self.current_service(&slug).await {
            Ok(Some(service)) => service
                .spec
                .and_then(|s| s.mode)
                .and_then(|m| m.replicated)
                .and_then(|r| r.replicas)
                .unwrap_or(0),
            _ => return false,
        };
        if wanted == 0 {
            return false;
        }
        let AppEventKind::Died { exit_code } = event.kind else {
            // A container destroyed while its service lives on: an old task pruned.
            return true;
        };
        match self.tasks(&slug).await {
            Ok(tasks) => {
                let task = tasks
                    .iter()
                    .find(|t| container_of(t) == Some(&event.container_id));
                match task {
                    Some(task) => shut_down_on_purpose(task),
                    // Gone from the swarm's history: only tasks that ended
                    // are pruned, and one that ended by itself is started
                    // again anyway; a crash still counts.
                    None => exit_code == 0,
                }
            }
            Err(_) => false,
        }
    }
}

fn container_of(task: &Task) -> Option<&String> {
    task.status
        .as_ref()?
        .container_status
        .as_ref()?
        .container_id
        .as_ref()
}

/// The swarm wanted `task` down, and it did not fail or end by itself
/// first: a task that failed is marked `failed` before the swarm wants it
/// shut down, so a crash is never taken for a replacement.
fn shut_down_on_purpose(task: &Task) -> bool {
    let wanted_down = matches!(
        task.desired_state,
        Some(TaskState::SHUTDOWN | TaskState::REMOVE)
    );
    let ended_by_itself = matches!(
        task.status.as_ref().and_then(|s| s.state),
        Some(TaskState::FAILED | TaskState::REJECTED | TaskState::COMPLETE)
    );
    wanted_down && !ended_by_itself
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::TaskStatus;

    fn task(desired: TaskState, state: TaskState) -> Task {
        Task {
            desired_state: Some(desired),
            status: Some(TaskStatus {
                state: Some(state),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_task_the_swarm_stopped_was_replaced_and_one_that_failed_crashed() {
        use TaskState::{COMPLETE, FAILED, REJECTED, REMOVE, RUNNING, SHUTDOWN};
        assert!(shut_down_on_purpose(&task(SHUTDOWN, RUNNING)));
        assert!(shut_down_on_purpose(&task(SHUTDOWN, SHUTDOWN)));
        assert!(shut_down_on_purpose(&task(REMOVE, SHUTDOWN)));
        assert!(!shut_down_on_purpose(&task(SHUTDOWN, FAILED)));
        assert!(!shut_down_on_purpose(&task(SHUTDOWN, REJECTED)));
        assert!(!shut_down_on_purpose(&task(SHUTDOWN, COMPLETE)));
        assert!(!shut_down_on_purpose(&task(RUNNING, RUNNING)));
        assert!(!shut_down_on_purpose(&task(RUNNING, FAILED)));
    }
}
