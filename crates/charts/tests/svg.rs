//! The charts checked as documents: each SVG parses, has its title and
//! axes, one line per series in the series' colour, and a limit line in the
//! limit's colour when there is one. Each kind is also rendered to PNG under
//! `target/charts/` for a person to look at.
// Tests: a panic is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::PathBuf;

use rdesk_charts::{
    CellStatus, LIMIT_COLOUR, Limit, LineChart, SERIES_COLOURS, TimeSeries, UptimeGrid, UptimeRow,
    UtcOffset, line_chart_svg, uptime_svg,
};

const T0: i64 = 1_700_000_000_000;
const HOUR: i64 = 3_600_000;

fn hex((r, g, b): (u8, u8, u8)) -> String {
    format!("#{r:02X}{g:02X}{b:02X}")
}

/// A wave of `n` points over the hour from T0.
fn wave(label: &str, n: i64, scale: f64) -> TimeSeries {
    TimeSeries {
        label: label.to_owned(),
        points: (0..n)
            .map(|i| {
                let at = T0 + HOUR * i / n;
                (at, scale * (1.0 + (i as f64 / 7.0).sin()))
            })
            .collect(),
    }
}

fn chart(series: Vec<TimeSeries>, limit: Option<Limit>) -> LineChart {
    LineChart {
        title: "sales: memory".to_owned(),
        y_label: "memory (bytes)".to_owned(),
        from_ms: T0,
        to_ms: T0 + HOUR,
        series,
        limit,
    }
}

/// The parsed document, its texts, and the stroke colour of every line drawn.
struct Drawn {
    texts: Vec<String>,
    strokes: Vec<(String, String)>,
}

fn parse(svg: &str) -> Drawn {
    let doc = roxmltree::Document::parse(svg).expect("the SVG parses as XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    let texts = root
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(|t| t.trim().to_owned())
        .collect();
    let strokes = root
        .descendants()
        .filter(|n| n.has_tag_name("polyline") || n.has_tag_name("line"))
        .filter_map(|n| {
            Some((
                n.tag_name().name().to_owned(),
                n.attribute("stroke")?.to_uppercase(),
            ))
        })
        .collect();
    Drawn { texts, strokes }
}

fn lines_in(drawn: &Drawn, colour: (u8, u8, u8)) -> usize {
    drawn
        .strokes
        .iter()
        .filter(|(_, s)| *s == hex(colour))
        .count()
}

/// Writes the SVG's PNG rendering to `target/charts/NAME.png`.
fn save_png(name: &str, svg: &str) {
    let mut options = resvg::usvg::Options::default();
    let fonts = options.fontdb_mut();
    fonts.load_system_fonts();
    // fontdb maps sans-serif to Arial; use whatever sans face the system has.
    let sans = fonts
        .faces()
        .flat_map(|f| f.families.iter().map(|(name, _)| name.clone()))
        .find(|name| name.contains("Sans"));
    if let Some(sans) = sans {
        fonts.set_sans_serif_family(sans);
    }
    let tree = resvg::usvg::Tree::from_str(svg, &options).expect("resvg reads the SVG");
    let size = tree.size().to_int_size();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pixmap.as_mut(),
    );
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/charts");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.png"));
    pixmap.save_png(&path).unwrap();
    // Something was drawn: not all pixels are the white background.
    assert!(
        pixmap.pixels().iter().any(|p| p.red() < 200),
        "{} is blank",
        path.display()
    );
}

#[test]
fn a_memory_chart_has_axes_its_series_and_the_limit_line() {
    let svg = line_chart_svg(
        &chart(
            vec![wave("used", 60, 100e6)],
            Some(Limit {
                label: "limit".to_owned(),
                value: 256e6,
            }),
        ),
        UtcOffset::UTC,
    )
    .unwrap();
    let drawn = parse(&svg);
    for text in [
        "sales: memory",
        "memory (bytes)",
        "time (UTC)",
        "used",
        "limit",
    ] {
        assert!(
            drawn.texts.iter().any(|t| t == text),
            "{text:?} in {:?}",
            drawn.texts
        );
    }
    // Tick labels: times on x, short numbers on y.
    assert!(
        drawn.texts.iter().any(|t| t == "22:13"),
        "{:?}",
        drawn.texts
    );
    assert!(
        drawn.texts.iter().any(|t| t.ends_with('M')),
        "{:?}",
        drawn.texts
    );
    // The series is one polyline (plus its legend mark) in the first colour.
    assert_eq!(
        lines_in(&drawn, SERIES_COLOURS[0]),
        2,
        "{:?}",
        drawn.strokes
    );
    // The limit line is dashed: several segments in the limit colour.
    assert!(lines_in(&drawn, LIMIT_COLOUR) > 3, "{:?}", drawn.strokes);
    save_png("memory", &svg);
}

#[test]
fn each_series_gets_a_line_of_its_own_colour() {
    let svg = line_chart_svg(
        &chart(vec![wave("rx", 100, 5e3), wave("tx", 100, 1e3)], None),
        UtcOffset(330),
    )
    .unwrap();
    let drawn = parse(&svg);
    assert!(
        drawn.texts.iter().any(|t| t == "time (UTC+05:30)"),
        "the axis names the reader's clock: {:?}",
        drawn.texts
    );
    assert_eq!(lines_in(&drawn, SERIES_COLOURS[0]), 2);
    assert_eq!(lines_in(&drawn, SERIES_COLOURS[1]), 2);
    assert_eq!(lines_in(&drawn, LIMIT_COLOUR), 0, "no limit, no limit line");
    save_png("network", &svg);
}

#[test]
fn cpu_requests_and_host_charts_draw_and_an_empty_one_still_has_axes() {
    for (name, series) in [
        ("cpu", vec![wave("cpu", 720, 40.0)]),
        ("requests", vec![wave("requests/min", 60, 300.0)]),
        (
            "host",
            vec![
                wave("cpu a", 60, 10.0),
                wave("cpu b", 60, 20.0),
                wave("cpu c", 60, 5.0),
            ],
        ),
    ] {
        let count = series.len();
        let svg = line_chart_svg(&chart(series, None), UtcOffset::UTC).unwrap();
        let drawn = parse(&svg);
        for colour in &SERIES_COLOURS[..count] {
            assert_eq!(lines_in(&drawn, *colour), 2, "{name}");
        }
        save_png(name, &svg);
    }
    let empty = parse(&line_chart_svg(&chart(vec![], None), UtcOffset::UTC).unwrap());
    assert!(empty.texts.iter().any(|t| t == "time (UTC)"));
    assert!(SERIES_COLOURS.iter().all(|c| lines_in(&empty, *c) == 0));
}

#[test]
fn the_uptime_grid_has_a_row_per_app_and_cells_by_status() {
    let mut web = vec![CellStatus::Up; 60];
    web[20..23].fill(CellStatus::Down);
    web[23] = CellStatus::Degraded;
    let mut api = vec![CellStatus::NoData; 10];
    api.extend(vec![CellStatus::Up; 40]);
    api.extend(vec![CellStatus::Stopped; 10]);
    let grid = UptimeGrid {
        title: "vps1: last hour".to_owned(),
        from_ms: T0,
        cell_ms: 60_000,
        rows: vec![
            UptimeRow {
                name: "web".to_owned(),
                cells: web,
            },
            UptimeRow {
                name: "api".to_owned(),
                cells: api,
            },
        ],
    };
    let svg = uptime_svg(&grid, UtcOffset::UTC).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    for text in ["vps1: last hour", "web", "api", "up", "down", "22:13"] {
        assert!(texts.contains(&text), "{text:?} in {texts:?}");
    }
    let fills: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect"))
        .filter_map(|n| n.attribute("fill").map(str::to_uppercase))
        .collect();
    let count = |s: CellStatus| fills.iter().filter(|f| **f == hex(s.colour())).count();
    // Runs of one status are one rectangle each, plus one in the legend:
    // up (web ×2, api ×1), down, degraded, stopped, no data.
    assert_eq!(count(CellStatus::Up), 3 + 1, "{fills:?}");
    assert_eq!(count(CellStatus::Down), 1 + 1);
    assert_eq!(count(CellStatus::Degraded), 1 + 1);
    assert_eq!(count(CellStatus::Stopped), 1 + 1);
    assert_eq!(count(CellStatus::NoData), 1 + 1);
    save_png("uptime", &svg);
}

#[test]
fn an_uptime_grid_without_cells_is_refused() {
    let grid = UptimeGrid {
        title: "empty".to_owned(),
        from_ms: T0,
        cell_ms: 60_000,
        rows: vec![],
    };
    assert!(uptime_svg(&grid, UtcOffset::UTC).is_err());
}
