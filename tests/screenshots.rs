//! `rdesk-screenshots`, run by `cargo xtask screenshots`: the README's
//! pictures, from a clean demo host made for them. The stand-in's bare VPS
//! is reset (no app, no Docker), added and bootstrapped from the window,
//! and the example app and a small second one are deployed by drops, the
//! second one twice so that it has versions. Each picture is the window's
//! page as WebDriver sees it, saved as PNG into the folder given as the
//! only argument.
// A tool: a panic is how it reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "panel.rs"]
#[allow(dead_code)]
mod panel;
#[path = "window_driver.rs"]
#[allow(dead_code)]
mod window_driver;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rdesk_e2e::app_folder;
use rdesk_e2e::vps::Vps;
use window_driver::Desktop;

/// How long the monitor samples the apps before the charts are taken.
const SAMPLING: Duration = Duration::from_secs(60);

const STATS_V1: &str = "# Summary statistics for a web page.\n\nsummarise <- function(x) {\n  x <- as.numeric(x)\n  list(n = length(x), mean = mean(x), sd = sd(x))\n}\n";
const STATS_V2: &str = "# Summary statistics for a web page.\n\nsummarise <- function(x) {\n  x <- as.numeric(x)\n  list(n = length(x), mean = mean(x), sd = sd(x), median = median(x))\n}\n\nquantiles <- function(x, probs = c(0.25, 0.5, 0.75)) {\n  quantile(as.numeric(x), probs)\n}\n";

async fn save(ui: &Desktop, out: &Path, name: &str) {
    let png = ui
        .client
        .screenshot()
        .await
        .expect("a WebDriver screenshot");
    let file = out.join(format!("{name}.png"));
    std::fs::write(&file, png).unwrap();
    println!("saved {}", file.display());
}

async fn scroll_to(ui: &Desktop, css: &str) {
    ui.client
        .execute(
            "document.querySelector(arguments[0]).scrollIntoView({block: 'start'});",
            vec![css.into()],
        )
        .await
        .unwrap();
}

async fn deploy(ui: &Desktop, onto: &str, app: &Path, new: bool) -> String {
    println!("deploying {} onto {onto}", app.display());
    ui.wait_text(onto, |_| true).await;
    ui.drop_onto(onto, &[app]).await;
    if new {
        ui.wait_text("#new-files", |t| !t.is_empty()).await;
        ui.click("#new-deploy").await;
    }
    let done = ui
        .wait_text_for("#deploy-done", Duration::from_secs(300), |t| !t.is_empty())
        .await;
    assert!(done.starts_with("Deployed"), "{done}");
    ui.click("#deploy button").await;
    ui.wait_gone("#deploy").await;
    done
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let out = PathBuf::from(std::env::args().nth(1).expect("the folder to save into"));
    std::fs::create_dir_all(&out).unwrap();
    let vps = Vps::from_env("screenshots").expect("the bare VPS stand-in");
    vps.reset();
    let host_key = PathBuf::from(std::env::var("RDESK_STANDIN_DIR").unwrap())
        .join("vps")
        .join("sshd")
        .join("ssh_host_ed25519_key.pub");
    let hello_source = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hello/hello.R"),
    )
    .unwrap();
    let (_hello_dir, hello) = app_folder("hello", &[("hello.R", &hello_source)]);
    let (_stats_dir, stats) = app_folder("stats", &[("stats.R", STATS_V1)]);
    let data = tempfile::tempdir().unwrap();

    let ui = Desktop::open(data.path(), "screenshots", &[&hello, &stats]).await;
    ui.client.set_window_size(1200, 780).await.unwrap();
    ui.add_host(&vps.ssh, &vps.identity, &vps.public_url, &host_key)
        .await;
    let form = ui.start_bootstrap(&vps.r_version).await;
    let outcome = ui
        .wait_text_for(&format!("{form} .outcome"), Duration::from_secs(600), |t| {
            !t.is_empty() && t != "running…"
        })
        .await;
    assert_eq!(outcome, "Bootstrapped.");
    scroll_to(&ui, form).await;
    save(&ui, &out, "bootstrap").await;

    ui.click("a.host[data-host=vps]").await;
    ui.wait_text("#apps", |_| true).await;
    // A deploy in progress: the files received and the build's lines as they come.
    ui.drop_onto(".hint", &[&hello]).await;
    ui.wait_text("#new-files", |t| !t.is_empty()).await;
    ui.click("#new-deploy").await;
    ui.wait_text_for("#deploy-log", Duration::from_secs(300), |t| {
        t.lines().count() >= 4
    })
    .await;
    save(&ui, &out, "deploy").await;
    ui.wait_text_for("#deploy-done", Duration::from_secs(300), |t| !t.is_empty())
        .await;
    ui.click("#deploy button").await;
    ui.wait_gone("#deploy").await;
    deploy(&ui, ".hint", &stats, true).await;
    std::fs::write(stats.join("stats.R"), STATS_V2).unwrap();
    deploy(&ui, "tr[data-drop-slug=stats]", &stats, false).await;
    println!("letting the monitor sample for {} s", SAMPLING.as_secs());
    tokio::time::sleep(SAMPLING).await;
    ui.click("a.host[data-host=vps]").await;
    ui.wait_html("#chart", |h| h.contains("%3Csvg")).await;
    save(&ui, &out, "apps").await;

    ui.click("tr[data-drop-slug=stats] a.open").await;
    ui.wait_text("#versions tr.version:nth-of-type(2)", |_| true)
        .await;
    ui.wait_html("#chart", |h| h.contains("%3Csvg")).await;
    save(&ui, &out, "app-page").await;
    scroll_to(&ui, "#versions").await;
    save(&ui, &out, "versions").await;
    ui.close().await;

    let dark = Desktop::open_with(
        data.path(),
        "screenshots-dark",
        &[],
        &[("GTK_THEME", "Adwaita:dark")],
    )
    .await;
    dark.client.set_window_size(1200, 780).await.unwrap();
    dark.click("a.host[data-host=vps]").await;
    dark.click("tr[data-drop-slug=stats] a.open").await;
    dark.wait_html("#chart", |h| h.contains("%3Csvg")).await;
    save(&dark, &out, "dark").await;
    dark.close().await;
}
