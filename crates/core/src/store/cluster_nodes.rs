//! Which hosts are the workers of which cluster: a cluster is the host of
//! its manager, each worker a host of its own joined to it. The desk checks
//! the rules (a worker is no cluster itself and has no apps) before it
//! comes here; the table enforces one cluster per worker.

use super::error::{StoreError, host_row_write, is_unique_violation};
use super::{Store, now_ms};

impl Store {
    /// Joins host `node` to the cluster `cluster` as a worker; joining it
    /// again to the same cluster changes nothing.
    /// [`StoreError::InCluster`] when it is a worker of another cluster.
    pub async fn join_cluster(&self, cluster: &str, node: &str) -> Result<(), StoreError> {
        if self.cluster_of(node).await?.as_deref() == Some(cluster) {
            return Ok(());
        }
        let result =
            sqlx::query("INSERT INTO cluster_nodes (cluster, node, joined_at) VALUES (?1, ?2, ?3)")
                .bind(cluster)
                .bind(node)
                .bind(now_ms())
                .execute(&self.pool)
                .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(StoreError::InCluster {
                node: node.to_owned(),
                cluster: self.cluster_of(node).await?.unwrap_or_default(),
            }),
            Err(e) => Err(host_row_write(
                cluster,
                format!("join host {node:?} to cluster {cluster:?}"),
                e,
            )),
        }
    }

    /// Takes `node` out of its cluster; whether it was in one.
    pub async fn leave_cluster(&self, node: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM cluster_nodes WHERE node = ?1")
            .bind(node)
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::db(format!("take host {node:?} out of its cluster"), e))?;
        Ok(done.rows_affected() > 0)
    }

    /// The workers of `cluster`, in the order they joined (empty: a single host).
    pub async fn cluster_nodes(&self, cluster: &str) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT node FROM cluster_nodes WHERE cluster = ?1 ORDER BY joined_at, node",
        )
        .bind(cluster)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| StoreError::db(format!("read the workers of {cluster:?}"), e))
    }

    /// The cluster `node` is a worker of, if any.
    pub async fn cluster_of(&self, node: &str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT cluster FROM cluster_nodes WHERE node = ?1")
            .bind(node)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| StoreError::db(format!("read the cluster of {node:?}"), e))
    }
}

#[cfg(test)]
mod tests {
    use crate::store::StoreError;
    use crate::store::test_support::{host, store as memory_store};

    #[tokio::test]
    async fn workers_join_one_cluster_and_go_with_their_host() {
        let store = memory_store().await;
        for name in ["c1", "c2", "n1", "n2"] {
            store.add_host(host(name)).await.unwrap();
        }
        store.join_cluster("c1", "n1").await.unwrap();
        store.join_cluster("c1", "n2").await.unwrap();
        store.join_cluster("c1", "n1").await.unwrap();
        assert_eq!(store.cluster_nodes("c1").await.unwrap(), ["n1", "n2"]);
        assert_eq!(store.cluster_of("n2").await.unwrap().as_deref(), Some("c1"));
        assert_eq!(store.cluster_of("c1").await.unwrap(), None);

        let err = store.join_cluster("c2", "n1").await.unwrap_err();
        assert!(
            matches!(&err, StoreError::InCluster { node, cluster } if node == "n1" && cluster == "c1"),
            "{err:?}"
        );
        let err = store.join_cluster("ghost", "n1").await;
        assert!(err.is_err());
        let err = store.join_cluster("c1", "c1").await;
        assert!(err.is_err(), "a host is no worker of itself");

        store.remove_host("n2").await.unwrap();
        assert_eq!(store.cluster_nodes("c1").await.unwrap(), ["n1"]);
        assert!(store.leave_cluster("n1").await.unwrap());
        assert!(!store.leave_cluster("n1").await.unwrap());
        store.join_cluster("c1", "n1").await.unwrap();
        store.remove_host("c1").await.unwrap();
        assert_eq!(store.cluster_of("n1").await.unwrap(), None);
    }
}
