//! Docker build contexts made in memory: the generated Dockerfiles of the
//! packages layer and of the code layer, and the tar archives that carry them
//! with the app's files. Nothing is written to disk.

use std::collections::HashMap;

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

/// The Dockerfile of the packages layer: installs the packages, then proves
/// each one loads. `base_id` (the base image's id) becomes a label.
pub fn packages_dockerfile(spec: &AppSpec, base_id: &str) -> String {
    let quoted: Vec<String> = spec
        .packages()
        .iter()
        .map(|p| format!("\"{}\"", p.as_str()))
        .collect();
    let install = format!(
        "pkgs <- c({list}); \
         install.packages(pkgs, repos = \"{repo}\", Ncpus = 2L); \
         missing <- pkgs[!vapply(pkgs, requireNamespace, logical(1), quietly = TRUE)]; \
         if (length(missing)) {{ message(\"rserve-desk: could not install R packages: \", paste(missing, collapse = \", \")); quit(status = 1L) }}",
        list = quoted.join(", "),
        repo = spec.repo.as_str(),
    );
    format!(
        "FROM {base}\nUSER root\nRUN Rscript -e '{install}' && rm -rf /tmp/Rtmp* /tmp/downloaded_packages\nUSER rserve\n{labels}",
        base = base_image(spec),
        labels = label_line(&labels::packages_labels(spec), base_id),
    )
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

/// A tar archive holding only a Dockerfile.
pub fn dockerfile_only(dockerfile: &str) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    append(&mut builder, "Dockerfile", dockerfile.as_bytes())?;
    builder.into_inner()
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
        assert!(dockerfile.starts_with("FROM rserve-base:4.2.2\nUSER root\n"));
        assert!(dockerfile.contains("pkgs <- c(\"abc\", \"zoo\")"));
        assert!(dockerfile.contains("repos = \"http://cran:8000\""));
        assert!(dockerfile.contains("quit(status = 1L)"));
        assert!(dockerfile.contains("USER rserve\nLABEL "));
        assert!(dockerfile.contains("\"io.rserve-desk.role\"=\"packages\""));
        assert_eq!(
            dockerfile.matches("LABEL").count(),
            1,
            "one step for all labels"
        );
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
