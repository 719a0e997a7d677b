//! `cargo xtask`: repository chores.
//!
//! - `standin up|down|status|env`: the stand-in VPS on this machine (Docker
//!   engine, Traefik, a CRAN-like repository, sshd), made idempotently;
//!   `standin vps up|down|status`: only the bare VPS (a network namespace
//!   with its own sshd and, once bootstrapped, its own Docker);
//!   `standin swarm up|down|status`: only the swarm's three such nodes.
//! - `test`: stand-in up, then fmt, tidy, clippy, the debug build packaged as
//!   a `.deb` (for tests/package.rs) and the workspace's tests.
//! - `run`: stand-in up, then build and open the desktop app (`--cli`: deploy
//!   `examples/hello` with the `rdesk` CLI instead).
//! - `ui`: the desktop toolchain, then the UI into `app/dist`.
//! - `bench`: stand-in up, then the benchmark figures as ratios from one run.
//! - `fuzz`: the stable-Rust fuzz harness over the QAP decoder, the Rserve
//!   greeting and intake (10 million inputs by default), then its figures.
//! - `relay`: a TCP relay that plays a slow link (the stand-in's and each
//!   swarm node's slow path).
//! - `dist`: the release packages (`.deb`, `.rpm`) with Tauri's bundler.
//! - `icons`: every icon size and the tray's icons from `icons/source.png`.
//! - `tidy`: ARCHITECTURE.md's dependency rules from `cargo metadata`, no
//!   source file over 600 lines unless allowed, and the icons up to date.

mod apt;
mod base;
mod bench;
mod cran;
mod debian;
mod desktop;
mod dist;
mod docker;
mod dockerd;
mod facts;
mod filter;
mod fuzz;
mod housekeeping;
mod http;
mod icons;
mod networks;
mod node;
mod procs;
mod pwuser;
mod relay;
mod run;
mod screenshots;
mod sh;
mod slowpath;
mod sshd;
mod standin;
mod state;
mod swarm;
mod test;
mod tidy;
mod traefik;
mod ui;
mod vps;

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use facts::Standin;

#[derive(Debug, Parser)]
#[command(
    name = "xtask",
    bin_name = "cargo xtask",
    about = "Rserve Desk repository chores"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// The stand-in VPS on this machine (state in <repo>/.standin).
    Standin {
        #[command(subcommand)]
        action: StandinCmd,
    },
    /// Stand-in up, then cargo fmt --check, clippy -D warnings and cargo test
    /// with the stand-in's variables. Arguments after `--` go to cargo test.
    Test {
        #[arg(last = true)]
        cargo_test_args: Vec<String>,
    },
    /// Stand-in up, then build and open the desktop app with the stand-in
    /// (or this machine's Docker) as a host. With `--cli`: add the stand-in
    /// as host `standin`, deploy an app and call it with the `rdesk` CLI.
    Run(run::RunArgs),
    /// Install the desktop toolchain (wasm32 target, wasm-bindgen, tauri-driver)
    /// and build the UI into app/dist.
    Ui,
    /// Stand-in up, then measure (figures as ratios from one run): links,
    /// deploys, the monitor, and the desktop app's release build.
    Bench(bench::BenchArgs),
    /// Fuzz the QAP decoder, the Rserve greeting and archive/folder intake
    /// (optimized build, one process per target); fails on a panic, a hang
    /// or memory over the cap.
    Fuzz(fuzz::FuzzArgs),
    /// Relay TCP from `--listen` to `--to`, each byte a fixed delay late in
    /// each direction, optionally under a bandwidth cap (what `standin up`
    /// runs as the slow path in front of the stand-in's sshd and of each swarm
    /// node's). Runs until killed.
    Relay {
        #[arg(long)]
        listen: std::net::SocketAddr,
        #[arg(long)]
        to: std::net::SocketAddr,
        /// One-way delay, in each direction.
        #[arg(long, default_value_t = 40)]
        delay_ms: u64,
        /// Bandwidth cap in each direction, in megabits per second; 0 for none.
        #[arg(long, default_value_t = 0)]
        cap_mbit: u64,
    },
    /// Take the README's screenshots into docs/ from a demo host made for
    /// them (the bare VPS stand-in, reset and bootstrapped from the window).
    Screenshots,
    /// Check ARCHITECTURE.md's dependency rules (from cargo metadata), that
    /// no source file is over 600 lines unless on tidy's allow-list, and that
    /// the icons are what `cargo xtask icons` makes.
    Tidy,
    /// Build the `dist` profile and package it with Tauri's bundler (Linux:
    /// a .deb and an .rpm under <target>/dist/bundle/).
    Dist(dist::DistArgs),
    /// Make every icon in icons/ (bundle sizes, .ico, .icns, the tray's
    /// icons) from icons/source.png.
    Icons {
        /// Redraw icons/source.png from its code first.
        #[arg(long)]
        redraw_source: bool,
    },
}

#[derive(Debug, Subcommand)]
enum StandinCmd {
    /// Install, start and check everything the stand-in needs.
    Up,
    /// Stop what `up` started (sshd, dockerd if it started it) and remove
    /// its containers.
    Down,
    /// Print the state of each part; fails if one is not up.
    Status,
    /// Print the tests' variables as `export K=V` lines.
    Env,
    /// Only the bare VPS: a network namespace with its own sshd (and, once
    /// bootstrapped, its own Docker) at 10.213.7.2. Also part of up/down/status.
    Vps {
        #[command(subcommand)]
        action: VpsCmd,
    },
    /// Only the swarm's nodes: three bare VPSs (node1..node3) on a LAN at
    /// 10.213.8.0/24, each also behind a slow relay on 127.0.0.1, for the
    /// cluster tests and bench. Also part of up/down/status.
    Swarm {
        #[command(subcommand)]
        action: VpsCmd,
    },
}

#[derive(Debug, Subcommand)]
enum VpsCmd {
    /// Make the namespaces, their links and their sshd.
    Up,
    /// Stop their dockerd and sshd (by pid file), remove the namespaces.
    Down,
    /// One line per part; fails if one is not up.
    Status,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = Standin::locate().and_then(|st| match &cli.command {
        Cmd::Standin { action } => match action {
            StandinCmd::Up => standin::up(&st),
            StandinCmd::Down => standin::down(&st),
            StandinCmd::Status => standin::status(&st),
            StandinCmd::Vps { action } => match action {
                VpsCmd::Up => standin::vps_up(&st),
                VpsCmd::Down => standin::vps_down(&st),
                VpsCmd::Status => standin::vps_status(&st),
            },
            StandinCmd::Swarm { action } => match action {
                VpsCmd::Up => standin::swarm_up(&st),
                VpsCmd::Down => standin::swarm_down(&st),
                VpsCmd::Status => standin::swarm_status(&st),
            },
            StandinCmd::Env => {
                // Written, not println!ed: `... env | head -1` must not panic.
                let mut out = std::io::stdout().lock();
                for line in standin::env_lines(&st) {
                    if writeln!(out, "{line}").is_err() {
                        break;
                    }
                }
                Ok(())
            }
        },
        Cmd::Test { cargo_test_args } => test::run(&st, cargo_test_args),
        Cmd::Run(args) => run::run(&st, args),
        Cmd::Ui => desktop::tools(&st)
            .and_then(|()| ui::step("desktop UI (app/dist)", || desktop::build_ui(&st))),
        Cmd::Bench(args) => bench::run(&st, args),
        Cmd::Fuzz(args) => fuzz::run(&st, args),
        Cmd::Screenshots => screenshots::run(&st),
        Cmd::Tidy => tidy::run(&st.repo),
        Cmd::Dist(args) => dist::run(&st, args),
        Cmd::Icons { redraw_source } => {
            ui::step("icons", || icons::write(&st.repo, *redraw_source))
        }
        Cmd::Relay {
            listen,
            to,
            delay_ms,
            cap_mbit,
        } => std::net::TcpListener::bind(listen)
            .with_context(|| format!("cannot listen on {listen}"))
            .and_then(|listener| {
                let link = relay::Link::new(*delay_ms, *cap_mbit);
                relay::serve(&listener, *to, link).context("the relay stopped")
            }),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
