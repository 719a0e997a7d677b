//! An app's tokens on a swarm: the same `tokens` file as on one host (only
//! what verifies a token), kept as a swarm config that every task mounts
//! read-only where `start.R` reads it. Configs cannot change, so a change
//! of tokens is a new config (named by the app and its content's hash) and
//! a rolling update of the service to it, which drops no call; the configs
//! no task uses any more are removed. A new app starts with an empty one.

use std::collections::HashMap;

use base64::Engine as _;
use bollard::models::{
    ConfigSpec, ServiceSpec, TaskSpecContainerSpecConfigs, TaskSpecContainerSpecFile1,
};
use bollard::query_parameters::ListConfigsOptions;
use sha2::Digest as _;

use super::SwarmSpawner;
use super::rollout::{TaskIdentity, replace_service};
use crate::docker::DockerSpawner;
use crate::error::{SpawnError, is_not_found};
use crate::labels;
use crate::rollout::APP_USER;
use crate::spec::Slug;
use crate::tokens::{TokenChange, TokenKeeper, TokenRecord, parse_file, render_file};

/// The file's first line: a swarm config cannot be empty, and `start.R`
/// (like [`parse_file`]) skips a line that is not a record.
const HEADER: &str = "# Rserve Desk: the app's token hashes (id, SHA-256, made, name)\n";

/// Where a task finds the file, as on one host.
fn tokens_path() -> String {
    format!("{}/tokens", labels::ACCESS_MOUNT)
}

/// The config holding this content for `slug`.
fn config_name(slug: &Slug, content: &str) -> String {
    let digest = sha2::Sha256::digest(content.as_bytes());
    format!("rserve-desk-tokens-{slug}-{}", hex::encode(&digest[..6]))
}

/// The reference to the tokens config a service's tasks mount, if any.
pub(super) fn tokens_config(spec: &ServiceSpec) -> Option<TaskSpecContainerSpecConfigs> {
    spec.task_template
        .as_ref()?
        .container_spec
        .as_ref()?
        .configs
        .as_ref()?
        .iter()
        .find(|c| c.file.as_ref().and_then(|f| f.name.as_deref()) == Some(&tokens_path()))
        .cloned()
}

/// Mounts `config` as the tasks' tokens file, in place of any other.
pub(super) fn mount_tokens(spec: &mut ServiceSpec, config: TaskSpecContainerSpecConfigs) {
    let container = spec
        .task_template
        .get_or_insert_with(Default::default)
        .container_spec
        .get_or_insert_with(Default::default);
    let configs = container.configs.get_or_insert_with(Vec::new);
    configs.retain(|c| c.file.as_ref().and_then(|f| f.name.as_deref()) != Some(&tokens_path()));
    configs.push(config);
}

impl SwarmSpawner {
    /// The config for `records` (made unless it exists), as a task mounts it.
    pub(super) async fn tokens_config_for(
        &self,
        slug: &Slug,
        records: &[TokenRecord],
    ) -> Result<TaskSpecContainerSpecConfigs, SpawnError> {
        let content = format!("{HEADER}{}", render_file(records));
        let name = config_name(slug, &content);
        let id = match self.manager.inspect_config(&name).await {
            Ok(found) => found.id.unwrap_or_default(),
            Err(e) if is_not_found(&e) => {
                let mut config_labels = HashMap::from([
                    (labels::OWNER.to_owned(), labels::OWNER_VALUE.to_owned()),
                    (labels::SLUG.to_owned(), slug.to_string()),
                ]);
                config_labels.insert(labels::ROLE.to_owned(), "tokens".to_owned());
                self.manager
                    .create_config(ConfigSpec {
                        name: Some(name.clone()),
                        labels: Some(config_labels),
                        data: Some(base64::engine::general_purpose::STANDARD.encode(&content)),
                        ..Default::default()
                    })
                    .await
                    .map_err(SpawnError::docker(format!("keep the tokens of {slug}")))?
                    .id
            }
            Err(e) => return Err(SpawnError::docker(format!("read the tokens of {slug}"))(e)),
        };
        let (uid, gid) = APP_USER.split_once(':').unwrap_or((APP_USER, APP_USER));
        Ok(TaskSpecContainerSpecConfigs {
            file: Some(TaskSpecContainerSpecFile1 {
                name: Some(tokens_path()),
                uid: Some(uid.to_owned()),
                gid: Some(gid.to_owned()),
                mode: Some(0o400),
            }),
            config_id: Some(id),
            config_name: Some(name),
            ..Default::default()
        })
    }

    /// The tokens `service` mounts, oldest first.
    async fn tokens_of(
        &self,
        slug: &Slug,
        service: &bollard::models::Service,
    ) -> Result<Vec<TokenRecord>, SpawnError> {
        let Some(id) = service
            .spec
            .as_ref()
            .and_then(tokens_config)
            .and_then(|c| c.config_id)
        else {
            return Ok(Vec::new());
        };
        let config = self
            .manager
            .inspect_config(&id)
            .await
            .map_err(SpawnError::docker(format!("read the tokens of {slug}")))?;
        let data = config.spec.and_then(|s| s.data).unwrap_or_default();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.as_bytes())
            .map_err(|e| SpawnError::Unreadable {
                what: format!("tokens config of {slug}"),
                value: e.to_string(),
            })?;
        Ok(parse_file(&String::from_utf8_lossy(&bytes)))
    }

    async fn service_of(&self, slug: &Slug) -> Result<bollard::models::Service, SpawnError> {
        self.current_service(slug)
            .await?
            .ok_or_else(|| DockerSpawner::not_found(slug))
    }

    /// Removes the tokens configs (of `slug`, or of every app) that no task
    /// uses any more; one still in use is left for the next time.
    pub(super) async fn remove_unused_token_configs(&self, slug: Option<&Slug>) {
        let mut filter = vec![format!("{}=tokens", labels::ROLE)];
        if let Some(slug) = slug {
            filter.push(format!("{}={slug}", labels::SLUG));
        }
        let Ok(configs) = self
            .manager
            .list_configs(Some(ListConfigsOptions {
                filters: Some(HashMap::from([("label".to_owned(), filter)])),
            }))
            .await
        else {
            return;
        };
        for config in configs {
            if let Some(id) = config.id {
                // The swarm refuses while a task uses it: that one stays.
                let _in_use = self.manager.delete_config(&id).await;
            }
        }
    }
}

/// A change of tokens is a new config and a rolling update of the service
/// to it; every task accepts the new file once the update has ended.
#[async_trait::async_trait]
impl TokenKeeper for SwarmSpawner {
    async fn tokens(&self, slug: &Slug) -> Result<Vec<TokenRecord>, SpawnError> {
        let service = self.service_of(slug).await?;
        self.tokens_of(slug, &service).await
    }

    async fn change_tokens(
        &self,
        slug: &Slug,
        change: TokenChange<'_>,
    ) -> Result<Vec<TokenRecord>, SpawnError> {
        let service = self.service_of(slug).await?;
        let mut records = self.tokens_of(slug, &service).await?;
        change(&mut records);
        let config = self.tokens_config_for(slug, &records).await?;
        let mut spec = service.spec.clone().unwrap_or_default();
        mount_tokens(&mut spec, config);
        let wanted = spec
            .task_template
            .as_ref()
            .map(TaskIdentity::of)
            .unwrap_or_default();
        let replicas = spec
            .mode
            .as_ref()
            .and_then(|m| m.replicated.as_ref())
            .and_then(|r| r.replicas)
            .and_then(|r| u8::try_from(r).ok())
            .unwrap_or(1);
        replace_service(&self.manager, &service, spec)
            .await
            .map_err(SpawnError::docker(format!("hand {slug} its new tokens")))?;
        self.wait_converged(slug, &wanted, replicas, &|_| {})
            .await?;
        self.remove_unused_token_configs(Some(slug)).await;
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_mounts_one_tokens_file_where_start_r_reads_it() {
        let config = |id: &str| TaskSpecContainerSpecConfigs {
            file: Some(TaskSpecContainerSpecFile1 {
                name: Some(tokens_path()),
                ..Default::default()
            }),
            config_id: Some(id.to_owned()),
            ..Default::default()
        };
        let mut spec = ServiceSpec::default();
        assert!(tokens_config(&spec).is_none());
        mount_tokens(&mut spec, config("a"));
        mount_tokens(&mut spec, config("b"));
        let mounted = tokens_config(&spec).unwrap();
        assert_eq!(mounted.config_id.as_deref(), Some("b"));
        assert_eq!(tokens_path(), "/run/rserve-desk/access/tokens");
        let slug = Slug::parse("sales").unwrap();
        assert_ne!(config_name(&slug, ""), config_name(&slug, "x"));
        assert!(config_name(&slug, "").starts_with("rserve-desk-tokens-sales-"));
        assert!(parse_file(HEADER).is_empty());
    }
}
