//! The stand-in's networks, in the shape the product's bootstrap makes on a
//! VPS: `rserve-desk` for the apps, with inter-container traffic off (an app
//! cannot reach another app; Traefik, on the host's network, reaches them
//! all), and `rserve-desk-build` for package builds and the CRAN-like
//! repository. A stand-in made before the walls has an open `rserve-desk`:
//! it is made again, and every app container of ours is put back on it
//! (also after an interrupted `up`).

use anyhow::Result;

use crate::docker::{self, docker};
use crate::facts::{BUILD_NETWORK, ICC_OPTION, NETWORK, OWNER, OWNER_LABEL, ROLE_LABEL};
use crate::sh;
use crate::ui::{self, Outcome};

/// The apps' network's `enable_icc` option; `None` when there is no network.
fn icc() -> Option<String> {
    let format = format!("{{{{index .Options \"{ICC_OPTION}\"}}}}");
    sh::capture(docker().args(["network", "inspect", "--format", &format, NETWORK]))
        .ok()
        .map(|s| s.trim().to_string())
}

fn create(name: &str, role: &str, walled: bool) -> Result<()> {
    let mut cmd = docker();
    cmd.args(["network", "create", "--driver", "bridge"]);
    if walled {
        cmd.args(["--opt", &format!("{ICC_OPTION}=false")]);
    }
    cmd.arg("--label")
        .arg(format!("{OWNER_LABEL}={OWNER}"))
        .arg("--label")
        .arg(format!("{ROLE_LABEL}={role}"))
        .arg(name);
    sh::capture(&mut cmd).map(drop)
}

/// Ids of the app containers of ours that are not on the apps' network.
fn detached_apps() -> Result<Vec<String>> {
    let listed = sh::capture(
        docker()
            .args(["ps", "--all", "--filter"])
            .arg(format!("label={OWNER_LABEL}={OWNER}"))
            .args(["--filter", &format!("label={ROLE_LABEL}=app")])
            .args(["--format", "{{.ID}} {{.Networks}}"]),
    )?;
    Ok(listed
        .lines()
        .filter_map(|line| {
            let (id, networks) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
            let on = networks.split(',').any(|n| n == NETWORK);
            (!id.is_empty() && !on).then(|| id.to_string())
        })
        .collect())
}

/// Runs `cmd` on container `id`; its failure counts only while the container
/// still exists (a test run may remove its apps while this moves them).
fn unless_gone(id: &str, cmd: &mut std::process::Command) -> Result<()> {
    match sh::capture(cmd) {
        Ok(_) => Ok(()),
        Err(_) if !sh::succeeds(docker().args(["container", "inspect", id])) => Ok(()),
        Err(e) => Err(e),
    }
}

pub fn up() -> Result<Outcome> {
    let mut did = Vec::new();
    match icc().as_deref() {
        Some("false") => {}
        Some(_) => {
            let members = sh::capture(docker().args([
                "network",
                "inspect",
                "--format",
                "{{range $id, $c := .Containers}}{{$id}} {{end}}",
                NETWORK,
            ]))?;
            for id in members.split_whitespace() {
                unless_gone(
                    id,
                    docker().args(["network", "disconnect", "--force", NETWORK, id]),
                )?;
            }
            sh::capture(docker().args(["network", "rm", NETWORK]))?;
            create(NETWORK, "network", true)?;
            did.push(format!(
                "made {NETWORK} again without traffic between containers"
            ));
        }
        None => {
            create(NETWORK, "network", true)?;
            did.push(format!("created {NETWORK} (no traffic between containers)"));
        }
    }
    let detached = detached_apps()?;
    for id in &detached {
        unless_gone(id, docker().args(["network", "connect", NETWORK, id]))?;
    }
    if !detached.is_empty() {
        did.push(format!(
            "{} app container(s) put on {NETWORK}",
            detached.len()
        ));
    }
    if !docker::network_exists(BUILD_NETWORK) {
        create(BUILD_NETWORK, "build-network", false)?;
        did.push(format!("created {BUILD_NETWORK}"));
    }
    if did.is_empty() {
        ui::already(format!("networks {NETWORK} (walled) and {BUILD_NETWORK}"))
    } else {
        ui::done(did.join("; "))
    }
}
