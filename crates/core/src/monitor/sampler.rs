//! Turns the running containers' stats streams into one sample per app per
//! tick: a task per container follows its Docker stats stream and adds each
//! reading up; at each tick the readings since the previous tick become the
//! app's CPU mean, its last memory use and limit, and the network bytes moved
//! in between.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use rdesk_spawner::{Spawner, StatsSample};
use tokio::task::JoinHandle;

use crate::store::MetricSample;

/// Readings of one container since the last tick.
#[derive(Debug, Default)]
struct Readings {
    slug: String,
    cpu_sum: f64,
    count: u32,
    last: Option<StatsSample>,
}

/// Network counters of an app at the previous tick, to take differences.
#[derive(Debug, Clone)]
struct Counters {
    container: String,
    rx: u64,
    tx: u64,
}

/// The stats streams of one host's running app containers.
#[derive(Default)]
pub(crate) struct Sampler {
    readings: Arc<Mutex<HashMap<String, Readings>>>,
    tasks: HashMap<String, JoinHandle<()>>,
    previous: HashMap<String, Counters>,
}

impl Sampler {
    /// Follows `container_id` of `slug` (again) from now on; a stream
    /// already followed for it is kept.
    pub(crate) fn follow(&mut self, spawner: &dyn Spawner, slug: &str, container_id: &str) {
        if self
            .tasks
            .get(container_id)
            .is_some_and(|t| !t.is_finished())
        {
            return;
        }
        if let Ok(mut readings) = self.readings.lock() {
            readings.insert(
                container_id.to_owned(),
                Readings {
                    slug: slug.to_owned(),
                    ..Readings::default()
                },
            );
        }
        let mut stream = spawner.stats(container_id);
        let readings = self.readings.clone();
        let id = container_id.to_owned();
        let task = tokio::spawn(async move {
            while let Some(Ok(sample)) = stream.next().await {
                let Ok(mut readings) = readings.lock() else {
                    return;
                };
                let Some(r) = readings.get_mut(&id) else {
                    return;
                };
                r.cpu_sum += sample.cpu_percent;
                r.count += 1;
                r.last = Some(sample);
            }
        });
        self.tasks.insert(container_id.to_owned(), task);
    }

    /// Stops following a container that stopped or went away.
    pub(crate) fn forget(&mut self, container_id: &str) {
        if let Some(task) = self.tasks.remove(container_id) {
            task.abort();
        }
        if let Ok(mut readings) = self.readings.lock() {
            readings.remove(container_id);
        }
    }

    /// Stops every stream (the connection is gone).
    pub(crate) fn clear(&mut self) {
        for (_, task) in self.tasks.drain() {
            task.abort();
        }
        if let Ok(mut readings) = self.readings.lock() {
            readings.clear();
        }
    }

    /// One sample per app with readings since the last tick, stamped
    /// `at_ms`, without requests (the monitor adds those).
    pub(crate) fn take(&mut self, at_ms: i64) -> Vec<MetricSample> {
        let Ok(mut readings) = self.readings.lock() else {
            return Vec::new();
        };
        let mut samples = Vec::new();
        for (id, r) in readings.iter_mut() {
            let Some(last) = &r.last else { continue };
            if r.count == 0 {
                continue;
            }
            let (rx, tx) = match self.previous.get(&r.slug) {
                // Same container: what moved since.
                Some(p) if &p.container == id => (
                    last.net_rx_bytes.saturating_sub(p.rx),
                    last.net_tx_bytes.saturating_sub(p.tx),
                ),
                // A container's first tick is the baseline: its counters
                // hold everything since it started, maybe hours ago.
                _ => (0, 0),
            };
            self.previous.insert(
                r.slug.clone(),
                Counters {
                    container: id.clone(),
                    rx: last.net_rx_bytes,
                    tx: last.net_tx_bytes,
                },
            );
            samples.push(MetricSample {
                slug: r.slug.clone(),
                at_ms,
                cpu_percent: r.cpu_sum / f64::from(r.count),
                memory_bytes: last.memory_bytes,
                memory_limit_bytes: last.memory_limit_bytes,
                net_rx_bytes: rx,
                net_tx_bytes: tx,
                requests: None,
            });
            r.cpu_sum = 0.0;
            r.count = 0;
        }
        samples.sort_by(|a, b| a.slug.cmp(&b.slug));
        samples
    }

    #[cfg(test)]
    fn add(&mut self, container_id: &str, slug: &str, sample: StatsSample) {
        let mut readings = self.readings.lock().unwrap();
        let r = readings
            .entry(container_id.to_owned())
            .or_insert_with(|| Readings {
                slug: slug.to_owned(),
                ..Readings::default()
            });
        r.cpu_sum += sample.cpu_percent;
        r.count += 1;
        r.last = Some(sample);
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(cpu: f64, mem: u64, rx: u64) -> StatsSample {
        StatsSample {
            container_id: "c1".into(),
            at_ms: 0,
            cpu_percent: cpu,
            memory_bytes: mem,
            memory_limit_bytes: 1000,
            net_rx_bytes: rx,
            net_tx_bytes: rx / 2,
        }
    }

    #[tokio::test]
    async fn readings_between_ticks_become_one_sample_per_app() {
        let mut sampler = Sampler::default();
        sampler.add("c1", "web", reading(10.0, 100, 1000));
        sampler.add("c1", "web", reading(30.0, 200, 1500));
        let first = sampler.take(5_000);
        assert_eq!(first.len(), 1);
        let s = &first[0];
        assert_eq!((s.slug.as_str(), s.at_ms), ("web", 5_000));
        assert_eq!(s.cpu_percent, 20.0);
        assert_eq!((s.memory_bytes, s.memory_limit_bytes), (200, 1000));
        // The first tick is the baseline of the network counters.
        assert_eq!((s.net_rx_bytes, s.net_tx_bytes), (0, 0));
        assert_eq!(s.requests, None);

        // No reading since: no sample (not a made-up zero).
        assert!(sampler.take(10_000).is_empty());

        sampler.add("c1", "web", reading(5.0, 150, 1700));
        let next = sampler.take(15_000);
        assert_eq!((next[0].net_rx_bytes, next[0].net_tx_bytes), (200, 100));

        // A new container of the same app starts a new baseline.
        sampler.forget("c1");
        sampler.add("c2", "web", reading(1.0, 50, 300));
        assert_eq!(sampler.take(20_000)[0].net_rx_bytes, 0);
        sampler.add("c2", "web", reading(1.0, 50, 420));
        assert_eq!(sampler.take(25_000)[0].net_rx_bytes, 120);
    }
}
