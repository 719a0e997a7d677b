//! One-click bootstrap of a VPS over SSH (issue 3): Docker Engine, the
//! private network, Traefik and the `rserve-base` images, each step checked
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
pub mod options;
mod run;
pub mod traefik;

#[cfg(test)]
mod tests;

pub use commands::{DockerCli, RemoteCommand};
pub use facts::{Arch, Distro, FactsError, HostFacts, OsRelease};
pub use options::{BootstrapOptions, OptionsError, Tls, Validated};
pub use run::{
    BootstrapError, BootstrapPlan, BootstrapReport, CmdOutput, PlannedStep, StepEvent, StepState,
    plan, run, run_sending_images, run_session,
};
pub use traefik::{TemplateError, render_traefik_config};

/// The private network that Traefik and every app container join.
pub const NETWORK: &str = "rserve-desk";
/// The Traefik container.
pub const TRAEFIK_CONTAINER: &str = "rserve-desk-traefik";
/// The volume holding Let's Encrypt's `acme.json`.
pub const ACME_VOLUME: &str = "rserve-desk-traefik-acme";
