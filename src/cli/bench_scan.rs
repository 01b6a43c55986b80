//! `plusbox bench scan`: our QR scanner against zxing-cpp and zbar on the committed
//! camera-photo corpus — images read per category and median decode time per image, the
//! reference readers run in process by one Python process in the same run — and the camera
//! path's cost (`FrameScanner`) per 640×480 frame.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use plusbox_companion::photos;
use plusbox_companion::scan::{load_image, FrameScanner, ScanOptions};
use serde_json::json;

/// Options of `plusbox bench scan`.
#[derive(Debug, Args)]
pub struct ScanBenchArgs {
    /// The corpus directory (with manifest.json and read_reference.py).
    #[arg(long, default_value = photos::DEFAULT_DIR)]
    pub corpus: PathBuf,
    /// Time allowed per image for the retry passes, in milliseconds (the library default is
    /// what `plusbox scan` and the companion use).
    #[arg(long, default_value_t = ScanOptions::default().budget.as_millis() as u64)]
    pub budget_ms: u64,
    /// Passes over the corpus's 640×480 frames for the camera-path timing.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `plusbox bench scan`.
pub fn run(args: ScanBenchArgs) -> anyhow::Result<ExitCode> {
    let dir = args.corpus.as_path();
    let manifest = photos::load(dir)?;
    let reference = photos::read_reference(dir, &manifest)?;
    let options = ScanOptions { try_harder: true, budget: Duration::from_millis(args.budget_ms) };
    let ours = photos::read_ours(dir, &manifest, &options)?;
    let tallies = photos::tally(&manifest, &ours, &reference);
    let camera = camera_path(dir, &manifest, args.rounds)?;
    let medians = json!({
        "ours": photos::median_millis(&ours),
        "zxingCpp": photos::median_millis(&reference.zxing),
        "zbar": reference.zbar.as_deref().map(photos::median_millis),
    });
    if args.json {
        let categories: Vec<_> = tallies
            .iter()
            .map(|t| json!({"category": t.category, "images": t.images, "ours": t.ours, "zxingCpp": t.zxing, "zbar": t.zbar}))
            .collect();
        let out = json!({
            "budgetMs": args.budget_ms,
            "versions": reference.versions,
            "categories": categories,
            "medianMsPerImage": medians,
            "frameScanner640x480": {"medianMs": camera.median, "p90Ms": camera.p90, "frames": camera.frames,
                                    "noCodeMedianMs": camera.no_code_median, "noCodeP90Ms": camera.no_code_p90},
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "Camera-photo corpus: {} ({} images), retry budget {} ms",
        dir.display(),
        manifest.images.len(),
        args.budget_ms
    );
    println!("Reference readers (in process, one Python process): {:?}\n", reference.versions);
    println!("Images read per category:\n");
    print!("{}", photos::table(&tallies));
    println!(
        "\nMedian decode time per image (ms): ours {:.2}, zxing-cpp {:.2}, zbar {}",
        photos::median_millis(&ours),
        photos::median_millis(&reference.zxing),
        reference
            .zbar
            .as_deref()
            .map_or_else(|| "-".to_string(), |z| format!("{:.2}", photos::median_millis(z)))
    );
    println!(
        "Camera path (FrameScanner, 640×480 corpus frames as one stream, {} frames): median {:.2} ms, p90 {:.2} ms; frame without a code: median {:.2} ms, p90 {:.2} ms",
        camera.frames, camera.median, camera.p90, camera.no_code_median, camera.no_code_p90
    );
    Ok(ExitCode::SUCCESS)
}

/// Per-frame cost of the camera path, in milliseconds.
struct CameraPath {
    median: f64,
    p90: f64,
    frames: usize,
    no_code_median: f64,
    no_code_p90: f64,
}

/// Per-frame cost of the camera path: the corpus's 640×480 photos fed to one [`FrameScanner`]
/// as a stream (`rounds` times), and a plain noisy frame without a code.
fn camera_path(
    dir: &std::path::Path,
    manifest: &photos::Manifest,
    rounds: usize,
) -> anyhow::Result<CameraPath> {
    let mut frames = Vec::new();
    for entry in &manifest.images {
        let path = dir.join(&entry.file);
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let image = load_image(&bytes)?;
        if image.dimensions() == (640, 480) {
            frames.push(image);
        }
    }
    let mut scanner = FrameScanner::new();
    let mut times = Vec::new();
    for _ in 0..rounds.max(1) {
        for frame in &frames {
            let start = Instant::now();
            scanner.scan(frame.width(), frame.height(), frame.as_raw())?;
            times.push(start.elapsed());
        }
    }
    // A plain, noisy surface: the common case while a cashier aims the camera.
    let mut seed = 7u32;
    let blank: Vec<u8> = (0..640 * 480)
        .map(|i| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (150 + (i % 640) / 16 + (seed >> 16) % 9) as u8
        })
        .collect();
    let mut blank_times = Vec::new();
    for _ in 0..(frames.len() * rounds.max(1)).clamp(10, 200) {
        let start = Instant::now();
        scanner.scan(640, 480, &blank)?;
        blank_times.push(start.elapsed());
    }
    let (median, p90) = percentiles(&mut times);
    let (no_code_median, no_code_p90) = percentiles(&mut blank_times);
    Ok(CameraPath { median, p90, frames: times.len(), no_code_median, no_code_p90 })
}

fn percentiles(times: &mut [Duration]) -> (f64, f64) {
    if times.is_empty() {
        return (0.0, 0.0);
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(times[times.len() / 2]), ms(times[(times.len() * 9 / 10).min(times.len() - 1)]))
}
