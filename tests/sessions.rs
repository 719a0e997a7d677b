//! One session per host, end to end with the real `rdesk` against the
//! stand-in: the monitor (`rdesk watch`) keeps working while its ssh master
//! is killed 50 times in a row, each time back within 5 s, and every status
//! change made while it was away is recorded exactly once; a CLI action
//! leaves no ssh process behind.
// Test helpers: a panic is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdesk_e2e::{
    JsonLines, SshCounter, Standin, app_folder, cache_scalar, remove_leftovers, running_container,
    ssh_master_under, ssh_processes_under, terminate,
};

/// The pid of the ssh master whose control socket is under `runtime`,
/// waiting (bounded) for one to run.
fn master_under(runtime: &Path) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(pid) = ssh_master_under(runtime) {
            return pid;
        }
        assert!(Instant::now() < deadline, "no ssh master under {runtime:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn the_monitor_survives_50_killed_masters_and_records_each_change_once() {
    let Some(vps) = Standin::from_env("the_monitor_survives_50_killed_masters") else {
        return;
    };
    let desk = vps.desk();
    let slug = "e2e-sess-kill";
    remove_leftovers(slug);
    let (_dir, app) = app_folder("sesskill", &[("main.R", "up <- function() 1\n")]);
    desk.deploy(&app, slug, &["--access", "public"]);
    let runtime = tempfile::Builder::new()
        .prefix("trs")
        .tempdir_in("/tmp")
        .unwrap();
    let watch = JsonLines::start(
        &desk,
        &["watch", "--host", "vps", "--json"],
        &[("XDG_RUNTIME_DIR", runtime.path())],
    );
    let connected = |line: &serde_json::Value| line["monitor"] == "connected";
    watch.wait_for(Duration::from_secs(30), connected);
    let since = now_ms();
    let mut restarts = 0;
    let mut slowest = Duration::ZERO;
    for round in 1..=50 {
        let master = master_under(runtime.path());
        terminate(master);
        let killed = Instant::now();
        // Every tenth time the app restarts while the monitor is away.
        if round % 10 == 0 {
            let restarted = Command::new("docker")
                .args(["restart", "--time", "1", &running_container(slug)])
                .output()
                .unwrap();
            assert!(restarted.status.success(), "{restarted:?}");
            restarts += 1;
        }
        println!("round {round}: killed master {master}");
        watch.wait_for(Duration::from_secs(5) + killed.elapsed(), connected);
        slowest = slowest.max(killed.elapsed());
    }
    println!("50 killed masters; the slowest comeback took {slowest:?}");
    // The last restart's events are in once the monitor has caught up.
    std::thread::sleep(Duration::from_secs(2));
    drop(watch);

    let data = desk.data_dir.path();
    let count = |filter: &str| {
        cache_scalar(
            data,
            &format!(
                "SELECT COUNT(*) FROM status_events WHERE slug = '{slug}' AND at >= {since} AND {filter}"
            ),
        )
        .parse::<i64>()
        .unwrap()
    };
    assert_eq!(
        count("status = 'running'"),
        restarts,
        "one start per restart"
    );
    assert_eq!(
        count("status <> 'running'"),
        restarts,
        "one stop per restart"
    );
    let twice = cache_scalar(
        data,
        &format!(
            "SELECT COUNT(*) FROM (SELECT at, status FROM status_events WHERE slug = '{slug}' \
             GROUP BY at, status HAVING COUNT(*) > 1)"
        ),
    );
    assert_eq!(twice, "0", "a status change recorded twice");
    desk.ok(&["rm", slug, "--host", "vps"]);
}

#[test]
fn a_cli_action_uses_one_session_and_leaves_no_ssh_process() {
    let Some(vps) = Standin::from_env("a_cli_action_uses_one_session") else {
        return;
    };
    let desk = vps.desk();
    let counter = SshCounter::new();
    let runtime = tempfile::Builder::new()
        .prefix("trc")
        .tempdir_in("/tmp")
        .unwrap();
    let out = desk
        .command(&["apps", "--host", "vps"])
        .env("PATH", counter.path())
        .env("XDG_RUNTIME_DIR", runtime.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let started = counter.started();
    let masters = started.iter().filter(|a| a.split(' ').any(|w| w == "-M"));
    assert_eq!(
        masters.count(),
        1,
        "one master for the whole run: {started:?}"
    );
    let left = ssh_processes_under(runtime.path());
    assert!(
        left.is_empty(),
        "ssh processes outlived `rdesk apps`: {left:?}"
    );
    println!("ssh processes started by `rdesk apps`: {}", started.len());
}
