//! `rdesk host join|leave|nodes`: which hosts are a cluster's workers.

use anyhow::Result;
use clap::Args;
use rdesk_core::desk::Desk;

use crate::output::Output;

#[derive(Args)]
pub struct JoinArgs {
    /// The cluster: the host of its manager.
    pub cluster: String,
    /// A host added with `rdesk host add`, to become a worker (repeatable).
    #[arg(required = true)]
    pub nodes: Vec<String>,
}

/// Joins each node; the first refusal stops, the ones before it stay joined.
pub async fn join(desk: &Desk, args: JoinArgs, out: &Output) -> Result<()> {
    for node in &args.nodes {
        desk.join_cluster(&args.cluster, node).await?;
    }
    let nodes = desk.cluster_nodes(&args.cluster).await?;
    out.message(
        &format!(
            "{} is a cluster: {} as manager, workers {} (`rdesk host bootstrap {}` makes them one swarm)",
            args.cluster,
            args.cluster,
            nodes.join(", "),
            args.cluster
        ),
        &serde_json::json!({ "cluster": args.cluster, "workers": nodes }),
    );
    Ok(())
}

pub async fn leave(desk: &Desk, node: &str, out: &Output) -> Result<()> {
    desk.leave_cluster(node).await?;
    out.message(
        &format!("{node} is no longer a worker of a cluster here (its swarm is left as it is)"),
        &serde_json::json!({ "left": node }),
    );
    Ok(())
}

pub async fn nodes(desk: &Desk, cluster: &str, out: &Output) -> Result<()> {
    let nodes = desk.cluster_nodes(cluster).await?;
    let text = if nodes.is_empty() {
        format!("{cluster} is a single host (no workers)")
    } else {
        format!("{cluster} (manager), workers: {}", nodes.join(", "))
    };
    out.message(
        &text,
        &serde_json::json!({ "cluster": cluster, "workers": nodes }),
    );
    Ok(())
}
