//! Alipay+ MPM v3: GPLD payload and URL decoding; whatever decodes must re-encode to the same objects.
#![no_main]
use libfuzzer_sys::fuzz_target;
use plusbox_core::codes::gpld;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(payload) = gpld::decode_payload(text) {
            let encoded = gpld::encode_payload(&payload).expect("decoded payload re-encodes");
            assert_eq!(gpld::decode_payload(&encoded).expect("round trip"), payload);
        }
        let _ = gpld::decode_mpm_url(text);
        let _ = gpld::decode_mpm_url(&format!("HTTPS://QR.X.COM/MPM/3/{text}"));
    }
});
