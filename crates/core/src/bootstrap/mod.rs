//! One-click bootstrap of a VPS over SSH (issue 3): Docker Engine, the
//! apps' network (no traffic between containers) and the build network, the
//! read-only Docker API filter, Traefik (on the host's network, reading
//! Docker through the filter) and the `rserve-base` images, each step checked
//! first and skipped when already done, so it can be re-run at any time.
//!
//! Kamal-style, in two layers:
//! - pure builders that return the exact commands and files:
//!   [`facts`] (probe and parse OS, architecture, privileges), [`commands`]
//!   (argv and stdin of every step, the embedded `remote-bootstrap/` script
//!   and `rserve-base/` context), [`traefik`] (the rendered static
//!   configuration), [`options`] (what the user asks, validated);
//! - [`run()`], which sends them over one `openssh` session and reports each
//!   step as a [`StepEvent`]; [`plan()`] runs only the checks and says what
//!   `run` would do, changing nothing; [`run_sending_images()`] also sends
//!   the images a VPS cannot pull from the workstation ([`crate::transfer`]).
//!
//! Everything the bootstrap creates carries `io.rserve-desk.owner`.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod commands;
pub mod facts;
pub mod filter;
pub mod options;
mod plan;
mod run;
pub mod swarm;
pub mod traefik;

#[cfg(test)]
mod tests;

pub use commands::{DockerCli, RemoteCommand};
pub use facts::{Arch, Distro, FactsError, HostFacts, OsRelease};
pub use options::{BootstrapChoices, BootstrapOptions, OptionsError, Tls, Validated};
pub use plan::{BootstrapPlan, PlannedStep, plan};
pub use run::{
    BootstrapError, BootstrapReport, CmdOutput, Role, StepEvent, StepState, run, run_as,
    run_sending_images, run_session,
};
pub use traefik::{Provider, TemplateError, render_swarm_traefik_config, render_traefik_config};

/// The network every app container joins, with inter-container traffic off
/// ([`ICC_OPTION`] false): containers on it cannot reach each other; Traefik,
/// on the host's network, reaches each one by its address.
pub const NETWORK: &str = "rserve-desk";
/// Docker's bridge option that lets containers of one network talk.
pub const ICC_OPTION: &str = "com.docker.network.bridge.enable_icc";
/// The network package builds run on (never an app's).
pub const BUILD_NETWORK: &str = "rserve-desk-build";
/// The Traefik container.
pub const TRAEFIK_CONTAINER: &str = "rserve-desk-traefik";
/// A cluster's Traefik's name on the manager's [`NETWORK`] only: its
/// dashboard and metrics listen at the address this name resolves to, which
/// the manager reaches and the apps' overlay networks do not.
pub const TRAEFIK_PRIVATE_ALIAS: &str = "rserve-desk-traefik-private";
/// The volume holding Traefik's static configuration (its root is read-only).
pub const TRAEFIK_CONFIG_VOLUME: &str = "rserve-desk-traefik-config";
/// The volume holding Let's Encrypt's `acme.json`.
pub const ACME_VOLUME: &str = "rserve-desk-traefik-acme";
