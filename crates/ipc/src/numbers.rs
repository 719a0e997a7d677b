//! The numbers at the top of a host's and an app's page, as the core's
//! `summary` reads them from the monitor's latest sample.

use serde::{Deserialize, Serialize};

/// An app (`slug`), or the host's totals (no slug).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryArgs {
    pub host: String,
    pub slug: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SummaryView {
    /// When the latest sample was taken; `None`: none in the last minute.
    pub sampled_at_ms: Option<i64>,
    pub cpu_percent: f64,
    pub memory_bytes: u64,
    /// An app's memory limit; `None` for a host's totals.
    pub memory_limit_bytes: Option<u64>,
    /// The host's memory (its apps' totals are `memory_bytes` of it); `None`
    /// for an app, or when the host cannot say.
    pub memory_total_bytes: Option<u64>,
    pub net_rx_bytes_per_s: f64,
    pub net_tx_bytes_per_s: f64,
    pub requests_per_minute: Option<f64>,
    /// An app up since then (its last start).
    pub up_since_ms: Option<i64>,
}
