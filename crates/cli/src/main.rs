//! `rdesk`: every Rserve Desk operation from the command line. It only parses
//! arguments, calls `rdesk_core`, and prints either text or (`--json`) JSON.

mod call;
mod cluster;
mod deploys;
mod monitoring;
mod output;
mod secret;
mod tokens;
mod trust;
mod tunnel;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use futures_util::StreamExt;
use rdesk_core::bootstrap::{BootstrapChoices, BootstrapOptions};
use rdesk_core::desk::{DeployRequest, Desk, Lifecycle, NewHost};
use rdesk_core::host::HostTarget;
use rdesk_core::paths;
use rdesk_core::preview::AppFiles;
use rdesk_core::secrets::SecretKind;

use output::Output;

/// Serve R code from your own VPS: deploy, watch and call Rserve apps over SSH.
#[derive(Parser)]
#[command(name = "rdesk", version)]
struct Cli {
    /// Print JSON instead of text (one object per line for streams).
    #[arg(long, global = true)]
    json: bool,
    /// Where the local cache lives (default: the platform's data directory).
    #[arg(long, global = true, env = paths::DATA_DIR_ENV)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Add, list, check or forget hosts.
    #[command(subcommand)]
    Host(HostCommand),
    /// Deploy a folder, `.R` files or a `.zip`/`.tar.gz` as an app (or a new version of one).
    Deploy(Box<DeployArgs>),
    /// List a host's apps (from its labels; from the cache when it is offline).
    Apps(HostArg),
    /// Show an app's state (with --use, what each running container uses)
    Status(StatusArgs),
    /// Print an app's output.
    Logs(LogsArgs),
    /// Stop an app.
    Stop(AppArgs),
    /// Start an app again (never rebuilds).
    Start(AppArgs),
    /// Restart an app.
    Restart(AppArgs),
    /// Remove an app: its containers and images.
    Rm(AppArgs),
    /// Follow a host's apps: record each start, crash, OOM kill and health change, and
    /// CPU, memory, network and requests every 5 s; reconnects when the tunnel drops.
    Watch(monitoring::WatchArgs),
    /// Print an app's (or the host's) metrics over a range.
    Metrics(monitoring::MetricsArgs),
    /// Draw an app's (or the host's) metrics or uptime as an SVG chart.
    Chart(monitoring::ChartArgs),
    /// Show an app's deployments and status changes.
    History(AppArgs),
    /// Call a function of an app through the host's Traefik, like a client would.
    Call(CallArgs),
    /// Reach an app's QAP port from R (RSclient) through the host's SSH session,
    /// until Ctrl-C; prints the port and the R program that calls the app.
    Tunnel(tunnel::TunnelArgs),
    /// List an app's kept versions (images), newest first; `*` marks the running one.
    Versions(AppArgs),
    /// Switch an app back to a kept version, health-gated like a deploy, without rebuilding.
    Rollback(deploys::RollbackArgs),
    /// Change an app's limits, replicas, domain or variables without building (same gated switch).
    Set(deploys::SetArgs),
    /// Store or remove an app's secret variables in the OS keyring.
    #[command(subcommand)]
    Secret(deploys::SecretCommand),
    /// Make, list or revoke an app's access tokens.
    #[command(subcommand)]
    Token(tokens::TokenCommand),
    /// Move an unusable local cache (newer or damaged) aside, renamed and never
    /// deleted, and start a new one with the hosts it still holds; their apps
    /// come back from their labels.
    RepairCache,
}

#[derive(Subcommand)]
enum HostCommand {
    /// Add a VPS reached over SSH, or this machine's Docker.
    Add(HostAddArgs),
    /// List the hosts.
    List,
    /// Connect to a host and report what it offers.
    Check { name: String },
    /// Set a host up: Docker, the private network, Traefik, rserve-base. Safe to re-run.
    Bootstrap(BootstrapArgs),
    /// Forget a host and the secrets kept for it in the keyring (nothing on it changes).
    Rm { name: String },
    /// Make hosts the workers of a cluster whose manager is CLUSTER.
    Join(cluster::JoinArgs),
    /// Take a host out of its cluster (here; its swarm is left as it is).
    Leave { node: String },
    /// List a cluster's workers.
    Nodes { cluster: String },
    /// Keep a new SSH password or key passphrase for a host in the OS keyring.
    SetSecret(SetSecretArgs),
    /// Show or set the package repository a host's new apps install from.
    Repo(deploys::HostRepoArgs),
    /// Open Traefik's dashboard (only on the VPS's loopback) through the SSH
    /// session, until Ctrl-C.
    Dashboard {
        name: String,
        /// The port on this machine's 127.0.0.1 (default: a free one).
        #[arg(long)]
        port: Option<u16>,
        /// The dashboard's port on the VPS.
        #[arg(long, default_value_t = rdesk_core::dashboard::DEFAULT_REMOTE_PORT)]
        remote_port: u16,
    },
    /// Accept a host's new SSH key, after checking its fingerprint on the server itself.
    Repin {
        name: String,
        /// The new key's fingerprint, `SHA256:...`, as `ssh-keygen -lf` shows it on the server.
        #[arg(long)]
        fingerprint: String,
    },
}

#[derive(Args)]
struct HostAddArgs {
    name: String,
    /// USER@HOST[:PORT], or a host alias from ~/.ssh/config.
    #[arg(long, conflicts_with = "local", required_unless_present = "local")]
    ssh: Option<String>,
    /// Use this machine's Docker instead of a VPS.
    #[arg(long)]
    local: bool,
    /// Private key to log in with (else ~/.ssh/config, the agent and default keys).
    #[arg(long, requires = "ssh")]
    identity: Option<PathBuf>,
    /// Where the host's Traefik answers (default http://HOST).
    #[arg(long)]
    public_url: Option<String>,
    /// Ask once for the SSH password and keep it in the OS keyring (read
    /// from standard input when that is not a terminal).
    #[arg(long, requires = "ssh", conflicts_with = "ask_passphrase")]
    ask_password: bool,
    /// Ask once for the passphrase of the key and keep it in the OS keyring.
    #[arg(long, requires = "ssh")]
    ask_passphrase: bool,
    /// Accept only the host key with this fingerprint (SHA256:..., as
    /// `ssh-keygen -lf` prints it on the server), checked before logging in;
    /// without it the first key seen is pinned, except with a password or
    /// passphrase, which goes only to a key confirmed here or on the terminal.
    #[arg(long, requires = "ssh")]
    fingerprint: Option<String>,
}

#[derive(Args)]
struct SetSecretArgs {
    name: String,
    /// The SSH password (asked for, or read from standard input).
    #[arg(
        long,
        conflicts_with = "passphrase",
        required_unless_present = "passphrase"
    )]
    password: bool,
    /// The passphrase of the host's key.
    #[arg(long)]
    passphrase: bool,
    /// The fingerprint (SHA256:...) of the host's pinned key, as checked on
    /// the server; without it, it is shown and confirmed on the terminal.
    #[arg(long)]
    fingerprint: Option<String>,
}

#[derive(Args)]
struct BootstrapArgs {
    name: String,
    /// A domain for HTTPS with Let's Encrypt (with --email).
    #[arg(long, requires = "email")]
    domain: Option<String>,
    /// The e-mail Let's Encrypt writes to (with --domain).
    #[arg(long, requires = "domain")]
    email: Option<String>,
    /// An R version to build rserve-base for (repeatable).
    #[arg(long = "r-version")]
    r_versions: Vec<String>,
    /// Public HTTP port of Traefik.
    #[arg(long)]
    http_port: Option<u16>,
    /// Public HTTPS port of Traefik.
    #[arg(long)]
    https_port: Option<u16>,
    /// Only say what would be done; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Send the images the host cannot pull from this machine's Docker
    /// (Traefik's, and rserve-base:<R> when here, else its base image);
    /// with --dry-run, plan what would be sent.
    #[arg(long)]
    send_images: bool,
    /// The Traefik image to run (with --send-images: one this machine has).
    #[arg(long)]
    traefik_image: Option<String>,
    /// The image rserve-base is built on (default rocker/r-ver:<R>).
    #[arg(long)]
    base_image: Option<String>,
}

#[derive(Args)]
struct HostArg {
    #[arg(long)]
    host: String,
}

#[derive(Args)]
struct AppArgs {
    slug: String,
    #[arg(long)]
    host: String,
}

#[derive(Args)]
struct StatusArgs {
    #[command(flatten)]
    app: AppArgs,
    /// Also measure each running container's (a cluster's task's) CPU over a second, and its memory
    #[arg(long = "use")]
    with_use: bool,
}

#[derive(Args)]
struct LogsArgs {
    #[command(flatten)]
    app: AppArgs,
    /// How many of the last lines to print.
    #[arg(long, default_value_t = 100)]
    tail: usize,
    /// Keep printing new lines.
    #[arg(long, short)]
    follow: bool,
}

#[derive(Args)]
struct DeployArgs {
    /// A folder, an archive (.zip, .tar.gz), .R files, or a git repository
    /// (git+ssh://, ssh://, https://, USER@HOST:PATH) cloned here with your
    /// SSH agent and keys.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// With a git repository: the branch, tag or commit (default: its default branch).
    #[arg(long = "ref")]
    git_ref: Option<String>,
    #[arg(long)]
    host: String,
    /// The app's name in URLs (default: from the folder or file name).
    #[arg(long)]
    slug: Option<String>,
    /// R version to build on (default: the app's, else the newest on the host).
    #[arg(long)]
    r_version: Option<String>,
    /// An R package to install, besides those found in the code (repeatable).
    #[arg(long = "package")]
    packages: Vec<String>,
    /// Repository to install packages from: a CRAN-like URL or posit:YYYY-MM-DD
    /// (default: the app's, else Posit Package Manager's snapshot of yesterday).
    #[arg(long)]
    repo: Option<String>,
    /// `ocap` (only the app's functions are callable) or `eval` (trusted clients send any R).
    #[arg(long)]
    mode: Option<String>,
    #[command(flatten)]
    settings: deploys::SettingsArgs,
}

#[derive(Args)]
struct CallArgs {
    slug: String,
    function: String,
    /// Arguments as JSON values, e.g. 1 '"text"' '[1,2]' '{"a":1}'; `name=JSON`
    /// names one, e.g. n=10 'label="a b"'.
    args: Vec<String>,
    #[arg(long)]
    host: String,
    /// Call with this token (better: the RDESK_TOKEN variable, which `ps` does
    /// not show); default: this workstation's own token for the app.
    #[arg(long, env = "RDESK_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let out = Output::new(cli.json);
    match run(cli, &out).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            out.error(&e);
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, out: &Output) -> Result<()> {
    let data_dir = cli.data_dir.unwrap_or_else(paths::data_dir);
    if let Command::RepairCache = cli.command {
        return repair_cache(&data_dir, out).await;
    }
    let desk = Desk::open(&data_dir).await?;
    let result = run_command(&desk, cli.command, out).await;
    desk.shutdown().await;
    result
}

/// Runs one command over the engine's one session per host.
async fn run_command(desk: &Desk, command: Command, out: &Output) -> Result<()> {
    match command {
        Command::Host(command) => host(desk, command, out).await,
        Command::Deploy(args) => {
            let args = *args;
            let files = match deploys::git_source(&args.paths, args.git_ref.as_deref())? {
                Some(url) => {
                    AppFiles::from_git(url, args.git_ref.as_deref(), &|e| out.deploy_event(&e))
                        .await?
                }
                None => AppFiles::read(args.paths).await?,
            };
            let request = DeployRequest {
                slug: args.slug,
                r_version: args.r_version,
                packages: args.packages,
                repo: args.repo,
                mode: args.mode,
                settings: args.settings.request(),
            };
            let report = desk
                .with_session(&args.host, async |s| {
                    s.deploy(&request, &files, &|event| out.deploy_event(&event))
                        .await
                })
                .await?;
            out.deploy_report(&report);
            Ok(())
        }
        Command::Apps(HostArg { host }) => {
            out.apps(&desk.apps(&host).await?);
            Ok(())
        }
        Command::Status(StatusArgs { app, with_use }) => {
            desk.with_session(&app.host, async |s| {
                let state = s.status(&app.slug).await?;
                if with_use {
                    out.app_use(&state, &s.container_use(&state).await?);
                } else {
                    out.app_state(&state);
                }
                anyhow::Ok(())
            })
            .await
        }
        Command::Stop(app) => {
            desk.with_session(&app.host, async |s| {
                out.app_state(&s.act(&app.slug, Lifecycle::Stop).await?.state);
                anyhow::Ok(())
            })
            .await
        }
        Command::Start(app) => {
            desk.with_session(&app.host, async |s| {
                out.app_state(&s.act(&app.slug, Lifecycle::Start).await?.state);
                anyhow::Ok(())
            })
            .await
        }
        Command::Restart(app) => {
            desk.with_session(&app.host, async |s| {
                out.app_state(&s.act(&app.slug, Lifecycle::Restart).await?.state);
                anyhow::Ok(())
            })
            .await
        }
        Command::Rm(app) => {
            desk.with_session(&app.host, async |s| {
                out.removed(&app.slug, &s.remove(&app.slug).await?);
                anyhow::Ok(())
            })
            .await
        }
        Command::Logs(args) => {
            desk.with_session(&args.app.host, async |s| {
                let mut lines = s.logs(&args.app.slug, args.tail, args.follow).await?;
                while let Some(line) = lines.next().await {
                    out.log_line(&line?);
                }
                anyhow::Ok(())
            })
            .await
        }
        Command::Watch(args) => monitoring::watch(desk, args, out).await,
        Command::Metrics(args) => monitoring::metrics(desk, args, out).await,
        Command::Chart(args) => monitoring::chart(desk, args, out).await,
        Command::History(app) => {
            out.history(&desk.history(&app.host, &app.slug, 50).await?);
            Ok(())
        }
        Command::Versions(app) => deploys::versions(desk, &app.slug, &app.host, out).await,
        Command::Rollback(args) => deploys::rollback(desk, args, out).await,
        Command::Set(args) => deploys::set(desk, args, out).await,
        Command::Secret(command) => deploys::secret(desk, command, out).await,
        Command::Token(command) => tokens::run(desk, command, out).await,
        Command::Tunnel(args) => tunnel::run(desk, args, out).await,
        Command::RepairCache => unreachable!("handled before the cache is opened"),
        Command::Call(args) => {
            let values = args
                .args
                .iter()
                .map(|a| call::argument(a))
                .collect::<Result<Vec<_>>>()?;
            let token = args.token.map(rdesk_core::secrets::Secret::from);
            let result = desk
                .call_with(&args.host, &args.slug, &args.function, &values, token)
                .await?;
            out.value(&result);
            Ok(())
        }
    }
}

/// `rdesk repair-cache`: the only command that runs without a usable cache.
async fn repair_cache(data_dir: &std::path::Path, out: &Output) -> Result<()> {
    let Some((desk, report)) = Desk::repair_cache(data_dir).await? else {
        out.message(
            &format!(
                "the local database at {} is sound: nothing was moved",
                paths::database(data_dir).display()
            ),
            &serde_json::json!({ "repaired": false }),
        );
        return Ok(());
    };
    desk.store().close().await;
    let mut text = format!(
        "moved the unusable database aside to {}\n",
        report.repaired.moved_to.display()
    );
    if let Some(why) = &report.repaired.unreadable {
        text.push_str(&format!(
            "no host could be read from it ({why}): add them again; their secrets are still in the keyring\n"
        ));
    }
    for host in &report.rebuilt {
        match (host.apps, &host.offline_reason) {
            (Some(n), _) => text.push_str(&format!(
                "host {}: kept, {n} app(s) read back from its labels\n",
                host.host
            )),
            (None, reason) => text.push_str(&format!(
                "host {}: kept; its apps come back on the next connection ({})\n",
                host.host,
                reason.as_deref().unwrap_or("unreachable")
            )),
        }
    }
    let mut value = serde_json::to_value(&report)?;
    value["repaired"] = serde_json::Value::Bool(true);
    out.message(text.trim_end(), &value);
    Ok(())
}

/// Opens the host's tunnel, runs one operation, and closes the tunnel whatever happened.
async fn host(desk: &Desk, command: HostCommand, out: &Output) -> Result<()> {
    match command {
        HostCommand::Add(args) => {
            let target = HostTarget::from_user(args.ssh.as_deref(), args.identity.as_deref())?;
            let kind = if args.ask_password {
                Some(SecretKind::SshPassword)
            } else if args.ask_passphrase {
                Some(SecretKind::KeyPassphrase)
            } else {
                None
            };
            // The key is confirmed before the secret is even asked for.
            let (secret, confirmed_fingerprint) = match kind {
                Some(kind) => {
                    let fingerprint =
                        trust::confirm_offered(desk, &args.name, &target, kind, args.fingerprint)
                            .await?;
                    (Some(secret::ask(kind, &args.name)?), Some(fingerprint))
                }
                None => (None, args.fingerprint),
            };
            let added = desk
                .add_host(NewHost {
                    name: args.name,
                    target,
                    public_url: args.public_url,
                    secret,
                    confirmed_fingerprint,
                })
                .await?;
            out.host_added(&added);
        }
        HostCommand::List => out.hosts(&desk.hosts().await?),
        HostCommand::Check { name } => out.host_check(&desk.check_host(&name).await?),
        HostCommand::Dashboard {
            name,
            port,
            remote_port,
        } => {
            desk.with_session(&name, async |s| {
                let dashboard = rdesk_core::dashboard::open(s, port, remote_port).await?;
                out.message(
                    &format!(
                        "Traefik's dashboard of {name}: {} (Ctrl-C to close)",
                        dashboard.url
                    ),
                    &serde_json::to_value(&dashboard)?,
                );
                tokio::signal::ctrl_c().await?;
                anyhow::Ok(())
            })
            .await?
        }
        HostCommand::Repin { name, fingerprint } => {
            let pinned = desk.repin_host(&name, &fingerprint).await?;
            out.message(
                &format!("host key of {name} pinned: {pinned}"),
                &serde_json::json!({ "host": name, "host_key_fingerprint": pinned }),
            );
        }
        HostCommand::Bootstrap(args) => {
            let options = BootstrapOptions::from(BootstrapChoices {
                domain: args.domain,
                email: args.email,
                http_port: args.http_port,
                https_port: args.https_port,
                r_versions: args.r_versions,
                base_image: args.base_image,
                traefik_image: args.traefik_image,
            });
            if args.dry_run {
                let plan = desk.bootstrap_plan(&args.name, &options, args.send_images);
                out.bootstrap_plan(&plan.await?);
            } else {
                let report = desk
                    .bootstrap(&args.name, &options, args.send_images, &|event| {
                        out.bootstrap_step(&event)
                    })
                    .await?;
                out.bootstrap_done(&args.name, &report);
            }
        }
        HostCommand::SetSecret(args) => {
            let kind = if args.passphrase {
                SecretKind::KeyPassphrase
            } else {
                SecretKind::SshPassword
            };
            let fingerprint =
                trust::confirm_pinned(desk, &args.name, kind, args.fingerprint).await?;
            let (kind, secret) = secret::ask(kind, &args.name)?;
            desk.set_secret(&args.name, kind, &secret, &fingerprint)
                .await?;
            out.message(
                &format!("{kind} of host {} kept in the keyring", args.name),
                &serde_json::json!({ "host": args.name, "kept": kind.slug() }),
            );
        }
        HostCommand::Repo(args) => deploys::host_repo(desk, args, out).await?,
        HostCommand::Join(args) => cluster::join(desk, args, out).await?,
        HostCommand::Leave { node } => cluster::leave(desk, &node, out).await?,
        HostCommand::Nodes { cluster } => cluster::nodes(desk, &cluster, out).await?,
        HostCommand::Rm { name } => {
            desk.remove_host(&name).await?;
            out.message(
                &format!("forgot host {name}"),
                &serde_json::json!({"removed": name}),
            );
        }
    }
    Ok(())
}
