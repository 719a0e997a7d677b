//! The bootstrap end to end: from an EMPTY VPS (no Docker running, no
//! images, no network, no Traefik, no internet) to an app answering
//! `rdesk call` through the Traefik the bootstrap set up, over SSH.
//!
//! The VPS is the bare stand-in of `cargo xtask standin vps` (a network
//! namespace at 10.213.7.2 with its own sshd; the bootstrap's
//! `install-docker.sh` starts its own dockerd there). Nothing can be pulled,
//! so `--send-images` sends every image from this workstation's Docker.
//! One test, as the steps share the one VPS and follow each other.
// Test helpers: a panic is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rdesk_e2e::vps::{TRAEFIK_IMAGE, Vps};
use rdesk_e2e::{Rdesk, http_get, rdesk_binary};
use serde_json::Value;

/// The final state of each step, in order, from `--json` step events.
fn finals(events: &[Value]) -> Vec<(String, String)> {
    events
        .iter()
        .filter(|e| e.get("step").is_some() && e["state"] != "started")
        .map(|e| {
            (
                e["step"].as_str().unwrap().to_owned(),
                e["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn expect(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

/// Runs a bootstrap to its end; returns its JSON lines and how long it took.
fn bootstrap(desk: &Rdesk, vps: &Vps) -> (Vec<Value>, Duration) {
    let args = vps.bootstrap_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let started = Instant::now();
    let stdout = desk.ok(&args);
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    (lines, started.elapsed())
}

/// Each step's duration and last output line, for the report.
fn show(title: &str, events: &[Value], took: Duration) {
    eprintln!("{title}: {:.1} s", took.as_secs_f64());
    for e in events
        .iter()
        .filter(|e| e.get("step").is_some() && e["state"] != "started")
    {
        let tail = e["output_tail"].as_str().unwrap_or_default();
        eprintln!(
            "  {:<36} {:<8} {:>7} ms  {}",
            e["step"].as_str().unwrap(),
            e["state"].as_str().unwrap(),
            e["duration_ms"],
            tail.lines().last().unwrap_or_default()
        );
    }
}

/// The id of `image` on this workstation's Docker.
fn workstation_image_id(image: &str) -> String {
    let out = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", image])
        .output()
        .expect("docker runs");
    assert!(out.status.success(), "{image} is not on this workstation");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn examples_hello() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("examples")
        .join("hello")
}

/// Deploys `examples/hello` and calls it through the VPS's Traefik.
fn deploy_and_call(desk: &Rdesk, vps: &Vps) -> Duration {
    let started = Instant::now();
    let path = examples_hello();
    desk.ok(&["deploy", path.to_str().unwrap(), "--host", "vps"]);
    let took = started.elapsed();
    let answer = desk.call_when_up("hello", "hello", &["\"x\""]);
    assert_eq!(answer, Value::from("Hello, x!"));
    // What answered is the VPS's own Docker: Traefik and the app run there.
    let running = vps.sh_ok("docker ps --format '{{.Names}}' | sort");
    assert!(
        running.contains("rserve-desk-traefik") && running.contains("rserve-desk-hello"),
        "{running}"
    );
    took
}

/// Starts a bootstrap and SIGKILLs it (by its pid) while `step` runs; returns
/// the runtime directory it used, holding what it left behind.
fn bootstrap_killed_during(desk: &Rdesk, vps: &Vps, step: &str) -> tempfile::TempDir {
    // Short, under /tmp: socket paths are limited to about 100 bytes.
    let runtime = tempfile::Builder::new()
        .prefix("rk")
        .tempdir_in("/tmp")
        .unwrap();
    let mut child = Command::new(rdesk_binary())
        .args(vps.bootstrap_args())
        .env("RDESK_DATA_DIR", desk.data_dir.path())
        .env("XDG_RUNTIME_DIR", runtime.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(300);
    let seen = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("the bootstrap never reached step {step}"));
        let event: Value = serde_json::from_str(&line).unwrap();
        if event["step"] == step && event["state"] == "started" {
            break event;
        }
        assert_ne!(event["state"], "failed", "{line}");
    };
    // Let the image flow for a moment, then kill it in the middle.
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the bootstrap ended before it could be killed in {seen}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    runtime
}

/// The pids of the ssh masters a killed `rdesk` left (ControlPersist keeps
/// them), found by their control sockets under its runtime directory.
fn orphaned_masters(runtime: &Path) -> Vec<u32> {
    fn sockets(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                sockets(&path, out);
            } else if entry.file_name().to_string_lossy().starts_with("master") {
                out.push(path);
            }
        }
    }
    let mut found = Vec::new();
    sockets(runtime, &mut found);
    found
        .iter()
        .filter_map(|socket| {
            let out = Command::new("ssh")
                .arg("-S")
                .arg(socket)
                .args(["-o", "BatchMode=yes", "-O", "check", "placeholder"])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stderr)
                .split_once("pid=")
                .and_then(|(_, rest)| rest.split(')').next())
                .and_then(|p| p.parse::<u32>().ok())
        })
        .collect()
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// The next `rdesk` run with the same runtime directory cleans up after the
/// killed one: its masters exit and its directory goes. Whatever is still
/// running afterwards is stopped here by pid, then the test fails.
fn next_run_reaps(desk: &Rdesk, runtime: &Path, masters: &[u32]) {
    let out = Command::new(rdesk_binary())
        .args(["host", "list"])
        .env("RDESK_DATA_DIR", desk.data_dir.path())
        .env("XDG_RUNTIME_DIR", runtime)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while masters.iter().any(|&pid| alive(pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let left: Vec<u32> = masters.iter().copied().filter(|&pid| alive(pid)).collect();
    for pid in &left {
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
    }
    assert!(
        left.is_empty(),
        "the next run left the killed run's ssh masters {left:?} running"
    );
    let leftovers: Vec<_> = std::fs::read_dir(runtime)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(
        leftovers.is_empty(),
        "the killed run's directory stayed: {leftovers:?}"
    );
}

/// Traefik's dashboard and API answer through `rdesk host dashboard` (a
/// forward in the SSH session) and are not published on the VPS's network
/// address; Ctrl-C closes the forward and leaves no ssh behind.
fn dashboard_only_through_the_tunnel(desk: &Rdesk, vps: &Vps) {
    let vps_ip = vps.public_url.trim_start_matches("http://");
    let direct = http_get(&format!("{vps_ip}:8089"), "/api/version");
    assert!(
        direct.is_err(),
        "the dashboard is public on the VPS: {direct:?}"
    );

    let mut child = Command::new(rdesk_binary())
        .args(["--json", "host", "dashboard", "vps"])
        .env("RDESK_DATA_DIR", desk.data_dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let opened: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    let port = opened["local_port"].as_u64().unwrap();
    assert_eq!(
        opened["url"].as_str().unwrap(),
        format!("http://127.0.0.1:{port}/dashboard/")
    );
    let local = format!("127.0.0.1:{port}");
    let version = http_get(&local, "/api/version");
    let dashboard = http_get(&local, "/dashboard/");

    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("rdesk host dashboard did not end on Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let version = version.unwrap();
    assert!(
        version.starts_with("HTTP/1.0 200") && version.contains("\"Version\""),
        "{version}"
    );
    let dashboard = dashboard.unwrap();
    assert!(dashboard.starts_with("HTTP/1.0 200"), "{dashboard}");
    assert!(status.success(), "{status}");
    assert!(
        http_get(&local, "/api/version").is_err(),
        "the forward outlived rdesk"
    );
}

#[test]
fn from_an_empty_vps_to_an_app_answering_through_its_traefik() {
    let Some(vps) = Vps::from_env("bootstrap_vps") else {
        return;
    };
    let base = format!("rserve-base:{}", vps.r_version);
    vps.reset();
    let desk = Rdesk::new();
    // A VPS without Docker can be added: the bootstrap installs it.
    desk.add_vps(&vps.ssh, &vps.identity, &vps.public_url);

    // 1. Empty -> bootstrapped: every step reported; the workstation has
    // rserve-base:<R>, so it is sent ready-made and no base image is needed.
    let (events, took) = bootstrap(&desk, &vps);
    show("bootstrap from empty", &events, took);
    let traefik_step = format!("image:{TRAEFIK_IMAGE}");
    assert_eq!(
        finals(&events),
        expect(&[
            ("check-host", "skipped"),
            ("install-docker", "done"),
            ("network", "done"),
            (&traefik_step, "done"),
            ("docker-filter", "done"),
            ("traefik", "done"),
            (&base, "done"),
        ])
    );
    let sent: Vec<&str> = events
        .iter()
        .filter_map(|e| e["output_tail"].as_str())
        .filter(|t| t.contains("from the workstation ("))
        .collect();
    // Traefik's image, the filter's (ready-made, so no debian:bookworm to
    // build it on) and rserve-base.
    assert_eq!(sent.len(), 3, "{sent:?}");
    let deployed_in = deploy_and_call(&desk, &vps);
    eprintln!(
        "deploy of examples/hello: {:.1} s",
        deployed_in.as_secs_f64()
    );
    dashboard_only_through_the_tunnel(&desk, &vps);

    // 2. Again: every step skipped, nothing sent. The workstation's Docker is
    // shared: when its rserve-base was rebuilt meanwhile, the new one is sent
    // (rightly), and the run after that must skip everything.
    let mut runs = 0;
    loop {
        let id_before = workstation_image_id(&base);
        let (events, took) = bootstrap(&desk, &vps);
        show("second bootstrap", &events, took);
        let report = events.last().unwrap();
        let states: Vec<&str> = report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["state"].as_str().unwrap())
            .collect();
        runs += 1;
        if runs < 3 && id_before != workstation_image_id(&base) {
            eprintln!("{base} was rebuilt on the workstation during the run: again");
            continue;
        }
        assert_eq!(states, ["skipped"; 7], "{report}");
        break;
    }
    // A dry run sending images finds nothing to send or do either.
    let plan = desk.json(&dry_run(&vps.bootstrap_args()));
    let to_do: Vec<&Value> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["to_do"] != Value::Bool(false))
        .collect();
    assert!(to_do.is_empty(), "{plan}");

    // 3. Bad input: an image this workstation lacks fails its own step with a
    // clear sentence, before Traefik is touched.
    let mut missing = vps.bootstrap_args();
    let at = missing.iter().position(|a| a == "--traefik-image").unwrap();
    missing[at + 1] = "rserve-desk/traefik:0.0.0-absent".to_owned();
    // Without --json, the error sentence is on stderr.
    let missing: Vec<&str> = missing
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--json")
        .collect();
    let err = desk.fails(&missing);
    assert!(
        err.contains("the image rserve-desk/traefik:0.0.0-absent is not on this workstation's Docker, so it cannot be sent"),
        "{err}"
    );
    // Its dry run names the image it could not send, and changes nothing.
    let mut absent = vps.bootstrap_args();
    absent[at + 1] = "rserve-desk/traefik:0.0.0-absent".to_owned();
    let plan = desk.json(&dry_run(&absent));
    let step = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "image:rserve-desk/traefik:0.0.0-absent")
        .unwrap_or_else(|| panic!("the absent image is not planned: {plan}"));
    assert_eq!(step["to_do"], true, "{step}");
    assert_eq!(
        step["note"],
        "the image rserve-desk/traefik:0.0.0-absent is not on this workstation's Docker, so it cannot be sent: pull it here first"
    );
    assert_eq!(
        desk.call_when_up("hello", "hello", &["\"y\""]),
        Value::from("Hello, y!"),
        "a refused bootstrap changed what runs"
    );

    // 4. From empty again, killed while rserve-base is being sent; the ssh
    // master it leaves is cleaned up by the next run; a new bootstrap
    // finishes the job.
    vps.reset();
    let runtime = bootstrap_killed_during(&desk, &vps, &base);
    let masters = orphaned_masters(runtime.path());
    assert!(
        !masters.is_empty(),
        "the killed run left no ssh master to clean up"
    );
    next_run_reaps(&desk, runtime.path(), &masters);
    eprintln!("killed mid-way; the next run reaped its ssh masters {masters:?}");
    let (events, took) = bootstrap(&desk, &vps);
    show("bootstrap after the kill", &events, took);
    assert_eq!(
        finals(&events),
        expect(&[
            ("check-host", "skipped"),
            ("install-docker", "skipped"),
            ("network", "skipped"),
            (&traefik_step, "skipped"),
            ("docker-filter", "skipped"),
            ("traefik", "skipped"),
            (&base, "done"),
        ])
    );
    deploy_and_call(&desk, &vps);
}

/// `args` with `--dry-run` and without `--json` (which `Rdesk::json` adds).
fn dry_run(args: &[String]) -> Vec<&str> {
    args.iter()
        .map(String::as_str)
        .filter(|a| *a != "--json")
        .chain(["--dry-run"])
        .collect()
}
