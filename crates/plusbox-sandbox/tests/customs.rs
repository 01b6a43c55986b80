//! Customs declaration over HTTP (alipayplus-api.md §13.2, docs/registration-customs-disputes.md):
//! signed `declare` and `inquireDeclarationRequests` against the sandbox on an ephemeral port —
//! Alipay (CN) payments only, idempotency by `customsDeclarationRequestId`, the 10-id limit, the
//! status over sandbox time, and bad bodies with their field paths.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{pay_body, Answer, Harness};
use plusbox_core::money::{Amount, Currency};
use serde_json::{json, Value};

const DECLARE: &str = "/aps/api/v1/customs/declare";
const INQUIRE: &str = "/aps/api/v1/customs/inquireDeclarationRequests";

async fn post(h: &Harness, path: &str, body: &Value) -> Answer {
    h.call_raw(path, body.to_string().into_bytes(), |r| r).await
}

fn declaration(id: &str, payment_request_id: &str, value: &str) -> Value {
    json!({
        "paymentRequestId": payment_request_id,
        "customsDeclarationRequestId": id,
        "customs": {"customsCode": "HANGZHOU", "region": "CN"},
        "merchantCustomsInfo": {"merchantCustomsCode": "HZ-M0001", "merchantCustomsName": "Cup Hu Trading"},
        "declarationAmount": {"currency": "CNY", "value": value},
        "isSplit": "false",
        "referenceOrderId": "order-1"
    })
}

/// A paid CNY payment of an Alipay (CN) buyer (buyer-2 made an Alipay (CN) user).
async fn alipay_cn_payment(h: &Harness, id: &str, value: &str) {
    let store = h.sandbox.store();
    store.set_wallet("buyer-2", "ALIPAY_CN").unwrap();
    store
        .topup("buyer-2", &Amount::from_minor(Currency::from_code("CNY").unwrap(), 1_000_000), h.clock_now())
        .unwrap();
    let code = h.code("buyer-2");
    let paid = h.call("pay", &pay_body(id, &code, "CNY", value)).await;
    assert_eq!(paid.code(), "SUCCESS", "{}", paid.raw);
    assert_eq!(paid.body["pspId"], "1022088000000000001");
}

#[tokio::test]
async fn a_declaration_of_an_alipay_cn_payment_moves_from_waiting_to_success_over_sandbox_time() {
    let h = Harness::start().await;
    alipay_cn_payment(&h, "p-cn-1", "10000").await;
    let answer = post(&h, DECLARE, &declaration("dec-1", "p-cn-1", "10000")).await;
    assert_eq!(
        (answer.status, answer.status_letter(), answer.code()),
        (200, "S", "SUCCESS"),
        "{}",
        answer.raw
    );
    assert_eq!(answer.body["customsDeclarationRequestId"], "dec-1");
    let psp_id = answer.body["pspDeclarationRequestId"].as_str().unwrap().to_owned();

    let status = |answer: &Answer| {
        answer.body["declarationRecords"][0]["declarationRequestStatus"].as_str().unwrap().to_owned()
    };
    let ask = json!({"declarationRequestIds": ["dec-1", "dec-unknown"]});
    let first = post(&h, INQUIRE, &ask).await;
    assert_eq!(first.code(), "SUCCESS");
    assert_eq!(status(&first), "WAITING_FOR_PROCESSING");
    assert_eq!(first.body["declarationRequestsNotFound"], json!(["dec-unknown"]));
    let record = &first.body["declarationRecords"][0];
    assert_eq!(record["pspDeclarationRequestId"], psp_id.as_str());
    assert_eq!(record["declarationAmount"], json!({"currency": "CNY", "value": "10000"}));
    assert!(record.get("customsResultCode").is_none());

    h.advance(5 * 60);
    assert_eq!(status(&post(&h, INQUIRE, &ask).await), "PROCESSING");
    h.advance(5 * 60);
    let done = post(&h, INQUIRE, &ask).await;
    assert_eq!(status(&done), "SUCCESS");
    assert_eq!(done.body["declarationRecords"][0]["customsResultCode"], "2");
    assert!(done.body["declarationRecords"][0]["customsResultReturnedTime"].is_string());
}

#[tokio::test]
async fn a_merchant_customs_code_with_the_fail_marker_is_refused_by_customs() {
    let h = Harness::start().await;
    alipay_cn_payment(&h, "p-cn-f", "5000").await;
    let mut body = declaration("dec-f", "p-cn-f", "5000");
    body["merchantCustomsInfo"]["merchantCustomsCode"] = json!("HZ-FAIL-1");
    assert_eq!(post(&h, DECLARE, &body).await.code(), "SUCCESS");
    h.advance(10 * 60);
    let answer = post(&h, INQUIRE, &json!({"declarationRequestIds": ["dec-f"]})).await;
    assert_eq!(answer.body["declarationRecords"][0]["declarationRequestStatus"], "FAIL");
    assert_eq!(answer.body["declarationRecords"][0]["customsResultCode"], "100");
}

#[tokio::test]
async fn only_successful_alipay_cn_payments_are_declared() {
    let h = Harness::start().await;
    // buyer-1 pays with the Test Wallet.
    let code = h.code("buyer-1");
    assert_eq!(h.call("pay", &pay_body("p-test", &code, "USD", "1000")).await.code(), "SUCCESS");
    let refused = post(&h, DECLARE, &declaration("dec-t", "p-test", "1000")).await;
    assert_eq!((refused.status_letter(), refused.code()), ("F", "PROCESS_FAIL"), "{}", refused.raw);
    assert!(refused.body["result"]["resultMessage"].as_str().unwrap().contains("Alipay (CN)"));
    let unknown = post(&h, DECLARE, &declaration("dec-u", "p-none", "1000")).await;
    assert_eq!((unknown.status_letter(), unknown.code()), ("F", "ORDER_NOT_EXIST"));
    // More than the payment in total: refused; up to it, in parts: accepted.
    alipay_cn_payment(&h, "p-cn-2", "3000").await;
    assert_eq!(post(&h, DECLARE, &declaration("dec-a", "p-cn-2", "2000")).await.code(), "SUCCESS");
    let over = post(&h, DECLARE, &declaration("dec-b", "p-cn-2", "1001")).await;
    assert_eq!(over.code(), "PROCESS_FAIL", "{}", over.raw);
    assert_eq!(post(&h, DECLARE, &declaration("dec-c", "p-cn-2", "1000")).await.code(), "SUCCESS");
    // Refused declarations were not recorded.
    let answer = post(&h, INQUIRE, &json!({"declarationRequestIds": ["dec-t", "dec-u", "dec-b"]})).await;
    assert_eq!(answer.body["declarationRecords"], json!([]));
    assert_eq!(answer.body["declarationRequestsNotFound"], json!(["dec-t", "dec-u", "dec-b"]));
}

#[tokio::test]
async fn the_same_declaration_id_answers_the_same_or_repeat_req_inconsistent() {
    let h = Harness::start().await;
    alipay_cn_payment(&h, "p-cn-3", "8000").await;
    let first = post(&h, DECLARE, &declaration("dec-same", "p-cn-3", "8000")).await;
    let again = post(&h, DECLARE, &declaration("dec-same", "p-cn-3", "8000")).await;
    assert_eq!(again.code(), "SUCCESS");
    assert_eq!(
        again.body["pspDeclarationRequestId"], first.body["pspDeclarationRequestId"],
        "the first answer again"
    );
    let changed = post(&h, DECLARE, &declaration("dec-same", "p-cn-3", "7000")).await;
    assert_eq!((changed.status_letter(), changed.code()), ("F", "REPEAT_REQ_INCONSISTENT"));
}

#[tokio::test]
async fn malformed_declaration_bodies_get_param_illegal_with_the_field_path() {
    let h = Harness::start().await;
    let mut usd = declaration("dec-x", "p-1", "100");
    usd["declarationAmount"]["currency"] = json!("USD");
    let mut region = declaration("dec-x", "p-1", "100");
    region["customs"]["region"] = json!("HK");
    let mut no_name = declaration("dec-x", "p-1", "100");
    no_name["merchantCustomsInfo"].as_object_mut().unwrap().remove("merchantCustomsName");
    let mut split = declaration("dec-x", "p-1", "100");
    split["isSplit"] = json!("yes");
    let mut no_customs = declaration("dec-x", "p-1", "100");
    no_customs.as_object_mut().unwrap().remove("customs");
    let zero = declaration("dec-x", "p-1", "0");
    let eleven: Vec<String> = (0..11).map(|i| format!("dec-{i}")).collect();
    let cases: Vec<(&str, Value, &str)> = vec![
        (DECLARE, usd, "declarationAmount.currency: USD is not CNY"),
        (DECLARE, region, "customs.region: \"HK\": only the China customs (CN) take declarations"),
        (DECLARE, no_name, "merchantCustomsInfo.merchantCustomsName: required field is missing"),
        (DECLARE, split, "isSplit: \"yes\" is not \"true\" or \"false\""),
        (DECLARE, no_customs, "customs: required field is missing"),
        (DECLARE, zero, "declarationAmount.value: "),
        (
            INQUIRE,
            json!({"declarationRequestIds": eleven}),
            "declarationRequestIds: 11 ids; at most 10 per inquiry",
        ),
        (INQUIRE, json!({"declarationRequestIds": []}), "declarationRequestIds: at least one id is required"),
        (
            INQUIRE,
            json!({"declarationRequestIds": ["a", "a"]}),
            "declarationRequestIds[1]: \"a\" is listed twice",
        ),
        (INQUIRE, json!({"declarationRequestIds": "a"}), "declarationRequestIds: expected a sequence"),
        (INQUIRE, json!({}), "declarationRequestIds: required field is missing"),
    ];
    for (path, body, expected) in cases {
        let answer = post(&h, path, &body).await;
        assert_eq!(
            (answer.status, answer.status_letter(), answer.code()),
            (200, "F", "PARAM_ILLEGAL"),
            "{expected}: {}",
            answer.raw
        );
        let message = answer.body["result"]["resultMessage"].as_str().unwrap();
        assert!(message.starts_with(expected), "got {message:?}, want {expected:?}");
    }
    // Ten ids is the limit, not over it.
    let ten: Vec<String> = (0..10).map(|i| format!("dec-{i}")).collect();
    let answer = post(&h, INQUIRE, &json!({"declarationRequestIds": ten})).await;
    assert_eq!(answer.code(), "SUCCESS");
    assert_eq!(answer.body["declarationRequestsNotFound"].as_array().unwrap().len(), 10);
}
