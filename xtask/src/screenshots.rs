//! `cargo xtask screenshots`: the README's pictures. Brings the stand-in
//! up, builds the desktop app, and runs `rdesk-screenshots` (in the
//! end-to-end crate), which bootstraps the stand-in's bare VPS from the
//! window and deploys the examples onto it, so no test's leftovers show.

use anyhow::{Context, Result, bail};

use crate::facts::Standin;
use crate::{desktop, sh, standin};

pub fn run(st: &Standin) -> Result<()> {
    standin::up(st)?;
    let binary = desktop::build(st)?;
    let status = sh::e2e_program(&st.repo, "rdesk-screenshots")
        .arg(st.repo.join("docs"))
        .envs(st.env())
        .env("RDESK_DESKTOP_BIN", &binary)
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!("taking the screenshots exited with {status}");
    }
    Ok(())
}
