//! One run of the gated switch from a form (container settings, access, a
//! rollback, a secret): its steps shown as they come, then "Applied in …"
//! or the sentence.

use leptos::prelude::*;
use rdesk_ipc::{DeployProgress, Streaming, SwitchResult};

use crate::bridge::invoke_streaming;

/// A form's switch: the steps of its last run and how it ended.
#[derive(Clone, Copy)]
pub struct Switch {
    steps: RwSignal<Vec<String>>,
    outcome: RwSignal<Option<Result<String, String>>>,
}

impl Switch {
    pub fn new() -> Self {
        Self {
            steps: RwSignal::new(Vec::new()),
            outcome: RwSignal::new(None),
        }
    }

    /// Runs command `C` with `args`, showing its steps and outcome; true when it applied.
    pub async fn run<C>(self, args: &C::Args) -> bool
    where
        C: Streaming<Output = SwitchResult, Progress = DeployProgress>,
    {
        let Self { steps, outcome } = self;
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
}

/// The steps of a switch and its outcome, the latter as `id` when given.
#[component]
pub fn SwitchProgress(switch: Switch, #[prop(optional)] id: Option<&'static str>) -> impl IntoView {
    let Switch { steps, outcome } = switch;
    view! {
        <ol class="steps">{move || steps.get().into_iter().map(|s| view! { <li>{s}</li> }).collect::<Vec<_>>()}</ol>
        <p id=id role="status" class=move || match outcome.get() { Some(Err(_)) => "outcome bad", _ => "outcome" }>
            {move || outcome.get().map(|o| match o { Ok(t) | Err(t) => t })}
        </p>
    }
}
