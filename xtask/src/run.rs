//! `cargo xtask run`: brings the stand-in up, then drives the `rdesk` CLI
//! (crate rdesk-cli) with its state in `.standin/rdesk-data`: adds the
//! stand-in as host `standin`, deploys `examples/hello`, and calls one of its
//! functions. (Until the desktop app exists, this is how to see it work.)

use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::facts::{R_VERSION, Standin, var};
use crate::sh;
use crate::standin;
use crate::ui::{self, Outcome};

pub const HOST: &str = "standin";

/// What to deploy and call.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// App folder to deploy, relative to the repository.
    #[arg(long, default_value = "examples/hello")]
    pub app: String,
    /// The app's slug (its path on the stand-in's Traefik).
    #[arg(long, default_value = "hello")]
    pub slug: String,
    /// R packages to install from the stand-in's repository.
    #[arg(long = "package")]
    pub packages: Vec<String>,
    /// The function to call after the deploy.
    #[arg(long, default_value = "hello")]
    pub function: String,
    /// JSON arguments of the call.
    #[arg(default_values_t = [r#""Rserve Desk""#.to_string()])]
    pub args: Vec<String>,
}

/// `rdesk ...`, built and run by cargo, with its state in `.standin/rdesk-data`.
fn rdesk(st: &Standin) -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(&st.repo)
        .args([
            "run",
            "--quiet",
            "--package",
            "rdesk-cli",
            "--bin",
            "rdesk",
            "--",
        ])
        .env(var::DATA_DIR, st.rdesk_data());
    cmd
}

/// Adds the stand-in as host `standin` unless `rdesk host list` already has it.
fn add_host(st: &Standin) -> Result<Outcome> {
    let listed = sh::capture(rdesk(st).args(["host", "list", "--json"]))?;
    let hosts: Vec<serde_json::Value> =
        serde_json::from_str(&listed).context("rdesk host list --json did not print a list")?;
    if hosts.iter().any(|h| h["name"] == HOST) {
        return ui::already(format!("host {HOST}"));
    }
    sh::capture(
        rdesk(st)
            .args(["host", "add", HOST, "--ssh", &st.ssh_target(), "--identity"])
            .arg(st.client_key())
            .args(["--public-url", &st.public_url()])
            .stdin(Stdio::null()),
    )?;
    ui::done(format!("added host {HOST} ({})", st.ssh_target()))
}

pub fn run(st: &Standin, args: &RunArgs) -> Result<()> {
    standin::up(st)?;
    std::fs::create_dir_all(st.rdesk_data())?;
    let app = st.repo.join(&args.app);
    ui::step("build rdesk", || {
        sh::run_shown(
            Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
                .current_dir(&st.repo)
                .args(["build", "--package", "rdesk-cli", "--bin", "rdesk"]),
        )?;
        ui::done("built")
    })?;
    ui::step("host standin", || add_host(st))?;
    ui::step(&format!("deploy {}", args.app), || {
        if !app.is_dir() {
            bail!("{} does not exist", app.display());
        }
        let mut cmd = rdesk(st);
        cmd.arg("deploy").arg(&app).args([
            "--host",
            HOST,
            "--slug",
            &args.slug,
            "--r-version",
            R_VERSION,
        ]);
        if !args.packages.is_empty() {
            for p in &args.packages {
                cmd.args(["--package", p]);
            }
            cmd.args(["--repo", &st.repo_url()]);
        }
        sh::run_shown(&mut cmd)?;
        ui::done(format!(
            "deployed as {} at {}/{}",
            args.slug,
            st.public_url(),
            args.slug
        ))
    })?;
    ui::step(&format!("call {}::{}", args.slug, args.function), || {
        let out = sh::capture(
            rdesk(st)
                .args(["call", &args.slug, &args.function])
                .args(&args.args)
                .args(["--host", HOST]),
        )?;
        ui::done(format!("returned {out}"))
    })
}
