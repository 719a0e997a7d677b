//! Docker build contexts made in memory: the generated Dockerfiles of the
//! packages layer and of the code layer, and the tar archives that carry them
//! with the installer or the app's files. Nothing is written to disk.

use std::collections::HashMap;

use crate::environment::INSTALLER;
use crate::labels;
use crate::spec::AppSpec;

/// Where the app's files go inside the image; the start-up script reads them there.
pub const APP_DIR: &str = "/app";

/// Image reference of the base image for an R version.
pub fn base_image(spec: &AppSpec) -> String {
    format!("rserve-base:{}", spec.r_version)
}

/// Image reference of the packages layer, or `None` when the app needs no packages.
pub fn packages_image(spec: &AppSpec) -> Option<String> {
    let key = spec.packages_key();
    (!key.is_empty()).then(|| format!("rserve-desk/packages:{}-{}", spec.r_version, &key[..16]))
}

/// Image reference of one version of an app: its code and configuration hashed together.
pub fn app_image(spec: &AppSpec) -> String {
    format!(
        "rserve-desk/app-{}:{}-{}",
        spec.slug,
        &spec.code_hash()[..12],
        &spec.config_hash()[..12]
    )
}

/// Where the installer and its inputs go during the packages layer's build.
const INSTALLER_DIR: &str = "/tmp/rserve-desk";

/// The Dockerfile of the packages layer: the Debian packages with apt, then
/// the R packages with the installer (`environment::INSTALLER`), which
/// proves each one loads at its pinned version. `base_id` (the base image's
/// id) becomes a label. Every name is validated: none needs quoting.
pub fn packages_dockerfile(spec: &AppSpec, base_id: &str) -> String {
    let env = &spec.environment;
    let mut steps = String::new();
    if !env.system().is_empty() {
        let names: Vec<&str> = env.system().iter().map(|d| d.as_str()).collect();
        let names = names.join(" ");
        steps.push_str(&format!(
            "RUN apt-get update \\\n \
             && {{ DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {names} \\\n \
             || {{ echo \"rserve-desk: apt could not install the system packages {names}\"; exit 1; }}; }} \\\n \
             && apt-get clean && rm -rf /var/lib/apt/lists/*\n"
        ));
    }
    if !env.packages().is_empty() {
        steps.push_str(&format!(
            "COPY rserve-desk/ {INSTALLER_DIR}/\n\
             RUN Rscript {INSTALLER_DIR}/install.R && rm -rf {INSTALLER_DIR} /tmp/Rtmp* /tmp/downloaded_packages\n"
        ));
    }
    format!(
        "FROM {base}\nUSER root\n{steps}USER rserve\n{labels}",
        base = base_image(spec),
        labels = label_line(&labels::packages_labels(spec), base_id),
    )
}

/// The packages layer's build context: its Dockerfile, and the installer
/// with its inputs under `rserve-desk/`.
pub fn packages_context(spec: &AppSpec, base_id: &str) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    append(
        &mut builder,
        "Dockerfile",
        packages_dockerfile(spec, base_id).as_bytes(),
    )?;
    append(&mut builder, "rserve-desk/install.R", INSTALLER.as_bytes())?;
    for (name, contents) in spec.environment.installer_inputs() {
        append(
            &mut builder,
            &format!("rserve-desk/{name}"),
            contents.as_bytes(),
        )?;
    }
    builder.into_inner()
}

/// One `LABEL` instruction for all labels: Docker 20.10's classic builder
/// makes a step (an intermediate container) of each label given to the build
/// API, which costs a code-only rebuild seconds. Label values are validated
/// (no quotes, backslashes or newlines), so double quotes hold them; `$` is
/// escaped so the builder does not expand it.
fn label_line(all: &HashMap<String, String>, base_id: &str) -> String {
    let base = (labels::BASE_ID.to_owned(), base_id.to_owned());
    let mut pairs: Vec<String> = all
        .iter()
        .chain([(&base.0, &base.1)])
        .map(|(k, v)| format!("\"{k}\"=\"{}\"", v.replace('$', "\\$")))
        .collect();
    pairs.sort();
    format!("LABEL {}\n", pairs.join(" "))
}

/// The Dockerfile of the code layer: the app's files, owned by root and
/// read-only for the app; `base_id` becomes a label.
pub fn app_dockerfile(spec: &AppSpec, base_id: &str) -> String {
    let from = packages_image(spec).unwrap_or_else(|| base_image(spec));
    format!(
        "FROM {from}\nCOPY app/ {APP_DIR}/\nENV RSERVE_MODE={mode}\n{labels}",
        mode = spec.mode.as_str(),
        labels = label_line(&labels::app_labels(spec), base_id),
    )
}

/// A tar archive with the code layer's Dockerfile and the app's files under `app/`.
pub fn app_context(spec: &AppSpec, base_id: &str) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    append(
        &mut builder,
        "Dockerfile",
        app_dockerfile(spec, base_id).as_bytes(),
    )?;
    for file in spec.files() {
        append(&mut builder, &format!("app/{}", file.path), &file.contents)?;
    }
    builder.into_inner()
}

/// Adds a root-owned, world-readable file with a fixed time, so equal inputs give equal layers.
fn append(builder: &mut tar::Builder<Vec<u8>>, path: &str, contents: &[u8]) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(contents.len() as u64);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    builder.append_data(&mut header, path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment::{DebPackage, Environment};
    use crate::spec::{RepoUrl, sample};

    fn spec(packages: &[&str], code: &str) -> AppSpec {
        let repo = RepoUrl::parse("http://cran:8000").unwrap();
        sample(
            &[("main.R", code), ("lib/util.R", "u <- 1")],
            packages,
            repo,
        )
        .unwrap()
    }

    #[test]
    fn the_packages_layer_installs_and_checks_each_package() {
        let dockerfile = packages_dockerfile(&spec(&["zoo", "abc"], "f <- 1"), "sha256:b");
        assert!(dockerfile.starts_with(
            "FROM rserve-base:4.2.2\nUSER root\nCOPY rserve-desk/ /tmp/rserve-desk/\n\
             RUN Rscript /tmp/rserve-desk/install.R && rm -rf /tmp/rserve-desk "
        ));
        assert!(!dockerfile.contains("apt-get"), "no system packages asked");
        assert!(dockerfile.contains("USER rserve\nLABEL "));
        assert!(dockerfile.contains("\"io.rserve-desk.role\"=\"packages\""));
        assert!(dockerfile.contains("\"io.rserve-desk.packages\"=\"abc,zoo\""));
        assert_eq!(
            dockerfile.matches("LABEL").count(),
            1,
            "one step for all labels"
        );
    }

    #[test]
    fn system_packages_come_first_with_apt() {
        let mut with = spec(&[], "f <- 1");
        with.environment = Environment::new(
            vec![],
            vec![],
            vec![
                DebPackage::parse("tree").unwrap(),
                DebPackage::parse("libz1").unwrap(),
            ],
        );
        let dockerfile = packages_dockerfile(&with, "sha256:b");
        assert!(dockerfile.contains(
            "apt-get install -y --no-install-recommends libz1 tree \\\n \
             || { echo \"rserve-desk: apt could not install the system packages libz1 tree\"; exit 1; }; }"
        ), "{dockerfile}");
        assert!(!dockerfile.contains("Rscript"), "no R packages asked");
        assert!(packages_image(&with).is_some());
    }

    #[test]
    fn the_packages_context_carries_the_installer_and_its_inputs() {
        let bytes = packages_context(&spec(&["zoo"], "f <- 1"), "sha256:b").unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut found = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let mut text = String::new();
            std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
            found.push((entry.path().unwrap().display().to_string(), text));
        }
        let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "Dockerfile",
                "rserve-desk/install.R",
                "rserve-desk/setup.R",
                "rserve-desk/packages"
            ]
        );
        assert!(
            found[2]
                .1
                .starts_with("repos <- c(CRAN = \"http://cran:8000\")\n")
        );
        assert_eq!(found[3].1, "zoo *\n");
    }

    #[test]
    fn label_values_are_not_expanded_by_the_builder() {
        let line = label_line(&HashMap::from([("k".to_owned(), "a$HOME".to_owned())]), "b");
        assert_eq!(
            line,
            "LABEL \"io.rserve-desk.base-id\"=\"b\" \"k\"=\"a\\$HOME\"\n"
        );
    }

    #[test]
    fn the_code_layer_builds_on_packages_or_on_the_base() {
        let with = spec(&["abc"], "f <- 1");
        assert!(
            app_dockerfile(&with, "sha256:b")
                .starts_with(&format!("FROM {}\n", packages_image(&with).unwrap()))
        );
        let without = spec(&[], "f <- 1");
        assert_eq!(packages_image(&without), None);
        assert!(app_dockerfile(&without, "sha256:b").starts_with("FROM rserve-base:4.2.2\n"));
    }

    #[test]
    fn a_code_change_keeps_the_packages_layer_and_changes_the_app_image() {
        let a = spec(&["abc"], "f <- 1");
        let b = spec(&["abc"], "f <- 2");
        assert_eq!(packages_image(&a), packages_image(&b));
        assert_eq!(packages_dockerfile(&a, "b"), packages_dockerfile(&b, "b"));
        assert_ne!(app_image(&a), app_image(&b));
    }

    #[test]
    fn the_context_holds_the_dockerfile_and_the_files_read_only() {
        let bytes = app_context(&spec(&[], "f <- 1"), "sha256:b").unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let entries: Vec<(String, u32)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().mode().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            entries,
            [
                ("Dockerfile".to_owned(), 0o644),
                ("app/lib/util.R".to_owned(), 0o644),
                ("app/main.R".to_owned(), 0o644)
            ]
        );
        assert_eq!(
            app_context(&spec(&[], "f <- 1"), "sha256:b").unwrap(),
            bytes,
            "deterministic"
        );
    }
}
