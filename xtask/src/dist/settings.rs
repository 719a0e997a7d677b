//! The bundler's settings from the one place the packages are described:
//! `src-tauri/tauri.conf.json` (its `productName`, `identifier` and `bundle`
//! section: targets, icons, descriptions, category, the `.deb`'s and `.rpm`'s
//! dependencies, the macOS `.app` and `.dmg`), read with the same
//! `tauri-utils` the app is built with. Nothing about the packages is
//! written here but which binaries go in, and the version (Cargo's).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use tauri_bundler::{
    AppCategory, BundleBinary, BundleSettings, DebianSettings, DmgSettings, MacOsSettings,
    PackageSettings, PackageType, Position, RpmSettings, Settings, SettingsBuilder, Size,
};
use tauri_utils::config::{BundleConfig, Config};

/// The desktop binary (the package's main program, the desktop entry's `Exec`).
pub const MAIN_BINARY: &str = "rserve-desk";
/// The CLI's binaries, from `rdesk-cli`, installed beside it.
pub const CLI_BINARIES: &[&str] = &["rdesk", "rdesk-askpass"];

/// The parts of tauri.conf.json the packages are made from.
pub struct Described {
    pub product_name: String,
    pub identifier: String,
    pub version: String,
    pub bundle: BundleConfig,
    /// src-tauri: the config's relative paths are from here.
    pub config_dir: PathBuf,
}

/// The first `version = "…"` of a Cargo.toml, its `[package]`'s.
fn package_version(manifest: &str) -> Option<String> {
    manifest.lines().find_map(|line| {
        let value = line.trim().strip_prefix("version")?.trim_start();
        let value = value.strip_prefix('=')?.trim();
        Some(value.strip_prefix('"')?.strip_suffix('"')?.to_owned())
    })
}

/// Reads src-tauri/tauri.conf.json and the desktop crate's version.
pub fn read(repo: &Path) -> Result<Described> {
    let config_dir = repo.join("src-tauri");
    let path = config_dir.join("tauri.conf.json");
    let text =
        fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let config: Config = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a Tauri config", path.display()))?;
    let manifest = config_dir.join("Cargo.toml");
    let version = match config.version {
        Some(v) => v,
        None => package_version(&fs::read_to_string(&manifest)?)
            .with_context(|| format!("{} names no version", manifest.display()))?,
    };
    Ok(Described {
        product_name: config
            .product_name
            .context("tauri.conf.json has no productName")?,
        identifier: config.identifier,
        version,
        bundle: config.bundle,
        config_dir,
    })
}

/// The package types of the config's `bundle.targets` this platform can make.
pub fn package_types(described: &Described) -> Vec<PackageType> {
    let here: &[PackageType] = if cfg!(target_os = "macos") {
        &[PackageType::MacOsBundle, PackageType::Dmg]
    } else {
        &[PackageType::Deb, PackageType::Rpm]
    };
    described
        .bundle
        .targets
        .to_vec()
        .iter()
        .filter_map(|t| PackageType::from_short_name(&t.to_string()))
        .filter(|t| here.contains(t))
        .collect()
}

/// The bundler's settings to package the binaries in `binaries_dir` into
/// `binaries_dir/bundle/<type>/`.
pub fn settings(
    described: &Described,
    binaries_dir: &Path,
    types: Vec<PackageType>,
) -> Result<Settings> {
    let b = &described.bundle;
    let from_config = |p: &PathBuf| described.config_dir.join(p);
    let category = match &b.category {
        Some(name) => Some(
            name.parse::<AppCategory>()
                .map_err(|_| anyhow::anyhow!("unknown bundle.category `{name}`"))?,
        ),
        None => None,
    };
    let icons = b
        .icon
        .iter()
        .map(|i| described.config_dir.join(i).to_string_lossy().into_owned())
        .collect();
    let deb = &b.linux.deb;
    let rpm = &b.linux.rpm;
    let mac = &b.macos;
    if !deb.files.is_empty() || !rpm.files.is_empty() || !mac.files.is_empty() {
        bail!("bundle.*.files in tauri.conf.json are not handled by cargo xtask dist");
    }
    let bundle = BundleSettings {
        identifier: Some(described.identifier.clone()),
        publisher: b.publisher.clone(),
        homepage: b.homepage.clone(),
        icon: Some(icons),
        copyright: b.copyright.clone(),
        license: b.license.clone(),
        license_file: b.license_file.as_ref().map(from_config),
        category,
        short_description: b.short_description.clone(),
        long_description: b.long_description.clone(),
        deb: DebianSettings {
            depends: deb.depends.clone(),
            recommends: deb.recommends.clone(),
            section: deb.section.clone(),
            priority: deb.priority.clone(),
            desktop_template: deb.desktop_template.as_ref().map(from_config),
            ..Default::default()
        },
        rpm: RpmSettings {
            depends: rpm.depends.clone(),
            recommends: rpm.recommends.clone(),
            release: rpm.release.clone(),
            epoch: rpm.epoch,
            desktop_template: rpm.desktop_template.as_ref().map(from_config),
            compression: rpm.compression,
            ..Default::default()
        },
        dmg: DmgSettings {
            background: mac.dmg.background.as_ref().map(from_config),
            window_position: mac
                .dmg
                .window_position
                .as_ref()
                .map(|p| Position { x: p.x, y: p.y }),
            window_size: Size {
                width: mac.dmg.window_size.width,
                height: mac.dmg.window_size.height,
            },
            app_position: Position {
                x: mac.dmg.app_position.x,
                y: mac.dmg.app_position.y,
            },
            application_folder_position: Position {
                x: mac.dmg.application_folder_position.x,
                y: mac.dmg.application_folder_position.y,
            },
        },
        macos: MacOsSettings {
            bundle_version: mac.bundle_version.clone(),
            bundle_name: mac.bundle_name.clone(),
            minimum_system_version: mac.minimum_system_version.clone(),
            exception_domain: mac.exception_domain.clone(),
            signing_identity: mac.signing_identity.clone(),
            hardened_runtime: mac.hardened_runtime,
            provider_short_name: mac.provider_short_name.clone(),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut binaries = vec![BundleBinary::new(MAIN_BINARY.to_owned(), true)];
    binaries.extend(
        CLI_BINARIES
            .iter()
            .map(|b| BundleBinary::new((*b).to_owned(), false)),
    );
    SettingsBuilder::new()
        .project_out_directory(binaries_dir)
        .package_types(types)
        .package_settings(PackageSettings {
            product_name: described.product_name.clone(),
            version: described.version.clone(),
            description: b.short_description.clone().unwrap_or_default(),
            homepage: b.homepage.clone(),
            authors: None,
            default_run: Some(MAIN_BINARY.to_owned()),
        })
        .bundle_settings(bundle)
        .binaries(binaries)
        .build()
        .context("the bundler refused its settings")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_package_version() {
        let manifest = "[package]\nname = \"x\"\nversion = \"1.2.3\"\n[dependencies]\nfoo = { version = \"9\" }\n";
        assert_eq!(package_version(manifest).as_deref(), Some("1.2.3"));
    }

    #[test]
    fn the_config_declares_what_the_packages_need() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let d = read(&repo).expect("tauri.conf.json reads");
        let deb = d.bundle.linux.deb.depends.clone().unwrap_or_default();
        for needed in [
            "libwebkit2gtk-4.1-0",
            "libayatana-appindicator3-1",
            "openssh-client",
        ] {
            assert!(
                deb.iter().any(|d| d.starts_with(needed)),
                "deb depends lacks {needed}"
            );
        }
        assert!(
            !d.bundle
                .linux
                .rpm
                .depends
                .clone()
                .unwrap_or_default()
                .is_empty()
        );
        let settings = settings(&d, Path::new("/nowhere"), package_types(&d)).expect("settings");
        assert_eq!(settings.main_binary_name().ok(), Some(MAIN_BINARY));
    }
}
