//! Our scanner against zxing-cpp and zbar on the committed camera-photo corpus
//! (`tests/corpus/photos`), the reference readers run in process by one Python process.
//! Needs `python3 -m pip install zxing-cpp pyzbar pillow` (scripts/test.sh installs them).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use plusbox_companion::photos::{self, Tally};
use plusbox_companion::scan::ScanOptions;

/// Every pass runs: a budget this large never cuts the search short, so the result does not
/// depend on how fast or busy the machine is.
fn unbounded() -> ScanOptions {
    ScanOptions { try_harder: true, budget: Duration::from_secs(60) }
}

/// Images of each category (and of `all`) our scanner must read at least: zxing-cpp's count
/// in the same run, or — where we are still behind — the floor measured when this was written,
/// so a regression fails while the gap stays visible in the printed table.
fn floor(tally: &Tally) -> usize {
    let measured_behind: &[(&str, usize)] = &[];
    measured_behind
        .iter()
        .find(|(c, _)| *c == tally.category)
        .map_or(tally.zxing, |(_, f)| (*f).min(tally.zxing))
}

#[test]
fn our_scanner_reads_at_least_as_many_photos_as_zxing_cpp_per_category() {
    let dir = Path::new(photos::DEFAULT_DIR);
    let manifest = photos::load(dir).unwrap();
    assert!(manifest.images.len() >= 200, "the corpus has {} images", manifest.images.len());
    let reference = photos::read_reference(dir, &manifest).unwrap();
    let ours = photos::read_ours(dir, &manifest, &unbounded()).unwrap();
    let tallies = photos::tally(&manifest, &ours, &reference);
    println!("{}", photos::table(&tallies));
    println!("reference readers: {:?}", reference.versions);
    for tally in &tallies {
        assert!(tally.images >= 20 || tally.category == "all", "category {} is too small", tally.category);
        assert!(
            tally.ours >= floor(tally),
            "{}: ours {} < required {} (zxing-cpp {})\n{}",
            tally.category,
            tally.ours,
            floor(tally),
            tally.zxing,
            photos::table(&tallies)
        );
    }
}

#[test]
fn non_utf8_photos_are_reported_with_their_bytes() {
    let dir = Path::new(photos::DEFAULT_DIR);
    let manifest = photos::load(dir).unwrap();
    let entries: Vec<_> = manifest.images.iter().filter(|e| e.category == "non-utf8").cloned().collect();
    assert!(entries.iter().any(|e| e.text.is_none()), "the corpus has binary codes");
    assert!(entries.iter().any(|e| e.text.is_some()), "the corpus has Shift_JIS codes");
    let subset = photos::Manifest { images: entries.clone(), ..manifest };
    let ours = photos::read_ours(dir, &subset, &unbounded()).unwrap();
    for (entry, reading) in entries.iter().zip(&ours) {
        if let Some(found) = reading.found.iter().find(|d| d.bytes_hex == entry.bytes_hex) {
            // Binary content has no text; Shift_JIS content reads as its Japanese text.
            assert_eq!(found.text, entry.text, "{}", entry.file);
        }
    }
    let read = entries.iter().zip(&ours).filter(|(e, r)| e.read_by(r)).count();
    assert!(read * 10 >= entries.len() * 9, "only {read} of {} non-UTF-8 photos read", entries.len());
}

#[test]
fn a_large_code_under_strong_perspective_is_read_by_fitting_its_finder_patterns() {
    // dense-03: a version-18 code at about 3 px per module, tilted so hard that rqrr finds no
    // grid in any pass; zxing-cpp reads it.
    let dir = Path::new(photos::DEFAULT_DIR);
    let manifest = photos::load(dir).unwrap();
    let entry = manifest.images.iter().find(|e| e.file == "images/dense-03.jpg").unwrap();
    let image = plusbox_companion::scan::load_image(&std::fs::read(dir.join(&entry.file)).unwrap()).unwrap();
    assert!(plusbox_companion::scan::scan_image(&image, &ScanOptions::fast()).is_empty());
    let found = plusbox_companion::scan::scan_image(&image, &unbounded());
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].pass, "finder-fit");
    assert_eq!(found[0].version, 18);
    assert_eq!(found[0].bytes_hex(), entry.bytes_hex);
}
