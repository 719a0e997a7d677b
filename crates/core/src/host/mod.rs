//! Host connections: one per host, giving a `bollard::Docker` client.
//!
//! For a VPS that is one multiplexed `openssh` session (the system `ssh`,
//! so `~/.ssh/config`, the ssh-agent and identity files apply), with the
//! remote Docker socket forwarded through it to a Unix socket in a private
//! 0700 directory, never to a TCP port (design principle 3). The host key is
//! pinned in the store on first contact and checked against that pin with
//! the app's own known_hosts file, never the user's. For the workstation
//! itself it is the local Docker socket.
//!
//! - [`HostTarget`]: where a host's Docker is, and the strict parser of
//!   `USER@HOST[:PORT]`.
//! - [`Connection`]: open, check, close one connection.
//! - [`Supervised`]: keeps one open for the desktop app, re-opening it with
//!   backoff and publishing its [`ConnectionState`].
//! - [`HostError`]: every failure as a sentence naming the host.
//!
//! Secrets: none pass through here. For a host whose password or key
//! passphrase is in the keyring, ssh is started with `SSH_ASKPASS` set to
//! `rdesk-askpass`, which reads it ([`ConnectOptions::askpass`]); this
//! module never sees a secret and never reads key files.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod connection;
mod docker;
mod error;
mod keyscan;
mod known_hosts;
mod leftovers;
mod master;
mod process;
mod supervisor;
mod target;
mod tunnel;

pub use connection::{ConnectOptions, Connection};
pub(crate) use docker::KEPT_CONNECTIONS;
pub use error::{HostError, HostErrorKind};
pub use keyscan::scan as scan_host_key;
pub use known_hosts::fingerprint_of;
pub use leftovers::reap_abandoned;
pub use supervisor::{ConnectionState, Supervised, SupervisedHandle};
pub use target::{DEFAULT_DOCKER_SOCKET, HostTarget};
