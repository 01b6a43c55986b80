//! Intake of the merchant-registration and customs bodies (alipayplus-api.md §13.1, §13.2): every input is either
//! accepted or refused with the path of the field at fault; nothing panics; a valid body survives
//! a round trip; each required field, when removed, is named.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use plusbox_core::protocol::lenient::{self, ParseOptions};
use plusbox_core::protocol::{
    DeclareRequest, InquireDeclarationRequestsRequest, InquiryRegistrationStatusRequest, RegistrationRequest,
};
use proptest::prelude::*;
use serde_json::{json, Value};

fn valid() -> Value {
    json!({
        "registrationRequestId": "reg-0001",
        "merchantInfo": {
            "referenceMerchantId": "M0001",
            "merchantDisplayName": "Cup Hu",
            "merchantMCC": "5812",
            "registrationDetail": {"legalName": "Cup Hu Ltd", "registrationType": "ENTERPRISE_REGISTRATION_NO", "registrationNo": "12345678"}
        },
        "storeInfo": {"referenceStoreId": "S0001", "storeName": "Cup Hu Central"},
        "productCodes": ["IN_STORE_PAYMENT"],
        "registrationNotifyUrl": "https://acqp.example/registration"
    })
}

fn refusal(body: &Value) -> String {
    lenient::parse_request::<RegistrationRequest>(body.to_string().as_bytes(), ParseOptions::lenient())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_else(|| "accepted".into())
}

/// Removes the field at a dotted path.
fn without(path: &str) -> Value {
    let mut body = valid();
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap();
    let mut node = &mut body;
    for part in parts {
        node = node.get_mut(part).unwrap();
    }
    node.as_object_mut().unwrap().remove(last);
    body
}

#[test]
fn a_valid_registration_is_accepted_and_round_trips() {
    let parsed =
        lenient::parse_request::<RegistrationRequest>(valid().to_string().as_bytes(), ParseOptions::strict())
            .unwrap();
    assert!(parsed.findings.is_empty());
    assert_eq!(serde_json::to_value(&parsed.value).unwrap(), valid());
}

#[test]
fn each_required_registration_field_is_named_when_missing() {
    for path in [
        "registrationRequestId",
        "merchantInfo.referenceMerchantId",
        "merchantInfo.merchantDisplayName",
        "merchantInfo.merchantMCC",
        "merchantInfo.registrationDetail",
        "merchantInfo.registrationDetail.legalName",
        "merchantInfo.registrationDetail.registrationType",
        "merchantInfo.registrationDetail.registrationNo",
        "storeInfo.referenceStoreId",
        "storeInfo.storeName",
        "productCodes",
    ] {
        assert_eq!(refusal(&without(path)), format!("{path}: required field is missing"), "{path}");
    }
    assert_eq!(
        refusal(&without("storeInfo")),
        "storeInfo: required when productCodes includes IN_STORE_PAYMENT"
    );
    // Without IN_STORE_PAYMENT the store is optional.
    let mut cashier = without("storeInfo");
    cashier["productCodes"] = json!(["CASHIER_PAYMENT"]);
    assert_eq!(refusal(&cashier), "accepted");
}

#[test]
fn bad_registration_values_are_refused_with_their_paths() {
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/productCodes", json!([]), "productCodes: at least one product code is required"),
        ("/productCodes", json!(["IN_STORE_PAYMENT", "BARTER"]), "productCodes[1]: \"BARTER\" is not a product code; one of CASHIER_PAYMENT, AGREEMENT_PAYMENT, IN_STORE_PAYMENT"),
        ("/productCodes", json!(["IN_STORE_PAYMENT", "IN_STORE_PAYMENT"]), "productCodes[1]: IN_STORE_PAYMENT is listed twice"),
        ("/productCodes", json!("IN_STORE_PAYMENT"), "productCodes: expected a sequence, found string"),
        ("/merchantInfo/merchantMCC", json!("58a2"), "merchantInfo.merchantMCC: \"58a2\" is not a four-digit merchant category code"),
        ("/merchantInfo/merchantMCC", json!("58123"), "merchantInfo.merchantMCC: too long: 5 characters, at most 4 allowed"),
        ("/storeInfo/referenceStoreId", json!("S".repeat(33)), "storeInfo.referenceStoreId: too long: 33 characters, at most 32 allowed"),
        ("/merchantInfo/referenceMerchantId", json!(""), "merchantInfo.referenceMerchantId: empty string is not allowed (omit the field instead)"),
        ("/registrationRequestId", json!("r".repeat(65)), "registrationRequestId: too long: 65 characters, at most 64 allowed"),
        ("/registrationNotifyUrl", json!("ftp://acqp.example/n"), "registrationNotifyUrl: \"ftp://acqp.example/n\" is not an http(s) URL"),
        ("/passThroughInfo", json!("x".repeat(2049)), "passThroughInfo: too long: 2049 characters, at most 2048 allowed"),
        ("/merchantInfo/merchantAddress", json!({"region": "hk"}), "merchantInfo.merchantAddress.region: \"hk\" is not an ISO 3166 two-letter region code"),
        ("/merchantInfo", json!("M0001"), "merchantInfo: expected struct MerchantInfo, found string"),
    ];
    for (pointer, value, expected) in cases {
        let mut body = valid();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let target = if parent.is_empty() { &mut body } else { body.pointer_mut(parent).unwrap() };
        target[key] = value;
        let got = refusal(&body);
        assert!(got.starts_with(expected), "{pointer}: got {got:?}, want {expected:?}");
    }
}

#[test]
fn an_inquiry_needs_a_request_id_or_a_merchant() {
    let refuse = |body: Value| {
        lenient::parse_request::<InquiryRegistrationStatusRequest>(
            body.to_string().as_bytes(),
            ParseOptions::lenient(),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_else(|| "accepted".into())
    };
    assert_eq!(refuse(json!({})), "body: one of registrationRequestId, referenceMerchantId is required");
    assert_eq!(
        refuse(json!({"registrationRequestId": "reg-1", "referenceStoreId": "S1"})),
        "referenceMerchantId: referenceStoreId is given without the merchant it belongs to"
    );
    assert_eq!(refuse(json!({"referenceMerchantId": "M1", "referenceStoreId": "S1"})), "accepted");
    assert_eq!(refuse(json!({"registrationRequestId": "reg-1"})), "accepted");
}

/// A JSON value of any shape, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("registrationRequestId".to_string()),
                    Just("merchantInfo".to_string()),
                    Just("storeInfo".to_string()),
                    Just("productCodes".to_string()),
                    Just("referenceMerchantId".to_string()),
                    Just("referenceStoreId".to_string()),
                    "[a-zA-Z]{1,12}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every top-level field of a valid registration.
const FIELDS: &[&str] =
    &["registrationRequestId", "merchantInfo", "storeInfo", "productCodes", "registrationNotifyUrl"];

proptest! {
    #[test]
    fn registration_intake_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = lenient::parse_request::<RegistrationRequest>(&bytes, ParseOptions::lenient());
        let _ = lenient::parse_request::<InquiryRegistrationStatusRequest>(&bytes, ParseOptions::strict());
    }

    /// Any JSON at any top-level field of a valid registration: accepted, or refused naming that
    /// field (or a field under it), never another.
    #[test]
    fn a_refusal_names_the_field_that_was_changed(field in prop::sample::select(FIELDS), value in any_json()) {
        let mut body = valid();
        body[field] = value;
        let result = lenient::parse_request::<RegistrationRequest>(body.to_string().as_bytes(), ParseOptions::lenient());
        if let Err(error) = result {
            // A store made optional again can make storeInfo (the IN_STORE_PAYMENT rule) fail.
            let named = error.path.starts_with(field)
                || (field == "storeInfo" && error.path == "storeInfo")
                || (field == "productCodes" && error.path.starts_with("storeInfo"));
            prop_assert!(named, "changed {field}, refused {error}");
        }
    }

    /// Any JSON as an inquiry body: accepted only with one of the two ids.
    #[test]
    fn an_accepted_inquiry_names_a_registration(value in any_json()) {
        if let Ok(parsed) = lenient::parse_request::<InquiryRegistrationStatusRequest>(value.to_string().as_bytes(), ParseOptions::lenient()) {
            prop_assert!(parsed.value.registration_request_id.is_some() || parsed.value.reference_merchant_id.is_some());
        }
    }
}

// Customs declaration (§13.2).

fn declaration() -> Value {
    json!({
        "paymentRequestId": "pay-1",
        "customsDeclarationRequestId": "dec-1",
        "customs": {"customsCode": "HANGZHOU", "region": "CN"},
        "merchantCustomsInfo": {"merchantCustomsCode": "HZ-1", "merchantCustomsName": "Cup Hu Trading"},
        "declarationAmount": {"currency": "CNY", "value": "100"},
        "isSplit": "false"
    })
}

#[test]
fn a_valid_declaration_is_accepted_and_round_trips() {
    let parsed = lenient::parse_request::<DeclareRequest>(
        declaration().to_string().as_bytes(),
        ParseOptions::strict(),
    )
    .unwrap();
    assert_eq!(serde_json::to_value(&parsed.value).unwrap(), declaration());
    assert_eq!(parsed.value.amount().unwrap().value, 100);
}

/// Every top-level field of a valid declaration.
const DECLARE_FIELDS: &[&str] = &[
    "paymentRequestId",
    "customsDeclarationRequestId",
    "customs",
    "merchantCustomsInfo",
    "declarationAmount",
    "isSplit",
];

proptest! {
    #[test]
    fn declaration_intake_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = lenient::parse_request::<DeclareRequest>(&bytes, ParseOptions::lenient());
        let _ = lenient::parse_request::<InquireDeclarationRequestsRequest>(&bytes, ParseOptions::strict());
    }

    /// Any JSON at any top-level field of a valid declaration: accepted, or refused naming that
    /// field (or a field under it).
    #[test]
    fn a_declaration_refusal_names_the_field_that_was_changed(field in prop::sample::select(DECLARE_FIELDS), value in any_json()) {
        let mut body = declaration();
        body[field] = value;
        if let Err(error) = lenient::parse_request::<DeclareRequest>(body.to_string().as_bytes(), ParseOptions::lenient()) {
            prop_assert!(error.path.starts_with(field), "changed {field}, refused {error}");
        }
    }

    /// Any list of ids: accepted exactly when it holds 1 to 10 distinct non-empty ids of at most
    /// 64 characters.
    #[test]
    fn an_inquiry_is_accepted_exactly_within_the_id_rules(ids in prop::collection::vec("[a-c]{0,3}", 0..14)) {
        let body = json!({"declarationRequestIds": ids});
        let accepted = lenient::parse_request::<InquireDeclarationRequestsRequest>(body.to_string().as_bytes(), ParseOptions::lenient()).is_ok();
        let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
        let valid = (1..=10).contains(&ids.len()) && distinct.len() == ids.len() && ids.iter().all(|i| !i.is_empty());
        prop_assert_eq!(accepted, valid, "{:?}", ids);
    }
}
