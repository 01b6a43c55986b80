//! Rendering payment and merchant codes: QR (via `qrcode`) and Code 128 (via `barcoders`) to
//! SVG, PNG and the terminal, with quiet zones (QR 4 modules, Code 128 10 modules) and two
//! sizes, one for a phone screen and one for print (payment-codes.md §8).

use std::fmt::Write as _;
use std::io::Cursor;

use barcoders::sym::code128::Code128;
use image::{GrayImage, ImageFormat, Luma};
use plusbox_core::codes::{code128_symbols, group_digits, Code128Error};
use qrcode::bits::Bits;
use qrcode::{Color, EcLevel, QrCode, Version};
use serde::{Deserialize, Serialize};

/// Quiet zone around a QR code, in modules (ISO/IEC 18004).
pub const QR_QUIET_ZONE: usize = 4;
/// Quiet zone left and right of a Code 128 symbol, in modules (ISO/IEC 15417).
pub const CODE128_QUIET_ZONE: usize = 10;

/// What went wrong while rendering.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The text does not fit in a QR code.
    #[error("cannot make a QR code: {0}")]
    Qr(String),
    /// Code 128 here encodes digits only.
    #[error("cannot make a Code 128 barcode: {0}")]
    Code128(#[from] Code128Error),
    /// The barcode library refused the data.
    #[error("barcode library: {0}")]
    Barcoders(String),
    /// The barcode library chose symbols other than the reference ones.
    #[error("barcode has {found} modules; the Code 128 set C encoding needs {expected}")]
    Code128Mismatch {
        /// Modules expected from the reference symbol values.
        expected: usize,
        /// Modules produced.
        found: usize,
    },
    /// PNG encoding failed.
    #[error("PNG encoding: {0}")]
    Png(String),
}

/// Which symbology to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Symbology {
    /// QR code, error correction level M.
    Qr,
    /// Code 128 (digits only), set C.
    Code128,
}

/// Target medium.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RenderSize {
    /// A phone screen: about 600 px wide for QR, 900 px for a barcode.
    #[default]
    Phone,
    /// Print at 600 dpi: QR modules 0.5 mm, Code 128 X-dimension 0.34 mm, bars 15 mm high.
    Print,
}

/// A two-colour module grid with its quiet zone included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleGrid {
    /// Columns, quiet zone included.
    pub width: usize,
    /// Rows, quiet zone included (1 for a linear barcode).
    pub height: usize,
    /// Row-major, `true` = dark.
    pub dark: Vec<bool>,
}

impl ModuleGrid {
    /// Whether module (x, y) is dark; out of range is light.
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.height && self.dark[y * self.width + x]
    }
}

/// The QR module grid for `text` (level M; the library picks numeric mode for digits).
pub fn qr_grid(text: &str) -> Result<ModuleGrid, RenderError> {
    let code = if text.is_ascii() {
        QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
            .map_err(|e| RenderError::Qr(e.to_string()))?
    } else {
        utf8_qr(text)?
    };
    let size = code.width();
    let colors = code.to_colors();
    let width = size + 2 * QR_QUIET_ZONE;
    let mut dark = vec![false; width * width];
    for y in 0..size {
        for x in 0..size {
            dark[(y + QR_QUIET_ZONE) * width + x + QR_QUIET_ZONE] = colors[y * size + x] == Color::Dark;
        }
    }
    Ok(ModuleGrid { width, height: width, dark })
}

/// Non-ASCII text (e.g. EMV payloads with merchant names in Chinese) goes in byte mode behind
/// an ECI 26 (UTF-8) designator: without it readers such as zbar guess Shift-JIS or Latin-1
/// and return mojibake. The smallest version that fits is chosen.
fn utf8_qr(text: &str) -> Result<QrCode, RenderError> {
    let mut last = String::from("data too long");
    for version in 1..=40 {
        let mut bits = Bits::new(Version::Normal(version));
        let pushed = bits
            .push_eci_designator(26)
            .and_then(|()| bits.push_byte_data(text.as_bytes()))
            .and_then(|()| bits.push_terminator(EcLevel::M));
        match pushed {
            Ok(()) => return QrCode::with_bits(bits, EcLevel::M).map_err(|e| RenderError::Qr(e.to_string())),
            Err(e) => last = e.to_string(),
        }
    }
    Err(RenderError::Qr(last))
}

/// The Code 128 modules for a numeric code, quiet zones included.
///
/// The bars come from `barcoders` in set C (with a switch to set B for an odd last digit, as
/// §8 prescribes); their count is checked against the reference symbol values from core.
pub fn code128_grid(digits: &str) -> Result<ModuleGrid, RenderError> {
    let symbols = code128_symbols(digits)?;
    let (pairs, last) = if digits.len() % 2 == 1 { digits.split_at(digits.len() - 1) } else { (digits, "") };
    let data = if last.is_empty() { format!("Ć{pairs}") } else { format!("Ć{pairs}Ɓ{last}") };
    let modules = Code128::new(data).map_err(|e| RenderError::Barcoders(e.to_string()))?.encode();
    if modules.len() != symbols.module_count() {
        return Err(RenderError::Code128Mismatch { expected: symbols.module_count(), found: modules.len() });
    }
    let mut dark = vec![false; CODE128_QUIET_ZONE];
    dark.extend(modules.iter().map(|m| *m == 1));
    dark.extend(std::iter::repeat_n(false, CODE128_QUIET_ZONE));
    Ok(ModuleGrid { width: dark.len(), height: 1, dark })
}

/// Pixel geometry for one rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Geometry {
    /// Pixels per module.
    module: u32,
    /// Bar height in pixels (linear codes).
    bar_height: u32,
}

fn geometry(symbology: Symbology, grid: &ModuleGrid, size: RenderSize) -> Geometry {
    let width = grid.width.max(1) as u32;
    match (symbology, size) {
        (Symbology::Qr, RenderSize::Phone) => Geometry { module: (600 / width).max(3), bar_height: 0 },
        // 0.5 mm at 600 dpi ≈ 12 px.
        (Symbology::Qr, RenderSize::Print) => Geometry { module: 12, bar_height: 0 },
        (Symbology::Code128, RenderSize::Phone) => {
            let module = (900 / width).max(2);
            Geometry { module, bar_height: 220 }
        }
        // X = 8 px at 600 dpi ≈ 0.34 mm; 15 mm bars.
        (Symbology::Code128, RenderSize::Print) => Geometry { module: 8, bar_height: 354 },
    }
}

/// Draws a QR code as a grayscale image with `module` pixels per module.
pub fn qr_image(text: &str, module: u32) -> Result<GrayImage, RenderError> {
    Ok(grid_image(&qr_grid(text)?, module.max(1), 0))
}

/// Draws a Code 128 barcode with `module` pixels per module, `bar_height` pixels high, and the
/// digits in groups of four underneath.
pub fn code128_image(digits: &str, module: u32, bar_height: u32) -> Result<GrayImage, RenderError> {
    let grid = code128_grid(digits)?;
    let mut image = grid_image(&grid, module.max(1), bar_height.max(1));
    draw_caption(&mut image, &group_digits(digits), bar_height.max(1), module.max(1));
    Ok(image)
}

fn grid_image(grid: &ModuleGrid, module: u32, bar_height: u32) -> GrayImage {
    let w = grid.width as u32 * module;
    if grid.height == 1 {
        // Linear: bars, a text band under them, and a top margin as tall as one quiet module row.
        let margin = module * 4;
        let text_band = caption_height(module);
        let h = margin + bar_height + text_band + margin;
        GrayImage::from_fn(w, h, |x, y| {
            let dark = y >= margin && y < margin + bar_height && grid.dark[(x / module) as usize];
            Luma([if dark { 0 } else { 255 }])
        })
    } else {
        let h = grid.height as u32 * module;
        GrayImage::from_fn(w, h, |x, y| {
            let dark = grid.is_dark((x / module) as usize, (y / module) as usize);
            Luma([if dark { 0 } else { 255 }])
        })
    }
}

/// 5×7 glyphs for the human-readable line (digits and space only).
const DIGITS_5X7: [[u8; 7]; 10] = [
    [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
    [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
    [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
    [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
    [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
    [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
    [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
    [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
    [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
    [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
];

fn caption_scale(module: u32) -> u32 {
    (module * 3 / 2).max(2)
}

fn caption_height(module: u32) -> u32 {
    caption_scale(module) * 11
}

fn draw_caption(image: &mut GrayImage, text: &str, bar_height: u32, module: u32) {
    let scale = caption_scale(module);
    let advance = 6 * scale;
    let text_width = text.chars().count() as u32 * advance;
    let x0 = image.width().saturating_sub(text_width) / 2;
    let y0 = module * 4 + bar_height + 2 * scale;
    for (index, ch) in text.chars().enumerate() {
        let Some(glyph) = ch.to_digit(10).map(|d| DIGITS_5X7[d as usize]) else {
            continue;
        };
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..5u32 {
                if bits & (0x10 >> col) == 0 {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let x = x0 + index as u32 * advance + col * scale + dx;
                        let y = y0 + row as u32 * scale + dy;
                        if x < image.width() && y < image.height() {
                            image.put_pixel(x, y, Luma([0]));
                        }
                    }
                }
            }
        }
    }
}

/// Encodes a grayscale image as PNG.
pub fn png_bytes(image: &GrayImage) -> Result<Vec<u8>, RenderError> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, ImageFormat::Png).map_err(|e| RenderError::Png(e.to_string()))?;
    Ok(out.into_inner())
}

/// Renders `text` as a PNG in the given symbology and size.
pub fn render_png(text: &str, symbology: Symbology, size: RenderSize) -> Result<Vec<u8>, RenderError> {
    png_bytes(&render_image(text, symbology, size)?)
}

/// Renders `text` as a grayscale image in the given symbology and size.
pub fn render_image(text: &str, symbology: Symbology, size: RenderSize) -> Result<GrayImage, RenderError> {
    match symbology {
        Symbology::Qr => {
            let grid = qr_grid(text)?;
            let g = geometry(symbology, &grid, size);
            Ok(grid_image(&grid, g.module, 0))
        }
        Symbology::Code128 => {
            let grid = code128_grid(text)?;
            let g = geometry(symbology, &grid, size);
            code128_image(text, g.module, g.bar_height)
        }
    }
}

/// Renders `text` as a standalone SVG document. Phone sizes use pixels; print sizes use
/// millimetres so the printed size is exact.
pub fn render_svg(text: &str, symbology: Symbology, size: RenderSize) -> Result<String, RenderError> {
    let (grid, caption) = match symbology {
        Symbology::Qr => (qr_grid(text)?, None),
        Symbology::Code128 => (code128_grid(text)?, Some(group_digits(text))),
    };
    let g = geometry(symbology, &grid, size);
    // The drawing is in module units; width/height set the physical or pixel size.
    let (unit, scale) = match size {
        RenderSize::Phone => ("px", g.module as f64),
        RenderSize::Print => ("mm", g.module as f64 * 25.4 / 600.0),
    };
    let mut svg = String::new();
    if grid.height == 1 {
        let bar_h = g.bar_height as f64 / g.module as f64;
        let margin = 4.0;
        let text_h = caption_height(g.module) as f64 / g.module as f64;
        let view_w = grid.width as f64;
        let view_h = margin * 2.0 + bar_h + text_h;
        let _ = write!(
            svg,
            r##"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{:.2}{unit}" height="{:.2}{unit}" viewBox="0 0 {view_w} {view_h:.2}" shape-rendering="crispEdges"><rect width="100%" height="100%" fill="#fff"/><path fill="#000" d=""##,
            view_w * scale,
            view_h * scale,
        );
        let mut x = 0;
        while x < grid.width {
            if grid.dark[x] {
                let start = x;
                while x < grid.width && grid.dark[x] {
                    x += 1;
                }
                let _ = write!(svg, "M{start} {margin}h{}v{bar_h:.2}h-{}z", x - start, x - start);
            } else {
                x += 1;
            }
        }
        svg.push_str(r#""/>"#);
        if let Some(caption) = caption {
            let font = text_h * 0.7;
            let _ = write!(
                svg,
                r##"<text x="{:.2}" y="{:.2}" font-family="monospace" font-size="{font:.2}" text-anchor="middle" fill="#000">{caption}</text>"##,
                view_w / 2.0,
                margin + bar_h + text_h * 0.85,
            );
        }
    } else {
        let _ = write!(
            svg,
            r##"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{:.2}{unit}" height="{:.2}{unit}" viewBox="0 0 {} {}" shape-rendering="crispEdges"><rect width="100%" height="100%" fill="#fff"/><path fill="#000" d=""##,
            grid.width as f64 * scale,
            grid.height as f64 * scale,
            grid.width,
            grid.height,
        );
        for y in 0..grid.height {
            let mut x = 0;
            while x < grid.width {
                if grid.is_dark(x, y) {
                    let start = x;
                    while grid.is_dark(x, y) {
                        x += 1;
                    }
                    let _ = write!(svg, "M{start} {y}h{}v1h-{}z", x - start, x - start);
                } else {
                    x += 1;
                }
            }
        }
        svg.push_str(r#""/>"#);
    }
    svg.push_str("</svg>\n");
    Ok(svg)
}

/// Renders `text` for a terminal with Unicode half blocks: each character cell holds two
/// module rows. Light modules are drawn with block characters (the terminal's foreground) and
/// dark ones as blanks (its background), which scans on the usual dark-background terminal;
/// pass `invert` for a light-background terminal.
pub fn render_terminal(text: &str, symbology: Symbology, invert: bool) -> Result<String, RenderError> {
    let grid = match symbology {
        Symbology::Qr => qr_grid(text)?,
        Symbology::Code128 => code128_grid(text)?,
    };
    // `light(x, y)`: whether the cell should show as light.
    let light = |x: usize, y: usize| -> bool {
        let dark = if grid.height == 1 { grid.is_dark(x, 0) } else { grid.is_dark(x, y) };
        dark == invert
    };
    let rows = if grid.height == 1 { 12 } else { grid.height };
    let mut out = String::new();
    let mut y = 0;
    while y < rows {
        for x in 0..grid.width {
            let top = light(x, y);
            // Past the last row is quiet zone, which is light.
            let bottom = if y + 1 < rows { light(x, y + 1) } else { true };
            out.push(match (top, bottom) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push('\n');
        y += 2;
    }
    if symbology == Symbology::Code128 {
        let caption = group_digits(text);
        let pad = grid.width.saturating_sub(caption.len()) / 2;
        let _ = writeln!(out, "{}{caption}", " ".repeat(pad));
    }
    Ok(out)
}

/// Stacks images vertically, centred, with `gap` light pixels between them.
pub fn stack(images: &[GrayImage], gap: u32) -> GrayImage {
    let width = images.iter().map(GrayImage::width).max().unwrap_or(1);
    let height =
        images.iter().map(GrayImage::height).sum::<u32>() + gap * images.len().saturating_sub(1) as u32;
    let mut out = GrayImage::from_pixel(width, height.max(1), Luma([255]));
    let mut y0 = 0;
    for image in images {
        let x0 = (width - image.width()) / 2;
        for (x, y, p) in image.enumerate_pixels() {
            out.put_pixel(x0 + x, y0 + y, *p);
        }
        y0 += image.height() + gap;
    }
    out
}

/// Renders a numeric payment code the way a wallet screen shows it: the Code 128 barcode with
/// its digits, and the same digits as a QR code underneath (payment-codes.md §8).
pub fn payment_code_image(digits: &str, size: RenderSize) -> Result<GrayImage, RenderError> {
    let bar = render_image(digits, Symbology::Code128, size)?;
    let qr = render_image(digits, Symbology::Qr, size)?;
    Ok(stack(&[bar, qr], 0))
}

/// The SVG counterpart of [`payment_code_image`]: both symbols in one document.
pub fn payment_code_svg(digits: &str, size: RenderSize) -> Result<String, RenderError> {
    let bar = render_svg(digits, Symbology::Code128, size)?;
    let qr = render_svg(digits, Symbology::Qr, size)?;
    let dims = |svg: &str| -> (f64, f64, String) {
        let get = |name: &str| {
            let key = format!("{name}=\"");
            svg.find(&key)
                .map(|i| &svg[i + key.len()..])
                .and_then(|rest| rest.find('"').map(|end| &rest[..end]))
                .unwrap_or("0")
                .to_string()
        };
        let w = get("width");
        let unit: String = w.chars().filter(|c| c.is_ascii_alphabetic()).collect();
        let num = |s: String| s.trim_end_matches(char::is_alphabetic).parse::<f64>().unwrap_or(0.0);
        (num(w), num(get("height")), unit)
    };
    let (bw, bh, unit) = dims(&bar);
    let (qw, qh, _) = dims(&qr);
    let width = bw.max(qw);
    let strip = |svg: &str| svg.trim_end().to_string();
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{width:.2}{unit}\" height=\"{:.2}{unit}\" viewBox=\"0 0 {width:.2} {:.2}\">\
<g transform=\"translate({:.2} 0)\">{}</g><g transform=\"translate({:.2} {bh:.2})\">{}</g></svg>\n",
        bh + qh,
        bh + qh,
        (width - bw) / 2.0,
        nest(&strip(&bar), bw, bh),
        (width - qw) / 2.0,
        nest(&strip(&qr), qw, qh),
    ))
}

/// Rewrites a standalone SVG's size attributes to plain user units so it nests inside a
/// parent whose user unit is the child's physical unit.
fn nest(svg: &str, width: f64, height: f64) -> String {
    let Some(end) = svg.find('>') else {
        return svg.to_string();
    };
    let head = &svg[..end];
    let view_box = head
        .find("viewBox=\"")
        .map(|i| &head[i + 9..])
        .and_then(|rest| rest.find('"').map(|e| rest[..e].to_string()))
        .unwrap_or_default();
    format!(
        "<svg width=\"{width:.2}\" height=\"{height:.2}\" viewBox=\"{view_box}\" shape-rendering=\"crispEdges\">{}",
        &svg[end + 1..]
    )
}
