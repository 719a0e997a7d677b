//! The uptime grid: one row per app, one cell per slice of time (a minute
//! over an hour; longer slices over longer ranges), coloured by status.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::time::{self, UtcOffset};
use crate::{ChartError, SIZE, draw_error};

/// What an app was doing in one cell; the worst status in the slice wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CellStatus {
    /// Nothing known (before the first record, or the app did not exist).
    NoData,
    Up,
    /// Starting or unhealthy.
    Degraded,
    /// Stopped by the user.
    Stopped,
    /// Crashed or killed for memory.
    Down,
}

impl CellStatus {
    /// The colour of a cell.
    pub fn colour(self) -> (u8, u8, u8) {
        match self {
            Self::NoData => (225, 225, 225),
            Self::Up => (44, 160, 44),
            Self::Degraded => (255, 187, 51),
            Self::Stopped => (140, 140, 140),
            Self::Down => (214, 39, 40),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::NoData => "no data",
            Self::Up => "up",
            Self::Degraded => "degraded",
            Self::Stopped => "stopped",
            Self::Down => "down",
        }
    }
}

/// One app's row.
#[derive(Debug, Clone, PartialEq)]
pub struct UptimeRow {
    pub name: String,
    pub cells: Vec<CellStatus>,
}

/// A grid of rows over cells of `cell_ms` each, the first starting at `from_ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct UptimeGrid {
    pub title: String,
    pub from_ms: i64,
    pub cell_ms: i64,
    pub rows: Vec<UptimeRow>,
}

impl UptimeGrid {
    /// The grid in words, for a picture's text alternative: its title and
    /// each app's share of cells up and its latest known status, e.g.
    /// `uptime; sales up 98% (now up); shop up 50% (now down)`.
    pub fn describe(&self) -> String {
        let rows: Vec<String> = self
            .rows
            .iter()
            .map(|row| {
                let known = row.cells.iter().filter(|c| **c != CellStatus::NoData);
                let (up, all) = known.fold((0usize, 0usize), |(up, all), c| {
                    (up + usize::from(*c == CellStatus::Up), all + 1)
                });
                let now = row
                    .cells
                    .iter()
                    .rev()
                    .find(|c| **c != CellStatus::NoData)
                    .map_or(CellStatus::NoData, |c| *c);
                match (up * 100).checked_div(all) {
                    Some(percent) => {
                        format!("{} up {percent}% (now {})", row.name, now.name())
                    }
                    None => format!("{} no data", row.name),
                }
            })
            .collect();
        if rows.is_empty() {
            format!("{}; no apps", self.title)
        } else {
            format!("{}; {}", self.title, rows.join("; "))
        }
    }
}

const LEFT: i32 = 140;
const TOP: i32 = 44;
const ROW: i32 = 22;
const BOTTOM: i32 = 56;

/// Draws the grid as an SVG document, as tall as its rows need.
pub fn uptime_svg(grid: &UptimeGrid, offset: UtcOffset) -> Result<String, ChartError> {
    let cells = grid.rows.iter().map(|r| r.cells.len()).max().unwrap_or(0);
    if cells == 0 || grid.cell_ms <= 0 {
        return Err(ChartError::EmptyRange {
            from_ms: grid.from_ms,
            to_ms: grid.from_ms + grid.cell_ms * cells as i64,
        });
    }
    let height = TOP + ROW * grid.rows.len() as i32 + BOTTOM;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (SIZE.0, height as u32)).into_drawing_area();
        draw(&root, grid, cells, offset)?;
        root.present().map_err(draw_error)?;
    }
    Ok(svg)
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    grid: &UptimeGrid,
    cells: usize,
    offset: UtcOffset,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(draw_error)?;
    let width = SIZE.0 as i32 - LEFT - 16;
    let cell_w = f64::from(width) / cells as f64;
    let title = ("sans-serif", 20).into_font().color(&BLACK);
    root.draw(&Text::new(grid.title.as_str(), (LEFT, 12), title))
        .map_err(draw_error)?;
    let label = ("sans-serif", 13).into_font().color(&BLACK);
    let right = label.pos(Pos::new(HPos::Right, VPos::Center));
    for (i, row) in grid.rows.iter().enumerate() {
        let y = TOP + ROW * i as i32;
        root.draw(&Text::new(
            row.name.as_str(),
            (LEFT - 8, y + ROW / 2),
            right.clone(),
        ))
        .map_err(draw_error)?;
        // Neighbouring cells of one status are drawn as one rectangle.
        let mut start = 0;
        while start < row.cells.len() {
            let status = row.cells[start];
            let end = (start..row.cells.len())
                .find(|&j| row.cells[j] != status)
                .unwrap_or(row.cells.len());
            let x0 = LEFT + (start as f64 * cell_w).round() as i32;
            let x1 = LEFT + (end as f64 * cell_w).round() as i32;
            let (r, g, b) = status.colour();
            root.draw(&Rectangle::new(
                [(x0, y + 2), (x1.max(x0 + 1), y + ROW - 2)],
                RGBColor(r, g, b).filled(),
            ))
            .map_err(draw_error)?;
            start = end;
        }
    }
    // The time axis: a label at the start, the middle and the end.
    let axis_y = TOP + ROW * grid.rows.len() as i32 + 6;
    let range = grid.cell_ms * cells as i64;
    let centred = label.pos(Pos::new(HPos::Center, VPos::Top));
    for k in 0..=2 {
        let at = grid.from_ms + range * k / 2;
        let x = LEFT + width * k as i32 / 2;
        root.draw(&Text::new(
            time::label(at, range, offset),
            (x, axis_y),
            centred.clone(),
        ))
        .map_err(draw_error)?;
    }
    // The legend.
    let mut x = LEFT;
    let legend_y = axis_y + 24;
    for status in [
        CellStatus::Up,
        CellStatus::Degraded,
        CellStatus::Stopped,
        CellStatus::Down,
        CellStatus::NoData,
    ] {
        let (r, g, b) = status.colour();
        root.draw(&Rectangle::new(
            [(x, legend_y), (x + 12, legend_y + 12)],
            RGBColor(r, g, b).filled(),
        ))
        .map_err(draw_error)?;
        root.draw(&Text::new(status.name(), (x + 16, legend_y), label.clone()))
            .map_err(draw_error)?;
        x += 100;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grid_in_words_gives_each_apps_share_up_and_its_latest_status() {
        use CellStatus::{Down, NoData, Up};
        let grid = UptimeGrid {
            title: "vps: uptime".into(),
            from_ms: 0,
            cell_ms: 60_000,
            rows: vec![
                UptimeRow {
                    name: "sales".into(),
                    cells: vec![NoData, Up, Up, Up, Down, NoData],
                },
                UptimeRow {
                    name: "new".into(),
                    cells: vec![NoData, NoData],
                },
            ],
        };
        assert_eq!(
            grid.describe(),
            "vps: uptime; sales up 75% (now down); new no data"
        );
        let empty = UptimeGrid {
            rows: vec![],
            ..grid
        };
        assert_eq!(empty.describe(), "vps: uptime; no apps");
    }
}
