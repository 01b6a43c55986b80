//! The sandbox clock can jump ahead (testing-practice.md §10.2): the offset lives in the store, so
//! another process (the CLI, a test runner) moves the time of a running server, and every
//! deadline — code validity, the cancel window, payment expiry — follows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{pay_body, Harness};
use plusbox_sandbox::{Clock, OffsetClock, Store, TestClock};
use serde_json::json;

/// A second handle on the server's database, as `plusbox clock advance --data D` opens it.
fn other_process(h: &Harness) -> Store {
    Store::open(h.sandbox.store().path().parent().unwrap()).unwrap()
}

#[tokio::test]
async fn a_jump_made_elsewhere_expires_codes_and_closes_the_cancel_window() {
    let h = Harness::start().await;
    let cli = other_process(&h);
    assert_eq!(cli.clock_offset().unwrap(), time::Duration::ZERO);

    // A code issued now is still good after 30 s of jump, expired after 61 s.
    let code = h.code("buyer-1");
    assert_eq!(cli.advance_clock(time::Duration::seconds(30)).unwrap(), time::Duration::seconds(30));
    let paid = h.call("pay", &pay_body("o1", &code, "USD", "700")).await;
    assert_eq!(paid.code(), "SUCCESS");
    let late = h.code("buyer-1");
    cli.advance_clock(time::Duration::seconds(61)).unwrap();
    assert_eq!(h.call("pay", &pay_body("o2", &late, "USD", "700")).await.code(), "EXPIRED_CODE");

    // The sandbox's answers carry sandbox time.
    let stamp = paid.body["paymentTime"].as_str().unwrap();
    let at = time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339).unwrap();
    assert!(at >= h.clock_now() + time::Duration::seconds(29), "{stamp}");

    // The next day: o1 can no longer be cancelled.
    cli.advance_clock(time::Duration::hours(25)).unwrap();
    let c = h.call("cancelPayment", &json!({"paymentRequestId": "o1"})).await;
    assert_eq!((c.code(), c.status_letter()), ("CANCEL_WINDOW_EXCEED", "F"));

    // Reset puts the server back on its own clock.
    cli.reset_clock().unwrap();
    assert_eq!(h.sandbox.store().clock_offset().unwrap(), time::Duration::ZERO);
}

#[tokio::test]
async fn sleepers_wake_when_time_jumps_past_their_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let base = TestClock::new(common::start_time());
    let clock = OffsetClock::new(Arc::new(base.clone()), Arc::clone(&store));
    let start = clock.now();
    // The deadline is fixed when the sleep is made: start + 5 min.
    let sleeper = tokio::spawn(clock.sleep(time::Duration::minutes(5)));
    // A jump through this clock wakes at once; one through the store alone within a recheck.
    clock.advance(time::Duration::minutes(2)).unwrap();
    assert!(!sleeper.is_finished());
    store.advance_clock(time::Duration::minutes(4)).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(5), sleeper).await.unwrap().unwrap();
    assert!(clock.now() - start >= time::Duration::minutes(6));
    assert_eq!(clock.offset(), time::Duration::minutes(6));
    // Never behind the underlying clock.
    store.advance_clock(time::Duration::hours(-10)).unwrap();
    assert_eq!(store.clock_offset().unwrap(), time::Duration::ZERO);
}

#[tokio::test]
async fn a_mock_rule_can_be_taken_back() {
    // A test run removes the rules it arranged but nobody used (e.g. an ACQP that never called).
    let h = Harness::start().await;
    let store = h.sandbox.store();
    let kept = store
        .add_mock("refund", plusbox_sandbox::ResultCode::UnknownException, Some(1), Some(30), h.clock_now())
        .unwrap();
    let taken = store
        .add_tamper_mock("pay", plusbox_sandbox::store::Tamper::Body, Some(1), Some(30), h.clock_now())
        .unwrap();
    assert!(store.remove_mock(taken.id).unwrap());
    assert!(!store.remove_mock(taken.id).unwrap());
    let left: Vec<i64> = store.mocks(h.clock_now()).unwrap().iter().map(|m| m.id).collect();
    assert_eq!(left, vec![kept.id]);
    // The pay is answered normally: the tamper rule is gone.
    let code = h.code("buyer-1");
    assert_eq!(h.call("pay", &pay_body("m1", &code, "USD", "700")).await.code(), "SUCCESS");
}
