//! The banner shown when the local cache is unusable (written by a newer
//! version, or damaged): the shell's sentence saying why and what a repair
//! keeps, and a Repair button that moves the file aside and restarts the
//! window on a new cache.

use leptos::prelude::*;
use leptos::task::spawn_local;
use rdesk_ipc::{NoArgs, cmd};

use crate::bridge::invoke;

#[component]
pub fn CacheBanner() -> impl IntoView {
    let problem = RwSignal::new(None::<String>);
    let outcome = RwSignal::new(None::<String>);
    spawn_local(async move {
        if let Ok(why) = invoke::<cmd::CacheProblem>(&NoArgs {}).await {
            problem.set(why);
        }
    });
    let repair = move |_| {
        outcome.set(Some("Repairing…".to_owned()));
        spawn_local(async move {
            let said = match invoke::<cmd::RepairCache>(&NoArgs {}).await {
                Ok(done) if done.hosts.is_empty() => format!(
                    "Moved the old cache to {}; no host could be kept, add them again. Restarting…",
                    done.moved_to
                ),
                Ok(done) => format!(
                    "Moved the old cache to {}; kept {}. Restarting…",
                    done.moved_to,
                    done.hosts.join(", ")
                ),
                Err(e) => e.message,
            };
            outcome.set(Some(said));
        });
    };
    move || {
        problem.get().map(|why| {
            view! {
                <section class="error" id="cache-problem">
                    <p>{why}</p>
                    <button id="cache-repair" on:click=repair>"Repair"</button>
                    <p id="cache-repair-outcome">{move || outcome.get()}</p>
                </section>
            }
        })
    }
}
