//! How hard an app's container works, as it works: one Docker stats stream
//! per running container (Docker sends a reading about once a second), each
//! reading turned into a [`StatsSample`]. Streams, not one-shot calls per
//! sample (design principle 7).

use bollard::Docker;
use bollard::models::{ContainerCpuStats, ContainerStatsResponse};
use bollard::query_parameters::StatsOptionsBuilder;
use futures_util::stream::{BoxStream, StreamExt};
use serde::Serialize;

use crate::error::SpawnError;

/// One reading of a container's resource use.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatsSample {
    pub container_id: String,
    /// Unix milliseconds, as Docker stamped the reading.
    pub at_ms: i64,
    /// CPU use since the previous reading, in percent of one core (200 is two
    /// cores busy), as `docker stats` shows it.
    pub cpu_percent: f64,
    /// Memory in use, without the page cache Docker counts in its usage.
    pub memory_bytes: u64,
    /// The container's memory limit (the host's memory when it has none).
    pub memory_limit_bytes: u64,
    /// Bytes received over all its networks since it started.
    pub net_rx_bytes: u64,
    /// Bytes sent over all its networks since it started.
    pub net_tx_bytes: u64,
}

/// The container's readings from now on, until the stream is dropped or the
/// container stops (Docker then ends the stream).
pub fn container_stats(
    docker: &Docker,
    container_id: &str,
) -> BoxStream<'static, Result<StatsSample, SpawnError>> {
    let options = StatsOptionsBuilder::default()
        .stream(true)
        .one_shot(false)
        .build();
    let id = container_id.to_owned();
    docker
        .stats(container_id, Some(options))
        .filter_map(move |item| {
            let id = id.clone();
            async move {
                match item {
                    Ok(response) => to_sample(&id, &response).map(Ok),
                    Err(source) => Some(Err(SpawnError::Docker {
                        action: format!("stream the stats of container {id}"),
                        source,
                    })),
                }
            }
        })
        .boxed()
}

/// Reads one stats response; `None` for the empty readings Docker sends for
/// a container that is not running, and for the first reading of a stream,
/// which has no previous one to measure CPU use against.
fn to_sample(container_id: &str, r: &ContainerStatsResponse) -> Option<StatsSample> {
    r.precpu_stats
        .as_ref()
        .and_then(|p| p.system_cpu_usage)
        .filter(|s| *s > 0)?;
    let memory = r.memory_stats.as_ref()?;
    let usage = memory.usage?;
    // Docker's own CLI subtracts the page cache: `inactive_file` on cgroup
    // v2, `total_inactive_file` or `cache` on cgroup v1.
    let cache = memory
        .stats
        .as_ref()
        .and_then(|s| {
            s.get("inactive_file")
                .or_else(|| s.get("total_inactive_file"))
                .or_else(|| s.get("cache"))
        })
        .copied()
        .unwrap_or(0);
    let (net_rx_bytes, net_tx_bytes) = r
        .networks
        .iter()
        .flat_map(|n| n.values())
        .fold((0, 0), |(rx, tx), n| {
            (rx + n.rx_bytes.unwrap_or(0), tx + n.tx_bytes.unwrap_or(0))
        });
    Some(StatsSample {
        container_id: container_id.to_owned(),
        at_ms: r
            .read
            .as_ref()
            .map(|d| d.to_string())
            .and_then(|s| crate::time::parse_rfc3339_ms(&s))
            .unwrap_or_default(),
        cpu_percent: cpu_percent(r.cpu_stats.as_ref()?, r.precpu_stats.as_ref()),
        memory_bytes: usage.saturating_sub(cache),
        memory_limit_bytes: memory.limit.unwrap_or(0),
        net_rx_bytes,
        net_tx_bytes,
    })
}

/// `docker stats`' formula: the container's share of the host's CPU time
/// between two readings, times the number of CPUs.
fn cpu_percent(now: &ContainerCpuStats, before: Option<&ContainerCpuStats>) -> f64 {
    let total = |s: &ContainerCpuStats| s.cpu_usage.as_ref().and_then(|u| u.total_usage);
    let (Some(now_total), Some(now_system)) = (total(now), now.system_cpu_usage) else {
        return 0.0;
    };
    let (before_total, before_system) = before
        .map(|b| (total(b).unwrap_or(0), b.system_cpu_usage.unwrap_or(0)))
        .unwrap_or((0, 0));
    let cpu_delta = now_total.saturating_sub(before_total) as f64;
    let system_delta = now_system.saturating_sub(before_system) as f64;
    let cpus = now
        .online_cpus
        .map(f64::from)
        .or_else(|| {
            now.cpu_usage
                .as_ref()
                .and_then(|u| u.percpu_usage.as_ref())
                .map(|p| p.len() as f64)
        })
        .unwrap_or(1.0);
    if system_delta > 0.0 && before_system > 0 {
        cpu_delta / system_delta * cpus * 100.0
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use bollard::models::{ContainerCpuUsage, ContainerMemoryStats, ContainerNetworkStats};

    use super::*;

    fn cpu(total: u64, system: u64) -> ContainerCpuStats {
        ContainerCpuStats {
            cpu_usage: Some(ContainerCpuUsage {
                total_usage: Some(total),
                ..Default::default()
            }),
            system_cpu_usage: Some(system),
            online_cpus: Some(2),
            ..Default::default()
        }
    }

    fn network(rx: u64, tx: u64) -> ContainerNetworkStats {
        ContainerNetworkStats {
            rx_bytes: Some(rx),
            tx_bytes: Some(tx),
            ..Default::default()
        }
    }

    #[test]
    fn a_reading_becomes_a_sample_as_docker_stats_shows_it() {
        let response = ContainerStatsResponse {
            cpu_stats: Some(cpu(1_500, 20_000)),
            precpu_stats: Some(cpu(1_000, 10_000)),
            memory_stats: Some(ContainerMemoryStats {
                usage: Some(100 << 20),
                limit: Some(256 << 20),
                stats: Some(HashMap::from([("inactive_file".to_owned(), 10 << 20)])),
                ..Default::default()
            }),
            networks: Some(HashMap::from([
                ("eth0".to_owned(), network(1000, 200)),
                ("eth1".to_owned(), network(24, 6)),
            ])),
            ..Default::default()
        };
        let sample = to_sample("c1", &response).unwrap();
        // 500 of 10 000 system ticks, on 2 CPUs: 10 % of one core.
        assert!((sample.cpu_percent - 10.0).abs() < 1e-9, "{sample:?}");
        assert_eq!(sample.memory_bytes, 90 << 20);
        assert_eq!(sample.memory_limit_bytes, 256 << 20);
        assert_eq!((sample.net_rx_bytes, sample.net_tx_bytes), (1024, 206));
        assert_eq!(sample.container_id, "c1");
    }

    #[test]
    fn the_first_reading_and_a_stopped_container_give_no_sample() {
        let first = ContainerStatsResponse {
            cpu_stats: Some(cpu(1_500, 20_000)),
            precpu_stats: Some(ContainerCpuStats::default()),
            memory_stats: Some(ContainerMemoryStats {
                usage: Some(1),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(to_sample("c1", &first), None);
        let stopped = ContainerStatsResponse {
            precpu_stats: Some(cpu(1_000, 10_000)),
            memory_stats: Some(ContainerMemoryStats::default()),
            ..Default::default()
        };
        assert_eq!(to_sample("c1", &stopped), None);
    }
}
