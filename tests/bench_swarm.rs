//! The cluster's figure for `cargo xtask bench`: deploying an app of three
//! replicas to the swarm stand-in (three nodes on their LAN, each building
//! the image itself, the service rolled out and routed) ÷ the same deploy to
//! one host (the stand-in), each timed whole by the bench's own clock, both
//! with new code so each builds its code layer. The cluster is bootstrapped
//! first (skipped step by step when it already is).

use std::time::{Duration, Instant};

use rdesk_core::app_settings::SettingsRequest;
use rdesk_core::bootstrap::{BootstrapChoices, BootstrapOptions};
use rdesk_core::desk::{DeployRequest, Desk, NewHost};
use rdesk_core::host::HostTarget;
use rdesk_core::preview::AppFiles;
use rdesk_e2e::vps::{BASE_IMAGE, TRAEFIK_IMAGE, Vps};

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Deploys timed on each side.
const ROUNDS: u32 = 2;

/// Adds the swarm stand-in's nodes as `node1`..`node3`, joins them and
/// bootstraps the cluster.
async fn cluster(desk: &Desk, nodes: &[Vps]) -> BenchResult<()> {
    for (i, node) in nodes.iter().enumerate() {
        let target = HostTarget::parse_ssh(&node.ssh)?.with_identity(&node.identity);
        desk.add_host(NewHost {
            name: format!("node{}", i + 1),
            target,
            public_url: Some(node.public_url.clone()),
            secret: None,
            confirmed_fingerprint: None,
        })
        .await?;
    }
    for i in 2..=nodes.len() {
        desk.join_cluster("node1", &format!("node{i}")).await?;
    }
    let options = BootstrapOptions::from(BootstrapChoices {
        domain: None,
        email: None,
        http_port: None,
        https_port: None,
        r_versions: vec![nodes[0].r_version.clone()],
        base_image: Some(BASE_IMAGE.to_owned()),
        traefik_image: Some(TRAEFIK_IMAGE.to_owned()),
    });
    desk.bootstrap("node1", &options, true, &|_| {}).await?;
    Ok(())
}

/// Deploys round `round` of a three-replica public app to `host`, timed.
async fn timed_deploy(desk: &Desk, host: &str, slug: &str, round: u32) -> BenchResult<Duration> {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("app.R"),
        format!("version <- function() {round}\n"),
    )?;
    let request = DeployRequest {
        slug: Some(slug.to_owned()),
        settings: SettingsRequest {
            replicas: Some("3".into()),
            access: Some("public".into()),
            ..Default::default()
        },
        ..DeployRequest::default()
    };
    let files = AppFiles::read(vec![dir.path().to_path_buf()]).await?;
    let session = desk.session(host).await?;
    let started = Instant::now();
    let deployed = session.deploy(&request, &files, &|_| {}).await;
    let took = started.elapsed();
    session.close().await;
    deployed?;
    Ok(took)
}

/// Prints the cluster's deploy time ÷ one host's, per round and in all.
pub async fn deploy_ratio(desk: &Desk) -> BenchResult<()> {
    let Some(nodes) = Vps::swarm_from_env("bench") else {
        return Err("the swarm stand-in is missing: run it through `cargo xtask bench`".into());
    };
    println!("cluster: a three-replica deploy to the swarm stand-in vs to one host");
    let clock = Instant::now();
    cluster(desk, &nodes).await?;
    println!(
        "  bootstrapped the three-node cluster in {:.1} s",
        clock.elapsed().as_secs_f64()
    );
    let slug = format!("bench-swarm-{}", std::process::id());
    let (mut swarm, mut single) = (Duration::ZERO, Duration::ZERO);
    for round in 1..=ROUNDS {
        let on_swarm = timed_deploy(desk, "node1", &slug, round).await?;
        let on_one = timed_deploy(desk, "vps", &slug, round).await?;
        println!(
            "  round {round}: cluster {:.2} s, one host {:.2} s, ratio {:.2}",
            on_swarm.as_secs_f64(),
            on_one.as_secs_f64(),
            on_swarm.as_secs_f64() / on_one.as_secs_f64()
        );
        swarm += on_swarm;
        single += on_one;
    }
    println!(
        "  three replicas: cluster ÷ one host = {:.2} ({:.2} s vs {:.2} s over {ROUNDS} rounds)",
        swarm.as_secs_f64() / single.as_secs_f64(),
        swarm.as_secs_f64(),
        single.as_secs_f64()
    );
    for host in ["node1", "vps"] {
        let session = desk.session(host).await?;
        session.remove(&slug).await?;
        session.close().await;
    }
    Ok(())
}
