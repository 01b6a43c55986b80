//! Duplicate JSON keys in a peer's body (issue 9): `lenient::parse_checked` reads any JSON the way
//! `serde_json` does and names every key sent twice; intake records it as a finding, and strict
//! intake refuses it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use plusbox_core::protocol::lenient::{self, FindingKind, ParseOptions};
use plusbox_core::protocol::{InquiryPaymentRequest, Problem};
use proptest::prelude::*;
use serde_json::Value;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        "[a-z0-9 ]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-c]{1,2}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn without_repeats_it_reads_exactly_what_serde_json_reads(value in json_value()) {
        let text = value.to_string();
        let (parsed, duplicates) = lenient::parse_checked(text.as_bytes()).unwrap();
        prop_assert_eq!(parsed, serde_json::from_str::<Value>(&text).unwrap());
        prop_assert!(duplicates.is_empty());
    }

    #[test]
    fn a_repeated_key_is_named_and_the_last_value_wins(value in json_value(), first in "[a-z]{1,6}", last in "[a-z]{1,6}") {
        let inner = value.to_string();
        let text = format!(r#"{{"outer":{{"k":"{first}","mid":{inner},"k":"{last}"}}}}"#);
        let (parsed, duplicates) = lenient::parse_checked(text.as_bytes()).unwrap();
        prop_assert_eq!(&parsed["outer"]["k"], &Value::String(last));
        prop_assert_eq!(duplicates, vec!["outer.k".to_string()]);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = lenient::parse_checked(&bytes);
    }
}

#[test]
fn intake_records_a_duplicate_and_strict_intake_refuses_it() {
    let body = br#"{"paymentRequestId":"a","paymentRequestId":"b"}"#;
    let parsed = lenient::parse::<InquiryPaymentRequest>(body, ParseOptions::lenient()).unwrap();
    assert_eq!(parsed.value.payment_request_id.as_deref(), Some("b"));
    assert_eq!(parsed.findings[0].path, "paymentRequestId");
    assert_eq!(parsed.findings[0].kind, FindingKind::DuplicateKey);
    let error = lenient::parse::<InquiryPaymentRequest>(body, ParseOptions::strict()).unwrap_err();
    assert_eq!(error.path, "paymentRequestId");
    assert_eq!(error.problem, Problem::DuplicateKey);
    assert!(error.to_string().contains("more than once"), "{error}");
}
