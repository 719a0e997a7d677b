//! The Node.js side of the end-to-end tests: `tests/node` holds the real
//! rserve-js client (npm `rserve` 1.0.2, with a current `ws` pinned through
//! npm `overrides`) that the access tests call apps with. `npm ci` installs
//! exactly what `package-lock.json` says, again only when the lock changed.

use std::fs;
use std::process::Command;

use anyhow::{Result, bail};

use crate::facts::Standin;
use crate::sh;
use crate::state::hash_parts;
use crate::ui::{self, Outcome};

/// Written into `node_modules` after an install: the lock file's hash.
const STAMP: &str = ".rdesk-lock-hash";

pub fn up(st: &Standin) -> Result<Outcome> {
    let dir = st.repo.join("tests").join("node");
    let lock = fs::read(dir.join("package-lock.json"))?;
    let wanted = hash_parts([lock.as_slice()]);
    let stamp = dir.join("node_modules").join(STAMP);
    if fs::read_to_string(&stamp).is_ok_and(|h| h == wanted) {
        return ui::already("tests/node/node_modules matches package-lock.json");
    }
    if !sh::succeeds(Command::new("npm").arg("--version")) {
        bail!("npm is missing: the access tests call apps with rserve-js under Node.js");
    }
    let log = st.log("npm");
    sh::run_logged(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir),
        &log,
    )?;
    fs::write(&stamp, wanted)?;
    ui::done(format!(
        "npm ci in tests/node (rserve-js; log: {})",
        log.display()
    ))
}
