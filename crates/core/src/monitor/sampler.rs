//! Turns the running app containers' stats into one sample per app per
//! tick. At each tick every followed container is read once, 64 at a time
//! (each read is a connection, so a channel of the host's SSH session),
//! while the monitor goes on handling events; each app's
//! sample adds up its containers' readings (its replicas, or the old and the
//! new container during a redeploy): their CPU use since their previous
//! reading (exact, from Docker's cumulative counters), their memory in use
//! and limits, and the network bytes they moved in between. On a cluster
//! each app also has a sample of its part on each node (its containers
//! there), as the nodes' readings say. A container's first reading is its
//! baseline; an app whose readings all are, has no sample yet (not a
//! made-up zero). A read that fails is tried again at the next tick.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;

use futures_util::future::{BoxFuture, FutureExt};
use futures_util::stream::{self, StreamExt};
use rdesk_spawner::{AppState, SpawnError, Spawner, StatsReading};

use crate::host::KEPT_CONNECTIONS;
use crate::store::MetricSample;

/// Containers read at once. Docker 20.10 answers a read at its stats
/// collector's next round, once a second, so as many reads take a second as
/// one: 64 read 200 containers in about 4 s, within a tick. Kept under the
/// connections the host's client keeps open, so the reads reuse theirs from
/// tick to tick instead of opening SSH channels each time.
const READ_AT_ONCE: usize = KEPT_CONNECTIONS - 8;

/// A followed container and its readings.
struct Followed {
    slug: String,
    /// The reading the last sample measured up to: the next one's baseline.
    taken: Option<StatsReading>,
    /// A reading newer than `taken`, not yet in a sample.
    fresh: Option<StatsReading>,
}

/// The running app containers of one host, and their readings.
#[derive(Default)]
pub(crate) struct Sampler {
    followed: HashMap<String, Followed>,
}

impl Sampler {
    /// Reads `container_id` of `slug` at each tick from now on.
    pub(crate) fn follow(&mut self, slug: &str, container_id: &str) {
        self.followed
            .entry(container_id.to_owned())
            .or_insert_with(|| Followed {
                slug: slug.to_owned(),
                taken: None,
                fresh: None,
            });
    }

    /// Reads every running container of `app` from now on
    /// ([`AppState::running`]).
    pub(crate) fn follow_running(&mut self, app: &AppState) {
        for container in app.running() {
            self.follow(&app.slug, &container.id);
        }
    }

    /// Stops reading a container that stopped or went away.
    pub(crate) fn forget(&mut self, container_id: &str) {
        self.followed.remove(container_id);
    }

    /// Reads every followed container once, [`READ_AT_ONCE`] at a time: the
    /// readings of those that run (one that fails is left for next time).
    pub(crate) fn read<'a>(&self, spawner: &'a dyn Spawner) -> BoxFuture<'a, Vec<StatsReading>> {
        self.read_with(move |id| async move { spawner.stats(&id).await })
    }

    /// [`Sampler::read`] with `read_one` reading a container.
    fn read_with<'a, R, F>(&self, read_one: R) -> BoxFuture<'a, Vec<StatsReading>>
    where
        R: Fn(String) -> F + Send + 'a,
        F: Future<Output = Result<Option<StatsReading>, SpawnError>> + Send + 'a,
    {
        let ids: Vec<String> = self.followed.keys().cloned().collect();
        stream::iter(ids)
            .map(read_one)
            .buffer_unordered(READ_AT_ONCE)
            .filter_map(|read| async move { read.ok().flatten() })
            .collect()
            .boxed()
    }

    /// Keeps the readings of containers still followed for the next sample.
    pub(crate) fn record(&mut self, readings: Vec<StatsReading>) {
        for reading in readings {
            if let Some(followed) = self.followed.get_mut(&reading.container_id) {
                followed.fresh = Some(reading);
            }
        }
    }

    /// The samples measured since the last take, stamped `at_ms`, without
    /// requests (the monitor adds those to the apps' whole use).
    pub(crate) fn take(&mut self, at_ms: i64) -> Taken {
        let mut sums: BTreeMap<(String, Option<String>), MetricSample> = BTreeMap::new();
        // Apps with a container whose CPU use was measured: the others have
        // only baselines yet. An app's parts go with its whole, so that they
        // add up to it.
        let mut measured: HashSet<String> = HashSet::new();
        for followed in self.followed.values_mut() {
            let Some(now) = followed.fresh.take() else {
                continue;
            };
            let before = followed.taken.as_ref();
            // The app's whole use, and its part on the node that read it.
            for node in std::iter::once(None).chain(now.node.clone().map(Some)) {
                let sample = sums
                    .entry((followed.slug.clone(), node.clone()))
                    .or_insert_with(|| MetricSample::zero(&followed.slug, node.as_deref(), at_ms));
                if add_use(sample, &now, before) {
                    measured.insert(followed.slug.clone());
                }
            }
            followed.taken = Some(now);
        }
        let (apps, on_nodes) = sums
            .into_values()
            .filter(|sample| measured.contains(&sample.slug))
            .partition(|sample| sample.node.is_none());
        Taken { apps, on_nodes }
    }
}

/// One tick's samples.
pub(crate) struct Taken {
    /// Each app's whole use, in slug order.
    pub(crate) apps: Vec<MetricSample>,
    /// On a cluster, each app's part on each node, in slug and node order.
    pub(crate) on_nodes: Vec<MetricSample>,
}

/// Adds what a container used from its reading `before` (its baseline) to
/// `now` to `sample`; whether its CPU use could be measured.
fn add_use(sample: &mut MetricSample, now: &StatsReading, before: Option<&StatsReading>) -> bool {
    sample.memory_bytes += now.memory_bytes;
    sample.memory_limit_bytes += now.memory_limit_bytes;
    let Some(before) = before else {
        return false;
    };
    sample.net_rx_bytes += now.net_rx_bytes.saturating_sub(before.net_rx_bytes);
    sample.net_tx_bytes += now.net_tx_bytes.saturating_sub(before.net_tx_bytes);
    match now.cpu_percent_since(before) {
        Some(cpu) => {
            sample.cpu_percent += cpu;
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use rdesk_spawner::{AppStatus, ContainerState};

    use super::*;

    /// A tick's samples, the apps' whole use first, then their parts on nodes.
    fn take_all(sampler: &mut Sampler, at_ms: i64) -> Vec<MetricSample> {
        let Taken { mut apps, on_nodes } = sampler.take(at_ms);
        apps.extend(on_nodes);
        apps
    }

    /// Container `id` at `second`, having used `cpu_ms` of CPU, on a host of
    /// 2 CPUs (whose CPU time grows 2 s a second).
    fn reading(id: &str, second: u64, cpu_ms: u64, mem: u64, rx: u64) -> StatsReading {
        StatsReading {
            container_id: id.into(),
            node: None,
            at_ms: second as i64 * 1000,
            cpu_ns: cpu_ms * 1_000_000,
            system_cpu_ns: second * 2_000_000_000,
            online_cpus: 2,
            memory_bytes: mem,
            memory_limit_bytes: 1000,
            net_rx_bytes: rx,
            net_tx_bytes: rx / 2,
        }
    }

    #[test]
    fn a_containers_first_reading_is_the_baseline_of_the_next() {
        let mut sampler = Sampler::default();
        sampler.follow("web", "c1");
        sampler.record(vec![reading("c1", 100, 0, 100, 1000)]);
        assert!(take_all(&mut sampler, 5_000).is_empty());

        // 500 ms of CPU in 5 s: 10 % of one core.
        sampler.record(vec![reading("c1", 105, 500, 200, 1500)]);
        let samples = take_all(&mut sampler, 10_000);
        assert_eq!(samples.len(), 1);
        let s = &samples[0];
        assert_eq!((s.slug.as_str(), s.at_ms), ("web", 10_000));
        assert!((s.cpu_percent - 10.0).abs() < 1e-9, "{s:?}");
        assert_eq!((s.memory_bytes, s.memory_limit_bytes), (200, 1000));
        assert_eq!((s.net_rx_bytes, s.net_tx_bytes), (500, 250));
        assert_eq!(s.requests, None);

        // No reading since: no sample.
        assert!(take_all(&mut sampler, 15_000).is_empty());
        // A tick whose read failed: the next reading measures from the last
        // one taken, so nothing is lost.
        sampler.record(vec![reading("c1", 115, 1500, 150, 1700)]);
        let next = &take_all(&mut sampler, 20_000)[0];
        assert!((next.cpu_percent - 10.0).abs() < 1e-9, "{next:?}");
        assert_eq!(next.net_rx_bytes, 200);
    }

    #[test]
    fn an_apps_containers_add_up() {
        let mut sampler = Sampler::default();
        for id in ["c1", "c2"] {
            sampler.follow("web", id);
        }
        sampler.follow("api", "c3");
        sampler.record(vec![
            reading("c1", 100, 0, 100, 0),
            reading("c2", 100, 0, 300, 0),
            reading("c3", 100, 0, 50, 0),
        ]);
        assert!(take_all(&mut sampler, 5_000).is_empty());
        sampler.record(vec![
            reading("c1", 105, 500, 100, 1000),
            reading("c2", 105, 1000, 300, 2000),
            reading("c3", 105, 0, 50, 0),
        ]);
        let samples = take_all(&mut sampler, 10_000);
        let slugs: Vec<_> = samples.iter().map(|s| s.slug.as_str()).collect();
        assert_eq!(slugs, ["api", "web"]);
        let web = &samples[1];
        assert!((web.cpu_percent - 30.0).abs() < 1e-9, "{web:?}");
        assert_eq!((web.memory_bytes, web.memory_limit_bytes), (400, 2000));
        assert_eq!(web.net_rx_bytes, 3000);

        // A new replica counts its memory at once, its CPU from its second reading.
        sampler.follow("web", "c4");
        sampler.record(vec![
            reading("c1", 110, 500, 100, 1000),
            reading("c4", 110, 0, 500, 0),
        ]);
        let web = &take_all(&mut sampler, 15_000)[0];
        assert_eq!(web.slug, "web");
        assert_eq!(web.memory_bytes, 600);
        assert_eq!(web.cpu_percent, 0.0);
    }

    /// Each sample's node, CPU (rounded) and memory.
    fn by_node(samples: &[MetricSample]) -> Vec<(Option<&str>, f64, u64)> {
        samples
            .iter()
            .map(|s| (s.node.as_deref(), s.cpu_percent.round(), s.memory_bytes))
            .collect()
    }

    #[test]
    fn a_clusters_app_has_a_part_per_node_beside_its_whole_use() {
        let on = |node: &str, r: StatsReading| StatsReading {
            node: Some(node.into()),
            ..r
        };
        let mut sampler = Sampler::default();
        for id in ["t1", "t2", "t3"] {
            sampler.follow("web", id);
        }
        sampler.record(vec![
            on("big1", reading("t1", 100, 0, 100, 0)),
            on("big2", reading("t2", 100, 0, 200, 0)),
            on("big2", reading("t3", 100, 0, 300, 0)),
        ]);
        assert!(take_all(&mut sampler, 5_000).is_empty());
        sampler.record(vec![
            on("big1", reading("t1", 105, 500, 100, 100)),
            on("big2", reading("t2", 105, 1000, 200, 200)),
            on("big2", reading("t3", 105, 1500, 300, 400)),
        ]);
        let samples = take_all(&mut sampler, 10_000);
        assert_eq!(
            by_node(&samples),
            [
                (None, 60.0, 600),
                (Some("big1"), 10.0, 100),
                (Some("big2"), 50.0, 500),
            ]
        );
        assert!(samples.iter().all(|s| s.slug == "web" && s.at_ms == 10_000));
        assert_eq!(samples[2].net_rx_bytes, 600);

        // A task new on a third node counts there from its first reading,
        // as in the whole: the parts add up to it.
        sampler.follow("web", "t4");
        sampler.record(vec![
            on("big1", reading("t1", 110, 1000, 100, 100)),
            on("big3", reading("t4", 110, 0, 400, 0)),
        ]);
        assert_eq!(
            by_node(&take_all(&mut sampler, 15_000)),
            [
                (None, 10.0, 500),
                (Some("big1"), 10.0, 100),
                (Some("big3"), 0.0, 400),
            ]
        );
    }

    #[test]
    fn every_running_container_of_an_app_is_followed() {
        let container = |id: &str, state: AppStatus| ContainerState {
            id: id.into(),
            name: format!("web-{id}"),
            image: "rdesk-app-web".into(),
            state,
            health: None,
            detail: String::new(),
            created: 0,
            node: None,
        };
        let app = AppState {
            slug: "web".into(),
            app_id: "web-id".into(),
            r_version: "4.2.2".into(),
            mode: "ocap".into(),
            packages: Vec::new(),
            repo: String::new(),
            code_hash: "c1".into(),
            config_hash: "k1".into(),
            settings: Default::default(),
            containers: vec![
                container("new", AppStatus::Running),
                container("replica", AppStatus::Running),
                container("old", AppStatus::Exited),
            ],
        };
        let mut sampler = Sampler::default();
        sampler.follow_running(&app);
        let mut followed: Vec<&str> = sampler.followed.keys().map(String::as_str).collect();
        followed.sort();
        assert_eq!(followed, ["new", "replica"]);
    }

    #[test]
    fn a_forgotten_containers_late_reading_is_dropped() {
        let mut sampler = Sampler::default();
        sampler.follow("web", "c1");
        sampler.record(vec![reading("c1", 100, 0, 100, 0)]);
        take_all(&mut sampler, 5_000);
        sampler.forget("c1");
        sampler.record(vec![reading("c1", 105, 500, 100, 0)]);
        assert!(take_all(&mut sampler, 10_000).is_empty());
        // Following it again starts a new baseline.
        sampler.follow("web", "c1");
        sampler.record(vec![reading("c1", 110, 900, 100, 0)]);
        assert!(take_all(&mut sampler, 15_000).is_empty());
    }

    /// Containers asked for, and reads under way now and at most.
    #[derive(Default)]
    struct Asked {
        ids: Vec<String>,
        now: usize,
        most: usize,
    }

    #[tokio::test]
    async fn a_read_asks_each_followed_container_once_and_a_few_at_a_time() {
        let mut sampler = Sampler::default();
        for i in 0..100 {
            sampler.follow(&format!("app-{i}"), &format!("c{i}"));
        }
        let asked = Arc::new(Mutex::new(Asked::default()));
        let read_one = |id: String| {
            let asked = asked.clone();
            async move {
                {
                    let mut a = asked.lock().unwrap();
                    a.ids.push(id.clone());
                    a.now += 1;
                    a.most = a.most.max(a.now);
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                asked.lock().unwrap().now -= 1;
                match id.as_str() {
                    "c0" => Ok(None),
                    "c1" => Err(SpawnError::Context(
                        std::io::ErrorKind::ConnectionRefused.into(),
                    )),
                    _ => Ok(Some(reading(&id, 100, 0, 1, 0))),
                }
            }
        };
        let readings = sampler.read_with(read_one).await;
        // c0 does not run, c1's read failed: the others give readings.
        assert_eq!(readings.len(), 98);
        let mut asked = std::mem::take(&mut *asked.lock().unwrap());
        asked.ids.sort();
        asked.ids.dedup();
        assert_eq!(asked.ids.len(), 100);
        assert_eq!(asked.most, READ_AT_ONCE);
    }
}
