//! `rdesk watch` over SSH to the stand-in: a container killed with
//! `docker kill` is seen on the events stream and recorded as a crash with its
//! exit code, and a start as running again.
// Test helpers: a panic is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rdesk_e2e::{Standin, app_folder, rdesk_binary};
use serde_json::{Value, json};

/// Waits (bounded) for the watcher to print an event matching `wanted`.
fn wait_for(lines: &mpsc::Receiver<Value>, wanted: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) if wanted(&line) => return line,
            Ok(_) => continue,
            Err(_) => break,
        }
    }
    panic!("the watcher never printed the expected event");
}

#[test]
fn a_killed_app_is_seen_and_recorded_as_a_crash() {
    let Some(vps) = Standin::from_env("watch_kill") else {
        return;
    };
    let desk = vps.desk();
    let slug = "e2e-watch";
    let (_dir, app) = app_folder("watch", &[("main.R", "alive <- function() TRUE\n")]);
    desk.deploy(&app, slug, &[]);

    let mut watcher = Command::new(rdesk_binary())
        .args(["watch", "--host", "vps", "--json"])
        .env("RDESK_DATA_DIR", desk.data_dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = watcher.stdout.take().unwrap();
    let (send, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(value) = serde_json::from_str::<Value>(&line)
                && send.send(value).is_err()
            {
                break;
            }
        }
    });
    // Give the watcher its subscription before the kill; replays cover the rest.
    std::thread::sleep(Duration::from_secs(2));

    let id = String::from_utf8(
        Command::new("docker")
            .args([
                "ps",
                "-q",
                "--filter",
                &format!("label=io.rserve-desk.slug={slug}"),
            ])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let id = id.trim();
    assert!(!id.is_empty(), "the app's container runs");
    assert!(
        Command::new("docker")
            .args(["kill", id])
            .status()
            .unwrap()
            .success()
    );

    let died = wait_for(&lines, |e| {
        e["app"]["slug"] == slug && e["status"] == "crashed"
    });
    assert_eq!(
        died["app"]["kind"],
        json!({"event": "died", "exit_code": 137}),
        "{died}"
    );

    desk.ok(&["start", slug, "--host", "vps"]);
    wait_for(&lines, |e| {
        e["app"]["slug"] == slug && e["status"] == "running"
    });

    watcher.kill().unwrap();
    watcher.wait().unwrap();

    let history = desk.json(&["history", slug, "--host", "vps"]);
    let statuses: Vec<&str> = history["status_events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses.windows(2).any(|w| w == ["running", "crashed"]),
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
