//! The desktop app end to end: the real `rserve-desk` window under Xvfb in
//! its own D-Bus session, driven through tauri-driver and WebKitWebDriver
//! (fantoccini), against the stand-in VPS (and the bare VPS, bootstrapped
//! from the window). On that bus the test plays the desktop panel
//! (`panel.rs`): notifications and the tray are observed, and clicked, as a
//! desktop would. Screenshots go to `target/desktop-e2e/`.
//!
//! The drop zone is fed a synthetic `tauri://drag-drop` event from inside the
//! webview (there is no mouse to drag with under Xvfb); it takes the same
//! path in the UI as a native drop, whose paths reach the same `preview` and
//! `deploy` commands. Those deploy only paths the shell itself received, so
//! the app folders are given to the window on its command line (as "Open
//! with" would); a synthetic drop of any other path is refused.
// Test helpers: a panic is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::Locator;
use rdesk_e2e::display::Proc;
use rdesk_e2e::vps::Vps;
use rdesk_e2e::{
    Rdesk, Standin, app_folder, docker_inspect, remove_leftovers, running_container,
    ssh_master_under, ssh_processes_under, terminate,
};
use serde_json::json;

// Each test binary plays the panel and drives the window with part of
// the panel and the driver.
#[allow(dead_code)]
mod panel;
mod webhook_receiver;
#[allow(dead_code)]
mod window_driver;
use webhook_receiver::Receiver;
use window_driver::{Desktop, free_port};

/// One window at a time: the tests share two cores and the stand-in.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The tray icon's colours (src-tauri/src/tray.rs).
const GREEN: &str = "#2f9e44";
const RED: &str = "#e03131";
const GREY: &str = "#868e96";

/// Whether a tray entry says every app of host `vps` runs (`vps: 2/2
/// running`): other test binaries may have left an app of their own there.
fn all_running(label: &str) -> bool {
    label
        .strip_prefix("vps: ")
        .and_then(|rest| rest.strip_suffix(" running"))
        .and_then(|counts| counts.split_once('/'))
        .is_some_and(|(running, total)| running == total && running != "0")
}

/// The public host key of the stand-in's sshd, or (`vps`) of the bare VPS's.
fn sshd_key(vps: bool) -> PathBuf {
    let dir = PathBuf::from(std::env::var("RDESK_STANDIN_DIR").expect("RDESK_STANDIN_DIR"));
    let sshd = if vps {
        dir.join("vps").join("sshd")
    } else {
        dir.join("sshd")
    };
    sshd.join("ssh_host_ed25519_key.pub")
}

/// Removes what failed runs of these tests left on the stand-in: the tray
/// counts every app of the host.
fn remove_desktop_leftovers() {
    for slug in [
        "ui-hello",
        "ui-crash",
        "sl-ui-crash",
        "ui-offline",
        "ui-offline-crash",
        "ui-session",
    ] {
        remove_leftovers(slug);
    }
}

/// Kills the app's container and keeps it down: Docker would restart it at
/// once (`unless-stopped`), and a state that lasts a few milliseconds cannot
/// be looked at deterministically.
fn docker_kill(slug: &str) {
    let id = running_container(slug);
    for args in [&["update", "--restart", "no", &id][..], &["kill", &id]] {
        let status = Command::new("docker")
            .args(args)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "docker {args:?}");
    }
    let inspect = || {
        let c = docker_inspect(&id);
        format!(
            "{} restarts={} policy={}",
            c["State"]["Status"].as_str().unwrap_or_default(),
            c["RestartCount"],
            c["HostConfig"]["RestartPolicy"]["Name"]
                .as_str()
                .unwrap_or_default()
        )
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut state = inspect();
    while !state.starts_with("exited") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        state = inspect();
    }
    assert_eq!(
        state, "exited restarts=0 policy=no",
        "the killed container stays down"
    );
}

#[tokio::test]
async fn add_a_host_deploy_by_drop_call_and_stop() {
    let Some(vps) = Standin::from_env("desktop add/deploy/call/stop") else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let slug = "ui-hello";
    remove_desktop_leftovers();
    let data = tempfile::tempdir().unwrap();
    let (_dir, app) = app_folder(
        slug,
        &[(
            "main.R",
            "hello <- function(name) {\n  message(\"hello called for \", name)\n  paste0(\"Hello, \", name, \"!\")\n}\n",
        )],
    );
    let ui = Desktop::open(data.path(), "deploy", &[&app]).await;
    ui.add_host(&vps.ssh, &vps.identity, &vps.public_url, &sshd_key(false))
        .await;

    ui.click("a.host[data-host=vps]").await;
    ui.wait_text("#apps", |_| true).await;
    // A path the window was never given, as a page's script could name it.
    let (_other, not_given) = app_folder("ui-not-given", &[("main.R", "f <- function() 1\n")]);
    ui.drop_onto(".hint", &[&not_given]).await;
    let refused = ui.wait_text("#error", |t| t.contains("was neither")).await;
    assert!(refused.contains("ui-not-given"), "{refused}");
    ui.click("#error button").await;
    ui.drop_onto(".hint", &[&app]).await;
    ui.wait_text("#new-files", |t| t.contains("main.R")).await;
    let proposed = ui
        .client
        .find(Locator::Css("#new-slug"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(proposed.as_deref(), Some(slug), "slug from the folder name");
    ui.shot("02-new-app-form");
    ui.click("#new-deploy").await;
    let done = ui.wait_text("#deploy-done", |t| !t.is_empty()).await;
    assert!(done.starts_with("Deployed ui-hello"), "{done}");
    assert!(!done.contains("not answering"), "{done}");
    let files = ui.wait_text("#deploy-files", |_| true).await;
    assert_eq!(files, "Received: main.R");
    let row = format!("tr[data-drop-slug={slug}]");
    ui.wait_text(&format!("{row} .badge"), |t| t == "running")
        .await;
    ui.shot("03-deployed");

    // Dropping onto the app's row deploys a new version of it.
    std::fs::write(
        app.join("main.R"),
        "hello <- function(name) {\n  message(\"hello called for \", name)\n  paste0(\"Hello again, \", name, \"!\")\n}\n",
    )
    .unwrap();
    ui.client
        .execute("document.querySelector('#deploy button').click()", vec![])
        .await
        .unwrap();
    ui.drop_onto(&row, &[&app]).await;
    let again = ui.wait_text("#deploy-done", |t| !t.is_empty()).await;
    assert!(again.starts_with("Deployed ui-hello"), "{again}");

    ui.click(&format!("{row} a.open")).await;
    // The logs follow live: what the call below writes shows up.
    ui.click("#logs-follow").await;
    ui.wait_text("#logs-follow", |t| t == "Stop following")
        .await;
    ui.click("#tab-clients").await;
    ui.type_into("#console-fn", "hello").await;
    ui.type_into("#console-args", "\"UI\"").await;
    ui.click("#console-call").await;
    let answer = ui.wait_text("#console-result", |t| !t.is_empty()).await;
    assert_eq!(answer, "\"Hello again, UI!\"");
    ui.click("#tab-overview").await;
    ui.wait_text("pre.logs", |t| t.contains("hello called for UI"))
        .await;
    ui.click("#tab-clients").await;
    ui.shot("04-console");

    ui.type_into("#console-fn", "system").await;
    ui.type_into("#console-args", "[1,").await;
    ui.click("#console-call").await;
    let bad = ui.wait_text("#console-result", |t| !t.is_empty()).await;
    assert!(bad.starts_with("the arguments are not JSON"), "{bad}");

    // Container settings, as the host has them; a bad one is refused with
    // a sentence, good ones apply without a build.
    ui.click("#tab-settings").await;
    let form = ".app-settings";
    ui.wait_value(&format!("{form} .memory"), |v| v == "512m")
        .await;
    ui.type_into(&format!("{form} .memory"), "lots").await;
    ui.click(&format!("{form} .apply")).await;
    let refused = ui
        .wait_text(&format!("{form} .outcome.bad"), |t| !t.is_empty())
        .await;
    assert!(refused.contains("lots"), "{refused}");
    ui.type_into(&format!("{form} .memory"), "256m").await;
    ui.type_into(&format!("{form} .env"), "GREETING=hi").await;
    ui.click(&format!("{form} .apply")).await;
    ui.wait_text(&format!("{form} .outcome"), |t| t.starts_with("Applied in"))
        .await;
    let inspected = docker_inspect(&running_container(slug));
    assert_eq!(inspected["HostConfig"]["Memory"], 256 * 1024 * 1024);
    assert!(
        inspected["Config"]["Env"]
            .as_array()
            .unwrap()
            .contains(&json!("GREETING=hi")),
        "{}",
        inspected["Config"]["Env"]
    );
    ui.shot("04a-settings");

    // The app's charts, drawn by the core as SVG, one metric at a time: an
    // image (a data: URL, never markup in the page) described in words.
    ui.click("#tab-overview").await;
    let cpu = ui.wait_html("#chart", is_chart_image).await;
    assert!(
        cpu.contains("alt=\"ui-hello: CPU; latest cpu "),
        "{cpu:.300}"
    );
    assert!(cpu.contains("%3Csvg"), "{cpu:.300}");
    ui.click("#chart-memory").await;
    ui.wait_html("#chart", |h| {
        is_chart_image(h) && h.contains("alt=\"ui-hello: memory; latest used ")
    })
    .await;
    ui.click("#chart-uptime").await;
    ui.wait_html("#chart", |h| {
        is_chart_image(h) && h.contains("alt=\"vps: uptime") && h.contains("ui-hello")
    })
    .await;
    ui.shot("04b-charts");

    ui.click("a.host[data-host=vps]").await;
    // The host's overview: its totals.
    ui.wait_html("#chart", |h| {
        is_chart_image(h) && h.contains("(all apps): CPU")
    })
    .await;
    ui.click(&format!("{row} button.stop")).await;
    ui.wait_text(&format!("{row} .badge"), |t| t == "exited")
        .await;
    ui.shot("05-stopped");
    ui.close().await;

    let cli = Rdesk::new();
    vps.add_to(&cli);
    cli.ok(&["rm", slug, "--host", "vps"]);
}

#[tokio::test]
async fn bootstrap_an_empty_vps_from_the_window_then_deploy_to_it() {
    let Some(vps) = Vps::from_env("desktop bootstrap") else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    vps.reset();
    let data = tempfile::tempdir().unwrap();
    let slug = "ui-vps";
    let (_dir, app) = app_folder(slug, &[("main.R", "where <- function() \"vps\"\n")]);
    let ui = Desktop::open(data.path(), "bootstrap", &[&app]).await;
    ui.add_host(&vps.ssh, &vps.identity, &vps.public_url, &sshd_key(true))
        .await;

    // Nothing can be pulled there: the images go from this machine.
    let form = ui.start_bootstrap(&vps.r_version).await;
    // The step list is live: a step shows as started while it runs.
    ui.wait_text(&format!("{form} .step.started"), |_| true)
        .await;
    ui.shot("01-bootstrapping");
    let outcome = ui
        .wait_text_for(&format!("{form} .outcome"), Duration::from_secs(300), |t| {
            !t.is_empty() && t != "running…"
        })
        .await;
    assert_eq!(outcome, "Bootstrapped.");
    let progress = ui
        .wait_text(&format!("{form} .progress-text"), |_| true)
        .await;
    let counts: Vec<&str> = progress.split(" of ").collect();
    assert!(
        counts.len() == 2 && counts[1] == format!("{} steps", counts[0]),
        "the progress bar ends full: {progress}"
    );
    let steps = ui.wait_text(&format!("{form} .steps"), |_| true).await;
    assert!(
        ui.client
            .find(Locator::Css(&format!("{form} .step.failed")))
            .await
            .is_err(),
        "{steps}"
    );
    assert!(steps.contains("install-docker"), "{steps}");
    ui.shot("02-bootstrapped");
    // The run is in the host's bootstrap history, each step where it ended.
    let history = ".bootstrap-history[data-host=vps]";
    ui.wait_text(&format!("{history} summary"), |t| {
        t == "Past bootstraps (1)"
    })
    .await;
    ui.click(&format!("{history} summary")).await;
    let run = ui.wait_text(&format!("{history} tr.run"), |_| true).await;
    assert!(
        run.contains("ok") && run.contains("install-docker done"),
        "{run}"
    );

    ui.click("a.host[data-host=vps]").await;
    ui.wait_text("#apps", |_| true).await;
    ui.drop_onto(".hint", &[&app]).await;
    ui.wait_text("#new-files", |t| t.contains("main.R")).await;
    ui.click("#new-deploy").await;
    let done = ui
        .wait_text_for("#deploy-done", Duration::from_secs(180), |t| !t.is_empty())
        .await;
    assert!(done.starts_with(&format!("Deployed {slug}")), "{done}");
    assert!(!done.contains("not answering"), "{done}");
    ui.wait_text(&format!("tr[data-drop-slug={slug}] .badge"), |t| {
        t == "running"
    })
    .await;
    ui.shot("03-deployed-on-the-vps");
    let running = vps.sh_ok("docker ps --format '{{.Names}}'");
    assert!(
        running.contains(&format!("rserve-desk-{slug}-")),
        "{running}"
    );
    ui.close().await;
}

#[tokio::test]
async fn a_killed_app_raises_one_notification_within_the_throttle_window() {
    let Some(vps) = Standin::from_env("desktop crash notification") else {
        return;
    };
    one_notification_for_a_killed_app(&vps, "ui-crash").await;
}

#[tokio::test]
async fn over_the_slow_link_a_killed_app_raises_one_notification() {
    let Some(vps) = Standin::from_env("desktop crash notification over the slow link") else {
        return;
    };
    one_notification_for_a_killed_app(&vps.over_the_slow_link(), "sl-ui-crash").await;
}

async fn one_notification_for_a_killed_app(vps: &Standin, slug: &str) {
    let _turn = ONE_AT_A_TIME.lock().await;
    remove_desktop_leftovers();
    let cli = vps.desk();
    let (_dir, app) = app_folder(slug, &[("main.R", "alive <- function() TRUE\n")]);
    cli.deploy(&app, slug, &[]);

    let ui = Desktop::open(cli.data_dir.path(), &format!("notify-{slug}"), &[]).await;
    // The alert settings: bad values get a sentence; a webhook is kept.
    let hook = Receiver::start().await;
    ui.click("#nav-settings").await;
    ui.wait_value("#alert-throttle", |v| v == "60").await;
    for (throttle, webhook, refused) in [
        ("forever", "", "a number of seconds"),
        ("90000", "", "over a day"),
        (
            "60",
            "hooks.example.com/x",
            "not an http:// or https:// URL",
        ),
    ] {
        ui.type_into("#alert-throttle", throttle).await;
        ui.type_into("#alert-webhook", webhook).await;
        ui.click("#alerts-save").await;
        ui.wait_text("#alerts-saved.bad", |t| t.contains(refused))
            .await;
    }
    ui.type_into("#alert-throttle", "60").await;
    ui.type_into("#alert-webhook", &hook.url).await;
    ui.click("#alerts-save").await;
    ui.wait_text("#alerts-saved", |t| t == "Saved.").await;
    ui.click("a.host[data-host=vps]").await;
    let row = format!("tr[data-drop-slug={slug}] .badge");
    ui.wait_text(&row, |t| t == "running").await;
    // The watcher subscribes right after the window opens; Docker replays from then on.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let killed = Instant::now();
    docker_kill(slug);
    let crashed = format!("{slug} crashed (exit code 137)");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ui.notifications.titles().contains(&crashed) {
        assert!(
            Instant::now() < deadline,
            "no notification: {:?}",
            ui.notifications.titles()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    ui.wait_text(&row, |t| t == "crashed" || t == "exited")
        .await;
    ui.shot("01-crashed");
    let page = "section.page h2";
    let on_the_app = |t: &str| t.ends_with(&format!("/ {slug}"));

    // Clicking the notification opens the app.
    let shown = ui.notifications.shown();
    let notification = shown.iter().find(|s| s.title == crashed).unwrap();
    assert!(
        notification.body.contains("on host `vps`") && notification.at > killed,
        "the notification names the host and follows the kill: {notification:?}"
    );
    assert!(
        notification.actions.iter().any(|a| a == "default"),
        "the notification offers no click: {notification:?}"
    );
    ui.notifications.click(&ui.bus, notification.id).await;
    ui.wait_text(page, on_the_app).await;

    // The tray turns red and lists the app; its entry opens the app too.
    ui.click("a.host[data-host=vps]").await;
    ui.wait_text(page, |t| !on_the_app(t)).await;
    let problem = ui.wait_tray(RED, slug, |label| label.contains(slug)).await;
    ui.tray().await.click(&problem).await.unwrap();
    ui.wait_text(page, on_the_app).await;
    ui.click("a.host[data-host=vps]").await;

    cli.ok(&["start", slug, "--host", "vps"]);
    let recovered = format!("{slug} recovered");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ui.notifications.titles().contains(&recovered) {
        assert!(
            Instant::now() < deadline,
            "no recovery: {:?}",
            ui.notifications.titles()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    ui.wait_tray(GREEN, "vps: N/N running", all_running).await;
    docker_kill(slug);
    ui.click("a.host[data-host=vps]").await;
    ui.wait_text(&row, |t| t != "running").await;
    cli.ok(&["start", slug, "--host", "vps"]);
    docker_kill(slug);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let titles = ui.notifications.titles();
    let count = |t: &str| titles.iter().filter(|x| *x == t).count();
    assert_eq!(
        count(&crashed),
        1,
        "three kills within a minute: {titles:?}"
    );
    assert_eq!(count(&recovered), 1, "{titles:?}");
    // The webhook received the same alerts, as JSON.
    let posted = hook.received();
    let kinds: Vec<&str> = posted
        .iter()
        .filter(|p| p["app"] == slug)
        .filter_map(|p| p["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["problem", "recovered"], "{posted:?}");
    let problem = posted.iter().find(|p| p["kind"] == "problem").unwrap();
    assert_eq!(problem["host"], "vps");
    assert_eq!(problem["title"], crashed.as_str());
    ui.close().await;
    cli.ok(&["rm", slug, "--host", "vps"]);
}

/// sshd of the stand-in's configuration on a port of its own, so that this
/// test can stop and start "the VPS" without touching the shared one.
fn own_sshd(port: u16) -> Proc {
    let dir = std::env::var("RDESK_STANDIN_DIR").expect("RDESK_STANDIN_DIR");
    let child = Command::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-f"])
        .arg(Path::new(&dir).join("sshd").join("sshd_config"))
        .args(["-o", &format!("Port={port}"), "-o", "PidFile=none"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sshd starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "sshd never listened on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
    Proc(child)
}

#[tokio::test]
async fn offline_the_window_shows_cached_apps_with_their_age_then_recovers() {
    let Some(vps) = Standin::from_env("desktop offline") else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let slug = "ui-offline";
    remove_desktop_leftovers();
    let port = free_port();
    let sshd = own_sshd(port);
    let cli = Rdesk::new();
    cli.ok(&[
        "host",
        "add",
        "vps",
        "--ssh",
        &format!("root@127.0.0.1:{port}"),
        "--identity",
        &vps.identity,
        "--public-url",
        &vps.public_url,
    ]);
    let (_dir, app) = app_folder(slug, &[("main.R", "up <- function() 1\n")]);
    cli.deploy(&app, slug, &[]);
    // A second host, through the shared stand-in, whose app will crash
    // while the first is offline.
    let crashing = "ui-offline-crash";
    cli.ok(&[
        "host",
        "add",
        "live",
        "--ssh",
        &vps.ssh,
        "--identity",
        &vps.identity,
        "--public-url",
        &vps.public_url,
    ]);
    let (_dir2, app2) = app_folder(crashing, &[("main.R", "up <- function() 1\n")]);
    cli.ok(&[
        "deploy",
        app2.to_str().unwrap(),
        "--host",
        "live",
        "--slug",
        crashing,
    ]);
    drop(sshd);
    // Long enough for the cached state to have an age to show.
    std::thread::sleep(Duration::from_secs(6));

    let ui = Desktop::open(cli.data_dir.path(), "offline", &[]).await;
    let offline = ui
        .wait_text(".offline", |t| t.starts_with("Offline:"))
        .await;
    assert!(offline.contains("vps"), "{offline}");
    let row = format!("tr[data-drop-slug={slug}]");
    ui.wait_text(&format!("{row} .badge"), |t| t == "running")
        .await;
    let seen = ui
        .wait_text(&format!("{row} .seen"), |t| t.starts_with("last seen "))
        .await;
    assert!(
        seen.ends_with(" ago") || seen == "last seen just now",
        "{seen}"
    );
    ui.shot("01-offline");
    ui.wait_tray(GREY, "vps: offline", |label| label == "vps: offline")
        .await;
    let not_answering = "vps is not answering";
    ui.wait_notification(not_answering).await;

    // A crash on the other host shows red, with the offline host still listed.
    tokio::time::sleep(Duration::from_secs(3)).await;
    docker_kill(crashing);
    ui.wait_tray(RED, crashing, |label| label.contains(crashing))
        .await;
    let menu: Vec<String> = ui
        .tray()
        .await
        .menu()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.label)
        .collect();
    assert!(
        menu.iter().any(|l| l == "vps: offline"),
        "both states at once: {menu:?}"
    );
    ui.wait_text("a.host[data-host=live] .dot.bad", |_| true)
        .await;
    ui.wait_text("a.host[data-host=vps] .dot.off", |_| true)
        .await;
    ui.shot("01b-crash-and-offline");
    cli.ok(&["rm", crashing, "--host", "live"]);

    let _back = own_sshd(port);
    // The watcher retries with backoff (at most 30 s between tries).
    let deadline = Instant::now() + Duration::from_secs(60);
    while ui.client.find(Locator::Css(".offline")).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "the window never saw the host come back"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    ui.wait_text(&format!("{row} .seen"), |t| t == "now").await;
    ui.wait_tray(GREEN, "vps: N/N running", all_running).await;
    ui.shot("02-back");
    ui.wait_notification("vps is back").await;
    let titles = ui.notifications.titles();
    let count = |t: &str| titles.iter().filter(|x| *x == t).count();
    assert_eq!(count(not_answering), 1, "{titles:?}");
    assert_eq!(count("vps is back"), 1, "{titles:?}");
    ui.close().await;
    cli.ok(&["rm", slug, "--host", "vps"]);
}

#[tokio::test]
async fn twenty_window_actions_share_one_ssh_session_that_comes_back_when_killed() {
    let Some(vps) = Standin::from_env("desktop one session per host") else {
        return;
    };
    let _turn = ONE_AT_A_TIME.lock().await;
    let slug = "ui-session";
    remove_desktop_leftovers();
    let cli = Rdesk::new();
    vps.add_to(&cli);
    let (_dir, app) = app_folder(slug, &[("main.R", "up <- function() 1\n")]);
    cli.deploy(&app, slug, &["--access", "public"]);

    let ui = Desktop::open(cli.data_dir.path(), "session", &[]).await;
    ui.click("a.host[data-host=vps]").await;
    let row = format!("tr[data-drop-slug={slug}]");
    let badge = format!("{row} .badge");
    ui.wait_text(&badge, |t| t == "running").await;
    // Settled: the session, its monitor and the monitor's forward to
    // Traefik's metrics (at its first 5 s sample) are all open, and
    // nothing has started an ssh process for 8 s.
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut settled = (ui.ssh.starts(), Instant::now());
    while settled.1.elapsed() < Duration::from_secs(8) {
        assert!(
            Instant::now() < deadline,
            "the window never stopped starting ssh processes: {:?}",
            ui.ssh.started()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        if ui.ssh.starts() != settled.0 {
            settled = (ui.ssh.starts(), Instant::now());
        }
    }
    let before = ui.ssh.starts();
    let master = ssh_master_under(ui.runtime.path()).expect("the window's ssh master runs");

    // Twenty actions: pages, charts, the app's lifecycle, a refresh.
    for round in 0..2 {
        ui.click(&format!("{row} a.open")).await;
        ui.wait_text("#console-fn", |_| true).await;
        ui.click("#chart-memory").await;
        ui.wait_html("#chart", |h| h.contains(": memory")).await;
        ui.click("#chart-uptime").await;
        ui.wait_html("#chart", |h| h.contains(": uptime")).await;
        ui.click("#chart-cpu").await;
        ui.wait_html("#chart", |h| h.contains(": CPU")).await;
        ui.click("a.host[data-host=vps]").await;
        ui.wait_text(&badge, |_| true).await;
        ui.click(&format!("{row} button.stop")).await;
        ui.wait_text(&badge, |t| t == "exited").await;
        ui.click(&format!("{row} button.start")).await;
        ui.wait_text(&badge, |t| t == "running").await;
        ui.click(&format!("{row} button.restart")).await;
        ui.wait_text(&badge, |t| t == "running").await;
        ui.click("h2 button.small").await;
        ui.wait_text(&badge, |t| t == "running").await;
        ui.click(&format!("{row} a.open")).await;
        ui.wait_text("#console-fn", |_| true).await;
        ui.click("a.host[data-host=vps]").await;
        ui.wait_text(&badge, |_| true).await;
        println!("round {round}: {} ssh starts so far", ui.ssh.starts());
    }
    let started: Vec<String> = ui.ssh.started().split_off(before);
    assert!(
        started.is_empty(),
        "20 window actions started ssh processes: {started:?}"
    );
    assert_eq!(
        ssh_master_under(ui.runtime.path()),
        Some(master),
        "the same master throughout"
    );
    ui.shot("01-twenty-actions");

    // Its master killed, the next action opens a new session and succeeds.
    // ssh ends at its next turn after the signal: an action sent before
    // that still goes through the old master.
    terminate(master);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::path::Path::new(&format!("/proc/{master}")).exists() {
        assert!(
            Instant::now() < deadline,
            "the master outlived SIGTERM by 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ui.click(&format!("{row} button.stop")).await;
    ui.wait_text(&badge, |t| t == "exited").await;
    let again = ssh_master_under(ui.runtime.path()).expect("a new master");
    assert_ne!(again, master);
    ui.shot("02-after-the-master-was-killed");
    let runtime = ui.runtime.path().to_owned();
    ui.close().await;

    // Nothing outlives the window: its master ends with it (at once when
    // it exits, at most the master's 30 s linger when it is killed).
    let deadline = Instant::now() + Duration::from_secs(45);
    while !ssh_processes_under(&runtime).is_empty() {
        assert!(
            Instant::now() < deadline,
            "ssh processes outlived the window"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    cli.ok(&["rm", slug, "--host", "vps"]);
}

/// A chart shown as an `<img>` of an SVG `data:` URL.
fn is_chart_image(html: &str) -> bool {
    html.starts_with("<img") && html.contains("src=\"data:image/svg+xml;charset=utf-8,%3C")
}
