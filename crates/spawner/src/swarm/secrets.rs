//! An app's secret variables on a swarm: each value a swarm secret (kept
//! encrypted in the managers' log, sent only to the nodes running a task of
//! the app, mounted in memory at `/run/secrets/<NAME>`), which the task's
//! first process exports before R starts. Never in the service's spec,
//! which any client of the manager reads: there it is a reference. A
//! secret's name comes from a hash of its app, name and value, so a new
//! value is a new secret and a rolling update; the ones no task uses any
//! more are removed.

use std::collections::HashMap;

use base64::Engine as _;
use bollard::models::{SecretSpec, TaskSpecContainerSpecFile, TaskSpecContainerSpecSecrets};
use bollard::query_parameters::ListSecretsOptions;
use sha2::Digest as _;

use super::SwarmSpawner;
use crate::error::{SpawnError, is_not_found};
use crate::labels;
use crate::rollout::APP_USER;
use crate::settings::{SecretEnv, Settings};
use crate::spec::Slug;

/// Where a task finds its secret variables, one file each, named by the variable.
pub(super) const SECRETS_DIR: &str = "/run/secrets";

/// The role label of an app's secret variables.
const ROLE: &str = "secret-variable";

/// The swarm secret holding `value` of variable `name` of `slug`.
fn secret_name(slug: &Slug, name: &str, value: &str) -> String {
    let mut digest = sha2::Sha256::new();
    for part in [slug.as_str(), name, value] {
        digest.update(part.as_bytes());
        digest.update([0]);
    }
    format!(
        "rserve-desk-secret-{}",
        hex::encode(&digest.finalize()[..8])
    )
}

impl SwarmSpawner {
    /// The swarm secrets for the variables `settings` names (made unless
    /// they exist), as a task mounts them.
    pub(super) async fn secret_mounts(
        &self,
        slug: &Slug,
        settings: &Settings,
        secrets: &SecretEnv,
    ) -> Result<Vec<TaskSpecContainerSpecSecrets>, SpawnError> {
        let (uid, gid) = APP_USER.split_once(':').unwrap_or((APP_USER, APP_USER));
        let mut mounts = Vec::new();
        for (name, value) in secrets.values(settings) {
            let secret = secret_name(slug, name, value);
            let id = match self.manager.inspect_secret(&secret).await {
                Ok(found) => found.id.unwrap_or_default(),
                Err(e) if is_not_found(&e) => {
                    self.manager
                        .create_secret(SecretSpec {
                            name: Some(secret.clone()),
                            labels: Some(HashMap::from([
                                (labels::OWNER.to_owned(), labels::OWNER_VALUE.to_owned()),
                                (labels::ROLE.to_owned(), ROLE.to_owned()),
                                (labels::SLUG.to_owned(), slug.to_string()),
                            ])),
                            data: Some(base64::engine::general_purpose::STANDARD.encode(value)),
                            ..Default::default()
                        })
                        .await
                        .map_err(SpawnError::docker(format!(
                            "keep the secret {name} of {slug}"
                        )))?
                        .id
                }
                Err(e) => {
                    return Err(SpawnError::docker(format!(
                        "read the secret {name} of {slug}"
                    ))(e));
                }
            };
            mounts.push(TaskSpecContainerSpecSecrets {
                file: Some(TaskSpecContainerSpecFile {
                    name: Some(name.to_owned()),
                    uid: Some(uid.to_owned()),
                    gid: Some(gid.to_owned()),
                    mode: Some(0o400),
                }),
                secret_id: Some(id),
                secret_name: Some(secret),
            });
        }
        Ok(mounts)
    }

    /// Removes the secrets of `slug` that no task uses any more; one still
    /// in use is left for the next time.
    pub(super) async fn remove_unused_secrets(&self, slug: &Slug) {
        let filter = vec![
            format!("{}={ROLE}", labels::ROLE),
            format!("{}={slug}", labels::SLUG),
        ];
        let Ok(secrets) = self
            .manager
            .list_secrets(Some(ListSecretsOptions {
                filters: Some(HashMap::from([("label".to_owned(), filter)])),
            }))
            .await
        else {
            return;
        };
        for secret in secrets {
            if let Some(id) = secret.id {
                // The swarm refuses while a task uses it: that one stays.
                let _in_use = self.manager.delete_secret(&id).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_named_by_its_app_variable_and_value_alone() {
        let slug = Slug::parse("sales").unwrap();
        let one = secret_name(&slug, "API_KEY", "s3cret");
        assert!(one.starts_with("rserve-desk-secret-"), "{one}");
        assert_eq!(one.len(), "rserve-desk-secret-".len() + 16);
        assert!(!one.contains("s3cret") && !one.contains("API_KEY"));
        assert_eq!(one, secret_name(&slug, "API_KEY", "s3cret"));
        assert_ne!(one, secret_name(&slug, "API_KEY", "other"));
        assert_ne!(one, secret_name(&slug, "API_KEYs", "3cret"));
        let other = Slug::parse("hr").unwrap();
        assert_ne!(one, secret_name(&other, "API_KEY", "s3cret"));
    }
}
