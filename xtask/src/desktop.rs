//! The desktop app's toolchain and build, idempotently: the wasm32 target,
//! `wasm-bindgen-cli` at the version in Cargo.lock, `tauri-driver` for the
//! UI tests, then the UI itself: `cargo build --target wasm32-unknown-unknown
//! -p rdesk-app`, `wasm-bindgen --target web` and the static files into
//! `app/dist`, which the shell (`rdesk-desktop`) embeds when it compiles.
//! No trunk: installing it costs about 12 minutes of a fresh CI machine and
//! the two commands it would run are all the UI needs.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::facts::Standin;
use crate::sh;
use crate::ui::{self, Outcome};

pub const WASM_TARGET: &str = "wasm32-unknown-unknown";
pub const TAURI_DRIVER_VERSION: &str = "2.1.0";
/// The static files copied next to the wasm-bindgen output.
const STATIC_FILES: &[&str] = &["index.html", "boot.js", "style.css"];

/// The version of `package` in a Cargo.lock text, if it is there once.
pub fn locked_version(lock: &str, package: &str) -> Option<String> {
    let wanted = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    let mut found = None;
    while let Some(line) = lines.next() {
        if line.trim() == wanted {
            let version = lines.next()?.trim().strip_prefix("version = \"")?;
            if found.is_some() {
                return None;
            }
            found = Some(version.trim_end_matches('"').to_owned());
        }
    }
    found
}

/// `wasm-bindgen 0.2.130` -> `0.2.130`.
fn tool_version(output: &str) -> Option<&str> {
    output.split_whitespace().nth(1)
}

fn wasm_target(_st: &Standin) -> Result<Outcome> {
    let installed = sh::capture(Command::new("rustup").args(["target", "list", "--installed"]))?;
    if installed.lines().any(|l| l.trim() == WASM_TARGET) {
        return ui::already(WASM_TARGET);
    }
    sh::run_shown(Command::new("rustup").args(["target", "add", WASM_TARGET]))?;
    ui::done(format!("added {WASM_TARGET}"))
}

fn wasm_bindgen(st: &Standin) -> Result<Outcome> {
    let lock = fs::read_to_string(st.repo.join("Cargo.lock")).context("cannot read Cargo.lock")?;
    let wanted = locked_version(&lock, "wasm-bindgen")
        .context("Cargo.lock has no single wasm-bindgen version")?;
    let have = sh::capture(Command::new("wasm-bindgen").arg("--version")).ok();
    if have.as_deref().and_then(tool_version) == Some(wanted.as_str()) {
        return ui::already(format!("wasm-bindgen {wanted}"));
    }
    // Not --locked: its lock pins a crate version the registry mirror lacks.
    sh::run_logged(
        sh::cargo().args(["install", "wasm-bindgen-cli", "--version", &wanted]),
        &st.log("cargo-install"),
    )?;
    ui::done(format!("installed wasm-bindgen-cli {wanted}"))
}

fn tauri_driver(st: &Standin) -> Result<Outcome> {
    let listed = sh::capture(sh::cargo().args(["install", "--list"]))?;
    let wanted = format!("tauri-driver v{TAURI_DRIVER_VERSION}:");
    if listed.lines().any(|l| l.trim() == wanted) {
        return ui::already(wanted.trim_end_matches(':').to_owned());
    }
    sh::run_logged(
        sh::cargo().args([
            "install",
            "--locked",
            "tauri-driver",
            "--version",
            TAURI_DRIVER_VERSION,
        ]),
        &st.log("cargo-install"),
    )?;
    ui::done(format!("installed tauri-driver {TAURI_DRIVER_VERSION}"))
}

/// Everything the desktop build and its tests need besides apt packages.
pub fn tools(st: &Standin) -> Result<()> {
    ui::step("rust target wasm32", || wasm_target(st))?;
    ui::step("wasm-bindgen-cli", || wasm_bindgen(st))?;
    ui::step("tauri-driver", || tauri_driver(st))
}

pub fn target_dir(st: &Standin) -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| st.repo.join("target"))
}

/// Builds the UI into `app/dist`.
pub fn build_ui(st: &Standin) -> Result<Outcome> {
    sh::run_shown(sh::cargo().current_dir(&st.repo).args([
        "build",
        "--quiet",
        "--release",
        "-p",
        "rdesk-app",
        "--target",
        WASM_TARGET,
    ]))?;
    let wasm = target_dir(st)
        .join(WASM_TARGET)
        .join("release")
        .join("rdesk-app.wasm");
    let app = st.repo.join("app");
    let dist = app.join("dist");
    fs::create_dir_all(&dist).with_context(|| format!("cannot create {}", dist.display()))?;
    sh::run_shown(
        Command::new("wasm-bindgen")
            .args([
                "--target",
                "web",
                "--no-typescript",
                "--out-name",
                "rdesk-app",
                "--out-dir",
            ])
            .arg(&dist)
            .arg(&wasm),
    )?;
    for file in STATIC_FILES {
        copy(&app.join(file), &dist.join(file))?;
    }
    let size = fs::metadata(dist.join("rdesk-app_bg.wasm"))
        .map(|m| m.len())
        .unwrap_or(0);
    ui::done(format!(
        "{} ({:.1} MB of wasm)",
        dist.display(),
        size as f64 / 1e6
    ))
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    fs::copy(from, to)
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    Ok(())
}

/// Tools, the UI, then the shell binary; returns the binary's path.
pub fn build(st: &Standin) -> Result<std::path::PathBuf> {
    tools(st)?;
    ui::step("desktop UI (app/dist)", || build_ui(st))?;
    ui::step("desktop shell (rdesk-desktop)", || {
        sh::run_shown(
            sh::cargo()
                .current_dir(&st.repo)
                .args(["build", "-p", "rdesk-desktop"]),
        )?;
        ui::done("built")
    })?;
    let binary = target_dir(st).join("debug").join("rserve-desk");
    if !binary.is_file() {
        bail!("{} was not built", binary.display());
    }
    Ok(binary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_locked_version() {
        let lock = "[[package]]\nname = \"wasm-bindgen\"\nversion = \"0.2.130\"\nsource = \"x\"\n\n[[package]]\nname = \"wasm-bindgen-futures\"\nversion = \"0.4.80\"\n";
        assert_eq!(
            locked_version(lock, "wasm-bindgen").as_deref(),
            Some("0.2.130")
        );
        assert_eq!(locked_version(lock, "nope"), None);
        let twice = format!("{lock}[[package]]\nname = \"wasm-bindgen\"\nversion = \"0.2.99\"\n");
        assert_eq!(locked_version(&twice, "wasm-bindgen"), None, "ambiguous");
        assert_eq!(tool_version("wasm-bindgen 0.2.130"), Some("0.2.130"));
    }
}
