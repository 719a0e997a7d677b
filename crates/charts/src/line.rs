//! Line charts of metrics over time: one line per series, an optional
//! dashed limit line, time on x, the metric's unit on y.

use plotters::prelude::*;

use crate::time::{self, UtcOffset};
use crate::{ChartError, LIMIT_COLOUR, SERIES_COLOURS, SIZE, draw_error};

/// One line: its name in the legend and its points (unix ms, value).
#[derive(Debug, Clone, PartialEq)]
pub struct TimeSeries {
    pub label: String,
    pub points: Vec<(i64, f64)>,
}

/// A horizontal line marking a limit, e.g. a container's memory limit.
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    pub label: String,
    pub value: f64,
}

/// A chart of one or more series over `[from_ms, to_ms]`.
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    pub title: String,
    /// The y axis' description, with its unit, e.g. `CPU (% of one core)`.
    pub y_label: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub series: Vec<TimeSeries>,
    pub limit: Option<Limit>,
}

impl LineChart {
    /// The chart in words, for a picture's text alternative: its title and
    /// each series' latest value (and the limit), e.g.
    /// `sales: memory; latest used 201M; limit 268M (memory (bytes))`.
    pub fn describe(&self) -> String {
        let latest: Vec<String> = self
            .series
            .iter()
            .map(|s| match s.points.last() {
                Some((_, v)) => format!("{} {}", s.label, short_number(*v)),
                None => format!("{} no samples", s.label),
            })
            .collect();
        let mut text = format!("{}; latest {}", self.title, latest.join(", "));
        if let Some(limit) = &self.limit {
            text.push_str(&format!("; {} {}", limit.label, short_number(limit.value)));
        }
        format!("{text} ({})", self.y_label)
    }
}

/// Draws the chart as an SVG document.
pub fn line_chart_svg(chart: &LineChart, offset: UtcOffset) -> Result<String, ChartError> {
    if chart.to_ms <= chart.from_ms {
        return Err(ChartError::EmptyRange {
            from_ms: chart.from_ms,
            to_ms: chart.to_ms,
        });
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        draw(&root, chart, offset)?;
        root.present().map_err(draw_error)?;
    }
    Ok(svg)
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    chart: &LineChart,
    offset: UtcOffset,
) -> Result<(), ChartError>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(draw_error)?;
    let highest = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .chain(chart.limit.as_ref().map(|l| l.value))
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let y_max = if highest > 0.0 { highest * 1.1 } else { 1.0 };
    let range = chart.to_ms - chart.from_ms;
    let mut plot = ChartBuilder::on(root)
        .caption(&chart.title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(64)
        .build_cartesian_2d(chart.from_ms..chart.to_ms, 0.0..y_max)
        .map_err(draw_error)?;
    let x_label = |at: &i64| time::label(*at, range, offset);
    let y_label = |v: &f64| short_number(*v);
    plot.configure_mesh()
        .x_labels(6)
        .y_labels(6)
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .y_desc(chart.y_label.as_str())
        .x_desc(format!("time ({})", offset.name()))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(draw_error)?;
    for (i, series) in chart.series.iter().enumerate() {
        let (r, g, b) = SERIES_COLOURS[i % SERIES_COLOURS.len()];
        let colour = RGBColor(r, g, b);
        plot.draw_series(LineSeries::new(
            series.points.iter().copied(),
            colour.stroke_width(2),
        ))
        .map_err(draw_error)?
        .label(series.label.as_str())
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], colour.stroke_width(2)));
    }
    if let Some(limit) = &chart.limit {
        let (r, g, b) = LIMIT_COLOUR;
        let colour = RGBColor(r, g, b);
        plot.draw_series(DashedLineSeries::new(
            [(chart.from_ms, limit.value), (chart.to_ms, limit.value)],
            8,
            5,
            colour.stroke_width(2),
        ))
        .map_err(draw_error)?
        .label(limit.label.as_str())
        .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], colour.stroke_width(2)));
    }
    if !chart.series.is_empty() || chart.limit.is_some() {
        plot.configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(draw_error)?;
    }
    Ok(())
}

/// `1.5k`, `12M`, `0.25`: axis numbers that fit.
fn short_number(v: f64) -> String {
    let a = v.abs();
    let (scaled, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let text = if scaled.abs() >= 100.0 || scaled.fract() == 0.0 {
        format!("{scaled:.0}")
    } else if scaled.abs() >= 10.0 {
        format!("{scaled:.1}")
    } else {
        format!("{scaled:.2}")
    };
    format!("{text}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_numbers_are_short() {
        assert_eq!(short_number(0.0), "0");
        assert_eq!(short_number(0.25), "0.25");
        assert_eq!(short_number(1536.0), "1.54k");
        assert_eq!(short_number(268_435_456.0), "268M");
        assert_eq!(short_number(12.5), "12.5");
    }

    #[test]
    fn a_chart_in_words_names_its_latest_values_and_limit() {
        let chart = LineChart {
            title: "sales: memory".into(),
            y_label: "memory (bytes)".into(),
            from_ms: 0,
            to_ms: 10,
            series: vec![
                TimeSeries {
                    label: "used".into(),
                    points: vec![(1, 1024.0), (2, 201_000_000.0)],
                },
                TimeSeries {
                    label: "cache".into(),
                    points: vec![],
                },
            ],
            limit: Some(Limit {
                label: "limit".into(),
                value: 268_435_456.0,
            }),
        };
        assert_eq!(
            chart.describe(),
            "sales: memory; latest used 201M, cache no samples; limit 268M (memory (bytes))"
        );
    }

    #[test]
    fn an_empty_range_is_refused() {
        let chart = LineChart {
            title: "t".into(),
            y_label: "y".into(),
            from_ms: 5,
            to_ms: 5,
            series: vec![],
            limit: None,
        };
        assert!(matches!(
            line_chart_svg(&chart, UtcOffset::UTC),
            Err(ChartError::EmptyRange { .. })
        ));
    }
}
