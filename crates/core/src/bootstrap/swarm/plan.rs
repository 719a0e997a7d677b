//! What [`super::form`] would do, changing nothing: each swarm step with
//! whether a run would change something there, or the sentence it would
//! refuse with. A node whose Docker does not answer yet (a bare VPS before
//! its own steps) is checked again by the run.

use super::{
    ManagerState, STEP_SWARM, STEP_TRAEFIK_NETWORKS, SwarmNode, WorkerState, manager_state,
    networks_without_traefik, worker_state,
};
use crate::bootstrap::plan::PlannedStep;

const UNREACHED: &str = "Docker is not reachable yet: checked again after installing";

fn planned(step: &str, to_do: bool, note: impl Into<String>) -> PlannedStep {
    PlannedStep {
        step: step.to_owned(),
        to_do,
        note: note.into(),
    }
}

/// The swarm steps of `manager` and `workers`, in the order `form` takes them.
pub async fn plan(manager: &SwarmNode<'_>, workers: &[SwarmNode<'_>]) -> Vec<PlannedStep> {
    let swarm = match manager.docker.info().await {
        Ok(info) => match manager_state(info.swarm.unwrap_or_default()) {
            ManagerState::Manager(note) => planned(STEP_SWARM, false, note),
            ManagerState::Outside => planned(
                STEP_SWARM,
                true,
                "initialise a swarm, advertised at the address the SSH session reaches",
            ),
            ManagerState::Refused(reason) => {
                planned(STEP_SWARM, true, format!("refused: {reason}"))
            }
        },
        Err(_) => planned(STEP_SWARM, true, UNREACHED),
    };
    let formed = !swarm.to_do;
    let mut steps = vec![swarm];
    for worker in workers {
        let step = format!("join:{}", worker.name);
        let joined = if formed {
            match worker_state(manager, worker, &step).await {
                Ok((_, WorkerState::Member)) => {
                    planned(&step, false, format!("{} already a worker", worker.name))
                }
                Ok((_, WorkerState::Outside)) => {
                    planned(&step, true, "join with the manager's worker token")
                }
                Ok((_, WorkerState::Refused(reason))) => {
                    planned(&step, true, format!("refused: {reason}"))
                }
                Err(_) => planned(&step, true, UNREACHED),
            }
        } else {
            planned(&step, true, "join the swarm once the manager made it")
        };
        steps.push(joined);
    }
    steps.push(match networks_without_traefik(&manager.docker).await {
        Ok(missing) if missing.is_empty() => planned(
            STEP_TRAEFIK_NETWORKS,
            false,
            "Traefik is on every app's network",
        ),
        Ok(missing) => planned(
            STEP_TRAEFIK_NETWORKS,
            true,
            format!("join Traefik to {}", missing.join(", ")),
        ),
        Err(_) => planned(
            STEP_TRAEFIK_NETWORKS,
            true,
            "join Traefik, once its step made it, to every app's network",
        ),
    });
    steps
}
