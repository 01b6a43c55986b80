//! Inputs the fuzzers found. Each must scan to a result (usually "nothing found") without a
//! panic escaping `scan`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use plusbox_companion::scan::{scan_bytes, scan_frame, ScanOptions};

/// A raw frame on which rqrr panics in `geometry.rs` (found by the `image_decode` target);
/// `scan_frame` must catch it and report nothing.
#[test]
fn rqrr_geometry_panic_is_contained() {
    let data = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/fuzz-rqrr-geometry-panic.bin"))
        .unwrap();
    assert!(scan_bytes(&data, &ScanOptions::fast()).is_err(), "not an image file");
    let width = 16 + u32::from(data[0] % 48);
    let height = (data.len() as u32 - 1) / width;
    let frame = &data[1..1 + (width * height) as usize];
    let found = scan_frame(width, height, frame, &ScanOptions::fast()).unwrap();
    assert!(found.is_empty(), "{found:?}");
}
