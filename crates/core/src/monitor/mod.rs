//! Watching a host: one Docker events stream turns into status history
//! (stamped with Docker's event time); a stats reading of each running
//! container every 5 s (read while events go on being handled) and
//! Traefik's request counters turn into a sample per app, rolled up and
//! pruned once a minute. When the tunnel drops, the monitor reconnects with
//! backoff and catches up: the events Docker kept from while it was away
//! first, then a container listing, so no transition is missed, repeated or
//! invented.
//!
//! - `status`: which status an event leaves, and when a listing agrees.
//! - `sampler`: the containers' stats, read and added up per tick.
//! - `traefik`: the requests per app, through the SSH session.

mod sampler;
mod status;
mod traefik;

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use rdesk_spawner::{
    AppEvent, AppEventKind, AppState, AppStatus, SpawnError, Spawner, StatsReading,
};
use serde::Serialize;

pub use status::{agrees, shown};

use crate::error::DeskError;
use crate::host::{ConnectOptions, Connection};
use crate::store::{MetricSample, SAMPLE_SECONDS, Store, now_ms};
use sampler::{Sampler, Taken};
use status::StatusReader;
use traefik::TraefikMetrics;

/// How a host is watched.
#[derive(Debug, Clone)]
pub struct MonitorOptions {
    /// Time between samples; 5 s, the unit the store rolls up from.
    pub sample_interval: Duration,
    /// Whether to sample metrics at all, or only follow status.
    pub metrics: bool,
    /// The Traefik container whose metrics entry point counts requests.
    pub traefik_container: String,
    /// Its Prometheus metrics port inside the Docker network.
    pub traefik_metrics_port: u16,
    /// The tunnel is checked every this many samples.
    pub check_every: u32,
    /// Delays between reconnect attempts (`backoff_initial` doubling to
    /// `backoff_max`), as the host supervisor uses them.
    pub reconnect: ConnectOptions,
}

impl Default for MonitorOptions {
    fn default() -> Self {
        Self {
            sample_interval: Duration::from_secs(SAMPLE_SECONDS as u64),
            metrics: true,
            traefik_container: "rserve-desk-traefik".to_owned(),
            traefik_metrics_port: 8082,
            check_every: 2,
            reconnect: ConnectOptions::new(std::env::temp_dir()),
        }
    }
}

/// What the monitor saw, for the shell to show.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "monitor", rename_all = "snake_case")]
pub enum MonitorEvent {
    /// Connected (again); `replayed` events from while it was away were recorded.
    Connected { host: String, replayed: usize },
    /// An app's container did something; `recorded` is false when the
    /// status did not change (so no transition was stored).
    Status {
        app: AppEvent,
        status: AppStatus,
        detail: Option<String>,
        recorded: bool,
    },
    /// One tick's samples were stored.
    Sampled {
        at_ms: i64,
        apps: usize,
        with_requests: bool,
    },
    /// Requests per app cannot be read now; CPU, memory and network still are.
    RequestsUnavailable { reason: String },
    /// The connection was lost; the next attempt comes after `retry_in_ms`.
    Disconnected { reason: String, retry_in_ms: u64 },
}

/// What the monitor needs of a host's session (the desk's `HostSession`).
pub trait HostLink: Sync {
    fn spawner(&self) -> &dyn Spawner;
    /// The connection the session runs over, for Traefik's metrics.
    fn connection(&self) -> &Connection;
    /// Lists the host's apps, bringing the cache in line with the listing.
    fn refresh_apps(&self) -> impl Future<Output = Result<Vec<AppState>, DeskError>> + Send;
}

/// Where the monitor gets a host's session from (the desk's session pool).
pub trait SessionSource: Sync {
    type Session: HostLink + Send;
    /// The host's session; [`DeskError::Host`] for what reconnecting can fix.
    fn session(&self, host: &str) -> impl Future<Output = Result<Self::Session, DeskError>> + Send;
}

/// Watches `host`, recording into `store`, until the task is dropped or an
/// error that retrying cannot fix (an unknown host, a changed host key, a
/// failing database).
pub async fn run(
    sessions: &impl SessionSource,
    store: &Store,
    host: &str,
    options: &MonitorOptions,
    on_event: &(dyn Fn(&MonitorEvent) + Send + Sync),
) -> Result<(), DeskError> {
    let mut watcher = Watcher::new(host, options);
    let mut attempt: u32 = 0;
    loop {
        let reason = match sessions.session(host).await {
            Ok(session) => {
                attempt = 0;
                watcher.follow(store, &session, on_event).await?
            }
            Err(DeskError::Host(e)) if !e.needs_user() => e.to_string(),
            Err(e) => return Err(e),
        };
        attempt = attempt.saturating_add(1);
        let delay = options.reconnect.backoff(attempt);
        on_event(&MonitorEvent::Disconnected {
            reason,
            retry_in_ms: delay.as_millis() as u64,
        });
        tokio::time::sleep(delay).await;
    }
}

/// Events remembered to drop the ones a catch-up and a live stream share.
const REMEMBERED_EVENTS: usize = 256;

/// What the monitor of one host keeps across reconnects.
struct Watcher {
    host: String,
    options: MonitorOptions,
    /// Docker's time up to which every event was handled.
    caught_up_ms: Option<i64>,
    seen: VecDeque<(String, String, i64)>,
    statuses: StatusReader,
    traefik: TraefikMetrics,
    /// Traefik's request counters at the previous tick.
    requests_before: Option<HashMap<String, u64>>,
    requests_error: Option<String>,
    rolled_minute: i64,
    /// Apps (slug, container) that had a process killed for memory: if the
    /// container still runs at the next tick, they are recorded running again.
    oom_survivors: Vec<(String, String)>,
}

impl Watcher {
    fn new(host: &str, options: &MonitorOptions) -> Self {
        Self {
            host: host.to_owned(),
            options: options.clone(),
            caught_up_ms: None,
            seen: VecDeque::new(),
            statuses: StatusReader::default(),
            traefik: TraefikMetrics::new(&options.traefik_container, options.traefik_metrics_port),
            requests_before: None,
            requests_error: None,
            rolled_minute: 0,
            oom_survivors: Vec::new(),
        }
    }

    /// Follows one session until its connection is lost (`Ok` with why) or
    /// the store fails (`Err`).
    async fn follow(
        &mut self,
        store: &Store,
        session: &impl HostLink,
        on_event: &(dyn Fn(&MonitorEvent) + Send + Sync),
    ) -> Result<String, DeskError> {
        let spawner = session.spawner();
        // The host's clock, not ours: Docker reads `since` and `until` by it.
        let until = match spawner.host_time_ms().await {
            Ok(t) => t,
            Err(e) => return Ok(e.to_string()),
        };
        let mut replayed = 0;
        if let Some(since) = self.caught_up_ms {
            let mut past = spawner.events(since, Some(until));
            while let Some(event) = past.next().await {
                match event {
                    Ok(event) => {
                        replayed += usize::from(self.handle(store, event, on_event).await?)
                    }
                    Err(e) => return Ok(e.to_string()),
                }
            }
        }
        // Subscribed from `until` before the listing, so nothing in between is lost.
        let mut live = spawner.events(until, None);
        let apps = match session.refresh_apps().await {
            Ok(apps) => apps,
            Err(DeskError::Spawn { source, .. }) => return Ok(source.to_string()),
            Err(e) => return Err(e),
        };
        self.caught_up_ms = Some(self.caught_up_ms.map_or(until, |c| c.max(until)));
        let mut sampler = Sampler::default();
        if self.options.metrics {
            for app in &apps {
                sampler.follow_running(app);
            }
        }
        on_event(&MonitorEvent::Connected {
            host: self.host.clone(),
            replayed,
        });
        let mut ticks = tick_clock(self.options.sample_interval);
        let mut tick_count: u32 = 0;
        // The tick's stats read under way, and the tick's time.
        let mut reading: Option<(i64, BoxFuture<'_, Vec<StatsReading>>)> = None;
        loop {
            tokio::select! {
                readings = async {
                    match reading.as_mut() {
                        Some((_, read)) => read.await,
                        None => std::future::pending().await,
                    }
                } => {
                    if let Some((at_ms, _)) = reading.take() {
                        sampler.record(readings);
                        self.sample(store, session, &mut sampler, at_ms, on_event).await?;
                    }
                }
                event = live.next() => match event {
                    Some(Ok(event)) => {
                        if self.options.metrics {
                            follow_stats(&mut sampler, &event);
                        }
                        self.handle(store, event, on_event).await?;
                    }
                    Some(Err(e)) => return Ok(e.to_string()),
                    None => return Ok("Docker ended the events stream".to_owned()),
                },
                _ = ticks.tick() => {
                    tick_count = tick_count.wrapping_add(1);
                    if let Err(lost) = self.check_oom_survivors(store, session).await? {
                        return Ok(lost);
                    }
                    // A read still under way (a slow link, many apps) is let finish.
                    if self.options.metrics && reading.is_none() {
                        reading = Some((self.tick_ms(), sampler.read(spawner)));
                    }
                    if tick_count.is_multiple_of(self.options.check_every.max(1))
                        && let Err(e) = session.connection().check(Duration::from_secs(5)).await
                    {
                        return Ok(e.to_string());
                    }
                }
            }
        }
    }

    /// Records the status an event leaves; `true` when it was new to us.
    async fn handle(
        &mut self,
        store: &Store,
        event: AppEvent,
        on_event: &(dyn Fn(&MonitorEvent) + Send + Sync),
    ) -> Result<bool, DeskError> {
        let key = (
            event.container_id.clone(),
            format!("{:?}", event.kind),
            event.at_ms,
        );
        if self.seen.contains(&key) {
            return Ok(false);
        }
        if self.seen.len() == REMEMBERED_EVENTS {
            self.seen.pop_front();
        }
        self.seen.push_back(key);
        self.caught_up_ms = Some(
            self.caught_up_ms
                .map_or(event.at_ms, |c| c.max(event.at_ms)),
        );
        let Some((status, detail)) = self.statuses.status(&event) else {
            return Ok(false);
        };
        if event.kind == AppEventKind::OomKilled {
            self.oom_survivors
                .push((event.slug.clone(), event.container_id.clone()));
        }
        let recorded = store
            .record_status_at(
                &self.host,
                &event.slug,
                status,
                detail.as_deref(),
                event.at_ms,
            )
            .await?;
        if let Some(mut app) = store.app(&self.host, &event.slug).await? {
            app.status = status;
            app.updated_at = now_ms();
            store.upsert_app(app).await?;
        }
        on_event(&MonitorEvent::Status {
            app: event,
            status,
            detail,
            recorded,
        });
        Ok(true)
    }

    /// Docker reports `oom` when any process of a container is killed for
    /// memory; when that was not its main process (Rserve's worker for one
    /// call), the container runs on and no event says so. Records those as
    /// running again, stamped now, once the container is seen running.
    async fn check_oom_survivors(
        &mut self,
        store: &Store,
        session: &impl HostLink,
    ) -> Result<Result<(), String>, DeskError> {
        for (slug, container) in std::mem::take(&mut self.oom_survivors) {
            let Ok(parsed) = rdesk_spawner::Slug::parse(&slug) else {
                continue;
            };
            let state = match session.spawner().status(&parsed).await {
                Ok(state) => state,
                Err(SpawnError::NotFound(_)) => continue,
                Err(e) => return Ok(Err(e.to_string())),
            };
            let runs_on = state
                .current()
                .is_some_and(|c| c.id == container && c.state == AppStatus::Running);
            if runs_on {
                store
                    .record_status(
                        &self.host,
                        &slug,
                        AppStatus::Running,
                        Some("still running after a process was killed for memory"),
                    )
                    .await?;
            }
        }
        Ok(Ok(()))
    }

    /// The time of the tick now: the wall clock, to a whole interval.
    fn tick_ms(&self) -> i64 {
        let interval_ms = (self.options.sample_interval.as_millis() as i64).max(1);
        now_ms().div_euclid(interval_ms) * interval_ms
    }

    /// Takes the tick's samples, adds requests, stores them stamped
    /// `at_ms`, rolls up once a minute.
    async fn sample(
        &mut self,
        store: &Store,
        session: &impl HostLink,
        sampler: &mut Sampler,
        at_ms: i64,
        on_event: &(dyn Fn(&MonitorEvent) + Send + Sync),
    ) -> Result<(), DeskError> {
        let Taken { mut apps, on_nodes } = sampler.take(at_ms);
        let requests = match self.traefik.requests(session.connection()).await {
            Ok(totals) => {
                self.requests_error = None;
                Some(totals)
            }
            Err(e) => {
                let reason = e.to_string();
                if self.requests_error.as_ref() != Some(&reason) {
                    on_event(&MonitorEvent::RequestsUnavailable {
                        reason: reason.clone(),
                    });
                    self.requests_error = Some(reason);
                }
                None
            }
        };
        // Traefik counts an app's requests, not a node's: the parts have none.
        let with_requests =
            add_requests(&mut apps, self.requests_before.as_ref(), requests.as_ref());
        self.requests_before = requests;
        let sampled_apps = apps.len();
        let mut samples = apps;
        samples.extend(on_nodes);
        if !samples.is_empty() {
            store.record_samples(&self.host, &samples).await?;
        }
        let minute = at_ms.div_euclid(60_000);
        if minute != self.rolled_minute {
            store.roll_up(now_ms()).await?;
            self.rolled_minute = minute;
        }
        on_event(&MonitorEvent::Sampled {
            at_ms,
            apps: sampled_apps,
            with_requests,
        });
        Ok(())
    }
}

/// Starts or stops reading a container's stats as it starts or stops.
fn follow_stats(sampler: &mut Sampler, event: &AppEvent) {
    match event.kind {
        AppEventKind::Started => sampler.follow(&event.slug, &event.container_id),
        AppEventKind::Died { .. } | AppEventKind::Destroyed => sampler.forget(&event.container_id),
        _ => {}
    }
}

/// Adds the requests each app served since the previous tick to its sample:
/// the counter's growth (all of it after a Traefik restart reset it).
/// Returns whether the counts were known.
fn add_requests(
    samples: &mut [MetricSample],
    before: Option<&HashMap<String, u64>>,
    now: Option<&HashMap<String, u64>>,
) -> bool {
    let (Some(before), Some(now)) = (before, now) else {
        return false;
    };
    for sample in samples {
        let total = now.get(&sample.slug).copied().unwrap_or(0);
        let previous = before.get(&sample.slug).copied().unwrap_or(0);
        sample.requests = Some(if total >= previous {
            total - previous
        } else {
            total
        });
    }
    true
}

/// A clock that ticks on whole multiples of `every` of the wall clock, so
/// every app of a host (and every host) is sampled at the same times.
fn tick_clock(every: Duration) -> tokio::time::Interval {
    let every_ms = every.as_millis().max(1) as i64;
    let wait = every_ms - now_ms().rem_euclid(every_ms);
    let start = tokio::time::Instant::now() + Duration::from_millis(wait as u64);
    let mut clock = tokio::time::interval_at(start, every);
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    clock
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(slug: &str) -> MetricSample {
        MetricSample::zero(slug, None, 0)
    }

    #[test]
    fn requests_are_the_growth_of_traefiks_counters() {
        let mut samples = vec![sample("web"), sample("api"), sample("new")];
        let before = HashMap::from([("web".to_owned(), 10), ("api".to_owned(), 50)]);
        let now = HashMap::from([
            ("web".to_owned(), 25),
            ("api".to_owned(), 5),
            ("new".to_owned(), 3),
        ]);
        assert!(add_requests(&mut samples, Some(&before), Some(&now)));
        let got: Vec<_> = samples.iter().map(|s| s.requests).collect();
        // api's counter went down: Traefik restarted, all 5 are new.
        assert_eq!(got, [Some(15), Some(5), Some(3)]);

        let mut unknown = vec![sample("web")];
        assert!(!add_requests(&mut unknown, None, Some(&now)));
        assert!(!add_requests(&mut unknown, Some(&before), None));
        assert_eq!(unknown[0].requests, None);
    }

    #[tokio::test]
    async fn the_clock_ticks_on_whole_intervals() {
        let mut clock = tick_clock(Duration::from_millis(200));
        clock.tick().await;
        let phase = now_ms().rem_euclid(200);
        assert!(phase < 100, "ticked {phase} ms into an interval");
    }
}
