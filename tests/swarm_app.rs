//! An app on the cluster that `swarm.rs` made: three replicas on at least
//! two nodes answering through Traefik; a rolling update under continuous
//! calls that fails none; the monitor following it (`swarm_monitor.rs`);
//! a rollback, logs; rserve-js and R calling it as the window shows them,
//! and the window saying which nodes run it; a version whose `health()`
//! fails, rolled back by the swarm while the old one answers; token
//! access; each app's tasks walled off from every other app's (a network
//! each) and from Traefik's dashboard and metrics while Traefik reaches
//! all; secret variables as swarm secrets; a worker's Docker stopped, its
//! tasks moved, calls going on; the apps listed again from the services'
//! labels alone.

use std::time::{Duration, Instant};

use rdesk_core::snippets::rserve_js;
use rdesk_core::spawner::{AccessMode, Mode};
use rdesk_e2e::clients::{Tunnel, rscript_ok, run_snippet};
use rdesk_e2e::vps::Vps;
use rdesk_e2e::{JsonLines, KeyringSession, Rdesk, Traffic};
use serde_json::Value;

use super::add_cluster;
use super::swarm_monitor::{each_task_uses_memory_on_its_node, monitor_follows_the_cluster};
use super::window_driver::Desktop;

/// Writes version `version` of a small app (`health()` answers `healthy`).
fn app_version(dir: &std::path::Path, version: &str, healthy: bool) {
    let healthy = if healthy { "TRUE" } else { "FALSE" };
    std::fs::write(
        dir.join("app.R"),
        format!("version <- function() \"{version}\"\nhealth <- function() {healthy}\n"),
    )
    .unwrap();
}

fn deploy(desk: &Rdesk, dir: &std::path::Path) -> std::process::Output {
    desk.run(&[
        "deploy",
        dir.to_str().unwrap(),
        "--host",
        "node1",
        "--slug",
        "sw",
        "--replicas",
        "3",
        "--access",
        "public",
    ])
}

/// [`deploy`], which must succeed.
fn deployed(desk: &Rdesk, dir: &std::path::Path) {
    let out = deploy(desk, dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The clients people use call app `sw` as the window shows them:
/// rserve-js under Node through the cluster's Traefik, and R (RSclient)
/// over QAP through `rdesk tunnel`, which reaches a task on its node.
fn clients_call_the_cluster(desk: &Rdesk, url: &str) {
    let listed = |printed: &str| printed.starts_with("functions:") && printed.contains("version");
    let js = rserve_js(url, "sw", "node1", Mode::Ocap, AccessMode::Public);
    let printed = run_snippet(&js);
    assert!(listed(&printed), "{printed}\n{js}");
    let tunnel = Tunnel::open(desk, "node1", "sw", &[]);
    let printed = rscript_ok(&tunnel.snippet());
    assert!(listed(&printed), "{printed}\n{}", tunnel.view);
    tunnel.end_with("-TERM");
}

/// A secret variable on a cluster: kept in this workstation's keyring, a
/// swarm secret on the cluster that each task (two, on two nodes) exports
/// before R starts; never in the service's spec; a new value is a new
/// secret rolled out, the old one removed; all of them go with the app.
fn secret_variables_on_the_cluster(desk: &Rdesk, nodes: &[Vps]) {
    let manager = &nodes[0];
    let keyring = KeyringSession::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("app.R"),
        "token <- function() Sys.getenv(\"TOKEN\")\n",
    )
    .unwrap();
    let path = dir.path().to_str().unwrap();
    let deploy = [
        "deploy",
        path,
        "--host",
        "node1",
        "--slug",
        "sws",
        "--access",
        "public",
        "--replicas",
        "2",
        "--secret",
        "TOKEN",
    ];
    let secrets = || manager.sh_ok("docker secret ls -q --filter label=io.rserve-desk.slug=sws");
    for value in ["first s3cret", "second s3cret, with a 'quote' and $HOME"] {
        let set = keyring.rdesk(
            desk,
            &["secret", "set", "sws", "TOKEN", "--host", "node1"],
            &format!("{value}\n"),
        );
        assert!(
            set.status.success(),
            "{}",
            String::from_utf8_lossy(&set.stderr)
        );
        let deployed = keyring.rdesk(desk, &deploy, "");
        assert!(
            deployed.status.success(),
            "{}",
            String::from_utf8_lossy(&deployed.stderr)
        );
        for _ in 0..4 {
            let answer = desk.json(&["call", "sws", "token", "--host", "node1"]);
            assert_eq!(answer, Value::from(value), "every task has the value");
        }
        let spec = manager.sh_ok("docker service inspect rserve-desk-sws");
        assert!(
            !spec.contains("s3cret"),
            "a value in the service's spec: {spec}"
        );
        assert_eq!(
            secrets().lines().count(),
            1,
            "the old value's secret is removed"
        );
    }
    let removed = keyring.rdesk(desk, &["rm", "sws", "--host", "node1"], "");
    assert!(
        removed.status.success(),
        "{}",
        String::from_utf8_lossy(&removed.stderr)
    );
    assert_eq!(secrets(), "", "the app's secrets go with it");
}

/// The window on the cluster's data: a worker's page leads to the
/// cluster's, which lists app `sw` running, its chart has a line per node,
/// and its Settings tab says which nodes run its replicas; no error on the
/// way.
async fn the_window_shows_where_it_runs(desk: &Rdesk) {
    let ui = Desktop::open(desk.data_dir.path(), "swarm", &[]).await;
    // A worker's page says whose apps it runs, and leads there.
    ui.click("a.host[data-host=node2]").await;
    let worker = ui.wait_text("p.worker", |_| true).await;
    assert_eq!(
        worker,
        "node2 is a worker of cluster node1: the apps it runs are listed, deployed and watched there."
    );
    ui.click("p.worker a.cluster").await;
    let row = "tr[data-drop-slug=sw]";
    ui.wait_text(&format!("{row} .badge"), |t| t == "running")
        .await;
    ui.click(&format!("{row} a.open")).await;
    // Its CPU chart has a line per node beside its whole use (the monitor
    // has been sampling since before the deploys).
    let chart = ui
        .wait_html("#chart", |h| h.contains("cpu (all nodes)"))
        .await;
    assert!(chart.contains("on node"), "{chart:.600}");
    ui.click("#tab-settings").await;
    let placed = ui
        .wait_text("p.placement", |t| t.starts_with("Runs on"))
        .await;
    let status = desk.json(&["status", "sw", "--host", "node1"]);
    for container in status["containers"].as_array().into_iter().flatten() {
        let node = container["node"].as_str().unwrap_or_default();
        assert!(placed.contains(node), "{placed} does not name {node}");
    }
    ui.shot("01-a-cluster-app");
    let banner = ui.client.find(fantoccini::Locator::Css("#error")).await;
    assert!(
        banner.is_err(),
        "the window showed an error on the cluster's data"
    );
    ui.close().await;
}

/// The running tasks of `slug` on every node: `(node index, container, its
/// address on the app's network)`.
fn tasks_of(nodes: &[Vps], slug: &str) -> Vec<(usize, String, String)> {
    let mut tasks = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let listed = node.sh_ok(&format!(
            "docker ps -q --filter label=io.rserve-desk.slug={slug} | xargs -r docker inspect \
             --format '{{{{.Id}}}} {{{{(index .NetworkSettings.Networks \"rserve-desk-app-{slug}\").IPAddress}}}}'"
        ));
        for line in listed.lines() {
            if let Some((id, ip)) = line.split_once(' ') {
                tasks.push((i, id.to_owned(), ip.to_owned()));
            }
        }
    }
    tasks
}

/// Whether task `container` on `node` can open a connection to `ip:port`.
fn reaches(node: &Vps, container: &str, ip: &str, port: u16) -> bool {
    node.sh(&format!(
        "docker exec {container} timeout 3 bash -c 'exec 3<>/dev/tcp/{ip}/{port}'"
    ))
    .status
    .success()
}

/// The manager's Traefik's address on `network`.
fn traefik_address(manager: &Vps, network: &str) -> String {
    let ip = manager.sh_ok(&format!(
        "docker inspect rserve-desk-traefik --format \
         '{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}'"
    ));
    let ip = ip.trim().to_owned();
    assert!(!ip.is_empty(), "Traefik is not on {network}");
    ip
}

/// The walls: a task of `sw` reaches another task of `sw` (the probe
/// works), never one of `swt`, which Traefik reaches, nor Traefik's
/// dashboard or metrics, which the manager reaches.
fn walls_between_apps(nodes: &[Vps]) {
    let sw = tasks_of(nodes, "sw");
    let swt = tasks_of(nodes, "swt");
    assert!(sw.len() >= 2 && !swt.is_empty(), "{sw:?} {swt:?}");
    let (node, from, _) = &sw[0];
    assert!(
        reaches(&nodes[*node], from, &sw[1].2, 8081),
        "a task of sw cannot reach another of sw: {sw:?}"
    );
    for (_, _, ip) in &swt {
        assert!(
            !reaches(&nodes[*node], from, ip, 8081),
            "a task of sw reached a task of swt at {ip}"
        );
    }
    let manager = &nodes[0];
    let private = traefik_address(manager, "rserve-desk");
    let on_sw = traefik_address(manager, "rserve-desk-app-sw");
    for port in [8082, 8089] {
        let by_manager = manager.sh(&format!(
            "timeout 3 bash -c 'exec 3<>/dev/tcp/{private}/{port}'"
        ));
        assert!(
            by_manager.status.success(),
            "the manager does not reach Traefik's {private}:{port}"
        );
        for ip in [&private, &on_sw] {
            assert!(
                !reaches(&nodes[*node], from, ip, port),
                "a task of sw reached Traefik's private entry point {ip}:{port}"
            );
        }
    }
}

/// The app's current containers, as `rdesk status` lists them: `(node, status)`.
fn placed(desk: &Rdesk) -> Vec<(String, String)> {
    let status = desk.json(&["status", "sw", "--host", "node1"]);
    status["containers"]
        .as_array()
        .unwrap_or_else(|| panic!("no containers in {status}"))
        .iter()
        .map(|c| {
            (
                c["node"].as_str().unwrap_or_default().to_owned(),
                c["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

pub(super) fn swarm_app(desk: &Rdesk, nodes: &[Vps]) {
    let (manager, worker) = (&nodes[0], &nodes[2]);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("ws://{}/sw", manager.address());

    // Three replicas, spread, answering through Traefik.
    app_version(dir.path(), "v1", true);
    deployed(desk, dir.path());
    let containers = placed(desk);
    assert_eq!(containers.len(), 3, "{containers:?}");
    let mut spread: Vec<&str> = containers.iter().map(|(n, _)| n.as_str()).collect();
    spread.sort_unstable();
    spread.dedup();
    assert!(
        spread.len() >= 2,
        "three replicas on one node: {containers:?}"
    );
    let answer = desk.json(&["call", "sw", "version", "--host", "node1"]);
    assert_eq!(answer, Value::from("v1"));
    each_task_uses_memory_on_its_node(desk, &containers);

    // The monitor follows the cluster from here on.
    let runtime = tempfile::tempdir_in("/tmp").unwrap();
    let watch = JsonLines::start(
        desk,
        &["watch", "--host", "node1", "--json"],
        &[("XDG_RUNTIME_DIR", runtime.path())],
    );
    watch.wait_for(Duration::from_secs(30), |l| l["monitor"] == "connected");

    // A rolling update under continuous calls fails none of them.
    let traffic = Traffic::start(&url, "version");
    std::thread::sleep(Duration::from_secs(1));
    app_version(dir.path(), "v2", true);
    deployed(desk, dir.path());
    std::thread::sleep(Duration::from_secs(3));
    let seen = traffic.stop();
    eprintln!(
        "rolling update: {} calls, {} failed",
        seen.calls,
        seen.failures.len()
    );
    assert!(seen.failures.is_empty(), "{:?}", seen.failures);
    assert_eq!(seen.last(), Some("\"v2\""));
    // The replaced tasks ended as stopped (exit 0), not as crashes.
    for node in nodes {
        let ended = node.sh_ok(
            "docker ps -a --filter label=io.rserve-desk.slug=sw --filter status=exited --format '{{.Status}}'",
        );
        for line in ended.lines() {
            assert!(line.starts_with("Exited (0)"), "a replaced task: {line}");
        }
    }

    // A rollback to the kept v1 (built on every node, nothing built now),
    // then v2 again; the newest task's output comes from its node.
    desk.ok(&["rollback", "sw", "--host", "node1"]);
    let answer = desk.json(&["call", "sw", "version", "--host", "node1"]);
    assert_eq!(answer, Value::from("v1"));
    deployed(desk, dir.path());
    let logs = desk.ok(&["logs", "sw", "--host", "node1", "--tail", "20"]);
    assert!(!logs.trim().is_empty(), "no output from the app's task");
    clients_call_the_cluster(desk, &url);
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(the_window_shows_where_it_runs(desk));
    monitor_follows_the_cluster(desk, nodes, &watch, runtime.path());
    drop(watch);

    // A version whose health() fails is rolled back by the swarm; v2 answers throughout.
    let traffic = Traffic::start(&url, "version");
    app_version(dir.path(), "v3", false);
    let out = deploy(desk, dir.path());
    let seen = traffic.stop();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a failing health() deployed");
    assert!(said.contains("rolled it back"), "{said}");
    assert!(seen.failures.is_empty(), "{:?}", seen.failures);
    assert!(
        seen.answers.iter().all(|(_, a)| a == "\"v2\""),
        "{:?}",
        seen.answers
    );

    // Token access (the default) on a cluster: `rdesk call` gives this
    // workstation a token (here, with no keyring, one for the call, revoked
    // after it), which every task accepts once the swarm rolled the new
    // tokens file out; a token made by hand survives a redeploy.
    let token_app = tempfile::tempdir().unwrap();
    app_version(token_app.path(), "t1", true);
    let path = token_app.path().to_str().unwrap();
    desk.ok(&["deploy", path, "--host", "node1", "--slug", "swt"]);
    let answer = desk.json(&["call", "swt", "version", "--host", "node1"]);
    assert_eq!(answer, Value::from("t1"));
    walls_between_apps(nodes);
    desk.ok(&[
        "token", "create", "swt", "--host", "node1", "--name", "kept",
    ]);
    app_version(token_app.path(), "t2", true);
    desk.ok(&["deploy", path, "--host", "node1", "--slug", "swt"]);
    let answer = desk.json(&["call", "swt", "version", "--host", "node1"]);
    assert_eq!(answer, Value::from("t2"));
    let tokens = desk.json(&["token", "list", "swt", "--host", "node1"]);
    let names: Vec<&str> = tokens
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["kept"], "{tokens}");
    desk.ok(&["rm", "swt", "--host", "node1"]);
    assert_eq!(
        manager.sh_ok("docker config ls --filter label=io.rserve-desk.slug=swt -q | wc -l"),
        "0",
        "the app's tokens configs go with it"
    );

    secret_variables_on_the_cluster(desk, nodes);

    // A worker's Docker stops: its tasks move, the app keeps answering.
    let traffic = Traffic::start(&url, "version");
    worker.sh_ok("kill $(cat /run/docker.pid)");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut moved = false;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_secs(2));
        let now = placed(desk);
        if now.len() == 3 && now.iter().all(|(n, s)| n != "node3" && s == "running") {
            moved = true;
            break;
        }
    }
    std::thread::sleep(Duration::from_secs(5));
    let seen = traffic.stop();
    let rate = seen.failures.len() as f64 / seen.calls.max(1) as f64;
    eprintln!(
        "a worker down: {} calls, {} failed ({:.2} %) {:?}",
        seen.calls,
        seen.failures.len(),
        rate * 100.0,
        seen.failures
    );
    assert!(moved, "the tasks of node3 never moved: {:?}", placed(desk));
    assert!(rate < 0.01, "{:?}", seen.failures);

    // A second workstation, with an empty cache, finds the same app from
    // the services' labels alone.
    let second = Rdesk::new();
    add_cluster(&second, nodes);
    let describe = |desk: &Rdesk| {
        let apps = desk.json(&["apps", "--host", "node1"]);
        let list = apps["apps"].as_array().cloned().unwrap_or_default();
        list.iter()
            .map(|a| {
                (
                    a["slug"].clone(),
                    a["code_hash"].clone(),
                    a["r_version"].clone(),
                    a["mode"].clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    let here = describe(desk);
    assert!(!here.is_empty(), "no apps listed");
    assert_eq!(describe(&second), here);
    desk.ok(&["rm", "sw", "--host", "node1"]);
    assert_eq!(
        manager.sh_ok("docker service ls --filter name=rserve-desk-sw -q | wc -l"),
        "0"
    );
}
