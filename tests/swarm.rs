//! A cluster end to end (issue 16): three EMPTY bare VPSs (the swarm
//! stand-in of `cargo xtask standin swarm`, nodes in network namespaces on a
//! LAN of their own, no Docker running, no internet) made one swarm by
//! `rdesk host join` and `rdesk host bootstrap`: the manager's steps, each
//! worker's Docker, init and join through each node's Docker API, the
//! overlay network and Traefik as a swarm service. Then: a second bootstrap
//! changes nothing; Traefik on the manager routes to a task on a worker over
//! the overlay network; a worker in a swarm of its own is refused with a
//! sentence and joins once it left it. Then an app as a swarm service:
//! three replicas on at least two nodes answering through Traefik; a
//! rolling update under continuous calls that fails none; a version whose
//! `health()` fails, rolled back by the swarm while the old one answers;
//! the monitor silent on tasks the swarm replaced, reporting a task killed
//! on a worker as a crash, and sampling every node; a worker's Docker
//! stopped, its tasks moved, calls going on; the apps listed again from the
//! services' labels alone. A worker's own apps are refused. One test, as the steps
//! share the nodes. Each app's tasks are walled off from every other
//! app's (a network each), and Traefik reaches all. rserve-js and R call a
//! cluster's app as the window shows them.
// Test helpers: a panic is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rdesk_core::snippets::rserve_js;
use rdesk_core::spawner::{AccessMode, Mode};
use rdesk_e2e::clients::{Tunnel, rscript_ok, run_snippet};
use rdesk_e2e::vps::Vps;
use rdesk_e2e::{JsonLines, KeyringSession, Rdesk, Traffic};
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

    // A worker is checked as a machine; its apps are the cluster's.
    let checked = desk.json(&["host", "check", "node2"]);
    assert!(checked["docker_version"].is_string(), "{checked}");
    for args in [
        &["apps", "--host", "node2"][..],
        &["watch", "--host", "node2"],
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

    swarm_app(&desk, &nodes);
}

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
fn monitor_follows_the_cluster(desk: &Rdesk, nodes: &[Vps], watch: &JsonLines) {
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
    watch.wait_for(Duration::from_secs(20), |l| {
        l["monitor"] == "sampled" && l["apps"].as_u64().unwrap_or(0) >= 1
    });
    let metrics = desk.json(&["metrics", "sw", "--host", "node1", "--range", "30m"]);
    let sampled = metrics["points"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|p| p["memory_bytes"].as_f64().unwrap_or(0.0) > 0.0);
    assert!(sampled, "no memory sampled from the nodes: {metrics}");
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

/// Whether task `container` on `node` can open a connection to `ip`'s Rserve.
fn reaches(node: &Vps, container: &str, ip: &str) -> bool {
    node.sh(&format!(
        "docker exec {container} timeout 3 bash -c 'exec 3<>/dev/tcp/{ip}/8081'"
    ))
    .status
    .success()
}

/// The walls: a task of `sw` reaches another task of `sw` (the probe
/// works), never one of `swt`, which Traefik reaches.
fn walls_between_apps(nodes: &[Vps]) {
    let sw = tasks_of(nodes, "sw");
    let swt = tasks_of(nodes, "swt");
    assert!(sw.len() >= 2 && !swt.is_empty(), "{sw:?} {swt:?}");
    let (node, from, _) = &sw[0];
    assert!(
        reaches(&nodes[*node], from, &sw[1].2),
        "a task of sw cannot reach another of sw: {sw:?}"
    );
    for (_, _, ip) in &swt {
        assert!(
            !reaches(&nodes[*node], from, ip),
            "a task of sw reached a task of swt at {ip}"
        );
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

fn swarm_app(desk: &Rdesk, nodes: &[Vps]) {
    let (manager, worker) = (&nodes[0], &nodes[2]);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("ws://{}/sw", manager.address());

    // Three replicas, spread, answering through Traefik.
    app_version(dir.path(), "v1", true);
    let out = deploy(desk, dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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

    // The monitor follows the cluster from here on.
    let watch = JsonLines::start(desk, &["watch", "--host", "node1", "--json"], &[]);
    watch.wait_for(Duration::from_secs(30), |l| l["monitor"] == "connected");

    // A rolling update under continuous calls fails none of them.
    let traffic = Traffic::start(&url, "version");
    std::thread::sleep(Duration::from_secs(1));
    app_version(dir.path(), "v2", true);
    let out = deploy(desk, dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    let out = deploy(desk, dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let logs = desk.ok(&["logs", "sw", "--host", "node1", "--tail", "20"]);
    assert!(!logs.trim().is_empty(), "no output from the app's task");
    clients_call_the_cluster(desk, &url);
    monitor_follows_the_cluster(desk, nodes, &watch);
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
