//! `cargo xtask tidy`: checks that the workspace keeps the shape
//! ARCHITECTURE.md describes. From `cargo metadata` (for this machine's
//! platform): which workspace crate may depend on which (the bird's-eye view's
//! layers, no circles), the spawner free of SSH, SQLite and UI crates, the core
//! free of Tauri and Leptos, `rdesk-ipc` on serde alone, Tauri only in the
//! desktop shell. From the sources: no `.rs` file over [`MAX_LINES`] lines
//! unless [`LONG_FILES`] says why it may be. From `icons/`: every generated
//! icon is what `cargo xtask icons` makes from the source image.

mod deps;
mod graph;
mod lengths;

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use deps::check_dependencies;
use graph::Graph;
use lengths::{LONG_FILES, MAX_LINES, check_lengths, source_lengths};

use crate::sh;

/// `cargo metadata` for this machine's platform (what the crates are built for here;
/// wasm-only dependencies of native crates' dependencies are left out).
fn cargo_metadata(repo: &Path) -> Result<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let version = Command::new(&rustc)
        .arg("-vV")
        .output()
        .context("cannot run rustc -vV")?;
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    let host = version
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .context("rustc -vV names no host platform")?;
    let out = sh::cargo()
        .current_dir(repo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--filter-platform",
            host,
        ])
        .output()
        .context("cannot run cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    String::from_utf8(out.stdout).context("cargo metadata's output is not UTF-8")
}

/// Runs every check; prints each failure as one sentence and fails if there was one.
pub fn run(repo: &Path) -> Result<()> {
    let graph = Graph::from_json(&cargo_metadata(repo)?)?;
    let files = source_lengths(repo)?;
    let mut failures = check_dependencies(&graph);
    failures.extend(check_lengths(&files, LONG_FILES));
    let stale_icons = crate::icons::stale(repo)?;
    if !stale_icons.is_empty() {
        failures.push(format!(
            "{} differ from what `cargo xtask icons` makes from {}/{}: run it and commit them",
            stale_icons.join(", "),
            crate::icons::DIR,
            crate::icons::SOURCE
        ));
    }
    if failures.is_empty() {
        println!(
            "tidy: {} workspace crates keep ARCHITECTURE.md's dependency rules; {} source files, none over {MAX_LINES} lines but the {} allowed; the icons are up to date.",
            graph.members.len(),
            files.len(),
            LONG_FILES.len()
        );
        Ok(())
    } else {
        for failure in &failures {
            eprintln!("tidy: {failure}");
        }
        bail!("{} tidy rule(s) broken", failures.len())
    }
}
