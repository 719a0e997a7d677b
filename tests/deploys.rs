//! Deploys that never drop a request, against the stand-in: a client calls the
//! app through Traefik the whole time while it is redeployed (code only, with
//! a syntax error, an uninstallable package, a failing `health()`), rolled
//! back, scaled to replicas; every call must succeed, and broken versions must
//! leave the old one serving with a clear error. Also: the hardening and
//! limits Docker reports, the memory limit enforced with a restart, plain
//! variables reaching R, and an app's own domain.
// Test helpers: a panic is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rdesk_e2e::{
    DockerKind, JsonLines, Rdesk, Seen, Standin, Traffic, app_folder, docker_inspect,
    docker_objects, remove_leftovers,
};
use serde_json::Value;

fn code(version: u32) -> String {
    format!(
        "version <- function() {version}L\ngreeting <- function() Sys.getenv(\"GREETING\", \"unset\")\n"
    )
}

fn ws_url(vps: &Standin, slug: &str) -> String {
    format!("{}/{slug}", vps.public_url.replace("http://", "ws://"))
}

/// The app's containers on the stand-in.
fn containers(slug: &str) -> Vec<String> {
    docker_objects(
        DockerKind::Containers,
        &format!("io.rserve-desk.slug={slug}"),
    )
}

/// Runs `op` while a client calls the app's `version()` through Traefik; returns what the client saw.
fn under_traffic(vps: &Standin, slug: &str, op: impl FnOnce()) -> Seen {
    let traffic = Traffic::start(&ws_url(vps, slug), "version");
    std::thread::sleep(Duration::from_millis(500));
    op();
    std::thread::sleep(Duration::from_millis(500));
    traffic.stop()
}

fn assert_no_failures(seen: &Seen, what: &str) {
    assert!(seen.calls > 5, "{what}: only {} calls", seen.calls);
    assert!(
        seen.failures.is_empty(),
        "{what}: {} of {} calls failed: {:?}",
        seen.failures.len(),
        seen.calls,
        seen.failures
    );
}

/// A fresh desk with the app `slug` deployed from `files`; the folder lives as long as the `TempDir`.
/// The app is public: [`Traffic`]'s plain QAP client calls it during switches
/// (who may call an app is `tests/access.rs`'s subject).
fn start(
    vps: &Standin,
    slug: &str,
    files: &[(&str, &str)],
    extra: &[&str],
) -> (Rdesk, tempfile::TempDir, std::path::PathBuf) {
    remove_leftovers(slug);
    let desk = vps.desk();
    let (dir, app) = app_folder(slug, files);
    let mut args = vec!["--access", "public"];
    args.extend_from_slice(extra);
    desk.deploy(&app, slug, &args);
    (desk, dir, app)
}

fn write(app: &Path, contents: &str) {
    std::fs::write(app.join("app.R"), contents).unwrap();
}

#[test]
fn a_code_only_redeploy_drops_no_call_and_the_container_is_hardened() {
    let Some(vps) = Standin::from_env("deploys_switch") else {
        return;
    };
    let slug = "dep-switch";
    let (desk, _dir, app) = start(
        &vps,
        slug,
        &[("app.R", &code(1))],
        &[
            "--memory",
            "256m",
            "--cpus",
            "0.5",
            "--env",
            "GREETING=hello",
        ],
    );
    let watcher = JsonLines::start(&desk, &["watch", "--host", "vps", "--json"], &[]);
    std::thread::sleep(Duration::from_secs(2));
    write(&app, &code(2));
    let seen = under_traffic(&vps, slug, || {
        desk.deploy(&app, slug, &[]);
    });
    assert_no_failures(&seen, "code-only redeploy");
    std::thread::sleep(Duration::from_secs(1));
    let statuses: Vec<String> = watcher
        .so_far()
        .iter()
        .filter(|e| e["app"]["slug"] == slug)
        .map(|e| e["status"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        statuses.iter().any(|s| s == "running"),
        "the watcher saw the new container: {statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| s == "running" || s == "starting"),
        "retiring the old container is not the app failing: {statuses:?}"
    );
    assert!(seen.first("1").is_some(), "the old version served first");
    assert_eq!(seen.last(), Some("2"), "the new version serves at the end");

    let names = containers(slug);
    assert_eq!(names.len(), 1, "the old container is gone: {names:?}");
    let c = docker_inspect(&names[0]);
    let host = &c["HostConfig"];
    assert_eq!(
        host["Memory"],
        256 * 1024 * 1024,
        "settings kept across the redeploy"
    );
    assert_eq!(host["NanoCpus"], 500_000_000);
    assert_eq!(host["RestartPolicy"]["Name"], "unless-stopped");
    assert_eq!(host["ReadonlyRootfs"], true);
    assert_eq!(host["CapDrop"], serde_json::json!(["ALL"]));
    assert_eq!(
        host["SecurityOpt"],
        serde_json::json!(["no-new-privileges:true"])
    );
    assert_eq!(host["LogConfig"]["Config"]["max-size"], "10m");
    assert!(host["Tmpfs"]["/tmp"].as_str().unwrap().contains("rw"));
    assert_eq!(c["Config"]["User"], "10001:10001");
    assert_eq!(
        desk.call(slug, "greeting", &[]),
        "hello",
        "the variable reached R"
    );
    desk.ok(&["rm", slug, "--host", "vps"]);
}

#[test]
fn broken_redeploys_leave_the_old_version_serving_and_say_why() {
    let Some(vps) = Standin::from_env("deploys_broken") else {
        return;
    };
    let slug = "dep-broken";
    let (desk, _dir, app) = start(&vps, slug, &[("app.R", &code(1))], &[]);
    let before = containers(slug);
    let app_str = app.to_str().unwrap();
    let deploy_fails = |extra: &[&str]| {
        let mut args = vec!["deploy", app_str, "--host", "vps", "--slug", slug];
        args.extend_from_slice(extra);
        desk.fails(&args)
    };
    let cases: [(&str, String, Vec<&str>, &[&str]); 3] = [
        (
            "a syntax error",
            "version <- function( 2\n".to_owned(),
            vec![],
            &[
                "app.R (under /app) could not be loaded",
                "unexpected",
                "last lines of the log",
            ],
        ),
        (
            "an uninstallable package",
            format!("library(nosuchpkg)\n{}", code(2)),
            vec!["--repo", vps.repo.as_str()],
            &["building the packages layer failed", "nosuchpkg"],
        ),
        (
            "a failing health()",
            format!("{}health <- function() FALSE\n", code(2)),
            vec![],
            &["did not become healthy", "health() returned FALSE"],
        ),
    ];
    for (what, contents, extra, says) in cases {
        write(&app, &contents);
        let mut error = String::new();
        let seen = under_traffic(&vps, slug, || error = deploy_fails(&extra));
        assert_no_failures(&seen, what);
        assert!(
            seen.answers.iter().all(|(_, a)| a == "1"),
            "{what}: only the old version answered"
        );
        for said in says {
            assert!(error.contains(said), "{what}: `{said}` not in:\n{error}");
        }
        assert_eq!(
            containers(slug),
            before,
            "{what}: nothing new is left running"
        );
    }
    let images = docker_objects(DockerKind::Images, &format!("io.rserve-desk.slug={slug}"));
    assert_eq!(
        images.len(),
        1,
        "failed versions' images are removed: {images:?}"
    );
    desk.ok(&["rm", slug, "--host", "vps"]);
}

#[test]
fn a_rollback_switches_back_without_building_or_dropping_a_call() {
    let Some(vps) = Standin::from_env("deploys_rollback") else {
        return;
    };
    let slug = "dep-rollback";
    let (desk, _dir, app) = start(&vps, slug, &[("app.R", &code(1))], &[]);
    write(&app, &code(2));
    desk.deploy(&app, slug, &[]);
    let versions = desk.json(&["versions", slug, "--host", "vps"]);
    let versions = versions.as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["current"], true, "the newest runs");

    let mut report = Value::Null;
    let seen = under_traffic(&vps, slug, || {
        report = desk.json(&["rollback", slug, "--host", "vps"]);
    });
    assert_no_failures(&seen, "rollback");
    assert_eq!(seen.last(), Some("1"));
    assert_eq!(report["deployed"]["built"], false);
    assert_eq!(report["switched"]["retired"].as_array().unwrap().len(), 1);

    let forward = versions[0]["code_hash"].as_str().unwrap()[..10].to_owned();
    let seen = under_traffic(&vps, slug, || {
        desk.ok(&["rollback", slug, &forward, "--host", "vps"]);
    });
    assert_no_failures(&seen, "roll forward by code hash");
    assert_eq!(seen.last(), Some("2"));

    let error = desk.fails(&["rollback", slug, "nosuchversion", "--host", "vps"]);
    assert!(
        error.contains("`nosuchversion` is not a kept version of `dep-rollback`"),
        "{error}"
    );
    assert_eq!(
        desk.call(slug, "version", &[]),
        2,
        "a refused rollback changes nothing"
    );
    desk.ok(&["rm", slug, "--host", "vps"]);
}

/// Counts the app's containers (not a build's) every 100 ms while `op` runs;
/// returns the most seen at once.
fn most_containers_during(slug: &str, op: impl FnOnce()) -> usize {
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let counter = {
        let (done, slug) = (done.clone(), slug.to_owned());
        std::thread::spawn(move || {
            let mut most = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let ours = format!("rserve-desk-{slug}-");
                let now = containers(&slug)
                    .iter()
                    .filter(|name| name.starts_with(&ours))
                    .count();
                most = most.max(now);
                std::thread::sleep(Duration::from_millis(100));
            }
            most
        })
    };
    op();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    counter.join().unwrap()
}

#[test]
fn replicas_serve_together_and_are_replaced_one_at_a_time_without_a_failed_call() {
    let Some(vps) = Standin::from_env("deploys_replicas") else {
        return;
    };
    let slug = "dep-replicas";
    let (desk, _dir, app) = start(&vps, slug, &[("app.R", &code(1))], &["--replicas", "3"]);
    let image_of = |name: &String| docker_inspect(name)["Image"].as_str().unwrap().to_owned();
    let before: Vec<String> = containers(slug).iter().map(image_of).collect();
    assert_eq!(before.len(), 3);
    write(&app, &code(2));
    let mut most = 0;
    let seen = under_traffic(&vps, slug, || {
        most = most_containers_during(slug, || {
            desk.deploy(&app, slug, &[]);
        });
    });
    assert_no_failures(&seen, "replicated redeploy");
    assert_eq!(seen.last(), Some("2"));
    assert_eq!(
        most, 4,
        "one new replica beside the three old ones at most, and at least once"
    );
    let after: Vec<String> = containers(slug).iter().map(image_of).collect();
    assert_eq!(after.len(), 3, "{after:?}");
    assert!(
        after.iter().all(|image| image == &after[0]),
        "every replica runs the new version: {after:?}"
    );
    assert!(!before.contains(&after[0]));
    desk.ok(&["rm", slug, "--host", "vps"]);
}

#[test]
fn settings_change_without_a_build_and_without_a_failed_call() {
    let Some(vps) = Standin::from_env("deploys_set") else {
        return;
    };
    let slug = "dep-set";
    let (desk, _dir, _app) = start(&vps, slug, &[("app.R", &code(1))], &[]);
    let first = containers(slug).remove(0);
    let image = docker_inspect(&first)["Image"].as_str().unwrap().to_owned();

    let error = desk.fails(&["set", slug, "--host", "vps", "--memory", "lots"]);
    assert!(error.contains("`lots`"), "{error}");
    assert_eq!(
        containers(slug),
        std::slice::from_ref(&first),
        "a refused change changes nothing"
    );

    let seen = under_traffic(&vps, slug, || {
        desk.ok(&[
            "set",
            slug,
            "--host",
            "vps",
            "--memory",
            "256m",
            "--env",
            "GREETING=set",
        ]);
    });
    assert_no_failures(&seen, "settings change");
    let now = containers(slug);
    assert_eq!(now.len(), 1, "{now:?}");
    assert_ne!(now[0], first, "a new container with the new settings");
    let inspected = docker_inspect(&now[0]);
    assert_eq!(
        inspected["Image"],
        image.as_str(),
        "the same image, not rebuilt"
    );
    assert_eq!(inspected["HostConfig"]["Memory"], 256 * 1024 * 1024);
    assert_eq!(desk.call(slug, "greeting", &[]), "set");
    let history = desk.json(&["history", slug, "--host", "vps"]);
    assert!(
        history.to_string().contains("\"settings\""),
        "the change is in the deployment history: {history}"
    );
    desk.ok(&["rm", slug, "--host", "vps"]);
}

/// Sends a WebSocket upgrade for `/` with a `Host` header; returns the status line.
fn upgrade_status(public_url: &str, host: &str) -> String {
    let addr = public_url.trim_start_matches("http://");
    let mut socket = std::net::TcpStream::connect(addr).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        socket,
        "GET / HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: QAP1\r\n\r\n"
    )
    .unwrap();
    let mut head = [0u8; 64];
    let n = socket.read(&mut head).unwrap();
    String::from_utf8_lossy(&head[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn an_app_with_its_own_domain_answers_at_that_host() {
    let Some(vps) = Standin::from_env("deploys_domain") else {
        return;
    };
    let slug = "dep-domain";
    let (desk, _dir, app) = start(
        &vps,
        slug,
        &[("app.R", &code(1))],
        &["--domain", "dep-domain.example.test"],
    );
    let status = upgrade_status(&vps.public_url, "dep-domain.example.test");
    assert!(status.contains("101"), "{status}");
    assert!(upgrade_status(&vps.public_url, "other.example.test").contains("404"));
    assert_eq!(desk.call(slug, "version", &[]), 1, "the path still works");

    let error = desk.fails(&[
        "deploy",
        app.to_str().unwrap(),
        "--host",
        "vps",
        "--slug",
        slug,
        "--domain",
        "x`) || Path(`/",
    ]);
    assert!(
        error.contains("the domain `x`) || Path(`/` is not valid"),
        "{error}"
    );
    desk.deploy(&app, slug, &["--domain", ""]);
    assert!(upgrade_status(&vps.public_url, "dep-domain.example.test").contains("404"));
    desk.ok(&["rm", slug, "--host", "vps"]);
}

#[test]
fn a_container_over_its_memory_limit_is_killed_and_restarted() {
    let Some(vps) = Standin::from_env("deploys_oom") else {
        return;
    };
    let slug = "dep-oom";
    let (desk, _dir, _app) = start(&vps, slug, &[("app.R", &code(1))], &["--memory", "128m"]);
    let name = containers(slug).remove(0);
    // Rserve serves each connection in a forked child, which the kernel would
    // pick; making the server itself the OOM killer's first choice and then
    // filling the container's memory shows what the limit and the policy do.
    let out = Command::new("docker")
        .args(["exec", &name, "bash", "-c"])
        .arg("echo 1000 > /proc/1/oom_score_adj && Rscript -e 'x <- numeric(5e7); cat(length(x))'")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the memory hog was stopped");
    let mut state = Value::Null;
    for _ in 0..100 {
        state = docker_inspect(&name);
        if state["RestartCount"].as_i64() >= Some(1) && state["State"]["Running"] == true {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(state["State"]["OOMKilled"], true, "{}", state["State"]);
    assert!(
        state["RestartCount"].as_i64() >= Some(1),
        "restarted by policy"
    );
    assert_eq!(
        desk.call_when_up(slug, "version", &[]),
        1,
        "and serving again"
    );
    desk.ok(&["rm", slug, "--host", "vps"]);
}

/// Every byte under `dir` (the SQLite database, its WAL and whatever else).
fn bytes_under(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            all.extend(bytes_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            all.extend(bytes);
        }
    }
    all
}

#[test]
fn a_secret_reaches_r_and_nothing_else_keeps_it() {
    let Some(vps) = Standin::from_env("deploys_secret") else {
        return;
    };
    let slug = "dep-secret";
    remove_leftovers(slug);
    let session = rdesk_e2e::KeyringSession::start();
    let desk = vps.desk();
    let secret = format!("s3cr3t-{}", std::process::id());
    let stored = session.rdesk(
        &desk,
        &["secret", "set", slug, "TOKEN", "--host", "vps"],
        &format!("{secret}\n"),
    );
    assert!(
        stored.status.success(),
        "{}",
        String::from_utf8_lossy(&stored.stderr)
    );
    let (_dir, app) = app_folder(
        slug,
        &[("app.R", "token <- function() Sys.getenv(\"TOKEN\")\n")],
    );
    let app_str = app.to_str().unwrap();
    let deploy = [
        "deploy", app_str, "--host", "vps", "--slug", slug, "--secret", "TOKEN", "--json",
    ];
    let deployed = session.rdesk(&desk, &deploy, "");
    assert!(
        deployed.status.success(),
        "{}",
        String::from_utf8_lossy(&deployed.stderr)
    );
    assert_eq!(
        desk.call(slug, "token", &[]),
        secret.as_str(),
        "the secret reached R"
    );

    let missing = session.rdesk(
        &desk,
        &[
            "deploy", app_str, "--host", "vps", "--slug", slug, "--secret", "NOPE",
        ],
        "",
    );
    let error = String::from_utf8_lossy(&missing.stderr);
    assert!(
        error.contains(
            "the secret `NOPE` of app `dep-secret` on `vps` is not in this workstation's keyring"
        ),
        "{error}"
    );
    assert_eq!(
        desk.call(slug, "token", &[]),
        secret.as_str(),
        "a refused deploy changes nothing"
    );
    // A new value restarts the app, though its code and settings are the same.
    let renewed = format!("{secret}-renewed");
    let stored = session.rdesk(
        &desk,
        &["secret", "set", slug, "TOKEN", "--host", "vps"],
        &format!("{renewed}\n"),
    );
    assert!(stored.status.success());
    let redeployed = session.rdesk(&desk, &deploy, "");
    assert!(
        redeployed.status.success(),
        "{}",
        String::from_utf8_lossy(&redeployed.stderr)
    );
    assert_eq!(desk.call(slug, "token", &[]), renewed.as_str());

    let name = containers(slug).remove(0);
    let container = docker_inspect(&name);
    let image = container["Image"].as_str().unwrap().to_owned();
    let history = Command::new("docker")
        .args(["history", "--no-trunc", &image])
        .output()
        .unwrap();
    let logs = Command::new("docker")
        .args(["logs", &name])
        .output()
        .unwrap();
    let mut places: Vec<(&str, Vec<u8>)> = vec![
        (
            "container labels",
            container["Config"]["Labels"].to_string().into_bytes(),
        ),
        (
            "image labels",
            docker_inspect(&image)["Config"]["Labels"]
                .to_string()
                .into_bytes(),
        ),
        ("image history", history.stdout),
        ("container logs", [logs.stdout, logs.stderr].concat()),
        (
            "SQLite and the data directory",
            bytes_under(desk.data_dir.path()),
        ),
        (
            "rdesk's output",
            [
                deployed.stdout,
                deployed.stderr,
                redeployed.stdout,
                redeployed.stderr,
                missing.stdout,
                missing.stderr.clone(),
            ]
            .concat(),
        ),
    ];
    places.push((
        "history",
        desk.ok(&["history", slug, "--host", "vps", "--json"])
            .into_bytes(),
    ));
    for (place, bytes) in &places {
        assert!(
            !String::from_utf8_lossy(bytes).contains(&secret),
            "the secret is in the {place}"
        );
    }
    // Docker's own record of the environment holds it: that is where a
    // container's environment lives (anyone who can `docker inspect` sees it).
    assert!(container["Config"]["Env"].to_string().contains(&secret));
    let removed = session.rdesk(&desk, &["rm", slug, "--host", "vps"], "");
    assert!(
        removed.status.success(),
        "{}",
        String::from_utf8_lossy(&removed.stderr)
    );
    let again = session.rdesk(&desk, &deploy, "");
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("is not in this workstation's keyring"),
        "removing the app removed its secret from the keyring"
    );
    let gone = session.rdesk(&desk, &["secret", "rm", slug, "TOKEN", "--host", "vps"], "");
    assert!(gone.status.success(), "removing a missing secret is fine");
}

#[test]
fn bad_settings_and_unknown_versions_are_refused_before_anything_changes() {
    let Some(vps) = Standin::from_env("deploys_bad_settings") else {
        return;
    };
    let slug = "dep-badset";
    let (desk, _dir, app) = start(&vps, slug, &[("app.R", &code(1))], &[]);
    write(&app, &code(2));
    let app_str = app.to_str().unwrap();
    let before = containers(slug);
    for (flag, value, says) in [
        ("--memory", "12k", "the memory limit `12k` is not valid"),
        ("--cpus", "100", "the CPU limit `100` is not valid"),
        ("--replicas", "0", "the replica count `0` is not valid"),
        (
            "--env",
            "PATH=/x",
            "the environment variable name `PATH` is not valid",
        ),
        (
            "--env",
            "NOVALUE",
            "the environment variable name `NOVALUE` is not valid",
        ),
        (
            "--secret",
            "A-B",
            "the environment variable name `A-B` is not valid",
        ),
        (
            "--domain",
            "a b.example",
            "the domain `a b.example` is not valid",
        ),
    ] {
        let error = desk.fails(&[
            "deploy", app_str, "--host", "vps", "--slug", slug, flag, value,
        ]);
        assert!(error.contains(says), "{flag} {value}: {error}");
        assert_eq!(containers(slug), before, "{flag} {value}: nothing changed");
    }
    assert_eq!(desk.call(slug, "version", &[]), 1);
    let error = desk.fails(&["rollback", "dep-nosuchapp", "--host", "vps"]);
    assert!(error.contains("there is no app `dep-nosuchapp`"), "{error}");
    let error = desk.fails(&["rollback", slug, "--host", "vps"]);
    assert!(
        error.contains("`(an earlier version)` is not a kept version of `dep-badset`"),
        "only one version kept: {error}"
    );
    let error = desk.fails(&["secret", "set", slug, "lower-case", "--host", "vps"]);
    assert!(
        error.contains("the environment variable name `lower-case` is not valid"),
        "{error}"
    );
    desk.ok(&["rm", slug, "--host", "vps"]);
}
