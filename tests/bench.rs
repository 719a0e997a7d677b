//! `cargo xtask bench`: figures measured in one run against the stand-in VPS,
//! printed as ratios so a noisy machine shifts both sides alike.
//! - Docker API round trip (list containers) over the SSH tunnel ÷ over the local socket;
//! - code-only redeploy time ÷ first build time;
//! - code-only redeploys under traffic: time until the new version answers
//!   through Traefik (goal <= 5 s), the whole switch, and failed calls;
//! - the monitor's store, chart query and crash-to-event figures
//!   (`bench_monitor`; `rdesk-bench store` measures only the store's);
//! - a three-replica deploy to the swarm stand-in ÷ to one host, and the
//!   monitor's CPU with 200 apps across its three nodes, on loopback and over
//!   the nodes' and the stand-in's slow relays (`bench_swarm`;
//!   `rdesk-bench swarm` measures only these);
//! - the desktop app: cold start to a painted window, memory with its webview
//!   processes with the window open, then in the tray over 30 minutes
//!   (`rdesk-bench desktop` measures only this; `RDESK_BENCH_TRAY_MINUTES`
//!   shortens it);
//! - user actions (through the CLI, and as the window makes them on its kept
//!   session) and an image send on loopback vs over the stand-in's slow
//!   relay, in round trips of the relay, with the ssh processes each starts (`bench_link`).

#[path = "bench_desktop.rs"]
mod bench_desktop;
#[path = "bench_link.rs"]
mod bench_link;
#[path = "bench_monitor.rs"]
mod bench_monitor;
#[path = "bench_swarm.rs"]
mod bench_swarm;

use std::time::{Duration, Instant};

use rdesk_core::desk::{DeployRequest, Desk, Lifecycle, NewHost};
use rdesk_core::host::{ConnectOptions, Connection, HostTarget};
use rdesk_core::paths;
use rdesk_core::preview::AppFiles;
use rdesk_e2e::{Standin, Traffic, app_folder};

const ROUND_TRIPS: usize = 50;
/// Code-only redeploys timed under traffic.
const SWITCHES: u32 = 3;

/// The nodes of the monitor store's synthetic cluster.
const CLUSTER_NODES: [&str; 3] = ["node1", "node2", "node3"];

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `rdesk-bench store`: the monitor store's figures only (no VPS needed).
    if std::env::args().nth(1).as_deref() == Some("store") {
        bench_monitor::store_figures(&[]).await?;
        return bench_monitor::store_figures(&CLUSTER_NODES).await;
    }
    let Some(vps) = Standin::from_env("bench") else {
        return Err("run it through `cargo xtask bench`, which starts the stand-in".into());
    };
    let data = tempfile::tempdir()?;
    let desk = Desk::open(data.path()).await?;
    let target = HostTarget::parse_ssh(&vps.ssh)?.with_identity(&vps.identity);
    desk.add_host(NewHost {
        name: "vps".into(),
        target: target.clone(),
        public_url: Some(vps.public_url.clone()),
        secret: None,
        confirmed_fingerprint: None,
    })
    .await?;
    // `rdesk-bench desktop`: the desktop app's figures only.
    match std::env::args().nth(1).as_deref() {
        Some("desktop") => return desktop_figures(&desk, data.path()).await,
        // `rdesk-bench swarm`: the cluster's figure only.
        Some("swarm") => {
            bench_swarm::deploy_ratio(&desk).await?;
            return bench_swarm::monitor_cpu(&desk, data.path()).await;
        }
        _ => {}
    }

    bench_link::cli_actions(&vps)?;
    let links_data = tempfile::tempdir()?;
    let links = bench_link::two_links(&vps, links_data.path()).await?;
    bench_link::image_send(&links, &vps).await?;
    bench_link::window_actions(&links).await?;

    let runtime = paths::private_runtime_dir()?;
    let options = ConnectOptions::new(runtime.path().to_owned());
    let tunnel = Connection::open("vps", target, &options, desk.store()).await?;
    let local = Connection::open("local", HostTarget::local(), &options, desk.store()).await?;
    let (over_tunnel, over_socket) = round_trips(&tunnel, &local).await?;
    tunnel.close().await?;
    local.close().await?;
    println!("docker API round trip (list containers), median of {ROUND_TRIPS}:");
    println!("  over the SSH tunnel: {:.2} ms", ms(over_tunnel));
    println!("  over the local socket: {:.2} ms", ms(over_socket));
    println!(
        "  ratio tunnel / local: {:.2}x (goal <= 1.3x)",
        over_tunnel.as_secs_f64() / over_socket.as_secs_f64()
    );

    let session = desk.session("vps").await?;
    let code = |n: u32| {
        format!("library(rdeskdemo)\nversion <- function() {n}L\nloud <- function(x) shout(x)\n")
    };
    let (_dir, app) = app_folder("bench", &[("app.R", &code(1))]);
    let request = DeployRequest {
        slug: Some("bench-redeploy".into()),
        repo: Some(vps.repo.clone()),
        // Public: the traffic client calls it without a token.
        settings: rdesk_core::app_settings::SettingsRequest {
            access: Some("public".into()),
            ..Default::default()
        },
        ..DeployRequest::default()
    };
    let quiet = |_event| {};
    let read = || AppFiles::read(vec![app.clone()]);
    let first = session.deploy(&request, &read().await?, &quiet).await?;
    std::fs::write(app.join("app.R"), code(2))?;
    let second = session.deploy(&request, &read().await?, &quiet).await?;
    let url = format!(
        "{}/bench-redeploy",
        vps.public_url.replace("http://", "ws://")
    );
    let mut switches = Vec::new();
    for n in 3..3 + SWITCHES {
        std::fs::write(app.join("app.R"), code(n))?;
        let traffic = Traffic::start(&url, "version");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let clock = Instant::now();
        session.deploy(&request, &read().await?, &quiet).await?;
        let whole = clock.elapsed();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let seen = traffic.stop();
        let offset = clock.duration_since(seen.started);
        let answering = seen
            .first(&n.to_string())
            .map(|t| t.saturating_sub(offset))
            .ok_or("the new version never answered")?;
        switches.push((answering, whole, seen.calls, seen.failures.len()));
    }
    session.remove("bench-redeploy").await?;
    session.close().await;
    let secs = |ms: u64| ms as f64 / 1000.0;
    let (first_total, second_total) = (first.duration_ms as u64, second.duration_ms as u64);
    let (first_build, second_build) = (first.deployed.build_ms, second.deployed.build_ms);
    let packages = if first.deployed.packages_reused {
        "already there"
    } else {
        "built"
    };
    println!("deploy over SSH (packages layer {packages} in the first):");
    println!(
        "  image builds: first {:.2} s, code-only {:.2} s, ratio {:.2}",
        secs(first_build),
        secs(second_build),
        second_build as f64 / first_build as f64
    );
    println!(
        "  whole deploy (build, start, health check, switch, answering): first {:.2} s, code-only {:.2} s, ratio {:.2}",
        secs(first_total),
        secs(second_total),
        second_total as f64 / first_total as f64
    );
    println!("code-only redeploys under traffic (a client calling through Traefik throughout):");
    for (answering, whole, calls, failed) in &switches {
        println!(
            "  new version answering after {:.2} s (goal <= 5 s), switch done after {:.2} s, failed calls {failed} of {calls}",
            answering.as_secs_f64(),
            whole.as_secs_f64()
        );
    }
    let mut answering: Vec<Duration> = switches.iter().map(|s| s.0).collect();
    answering.sort();
    println!(
        "  median time to the new version answering: {:.2} s; failed calls in all: {}",
        answering[answering.len() / 2].as_secs_f64(),
        switches.iter().map(|s| s.3).sum::<usize>()
    );
    bench_monitor::store_figures(&[]).await?;
    bench_monitor::store_figures(&CLUSTER_NODES).await?;
    bench_monitor::crash_latency(&desk, &vps.repo).await?;
    bench_swarm::deploy_ratio(&desk).await?;
    bench_swarm::monitor_cpu(&desk, data.path()).await?;

    bench_link::crash_notifications(&links, links_data.path()).await?;
    desktop_figures(&desk, data.path()).await
}

/// Apps the desktop app watches while it is measured in the tray.
const WATCHED_APPS: u32 = 20;
/// Cold starts timed for their median.
const COLD_STARTS: usize = 5;
/// How long the app is measured in the tray, unless `RDESK_BENCH_TRAY_MINUTES` says.
const TRAY_MINUTES: u64 = 30;

/// The desktop app's start and memory, window open then in the tray,
/// watching host `vps` with [`WATCHED_APPS`] apps deployed for it.
async fn desktop_figures(
    desk: &Desk,
    data_dir: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let minutes = std::env::var("RDESK_BENCH_TRAY_MINUTES")
        .ok()
        .and_then(|m| m.parse::<u64>().ok())
        .unwrap_or(TRAY_MINUTES)
        .max(2);
    let mut checkpoints = vec![1, 10.min(minutes), minutes];
    checkpoints.dedup();
    let session = desk.session("vps").await?;
    let (_dir, app) = app_folder("watched", &[("app.R", "answer <- function() 42L\n")]);
    let files = AppFiles::read(vec![app]).await?;
    let slugs: Vec<String> = (1..=WATCHED_APPS)
        .map(|n| format!("watched-{n:02}"))
        .collect();
    for slug in &slugs {
        let request = DeployRequest {
            slug: Some(slug.clone()),
            ..DeployRequest::default()
        };
        session.deploy(&request, &files, &|_event| {}).await?;
    }
    // The stand-in runs on this machine, so its apps' health checks (two a
    // second each) take its CPU from the app being started; a real VPS's
    // apps do not. Cold starts are timed with the apps stopped, then once
    // more (the first of `measure`) with them running.
    for slug in &slugs {
        session.act(slug, Lifecycle::Stop).await?;
    }
    let starts = bench_desktop::cold_starts(data_dir, COLD_STARTS).await;
    for slug in &slugs {
        session.act(slug, Lifecycle::Start).await?;
    }
    let measured = bench_desktop::measure(data_dir, &checkpoints).await;
    for slug in &slugs {
        session.remove(slug).await?;
    }
    session.close().await;
    let figures = measured?;
    let mut starts = starts?;
    starts.sort();
    let build = if std::env::var_os(rdesk_e2e::display::DESKTOP_BIN_ENV).is_some() {
        "release build (profile dist)"
    } else {
        "debug build"
    };
    let mb = |kb: u64| kb as f64 / 1024.0;
    let pss = |m: &bench_desktop::Memory| mb(m.values().map(|v| v.1).sum());
    let parts = |m: &bench_desktop::Memory| {
        m.iter()
            .map(|(name, (r, p))| format!("{name} {:.0}/{:.0}", mb(*r), mb(*p)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "desktop app ({build}, under Xvfb, host `vps` watched with {} apps on it):",
        slugs.len()
    );
    println!(
        "  cold start to painted window, the stand-in's apps stopped: median {:.2} s of {} ({:.2} to {:.2} s) (goal <= 1.5 s)",
        starts[starts.len() / 2].as_secs_f64(),
        starts.len(),
        starts[0].as_secs_f64(),
        starts[starts.len() - 1].as_secs_f64()
    );
    println!(
        "  cold start with the {} apps running on the stand-in, which shares this machine's CPU: {:.2} s",
        slugs.len(),
        figures.painted.as_secs_f64()
    );
    println!(
        "  window open and idle: PSS {:.0} MB (goal <= 250 MB); RSS/PSS MB: {}",
        pss(&figures.window),
        parts(&figures.window)
    );
    for (minutes, memory) in &figures.tray {
        println!(
            "  in the tray after {minutes} min: PSS {:.0} MB (goal <= 80 MB at 10 min); RSS/PSS MB: {}",
            pss(memory),
            parts(memory)
        );
    }
    if let (Some((first, settled)), Some((last, end))) = (figures.tray.first(), figures.tray.last())
    {
        println!(
            "  growth in the tray from {first} to {last} min: {:+.1} MB (goal <= 5 MB over 30 min)",
            pss(end) - pss(settled)
        );
    }
    Ok(())
}

/// Median list-containers time over each connection, alternating so drift hits both.
async fn round_trips(
    a: &Connection,
    b: &Connection,
) -> Result<(Duration, Duration), bollard::errors::Error> {
    let (da, db) = (a.docker(), b.docker());
    let mut ta = Vec::with_capacity(ROUND_TRIPS);
    let mut tb = Vec::with_capacity(ROUND_TRIPS);
    for i in 0..ROUND_TRIPS + 5 {
        for (docker, times) in [(&da, &mut ta), (&db, &mut tb)] {
            let start = Instant::now();
            docker
                .list_containers(None::<bollard::query_parameters::ListContainersOptions>)
                .await?;
            if i >= 5 {
                times.push(start.elapsed());
            }
        }
    }
    Ok((median(ta), median(tb)))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
