//! Apps read back from a swarm: the services' labels describe them, their
//! current tasks' containers on every node (each with its node) show how
//! they run. A listing asks the manager twice (services, running tasks)
//! and each node once, however many apps there are.

use std::collections::HashMap;

use bollard::models::TaskState;
use bollard::query_parameters::{ListServicesOptions, ListTasksOptions};

use super::service::service_name;
use super::{SwarmSpawner, on_node};
use crate::docker::DockerSpawner;
use crate::error::SpawnError;
use crate::labels;
use crate::spec::Slug;
use crate::state::{AppState, group_into_apps};

impl SwarmSpawner {
    /// Every node's app containers (of `slug`, or all), each with its node's name.
    pub(super) async fn containers(
        &self,
        slug: Option<&Slug>,
    ) -> Result<Vec<(String, bollard::models::ContainerSummary)>, SpawnError> {
        let lists = self.nodes.iter().map(|(name, node)| async move {
            let list = match slug {
                Some(slug) => node.containers_of(slug).await,
                None => node.app_containers(&[]).await,
            };
            list.map(|l| l.into_iter().map(|c| (name.clone(), c)).collect::<Vec<_>>())
                .map_err(|e| on_node(name, e))
        });
        let mut all = Vec::new();
        for list in futures_util::future::join_all(lists).await {
            all.extend(list?);
        }
        all.sort_by_key(|(_, c)| std::cmp::Reverse(c.created.unwrap_or(0)));
        Ok(all)
    }

    /// Apps as the services' labels describe them, with their current
    /// tasks' containers on every node (else their newest container).
    pub(super) async fn apps(&self, slug: Option<&Slug>) -> Result<Vec<AppState>, SpawnError> {
        let mut filters =
            HashMap::from([("label".to_owned(), labels::ours(labels::Role::App, &[]))]);
        if let Some(slug) = slug {
            filters.insert("name".to_owned(), vec![service_name(slug)]);
        }
        let services = self
            .manager
            .list_services(Some(ListServicesOptions {
                filters: Some(filters),
                ..Default::default()
            }))
            .await
            .map_err(SpawnError::docker("list services"))?;
        let containers = self.containers(slug).await?;
        if slug.is_none() {
            self.remember_placement(&containers);
        }
        let wanted = self.running_task_containers().await?;
        let mut apps = Vec::new();
        for service in services {
            let Some(labels) = service.spec.as_ref().and_then(|s| s.labels.clone()) else {
                continue;
            };
            let Some(service_slug) = labels.get(labels::SLUG).and_then(|s| Slug::parse(s).ok())
            else {
                continue;
            };
            if slug.is_some_and(|s| *s != service_slug) {
                continue;
            }
            let mine: Vec<_> = containers
                .iter()
                .filter(|(_, c)| {
                    c.labels.as_ref().and_then(|l| l.get(labels::SLUG))
                        == Some(&service_slug.to_string())
                })
                .collect();
            let current: Vec<_> = mine
                .iter()
                .filter(|(_, c)| c.id.as_ref().is_some_and(|id| wanted.contains(id)))
                .collect();
            let shown: Vec<bollard::models::ContainerSummary> = if current.is_empty() {
                mine.iter().take(1).map(|(_, c)| c.clone()).collect()
            } else {
                current.iter().map(|(_, c)| c.clone()).collect()
            };
            let nodes: HashMap<String, String> = mine
                .iter()
                .filter_map(|(node, c)| Some((c.id.clone()?, node.clone())))
                .collect();
            let mut states = group_into_apps(&shown)
                .into_iter()
                .next()
                .map(|app| app.containers)
                .unwrap_or_default();
            for state in &mut states {
                state.node = nodes.get(&state.id).cloned();
            }
            if let Some(app) = AppState::from_labels(&labels, states) {
                apps.push(app);
            }
        }
        apps.sort_by(|a, b| a.slug.cmp(&b.slug));
        Ok(apps)
    }

    /// The containers of every task the swarm wants running and that runs,
    /// whatever its service: one question to the manager for all apps.
    async fn running_task_containers(&self) -> Result<Vec<String>, SpawnError> {
        let tasks = self
            .manager
            .list_tasks(Some(ListTasksOptions {
                filters: Some(HashMap::from([(
                    "desired-state".to_owned(),
                    vec!["running".to_owned()],
                )])),
            }))
            .await
            .map_err(SpawnError::docker("list the swarm's tasks"))?;
        Ok(tasks
            .into_iter()
            .filter_map(|t| t.status)
            .filter(|s| s.state == Some(TaskState::RUNNING))
            .filter_map(|s| s.container_status?.container_id)
            .collect())
    }

    /// The node whose Docker has container `id`: as the last listing saw
    /// it, else the first node that knows it (remembered: the monitor asks
    /// for a task's node at every tick, and a task started since the
    /// listing would otherwise cost a question to each node every time).
    pub(super) async fn node_of(&self, id: &str) -> Option<&(String, DockerSpawner)> {
        let listed = self.placed.lock().ok().and_then(|p| p.get(id).copied());
        if let Some(named) = listed.and_then(|i| self.nodes.get(i)) {
            return Some(named);
        }
        for (index, named @ (_, node)) in self.nodes.iter().enumerate() {
            if node.docker.inspect_container(id, None).await.is_ok() {
                if let Ok(mut placed) = self.placed.lock() {
                    placed.insert(id.to_owned(), index);
                }
                return Some(named);
            }
        }
        None
    }

    /// Remembers which node each of `containers` runs on.
    fn remember_placement(&self, containers: &[(String, bollard::models::ContainerSummary)]) {
        let Ok(mut placed) = self.placed.lock() else {
            return;
        };
        placed.clear();
        for (node, container) in containers {
            let index = self.nodes.iter().position(|(name, _)| name == node);
            if let (Some(id), Some(index)) = (&container.id, index) {
                placed.insert(id.clone(), index);
            }
        }
    }
}
