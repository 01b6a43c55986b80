//! Behaviour of `plusbox_core::protocol`: round trips of every reference example body, the wire
//! rules (strings only, omitted optionals, unknown fields kept), lenient intake with hygiene
//! findings, error paths, validation and instants.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::PathBuf;

use plusbox_core::money::{Amount, Currency};
use plusbox_core::protocol::lenient::{self, FindingKind, HygieneFinding, JsonKind, ParseOptions};
use plusbox_core::protocol::time::{format_instant, format_instant_at, parse_instant, parse_request_time};
use plusbox_core::protocol::{
    paths, ApiMessage, CancelPaymentRequest, CancelPaymentResponse, FieldError, InStoreScenario,
    InquiryPaymentRequest, InquiryPaymentResponse, NotifyPaymentRequest, NotifyPaymentResponse, PayRequest,
    PayResponse, Problem, RefundRequest, RefundResponse, UserInitiatedPayRequest, UserInitiatedPayResponse,
    Validate, WireAmount, WireBool, WireResult,
};
use plusbox_core::result_code::{ResultCode, Status};
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use time::macros::datetime;

fn fixture(name: &str) -> Vec<u8> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "data", "protocol", name].iter().collect();
    fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// parse (strictly: the examples are clean) → serialize → parse; the serialized JSON equals the
/// original JSON (member order aside) and the second parse equals the first.
fn round_trip<T>(name: &str) -> T
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    let bytes = fixture(name);
    let original: Value = serde_json::from_slice(&bytes).unwrap();
    let parsed =
        lenient::parse::<T>(&bytes, ParseOptions::strict()).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(parsed.findings.is_empty(), "{name}: {:?}", parsed.findings);
    let out = serde_json::to_value(&parsed.value).unwrap();
    assert_eq!(out, original, "{name}");
    let again: T = lenient::parse(&serde_json::to_vec(&out).unwrap(), ParseOptions::strict()).unwrap().value;
    assert_eq!(again, parsed.value, "{name}");
    // Plain serde_json reads the same value.
    assert_eq!(serde_json::from_slice::<T>(&bytes).unwrap(), parsed.value, "{name}");
    parsed.value
}

fn parse_err<T: DeserializeOwned + Validate + std::fmt::Debug>(body: Value) -> FieldError {
    lenient::parse_request::<T>(&serde_json::to_vec(&body).unwrap(), ParseOptions::lenient()).unwrap_err()
}

fn upm_pay() -> Value {
    serde_json::from_slice(&fixture("pay_request_upm.json")).unwrap()
}

// ---- Round trips of the reference examples (alipayplus-api.md §4, §5, §7, §9, §10, §11). ----

#[test]
fn reference_pay_request_upm() {
    let pay: PayRequest = round_trip("pay_request_upm.json");
    assert_eq!(pay.payment_request_id, "pay_1089760038715669_102775745075669");
    assert_eq!(pay.scenario(), Some(InStoreScenario::PaymentCode));
    assert_eq!(pay.payment_factor.as_ref().unwrap().is_in_store_payment, Some(WireBool::TRUE));
    assert_eq!(pay.order.merchant.as_ref().unwrap().merchant_mcc.as_deref(), Some("1234"));
    assert_eq!(pay.payment_amount.to_amount().unwrap(), Amount::from_minor(Currency::HKD, 50000));
    pay.validate().unwrap();
}

#[test]
fn reference_pay_responses() {
    let ok: PayResponse = round_trip("pay_response_success.json");
    assert_eq!(ok.result.known_code(), Some(ResultCode::Success));
    assert_eq!(ok.wallet_brand_name.as_deref(), Some("AlipayHK"));
    ok.validate().unwrap();
    let pending: PayResponse = round_trip("pay_response_in_process.json");
    assert_eq!(pending.result, WireResult::from_code(ResultCode::PaymentInProcess));
    let order_code: PayResponse = round_trip("pay_response_order_code.json");
    let form = order_code.order_code_form.unwrap();
    let details = form.code_details.unwrap();
    assert_eq!(details.len(), 4);
    assert_eq!(details[1].display_type.as_deref(), Some("BIGIMAGE"));
}

#[test]
fn reference_inquiry() {
    let req: InquiryPaymentRequest = round_trip("inquiry_payment_request.json");
    req.validate().unwrap();
    let resp: InquiryPaymentResponse = round_trip("inquiry_payment_response.json");
    assert_eq!(resp.result.result_status, Status::Success);
    assert_eq!(resp.payment_result.unwrap().known_code(), Some(ResultCode::PaymentInProcess));
}

#[test]
fn reference_refund_request() {
    let req: RefundRequest = round_trip("refund_request.json");
    req.validate().unwrap();
    assert_eq!(req.refund_reason.as_deref(), Some("partial return"));
}

#[test]
fn reference_notify_and_ack() {
    let notify: NotifyPaymentRequest = round_trip("notify_payment_request.json");
    // The published push-mode sample omits acquirerId, which §10 marks REQUIRED.
    let err = notify.validate().unwrap_err();
    assert_eq!(err.path, "acquirerId");
    assert_eq!(err.problem, Problem::Missing);
    let ack: NotifyPaymentResponse = round_trip("notify_payment_ack.json");
    assert_eq!(ack.result, WireResult::success());
    ack.validate().unwrap();
}

#[test]
fn reference_user_initiated_pay() {
    let req: UserInitiatedPayRequest = round_trip("user_initiated_pay_request.json");
    req.validate().unwrap();
    let resp: UserInitiatedPayResponse = round_trip("user_initiated_pay_response.json");
    resp.validate().unwrap();
    assert_eq!(resp.effective_amount().unwrap().value, "2500");
}

#[test]
fn plusbox_made_bodies_round_trip() {
    let cancel: CancelPaymentRequest = round_trip("cancel_payment_request.json");
    cancel.validate().unwrap();
    let cancel_resp: CancelPaymentResponse = round_trip("cancel_payment_response.json");
    cancel_resp.validate().unwrap();
    let refund_resp: RefundResponse = round_trip("refund_response.json");
    refund_resp.validate().unwrap();
    assert_eq!(refund_resp.settlement_quote.unwrap().quote_price.as_deref(), Some("7.8012"));
    let full: InquiryPaymentResponse = round_trip("inquiry_payment_response_full.json");
    full.validate().unwrap();
    assert_eq!(full.transactions.unwrap()[0].transaction_type.as_deref(), Some("REFUND"));
    let entry_resp: PayResponse = round_trip("pay_response_entry_code.json");
    entry_resp.validate().unwrap();

    let entry: PayRequest = round_trip("pay_request_entry_code_full.json");
    entry.validate().unwrap();
    assert_eq!(entry.scenario(), Some(InStoreScenario::EntryCode));
    // Unknown members at several depths survive (productCode is ignored but echoed, §4.2).
    assert_eq!(entry.extra.get("productCode"), Some(&json!("IN_STORE_PAYMENT")));
    let store = entry.order.merchant.as_ref().unwrap().store.as_ref().unwrap();
    assert_eq!(store.extra.get("storeFloor"), Some(&json!("2")));
    assert_eq!(entry.order.env.as_ref().unwrap().extra.get("browserInfo"), Some(&json!({"language": "id"})));
    assert_eq!(
        entry.payment_method.payment_method_meta_data.as_ref().unwrap()["paymentCodeRegion"],
        json!("ID")
    );
    assert_eq!(entry.allowed_psp_regions.as_deref(), Some(&["ID".to_owned(), "PH".to_owned()][..]));
}

// ---- Output wire rules. ----

fn assert_only_strings(v: &Value, path: &str) {
    match v {
        Value::Object(m) => m.iter().for_each(|(k, v)| assert_only_strings(v, &format!("{path}.{k}"))),
        Value::Array(a) => a.iter().for_each(|v| assert_only_strings(v, path)),
        Value::String(s) => assert!(!s.is_empty(), "{path} is an empty string"),
        other => panic!("{path} is {other}, not a string"),
    }
}

#[test]
fn output_has_only_non_empty_strings_and_omits_none() {
    let resp = PayResponse {
        result: WireResult::from_code(ResultCode::PaymentInProcess),
        acquirer_id: Some("1022172000000000001".into()),
        psp_id: None,
        payment_id: Some("20200101234567890130000".into()),
        payment_time: None,
        payment_amount: Some(Amount::from_minor(Currency::JPY, 100).to_wire()),
        customer_id: None,
        wallet_brand_name: None,
        payment_url: None,
        order_code_form: None,
        extra: Default::default(),
    };
    let v = serde_json::to_value(&resp).unwrap();
    assert_only_strings(&v, "");
    assert_eq!(
        v,
        json!({
            "result": {"resultCode": "PAYMENT_IN_PROCESS", "resultStatus": "U", "resultMessage": "payment in process"},
            "acquirerId": "1022172000000000001",
            "paymentId": "20200101234567890130000",
            "paymentAmount": {"currency": "JPY", "value": "100"}
        })
    );
    let text = serde_json::to_string(&resp).unwrap();
    assert!(!text.contains("null") && !text.contains("\"\""), "{text}");

    let entry: PayRequest = serde_json::from_slice(&fixture("pay_request_entry_code_full.json")).unwrap();
    assert_only_strings(&serde_json::to_value(&entry).unwrap(), "");
    let factor = serde_json::to_value(entry.payment_factor.unwrap()).unwrap();
    assert_eq!(factor["isInStorePayment"], json!("true"));
    assert_eq!(factor["isCashierPayment"], json!("false"));
}

#[test]
fn result_message_alias_and_unknown_codes() {
    let r: WireResult =
        serde_json::from_value(json!({"resultCode": "SUCCESS", "resultStatus": "S", "resultMsg": "ok"}))
            .unwrap();
    assert_eq!(r.result_message.as_deref(), Some("ok"));
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        json!({"resultCode": "SUCCESS", "resultStatus": "S", "resultMessage": "ok"})
    );
    let ack: NotifyPaymentResponse = lenient::parse(
        br#"{"result":{"resultCode":"SOMETHING_NEW","resultStatus":"F","resultMsg":"x"}}"#,
        ParseOptions::strict(),
    )
    .unwrap()
    .value;
    assert_eq!(ack.result.known_code(), None);
    assert_eq!(ack.result.result_code, "SOMETHING_NEW");
    assert_eq!(ack.result.result_status, Status::Failure);
    let bad =
        parse_err::<NotifyPaymentResponse>(json!({"result": {"resultCode": "SUCCESS", "resultStatus": "X"}}));
    assert_eq!(bad.path, "result.resultStatus");
    let r = WireResult::with_message(ResultCode::ParamIllegal, "paymentRequestId: required field is missing");
    assert_eq!(r.result_status, Status::Failure);
    assert!(r.is(ResultCode::ParamIllegal));
    assert_eq!(
        WireResult::from(ResultCode::OrderIsClosed).result_message.as_deref(),
        Some("order is closed")
    );
}

// ---- Lenient intake and hygiene findings. ----

#[test]
fn numbers_and_booleans_are_coerced_and_reported() {
    let mut body = upm_pay();
    body["paymentAmount"]["value"] = json!(50000);
    body["order"]["orderAmount"]["value"] = json!(50000);
    body["paymentFactor"]["isInStorePayment"] = json!(true);
    body["order"]["merchant"]["merchantMCC"] = json!(1234);
    body["order"]["goods"] = json!([{"goodsQuantity": 2}]);
    let bytes = serde_json::to_vec(&body).unwrap();

    let parsed = lenient::parse_request::<PayRequest>(&bytes, ParseOptions::lenient()).unwrap();
    let paths: Vec<&str> = parsed.findings.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "paymentAmount.value",
            "paymentFactor.isInStorePayment",
            "order.orderAmount.value",
            "order.merchant.merchantMCC",
            "order.goods[0].goodsQuantity"
        ]
    );
    assert_eq!(
        parsed.findings[0],
        HygieneFinding {
            path: "paymentAmount.value".into(),
            kind: FindingKind::Coerced { found: JsonKind::Number, original: "50000".into() }
        }
    );
    assert_eq!(
        parsed.findings[1].kind,
        FindingKind::Coerced { found: JsonKind::Boolean, original: "true".into() }
    );
    assert_eq!(
        serde_json::to_value(&parsed.findings[0]).unwrap(),
        json!({"path": "paymentAmount.value", "kind": "coerced", "found": "number", "original": "50000"})
    );
    assert_eq!(
        parsed.findings[0].to_string(),
        "paymentAmount.value: JSON number 50000 sent where a string is required"
    );
    // The coerced message serializes with strings only.
    let out = serde_json::to_value(&parsed.value).unwrap();
    assert_eq!(out["paymentAmount"]["value"], json!("50000"));
    assert_eq!(out["paymentFactor"]["isInStorePayment"], json!("true"));

    // Strict intake refuses the first one, naming it.
    let err = lenient::parse::<PayRequest>(&bytes, ParseOptions::strict()).unwrap_err();
    assert_eq!(err.path, "paymentAmount.value");
    assert_eq!(err.problem, Problem::NotAString { found: "number 50000".into() });
    assert_eq!(err.to_string(), "paymentAmount.value: must be a JSON string, found number 50000");
    assert_eq!(err.to_wire_result().result_code, "PARAM_ILLEGAL");
}

#[test]
fn empty_strings_are_errors_unless_permissive() {
    let mut body = upm_pay();
    body["paymentNotifyUrl"] = json!("");
    let err = parse_err::<PayRequest>(body.clone());
    assert_eq!(err, FieldError::new("paymentNotifyUrl", Problem::EmptyString));
    let parsed =
        lenient::parse::<PayRequest>(&serde_json::to_vec(&body).unwrap(), ParseOptions::permissive())
            .unwrap();
    assert_eq!(
        parsed.findings,
        [HygieneFinding { path: "paymentNotifyUrl".into(), kind: FindingKind::EmptyString }]
    );
    assert_eq!(parsed.value.payment_notify_url.as_deref(), Some(""));
    // validate() still refuses it.
    assert_eq!(parsed.value.validate().unwrap_err().problem, Problem::EmptyString);

    let mut body = upm_pay();
    body["order"]["merchant"]["store"]["storeName"] = json!("");
    assert_eq!(parse_err::<PayRequest>(body).path, "order.merchant.store.storeName");
}

#[test]
fn null_means_absent() {
    let mut body = upm_pay();
    body["paymentNotifyUrl"] = Value::Null;
    let parsed =
        lenient::parse_request::<PayRequest>(&serde_json::to_vec(&body).unwrap(), ParseOptions::strict())
            .unwrap();
    assert!(parsed.findings.is_empty());
    assert_eq!(parsed.value.payment_notify_url, None);
    let mut body = upm_pay();
    body["paymentRequestId"] = Value::Null;
    assert_eq!(parse_err::<PayRequest>(body), FieldError::new("paymentRequestId", Problem::Missing));
}

// ---- Error paths. ----

#[test]
fn missing_fields_name_their_path() {
    let mut body = upm_pay();
    body["order"]["orderAmount"].as_object_mut().unwrap().remove("value");
    assert_eq!(parse_err::<PayRequest>(body), FieldError::new("order.orderAmount.value", Problem::Missing));

    let mut body = upm_pay();
    body["order"]["merchant"]["store"].as_object_mut().unwrap().remove("referenceStoreId");
    let err = parse_err::<PayRequest>(body);
    assert_eq!(err, FieldError::new("order.merchant.store.referenceStoreId", Problem::Missing));
    assert_eq!(err.to_string(), "order.merchant.store.referenceStoreId: required field is missing");

    let mut body = upm_pay();
    body["order"]["merchant"].as_object_mut().unwrap().remove("store");
    assert_eq!(parse_err::<PayRequest>(body).path, "order.merchant.store");

    let mut body = upm_pay();
    body.as_object_mut().unwrap().remove("order");
    assert_eq!(parse_err::<PayRequest>(body), FieldError::new("order", Problem::Missing));

    let mut body = upm_pay();
    body["paymentMethod"].as_object_mut().unwrap().remove("paymentMethodId");
    assert_eq!(parse_err::<PayRequest>(body).path, "paymentMethod.paymentMethodId");

    let mut body = upm_pay();
    body.as_object_mut().unwrap().remove("paymentFactor");
    assert_eq!(parse_err::<PayRequest>(body).path, "paymentFactor");

    let mut body = upm_pay();
    body["paymentFactor"].as_object_mut().unwrap().remove("inStorePaymentScenario");
    assert_eq!(parse_err::<PayRequest>(body).path, "paymentFactor.inStorePaymentScenario");
}

#[test]
fn wrong_types_name_their_path() {
    let mut body = upm_pay();
    body["order"] = json!("abc");
    let err = parse_err::<PayRequest>(body);
    assert_eq!(err.path, "order");
    assert!(matches!(&err.problem, Problem::WrongType { found, .. } if found.contains("abc")), "{err}");

    // A coerced number in an object position reports the number, not the coerced string.
    let mut body = upm_pay();
    body["paymentAmount"] = json!(5);
    let err = parse_err::<PayRequest>(body);
    assert_eq!(err.path, "paymentAmount");
    assert!(matches!(&err.problem, Problem::WrongType { found, .. } if found == "number 5"), "{err}");

    let mut body = upm_pay();
    body["order"]["goods"] = json!([{"goodsName": "a"}, {"goodsUnitAmount": "x"}]);
    assert_eq!(parse_err::<PayRequest>(body).path, "order.goods[1].goodsUnitAmount");

    let mut body = upm_pay();
    body["allowedPspRegions"] = json!("HK");
    assert_eq!(parse_err::<PayRequest>(body).path, "allowedPspRegions");

    let mut body = upm_pay();
    body["paymentFactor"]["isInStorePayment"] = json!("TRUE");
    let err = parse_err::<PayRequest>(body);
    assert_eq!(err.path, "paymentFactor.isInStorePayment");
    assert!(err.to_string().contains("\"true\" or \"false\""), "{err}");

    let err = lenient::parse::<PayRequest>(b"{\"order\":", ParseOptions::lenient()).unwrap_err();
    assert_eq!(err.path, "");
    assert!(matches!(err.problem, Problem::Syntax(_)));
    assert!(err.to_string().starts_with("body: body is not valid JSON"), "{err}");

    let err = lenient::parse::<PayRequest>(b"[1]", ParseOptions::lenient()).unwrap_err();
    assert_eq!(err.problem, Problem::WrongType { expected: "a JSON object".into(), found: "array".into() });
}

#[test]
fn lengths_and_amounts_are_validated() {
    let mut body = upm_pay();
    body["paymentRequestId"] = json!("x".repeat(65));
    assert_eq!(
        parse_err::<PayRequest>(body),
        FieldError::new("paymentRequestId", Problem::TooLong { max: 64, len: 65 })
    );
    let mut body = upm_pay();
    body["paymentRequestId"] = json!("é".repeat(64)); // 64 characters, 128 bytes: fine
    lenient::parse_request::<PayRequest>(&serde_json::to_vec(&body).unwrap(), ParseOptions::strict())
        .unwrap();

    let mut body = upm_pay();
    body["order"]["orderDescription"] = json!("d".repeat(257));
    assert_eq!(parse_err::<PayRequest>(body).path, "order.orderDescription");

    let mut body = upm_pay();
    body["paymentAmount"]["value"] = json!("050000");
    let err = parse_err::<PayRequest>(body);
    assert_eq!(err.path, "paymentAmount.value");
    assert!(err.to_string().contains("^[1-9][0-9]*$"), "{err}");

    let mut body = upm_pay();
    body["paymentAmount"]["currency"] = json!("XYZ");
    assert_eq!(parse_err::<PayRequest>(body).path, "paymentAmount.currency");

    let mut body = upm_pay();
    body["paymentAmount"] = json!({"currency": "USD", "value": "50000"});
    let err = parse_err::<PayRequest>(body);
    assert_eq!(err.path, "paymentAmount.currency");
    assert!(err.to_string().contains("order.orderAmount.currency"), "{err}");

    let mut body = upm_pay();
    body["paymentAmount"] = json!({"currency": "IDR", "value": "1050"});
    body["order"]["orderAmount"] = json!({"currency": "IDR", "value": "1050"});
    let err = parse_err::<PayRequest>(body);
    assert_eq!(err.path, "paymentAmount.value");
    assert!(err.to_string().contains("end in 00"), "{err}");

    let mut body = upm_pay();
    body["paymentExpiryTime"] = json!("2020-01-01 12:00:00");
    assert_eq!(parse_err::<PayRequest>(body).path, "paymentExpiryTime");

    let mut body = upm_pay();
    body["order"]["env"]["storeTerminalRequestTime"] = json!("yesterday");
    assert_eq!(parse_err::<PayRequest>(body).path, "order.env.storeTerminalRequestTime");

    let mut body = upm_pay();
    body["paymentNotifyUrl"] = json!("acqp.example/notify");
    assert_eq!(parse_err::<PayRequest>(body).path, "paymentNotifyUrl");

    let mut body = upm_pay();
    body["order"]["merchant"]["merchantAddress"] = json!({"city": "HK"});
    assert_eq!(parse_err::<PayRequest>(body).path, "order.merchant.merchantAddress.region");
}

#[test]
fn scenario_rules() {
    let mut body = upm_pay();
    body["paymentFactor"]["inStorePaymentScenario"] = json!("OrderCode");
    body["paymentMethod"].as_object_mut().unwrap().remove("paymentMethodId");
    // Order Code needs env.userAgent, not a code.
    assert_eq!(parse_err::<PayRequest>(body.clone()).path, "order.env.userAgent");
    body["order"]["env"]["userAgent"] = json!("Mozilla/5.0");
    body["order"]["merchant"].as_object_mut().unwrap().remove("store");
    lenient::parse_request::<PayRequest>(&serde_json::to_vec(&body).unwrap(), ParseOptions::strict())
        .unwrap();

    body["paymentFactor"]["inStorePaymentScenario"] = json!("EntryCode");
    assert_eq!(parse_err::<PayRequest>(body.clone()).path, "order.merchant.store");

    body["paymentFactor"]["inStorePaymentScenario"] = json!("Cashier");
    let err = parse_err::<PayRequest>(body);
    assert_eq!(err.path, "paymentFactor.inStorePaymentScenario");

    let mut body = upm_pay();
    body["paymentFactor"]["isInStorePayment"] = json!("false");
    assert_eq!(parse_err::<PayRequest>(body).path, "paymentFactor.isInStorePayment");
}

#[test]
fn inquiry_cancel_refund_rules() {
    let err = parse_err::<InquiryPaymentRequest>(json!({}));
    assert_eq!(err.problem, Problem::MissingOneOf(&["paymentRequestId", "paymentId"]));
    assert_eq!(err.to_string(), "body: one of paymentRequestId, paymentId is required");
    parse_err::<CancelPaymentRequest>(json!({"paymentId": "p".repeat(65)}));
    let ok = lenient::parse_request::<CancelPaymentRequest>(
        br#"{"paymentId":"20200101234567890130000"}"#,
        ParseOptions::strict(),
    );
    assert!(ok.is_ok());

    let err = parse_err::<RefundRequest>(json!({"paymentId": "1", "refundRequestId": "r1"}));
    assert_eq!(err, FieldError::new("refundAmount", Problem::Missing));
    let err = parse_err::<RefundRequest>(
        json!({"refundRequestId": "r1", "refundAmount": {"currency": "HKD", "value": "1"}}),
    );
    assert!(matches!(err.problem, Problem::MissingOneOf(_)));
    let err = parse_err::<RefundRequest>(
        json!({"paymentId": "1", "refundRequestId": "r1", "refundAmount": {"currency": "HKD", "value": "0"}}),
    );
    assert_eq!(err.path, "refundAmount.value");
}

#[test]
fn notify_rules() {
    let body = json!({
        "paymentResult": {"resultCode": "PAYMENT_IN_PROCESS", "resultStatus": "U", "resultMessage": "payment in process"},
        "paymentRequestId": "p1", "acquirerId": "a1"
    });
    assert_eq!(parse_err::<NotifyPaymentRequest>(body).path, "paymentResult.resultStatus");
    let body = json!({
        "paymentResult": {"resultCode": "SUCCESS", "resultStatus": "S", "resultMessage": "success"},
        "paymentRequestId": "p1", "acquirerId": "a1", "paymentId": "x"
    });
    assert_eq!(parse_err::<NotifyPaymentRequest>(body).path, "pspId");
    let body = json!({
        "paymentResult": {"resultCode": "ORDER_IS_CLOSED", "resultStatus": "F", "resultMessage": "order is closed"},
        "paymentRequestId": "p1", "acquirerId": "a1"
    });
    lenient::parse_request::<NotifyPaymentRequest>(
        &serde_json::to_vec(&body).unwrap(),
        ParseOptions::strict(),
    )
    .unwrap();
}

#[test]
fn user_initiated_pay_response_needs_amount_when_successful() {
    let mut body: Value = serde_json::from_slice(&fixture("user_initiated_pay_response.json")).unwrap();
    let amount = body.as_object_mut().unwrap().remove("paymentAmount").unwrap();
    assert!(matches!(parse_err::<UserInitiatedPayResponse>(body.clone()).problem, Problem::MissingOneOf(_)));
    body["amount"] = amount;
    let parsed = lenient::parse_request::<UserInitiatedPayResponse>(
        &serde_json::to_vec(&body).unwrap(),
        ParseOptions::strict(),
    )
    .unwrap();
    assert_eq!(
        parsed.value.effective_amount(),
        Some(&WireAmount { currency: "HKD".into(), value: "2500".into() })
    );
    let err = parse_err::<UserInitiatedPayRequest>(json!({"codeValue": "c".repeat(513)}));
    assert_eq!(err.problem, Problem::TooLong { max: 512, len: 513 });
}

#[test]
fn api_paths() {
    assert_eq!(PayRequest::PATH, "/aps/api/v1/payments/pay");
    assert_eq!(<RefundRequest as ApiMessage>::PATH, paths::REFUND);
    assert_eq!(InquiryPaymentRequest::PATH, "/aps/api/v1/payments/inquiryPayment");
    assert_eq!(UserInitiatedPayRequest::PATH, "/aps/api/v1/payments/userInitiatedPay");
}

// ---- Instants. ----

#[test]
fn instants_parse_as_alipay_plus_writes_them() {
    assert_eq!(parse_instant("2020-01-01T12:01:01+08:30").unwrap(), datetime!(2020-01-01 12:01:01 +08:30));
    assert_eq!(parse_instant("2021-01-01T12:08:55Z").unwrap(), datetime!(2021-01-01 12:08:55 UTC));
    assert_eq!(parse_instant("2025-02-20T08:51:49.09Z").unwrap(), datetime!(2025-02-20 08:51:49.09 UTC));
    assert_eq!(parse_instant("2019-04-04T12:08:56+05:30").unwrap(), datetime!(2019-04-04 12:08:56 +05:30));
    assert_eq!(parse_instant("2019-05-28T12:12:12+0800").unwrap(), datetime!(2019-05-28 12:12:12 +08:00));
    assert_eq!(parse_instant("2025-05-18T19:06:30-07:00").unwrap(), datetime!(2025-05-18 19:06:30 -07:00));
    for bad in
        ["2020-01-01T12:01:01", "2020-01-01 12:01:01+08:00", "", "1577851261000", "2020-13-01T00:00:00Z"]
    {
        let err = parse_instant(bad).unwrap_err();
        assert_eq!(err.input, bad);
    }
    assert_eq!(parse_request_time("1740041509090").unwrap(), datetime!(2025-02-20 08:51:49.09 UTC));
    assert_eq!(parse_request_time("2025-02-20T08:51:49.09Z").unwrap(), datetime!(2025-02-20 08:51:49.09 UTC));
    assert!(parse_request_time("99999999999999999999999999999").is_err());
}

#[test]
fn instants_format_at_plus_eight_with_seconds() {
    assert_eq!(format_instant(datetime!(2025-02-20 08:51:49.09 UTC)), "2025-02-20T16:51:49+08:00");
    assert_eq!(format_instant(datetime!(2020-01-01 12:01:01 +08:30)), "2020-01-01T11:31:01+08:00");
    assert_eq!(format_instant(datetime!(2019-12-31 20:00:00 UTC)), "2020-01-01T04:00:00+08:00");
    assert_eq!(
        format_instant_at(datetime!(2020-01-01 00:00:00 UTC), time::macros::offset!(-05:30)),
        "2019-12-31T18:30:00-05:30"
    );
    assert_eq!(
        format_instant_at(datetime!(2020-01-01 00:00:00 UTC), time::UtcOffset::UTC),
        "2020-01-01T00:00:00+00:00"
    );
    // Round trip, at second precision.
    let t = datetime!(2024-02-29 23:59:59.999 UTC);
    assert_eq!(parse_instant(&format_instant(t)).unwrap(), datetime!(2024-02-29 23:59:59 UTC));
}

// ---- Never panic on hostile input. ----

proptest! {
    #[test]
    fn intake_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = lenient::parse::<PayRequest>(&bytes, ParseOptions::lenient());
        let _ = lenient::parse_request::<RefundRequest>(&bytes, ParseOptions::strict());
    }

    #[test]
    fn intake_never_panics_on_json(v in arb_json()) {
        let bytes = serde_json::to_vec(&v).unwrap();
        let _ = lenient::parse_request::<PayRequest>(&bytes, ParseOptions::lenient());
        let _ = lenient::parse_request::<InquiryPaymentRequest>(&bytes, ParseOptions::permissive());
        let _ = lenient::parse_request::<NotifyPaymentRequest>(&bytes, ParseOptions::lenient());
        let _ = lenient::parse_request::<UserInitiatedPayResponse>(&bytes, ParseOptions::lenient());
    }

    #[test]
    fn any_scalar_amount_value_is_coerced_with_a_finding(n in any::<u64>()) {
        let body = json!({"paymentId": "p", "refundRequestId": "r", "refundAmount": {"currency": "JPY", "value": n}});
        let parsed = lenient::parse::<RefundRequest>(&serde_json::to_vec(&body).unwrap(), ParseOptions::lenient()).unwrap();
        prop_assert_eq!(parsed.value.refund_amount.value, n.to_string());
        prop_assert_eq!(parsed.findings.len(), 1);
        prop_assert_eq!(parsed.findings[0].path.as_str(), "refundAmount.value");
    }

    #[test]
    fn instants_never_panic(s in ".{0,40}") {
        let _ = parse_instant(&s);
        let _ = parse_request_time(&s);
    }
}

/// Arbitrary JSON biased toward the field names of the messages.
fn arb_json() -> impl Strategy<Value = Value> {
    let keys = prop::sample::select(vec![
        "order",
        "paymentRequestId",
        "paymentAmount",
        "currency",
        "value",
        "paymentMethod",
        "paymentMethodType",
        "paymentMethodId",
        "paymentFactor",
        "isInStorePayment",
        "inStorePaymentScenario",
        "merchant",
        "store",
        "referenceStoreId",
        "referenceOrderId",
        "orderDescription",
        "orderAmount",
        "env",
        "goods",
        "paymentId",
        "paymentResult",
        "resultCode",
        "resultStatus",
        "result",
        "acquirerId",
        "x",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "[a-zA-Z0-9 .:+-]{0,12}".prop_map(Value::String),
        prop::sample::select(vec!["S", "F", "U", "true", "HKD", "PaymentCode", "100"]).prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

#[test]
fn millisecond_instants_keep_the_plusbox_offset_and_parse_back() {
    use plusbox_core::protocol::time::{format_instant_millis, parse_instant};
    let t = time::macros::datetime!(2025-02-20 08:51:49.09 UTC);
    let text = format_instant_millis(t);
    assert_eq!(text, "2025-02-20T16:51:49.090+08:00");
    assert_eq!(parse_instant(&text).unwrap(), t);
}
