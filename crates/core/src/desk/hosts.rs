//! Hosts as the user manages them: adding one (pinning its key, keeping its
//! secret), changing how one is reached, listing, removing, re-pinning its
//! key, and the checks of what the user typed (names, public URLs).

use std::time::Duration;

use rdesk_spawner::Repository;
use serde::Serialize;

use super::Desk;
use crate::error::DeskError;
use crate::host::{HostError, HostTarget, fingerprint_of};
use crate::paths;
use crate::secrets::{Secret, SecretKind, SecretStore};
use crate::store::{HostKind, HostRecord, now_ms};

/// How to reach a new host.
#[derive(Debug, Clone)]
pub struct NewHost {
    pub name: String,
    pub target: HostTarget,
    /// Where the host's Traefik answers; defaults to `http://HOST` for SSH hosts
    /// and `http://127.0.0.1` for the local Docker.
    pub public_url: Option<String>,
    /// An SSH password or key passphrase to keep in the OS keyring for it.
    pub secret: Option<(SecretKind, Secret)>,
    /// The fingerprint (`SHA256:...`) of the host key the user confirmed
    /// ([`Desk::host_key`]): only that key is accepted, before anything is
    /// sent to the host. Without it the first key seen is pinned.
    pub confirmed_fingerprint: Option<String>,
}

/// A change to how a host is reached; `None` keeps a value.
#[derive(Debug, Clone, Default)]
pub struct HostChange {
    pub public_url: Option<String>,
    /// A private key file; `""` goes back to the agent and `~/.ssh`.
    pub identity_file: Option<String>,
    pub port: Option<u16>,
}

/// A host just added, with the fingerprint of the host key pinned on first contact.
#[derive(Debug, Clone, Serialize)]
pub struct AddedHost {
    pub record: HostRecord,
    pub host_key_fingerprint: Option<String>,
}

impl Desk {
    /// Adds a host after connecting to it once, which pins its host key.
    /// A secret given with it goes to the OS keyring first, so ssh can ask
    /// for it. Nothing is kept, in the store or the keyring, if the host
    /// cannot be reached or refuses the login. A VPS without Docker yet is
    /// fine: the bootstrap installs it.
    pub async fn add_host(&self, new: NewHost) -> Result<AddedHost, DeskError> {
        validate_host_name(&new.name)?;
        let public_url = match new.public_url {
            Some(url) => validate_public_url(&url)?,
            None => default_public_url(&new.target),
        };
        let record = host_record(&new.name, &new.target, &public_url)?;
        let confirmed_key = match (&new.confirmed_fingerprint, &new.secret) {
            (Some(fp), _) => confirmed_key(&new.name, &new.target, fp).await?,
            // Trust on first use only for key authentication.
            (None, Some((kind, _))) if matches!(new.target, HostTarget::Ssh { .. }) => {
                return Err(DeskError::SecretNeedsConfirmedKey {
                    host: new.name,
                    kind: *kind,
                });
            }
            (None, _) => None,
        };
        self.store.add_host(record.clone()).await?;
        let connected = async {
            if let Some(line) = &confirmed_key {
                self.store.pin_host_key(&new.name, line).await?;
            }
            if let Some((kind, secret)) = &new.secret {
                self.keep_secret(&new.name, *kind, secret).await?;
            }
            self.connect_with(&record, None, false).await
        }
        .await;
        match connected {
            Ok(session) => {
                let host_key_fingerprint =
                    session.connection.host_key_fingerprint().map(str::to_owned);
                session.close().await;
                Ok(AddedHost {
                    record,
                    host_key_fingerprint,
                })
            }
            Err(e) => {
                if let Err(cleanup) = self.remove_host(&new.name).await {
                    tracing::warn!("undoing the half-added host {}: {cleanup}", new.name);
                }
                Err(match (e, &new.secret) {
                    (
                        DeskError::Host(HostError::SecretRefused { host, reason }),
                        Some((kind, _)),
                    ) => DeskError::SecretRefusedOnAdd {
                        host,
                        kind: *kind,
                        reason,
                    },
                    (e, _) => e,
                })
            }
        }
    }

    /// Changes how a host is reached (SSH port, identity file) and where its
    /// apps answer (public URL). The host is reached once with the change
    /// (its pinned key still checked) before the change is kept; when that
    /// fails nothing changes.
    pub async fn change_host(
        &self,
        name: &str,
        change: &HostChange,
    ) -> Result<HostRecord, DeskError> {
        let old = self.host(name).await?;
        let target = match HostTarget::from_record(&old)? {
            HostTarget::Ssh {
                destination,
                port,
                identity,
                remote_socket,
            } => HostTarget::Ssh {
                destination,
                port: change.port.or(port),
                identity: match change.identity_file.as_deref().map(str::trim) {
                    Some("") => None,
                    Some(path) => Some(path.into()),
                    None => identity,
                },
                remote_socket,
            },
            local if change.port.is_none() && change.identity_file.is_none() => local,
            HostTarget::Local { .. } => {
                return Err(DeskError::InvalidHostChange(format!(
                    "`{name}` is this machine's Docker: it has no SSH port or identity file"
                )));
            }
        };
        let public_url = match change.public_url.as_deref().map(str::trim) {
            Some(url) => validate_public_url(url)?,
            None => old.public_url.clone(),
        };
        let record = HostRecord {
            added_at: old.added_at,
            ..host_record(name, &target, &public_url)?
        };
        if record == old {
            return Ok(old);
        }
        let session = self.connect_with(&record, None, false).await?;
        session.close().await;
        self.store.update_host(&record).await?;
        self.sessions.forget(name).await;
        Ok(record)
    }

    /// The fingerprint of the key an SSH host offers now, learned without
    /// logging in, for the user to confirm before adding it; `None` for
    /// this machine's Docker.
    pub async fn host_key(
        &self,
        name: &str,
        target: &HostTarget,
    ) -> Result<Option<String>, DeskError> {
        Ok(offered_key(name, target)
            .await?
            .and_then(|l| fingerprint_of(&l)))
    }

    /// Sets the package repository the host's new apps install from (a
    /// CRAN-like URL or `posit:YYYY-MM-DD`), or with `None` goes back to
    /// Posit Package Manager's snapshot of the day before each first deploy.
    pub async fn set_host_repo(&self, host: &str, repo: Option<&str>) -> Result<(), DeskError> {
        self.host(host).await?;
        let repo = repo.map(Repository::parse).transpose()?;
        let text = repo.as_ref().map(ToString::to_string);
        Ok(self.store.set_host_repo(host, text.as_deref()).await?)
    }

    /// The repository the user chose for the host's new apps, if any.
    pub async fn host_repo(&self, host: &str) -> Result<Option<Repository>, DeskError> {
        self.host(host).await?;
        match self.store.host_repo(host).await? {
            Some(repo) => Ok(Some(Repository::parse(&repo)?)),
            None => Ok(None),
        }
    }

    /// Keeps `secret` in the OS keyring as the host's SSH password or key
    /// passphrase (replacing one kept before) and notes that it is there.
    /// `confirmed_fingerprint` is the pinned key's fingerprint as the user
    /// confirmed it ([`Desk::pinned_fingerprint`]): the pin may date from a
    /// key login that nobody checked, and the secret goes only to that key.
    pub async fn set_secret(
        &self,
        host: &str,
        kind: SecretKind,
        secret: &Secret,
        confirmed_fingerprint: &str,
    ) -> Result<(), DeskError> {
        self.host(host).await?;
        match self.pinned_fingerprint(host).await? {
            Some(pinned) if pinned == confirmed_fingerprint.trim() => {}
            pinned => {
                return Err(DeskError::HostKeyNotConfirmed {
                    host: host.to_owned(),
                    confirmed: confirmed_fingerprint.trim().to_owned(),
                    offered: pinned.unwrap_or_else(|| "not pinned".to_owned()),
                });
            }
        }
        self.keep_secret(host, kind, secret).await
    }

    /// The fingerprint (`SHA256:...`) of the host key pinned for `host`, if any.
    pub async fn pinned_fingerprint(&self, host: &str) -> Result<Option<String>, DeskError> {
        Ok(self
            .store
            .pinned_host_key(host)
            .await?
            .and_then(|line| fingerprint_of(&line)))
    }

    async fn keep_secret(
        &self,
        host: &str,
        kind: SecretKind,
        secret: &Secret,
    ) -> Result<(), DeskError> {
        let keyring = |source| DeskError::Secret {
            host: host.to_owned(),
            source,
        };
        SecretStore::open()
            .and_then(|keyring| keyring.set(host, kind, secret))
            .map_err(keyring)?;
        self.store.note_secret(host, kind).await?;
        Ok(())
    }

    pub async fn hosts(&self) -> Result<Vec<HostRecord>, DeskError> {
        Ok(self.store.hosts().await?)
    }

    /// Forgets a host, its cached apps and history, and the secrets kept for
    /// it in the keyring; nothing on the host changes. When the keyring
    /// cannot delete them, the host stays, so no secret is left unaccounted for.
    pub async fn remove_host(&self, name: &str) -> Result<(), DeskError> {
        if !self.store.secret_kinds(name).await?.is_empty() {
            SecretStore::open()
                .and_then(|keyring| keyring.delete_all_for_host(name))
                .map_err(|source| DeskError::Secret {
                    host: name.to_owned(),
                    source,
                })?;
        }
        self.sessions.forget(name).await;
        if self.store.remove_host(name).await? {
            Ok(())
        } else {
            Err(DeskError::UnknownHost(name.to_owned()))
        }
    }

    pub async fn host(&self, name: &str) -> Result<HostRecord, DeskError> {
        self.store
            .host(name)
            .await?
            .ok_or_else(|| DeskError::UnknownHost(name.to_owned()))
    }

    /// Accepts a host's new key after the user has checked its fingerprint
    /// (`SHA256:...`) on the server itself; any other key is still refused.
    pub async fn repin_host(&self, name: &str, fingerprint: &str) -> Result<String, DeskError> {
        let record = self.host(name).await?;
        self.sessions.forget(name).await;
        let session = self.connect_with(&record, Some(fingerprint), true).await?;
        let pinned = session
            .connection
            .host_key_fingerprint()
            .unwrap_or(fingerprint)
            .to_owned();
        session.close().await;
        Ok(pinned)
    }
}

/// How long learning a host's key may take.
const HOST_KEY_TIMEOUT: Duration = Duration::from_secs(10);

/// The key line the host offers, if its fingerprint is `confirmed`.
async fn confirmed_key(
    name: &str,
    target: &HostTarget,
    confirmed: &str,
) -> Result<Option<String>, DeskError> {
    let Some(line) = offered_key(name, target).await? else {
        return Ok(None);
    };
    let offered = fingerprint_of(&line).unwrap_or_default();
    if offered == confirmed.trim() {
        Ok(Some(line))
    } else {
        Err(DeskError::HostKeyNotConfirmed {
            host: name.to_owned(),
            confirmed: confirmed.trim().to_owned(),
            offered,
        })
    }
}

/// The known_hosts line of the key an SSH host offers, learned without
/// logging in; `None` for this machine's Docker.
async fn offered_key(name: &str, target: &HostTarget) -> Result<Option<String>, DeskError> {
    let HostTarget::Ssh {
        destination, port, ..
    } = target
    else {
        return Ok(None);
    };
    let runtime = paths::private_runtime_dir().map_err(|source| DeskError::Io {
        what: "creating a private directory for the host's key".to_owned(),
        source,
    })?;
    let line =
        crate::host::scan_host_key(name, destination, *port, runtime.path(), HOST_KEY_TIMEOUT)
            .await?;
    Ok(Some(line))
}

fn validate_host_name(name: &str) -> Result<(), DeskError> {
    let ok = (1..=40).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && !name.starts_with(['-', '.']);
    if ok {
        Ok(())
    } else {
        Err(DeskError::InvalidHostName(name.to_owned()))
    }
}

fn validate_public_url(url: &str) -> Result<String, DeskError> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| DeskError::PublicUrl(url.to_owned()))?;
    let host_port = rest.trim_end_matches('/');
    let ok = !host_port.is_empty()
        && host_port
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    if ok {
        Ok(url.trim_end_matches('/').to_owned())
    } else {
        Err(DeskError::PublicUrl(url.to_owned()))
    }
}

/// The name in a (validated) public URL that apps' path routes answer under:
/// a DNS name or an IPv4 address, lower-cased; `None` for anything else
/// (an IPv6 literal), which leaves the routes on the path alone.
pub(super) fn public_host(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    let host_port = rest.split('/').next()?;
    let host = host_port.split(':').next()?.to_ascii_lowercase();
    let named = rdesk_spawner::is_dns_name(&host) || host.parse::<std::net::Ipv4Addr>().is_ok();
    (named && !host_port.starts_with('[')).then_some(host)
}

/// `http://HOST` for an SSH target (its Traefik on port 80), `http://127.0.0.1` for the local Docker.
fn default_public_url(target: &HostTarget) -> String {
    match target {
        HostTarget::Ssh { destination, .. } => {
            let host = destination.rsplit('@').next().unwrap_or(destination);
            if host.contains(':') {
                format!("http://[{host}]")
            } else {
                format!("http://{host}")
            }
        }
        HostTarget::Local { .. } => "http://127.0.0.1".to_owned(),
    }
}

/// The record that keeps a host: `USER@HOST[:PORT]` and an absolute identity path.
fn host_record(name: &str, target: &HostTarget, public_url: &str) -> Result<HostRecord, DeskError> {
    let (kind, ssh_target, identity_file) = match target {
        HostTarget::Local { .. } => (HostKind::Local, None, None),
        HostTarget::Ssh {
            destination,
            port,
            identity,
            ..
        } => {
            let ssh_target = match port {
                Some(port) if destination.contains(':') => {
                    let (user, host) = destination
                        .rsplit_once('@')
                        .map_or((None, destination.as_str()), |(u, h)| (Some(u), h));
                    let user = user.map(|u| format!("{u}@")).unwrap_or_default();
                    format!("{user}[{host}]:{port}")
                }
                Some(port) => format!("{destination}:{port}"),
                None => destination.clone(),
            };
            let identity_file = identity
                .as_ref()
                .map(|path| {
                    std::path::absolute(path).map_err(|source| DeskError::Io {
                        what: format!("finding the identity file {}", path.display()),
                        source,
                    })
                })
                .transpose()?
                .map(|p| p.display().to_string());
            (HostKind::Ssh, Some(ssh_target), identity_file)
        }
    };
    Ok(HostRecord {
        name: name.to_owned(),
        kind,
        ssh_target,
        identity_file,
        public_url: public_url.to_owned(),
        added_at: now_ms(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_host_is_the_name_of_the_public_url() {
        use super::public_host;
        assert_eq!(
            public_host("https://R.example.org").as_deref(),
            Some("r.example.org")
        );
        assert_eq!(
            public_host("http://127.0.0.1:18080").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(
            public_host("http://10.213.7.2:8880/").as_deref(),
            Some("10.213.7.2")
        );
        assert_eq!(public_host("http://[::1]:18080"), None);
        assert_eq!(public_host("ftp://x"), None);
    }

    #[test]
    fn host_names_are_short_and_plain() {
        for good in ["vps1", "my.vps", "prod_eu-1"] {
            assert!(validate_host_name(good).is_ok(), "{good}");
        }
        for bad in ["", "-x", ".x", "a b", "a;b", "a/b", &"x".repeat(41)] {
            assert!(validate_host_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn public_urls_are_plain_origins() {
        assert_eq!(
            validate_public_url("http://127.0.0.1:18080/").unwrap(),
            "http://127.0.0.1:18080"
        );
        for bad in [
            "127.0.0.1",
            "ftp://x",
            "http://",
            "http://a/b?c",
            "http://a b",
        ] {
            assert!(validate_public_url(bad).is_err(), "{bad:?}");
        }
    }
}
