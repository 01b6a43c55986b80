//! Property tests: image decoding and scanning never panic on arbitrary bytes or frames.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use plusbox_companion::scan::{self, ScanOptions};
use proptest::prelude::*;

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";
const JPEG_MAGIC: &[u8] = b"\xff\xd8\xff\xe0";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn decoding_random_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = scan::load_image(&bytes);
        let mut png = PNG_MAGIC.to_vec();
        png.extend_from_slice(&bytes);
        let _ = scan::scan_bytes(&png, &ScanOptions::fast());
        let mut jpeg = JPEG_MAGIC.to_vec();
        jpeg.extend_from_slice(&bytes);
        let _ = scan::scan_bytes(&jpeg, &ScanOptions::fast());
    }

    #[test]
    fn corrupting_a_real_png_never_panics(flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let image = plusbox_companion::render::qr_image("251001020123456789012345", 3).unwrap();
        let mut bytes = plusbox_companion::render::png_bytes(&image).unwrap();
        for (index, value) in flips {
            let i = index.index(bytes.len());
            bytes[i] = value;
        }
        let _ = scan::scan_bytes(&bytes, &ScanOptions::default());
    }

    #[test]
    fn random_frames_never_panic(width in 1u32..80, height in 1u32..80, seed in any::<u64>(), short in any::<bool>()) {
        let mut state = seed | 1;
        let len = (width * height) as usize - usize::from(short);
        let data: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        let result = scan::scan_frame(width, height, &data, &ScanOptions::default());
        prop_assert_eq!(result.is_err(), short);
    }
}
