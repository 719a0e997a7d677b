//! An app's secret environment variables in the OS keyring, under the
//! accounts `app:<host>:<slug>:<NAME>`. Only their names go anywhere else
//! (the container's labels); the values reach the container's environment
//! at creation and nothing else.

use super::{SERVICE, Secret, SecretStore};

/// What went wrong with an app's secret. No variant holds the value.
#[derive(Debug, thiserror::Error)]
pub enum AppSecretError {
    #[error("the OS keyring failed on the secret `{name}` of app `{slug}` on `{host}`: {reason}")]
    Keyring {
        host: String,
        slug: String,
        name: String,
        reason: String,
    },
    #[error(
        "the secret `{name}` of app `{slug}` on `{host}` is not in this workstation's keyring: store it with `rdesk secret set {slug} {name} --host {host}`"
    )]
    Missing {
        host: String,
        slug: String,
        name: String,
    },
}

/// The keyring account of one secret variable. Host names, slugs and
/// variable names are validated elsewhere and hold no `:`.
pub fn account(host: &str, slug: &str, name: &str) -> String {
    format!("app:{host}:{slug}:{name}")
}

impl SecretStore {
    fn app_entry(
        &self,
        host: &str,
        slug: &str,
        name: &str,
    ) -> Result<keyring::Entry, AppSecretError> {
        let credential = self
            .builder
            .build(None, SERVICE, &account(host, slug, name))
            .map_err(|e| keyring_error(host, slug, name, &e))?;
        Ok(keyring::Entry::new_with_credential(credential))
    }

    /// Stores (or replaces) a secret variable of an app.
    pub fn set_app_var(
        &self,
        host: &str,
        slug: &str,
        name: &str,
        value: &Secret,
    ) -> Result<(), AppSecretError> {
        self.app_entry(host, slug, name)?
            .set_password(value.expose())
            .map_err(|e| keyring_error(host, slug, name, &e))
    }

    /// A secret variable of an app; [`AppSecretError::Missing`] when none is stored.
    pub fn app_var(&self, host: &str, slug: &str, name: &str) -> Result<Secret, AppSecretError> {
        match self.app_entry(host, slug, name)?.get_password() {
            Ok(value) => Ok(Secret::from(value)),
            Err(keyring::Error::NoEntry) => Err(AppSecretError::Missing {
                host: host.to_owned(),
                slug: slug.to_owned(),
                name: name.to_owned(),
            }),
            Err(e) => Err(keyring_error(host, slug, name, &e)),
        }
    }

    /// Removes a secret variable of an app; fine when there is none.
    pub fn delete_app_var(&self, host: &str, slug: &str, name: &str) -> Result<(), AppSecretError> {
        match self.app_entry(host, slug, name)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keyring_error(host, slug, name, &e)),
        }
    }
}

/// keyring's error without what could hold secret bytes (`BadEncoding` carries them).
fn keyring_error(host: &str, slug: &str, name: &str, e: &keyring::Error) -> AppSecretError {
    let reason = match e {
        keyring::Error::BadEncoding(_) => {
            "the stored value is not valid UTF-8; store it again".to_owned()
        }
        other => other.to_string(),
    };
    AppSecretError::Keyring {
        host: host.to_owned(),
        slug: slug.to_owned(),
        name: name.to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_name_host_app_and_variable() {
        assert_eq!(
            account("vps1", "sales", "DB_PASSWORD"),
            "app:vps1:sales:DB_PASSWORD"
        );
    }

    #[test]
    fn errors_never_carry_secret_bytes() {
        let e = keyring_error(
            "h",
            "s",
            "N",
            &keyring::Error::BadEncoding(b"\xffsecretvalue".to_vec()),
        );
        let text = format!("{e} {e:?}");
        assert!(!text.contains("secretvalue"), "{text}");
    }
}
