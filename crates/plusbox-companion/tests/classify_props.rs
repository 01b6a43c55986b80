//! Outside input the companion parses never panics: scanned QR contents (any bytes), pairing
//! links and codes as typed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use plusbox_companion::classify::classify;
use plusbox_companion::commands::{pairing_token_of, ScannedKind};
use proptest::prelude::*;

proptest! {
    #[test]
    fn any_scanned_bytes_get_a_kind_title_and_explanation(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let code = classify(&bytes);
        prop_assert!(!code.title.is_empty() && !code.explanation.is_empty());
        prop_assert_eq!(code.kind == ScannedKind::Binary, std::str::from_utf8(&bytes).is_err());
    }

    #[test]
    fn any_scanned_text_is_classified(text in "\\PC{0,200}") {
        let code = classify(text.as_bytes());
        prop_assert_eq!(code.text.as_deref(), Some(text.as_str()));
    }

    #[test]
    fn a_link_token_survives_any_prefix_and_suffix(prefix in "[a-z:/.0-9]{0,30}", token in "pair_[A-Za-z0-9]{40}", suffix in "(&[a-z=]{0,10})?") {
        let link = format!("{prefix}#pair={token}{suffix}");
        prop_assert_eq!(pairing_token_of(&link), token);
    }

    #[test]
    fn typed_codes_never_panic(text in "\\PC{0,100}") {
        let _ = pairing_token_of(&text);
    }
}
