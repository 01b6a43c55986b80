//! Concurrency: many pays against one balance, many refunds against one payment, cancels racing
//! confirmations. Real server, real SQLite, real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::*;
use plusbox_sandbox::Scenario;
use serde_json::json;

fn assert_ledger(h: &Harness) {
    for (currency, t) in h.sandbox.store().ledger_totals().unwrap() {
        assert_eq!(t.balances + t.paid - t.refunded, t.topups, "ledger invariant for {currency}: {t:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_pays_against_a_balance_for_fifty() {
    let h = Arc::new(Harness::start().await);
    // buyer-2 holds HKD 5,000.00 = 500000 minor units; each pay takes 10000 → exactly 50 fit.
    assert_eq!(h.balance("buyer-2", "HKD"), 500_000);
    let codes: Vec<String> = (0..200).map(|_| h.code("buyer-2")).collect();
    let mut tasks = Vec::new();
    for (i, code) in codes.into_iter().enumerate() {
        let h = Arc::clone(&h);
        tasks.push(tokio::spawn(async move {
            let a = h.call("pay", &pay_body(&format!("cc-{i}"), &code, "HKD", "10000")).await;
            a.code().to_string()
        }));
    }
    let mut success = 0;
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap().as_str() {
            "SUCCESS" => success += 1,
            "USER_BALANCE_NOT_ENOUGH" => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((success, refused), (50, 150));
    assert_eq!(h.balance("buyer-2", "HKD"), 0);
    // Every payment has exactly one final state, and inquiry agrees with pay.
    for i in 0..200 {
        let q = h.call("inquiryPayment", &json!({"paymentRequestId": format!("cc-{i}")})).await;
        let status = q.body["paymentResult"]["resultStatus"].as_str().unwrap().to_string();
        assert!(status == "S" || status == "F");
    }
    let totals = h.sandbox.store().ledger_totals().unwrap();
    assert_eq!(totals["HKD"].paid, 500_000);
    assert_ledger(&h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_partial_refunds_never_exceed_the_payment() {
    let h = Arc::new(Harness::start().await);
    let a = h.call("pay", &pay_body("rf", &h.code("buyer-1"), "HKD", "10000")).await;
    assert_eq!(a.code(), "SUCCESS");
    let mut tasks = Vec::new();
    for i in 0..50 {
        let h = Arc::clone(&h);
        tasks.push(tokio::spawn(async move {
            let body = json!({"paymentRequestId": "rf", "refundRequestId": format!("rr-{i}"), "refundAmount": {"currency": "HKD", "value": "300"}});
            h.call("refund", &body).await.code().to_string()
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap().as_str() {
            "SUCCESS" => ok += 1,
            "REFUND_AMOUNT_EXCEED" => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(ok, 33, "33 × 300 = 9900 ≤ 10000 < 34 × 300");
    let totals = h.sandbox.store().ledger_totals().unwrap();
    assert_eq!(totals["HKD"].refunded, 9900);
    assert_ledger(&h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_racing_confirmation_ends_in_one_agreed_state() {
    let h = Arc::new(Harness::start().await);
    let rx = receiver(&h).await;
    let store = h.sandbox.store();
    store.set_notify_url(Some(&rx.url)).unwrap();
    store.set_scenario("buyer-1", &Scenario::Pin).unwrap();
    let start_balance = h.balance("buyer-1", "USD");
    let mut cancelled_ids = Vec::new();
    for i in 0..10 {
        let id = format!("race-{i}");
        let a = h.call("pay", &pay_body(&id, &h.code("buyer-1"), "USD", "100")).await;
        let payment_id = a.body["paymentId"].as_str().unwrap().to_string();
        let confirm = {
            let store = Arc::clone(&store);
            let pid = payment_id.clone();
            let now = h.clock_now();
            tokio::task::spawn_blocking(move || store.confirm(&pid, "1234", now))
        };
        let cancel_body = json!({"paymentRequestId": id});
        let cancel = h.call("cancelPayment", &cancel_body);
        let (confirmed, cancelled) = tokio::join!(confirm, cancel);
        assert_eq!(cancelled.code(), "SUCCESS");
        // Whatever the order, the final state is CANCELLED, and the ledger and inquiry agree.
        let q = h.call("inquiryPayment", &json!({"paymentRequestId": id})).await;
        assert_eq!(q.body["paymentResult"]["resultCode"], "ORDER_IS_CLOSED");
        let _ = confirmed.unwrap();
        cancelled_ids.push(id);
    }
    assert_eq!(h.balance("buyer-1", "USD"), start_balance);
    assert_ledger(&h);
    // No notification tells the ACQP SUCCESS for a payment that ended cancelled, unless it was
    // delivered before the cancel (then the cancel response decides, §8).
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    for (n, _) in rx.received.lock().unwrap().iter() {
        assert_ne!(n["paymentResult"]["resultStatus"], "U");
    }
}
