//! The dry run: every step's check of a bootstrap, without its change, and
//! what [`run`](super::run()) would do at each step.

use super::commands;
use super::facts::{self, HostFacts};
use super::filter::FILTER_CONTAINER;
use super::options::BootstrapOptions;
use super::run::{
    BootstrapError, ImageSender, QUICK, ReadyMade, Remote, Role, STEP_CHECK, STEP_FILTER,
    STEP_INSTALL, STEP_NETWORK, STEP_TRAEFIK, base_done, container_done, docker_cli,
    filter_image_done, find_networks, must, over, sent_base_there,
};
use super::traefik::{render_swarm_traefik_config, render_traefik_config};
use crate::host::Connection;

/// One step of a [`BootstrapPlan`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlannedStep {
    pub step: String,
    /// [`run`](super::run()) would change something here.
    pub to_do: bool,
    pub note: String,
}

/// What [`run`](super::run()) would do, found out without changing anything.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BootstrapPlan {
    pub facts: HostFacts,
    pub steps: Vec<PlannedStep>,
}

impl BootstrapPlan {
    /// Nothing to do: a [`run`](super::run()) would skip every step.
    pub fn complete(&self) -> bool {
        self.steps.iter().all(|s| !s.to_do)
    }
}

/// Read-only: probes the host and runs every step's check of its `role`
/// (a worker has neither the filter nor Traefik); changes nothing.
/// Unsupported hosts fail as in [`run`](super::run()). With `workstation`,
/// the plan is of a bootstrap sending images from its Docker
/// ([`run_sending_images`](super::run_sending_images)): the images it would
/// send, and which steps would send rather than build.
pub async fn plan(
    connection: &Connection,
    options: &BootstrapOptions,
    role: Role,
    workstation: Option<&bollard::Docker>,
) -> Result<BootstrapPlan, BootstrapError> {
    let (session, sender) = over(connection, workstation)?;
    plan_with(session, sender.as_ref(), options, role).await
}

/// The steps planned so far.
#[derive(Default)]
struct Steps(Vec<PlannedStep>);

impl Steps {
    /// A step that is done when `done` has its note, else to do as `to_do` says.
    fn add(&mut self, step: &str, done: Option<String>, to_do: &str) {
        self.0.push(PlannedStep {
            step: step.to_owned(),
            to_do: done.is_none(),
            note: done.unwrap_or_else(|| to_do.to_owned()),
        });
    }
}

pub(crate) async fn plan_with<R: Remote, S: ImageSender>(
    remote: &R,
    images: Option<&S>,
    options: &BootstrapOptions,
    role: Role,
) -> Result<BootstrapPlan, BootstrapError> {
    let options = options.validate()?;
    let config = match role {
        Role::Host => Some(render_traefik_config(&options)?),
        Role::Manager => Some(render_swarm_traefik_config(&options)?),
        Role::Worker => None,
    };
    let out = must(remote, STEP_CHECK, &facts::probe_command(), QUICK).await?;
    let host = facts::parse_probe(&out.stdout)?;
    let mut steps = Steps::default();
    let check_cmd = commands::install_docker_check();
    let check = remote.run(STEP_INSTALL, &check_cmd, QUICK).await?;
    match check.status {
        Some(0) => steps.add(STEP_INSTALL, Some(check.tail()), ""),
        Some(1) => steps.add(STEP_INSTALL, None, &check.tail()),
        _ => {
            return Err(BootstrapError::Failed {
                step: STEP_INSTALL.to_owned(),
                command: check_cmd.display(),
                status: check
                    .status
                    .map_or_else(|| "killed".to_owned(), |c| c.to_string()),
                tail: check.tail(),
            });
        }
    }
    let ready = match images {
        Some(sender) => Some(ReadyMade::on_workstation(sender, &options).await?),
        None => None,
    };
    let docker = match docker_cli(remote, &host).await {
        Ok(docker) => docker,
        Err(BootstrapError::DockerAccess { .. }) => {
            let unknown = "Docker is not reachable yet: checked again after installing";
            steps.add(STEP_NETWORK, None, unknown);
            if let (Some(sender), Some(ready)) = (images, &ready) {
                // Nothing can be there yet: every image to send is sent.
                for image in ready.to_send(&options, role, ready.filter) {
                    let step = format!("image:{image}");
                    steps.add(&step, None, &sending(sender, &step, &image).await?);
                }
            }
            if config.is_some() {
                steps.add(STEP_FILTER, None, unknown);
                steps.add(STEP_TRAEFIK, None, unknown);
            }
            for r in &options.r_versions {
                steps.add(&commands::base_tag(r), None, unknown);
            }
            return Ok(BootstrapPlan {
                facts: host,
                steps: steps.0,
            });
        }
        Err(e) => return Err(e),
    };
    steps.add(
        STEP_NETWORK,
        find_networks(remote, &docker).await?.done_note(),
        "create the networks, or move the apps to a network without traffic between containers",
    );
    let filter_there = filter_image_done(remote, &docker).await?;
    if let (Some(sender), Some(ready)) = (images, &ready) {
        for image in ready.to_send(&options, role, ready.filter || filter_there) {
            let step = format!("image:{image}");
            let out = remote.run(&step, &docker.image_id(&image), QUICK).await?;
            let there = out.success().then(|| format!("{image} already there"));
            steps.add(&step, there, &sending(sender, &step, &image).await?);
        }
    }
    if let Some(config) = &config {
        let filter_want = commands::filter_container_hash(&options);
        let filter = if filter_there {
            container_done(remote, STEP_FILTER, &docker, FILTER_CONTAINER, &filter_want)
                .await?
                .1
        } else {
            None
        };
        steps.add(
            STEP_FILTER,
            filter,
            match &ready {
                Some(ready) if ready.filter && !filter_there => {
                    "send the filter's image from this workstation, (re)create and start its container"
                }
                _ => "build or send the filter's image, (re)create and start its container",
            },
        );
        let want = commands::traefik_hash(&options, config);
        let (exists, done) = container_done(
            remote,
            STEP_TRAEFIK,
            &docker,
            super::TRAEFIK_CONTAINER,
            &want,
        )
        .await?;
        steps.add(
            STEP_TRAEFIK,
            done,
            if exists {
                "replace the Traefik container (other configuration, or stopped)"
            } else {
                "create and start the Traefik container"
            },
        );
    }
    for r in &options.r_versions {
        let here = ready.as_ref().and_then(|ready| ready.base_id(r));
        let done = match (base_done(remote, &docker, &options, r).await?, here) {
            (Some(note), _) => Some(note),
            (None, Some(id)) => sent_base_there(remote, &docker, r, id).await?,
            (None, None) => None,
        };
        let to_do = match here {
            Some(_) => "send the image from this workstation",
            None => "build the image",
        };
        steps.add(&commands::base_tag(r), done, to_do);
    }
    Ok(BootstrapPlan {
        facts: host,
        steps: steps.0,
    })
}

/// What sending `image` would do: it is sent from here, or, when this
/// workstation does not have it, the bootstrap would stop there.
async fn sending<S: ImageSender>(
    sender: &S,
    step: &str,
    image: &str,
) -> Result<String, BootstrapError> {
    Ok(match sender.id_here(step, image).await? {
        Some(_) => format!("send {image} from this workstation"),
        None => {
            let image = image.to_owned();
            let missing = crate::transfer::TransferError::MissingHere { image };
            format!("{missing}: pull it here first")
        }
    })
}
