//! [`SecretStore`]: a host's SSH password and key passphrase in the OS
//! keyring, under the service [`SERVICE`] and the accounts
//! `host:<name>:ssh-password` and `host:<name>:key-passphrase`.
//!
//! The calls block (D-Bus on Linux); from async code run them in
//! `tokio::task::spawn_blocking`.

use std::fmt;

use keyring::credential::{CredentialBuilder, CredentialPersistence};

use super::Secret;

mod app_vars;
pub use app_vars::AppSecretError;

/// The keyring service every entry of ours is filed under.
pub const SERVICE: &str = "rserve-desk";

/// Which secret of a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretKind {
    /// The SSH login password.
    SshPassword,
    /// The passphrase of the host's private key file.
    KeyPassphrase,
}

impl SecretKind {
    pub const ALL: [SecretKind; 2] = [SecretKind::SshPassword, SecretKind::KeyPassphrase];

    /// The last part of the keyring account name.
    pub fn slug(self) -> &'static str {
        match self {
            SecretKind::SshPassword => "ssh-password",
            SecretKind::KeyPassphrase => "key-passphrase",
        }
    }

    /// The keyring account that holds this secret of `host`.
    pub fn account(self, host: &str) -> String {
        format!("host:{host}:{}", self.slug())
    }
}

impl fmt::Display for SecretKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SecretKind::SshPassword => "SSH password",
            SecretKind::KeyPassphrase => "key passphrase",
        })
    }
}

/// What went wrong with the keyring. No variant holds a secret: only host
/// names, kinds and the platform's own error text.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("no OS keyring available: {0}")]
    Unavailable(String),
    #[error(
        "the OS keyring refused access to the {kind} of host `{host}` (is it locked?): {reason}"
    )]
    Access {
        host: String,
        kind: SecretKind,
        reason: String,
    },
    #[error("the OS keyring failed on the {kind} of host `{host}`: {reason}")]
    Platform {
        host: String,
        kind: SecretKind,
        reason: String,
    },
    #[error("the {kind} stored for host `{host}` is not valid UTF-8; store it again")]
    BadEncoding { host: String, kind: SecretKind },
    #[error(
        "the OS keyring holds several entries for the {kind} of host `{host}`; \
         remove the extra ones with the keyring's own manager"
    )]
    Ambiguous { host: String, kind: SecretKind },
    #[error(
        "the host name `{0}` cannot name a keyring entry: it is empty or has control characters"
    )]
    InvalidHost(String),
}

/// The OS keyring, refusing to stand in for it with memory.
pub struct SecretStore {
    builder: Box<CredentialBuilder>,
}

impl fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretStore")
            .field("service", &SERVICE)
            .finish_non_exhaustive()
    }
}

impl SecretStore {
    /// The platform keyring (Secret Service on Linux, the Keychain on
    /// macOS), checked to be reachable. Fails with
    /// [`SecretError::Unavailable`] when this build has no keyring backend
    /// for the OS (keyring would silently keep secrets in memory) or when the
    /// backend cannot be reached (no D-Bus session, no Secret Service).
    pub fn open() -> Result<Self, SecretError> {
        let store = Self::from_builder(keyring::default::default_credential_builder())?;
        store.probe()?;
        Ok(store)
    }

    /// A store over `builder`, refused when it would not outlive the
    /// process (keyring's in-memory mock).
    pub(crate) fn from_builder(builder: Box<CredentialBuilder>) -> Result<Self, SecretError> {
        match builder.persistence() {
            CredentialPersistence::EntryOnly | CredentialPersistence::ProcessOnly => {
                Err(SecretError::Unavailable(format!(
                    "this build of Rserve Desk has no keyring backend for {}; \
                     secrets would only be kept in memory",
                    std::env::consts::OS
                )))
            }
            _ => Ok(Self { builder }),
        }
    }

    /// One lookup of an entry that never exists: `NoEntry` means the
    /// backend answers.
    fn probe(&self) -> Result<(), SecretError> {
        let unavailable = |e: keyring::Error| {
            SecretError::Unavailable(format!(
                "{}: {e}",
                if cfg!(target_os = "macos") {
                    "the Keychain did not answer"
                } else {
                    "the Secret Service did not answer (is a D-Bus session running, \
                     with gnome-keyring or KWallet started and unlocked?)"
                }
            ))
        };
        let credential = self
            .builder
            .build(None, SERVICE, "probe:availability")
            .map_err(unavailable)?;
        match keyring::Entry::new_with_credential(credential).get_password() {
            Ok(_) | Err(keyring::Error::NoEntry) | Err(keyring::Error::Ambiguous(_)) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    fn entry(&self, host: &str, kind: SecretKind) -> Result<keyring::Entry, SecretError> {
        if host.is_empty() || host.chars().any(char::is_control) {
            return Err(SecretError::InvalidHost(host.to_owned()));
        }
        let credential = self
            .builder
            .build(None, SERVICE, &kind.account(host))
            .map_err(|e| error(host, kind, e))?;
        Ok(keyring::Entry::new_with_credential(credential))
    }

    /// Stores (or replaces) the `kind` secret of `host`.
    pub fn set(&self, host: &str, kind: SecretKind, secret: &Secret) -> Result<(), SecretError> {
        self.entry(host, kind)?
            .set_password(secret.expose())
            .map_err(|e| error(host, kind, e))
    }

    /// The `kind` secret of `host`, or `None` when none is stored.
    pub fn get(&self, host: &str, kind: SecretKind) -> Result<Option<Secret>, SecretError> {
        match self.entry(host, kind)?.get_password() {
            Ok(value) => Ok(Some(Secret::from(value))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(error(host, kind, e)),
        }
    }

    /// Removes the `kind` secret of `host`; fine when there is none.
    pub fn delete(&self, host: &str, kind: SecretKind) -> Result<(), SecretError> {
        match self.entry(host, kind)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(error(host, kind, e)),
        }
    }

    /// Removes every secret of `host` (when a host is removed).
    pub fn delete_all_for_host(&self, host: &str) -> Result<(), SecretError> {
        for kind in SecretKind::ALL {
            self.delete(host, kind)?;
        }
        Ok(())
    }
}

/// keyring's error as ours, dropping what could hold secret bytes
/// (`BadEncoding` carries them) and keeping the platform's explanation.
fn error(host: &str, kind: SecretKind, e: keyring::Error) -> SecretError {
    let host = host.to_owned();
    match e {
        keyring::Error::NoStorageAccess(inner) => SecretError::Access {
            host,
            kind,
            reason: inner.to_string(),
        },
        keyring::Error::BadEncoding(_) => SecretError::BadEncoding { host, kind },
        keyring::Error::Ambiguous(_) => SecretError::Ambiguous { host, kind },
        keyring::Error::PlatformFailure(inner) => SecretError::Platform {
            host,
            kind,
            reason: inner.to_string(),
        },
        other => SecretError::Platform {
            host,
            kind,
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_names() {
        assert_eq!(
            SecretKind::SshPassword.account("vps1"),
            "host:vps1:ssh-password"
        );
        assert_eq!(
            SecretKind::KeyPassphrase.account("vps1"),
            "host:vps1:key-passphrase"
        );
        assert_eq!(SecretKind::SshPassword.to_string(), "SSH password");
    }

    #[test]
    fn the_store_can_be_shared_across_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<SecretStore>();
        shared::<SecretError>();
    }

    #[test]
    fn the_in_memory_mock_is_refused() {
        let err = SecretStore::from_builder(keyring::mock::default_credential_builder())
            .expect_err("the mock must be refused");
        let text = err.to_string();
        assert!(text.starts_with("no OS keyring available: "), "{text}");
    }

    #[cfg(any(target_os = "linux", target_os = "macos"))]
    #[test]
    fn the_platform_backend_is_persistent() {
        assert!(SecretStore::from_builder(keyring::default::default_credential_builder()).is_ok());
    }

    #[test]
    fn errors_never_carry_secret_bytes() {
        let e = error(
            "h",
            SecretKind::SshPassword,
            keyring::Error::BadEncoding(b"\xffsecretvalue".to_vec()),
        );
        let text = format!("{e} {e:?}");
        assert!(!text.contains("secretvalue"), "{text}");
    }

    #[test]
    fn bad_host_names_are_refused_before_the_keyring() {
        // Works without any keyring: the builder is never asked.
        let store = SecretStore {
            builder: keyring::default::default_credential_builder(),
        };
        assert!(matches!(
            store.get("", SecretKind::SshPassword),
            Err(SecretError::InvalidHost(_))
        ));
        assert!(matches!(
            store.delete("a\nb", SecretKind::KeyPassphrase),
            Err(SecretError::InvalidHost(_))
        ));
    }
}
