//! Secrets in the OS keyring: SSH passwords and key passphrases, per host,
//! and apps' secret environment variables.
//!
//! Design principle 4: a secret lives only in the OS keyring (Secret Service
//! on Linux, the Keychain on macOS). In memory it is a [`Secret`], whose
//! `Debug` and `Display` print `<redacted>` and which cannot be serialized, so
//! it cannot slip into logs, SQLite, labels or error messages by accident.
//! [`SecretStore`] reads and writes the keyring; [`askpass`] is what ssh's
//! `SSH_ASKPASS` helper (`rdesk-askpass`) runs to hand a secret to ssh
//! without it ever touching a command line.

pub mod askpass;
mod secret;
mod store;

pub use secret::Secret;
pub use store::{AppSecretError, SERVICE, SecretError, SecretKind, SecretStore};
