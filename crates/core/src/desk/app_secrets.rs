//! Apps' secret variables from the desk's side: storing a value in the OS
//! keyring, and reading the values an app's settings name just before its
//! containers are created. Values pass as [`Secret`] until the spawner needs
//! them; nothing here logs, stores or returns them elsewhere. Setting one
//! from the window also passes it to the app through the gated switch, and
//! a deploy from the window may bring some; either puts the keyring back
//! when it fails.

use std::sync::Arc;

use rdesk_spawner::{DeployEvent, EnvName, SecretEnv, Settings, Slug};

use super::deploy::slug_for;
use super::{DeployReport, DeployRequest, Desk, HostSession, SwitchReport};
use crate::app_settings::SettingsRequest;
use crate::error::DeskError;
use crate::preview::AppFiles;
use crate::secrets::{AppSecretError, Secret, SecretStore};

async fn keyring(host: &str) -> Result<SecretStore, DeskError> {
    tokio::task::spawn_blocking(SecretStore::open)
        .await
        .map_err(|e| DeskError::Io {
            what: "opening the OS keyring".to_owned(),
            source: std::io::Error::other(e),
        })?
        .map_err(|source| DeskError::Secret {
            host: host.to_owned(),
            source,
        })
}

/// Runs a keyring operation off the async threads.
async fn blocking<T: Send + 'static>(
    op: impl FnOnce() -> Result<T, AppSecretError> + Send + 'static,
) -> Result<T, DeskError> {
    tokio::task::spawn_blocking(op)
        .await
        .map_err(|e| DeskError::Io {
            what: "using the OS keyring".to_owned(),
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
        let store = keyring(host).await?;
        let host = host.to_owned();
        blocking(move || store.set_app_var(&host, slug.as_str(), name.as_str(), &value)).await
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
        let store = keyring(host).await?;
        let host = host.to_owned();
        blocking(move || store.delete_app_var(&host, slug.as_str(), name.as_str())).await
    }
}

impl HostSession {
    /// Keeps `value` as the app's secret variable `name` in the OS keyring
    /// and runs the app with it passed, through the gated switch (no
    /// build). When the switch fails, the keyring holds what it held before.
    pub async fn set_secret(
        &self,
        slug: &str,
        name: &str,
        value: Secret,
        progress: &(dyn Fn(DeployEvent) + Send + Sync),
    ) -> Result<SwitchReport, DeskError> {
        let (slug, name) = (Slug::parse(slug)?, EnvName::parse(name)?);
        let request = SettingsRequest {
            secrets: vec![name.as_str().to_owned()],
            ..SettingsRequest::default()
        };
        self.with_secrets_kept(&slug, vec![(name, value)], async || {
            self.apply_settings(slug.as_str(), &request, progress).await
        })
        .await
    }

    /// A deploy that also passes `secrets` (name and value) as secret
    /// variables: the values are kept in the OS keyring first, and when the
    /// deploy fails the keyring holds what it held before.
    pub async fn deploy_with_secrets(
        &self,
        request: &DeployRequest,
        files: &AppFiles,
        secrets: Vec<(String, Secret)>,
        progress: &(dyn Fn(DeployEvent) + Send + Sync),
    ) -> Result<DeployReport, DeskError> {
        if secrets.is_empty() {
            return self.deploy(request, files, progress).await;
        }
        let slug = slug_for(request, files.source())?;
        let secrets = secrets
            .into_iter()
            .map(|(name, value)| Ok((EnvName::parse(&name)?, value)))
            .collect::<Result<Vec<_>, DeskError>>()?;
        let mut request = request.clone();
        request.slug = Some(slug.to_string());
        let names = secrets.iter().map(|(name, _)| name.as_str().to_owned());
        request.settings.secrets.extend(names);
        self.with_secrets_kept(&slug, secrets, async || {
            self.deploy(&request, files, progress).await
        })
        .await
    }

    /// Keeps `values` as app `slug`'s secret variables in the OS keyring,
    /// then runs `op`; when it fails, the keyring gets back what it held
    /// before (a failure to put one back is logged: `op`'s error is the one
    /// to tell).
    async fn with_secrets_kept<T>(
        &self,
        slug: &Slug,
        values: Vec<(EnvName, Secret)>,
        op: impl AsyncFnOnce() -> Result<T, DeskError>,
    ) -> Result<T, DeskError> {
        let store = Arc::new(keyring(self.name()).await?);
        let mut before = Vec::with_capacity(values.len());
        for (name, value) in values {
            let key = (
                self.name().to_owned(),
                slug.to_string(),
                name.as_str().to_owned(),
            );
            let held = held(&store, &key).await?;
            keep(&store, &key, Some(value)).await?;
            before.push((key, held));
        }
        let result = op().await;
        if result.is_err() {
            for (key, held) in before {
                if let Err(e) = keep(&store, &key, held).await {
                    tracing::warn!("putting back the secret {} of {}: {e}", key.2, key.1);
                }
            }
        }
        result
    }

    /// Stops passing the app's secret variable `name` (through the gated
    /// switch), then forgets its value; when the switch fails, both stay.
    pub async fn unset_secret(
        &self,
        slug: &str,
        name: &str,
        progress: &(dyn Fn(DeployEvent) + Send + Sync),
    ) -> Result<SwitchReport, DeskError> {
        let (slug, name) = (Slug::parse(slug)?, EnvName::parse(name)?);
        let request = SettingsRequest {
            unset_secrets: vec![name.as_str().to_owned()],
            ..SettingsRequest::default()
        };
        let report = self
            .apply_settings(slug.as_str(), &request, progress)
            .await?;
        let store = Arc::new(keyring(self.name()).await?);
        keep(
            &store,
            &(
                self.name().to_owned(),
                slug.to_string(),
                name.as_str().to_owned(),
            ),
            None,
        )
        .await?;
        Ok(report)
    }

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
        let store = keyring(self.name()).await?;
        let (host, slug) = (self.name().to_owned(), slug.to_string());
        let values = blocking(move || {
            names
                .into_iter()
                .map(|name| {
                    let value = store.app_var(&host, &slug, name.as_str())?;
                    Ok((name, value.expose().to_owned()))
                })
                .collect::<Result<Vec<_>, AppSecretError>>()
        })
        .await?;
        Ok(SecretEnv::new(values)?)
    }

    /// Removes the keyring entries of the secret variables `settings` names
    /// (after the app itself is removed).
    pub(super) async fn forget_secrets(
        &self,
        slug: &Slug,
        settings: &Settings,
    ) -> Result<(), DeskError> {
        let names = settings.secret_names().to_vec();
        if names.is_empty() {
            return Ok(());
        }
        let store = keyring(self.name()).await?;
        let (host, slug) = (self.name().to_owned(), slug.to_string());
        blocking(move || {
            names
                .iter()
                .try_for_each(|name| store.delete_app_var(&host, &slug, name.as_str()))
        })
        .await
    }
}

/// What the keyring holds under `(host, slug, name)`, if anything.
async fn held(
    store: &Arc<SecretStore>,
    (host, slug, name): &(String, String, String),
) -> Result<Option<Secret>, DeskError> {
    let (store, host, slug, name) = (store.clone(), host.clone(), slug.clone(), name.clone());
    blocking(move || match store.app_var(&host, &slug, &name) {
        Ok(value) => Ok(Some(value)),
        Err(AppSecretError::Missing { .. }) => Ok(None),
        Err(e) => Err(e),
    })
    .await
}

/// Stores `value` under `(host, slug, name)`, or removes the entry when `None`.
async fn keep(
    store: &Arc<SecretStore>,
    (host, slug, name): &(String, String, String),
    value: Option<Secret>,
) -> Result<(), DeskError> {
    let (store, host, slug, name) = (store.clone(), host.clone(), slug.clone(), name.clone());
    blocking(move || match value {
        Some(value) => store.set_app_var(&host, &slug, &name, &value),
        None => store.delete_app_var(&host, &slug, &name),
    })
    .await
}
