//! The cluster's figures for `cargo xtask bench`, on loopback and over the
//! slow links (a relay in front of each sshd: the stand-in's and each
//! node's, a delay each way and a bandwidth cap) in the same run:
//!
//! - deploying an app of three replicas to the swarm stand-in (three nodes
//!   on their LAN, each building the image itself, the service rolled out
//!   and routed) ÷ the same deploy to one host (the stand-in), each timed
//!   whole by the bench's own clock, both with new code so each builds its
//!   code layer; on each link, and each link's time ÷ loopback's. The
//!   workstation knows the hosts twice, as the link it reaches them by:
//!   `vps` and `node1`..`node3` on loopback, the same machines as
//!   `vps-slow` and `node1-slow`..`node3-slow` through the relays, each
//!   link's cluster joined and bootstrapped (skipped step by step when it
//!   already is: the second finds the swarm made);
//! - the workstation's monitor (`rdesk watch`, and its ssh processes) with
//!   [`WATCHED`] apps across the three nodes, watched on each link: its CPU
//!   over a minute, by the kernel's count of its time, as a share of one
//!   core. One app is deployed; the others are its service's spec under
//!   other names (no routes, no health check: 200 checks twice a second
//!   would measure this machine, not the monitor), each a task running R.

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
use rdesk_e2e::{JsonLines, SlowLink, Standin, ssh_processes_under};

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Deploys timed on each side of each link.
const ROUNDS: u32 = 2;

/// One way the workstation reaches the hosts, and the names it knows them by.
struct Link {
    /// As the figures name it.
    label: &'static str,
    /// Added to each host's name: `vps`, `node1`... on loopback.
    suffix: &'static str,
    /// The one host (the stand-in) over this link.
    one_host: Standin,
    /// The swarm stand-in's nodes over this link, the manager first.
    nodes: Vec<Vps>,
}

impl Link {
    /// Loopback, then the slow links, from the stand-in's environment.
    fn both() -> BenchResult<[Link; 2]> {
        let missing = "the stand-ins are missing: run it through `cargo xtask bench`";
        let one_host = Standin::from_env("bench").ok_or(missing)?;
        let nodes = Vps::swarm_from_env("bench").ok_or(missing)?;
        let slow_nodes = Vps::swarm_over_the_slow_links("bench").ok_or(missing)?;
        Ok([
            Link {
                label: "loopback",
                suffix: "",
                one_host: one_host.clone(),
                nodes,
            },
            Link {
                label: "slow link",
                suffix: "-slow",
                one_host: one_host.over_the_slow_link(),
                nodes: slow_nodes,
            },
        ])
    }

    /// This link's name for host `name`.
    fn host(&self, name: &str) -> String {
        format!("{name}{}", self.suffix)
    }

    fn manager(&self) -> String {
        self.host("node1")
    }

    fn one_host(&self) -> String {
        self.host("vps")
    }

    /// The app the deploys of this link roll out, on the cluster and on one host.
    fn slug(&self) -> String {
        format!("bench-swarm{}-{}", self.suffix, std::process::id())
    }
}

/// Adds host `name` to `desk`: `ssh` with `identity`, answering at `public_url`.
async fn add_host(
    desk: &Desk,
    name: String,
    ssh: &str,
    identity: &str,
    public_url: &str,
) -> BenchResult<()> {
    desk.add_host(NewHost {
        name,
        target: HostTarget::parse_ssh(ssh)?.with_identity(identity),
        public_url: Some(public_url.to_owned()),
        secret: None,
        confirmed_fingerprint: None,
    })
    .await?;
    Ok(())
}

/// Adds `link`'s nodes as `node1`..`node3` (with its suffix), joins them and
/// bootstraps the cluster; and the stand-in as its one host, unless that is
/// `vps` (the bench's own). Whether the bootstrap changed anything.
async fn cluster(desk: &Desk, link: &Link) -> BenchResult<bool> {
    if !link.suffix.is_empty() {
        let one = &link.one_host;
        add_host(
            desk,
            link.one_host(),
            &one.ssh,
            &one.identity,
            &one.public_url,
        )
        .await?;
    }
    for (i, node) in link.nodes.iter().enumerate() {
        let name = link.host(&format!("node{}", i + 1));
        add_host(desk, name, &node.ssh, &node.identity, &node.public_url).await?;
    }
    for i in 2..=link.nodes.len() {
        desk.join_cluster(&link.manager(), &link.host(&format!("node{i}")))
            .await?;
    }
    let options = BootstrapOptions::from(BootstrapChoices {
        domain: None,
        email: None,
        http_port: None,
        https_port: None,
        r_versions: vec![link.nodes[0].r_version.clone()],
        base_image: Some(BASE_IMAGE.to_owned()),
        traefik_image: Some(TRAEFIK_IMAGE.to_owned()),
    });
    let report = desk
        .bootstrap(&link.manager(), &options, true, &|_| {})
        .await?;
    Ok(report.changed())
}

/// Deploys round `round` of a three-replica public app to `host`, timed.
async fn timed_deploy(desk: &Desk, host: &str, slug: &str, round: u32) -> BenchResult<Duration> {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("app.R"),
        // The slug too: each link's app builds its own code layer, never
        // the other's from the nodes' build cache.
        format!("version <- function() {round}\nslug <- \"{slug}\"\n"),
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

/// Seconds, as the figures print them.
fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

/// Prints, on each link, the cluster's deploy time ÷ one host's, per round
/// and in all; then each link's times ÷ loopback's.
pub async fn deploy_ratio(desk: &Desk) -> BenchResult<()> {
    let links = Link::both()?;
    let slow = SlowLink::from_env();
    println!(
        "cluster: a three-replica deploy to the swarm stand-in vs to one host, on loopback and over the slow links ({} ms each way, {:.0} Mbit/s)",
        slow.one_way.as_millis(),
        slow.cap_bytes_per_sec as f64 * 8.0 / 1e6
    );
    for link in &links {
        let clock = Instant::now();
        let changed = cluster(desk, link).await?;
        println!(
            "  {}: bootstrapped the three-node cluster in {:.1} s ({})",
            link.label,
            clock.elapsed().as_secs_f64(),
            if changed {
                "it changed the nodes"
            } else {
                "every step found done"
            }
        );
    }
    // Per link: (cluster, one host), added up over the rounds.
    let mut totals = [(Duration::ZERO, Duration::ZERO); 2];
    for round in 1..=ROUNDS {
        for (link, total) in links.iter().zip(&mut totals) {
            let on_swarm = timed_deploy(desk, &link.manager(), &link.slug(), round).await?;
            let on_one = timed_deploy(desk, &link.one_host(), &link.slug(), round).await?;
            println!(
                "  round {round}, {}: cluster {}, one host {}, ratio {:.2}",
                link.label,
                secs(on_swarm),
                secs(on_one),
                ratio(on_swarm, on_one)
            );
            total.0 += on_swarm;
            total.1 += on_one;
        }
    }
    for (link, (swarm, single)) in links.iter().zip(totals) {
        println!(
            "  three replicas, {}: cluster ÷ one host = {:.2} ({} vs {} over {ROUNDS} rounds)",
            link.label,
            ratio(swarm, single),
            secs(swarm),
            secs(single)
        );
    }
    let [(fast_swarm, fast_single), (slow_swarm, slow_single)] = totals;
    println!(
        "  slow link ÷ loopback: cluster {:.2}, one host {:.2}",
        ratio(slow_swarm, fast_swarm),
        ratio(slow_single, fast_single)
    );
    for link in &links {
        for host in [link.manager(), link.one_host()] {
            let session = desk.session(&host).await?;
            session.remove(&link.slug()).await?;
            session.close().await;
        }
    }
    Ok(())
}

/// Apps across the cluster while the monitor is measured.
const WATCHED: usize = 200;
/// How long the monitor's CPU is counted.
const COUNTED: Duration = Duration::from_secs(60);

/// Prints the monitor's CPU with [`WATCHED`] apps across the cluster (the
/// cluster bootstrapped by [`deploy_ratio`]), watched on each link, then
/// removes the apps, also when the spreading or a measurement failed.
pub async fn monitor_cpu(desk: &Desk, data_dir: &std::path::Path) -> BenchResult<()> {
    println!(
        "cluster: the monitor's CPU with {WATCHED} apps across the three nodes, on loopback and over the slow links"
    );
    let links = Link::both()?;
    let manager_name = links[0].manager();
    let first = format!("bench-watch-{}", std::process::id());
    timed_deploy(desk, &manager_name, &first, 1).await?;
    let record = desk.host(&manager_name).await?;
    let runtime = paths::private_runtime_dir()?;
    let options = ConnectOptions::new(runtime.path().to_owned());
    let manager = Connection::open(
        &manager_name,
        HostTarget::from_record(&record)?,
        &options,
        desk.store(),
    )
    .await?;
    let docker = manager.docker();
    let clock = Instant::now();
    let mut copies = Vec::new();
    let measured = match spread(&docker, &first, &mut copies).await {
        Ok(()) => {
            println!(
                "  {} apps running after {:.0} s",
                copies.len() + 1,
                clock.elapsed().as_secs_f64()
            );
            measure_on_each(&links, data_dir).await
        }
        Err(e) => Err(e),
    };
    for name in &copies {
        docker.delete_service(name).await?;
    }
    manager.close().await?;
    // The copies' stopped containers hold the app's image until the swarm
    // has removed them.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let session = desk.session(&manager_name).await?;
        let removed = session.remove(&first).await;
        session.close().await;
        match removed {
            Ok(_) => break,
            Err(e) if Instant::now() > deadline => return Err(e.into()),
            Err(_) => tokio::time::sleep(Duration::from_secs(5)).await,
        }
    }
    measured
}

/// Watches the cluster over each of `links` and prints the monitor's CPU,
/// then the ratio between the links.
async fn measure_on_each(links: &[Link], data_dir: &std::path::Path) -> BenchResult<()> {
    let mut measured = Vec::new();
    for link in links {
        let (rdesk, ssh) = watch_for_a_minute(data_dir, &link.manager()).await?;
        let core = COUNTED.as_secs_f64();
        println!(
            "  {}, rdesk watch: {:.2} % of one core, its ssh processes {:.2} % (goal: under 2 % in all)",
            link.label,
            rdesk / core * 100.0,
            ssh / core * 100.0
        );
        measured.push(rdesk + ssh);
    }
    if let [fast, slow] = measured.as_slice() {
        println!(
            "  slow link ÷ loopback, the monitor and its ssh processes: {:.2}",
            slow / fast
        );
    }
    Ok(())
}

/// Makes [`WATCHED`] - 1 services from app `first`'s spec, one task each,
/// named in `copies` as they are made, and waits (bounded) until every
/// task runs.
async fn spread(
    docker: &bollard::Docker,
    first: &str,
    copies: &mut Vec<String>,
) -> BenchResult<()> {
    let service = docker
        .inspect_service(
            &format!("rserve-desk-{first}"),
            None::<InspectServiceOptions>,
        )
        .await?;
    let spec = service.spec.ok_or("the app's service has no spec")?;
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
        copies.push(name);
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
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("only {running} tasks ran within 10 min").into());
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// `rdesk watch --host MANAGER` on `data_dir`: once it samples every app,
/// the CPU seconds it and its ssh processes used over [`COUNTED`].
async fn watch_for_a_minute(data_dir: &std::path::Path, manager: &str) -> BenchResult<(f64, f64)> {
    let runtime = tempfile::tempdir_in("/tmp")?;
    let watch = JsonLines::start_on(
        data_dir,
        &["watch", "--host", manager, "--json"],
        &[("XDG_RUNTIME_DIR", runtime.path())],
    );
    let all = WATCHED as u64;
    watch.try_wait_for(Duration::from_secs(300), |l| {
        l["monitor"] == "sampled" && l["apps"].as_u64().unwrap_or(0) >= all
    })?;
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
