//! `cargo xtask screenshots`: the README's pictures. Brings the stand-in
//! up, builds the desktop app, and runs `rdesk-screenshots` (in the
//! end-to-end crate), which bootstraps the stand-in's bare VPS from the
//! window and deploys the examples onto it, so no test's leftovers show.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::facts::Standin;
use crate::{desktop, standin};

pub fn run(st: &Standin) -> Result<()> {
    standin::up(st)?;
    let binary = desktop::build(st)?;
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "run",
            "--quiet",
            "-p",
            "rdesk-e2e",
            "--bin",
            "rdesk-screenshots",
            "--",
        ])
        .arg(st.repo.join("docs"))
        .current_dir(&st.repo)
        .envs(st.env())
        .env("RDESK_DESKTOP_BIN", &binary)
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!("taking the screenshots exited with {status}");
    }
    Ok(())
}
