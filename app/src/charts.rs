//! Charts of an app (or, without an app, of the host's totals): one metric
//! at a time over 1 h, 24 h or 7 d, drawn by the core as SVG and shown as
//! it comes; the uptime grid shows every app of the host. A chart reaches the
//! page as an image (a `data:` URL), never as markup, with its description
//! in words as the text alternative.

use leptos::prelude::*;
use leptos::task::spawn_local;
use rdesk_ipc::{ChartArgs, ChartView, cmd};

use crate::bridge::invoke;
use crate::format::utc_offset_min;
use crate::state::Ui;

const METRICS: [(&str, &str); 5] = [
    ("cpu", "CPU"),
    ("memory", "Memory"),
    ("network", "Network"),
    ("requests", "Requests/min"),
    ("uptime", "Uptime"),
];
const RANGES: [&str; 3] = ["1h", "24h", "7d"];

#[component]
pub fn Charts(host: String, slug: Option<String>) -> impl IntoView {
    let ui = expect_context::<Ui>();
    let metric = RwSignal::new("cpu".to_owned());
    let range = RwSignal::new("1h".to_owned());
    let chart = RwSignal::new(None::<Result<ChartView, String>>);
    // Drawn again with each new sample of the host.
    let samples = ui.samples_of(host.clone());
    Effect::new(move |_| {
        samples.track();
        let args = ChartArgs {
            host: host.clone(),
            slug: slug.clone(),
            metric: metric.get(),
            range: range.get(),
            utc_offset_min: utc_offset_min(),
        };
        spawn_local(async move {
            chart.set(Some(
                invoke::<cmd::Chart>(&args).await.map_err(|e| e.message),
            ));
        });
    });
    view! {
        <div class="charts">
            <div class="buttons">
                {METRICS.iter().map(|(name, label)| view! {
                    <button class="small" id=format!("chart-{name}")
                        class:chosen=move || metric.get() == *name
                        aria-pressed=move || (metric.get() == *name).to_string()
                        on:click=move |_| metric.set((*name).to_owned())>{*label}</button>
                }).collect::<Vec<_>>()}
                <select id="chart-range" aria-label="Time range" on:change=move |e| range.set(event_target_value(&e))>
                    {RANGES.iter().map(|r| view! { <option value=*r>{*r}</option> }).collect::<Vec<_>>()}
                </select>
            </div>
            {move || match chart.get() {
                Some(Ok(chart)) => view! {
                    <img id="chart" class="chart" src=svg_data_url(&chart.svg)
                        alt=chart.description.clone() title=chart.description />
                }.into_any(),
                Some(Err(e)) => view! { <p id="chart" class="bad">{e}</p> }.into_any(),
                None => view! { <p class="muted">"Drawing…"</p> }.into_any(),
            }}
        </div>
    }
}

/// An SVG document as a `data:` URL for an `<img>`: the browser renders it as
/// a picture, so nothing in it runs or joins the page.
fn svg_data_url(svg: &str) -> String {
    let encoded: String = js_sys::encode_uri_component(svg).into();
    format!("data:image/svg+xml;charset=utf-8,{encoded}")
}
