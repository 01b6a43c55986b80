//! Merchant registration over HTTP (alipayplus-api.md §13.1, docs/registration-customs-disputes.md):
//! signed `registration` and `inquiryRegistrationStatus` against the sandbox on an ephemeral port,
//! review over sandbox time with a signed `notifyRegistrationStatus` to a real receiver, the
//! update rule, idempotency, the "registered merchants only" switch of `pay`, and bad bodies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{pay_body, receiver, Answer, Harness};
use serde_json::{json, Value};

const REGISTRATION: &str = "/aps/api/v1/merchants/registration";
const INQUIRY: &str = "/aps/api/v1/merchants/inquiryRegistrationStatus";

fn registration(id: &str, merchant: &str, store: &str, name: &str) -> Value {
    json!({
        "registrationRequestId": id,
        "merchantInfo": {
            "referenceMerchantId": merchant,
            "merchantDisplayName": name,
            "merchantMCC": "5812",
            "registrationDetail": {"legalName": format!("{name} Ltd"), "registrationType": "ENTERPRISE_REGISTRATION_NO", "registrationNo": "12345678"}
        },
        "storeInfo": {"referenceStoreId": store, "storeName": format!("{name} Central")},
        "productCodes": ["IN_STORE_PAYMENT"],
        "passThroughInfo": "{\"batch\":\"7\"}"
    })
}

async fn post(h: &Harness, path: &str, body: &Value) -> Answer {
    h.call_raw(path, body.to_string().into_bytes(), |r| r).await
}

fn settings(h: &Harness, review_minutes: i64, require: Option<bool>, url: Option<&str>) {
    let store = h.sandbox.store();
    let app = store.app().unwrap().id;
    store
        .update_registration_settings(
            app,
            url.map(Some),
            require,
            Some(time::Duration::minutes(review_minutes)),
        )
        .unwrap();
}

#[tokio::test]
async fn a_registration_is_accepted_processing_then_completed_with_a_signed_notification() {
    let h = Harness::start().await;
    let rx = receiver(&h).await;
    settings(&h, 10, None, Some(&rx.url));
    let answer = post(&h, REGISTRATION, &registration("reg-1", "M0101", "S01", "Cup Hu")).await;
    assert_eq!(
        (answer.status, answer.status_letter(), answer.code()),
        (200, "S", "SUCCESS"),
        "{}",
        answer.raw
    );
    assert_eq!(answer.body["passThroughInfo"], "{\"batch\":\"7\"}");

    let processing = post(&h, INQUIRY, &json!({"registrationRequestId": "reg-1"})).await;
    assert_eq!(processing.code(), "SUCCESS");
    assert_eq!(processing.body["registrationResult"]["registrationStatus"], "PROCESSING");
    assert!(processing.body.get("pspRegistrationResultList").is_none(), "{}", processing.raw);
    assert_eq!(rx.count(), 0, "no notification before the review ends");

    // Nine minutes: still under review. Ten: done, and the ACQP hears of it.
    h.advance(9 * 60);
    let still = post(&h, INQUIRY, &json!({"referenceMerchantId": "M0101", "referenceStoreId": "S01"})).await;
    assert_eq!(still.body["registrationResult"]["registrationStatus"], "PROCESSING");
    h.advance(60);
    let received = rx.wait_for(1).await;
    assert_eq!(received.len(), 1);
    let (body, verified) = &received[0];
    assert!(verified, "notifyRegistrationStatus is signed with the sandbox key");
    assert_eq!(body["registrationRequestId"], "reg-1");
    assert_eq!(body["referenceMerchantId"], "M0101");
    assert_eq!(body["referenceStoreId"], "S01");
    assert_eq!(body["registrationResult"]["registrationStatus"], "COMPLETED");
    let psps = body["pspRegistrationResultList"].as_array().unwrap();
    assert!(psps.iter().any(|p| p["pspName"] == "ALIPAY_CN"));
    assert!(psps.iter().all(|p| p["registrationResult"]["registrationStatus"] == "APPROVED"));

    let done = post(&h, INQUIRY, &json!({"referenceMerchantId": "M0101"})).await;
    assert_eq!(done.body["registrationResult"]["registrationStatus"], "COMPLETED");
    assert_eq!(done.body["registrationRequestId"], "reg-1");
    // The traffic log: the inbound calls and the acknowledged outbound notification.
    assert!(
        common::eventually(|| h.traffic().iter().any(|t| t.api == "notifyRegistrationStatus"
            && t.direction == "outbound"
            && t.result_status.as_deref() == Some("S")))
        .await
    );
    let apis: Vec<String> =
        h.traffic().iter().filter(|t| t.direction == "inbound").map(|t| t.api.clone()).collect();
    assert!(
        apis.contains(&"registration".to_string()) && apis.contains(&"inquiryRegistrationStatus".to_string())
    );
}

#[tokio::test]
async fn a_notification_goes_to_the_request_url_first_and_is_retried_until_acknowledged() {
    let h = Harness::start().await;
    let rx = receiver(&h).await;
    // The application's URL is unreachable; the request's own URL wins.
    settings(&h, 1, None, Some("http://127.0.0.1:9/unused"));
    *rx.mode.lock().unwrap() = common::AckMode::Failure;
    let mut body = registration("reg-url", "M0201", "S01", "Tea Leaf");
    body["registrationNotifyUrl"] = json!(rx.url);
    assert_eq!(post(&h, REGISTRATION, &body).await.code(), "SUCCESS");
    h.advance(60);
    assert_eq!(rx.wait_for(1).await.len(), 1);
    // Refused (F): the outbox retries 4 s later with the same body.
    *rx.mode.lock().unwrap() = common::AckMode::Signed;
    h.advance(4);
    let received = rx.wait_for(2).await;
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].0, received[1].0, "a retry re-sends the same body");
    h.advance(60);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(rx.count(), 2, "acknowledged: no further attempts");
}

#[tokio::test]
async fn a_merchant_name_with_the_reject_marker_is_rejected_at_review() {
    let h = Harness::start().await;
    settings(&h, 5, None, None);
    assert_eq!(
        post(&h, REGISTRATION, &registration("reg-r", "M0301", "S01", "Please Reject Me")).await.code(),
        "SUCCESS"
    );
    h.advance(5 * 60);
    let answer = post(&h, INQUIRY, &json!({"registrationRequestId": "reg-r"})).await;
    assert_eq!(answer.body["registrationResult"]["registrationStatus"], "REJECTED");
    assert!(answer.body["registrationResult"]["rejectReason"].as_str().unwrap().contains("REJECT"));
    let psps = answer.body["pspRegistrationResultList"].as_array().unwrap();
    assert!(psps.iter().all(|p| p["registrationResult"]["registrationStatus"] == "REJECTED"));
    // No notify URL anywhere: nothing sent, and the traffic log says so.
    assert!(h.traffic().iter().any(|t| t.api == "notifyRegistrationStatus" && t.signature == "not-sent"));
}

#[tokio::test]
async fn an_update_within_30_minutes_of_a_processing_registration_is_refused() {
    let h = Harness::start().await;
    // A long review, so the 30-minute branch of the rule is what lets the update in.
    settings(&h, 120, None, None);
    assert_eq!(
        post(&h, REGISTRATION, &registration("reg-a", "M0401", "S01", "Noodle Bar")).await.code(),
        "SUCCESS"
    );
    h.advance(29 * 60);
    let refused = post(&h, REGISTRATION, &registration("reg-b", "M0401", "S01", "Noodle Bar 2")).await;
    assert_eq!((refused.status_letter(), refused.code()), ("F", "PROCESS_FAIL"), "{}", refused.raw);
    let message = refused.body["result"]["resultMessage"].as_str().unwrap();
    assert!(message.contains("reg-a") && message.contains("30 minutes"), "{message}");
    // Another store of the same merchant is another in-store registration, not an update.
    assert_eq!(
        post(&h, REGISTRATION, &registration("reg-c", "M0401", "S02", "Noodle Bar")).await.code(),
        "SUCCESS"
    );
    // A refused request was not recorded: its id is free, and after 30 minutes it is accepted.
    h.advance(60 + 1);
    assert_eq!(
        post(&h, REGISTRATION, &registration("reg-b", "M0401", "S01", "Noodle Bar 2")).await.code(),
        "SUCCESS"
    );
    let latest = post(&h, INQUIRY, &json!({"referenceMerchantId": "M0401", "referenceStoreId": "S01"})).await;
    assert_eq!(latest.body["registrationRequestId"], "reg-b");
}

#[tokio::test]
async fn an_update_is_accepted_at_once_when_the_earlier_registration_is_processed() {
    let h = Harness::start().await;
    settings(&h, 10, None, None);
    assert_eq!(
        post(&h, REGISTRATION, &registration("reg-1", "M0501", "S01", "Dim Sum")).await.code(),
        "SUCCESS"
    );
    h.advance(10 * 60);
    // Eleven minutes old (under 30) but COMPLETED: the update is accepted.
    let update = post(&h, REGISTRATION, &registration("reg-2", "M0501", "S01", "Dim Sum House")).await;
    assert_eq!(update.code(), "SUCCESS", "{}", update.raw);
}

#[tokio::test]
async fn the_same_registration_request_id_answers_the_same_or_repeat_req_inconsistent() {
    let h = Harness::start().await;
    settings(&h, 10, None, None);
    let body = registration("reg-dup", "M0601", "S01", "Bakery");
    assert_eq!(post(&h, REGISTRATION, &body).await.code(), "SUCCESS");
    // The same body with its keys in another order is the same request.
    let mut reordered = serde_json::Map::new();
    for (k, v) in body.as_object().unwrap().iter().rev() {
        reordered.insert(k.clone(), v.clone());
    }
    let repeat = post(&h, REGISTRATION, &Value::Object(reordered)).await;
    assert_eq!((repeat.status_letter(), repeat.code()), ("S", "SUCCESS"));
    assert_eq!(repeat.body["passThroughInfo"], body["passThroughInfo"]);
    // The same id with another merchant name.
    let changed = post(&h, REGISTRATION, &registration("reg-dup", "M0601", "S01", "Bakery Two")).await;
    assert_eq!((changed.status_letter(), changed.code()), ("F", "REPEAT_REQ_INCONSISTENT"));
    let store = h.sandbox.store();
    let app = store.app().unwrap().id;
    assert_eq!(store.registrations(app, h.clock_now()).unwrap().len(), 1, "one registration recorded");
}

#[tokio::test]
async fn pay_refuses_unregistered_merchants_only_while_the_switch_is_on() {
    let h = Harness::start().await;
    settings(&h, 0, Some(true), None);
    let code = h.code("buyer-1");
    let refused = h.call("pay", &pay_body("p-unreg", &code, "USD", "1000")).await;
    assert_eq!(
        (refused.status_letter(), refused.code()),
        ("F", "MERCHANT_NOT_REGISTERED"),
        "{}",
        refused.raw
    );
    assert!(refused.body["result"]["resultMessage"].as_str().unwrap().contains("M0001"));
    assert_eq!(h.balance("buyer-1", "USD"), 100_000, "nothing was taken");

    // A rejected registration does not count; a completed one does (review time 0: at once).
    assert_eq!(
        post(&h, REGISTRATION, &registration("reg-x", "M0001", "S0001", "Rejected Cafe")).await.code(),
        "SUCCESS"
    );
    let code = h.code("buyer-1");
    assert_eq!(
        h.call("pay", &pay_body("p-rej", &code, "USD", "1000")).await.code(),
        "MERCHANT_NOT_REGISTERED"
    );
    assert_eq!(
        post(&h, REGISTRATION, &registration("reg-ok", "M0001", "S0001", "Test Cafe")).await.code(),
        "SUCCESS"
    );
    let code = h.code("buyer-1");
    let paid = h.call("pay", &pay_body("p-reg", &code, "USD", "1000")).await;
    assert_eq!(paid.code(), "SUCCESS", "{}", paid.raw);
    // Another store of the registered merchant is not registered.
    let mut other_store = pay_body("p-store", &h.code("buyer-1"), "USD", "1000");
    other_store["order"]["merchant"]["store"]["referenceStoreId"] = json!("S0002");
    assert_eq!(h.call("pay", &other_store).await.code(), "MERCHANT_NOT_REGISTERED");

    // Switch off: any merchant is served.
    let store = h.sandbox.store();
    store.update_registration_settings(store.app().unwrap().id, None, Some(false), None).unwrap();
    let mut unknown = pay_body("p-any", &h.code("buyer-1"), "USD", "1000");
    unknown["order"]["merchant"]["referenceMerchantId"] = json!("M9999");
    assert_eq!(h.call("pay", &unknown).await.code(), "SUCCESS");
}

#[tokio::test]
async fn malformed_registration_bodies_get_param_illegal_with_the_field_path() {
    let h = Harness::start().await;
    let mut no_store = registration("reg-bad", "M0701", "S01", "Bar");
    no_store.as_object_mut().unwrap().remove("storeInfo");
    let mut bad_mcc = registration("reg-bad", "M0701", "S01", "Bar");
    bad_mcc["merchantInfo"]["merchantMCC"] = json!("58A2");
    let mut bad_code = registration("reg-bad", "M0701", "S01", "Bar");
    bad_code["productCodes"] = json!(["IN_STORE_PAYMENT", "BARTER"]);
    let mut no_legal = registration("reg-bad", "M0701", "S01", "Bar");
    no_legal["merchantInfo"]["registrationDetail"].as_object_mut().unwrap().remove("legalName");
    let mut long_store = registration("reg-bad", "M0701", &"S".repeat(33), "Bar");
    long_store["registrationNotifyUrl"] = json!("https://acqp.example/r");
    let mut no_host = registration("reg-bad", "M0701", "S01", "Bar");
    no_host["registrationNotifyUrl"] = json!("http://");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            no_store.to_string().into_bytes(),
            "storeInfo: required when productCodes includes IN_STORE_PAYMENT",
        ),
        (
            bad_mcc.to_string().into_bytes(),
            "merchantInfo.merchantMCC: \"58A2\" is not a four-digit merchant category code",
        ),
        (bad_code.to_string().into_bytes(), "productCodes[1]: \"BARTER\" is not a product code"),
        (
            no_legal.to_string().into_bytes(),
            "merchantInfo.registrationDetail.legalName: required field is missing",
        ),
        (
            long_store.to_string().into_bytes(),
            "storeInfo.referenceStoreId: too long: 33 characters, at most 32 allowed",
        ),
        (no_host.to_string().into_bytes(), "registrationNotifyUrl: "),
        (b"{\"registrationRequestId\": ".to_vec(), "body: body is not valid JSON"),
        (b"[]".to_vec(), "body: "),
    ];
    for (body, expected) in cases {
        let answer = h.call_raw(REGISTRATION, body, |r| r).await;
        assert_eq!(
            (answer.status, answer.status_letter(), answer.code()),
            (200, "F", "PARAM_ILLEGAL"),
            "{expected}"
        );
        let message = answer.body["result"]["resultMessage"].as_str().unwrap();
        assert!(message.starts_with(expected), "got {message:?}, want {expected:?}");
    }
    let inquiry = post(&h, INQUIRY, &json!({"referenceStoreId": "S01"})).await;
    assert_eq!(inquiry.code(), "PARAM_ILLEGAL");
    assert_eq!(
        inquiry.body["result"]["resultMessage"],
        "body: one of registrationRequestId, referenceMerchantId is required"
    );
    // Nothing was recorded by any of them.
    let store = h.sandbox.store();
    assert!(store.registrations(store.app().unwrap().id, h.clock_now()).unwrap().is_empty());
}

#[tokio::test]
async fn an_inquiry_for_an_unknown_registration_is_record_not_found() {
    let h = Harness::start().await;
    for body in [
        json!({"registrationRequestId": "nope"}),
        json!({"referenceMerchantId": "M-none", "referenceStoreId": "S1"}),
    ] {
        let answer = post(&h, INQUIRY, &body).await;
        assert_eq!((answer.status_letter(), answer.code()), ("F", "RECORD_NOT_FOUND"), "{}", answer.raw);
    }
    // A request id and a merchant that do not belong together find nothing either.
    assert_eq!(
        post(&h, REGISTRATION, &registration("reg-m", "M0801", "S01", "Deli")).await.code(),
        "SUCCESS"
    );
    let mismatch =
        post(&h, INQUIRY, &json!({"registrationRequestId": "reg-m", "referenceMerchantId": "M0802"})).await;
    assert_eq!(mismatch.code(), "RECORD_NOT_FOUND");
}
