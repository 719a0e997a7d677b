//! `cargo xtask bench`: brings the stand-in up, builds the UI and the
//! release builds (`[profile.dist]`, as packaged) of the desktop app and of
//! `rdesk`, and runs the benchmark program (`rdesk-bench` in the end-to-end
//! crate) on them, which prints its figures as ratios measured in one run.
//! `--desktop` measures the desktop app only, `--swarm` the cluster's
//! figures only, `--store` the monitor store's only (synthetic: no stand-in
//! or release build needed).

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::facts::Standin;
use crate::{desktop, sh, standin, ui};

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Only the desktop app's figures: start, memory open and in the tray (30 min).
    #[arg(long, conflicts_with_all = ["swarm", "store"])]
    pub desktop: bool,
    /// Only the cluster's figures: a three-replica deploy to the swarm
    /// stand-in vs to one host, and the monitor's CPU with 200 apps on it,
    /// on loopback and over the slow relays.
    #[arg(long, conflicts_with = "store")]
    pub swarm: bool,
    /// Only the monitor store's figures: 100 apps' month of samples on one
    /// host and on a three-node cluster (insert, roll-up, chart, size).
    #[arg(long)]
    pub store: bool,
}

pub fn run(st: &Standin, args: &BenchArgs) -> Result<()> {
    if args.store {
        return run_bench(sh::e2e_program(&st.repo, "rdesk-bench").arg("store"));
    }
    standin::up(st)?;
    desktop::tools(st)?;
    ui::step("desktop UI (app/dist)", || desktop::build_ui(st))?;
    ui::step(
        "desktop app and rdesk, release build (profile dist)",
        || {
            sh::run_shown(sh::cargo().current_dir(&st.repo).args([
                "build",
                "--quiet",
                "--profile",
                "dist",
                "-p",
                "rdesk-desktop",
                "-p",
                "rdesk-cli",
            ]))?;
            ui::done("built")
        },
    )?;
    let release = desktop::target_dir(st).join("dist");
    let only: &[&str] = match (args.desktop, args.swarm) {
        (true, _) => &["desktop"],
        (_, true) => &["swarm"],
        _ => &[],
    };
    run_bench(
        sh::e2e_program(&st.repo, "rdesk-bench")
            .args(only)
            .envs(st.env())
            .env("RDESK_DESKTOP_BIN", release.join("rserve-desk"))
            // The monitor's CPU is the packaged `rdesk watch`'s, not a debug
            // build's.
            .env("RDESK_BIN", release.join("rdesk")),
    )
}

/// Runs `rdesk-bench` as `bench` says; fails when it does.
fn run_bench(bench: &mut Command) -> Result<()> {
    let status = bench.status().context("cannot run cargo")?;
    if !status.success() {
        bail!("the benchmark exited with {status}");
    }
    Ok(())
}
