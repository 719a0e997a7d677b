//! Clusters (issue 16): a cluster is the host of its manager, and each
//! worker a host the user added on its own (its SSH target, pinned key and
//! secrets stay its own), joined to it here. What joining checks: both are
//! SSH hosts, a worker is no cluster itself and serves no app of its own
//! (the swarm would run beside them, unseen); a manager is no worker. A
//! worker's own apps are refused: what it runs is its cluster's.

use super::Desk;
use crate::error::DeskError;
use crate::store::HostKind;

/// Why a host cannot join or leave a cluster, as the user reads it.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("a host cannot be a worker of itself")]
    Itself,
    #[error(
        "host `{0}` is not reached over SSH (this machine's Docker); a cluster's nodes are VPSs"
    )]
    NotSsh(String),
    #[error(
        "host `{node}` is itself a cluster (its workers: {workers}); take them out with `rdesk host leave` first"
    )]
    NodeIsCluster { node: String, workers: String },
    #[error(
        "host `{cluster}` is a worker of `{of}`; join workers to `{of}`, the cluster's manager"
    )]
    ClusterIsWorker { cluster: String, of: String },
    #[error(
        "host `{node}` serves apps of its own ({apps}); remove them (`rdesk rm SLUG --host {node}`) before it joins a cluster"
    )]
    NodeHasApps { node: String, apps: String },
    #[error("host `{0}` is no worker of any cluster")]
    NotAWorker(String),
    #[error(
        "host `{node}` is a worker of cluster `{cluster}`: the apps it runs are `{cluster}`'s, listed, deployed and watched there"
    )]
    IsWorker { node: String, cluster: String },
}

impl Desk {
    /// Records `node` as a worker of `cluster`; nothing on either changes
    /// until `cluster` is bootstrapped, which makes them one swarm.
    pub async fn join_cluster(&self, cluster: &str, node: &str) -> Result<(), DeskError> {
        if cluster == node {
            return Err(ClusterError::Itself.into());
        }
        for name in [cluster, node] {
            if self.host(name).await?.kind != HostKind::Ssh {
                return Err(ClusterError::NotSsh(name.to_owned()).into());
            }
        }
        if let Some(of) = self.store.cluster_of(cluster).await? {
            return Err(ClusterError::ClusterIsWorker {
                cluster: cluster.to_owned(),
                of,
            }
            .into());
        }
        let workers = self.store.cluster_nodes(node).await?;
        if !workers.is_empty() {
            return Err(ClusterError::NodeIsCluster {
                node: node.to_owned(),
                workers: workers.join(", "),
            }
            .into());
        }
        let apps = self.store.apps(node).await?;
        if !apps.is_empty() {
            let slugs: Vec<_> = apps.iter().map(|app| app.slug.as_str()).collect();
            return Err(ClusterError::NodeHasApps {
                node: node.to_owned(),
                apps: slugs.join(", "),
            }
            .into());
        }
        Ok(self.store.join_cluster(cluster, node).await?)
    }

    /// Forgets that `node` is a worker of its cluster (the swarm keeps it
    /// until the node leaves it on the VPS).
    pub async fn leave_cluster(&self, node: &str) -> Result<(), DeskError> {
        self.host(node).await?;
        if self.store.leave_cluster(node).await? {
            Ok(())
        } else {
            Err(ClusterError::NotAWorker(node.to_owned()).into())
        }
    }

    /// The workers of `cluster` (empty for a single host).
    pub async fn cluster_nodes(&self, cluster: &str) -> Result<Vec<String>, DeskError> {
        self.host(cluster).await?;
        Ok(self.store.cluster_nodes(cluster).await?)
    }

    /// The cluster `node` is a worker of, if any.
    pub async fn cluster_of(&self, node: &str) -> Result<Option<String>, DeskError> {
        Ok(self.store.cluster_of(node).await?)
    }

    /// Refuses app work on a worker: its tasks are its cluster's apps,
    /// listed, deployed and watched there.
    pub(super) async fn refuse_worker(&self, host: &str) -> Result<(), DeskError> {
        match self.store.cluster_of(host).await? {
            Some(cluster) => Err(ClusterError::IsWorker {
                node: host.to_owned(),
                cluster,
            }
            .into()),
            None => Ok(()),
        }
    }
}
