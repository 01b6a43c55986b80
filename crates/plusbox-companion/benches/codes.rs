//! Payment-code scanning benchmark: decode time per 640×480 and 1280×720 frame with and
//! without a code, and detection rate per robustness-corpus category, beside `zbarimg` on the
//! same images in the same run.
//!
//! Run: `cargo bench -p plusbox-companion --bench codes` (env `PLUSBOX_BENCH_N` = samples per
//! category, default 40; `PLUSBOX_BENCH_ITERS` = timing iterations, default 60).
//! A plain harness rather than criterion: the report needs medians next to zbar's figures and
//! detection rates in one table, and the zbar side runs as a separate process anyway.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use image::{GrayImage, Luma};
use plusbox_companion::corpus::{self, Category, Rng};
use plusbox_companion::render::qr_image;
use plusbox_companion::scan::{scan_image, FrameScanner, ScanOptions};
use plusbox_companion::zbar;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn median(mut times: Vec<Duration>) -> (f64, f64) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (ms(times[times.len() / 2]), ms(times[times.len() * 9 / 10]))
}

/// A camera-like frame of the given size, with a code in the middle when `text` is given.
fn frame(width: u32, height: u32, text: Option<&str>, seed: u64) -> GrayImage {
    let mut rng = Rng::new(seed);
    let mut image = GrayImage::from_fn(width, height, |x, y| {
        Luma([(190.0 + 20.0 * ((x + y) as f32 / (width + height) as f32)) as u8])
    });
    for p in image.pixels_mut() {
        p[0] = (f32::from(p[0]) + 6.0 * rng.normal()).clamp(0.0, 255.0) as u8;
    }
    if let Some(text) = text {
        let module = (height / 100).max(3);
        let code = qr_image(text, module).unwrap();
        let (ox, oy) = ((width - code.width()) / 2, (height - code.height()) / 2);
        for (x, y, p) in code.enumerate_pixels() {
            let bg = image.get_pixel(ox + x, oy + y)[0];
            image.put_pixel(ox + x, oy + y, Luma([if p[0] < 128 { 30 } else { bg }]));
        }
    }
    image
}

fn main() {
    let per_category = env("PLUSBOX_BENCH_N", 40);
    let iterations = env("PLUSBOX_BENCH_ITERS", 60);
    let dir = tempfile::tempdir().unwrap();
    let zbar_ok = zbar::tools_available();
    if !zbar_ok {
        eprintln!("zbarimg not found: its column will be empty ({})", zbar::INSTALL_HINT);
    }

    println!("## Decode time per frame (median / p90, ms; {iterations} iterations)\n");
    println!("| frame | code | rqrr 1 pass | FrameScanner (stream) | rqrr try-harder (still image) | zbarimg (process) |");
    println!("|---|---|---|---|---|---|");
    let text = "251001020123456789012345";
    for (width, height) in [(640u32, 480u32), (1280, 720)] {
        for with_code in [true, false] {
            let image = frame(width, height, with_code.then_some(text), 7);
            let found = scan_image(&image, &ScanOptions::fast());
            assert_eq!(!found.is_empty(), with_code, "sanity: {width}x{height} code={with_code}");
            let time = |options: ScanOptions| {
                let times: Vec<Duration> = (0..iterations)
                    .map(|_| {
                        let start = Instant::now();
                        std::hint::black_box(scan_image(&image, &options));
                        start.elapsed()
                    })
                    .collect();
                median(times)
            };
            let (fast, fast90) = time(ScanOptions::fast());
            let (hard, hard90) = time(ScanOptions::default());
            let (stream, stream90) = {
                let mut scanner = FrameScanner::new();
                let times: Vec<Duration> = (0..iterations)
                    .map(|_| {
                        let start = Instant::now();
                        std::hint::black_box(scanner.scan(width, height, image.as_raw()).unwrap());
                        start.elapsed()
                    })
                    .collect();
                median(times)
            };
            let zbar_cell = if zbar_ok {
                let path = dir.path().join(format!("t{width}-{with_code}.png"));
                image.save(&path).unwrap();
                let times: Vec<Duration> = (0..iterations.min(20))
                    .map(|_| {
                        let start = Instant::now();
                        zbar::read_files(&[path.as_path()]).unwrap();
                        start.elapsed()
                    })
                    .collect();
                let (m, p90) = median(times);
                format!("{m:.2} / {p90:.2}")
            } else {
                "n/a".into()
            };
            println!(
                "| {width}×{height} | {} | {fast:.2} / {fast90:.2} | {stream:.2} / {stream90:.2} | {hard:.2} / {hard90:.2} | {zbar_cell} |",
                if with_code { "yes" } else { "no" }
            );
        }
    }

    println!("\n## Detection rate per corpus category ({per_category} frames each, 640×480)\n");
    let samples = corpus::generate(per_category, 2024);
    let mut paths: Vec<PathBuf> = Vec::new();
    for (index, sample) in samples.iter().enumerate() {
        let path = dir.path().join(format!("c{index:04}-{}.png", sample.category.name()));
        sample.image.save(&path).unwrap();
        paths.push(path);
    }
    let mut ours = vec![false; samples.len()];
    let mut times = Vec::new();
    for (index, sample) in samples.iter().enumerate() {
        let start = Instant::now();
        let found = scan_image(&sample.image, &ScanOptions::default());
        times.push(start.elapsed());
        ours[index] = found.iter().any(|f| f.text == sample.expected);
    }
    let mut theirs = vec![false; samples.len()];
    let mut zbar_total = Duration::ZERO;
    if zbar_ok {
        let refs: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
        let start = Instant::now();
        let symbols = zbar::read_files(&refs).unwrap();
        zbar_total = start.elapsed();
        for symbol in symbols {
            if samples.get(symbol.file).is_some_and(|s| s.expected == symbol.text) {
                theirs[symbol.file] = true;
            }
        }
    }
    println!("| category | plusbox (rqrr + passes) | zbarimg |");
    println!("|---|---|---|");
    for category in Category::ALL {
        let idx: Vec<usize> = (0..samples.len()).filter(|i| samples[*i].category == category).collect();
        let rate =
            |hits: &[bool]| idx.iter().filter(|i| hits[**i]).count() as f64 * 100.0 / idx.len().max(1) as f64;
        println!(
            "| {} | {:.1} % | {} |",
            category.name(),
            rate(&ours),
            if zbar_ok { format!("{:.1} %", rate(&theirs)) } else { "n/a".into() }
        );
    }
    let (m, p90) = median(times);
    println!(
        "\nCorpus decode time per frame: plusbox median {m:.2} ms, p90 {p90:.2} ms; zbarimg {:.2} ms per frame (one process over all {} frames).",
        zbar_total.as_secs_f64() * 1000.0 / samples.len().max(1) as f64,
        samples.len()
    );
}
