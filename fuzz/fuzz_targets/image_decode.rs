//! PNG/JPEG decoding and QR scanning of arbitrary bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use plusbox_companion::scan::{scan_bytes, scan_frame, ScanOptions};

fuzz_target!(|data: &[u8]| {
    let _ = scan_bytes(data, &ScanOptions::fast());
    // The same bytes as a raw frame of a plausible shape.
    if data.len() >= 64 {
        let width = 16 + u32::from(data[0] % 48);
        let height = (data.len() as u32 - 1) / width;
        if height > 0 {
            let _ = scan_frame(width, height, &data[1..1 + (width * height) as usize], &ScanOptions::fast());
        }
    }
});
