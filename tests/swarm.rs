//! A cluster end to end (issue 16): three EMPTY bare VPSs (the swarm
//! stand-in of `cargo xtask standin swarm`, nodes in network namespaces on
//! a LAN of their own, no Docker running, no internet) made one swarm by
//! `rdesk host join` and `rdesk host bootstrap`: the manager's steps (its
//! Traefik a container reading the swarm), each worker's Docker, init and
//! join through each node's Docker API, planned first by `--dry-run`.
//! Then: a second bootstrap changes nothing, and a dry run then plans only
//! the images sent from here; a worker is checked as a machine and its own
//! apps are refused; the filter lets Traefik read the swarm and no more;
//! its dashboard is reached through the manager's SSH session only; a
//! service made by hand on an app network of its own, which the next
//! bootstrap joins Traefik to, is routed to on a worker; a worker in a
//! swarm of its own is refused with a sentence and joins once it left it.
//! Then an app on the cluster ([`swarm_app`]). One test, as the steps
//! share the nodes.
// Test helpers: a panic is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "swarm_app.rs"]
mod swarm_app;
#[path = "swarm_monitor.rs"]
mod swarm_monitor;

// The window's part of the app's test drives it as the desktop tests do.
#[allow(dead_code)]
mod panel;
#[allow(dead_code)]
mod window_driver;

use rdesk_e2e::vps::Vps;
use rdesk_e2e::{JsonLines, Rdesk, http_get};
use serde_json::Value;

const NAMES: [&str; 3] = ["node1", "node2", "node3"];

/// Each step's final state, in order, from `--json` step events.
fn finals(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .filter(|e| e.get("step").is_some() && e["state"] != "started")
        .map(|e| {
            (
                e["step"].as_str().unwrap().to_owned(),
                e["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn bootstrap(desk: &Rdesk, manager: &Vps) -> String {
    let args = manager.bootstrap_args_of("node1");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    desk.ok(&args)
}

/// What the manager's Docker says of the swarm's nodes: `host state role`.
fn swarm_nodes(manager: &Vps) -> Vec<String> {
    let listed = manager.sh_ok(
        "docker node ls --format '{{.Hostname}} {{.Status}} {{if .ManagerStatus}}{{.ManagerStatus}}{{else}}Worker{{end}}' | sort",
    );
    listed.lines().map(str::to_owned).collect()
}

/// `docker save IMAGE` on `from` into `docker load` on `to`, node to node
/// (the registry of a later step does this for apps).
fn copy_image(from: &Vps, to: &Vps, image: &str) {
    let mut save = from.command(&format!("docker save {image}"));
    let mut saver = save.stdout(Stdio::piped()).spawn().unwrap();
    let mut load = to.command("docker load");
    let loaded = load.stdin(saver.stdout.take().unwrap()).output().unwrap();
    assert!(saver.wait().unwrap().success());
    assert!(
        loaded.status.success(),
        "{}",
        String::from_utf8_lossy(&loaded.stderr)
    );
}

/// The status of a WebSocket upgrade to `url` (101 once something answers).
fn upgrade_status(url: &str) -> String {
    let out = Command::new("curl")
        .args(["-m", "3", "-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .args(["-H", "Connection: Upgrade", "-H", "Upgrade: websocket"])
        .args(["-H", "Sec-WebSocket-Version: 13"])
        .args(["-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="])
        .args(["-H", "Sec-WebSocket-Protocol: QAP1"])
        .arg(url)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Traefik on the manager reaches an Rserve task that runs on `worker`
/// alone, on an app network made by hand, which the next bootstrap's
/// `traefik-networks` step joins Traefik to; routed by the service's labels.
fn routes_to_a_task_on(desk: &Rdesk, manager: &Vps, worker: &Vps, worker_name: &str) {
    let image = format!("rserve-base:{}", manager.r_version);
    copy_image(manager, worker, &image);
    manager.sh_ok(
        "docker network create -d overlay --attachable \
         --label io.rserve-desk.owner=rserve-desk --label io.rserve-desk.role=app-network \
         sw-hello-net >/dev/null \
         && printf 'hello <- function(name) paste(\"hi\", name)\\n' | docker config create sw-hello-r - >/dev/null",
    );
    manager.sh_ok(&format!(
        "docker service create -d --name sw-hello --endpoint-mode dnsrr \
         --network sw-hello-net --constraint node.hostname=={worker_name} \
         --config source=sw-hello-r,target=/app/app.R \
         -e APP_DIR=/app -e RSERVE_MODE=ocap -e RDESK_ACCESS=public -e RDESK_MEMORY_MB=256 \
         --label traefik.enable=true \
         --label traefik.swarm.network=sw-hello-net \
         --label 'traefik.http.routers.sw-hello.rule=PathPrefix(`/sw-hello`)' \
         --label traefik.http.routers.sw-hello.entrypoints=web \
         --label traefik.http.services.sw-hello.loadbalancer.server.port=8081 \
         {image} >/dev/null"
    ));
    let joined = finals(&bootstrap(desk, manager));
    assert!(
        joined.contains(&("traefik-networks".to_owned(), "done".to_owned())),
        "{joined:?}"
    );
    let url = format!("{}/sw-hello", manager.public_url);
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut last = upgrade_status(&url);
    while last != "101" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        last = upgrade_status(&url);
    }
    let tasks = manager.sh_ok("docker service ps sw-hello --format '{{.Node}} {{.CurrentState}}'");
    assert_eq!(last, "101", "Traefik never reached the task: {tasks}");
    assert!(tasks.starts_with(worker_name), "{tasks}");
    manager.sh_ok(
        "docker service rm sw-hello >/dev/null && docker config rm sw-hello-r >/dev/null \
         && docker network disconnect -f sw-hello-net rserve-desk-traefik \
         && for i in $(seq 60); do docker network rm sw-hello-net >/dev/null 2>&1 && break; sleep 0.5; done",
    );
}

/// `rdesk host bootstrap node1 --dry-run`, with `--send-images` when
/// `sending`: each step, and whether a run would change something there.
fn planned(desk: &Rdesk, manager: &Vps, sending: bool) -> Vec<(String, bool)> {
    let mut args = manager.bootstrap_args_of("node1");
    args.retain(|a| (sending || a != "--send-images") && a != "--json");
    args.push("--dry-run".to_owned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let plan = desk.json(&args);
    plan["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("no steps in {plan}"))
        .iter()
        .map(|s| {
            (
                s["step"].as_str().unwrap_or_default().to_owned(),
                s["to_do"].as_bool().unwrap_or_default(),
            )
        })
        .collect()
}

/// `rdesk host dashboard` of the cluster reaches the manager's Traefik
/// through its SSH session; its port answers no one on the LAN.
fn dashboard_through_the_manager(desk: &Rdesk, manager: &Vps) {
    let direct = http_get(&format!("{}:8089", manager.address()), "/api/version");
    assert!(direct.is_err(), "the dashboard is public: {direct:?}");
    let dashboard = JsonLines::start(desk, &["--json", "host", "dashboard", "node1"], &[]);
    let opened = dashboard.wait_for(Duration::from_secs(30), |l| l["url"].is_string());
    let port = opened["local_port"].as_u64().unwrap();
    let version = http_get(&format!("127.0.0.1:{port}"), "/api/version").unwrap();
    assert!(
        version.starts_with("HTTP/1.0 200") && version.contains("\"Version\""),
        "{version}"
    );
}

/// `rdesk host add node1..node3`.
fn add_hosts(desk: &Rdesk, nodes: &[Vps]) {
    for (name, node) in NAMES.iter().zip(nodes) {
        desk.ok(&[
            "host",
            "add",
            name,
            "--ssh",
            &node.ssh,
            "--identity",
            &node.identity,
            "--public-url",
            &node.public_url,
        ]);
    }
}

/// The hosts added and node2, node3 joined to node1.
fn add_cluster(desk: &Rdesk, nodes: &[Vps]) {
    add_hosts(desk, nodes);
    desk.ok(&["host", "join", "node1", "node2", "node3"]);
}

#[test]
fn three_empty_vpss_become_one_swarm_with_traefik() {
    let Some(nodes) = Vps::swarm_from_env("swarm") else {
        return;
    };
    let [manager, worker, third] = &nodes[..] else {
        panic!("the swarm stand-in has three nodes")
    };
    for node in &nodes {
        node.reset();
    }
    let desk = Rdesk::new();
    add_hosts(&desk, &nodes);

    // Joining checks its hosts before it records anything.
    let itself = desk.fails(&["host", "join", "node1", "node1"]);
    assert!(
        itself.contains("a host cannot be a worker of itself"),
        "{itself}"
    );
    let ghost = desk.fails(&["host", "join", "node1", "ghost"]);
    assert!(ghost.contains("there is no host named `ghost`"), "{ghost}");
    desk.ok(&["host", "join", "node1", "node2", "node3"]);
    let listed = desk.json(&["host", "nodes", "node1"]);
    assert_eq!(listed["workers"], serde_json::json!(["node2", "node3"]));
    let worker_as_cluster = desk.fails(&["host", "join", "node2", "node1"]);
    assert!(
        worker_as_cluster.contains("host `node2` is a worker of `node1`"),
        "{worker_as_cluster}"
    );

    // The dry run plans every node's steps by its role, then the swarm's.
    let before = planned(&desk, manager, false);
    let names: Vec<&str> = before.iter().map(|(step, _)| step.as_str()).collect();
    assert!(before.iter().all(|(_, to_do)| *to_do), "{before:?}");
    for step in [
        "install-docker",
        "docker-filter",
        "traefik",
        "node2/install-docker",
        "node3/network",
        "swarm",
        "join:node2",
        "join:node3",
        "traefik-networks",
    ] {
        assert!(names.contains(&step), "no {step} in {names:?}");
    }
    assert!(!names.contains(&"node2/traefik"), "{names:?}");

    // From empty: every node's own steps, then the swarm.
    let first = finals(&bootstrap(&desk, manager));
    let done: Vec<&str> = first
        .iter()
        .filter(|(_, state)| state == "done")
        .map(|(step, _)| step.as_str())
        .collect();
    for step in [
        "install-docker",
        "network",
        "docker-filter",
        "node2/install-docker",
        "node2/network",
        "node3/install-docker",
        "swarm",
        "join:node2",
        "join:node3",
        "traefik",
    ] {
        assert!(done.contains(&step), "{step} not done: {first:?}");
    }
    assert!(
        !first
            .iter()
            .any(|(step, _)| step.starts_with("node2/docker-filter")
                || step.starts_with("node2/traefik")
                || step.starts_with("node2/image:rserve-desk/traefik")),
        "a worker has no filter or Traefik of its own: {first:?}"
    );
    assert_eq!(
        swarm_nodes(manager),
        [
            "node1 Ready Leader",
            "node2 Ready Worker",
            "node3 Ready Worker"
        ]
    );

    // Again: nothing changes.
    let again = finals(&bootstrap(&desk, manager));
    let changed: Vec<_> = again
        .iter()
        .filter(|(_, state)| state != "skipped")
        .collect();
    assert!(changed.is_empty(), "a second bootstrap changed {changed:?}");
    // A dry run sending images plans nothing; without `--send-images`, only
    // the `rserve-base` images, sent from here, would be built.
    let sending = planned(&desk, manager, true);
    assert!(sending.iter().all(|(_, to_do)| !to_do), "{sending:?}");
    assert!(
        sending
            .iter()
            .any(|(step, _)| step.starts_with("node3/rserve-base:")),
        "{sending:?}"
    );
    let after = planned(&desk, manager, false);
    assert!(
        after
            .iter()
            .all(|(step, to_do)| !to_do || step.contains("rserve-base:")),
        "{after:?}"
    );
    assert!(after.iter().any(|(step, _)| step == "join:node3"));

    // A worker is checked as a machine; its apps are the cluster's.
    let checked = desk.json(&["host", "check", "node2"]);
    assert!(checked["docker_version"].is_string(), "{checked}");
    let listed = desk.ok(&["apps", "--host", "node2"]);
    assert!(
        listed.contains("node2 is a worker of cluster node1"),
        "{listed}"
    );
    for args in [
        &["watch", "--host", "node2"][..],
        &["status", "sw", "--host", "node2"],
    ] {
        let refused = desk.fails(args);
        assert!(
            refused.contains("host `node2` is a worker of cluster `node1`"),
            "{args:?}: {refused}"
        );
    }

    // Traefik's filter on the manager lets its swarm provider read, and no more.
    for (method, path, want) in [
        ("GET", "/v1.41/services", "200"),
        ("GET", "/v1.41/tasks", "200"),
        ("POST", "/v1.41/services/create", "403"),
        ("GET", "/v1.41/secrets", "403"),
        ("GET", "/v1.41/swarm", "403"),
        ("POST", "/v1.41/nodes/x/update", "403"),
    ] {
        let got = manager.sh_ok(&format!(
            "curl -s -o /dev/null -w '%{{http_code}}' -X {method} \
             --unix-socket /var/lib/docker/volumes/rserve-desk-docker-filter/_data/docker.sock \
             http://filter{path}"
        ));
        assert_eq!(got, want, "{method} {path} through the filter");
    }

    dashboard_through_the_manager(&desk, manager);
    routes_to_a_task_on(&desk, manager, worker, "node2");

    // A worker in a swarm of its own is refused, named, and left as it is;
    // once it left that swarm, the next bootstrap joins it again.
    third.sh_ok(&format!(
        "docker swarm leave --force >/dev/null && docker swarm init --advertise-addr {} >/dev/null",
        third.address()
    ));
    let args = manager.bootstrap_args_of("node1");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = desk.run(&args);
    assert!(!out.status.success());
    let refused = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        refused.contains("node3 is in another swarm; leave it there"),
        "{refused}"
    );
    assert_eq!(
        third.sh_ok("docker info --format '{{.Swarm.ControlAvailable}}'"),
        "true",
        "the other swarm was left as it was"
    );
    third.sh_ok("docker swarm leave --force >/dev/null");
    let rejoined = finals(&bootstrap(&desk, manager));
    assert!(
        rejoined.contains(&("join:node3".to_owned(), "done".to_owned())),
        "{rejoined:?}"
    );
    assert_eq!(
        swarm_nodes(manager),
        [
            "node1 Ready Leader",
            "node2 Ready Worker",
            "node3 Ready Worker"
        ],
        "node3's entry of its first join is gone"
    );

    swarm_app::swarm_app(&desk, &nodes);
}
