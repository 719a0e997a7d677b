//! `cargo xtask icons`: every icon the bundles and the tray use, made from
//! the one source image `icons/source.png` (drawn by [`draw`]): the app icon
//! as PNGs at each size the `.deb`, `.rpm` and `.app` take, `icon.ico` and
//! `icon.icns`, and the tray's icons, one per state, the source with its tile
//! in the state's colour. The results are committed (Tauri embeds them when
//! it compiles); `cargo xtask tidy` fails when they are not what this makes.

mod draw;

use std::collections::BTreeMap;
use std::fs;
use std::io::Cursor;
use std::path::Path;

use anyhow::{Context, Result};
use image::codecs::ico::{IcoEncoder, IcoFrame};
use image::imageops::{self, FilterType};
use image::{ExtendedColorType, ImageFormat, RgbaImage};

use crate::ui::{self, Outcome};

/// The folder, from the repository's root.
pub const DIR: &str = "icons";
/// The one source image, in [`DIR`].
pub const SOURCE: &str = "source.png";

/// The app icon as PNG at every size the bundles take: file name and side.
/// (`128x128@2x` is the 256-pixel icon for HiDPI screens.)
const PNGS: &[(&str, u32)] = &[
    ("32x32.png", 32),
    ("64x64.png", 64),
    ("128x128.png", 128),
    ("128x128@2x.png", 256),
    ("256x256.png", 256),
    ("512x512.png", 512),
    ("icon.png", 512),
];
/// The sizes inside `icon.ico` (Windows; made for completeness, untested).
const ICO_SIDES: &[u32] = &[16, 32, 48, 64, 128, 256];
/// The sizes inside `icon.icns`: side and density (2 for a Retina variant).
const ICNS_SIDES: &[(u32, u32)] = &[
    (16, 1),
    (32, 2),
    (32, 1),
    (64, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (1024, 2),
];

/// The tray's icons, one per state, with the state's colour. The same
/// colours are checked at the icon's centre by tests/desktop.rs.
pub const TRAY: &[(&str, [u8; 3])] = &[
    ("tray-running.png", [0x2f, 0x9e, 0x44]),
    ("tray-down.png", [0xe0, 0x31, 0x31]),
    ("tray-offline.png", [0x86, 0x8e, 0x96]),
];
const TRAY_SIDE: u32 = 32;

fn resized(source: &RgbaImage, side: u32) -> RgbaImage {
    if source.width() == side && source.height() == side {
        return source.clone();
    }
    imageops::resize(source, side, side, FilterType::Lanczos3)
}

/// The source at each side asked for, each resized once (resizing is most
/// of the time `cargo xtask tidy` spends on the icons).
struct Sides<'a> {
    source: &'a RgbaImage,
    made: BTreeMap<u32, RgbaImage>,
}

impl<'a> Sides<'a> {
    fn new(source: &'a RgbaImage) -> Self {
        Sides {
            source,
            made: BTreeMap::new(),
        }
    }

    fn get(&mut self, side: u32) -> &RgbaImage {
        self.made
            .entry(side)
            .or_insert_with(|| resized(self.source, side))
    }
}

fn png(image: &RgbaImage) -> Result<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    image
        .write_to(&mut out, ImageFormat::Png)
        .context("cannot encode a PNG")?;
    Ok(out.into_inner())
}

fn ico(sides: &mut Sides<'_>) -> Result<Vec<u8>> {
    let frames = ICO_SIDES
        .iter()
        .map(|&side| {
            let image = sides.get(side);
            IcoFrame::as_png(image.as_raw(), side, side, ExtendedColorType::Rgba8)
                .context("cannot make an .ico frame")
        })
        .collect::<Result<Vec<_>>>()?;
    let mut out = Vec::new();
    IcoEncoder::new(&mut out)
        .encode_images(&frames)
        .context("cannot encode the .ico")?;
    Ok(out)
}

fn icns(sides: &mut Sides<'_>) -> Result<Vec<u8>> {
    let mut family = tauri_icns::IconFamily::new();
    for &(side, density) in ICNS_SIDES {
        let image = sides.get(side).clone();
        let kind = tauri_icns::IconType::from_pixel_size_and_density(side, side, density)
            .with_context(|| format!("no .icns type for {side} px at density {density}"))?;
        let image = tauri_icns::Image::from_data(
            tauri_icns::PixelFormat::RGBA,
            side,
            side,
            image.into_raw(),
        )
        .context("cannot make an .icns image")?;
        family
            .add_icon_with_type(&image, kind)
            .context("cannot add an .icns image")?;
    }
    let mut out = Vec::new();
    family.write(&mut out).context("cannot encode the .icns")?;
    Ok(out)
}

/// The source with its tile in `colour` instead of [`draw::TILE`]: each pixel
/// keeps how far it is from the tile's colour towards white, and its alpha.
fn recoloured(source: &RgbaImage, colour: [u8; 3]) -> RgbaImage {
    let tile_red = f32::from(draw::TILE[0]);
    let mut out = source.clone();
    for pixel in out.pixels_mut() {
        let white = ((f32::from(pixel[0]) - tile_red) / (255.0 - tile_red)).clamp(0.0, 1.0);
        for (channel, c) in colour.iter().enumerate() {
            let c = f32::from(*c);
            pixel[channel] = (c + (255.0 - c) * white).round() as u8;
        }
    }
    out
}

/// Every generated file: its name in [`DIR`] and its bytes.
pub fn generate(source: &RgbaImage) -> Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    let mut sides = Sides::new(source);
    for &(name, side) in PNGS {
        files.push((name.to_owned(), png(sides.get(side))?));
    }
    files.push(("icon.ico".to_owned(), ico(&mut sides)?));
    files.push(("icon.icns".to_owned(), icns(&mut sides)?));
    for &(name, colour) in TRAY {
        let tray = resized(&recoloured(source, colour), TRAY_SIDE);
        files.push((name.to_owned(), png(&tray)?));
    }
    Ok(files)
}

fn read_source(repo: &Path) -> Result<RgbaImage> {
    let path = repo.join(DIR).join(SOURCE);
    let image = image::open(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(image.into_rgba8())
}

/// The generated files that are missing or differ from what the source makes.
pub fn stale(repo: &Path) -> Result<Vec<String>> {
    let mut stale = Vec::new();
    for (name, bytes) in generate(&read_source(repo)?)? {
        if fs::read(repo.join(DIR).join(&name)).ok().as_deref() != Some(bytes.as_slice()) {
            stale.push(format!("{DIR}/{name}"));
        }
    }
    Ok(stale)
}

/// Writes every generated file that changed (and, with `redraw`, the source first).
pub fn write(repo: &Path, redraw: bool) -> Result<Outcome> {
    let dir = repo.join(DIR);
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = Vec::new();
    if redraw {
        let bytes = png(&draw::source())?;
        write_if_changed(&dir.join(SOURCE), &bytes, &mut written)?;
    }
    let files = generate(&read_source(repo)?)?;
    for (name, bytes) in &files {
        write_if_changed(&dir.join(name), bytes, &mut written)?;
    }
    if written.is_empty() {
        ui::already(format!("{} icons in {DIR}/", files.len()))
    } else {
        ui::done(format!("wrote {}", written.join(", ")))
    }
}

fn write_if_changed(path: &Path, bytes: &[u8], written: &mut Vec<String>) -> Result<()> {
    if fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    written.push(
        path.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tray_icons_show_their_colour_at_the_centre() {
        let source = draw::source();
        for &(name, colour) in TRAY {
            let tray = resized(&recoloured(&source, colour), TRAY_SIDE);
            let centre = tray.get_pixel(TRAY_SIDE / 2, TRAY_SIDE / 2);
            assert_eq!(
                [centre[0], centre[1], centre[2], centre[3]],
                [colour[0], colour[1], colour[2], 255],
                "{name}"
            );
        }
    }

    #[test]
    fn the_source_is_opaque_in_the_middle_and_clear_in_the_corners() {
        let source = draw::source();
        assert_eq!(source.width(), draw::SIDE);
        assert_eq!(source.get_pixel(draw::SIDE / 2, draw::SIDE / 2)[3], 255);
        assert_eq!(source.get_pixel(0, 0)[3], 0);
    }
}
