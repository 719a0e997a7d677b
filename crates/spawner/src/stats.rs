//! How hard an app's container works: one Docker stats reading of a
//! container (`one-shot`: Docker takes one reading, not two a second apart;
//! Docker 20.10 still waits for its collector's next round, at most a
//! second, and answers every read waiting then at once), with its counters
//! as they stand: CPU time and network bytes since it started, memory in
//! use. Two readings of the same container give its CPU use in between,
//! exactly, however far apart.
//!
//! Read once a tick rather than streamed (Docker's stream sends one a
//! second): a stream holds a connection each, and through an SSH session
//! each connection is a channel that OpenSSH's client looks at on every
//! packet it receives, so 200 streams cost the workstation's ssh 200 × 200
//! channel checks a second.

use bollard::Docker;
use bollard::models::{ContainerCpuStats, ContainerStatsResponse};
use bollard::query_parameters::StatsOptionsBuilder;
use futures_util::stream::StreamExt;
use serde::Serialize;

use crate::error::{SpawnError, is_not_found};

/// One reading of a container's counters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatsReading {
    pub container_id: String,
    /// The cluster node it runs on; `None` on a single host.
    pub node: Option<String>,
    /// Unix milliseconds, as Docker stamped the reading.
    pub at_ms: i64,
    /// CPU time the container used since it started, in nanoseconds.
    pub cpu_ns: u64,
    /// CPU time of all the host's CPUs, in nanoseconds, by Docker's count.
    pub system_cpu_ns: u64,
    /// The host's CPUs, to give CPU use in cores.
    pub online_cpus: u32,
    /// Memory in use, without the page cache Docker counts in its usage.
    pub memory_bytes: u64,
    /// The container's memory limit (the host's memory when it has none).
    pub memory_limit_bytes: u64,
    /// Bytes received over all its networks since it started.
    pub net_rx_bytes: u64,
    /// Bytes sent over all its networks since it started.
    pub net_tx_bytes: u64,
}

impl StatsReading {
    /// The container's CPU use from `before` (an earlier reading of it) to
    /// this one, in percent of one core (200 is two cores busy), as `docker
    /// stats` shows it; `None` when no host CPU time passed in between.
    pub fn cpu_percent_since(&self, before: &StatsReading) -> Option<f64> {
        let system = self.system_cpu_ns.checked_sub(before.system_cpu_ns)?;
        if system == 0 {
            return None;
        }
        let used = self.cpu_ns.saturating_sub(before.cpu_ns) as f64;
        Some(used / system as f64 * f64::from(self.online_cpus.max(1)) * 100.0)
    }
}

/// A reading of the container's counters now; `None` when it does not run
/// or is gone (it stopped, or was removed, since it was listed).
pub async fn container_stats(
    docker: &Docker,
    container_id: &str,
) -> Result<Option<StatsReading>, SpawnError> {
    let options = StatsOptionsBuilder::default()
        .stream(false)
        .one_shot(true)
        .build();
    let mut answer = docker.stats(container_id, Some(options));
    match answer.next().await {
        Some(Ok(response)) => Ok(to_reading(container_id, &response)),
        Some(Err(source)) if is_not_found(&source) => Ok(None),
        Some(Err(source)) => Err(SpawnError::Docker {
            action: format!("read the stats of container {container_id}"),
            source,
        }),
        None => Ok(None),
    }
}

/// Reads one stats response; `None` for the empty reading Docker gives for
/// a container that is not running.
fn to_reading(container_id: &str, r: &ContainerStatsResponse) -> Option<StatsReading> {
    let cpu = r.cpu_stats.as_ref()?;
    let system_cpu_ns = cpu.system_cpu_usage.filter(|s| *s > 0)?;
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
    Some(StatsReading {
        container_id: container_id.to_owned(),
        node: None,
        at_ms: r
            .read
            .as_ref()
            .map(|d| d.to_string())
            .and_then(|s| crate::time::parse_rfc3339_ms(&s))
            .unwrap_or_default(),
        cpu_ns: cpu.cpu_usage.as_ref().and_then(|u| u.total_usage)?,
        system_cpu_ns,
        online_cpus: online_cpus(cpu),
        memory_bytes: usage.saturating_sub(cache),
        memory_limit_bytes: memory.limit.unwrap_or(0),
        net_rx_bytes,
        net_tx_bytes,
    })
}

/// The host's CPUs as a reading counts them (older daemons list per-CPU use instead).
fn online_cpus(cpu: &ContainerCpuStats) -> u32 {
    cpu.online_cpus
        .or_else(|| {
            cpu.cpu_usage
                .as_ref()
                .and_then(|u| u.percpu_usage.as_ref())
                .map(|p| p.len() as u32)
        })
        .unwrap_or(1)
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
    fn a_reading_holds_the_counters_as_docker_stats_reads_them() {
        let response = ContainerStatsResponse {
            cpu_stats: Some(cpu(1_500, 20_000)),
            precpu_stats: Some(ContainerCpuStats::default()),
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
        let reading = to_reading("c1", &response).unwrap();
        assert_eq!((reading.cpu_ns, reading.system_cpu_ns), (1_500, 20_000));
        assert_eq!(reading.online_cpus, 2);
        assert_eq!(reading.memory_bytes, 90 << 20);
        assert_eq!(reading.memory_limit_bytes, 256 << 20);
        assert_eq!((reading.net_rx_bytes, reading.net_tx_bytes), (1024, 206));
        assert_eq!(reading.container_id, "c1");
    }

    #[test]
    fn two_readings_give_the_cpu_use_in_between_as_docker_stats_shows_it() {
        let reading = |cpu_ns, system_cpu_ns| StatsReading {
            container_id: "c1".into(),
            node: None,
            at_ms: 0,
            cpu_ns,
            system_cpu_ns,
            online_cpus: 2,
            memory_bytes: 0,
            memory_limit_bytes: 0,
            net_rx_bytes: 0,
            net_tx_bytes: 0,
        };
        let (before, now) = (reading(1_000, 10_000), reading(1_500, 20_000));
        // 500 of 10 000 system nanoseconds, on 2 CPUs: 10 % of one core.
        let percent = now.cpu_percent_since(&before).unwrap();
        assert!((percent - 10.0).abs() < 1e-9, "{percent}");
        assert_eq!(now.cpu_percent_since(&now), None);
        assert_eq!(before.cpu_percent_since(&now), None);
    }

    #[test]
    fn a_stopped_container_gives_no_reading() {
        let stopped = ContainerStatsResponse {
            cpu_stats: Some(ContainerCpuStats::default()),
            memory_stats: Some(ContainerMemoryStats::default()),
            ..Default::default()
        };
        assert_eq!(to_reading("c1", &stopped), None);
    }
}
