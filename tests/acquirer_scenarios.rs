//! The correct reference acquirer against a real sandbox, one full UPM flow per wallet scenario:
//! final states as the reference says (§3, §4, §7, §8, §12).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod acquirer_common;

use std::time::Duration;

use acquirer_common::{fast_timing, Env};
use plusbox_acquirer::{CancelRequest, OrderState, PosDriver, RefundRequest};
use plusbox_core::result_code::ResultCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn success_is_paid_by_the_pay_response_and_notify_is_acked() {
    let env = Env::start(&[], fast_timing()).await;
    let code = env.code_for("buyer-1", "success");
    let record = env.charge(&code, "12.50 USD").await;
    assert_eq!(record.state, OrderState::Success, "{record:?}");
    // The sandbox notifies at once, so the notification may land before the pay response:
    // whichever final result arrives first decides (§3).
    assert!(matches!(record.final_source.as_deref(), Some("pay") | Some("notify")), "{record:?}");
    assert_eq!(record.wallet_brand_name.as_deref(), Some("Test Wallet"));
    let payment_id = record.payment_id.clone().unwrap();
    // The sandbox delivered its notification and accepted our signed S acknowledgement.
    let status = env.notification_status(&payment_id).await.unwrap();
    assert_eq!(status.0, "delivered");
    let out: Vec<_> = env.traffic().into_iter().filter(|t| t.api == "notifyPayment").collect();
    assert_eq!(out[0].signature, "valid");
    // Every pay request carried a string amount, the store and the terminal.
    let pay = &env.calls("pay")[0];
    assert!(pay.request_body.contains("\"value\":\"1250\"") && pay.request_body.contains("storeTerminalId"));
    assert_eq!(pay.signature, "valid");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_refusals_fail_the_order_with_their_codes() {
    let env = Env::start(&[], fast_timing()).await;
    for (scenario, code) in [
        ("insufficient-balance", "USER_BALANCE_NOT_ENOUGH"),
        ("risk-reject", "RISK_REJECT"),
        ("user-not-exist", "USER_NOT_EXIST"),
        ("user-abnormal", "USER_STATUS_ABNORMAL"),
        ("over-limit", "USER_AMOUNT_EXCEED_LIMIT"),
    ] {
        let payment_code = env.code_for("buyer-2", scenario);
        let record = env.charge(&payment_code, "3.00 USD").await;
        assert_eq!(record.state, OrderState::Failed, "{scenario}: {record:?}");
        assert_eq!(record.result_code.as_deref(), Some(code), "{scenario}");
        assert!(matches!(record.final_source.as_deref(), Some("pay") | Some("notify")), "{record:?}");
        assert_eq!(record.inquiry_calls, 0, "a final F needs no inquiry");
    }
    assert!(env.calls("cancelPayment").is_empty());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pin_confirmed_by_the_buyer_is_paid_after_polling() {
    let env = Env::start(&[], fast_timing()).await;
    let code = env.code_for("buyer-1", "pin");
    let confirm = env.confirm_soon(Duration::from_millis(300));
    let record = env.charge(&code, "7.00 USD").await;
    assert!(confirm.await.unwrap(), "the buyer confirmed");
    assert_eq!(record.state, OrderState::Success, "{record:?}");
    // Decided by inquiry or notify, whichever came first; never by pay (which said U).
    assert!(matches!(record.final_source.as_deref(), Some("inquiry") | Some("notify")));
    let pay = env.calls("pay");
    assert_eq!(pay.len(), 1);
    assert_eq!(pay[0].result_code.as_deref(), Some("PAYMENT_IN_PROCESS"));
    assert!(env.calls("cancelPayment").is_empty());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pin_never_confirmed_is_polled_with_increasing_intervals_then_closed_or_cancelled() {
    let env = Env::start(&[], fast_timing()).await;
    let code = env.code_for("buyer-1", "pin");
    let record = env.charge(&code, "7.00 USD").await;
    // Either our cancel won, or the sandbox closed the expired payment first (§4.4); never paid.
    assert!(matches!(record.state, OrderState::Cancelled | OrderState::Failed), "{record:?}");
    let inquiries = env.calls("inquiryPayment");
    assert!(!inquiries.is_empty());
    // The schedule's shortest gap is 200 ms, so at most expiry / 200 ms + 1 inquiries fit.
    assert!(inquiries.len() <= 16, "{}", inquiries.len());
    assert!(inquiries
        .iter()
        .all(|t| t.payment_request_id.as_deref() == Some(record.payment_request_id.as_str())));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_pay_times_out_and_is_retried_with_the_same_request_id() {
    let env = Env::start(&[], fast_timing()).await;
    // 2 s answer against a 1.5 s client timeout.
    let code = env.code_for("buyer-1", "slow:2");
    let record = env.charge(&code, "5.00 USD").await;
    assert_eq!(record.state, OrderState::Success, "{record:?}");
    let pay = env.calls("pay");
    // The first pay timed out on our side; the result then came by notify, a retried pay (same
    // paymentRequestId) or an inquiry — never by a second payment.
    assert_eq!(env.sandbox.store().ledger_totals().unwrap()["USD"].paid, 500);
    assert!(pay.iter().all(|t| t.payment_request_id.as_deref() == Some(record.payment_request_id.as_str())));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_exception_on_pay_ends_in_success_not_a_failed_sale() {
    // The wallet took the money behind the U answer (reference §16.1: inquire, never fail the sale).
    let env = Env::start(&[], fast_timing()).await;
    let code = env.code_for("buyer-1", "unknown-exception");
    let record = env.charge(&code, "5.00 USD").await;
    assert_eq!(record.state, OrderState::Success, "{record:?}");
    let pay = env.calls("pay");
    assert_eq!(pay[0].result_code.as_deref(), Some("UNKNOWN_EXCEPTION"));
    assert!(pay.iter().all(|t| t.payment_request_id.as_deref() == Some(record.payment_request_id.as_str())));
    assert!(env.calls("cancelPayment").is_empty(), "a paid sale must not be cancelled");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_unknown_exception_is_retried_with_the_same_request_id() {
    // A mock answer creates no payment and sends no notify, so only a retry can complete the sale.
    let env = Env::start(&[], fast_timing()).await;
    let code = env.code_for("buyer-1", "success");
    env.sandbox
        .store()
        .add_mock("pay", ResultCode::UnknownException, Some(1), None, time::OffsetDateTime::now_utc())
        .unwrap();
    let record = env.charge(&code, "5.00 USD").await;
    assert_eq!(record.state, OrderState::Success, "{record:?}");
    let pay = env.calls("pay");
    assert!(pay.len() >= 2, "pay retried after U UNKNOWN_EXCEPTION: {pay:?}");
    assert!(pay.iter().all(|t| t.payment_request_id.as_deref() == Some(record.payment_request_id.as_str())));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_is_cancelled_after_expiry() {
    let env = Env::start(&[], fast_timing()).await;
    let code = env.code_for("buyer-1", "no-answer");
    let record = env.charge(&code, "5.00 USD").await;
    assert!(matches!(record.state, OrderState::Cancelled | OrderState::Failed), "{record:?}");
    assert!(record.cancel_requested || record.final_source.as_deref() != Some("pay"));
    assert_ne!(record.state, OrderState::Success);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refunds_partial_then_over_amount_is_refused_locally_and_cancel_reverses() {
    let env = Env::start(&[], fast_timing()).await;
    let code = env.code_for("buyer-1", "success");
    let paid = env.charge(&code, "10.00 USD").await;
    assert_eq!(paid.state, OrderState::Success);
    let refund = |amount: &str| RefundRequest {
        payment: paid.payment_request_id.clone(),
        amount: amount.to_owned(),
        refund_request_id: None,
        reason: Some("return".to_owned()),
    };
    let r1 = env.acquirer.refund(refund("4.00 USD")).await.unwrap();
    assert_eq!((r1.state.as_str(), r1.result_code.as_deref()), ("SUCCESS", Some("SUCCESS")));
    let over = env.acquirer.refund(refund("7.00 USD")).await.unwrap_err();
    assert_eq!(over.code(), "REFUND_AMOUNT_EXCEED");
    assert_eq!(env.calls("refund").len(), 1, "the over-amount refund never left the acquirer");

    // A second payment, cancelled by the merchant after it succeeded (§8: whatever its status).
    let code = env.code_for("buyer-3", "success");
    let paid = env.charge(&code, "2.00 USD").await;
    let cancelled =
        env.acquirer.cancel(CancelRequest { payment: paid.payment_id.clone().unwrap() }).await.unwrap();
    assert_eq!(cancelled.state, OrderState::Cancelled);
    assert_eq!(env.calls("cancelPayment")[0].result_code.as_deref(), Some("SUCCESS"));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pos_driver_api_charges_and_reports_json_errors() {
    let env = Env::start(&[], fast_timing()).await;
    let driver = PosDriver::new(&env.base_url, Duration::from_secs(60)).unwrap();
    let code = env.code_for("buyer-1", "success");
    let record = driver.charge(&code, "1.00 USD").await.unwrap();
    assert_eq!(record.state, OrderState::Success);
    let again = driver.payment(&record.payment_request_id).await.unwrap();
    assert_eq!(again.payment_id, record.payment_id);
    let bad = driver.charge(&code, "1,00 USD").await.unwrap_err();
    assert_eq!((bad.status, bad.code.as_str()), (400, "BAD_REQUEST"));
    let missing = driver.payment("nope").await.unwrap_err();
    assert_eq!(missing.status, 404);
    let http = reqwest::Client::new();
    let r = http.post(format!("{}/charge", env.base_url)).body("{not json").send().await.unwrap();
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["code"], "BAD_REQUEST");
    // An unsigned "notification" is refused with a signed F ack and never applied.
    let r = http
        .post(format!("{}/notify", env.base_url))
        .body(r#"{"paymentRequestId":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("signature"));
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["result"]["resultCode"], "INVALID_SIGNATURE");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn still_processing_at_expiry_is_cancelled_not_inquired_past_it() {
    // A payment that stays U (magic amount 902, stuck): polls stop before the expiry sent on the
    // wire and the ACQP cancels while Alipay+ still holds the payment open (§7, §8).
    let env = Env::start(&[], fast_timing()).await;
    let code = env.code_for("buyer-1", "success");
    let record = env.charge(&code, "19.02 USD").await;
    assert_eq!(record.state, OrderState::Cancelled, "{record:?}");
    assert!(record.cancel_requested);
    let pay = &env.calls("pay")[0];
    let body: serde_json::Value = serde_json::from_str(&pay.request_body).unwrap();
    let wire_expiry = time::OffsetDateTime::parse(
        body["paymentExpiryTime"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    for inquiry in env.calls("inquiryPayment") {
        let at =
            time::OffsetDateTime::parse(&inquiry.at, &time::format_description::well_known::Rfc3339).unwrap();
        assert!(
            at < wire_expiry,
            "inquiry #{} at {} is not before the expiry {wire_expiry}",
            inquiry.id,
            inquiry.at
        );
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_is_cancelled_before_the_sandbox_closes_it() {
    let env = Env::start(&[], fast_timing()).await;
    let code = env.code_for("buyer-1", "no-answer");
    let record = env.charge(&code, "5.00 USD").await;
    assert_eq!(record.state, OrderState::Cancelled, "{record:?}");
    assert!(!env.calls("cancelPayment").is_empty());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charge_is_idempotent_by_payment_request_id_over_the_pos_driver_api() {
    let env = Env::start(&[], fast_timing()).await;
    let code = env.code_for("buyer-1", "success");
    let http = reqwest::Client::new();
    let charge = |body: serde_json::Value| {
        let http = http.clone();
        let url = format!("{}/charge", env.base_url);
        async move { http.post(url).json(&body).send().await.unwrap() }
    };
    let body = serde_json::json!({"code": code, "amount": "4.00 USD", "paymentRequestId": "pos-idem-1"});
    let first: serde_json::Value = charge(body.clone()).await.json().await.unwrap();
    assert_eq!(first["state"], "SUCCESS");
    // The same sale again: the same payment, and no second pay on the wire.
    let again = charge(body).await;
    assert_eq!(again.status(), 200);
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(again["paymentRequestId"], "pos-idem-1");
    assert_eq!(again["paymentId"], first["paymentId"]);
    assert_eq!(env.calls("pay").len(), 1);
    // The id with another amount: refused, and still one pay.
    let other =
        charge(serde_json::json!({"code": code, "amount": "5.00 USD", "paymentRequestId": "pos-idem-1"}))
            .await;
    assert_eq!(other.status(), 409);
    let other: serde_json::Value = other.json().await.unwrap();
    assert_eq!(other["code"], "REPEAT_REQ_INCONSISTENT");
    assert_eq!(env.calls("pay").len(), 1);
    env.stop().await;
}
