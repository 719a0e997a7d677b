//! The desktop figures of `cargo xtask bench`: cold start of `rserve-desk`
//! (a new process) to a painted window, seen by polling one screen pixel of
//! the sidebar under Xvfb; the memory (RSS, and PSS which splits shared
//! pages) of the app with its webview processes (WebKitWebProcess,
//! WebKitNetworkProcess), idle with the window open, then in the tray
//! after the window is closed (as a window manager closes it), over
//! minutes of monitoring; and crash → desktop notification, timed from
//! `docker kill` to the app's `Notify` call on a D-Bus session where the
//! bench plays the notification daemon (`panel.rs`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rdesk_e2e::display::{Proc, VirtualDesktop, desktop_binary, process_tree, processes_named};

// The bench plays only the notification daemon of the desktop tests' panel,
// not its tray reader; a panic there is a failed measurement, as in the tests.
#[allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
#[path = "panel.rs"]
mod panel;
use panel::{Notifications, Watcher};

/// The sidebar's background (`nav.side` in app/style.css), where the window sits at the origin.
const SIDEBAR: &str = "#F3F5F7";
const SIDEBAR_POINT: (u32, u32) = (100, 400);
const IDLE: Duration = Duration::from_secs(10);

/// Kilobytes per process name, summed over the processes of that name:
/// (resident, proportional).
pub type Memory = BTreeMap<String, (u64, u64)>;

pub struct Figures {
    pub painted: Duration,
    /// The window open and idle.
    pub window: Memory,
    /// In the tray after the window was closed: (minutes since, memory).
    pub tray: Vec<(u64, Memory)>,
}

/// The `NAME:   123 kB` field of a /proc text, without its unit.
fn field(text: &str, name: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .map(|v| v.trim().trim_end_matches(" kB").trim().to_owned())
}

/// A process's name, RSS and PSS in kB.
fn process_memory(pid: u32) -> Option<(String, u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    Some((
        field(&status, "Name:")?,
        field(&status, "VmRSS:")?.parse().ok()?,
        field(&rollup, "Pss:")?.parse().ok()?,
    ))
}

/// How long after `started` the window painted its sidebar (60 s at most).
fn painted(desktop: &VirtualDesktop, started: Instant) -> Result<Duration, String> {
    let (x, y) = SIDEBAR_POINT;
    loop {
        if desktop.pixel(x, y).as_deref() == Some(SIDEBAR) {
            return Ok(started.elapsed());
        }
        if started.elapsed() > Duration::from_secs(60) {
            return Err("the window did not paint within 60 s".to_owned());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The memory of the process tree of `root`.
fn memory_of(root: u32) -> Memory {
    let mut memory = Memory::new();
    for pid in process_tree(root) {
        if let Some((name, rss, pss)) = process_memory(pid) {
            let entry = memory.entry(name).or_default();
            entry.0 += rss;
            entry.1 += pss;
        }
    }
    memory
}

/// The app's life on `data_dir` (whose hosts it watches), on a desktop
/// where the bench plays the panel: cold start to a painted window, its
/// memory open and idle, then closed to the tray and measured there at
/// each of `tray_minutes`.
pub async fn measure(data_dir: &Path, tray_minutes: &[u64]) -> Result<Figures, String> {
    // The panel's bus stays for the whole measure: the tray registers there.
    let Started {
        app,
        painted,
        _bus: _panel,
        desktop,
    } = start_painted(data_dir).await?;
    tokio::time::sleep(IDLE).await;
    let window = memory_of(app.0.id());
    if !desktop.close_window("Rserve Desk") {
        return Err("no window to close".to_owned());
    }
    let closed = Instant::now();
    while !processes_named(app.0.id(), "WebKitWebProces").is_empty() {
        if closed.elapsed() > Duration::from_secs(30) {
            return Err("the web process outlived the closed window by 30 s".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut tray = Vec::new();
    for &minutes in tray_minutes {
        let at = closed + Duration::from_secs(60 * minutes);
        tokio::time::sleep_until(at.into()).await;
        if processes_named(app.0.id(), "rserve-desk").is_empty() {
            return Err(format!(
                "rserve-desk ended in the tray before {minutes} min"
            ));
        }
        tray.push((minutes, memory_of(app.0.id())));
    }
    drop(app);
    Ok(Figures {
        painted,
        window,
        tray,
    })
}

/// The desktop app started on `desktop` with its data in `data_dir`.
fn launch(desktop: &VirtualDesktop, data_dir: &Path) -> Result<Proc, String> {
    let binary = desktop_binary();
    let child = desktop
        .env(&mut Command::new(binary))
        .env("RDESK_DATA_DIR", data_dir)
        .env("RDESK_LOG_DIR", data_dir.join("logs"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", binary.display()))?;
    Ok(Proc(child))
}

/// The app started on a new virtual desktop where the bench plays the
/// panel, once its window painted. Fields drop in order: the app first,
/// then the bus and the desktop it ran on.
struct Started {
    app: Proc,
    painted: Duration,
    _bus: zbus::Connection,
    desktop: VirtualDesktop,
}

/// A cold start on `data_dir`, timed from the new process to its painted window.
async fn start_painted(data_dir: &Path) -> Result<Started, String> {
    let desktop = VirtualDesktop::start();
    let bus = panel::serve(
        &desktop.bus_address,
        Notifications::default(),
        Watcher::default(),
    )
    .await
    .map_err(|e| format!("the bench's D-Bus names: {e}"))?;
    let started = Instant::now();
    let app = launch(&desktop, data_dir)?;
    let painted = painted(&desktop, started)?;
    Ok(Started {
        app,
        painted,
        _bus: bus,
        desktop,
    })
}

/// `count` cold starts on `data_dir` one after another, each a new
/// process on a new virtual desktop, timed to the painted window: one
/// start on this shared machine says little, their median more.
pub async fn cold_starts(data_dir: &Path, count: usize) -> Result<Vec<Duration>, String> {
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        times.push(start_painted(data_dir).await?.painted);
    }
    Ok(times)
}

/// Time for the window's watchers to subscribe to Docker's events after it painted.
const WATCHERS_SUBSCRIBE: Duration = Duration::from_secs(5);
/// How long one crash may take to be notified before the bench gives up.
const NOTIFY_LIMIT: Duration = Duration::from_secs(60);

/// Opens the window on `data_dir` (whose hosts are watched) with the bench
/// as the desktop's notification daemon; `kill(slug)` kills an app's
/// container. The first slug is killed only to know that every host's
/// watcher is subscribed; each other one is killed once (the notifications
/// of one app are throttled for a minute) and timed from the kill to the
/// `Notify` call naming it, per host. Returns the times per host.
pub async fn crash_notifications(
    data_dir: &Path,
    hosts: &[&str],
    slugs: &[String],
    kill: impl AsyncFn(&str) -> Result<(), String>,
) -> Result<BTreeMap<String, Vec<Duration>>, String> {
    let desktop = VirtualDesktop::start();
    let notifications = Notifications::default();
    let _bus = panel::serve(
        &desktop.bus_address,
        notifications.clone(),
        Watcher::default(),
    )
    .await
    .map_err(|e| format!("the bench's D-Bus names: {e}"))?;
    let app = Proc(
        desktop
            .env(&mut Command::new(desktop_binary()))
            .env("RDESK_DATA_DIR", data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting the desktop app: {e}"))?,
    );
    let notified = async |slug: &str, killed: Instant| -> Result<Vec<(String, Duration)>, String> {
        let title = format!("{slug} crashed (exit code 137)");
        loop {
            let shown = notifications.shown();
            let times: Vec<(String, Duration)> = hosts
                .iter()
                .filter_map(|host| {
                    let on_host = format!("on host `{host}`");
                    shown
                        .iter()
                        .find(|s| s.title == title && s.body.contains(&on_host))
                        .map(|s| ((*host).to_owned(), s.at.duration_since(killed)))
                })
                .collect();
            if times.len() == hosts.len() {
                return Ok(times);
            }
            if killed.elapsed() > NOTIFY_LIMIT {
                return Err(format!(
                    "no notification of {slug} from every host: {shown:?}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    // The watchers subscribe once the window is up; Docker replays from then on.
    painted(&desktop, Instant::now())?;
    tokio::time::sleep(WATCHERS_SUBSCRIBE).await;
    let (warm_up, measured) = slugs.split_first().ok_or("no apps to kill")?;
    kill(warm_up).await?;
    notified(warm_up, Instant::now()).await?;
    let mut times: BTreeMap<String, Vec<Duration>> = BTreeMap::new();
    for slug in measured {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let killed = Instant::now();
        kill(slug).await?;
        for (host, took) in notified(slug, killed).await? {
            times.entry(host).or_default().push(took);
        }
    }
    drop(app);
    Ok(times)
}
