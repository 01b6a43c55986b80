//! HTTP integration tests: a sandbox on an ephemeral port, real SQLite in a tempdir, requests
//! signed with our signer, answers verified against the sandbox key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use plusbox_sandbox::{ResultCode, Scenario};
use serde_json::{json, Value};

#[tokio::test]
async fn envelope_errors_follow_the_check_order() {
    let h = Harness::start().await;
    let pay = "/aps/api/v1/payments/pay";

    // Not POST.
    let r = h.http.get(h.url(pay)).send().await.unwrap();
    let a = h.read(pay, r).await;
    assert_eq!((a.status, a.code()), (200, "METHOD_NOT_SUPPORTED"));
    // Header names go out lower-case (HTTP/1 via hyper) and carry the three response headers.
    assert!(a.headers.contains_key("response-time") && a.headers.contains_key("signature"));

    let a = h.call_raw("/aps/api/v1/payments/consultPayment", b"{}".to_vec(), |r| r).await;
    assert_eq!(a.code(), "INVALID_API");

    let a = h.post_with(pay, b"{}", &[("content-type", Some("text/plain"))]).await;
    assert_eq!(a.code(), "MEDIA_TYPE_NOT_ACCEPTABLE");

    let a = h.post_with(pay, b"{}", &[("client-id", Some("SANDBOX_NOPE"))]).await;
    assert_eq!(a.code(), "INVALID_CLIENT");

    let a =
        h.post_with(pay, b"{}", &[("signature", Some("algorithm=RSA256,keyVersion=1,signature=AAAA"))]).await;
    assert_eq!(a.code(), "INVALID_SIGNATURE");
    let a =
        h.post_with(pay, b"{}", &[("signature", Some("algorithm=RSA256,keyVersion=9,signature=AAAA"))]).await;
    assert_eq!(a.code(), "KEY_NOT_FOUND");
    let a = h.post_with(pay, b"{}", &[("signature", None)]).await;
    assert_eq!(a.code(), "INVALID_SIGNATURE");
    // Signed correctly but with an Encrypt header, then with a bad Request-Time.
    let a = h.post_with(pay, b"{}", &[("encrypt", Some("x"))]).await;
    assert_eq!(a.code(), "PARAM_ILLEGAL");
    let a = h.post_with(pay, b"{}", &[("client-id", None)]).await;
    assert_eq!(a.code(), "INVALID_CLIENT");

    let a = h.call_raw(pay, b"{not json".to_vec(), |r| r).await;
    assert_eq!(a.code(), "PARAM_ILLEGAL");
    assert!(a.body["result"]["resultMessage"].as_str().unwrap().contains("not valid JSON"));

    let mut body = pay_body("p-missing", "251001020123456789012345", "USD", "100");
    body["order"]["merchant"].as_object_mut().unwrap().remove("store");
    let a = h.call("pay", &body).await;
    assert_eq!(a.code(), "PARAM_ILLEGAL");
    assert!(a.body["result"]["resultMessage"].as_str().unwrap().starts_with("order.merchant.store"));

    let mut body = pay_body("p-bad-value", "251001020123456789012345", "USD", "100");
    body["paymentAmount"]["value"] = json!("1.00");
    let a = h.call("pay", &body).await;
    assert!(a.body["result"]["resultMessage"].as_str().unwrap().starts_with("paymentAmount.value"));

    let big = vec![b' '; 300 * 1024];
    let a = h.call_raw(pay, big, |r| r).await;
    assert_eq!(a.code(), "PARAM_ILLEGAL");
    assert!(a.body["result"]["resultMessage"].as_str().unwrap().contains("larger than"));

    // The traffic log holds every exchange, with the content-to-sign on the signature failure.
    let traffic = h.traffic();
    assert!(traffic.len() >= 10);
    let bad = traffic.iter().find(|t| t.result_code.as_deref() == Some("INVALID_SIGNATURE")).unwrap();
    assert_eq!(bad.signature, "invalid");
    assert_eq!(bad.findings[0]["kind"], "content-to-sign");
}

#[tokio::test]
async fn key_not_found_before_any_key_is_uploaded() {
    let dir = tempfile::tempdir().unwrap();
    let config = plusbox_sandbox::SandboxConfig::new(dir.path(), "127.0.0.1:0".parse().unwrap());
    let sandbox = plusbox_sandbox::Sandbox::start(config).await.unwrap();
    assert!(sandbox.provisioned().is_some());
    let app = sandbox.store().app().unwrap();
    assert!(app.client_id.starts_with("SANDBOX_") && app.client_id.len() == 25);
    let r = reqwest::Client::new()
        .post(format!("{}/aps/api/v1/payments/pay", sandbox.base_url()))
        .header("client-id", &app.client_id)
        .header("signature", "signature=AAAA")
        .body("{}")
        .send()
        .await
        .unwrap();
    let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(body["result"]["resultCode"], "KEY_NOT_FOUND");
    let health = reqwest::get(format!("{}/healthz", sandbox.base_url())).await.unwrap();
    assert_eq!(health.status(), 200);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn pay_success_inquiry_and_signed_notification() {
    let h = Harness::start().await;
    let rx = receiver(&h).await;
    let code = h.code("buyer-1");
    let before = h.balance("buyer-1", "USD");
    let mut body = pay_body("p1", &code, "USD", "1250");
    body["paymentNotifyUrl"] = json!(rx.url);
    let a = h.call("pay", &body).await;
    assert_eq!((a.code(), a.status_letter()), ("SUCCESS", "S"), "{}", a.raw);
    assert_eq!(a.body["pspId"], "1022000000000000000");
    assert_eq!(a.body["walletBrandName"], "Test Wallet");
    assert!(a.body["paymentTime"].as_str().unwrap().ends_with("+08:00"));
    let payment_id = a.body["paymentId"].as_str().unwrap().to_string();
    assert_eq!(payment_id.len(), 23);
    assert_eq!(h.balance("buyer-1", "USD"), before - 1250);

    let q = h.call("inquiryPayment", &json!({"paymentRequestId": "p1"})).await;
    assert_eq!(q.code(), "SUCCESS");
    assert_eq!(q.body["paymentResult"]["resultStatus"], "S");
    assert_eq!(q.body["paymentId"], payment_id.as_str());
    let q = h.call("inquiryPayment", &json!({"paymentId": payment_id})).await;
    assert_eq!(q.body["paymentRequestId"], "p1");
    let q = h.call("inquiryPayment", &json!({"paymentRequestId": "nope"})).await;
    assert_eq!((q.code(), q.status_letter()), ("ORDER_NOT_EXIST", "F"));
    assert!(q.body.get("paymentResult").is_none());

    let got = rx.wait_for(1).await;
    assert_eq!(got.len(), 1);
    let (notify, verified) = &got[0];
    assert!(verified, "notification signature verifies with the sandbox key");
    assert_eq!(notify["paymentResult"]["resultStatus"], "S");
    assert_eq!(notify["paymentRequestId"], "p1");
    assert_eq!(notify["paymentAmount"]["value"], "1250");
    let store = h.sandbox.store();
    assert!(
        eventually(
            || store.notification_status(&payment_id).unwrap().map(|s| s.0) == Some("delivered".into())
        )
        .await
    );
    let out = h.traffic().into_iter().find(|t| t.api == "notifyPayment").unwrap();
    assert_eq!(out.direction, "outbound");
    assert_eq!(out.signature, "valid");
}

#[tokio::test]
async fn codes_are_one_time_expire_and_are_classified() {
    let h = Harness::start().await;
    let code = h.code("buyer-1");
    assert_eq!(h.call("pay", &pay_body("c1", &code, "USD", "100")).await.code(), "SUCCESS");
    // Reuse by another request.
    assert_eq!(h.call("pay", &pay_body("c2", &code, "USD", "100")).await.code(), "INVALID_CODE");
    // Expired after 60 s of clock time.
    let old = h.code("buyer-2");
    h.advance(61);
    assert_eq!(h.call("pay", &pay_body("c3", &old, "USD", "100")).await.code(), "EXPIRED_CODE");
    // Not an Alipay+ code.
    assert_eq!(
        h.call("pay", &pay_body("c4", "12345678901234567", "USD", "100")).await.code(),
        "INVALID_PAYMENT_CODE"
    );
    // A documented sample code routes to that persona's default buyer.
    let a = h.call("pay", &pay_body("c5", "281006020000000000125733", "HKD", "500")).await;
    assert_eq!(a.code(), "SUCCESS");
    assert_eq!(a.body["walletBrandName"], "AlipayHK");
}

#[tokio::test]
async fn legacy_code_forms_are_bound_to_the_issuing_buyer() {
    use plusbox_core::codes::CodeForm;
    let h = Harness::start().await;
    let store = h.sandbox.store();
    let before = h.balance("buyer-2", "HKD");
    for (i, (form, len)) in
        [(CodeForm::Legacy17, 17), (CodeForm::Legacy18, 18), (CodeForm::Legacy19, 19)].into_iter().enumerate()
    {
        let code = store.issue_code_in_form("buyer-2", form, h.clock_now()).unwrap().code;
        assert_eq!(code.len(), len, "{code}");
        let a = h.call("pay", &pay_body(&format!("legacy-{len}"), &code, "HKD", "100")).await;
        assert_eq!(a.code(), "SUCCESS", "{code}: {}", a.raw);
        // The issuing buyer pays, not the persona's default test buyer.
        assert_eq!(h.balance("buyer-2", "HKD"), before - 100 * (i as i64 + 1), "{code}");
        // One-time like any other code.
        let again = h.call("pay", &pay_body(&format!("legacy-{len}-again"), &code, "HKD", "100")).await;
        assert_eq!(again.code(), "INVALID_CODE");
    }
}

#[tokio::test]
async fn idempotency_and_inconsistent_repeats() {
    let h = Harness::start().await;
    let code = h.code("buyer-1");
    let first = h.call("pay", &pay_body("i1", &code, "USD", "300")).await;
    let again = h.call("pay", &pay_body("i1", &code, "USD", "300")).await;
    assert_eq!(first.body["paymentId"], again.body["paymentId"]);
    assert_eq!(again.code(), "SUCCESS");
    let other = h.call("pay", &pay_body("i1", &code, "USD", "301")).await;
    assert_eq!(other.code(), "REPEAT_REQ_INCONSISTENT");
    // Charged once.
    assert_eq!(h.balance("buyer-1", "USD"), 100_000 - 300);
}

#[tokio::test]
async fn scenarios_refuse_with_their_codes() {
    let h = Harness::start().await;
    let store = h.sandbox.store();
    for (scenario, code) in [
        ("insufficient-balance", "USER_BALANCE_NOT_ENOUGH"),
        ("risk-reject", "RISK_REJECT"),
        ("user-not-exist", "USER_NOT_EXIST"),
        ("user-abnormal", "USER_STATUS_ABNORMAL"),
        ("over-limit", "USER_AMOUNT_EXCEED_LIMIT"),
    ] {
        store.set_scenario("buyer-2", &scenario.parse::<Scenario>().unwrap()).unwrap();
        let a = h.call("pay", &pay_body(&format!("s-{scenario}"), &h.code("buyer-2"), "HKD", "100")).await;
        assert_eq!((a.code(), a.status_letter()), (code, "F"), "{scenario}");
    }
    // Real insufficient balance under `success`.
    store.set_scenario("buyer-2", &Scenario::Success).unwrap();
    let a = h.call("pay", &pay_body("s-big", &h.code("buyer-2"), "HKD", "999999999")).await;
    assert_eq!(a.code(), "USER_BALANCE_NOT_ENOUGH");
    // unknown-exception has its own test (tests/scenarios.rs): the payment succeeds behind the U.
}

#[tokio::test]
async fn pin_confirm_decline_and_expiry() {
    let h = Harness::start().await;
    let rx = receiver(&h).await;
    let store = h.sandbox.store();
    store.set_notify_url(Some(&rx.url)).unwrap();
    store.set_scenario("buyer-1", &Scenario::Pin).unwrap();

    let a = h.call("pay", &pay_body("pin1", &h.code("buyer-1"), "USD", "500")).await;
    assert_eq!((a.code(), a.status_letter()), ("PAYMENT_IN_PROCESS", "U"));
    let pending = store.pending(h.clock_now()).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].merchant.as_deref(), Some("Test Cafe"));
    let paid = store.confirm(&pending[0].payment_id, "1234", h.clock_now()).unwrap();
    assert_eq!(format!("{:?}", paid.state), "Success");
    let q = h.call("inquiryPayment", &json!({"paymentRequestId": "pin1"})).await;
    assert_eq!(q.body["paymentResult"]["resultCode"], "SUCCESS");

    // Wrong PIN fails the payment.
    h.call("pay", &pay_body("pin2", &h.code("buyer-1"), "USD", "500")).await;
    let id = store.pending(h.clock_now()).unwrap()[0].payment_id.clone();
    store.confirm(&id, "0000", h.clock_now()).unwrap();
    let q = h.call("inquiryPayment", &json!({"paymentRequestId": "pin2"})).await;
    assert_eq!(q.body["paymentResult"]["resultCode"], "USER_PAYMENT_VERIFICATION_FAILED");

    // Decline.
    h.call("pay", &pay_body("pin3", &h.code("buyer-1"), "USD", "500")).await;
    let id = store.pending(h.clock_now()).unwrap()[0].payment_id.clone();
    store.decline(&id, h.clock_now()).unwrap();

    // Expiry: 60 s of clock time closes it and notifies F ORDER_IS_CLOSED, never U.
    h.call("pay", &pay_body("pin4", &h.code("buyer-1"), "USD", "500")).await;
    h.advance(60);
    let got = rx.wait_for(4).await;
    assert_eq!(got.len(), 4, "{got:?}");
    assert!(got.iter().all(|(n, ok)| *ok && n["paymentResult"]["resultStatus"] != "U"));
    let closed = got.iter().find(|(n, _)| n["paymentRequestId"] == "pin4").unwrap();
    assert_eq!(closed.0["paymentResult"]["resultCode"], "ORDER_IS_CLOSED");
    let q = h.call("inquiryPayment", &json!({"paymentRequestId": "pin4"})).await;
    assert_eq!(q.body["paymentResult"]["resultCode"], "ORDER_IS_CLOSED");
    assert_eq!(h.balance("buyer-1", "USD"), 100_000 - 500);
}

#[tokio::test]
async fn cancel_rules_and_window() {
    let h = Harness::start().await;
    let a = h.call("pay", &pay_body("k1", &h.code("buyer-1"), "USD", "700")).await;
    assert_eq!(a.code(), "SUCCESS");
    let c = h.call("cancelPayment", &json!({"paymentRequestId": "k1"})).await;
    assert_eq!(c.code(), "SUCCESS");
    assert_eq!(h.balance("buyer-1", "USD"), 100_000, "credited back in full");
    let q = h.call("inquiryPayment", &json!({"paymentRequestId": "k1"})).await;
    assert_eq!(q.body["paymentResult"]["resultCode"], "ORDER_IS_CLOSED");
    assert_eq!(q.body["transactions"][0]["transactionType"], "CANCEL");
    // Repeat cancel → S; unknown → ORDER_NOT_EXIST; refund of a cancelled payment → PROCESS_FAIL.
    assert_eq!(h.call("cancelPayment", &json!({"paymentRequestId": "k1"})).await.code(), "SUCCESS");
    assert_eq!(h.call("cancelPayment", &json!({"paymentRequestId": "zz"})).await.code(), "ORDER_NOT_EXIST");
    let r = h.call("refund", &json!({"paymentRequestId": "k1", "refundRequestId": "r", "refundAmount": {"currency": "USD", "value": "1"}})).await;
    assert_eq!(r.code(), "PROCESS_FAIL");

    // A refunded payment can no longer be cancelled.
    h.call("pay", &pay_body("k2", &h.code("buyer-1"), "USD", "700")).await;
    h.call("refund", &json!({"paymentRequestId": "k2", "refundRequestId": "k2r", "refundAmount": {"currency": "USD", "value": "100"}})).await;
    assert_eq!(h.call("cancelPayment", &json!({"paymentRequestId": "k2"})).await.code(), "PROCESS_FAIL");

    // Window: paid 10:00 UTC+8 on T; cancellable until 00:15 on T+1.
    h.call("pay", &pay_body("k3", &h.code("buyer-1"), "USD", "700")).await;
    h.call("pay", &pay_body("k4", &h.code("buyer-1"), "USD", "700")).await;
    h.advance(14 * 3600 + 14 * 60); // 00:14 on T+1
    assert_eq!(h.call("cancelPayment", &json!({"paymentRequestId": "k3"})).await.code(), "SUCCESS");
    h.advance(120); // 00:16
    let c = h.call("cancelPayment", &json!({"paymentRequestId": "k4"})).await;
    assert_eq!((c.code(), c.status_letter()), ("CANCEL_WINDOW_EXCEED", "F"));
}

#[tokio::test]
async fn refunds_partial_multiple_bounded_and_windowed() {
    let h = Harness::start().await;
    h.call("pay", &pay_body("f1", &h.code("buyer-3"), "JPY", "1000")).await;
    let refund = |id: &str, value: &str| json!({"paymentRequestId": "f1", "refundRequestId": id, "refundAmount": {"currency": "JPY", "value": value}});
    let r1 = h.call("refund", &refund("r1", "400")).await;
    assert_eq!(r1.code(), "SUCCESS");
    assert_eq!(r1.body["refundId"].as_str().unwrap().len(), 23);
    assert_eq!(h.call("refund", &refund("r2", "600")).await.code(), "SUCCESS");
    assert_eq!(h.call("refund", &refund("r3", "1")).await.code(), "REFUND_AMOUNT_EXCEED");
    // Identical repeat → first result; different amount → inconsistent.
    let again = h.call("refund", &refund("r1", "400")).await;
    assert_eq!((again.code(), &again.body["refundId"]), ("SUCCESS", &r1.body["refundId"]));
    assert_eq!(h.call("refund", &refund("r1", "401")).await.code(), "REPEAT_REQ_INCONSISTENT");
    let wrong = json!({"paymentRequestId": "f1", "refundRequestId": "r9", "refundAmount": {"currency": "USD", "value": "1"}});
    assert_eq!(h.call("refund", &wrong).await.code(), "PARAM_ILLEGAL");
    assert_eq!(h.balance("buyer-3", "JPY"), 1_000_000);
    let q = h.call("inquiryPayment", &json!({"paymentRequestId": "f1"})).await;
    assert_eq!(q.body["transactions"].as_array().unwrap().len(), 3);

    // Refund window: through the same date next year.
    h.call("pay", &pay_body("f2", &h.code("buyer-3"), "JPY", "1000")).await;
    h.advance(365 * 86400); // 2026-03-10 10:00: still inside
    let ok = json!({"paymentRequestId": "f2", "refundRequestId": "w1", "refundAmount": {"currency": "JPY", "value": "1"}});
    assert_eq!(h.call("refund", &ok).await.code(), "SUCCESS");
    h.advance(86400);
    let late = json!({"paymentRequestId": "f2", "refundRequestId": "w2", "refundAmount": {"currency": "JPY", "value": "1"}});
    assert_eq!(h.call("refund", &late).await.code(), "REFUND_WINDOW_EXCEED");
}

#[tokio::test]
async fn hygiene_findings_for_coerced_scalars() {
    let h = Harness::start().await;
    let mut body = pay_body("h1", &h.code("buyer-1"), "USD", "100");
    body["paymentAmount"]["value"] = json!(100);
    body["paymentFactor"]["isInStorePayment"] = json!(true);
    let a = h.call("pay", &body).await;
    assert_eq!(a.code(), "SUCCESS");
    let entry = h
        .traffic()
        .into_iter()
        .find(|t| t.payment_request_id.as_deref() == Some("h1") && t.direction == "inbound")
        .unwrap();
    let paths: Vec<&str> =
        entry.findings.as_array().unwrap().iter().filter_map(|f| f["path"].as_str()).collect();
    assert!(
        paths.contains(&"paymentAmount.value") && paths.contains(&"paymentFactor.isInStorePayment"),
        "{paths:?}"
    );

    let strict = Harness::start_with(|mut c| {
        c.strict_types = true;
        c
    })
    .await;
    let mut body = pay_body("h2", &strict.code("buyer-1"), "USD", "100");
    body["paymentAmount"]["value"] = json!(100);
    let a = strict.call("pay", &body).await;
    assert_eq!(a.code(), "PARAM_ILLEGAL");
}

#[tokio::test]
async fn mock_rules_force_results_and_turn_themselves_off() {
    let h = Harness::start().await;
    let store = h.sandbox.store();
    let rule = store.add_mock("pay", ResultCode::UnknownException, Some(1), None, h.clock_now()).unwrap();
    let a = h.call("pay", &pay_body("m1", &h.code("buyer-1"), "USD", "100")).await;
    assert_eq!((a.code(), a.status_letter()), ("UNKNOWN_EXCEPTION", "U"));
    let b = h.call("pay", &pay_body("m1", &h.code("buyer-1"), "USD", "100")).await;
    assert_eq!(b.code(), "SUCCESS");
    let traffic = h.traffic();
    assert_eq!(traffic.iter().filter(|t| t.mock_id == Some(rule.id)).count(), 1);
    // Timed rule.
    store.add_mock("refund", ResultCode::UnknownException, None, Some(1), h.clock_now()).unwrap();
    let r = json!({"paymentRequestId": "m1", "refundRequestId": "mr", "refundAmount": {"currency": "USD", "value": "1"}});
    assert_eq!(h.call("refund", &r).await.code(), "UNKNOWN_EXCEPTION");
    assert_eq!(h.call("refund", &r).await.code(), "UNKNOWN_EXCEPTION");
    h.advance(61);
    assert_eq!(h.call("refund", &r).await.code(), "SUCCESS");
    assert!(store.mocks(h.clock_now()).unwrap().iter().all(|m| !m.active));
}

#[tokio::test]
async fn notifications_retry_until_a_signed_s_ack() {
    let h = Harness::start().await;
    let rx = receiver(&h).await;
    h.sandbox.store().set_notify_url(Some(&rx.url)).unwrap();
    *rx.mode.lock().unwrap() = AckMode::Unsigned;
    let a = h.call("pay", &pay_body("n1", &h.code("buyer-1"), "USD", "100")).await;
    let payment_id = a.body["paymentId"].as_str().unwrap().to_string();
    let store = h.sandbox.store();
    assert!(
        eventually(|| store.notification_status(&payment_id).unwrap() == Some(("pending".into(), 1))).await
    );
    // The next attempt waits 4 s of clock time.
    h.advance(3);
    *rx.mode.lock().unwrap() = AckMode::Failure;
    h.advance(1);
    let ok =
        eventually(|| store.notification_status(&payment_id).unwrap() == Some(("pending".into(), 2))).await;
    assert!(
        ok,
        "{:?} {:?}",
        store.notification_status(&payment_id),
        h.traffic().iter().filter(|t| t.api == "notifyPayment").map(|t| (&t.at, &t.note)).collect::<Vec<_>>()
    );
    *rx.mode.lock().unwrap() = AckMode::Signed;
    h.advance(4);
    assert!(
        eventually(
            || store.notification_status(&payment_id).unwrap().map(|s| s.0) == Some("delivered".into())
        )
        .await
    );
    assert_eq!(rx.count(), 3);
    let verdicts: Vec<String> =
        h.traffic().into_iter().filter(|t| t.api == "notifyPayment").map(|t| t.signature).collect();
    assert_eq!(verdicts, ["missing", "valid", "valid"]);
}

#[tokio::test]
async fn slow_scenario_answers_after_clock_time() {
    let h = Harness::start().await;
    h.sandbox.store().set_scenario("buyer-1", &Scenario::Slow(9)).unwrap();
    let body = pay_body("slow1", &h.code("buyer-1"), "USD", "100");
    let call = h.call("pay", &body);
    let advance = async {
        // Once the payment is taken (before the delay), move the clock past the 9 s delay.
        let store = h.sandbox.store();
        assert!(eventually(|| store.ledger_totals().unwrap().get("USD").is_some_and(|t| t.paid > 0)).await);
        assert!(
            store.traffic(0, 10).unwrap().iter().all(|t| t.direction != "inbound"),
            "no answer before the delay"
        );
        h.advance(8);
        h.advance(1);
    };
    let (a, _) = tokio::join!(call, advance);
    assert_eq!(a.code(), "SUCCESS");
}
