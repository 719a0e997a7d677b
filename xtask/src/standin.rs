//! `cargo xtask standin up|down|status|env`: the stand-in VPS on this
//! machine, made step by step, idempotently (each step checks before it
//! acts, so a second `up` is fast and changes nothing).

use std::fs::{self, File};
use std::time::Instant;

use anyhow::{Context, Result};

use crate::facts::{Standin, shell_quote};
use crate::slowpath::SlowPath;
use crate::{
    apt, base, cran, debian, dockerd, filter, networks, node, pwuser, sshd, swarm, traefik, ui, vps,
};

/// Holds `.standin/lock` so that two `up`s or `down`s (say, two developers'
/// test runs) take turns instead of racing.
fn lock(st: &Standin) -> Result<File> {
    fs::create_dir_all(&st.dir).with_context(|| format!("cannot create {}", st.dir.display()))?;
    let file = File::create(st.dir.join("lock"))?;
    if file.try_lock().is_err() {
        println!("waiting for another `cargo xtask standin` to finish...");
        file.lock()?;
    }
    Ok(file)
}

pub fn up(st: &Standin) -> Result<()> {
    let started = Instant::now();
    println!("stand-in VPS: state in {}", st.dir.display());
    let _lock = lock(st)?;
    ui::step("apt packages", || apt::up(st))?;
    ui::step("dockerd", || dockerd::up(st))?;
    ui::step("image debian:bookworm", || debian::up(st))?;
    ui::step("docker networks", networks::up)?;
    ui::step("image cran-server", || cran::server_image(st))?;
    ui::step("image docker-filter", || filter::image(st))?;
    ui::step("container docker-filter", filter::container)?;
    ui::step("image traefik", || traefik::image(st))?;
    ui::step("container traefik", traefik::container)?;
    ui::step("check: Traefik routes a labelled container", || {
        traefik::route_check(st)
    })?;
    ui::step("image rserve-base", || base::up(st))?;
    ui::step("CRAN-like repository", || cran::repository(st))?;
    ui::step("container cran", || cran::container(st))?;
    ui::step(
        "check: build on the network installs from the repository",
        || cran::install_check(st),
    )?;
    ui::step("rserve-js for the tests (npm)", || node::up(st))?;
    ui::step("password user", || pwuser::up(st))?;
    ui::step("sshd", || sshd::up(st))?;
    ui::step("check: Docker socket over SSH", || sshd::forward_check(st))?;
    ui::step("slow relay in front of sshd", || SlowPath::standin(st).up())?;
    vps::up(st)?;
    swarm::up(st)?;
    println!(
        "stand-in VPS is up ({:.1}s); `cargo xtask standin env` prints its variables",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

pub fn down(st: &Standin) -> Result<()> {
    let _lock = lock(st)?;
    swarm::down(st)?;
    vps::down(st)?;
    // Containers go first: they need the engine.
    if dockerd::answers() {
        ui::step("container traefik", traefik::down)?;
        ui::step("container docker-filter", filter::down)?;
        ui::step("container cran", cran::down)?;
    }
    ui::step("slow relay", || SlowPath::standin(st).down())?;
    ui::step("sshd", || sshd::down(st))?;
    ui::step("dockerd", || dockerd::down(st))?;
    println!("stand-in VPS is down (images, network and .standin kept for a fast `up`)");
    Ok(())
}

/// `standin vps up`: only the bare VPS (its sshd needs the client key, made here too).
pub fn vps_up(st: &Standin) -> Result<()> {
    let _lock = lock(st)?;
    vps::up(st)?;
    println!("bare VPS stand-in is up at {}", crate::facts::VPS_ADDR);
    Ok(())
}

/// `standin vps down`: stops the VPS's dockerd and sshd, removes its namespace.
pub fn vps_down(st: &Standin) -> Result<()> {
    let _lock = lock(st)?;
    vps::down(st)
}

/// `standin vps status`: fails when a part is not up.
pub fn vps_status(st: &Standin) -> Result<()> {
    report(
        &named(vps::status(st)),
        "bare VPS stand-in is up",
        "the bare VPS stand-in is not up: run `cargo xtask standin vps up`",
    )
}

/// `standin swarm up`: only the swarm's three nodes and their LAN.
pub fn swarm_up(st: &Standin) -> Result<()> {
    let _lock = lock(st)?;
    swarm::up(st)?;
    println!("swarm stand-in is up: three bare VPSs on 10.213.8.0/24");
    Ok(())
}

/// `standin swarm down`: stops the nodes' dockerd and sshd, removes their namespaces and the LAN.
pub fn swarm_down(st: &Standin) -> Result<()> {
    let _lock = lock(st)?;
    swarm::down(st)
}

/// `standin swarm status`: fails when a part is not up.
pub fn swarm_status(st: &Standin) -> Result<()> {
    report(
        &swarm::status(st),
        "swarm stand-in is up",
        "the swarm stand-in is not up: run `cargo xtask standin swarm up`",
    )
}

/// Prints each part's state; fails when a part is not up.
pub fn status(st: &Standin) -> Result<()> {
    let docker_up = dockerd::answers();
    let mut lines = vec![
        ("apt packages", apt::status()),
        ("dockerd", dockerd::status(st)),
    ];
    if docker_up {
        lines.extend([
            ("image debian", debian::status()),
            ("docker-filter", filter::status()),
            ("traefik", traefik::status()),
            ("rserve-base", base::status(st)),
            ("cran", cran::status(st)),
        ]);
    }
    lines.push(("sshd", sshd::status(st)));
    lines.push(("slow relay", SlowPath::standin(st).status()));
    lines.extend(vps::status(st));
    let mut lines = named(lines);
    lines.extend(swarm::status(st));
    report(
        &lines,
        "stand-in VPS is up",
        "the stand-in VPS is not (fully) up: run `cargo xtask standin up`",
    )
}

fn named(lines: Vec<(&str, ui::Health)>) -> Vec<(String, ui::Health)> {
    lines
        .into_iter()
        .map(|(name, state)| (name.to_owned(), state))
        .collect()
}

fn report(lines: &[(String, ui::Health)], up: &str, not_up: &str) -> Result<()> {
    let mut healthy = true;
    for (name, state) in lines {
        let word = if state.ok { "ok" } else { "NOT OK" };
        println!("{name:>16}: {word:<6} {}", state.text);
        healthy &= state.ok;
    }
    if healthy {
        println!("{up}");
        Ok(())
    } else {
        anyhow::bail!("{not_up}")
    }
}

/// `export K=V` lines, for `eval "$(cargo xtask standin env)"`.
pub fn env_lines(st: &Standin) -> Vec<String> {
    st.env()
        .into_iter()
        .map(|(k, v)| format!("export {k}={}", shell_quote(&v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn env_lines_are_exports() {
        let lines = env_lines(&Standin::at(PathBuf::from("/my repo")));
        assert_eq!(lines[0], "export RDESK_E2E=1");
        assert!(lines.contains(&"export RDESK_STANDIN_DIR='/my repo/.standin'".to_string()));
        assert!(lines.iter().all(|l| l.starts_with("export RDESK_")));
    }
}
