//! What the workstation sees of an app on the cluster (`swarm_app.rs`'s
//! `sw`): `rdesk status --use` measuring each task on its node, and the
//! monitor following every node: silent on tasks the swarm replaced, a task
//! killed on a worker reported as a crash, every node's statistics sampled
//! (the app's whole use and its part on each node, which add up), the
//! requests the manager's Traefik counted, no forward left behind.

use std::time::Duration;

use rdesk_e2e::vps::Vps;
use rdesk_e2e::{JsonLines, Rdesk};
use serde_json::Value;

use super::NAMES;

/// `rdesk status --use` measures each of the app's running tasks
/// (`containers`: node and state) on the node that runs it.
pub(super) fn each_task_uses_memory_on_its_node(desk: &Rdesk, containers: &[(String, String)]) {
    let status = desk.json(&["status", "sw", "--host", "node1", "--use"]);
    let mut measured: Vec<&str> = status["use"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| {
            assert!(u["memory_bytes"].as_u64().unwrap_or(0) > 0, "{u}");
            assert!(u["cpu_percent"].as_f64().is_some(), "{u}");
            assert!(
                u["container"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("rserve-desk-sw.")),
                "{u}"
            );
            u["node"].as_str().unwrap_or_default()
        })
        .collect();
    measured.sort_unstable();
    let mut running: Vec<&str> = containers
        .iter()
        .filter(|(_, state)| state == "running")
        .map(|(node, _)| node.as_str())
        .collect();
    running.sort_unstable();
    assert_eq!(measured, running, "{status}");
    assert_eq!(status["app"]["slug"], "sw");
}

/// The files under `dir` whose names start with `prefix`.
fn sockets_named(dir: &std::path::Path, prefix: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(sockets_named(&path, prefix));
        } else if entry.file_name().to_string_lossy().starts_with(prefix) {
            found.push(path);
        }
    }
    found
}

/// The statuses the monitor reported for app `sw` in `lines`.
fn statuses_of_sw(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l["monitor"] == "status" && l["app"]["slug"] == "sw")
        .map(|l| l["status"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// What the monitor made of two rolling updates and a rollback (each task
/// replaced on purpose, no news), of a task killed on a worker (a crash,
/// then the swarm's new task running), and of every node's statistics
/// (samples of the app's CPU and memory).
pub(super) fn monitor_follows_the_cluster(
    desk: &Rdesk,
    nodes: &[Vps],
    watch: &JsonLines,
    runtime: &std::path::Path,
) {
    let so_far = statuses_of_sw(&watch.so_far());
    assert!(
        so_far.iter().all(|s| s == "running" || s == "starting"),
        "replaced tasks reported as news: {so_far:?}"
    );
    let history = desk.json(&["history", "sw", "--host", "node1"]);
    let last = &history["status_events"][0]["status"];
    assert_eq!(last, "running", "{history}");

    // A current task (not one of the replaced ones still draining, whose
    // end is no news) on a worker.
    let status = desk.json(&["status", "sw", "--host", "node1"]);
    let (node, id) = status["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|c| {
            let node = NAMES[1..].iter().position(|n| c["node"] == *n)?;
            Some((&nodes[node + 1], c["id"].as_str()?.to_owned()))
        })
        .unwrap_or_else(|| panic!("no task of sw on a worker: {status}"));
    node.sh_ok(&format!("docker kill {id}"));
    watch.wait_for(Duration::from_secs(30), |l| {
        l["monitor"] == "status" && l["app"]["slug"] == "sw" && l["status"] == "crashed"
    });
    watch.wait_for(Duration::from_secs(60), |l| {
        l["monitor"] == "status" && l["app"]["slug"] == "sw" && l["status"] == "running"
    });
    // The manager's Traefik counts the calls of the rolling update above,
    // read through one forward that stays.
    watch.wait_for(Duration::from_secs(20), |l| {
        l["monitor"] == "sampled"
            && l["apps"].as_u64().unwrap_or(0) >= 1
            && l["with_requests"] == true
    });
    let forwards = sockets_named(runtime, "traefik-metrics-");
    assert!(forwards.len() <= 1, "forwards left behind: {forwards:?}");
    let metrics = desk.json(&["metrics", "sw", "--host", "node1", "--range", "30m"]);
    let points = metrics["points"].as_array().cloned().unwrap_or_default();
    let sampled = |field: &str| {
        points
            .iter()
            .any(|p| p[field].as_f64().unwrap_or(0.0) > 0.0)
    };
    assert!(
        sampled("memory_bytes"),
        "no memory sampled from the nodes: {metrics}"
    );
    assert!(
        sampled("requests_per_minute"),
        "no requests counted by the manager's Traefik: {metrics}"
    );
    use_by_node(desk, &points);
}

/// The app's use on each node that runs its tasks (at least two), which
/// adds up to its whole use, and its CPU chart's line per node.
fn use_by_node(desk: &Rdesk, whole: &[Value]) {
    let parts = desk.json(&[
        "metrics",
        "sw",
        "--host",
        "node1",
        "--range",
        "30m",
        "--by-node",
    ]);
    let parts = parts.as_array().cloned().unwrap_or_default();
    let nodes: Vec<&str> = parts.iter().filter_map(|p| p["node"].as_str()).collect();
    assert!(
        nodes.len() >= 2 && nodes.iter().all(|n| NAMES.contains(n)),
        "the app's use is not on its nodes: {parts:?}"
    );
    // At the latest time every node has a point, the nodes' memory is the
    // whole app's (each stored rounded up to a KiB).
    let memory_at = |points: &Value, at: &Value| {
        points
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["at_ms"] == *at)
            .and_then(|p| p["memory_bytes"].as_u64())
    };
    let added_up = whole.iter().rev().find_map(|point| {
        let at = &point["at_ms"];
        let on_nodes: Option<Vec<u64>> =
            parts.iter().map(|p| memory_at(&p["points"], at)).collect();
        Some((
            point["memory_bytes"].as_u64()?,
            on_nodes?.iter().sum::<u64>(),
        ))
    });
    let (whole_memory, nodes_memory) =
        added_up.unwrap_or_else(|| panic!("no time sampled on every node: {parts:?}"));
    assert!(
        whole_memory.abs_diff(nodes_memory) <= 1024 * parts.len() as u64,
        "the nodes use {nodes_memory} B, the whole app {whole_memory} B"
    );
    let chart = desk.data_dir.path().join("sw-cpu.svg");
    let said = desk.ok(&[
        "chart",
        "sw",
        "--host",
        "node1",
        "--metric",
        "cpu",
        "--range",
        "30m",
        "--out",
        chart.to_str().unwrap(),
    ]);
    for node in &nodes {
        assert!(said.contains(&format!("on {node}")), "{said}");
    }
}
