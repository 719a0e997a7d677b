//! `cargo xtask dist`: the installable packages, made with Tauri's bundler
//! used as a library (`tauri_bundler::bundle_project`; tauri-cli is not
//! needed). Builds the UI and the binaries (`rserve-desk` from
//! `rdesk-desktop`, `rdesk` and `rdesk-askpass` from `rdesk-cli`) with the
//! `dist` profile, then packages them as [`settings`] reads them from
//! tauri.conf.json: on Linux a `.deb` and an `.rpm` in
//! `<target>/dist/bundle/{deb,rpm}/`, named after the package
//! (`rserve-desk_<version>_amd64.deb`, `rserve-desk-<version>-1.x86_64.rpm`).
//! `--debug` packages the debug build the same way, its debug info left out
//! (`<target>/debug/package/bundle/deb/`): what `cargo xtask test` installs
//! in tests/package.rs, since a release build takes too long there.

pub mod settings;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use tauri_bundler::PackageType;

use crate::facts::Standin;
use crate::ui::{self, Outcome};
use crate::{apt, desktop, sh};

#[derive(Debug, clap::Args)]
pub struct DistArgs {
    /// Package the debug build instead of building the `dist` profile (what
    /// the package test installs; much faster, much bigger).
    #[arg(long)]
    pub debug: bool,
}

/// Which build is packaged.
#[derive(Debug, Clone, Copy)]
pub enum Build {
    /// `cargo build` (the `dev` profile), for the package test.
    Debug,
    /// `[profile.dist]` in the workspace's Cargo.toml: the release packages.
    Dist,
}

impl Build {
    fn profile(self) -> &'static str {
        match self {
            Build::Debug => "dev",
            Build::Dist => "dist",
        }
    }

    /// The folder of the target directory its binaries are in.
    fn dir(self) -> &'static str {
        match self {
            Build::Debug => "debug",
            Build::Dist => "dist",
        }
    }
}

/// Where a build's binaries are, and its packages under `bundle/`.
pub fn binaries_dir(st: &Standin, build: Build) -> PathBuf {
    desktop::target_dir(st).join(build.dir())
}

/// Builds the packaged binaries (the UI in app/dist must be built first).
pub fn compile(st: &Standin, build: Build) -> Result<Outcome> {
    let names = binary_names();
    sh::run_shown(sh::cargo().current_dir(&st.repo).args([
        "build",
        "--profile",
        build.profile(),
        "-p",
        "rdesk-desktop",
        "-p",
        "rdesk-cli",
        "--bins",
    ]))?;
    let dir = binaries_dir(st, build);
    let sizes = names
        .iter()
        .map(|n| Ok(format!("{n} {}", megabytes(&dir.join(n))?)))
        .collect::<Result<Vec<_>>>()?;
    ui::done(sizes.join(", "))
}

fn megabytes(path: &Path) -> Result<String> {
    let len = fs::metadata(path)
        .with_context(|| format!("{} is missing", path.display()))?
        .len();
    Ok(format!("{:.1} MB", len as f64 / 1e6))
}

/// The package's name in file names: the product name in kebab case, as the
/// bundler names the package inside (`Package:` of the `.deb`, `Name:` of the `.rpm`).
fn package_name(product_name: &str) -> String {
    product_name.to_lowercase().replace(' ', "-")
}

fn binary_names() -> Vec<&'static str> {
    let mut names = vec![settings::MAIN_BINARY];
    names.extend(settings::CLI_BINARIES);
    names
}

/// The folder the bundler takes the binaries from: the build's own, or for
/// the debug build copies without their debug info (with it, the three are
/// 800 MB and the test's package 200 MB, minutes slower to make and install).
fn staged(st: &Standin, build: Build) -> Result<PathBuf> {
    let dir = binaries_dir(st, build);
    match build {
        Build::Dist => Ok(dir),
        Build::Debug => {
            let staging = dir.join("package");
            fs::create_dir_all(&staging)
                .with_context(|| format!("cannot create {}", staging.display()))?;
            for name in binary_names() {
                sh::run_shown(
                    Command::new("objcopy")
                        .arg("--strip-debug")
                        .arg(dir.join(name))
                        .arg(staging.join(name)),
                )?;
            }
            Ok(staging)
        }
    }
}

/// Packages an already compiled build as `types` (all the config's targets
/// this platform can make when empty); returns the packages' paths.
pub fn package(st: &Standin, build: Build, types: &[PackageType]) -> Result<Vec<PathBuf>> {
    let described = settings::read(&st.repo)?;
    let types = if types.is_empty() {
        settings::package_types(&described)
    } else {
        types.to_vec()
    };
    if types.is_empty() {
        bail!("tauri.conf.json's bundle.targets names no package this platform can make");
    }
    let dir = staged(st, build)?;
    let settings = settings::settings(&described, &dir, types)?;
    let bundles = tauri_bundler::bundle_project(&settings).context("the bundler failed")?;
    let name = package_name(&described.product_name);
    let mut made = Vec::new();
    for path in bundles.iter().flat_map(|b| &b.bundle_paths) {
        // The bundler names files after the product name ("Rserve Desk_…");
        // the package is named `rserve-desk`, so are its files.
        let file = path
            .file_name()
            .context("a package without a file name")?
            .to_string_lossy();
        let renamed = path.with_file_name(file.replacen(&described.product_name, &name, 1));
        fs::rename(path, &renamed).with_context(|| {
            format!("cannot rename {} to {}", path.display(), renamed.display())
        })?;
        // The staging folder beside it holds a copy of every binary: only the package is kept.
        let staging = path.with_extension("");
        if staging.is_dir() {
            fs::remove_dir_all(&staging)
                .with_context(|| format!("cannot remove {}", staging.display()))?;
        }
        made.push(renamed);
    }
    Ok(made)
}

/// `cargo xtask dist`.
pub fn run(st: &Standin, args: &DistArgs) -> Result<()> {
    let build = if args.debug {
        Build::Debug
    } else {
        Build::Dist
    };
    // The build needs WebKitGTK's headers and the rest of the apt list the stand-in installs.
    ui::step("apt packages", || apt::up(st))?;
    desktop::tools(st)?;
    ui::step("desktop UI (app/dist)", || desktop::build_ui(st))?;
    ui::step(
        &format!("cargo build --profile {}", build.profile()),
        || compile(st, build),
    )?;
    ui::step("packages", || {
        let made = package(st, build, &[])?;
        let lines = made
            .iter()
            .map(|p| Ok(format!("{} ({})", p.display(), megabytes(p)?)))
            .collect::<Result<Vec<_>>>()?;
        ui::done(lines.join("\n    "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_named_after_the_package() {
        assert_eq!(package_name("Rserve Desk"), "rserve-desk");
    }
}
