//! Deploys from git, against the stand-in: a bare repository served over the
//! stand-in's sshd, cloned by `rdesk` with the user's SSH settings (here
//! `GIT_SSH_COMMAND` naming the stand-in's key, as a user's `~/.ssh/config`
//! would); a branch is deployed, a new commit pushed and the branch
//! redeployed, and the new function answers; the commit and the ref are in
//! the history and with each version; a ref that does not exist is a
//! sentence and makes nothing. The same from the window: a pasted URL.
// Test helpers: a panic is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use rdesk_e2e::{Rdesk, Standin, objects_of, remove_leftovers};

// Each test binary plays part of the panel and drives the window with
// part of the driver.
#[allow(dead_code)]
mod panel;
#[allow(dead_code)]
mod window_driver;
use window_driver::Desktop;

/// Runs `git ARGS` in `dir` as a test user would; returns its stdout.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.invalid",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A bare repository `sales.git` with a branch `main` of one commit, and a
/// working copy to push from.
struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new(code: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        git(
            dir.path(),
            &[
                "init",
                "--quiet",
                "--bare",
                "--initial-branch=main",
                "sales.git",
            ],
        );
        git(dir.path(), &["clone", "--quiet", "sales.git", "work"]);
        let repo = Self { dir };
        repo.commit(code, "first");
        repo
    }

    fn work(&self) -> std::path::PathBuf {
        self.dir.path().join("work")
    }

    /// Commits `code` as `app.R` on `main` and pushes it; returns the commit id.
    fn commit(&self, code: &str, message: &str) -> String {
        std::fs::write(self.work().join("app.R"), code).unwrap();
        git(&self.work(), &["add", "app.R"]);
        git(&self.work(), &["commit", "--quiet", "-m", message]);
        git(&self.work(), &["push", "--quiet", "origin", "HEAD:main"]);
        git(&self.work(), &["rev-parse", "HEAD"])
    }

    /// The repository's URL through the stand-in's sshd.
    fn url(&self, vps: &Standin) -> String {
        let (user_host, port) = vps.ssh.rsplit_once(':').unwrap();
        format!(
            "git+ssh://{user_host}:{port}{}",
            self.dir.path().join("sales.git").display()
        )
    }
}

/// The ssh git runs: the stand-in's key and a known_hosts in `data_dir`.
fn git_ssh(vps: &Standin, data_dir: &Path) -> String {
    format!(
        "ssh -i {} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile={}",
        vps.identity,
        data_dir.join("git_known_hosts").display()
    )
}

/// `rdesk ARGS` with ssh told to use the stand-in's key and a known_hosts of its own.
fn rdesk(desk: &Rdesk, vps: &Standin, args: &[&str]) -> Output {
    desk.command(args)
        .env("GIT_SSH_COMMAND", git_ssh(vps, desk.data_dir.path()))
        .output()
        .expect("rdesk runs")
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "rdesk failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn a_branch_deploys_and_its_new_commit_redeploys() {
    let Some(vps) = Standin::from_env("git_deploy") else {
        return;
    };
    let slug = "git-sales";
    remove_leftovers(slug);
    let desk = vps.desk();
    let repo = Repo::new("v <- function() 1L\n");
    let first = git(&repo.work(), &["rev-parse", "HEAD"]);
    let url = repo.url(&vps);
    let deploy = [
        "deploy", &url, "--ref", "main", "--host", "vps", "--slug", slug,
    ];
    let log = ok(&rdesk(
        &desk,
        &vps,
        &[&deploy[..], &["--access", "public"]].concat(),
    ));
    assert!(log.contains(&format!("main at {}", &first[..12])), "{log}");
    assert_eq!(desk.call_when_up(slug, "v", &[]), 1);

    let second = repo.commit(
        "v <- function() 2L\nadded <- function() \"new\"\n",
        "second",
    );
    ok(&rdesk(&desk, &vps, &deploy));
    assert_eq!(desk.call_when_up(slug, "added", &[]), "new");
    assert_eq!(desk.call(slug, "v", &[]), 2);

    let history = desk.json(&["history", slug, "--host", "vps"]);
    let builds: Vec<(String, String)> = history["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["action"] == "build")
        .map(|d| {
            (
                d["origin"]["reference"].as_str().unwrap().to_owned(),
                d["origin"]["commit"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        builds,
        [
            ("main".to_owned(), second.clone()),
            ("main".to_owned(), first.clone())
        ],
        "newest first"
    );
    let versions = desk.ok(&["versions", slug, "--host", "vps"]);
    for commit in [&first, &second] {
        assert!(versions.contains(&commit[..12]), "{versions}");
    }

    let before = objects_of(slug);
    let out = rdesk(
        &desk,
        &vps,
        &[
            "deploy", &url, "--ref", "nope", "--host", "vps", "--slug", slug,
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("has no branch, tag or commit `nope`"), "{err}");
    assert_eq!(objects_of(slug), before, "a missing ref makes nothing");
    assert_eq!(
        desk.call(slug, "added", &[]),
        "new",
        "and the app keeps serving"
    );
    // A token change cut short (its process killed) leaves a helper made
    // from the app's image; removing the app removes it too.
    let image = rdesk_e2e::docker_inspect(&rdesk_e2e::running_container(slug))["Image"]
        .as_str()
        .unwrap()
        .to_owned();
    rdesk_e2e::docker_out(&[
        "create",
        "--label",
        "io.rserve-desk.owner=rserve-desk",
        "--label",
        "io.rserve-desk.role=access",
        "--label",
        &format!("io.rserve-desk.slug={slug}"),
        &image,
    ]);
    desk.ok(&["rm", slug, "--host", "vps"]);
    assert!(objects_of(slug).is_empty(), "{:?}", objects_of(slug));
}

/// The window's way in: a pasted URL and ref, cloned on this computer,
/// then the new-app form; a ref that does not exist is a sentence, and each
/// version shows the ref and commit it was built from.
#[tokio::test]
async fn a_pasted_url_deploys_from_the_window() {
    let Some(vps) = Standin::from_env("git_deploy: from the window") else {
        return;
    };
    let slug = "git-window";
    remove_leftovers(slug);
    let repo = Repo::new("w <- function() \"from git\"\n");
    let commit = git(&repo.work(), &["rev-parse", "HEAD"]);
    let data = tempfile::tempdir().unwrap();
    let ssh = git_ssh(&vps, data.path());
    let ui = Desktop::open_with(data.path(), "git-window", &[], &[("GIT_SSH_COMMAND", &ssh)]).await;
    ui.add_standin(&vps).await;
    ui.type_into("#git-url", &repo.url(&vps)).await;
    ui.type_into("#git-ref", "nope").await;
    ui.click("#git-preview").await;
    let said = ui.wait_text("#error", |t| !t.is_empty()).await;
    assert!(
        said.contains("has no branch, tag or commit `nope`"),
        "{said}"
    );
    assert!(objects_of(slug).is_empty(), "a missing ref makes nothing");

    ui.type_into("#git-ref", "main").await;
    ui.click("#git-preview").await;
    ui.wait_text("#new-files", |t| t.contains("app.R")).await;
    let from = ui.wait_text("#new-git", |t| !t.is_empty()).await;
    assert!(from.ends_with(" main"), "{from}");
    ui.type_into("#new-slug", slug).await;
    ui.click("#new-deploy").await;
    let done = ui.wait_text("#deploy-done", |t| !t.is_empty()).await;
    assert!(done.starts_with("Deployed git-window"), "{done}");
    let log = ui
        .wait_text("#deploy-log", |t| t.contains("checked out"))
        .await;
    assert!(
        log.contains(&format!("checked out main at {}", &commit[..12])),
        "{log}"
    );
    ui.click("#deploy button").await;

    ui.click(&format!("tr[data-drop-slug={slug}] a.open")).await;
    let origin = ui
        .wait_text("#versions tr.current .origin", |t| !t.is_empty())
        .await;
    assert_eq!(origin, format!("git main at {}", &commit[..12]));
    ui.close().await;
    vps.desk().ok(&["rm", slug, "--host", "vps"]);
}
