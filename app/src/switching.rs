//! One run of the gated switch from a form (container settings, access):
//! its steps shown as they come, then "Applied in …" or the sentence.

use leptos::prelude::*;
use rdesk_ipc::{DeployProgress, Streaming, SwitchResult};

use crate::bridge::invoke_streaming;

/// Runs command `C` with `args`, filling `steps` and `outcome`; true when it applied.
pub async fn run_switch<C>(
    args: &C::Args,
    steps: RwSignal<Vec<String>>,
    outcome: RwSignal<Option<Result<String, String>>>,
) -> bool
where
    C: Streaming<Output = SwitchResult, Progress = DeployProgress>,
{
    steps.set(Vec::new());
    outcome.set(Some(Ok("applying…".into())));
    let on_progress = move |p: DeployProgress| {
        if let DeployProgress::Step { text } = p {
            steps.update(|s| s.push(text));
        }
    };
    let done = invoke_streaming::<C>(args, on_progress).await;
    outcome.set(Some(match &done {
        Ok(r) => Ok(format!(
            "Applied in {:.1} s.",
            r.duration_ms as f64 / 1000.0
        )),
        Err(e) => Err(e.message.clone()),
    }));
    done.is_ok()
}
