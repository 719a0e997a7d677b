//! The headless engine of Rserve Desk: host connections and their tunnels,
//! intake of app code, deploy orchestration and the local SQLite cache.
//! No window and no terminal: the desktop shell and `rdesk` both call in here.

pub mod alerts;
pub mod app_settings;
pub mod bootstrap;
pub mod charts;
pub mod dashboard;
pub mod desk;
mod error;
pub mod forward;
pub mod host;
pub mod intake;
pub mod monitor;
pub mod paths;
pub mod preview;
pub mod secrets;
pub mod snippets;
pub mod store;
pub mod switch;
pub mod transfer;
pub mod watcher;

pub use error::{DeskError, sentence};
pub use rdesk_spawner as spawner;
