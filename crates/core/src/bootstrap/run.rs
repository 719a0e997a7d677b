//! The runner: executes the bootstrap's steps over one SSH session, each one
//! checking first whether it is already done (then it is skipped), and
//! reports every step as a [`StepEvent`]. Running it again after a success
//! changes nothing; running it after an interruption finishes the job.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use super::commands::TraefikNetwork;
use super::commands::{self, DockerCli, RemoteCommand};
use super::facts::{self, FactsError, HostFacts};
use super::filter::{FILTER_CONTAINER, FILTER_IMAGE, FILTER_VOLUME, filter_hash};
use super::options::{BootstrapOptions, OptionsError, Validated};
use super::traefik::{TemplateError, render_swarm_traefik_config, render_traefik_config};
use crate::host::Connection;

/// How long the quick commands (probes, inspects, create) may take.
pub(super) const QUICK: Duration = Duration::from_secs(60);
/// apt-get update + install of docker.io on a slow VPS.
const INSTALL: Duration = Duration::from_secs(20 * 60);
/// An `rserve-base` build (R and Rserve from packages).
const BUILD: Duration = Duration::from_secs(60 * 60);
/// Lines of output kept in an event.
const TAIL_LINES: usize = 20;

/// Where a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepState {
    Started,
    /// It changed something.
    Done,
    /// It was already done; nothing changed. `check-host` only reads, so it
    /// always ends as skipped ("nothing to change"), its findings in the tail.
    Skipped,
    Failed,
}

/// One step's progress; `duration_ms` and `output_tail` are empty on `Started`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StepEvent {
    /// `check-host`, `install-docker`, `network`, `traefik`, `rserve-base:<R>`.
    pub step: String,
    pub state: StepState,
    pub duration_ms: u64,
    /// The last lines of what the step's commands printed.
    pub output_tail: String,
    /// How many steps this run has, as far as known when the event was sent
    /// (the images to send are known after the first steps).
    pub planned: usize,
}

/// What a successful bootstrap found and did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BootstrapReport {
    pub facts: HostFacts,
    /// Docker is reached through `sudo -n` in this session.
    pub docker_via_sudo: bool,
    /// The final event of each step, in order.
    pub steps: Vec<StepEvent>,
}

impl BootstrapReport {
    /// Whether any step changed the host.
    pub fn changed(&self) -> bool {
        self.steps.iter().any(|s| s.state == StepState::Done)
    }
}

/// Why a bootstrap stopped; one sentence naming the step.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Options(#[from] OptionsError),
    #[error(
        "host {0} is this workstation's own Docker, not a VPS over SSH: there is nothing to bootstrap"
    )]
    NotSsh(String),
    #[error(transparent)]
    Unsupported(#[from] FactsError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("step {step}: could not run `{command}` over SSH: {source}")]
    Ssh {
        step: String,
        command: String,
        #[source]
        source: openssh::Error,
    },
    #[error("step {step}: `{command}` did not finish within {secs} s")]
    Timeout {
        step: String,
        command: String,
        secs: u64,
    },
    #[error("step {step} failed: `{command}` exited with status {status}: {tail}")]
    Failed {
        step: String,
        command: String,
        status: String,
        tail: String,
    },
    #[error("step {step}: preparing its input failed: {source}")]
    Io {
        step: String,
        #[source]
        source: std::io::Error,
    },
    #[error("step {step}: {source}")]
    Transfer {
        step: String,
        #[source]
        source: crate::transfer::TransferError,
    },
    #[error(
        "the Docker network {network} exists, was not made by Rserve Desk and lets its containers reach each other; remove or rename it and run the bootstrap again"
    )]
    OpenNetwork { network: &'static str },
    #[error("step {step}: Docker answered: {source}")]
    Docker {
        step: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("step {step}: {reason}")]
    Swarm { step: String, reason: String },
    #[error(
        "Docker is installed but user {user} cannot use it in this SSH session yet (the group docker applies to new logins and there is no password-less sudo); run the bootstrap again to continue"
    )]
    DockerAccess { user: String },
}

/// What one remote command printed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CmdOutput {
    /// Exit code; `None` when killed by a signal.
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CmdOutput {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }

    /// The last [`TAIL_LINES`] non-empty lines of stdout then stderr.
    pub fn tail(&self) -> String {
        tail_of(&format!("{}\n{}", self.stdout, self.stderr))
    }
}

fn tail_of(text: &str) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
}

/// Runs one command on the VPS. The real one is an `openssh::Session`; the
/// tests use a fake host.
pub(crate) trait Remote: Sync {
    fn run(
        &self,
        step: &str,
        cmd: &RemoteCommand,
        timeout: Duration,
    ) -> impl Future<Output = Result<CmdOutput, BootstrapError>> + Send;
}

impl Remote for openssh::Session {
    async fn run(
        &self,
        step: &str,
        cmd: &RemoteCommand,
        timeout: Duration,
    ) -> Result<CmdOutput, BootstrapError> {
        let ssh_err = |source| BootstrapError::Ssh {
            step: step.to_owned(),
            command: cmd.display(),
            source,
        };
        let Some((program, args)) = cmd.argv.split_first() else {
            return Ok(CmdOutput::default());
        };
        let work = async {
            let mut command = self.command(program.as_str());
            command
                .args(args)
                .stdout(openssh::Stdio::piped())
                .stderr(openssh::Stdio::piped())
                .stdin(if cmd.stdin.is_some() {
                    openssh::Stdio::piped()
                } else {
                    openssh::Stdio::null()
                });
            let mut child = command.spawn().await.map_err(ssh_err)?;
            let stdin = child.stdin().take();
            let write = async {
                if let (Some(mut pipe), Some(bytes)) = (stdin, &cmd.stdin) {
                    pipe.write_all(bytes).await?;
                    pipe.shutdown().await?;
                }
                Ok::<(), std::io::Error>(())
            };
            let (written, output) = tokio::join!(write, child.wait_with_output());
            let output = match output {
                Ok(output) => output,
                // openssh turns exit status 127 into an error: for us it is
                // an answer ("docker: not found" means "not installed").
                Err(openssh::Error::Remote(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Ok(CmdOutput {
                        status: Some(127),
                        stdout: String::new(),
                        stderr: format!("{program}: command not found"),
                    });
                }
                Err(e) => return Err(ssh_err(e)),
            };
            let mut out = CmdOutput {
                status: output.status.code(),
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            };
            // A command that exits early closes its stdin: only news when it
            // claims success anyway.
            if let Err(e) = written
                && out.success()
            {
                out.status = None;
                out.stderr.push_str(&format!("\nwriting stdin failed: {e}"));
            }
            Ok(out)
        };
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| BootstrapError::Timeout {
                step: step.to_owned(),
                command: cmd.display(),
                secs: timeout.as_secs(),
            })?
    }
}

/// Sends an image the VPS lacks from elsewhere (the workstation's Docker).
pub(crate) trait ImageSender: Sync {
    /// The image's id where it is sent from; `None` when it is not there.
    fn id_here(
        &self,
        step: &str,
        image: &str,
    ) -> impl Future<Output = Result<Option<String>, BootstrapError>> + Send;

    /// Returns a line for the step's output.
    fn send(
        &self,
        step: &str,
        image: &str,
    ) -> impl Future<Output = Result<String, BootstrapError>> + Send;
}

/// `docker save` on the workstation into `docker load` on the VPS, through
/// the connection's forwarded Docker socket ([`crate::transfer`]).
pub(super) struct TunnelSender {
    here: bollard::Docker,
    there: bollard::Docker,
}

impl TunnelSender {
    fn new(here: bollard::Docker, there: bollard::Docker) -> TunnelSender {
        TunnelSender { here, there }
    }
}

impl ImageSender for TunnelSender {
    async fn id_here(&self, step: &str, image: &str) -> Result<Option<String>, BootstrapError> {
        crate::transfer::image_id(&self.here, image)
            .await
            .map_err(|source| BootstrapError::Transfer {
                step: step.to_owned(),
                source,
            })
    }

    async fn send(&self, step: &str, image: &str) -> Result<String, BootstrapError> {
        let sent = crate::transfer::send_image(&self.here, &self.there, image, &|_| {})
            .await
            .map_err(|source| BootstrapError::Transfer {
                step: step.to_owned(),
                source,
            })?;
        Ok(match sent {
            crate::transfer::Sent::AlreadyThere { image, .. } => format!("{image} already there"),
            crate::transfer::Sent::Loaded { image, bytes, .. } => {
                format!("sent {image} from the workstation ({bytes} bytes)")
            }
        })
    }
}

/// The images the workstation has ready-made, which a bootstrap sending
/// images sends instead of building them on the VPS.
#[derive(Default)]
pub(super) struct ReadyMade {
    /// Each R version's `rserve-base` here, with its id.
    bases: Vec<(rdesk_spawner::RVersion, String)>,
    /// The filter's image is here.
    pub(super) filter: bool,
}

impl ReadyMade {
    pub(super) async fn on_workstation<S: ImageSender>(
        sender: &S,
        options: &Validated,
    ) -> Result<ReadyMade, BootstrapError> {
        let mut bases = Vec::new();
        for r in &options.r_versions {
            let tag = commands::base_tag(r);
            if let Some(id) = sender.id_here(&tag, &tag).await? {
                bases.push((r.clone(), id));
            }
        }
        let filter = sender.id_here(STEP_FILTER, FILTER_IMAGE).await?.is_some();
        Ok(ReadyMade { bases, filter })
    }

    /// The id of `rserve-base:<r>` here, when it is.
    pub(super) fn base_id(&self, r: &rdesk_spawner::RVersion) -> Option<&str> {
        self.bases
            .iter()
            .find(|(v, _)| v == r)
            .map(|(_, id)| id.as_str())
    }

    /// The images a VPS in `role` pulls for what is not sent ready-made, in
    /// the order they are sent, each a step `image:<ref>` of its own: Traefik's
    /// (not for a worker), the filter's base unless `filter_ready` (the filter's
    /// image is here or already there), and each base image of an R version
    /// whose `rserve-base` is not here.
    pub(super) fn to_send(
        &self,
        options: &Validated,
        role: Role,
        filter_ready: bool,
    ) -> Vec<String> {
        let sent_bases: Vec<_> = self.bases.iter().map(|(r, _)| r.clone()).collect();
        let no_filter = filter_ready || role == Role::Worker;
        let mut needed = commands::needed_images(options, &sent_bases, no_filter);
        if role == Role::Worker {
            needed.retain(|image| *image != options.traefik_image);
        }
        needed
    }
}

/// `Some(note)` when the VPS's `rserve-base:<r>` is the one with `id` here.
pub(super) async fn sent_base_there<R: Remote>(
    remote: &R,
    docker: &DockerCli,
    r: &rdesk_spawner::RVersion,
    id: &str,
) -> Result<Option<String>, BootstrapError> {
    let name = commands::base_tag(r);
    let there = remote.run(&name, &docker.image_id(&name), QUICK).await?;
    Ok((there.success() && there.stdout.trim() == id)
        .then(|| format!("image {name} already there, sent from the workstation")))
}

/// What a bootstrap makes of a VPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A host of its own: every step, Traefik a container on its network.
    Host,
    /// A cluster's manager: every step, its Traefik reading the swarm,
    /// its ports published from the walled bridge, so that it can join
    /// each app's overlay network.
    Manager,
    /// A cluster's worker: every step but the filter and Traefik (the
    /// manager's Traefik routes to it); it builds the apps' images itself
    /// on its own `rserve-base`.
    Worker,
}

/// Bootstraps the VPS behind `connection` (opened with
/// `ConnectOptions.require_docker = false` when Docker may be missing).
pub async fn run(
    connection: &Connection,
    options: &BootstrapOptions,
    progress: &(dyn Fn(StepEvent) + Send + Sync),
) -> Result<BootstrapReport, BootstrapError> {
    run_as(connection, options, Role::Host, None, progress).await
}

/// [`run`] for a VPS that cannot pull: each image it needs
/// ([`commands::needed_images`]) and lacks is sent from `workstation`'s
/// Docker through the connection's tunnel, as a step `image:<ref>` of its own.
/// The tunnel reaches the VPS's Docker socket as the SSH user: when Docker
/// was only just installed for a non-root user, that needs a new connection
/// (the step then fails with Docker's "permission denied"; run again).
pub async fn run_sending_images(
    connection: &Connection,
    options: &BootstrapOptions,
    workstation: &bollard::Docker,
    progress: &(dyn Fn(StepEvent) + Send + Sync),
) -> Result<BootstrapReport, BootstrapError> {
    run_as(connection, options, Role::Host, Some(workstation), progress).await
}

/// [`run`] or [`run_sending_images`] (with `workstation`) for a VPS in `role`.
pub async fn run_as(
    connection: &Connection,
    options: &BootstrapOptions,
    role: Role,
    workstation: Option<&bollard::Docker>,
    progress: &(dyn Fn(StepEvent) + Send + Sync),
) -> Result<BootstrapReport, BootstrapError> {
    let (session, sender) = over(connection, workstation)?;
    run_with(session, sender.as_ref(), options, role, progress).await
}

/// The SSH session behind `connection`, and with `workstation` a sender of
/// its images through the connection's tunnel.
pub(super) fn over<'a>(
    connection: &'a Connection,
    workstation: Option<&bollard::Docker>,
) -> Result<(&'a openssh::Session, Option<TunnelSender>), BootstrapError> {
    let session = connection
        .session()
        .ok_or_else(|| BootstrapError::NotSsh(connection.name().to_owned()))?;
    let sender = workstation.map(|here| TunnelSender::new(here.clone(), connection.docker()));
    Ok((session, sender))
}

/// [`run`] over a bare `openssh` session.
pub async fn run_session(
    session: &openssh::Session,
    options: &BootstrapOptions,
    progress: &(dyn Fn(StepEvent) + Send + Sync),
) -> Result<BootstrapReport, BootstrapError> {
    run_with(
        session,
        None::<&TunnelSender>,
        options,
        Role::Host,
        progress,
    )
    .await
}

pub(crate) const STEP_CHECK: &str = "check-host";
pub(crate) const STEP_INSTALL: &str = "install-docker";
pub(crate) const STEP_NETWORK: &str = "network";
pub(crate) const STEP_FILTER: &str = "docker-filter";
pub(crate) const STEP_TRAEFIK: &str = "traefik";

/// Emits events and keeps the final one of each step.
pub(super) struct Progress<'a> {
    pub(super) sink: &'a (dyn Fn(StepEvent) + Send + Sync),
    pub(super) finished: Vec<StepEvent>,
    pub(super) planned: usize,
}

impl Progress<'_> {
    pub(super) fn start(&self, step: &str) -> Instant {
        (self.sink)(StepEvent {
            step: step.to_owned(),
            state: StepState::Started,
            duration_ms: 0,
            output_tail: String::new(),
            planned: self.planned,
        });
        Instant::now()
    }

    /// Runs one step: its start and its end (done, skipped, or failed with
    /// the error it returns) reported.
    pub(super) async fn step(
        &mut self,
        name: &str,
        body: impl Future<Output = Result<(StepState, String), BootstrapError>>,
    ) -> Result<(), BootstrapError> {
        let started = self.start(name);
        match body.await {
            Ok((state, output)) => {
                self.finish(name, started, state, &output);
                Ok(())
            }
            Err(e) => {
                self.finish(name, started, StepState::Failed, &e.to_string());
                Err(e)
            }
        }
    }

    pub(super) fn finish(&mut self, step: &str, started: Instant, state: StepState, output: &str) {
        let event = StepEvent {
            step: step.to_owned(),
            state,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            output_tail: tail_of(output),
            planned: self.planned,
        };
        tracing::info!(
            step,
            state = ?state,
            duration_ms = event.duration_ms,
            "bootstrap step"
        );
        (self.sink)(event.clone());
        self.finished.push(event);
    }
}

/// Runs `cmd`; a non-zero exit is an error naming the step.
pub(super) async fn must<R: Remote>(
    remote: &R,
    step: &str,
    cmd: &RemoteCommand,
    timeout: Duration,
) -> Result<CmdOutput, BootstrapError> {
    let out = remote.run(step, cmd, timeout).await?;
    if out.success() {
        Ok(out)
    } else {
        Err(BootstrapError::Failed {
            step: step.to_owned(),
            command: cmd.display(),
            status: out
                .status
                .map_or_else(|| "killed".to_owned(), |c| c.to_string()),
            tail: out.tail(),
        })
    }
}

pub(crate) async fn run_with<R: Remote, S: ImageSender>(
    remote: &R,
    images: Option<&S>,
    options: &BootstrapOptions,
    role: Role,
    sink: &(dyn Fn(StepEvent) + Send + Sync),
) -> Result<BootstrapReport, BootstrapError> {
    let options = options.validate()?;
    let (config, network) = match role {
        Role::Manager => (
            render_swarm_traefik_config(&options)?,
            TraefikNetwork::Published,
        ),
        Role::Host | Role::Worker => (render_traefik_config(&options)?, TraefikNetwork::Host),
    };
    let mut progress = Progress {
        sink,
        finished: Vec::new(),
        // check-host, install-docker, network, docker-filter, traefik, and
        // one per R version; a worker has neither a filter nor Traefik.
        planned: match role {
            Role::Host | Role::Manager => 5 + options.r_versions.len(),
            Role::Worker => 3 + options.r_versions.len(),
        },
    };
    // 1. The host: OS, architecture, privileges. Changes nothing.
    let mut found = None;
    progress
        .step(STEP_CHECK, async {
            let out = must(remote, STEP_CHECK, &facts::probe_command(), QUICK).await?;
            let host = facts::parse_probe(&out.stdout)?;
            let summary = format!(
                "{} on {}, user {}{}",
                host.os.pretty_name,
                host.arch,
                host.user,
                match (host.root, host.sudo) {
                    (true, _) => " (root)",
                    (false, true) => " (password-less sudo)",
                    (false, false) => " (no root, no password-less sudo)",
                }
            );
            found = Some(host);
            Ok((StepState::Skipped, summary))
        })
        .await?;
    let Some(host) = found else {
        return Err(FactsError::Garbled("no facts").into());
    };

    // 2. Docker Engine: the script's own --check says whether to run it.
    progress
        .step(STEP_INSTALL, async {
            let check = commands::install_docker_check();
            let out = remote.run(STEP_INSTALL, &check, QUICK).await?;
            match out.status {
                Some(0) => Ok((StepState::Skipped, out.tail())),
                Some(1) => {
                    let done =
                        must(remote, STEP_INSTALL, &commands::install_docker(), INSTALL).await?;
                    Ok((StepState::Done, done.tail()))
                }
                _ => Err(BootstrapError::Failed {
                    step: STEP_INSTALL.to_owned(),
                    command: check.display(),
                    status: out
                        .status
                        .map_or_else(|| "killed".to_owned(), |c| c.to_string()),
                    tail: out.tail(),
                }),
            }
        })
        .await?;

    // 3. The networks. First, how this session reaches Docker (a group just
    // granted is not seen yet); failing that fails this step.
    let mut reached = None;
    progress
        .step(STEP_NETWORK, async {
            let docker = docker_cli(remote, &host).await?;
            reached = Some(docker);
            networks(remote, &docker).await
        })
        .await?;
    let Some(docker) = reached else {
        return Err(BootstrapError::DockerAccess { user: host.user });
    };

    // Images the VPS cannot pull, sent from the workstation. An
    // `rserve-base:<R>` or filter image the workstation has is sent as it is
    // (by its own step below): its base image is then not needed, and
    // nothing is built.
    let ready = match images {
        Some(sender) => ReadyMade::on_workstation(sender, &options).await?,
        None => ReadyMade::default(),
    };
    let filter_ready =
        images.is_some() && (ready.filter || filter_image_done(remote, &docker).await?);
    if let Some(sender) = images {
        let needed = ready.to_send(&options, role, filter_ready);
        progress.planned += needed.len();
        for image in needed {
            let name = format!("image:{image}");
            progress
                .step(&name, async {
                    let out = remote.run(&name, &docker.image_id(&image), QUICK).await?;
                    if out.success() {
                        return Ok((StepState::Skipped, format!("{image} already there")));
                    }
                    let note = sender.send(&name, &image).await?;
                    Ok((StepState::Done, note))
                })
                .await?;
        }
    }

    // 4. The read-only Docker API filter Traefik reads Docker through.
    if role != Role::Worker {
        progress
            .step(
                STEP_FILTER,
                docker_filter(remote, &docker, &options, images.filter(|_| filter_ready)),
            )
            .await?;
    }

    // 5. Traefik, from the rendered configuration (a cluster's reads the swarm).
    if role != Role::Worker {
        progress
            .step(
                STEP_TRAEFIK,
                traefik(remote, &docker, &options, &config, network),
            )
            .await?;
    }

    // 6. rserve-base for each R version.
    for r in &options.r_versions {
        let name = commands::base_tag(r);
        progress
            .step(&name, async {
                if let Some(note) = base_done(remote, &docker, &options, r).await? {
                    return Ok((StepState::Skipped, note));
                }
                if let (Some(sender), Some(id)) = (images, ready.base_id(r)) {
                    if let Some(note) = sent_base_there(remote, &docker, r, id).await? {
                        return Ok((StepState::Skipped, note));
                    }
                    let note = sender.send(&name, &name).await?;
                    return Ok((StepState::Done, note));
                }
                let build =
                    docker
                        .base_build(&options, r)
                        .map_err(|source| BootstrapError::Io {
                            step: name.clone(),
                            source,
                        })?;
                let out = must(remote, &name, &build, BUILD).await?;
                Ok((StepState::Done, out.tail()))
            })
            .await?;
    }

    Ok(BootstrapReport {
        facts: host,
        docker_via_sudo: docker.sudo,
        steps: progress.finished,
    })
}

/// Directly when that works, else through password-less sudo.
pub(super) async fn docker_cli<R: Remote>(
    remote: &R,
    host: &HostFacts,
) -> Result<DockerCli, BootstrapError> {
    let direct = DockerCli { sudo: false };
    if remote
        .run(STEP_NETWORK, &direct.version(), QUICK)
        .await?
        .success()
    {
        return Ok(direct);
    }
    let sudo = DockerCli { sudo: true };
    if !host.root
        && host.sudo
        && remote
            .run(STEP_NETWORK, &sudo.version(), QUICK)
            .await?
            .success()
    {
        return Ok(sudo);
    }
    Err(BootstrapError::DockerAccess {
        user: host.user.clone(),
    })
}

/// What the apps' network is like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AppsNetwork {
    Missing,
    /// Inter-container traffic is off.
    Walled,
    /// Ours, from before the walls: made again without inter-container traffic.
    OursOpen,
    /// Someone else's, with inter-container traffic on: refused.
    ForeignOpen,
}

/// The networks as found, read-only.
pub(super) struct Networks {
    apps: AppsNetwork,
    build: bool,
    /// App containers of ours not on the apps' network (an interrupted move).
    detached: Vec<String>,
}

impl Networks {
    /// `Some(note)` when the networks need no change.
    pub(super) fn done_note(&self) -> Option<String> {
        (self.apps == AppsNetwork::Walled && self.build && self.detached.is_empty()).then(|| {
            format!(
                "networks {} (no traffic between containers) and {} already there",
                super::NETWORK,
                super::BUILD_NETWORK
            )
        })
    }
}

pub(super) async fn find_networks<R: Remote>(
    remote: &R,
    docker: &DockerCli,
) -> Result<Networks, BootstrapError> {
    let out = remote
        .run(STEP_NETWORK, &docker.network_inspect(), QUICK)
        .await?;
    let mut seen = out.stdout.split_whitespace();
    let (owner, icc) = (seen.next(), seen.next());
    let apps = match (out.success(), owner, icc) {
        (false, ..) => AppsNetwork::Missing,
        (true, _, Some("false")) => AppsNetwork::Walled,
        (true, Some(rdesk_spawner::labels::OWNER_VALUE), _) => AppsNetwork::OursOpen,
        (true, ..) => AppsNetwork::ForeignOpen,
    };
    let build = remote
        .run(STEP_NETWORK, &docker.build_network_inspect(), QUICK)
        .await?
        .success();
    let listed = must(remote, STEP_NETWORK, &docker.app_containers(), QUICK).await?;
    let detached = listed
        .stdout
        .lines()
        .filter_map(|line| {
            let (id, networks) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
            let on = networks.split(',').any(|n| n == super::NETWORK);
            (!id.is_empty() && (!on || apps != AppsNetwork::Walled)).then(|| id.to_owned())
        })
        .collect();
    Ok(Networks {
        apps,
        build,
        detached,
    })
}

/// The apps' network without inter-container traffic (an older one of ours
/// is made again so, its containers moved over), every app container of
/// ours on it, and the build network.
async fn networks<R: Remote>(
    remote: &R,
    docker: &DockerCli,
) -> Result<(StepState, String), BootstrapError> {
    let found = find_networks(remote, docker).await?;
    if let Some(note) = found.done_note() {
        return Ok((StepState::Skipped, note));
    }
    let mut log = Vec::new();
    match found.apps {
        AppsNetwork::Walled => {}
        AppsNetwork::ForeignOpen => {
            return Err(BootstrapError::OpenNetwork {
                network: super::NETWORK,
            });
        }
        AppsNetwork::OursOpen => {
            let members = must(remote, STEP_NETWORK, &docker.network_members(), QUICK).await?;
            for id in members.stdout.split_whitespace() {
                must(remote, STEP_NETWORK, &docker.network_disconnect(id), QUICK).await?;
            }
            must(remote, STEP_NETWORK, &docker.network_remove(), QUICK).await?;
            must(remote, STEP_NETWORK, &docker.network_create(), QUICK).await?;
            log.push(format!(
                "made network {} again without traffic between containers",
                super::NETWORK
            ));
        }
        AppsNetwork::Missing => {
            must(remote, STEP_NETWORK, &docker.network_create(), QUICK).await?;
            log.push(format!(
                "created network {} (no traffic between containers)",
                super::NETWORK
            ));
        }
    }
    for id in &found.detached {
        must(remote, STEP_NETWORK, &docker.network_connect(id), QUICK).await?;
    }
    if !found.detached.is_empty() {
        log.push(format!(
            "{} app container(s) joined network {}",
            found.detached.len(),
            super::NETWORK
        ));
    }
    if !found.build {
        must(remote, STEP_NETWORK, &docker.build_network_create(), QUICK).await?;
        log.push(format!("created network {}", super::BUILD_NETWORK));
    }
    Ok((StepState::Done, log.join("\n")))
}

/// Whether the VPS has the filter's image built from the current files.
pub(super) async fn filter_image_done<R: Remote>(
    remote: &R,
    docker: &DockerCli,
) -> Result<bool, BootstrapError> {
    let out = remote
        .run(STEP_FILTER, &docker.image_hash(FILTER_IMAGE), QUICK)
        .await?;
    Ok(out.success() && out.stdout.trim() == filter_hash())
}

/// The filter's image (sent ready-made by `sender`, else built on the VPS
/// FROM `debian:bookworm`) and its running container.
async fn docker_filter<R: Remote, S: ImageSender>(
    remote: &R,
    docker: &DockerCli,
    options: &Validated,
    sender: Option<&S>,
) -> Result<(StepState, String), BootstrapError> {
    let mut log = Vec::new();
    if !filter_image_done(remote, docker).await? {
        match sender {
            Some(sender) => log.push(sender.send(STEP_FILTER, FILTER_IMAGE).await?),
            None => {
                let build = docker.filter_build().map_err(|source| BootstrapError::Io {
                    step: STEP_FILTER.to_owned(),
                    source,
                })?;
                must(remote, STEP_FILTER, &build, BUILD).await?;
                log.push(format!("built image {FILTER_IMAGE}"));
            }
        }
    }
    let want = commands::filter_container_hash(options);
    let (exists, done) =
        container_done(remote, STEP_FILTER, docker, FILTER_CONTAINER, &want).await?;
    if let Some(note) = done {
        if log.is_empty() {
            return Ok((StepState::Skipped, note));
        }
        return Ok((StepState::Done, log.join("\n")));
    }
    if exists {
        must(
            remote,
            STEP_FILTER,
            &docker.container_remove(FILTER_CONTAINER),
            QUICK,
        )
        .await?;
        log.push("removed the old or stopped container".to_owned());
    }
    let volume = docker.volume_create(FILTER_VOLUME, "docker-filter");
    must(remote, STEP_FILTER, &volume, QUICK).await?;
    must(
        remote,
        STEP_FILTER,
        &docker.filter_create(options, &want),
        QUICK,
    )
    .await?;
    must(
        remote,
        STEP_FILTER,
        &docker.container_start(FILTER_CONTAINER),
        QUICK,
    )
    .await?;
    log.push(format!("started {FILTER_CONTAINER}"));
    Ok((StepState::Done, log.join("\n")))
}

async fn traefik<R: Remote>(
    remote: &R,
    docker: &DockerCli,
    options: &Validated,
    config: &str,
    network: TraefikNetwork,
) -> Result<(StepState, String), BootstrapError> {
    let want = commands::traefik_hash(options, config);
    let (exists, done) = container_done(
        remote,
        STEP_TRAEFIK,
        docker,
        super::TRAEFIK_CONTAINER,
        &want,
    )
    .await?;
    if let Some(note) = done {
        return Ok((StepState::Skipped, note));
    }
    // Another configuration, or stopped (perhaps interrupted between create
    // and copy): made again from scratch, which is cheap and always right.
    let mut log = String::new();
    if exists {
        let remove = docker.container_remove(super::TRAEFIK_CONTAINER);
        must(remote, STEP_TRAEFIK, &remove, QUICK).await?;
        log.push_str("removed the old or stopped container\n");
    }
    for (volume, role) in [
        (super::TRAEFIK_CONFIG_VOLUME, "traefik"),
        (super::ACME_VOLUME, "traefik"),
    ] {
        must(
            remote,
            STEP_TRAEFIK,
            &docker.volume_create(volume, role),
            QUICK,
        )
        .await?;
    }
    let created = must(
        remote,
        STEP_TRAEFIK,
        &docker.traefik_create(options, &want, network),
        QUICK,
    )
    .await?;
    log.push_str(&format!("created {}", created.stdout.trim()));
    let copy = docker
        .traefik_copy_config(config)
        .map_err(|source| BootstrapError::Io {
            step: STEP_TRAEFIK.to_owned(),
            source,
        })?;
    must(remote, STEP_TRAEFIK, &copy, QUICK).await?;
    let start = docker.container_start(super::TRAEFIK_CONTAINER);
    must(remote, STEP_TRAEFIK, &start, QUICK).await?;
    log.push_str("\nconfiguration copied, started");
    Ok((StepState::Done, log))
}

/// Whether the container exists, and `Some(note)` when it runs with the
/// wanted configuration hash.
pub(super) async fn container_done<R: Remote>(
    remote: &R,
    step: &str,
    docker: &DockerCli,
    name: &str,
    want: &str,
) -> Result<(bool, Option<String>), BootstrapError> {
    let out = remote
        .run(step, &docker.container_state(name), QUICK)
        .await?;
    let mut seen = out.stdout.split_whitespace();
    let (hash, running) = (seen.next(), seen.next());
    let done = (out.success() && hash == Some(want) && running == Some("true"))
        .then(|| format!("{name} already running with this configuration"));
    Ok((out.success(), done))
}

/// `Some(note)` when `rserve-base:<R>` exists, built from the same inputs.
pub(super) async fn base_done<R: Remote>(
    remote: &R,
    docker: &DockerCli,
    options: &Validated,
    r: &rdesk_spawner::RVersion,
) -> Result<Option<String>, BootstrapError> {
    let name = commands::base_tag(r);
    let out = remote.run(&name, &docker.image_hash(&name), QUICK).await?;
    let done = out.success() && out.stdout.trim() == commands::base_hash(options, r);
    Ok(done.then(|| format!("image {name} already there")))
}
