//! `rdesk host bootstrap --dry-run` over SSH to the stand-in: it reads the
//! host as it is and changes nothing. (The full bootstrap from an empty host
//! is `bootstrap_vps.rs`, against the bare VPS stand-in.)
// Test helpers: a panic is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use rdesk_e2e::{DockerKind, Standin, docker_objects};
use serde_json::json;

fn everything_ours() -> Vec<String> {
    let ours = "io.rserve-desk.owner=rserve-desk";
    let mut all = docker_objects(DockerKind::Containers, ours);
    all.extend(docker_objects(DockerKind::Images, ours));
    all.sort();
    all
}

#[test]
fn a_dry_run_reads_the_host_and_changes_nothing() {
    let Some(vps) = Standin::from_env("bootstrap_dry_run") else {
        return;
    };
    let desk = vps.desk();
    let before = everything_ours();
    let plan = desk.json(&[
        "host",
        "bootstrap",
        "vps",
        "--dry-run",
        "--r-version",
        &vps.r_version,
    ]);
    assert_eq!(plan["facts"]["os"]["distro"], json!("debian"), "{plan}");
    let step = |name: &str| {
        plan["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no step {name} in {plan}"))
    };
    assert_eq!(
        step("install-docker")["to_do"],
        json!(false),
        "Docker is there"
    );
    assert_eq!(
        step("network")["to_do"],
        json!(false),
        "the network is there"
    );
    step(&format!("rserve-base:{}", vps.r_version));
    assert_eq!(everything_ours(), before, "a dry run changed the host");

    for (args, expected) in [
        (
            &["--domain", "bad domain", "--email", "a@b.org"][..],
            "not a valid domain",
        ),
        (&["--r-version", "4.2; rm"][..], "is not an R version"),
        (&["--domain", "r.example.org"][..], "--email"),
    ] {
        let mut all = vec!["host", "bootstrap", "vps", "--dry-run"];
        all.extend_from_slice(args);
        let err = desk.fails(&all);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

#[test]
fn every_bootstrap_run_is_recorded_even_a_refused_one() {
    let Some(vps) = Standin::from_env("bootstrap_recorded") else {
        return;
    };
    let desk = vps.desk();
    let before = everything_ours();
    let err = desk.fails(&[
        "host",
        "bootstrap",
        "vps",
        "--domain",
        "bad domain",
        "--email",
        "a@b.org",
    ]);
    assert!(err.contains("not a valid domain"), "{err}");
    assert_eq!(
        everything_ours(),
        before,
        "a refused bootstrap changed the host"
    );

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let runs = runtime.block_on(async {
        let store =
            rdesk_core::store::Store::open(rdesk_core::paths::database(desk.data_dir.path()))
                .await
                .unwrap();
        let runs = store.bootstraps("vps", 10).await.unwrap();
        store.close().await;
        runs
    });
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].outcome, rdesk_core::store::Outcome::Failed);
    assert!(
        runs[0]
            .message
            .as_deref()
            .unwrap_or("")
            .contains("not a valid domain")
    );
}
