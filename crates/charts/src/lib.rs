//! Pictures of how apps do, drawn with plotters as SVG: line charts of
//! metrics over time (with a limit line where there is one) and uptime
//! grids. Plain data in, SVG text out: no IO, no database, no clock.
//!
//! - [`line_chart_svg`]: CPU, memory (with its limit), network, requests.
//! - [`uptime_svg`]: one row per app, one cell per slice of time, coloured
//!   by the worst status in it.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod line;
mod time;
mod uptime;

pub use line::{Limit, LineChart, TimeSeries, line_chart_svg};
pub use time::UtcOffset;
pub use uptime::{CellStatus, UptimeGrid, UptimeRow, uptime_svg};

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("the chart's time range is empty ({from_ms} to {to_ms})")]
    EmptyRange { from_ms: i64, to_ms: i64 },
    #[error("drawing the chart failed: {0}")]
    Draw(String),
}

/// Width and height of every chart, in pixels.
pub const SIZE: (u32, u32) = (800, 360);

/// The colours of series, in order (enough for an app's whole use and its
/// part on each of eight nodes); the limit line has its own.
pub const SERIES_COLOURS: [(u8, u8, u8); 9] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
];

/// The colour of a limit line (e.g. a memory limit), never used for a series.
pub const LIMIT_COLOUR: (u8, u8, u8) = (214, 39, 40);

fn draw_error(e: impl std::fmt::Display) -> ChartError {
    ChartError::Draw(e.to_string())
}
