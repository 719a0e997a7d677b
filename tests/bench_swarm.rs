//! The cluster's figures for `cargo xtask bench`:
//!
//! - deploying an app of three replicas to the swarm stand-in (three nodes
//!   on their LAN, each building the image itself, the service rolled out
//!   and routed) ÷ the same deploy to one host (the stand-in), each timed
//!   whole by the bench's own clock, both with new code so each builds its
//!   code layer. The cluster is bootstrapped first (skipped step by step
//!   when it already is);
//! - the workstation's monitor (`rdesk watch`, and its ssh processes) with
//!   [`WATCHED`] apps across the three nodes: its CPU over a minute, by the
//!   kernel's count of its time, as a share of one core. One app is
//!   deployed; the others are its service's spec under other names (no
//!   routes, no health check: 200 checks twice a second would measure this
//!   machine, not the monitor), each a task running R.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bollard::query_parameters::{InspectServiceOptions, ListTasksOptions};

use rdesk_core::app_settings::SettingsRequest;
use rdesk_core::bootstrap::{BootstrapChoices, BootstrapOptions};
use rdesk_core::desk::{DeployRequest, Desk, NewHost};
use rdesk_core::host::{ConnectOptions, Connection, HostTarget};
use rdesk_core::paths;
use rdesk_core::preview::AppFiles;
use rdesk_e2e::vps::{BASE_IMAGE, TRAEFIK_IMAGE, Vps};
use rdesk_e2e::{JsonLines, ssh_processes_under};

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

/// Apps across the cluster while the monitor is measured.
const WATCHED: usize = 200;
/// How long the monitor's CPU is counted.
const COUNTED: Duration = Duration::from_secs(60);

/// Prints the monitor's CPU with [`WATCHED`] apps across the cluster (the
/// cluster bootstrapped by [`deploy_ratio`]), then removes the apps.
pub async fn monitor_cpu(desk: &Desk, data_dir: &std::path::Path) -> BenchResult<()> {
    println!("cluster: the monitor's CPU with {WATCHED} apps across the three nodes");
    let first = format!("bench-watch-{}", std::process::id());
    timed_deploy(desk, "node1", &first, 1).await?;
    let record = desk.host("node1").await?;
    let runtime = paths::private_runtime_dir()?;
    let options = ConnectOptions::new(runtime.path().to_owned());
    let manager = Connection::open(
        "node1",
        HostTarget::from_record(&record)?,
        &options,
        desk.store(),
    )
    .await?;
    let docker = manager.docker();
    let clock = Instant::now();
    let names = spread(&docker, &first).await?;
    println!(
        "  {} apps running after {:.0} s",
        names.len() + 1,
        clock.elapsed().as_secs_f64()
    );
    let measured = watch_for_a_minute(data_dir).await;
    if let Ok((rdesk, ssh)) = &measured {
        let core = COUNTED.as_secs_f64();
        println!(
            "  rdesk watch: {:.2} % of one core, its ssh processes {:.2} % (goal: under 2 % in all)",
            rdesk / core * 100.0,
            ssh / core * 100.0
        );
    }
    for name in &names {
        docker.delete_service(name).await?;
    }
    manager.close().await?;
    // The copies' stopped containers hold the app's image until the swarm
    // has removed them.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let session = desk.session("node1").await?;
        let removed = session.remove(&first).await;
        session.close().await;
        match removed {
            Ok(_) => break,
            Err(e) if Instant::now() > deadline => return Err(e.into()),
            Err(_) => tokio::time::sleep(Duration::from_secs(5)).await,
        }
    }
    measured.map(|_| ())
}

/// Makes [`WATCHED`] - 1 services from app `first`'s spec, one task each,
/// and waits (bounded) until every task runs; their names.
async fn spread(docker: &bollard::Docker, first: &str) -> BenchResult<Vec<String>> {
    let service = docker
        .inspect_service(
            &format!("rserve-desk-{first}"),
            None::<InspectServiceOptions>,
        )
        .await?;
    let spec = service.spec.ok_or("the app's service has no spec")?;
    let mut names = Vec::new();
    for i in 1..WATCHED {
        let slug = format!("{first}-{i}");
        let mut copy = spec.clone();
        let name = format!("rserve-desk-{slug}");
        copy.name = Some(name.clone());
        let unrouted = |labels: &mut std::collections::HashMap<String, String>| {
            labels.retain(|k, _| !k.starts_with("traefik."));
            labels.insert("io.rserve-desk.slug".into(), slug.clone());
        };
        if let Some(labels) = copy.labels.as_mut() {
            unrouted(labels);
        }
        if let Some(container) = copy
            .task_template
            .as_mut()
            .and_then(|t| t.container_spec.as_mut())
        {
            if let Some(labels) = container.labels.as_mut() {
                unrouted(labels);
            }
            container.health_check = Some(bollard::models::HealthConfig {
                test: Some(vec!["NONE".into()]),
                ..Default::default()
            });
        }
        if let Some(mode) = copy.mode.as_mut().and_then(|m| m.replicated.as_mut()) {
            mode.replicas = Some(1);
        }
        docker.create_service(copy, None).await?;
        names.push(name);
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let tasks = docker
            .list_tasks(Some(ListTasksOptions {
                filters: Some(std::collections::HashMap::from([(
                    "desired-state".to_owned(),
                    vec!["running".to_owned()],
                )])),
            }))
            .await?;
        let running = tasks
            .iter()
            .filter(|t| {
                t.status.as_ref().and_then(|s| s.state) == Some(bollard::models::TaskState::RUNNING)
            })
            .count();
        if running >= WATCHED + 2 {
            return Ok(names);
        }
        if Instant::now() > deadline {
            return Err(format!("only {running} tasks ran within 10 min").into());
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// `rdesk watch --host node1` on `data_dir`: once it samples every app,
/// the CPU seconds it and its ssh processes used over [`COUNTED`].
async fn watch_for_a_minute(data_dir: &std::path::Path) -> BenchResult<(f64, f64)> {
    let runtime = tempfile::tempdir_in("/tmp")?;
    let watch = JsonLines::start_on(
        data_dir,
        &["watch", "--host", "node1", "--json"],
        &[("XDG_RUNTIME_DIR", runtime.path())],
    );
    let all = WATCHED as u64;
    watch.wait_for(Duration::from_secs(300), |l| {
        l["monitor"] == "sampled" && l["apps"].as_u64().unwrap_or(0) >= all
    });
    let ssh = || -> Vec<u32> {
        ssh_processes_under(runtime.path())
            .into_iter()
            .map(|(pid, _)| pid)
            .collect()
    };
    let (rdesk_before, ssh_before) = (cpu_seconds(&[watch.pid()])?, cpu_seconds(&ssh())?);
    tokio::time::sleep(COUNTED).await;
    let (rdesk_after, ssh_after) = (cpu_seconds(&[watch.pid()])?, cpu_seconds(&ssh())?);
    Ok((rdesk_after - rdesk_before, ssh_after - ssh_before))
}

/// The CPU seconds (user and system) the processes `pids` used so far.
fn cpu_seconds(pids: &[u32]) -> BenchResult<f64> {
    let ticks: f64 = String::from_utf8(
        Command::new("getconf")
            .arg("CLK_TCK")
            .stderr(Stdio::null())
            .output()?
            .stdout,
    )?
    .trim()
    .parse()?;
    let mut total = 0.0;
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        // The fields after the command's name, which is in parentheses.
        let after = stat.rsplit_once(')').ok_or("an unreadable /proc stat")?.1;
        let fields: Vec<&str> = after.split_whitespace().collect();
        let (user, system): (f64, f64) = (fields[11].parse()?, fields[12].parse()?);
        total += (user + system) / ticks;
    }
    Ok(total)
}
