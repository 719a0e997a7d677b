//! The CRAN-like test repository: the packages under `tests/fixtures/cran/`
//! built with the host's `R CMD build`, indexed with `tools::write_PACKAGES`
//! into `.standin/cran/src/contrib`, older versions of some ([`ARCHIVED`])
//! in `src/contrib/Archive/<package>/` as CRAN keeps them, served by busybox httpd in the container
//! `rserve-desk-cran` on the build network `rserve-desk-build` (never the
//! apps' network), and a check that an image build with `--network
//! rserve-desk-build` installs from it by container name.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::docker::{self, Build, ContainerSpec};
use crate::facts::{
    BASE_IMAGE, BUILD_NETWORK, CRAN_CONTAINER, CRAN_IMAGE, CRAN_PORT, DEBIAN_IMAGE, HASH_LABEL,
    OWNER, OWNER_LABEL, ROLE_LABEL, Standin,
};
use crate::procs;
use crate::sh;
use crate::state::{Stamps, hash_parts, hash_tree};
use crate::ui::{self, Health, Outcome};

/// The package the install check installs, and what its function returns.
const CHECK_PACKAGE: &str = "rdeskdemo";

/// Older versions the repository keeps in its archive: (package, version),
/// each built from the fixture with its `Version:` rewritten.
pub const ARCHIVED: &[(&str, &str)] = &[("rdeskdemo", "0.1.0")];

fn server_dockerfile() -> String {
    format!(
        "FROM {DEBIAN_IMAGE}\n\
         RUN apt-get update \\\n \
         && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends busybox \\\n \
         && apt-get clean && rm -rf /var/lib/apt/lists/*\n\
         EXPOSE {CRAN_PORT}\n"
    )
}

/// The image that serves the repository (and the route check's web server).
pub fn server_image(st: &Standin) -> Result<Outcome> {
    let dockerfile = server_dockerfile();
    let debian = docker::image(DEBIAN_IMAGE)
        .context("debian image missing")?
        .id;
    let hash = hash_parts([dockerfile.as_str(), debian.as_str()]);
    if docker::image(CRAN_IMAGE).is_some_and(|i| i.hash() == Some(hash.as_str())) {
        return ui::already(format!("image {CRAN_IMAGE}"));
    }
    let context = st.dir.join("cran-server-image");
    fs::create_dir_all(&context)?;
    fs::write(context.join("Dockerfile"), dockerfile)?;
    let mut build = Build::new(CRAN_IMAGE, &context);
    build.labels = vec![
        (OWNER_LABEL, OWNER.to_string()),
        (ROLE_LABEL, "cran".to_string()),
        (HASH_LABEL, hash),
    ];
    build.run(&st.log("cran"))?;
    ui::done(format!("built image {CRAN_IMAGE}"))
}

/// Folders under `tests/fixtures/cran/` that hold an R package.
fn fixture_packages(st: &Standin) -> Result<Vec<PathBuf>> {
    let root = st.cran_fixtures();
    let mut pkgs: Vec<PathBuf> = fs::read_dir(&root)
        .with_context(|| format!("cannot read {}", root.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("DESCRIPTION").is_file())
        .collect();
    pkgs.sort();
    if pkgs.is_empty() {
        bail!(
            "no R package (a folder with DESCRIPTION) under {}",
            root.display()
        );
    }
    Ok(pkgs)
}

fn fixtures_hash(st: &Standin) -> Result<String> {
    let archived: Vec<String> = ARCHIVED.iter().map(|(p, v)| format!("{p}@{v}")).collect();
    hash_tree(
        &st.cran_fixtures(),
        &|rel: &Path| rel.ends_with("README.md"),
        &archived.iter().map(String::as_str).collect::<Vec<_>>(),
    )
}

/// `DESCRIPTION` with its `Version:` field set to `version`.
fn with_version(description: &str, version: &str) -> String {
    description
        .lines()
        .map(|line| {
            if line.starts_with("Version:") {
                format!("Version: {version}")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Builds each [`ARCHIVED`] version into `contrib/Archive/<package>/`.
fn archive(st: &Standin, contrib: &Path, work: &Path, log: &Path) -> Result<Vec<String>> {
    let mut built = Vec::new();
    for (package, version) in ARCHIVED {
        let copies = work.join("archived").join(version);
        fs::create_dir_all(&copies)?;
        sh::run_logged(
            Command::new("cp")
                .arg("-r")
                .arg(st.cran_fixtures().join(package))
                .arg(&copies),
            log,
        )?;
        let source = copies.join(package);
        let description = source.join("DESCRIPTION");
        fs::write(
            &description,
            with_version(&fs::read_to_string(&description)?, version),
        )?;
        ui::note(format!("R CMD build {package} {version} (archived)"));
        let into = contrib.join("Archive").join(package);
        fs::create_dir_all(&into)?;
        sh::run_logged(
            Command::new("R")
                .args(["CMD", "build", "--no-build-vignettes", "--no-manual"])
                .arg(&source)
                .current_dir(&into),
            log,
        )?;
        built.push(format!("{package} {version} (archived)"));
    }
    Ok(built)
}

/// Builds and indexes the fixture packages when their sources changed.
pub fn repository(st: &Standin) -> Result<Outcome> {
    let contrib = st.cran_contrib();
    let hash = fixtures_hash(st)?;
    let stamps = Stamps::new(st.stamps());
    if stamps.matches("cran-repo", &hash) && contrib.join("PACKAGES").is_file() {
        return ui::already(format!("repository in {}", contrib.display()));
    }
    let log = st.log("cran");
    let work = st.dir.join("cran-build");
    if work.exists() {
        fs::remove_dir_all(&work)?;
    }
    fs::create_dir_all(&work)?;
    if contrib.exists() {
        fs::remove_dir_all(&contrib)?;
    }
    fs::create_dir_all(&contrib)?;
    let mut built = Vec::new();
    for pkg in fixture_packages(st)? {
        ui::note(format!("R CMD build {}", pkg.display()));
        sh::run_logged(
            Command::new("R")
                .args(["CMD", "build", "--no-build-vignettes", "--no-manual"])
                .arg(&pkg)
                .current_dir(&work),
            &log,
        )?;
    }
    for entry in fs::read_dir(&work)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".tar.gz") {
            fs::rename(entry.path(), contrib.join(&name))?;
            built.push(name);
        }
    }
    ui::note("tools::write_PACKAGES(type = \"source\")");
    sh::run_logged(
        Command::new("Rscript")
            .args([
                "-e",
                "tools::write_PACKAGES(commandArgs(TRUE)[1], type = \"source\")",
            ])
            .arg(&contrib),
        &log,
    )?;
    built.sort();
    built.extend(archive(st, &contrib, &work, &log)?);
    fs::remove_dir_all(&work)?;
    stamps.set("cran-repo", &hash)?;
    ui::done(format!("built and indexed {}", built.join(", ")))
}

/// The container serving `.standin/cran` read-only on port 8000.
pub fn container(st: &Standin) -> Result<Outcome> {
    let served = st.cran_dir();
    fs::create_dir_all(&served)?;
    // A bind mount follows the folder, not its path: when `.standin` was
    // deleted and made again, the container must be made again too.
    let inode = fs::metadata(&served)?.ino();
    let options = vec![
        "--label".to_string(),
        format!("io.rserve-desk.served-inode={inode}"),
        "--network".to_string(),
        BUILD_NETWORK.to_string(),
        "--restart".to_string(),
        "unless-stopped".to_string(),
        "--volume".to_string(),
        format!("{}:/srv/cran:ro", served.display()),
    ];
    let command = [
        "busybox",
        "httpd",
        "-f",
        "-p",
        &CRAN_PORT.to_string(),
        "-h",
        "/srv/cran",
    ]
    .map(String::from)
    .to_vec();
    let outcome = ContainerSpec {
        name: CRAN_CONTAINER,
        role: "cran",
        image: CRAN_IMAGE,
        options,
        command,
    }
    .ensure()?;
    // A container just made or started may not listen yet; the install
    // check right after it would then fail on a refused connection.
    if !procs::wait_until(SERVING_WITHIN, serves_the_index) {
        bail!("{CRAN_CONTAINER} did not serve its index within {SERVING_WITHIN:?}");
    }
    Ok(outcome)
}

/// How long a made or started repository container may take to listen.
const SERVING_WITHIN: Duration = Duration::from_secs(20);

/// The repository container answers for its index, from inside itself.
fn serves_the_index() -> bool {
    let index = format!("http://127.0.0.1:{CRAN_PORT}/src/contrib/PACKAGES");
    sh::succeeds(docker::docker().args([
        "exec",
        CRAN_CONTAINER,
        "busybox",
        "wget",
        "-q",
        "-O",
        "/dev/null",
        &index,
    ]))
}

fn check_dockerfile(repo: &str) -> String {
    format!(
        "FROM {BASE_IMAGE}\n\
         USER root\n\
         RUN Rscript -e 'install.packages(\"{CHECK_PACKAGE}\", repos = \"{repo}\"); \
         library({CHECK_PACKAGE}); stopifnot(identical(shout(\"hi\"), \"HI!\")); \
         cat(\"install check: ok\\n\")'\n\
         USER rserve\n"
    )
}

/// One `docker build --network rserve-desk --no-cache` installing from `repo`.
fn build_installs(st: &Standin, repo: &str) -> Result<()> {
    let context = st.dir.join("install-check");
    fs::create_dir_all(&context)?;
    fs::write(context.join("Dockerfile"), check_dockerfile(repo))?;
    let tag = "rserve-desk/install-check:latest";
    let mut build = Build::new(tag, &context);
    build.network = Some(BUILD_NETWORK);
    build.no_cache = true;
    build.labels = vec![(OWNER_LABEL, OWNER.to_string())];
    let result = build.run(&st.log("install-check"));
    sh::succeeds(docker::docker().args(["image", "rm", tag]));
    result
}

/// Checks that an image build on the network installs a package from the
/// repository by the container's name (as app builds will). Skipped when it
/// passed with the same base image, server container and repository.
pub fn install_check(st: &Standin) -> Result<Outcome> {
    let base = docker::image(BASE_IMAGE).context("no base image")?;
    let server = docker::container(CRAN_CONTAINER).context("no repository container")?;
    let index = fs::read(st.cran_contrib().join("PACKAGES")).unwrap_or_default();
    let key = hash_parts([base.id.as_bytes(), server.id.as_bytes(), &index]);
    let stamps = Stamps::new(st.stamps());
    if stamps.matches("install-check", &key) {
        return ui::already("build-time install by container name checked");
    }
    let by_name = st.repo_url();
    ui::note(format!(
        "docker build --network {BUILD_NETWORK}: install.packages(\"{CHECK_PACKAGE}\", repos = \"{by_name}\")"
    ));
    if let Err(by_name_err) = build_installs(st, &by_name) {
        // Say what does work, to help whoever has to change the product.
        let hint = match docker::container_ip(CRAN_CONTAINER, BUILD_NETWORK) {
            Some(ip) => {
                let by_ip = format!("http://{ip}:{CRAN_PORT}");
                match build_installs(st, &by_ip) {
                    Ok(()) => format!("by IP ({by_ip}) it works"),
                    Err(_) => format!("by IP ({by_ip}) it fails too"),
                }
            }
            None => format!("{CRAN_CONTAINER} has no IP on {BUILD_NETWORK}"),
        };
        return Err(by_name_err.context(format!(
            "a build on network {BUILD_NETWORK} could not install from {by_name}; {hint}"
        )));
    }
    stamps.set("install-check", &key)?;
    ui::done(format!(
        "a build with --network {BUILD_NETWORK} installed {CHECK_PACKAGE} from {by_name}"
    ))
}

pub fn down() -> Result<Outcome> {
    if docker::remove_container(CRAN_CONTAINER)? {
        ui::done(format!("removed {CRAN_CONTAINER}"))
    } else {
        ui::already(format!("no {CRAN_CONTAINER}"))
    }
}

pub fn status(st: &Standin) -> Health {
    if !st.cran_contrib().join("PACKAGES").is_file() {
        return ui::unhealthy(format!("no index in {}", st.cran_contrib().display()));
    }
    match docker::container(CRAN_CONTAINER) {
        Some(c) if c.running() => ui::healthy(format!(
            "{CRAN_CONTAINER} running, serves {}",
            st.repo_url()
        )),
        Some(c) => ui::unhealthy(format!("{CRAN_CONTAINER} {}", c.status)),
        None => ui::unhealthy(format!("container {CRAN_CONTAINER} missing")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_dockerfile_installs_from_the_repo() {
        let d = check_dockerfile("http://x:8000");
        assert!(d.starts_with("FROM rserve-base:4.2.2\nUSER root\n"));
        assert!(d.contains("repos = \"http://x:8000\""));
        assert!(d.ends_with("USER rserve\n"));
    }

    #[test]
    fn an_archived_version_is_the_fixture_with_another_version() {
        let description = "Package: p\nVersion: 0.2.0\nTitle: T\n";
        assert_eq!(
            with_version(description, "0.1.0"),
            "Package: p\nVersion: 0.1.0\nTitle: T\n"
        );
    }

    #[test]
    fn finds_the_fixture_package() {
        let st = Standin::locate().unwrap();
        let pkgs = fixture_packages(&st).unwrap();
        assert!(pkgs.iter().any(|p| p.ends_with(CHECK_PACKAGE)), "{pkgs:?}");
    }
}
