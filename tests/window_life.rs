//! The window's own life, end to end under Xvfb: a first run with no host
//! (the welcome page, this machine's Docker in one click), the About panel
//! and its diagnostics read from the real log file, and closing the window
//! to the tray, which ends its web process, and back to the same page and
//! scroll from the tray; a deploy under way when the window closes is
//! finished before the process goes on as the tray.
// Test helpers: a panic is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use rdesk_e2e::{Rdesk, Standin, app_folder, docker_out, remove_leftovers, running_container};
use serde_json::Value;

// Each test binary plays part of the panel and drives the window with
// part of the driver.
#[allow(dead_code)]
mod panel;
#[allow(dead_code)]
mod window_driver;
use window_driver::Desktop;

/// One window at a time: the tests share two cores.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Where `<main>` is scrolled when the window is closed.
const SCROLLED: i64 = 100;

async fn scroll_top(ui: &Desktop) -> i64 {
    let value = ui
        .client
        .execute(
            "return Math.round(document.querySelector('main').scrollTop);",
            vec![],
        )
        .await
        .unwrap();
    value.as_i64().unwrap_or(-1)
}

#[tokio::test]
async fn a_first_run_welcomes_adds_this_machine_and_tells_about_itself() {
    // Needs only this machine's Docker and the built window; the stand-in's
    // variables say that Docker runs.
    if Standin::from_env("the welcome page").is_none() {
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().await;
    let data = tempfile::tempdir().unwrap();
    let ui = Desktop::open(data.path(), "welcome", &[]).await;
    ui.wait_text("#welcome h2", |t| t == "Welcome to Rserve Desk")
        .await;
    ui.shot("welcome");
    ui.click("#welcome-local").await;
    ui.wait_text("main h2", |t| t.contains("this-machine"))
        .await;
    ui.wait_text("nav a.host", |t| t == "this-machine").await;

    ui.click("#nav-about").await;
    ui.wait_text("#about-program", |t| {
        t == concat!("rserve-desk ", env!("CARGO_PKG_VERSION"))
    })
    .await;
    let data_dir = data.path().display().to_string();
    ui.wait_text("#about-data", |t| t == data_dir).await;
    let logs = data.path().join("logs").display().to_string();
    ui.wait_text("#about-logs", |t| t == logs).await;
    let versions = ui
        .wait_text("#about-versions", |t| t.contains("WebKitGTK"))
        .await;
    for part in ["Tauri", "rdesk-core", "OpenSSH", "OS"] {
        assert!(versions.contains(part), "{part} in {versions}");
    }
    ui.click("#copy-diagnostics").await;
    let report = ui
        .wait_text("#diagnostics", |t| t.contains("hosts: 1"))
        .await;
    ui.shot("about");
    assert!(
        report.contains("this-machine: this machine's Docker"),
        "{report}"
    );
    // The last lines come from the log file the window writes.
    assert!(
        report.contains("rserve-desk 0.1.0 starting"),
        "the log's last lines: {report}"
    );
    let on_disk: Vec<_> = std::fs::read_dir(data.path().join("logs"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        on_disk.len() == 1
            && on_disk[0].starts_with("rserve-desk.")
            && on_disk[0].ends_with(".log"),
        "{on_disk:?}"
    );
    ui.close().await;
}

#[tokio::test]
async fn closing_the_window_ends_its_web_process_and_the_tray_reopens_it_where_it_was() {
    if Standin::from_env("closing the window to the tray").is_none() {
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().await;
    let desk = Rdesk::new();
    desk.ok(&["host", "add", "this-machine", "--local"]);
    let mut ui = Desktop::open(desk.data_dir.path(), "to-the-tray", &[]).await;
    // The hosts page in a small window is taller than the window.
    ui.client.set_window_size(700, 420).await.unwrap();
    ui.click("#nav-hosts").await;
    ui.wait_text("main h2", |t| t == "Hosts").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while scroll_top(&ui).await != SCROLLED {
        if Instant::now() > deadline {
            ui.shot("never-scrolled");
            let sizes = ui
                .client
                .execute(
                    "const m = document.querySelector('main'); return [m.scrollHeight, m.clientHeight, window.innerHeight];",
                    vec![],
                )
                .await
                .unwrap();
            panic!(
                "the hosts page never scrolled: main's scroll and client heights, the window's: {sizes}"
            );
        }
        ui.client
            .execute(
                "document.querySelector('main').scrollTop = arguments[0];",
                vec![Value::from(SCROLLED)],
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The place is told once scrolling settles (200 ms).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let app = ui.app_processes("rserve-desk");
    assert_eq!(app.len(), 1, "one rserve-desk: {app:?}");
    assert!(
        !ui.app_processes("WebKitWebProces").is_empty(),
        "the open window has a web process"
    );

    let trays_before = ui.watcher.registered();
    ui.close_window();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ui.app_processes("WebKitWebProces").is_empty() {
        assert!(
            Instant::now() < deadline,
            "the web process outlived the closed window by 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The same process goes on as the tray, run again without the webview.
    while ui.watcher.registered() == trays_before {
        assert!(
            Instant::now() < deadline,
            "the tray process never registered its tray"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        ui.app_processes("rserve-desk"),
        app,
        "Rserve Desk keeps running in the tray, in the same process"
    );
    assert!(
        ui.app_processes("WebKitNetworkPr").is_empty(),
        "the tray process has no WebKit network process"
    );
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", app[0])).unwrap();
    let mut gl_driver: Vec<&str> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|path| {
            ["_dri.so", "libgallium", "libLLVM"]
                .iter()
                .any(|n| path.contains(n))
        })
        .collect();
    gl_driver.dedup();
    assert!(
        gl_driver.is_empty(),
        "the tray loads no GL driver: {gl_driver:?}"
    );
    let tray = ui.tray().await;
    let open = tray
        .menu()
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.label == "Open Rserve Desk")
        .expect("the tray's menu opens the window");
    tray.click(&open).await.unwrap();
    ui.attach_after_relaunch().await;
    ui.wait_text("main h2", |t| t == "Hosts").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while scroll_top(&ui).await != SCROLLED {
        assert!(
            Instant::now() < deadline,
            "the re-created window is scrolled to {}, not {SCROLLED}",
            scroll_top(&ui).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        !ui.app_processes("WebKitWebProces").is_empty(),
        "the re-created window has a web process again"
    );
    ui.shot("reopened");
    ui.close().await;
}

#[tokio::test]
async fn a_deploy_under_way_outlives_the_closed_window_then_the_tray_takes_over() {
    if Standin::from_env("closing the window during a deploy").is_none() {
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().await;
    let slug = "ui-close-mid-deploy";
    remove_leftovers(slug);
    let desk = Rdesk::new();
    desk.ok(&["host", "add", "this-machine", "--local"]);
    let (_dir, app) = app_folder(slug, &[("main.R", "answer <- function() 42\n")]);
    let ui = Desktop::open(desk.data_dir.path(), "close-mid-deploy", &[&app]).await;
    ui.click("a.host[data-host=this-machine]").await;
    ui.wait_text("#apps", |_| true).await;
    ui.drop_onto(".hint", &[&app]).await;
    ui.wait_text("#new-files", |t| t.contains("main.R")).await;
    let pid = ui.app_processes("rserve-desk");
    let trays_before = ui.watcher.registered();
    ui.click("#new-deploy").await;
    ui.wait_text("#deploy", |t| !t.is_empty()).await;
    let running_at_close = docker_out(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=io.rserve-desk.slug={slug}"),
    ]);
    ui.close_window();
    assert!(
        running_at_close.trim().is_empty(),
        "the deploy had started its container before the window closed: too fast to test"
    );

    // The process goes on as the tray only once the deploy has ended, and
    // the deploy ends deployed: no half-made app is left.
    let deadline = Instant::now() + Duration::from_secs(300);
    while ui.watcher.registered() == trays_before {
        assert!(
            Instant::now() < deadline,
            "the tray process never took over after the deploy"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    running_container(slug);
    assert_eq!(
        ui.app_processes("rserve-desk"),
        pid,
        "the same process went on as the tray"
    );
    // Docker's health check may still say `starting` for a moment.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = desk
            .listed_app("this-machine", slug)
            .expect("the app is listed")["status"]
            .clone();
        if status == "running" {
            break;
        }
        assert!(
            status == "starting" && Instant::now() < deadline,
            "the app deployed while the window closed is {status}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    ui.close().await;
    desk.ok(&["rm", slug, "--host", "this-machine"]);
}
