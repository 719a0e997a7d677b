//! The monitor's figures for `cargo xtask bench`:
//! - a synthetic store of 100 apps × 30 days of 5 s samples, as retention
//!   leaves it (raw for the last 24 h, minutes for 7 days, hours for 30
//!   days): insert throughput through `Store::record_samples` (one
//!   transaction per tick, as the monitor writes), roll-up time, the 24 h
//!   chart query of one app, and the database's size; once for apps on one
//!   host, once for apps on a three-node cluster, where each app's part on
//!   each node is a series of its own beside the whole app's;
//! - crash-to-event latency over 20 `docker kill`s on the stand-in.
//!
//! Only the first two hours of raw samples go through `record_samples`
//! (that is the throughput measured); the other 22 hours of raw rows and
//! the minute and hour roll-ups are written by SQL straight into the same
//! tables, in the form `Store::roll_up` leaves them, so the bench takes
//! seconds instead of replaying a month.

use std::time::{Duration, Instant};

use bollard::Docker;
use rdesk_core::charts::{Metric, UtcOffset};
use rdesk_core::desk::{DeployRequest, Desk};
use rdesk_core::monitor::{self, MonitorEvent, MonitorOptions};
use rdesk_core::preview::AppFiles;
use rdesk_core::spawner::AppStatus;
use rdesk_core::store::{MetricSample, Resolution, now_ms};
use rdesk_e2e::app_folder;
use sqlx::AssertSqlSafe;

const APPS: usize = 100;
const TICKS_PER_HOUR: i64 = 720;
const MEASURED_HOURS: i64 = 2;

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

/// The store's figures for apps on one host (`nodes` empty) or on a
/// cluster of `nodes`, every app running on each of them.
pub async fn store_figures(nodes: &[&str]) -> BenchResult<()> {
    let dir = tempfile::tempdir()?;
    let synthetic = Desk::open(dir.path()).await?;
    let path = rdesk_core::paths::database(dir.path());
    let store = synthetic.store().clone();
    store
        .add_host(rdesk_core::store::HostRecord {
            name: "synthetic".into(),
            kind: rdesk_core::store::HostKind::Local,
            ssh_target: None,
            identity_file: None,
            public_url: "http://127.0.0.1".into(),
            added_at: now_ms(),
        })
        .await?;
    let now_s = now_ms() / 1000 / 5 * 5;
    let day_start = now_s - 86_400;

    // Insert throughput: the first two hours of the last day, tick by tick.
    let ticks = MEASURED_HOURS * TICKS_PER_HOUR;
    let clock = Instant::now();
    for t in 0..ticks {
        let at = day_start + t * 5;
        store.record_samples("synthetic", &tick(at, nodes)).await?;
    }
    let took = clock.elapsed();
    let rows = ticks as f64 * (APPS * (1 + nodes.len())) as f64;
    match nodes.len() {
        0 => println!("monitor store, {APPS} apps × 30 days of 5 s samples (synthetic):"),
        n => println!(
            "monitor store, {APPS} apps on {n} nodes × 30 days of 5 s samples (synthetic; each app's part on each node stored too):"
        ),
    }
    println!(
        "  insert: {rows:.0} samples in {} transactions in {:.2} s = {:.0} samples/s ({:.0} ticks of {APPS} apps/s; the monitor needs 0.2)",
        ticks,
        took.as_secs_f64(),
        rows / took.as_secs_f64(),
        ticks as f64 / took.as_secs_f64()
    );

    fill_the_rest(&path, now_s, day_start + ticks * 5).await?;

    let clock = Instant::now();
    let first = store.roll_up(now_s * 1000).await?;
    let catch_up = clock.elapsed();
    store
        .record_samples("synthetic", &tick(now_s + 60, nodes))
        .await?;
    let clock = Instant::now();
    store.roll_up((now_s + 125) * 1000).await?;
    let steady = clock.elapsed();
    println!(
        "  roll-up: first (a day of minutes, a week of hours) {:.0} ms, {} minutes, {} hours written; once a minute after: {:.1} ms",
        catch_up.as_secs_f64() * 1000.0,
        first.minutes_written,
        first.hours_written,
        steady.as_secs_f64() * 1000.0
    );

    let mut times = Vec::new();
    let mut points = 0;
    for i in 0..25 {
        let clock = Instant::now();
        let series = store
            .metrics(
                "synthetic",
                Some(&slug(i % APPS)),
                (now_s - 86_400) * 1000,
                now_s * 1000,
            )
            .await?;
        times.push(clock.elapsed());
        points = series.points.len();
    }
    times.sort();
    let query = times[times.len() / 2];
    let clock = Instant::now();
    let chart = synthetic
        .chart(
            "synthetic",
            Some(&slug(7)),
            Metric::Memory,
            86_400_000,
            now_s * 1000,
            UtcOffset::UTC,
        )
        .await?;
    let render = clock.elapsed();
    println!(
        "  24 h chart of one app: query {:.2} ms median of 25 ({points} points; goal <= 20 ms); query and SVG {:.1} ms ({} KB)",
        query.as_secs_f64() * 1000.0,
        render.as_secs_f64() * 1000.0,
        chart.svg.len() / 1024
    );
    let size = store.size_bytes().await?;
    println!(
        "  database size: {:.1} MB in use (goal <= 100 MB)",
        size as f64 / 1e6
    );
    store.close().await;
    Ok(())
}

fn slug(app: usize) -> String {
    format!("app-{app:03}")
}

/// One tick's samples: each app's, and its part on each of `nodes`.
fn tick(at: i64, nodes: &[&str]) -> Vec<MetricSample> {
    let mut samples = Vec::new();
    for a in 0..APPS {
        samples.push(sample(a, at, None));
        for node in nodes {
            samples.push(sample(a, at, Some(node)));
        }
    }
    samples
}

/// A plausible sample of app `a` (on `node`) at `at` seconds: values that
/// vary, so SQLite stores integers of realistic widths. Requests are the
/// whole app's only, as Traefik counts them per service.
fn sample(a: usize, at: i64, node: Option<&str>) -> MetricSample {
    let wave = ((at / 5 + a as i64 * 37) % 97) as u64;
    MetricSample {
        slug: slug(a),
        node: node.map(str::to_owned),
        at_ms: at * 1000,
        cpu_percent: wave as f64 * 0.73,
        memory_bytes: (60 << 20) + wave * 300_000,
        memory_limit_bytes: 512 << 20,
        net_rx_bytes: 2_000 + wave * 150,
        net_tx_bytes: 1_500 + wave * 90,
        requests: node.is_none().then_some(wave % 13),
    }
}

/// Writes the rest of the month as retention leaves it: raw rows from
/// `raw_from` to `now_s`, minute roll-ups for the 7 days before `now_s`,
/// hour roll-ups for the 30 days before; an app's part on a node only as
/// long as it is kept (`Resolution::part_retention_seconds`). Values vary
/// like [`sample`]'s.
/// Rows go in time order, all apps per instant, as the monitor writes them
/// (so B-tree pages fill as they would, not better).
async fn fill_the_rest(path: &std::path::Path, now_s: i64, raw_from: i64) -> BenchResult<()> {
    use sqlx::Connection;
    let url = format!("sqlite://{}", path.display());
    let mut db = sqlx::SqliteConnection::connect(&url).await?;
    let clock = Instant::now();
    // A row of series `s` at `t.at` is kept: an app's part on a node only
    // after ?3. Requests are counted for the whole app only.
    let kept = "(s.node = '' OR t.at >= ?3)";
    let whole = "s.node = '' AS whole";
    sqlx::query(AssertSqlSafe(format!(
        "WITH RECURSIVE t(at) AS (SELECT ?1 UNION ALL SELECT at + 5 FROM t WHERE at + 5 < ?2),
              g AS (SELECT s.id AS series, t.at AS at, (t.at / 5 + s.id * 37) % 97 AS w, {whole}
                    FROM t CROSS JOIN metric_series s WHERE {kept})
         INSERT INTO samples_raw (series, at, cpu, mem, rx, tx, req)
         SELECT series, at, w * 73, 61440 + w * 293, 2000 + w * 150, 1500 + w * 90,
                CASE WHEN whole THEN w % 13 END
         FROM g"
    )))
    .bind(raw_from)
    .bind(now_s)
    .bind(now_s - Resolution::Raw.part_retention_seconds())
    .execute(&mut db)
    .await?;
    for (table, step, span, resolution) in [
        ("samples_1m", 60, 7 * 86_400, Resolution::Minute),
        ("samples_1h", 3600, 30 * 86_400, Resolution::Hour),
    ] {
        let per = step / 5;
        let sql = format!(
            "WITH RECURSIVE t(at) AS (SELECT ?1 UNION ALL SELECT at + {step} FROM t WHERE at + {step} < ?2),
                  g AS (SELECT s.id AS series, t.at AS at, (t.at / {step} + s.id * 37) % 97 AS w, {whole}
                        FROM t CROSS JOIN metric_series s WHERE {kept})
             INSERT INTO {table} (series, at, cpu, cpu_max, mem, mem_max, rx, tx, req, n)
             SELECT series, at, w * 73, w * 73 + 900, 61440 + w * 293, 61440 + w * 293 + 4000,
                    (2000 + w * 150) * {per}, (1500 + w * 90) * {per},
                    CASE WHEN whole THEN (w % 13) * {per} END, {per}
             FROM g"
        );
        let start = (now_s - span).div_euclid(step) * step;
        sqlx::query(AssertSqlSafe(sql))
            .bind(start)
            .bind(now_s.div_euclid(step) * step)
            .bind(now_s - resolution.part_retention_seconds())
            .execute(&mut db)
            .await?;
    }
    db.close().await?;
    println!(
        "  (the other 22 h of raw rows and the month's roll-ups written by SQL in {:.1} s)",
        clock.elapsed().as_secs_f64()
    );
    Ok(())
}

const KILLS: usize = 20;

/// Crash-to-event latency: the time from `docker kill` to the monitor's
/// record of the crash, over the SSH tunnel, 20 times.
pub async fn crash_latency(desk: &Desk, repo: &str) -> BenchResult<()> {
    let slug = "bench-crash";
    let session = desk.session("vps").await?;
    let (_dir, app) = app_folder("crash", &[("main.R", "ok <- function() TRUE\n")]);
    let request = DeployRequest {
        slug: Some(slug.into()),
        repo: Some(repo.to_owned()),
        ..DeployRequest::default()
    };
    let files = AppFiles::read(vec![app]).await?;
    session.deploy(&request, &files, &|_| {}).await?;
    session.close().await;
    let local = Docker::connect_with_unix_defaults()?;
    let (send, mut events) = tokio::sync::mpsc::unbounded_channel();
    let on_event = move |event: &MonitorEvent| {
        if let MonitorEvent::Status { app, status, .. } = event
            && app.slug == slug
        {
            let _ = send.send((Instant::now(), *status));
        }
    };
    let options = MonitorOptions::default();
    let watching = monitor::run(desk, desk.store(), "vps", &options, &on_event);
    let killing = async {
        let mut latencies = Vec::with_capacity(KILLS);
        // Let the monitor subscribe first.
        tokio::time::sleep(Duration::from_secs(2)).await;
        for _ in 0..KILLS {
            let id = container(&local, slug).await?;
            let killed = Instant::now();
            local
                .kill_container(&id, None::<bollard::query_parameters::KillContainerOptions>)
                .await?;
            let seen = wait_status(&mut events, AppStatus::Crashed).await?;
            latencies.push(seen.duration_since(killed));
            local
                .start_container(
                    &id,
                    None::<bollard::query_parameters::StartContainerOptions>,
                )
                .await?;
            wait_status(&mut events, AppStatus::Running).await?;
        }
        BenchResult::Ok(latencies)
    };
    let mut latencies = tokio::select! {
        result = watching => return Err(format!("the monitor stopped: {result:?}").into()),
        latencies = killing => latencies?,
    };
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    println!("crash-to-event latency over {KILLS} docker kills (over the SSH tunnel):");
    println!(
        "  median {:.0} ms, p95 {:.0} ms, max {:.0} ms (goal p95 <= 500 ms)",
        at(0.5).as_secs_f64() * 1000.0,
        at(0.95).as_secs_f64() * 1000.0,
        at(1.0).as_secs_f64() * 1000.0
    );
    let session = desk.session("vps").await?;
    session.remove(slug).await?;
    session.close().await;
    Ok(())
}

/// The id of an app's container on `docker`.
pub async fn container(docker: &Docker, slug: &str) -> BenchResult<String> {
    let filters = std::collections::HashMap::from([(
        "label".to_owned(),
        vec![format!("io.rserve-desk.slug={slug}")],
    )]);
    let options = bollard::query_parameters::ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let list = docker.list_containers(Some(options)).await?;
    list.into_iter()
        .find_map(|c| c.id)
        .ok_or_else(|| format!("no container of {slug}").into())
}

/// Waits (at most 30 s) for the monitor to report `status`; when it did.
async fn wait_status(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<(Instant, AppStatus)>,
    status: AppStatus,
) -> BenchResult<Instant> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some((at, s))) if s == status => return Ok(at),
            Ok(Some(_)) => continue,
            _ => return Err(format!("the monitor never reported {status}").into()),
        }
    }
}
