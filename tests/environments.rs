//! R environments that match real projects, against the stand-in: a
//! `renv.lock` pinning `rdeskdemo` 0.1.0 (in the test repository's archive;
//! 0.2.0 is current) runs with 0.1.0, a second app with the same lock reuses
//! its packages layer, another version makes a new layer, a version no
//! repository has fails with a sentence naming it while the old version keeps
//! serving; a Debian package listed in `apt.txt` is installed, beside a
//! package from the repository chosen for the host; what cannot be installed
//! is refused before anything is built.
// Test helpers: a panic is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use rdesk_e2e::{Rdesk, Standin, app_folder, objects_of, remove_leftovers};

/// The stand-in and a fresh desk, the `slugs` cleared of an earlier run's
/// leftovers; `None` when end-to-end tests are off.
fn fresh(test: &str, slugs: &[&str]) -> Option<(Standin, Rdesk)> {
    let vps = Standin::from_env(test)?;
    for slug in slugs {
        remove_leftovers(slug);
    }
    let desk = vps.desk();
    Some((vps, desk))
}

/// A `renv.lock` pinning `rdeskdemo` at `version`, from the stand-in's repository.
fn lock(vps: &Standin, version: &str) -> String {
    format!(
        r#"{{
  "R": {{"Version": "{r}", "Repositories": [{{"Name": "CRAN", "URL": "{repo}"}}]}},
  "Packages": {{
    "rdeskdemo": {{"Package": "rdeskdemo", "Version": "{version}", "Source": "Repository", "Repository": "CRAN"}},
    "Rserve": {{"Package": "Rserve", "Version": "1.8-11", "Source": "Repository", "Repository": "CRAN"}}
  }}
}}"#,
        r = vps.r_version,
        repo = vps.repo,
    )
}

const CODE: &str = "demo_version <- function() as.character(utils::packageVersion(\"rdeskdemo\"))\n\
                    shouted <- function() rdeskdemo::shout(\"hi\")\n";

#[test]
fn a_locked_version_is_installed_shared_and_a_missing_one_is_named() {
    let (first, second) = ("env-lock-a", "env-lock-b");
    let Some((vps, desk)) = fresh("environments_lock", &[first, second]) else {
        return;
    };
    let (_dir, app) = app_folder(
        first,
        &[("app.R", CODE), ("renv.lock", &lock(&vps, "0.1.0"))],
    );
    let log = desk.deploy(&app, first, &["--access", "public"]);
    assert!(
        log.contains("rdeskdemo@0.1.0"),
        "the log names the version:\n{log}"
    );
    assert_eq!(desk.call_when_up(first, "demo_version", &[]), "0.1.0");
    assert_eq!(desk.call(first, "shouted", &[]), "HI!");

    let (_dir2, app2) = app_folder(
        second,
        &[("app.R", CODE), ("renv.lock", &lock(&vps, "0.1.0"))],
    );
    let log = desk.deploy(&app2, second, &["--access", "public"]);
    assert!(
        log.contains("reusing packages layer") && log.contains("rdeskdemo@0.1.0"),
        "the same lock shares the layer:\n{log}"
    );
    assert_eq!(desk.call_when_up(second, "demo_version", &[]), "0.1.0");

    std::fs::write(app.join("renv.lock"), lock(&vps, "0.9.9")).unwrap();
    let err = desk.deploy_fails(&app, first);
    assert!(
        err.contains("renv.lock asks for rdeskdemo 0.9.9, which none of the repositories"),
        "the sentence names the missing version:\n{err}"
    );
    assert_eq!(
        desk.call(first, "demo_version", &[]),
        "0.1.0",
        "the old version keeps serving"
    );

    std::fs::write(app.join("renv.lock"), lock(&vps, "0.2.0")).unwrap();
    let log = desk.deploy(&app, first, &[]);
    assert!(
        log.contains("building packages layer") && log.contains("rdeskdemo@0.2.0"),
        "another version makes another layer:\n{log}"
    );
    assert_eq!(desk.call_when_up(first, "demo_version", &[]), "0.2.0");
    for slug in [first, second] {
        desk.ok(&["rm", slug, "--host", "vps"]);
    }
}

#[test]
fn a_debian_package_in_apt_txt_is_installed_beside_packages_from_the_hosts_repository() {
    let slug = "env-apt";
    let Some((vps, desk)) = fresh("environments_apt", &[slug]) else {
        return;
    };
    let shown = desk.json(&["host", "repo", "vps"]);
    assert_eq!(
        shown["repo"],
        serde_json::Value::Null,
        "no repository chosen yet"
    );
    desk.ok(&["host", "repo", "vps", &vps.repo]);
    let code = "library(rdeskdemo)\n\
                has_sodium <- function() length(Sys.glob(\"/usr/lib/*/libsodium.so.23*\")) > 0L\n\
                loud <- function() shout(\"apt\")\n";
    let (_dir, app) = app_folder(
        slug,
        &[
            ("app.R", code),
            ("apt.txt", "# the sodium library\nlibsodium23\n"),
        ],
    );
    let log = desk.deploy(&app, slug, &["--access", "public"]);
    assert!(log.contains("rdeskdemo; apt: libsodium23"), "{log}");
    assert_eq!(desk.call_when_up(slug, "has_sodium", &[]), true);
    assert_eq!(
        desk.call(slug, "loud", &[]),
        "APT!",
        "from the host's repository"
    );
    let cleared = desk.json(&["host", "repo", "vps", "--clear"]);
    assert_eq!(cleared["repo"], serde_json::Value::Null);
    desk.ok(&["rm", slug, "--host", "vps"]);
}

#[test]
fn what_cannot_be_installed_is_refused_before_building() {
    let slug = "env-refused";
    let Some((_vps, desk)) = fresh("environments_refused", &[slug]) else {
        return;
    };
    let github =
        r#"{"Packages": {"mine": {"Package": "mine", "Version": "1.0", "Source": "GitHub"}}}"#;
    for (file, contents, says) in [
        (
            "apt.txt",
            "libsodium23 evil;rm\n",
            "`evil;rm` is not a valid Debian package name",
        ),
        ("renv.lock", "{\"Packages\": ", "renv.lock cannot be read"),
        ("renv.lock", github, "renv.lock installs mine from GitHub"),
    ] {
        let (_dir, app) = app_folder(slug, &[("app.R", "f <- function() 1\n"), (file, contents)]);
        let err = desk.deploy_fails(&app, slug);
        assert!(err.contains(says), "{file}: expected {says:?} in:\n{err}");
        assert!(objects_of(slug).is_empty(), "{file}: nothing was made");
    }
}
