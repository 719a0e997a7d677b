//! What the shells show of the monitor's data: an app's (or a host's)
//! metrics over a range (and a cluster app's on each node), and their
//! pictures, drawn by `rdesk-charts` from the store's series and status
//! history.

pub use rdesk_charts::UtcOffset;
use rdesk_charts::{
    CellStatus, Limit, LineChart, TimeSeries, UptimeGrid, UptimeRow, line_chart_svg, uptime_svg,
};
use rdesk_spawner::{AppStatus, Severity};

use crate::desk::Desk;
use crate::error::DeskError;
use crate::store::{MetricPoint, MetricSeries, StatusEvent};

/// What a chart shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Cpu,
    Memory,
    Network,
    Requests,
    /// The uptime grid of all the host's apps.
    Uptime,
}

impl Metric {
    pub const NAMES: &'static str = "cpu, memory, network, requests, uptime";

    pub fn parse(name: &str) -> Result<Metric, DeskError> {
        Ok(match name {
            "cpu" => Self::Cpu,
            "memory" | "mem" => Self::Memory,
            "network" | "net" => Self::Network,
            "requests" | "req" => Self::Requests,
            "uptime" => Self::Uptime,
            _ => {
                return Err(DeskError::Chart(format!(
                    "there is no metric `{name}`; choose one of {}",
                    Self::NAMES
                )));
            }
        })
    }
}

/// The longest range kept (the hour roll-ups' 90 days).
const MAX_RANGE_MS: i64 = 90 * 86_400_000;

/// `30m`, `1h`, `24h`, `7d`: a range back from now, in milliseconds.
pub fn parse_range(text: &str) -> Result<i64, DeskError> {
    let bad = || {
        DeskError::Chart(format!(
            "`{text}` is not a range; write a number and m, h or d, e.g. 1h, 24h, 7d (at most 90d)"
        ))
    };
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().map_err(|_| bad())?;
    let unit_ms = match unit {
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad()),
    };
    let range = n.checked_mul(unit_ms).ok_or_else(bad)?;
    if range <= 0 || range > MAX_RANGE_MS {
        return Err(bad());
    }
    Ok(range)
}

impl Desk {
    /// The metrics of app `slug` of `host` (or with `None` the host's totals)
    /// over the `range_ms` before `now_ms`, at the resolution the range calls for.
    pub async fn metrics(
        &self,
        host: &str,
        slug: Option<&str>,
        range_ms: i64,
        now_ms: i64,
    ) -> Result<MetricSeries, DeskError> {
        self.host(host).await?;
        Ok(self
            .store()
            .metrics(host, slug, now_ms - range_ms, now_ms)
            .await?)
    }

    /// App `slug`'s part on each node of cluster `host` over the `range_ms`
    /// before `now_ms` (each node it ran on then); none on a single host.
    pub async fn metrics_by_node(
        &self,
        host: &str,
        slug: &str,
        range_ms: i64,
        now_ms: i64,
    ) -> Result<Vec<MetricSeries>, DeskError> {
        self.host(host).await?;
        Ok(self
            .store()
            .metrics_by_node(host, slug, now_ms - range_ms, now_ms)
            .await?)
    }

    /// A chart of one metric as an SVG document with its description in
    /// words. `Uptime` shows every app of the host (or only `slug`); a
    /// cluster app's CPU and memory have a line per node beside the whole.
    pub async fn chart(
        &self,
        host: &str,
        slug: Option<&str>,
        metric: Metric,
        range_ms: i64,
        now_ms: i64,
        offset: UtcOffset,
    ) -> Result<ChartPicture, DeskError> {
        let (svg, description) = if metric == Metric::Uptime {
            self.host(host).await?;
            let from_ms = now_ms - range_ms;
            let events = self.store().status_timeline(host, from_ms, now_ms).await?;
            let grid = uptime_grid(host, slug, &events, from_ms, now_ms);
            (uptime_svg(&grid, offset), grid.describe())
        } else {
            let series = self.metrics(host, slug, range_ms, now_ms).await?;
            // The host is known: `metrics` found it.
            let by_node = match slug {
                Some(slug) if matches!(metric, Metric::Cpu | Metric::Memory) => {
                    self.store()
                        .metrics_by_node(host, slug, now_ms - range_ms, now_ms)
                        .await?
                }
                _ => Vec::new(),
            };
            let chart = line_chart(&series, &by_node, metric);
            (line_chart_svg(&chart, offset), chart.describe())
        };
        Ok(ChartPicture {
            svg: svg.map_err(|e| DeskError::Chart(e.to_string()))?,
            description,
        })
    }
}

/// A drawn chart: the SVG document and the same in words (its title and
/// latest values), for a text alternative.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartPicture {
    pub svg: String,
    pub description: String,
}

/// The line chart of one metric of a series; CPU and memory also have a
/// line for each of `by_node` (a cluster app's parts on its nodes).
pub fn line_chart(series: &MetricSeries, by_node: &[MetricSeries], metric: Metric) -> LineChart {
    let whose = match &series.slug {
        Some(slug) => slug.clone(),
        None => format!("{} (all apps)", series.host),
    };
    let line_of = |series: &MetricSeries,
                   label: String,
                   value: &dyn Fn(&MetricPoint) -> Option<f64>| TimeSeries {
        label,
        points: series
            .points
            .iter()
            .filter_map(|p| Some((p.at_ms, value(p)?)))
            .collect(),
    };
    let line = |label: &str, value: &dyn Fn(&MetricPoint) -> Option<f64>| {
        line_of(series, label.to_owned(), value)
    };
    // The whole app's line, then one per node when there are nodes.
    let with_nodes = |label: &str, value: &dyn Fn(&MetricPoint) -> Option<f64>| {
        let whole = match by_node {
            [] => label.to_owned(),
            _ => format!("{label} (all nodes)"),
        };
        let parts = by_node.iter().map(|part| {
            let node = part.node.as_deref().unwrap_or_default();
            line_of(part, format!("on {node}"), value)
        });
        std::iter::once(line_of(series, whole, value))
            .chain(parts)
            .collect::<Vec<_>>()
    };
    let (what, y_label, lines, limit) = match metric {
        Metric::Cpu => (
            "CPU",
            "CPU (% of one core)",
            with_nodes("cpu", &|p| Some(p.cpu_percent)),
            None,
        ),
        Metric::Memory => {
            // A host's total has no one limit; an app's is its container's.
            let limit = series.memory_limit_bytes.map(|l| Limit {
                label: "limit".to_owned(),
                value: l as f64,
            });
            (
                "memory",
                "memory (bytes)",
                with_nodes("used", &|p| Some(p.memory_bytes as f64)),
                limit,
            )
        }
        Metric::Network => (
            "network",
            "network (bytes/s)",
            vec![
                line("received", &|p| Some(p.net_rx_bytes_per_s)),
                line("sent", &|p| Some(p.net_tx_bytes_per_s)),
            ],
            None,
        ),
        Metric::Requests | Metric::Uptime => (
            "requests",
            "requests per minute",
            vec![line("requests/min", &|p| p.requests_per_minute)],
            None,
        ),
    };
    LineChart {
        title: format!("{whose}: {what}"),
        y_label: y_label.to_owned(),
        from_ms: series.from_ms,
        to_ms: series.to_ms,
        series: lines,
        limit,
    }
}

/// Cells of a minute up to a day; of ten minutes beyond (a week is 1008).
fn cell_ms(range_ms: i64) -> i64 {
    if range_ms <= 86_400_000 {
        60_000
    } else {
        600_000
    }
}

/// The uptime grid of the apps in `events` (a [`Store::status_timeline`]),
/// or only of `slug`.
///
/// [`Store::status_timeline`]: crate::store::Store::status_timeline
pub fn uptime_grid(
    host: &str,
    slug: Option<&str>,
    events: &[StatusEvent],
    from_ms: i64,
    to_ms: i64,
) -> UptimeGrid {
    let cell = cell_ms(to_ms - from_ms);
    let cells = usize::try_from((to_ms - from_ms).div_euclid(cell)).unwrap_or(0);
    let mut rows: Vec<UptimeRow> = Vec::new();
    for app in events.chunk_by(|a, b| a.slug == b.slug) {
        let name = &app[0].slug;
        if slug.is_some_and(|s| s != name) {
            continue;
        }
        let row = (0..cells)
            .map(|i| {
                let start = from_ms + cell * i as i64;
                worst_in(app, start, start + cell)
            })
            .collect();
        rows.push(UptimeRow {
            name: name.clone(),
            cells: row,
        });
    }
    let range = match to_ms - from_ms {
        r if r % 86_400_000 == 0 => format!("{} d", r / 86_400_000),
        r => format!("{} h", r.div_euclid(3_600_000).max(1)),
    };
    UptimeGrid {
        title: format!("{host}: uptime, last {range}"),
        from_ms,
        cell_ms: cell,
        rows,
    }
}

/// The worst status an app (its events, oldest first) was in during `[start, end)`.
fn worst_in(events: &[StatusEvent], start: i64, end: i64) -> CellStatus {
    let in_force = events.iter().rev().find(|e| e.at <= start);
    in_force
        .into_iter()
        .chain(events.iter().filter(|e| e.at > start && e.at < end))
        .map(|e| cell_status(e.status))
        .max()
        .unwrap_or(CellStatus::NoData)
}

/// An app with no container (removed, missing) has no data; otherwise the
/// cell shows how bad the status is, a pending start as degraded.
fn cell_status(status: AppStatus) -> CellStatus {
    match status {
        AppStatus::Removed | AppStatus::Missing => CellStatus::NoData,
        _ => match status.severity() {
            Severity::Up => CellStatus::Up,
            Severity::Stopped => CellStatus::Stopped,
            Severity::Waiting | Severity::Degraded => CellStatus::Degraded,
            Severity::Down => CellStatus::Down,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Resolution;

    fn event(slug: &str, at: i64, status: AppStatus) -> StatusEvent {
        StatusEvent {
            id: at,
            host: "vps1".into(),
            slug: slug.into(),
            at,
            status,
            detail: None,
        }
    }

    #[test]
    fn ranges_are_a_number_and_a_unit() {
        assert_eq!(parse_range("1h").unwrap(), 3_600_000);
        assert_eq!(parse_range("24h").unwrap(), 86_400_000);
        assert_eq!(parse_range("7d").unwrap(), 7 * 86_400_000);
        assert_eq!(parse_range("30m").unwrap(), 1_800_000);
        for bad in [
            "",
            "h",
            "1",
            "1w",
            "0h",
            "-1h",
            "91d",
            "99999999999999999d",
            "1.5h",
        ] {
            let err = parse_range(bad).unwrap_err().to_string();
            assert!(err.contains("is not a range"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn metrics_are_named_plainly() {
        assert_eq!(Metric::parse("cpu").unwrap(), Metric::Cpu);
        assert_eq!(Metric::parse("memory").unwrap(), Metric::Memory);
        let err = Metric::parse("disk").unwrap_err().to_string();
        assert!(
            err.contains("no metric `disk`") && err.contains("uptime"),
            "{err}"
        );
    }

    #[test]
    fn uptime_cells_show_the_worst_status_of_their_minute() {
        let events = [
            event("api", 30_000, AppStatus::Running),
            event("web", -5_000, AppStatus::Running),
            event("web", 125_000, AppStatus::Crashed),
            event("web", 126_000, AppStatus::Running),
            event("web", 240_000, AppStatus::Exited),
        ];
        let grid = uptime_grid("vps1", None, &events, 0, 300_000);
        assert_eq!(grid.cell_ms, 60_000);
        let rows: Vec<(&str, &[CellStatus])> = grid
            .rows
            .iter()
            .map(|r| (r.name.as_str(), r.cells.as_slice()))
            .collect();
        use CellStatus::*;
        assert_eq!(
            rows,
            [
                ("api", &[Up, Up, Up, Up, Up][..]),
                ("web", &[Up, Up, Down, Up, Stopped][..]),
            ]
        );
        // api has no data before its first event.
        let later = [event("api", 90_000, AppStatus::Running)];
        let grid = uptime_grid("vps1", Some("api"), &later, 0, 180_000);
        assert_eq!(grid.rows[0].cells, [NoData, Up, Up]);
        assert_eq!(grid.title, "vps1: uptime, last 1 h");
        assert_eq!(
            uptime_grid("h", None, &[], 0, 7 * 86_400_000).cell_ms,
            600_000
        );
    }

    #[test]
    fn a_memory_chart_of_an_app_has_its_limit_and_a_host_total_has_none() {
        let point = MetricPoint {
            at_ms: 0,
            cpu_percent: 1.0,
            cpu_max_percent: 1.0,
            memory_bytes: 10,
            memory_max_bytes: 10,
            net_rx_bytes_per_s: 1.0,
            net_tx_bytes_per_s: 2.0,
            requests_per_minute: None,
        };
        let mut series = MetricSeries {
            host: "vps1".into(),
            slug: Some("web".into()),
            node: None,
            resolution: Resolution::Raw,
            seconds: 5,
            from_ms: 0,
            to_ms: 60_000,
            memory_limit_bytes: Some(64 << 20),
            points: vec![point],
        };
        let chart = line_chart(&series, &[], Metric::Memory);
        assert_eq!(chart.title, "web: memory");
        assert_eq!(chart.limit.map(|l| l.value), Some((64 << 20) as f64));
        assert_eq!(line_chart(&series, &[], Metric::Network).series.len(), 2);
        // Unknown request counts are left out, not drawn as zero.
        assert!(
            line_chart(&series, &[], Metric::Requests).series[0]
                .points
                .is_empty()
        );
        series.slug = None;
        series.memory_limit_bytes = None;
        let total = line_chart(&series, &[], Metric::Memory);
        assert_eq!(total.title, "vps1 (all apps): memory");
        assert_eq!(total.limit, None);

        // A cluster app's CPU and memory have a line per node.
        series.slug = Some("web".into());
        let on = |node: &str| MetricSeries {
            node: Some(node.into()),
            ..series.clone()
        };
        let by_node = [on("big1"), on("big2")];
        let cpu = line_chart(&series, &by_node, Metric::Cpu);
        let labels: Vec<_> = cpu.series.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["cpu (all nodes)", "on big1", "on big2"]);
        assert!(cpu.describe().contains("on big2 1"), "{}", cpu.describe());
        assert_eq!(
            line_chart(&series, &by_node, Metric::Memory).series.len(),
            3
        );
        assert_eq!(
            line_chart(&series, &by_node, Metric::Network).series.len(),
            2
        );
    }
}
