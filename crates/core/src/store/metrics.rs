//! App metrics over time: raw 5 s samples, their 1-minute and 1-hour
//! roll-ups, pruning by age, and range queries that pick the resolution
//! (see `migrations/0004_metrics.sql` for units and retention). On a
//! cluster an app also has a series per node it ran on, beside its whole
//! use (`migrations/0008_metric_nodes.sql`).

use serde::Serialize;
// Table names put into SQL come from `Resolution::table`, never from input.
use sqlx::{AssertSqlSafe, QueryBuilder, Sqlite};

use super::Store;
use super::error::{StoreError, is_foreign_key_violation};

/// One app's use over one sample interval, as the monitor measured it:
/// all its containers', or on a cluster those on one node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricSample {
    pub slug: String,
    /// The cluster node whose containers this is; `None` for the whole app.
    pub node: Option<String>,
    /// Unix milliseconds; stored to the second.
    pub at_ms: i64,
    pub cpu_percent: f64,
    pub memory_bytes: u64,
    pub memory_limit_bytes: u64,
    /// Bytes received in the interval.
    pub net_rx_bytes: u64,
    /// Bytes sent in the interval.
    pub net_tx_bytes: u64,
    /// Requests Traefik served in the interval; `None` when unknown.
    pub requests: Option<u64>,
}

impl MetricSample {
    /// A sample of `slug` (or its part on `node`) at `at_ms` with nothing
    /// measured yet, to add to.
    pub fn zero(slug: &str, node: Option<&str>, at_ms: i64) -> Self {
        Self {
            slug: slug.to_owned(),
            node: node.map(str::to_owned),
            at_ms,
            cpu_percent: 0.0,
            memory_bytes: 0,
            memory_limit_bytes: 0,
            net_rx_bytes: 0,
            net_tx_bytes: 0,
            requests: None,
        }
    }
}

/// How fine a series is. An app's part on a cluster node is kept only as
/// long as a chart at that resolution can show it ([`Self::part_retention_seconds`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// The monitor's 5 s samples, kept 24 h (a part on a node: 3 h).
    Raw,
    /// 1-minute roll-ups, kept 7 days (a part on a node: 2 days).
    Minute,
    /// 1-hour roll-ups, kept 90 days.
    Hour,
}

/// The longest chart range drawn from raw samples.
const RAW_CHARTS_UP_TO_MS: i64 = 3 * 3_600_000;
/// The longest chart range drawn from minutes.
const MINUTE_CHARTS_UP_TO_MS: i64 = 48 * 3_600_000;

/// The monitor's sample interval.
pub const SAMPLE_SECONDS: i64 = 5;

impl Resolution {
    /// Seconds per point.
    pub fn seconds(self) -> i64 {
        match self {
            Self::Raw => SAMPLE_SECONDS,
            Self::Minute => 60,
            Self::Hour => 3600,
        }
    }

    /// How long points of this resolution are kept, in seconds.
    pub fn retention_seconds(self) -> i64 {
        match self {
            Self::Raw => 24 * 3600,
            Self::Minute => 7 * 24 * 3600,
            Self::Hour => 90 * 24 * 3600,
        }
    }

    /// How long an app's part on a node is kept at this resolution: while
    /// the longest chart drawn from it shows it. A cluster app has a part
    /// per node beside its whole, so on three nodes this keeps its metrics
    /// at about 1.7 times an app's on one host instead of 4 times (`cargo
    /// xtask bench --store`).
    pub fn part_retention_seconds(self) -> i64 {
        match self {
            Self::Raw => RAW_CHARTS_UP_TO_MS / 1000,
            Self::Minute => MINUTE_CHARTS_UP_TO_MS / 1000,
            Self::Hour => self.retention_seconds(),
        }
    }

    /// The resolution for a chart of `range_ms`: raw up to 3 hours (at most
    /// 2160 points), minutes up to 2 days (2880), hours beyond.
    pub fn for_range(range_ms: i64) -> Resolution {
        match range_ms {
            r if r <= RAW_CHARTS_UP_TO_MS => Self::Raw,
            r if r <= MINUTE_CHARTS_UP_TO_MS => Self::Minute,
            _ => Self::Hour,
        }
    }

    fn table(self) -> &'static str {
        match self {
            Self::Raw => "samples_raw",
            Self::Minute => "samples_1m",
            Self::Hour => "samples_1h",
        }
    }
}

/// One point of a series: an app's (or, summed, a host's) use over
/// `seconds` from `at_ms`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricPoint {
    pub at_ms: i64,
    /// Mean over the point's interval.
    pub cpu_percent: f64,
    /// Highest sample in the interval.
    pub cpu_max_percent: f64,
    pub memory_bytes: u64,
    pub memory_max_bytes: u64,
    pub net_rx_bytes_per_s: f64,
    pub net_tx_bytes_per_s: f64,
    /// `None` when Traefik's counts were not available for the interval.
    pub requests_per_minute: Option<f64>,
}

/// A series read for a range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricSeries {
    pub host: String,
    /// `None` for the host's totals over all its apps.
    pub slug: Option<String>,
    /// The cluster node of an app's part there; `None` for its whole use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub resolution: Resolution,
    pub seconds: i64,
    pub from_ms: i64,
    pub to_ms: i64,
    /// An app's memory limit at the end of the range (its container's,
    /// or the host's memory when it has none); `None` for host totals.
    pub memory_limit_bytes: Option<u64>,
    pub points: Vec<MetricPoint>,
}

/// What one call of [`Store::roll_up`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RollUp {
    pub minutes_written: u64,
    pub hours_written: u64,
    pub pruned: u64,
}

impl Store {
    /// Stores one tick's samples of a host's apps (and of their parts on
    /// each node) in one transaction. Fails with
    /// [`StoreError::HostNotFound`] if the host is not known. A second
    /// sample of an app (or part) at the same second replaces the first.
    pub async fn record_samples(
        &self,
        host: &str,
        samples: &[MetricSample],
    ) -> Result<(), StoreError> {
        let action = || format!("record metrics of host {host:?}");
        let mut tx = self
            .write_transaction()
            .await
            .map_err(|e| StoreError::db(action(), e))?;
        // A tick is three statements whatever the number of apps (not
        // three per app: each statement is a trip to SQLite's thread).
        for chunk in samples.chunks(SAMPLES_PER_STATEMENT) {
            let rows: Vec<StoredSample> = chunk.iter().map(StoredSample::from).collect();
            let mut series =
                QueryBuilder::<Sqlite>::new("INSERT INTO metric_series (host, slug, node) ");
            series.push_values(&rows, |mut row, s| {
                row.push_bind(host).push_bind(s.slug).push_bind(s.node);
            });
            series.push(" ON CONFLICT (host, slug, node) DO NOTHING");
            match series.build().execute(&mut *tx).await {
                Err(e) if is_foreign_key_violation(&e) => {
                    return Err(StoreError::HostNotFound {
                        name: host.to_owned(),
                    });
                }
                other => other.map_err(|e| StoreError::db(action(), e))?,
            };
            // In the tick's order: a later sample of an app at the same
            // second replaces an earlier one.
            let mut raw = with_rows(host, &rows);
            raw.push(
                "INSERT OR REPLACE INTO samples_raw (series, at, cpu, mem, rx, tx, req)
                 SELECT s.id, v.at, v.cpu, v.mem, v.rx, v.tx, v.req
                 FROM v JOIN metric_series s
                   ON s.host = v.host AND s.slug = v.slug AND s.node = v.node
                 ORDER BY v.n",
            );
            raw.build()
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::db(action(), e))?;
            let mut limits = with_rows(host, &rows);
            limits.push(
                "INSERT OR IGNORE INTO metric_limits (series, since, mem_limit)
                 SELECT s.id, v.at, v.mem_limit
                 FROM v JOIN metric_series s
                   ON s.host = v.host AND s.slug = v.slug AND s.node = v.node
                 WHERE (SELECT mem_limit FROM metric_limits WHERE series = s.id
                        ORDER BY since DESC LIMIT 1) IS NOT v.mem_limit
                 ORDER BY v.n",
            );
            limits
                .build()
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::db(action(), e))?;
        }
        tx.commit().await.map_err(|e| StoreError::db(action(), e))
    }

    /// Rolls complete minutes up from raw samples and complete hours up from
    /// minutes, then deletes what is older than each resolution keeps. Safe
    /// to call at any time and as often as wanted; the monitor calls it once
    /// a minute. Deleted pages are reused by later samples, so the file stops
    /// growing once the oldest data ages out.
    pub async fn roll_up(&self, now_ms: i64) -> Result<RollUp, StoreError> {
        let now = now_ms.div_euclid(1000);
        // A minute is complete once a sample interval past its end.
        let minutes_until = (now - SAMPLE_SECONDS).div_euclid(60) * 60;
        // An hour is complete once its last minute is.
        let hours_until = minutes_until.div_euclid(3600) * 3600;
        let minutes_written = self
            .roll(Resolution::Raw, Resolution::Minute, minutes_until)
            .await?;
        let hours_written = self
            .roll(Resolution::Minute, Resolution::Hour, hours_until)
            .await?;
        let prune = |e| StoreError::db("prune old metrics", e);
        let mut tx = self.write_transaction().await.map_err(prune)?;
        let mut pruned = 0;
        for resolution in [Resolution::Raw, Resolution::Minute, Resolution::Hour] {
            // The whole apps' series, then the parts on nodes: SQLite deletes
            // each series' old rows as a range of the primary key.
            for (parts, kept) in [
                (false, resolution.retention_seconds()),
                (true, resolution.part_retention_seconds()),
            ] {
                let sql = format!(
                    "DELETE FROM {} WHERE series IN
                         (SELECT id FROM metric_series WHERE (node <> ?1) = ?2)
                     AND at < ?3",
                    resolution.table()
                );
                pruned += sqlx::query(AssertSqlSafe(sql))
                    .bind(WHOLE_APP)
                    .bind(parts)
                    .bind(now - kept)
                    .execute(&mut *tx)
                    .await
                    .map_err(prune)?
                    .rows_affected();
            }
        }
        tx.commit().await.map_err(prune)?;
        Ok(RollUp {
            minutes_written,
            hours_written,
            pruned,
        })
    }

    /// Writes `to`-sized buckets from `from` rows for every bucket not yet
    /// final that starts before `until` (unix seconds); returns the count.
    async fn roll(&self, from: Resolution, to: Resolution, until: i64) -> Result<u64, StoreError> {
        let action = || format!("roll metrics up to {} s buckets", to.seconds());
        let mut tx = self
            .write_transaction()
            .await
            .map_err(|e| StoreError::db(action(), e))?;
        let done: Option<i64> =
            sqlx::query_scalar("SELECT done_until FROM metric_rollups WHERE resolution = ?1")
                .bind(to.seconds())
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| StoreError::db(action(), e))?;
        // Never rolled: start at the oldest data the source can still hold.
        let start = done.unwrap_or(until - from.retention_seconds());
        if start >= until {
            return Ok(0);
        }
        // Raw rows count as one sample each; roll-ups carry their count.
        let (weight, cpu_max, mem_max) = match from {
            Resolution::Raw => ("1", "r.cpu", "r.mem"),
            _ => ("r.n", "r.cpu_max", "r.mem_max"),
        };
        let sql = format!(
            "INSERT OR REPLACE INTO {to_table}
                 (series, at, cpu, cpu_max, mem, mem_max, rx, tx, req, n)
             SELECT r.series, r.at - r.at % {secs},
                    CAST(round(SUM(r.cpu * {weight}) * 1.0 / SUM({weight})) AS INTEGER),
                    MAX({cpu_max}),
                    CAST(round(SUM(r.mem * {weight}) * 1.0 / SUM({weight})) AS INTEGER),
                    MAX({mem_max}), SUM(r.rx), SUM(r.tx), SUM(r.req),
                    SUM({weight})
             FROM metric_series s
             JOIN {from_table} r ON r.series = s.id AND r.at >= ?1 AND r.at < ?2
             GROUP BY r.series, r.at - r.at % {secs}",
            to_table = to.table(),
            from_table = from.table(),
            secs = to.seconds(),
        );
        let written = sqlx::query(AssertSqlSafe(sql))
            .bind(start)
            .bind(until)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::db(action(), e))?
            .rows_affected();
        sqlx::query(
            "INSERT INTO metric_rollups (resolution, done_until) VALUES (?1, ?2)
             ON CONFLICT (resolution) DO UPDATE SET done_until = excluded.done_until",
        )
        .bind(to.seconds())
        .bind(until)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::db(action(), e))?;
        tx.commit().await.map_err(|e| StoreError::db(action(), e))?;
        Ok(written)
    }

    /// An app's series (or with `slug` `None`, the host's totals over its
    /// apps) for `[from_ms, to_ms)`, at the resolution the range calls for.
    pub async fn metrics(
        &self,
        host: &str,
        slug: Option<&str>,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<MetricSeries, StoreError> {
        let resolution = Resolution::for_range(to_ms - from_ms);
        self.metrics_at(host, slug, from_ms, to_ms, resolution)
            .await
    }

    /// [`Store::metrics`] at a chosen resolution.
    pub async fn metrics_at(
        &self,
        host: &str,
        slug: Option<&str>,
        from_ms: i64,
        to_ms: i64,
        resolution: Resolution,
    ) -> Result<MetricSeries, StoreError> {
        self.series_at(host, slug, None, from_ms, to_ms, resolution)
            .await
    }

    /// App `slug`'s part on each cluster node that has points in
    /// `[from_ms, to_ms)`, in the nodes' order, at the resolution the range
    /// calls for; none for an app of a single host.
    pub async fn metrics_by_node(
        &self,
        host: &str,
        slug: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<MetricSeries>, StoreError> {
        let resolution = Resolution::for_range(to_ms - from_ms);
        let nodes: Vec<String> = sqlx::query_scalar(
            "SELECT node FROM metric_series
             WHERE host = ?1 AND slug = ?2 AND node <> ?3 ORDER BY node",
        )
        .bind(host)
        .bind(slug)
        .bind(WHOLE_APP)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| StoreError::db(format!("read the nodes of app {slug:?}"), e))?;
        let mut parts = Vec::new();
        for node in &nodes {
            let part = self
                .series_at(host, Some(slug), Some(node), from_ms, to_ms, resolution)
                .await?;
            if !part.points.is_empty() {
                parts.push(part);
            }
        }
        Ok(parts)
    }

    /// The series of app `slug` (or its part on `node`; or with `slug`
    /// `None`, the host's totals over its apps' whole use).
    async fn series_at(
        &self,
        host: &str,
        slug: Option<&str>,
        node: Option<&str>,
        from_ms: i64,
        to_ms: i64,
        resolution: Resolution,
    ) -> Result<MetricSeries, StoreError> {
        let (cpu_max, mem_max) = match resolution {
            Resolution::Raw => ("cpu", "mem"),
            _ => ("cpu_max", "mem_max"),
        };
        let table = resolution.table();
        let sql = match slug {
            // One app: a range of the primary key, nothing to add up.
            Some(_) => format!(
                "SELECT r.at, r.cpu, r.{cpu_max}, r.mem, r.{mem_max}, r.rx, r.tx, r.req
                 FROM {table} r
                 WHERE r.series = (SELECT id FROM metric_series
                                   WHERE host = ?1 AND slug = ?2 AND node = ?5)
                   AND r.at >= ?3 AND r.at < ?4
                 ORDER BY r.at"
            ),
            // Host totals add the apps' values up per bucket; every app of a
            // host is sampled at the same tick, so their times line up.
            None => format!(
                "SELECT r.at, SUM(r.cpu), SUM(r.{cpu_max}), SUM(r.mem), SUM(r.{mem_max}),
                        SUM(r.rx), SUM(r.tx), SUM(r.req)
                 FROM metric_series s
                 JOIN {table} r ON r.series = s.id AND r.at >= ?3 AND r.at < ?4
                 WHERE s.host = ?1 AND ?2 IS NULL AND s.node = ?5
                 GROUP BY r.at ORDER BY r.at"
            ),
        };
        let stored_node = node.unwrap_or(WHOLE_APP);
        type Row = (i64, i64, i64, i64, i64, i64, i64, Option<i64>);
        let read = |e| StoreError::db(format!("read the metrics of host {host:?}"), e);
        let rows: Vec<Row> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(host)
            .bind(slug)
            .bind(from_ms.div_euclid(1000))
            .bind(to_ms.div_euclid(1000))
            .bind(stored_node)
            .fetch_all(&self.pool)
            .await
            .map_err(read)?;
        // An app's limit as it was at the end of the range; a host has none.
        let limit: Option<i64> = match slug {
            Some(slug) => sqlx::query_scalar(
                "SELECT l.mem_limit FROM metric_limits l
                 WHERE l.series = (SELECT id FROM metric_series
                                   WHERE host = ?1 AND slug = ?2 AND node = ?4)
                   AND l.since < ?3
                 ORDER BY l.since DESC LIMIT 1",
            )
            .bind(host)
            .bind(slug)
            .bind(to_ms.div_euclid(1000))
            .bind(stored_node)
            .fetch_optional(&self.pool)
            .await
            .map_err(read)?,
            None => None,
        };
        let seconds = resolution.seconds();
        let per_second = |v: i64| v as f64 / seconds as f64;
        let points = rows
            .into_iter()
            .map(
                |(at, cpu, cpu_max, mem, mem_max, rx, tx, req)| MetricPoint {
                    at_ms: at * 1000,
                    cpu_percent: cpu as f64 / 100.0,
                    cpu_max_percent: cpu_max as f64 / 100.0,
                    memory_bytes: bytes(mem),
                    memory_max_bytes: bytes(mem_max),
                    net_rx_bytes_per_s: per_second(rx),
                    net_tx_bytes_per_s: per_second(tx),
                    requests_per_minute: req.map(|r| per_second(r) * 60.0),
                },
            )
            .collect();
        Ok(MetricSeries {
            host: host.to_owned(),
            slug: slug.map(str::to_owned),
            node: node.map(str::to_owned),
            resolution,
            seconds,
            from_ms,
            to_ms,
            memory_limit_bytes: limit.map(bytes).filter(|l| *l > 0),
            points,
        })
    }

    /// The bytes the database's pages in use take, with its WAL checkpointed
    /// first: the file's size less its free pages, which later samples reuse
    /// (so the file settles at this once pruning keeps pace).
    pub async fn size_bytes(&self) -> Result<u64, StoreError> {
        let action = "measure the database";
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::db(action, e))?;
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| StoreError::db(action, e))?;
        let free: i64 = sqlx::query_scalar("PRAGMA freelist_count")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| StoreError::db(action, e))?;
        let size: i64 = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(&self.pool)
            .await
            .map_err(|e| StoreError::db(action, e))?;
        Ok(u64::try_from((pages - free) * size).unwrap_or(0))
    }
}

/// Samples written by one statement of [`Store::record_samples`]: 11 values
/// each, well under SQLite's 32 766.
const SAMPLES_PER_STATEMENT: usize = 1000;

/// `WITH v(n, host, slug, node, at, cpu, mem, rx, tx, req, mem_limit) AS
/// (VALUES …)` over `rows`, `n` being each row's place, for a statement to
/// follow.
fn with_rows<'a>(host: &'a str, rows: &'a [StoredSample<'a>]) -> QueryBuilder<Sqlite> {
    let mut query =
        QueryBuilder::new("WITH v(n, host, slug, node, at, cpu, mem, rx, tx, req, mem_limit) AS (");
    query.push_values(rows.iter().enumerate(), |mut row, (n, s)| {
        row.push_bind(n as i64)
            .push_bind(host)
            .push_bind(s.slug)
            .push_bind(s.node)
            .push_bind(s.at)
            .push_bind(s.cpu)
            .push_bind(s.mem)
            .push_bind(s.rx)
            .push_bind(s.tx)
            .push_bind(s.req)
            .push_bind(s.mem_limit);
    });
    query.push(") ");
    query
}

/// The stored `node` of an app's whole use.
const WHOLE_APP: &str = "";

/// A sample in its stored units.
struct StoredSample<'a> {
    slug: &'a str,
    /// '' for the whole app.
    node: &'a str,
    at: i64,
    cpu: i64,
    mem: i64,
    rx: i64,
    tx: i64,
    req: Option<i64>,
    mem_limit: i64,
}

impl<'a> From<&'a MetricSample> for StoredSample<'a> {
    fn from(s: &'a MetricSample) -> Self {
        Self {
            slug: &s.slug,
            node: s.node.as_deref().unwrap_or(WHOLE_APP),
            at: s.at_ms.div_euclid(1000),
            cpu: cpu_units(s.cpu_percent),
            mem: kib(s.memory_bytes),
            rx: clamp(s.net_rx_bytes),
            tx: clamp(s.net_tx_bytes),
            req: s.requests.map(clamp),
            mem_limit: kib(s.memory_limit_bytes),
        }
    }
}

/// Hundredths of a percent, the stored unit of CPU.
fn cpu_units(percent: f64) -> i64 {
    if percent.is_finite() && percent > 0.0 {
        (percent * 100.0).round().min(i64::MAX as f64) as i64
    } else {
        0
    }
}

fn kib(bytes: u64) -> i64 {
    clamp(bytes.div_ceil(1024))
}

fn bytes(kib: i64) -> u64 {
    u64::try_from(kib).unwrap_or(0).saturating_mul(1024)
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{host, store};
    use super::*;

    /// A sample of `slug` at `at_s` seconds using `cpu` percent and `mem_mib`.
    fn sample(slug: &str, at_s: i64, cpu: f64, mem_mib: u64) -> MetricSample {
        MetricSample {
            slug: slug.to_owned(),
            node: None,
            at_ms: at_s * 1000,
            cpu_percent: cpu,
            memory_bytes: mem_mib << 20,
            memory_limit_bytes: 512 << 20,
            net_rx_bytes: 500,
            net_tx_bytes: 100,
            requests: Some(2),
        }
    }

    const T0: i64 = 1_699_999_200; // a whole hour, in unix seconds

    /// Host vps1's minute of app `web` from `T0`.
    async fn web_minute(store: &Store) -> MetricSeries {
        store
            .metrics("vps1", Some("web"), T0 * 1000, (T0 + 60) * 1000)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn samples_come_back_as_rates_and_host_totals_add_up() {
        let store = store().await;
        store.add_host(host("vps1")).await.unwrap();
        for i in 0..3 {
            let at = T0 + i * 5;
            store
                .record_samples(
                    "vps1",
                    &[sample("web", at, 10.0, 100), sample("api", at, 2.5, 50)],
                )
                .await
                .unwrap();
        }
        let web = web_minute(&store).await;
        assert_eq!(web.resolution, Resolution::Raw);
        assert_eq!(web.points.len(), 3);
        let p = &web.points[0];
        assert_eq!(p.at_ms, T0 * 1000);
        assert_eq!(p.cpu_percent, 10.0);
        assert_eq!(p.memory_bytes, 100 << 20);
        assert_eq!(web.memory_limit_bytes, Some(512 << 20));
        assert_eq!(p.net_rx_bytes_per_s, 100.0);
        assert_eq!(p.requests_per_minute, Some(24.0));

        let total = store
            .metrics("vps1", None, T0 * 1000, (T0 + 60) * 1000)
            .await
            .unwrap();
        assert_eq!(total.slug, None);
        assert_eq!(total.memory_limit_bytes, None);
        assert_eq!(total.points.len(), 3);
        assert_eq!(total.points[2].cpu_percent, 12.5);
        assert_eq!(total.points[2].memory_bytes, 150 << 20);
        // The range's end is not included.
        let first_two = store
            .metrics("vps1", Some("web"), T0 * 1000, (T0 + 10) * 1000)
            .await
            .unwrap();
        assert_eq!(first_two.points.len(), 2);
    }

    #[tokio::test]
    async fn a_later_sample_at_the_same_second_replaces_and_limits_are_kept_as_they_change() {
        let store = store().await;
        store.add_host(host("vps1")).await.unwrap();
        let mut unknown = sample("web", T0, 1.0, 10);
        unknown.requests = None;
        let mut raised = sample("web", T0 + 5, 1.0, 30);
        raised.memory_limit_bytes = 1 << 30;
        for tick in [
            [sample("web", T0, 9.0, 99), unknown],
            [sample("web", T0 + 5, 1.0, 20), raised],
        ] {
            store.record_samples("vps1", &tick).await.unwrap();
        }
        let web = web_minute(&store).await;
        assert_eq!(web.points.len(), 2);
        assert_eq!(web.points[0].memory_bytes, 10 << 20);
        assert_eq!(web.points[0].requests_per_minute, None);
        assert_eq!(web.points[1].memory_bytes, 30 << 20);
        assert_eq!(web.memory_limit_bytes, Some(1 << 30));
        let limits: Vec<(i64, i64)> =
            sqlx::query_as("SELECT since, mem_limit FROM metric_limits ORDER BY since")
                .fetch_all(&store.pool)
                .await
                .unwrap();
        assert_eq!(limits, [(T0, 512 * 1024), (T0 + 5, 1024 * 1024)]);
    }

    /// `slug`'s part on `node`: [`sample`] there.
    fn part(slug: &str, node: &str, at_s: i64, cpu: f64, mem_mib: u64) -> MetricSample {
        MetricSample {
            node: Some(node.to_owned()),
            requests: None,
            ..sample(slug, at_s, cpu, mem_mib)
        }
    }

    #[tokio::test]
    async fn a_clusters_app_has_a_series_per_node_beside_its_whole_use() {
        let store = store().await;
        store.add_host(host("big1")).await.unwrap();
        for i in 0..2 {
            let at = T0 + i * 5;
            let tick = [
                sample("web", at, 30.0, 300),
                part("web", "big2", at, 20.0, 200),
                part("web", "big1", at, 10.0, 100),
            ];
            store.record_samples("big1", &tick).await.unwrap();
        }
        // The charts' series stay the whole app's, and the host's totals
        // count each app once.
        let web = store
            .metrics("big1", Some("web"), T0 * 1000, (T0 + 60) * 1000)
            .await
            .unwrap();
        assert_eq!((web.node.as_deref(), web.points.len()), (None, 2));
        assert_eq!(web.points[0].cpu_percent, 30.0);
        let total = store
            .metrics("big1", None, T0 * 1000, (T0 + 60) * 1000)
            .await
            .unwrap();
        assert_eq!(total.points[1].memory_bytes, 300 << 20);

        let parts = store
            .metrics_by_node("big1", "web", T0 * 1000, (T0 + 60) * 1000)
            .await
            .unwrap();
        let nodes: Vec<_> = parts.iter().map(|p| p.node.as_deref()).collect();
        assert_eq!(nodes, [Some("big1"), Some("big2")]);
        let big2 = &parts[1];
        assert_eq!((big2.slug.as_deref(), big2.points.len()), (Some("web"), 2));
        assert_eq!(big2.points[1].cpu_percent, 20.0);
        assert_eq!(big2.points[1].memory_bytes, 200 << 20);
        assert_eq!(big2.memory_limit_bytes, Some(512 << 20));
        // They roll up like any series, and a node with nothing in the
        // range is left out.
        store.roll_up((T0 + 3600 + 61) * 1000).await.unwrap();
        let later = store
            .metrics_by_node("big1", "web", (T0 + 60) * 1000, (T0 + 120) * 1000)
            .await
            .unwrap();
        assert!(later.is_empty(), "{later:?}");
        let day = store
            .metrics_by_node("big1", "web", T0 * 1000, (T0 + 86_400) * 1000)
            .await
            .unwrap();
        assert_eq!(day[0].resolution, Resolution::Minute);
        assert_eq!(day[0].points[0].cpu_percent, 10.0);
        // A single host's app has no parts.
        store
            .record_samples("big1", &[sample("api", T0, 1.0, 1)])
            .await
            .unwrap();
        let none = store
            .metrics_by_node("big1", "api", T0 * 1000, (T0 + 60) * 1000)
            .await
            .unwrap();
        assert!(none.is_empty());
    }

    #[tokio::test]
    async fn metrics_stored_before_nodes_existed_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rdesk.sqlite");
        {
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true)
                .foreign_keys(true);
            let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
            // The store as migration 0007 left it, with an app's metrics.
            super::super::MIGRATOR.run_to(7, &pool).await.unwrap();
            sqlx::raw_sql(AssertSqlSafe(format!(
                "INSERT INTO hosts (name, kind, public_url, added_at)
                     VALUES ('vps1', 'ssh', 'https://vps1.example', 0);
                 INSERT INTO metric_series (id, host, slug) VALUES (7, 'vps1', 'web');
                 INSERT INTO samples_raw VALUES (7, {T0}, 1000, 2048, 5, 5, 1);
                 INSERT INTO samples_1m VALUES (7, {T0}, 1000, 1000, 2048, 2048, 5, 5, 1, 1);
                 INSERT INTO metric_limits VALUES (7, {T0}, 4096);"
            )))
            .execute(&pool)
            .await
            .unwrap();
            pool.close().await;
        }
        let store = Store::open(&path).await.unwrap();
        let web = web_minute(&store).await;
        assert_eq!(web.points.len(), 1);
        assert_eq!(web.points[0].cpu_percent, 10.0);
        assert_eq!(web.memory_limit_bytes, Some(4 << 20));
        // Its series goes on being the app's whole use.
        store
            .record_samples("vps1", &[sample("web", T0 + 5, 1.0, 1)])
            .await
            .unwrap();
        assert_eq!(web_minute(&store).await.points.len(), 2);
        let broken: Vec<(String, i64, String, i64)> = sqlx::query_as("PRAGMA foreign_key_check")
            .fetch_all(&store.pool)
            .await
            .unwrap();
        assert!(broken.is_empty(), "{broken:?}");
        let on: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(on, 1);
        // Removing the host still removes its metrics.
        sqlx::query("DELETE FROM hosts")
            .execute(&store.pool)
            .await
            .unwrap();
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM samples_1m")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(left, 0);
    }

    #[tokio::test]
    async fn metrics_need_a_known_host() {
        let store = store().await;
        let err = store
            .record_samples("ghost", &[sample("web", T0, 1.0, 1)])
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::HostNotFound { name } if name == "ghost"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn minutes_and_hours_roll_up_means_maxima_and_sums() {
        let store = store().await;
        store.add_host(host("vps1")).await.unwrap();
        // Two hours of samples: CPU alternates 10 and 30, memory 100/300 MiB.
        let mut batch = Vec::new();
        for i in 0..(2 * 720) {
            let high = i % 2 == 1;
            let (cpu, mem) = if high { (30.0, 300) } else { (10.0, 100) };
            batch.push(sample("web", T0 + i * 5, cpu, mem));
        }
        store.record_samples("vps1", &batch).await.unwrap();
        let now_ms = (T0 + 2 * 3600 + 61) * 1000;
        let done = store.roll_up(now_ms).await.unwrap();
        assert_eq!(done.minutes_written, 120);
        assert_eq!(done.hours_written, 2);
        assert_eq!(done.pruned, 0);
        // Rolling up again writes nothing new.
        let again = store.roll_up(now_ms).await.unwrap();
        assert_eq!((again.minutes_written, again.hours_written), (0, 0));

        let minutes = store
            .metrics_at(
                "vps1",
                Some("web"),
                T0 * 1000,
                (T0 + 7200) * 1000,
                Resolution::Minute,
            )
            .await
            .unwrap();
        assert_eq!(minutes.points.len(), 120);
        let m = &minutes.points[0];
        assert_eq!((m.cpu_percent, m.cpu_max_percent), (20.0, 30.0));
        assert_eq!((m.memory_bytes, m.memory_max_bytes), (200 << 20, 300 << 20));
        // 12 samples of 500 bytes over 60 s; 12 × 2 requests in a minute.
        assert_eq!(m.net_rx_bytes_per_s, 100.0);
        assert_eq!(m.requests_per_minute, Some(24.0));

        let hours = store
            .metrics("vps1", Some("web"), T0 * 1000, (T0 + 7 * 86_400) * 1000)
            .await
            .unwrap();
        assert_eq!(hours.resolution, Resolution::Hour);
        assert_eq!(hours.points.len(), 2);
        let h = &hours.points[1];
        assert_eq!((h.cpu_percent, h.cpu_max_percent), (20.0, 30.0));
        assert_eq!(h.requests_per_minute, Some(24.0));
    }

    #[tokio::test]
    async fn old_rows_are_pruned_by_resolution() {
        let store = store().await;
        store.add_host(host("vps1")).await.unwrap();
        store
            .record_samples("vps1", &[sample("web", T0, 1.0, 1)])
            .await
            .unwrap();
        // One minute and one hour later, it is rolled up; a day later the
        // raw sample goes, eight days later the minute, 91 days the hour.
        store.roll_up((T0 + 3600 + 61) * 1000).await.unwrap();
        let count = |table: &'static str| {
            let store = store.clone();
            async move {
                let n: i64 =
                    sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                        .fetch_one(&store.pool)
                        .await
                        .unwrap();
                n
            }
        };
        assert_eq!(
            (
                count("samples_raw").await,
                count("samples_1m").await,
                count("samples_1h").await
            ),
            (1, 1, 1)
        );
        store.roll_up((T0 + 86_401) * 1000).await.unwrap();
        assert_eq!(count("samples_raw").await, 0);
        assert_eq!(count("samples_1m").await, 1);
        store.roll_up((T0 + 8 * 86_400) * 1000).await.unwrap();
        assert_eq!(count("samples_1m").await, 0);
        assert_eq!(count("samples_1h").await, 1);
        let done = store.roll_up((T0 + 91 * 86_400) * 1000).await.unwrap();
        assert_eq!(done.pruned, 1);
        assert_eq!(count("samples_1h").await, 0);
    }

    #[tokio::test]
    async fn a_part_on_a_node_is_kept_while_a_chart_shows_it() {
        let store = store().await;
        store.add_host(host("big1")).await.unwrap();
        store
            .record_samples(
                "big1",
                &[sample("web", T0, 2.0, 2), part("web", "big2", T0, 2.0, 2)],
            )
            .await
            .unwrap();
        store.roll_up((T0 + 3600 + 61) * 1000).await.unwrap();
        // (rows of the whole app, rows of its part) in each table.
        let rows = || {
            let store = store.clone();
            async move {
                let mut counts = Vec::new();
                for table in ["samples_raw", "samples_1m", "samples_1h"] {
                    let n: (i64, i64) = sqlx::query_as(AssertSqlSafe(format!(
                        "SELECT COUNT(*) FILTER (WHERE s.node = ''), COUNT(*) FILTER (WHERE s.node <> '')
                         FROM {table} r JOIN metric_series s ON s.id = r.series"
                    )))
                    .fetch_one(&store.pool)
                    .await
                    .unwrap();
                    counts.push(n);
                }
                counts
            }
        };
        assert_eq!(rows().await, [(1, 1), (1, 1), (1, 1)]);
        // Past the longest raw chart (3 h), the part's sample goes, the
        // whole's stays; past the longest minute chart (2 days), its minute.
        store.roll_up((T0 + 3 * 3600 + 1) * 1000).await.unwrap();
        assert_eq!(rows().await, [(1, 0), (1, 1), (1, 1)]);
        store.roll_up((T0 + 48 * 3600 + 1) * 1000).await.unwrap();
        assert_eq!(rows().await, [(0, 0), (1, 0), (1, 1)]);
        // A 3 h chart of the part still shows its last 3 h.
        store
            .record_samples("big1", &[part("web", "big2", T0 + 50 * 3600, 4.0, 4)])
            .await
            .unwrap();
        let nodes = store
            .metrics_by_node(
                "big1",
                "web",
                (T0 + 47 * 3600 + 5) * 1000,
                (T0 + 50 * 3600 + 5) * 1000,
            )
            .await
            .unwrap();
        assert_eq!(nodes[0].points.len(), 1);
        assert_eq!(nodes[0].points[0].cpu_percent, 4.0);
    }

    #[test]
    fn the_range_picks_the_resolution() {
        let hour = 3_600_000;
        assert_eq!(Resolution::for_range(hour), Resolution::Raw);
        assert_eq!(Resolution::for_range(24 * hour), Resolution::Minute);
        assert_eq!(Resolution::for_range(7 * 24 * hour), Resolution::Hour);
    }

    #[test]
    fn odd_values_are_stored_as_something_sane() {
        assert_eq!(cpu_units(f64::NAN), 0);
        assert_eq!(cpu_units(-3.0), 0);
        assert_eq!(cpu_units(12.345), 1235);
        assert_eq!(kib(1), 1);
        assert_eq!(clamp(u64::MAX), i64::MAX);
    }

    /// Roll-ups read before they write while the monitor's ticks write: in
    /// a file database (WAL) a deferred transaction would fail at once with
    /// "database is locked" (`SQLITE_BUSY_SNAPSHOT`) when a tick wrote in
    /// between; each waits for the other instead.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn roll_ups_and_ticks_at_once_wait_for_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("rdesk.sqlite")).await.unwrap();
        store.add_host(host("vps1")).await.unwrap();
        let ticks = {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..300 {
                    let at = T0 + i * 5;
                    let samples = [sample("web", at, 1.0, 1), sample("api", at, 2.0, 2)];
                    store.record_samples("vps1", &samples).await?;
                }
                Ok::<_, StoreError>(())
            })
        };
        for i in 0..300 {
            store.roll_up((T0 + i * 5 + 61) * 1000).await.unwrap();
        }
        ticks.await.unwrap().unwrap();
    }
}
