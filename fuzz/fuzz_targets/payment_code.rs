//! Payment-code classifier and the wallet's identification of any scanned text.
#![no_main]
use libfuzzer_sys::fuzz_target;
use plusbox_core::codes::{identify_payment_code, identify_scanned, parse_payment_code, MpmContext};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let id = identify_payment_code(text);
        assert_eq!(id.valid, id.reason.is_none());
        let _ = parse_payment_code(text);
        let _ = identify_scanned(text, &MpmContext::default());
    }
});
