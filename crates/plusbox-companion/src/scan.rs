//! Decoding QR codes from image files and raw grayscale camera frames with `rqrr`.
//!
//! A first pass runs `rqrr` on the frame as it is. When it finds nothing and `try_harder` is
//! set, further passes run within a time budget — downscaled, contrast-stretched, globally
//! (Otsu) and locally (local mean, half the local maximum) thresholded, blurred, inverted and
//! upscaled, with zooms into regions holding finder-like shapes (cropped, enlarged smoothly)
//! for small codes, and last a grid fitted to finder patterns located here (large codes under
//! strong perspective, where rqrr finds no grid) — and stop at the first pass that finds a
//! code. When rqrr finds a grid it cannot decode, the grid is sampled again from the grayscale
//! frame, first at rqrr's corners and then at corners fitted to the code's fixed patterns
//! (finder, timing and alignment patterns). Every code found in a pass is reported, with
//! its corners mapped back to the frame's coordinates. Before the extra passes, a cheap row scan
//! for finder-pattern-like shapes ([`has_finder_candidates`]) ends the search early on frames
//! with nothing that could be a code, so a still image without a code costs about one pass.

use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

use image::{GrayImage, ImageFormat, ImageReader, Limits, Luma};
use rqrr::PreparedImage;
use serde::Serialize;

/// Largest image accepted, in pixels per side; bigger inputs are refused, not decoded.
pub const MAX_SIDE: u32 = 12_000;
/// Largest decoded image, in pixels (about 64 MP).
pub const MAX_PIXELS: u64 = 64_000_000;

/// What went wrong before scanning could start.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// Reading a file failed.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        message: String,
    },
    /// The bytes are not a PNG or JPEG image this build can decode.
    #[error("not a PNG or JPEG image: {0}")]
    Decode(String),
    /// A raw frame's buffer does not match its dimensions.
    #[error("frame of {width}×{height} needs {expected} bytes, got {found}")]
    FrameSize {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
        /// width × height.
        expected: u64,
        /// Buffer length.
        found: usize,
    },
    /// Zero or too large dimensions.
    #[error("image size {width}×{height} is outside 1–{MAX_SIDE} per side or {MAX_PIXELS} pixels")]
    Dimensions {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
    },
}

/// How hard to look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanOptions {
    /// Run the extra passes when the first finds nothing.
    pub try_harder: bool,
    /// Time allowed for the extra passes (the first pass always runs to the end).
    pub budget: Duration,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions { try_harder: true, budget: Duration::from_millis(250) }
    }
}

impl ScanOptions {
    /// One pass only: the cheapest setting, for live preview frames.
    pub fn fast() -> Self {
        ScanOptions { try_harder: false, budget: Duration::ZERO }
    }
}

/// The character encoding a code's content was read as text in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TextEncoding {
    /// UTF-8 (also plain ASCII, numeric and alphanumeric modes).
    #[serde(rename = "UTF-8")]
    Utf8,
    /// Shift_JIS, because the code holds kanji-mode segments.
    #[serde(rename = "Shift_JIS")]
    ShiftJis,
}

/// A QR code found in an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FoundCode {
    /// The content as text. Exact when [`FoundCode::encoding`] is set; for binary content (not
    /// UTF-8, no kanji mode) it is the bytes with invalid sequences replaced by U+FFFD, kept so
    /// callers that only handle text still see something — use [`FoundCode::exact_text`] or
    /// [`FoundCode::bytes`] to tell the two apart.
    pub text: String,
    /// The content's bytes exactly as the code holds them (kanji mode as Shift_JIS bytes).
    #[serde(serialize_with = "hex_bytes", rename = "bytesHex")]
    pub bytes: Vec<u8>,
    /// How the bytes read as text; `None` for binary content.
    pub encoding: Option<TextEncoding>,
    /// Corners in image pixels: top-left, top-right, bottom-right, bottom-left of the code.
    pub bounds: [[i32; 2]; 4],
    /// QR version (1–40).
    pub version: usize,
    /// The pass that found it (`direct`, `downscale2`, `otsu`, …).
    pub pass: &'static str,
}

impl FoundCode {
    /// The content as text when it is text (UTF-8, or Shift_JIS from kanji mode), else `None`.
    pub fn exact_text(&self) -> Option<&str> {
        self.encoding.map(|_| self.text.as_str())
    }

    /// The content's bytes as lowercase hex.
    pub fn bytes_hex(&self) -> String {
        hex(&self.bytes)
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

fn hex_bytes<S: serde::Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&hex(bytes))
}

/// What rqrr wrote while decoding: the content bytes, and whether a kanji-mode segment was
/// among them. rqrr writes kanji characters as two Shift_JIS bytes per call (lead byte
/// 0x81–0xEB), byte mode one byte per call and the other modes ASCII only, so a two-byte write
/// with a high lead byte marks kanji mode.
#[derive(Default)]
struct Content {
    bytes: Vec<u8>,
    kanji: bool,
}

impl std::io::Write for Content {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() == 2 && buf[0] >= 0x81 {
            self.kanji = true;
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Decodes a sampled grid to its content: the bytes and, when they are text, the text.
fn decode_grid<G: rqrr::BitGrid>(grid: &rqrr::Grid<G>) -> Option<(rqrr::MetaData, Content)> {
    let mut content = Content::default();
    let meta = grid.decode_to(&mut content).ok()?;
    Some((meta, content))
}

/// Reads decoded content as text: Shift_JIS when the code used kanji mode, else UTF-8; `None`
/// when the bytes are neither (binary content).
fn content_text(content: &Content) -> (String, Option<TextEncoding>) {
    if content.kanji {
        if let Some(text) =
            encoding_rs::SHIFT_JIS.decode_without_bom_handling_and_without_replacement(&content.bytes)
        {
            return (text.into_owned(), Some(TextEncoding::ShiftJis));
        }
    }
    match std::str::from_utf8(&content.bytes) {
        Ok(text) => (text.to_string(), Some(TextEncoding::Utf8)),
        Err(_) => (String::from_utf8_lossy(&content.bytes).into_owned(), None),
    }
}

/// Decodes PNG or JPEG bytes to an 8-bit grayscale image, with size limits so a hostile file
/// cannot make us allocate without bound.
pub fn load_image(bytes: &[u8]) -> Result<GrayImage, ScanError> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ScanError::Decode(e.to_string()))?;
    match reader.format() {
        Some(ImageFormat::Png | ImageFormat::Jpeg) => {}
        Some(other) => return Err(ScanError::Decode(format!("unsupported format {other:?}"))),
        None => return Err(ScanError::Decode("unknown format".into())),
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let image = reader.decode().map_err(|e| ScanError::Decode(e.to_string()))?;
    let gray = image.into_luma8();
    check_dimensions(gray.width(), gray.height())?;
    Ok(gray)
}

fn check_dimensions(width: u32, height: u32) -> Result<(), ScanError> {
    if width == 0
        || height == 0
        || width > MAX_SIDE
        || height > MAX_SIDE
        || u64::from(width) * u64::from(height) > MAX_PIXELS
    {
        return Err(ScanError::Dimensions { width, height });
    }
    Ok(())
}

/// Scans PNG or JPEG bytes.
pub fn scan_bytes(bytes: &[u8], options: &ScanOptions) -> Result<Vec<FoundCode>, ScanError> {
    Ok(scan_image(&load_image(bytes)?, options))
}

/// Scans an image file.
pub fn scan_file(path: &Path, options: &ScanOptions) -> Result<Vec<FoundCode>, ScanError> {
    let bytes = std::fs::read(path)
        .map_err(|e| ScanError::Io { path: path.display().to_string(), message: e.to_string() })?;
    scan_bytes(&bytes, options)
}

/// Scans a raw 8-bit grayscale frame (row-major, `width × height` bytes, 0 = black).
pub fn scan_frame(
    width: u32,
    height: u32,
    data: &[u8],
    options: &ScanOptions,
) -> Result<Vec<FoundCode>, ScanError> {
    Ok(scan_image(&frame_image(width, height, data)?, options))
}

/// A preprocessing pass: a name, the transform, and how to map its coordinates back.
struct Pass {
    name: &'static str,
    /// Pixels of the original per pixel of the transformed image.
    scale: f32,
    /// Whether the transform already binarised the image (skip rqrr's own thresholding).
    binary: bool,
    transform: fn(&GrayImage) -> Option<GrayImage>,
}

const PASSES: [Pass; 16] = [
    Pass {
        name: "downscale2",
        scale: 2.0,
        binary: false,
        transform: |i| (i.width().min(i.height()) >= 160).then(|| downscale(i, 2)),
    },
    Pass { name: "dark-threshold", scale: 1.0, binary: true, transform: |i| Some(dark_threshold(i)) },
    Pass { name: "local-max", scale: 1.0, binary: true, transform: |i| Some(local_max_threshold(i)) },
    Pass { name: "otsu", scale: 1.0, binary: true, transform: |i| Some(otsu(i)) },
    Pass { name: "adaptive", scale: 1.0, binary: true, transform: |i| Some(adaptive(i)) },
    Pass {
        name: "downscale2-otsu",
        scale: 2.0,
        binary: true,
        transform: |i| (i.width().min(i.height()) >= 160).then(|| otsu(&downscale(i, 2))),
    },
    Pass {
        name: "blur-dark-threshold",
        scale: 1.0,
        binary: true,
        transform: |i| Some(dark_threshold(&box_blur(i, 1))),
    },
    Pass {
        name: "downscale2-dark-threshold",
        scale: 2.0,
        binary: true,
        transform: |i| (i.width().min(i.height()) >= 160).then(|| dark_threshold(&downscale(i, 2))),
    },
    Pass { name: "sharpen", scale: 1.0, binary: false, transform: |i| Some(sharpen(i, 2, 1.5)) },
    Pass { name: "sharpen-otsu", scale: 1.0, binary: true, transform: |i| Some(otsu(&sharpen(i, 3, 2.0))) },
    Pass {
        name: "upscale2",
        scale: 0.5,
        binary: false,
        transform: |i| (i.width().max(i.height()) <= 1400).then(|| upscale_smooth(i, 2)),
    },
    Pass { name: "blur-adaptive", scale: 1.0, binary: true, transform: |i| Some(adaptive(&box_blur(i, 1))) },
    Pass { name: "stretch", scale: 1.0, binary: false, transform: |i| Some(stretch(i)) },
    Pass {
        name: "downscale3",
        scale: 3.0,
        binary: false,
        transform: |i| (i.width().min(i.height()) >= 300).then(|| downscale(i, 3)),
    },
    Pass { name: "invert", scale: 1.0, binary: false, transform: |i| Some(invert(i)) },
    Pass {
        name: "downscale4",
        scale: 4.0,
        binary: false,
        transform: |i| (i.width().min(i.height()) >= 600).then(|| downscale(i, 4)),
    },
];

/// Number of extra passes in one [`FrameScanner`] turn: each retry pass of [`scan_image`] and
/// one zoom into the most code-like region.
pub const EXTRA_PASSES: usize = PASSES.len() + 1;

/// Scans a stream of camera frames cheaply: each frame gets the direct pass plus one extra pass,
/// taking the extra passes (and a zoom into the most code-like region) in turn, so a code that needs, say, thresholding is found within a
/// few frames while each frame costs about two passes instead of a dozen.
#[derive(Debug, Clone, Default)]
pub struct FrameScanner {
    next_pass: usize,
}

impl FrameScanner {
    /// A scanner starting with the first extra pass.
    pub fn new() -> Self {
        FrameScanner::default()
    }

    /// Scans one raw grayscale frame (see [`scan_frame`] for the layout).
    pub fn scan(&mut self, width: u32, height: u32, data: &[u8]) -> Result<Vec<FoundCode>, ScanError> {
        let found = scan_frame(width, height, data, &ScanOptions::fast())?;
        if !found.is_empty() {
            return Ok(found);
        }
        let image = frame_image(width, height, data)?;
        // As in `scan_image`: no finder-like shape anywhere, no pass can help this frame.
        if !has_finder_candidates(&image) {
            return Ok(Vec::new());
        }
        // The turn is every pass of `PASSES` and then a zoom into the most finder-like region
        // (small codes); passes that do not apply to this frame size are skipped, at most one
        // full turn.
        let turn = PASSES.len() + 1;
        for _ in 0..turn {
            let slot = self.next_pass % turn;
            self.next_pass = (slot + 1) % turn;
            let Some(pass) = PASSES.get(slot) else {
                return Ok(zoom_regions(&image)
                    .first()
                    .map(|region| zoom(&image, *region))
                    .unwrap_or_default());
            };
            if let Some(transformed) = (pass.transform)(&image) {
                return Ok(detect(&image, &transformed, pass.binary, pass.scale, pass.name));
            }
        }
        Ok(Vec::new())
    }
}

fn frame_image(width: u32, height: u32, data: &[u8]) -> Result<GrayImage, ScanError> {
    check_dimensions(width, height)?;
    let expected = u64::from(width) * u64::from(height);
    if data.len() as u64 != expected {
        return Err(ScanError::FrameSize { width, height, expected, found: data.len() });
    }
    GrayImage::from_raw(width, height, data.to_vec()).ok_or(ScanError::FrameSize {
        width,
        height,
        expected,
        found: data.len(),
    })
}

/// Scans a grayscale image; see the module documentation for the passes.
pub fn scan_image(image: &GrayImage, options: &ScanOptions) -> Vec<FoundCode> {
    let found = detect(image, image, false, 1.0, "direct");
    if !found.is_empty() || !options.try_harder {
        return found;
    }
    // Every retry pass still needs rqrr to see three finder patterns; when no row of the frame
    // has anything shaped like one at any scale, the passes cannot succeed, so a still image
    // without a code costs one cheap scan instead of all of them.
    if !has_finder_candidates(image) {
        return Vec::new();
    }
    let start = Instant::now();
    let regions = zoom_regions(image);
    for (index, pass) in PASSES.iter().enumerate() {
        if start.elapsed() >= options.budget {
            break;
        }
        // The most code-like region is zoomed into early: a code too small for the
        // whole-image passes needs that and nothing else, and it costs about one pass.
        if index == EARLY_ZOOM {
            if let Some(region) = regions.first() {
                let found = zoom(image, *region);
                if !found.is_empty() {
                    return found;
                }
            }
        }
        let Some(transformed) = (pass.transform)(image) else {
            continue;
        };
        let found = detect(image, &transformed, pass.binary, pass.scale, pass.name);
        if !found.is_empty() {
            return found;
        }
    }
    for region in regions.iter().skip(1) {
        if start.elapsed() >= options.budget {
            break;
        }
        let found = zoom(image, *region);
        if !found.is_empty() {
            return found;
        }
    }
    match start.checked_add(options.budget) {
        Some(deadline) if Instant::now() < deadline => finder_fit(image, deadline),
        _ => Vec::new(),
    }
}

/// After how many whole-image retry passes [`scan_image`] zooms into the most code-like region.
const EARLY_ZOOM: usize = 4;

/// A finder pattern located in the frame: its centre and the module size along the row.
#[derive(Debug, Clone, Copy)]
struct Finder {
    x: f32,
    y: f32,
    module: f32,
    /// Row crossings merged into it (more is surer).
    votes: u32,
}

/// Most finder patterns [`finder_fit`] combines into candidate codes.
const MAX_FIT_FINDERS: usize = 5;

/// The last resort, for codes rqrr finds no grid for (large versions under strong
/// perspective, where its timing-pattern and alignment-pattern steps give up): finder patterns
/// located by row and column scans of a local-mean binarisation, every three of them taken as
/// a code's corners, the version estimated from their spacing, the corners fitted to the code's
/// fixed patterns ([`refine_bounds`]) and the grid sampled and decoded.
fn finder_fit(image: &GrayImage, deadline: Instant) -> Vec<FoundCode> {
    let binary = adaptive(image);
    let finders = locate_finders(&binary);
    let mut out = Vec::new();
    for a in 0..finders.len() {
        for b in a + 1..finders.len() {
            for c in b + 1..finders.len() {
                if Instant::now() >= deadline {
                    return out;
                }
                if let Some(code) = fit_triple(image, [finders[a], finders[b], finders[c]], deadline) {
                    if !out.iter().any(|o: &FoundCode| o.bytes == code.bytes) {
                        out.push(code);
                    }
                }
            }
        }
    }
    out
}

/// Finder-pattern centres in a binarised image (0 = dark): 1:1:3:1:1 crossings along rows,
/// confirmed along their column, merged when closer than a module pitch, strongest first.
fn locate_finders(binary: &GrayImage) -> Vec<Finder> {
    let (w, h) = (binary.width() as usize, binary.height() as usize);
    let raw = binary.as_raw();
    let dark = |x: usize, y: usize| raw[y * w + x] < 128;
    let mut found: Vec<Finder> = Vec::new();
    let mut runs: Vec<(usize, usize)> = Vec::with_capacity(w);
    for y in 0..h {
        runs.clear();
        let mut x = 0;
        while x < w {
            let (start, colour) = (x, dark(x, y));
            while x < w && dark(x, y) == colour {
                x += 1;
            }
            runs.push((start, x - start));
        }
        let first = usize::from(!runs.first().is_some_and(|r| dark(r.0, y)));
        for i in (first..runs.len().saturating_sub(4)).step_by(2) {
            let window = &runs[i..i + 5];
            let lengths: Vec<(usize, u32)> = window.iter().map(|r| (r.1, 0)).collect();
            if !proportions_1_1_3_1_1(&lengths, 7) {
                continue;
            }
            let cx = window[2].0 + window[2].1 / 2;
            let total: usize = window.iter().map(|r| r.1).sum();
            let Some(cy) = column_centre(binary, cx, y, total) else {
                continue;
            };
            let module = total as f32 / 7.0;
            let (fx, fy) = (cx as f32, cy);
            match found
                .iter_mut()
                .find(|f| (f.x - fx).abs() < f.module * 2.0 && (f.y - fy).abs() < f.module * 2.0)
            {
                Some(f) => {
                    let n = f.votes as f32;
                    f.x = (f.x * n + fx) / (n + 1.0);
                    f.y = (f.y * n + fy) / (n + 1.0);
                    f.module = (f.module * n + module) / (n + 1.0);
                    f.votes += 1;
                }
                None => found.push(Finder { x: fx, y: fy, module, votes: 1 }),
            }
        }
    }
    found.retain(|f| f.votes >= 2);
    found.sort_by_key(|f| std::cmp::Reverse(f.votes));
    found.truncate(MAX_FIT_FINDERS);
    found
}

/// Whether five run lengths are in 1:1:3:1:1 proportion, `min` pixels in all.
fn proportions_1_1_3_1_1(runs: &[(usize, u32)], min: usize) -> bool {
    let total: usize = runs.iter().map(|r| r.0).sum();
    if total < min {
        return false;
    }
    let unit = total as f32 / 7.0;
    let near = |run: usize, modules: f32| (run as f32 - unit * modules).abs() <= unit * modules * 0.6 + 0.5;
    near(runs[0].0, 1.0)
        && near(runs[1].0, 1.0)
        && near(runs[2].0, 3.0)
        && near(runs[3].0, 1.0)
        && near(runs[4].0, 1.0)
}

/// The vertical centre of a finder pattern crossed at `(x, y)`, when its column also crosses
/// it in 1:1:3:1:1 proportion with a similar size.
fn column_centre(binary: &GrayImage, x: usize, y: usize, row_total: usize) -> Option<f32> {
    let (w, h) = (binary.width() as usize, binary.height() as usize);
    let raw = binary.as_raw();
    let dark = |y: usize| raw[y * w + x] < 128;
    if !dark(y) {
        return None;
    }
    let limit = row_total * 2;
    // From the centre run outwards: centre dark, light, dark on each side.
    let mut up = [0usize; 3];
    let mut yy = y as isize;
    for (i, colour) in [true, false, true].into_iter().enumerate() {
        while yy >= 0 && dark(yy as usize) == colour && up[i] < limit {
            up[i] += 1;
            yy -= 1;
        }
    }
    let mut down = [0usize; 3];
    let mut yy = y + 1;
    for (i, colour) in [true, false, true].into_iter().enumerate() {
        while yy < h && dark(yy) == colour && down[i] < limit {
            down[i] += 1;
            yy += 1;
        }
    }
    let runs = [(up[2], 0), (up[1], 0), (up[0] + down[0], 0), (down[1], 0), (down[2], 0)];
    let total: usize = runs.iter().map(|r| r.0).sum();
    if !proportions_1_1_3_1_1(&runs, 7) || total * 2 < row_total || total > row_total * 2 {
        return None;
    }
    Some(y as f32 - up[0] as f32 + (up[0] + down[0]) as f32 / 2.0)
}

/// Tries three finder patterns as one code's corners: orders them (the corner one has the
/// right angle), estimates the size from their spacing, fits and decodes; gives up at
/// `deadline`.
fn fit_triple(image: &GrayImage, finders: [Finder; 3], deadline: Instant) -> Option<FoundCode> {
    let module = finders.iter().map(|f| f.module).sum::<f32>() / 3.0;
    if finders.iter().any(|f| f.module > module * 1.6 || f.module * 1.6 < module) {
        return None;
    }
    let d = |a: &Finder, b: &Finder| (a.x - b.x).hypot(a.y - b.y);
    // The corner finder is opposite the longest side.
    let sides = [d(&finders[1], &finders[2]), d(&finders[0], &finders[2]), d(&finders[0], &finders[1])];
    let corner = (0..3).max_by(|a, b| sides[*a].total_cmp(&sides[*b]))?;
    let tl = finders[corner];
    let (mut tr, mut bl) = (finders[(corner + 1) % 3], finders[(corner + 2) % 3]);
    // Clockwise in image coordinates (y down): TR is to the right of TL→BL.
    if (tr.x - tl.x) * (bl.y - tl.y) - (tr.y - tl.y) * (bl.x - tl.x) < 0.0 {
        std::mem::swap(&mut tr, &mut bl);
    }
    let (top, left) = (d(&tl, &tr), d(&tl, &bl));
    if top.min(left) < module * 10.0 || top.max(left) > top.min(left) * 1.8 {
        return None;
    }
    // The corner's angle stays within 90° ± 30° under any perspective a code is readable at.
    let cos = ((tr.x - tl.x) * (bl.x - tl.x) + (tr.y - tl.y) * (bl.y - tl.y)) / (top * left);
    if cos.abs() > 0.5 {
        return None;
    }
    // A row crosses a finder pattern turned by θ over 7 modules / max(|cos θ|, |sin θ|):
    // correct the row-measured module size by the code's angle.
    let angle = (tr.y - tl.y).atan2(tr.x - tl.x);
    let module = module * angle.cos().abs().max(angle.sin().abs());
    let estimate = (top + left) / 2.0 / module + 7.0;
    let version = ((estimate - 17.0) / 4.0).round().clamp(1.0, 40.0) as i32;
    // Perspective shrinks the far finder patterns' spacing more than their size: the estimate
    // errs small more often than large.
    for v in [version, version + 1, version - 1, version + 2] {
        if !(1..=40).contains(&v) || Instant::now() >= deadline {
            continue;
        }
        let size = (v * 4 + 17) as usize;
        let span = size as f32 - 7.0;
        let (ex, ey) =
            ([(tr.x - tl.x) / span, (tr.y - tl.y) / span], [(bl.x - tl.x) / span, (bl.y - tl.y) / span]);
        let at = |u: f32, v: f32| {
            [tl.x + (u - 3.5) * ex[0] + (v - 3.5) * ey[0], tl.y + (u - 3.5) * ex[1] + (v - 3.5) * ey[1]]
        };
        let n = size as f32;
        let start = [at(0.0, 0.0), at(n, 0.0), at(n, n), at(0.0, n)];
        let bounds = fit_bounds(image, start, size, true).unwrap_or(start);
        let bits = resample(image, bounds, size)?;
        let grid = rqrr::Grid::new(rqrr::SimpleGrid::from_func(size, |x, y| bits[y * size + x]));
        if let Some((meta, content)) = catch_unwind(AssertUnwindSafe(|| decode_grid(&grid))).ok().flatten() {
            let (text, encoding) = content_text(&content);
            return Some(FoundCode {
                text,
                bytes: content.bytes,
                encoding,
                bounds: bounds.map(|[x, y]| [x.round() as i32, y.round() as i32]),
                version: meta.version.0,
                pass: "finder-fit",
            });
        }
    }
    None
}

/// A rectangle of the frame, `[x0, y0, x1, y1)` in pixels, and the factor to enlarge it by.
type Region = [u32; 5];

/// Most regions [`zoom_regions`] proposes.
const MAX_ZOOM_REGIONS: usize = 4;

/// Regions around clusters of finder-pattern-like row crossings, largest cluster first: where
/// a code too small for rqrr at the frame's resolution may be. Each spans about six finder
/// widths each way, enough for the whole code whichever finder pattern the cluster is on.
fn zoom_regions(image: &GrayImage) -> Vec<Region> {
    const CELL: u32 = 32;
    let (w, h) = (image.width(), image.height());
    let (cw, ch) = (w.div_ceil(CELL) as usize, h.div_ceil(CELL) as usize);
    // Per cell: crossings and the sum of their widths.
    let mut cells = vec![(0u32, 0u32); cw * ch];
    scan_finder_rows(image, 9, |x, y, width| {
        let cell = &mut cells[(y / CELL) as usize * cw + (x / CELL) as usize];
        cell.0 += 1;
        cell.1 = cell.1.saturating_add(width);
        false
    });
    let mut ranked: Vec<(usize, (u32, u32))> =
        cells.into_iter().enumerate().filter(|(_, (count, _))| *count >= 2).collect();
    ranked.sort_by_key(|cell| std::cmp::Reverse(cell.1 .0));
    let mut regions: Vec<Region> = Vec::new();
    for (index, (count, sum)) in ranked {
        let width = sum / count;
        let cx = (index % cw) as u32 * CELL + CELL / 2;
        let cy = (index / cw) as u32 * CELL + CELL / 2;
        if regions.iter().any(|r| cx >= r[0] && cx < r[2] && cy >= r[1] && cy < r[3]) {
            continue;
        }
        let reach = (width * 6).clamp(48, 200);
        // Enough to give the finder pattern about 5 px per module (35 px across).
        let factor = 35u32.div_ceil(width.max(1)).clamp(2, 4);
        regions.push([
            cx.saturating_sub(reach),
            cy.saturating_sub(reach),
            (cx + reach).min(w),
            (cy + reach).min(h),
            factor,
        ]);
        if regions.len() == MAX_ZOOM_REGIONS {
            break;
        }
    }
    regions
}

/// Crops `region`, enlarges it smoothly by its factor and looks for codes
/// there, directly and after a local threshold.
fn zoom(image: &GrayImage, region: Region) -> Vec<FoundCode> {
    let [x0, y0, x1, y1, factor] = region;
    if x1 <= x0 + 16 || y1 <= y0 + 16 {
        return Vec::new();
    }
    let crop = image::imageops::crop_imm(image, x0, y0, x1 - x0, y1 - y0).to_image();
    let enlarged = upscale_smooth(&crop, factor);
    // The enlarged crop is also what a failed grid is resampled from: interpolated, it gives
    // sub-pixel module centres that the frame's 1.5–2 px modules do not have.
    let mut found = detect(&enlarged, &enlarged, false, 1.0, "zoom");
    if found.is_empty() {
        found = detect(&enlarged, &local_max_threshold(&enlarged), true, 1.0, "zoom-local-max");
    }
    let scale = 1.0 / factor as f32;
    for code in &mut found {
        code.bounds = code.bounds.map(|[x, y]| {
            [(x as f32 * scale + x0 as f32).round() as i32, (y as f32 * scale + y0 as f32).round() as i32]
        });
    }
    found
}

/// Whether the image may hold a QR code: some row, at full size or box-averaged down by 2 or 4,
/// crosses a dark–light–dark–light–dark sequence in roughly the 1:1:3:1:1 proportions of a
/// finder pattern under a local threshold. Deliberately permissive (blur, noise, moiré and
/// low contrast distort the proportions, and a false "maybe" only costs time); a `false` means
/// no retry pass can find a code either, since each of them needs rqrr to see finder patterns.
pub fn has_finder_candidates(image: &GrayImage) -> bool {
    let mut scaled = std::borrow::Cow::Borrowed(image);
    for step in 0..3 {
        if step > 0 {
            if scaled.width().min(scaled.height()) < 2 * MIN_FINDER_PIXELS {
                break;
            }
            scaled = std::borrow::Cow::Owned(downscale(&scaled, 2));
        }
        if rows_have_finder(&scaled) {
            return true;
        }
    }
    false
}

/// Smallest finder pattern looked for, in pixels across (7 modules of 2 pixels).
const MIN_FINDER_PIXELS: u32 = 14;

/// The row scan of [`has_finder_candidates`] at one scale.
fn rows_have_finder(image: &GrayImage) -> bool {
    scan_finder_rows(image, MIN_FINDER_PIXELS as usize, |_, _, _| true)
}

/// Calls `hit(centre x, y, width)` for each finder-pattern-like crossing of a row at least
/// `min_width` pixels wide, until it returns `true`; returns whether it did.
fn scan_finder_rows(image: &GrayImage, min_width: usize, mut hit: impl FnMut(u32, u32, u32) -> bool) -> bool {
    let (w, h) = (image.width() as usize, image.height() as usize);
    // The local mean over a window wide enough to span a finder pattern and its quiet zone.
    let radius = (w / 16).max(8);
    let mut prefix = vec![0u32; w + 1];
    let mut dark = vec![false; w];
    let mut runs: Vec<(usize, u32)> = Vec::with_capacity(w);
    for (y, row) in image.as_raw().chunks_exact(w).take(h).enumerate() {
        for (x, v) in row.iter().enumerate() {
            prefix[x + 1] = prefix[x] + u32::from(*v);
        }
        for (x, d) in dark.iter_mut().enumerate() {
            let (x0, x1) = (x.saturating_sub(radius), (x + radius + 1).min(w));
            let (sum, count) = (prefix[x1] - prefix[x0], (x1 - x0) as u32);
            // 8 % under the local mean: sensor noise on a plain surface rarely gets there.
            *d = u32::from(row[x]) * 100 * count < sum * 92;
        }
        // Runs of equal colour as (length, sum of values), starting with the first dark run.
        runs.clear();
        let first_dark = dark.iter().position(|d| *d).unwrap_or(w);
        let mut x = first_dark;
        while x < w {
            let colour = dark[x];
            let (start, mut sum) = (x, 0u32);
            while x < w && dark[x] == colour {
                sum += u32::from(row[x]);
                x += 1;
            }
            runs.push((x - start, sum));
        }
        // Dark runs sit at even indices.
        let mut x = first_dark;
        for (i, window) in runs.windows(5).enumerate() {
            if i % 2 == 0 && finder_like(window, min_width) {
                let width: usize = window.iter().map(|r| r.0).sum();
                if hit((x + width / 2) as u32, y as u32, width as u32) {
                    return true;
                }
            }
            x += window[0].0;
        }
    }
    false
}

/// Whether five runs (dark, light, dark, light, dark) look like a finder pattern's cross-section.
fn finder_like(runs: &[(usize, u32)], min_width: usize) -> bool {
    let total: usize = runs.iter().map(|r| r.0).sum();
    if total < min_width {
        return false;
    }
    let unit = total as f32 / 7.0;
    let near = |run: usize, modules: f32, low: f32, high: f32| {
        let run = run as f32;
        run >= unit * modules * low && run <= unit * modules * high
    };
    let mean = |r: &(usize, u32)| r.1 as f32 / r.0.max(1) as f32;
    near(runs[0].0, 1.0, 0.3, 2.2)
        && near(runs[1].0, 1.0, 0.3, 2.2)
        && near(runs[2].0, 3.0, 0.5, 1.7)
        && near(runs[3].0, 1.0, 0.3, 2.2)
        && near(runs[4].0, 1.0, 0.3, 2.2)
        // Real ink against paper or a screen's white, not a flicker of noise.
        && (mean(&runs[1]) + mean(&runs[3])) / 2.0 >= mean(&runs[2]) + MIN_FINDER_CONTRAST
}

/// Least difference, in gray levels, between a candidate's light rings and its dark centre.
const MIN_FINDER_CONTRAST: f32 = 10.0;

/// Runs rqrr once on `image` (a pass over `original`). When rqrr finds a grid but cannot
/// correct its data — its one-pixel-per-module sampling is fragile under noise and screen
/// patterns — the grid is sampled again from `original` with area averages and a local
/// threshold ([`resample`]) and decoded once more.
///
/// rqrr is third-party code fed with untrusted pixels (its perspective code even asserts); a
/// panic inside it is caught and treated as "nothing found" so no input can crash the caller.
fn detect(
    original: &GrayImage,
    image: &GrayImage,
    binary: bool,
    scale: f32,
    pass: &'static str,
) -> Vec<FoundCode> {
    detect_at(original, image, binary, scale, [0.0, 0.0], pass)
}

/// [`detect`] on an image whose pixel `(x, y)` is the original's `offset + scale × (x, y)`
/// (a scaled crop).
fn detect_at(
    original: &GrayImage,
    image: &GrayImage,
    binary: bool,
    scale: f32,
    offset: [f32; 2],
    pass: &'static str,
) -> Vec<FoundCode> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    if w == 0 || h == 0 {
        return Vec::new();
    }
    let run = || {
        let mut prepared = if binary {
            PreparedImage::prepare_from_bitmap(w, h, |x, y| image.as_raw()[y * w + x] < 128)
        } else {
            PreparedImage::prepare_from_greyscale(w, h, |x, y| image.as_raw()[y * w + x])
        };
        let mut out = Vec::new();
        for grid in prepared.detect_grids() {
            let size = rqrr::BitGrid::size(&grid.grid);
            let raw = grid.bounds.map(|p| [p.x as f32 * scale + offset[0], p.y as f32 * scale + offset[1]]);
            let bounds = outer_corners(raw, size).unwrap_or(raw);
            let mut bounds = bounds;
            let decoded = decode_grid(&grid).or_else(|| {
                let from = |bounds| {
                    let bits = resample(original, bounds, size)?;
                    decode_grid(&rqrr::Grid::new(rqrr::SimpleGrid::from_func(size, |x, y| {
                        bits[y * size + x]
                    })))
                };
                from(bounds).or_else(|| {
                    let refined = refine_bounds(original, bounds, size)?;
                    let decoded = from(refined)?;
                    bounds = refined;
                    Some(decoded)
                })
            });
            if let Some((meta, content)) = decoded {
                let (text, encoding) = content_text(&content);
                out.push(FoundCode {
                    text,
                    bytes: content.bytes,
                    encoding,
                    bounds: bounds.map(|[x, y]| [x.round() as i32, y.round() as i32]),
                    version: meta.version.0,
                    pass,
                });
            }
        }
        out
    };
    catch_unwind(AssertUnwindSafe(run)).unwrap_or_default()
}

/// Samples a `size`×`size` QR grid whose outer corners are `bounds` (top-left, top-right,
/// bottom-right, bottom-left) from a grayscale image: each module is the mean of a small
/// square around its centre, and is dark when below the mean of its 7×7-module neighbourhood
/// (QR data is about half dark, so the local mean is a fair threshold even under glare).
fn resample(image: &GrayImage, bounds: [[f32; 2]; 4], size: usize) -> Option<Vec<bool>> {
    if !(21..=177).contains(&size) {
        return None;
    }
    let map = square_to_quad(bounds)?;
    let side = ((bounds[1][0] - bounds[0][0]).hypot(bounds[1][1] - bounds[0][1])) / size as f32;
    let radius = (side * 0.3).floor().max(0.0) as i64;
    let (w, h) = (i64::from(image.width()), i64::from(image.height()));
    let raw = image.as_raw();
    let mut values = vec![0f32; size * size];
    for y in 0..size {
        for x in 0..size {
            let (u, v) = ((x as f32 + 0.5) / size as f32, (y as f32 + 0.5) / size as f32);
            let (px, py) = map(u, v);
            if !px.is_finite() || !py.is_finite() {
                return None;
            }
            let (cx, cy) = (px.floor() as i64, py.floor() as i64);
            let (mut sum, mut count) = (0u32, 0u32);
            for sy in (cy - radius).max(0)..=(cy + radius).min(h - 1) {
                for sx in (cx - radius).max(0)..=(cx + radius).min(w - 1) {
                    sum += u32::from(raw[(sy * w + sx) as usize]);
                    count += 1;
                }
            }
            if count == 0 {
                return None;
            }
            values[y * size + x] = sum as f32 / count as f32;
        }
    }
    let mut bits = vec![false; size * size];
    for y in 0..size {
        for x in 0..size {
            let (y0, y1) = (y.saturating_sub(3), (y + 4).min(size));
            let (x0, x1) = (x.saturating_sub(3), (x + 4).min(size));
            let mut sum = 0.0;
            for yy in y0..y1 {
                for xx in x0..x1 {
                    sum += values[yy * size + xx];
                }
            }
            let mean = sum / ((y1 - y0) * (x1 - x0)) as f32;
            bits[y * size + x] = values[y * size + x] < mean;
        }
    }
    Some(bits)
}

/// The modules every QR code of `size` modules has in the same place, as `(x, y, dark)`:
/// finder patterns with their separators, timing patterns, the alignment patterns (version 2
/// and up) and the first row and column of the quiet zone around the code.
fn function_modules(size: usize) -> Vec<(i32, i32, bool)> {
    let n = size as i32;
    let mut modules = Vec::with_capacity(4 * size + 220);
    for (ox, oy) in [(0, 0), (n - 7, 0), (0, n - 7)] {
        for dy in -1..8i32 {
            for dx in -1..8i32 {
                let ring = (dx - 3).abs().max((dy - 3).abs());
                modules.push((ox + dx, oy + dy, ring != 2 && ring <= 3));
            }
        }
    }
    for i in 8..n - 8 {
        modules.push((i, 6, i % 2 == 0));
        modules.push((6, i, i % 2 == 0));
        // Quiet zone beside the timing patterns' ends and along the far edges.
        modules.push((i, -1, false));
        modules.push((-1, i, false));
    }
    for i in -1..=n {
        modules.push((i, n, false));
        modules.push((n, i, false));
    }
    let centres = alignment_centres(size);
    for &cy in &centres {
        for &cx in &centres {
            // The three corners with finder patterns have none.
            let on_finder = (cx == 6 && (cy == 6 || cy == n - 7)) || (cx == n - 7 && cy == 6);
            if on_finder {
                continue;
            }
            for dy in -2..=2i32 {
                for dx in -2..=2i32 {
                    modules.push((cx + dx, cy + dy, dx.abs().max(dy.abs()) != 1));
                }
            }
        }
    }
    modules
}

/// Row/column coordinates of the alignment patterns' centres of a `size`-module code (ISO/IEC
/// 18004 annex E, in its closed form): none for version 1, then 6 and evenly spaced positions
/// ending at `size − 7`. Every alignment pattern pins the fit where the data is densest, which
/// matters on large versions, where a fit from the corners alone drifts by modules.
fn alignment_centres(size: usize) -> Vec<i32> {
    let version = (size.saturating_sub(17) / 4) as i32;
    if version < 2 {
        return Vec::new();
    }
    let count = version / 7 + 2;
    let step = if version == 32 { 26 } else { (version * 4 + count * 2 + 1) / (count * 2 - 2) * 2 };
    let mut centres = vec![6];
    let last = size as i32 - 7;
    centres.extend((0..count - 1).rev().map(|i| last - i * step));
    centres
}

/// Fits a QR grid's corners to the image when rqrr's estimate is off (it places the fourth
/// corner of codes without an alignment pattern from the finder patterns alone, and a bloated
/// or eroded binarisation shifts all of them): a coordinate descent over the eight corner
/// coordinates that maximises the contrast between the modules that must be dark and those
/// that must be light ([`function_modules`]), sampled from the grayscale image.
fn refine_bounds(image: &GrayImage, bounds: [[f32; 2]; 4], size: usize) -> Option<[[f32; 2]; 4]> {
    fit_bounds(image, bounds, size, false)
}

/// [`refine_bounds`], optionally preceded by a coarse search for the bottom-right corner (the
/// one without a finder pattern) over ±12 modules, for corners guessed as a parallelogram
/// where strong perspective moves that corner by many modules.
fn fit_bounds(image: &GrayImage, bounds: [[f32; 2]; 4], size: usize, far: bool) -> Option<[[f32; 2]; 4]> {
    if !(21..=177).contains(&size) {
        return None;
    }
    let modules = function_modules(size);
    let (w, h) = (image.width() as f32, image.height() as f32);
    let stride = image.width() as usize;
    let raw = image.as_raw();
    let pixel = |x: f32, y: f32| -> Option<f32> {
        if !(x >= 0.0 && y >= 0.0 && x < w - 1.0 && y < h - 1.0) {
            return None;
        }
        let (x0, y0) = (x as usize, y as usize);
        let (tx, ty) = (x - x0 as f32, y - y0 as f32);
        let at = |x: usize, y: usize| f32::from(raw[y * stride + x]);
        let top = at(x0, y0) * (1.0 - tx) + at(x0 + 1, y0) * tx;
        let bottom = at(x0, y0 + 1) * (1.0 - tx) + at(x0 + 1, y0 + 1) * tx;
        Some(top * (1.0 - ty) + bottom * ty)
    };
    let n = size as f32;
    // Four points a quarter module from the centre: robust to noise and to a screen's pixel
    // grid, still inside the module when the fit is half a module off.
    const QUARTERS: [(f32, f32); 4] = [(0.3, 0.3), (0.7, 0.3), (0.3, 0.7), (0.7, 0.7)];
    let score_with = |q: [[f32; 2]; 4], points: &[(f32, f32)]| -> f32 {
        let Some(map) = square_to_quad(q) else {
            return f32::NEG_INFINITY;
        };
        let (mut dark, mut dark_n, mut light, mut light_n) = (0.0, 0u32, 0.0, 0u32);
        for &(x, y, is_dark) in &modules {
            for &(ox, oy) in points {
                let (px, py) = map((x as f32 + ox) / n, (y as f32 + oy) / n);
                if let Some(v) = pixel(px, py) {
                    if is_dark {
                        dark += v;
                        dark_n += 1;
                    } else {
                        light += v;
                        light_n += 1;
                    }
                }
            }
        }
        if dark_n < 40 || light_n < 40 {
            return f32::NEG_INFINITY;
        }
        light / light_n as f32 - dark / dark_n as f32
    };
    let score = |q| score_with(q, &QUARTERS);
    let side = (bounds[1][0] - bounds[0][0]).hypot(bounds[1][1] - bounds[0][1]) / n;
    if !side.is_finite() || side < 1.0 {
        return None;
    }
    let mut best = bounds;
    if far {
        // Module steps along the code's own axes, centre samples only: cheap enough for a
        // 25 × 25 search.
        let (ex, ey) = (
            [(bounds[1][0] - bounds[0][0]) / n, (bounds[1][1] - bounds[0][1]) / n],
            [(bounds[3][0] - bounds[0][0]) / n, (bounds[3][1] - bounds[0][1]) / n],
        );
        let mut coarse = f32::NEG_INFINITY;
        for i in -12..=12 {
            for j in -12..=12 {
                let mut q = bounds;
                let (i, j) = (i as f32, j as f32);
                q[2] = [bounds[2][0] + i * ex[0] + j * ey[0], bounds[2][1] + i * ex[1] + j * ey[1]];
                let s = score_with(q, &[(0.5, 0.5)]);
                if s > coarse {
                    (coarse, best) = (s, q);
                }
            }
        }
    }
    let mut best_score = score(best);
    for step in [0.5, 0.25, 0.12] {
        let delta = step * side;
        for _ in 0..12 {
            let mut improved = false;
            for corner in 0..4 {
                for axis in 0..2 {
                    for sign in [-1.0, 1.0] {
                        let mut q = best;
                        q[corner][axis] += sign * delta;
                        let s = score(q);
                        if s > best_score {
                            (best, best_score, improved) = (q, s, true);
                        }
                    }
                }
            }
            if !improved {
                break;
            }
        }
    }
    (best != bounds).then_some(best)
}

/// rqrr reports its grid's corners at `size + 1` modules from the top-left one (it maps
/// `(0, 0)` and `(size + 1, size + 1)` through its perspective); this returns the true outer
/// corners of the `size`-module code.
fn outer_corners(bounds: [[f32; 2]; 4], size: usize) -> Option<[[f32; 2]; 4]> {
    let map = square_to_quad(bounds)?;
    let t = size as f32 / (size as f32 + 1.0);
    let corners = [(0.0, 0.0), (t, 0.0), (t, t), (0.0, t)].map(|(u, v)| {
        let (x, y) = map(u, v);
        [x, y]
    });
    corners.iter().all(|[x, y]| x.is_finite() && y.is_finite()).then_some(corners)
}

/// The projective map from the unit square onto a quadrilateral (Heckbert's closed form).
fn square_to_quad(q: [[f32; 2]; 4]) -> Option<impl Fn(f32, f32) -> (f32, f32)> {
    let [[x0, y0], [x1, y1], [x2, y2], [x3, y3]] = q.map(|[x, y]| [f64::from(x), f64::from(y)]);
    let (dx1, dx2, dx3) = (x1 - x2, x3 - x2, x0 - x1 + x2 - x3);
    let (dy1, dy2, dy3) = (y1 - y2, y3 - y2, y0 - y1 + y2 - y3);
    let den = dx1 * dy2 - dx2 * dy1;
    if den.abs() < 1e-9 {
        return None;
    }
    let g = (dx3 * dy2 - dx2 * dy3) / den;
    let hh = (dx1 * dy3 - dx3 * dy1) / den;
    let (a, b, c) = (x1 - x0 + g * x1, x3 - x0 + hh * x3, x0);
    let (d, e, f) = (y1 - y0 + g * y1, y3 - y0 + hh * y3, y0);
    Some(move |u: f32, v: f32| {
        let (u, v) = (f64::from(u), f64::from(v));
        let z = g * u + hh * v + 1.0;
        (((a * u + b * v + c) / z) as f32, ((d * u + e * v + f) / z) as f32)
    })
}

/// Box-filter downscale by an integer factor (averages away noise and screen patterns).
pub fn downscale(image: &GrayImage, factor: u32) -> GrayImage {
    let factor = factor.max(1);
    let (w, h) = (image.width() / factor, image.height() / factor);
    let src = image.as_raw();
    let stride = image.width() as usize;
    let area = factor * factor;
    GrayImage::from_fn(w.max(1), h.max(1), |x, y| {
        let mut sum = 0u32;
        for dy in 0..factor {
            let row = ((y * factor + dy) as usize).min(image.height() as usize - 1) * stride;
            for dx in 0..factor {
                let col = ((x * factor + dx) as usize).min(stride - 1);
                sum += u32::from(src[row + col]);
            }
        }
        Luma([(sum / area) as u8])
    })
}

/// Nearest-neighbour 2× upscale (gives rqrr more pixels per module on tiny codes).
pub fn upscale2(image: &GrayImage) -> GrayImage {
    GrayImage::from_fn(image.width() * 2, image.height() * 2, |x, y| *image.get_pixel(x / 2, y / 2))
}

/// Bilinear upscale by an integer factor: unlike [`upscale2`] it interpolates module edges
/// between pixels, so a code of 1.5–2.5 px per module keeps its shape for rqrr's
/// thresholding and finder-pattern scan.
pub fn upscale_smooth(image: &GrayImage, factor: u32) -> GrayImage {
    let factor = factor.max(1);
    let (w, h) = (image.width(), image.height());
    let raw = image.as_raw();
    let stride = w as usize;
    let at = |x: u32, y: u32| f32::from(raw[y as usize * stride + x as usize]);
    let f = factor as f32;
    GrayImage::from_fn(w * factor, h * factor, |x, y| {
        let sx = ((x as f32 + 0.5) / f - 0.5).clamp(0.0, (w - 1) as f32);
        let sy = ((y as f32 + 0.5) / f - 0.5).clamp(0.0, (h - 1) as f32);
        let (x0, y0) = (sx as u32, sy as u32);
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
        let (tx, ty) = (sx - x0 as f32, sy - y0 as f32);
        let top = at(x0, y0) * (1.0 - tx) + at(x1, y0) * tx;
        let bottom = at(x0, y1) * (1.0 - tx) + at(x1, y1) * tx;
        Luma([(top * (1.0 - ty) + bottom * ty).round() as u8])
    })
}

/// Stretches the 1st–99th percentile of gray levels to 0–255.
pub fn stretch(image: &GrayImage) -> GrayImage {
    let histogram = histogram(image);
    let total: u64 = histogram.iter().sum();
    let cut = total / 100;
    let mut acc = 0;
    let low = histogram
        .iter()
        .position(|c| {
            acc += c;
            acc > cut
        })
        .unwrap_or(0);
    acc = 0;
    let high = 255
        - histogram
            .iter()
            .rev()
            .position(|c| {
                acc += c;
                acc > cut
            })
            .unwrap_or(0);
    if high <= low {
        return image.clone();
    }
    let span = (high - low) as f32;
    let lut: Vec<u8> =
        (0..256).map(|v| (((v as f32 - low as f32) / span) * 255.0).clamp(0.0, 255.0) as u8).collect();
    map(image, &lut)
}

fn histogram(image: &GrayImage) -> [u64; 256] {
    let mut histogram = [0u64; 256];
    for p in image.as_raw() {
        histogram[usize::from(*p)] += 1;
    }
    histogram
}

fn map(image: &GrayImage, lut: &[u8]) -> GrayImage {
    let data = image.as_raw().iter().map(|p| lut[usize::from(*p)]).collect();
    GrayImage::from_raw(image.width(), image.height(), data).unwrap_or_else(|| image.clone())
}

/// Threshold halfway between the darkest 1 % and the median: isolates print-black from a
/// background that is itself patterned (screen moiré bands, textured paper), where Otsu would
/// split the background's own light and dark halves.
pub fn dark_threshold(image: &GrayImage) -> GrayImage {
    let histogram = histogram(image);
    let total: u64 = histogram.iter().sum();
    let percentile = |fraction: f64| {
        let target = (total as f64 * fraction) as u64;
        let mut acc = 0;
        histogram
            .iter()
            .position(|c| {
                acc += c;
                acc > target
            })
            .unwrap_or(255)
    };
    let threshold = (percentile(0.01) + percentile(0.5)) / 2;
    let lut: Vec<u8> = (0..256).map(|v| if v < threshold { 0 } else { 255 }).collect();
    map(image, &lut)
}

/// Dark where below half the brightest level nearby (the maximum over 8-pixel blocks, spread
/// over two blocks each way: a 40-pixel window). Print or screen black stays well under half
/// of the local white even where a screen's interference bands scale the brightness by ±20 %
/// and glare lifts it, while a global threshold (Otsu, [`dark_threshold`]) either splits the
/// bands of the background or swallows the light modules squeezed between dark ones.
pub fn local_max_threshold(image: &GrayImage) -> GrayImage {
    const BLOCK: usize = 8;
    const SPREAD: usize = 2;
    let (w, h) = (image.width() as usize, image.height() as usize);
    let (gw, gh) = (w.div_ceil(BLOCK), h.div_ceil(BLOCK));
    let src = image.as_raw();
    let mut blocks = vec![0u8; gw * gh];
    for y in 0..h {
        let row = &src[y * w..(y + 1) * w];
        let out = &mut blocks[(y / BLOCK) * gw..(y / BLOCK + 1) * gw];
        for (block, chunk) in out.iter_mut().zip(row.chunks(BLOCK)) {
            *block = chunk.iter().fold(*block, |m, v| m.max(*v));
        }
    }
    // Separable dilation of the block maxima.
    let mut across = vec![0u8; gw * gh];
    for gy in 0..gh {
        for gx in 0..gw {
            let (x0, x1) = (gx.saturating_sub(SPREAD), (gx + SPREAD + 1).min(gw));
            across[gy * gw + gx] = blocks[gy * gw + x0..gy * gw + x1].iter().fold(0, |m, v| m.max(*v));
        }
    }
    let mut spread = vec![0u8; gw * gh];
    for gy in 0..gh {
        let (y0, y1) = (gy.saturating_sub(SPREAD), (gy + SPREAD + 1).min(gh));
        for gx in 0..gw {
            spread[gy * gw + gx] = (y0..y1).map(|yy| across[yy * gw + gx]).fold(0, u8::max);
        }
    }
    let mut out = vec![255u8; w * h];
    for y in 0..h {
        let limits = &spread[(y / BLOCK) * gw..(y / BLOCK + 1) * gw];
        for (x, (o, v)) in out[y * w..(y + 1) * w].iter_mut().zip(&src[y * w..(y + 1) * w]).enumerate() {
            let max = limits[x / BLOCK];
            // A window with no light level at all (a dark border) stays light: nothing to find.
            if max >= 40 && u16::from(*v) * 2 < u16::from(max) {
                *o = 0;
            }
        }
    }
    GrayImage::from_raw(image.width(), image.height(), out).unwrap_or_else(|| image.clone())
}

/// Otsu's global threshold: black below, white at or above.
pub fn otsu(image: &GrayImage) -> GrayImage {
    let histogram = histogram(image);
    let total: f64 = histogram.iter().sum::<u64>() as f64;
    let sum_all: f64 = histogram.iter().enumerate().map(|(v, c)| v as f64 * *c as f64).sum();
    let (mut weight_b, mut sum_b, mut best, mut threshold) = (0.0, 0.0, -1.0, 128usize);
    for (v, count) in histogram.iter().enumerate() {
        weight_b += *count as f64;
        if weight_b == 0.0 {
            continue;
        }
        let weight_f = total - weight_b;
        if weight_f == 0.0 {
            break;
        }
        sum_b += v as f64 * *count as f64;
        let mean_b = sum_b / weight_b;
        let mean_f = (sum_all - sum_b) / weight_f;
        let between = weight_b * weight_f * (mean_b - mean_f) * (mean_b - mean_f);
        if between > best {
            best = between;
            threshold = v + 1;
        }
    }
    let lut: Vec<u8> = (0..256).map(|v| if v < threshold { 0 } else { 255 }).collect();
    map(image, &lut)
}

/// Local mean threshold over a square window of about 1/8 of the short side, from an
/// integral image (O(1) per pixel).
pub fn adaptive(image: &GrayImage) -> GrayImage {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let integral = integral(image);
    let radius = (w.min(h) / 16).max(4);
    let src = image.as_raw();
    let mut out = vec![0u8; w * h];
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(radius), (y + radius + 1).min(h));
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(radius), (x + radius + 1).min(w));
            let sum = integral[y1 * (w + 1) + x1] + integral[y0 * (w + 1) + x0]
                - integral[y0 * (w + 1) + x1]
                - integral[y1 * (w + 1) + x0];
            let count = ((y1 - y0) * (x1 - x0)) as u64;
            // 3% below the local mean counts as dark: tolerates flat areas with light noise.
            let dark = u64::from(src[y * w + x]) * 100 * count < sum * 97;
            out[y * w + x] = if dark { 0 } else { 255 };
        }
    }
    GrayImage::from_raw(image.width(), image.height(), out).unwrap_or_else(|| image.clone())
}

fn integral(image: &GrayImage) -> Vec<u64> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let src = image.as_raw();
    let mut table = vec![0u64; (w + 1) * (h + 1)];
    for y in 0..h {
        let mut row = 0u64;
        for x in 0..w {
            row += u64::from(src[y * w + x]);
            table[(y + 1) * (w + 1) + x + 1] = table[y * (w + 1) + x + 1] + row;
        }
    }
    table
}

/// Box blur with the given radius (one pass, from an integral image).
pub fn box_blur(image: &GrayImage, radius: usize) -> GrayImage {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let integral = integral(image);
    let mut out = vec![0u8; w * h];
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(radius), (y + radius + 1).min(h));
        for x in 0..w {
            let (x0, x1) = (x.saturating_sub(radius), (x + radius + 1).min(w));
            let sum = integral[y1 * (w + 1) + x1] + integral[y0 * (w + 1) + x0]
                - integral[y0 * (w + 1) + x1]
                - integral[y1 * (w + 1) + x0];
            out[y * w + x] = (sum / ((y1 - y0) * (x1 - x0)) as u64) as u8;
        }
    }
    GrayImage::from_raw(image.width(), image.height(), out).unwrap_or_else(|| image.clone())
}

/// Unsharp mask: `v + amount × (v − blur(v))`, to restore module edges on defocused images.
pub fn sharpen(image: &GrayImage, radius: usize, amount: f32) -> GrayImage {
    let blurred = box_blur(image, radius);
    let data = image
        .as_raw()
        .iter()
        .zip(blurred.as_raw())
        .map(|(v, b)| {
            let (v, b) = (f32::from(*v), f32::from(*b));
            (v + amount * (v - b)).clamp(0.0, 255.0) as u8
        })
        .collect();
    GrayImage::from_raw(image.width(), image.height(), data).unwrap_or_else(|| image.clone())
}

/// Photographic negative (light codes on a dark background).
pub fn invert(image: &GrayImage) -> GrayImage {
    let lut: Vec<u8> = (0..=255u8).map(|v| 255 - v).collect();
    map(image, &lut)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn resampling_from_bounds_reproduces_the_modules() {
        let text = "https://global.alipay.com/2810020400949jph9gDWC1kpeZ1jBICv4qqu";
        let grid = crate::render::qr_grid(text).unwrap();
        let image = crate::render::qr_image(text, 5).unwrap();
        let size = grid.width - 2 * crate::render::QR_QUIET_ZONE;
        let q = (crate::render::QR_QUIET_ZONE * 5) as f32;
        let e = q + (size * 5) as f32;
        let bits = resample(&image, [[q, q], [e, q], [e, e], [q, e]], size).unwrap();
        let mut wrong = 0;
        for y in 0..size {
            for x in 0..size {
                let truth = grid.is_dark(x + crate::render::QR_QUIET_ZONE, y + crate::render::QR_QUIET_ZONE);
                wrong += usize::from(bits[y * size + x] != truth);
            }
        }
        assert_eq!(wrong, 0);
        let decoded =
            rqrr::Grid::new(rqrr::SimpleGrid::from_func(size, |x, y| bits[y * size + x])).decode().unwrap();
        assert_eq!(decoded.1, text);
    }

    #[test]
    fn refinement_recovers_a_misplaced_corner() {
        // rqrr's typical error on a version-1 code: the corner without a finder pattern off by
        // more than a module, and the others by a pixel or two.
        let text = "251001020123456789012345";
        let image = crate::render::qr_image(text, 4).unwrap();
        let size = crate::render::qr_grid(text).unwrap().width - 2 * crate::render::QR_QUIET_ZONE;
        let q = (crate::render::QR_QUIET_ZONE * 4) as f32;
        let e = q + (size * 4) as f32;
        let off = [[q + 1.5, q - 1.0], [e - 2.0, q + 1.0], [e - 6.0, e + 2.0], [q - 1.0, e - 5.0]];
        let decode = |bounds| {
            let bits = resample(&image, bounds, size)?;
            rqrr::Grid::new(rqrr::SimpleGrid::from_func(size, |x, y| bits[y * size + x])).decode().ok()
        };
        assert!(decode(off).is_none(), "the test needs bounds the plain resampling cannot use");
        let refined = refine_bounds(&image, off, size).unwrap();
        assert_eq!(decode(refined).unwrap().1, text);
        for (corner, want) in refined.iter().zip([[q, q], [e, q], [e, e], [q, e]]) {
            assert!((corner[0] - want[0]).abs() <= 2.0 && (corner[1] - want[1]).abs() <= 2.0, "{refined:?}");
        }
    }

    #[test]
    fn small_codes_are_found_by_zooming_into_finder_like_regions() {
        let text = "251001020123456789012345";
        let code = crate::render::qr_image(text, 4).unwrap();
        // 1.6 px per module, smoothed as a lens and sensor would.
        let (w, h) = (code.width() * 2 / 5, code.height() * 2 / 5);
        let small = image::imageops::resize(&code, w, h, image::imageops::FilterType::Triangle);
        let mut frame = GrayImage::from_fn(960, 720, |x, y| Luma([(150 + (x + 2 * y) / 40) as u8]));
        image::imageops::overlay(&mut frame, &small, 700, 120);
        assert!(
            scan_image(&frame, &ScanOptions::fast()).is_empty(),
            "the test needs a code too small for one pass"
        );
        let regions = zoom_regions(&frame);
        assert!(regions
            .iter()
            .any(|r| (r[0]..r[2]).contains(&(700 + w / 2)) && (r[1]..r[3]).contains(&(120 + h / 2))));
        let found: Vec<_> = regions.iter().flat_map(|r| zoom(&frame, *r)).collect();
        assert_eq!(found.first().map(|c| c.text.as_str()), Some(text));
        // Bounds come back in frame coordinates.
        let [x, y] = found[0].bounds[0];
        assert!((690..=720).contains(&x) && (110..=140).contains(&y), "{:?}", found[0].bounds);
        let mut scanner = FrameScanner::new();
        let frames = (0..EXTRA_PASSES)
            .take_while(|_| scanner.scan(960, 720, frame.as_raw()).unwrap().is_empty())
            .count();
        assert!(frames < EXTRA_PASSES, "the camera path finds it within one turn");
    }

    #[test]
    fn alignment_centres_follow_the_standard_table() {
        let centres = |version: usize| alignment_centres(version * 4 + 17);
        assert!(centres(1).is_empty());
        assert_eq!(centres(2), [6, 18]);
        assert_eq!(centres(7), [6, 22, 38]);
        assert_eq!(centres(14), [6, 26, 46, 66]);
        assert_eq!(centres(20), [6, 34, 62, 90]);
        assert_eq!(centres(32), [6, 34, 60, 86, 112, 138]);
        assert_eq!(centres(40), [6, 30, 58, 86, 114, 142, 170]);
    }

    #[test]
    fn finder_candidates_only_where_a_code_may_be() {
        let code = crate::render::qr_image("251001020123456789012345", 3).unwrap();
        let mut frame = GrayImage::from_fn(320, 240, |x, y| Luma([(180 + (x + y) / 20) as u8]));
        assert!(!has_finder_candidates(&frame), "a plain gradient");
        // Sensor noise on a plain surface is not a finder pattern.
        let mut seed = 1u32;
        for p in frame.pixels_mut() {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            p[0] = p[0].saturating_add(((seed >> 16) % 13) as u8).saturating_sub(6);
        }
        assert!(!has_finder_candidates(&frame), "noise");
        assert!(scan_image(&frame, &ScanOptions::default()).is_empty());
        image::imageops::overlay(&mut frame, &code, 100, 50);
        assert!(has_finder_candidates(&frame));
        assert_eq!(scan_image(&frame, &ScanOptions::default()).len(), 1);
        // A tiny code (2 px per module) and a large one (12 px) are both candidates.
        for module in [2, 12] {
            let code = crate::render::qr_image("251001020123456789012345", module).unwrap();
            let mut frame = GrayImage::from_pixel(code.width() + 40, code.height() + 40, Luma([200]));
            image::imageops::overlay(&mut frame, &code, 20, 20);
            assert!(has_finder_candidates(&frame), "module {module}");
        }
    }

    #[test]
    fn rqrr_bounds_are_the_outer_corners() {
        let image = crate::render::qr_image("251001020123456789012345", 5).unwrap();
        let found = scan_image(&image, &ScanOptions::fast());
        assert_eq!(found.len(), 1);
        let q = (crate::render::QR_QUIET_ZONE * 5) as i32;
        let e = image.width() as i32 - q;
        let expected = [[q, q], [e, q], [e, e], [q, e]];
        for (corner, want) in found[0].bounds.iter().zip(expected) {
            assert!(
                (corner[0] - want[0]).abs() <= 3 && (corner[1] - want[1]).abs() <= 3,
                "{:?}",
                found[0].bounds
            );
        }
    }
}
