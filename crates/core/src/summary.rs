//! The numbers at the top of a host's and an app's page: the latest
//! sample (CPU, memory, network rates, requests per minute), an app's
//! memory limit or the host's memory, and how long an app has been up since
//! it last started, from the monitor's records in the store (and the host's
//! memory from its Docker, read again at most every few minutes).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdesk_spawner::AppStatus;
use serde::Serialize;

use crate::desk::Desk;
use crate::error::DeskError;
use crate::store::StatusEvent;

/// How far back the latest sample may be.
const LATEST_WITHIN_MS: i64 = 60_000;
/// How many of an app's last status changes a start is looked for in.
const STATUS_CHANGES_READ: u32 = 50;
/// How long a host's memory, once read, is taken as still true: it changes
/// only when the VPS is resized, and each read is a round trip.
const MEMORY_TOTAL_KEPT: Duration = Duration::from_secs(600);

/// Each host's memory as last read, and when.
#[derive(Default)]
pub(crate) struct MemoryTotals(Mutex<HashMap<String, (u64, Instant)>>);

impl MemoryTotals {
    fn fresh(&self, host: &str) -> Option<u64> {
        let totals = self.0.lock().unwrap_or_else(|e| e.into_inner());
        totals
            .get(host)
            .filter(|(_, read)| read.elapsed() < MEMORY_TOTAL_KEPT)
            .map(|(bytes, _)| *bytes)
    }

    fn keep(&self, host: &str, bytes: u64) {
        let mut totals = self.0.lock().unwrap_or_else(|e| e.into_inner());
        totals.insert(host.to_owned(), (bytes, Instant::now()));
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// When the latest sample was taken; `None` when there is none in the last minute.
    pub sampled_at_ms: Option<i64>,
    pub cpu_percent: f64,
    pub memory_bytes: u64,
    /// An app's memory limit; `None` for a host's totals.
    pub memory_limit_bytes: Option<u64>,
    /// A host's memory; `None` for an app, or when the host cannot say.
    pub memory_total_bytes: Option<u64>,
    pub net_rx_bytes_per_s: f64,
    pub net_tx_bytes_per_s: f64,
    pub requests_per_minute: Option<f64>,
    /// An app running since then, without a stop or crash since.
    pub up_since_ms: Option<i64>,
}

/// When `slug` last started running and stayed up, from its status changes (oldest first).
fn up_since(events: &[StatusEvent], slug: &str) -> Option<i64> {
    let mut since = None;
    for event in events.iter().filter(|e| e.slug == slug) {
        since = match event.status {
            AppStatus::Running => since.or(Some(event.at)),
            // Still the same run: its health check is starting or failing.
            AppStatus::Starting | AppStatus::Unhealthy => since,
            _ => None,
        };
    }
    since
}

impl Desk {
    /// The latest numbers of an app (`slug`) or of the host's totals.
    pub async fn summary(
        &self,
        host: &str,
        slug: Option<&str>,
        now_ms: i64,
    ) -> Result<Summary, DeskError> {
        let series = self.metrics(host, slug, LATEST_WITHIN_MS, now_ms).await?;
        let mut summary = match series.points.last() {
            Some(p) => Summary {
                sampled_at_ms: Some(p.at_ms),
                cpu_percent: p.cpu_percent,
                memory_bytes: p.memory_bytes,
                net_rx_bytes_per_s: p.net_rx_bytes_per_s,
                net_tx_bytes_per_s: p.net_tx_bytes_per_s,
                requests_per_minute: p.requests_per_minute,
                ..Summary::default()
            },
            None => Summary::default(),
        };
        summary.memory_limit_bytes = series.memory_limit_bytes;
        match slug {
            Some(slug) => {
                let mut events = self
                    .store()
                    .status_events(host, slug, STATUS_CHANGES_READ)
                    .await?;
                events.reverse();
                summary.up_since_ms = up_since(&events, slug);
            }
            // Without a recent sample the host may well be offline: no wait for it.
            None if summary.sampled_at_ms.is_some() => {
                summary.memory_total_bytes = self.memory_total(host).await;
            }
            None => {}
        }
        Ok(summary)
    }

    /// The host's memory, as last read within [`MEMORY_TOTAL_KEPT`] or read
    /// now; `None` when the host cannot be asked (it is offline, say): the
    /// card then shows the memory used alone.
    async fn memory_total(&self, host: &str) -> Option<u64> {
        if let Some(bytes) = self.memory_totals.fresh(host) {
            return Some(bytes);
        }
        let read = self
            .with_session(host, async |s| s.memory_total().await)
            .await;
        match read {
            Ok(bytes) => {
                self.memory_totals.keep(host, bytes);
                Some(bytes)
            }
            Err(e) => {
                tracing::debug!("the memory of {host} is unknown: {e}");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(slug: &str, at: i64, status: AppStatus) -> StatusEvent {
        StatusEvent {
            id: at,
            host: "h".into(),
            slug: slug.into(),
            at,
            status,
            detail: None,
        }
    }

    #[test]
    fn up_since_the_last_start_that_lasted() {
        let events = [
            event("a", 10, AppStatus::Running),
            event("a", 20, AppStatus::Crashed),
            event("b", 25, AppStatus::Running),
            event("a", 30, AppStatus::Starting),
            event("a", 31, AppStatus::Running),
            event("a", 35, AppStatus::Unhealthy),
            event("a", 40, AppStatus::Running),
        ];
        assert_eq!(up_since(&events, "a"), Some(31));
        assert_eq!(up_since(&events, "b"), Some(25));
        assert_eq!(up_since(&events[..2], "a"), None, "crashed: not up");
        assert_eq!(up_since(&events, "c"), None);
    }
}
