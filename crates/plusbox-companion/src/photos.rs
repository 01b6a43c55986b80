//! The committed camera-photo corpus (`tests/corpus/photos`: QR codes printed on paper or
//! shown on screens, photographed through simulated phone cameras) and the comparison of our
//! scanner with the reference readers on it: zxing-cpp and zbar, both run in process by one
//! Python process (`read_reference.py`, the `zxing-cpp` and `pyzbar` pip packages) over the
//! whole corpus. Used by the `photo_corpus` integration test and `plusbox bench scan`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde::Deserialize;

use crate::scan::ScanOptions;

/// The corpus in this source tree.
pub const DEFAULT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/photos");

/// What to run when the reference readers are missing.
pub const INSTALL_HINT: &str = "python3 -m pip install zxing-cpp pyzbar pillow";

/// Why the comparison could not run.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    /// A corpus file could not be read.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        message: String,
    },
    /// `manifest.json` or the reference readers' output is not what we wrote.
    #[error("malformed {what}: {message}")]
    Malformed {
        /// Which document.
        what: &'static str,
        /// The parser's complaint.
        message: String,
    },
    /// The reference readers could not run.
    #[error("reference readers failed ({INSTALL_HINT}): {0}")]
    Reference(String),
}

/// One corpus image and what it encodes.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// Path relative to the corpus directory.
    pub file: String,
    /// Category name (see the corpus README).
    pub category: String,
    /// The content's bytes, hex.
    pub bytes_hex: String,
    /// The content as text, when it is text.
    pub text: Option<String>,
}

/// The corpus manifest (`manifest.json`, written by `generate.py`).
#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    /// The generator's seed.
    pub seed: u64,
    /// Category name → description.
    pub categories: BTreeMap<String, String>,
    /// Every image, in category order.
    pub images: Vec<Entry>,
}

/// One reader's result on one image: each code as (bytes hex, text), and the decode time.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Reading {
    /// Codes found.
    pub found: Vec<Decoded>,
    /// Decode time in milliseconds (decoding only, not file loading).
    pub millis: f64,
}

/// A decoded code as a reader reports it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decoded {
    /// The bytes, hex.
    pub bytes_hex: String,
    /// The text, when the reader gives one.
    pub text: Option<String>,
}

impl Entry {
    /// Whether a reader found this image's content: the same bytes, or the same text (zbar
    /// converts Shift_JIS content to UTF-8, so its bytes differ while its text is right).
    pub fn read_by(&self, reading: &Reading) -> bool {
        reading.found.iter().any(|d| {
            d.bytes_hex == self.bytes_hex
                || (self.text.is_some() && d.text.as_deref() == self.text.as_deref())
        })
    }
}

/// Loads `manifest.json` from a corpus directory.
pub fn load(dir: &Path) -> Result<Manifest, PhotoError> {
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| PhotoError::Io { path: path.display().to_string(), message: e.to_string() })?;
    serde_json::from_str(&text)
        .map_err(|e| PhotoError::Malformed { what: "manifest.json", message: e.to_string() })
}

/// Runs our scanner over every image, in this process, timing the decode (the JPEG is
/// decoded to grayscale first, outside the timing, as the reference script does).
pub fn read_ours(dir: &Path, manifest: &Manifest, options: &ScanOptions) -> Result<Vec<Reading>, PhotoError> {
    manifest
        .images
        .iter()
        .map(|entry| {
            let path = dir.join(&entry.file);
            let bytes = std::fs::read(&path)
                .map_err(|e| PhotoError::Io { path: path.display().to_string(), message: e.to_string() })?;
            let image = crate::scan::load_image(&bytes)
                .map_err(|e| PhotoError::Io { path: path.display().to_string(), message: e.to_string() })?;
            let start = Instant::now();
            let found = crate::scan::scan_image(&image, options);
            let millis = start.elapsed().as_secs_f64() * 1000.0;
            let found = found
                .into_iter()
                .map(|code| Decoded {
                    bytes_hex: code.bytes_hex(),
                    text: code.exact_text().map(str::to_string),
                })
                .collect();
            Ok(Reading { found, millis })
        })
        .collect()
}

/// The reference readers' results, in manifest order.
#[derive(Debug, Clone)]
pub struct ReferenceRun {
    /// Reader name → version, as the script reports them.
    pub versions: BTreeMap<String, String>,
    /// zxing-cpp per image.
    pub zxing: Vec<Reading>,
    /// zbar per image, when pyzbar is installed.
    pub zbar: Option<Vec<Reading>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScriptImage {
    file: String,
    zxing: Vec<Decoded>,
    zxing_ms: f64,
    zbar: Option<Vec<Decoded>>,
    zbar_ms: Option<f64>,
}

#[derive(Deserialize)]
struct ScriptOutput {
    versions: BTreeMap<String, String>,
    results: Vec<ScriptImage>,
}

/// The reference script in a corpus directory.
pub fn reference_script(dir: &Path) -> PathBuf {
    dir.join("read_reference.py")
}

/// Runs zxing-cpp (and zbar when available) over the whole corpus in ONE Python process.
pub fn read_reference(dir: &Path, manifest: &Manifest) -> Result<ReferenceRun, PhotoError> {
    let output = Command::new("python3")
        .arg(reference_script(dir))
        .arg(dir.join("manifest.json"))
        .output()
        .map_err(|e| PhotoError::Reference(format!("python3: {e}")))?;
    if !output.status.success() {
        return Err(PhotoError::Reference(format!(
            "{}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let parsed: ScriptOutput = serde_json::from_slice(&output.stdout)
        .map_err(|e| PhotoError::Malformed { what: "reference readers' output", message: e.to_string() })?;
    if parsed.results.len() != manifest.images.len()
        || parsed.results.iter().zip(&manifest.images).any(|(r, e)| r.file != e.file)
    {
        return Err(PhotoError::Malformed {
            what: "reference readers' output",
            message: "images do not match the manifest".into(),
        });
    }
    let zbar = parsed
        .results
        .iter()
        .map(|r| Some(Reading { found: r.zbar.clone()?, millis: r.zbar_ms? }))
        .collect::<Option<Vec<_>>>();
    let zxing = parsed.results.into_iter().map(|r| Reading { found: r.zxing, millis: r.zxing_ms }).collect();
    Ok(ReferenceRun { versions: parsed.versions, zxing, zbar })
}

/// Images read per category (and `all`), ours beside the reference readers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Category name, or `all`.
    pub category: String,
    /// Images in it.
    pub images: usize,
    /// Read by our scanner.
    pub ours: usize,
    /// Read by zxing-cpp.
    pub zxing: usize,
    /// Read by zbar (when it ran).
    pub zbar: Option<usize>,
}

/// Counts, per category in manifest order and then for the whole corpus, what each reader
/// read.
pub fn tally(manifest: &Manifest, ours: &[Reading], reference: &ReferenceRun) -> Vec<Tally> {
    let mut order: Vec<String> = Vec::new();
    for entry in &manifest.images {
        if !order.contains(&entry.category) {
            order.push(entry.category.clone());
        }
    }
    order.push("all".into());
    order
        .into_iter()
        .map(|category| {
            let mut t = Tally {
                category: category.clone(),
                images: 0,
                ours: 0,
                zxing: 0,
                zbar: reference.zbar.as_ref().map(|_| 0),
            };
            for (i, entry) in manifest.images.iter().enumerate() {
                if category != "all" && entry.category != category {
                    continue;
                }
                t.images += 1;
                t.ours += usize::from(ours.get(i).is_some_and(|r| entry.read_by(r)));
                t.zxing += usize::from(reference.zxing.get(i).is_some_and(|r| entry.read_by(r)));
                if let (Some(count), Some(zbar)) = (t.zbar.as_mut(), reference.zbar.as_ref()) {
                    *count += usize::from(zbar.get(i).is_some_and(|r| entry.read_by(r)));
                }
            }
            t
        })
        .collect()
}

/// The median of decode times in milliseconds (0 for none).
pub fn median_millis(readings: &[Reading]) -> f64 {
    let mut times: Vec<f64> = readings.iter().map(|r| r.millis).collect();
    times.sort_by(f64::total_cmp);
    match times.len() {
        0 => 0.0,
        n if n % 2 == 1 => times[n / 2],
        n => (times[n / 2 - 1] + times[n / 2]) / 2.0,
    }
}

/// A plain-text table of tallies: category, images, ours, zxing-cpp, zbar.
pub fn table(tallies: &[Tally]) -> String {
    let mut out =
        format!("{:<14} {:>6} {:>6} {:>9} {:>6}\n", "category", "images", "ours", "zxing-cpp", "zbar");
    for t in tallies {
        let zbar = t.zbar.map_or_else(|| "-".to_string(), |z| z.to_string());
        out.push_str(&format!(
            "{:<14} {:>6} {:>6} {:>9} {:>6}\n",
            t.category, t.images, t.ours, t.zxing, zbar
        ));
    }
    out
}
