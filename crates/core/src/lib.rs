//! The headless engine of Rserve Desk: host connections and their tunnels,
//! intake of app code, deploy orchestration and the local SQLite cache.
//! No window and no terminal: the desktop shell and `rdesk` both call in here.

pub mod host;
pub mod intake;
pub mod store;
