//! Each fault switch against a real sandbox: the broken rule is visible in the sandbox's traffic
//! log (and, where it helps, contrasted with the correct acquirer under the same conditions).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod acquirer_common;

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use acquirer_common::{fast_timing, Env};
use plusbox_acquirer::{CancelRequest, Fault, OrderState, RefundRequest, Timing};
use plusbox_core::result_code::ResultCode;

fn few_inquiries() -> Timing {
    Timing { max_inquiries: 3, payment_expiry_ms: 6_000, ..fast_timing() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_inquiry_never_calls_inquiry_payment() {
    let env = Env::start(&[Fault::NoInquiry], fast_timing()).await;
    let code = env.code_for("buyer-1", "pin");
    let record = env.charge(&code, "7.00 USD").await;
    assert_ne!(record.state, OrderState::Success);
    assert!(env.calls("inquiryPayment").is_empty(), "no inquiryPayment in the traffic log");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_too_fast_hammers_inquiry_payment() {
    let env = Env::start(&[Fault::PollTooFast], fast_timing()).await;
    let code = env.code_for("buyer-1", "pin");
    env.charge(&code, "7.00 USD").await;
    // The correct schedule (gaps of at least 200 ms in a 3 s expiry) allows at most 16.
    let n = env.calls("inquiryPayment").len();
    assert!(n > 16, "{n} inquiries");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_forever_ignores_the_inquiry_limit_and_never_cancels() {
    let correct = Env::start(&[], few_inquiries()).await;
    let code = correct.code_for("buyer-1", "pin");
    correct.charge(&code, "7.00 USD").await;
    assert_eq!(correct.calls("inquiryPayment").len(), 3);
    assert_eq!(correct.calls("cancelPayment").len(), 1);
    correct.stop().await;

    let env = Env::start(&[Fault::PollForever], few_inquiries()).await;
    let code = env.code_for("buyer-1", "pin");
    env.charge(&code, "7.00 USD").await;
    assert!(env.calls("inquiryPayment").len() > 3);
    assert!(env.calls("cancelPayment").is_empty());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_cancel_gives_up_without_cancel_payment() {
    let env = Env::start(&[Fault::NoCancel], few_inquiries()).await;
    let code = env.code_for("buyer-1", "pin");
    let record = env.charge(&code, "7.00 USD").await;
    assert_eq!(env.calls("inquiryPayment").len(), 3);
    assert!(env.calls("cancelPayment").is_empty(), "no cancelPayment in the traffic log");
    assert_eq!((record.state, record.final_source.as_deref()), (OrderState::Failed, Some("local")));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_request_id_on_retry_sends_a_second_payment_request_id() {
    let env = Env::start(&[Fault::NewRequestIdOnRetry], fast_timing()).await;
    let code = env.code_for("buyer-1", "success");
    // A forced U creates no payment and no notify, so the acquirer must retry pay.
    env.sandbox
        .store()
        .add_mock("pay", ResultCode::UnknownException, Some(1), None, time::OffsetDateTime::now_utc())
        .unwrap();
    env.charge(&code, "5.00 USD").await;
    let ids: BTreeSet<_> = env.calls("pay").into_iter().filter_map(|t| t.payment_request_id).collect();
    assert!(ids.len() >= 2, "{ids:?}");
    env.stop().await;
}

/// Inquiries sent after the sandbox delivered its notification.
fn inquiries_after_notify(env: &Env) -> usize {
    let traffic = env.traffic();
    let Some(notify) = traffic.iter().find(|t| t.api == "notifyPayment") else { return 0 };
    traffic.iter().filter(|t| t.api == "inquiryPayment" && t.id > notify.id).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignore_notify_keeps_polling_after_the_notification() {
    let timing = Timing { poll_intervals_ms: vec![1_500], payment_expiry_ms: 6_000, ..fast_timing() };
    let correct = Env::start(&[], timing.clone()).await;
    let code = correct.code_for("buyer-1", "pin");
    let confirm = correct.confirm_soon(Duration::from_millis(50));
    let record = correct.charge(&code, "7.00 USD").await;
    assert!(confirm.await.unwrap());
    assert_eq!(record.final_source.as_deref(), Some("notify"));
    assert_eq!(inquiries_after_notify(&correct), 0);
    correct.stop().await;

    let env = Env::start(&[Fault::IgnoreNotify], timing).await;
    let code = env.code_for("buyer-1", "pin");
    let confirm = env.confirm_soon(Duration::from_millis(50));
    let record = env.charge(&code, "7.00 USD").await;
    assert!(confirm.await.unwrap());
    assert_eq!(record.state, OrderState::Success);
    assert_eq!(record.final_source.as_deref(), Some("inquiry"));
    assert!(inquiries_after_notify(&env) >= 1);
    env.stop().await;
}

async fn ack_verdict(fault: Fault) -> (String, String) {
    let env = Env::start(&[fault], fast_timing()).await;
    let code = env.code_for("buyer-1", "success");
    let record = env.charge(&code, "2.00 USD").await;
    let status = env.notification_status(record.payment_id.as_deref().unwrap()).await.unwrap();
    let out = env.traffic().into_iter().find(|t| t.api == "notifyPayment").unwrap();
    env.stop().await;
    (out.signature, status.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_ack_is_flagged_and_not_counted_as_delivered() {
    let (signature, status) = ack_verdict(Fault::UnsignedAck).await;
    assert_eq!(signature, "missing");
    assert_ne!(status, "delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ack_signature_is_flagged_and_not_counted_as_delivered() {
    let (signature, status) = ack_verdict(Fault::BadAckSignature).await;
    assert_eq!(signature, "invalid");
    assert_ne!(status, "delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_key_is_refused_with_invalid_signature() {
    let env = Env::start(&[Fault::WrongKey], fast_timing()).await;
    let code = env.code_for("buyer-1", "success");
    let record = env.charge(&code, "2.00 USD").await;
    let pay = env.calls("pay");
    assert_eq!(pay[0].signature, "invalid");
    assert_eq!(pay[0].result_code.as_deref(), Some("INVALID_SIGNATURE"));
    assert_eq!(record.state, OrderState::Failed);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refund_over_amount_reaches_the_gateway() {
    let env = Env::start(&[Fault::RefundOverAmount], fast_timing()).await;
    let code = env.code_for("buyer-1", "success");
    let paid = env.charge(&code, "10.00 USD").await;
    let refund = |amount: &str| RefundRequest {
        payment: paid.payment_request_id.clone(),
        amount: amount.to_owned(),
        refund_request_id: None,
        reason: None,
    };
    env.acquirer.refund(refund("4.00 USD")).await.unwrap();
    let over = env.acquirer.refund(refund("7.00 USD")).await.unwrap();
    assert_eq!(over.state, "FAILED");
    let refunds = env.calls("refund");
    assert_eq!(refunds.len(), 2);
    assert_eq!(refunds[1].result_code.as_deref(), Some("REFUND_AMOUNT_EXCEED"));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_refused_for_the_window_is_not_reported_done() {
    for fault in [None, Some(Fault::CancelAfterWindow)] {
        let start = time::OffsetDateTime::now_utc();
        let sandbox_clock = plusbox_sandbox::TestClock::new(start);
        let acq_clock = plusbox_acquirer::TestClock::new(start);
        let env = Env::start_with(
            &fault.into_iter().collect::<Vec<_>>(),
            fast_timing(),
            Some(Arc::new(sandbox_clock.clone())),
            Arc::new(acq_clock.clone()),
            None,
        )
        .await;
        let code = env.code_at("buyer-1", "success", start);
        let paid = env.charge(&code, "3.00 USD").await;
        assert_eq!(paid.state, OrderState::Success);
        // Alipay+ says the window has closed; the acquirer's own clock does not know it yet, so
        // it asks, and Alipay+'s refusal decides.
        sandbox_clock.advance(time::Duration::days(2));
        let result = env.acquirer.cancel(CancelRequest { payment: paid.payment_request_id.clone() }).await;
        let cancels = env.calls("cancelPayment");
        assert_eq!(cancels[0].result_code.as_deref(), Some("CANCEL_WINDOW_EXCEED"));
        match fault {
            None => {
                let error = result.unwrap_err();
                assert_eq!(error.code(), "CANCEL_WINDOW_EXCEED");
                assert_eq!(error.http_status(), 409);
                let record = env.acquirer.payment(&paid.payment_request_id).unwrap();
                assert_eq!(record.state, OrderState::Success, "the sale stays paid: refund instead");
            }
            Some(_) => assert_eq!(result.unwrap().state, OrderState::Cancelled),
        }
        env.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_after_the_local_window_is_refused_before_the_gateway() {
    let start = time::OffsetDateTime::now_utc();
    let sandbox_clock = plusbox_sandbox::TestClock::new(start);
    let acq_clock = plusbox_acquirer::TestClock::new(start);
    let env = Env::start_with(
        &[],
        fast_timing(),
        Some(Arc::new(sandbox_clock.clone())),
        Arc::new(acq_clock.clone()),
        None,
    )
    .await;
    let code = env.code_at("buyer-1", "success", start);
    let paid = env.charge(&code, "3.00 USD").await;
    sandbox_clock.advance(time::Duration::days(2));
    acq_clock.advance(time::Duration::days(2));
    let result = env.acquirer.cancel(CancelRequest { payment: paid.payment_request_id.clone() }).await;
    assert_eq!(result.unwrap_err().code(), "CANCEL_WINDOW_EXCEED");
    assert!(env.calls("cancelPayment").is_empty());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_not_strings_leave_hygiene_findings() {
    let env = Env::start(&[Fault::NumbersNotStrings], fast_timing()).await;
    let code = env.code_for("buyer-1", "success");
    env.charge(&code, "12.50 USD").await;
    let pay = &env.calls("pay")[0];
    assert!(pay.request_body.contains("\"value\":1250"), "{}", pay.request_body);
    let findings = pay.findings.as_array().unwrap();
    assert!(findings.iter().any(|f| f["kind"] == "number-as-string"), "{findings:?}");
    assert!(findings.iter().any(|f| f["kind"] == "boolean-as-string"), "{findings:?}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn omit_store_is_refused_and_omit_terminal_is_visible() {
    let env = Env::start(&[Fault::OmitStore], fast_timing()).await;
    let code = env.code_for("buyer-1", "success");
    let record = env.charge(&code, "1.00 USD").await;
    let pay = &env.calls("pay")[0];
    assert!(!pay.request_body.contains("\"store\""));
    assert_eq!(pay.result_code.as_deref(), Some("PARAM_ILLEGAL"));
    assert_eq!(record.state, OrderState::Failed);
    env.stop().await;

    let env = Env::start(&[Fault::OmitTerminal], fast_timing()).await;
    let code = env.code_for("buyer-1", "success");
    env.charge(&code, "1.00 USD").await;
    let pay = &env.calls("pay")[0];
    assert!(!pay.request_body.contains("storeTerminalId") && pay.request_body.contains("\"store\""));
    env.stop().await;
}

/// A man in the middle that turns the sandbox's "still processing" inquiry answers into a
/// success, without re-signing.
async fn tampering_proxy(target: Arc<OnceLock<String>>) -> String {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, Uri};
    use axum::response::IntoResponse;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let target = Arc::clone(&target);
        async move {
            let mut request = reqwest::Client::new().post(format!("{}{}", target.get().unwrap(), uri));
            for name in ["client-id", "request-time", "signature", "content-type"] {
                if let Some(v) = headers.get(name) {
                    request = request.header(name, v.to_str().unwrap());
                }
            }
            let response = request.body(body).send().await.unwrap();
            let mut out = HeaderMap::new();
            for name in ["client-id", "response-time", "signature", "content-type"] {
                if let Some(v) = response.headers().get(name) {
                    out.insert(name, v.clone());
                }
            }
            let mut text = response.text().await.unwrap();
            if uri.path().ends_with("/inquiryPayment") {
                text = text
                    .replace("\"resultStatus\":\"U\"", "\"resultStatus\":\"S\"")
                    .replace("PAYMENT_IN_PROCESS", "SUCCESS");
            }
            (out, text).into_response()
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_response_verification_trusts_a_tampered_response() {
    for fault in [None, Some(Fault::SkipResponseVerification)] {
        let target = Arc::new(OnceLock::new());
        let proxy = tampering_proxy(Arc::clone(&target)).await;
        let env = Env::start_with(
            &fault.into_iter().collect::<Vec<_>>(),
            fast_timing(),
            None,
            Arc::new(plusbox_acquirer::SystemClock),
            Some(proxy),
        )
        .await;
        target.set(env.sandbox.base_url().to_owned()).unwrap();
        // The buyer never confirms: the sandbox answers every inquiry "still processing".
        let code = env.code_for("buyer-2", "pin");
        let record = env.charge(&code, "3.00 USD").await;
        let inquiries = env.calls("inquiryPayment");
        assert!(inquiries[0].response_body.contains("PAYMENT_IN_PROCESS"));
        match fault {
            None => assert_ne!(record.state, OrderState::Success, "{record:?}"),
            Some(_) => {
                assert_eq!(record.state, OrderState::Success, "{record:?}");
                assert_eq!(record.final_source.as_deref(), Some("inquiry"));
                assert_eq!(inquiries.len(), 1);
            }
        }
        env.stop().await;
    }
}

/// The POS driver's `/clock` sets only the acquirer's clock: a sale at 07:59:30 UTC+8 voided at
/// 08:20:30 UTC+8 is within the window (00:15 UTC+8 the next day). Computed in UTC the window
/// would have closed at 00:15 UTC, so `cancel-window-utc` refuses the legal void itself, before
/// asking Alipay+.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_window_computed_in_utc_refuses_a_legal_void_of_a_morning_sale() {
    let http = reqwest::Client::new();
    for fault in [None, Some(Fault::CancelWindowUtc)] {
        let env = Env::start(&fault.into_iter().collect::<Vec<_>>(), fast_timing()).await;
        let today = time::OffsetDateTime::now_utc().date();
        let sale_at = today.with_hms(23, 59, 30).unwrap().assume_utc();
        let set = |at: time::OffsetDateTime| {
            let body = serde_json::json!({"at": plusbox_core::protocol::time::format_instant(at)});
            http.put(format!("{}/clock", env.base_url)).json(&body).send()
        };
        let answer: serde_json::Value = set(sale_at).await.unwrap().json().await.unwrap();
        let reads = plusbox_core::protocol::time::parse_instant(answer["now"].as_str().unwrap()).unwrap();
        assert!((reads - sale_at).abs() < time::Duration::seconds(2), "{answer}");
        let code = env.code_for("buyer-1", "success");
        let paid = env.charge(&code, "3.00 USD").await;
        assert_eq!(paid.state, OrderState::Success);
        set(sale_at + time::Duration::minutes(21)).await.unwrap();
        let result = env.acquirer.cancel(CancelRequest { payment: paid.payment_request_id.clone() }).await;
        match fault {
            None => {
                assert_eq!(result.unwrap().state, OrderState::Cancelled);
                assert_eq!(env.calls("cancelPayment")[0].result_code.as_deref(), Some("SUCCESS"));
            }
            Some(_) => {
                let error = result.unwrap_err();
                assert_eq!(error.code(), "CANCEL_WINDOW_EXCEED", "refused locally: {error}");
                assert!(env.calls("cancelPayment").is_empty(), "never asked Alipay+");
            }
        }
        // Back to the acquirer's own clock.
        let reset: serde_json::Value =
            http.delete(format!("{}/clock", env.base_url)).send().await.unwrap().json().await.unwrap();
        assert_eq!(reset["shiftMs"], 0, "{reset}");
        env.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_endpoint_refuses_what_it_cannot_take_and_keeps_its_time() {
    let env = Env::start(&[], fast_timing()).await;
    let http = reqwest::Client::new();
    let url = format!("{}/clock", env.base_url);
    for (body, says) in [
        (serde_json::json!({"at": "yesterday"}), "not an RFC 3339 time"),
        (serde_json::json!({"at": "2099-01-01T00:00:00Z"}), "400 days"),
        (serde_json::json!({"when": "2026-01-01T00:00:00Z"}), "request body"),
    ] {
        let response = http.put(&url).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["code"], "BAD_REQUEST", "{error}");
        assert!(error["message"].as_str().unwrap().contains(says), "{error}");
    }
    let now: serde_json::Value = http.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(now["shiftMs"], 0, "{now}");
    env.stop().await;
}
