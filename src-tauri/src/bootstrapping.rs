//! The hosts page's bootstrap: a run with its steps streamed as they
//! happen, and the host's past runs from this workstation.

use rdesk_core::bootstrap::{BootstrapChoices, BootstrapOptions};
use rdesk_ipc::{
    BootstrapArgs, BootstrapRunView, BootstrapStep, BootstrapSummary, HostArgs, IpcError,
};
use tauri::AppHandle;
use tauri::ipc::Channel;

use crate::handle::send;
use crate::shell::Shell;
use crate::{convert, watch};

type Reply<T> = Result<T, IpcError>;

/// How many past bootstraps the hosts page lists.
const HISTORY: u32 = 20;

fn step(event: rdesk_core::bootstrap::StepEvent) -> BootstrapStep {
    BootstrapStep {
        state: serde_json::to_value(event.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        step: event.step,
        duration_ms: event.duration_ms,
        output_tail: event.output_tail,
        planned: u32::try_from(event.planned).unwrap_or(u32::MAX),
    }
}

pub async fn bootstrap(
    app: &AppHandle,
    shell: &Shell,
    args: BootstrapArgs,
    progress: Channel<BootstrapStep>,
) -> Reply<BootstrapSummary> {
    let _running = shell.work.enter();
    let options = BootstrapOptions::from(BootstrapChoices {
        domain: args.domain,
        email: args.email,
        http_port: args.http_port,
        https_port: args.https_port,
        r_versions: args.r_versions,
        base_image: args.base_image,
        traefik_image: args.traefik_image,
    });
    let report = shell
        .desk
        .bootstrap(&args.host, &options, args.send_images, &|event| {
            send(&progress, step(event))
        })
        .await
        .map_err(convert::error)?;
    watch::start(app, args.host);
    Ok(BootstrapSummary {
        changed: report.changed(),
        steps: report.steps.into_iter().map(step).collect(),
    })
}

pub async fn bootstrap_history(
    _: &AppHandle,
    shell: &Shell,
    args: HostArgs,
) -> Reply<Vec<BootstrapRunView>> {
    let runs = shell
        .desk
        .bootstrap_history(&args.host, HISTORY)
        .await
        .map_err(convert::error)?;
    Ok(runs
        .into_iter()
        .map(|run| BootstrapRunView {
            started_at: run.started_at,
            duration_ms: run.duration_ms,
            outcome: convert::outcome(run.outcome),
            message: run.message,
            steps: run.steps.into_iter().map(step).collect(),
        })
        .collect())
}
