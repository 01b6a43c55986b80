//! Property tests of the retry passes (zoom, finder-fit and the rest): however a frame looks —
//! random pixels, blocks of finder-like rings, a real code with pixels overwritten — scanning
//! with every pass and the camera path's turn never panic, and found codes have bounds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use image::{GrayImage, Luma};
use plusbox_companion::scan::{self, FrameScanner, ScanOptions};
use proptest::prelude::*;

fn every_pass() -> ScanOptions {
    ScanOptions { try_harder: true, budget: Duration::from_secs(5) }
}

/// Draws a finder pattern (7×7 modules of `module` px) with its top-left at (x, y).
fn finder(image: &mut GrayImage, x: u32, y: u32, module: u32) {
    for dy in 0..7 * module {
        for dx in 0..7 * module {
            let ring = ((dx / module) as i32 - 3).abs().max(((dy / module) as i32 - 3).abs());
            if x + dx < image.width() && y + dy < image.height() {
                image.put_pixel(x + dx, y + dy, Luma([if ring == 2 { 230 } else { 20 }]));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn random_frames_never_panic(w in 1u32..200, h in 1u32..200, seed in any::<u64>()) {
        let mut state = seed | 1;
        let image = GrayImage::from_fn(w, h, |_, _| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            Luma([(state >> 56) as u8])
        });
        let _ = scan::scan_image(&image, &every_pass());
        let mut scanner = FrameScanner::new();
        for _ in 0..scan::EXTRA_PASSES {
            scanner.scan(w, h, image.as_raw()).unwrap();
        }
    }

    #[test]
    fn frames_of_scattered_finder_patterns_never_panic(
        places in proptest::collection::vec((0u32..300, 0u32..220, 1u32..6), 0..9),
        background in 100u8..250,
    ) {
        let mut image = GrayImage::from_pixel(320, 240, Luma([background]));
        for (x, y, module) in places {
            finder(&mut image, x, y, module);
        }
        for code in scan::scan_image(&image, &every_pass()) {
            prop_assert!(code.bounds.iter().all(|[x, y]| x.abs() < 100_000 && y.abs() < 100_000));
        }
        let mut scanner = FrameScanner::new();
        for _ in 0..scan::EXTRA_PASSES {
            scanner.scan(320, 240, image.as_raw()).unwrap();
        }
    }

    #[test]
    fn damaged_codes_never_panic_and_decode_right_or_not_at_all(
        writes in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..400),
        module in 1u32..5,
    ) {
        let text = "251001020123456789012345";
        let code = plusbox_companion::render::qr_image(text, module).unwrap();
        let mut image = GrayImage::from_pixel(code.width() + 60, code.height() + 40, Luma([200]));
        image::imageops::overlay(&mut image, &code, 30, 20);
        let len = image.as_raw().len();
        let mut raw = image.into_raw();
        for (index, value) in writes {
            raw[index.index(len)] = value;
        }
        let image = GrayImage::from_raw(code.width() + 60, code.height() + 40, raw).unwrap();
        for found in scan::scan_image(&image, &every_pass()) {
            // Error correction either recovers the content or reports nothing.
            prop_assert_eq!(found.text, text);
        }
    }
}
