//! `cargo xtask run`: brings the stand-in up, builds the desktop app and
//! opens it with its state in `.standin/rdesk-data`, where the stand-in VPS
//! (`--with standin`, the default) or this machine's Docker (`--with local`)
//! is already added as a host. Without a display it says how to get one, or
//! `--screenshot FILE` runs it under Xvfb and saves the window.
//! `cargo xtask run --cli` is the command-line demo instead: the `rdesk` CLI
//! (crate rdesk-cli) adds the stand-in as host `standin`, deploys
//! `examples/hello`, and calls one of its functions.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::facts::{R_VERSION, Standin, var};
use crate::sh;
use crate::ui::{self, Outcome};
use crate::{desktop, standin};

pub const HOST: &str = "standin";
/// The local Docker's host name in the desktop demo.
pub const LOCAL_HOST: &str = "local";

/// Which host the desktop demo starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum With {
    /// The stand-in VPS over SSH (127.0.0.1:2222).
    Standin,
    /// This machine's Docker, no SSH.
    Local,
}

/// What to open, or (with `--cli`) what to deploy and call.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The command-line demo instead of the desktop app.
    #[arg(long)]
    pub cli: bool,
    /// The host the desktop app starts with.
    #[arg(long, value_enum, default_value = "standin")]
    pub with: With,
    /// Run the desktop app under Xvfb, save a screenshot of it there, and stop.
    #[arg(long)]
    pub screenshot: Option<PathBuf>,
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

/// Whether `rdesk host list` has a host named `name`.
fn has_host(st: &Standin, name: &str) -> Result<bool> {
    let listed = sh::capture(rdesk(st).args(["host", "list", "--json"]))?;
    let hosts: Vec<serde_json::Value> =
        serde_json::from_str(&listed).context("rdesk host list --json did not print a list")?;
    Ok(hosts.iter().any(|h| h["name"] == name))
}

/// Adds the stand-in as host `standin` unless it is there.
fn add_host(st: &Standin) -> Result<Outcome> {
    if has_host(st, HOST)? {
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

/// Adds this machine's Docker as host `local`, its apps served by the stand-in's Traefik.
fn add_local_host(st: &Standin) -> Result<Outcome> {
    if has_host(st, LOCAL_HOST)? {
        return ui::already(format!("host {LOCAL_HOST}"));
    }
    sh::capture(
        rdesk(st)
            .args([
                "host",
                "add",
                LOCAL_HOST,
                "--local",
                "--public-url",
                &st.public_url(),
            ])
            .stdin(Stdio::null()),
    )?;
    ui::done(format!("added host {LOCAL_HOST} (this machine's Docker)"))
}

fn has_display() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|d| !d.is_empty()))
}

/// The app under Xvfb in its own D-Bus session; `import` saves the screen once it has painted.
fn screenshot(st: &Standin, binary: &Path, out: &Path) -> Result<Outcome> {
    let script = r#"set -e
"$1" & app=$!
sleep 12
import -window root "$2"
kill -TERM "$app"
wait "$app" || true"#;
    sh::run_shown(
        Command::new("dbus-run-session")
            .args([
                "--",
                "xvfb-run",
                "-a",
                "-s",
                "-screen 0 1280x800x24",
                "sh",
                "-c",
                script,
                "sh",
            ])
            .arg(binary)
            .arg(std::path::absolute(out)?)
            .env(var::DATA_DIR, st.rdesk_data()),
    )?;
    ui::done(format!("saved {}", out.display()))
}

pub fn run(st: &Standin, args: &RunArgs) -> Result<()> {
    standin::up(st)?;
    if args.cli {
        return cli_demo(st, args);
    }
    std::fs::create_dir_all(st.rdesk_data())?;
    let binary = desktop::build(st)?;
    ui::step("build rdesk", || build_cli(st))?;
    match args.with {
        With::Standin => ui::step("host standin", || add_host(st))?,
        With::Local => ui::step("host local", || add_local_host(st))?,
    }
    if let Some(out) = &args.screenshot {
        return ui::step("screenshot under Xvfb", || screenshot(st, &binary, out));
    }
    if !has_display() {
        println!(
            "No display (DISPLAY and WAYLAND_DISPLAY are unset). Run it on a desktop, or under a virtual one:\n  \
             RDESK_DATA_DIR={} dbus-run-session -- xvfb-run -a {}\n  \
             or `cargo xtask run --screenshot window.png` to see it.",
            st.rdesk_data().display(),
            binary.display()
        );
        return Ok(());
    }
    println!(
        "opening Rserve Desk (data in {})",
        st.rdesk_data().display()
    );
    sh::run_shown(Command::new(&binary).env(var::DATA_DIR, st.rdesk_data()))
}

fn build_cli(st: &Standin) -> Result<Outcome> {
    sh::run_shown(
        Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .current_dir(&st.repo)
            .args(["build", "--package", "rdesk-cli", "--bin", "rdesk"]),
    )?;
    ui::done("built")
}

fn cli_demo(st: &Standin, args: &RunArgs) -> Result<()> {
    std::fs::create_dir_all(st.rdesk_data())?;
    let app = st.repo.join(&args.app);
    ui::step("build rdesk", || build_cli(st))?;
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
