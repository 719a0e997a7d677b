//! Apps' secret variables from the desk's side: storing a value in the OS
//! keyring, and reading the values an app's settings name just before its
//! containers are created. Values pass as [`Secret`] until the spawner needs
//! them; nothing here logs, stores or returns them elsewhere.

use rdesk_spawner::{EnvName, SecretEnv, Settings, Slug};

use super::{Desk, HostSession};
use crate::error::DeskError;
use crate::secrets::{Secret, SecretStore};

async fn keyring() -> Result<SecretStore, DeskError> {
    tokio::task::spawn_blocking(SecretStore::open)
        .await
        .map_err(|e| DeskError::Io {
            what: "opening the OS keyring".to_owned(),
            source: std::io::Error::other(e),
        })?
        .map_err(DeskError::from)
}

impl Desk {
    /// Stores (or replaces) a secret variable of an app in the OS keyring.
    /// The app sees it after its next deploy with `--secret NAME`.
    pub async fn set_app_secret(
        &self,
        host: &str,
        slug: &str,
        name: &str,
        value: Secret,
    ) -> Result<(), DeskError> {
        self.host(host).await?;
        let (slug, name) = (Slug::parse(slug)?, EnvName::parse(name)?);
        let store = keyring().await?;
        let host = host.to_owned();
        tokio::task::spawn_blocking(move || {
            store.set_app_var(&host, slug.as_str(), name.as_str(), &value)
        })
        .await
        .map_err(|e| DeskError::Io {
            what: "writing to the OS keyring".to_owned(),
            source: std::io::Error::other(e),
        })??;
        Ok(())
    }

    /// Removes a secret variable of an app from the OS keyring.
    pub async fn remove_app_secret(
        &self,
        host: &str,
        slug: &str,
        name: &str,
    ) -> Result<(), DeskError> {
        self.host(host).await?;
        let (slug, name) = (Slug::parse(slug)?, EnvName::parse(name)?);
        let store = keyring().await?;
        let host = host.to_owned();
        tokio::task::spawn_blocking(move || {
            store.delete_app_var(&host, slug.as_str(), name.as_str())
        })
        .await
        .map_err(|e| DeskError::Io {
            what: "writing to the OS keyring".to_owned(),
            source: std::io::Error::other(e),
        })??;
        Ok(())
    }
}

impl HostSession {
    /// The values of the secret variables `settings` names, from the keyring.
    /// The keyring is not opened when there are none.
    pub(super) async fn secret_env(
        &self,
        slug: &Slug,
        settings: &Settings,
    ) -> Result<SecretEnv, DeskError> {
        let names = settings.secret_names().to_vec();
        if names.is_empty() {
            return Ok(SecretEnv::default());
        }
        let store = keyring().await?;
        let (host, slug) = (self.name().to_owned(), slug.to_string());
        let values = tokio::task::spawn_blocking(move || {
            names
                .into_iter()
                .map(|name| {
                    let value = store.app_var(&host, &slug, name.as_str())?;
                    Ok((name, value.expose().to_owned()))
                })
                .collect::<Result<Vec<_>, crate::secrets::AppSecretError>>()
        })
        .await
        .map_err(|e| DeskError::Io {
            what: "reading the OS keyring".to_owned(),
            source: std::io::Error::other(e),
        })??;
        Ok(SecretEnv::new(values)?)
    }
}
