//! Deploying through `rdesk` over SSH to the stand-in VPS, and calling the
//! apps through Traefik over WebSocket as a client would.
// Test helpers: a panic is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use rdesk_e2e::{Rdesk, Standin, app_folder, docker_out, listed_in, objects_of, remove_leftovers};
use serde_json::json;

const CALC: &str = r#"
library(rdeskdemo)

add <- function(a, b) a + b

greet <- function(name) shout(paste("hello", name))

outer_fn <- function() {
  inner_helper <- function() 42
  inner_helper()
}
"#;

/// The deploy test's two links take turns: each expects to build the
/// packages layer its first deploy needs, which the other would share.
static ONE_LINK_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn deploy_call_and_redeploy_reusing_the_packages_layer() {
    let Some(vps) = Standin::from_env("deploy_call_and_redeploy") else {
        return;
    };
    deploy_call_and_redeploy(&vps, "e2e-calc");
}

#[test]
fn deploy_call_and_redeploy_over_the_slow_link() {
    let Some(vps) = Standin::from_env("deploy_call_and_redeploy over the slow link") else {
        return;
    };
    deploy_call_and_redeploy(&vps.over_the_slow_link(), "sl-calc");
}

fn deploy_call_and_redeploy(vps: &Standin, slug: &str) {
    let _turn = ONE_LINK_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let desk = vps.desk();
    let (_dir, app) = app_folder("calc", &[("calc.R", CALC)]);
    remove_leftovers(slug);
    let first = desk.deploy(&app, slug, &["--repo", &vps.repo]);
    assert!(first.contains("building packages layer"), "{first}");
    assert!(
        first.contains("rdeskdemo"),
        "the package is detected from library(): {first}"
    );

    assert_eq!(desk.call(slug, "add", &["2", "3"]), json!(5.0));
    assert_eq!(desk.call(slug, "greet", &["\"bob\""]), json!("HELLO BOB!"));
    assert_eq!(
        desk.call(slug, "greet", &["name=\"ann\""]),
        json!("HELLO ANN!"),
        "`name=JSON` is a named argument"
    );
    assert_eq!(desk.call(slug, "outer_fn", &[]), json!(42.0));

    let longer_slug = format!("{slug}x");
    let longer = desk.fails(&["call", &longer_slug, "add", "1", "2", "--host", "vps"]);
    assert!(
        longer.contains("404"),
        "/{longer_slug} must not reach /{slug}: {longer}"
    );

    for not_exposed in ["inner_helper", "system", "Sys.getenv"] {
        let err = desk.fails(&["call", slug, not_exposed, "--host", "vps"]);
        assert!(
            err.contains(not_exposed) && err.contains("add"),
            "{not_exposed}: {err}"
        );
    }

    std::fs::write(app.join("calc.R"), CALC.replace("a + b", "a + b + 100")).unwrap();
    let second = desk.deploy(&app, slug, &[]);
    assert!(second.contains("reusing packages layer"), "{second}");
    assert!(!second.contains("building packages layer"), "{second}");
    assert_eq!(desk.call_when_up(slug, "add", &["2", "3"]), json!(105.0));

    let unchanged = desk.json(&[
        "deploy",
        app.to_str().unwrap(),
        "--host",
        "vps",
        "--slug",
        slug,
    ]);
    assert_eq!(unchanged["deployed"]["built"], json!(false), "{unchanged}");

    let listed = desk.listed_app("vps", slug).expect("the app is listed");
    assert_eq!(listed["packages"], json!(["rdeskdemo"]));
    assert_eq!(listed["status"], json!("running"));

    desk.ok(&["rm", slug, "--host", "vps"]);
    assert_eq!(objects_of(slug), Vec::<String>::new());
    let packages_layer = first
        .split("building packages layer ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the deploy names its packages layer");
    assert!(
        !docker_out(&["images", "-q", packages_layer])
            .trim()
            .is_empty(),
        "a packages layer built minutes ago stays: another deploy may be about to build on it"
    );
}

#[test]
fn stop_start_and_remove_leave_nothing_behind() {
    let Some(vps) = Standin::from_env("stop_start_and_remove") else {
        return;
    };
    let desk = vps.desk();
    let (_dir, app) = app_folder("life", &[("main.R", "ping <- function() 'pong'\n")]);
    let slug = "e2e-life";
    desk.deploy(&app, slug, &[]);
    assert_eq!(desk.call(slug, "ping", &[]), json!("pong"));

    let stopped = desk.json(&["stop", slug, "--host", "vps"]);
    assert_eq!(
        stopped["containers"][0]["state"],
        json!("exited"),
        "{stopped}"
    );
    desk.fails(&["call", slug, "ping", "--host", "vps"]);

    let started = desk.json(&["start", slug, "--host", "vps"]);
    assert_eq!(
        started["containers"][0]["state"],
        json!("running"),
        "{started}"
    );
    assert_eq!(desk.call_when_up(slug, "ping", &[]), json!("pong"));

    let restarted = desk.json(&["restart", slug, "--host", "vps"]);
    assert_eq!(restarted["containers"][0]["state"], json!("running"));
    assert_eq!(desk.call_when_up(slug, "ping", &[]), json!("pong"));

    let logs = desk.ok(&["logs", slug, "--host", "vps", "--tail", "50"]);
    assert!(
        logs.contains("ping"),
        "start-up lists the exposed functions: {logs}"
    );

    let removed = desk.json(&["rm", slug, "--host", "vps"]);
    assert_eq!(
        removed["removed"]["containers"].as_array().unwrap().len(),
        1,
        "{removed}"
    );
    assert_eq!(objects_of(slug), Vec::<String>::new());
    let apps = desk.json(&["apps", "--host", "vps"]);
    assert!(
        !apps["apps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["slug"] == slug)
    );
    let err = desk.fails(&["status", slug, "--host", "vps"]);
    assert!(err.contains("no app `e2e-life`"), "{err}");

    let history = desk.json(&["history", slug, "--host", "vps"]);
    let actions: Vec<&str> = history["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["remove", "restart", "start", "stop", "build"]);
}

#[test]
fn the_app_list_is_rebuilt_from_labels_when_the_cache_is_lost() {
    let Some(vps) = Standin::from_env("app_list_from_labels") else {
        return;
    };
    let desk = vps.desk();
    let (_dir, app) = app_folder("cache", &[("a.R", "one <- function() 1\n")]);
    let slug = "e2e-cache";
    desk.deploy(&app, slug, &["--mode", "eval"]);

    for file in ["rdesk.sqlite", "rdesk.sqlite-wal", "rdesk.sqlite-shm"] {
        let _ = std::fs::remove_file(desk.data_dir.path().join(file));
    }
    let err = desk.fails(&["apps", "--host", "vps"]);
    assert!(err.contains("no host named `vps`"), "{err}");
    vps.add_to(&desk);
    let apps = desk.json(&["apps", "--host", "vps"]);
    assert_eq!(apps["offline_reason"], json!(null), "read from the host");
    let found = listed_in(&apps, slug).expect("the app comes back from its labels");
    assert_eq!(found["mode"], json!("eval"));
    assert_eq!(found["r_version"], json!(vps.r_version));
    assert_eq!(found["status"], json!("running"));

    assert_eq!(
        desk.call(slug, "one", &[]),
        json!(1.0),
        "eval mode calls by name too"
    );
    desk.ok(&["rm", slug, "--host", "vps"]);
}

#[test]
fn a_local_host_uses_this_machines_docker_without_ssh() {
    let Some(vps) = Standin::from_env("local_host") else {
        return;
    };
    let desk = Rdesk::new();
    let added = desk.json(&[
        "host",
        "add",
        "here",
        "--local",
        "--public-url",
        &vps.public_url,
    ]);
    assert_eq!(added["record"]["kind"], json!("local"), "{added}");
    assert_eq!(added["host_key_fingerprint"], json!(null));
    let (_dir, app) = app_folder("local", &[("main.R", "twice <- function(x) 2 * x\n")]);
    let slug = "e2e-local";
    desk.ok(&[
        "deploy",
        app.to_str().unwrap(),
        "--host",
        "here",
        "--slug",
        slug,
    ]);
    let doubled = desk.json(&["call", slug, "twice", "[1, 2.5]", "--host", "here"]);
    assert_eq!(doubled, json!([2.0, 5.0]));
    desk.ok(&["rm", slug, "--host", "here"]);
    assert_eq!(objects_of(slug), Vec::<String>::new());
}

#[test]
fn archives_and_single_files_deploy_like_folders() {
    let Some(vps) = Standin::from_env("archives_and_single_files") else {
        return;
    };
    let desk = vps.desk();
    let dir = tempfile::tempdir().unwrap();

    let archive = dir.path().join("stats-app.tar.gz");
    {
        let gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&archive).unwrap(),
            flate2::Compression::fast(),
        );
        let mut tar = tar::Builder::new(gz);
        for (path, code) in [
            ("stats-app/R/mean.R", "avg <- function(x) mean(unlist(x))\n"),
            (
                "stats-app/main.R",
                "spread <- function(x) diff(range(unlist(x)))\n",
            ),
            ("stats-app/.Renviron", "TOKEN=stays-on-the-workstation\n"),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(code.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, path, code.as_bytes()).unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap();
    }
    let report = desk.json(&["deploy", archive.to_str().unwrap(), "--host", "vps"]);
    assert_eq!(
        report["slug"],
        json!("stats-app"),
        "slug from the archive's folder"
    );
    assert_eq!(report["files"], json!(["R/mean.R", "main.R"]), "{report}");
    assert_eq!(desk.call("stats-app", "avg", &["[1, 2, 6]"]), json!(3.0));
    assert_eq!(desk.call("stats-app", "spread", &["[1, 2, 6]"]), json!(5.0));

    let single = dir.path().join("Quick Tool.R");
    std::fs::write(&single, "shout_back <- function(s) toupper(s)\n").unwrap();
    let report = desk.json(&["deploy", single.to_str().unwrap(), "--host", "vps"]);
    assert_eq!(report["slug"], json!("quick-tool"));
    assert_eq!(
        desk.call("quick-tool", "shout_back", &["\"hey\""]),
        json!("HEY")
    );

    for slug in ["stats-app", "quick-tool"] {
        desk.ok(&["rm", slug, "--host", "vps"]);
        assert_eq!(objects_of(slug), Vec::<String>::new());
    }
}
