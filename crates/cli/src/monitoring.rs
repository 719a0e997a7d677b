//! `rdesk watch`, `rdesk metrics` and `rdesk chart`: their arguments and
//! the calls into `rdesk_core::monitor` and `rdesk_core::charts`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use rdesk_core::charts::{Metric, UtcOffset, parse_range};
use rdesk_core::desk::Desk;
use rdesk_core::monitor::{self, MonitorOptions};
use rdesk_core::store::now_ms;

use crate::output::Output;

#[derive(Args)]
pub struct WatchArgs {
    #[arg(long)]
    host: String,
    /// Only follow status changes; sample no metrics.
    #[arg(long)]
    no_metrics: bool,
    /// The Traefik container whose metrics count requests.
    #[arg(long, default_value = "rserve-desk-traefik")]
    traefik_container: String,
    /// Traefik's Prometheus metrics port on the host's 127.0.0.1 (or on the
    /// Traefik container's address, when it runs on a Docker network).
    #[arg(long, default_value_t = 8082)]
    traefik_metrics_port: u16,
}

#[derive(Args)]
pub struct MetricsArgs {
    /// The app; without it, the host's totals over all its apps.
    slug: Option<String>,
    #[arg(long)]
    host: String,
    /// How far back: 30m, 1h, 24h, 7d, up to 90d.
    #[arg(long, default_value = "1h")]
    range: String,
    /// A cluster app's use on each node it ran on, instead of its whole use.
    #[arg(long, requires = "slug")]
    by_node: bool,
}

#[derive(Args)]
pub struct ChartArgs {
    /// The app; without it, the host's totals (or every app's uptime).
    slug: Option<String>,
    #[arg(long)]
    host: String,
    /// cpu, memory, network, requests or uptime.
    #[arg(long, default_value = "cpu")]
    metric: String,
    /// How far back: 30m, 1h, 24h, 7d, up to 90d.
    #[arg(long, default_value = "24h")]
    range: String,
    /// Where to write the SVG.
    #[arg(long)]
    out: PathBuf,
}

/// Follows the host until interrupted, reconnecting when the tunnel drops.
pub async fn watch(desk: &Desk, args: WatchArgs, out: &Output) -> Result<()> {
    let options = MonitorOptions {
        metrics: !args.no_metrics,
        traefik_container: args.traefik_container,
        traefik_metrics_port: args.traefik_metrics_port,
        ..MonitorOptions::default()
    };
    monitor::run(desk, desk.store(), &args.host, &options, &|event| {
        out.monitor_event(event)
    })
    .await?;
    Ok(())
}

pub async fn metrics(desk: &Desk, args: MetricsArgs, out: &Output) -> Result<()> {
    let range = parse_range(&args.range)?;
    if let (true, Some(slug)) = (args.by_node, &args.slug) {
        let parts = desk
            .metrics_by_node(&args.host, slug, range, now_ms())
            .await?;
        out.metrics_by_node(slug, &args.host, &parts);
        return Ok(());
    }
    let series = desk
        .metrics(&args.host, args.slug.as_deref(), range, now_ms())
        .await?;
    out.metrics(&series);
    Ok(())
}

pub async fn chart(desk: &Desk, args: ChartArgs, out: &Output) -> Result<()> {
    let metric = Metric::parse(&args.metric)?;
    let range = parse_range(&args.range)?;
    let chart = desk
        .chart(
            &args.host,
            args.slug.as_deref(),
            metric,
            range,
            now_ms(),
            UtcOffset::UTC,
        )
        .await?;
    std::fs::write(&args.out, chart.svg)
        .with_context(|| format!("writing the chart to {}", args.out.display()))?;
    out.message(
        &format!("wrote {}: {}", args.out.display(), chart.description),
        &serde_json::json!({
            "chart": args.out,
            "metric": args.metric,
            "range": args.range,
            "description": chart.description,
        }),
    );
    Ok(())
}
