//! The cards at the top of a host's page (apps running of total, CPU,
//! memory, network, requests) and of an app's page (the same for the app,
//! memory of its limit, how long it has been up). They are read again
//! whenever the host's monitor records a sample, without a click.

use leptos::prelude::*;
use rdesk_ipc::{SummaryArgs, SummaryView, cmd};

use crate::format::{bytes, span};
use crate::state::Ui;

fn rate(bytes_per_s: f64) -> String {
    format!("{}/s", bytes(bytes_per_s.max(0.0) as u64))
}

#[component]
fn Card(name: &'static str, label: &'static str, value: Signal<String>) -> impl IntoView {
    view! {
        <div class="card" data-card=name>
            <span class="label">{label}</span>
            <span class="value">{value}</span>
        </div>
    }
}

#[component]
pub fn SummaryCards(host: String, slug: Option<String>) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let summary = RwSignal::new(None::<SummaryView>);
    {
        let args = SummaryArgs {
            host: host.clone(),
            slug: slug.clone(),
        };
        let samples = ui.samples_of(host.clone());
        Effect::new(move |_| {
            samples.track();
            ui.fetch::<cmd::Summary>(args.clone(), move |s| summary.set(Some(s)));
        });
    }
    let number = move |f: fn(&SummaryView) -> String| {
        Signal::derive(move || summary.get().map_or_else(|| "…".to_owned(), |s| f(&s)))
    };
    let apps = {
        let host = host.clone();
        Signal::derive(move || {
            ui.apps.with(|m| {
                m.get(&host).map_or_else(
                    || "…".to_owned(),
                    |l| {
                        let up = l.apps.iter().filter(|a| a.status.is_up()).count();
                        format!("{up} of {}", l.apps.len())
                    },
                )
            })
        })
    };
    let uptime = Signal::derive(move || {
        let now = ui.now.get();
        match summary.get().and_then(|s| s.up_since_ms) {
            Some(since) => format!("for {}", span(now - since)),
            None => "not running".to_owned(),
        }
    });
    let for_app = slug.is_some();
    view! {
        <div class="cards" id="summary" aria-live="polite"
            data-sampled=move || summary.get().and_then(|s| s.sampled_at_ms).unwrap_or_default().to_string()>
            {(!for_app).then(|| view! { <Card name="apps" label="Apps running" value=apps/> })}
            <Card name="cpu" label="CPU" value=number(|s| format!("{:.1} %", s.cpu_percent))/>
            <Card name="memory" label="Memory" value=number(|s| match s.memory_limit_bytes.or(s.memory_total_bytes) {
                Some(limit) => format!("{} of {}", bytes(s.memory_bytes), bytes(limit)),
                None => bytes(s.memory_bytes),
            })/>
            <Card name="network" label="Network in / out" value=number(|s| format!("{} / {}", rate(s.net_rx_bytes_per_s), rate(s.net_tx_bytes_per_s)))/>
            <Card name="requests" label="Requests" value=number(|s| s.requests_per_minute.map_or_else(|| "—".to_owned(), |r| format!("{r:.0} a minute")))/>
            {for_app.then(|| view! { <Card name="up" label="Up" value=uptime/> })}
        </div>
    }
}
