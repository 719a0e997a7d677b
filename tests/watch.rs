//! `rdesk watch` over SSH to the stand-in: a container killed with
//! `docker kill` is seen on the events stream and recorded as a crash with its
//! exit code, and a start as running again.
// Test helpers: a panic is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::Command;
use std::time::Duration;

use rdesk_e2e::{JsonLines, Standin, app_folder, running_container};
use serde_json::json;

#[test]
fn a_killed_app_is_seen_and_recorded_as_a_crash() {
    let Some(vps) = Standin::from_env("watch_kill") else {
        return;
    };
    let desk = vps.desk();
    let slug = "e2e-watch";
    let (_dir, app) = app_folder("watch", &[("main.R", "alive <- function() TRUE\n")]);
    desk.deploy(&app, slug, &[]);

    let watcher = JsonLines::start(&desk, &["watch", "--host", "vps", "--json"], &[]);
    // Give the watcher its subscription before the kill; replays cover the rest.
    std::thread::sleep(Duration::from_secs(2));

    let id = running_container(slug);
    assert!(
        Command::new("docker")
            .args(["kill", &id])
            .status()
            .unwrap()
            .success()
    );

    let within = Duration::from_secs(60);
    let died = watcher.wait_for(within, |e| {
        e["app"]["slug"] == slug && e["status"] == "crashed"
    });
    assert_eq!(
        died["app"]["kind"],
        json!({"event": "died", "exit_code": 137}),
        "{died}"
    );

    desk.ok(&["start", slug, "--host", "vps"]);
    watcher.wait_for(within, |e| {
        e["app"]["slug"] == slug && e["status"] == "running"
    });
    drop(watcher);

    let history = desk.json(&["history", slug, "--host", "vps"]);
    let statuses: Vec<&str> = history["status_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    // Newest first: running again (perhaps through `starting`, the health
    // check's grace) after the crash.
    let crashed = statuses.iter().position(|s| *s == "crashed");
    let running = statuses.iter().position(|s| *s == "running");
    assert!(
        matches!((running, crashed), (Some(r), Some(c)) if r < c),
        "newest first: crashed, then running again: {statuses:?}"
    );
    let crash = history["status_events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["status"] == "crashed")
        .unwrap();
    assert_eq!(crash["detail"], json!("exit code 137"));
    desk.ok(&["rm", slug, "--host", "vps"]);
}
