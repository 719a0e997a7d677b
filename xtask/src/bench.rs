//! `cargo xtask bench`: brings the stand-in up and runs the benchmark program
//! (`rdesk-bench` in the end-to-end crate), which prints its figures as ratios
//! measured in one run.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::facts::Standin;
use crate::standin;

pub fn run(st: &Standin) -> Result<()> {
    standin::up(st)?;
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["run", "--quiet", "-p", "rdesk-e2e", "--bin", "rdesk-bench"])
        .current_dir(&st.repo)
        .envs(st.env())
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!("the benchmark exited with {status}");
    }
    Ok(())
}
