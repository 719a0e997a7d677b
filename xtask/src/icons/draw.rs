//! The one source image every icon is made from, drawn by code so that it
//! can be redrawn (`cargo xtask icons --redraw-source`): a blue rounded tile
//! with two white server units, each with its light. The band across the
//! middle is left empty on purpose: the tray icons recolour the tile with
//! the state's colour, and a panel (and tests/panel.rs) reads that colour at
//! the icon's centre.

use image::{Rgba, RgbaImage};

/// The source's side, in pixels.
pub const SIDE: u32 = 1024;
/// The tile's colour (open-color blue 8); the tray icons replace it.
pub const TILE: [u8; 3] = [0x19, 0x71, 0xc2];
const WHITE: [u8; 3] = [0xff, 0xff, 0xff];

/// A rounded rectangle: left, top, right, bottom and corner radius, in pixels.
struct RoundRect(f32, f32, f32, f32, f32);

impl RoundRect {
    /// Signed distance from a point to the shape's edge (negative inside).
    fn distance(&self, x: f32, y: f32) -> f32 {
        let RoundRect(l, t, r, b, radius) = *self;
        let (cx, cy) = ((l + r) / 2.0, (t + b) / 2.0);
        let (hx, hy) = ((r - l) / 2.0 - radius, (b - t) / 2.0 - radius);
        let (qx, qy) = ((x - cx).abs() - hx, (y - cy).abs() - hy);
        let outside = (qx.max(0.0).powi(2) + qy.max(0.0).powi(2)).sqrt();
        outside + qx.max(qy).min(0.0) - radius
    }
}

fn circle_distance(cx: f32, cy: f32, radius: f32, x: f32, y: f32) -> f32 {
    ((x - cx).powi(2) + (y - cy).powi(2)).sqrt() - radius
}

/// How much of a pixel a shape covers, from its distance at the pixel's centre.
fn coverage(distance: f32) -> f32 {
    (0.5 - distance).clamp(0.0, 1.0)
}

/// The source image, [`SIDE`] pixels square, transparent around the tile.
pub fn source() -> RgbaImage {
    let tile = RoundRect(64.0, 64.0, 960.0, 960.0, 192.0);
    // Two server units, clear of the middle band (392..632).
    let units = [
        RoundRect(224.0, 232.0, 800.0, 392.0, 56.0),
        RoundRect(224.0, 632.0, 800.0, 792.0, 56.0),
    ];
    let lights = [(704.0, 312.0), (704.0, 712.0)];
    RgbaImage::from_fn(SIDE, SIDE, |px, py| {
        let (x, y) = (px as f32 + 0.5, py as f32 + 0.5);
        let alpha = coverage(tile.distance(x, y));
        let unit = units
            .iter()
            .map(|u| coverage(u.distance(x, y)))
            .fold(0.0, f32::max);
        let light = lights
            .iter()
            .map(|&(cx, cy)| coverage(circle_distance(cx, cy, 36.0, x, y)))
            .fold(0.0, f32::max);
        let white = unit * (1.0 - light);
        let channel = |i: usize| {
            let v = f32::from(TILE[i]) + (f32::from(WHITE[i]) - f32::from(TILE[i])) * white;
            v.round() as u8
        };
        Rgba([
            channel(0),
            channel(1),
            channel(2),
            (alpha * 255.0).round() as u8,
        ])
    })
}
