//! The headless engine of Rserve Desk: host connections and their tunnels,
//! deploy orchestration and the local SQLite cache; intake of app code is
//! its own crate (`rdesk-intake`), re-exported as [`intake`].
//! No window and no terminal: the desktop shell and `rdesk` both call in here.

pub mod alert_settings;
pub mod alerts;
pub mod app_settings;
pub mod bootstrap;
pub mod charts;
pub mod dashboard;
pub mod desk;
pub mod diagnostics;
pub mod environment;
mod error;
pub mod forward;
pub mod git;
pub mod host;
pub mod monitor;
pub mod paths;
pub mod preview;
pub mod secrets;
pub mod snippets;
pub mod store;
pub mod summary;
pub mod switch;
mod traefik_address;
pub mod transfer;
pub mod watcher;
pub mod webhook;

pub use error::{DeskError, sentence};
pub use rdesk_intake as intake;
pub use rdesk_spawner as spawner;
