//! What a test run arranges stays its own: scoped mock and tamper rules, payments aged behind the
//! cancel window without moving the clock, notifications held back for one buyer, and no
//! notification for a `pay` refused for its code. Real sandbox on an ephemeral port, signed calls.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{eventually, pay_body, receiver, Harness};
use plusbox_core::result_code::ResultCode;
use plusbox_sandbox::store::{MockAction, MockScope, Tamper};
use serde_json::json;

#[tokio::test]
async fn a_rule_scoped_to_a_buyer_catches_only_that_buyers_calls() {
    let h = Harness::start().await;
    let store = h.sandbox.store();
    let now = h.clock_now();
    let scope = MockScope::account("buyer-2");
    store
        .add_scoped_mock("pay", MockAction::Force(ResultCode::UnknownException), Some(1), None, &scope, now)
        .unwrap();
    // buyer-1's pay is not caught; buyer-2's is, once.
    let a = h.call("pay", &pay_body("s1", &h.code("buyer-1"), "USD", "100")).await;
    assert_eq!(a.code(), "SUCCESS");
    let b = h.call("pay", &pay_body("s2", &h.code("buyer-2"), "USD", "100")).await;
    assert_eq!(b.code(), "UNKNOWN_EXCEPTION");
    let c = h.call("pay", &pay_body("s3", &h.code("buyer-2"), "USD", "100")).await;
    assert_eq!(c.code(), "SUCCESS");
    // An inquiry rule scoped to buyer-1 finds the buyer through the payment it names.
    let scope = MockScope::account("buyer-1");
    store
        .add_scoped_mock(
            "inquiryPayment",
            MockAction::Force(ResultCode::UnknownException),
            Some(1),
            None,
            &scope,
            now,
        )
        .unwrap();
    let q = h.call("inquiryPayment", &json!({"paymentRequestId": "s3"})).await;
    assert_eq!(q.body["paymentResult"]["resultStatus"], "S", "buyer-2's inquiry passes: {}", q.raw);
    let q = h.call("inquiryPayment", &json!({"paymentRequestId": "s1"})).await;
    assert_eq!(q.code(), "UNKNOWN_EXCEPTION");
    // A merchant-scoped tamper rule: another merchant's answer is untouched.
    let scope = MockScope { merchant: Some("M0002".into()), account: None };
    store.add_scoped_mock("pay", MockAction::Tamper(Tamper::Body), Some(1), None, &scope, now).unwrap();
    let d = h.call("pay", &pay_body("s4", &h.code("buyer-1"), "USD", "100")).await;
    assert_eq!(d.code(), "SUCCESS");
    let mut other = pay_body("s5", &h.code("buyer-1"), "USD", "100");
    other["order"]["merchant"]["referenceMerchantId"] = json!("M0002");
    let (tampered, verified) = h.call_unchecked("pay", &other).await;
    assert!(!verified, "the M0002 answer was spoiled after signing: {}", tampered.raw);
}

#[tokio::test]
async fn an_aged_payment_is_behind_the_cancel_window_while_the_clock_stays() {
    let h = Harness::start().await;
    let store = h.sandbox.store();
    let before = h.clock_now();
    let a = h.call("pay", &pay_body("w1", &h.code("buyer-1"), "USD", "700")).await;
    let payment_id = a.body["paymentId"].as_str().unwrap().to_owned();
    let balance = h.balance("buyer-1", "USD");
    assert_eq!(store.age_payments(std::slice::from_ref(&payment_id), time::Duration::hours(25)).unwrap(), 1);
    assert!(store.age_payments(std::slice::from_ref(&payment_id), time::Duration::hours(-1)).is_err());
    assert_eq!(h.clock_now(), before, "no clock moved");
    let c = h.call("cancelPayment", &json!({"paymentRequestId": "w1"})).await;
    assert_eq!((c.code(), c.status_letter()), ("CANCEL_WINDOW_EXCEED", "F"));
    assert_eq!(h.balance("buyer-1", "USD"), balance, "a refused cancel gives nothing back");
    // A payment that was not aged can still be cancelled.
    h.call("pay", &pay_body("w2", &h.code("buyer-1"), "USD", "700")).await;
    let c = h.call("cancelPayment", &json!({"paymentRequestId": "w2"})).await;
    assert_eq!(c.code(), "SUCCESS");
}

#[tokio::test]
async fn held_notifications_wait_for_their_delay_and_only_for_that_buyer() {
    let h = Harness::start().await;
    let rx = receiver(&h).await;
    let store = h.sandbox.store();
    let now = h.clock_now();
    store
        .hold_notifications("buyer-2", time::Duration::seconds(5), now + time::Duration::minutes(5))
        .unwrap();
    let mut held = pay_body("h1", &h.code("buyer-2"), "USD", "100");
    held["paymentNotifyUrl"] = json!(rx.url);
    let mut free = pay_body("h2", &h.code("buyer-1"), "USD", "100");
    free["paymentNotifyUrl"] = json!(rx.url);
    h.call("pay", &held).await;
    h.call("pay", &free).await;
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].0["paymentRequestId"], "h2");
    // The held one stays back until 5 s of (test) clock time have passed.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(rx.count(), 1);
    h.advance(6);
    h.sandbox.poke();
    let got = rx.wait_for(2).await;
    assert_eq!(got[1].0["paymentRequestId"], "h1");
    assert!(store.release_notifications("buyer-2").unwrap());
    assert!(!store.release_notifications("buyer-2").unwrap());
}

#[tokio::test]
async fn a_pay_refused_for_its_code_is_not_notified() {
    let h = Harness::start().await;
    let rx = receiver(&h).await;
    let code = h.code("buyer-1");
    let mut first = pay_body("n1", &code, "USD", "100");
    first["paymentNotifyUrl"] = json!(rx.url);
    h.call("pay", &first).await;
    let mut reused = pay_body("n2", &code, "USD", "100");
    reused["paymentNotifyUrl"] = json!(rx.url);
    assert_eq!(h.call("pay", &reused).await.code(), "INVALID_CODE");
    let mut invalid = pay_body("n3", "12345678901234567", "USD", "100");
    invalid["paymentNotifyUrl"] = json!(rx.url);
    assert_eq!(h.call("pay", &invalid).await.code(), "INVALID_PAYMENT_CODE");
    // The refusal stands for repeats and inquiries …
    assert_eq!(h.call("pay", &reused).await.code(), "INVALID_CODE");
    let q = h.call("inquiryPayment", &json!({"paymentRequestId": "n2"})).await;
    assert_eq!(q.body["paymentResult"]["resultCode"], "INVALID_CODE");
    // … but only the real payment's notification goes out.
    let store = h.sandbox.store();
    assert!(eventually(|| rx.count() >= 1).await);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let got = rx.wait_for(1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0["paymentRequestId"], "n1");
    let counts = store.outbox_counts().unwrap();
    assert_eq!(counts.values().sum::<i64>(), 1, "{counts:?}");
}

#[tokio::test]
async fn a_buyer_like_another_pays_with_its_own_code() {
    let h = Harness::start().await;
    let store = h.sandbox.store();
    let now = h.clock_now();
    assert!(store.ensure_buyer_like("worker-7", "buyer-1", now).unwrap());
    assert!(!store.ensure_buyer_like("worker-7", "buyer-1", now).unwrap());
    assert!(store.ensure_buyer_like("bad id", "buyer-1", now).is_err());
    assert!(store.ensure_buyer_like("worker-8", "nobody", now).is_err());
    store.topup("worker-7", &plusbox_core::money::Amount::parse("5.00 USD").unwrap(), now).unwrap();
    let a = h.call("pay", &pay_body("b1", &h.code("worker-7"), "USD", "300")).await;
    assert_eq!(a.code(), "SUCCESS");
    assert_eq!(h.balance("worker-7", "USD"), 200);
}
