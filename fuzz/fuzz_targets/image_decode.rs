//! PNG/JPEG decoding and QR scanning of arbitrary bytes.
#![no_main]
use std::sync::Once;

use libfuzzer_sys::fuzz_target;
use plusbox_companion::scan::{scan_bytes, scan_frame, ScanOptions};

static HOOK: Once = Once::new();

/// rqrr can panic on degenerate grids; `scan` catches that on purpose and reports "nothing
/// found". libFuzzer's hook would abort on the caught panic, so let panics located in rqrr pass
/// to the normal hook (they unwind into our catch) and keep aborting on every other panic.
fn tolerate_caught_rqrr_panics() {
    HOOK.call_once(|| {
        let fuzzer_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_rqrr = info.location().is_some_and(|l| l.file().contains("/rqrr-"));
            if !in_rqrr {
                fuzzer_hook(info);
            }
        }));
    });
}

fuzz_target!(|data: &[u8]| {
    tolerate_caught_rqrr_panics();
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
