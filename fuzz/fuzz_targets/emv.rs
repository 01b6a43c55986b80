//! EMVCo MPM decoding; whatever decodes must re-encode to the identical text when 63 is last.
#![no_main]
use libfuzzer_sys::fuzz_target;
use plusbox_core::codes::emv;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(payload) = emv::decode(text) {
            if payload.warnings.is_empty() {
                assert_eq!(emv::encode(&payload.objects).expect("re-encodes"), text);
            }
        }
    }
});
