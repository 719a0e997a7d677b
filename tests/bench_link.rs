//! The slow-link figures of `cargo xtask bench`: what a user waits for, timed
//! through the real `rdesk` CLI on loopback and over the stand-in's relay
//! (`cargo xtask relay`: a delay each way and a bandwidth cap) in the same
//! run, side by side, each also in round trips of the relay; the ssh
//! processes each action starts, counted by an `ssh` first on `PATH` that
//! notes each start and runs the real one; the window's actions, through
//! the core calls its commands make on a kept session; an image sent over each link,
//! its throughput against the relay's cap; and crash → desktop notification
//! with the window watching the stand-in over both links at once.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use rdesk_core::desk::{DeployRequest, Desk, Lifecycle, NewHost};
use rdesk_core::host::{ConnectOptions, Connection, HostTarget};
use rdesk_core::preview::AppFiles;
use rdesk_core::{paths, transfer};
use rdesk_e2e::{Rdesk, SlowLink, SshCounter, Standin, app_folder, remove_leftovers};

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Times each quick action is repeated, per link (the median is shown).
const REPEATS: usize = 5;
/// Code-only redeploys per link.
const REDEPLOYS: usize = 3;
const SLUG: &str = "sl-bench";
/// The image sent over each link: big enough for a steady rate.
const IMAGE: &str = "debian:bookworm";

/// One side of the comparison: a user of `rdesk` whose host `vps` is the
/// stand-in over one link.
struct Side {
    desk: Rdesk,
    times: Vec<Vec<Duration>>,
    ssh_starts: Vec<Vec<usize>>,
}

/// What is timed, in the order printed.
const ACTIONS: [&str; 6] = [
    "list apps (rdesk apps)",
    "stop an app",
    "start an app",
    "first log line (rdesk logs)",
    "24 h chart (rdesk chart)",
    "code-only redeploy",
];

impl Side {
    fn new(vps: &Standin) -> Self {
        Self {
            desk: vps.desk(),
            times: vec![Vec::new(); ACTIONS.len()],
            ssh_starts: vec![Vec::new(); ACTIONS.len()],
        }
    }

    /// Runs `rdesk ARGS` with the counting ssh, noting its time and ssh starts
    /// as action `action`; the time is until its first line of output when
    /// `first_line`, else until it exits. It must succeed.
    fn time(
        &mut self,
        counter: &SshCounter,
        action: usize,
        args: &[&str],
        first_line: bool,
    ) -> BenchResult<()> {
        let before = counter.starts();
        let started = Instant::now();
        let mut child = self
            .desk
            .command(args)
            .env("PATH", counter.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut first_line_at = None;
        if first_line {
            let stdout = child.stdout.take().ok_or("no stdout")?;
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line)?;
            if line.is_empty() {
                let _ = child.wait();
                return Err(format!("rdesk {args:?} printed nothing").into());
            }
            first_line_at = Some(started.elapsed());
        }
        let out = child.wait_with_output()?;
        let took = first_line_at.unwrap_or_else(|| started.elapsed());
        if !out.status.success() {
            return Err(format!(
                "rdesk {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        self.times[action].push(took);
        self.ssh_starts[action].push(counter.starts() - before);
        Ok(())
    }

    fn median(&self, action: usize) -> Duration {
        crate::median(self.times[action].clone())
    }

    fn ssh(&self, action: usize) -> usize {
        let mut v = self.ssh_starts[action].clone();
        v.sort();
        v[v.len() / 2]
    }
}

/// Times every action on each side, alternating so that drift hits both.
pub fn cli_actions(vps: &Standin) -> BenchResult<()> {
    let link = SlowLink::from_env();
    let counter = SshCounter::new();
    remove_leftovers(SLUG);
    let mut sides = [Side::new(vps), Side::new(&vps.over_the_slow_link())];
    let code = |n: usize| format!("version <- function() {n}L\n");
    let (_dir, app) = app_folder(SLUG, &[("main.R", &code(0))]);
    let app_path = app.to_str().ok_or("not UTF-8")?.to_owned();
    sides[0].desk.deploy(&app, SLUG, &[]);
    let chart = tempfile::NamedTempFile::new()?;
    let chart = chart.path().to_str().ok_or("not UTF-8")?.to_owned();
    let deploy = ["deploy", &app_path, "--host", "vps", "--slug", SLUG];
    let runs: [(&[&str], bool); 5] = [
        (&["apps", "--host", "vps"], false),
        (&["stop", SLUG, "--host", "vps"], false),
        (&["start", SLUG, "--host", "vps"], false),
        (&["logs", SLUG, "--host", "vps", "--tail", "1"], true),
        (
            &[
                "chart", "--host", "vps", "--metric", "cpu", "--range", "24h", "--out", &chart,
            ],
            false,
        ),
    ];
    for _ in 0..REPEATS {
        for side in &mut sides {
            for (action, (args, first_line)) in runs.iter().enumerate() {
                side.time(&counter, action, args, *first_line)?;
            }
        }
    }
    let mut version = 0;
    for _ in 0..REDEPLOYS {
        for side in &mut sides {
            version += 1;
            std::fs::write(app.join("main.R"), code(version))?;
            side.time(&counter, ACTIONS.len() - 1, &deploy, false)?;
        }
    }
    sides[0].desk.ok(&["rm", SLUG, "--host", "vps"]);

    let rtt = link.rtt().as_secs_f64();
    let [fast, slow] = &sides;
    println!(
        "user actions through the rdesk CLI, loopback vs the relay ({} ms each way = {:.0} ms round trip, cap {:.0} Mbit/s); median of {REPEATS} ({REDEPLOYS} redeploys):",
        link.one_way.as_millis(),
        rtt * 1000.0,
        link.cap_bytes_per_sec as f64 * 8.0 / 1e6
    );
    println!(
        "  {:<28} {:>9} {:>9} {:>7} {:>11} {:>11} {:>12}",
        "action", "loopback", "relay", "ratio", "relay/RTT", "added/RTT", "ssh started"
    );
    for (action, name) in ACTIONS.iter().enumerate() {
        println!(
            "{} {:>6} / {}",
            row(name, fast.median(action), slow.median(action), rtt),
            fast.ssh(action),
            slow.ssh(action)
        );
    }
    println!(
        "  (relay/RTT: the time over the relay in its round trips; added/RTT: what the relay added, in round trips; ssh started: processes per action, loopback / relay)"
    );
    Ok(())
}

/// One action's line of a loopback-vs-relay table: both times, their
/// ratio, the relay's time in its round trips (`rtt` seconds) and the round
/// trips it added.
fn row(name: &str, loopback: Duration, relay: Duration, rtt: f64) -> String {
    let (a, b) = (loopback.as_secs_f64(), relay.as_secs_f64());
    format!(
        "  {name:<28} {a:>7.2} s {b:>7.2} s {:>6.2}x {:>11.1} {:>11.1}",
        b / a,
        b / rtt,
        (b - a) / rtt
    )
}

const WINDOW_SLUG: &str = "sl-window";
/// What the window's commands call, in the order printed.
const WINDOW_ACTIONS: [&str; 4] = [
    "list apps",
    "stop an app",
    "start an app",
    "code-only redeploy",
];

/// Window actions on each link of `desk` (from [`two_links`]), timed
/// through the core calls the window's commands make, on the host's one
/// session, opened before the timing as the window keeps it open: the
/// round trips the relay adds are the action's own, with no SSH handshake.
pub async fn window_actions(desk: &Desk) -> BenchResult<()> {
    let link = SlowLink::from_env();
    remove_leftovers(WINDOW_SLUG);
    let code = |n: usize| format!("version <- function() {n}L\n");
    let (_dir, app) = app_folder(WINDOW_SLUG, &[("main.R", &code(0))]);
    let request = DeployRequest {
        slug: Some(WINDOW_SLUG.into()),
        ..DeployRequest::default()
    };
    let hosts = ["vps", "slow"];
    let mut times = vec![vec![Vec::new(); WINDOW_ACTIONS.len()]; hosts.len()];
    let mut version = 0;
    for round in 0..=REPEATS {
        for (side, host) in hosts.iter().enumerate() {
            let session = desk.session(host).await?;
            version += 1;
            std::fs::write(app.join("main.R"), code(version))?;
            let files = AppFiles::read(vec![app.clone()]).await?;
            let started = Instant::now();
            session.deploy(&request, &files, &|_| {}).await?;
            let redeployed = started.elapsed();
            let started = Instant::now();
            desk.apps(host).await?;
            let listed = started.elapsed();
            let started = Instant::now();
            session.act(WINDOW_SLUG, Lifecycle::Stop).await?;
            let stopped = started.elapsed();
            let started = Instant::now();
            session.act(WINDOW_SLUG, Lifecycle::Start).await?;
            let restarted = started.elapsed();
            session.close().await;
            // The first round deploys the app and warms each session up.
            if round > 0 {
                for (action, took) in [listed, stopped, restarted, redeployed]
                    .into_iter()
                    .enumerate()
                {
                    times[side][action].push(took);
                }
            }
        }
    }
    desk.with_session("vps", async |s| s.remove(WINDOW_SLUG).await)
        .await?;
    let rtt = link.rtt().as_secs_f64();
    println!(
        "window actions (the core calls of the window's commands, on each host's kept session), loopback vs the relay; median of {REPEATS}:"
    );
    println!(
        "  {:<28} {:>9} {:>9} {:>7} {:>11} {:>11}",
        "action", "loopback", "relay", "ratio", "relay/RTT", "added/RTT"
    );
    for (action, name) in WINDOW_ACTIONS.iter().enumerate() {
        let median = |side: usize| crate::median(times[side][action].clone());
        println!("{}", row(name, median(0), median(1), rtt));
    }
    println!(
        "  (goals over the relay: an action <= 3 RTT plus the Docker operation itself, i.e. added/RTT <= 3; a code-only redeploy <= 6 s)"
    );
    Ok(())
}

/// A desk of its own in `dir` with the stand-in as host `vps` (loopback)
/// and as host `slow` (over the relay).
pub async fn two_links(vps: &Standin, dir: &std::path::Path) -> BenchResult<Desk> {
    let desk = Desk::open(dir).await?;
    for (name, ssh) in [("vps", vps.ssh.clone()), ("slow", SlowLink::from_env().ssh)] {
        desk.add_host(NewHost {
            name: name.into(),
            target: HostTarget::parse_ssh(&ssh)?.with_identity(&vps.identity),
            public_url: Some(vps.public_url.clone()),
            secret: None,
            confirmed_fingerprint: None,
        })
        .await?;
    }
    Ok(desk)
}

/// Apps killed for the notification figures: one to warm up, then the timed ones.
const CRASHED_APPS: usize = 9;

/// Crash → desktop notification over each link: the window watches the
/// stand-in as `vps` and as `slow`, so each `docker kill` is timed to the
/// `Notify` call of each host's watcher.
pub async fn crash_notifications(desk: &Desk, data_dir: &std::path::Path) -> BenchResult<()> {
    let link = SlowLink::from_env();
    let slugs: Vec<String> = (0..CRASHED_APPS).map(|i| format!("sl-crash-{i}")).collect();
    let (_dir, app) = app_folder("crash", &[("main.R", "ok <- function() TRUE\n")]);
    let session = desk.session("vps").await?;
    let files = AppFiles::read(vec![app.clone()]).await?;
    for slug in &slugs {
        remove_leftovers(slug);
        let request = DeployRequest {
            slug: Some(slug.clone()),
            ..DeployRequest::default()
        };
        session.deploy(&request, &files, &|_| {}).await?;
    }
    session.close().await;
    let local = bollard::Docker::connect_with_unix_defaults()?;
    let kill = async |slug: &str| -> Result<(), String> {
        let id = crate::bench_monitor::container(&local, slug)
            .await
            .map_err(|e| e.to_string())?;
        local
            .kill_container(&id, None::<bollard::query_parameters::KillContainerOptions>)
            .await
            .map_err(|e| e.to_string())
    };
    let times =
        crate::bench_desktop::crash_notifications(data_dir, &["vps", "slow"], &slugs, kill).await;
    let session = desk.session("vps").await?;
    for slug in &slugs {
        session.remove(slug).await?;
    }
    session.close().await;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "crash -> desktop notification (docker kill to the window's D-Bus Notify call), {} kills, the window watching both links:",
        CRASHED_APPS - 1
    );
    for (host, mut took) in times? {
        took.sort();
        let at = |q: f64| took[((took.len() - 1) as f64 * q).round() as usize];
        let (name, goal) = if host == "slow" {
            let goal = Duration::from_millis(300) + link.rtt();
            (
                "relay",
                format!(" (goal p95 <= 300 ms + 1 RTT = {:.0} ms)", ms(goal)),
            )
        } else {
            ("loopback", String::new())
        };
        println!(
            "  {name}: median {:.0} ms, p95 {:.0} ms, max {:.0} ms{goal}; median in relay RTTs {:.1}",
            ms(at(0.5)),
            ms(at(0.95)),
            ms(at(1.0)),
            at(0.5).as_secs_f64() / link.rtt().as_secs_f64()
        );
    }
    Ok(())
}

/// Sends [`IMAGE`] from this machine's Docker into the stand-in's through
/// each link's SSH tunnel (`docker save` into `docker load`, as a bootstrap's
/// `--send-images` does) and prints the throughput against the relay's cap.
pub async fn image_send(desk: &Desk, vps: &Standin) -> BenchResult<()> {
    let link = SlowLink::from_env();
    let target = |ssh: &str| HostTarget::parse_ssh(ssh).map(|t| t.with_identity(&vps.identity));
    let (fast, slow) = (target(&vps.ssh)?, target(&link.ssh)?);
    let runtime = paths::private_runtime_dir()?;
    let options = ConnectOptions::new(runtime.path().to_owned());
    let here = bollard::Docker::connect_with_unix_defaults()?;
    let mut rates = Vec::new();
    for (name, target) in [("vps", fast), ("slow", slow)] {
        let tunnel = Connection::open(name, target, &options, desk.store()).await?;
        let started = Instant::now();
        let bytes =
            transfer::load(&tunnel.docker(), IMAGE, here.export_image(IMAGE), &|_| {}).await?;
        let took = started.elapsed().as_secs_f64();
        tunnel.close().await?;
        rates.push((bytes, took, bytes as f64 / took));
    }
    let cap = link.cap_bytes_per_sec as f64;
    let mb = |b: f64| b / 1e6;
    println!("sending an image ({IMAGE}, docker save into docker load over the SSH tunnel):");
    println!(
        "  loopback: {:.0} MB in {:.2} s = {:.1} MB/s",
        mb(rates[0].0 as f64),
        rates[0].1,
        mb(rates[0].2)
    );
    println!(
        "  relay: {:.0} MB in {:.2} s = {:.1} MB/s, {:.0} % of its {:.1} MB/s cap (goal >= 80 %)",
        mb(rates[1].0 as f64),
        rates[1].1,
        mb(rates[1].2),
        100.0 * rates[1].2 / cap,
        mb(cap)
    );
    Ok(())
}
