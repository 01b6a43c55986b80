#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Evaluation against hand-built traffic: the correct behaviour passes every case; each broken
//! behaviour fails, naming the check that caught it. Cases are the real files in `testcases/`.

use std::path::PathBuf;

use plusbox_core::catalogue::{
    evaluate, load_case, Case, Evidence, Outcome, PaymentSnapshot, PosOutcome, RefundSnapshot, RunInput,
    RunMode, TrafficEntry, Verdict,
};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;
use time::OffsetDateTime;

fn case(id: &str) -> Case {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testcases");
    let path = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(&format!("{id}-")))
        .unwrap_or_else(|| panic!("no file for {id}"));
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    load_case(&name, &std::fs::read_to_string(&path).unwrap()).unwrap_or_else(|e| panic!("{e:?}"))
}

const T0: OffsetDateTime = datetime!(2026-03-10 04:00:00 UTC);

fn at(ms: i64) -> String {
    (T0 + time::Duration::milliseconds(ms)).format(&Rfc3339).unwrap()
}

/// A run under construction: traffic, states and POS answers.
struct Run {
    input: RunInput,
}

fn good_pay_body(prid: &str, value: &str) -> Value {
    json!({
        "paymentRequestId": prid,
        "paymentAmount": {"currency": "USD", "value": value},
        "paymentMethod": {"paymentMethodType": "CONNECT_WALLET", "paymentMethodId": "281006020000000000125733"},
        "paymentFactor": {"isInStorePayment": "true", "inStorePaymentScenario": "PaymentCode"},
        "order": {
            "referenceOrderId": "o1",
            "orderAmount": {"currency": "USD", "value": value},
            "merchant": {"referenceMerchantId": "M1", "store": {"referenceStoreId": "S1", "storeName": "Shop"}},
            "env": {"storeTerminalId": "T01", "storeTerminalRequestTime": "2026-03-10T12:00:00+08:00"}
        }
    })
}

impl Run {
    fn new() -> Run {
        Run { input: RunInput { finished: true, started_at: Some(at(0)), ..RunInput::default() } }
    }

    fn push(&mut self, mut e: TrafficEntry) -> i64 {
        e.id = self.input.traffic.len() as i64 + 1;
        let id = e.id;
        self.input.traffic.push(e);
        id
    }

    /// An ACQP → sandbox call, signed correctly, answered with `code` (`None` = never answered).
    fn call(&mut self, ms: i64, api: &str, prid: &str, body: Value, code: Option<(&str, &str)>) -> i64 {
        self.push(TrafficEntry {
            at: at(ms),
            direction: "inbound".into(),
            api: api.into(),
            payment_request_id: Some(prid.into()),
            payment_id: Some(format!("pid-{prid}")),
            method: "POST".into(),
            // A correct ACQP's Request-Time: the real time with its real offset.
            request_headers: json!({"request-time": at(ms)}),
            request_body: body.to_string(),
            response_status: code.map(|_| 200),
            result_code: code.map(|c| c.0.to_owned()),
            result_status: code.map(|c| c.1.to_owned()),
            signature: "valid".into(),
            findings: json!([]),
            ..TrafficEntry::default()
        })
    }

    fn pay(&mut self, ms: i64, prid: &str, code: Option<(&str, &str)>) -> i64 {
        self.call(ms, "pay", prid, good_pay_body(prid, "1250"), code)
    }

    fn inquiry(&mut self, ms: i64, prid: &str) -> i64 {
        self.call(ms, "inquiryPayment", prid, json!({"paymentRequestId": prid}), Some(("SUCCESS", "S")))
    }

    fn cancel(&mut self, ms: i64, prid: &str, code: (&str, &str)) -> i64 {
        self.call(ms, "cancelPayment", prid, json!({"paymentRequestId": prid}), Some(code))
    }

    fn refund(&mut self, ms: i64, prid: &str, rrid: &str, value: &str, code: (&str, &str)) -> i64 {
        let body = json!({"paymentRequestId": prid, "refundRequestId": rrid, "refundAmount": {"currency": "USD", "value": value}});
        self.call(ms, "refund", prid, body, Some(code))
    }

    /// A sandbox → ACQP notifyPayment and how it was acknowledged.
    fn notify(&mut self, ms: i64, prid: &str, http: Option<u16>, ack_status: &str, signature: &str) -> i64 {
        self.push(TrafficEntry {
            at: at(ms),
            direction: "outbound".into(),
            api: "notifyPayment".into(),
            payment_request_id: Some(prid.into()),
            payment_id: Some(format!("pid-{prid}")),
            method: "POST".into(),
            request_body: json!({"paymentResult": {"resultStatus": "S", "resultCode": "SUCCESS"}, "paymentRequestId": prid}).to_string(),
            response_status: http,
            result_code: Some("SUCCESS".into()),
            result_status: Some(ack_status.into()),
            signature: signature.into(),
            findings: json!([]),
            ..TrafficEntry::default()
        })
    }

    fn payment(&mut self, prid: &str, state: &str, value: i64) -> &mut PaymentSnapshot {
        self.input.payments.push(PaymentSnapshot {
            payment_request_id: prid.into(),
            payment_id: format!("pid-{prid}"),
            state: state.into(),
            fail_code: None,
            value,
            currency: "USD".into(),
            refunds: vec![],
        });
        self.input.payments.last_mut().unwrap()
    }

    fn pos(&mut self, step: u32, action: &str, status: &str) {
        self.input.pos.push(PosOutcome {
            step,
            action: action.into(),
            status: status.into(),
            reference: None,
            detail: None,
        });
    }

    fn judge(&self, id: &str) -> Verdict {
        evaluate(&case(id), &self.input)
    }
}

fn assert_pass(v: &Verdict) {
    assert_eq!(v.verdict, Outcome::Pass, "{}", serde_json::to_string_pretty(v).unwrap());
}

/// FAIL, and `check` is among the failed checks.
fn assert_fails(v: &Verdict, check: &str) {
    assert_eq!(v.verdict, Outcome::Fail, "{}", serde_json::to_string_pretty(v).unwrap());
    assert!(
        v.failed().contains(&check),
        "{check} not in {:?}: {}",
        v.failed(),
        serde_json::to_string_pretty(v).unwrap()
    );
}

// ---------------------------------------------------------------------------------------------
// UPM-PAY-001 success without PIN
// ---------------------------------------------------------------------------------------------

fn pay_001_correct() -> Run {
    let mut r = Run::new();
    r.pay(100, "p1", Some(("SUCCESS", "S")));
    r.notify(300, "p1", Some(200), "S", "valid");
    r.payment("p1", "SUCCESS", 1250);
    r.pos(1, "charge", "SUCCESS");
    r
}

#[test]
fn pay_001_correct_passes_headless_with_personal_checks_skipped() {
    let v = pay_001_correct().judge("UPM-PAY-001");
    assert_pass(&v);
    assert_eq!(v.check("pos-shows-success").unwrap().verdict, Outcome::Skipped);
    assert_eq!(v.check("receipt-photo").unwrap().verdict, Outcome::Skipped);
    let pay = v.check("pay-once").unwrap();
    assert_eq!(pay.entries, vec![1]);
    assert!(pay.reason.contains("#1"), "{}", pay.reason);
}

#[test]
fn pay_001_wrong_key_fails_on_signatures() {
    let mut r = Run::new();
    let id = r.pay(100, "p1", Some(("INVALID_SIGNATURE", "F")));
    r.input.traffic[0].signature = "invalid".into();
    r.pos(1, "charge", "FAILED");
    let v = r.judge("UPM-PAY-001");
    assert_fails(&v, "requests-signed");
    assert_fails(&v, "payment-success");
    let sig = v.check("requests-signed").unwrap();
    assert_eq!(sig.entries, vec![id]);
    assert!(sig.reason.contains("signature invalid"), "{}", sig.reason);
}

#[test]
fn pay_001_lenient_signature_fails_unless_allowed() {
    let mut r = pay_001_correct();
    r.input.traffic[0].signature = "valid-lenient".into();
    assert_fails(&r.judge("UPM-PAY-001"), "requests-signed");
}

#[test]
fn pay_001_manual_run_needs_answers_and_photo() {
    let mut r = pay_001_correct();
    r.input.mode = RunMode::Manual;
    r.input.pos.clear();
    let v = r.judge("UPM-PAY-001");
    assert_eq!(v.verdict, Outcome::Incomplete);
    assert_eq!(v.check("pos-success").unwrap().verdict, Outcome::Skipped);
    assert_eq!(v.check("pos-shows-success").unwrap().verdict, Outcome::Incomplete);

    r.input.answers.insert("pos-shows-success".into(), false);
    assert_fails(&r.judge("UPM-PAY-001"), "pos-shows-success");

    r.input.answers.insert("pos-shows-success".into(), true);
    assert_eq!(r.judge("UPM-PAY-001").verdict, Outcome::Incomplete, "photo missing");
    r.input.evidence.insert(
        "receipt-photo".into(),
        vec![Evidence { name: "receipt.jpg".into(), media_type: Some("image/jpeg".into()), bytes: 1000 }],
    );
    assert_pass(&r.judge("UPM-PAY-001"));
}

#[test]
fn pay_001_twice_paid_fails_the_count() {
    let mut r = pay_001_correct();
    r.pay(9_000, "p1", Some(("SUCCESS", "S")));
    let v = r.judge("UPM-PAY-001");
    assert_fails(&v, "pay-once");
    assert!(v.check("pay-once").unwrap().reason.contains("#3"));
}

#[test]
fn unfinished_run_is_incomplete_not_failed() {
    let mut r = Run::new();
    r.input.finished = false;
    let v = r.judge("UPM-PAY-001");
    assert_eq!(v.verdict, Outcome::Incomplete);
    assert_eq!(v.check("pay-once").unwrap().verdict, Outcome::Incomplete);
    // A finished run with no traffic fails instead.
    r.input.finished = true;
    r.pos(1, "charge", "FAILED");
    assert_fails(&r.judge("UPM-PAY-001"), "pay-once");
}

#[test]
fn our_errors_make_the_verdict_error() {
    let mut r = pay_001_correct();
    r.input.errors.push("sandbox unreachable".into());
    let v = r.judge("UPM-PAY-001");
    assert_eq!(v.verdict, Outcome::Error);
    assert_eq!(v.errors, vec!["sandbox unreachable".to_owned()]);
}

#[test]
fn missing_pos_answer_in_a_finished_headless_run_is_our_error() {
    let mut r = pay_001_correct();
    r.input.pos.clear();
    let v = r.judge("UPM-PAY-001");
    assert_eq!(v.verdict, Outcome::Error);
    assert_eq!(v.check("pos-success").unwrap().verdict, Outcome::Error);
}

#[test]
fn evaluation_is_deterministic() {
    let r = pay_001_correct();
    let a = serde_json::to_string(&r.judge("UPM-PAY-001")).unwrap();
    let b = serde_json::to_string(&r.judge("UPM-PAY-001")).unwrap();
    assert_eq!(a, b);
}

// ---------------------------------------------------------------------------------------------
// UPM-PIN-001 PIN then success
// ---------------------------------------------------------------------------------------------

fn pin_001(inquiries: &[i64]) -> Run {
    let mut r = Run::new();
    r.pay(0, "p1", Some(("PAYMENT_IN_PROCESS", "U")));
    for ms in inquiries {
        r.inquiry(*ms, "p1");
    }
    r.notify(10_500, "p1", Some(200), "S", "valid");
    r.payment("p1", "SUCCESS", 1250);
    r.pos(1, "charge", "SUCCESS");
    r
}

#[test]
fn pin_001_correct_polling_passes() {
    assert_pass(&pin_001(&[2_000, 5_000, 8_000]).judge("UPM-PIN-001"));
}

#[test]
fn pin_001_no_inquiry_fails() {
    assert_fails(&pin_001(&[]).judge("UPM-PIN-001"), "inquiry-while-processing");
}

#[test]
fn pin_001_tight_polling_fails_naming_both_calls() {
    let v = pin_001(&[200, 400, 600, 800]).judge("UPM-PIN-001");
    assert_fails(&v, "inquiry-not-too-fast");
    let c = v.check("inquiry-not-too-fast").unwrap();
    assert_eq!(c.entries, vec![2, 3]);
    assert!(c.reason.contains("200 ms"), "{}", c.reason);
}

#[test]
fn unreadable_time_is_an_error_not_a_fail() {
    let mut r = pin_001(&[2_000, 5_000]);
    r.input.traffic[1].at = "yesterday".into();
    let v = r.judge("UPM-PIN-001");
    assert_eq!(v.check("inquiry-not-too-fast").unwrap().verdict, Outcome::Error);
    assert_eq!(v.verdict, Outcome::Error);
}

// ---------------------------------------------------------------------------------------------
// UPM-EXP-001 expiry → cancel
// ---------------------------------------------------------------------------------------------

fn exp_001(inquiries_until: i64, cancel_at: Option<i64>) -> Run {
    let mut r = Run::new();
    r.pay(0, "p1", Some(("PAYMENT_IN_PROCESS", "U")));
    let mut t = 2_000;
    while t <= inquiries_until {
        r.inquiry(t, "p1");
        t += 3_000;
    }
    match cancel_at {
        Some(ms) => {
            r.cancel(ms, "p1", ("SUCCESS", "S"));
            r.payment("p1", "CANCELLED", 1902);
            r.pos(1, "charge", "CANCELLED");
        }
        None => {
            r.payment("p1", "PROCESSING", 1902);
            r.pos(1, "charge", "FAILED");
        }
    }
    r
}

#[test]
fn exp_001_correct_passes() {
    assert_pass(&exp_001(59_000, Some(61_000)).judge("UPM-EXP-001"));
}

#[test]
fn exp_001_no_cancel_fails() {
    let v = exp_001(59_000, None).judge("UPM-EXP-001");
    assert_fails(&v, "cancel-after-expiry");
    assert_fails(&v, "payment-cancelled");
}

#[test]
fn exp_001_poll_forever_fails() {
    let v = exp_001(180_000, None).judge("UPM-EXP-001");
    assert_fails(&v, "no-inquiry-after-expiry");
    let c = v.check("no-inquiry-after-expiry").unwrap();
    assert!(!c.entries.is_empty());
    assert!(c.reason.contains("later than 75s"), "{}", c.reason);
}

#[test]
fn exp_001_cancel_retried_under_a_new_id_fails() {
    let mut r = exp_001(59_000, Some(61_000));
    r.cancel(62_000, "p2", ("SUCCESS", "S"));
    assert_fails(&r.judge("UPM-EXP-001"), "cancel-same-id");
}

// ---------------------------------------------------------------------------------------------
// UPM-UNK-001 and UPM-TMO-001: follow-up under the same id
// ---------------------------------------------------------------------------------------------

#[test]
fn unk_001_repeat_pay_same_id_passes() {
    let mut r = Run::new();
    r.pay(0, "p1", Some(("UNKNOWN_EXCEPTION", "U")));
    r.pay(1_000, "p1", Some(("SUCCESS", "S")));
    r.payment("p1", "SUCCESS", 1907);
    r.pos(1, "charge", "SUCCESS");
    assert_pass(&r.judge("UPM-UNK-001"));
}

#[test]
fn unk_001_inquiry_passes_too() {
    let mut r = Run::new();
    r.pay(0, "p1", Some(("UNKNOWN_EXCEPTION", "U")));
    r.inquiry(2_000, "p1");
    r.payment("p1", "SUCCESS", 1907);
    r.pos(1, "charge", "SUCCESS");
    assert_pass(&r.judge("UPM-UNK-001"));
}

#[test]
fn unk_001_new_request_id_fails() {
    let mut r = Run::new();
    r.pay(0, "p1", Some(("UNKNOWN_EXCEPTION", "U")));
    r.pay(1_000, "p2", Some(("SUCCESS", "S")));
    r.payment("p1", "SUCCESS", 1907);
    r.payment("p2", "SUCCESS", 1907);
    r.pos(1, "charge", "SUCCESS");
    let v = r.judge("UPM-UNK-001");
    assert_fails(&v, "pay-same-id");
    assert_fails(&v, "one-payment");
    assert!(v.check("pay-same-id").unwrap().reason.contains("\"p2\" on #2"));
}

#[test]
fn unk_001_failing_the_sale_fails() {
    let mut r = Run::new();
    r.pay(0, "p1", Some(("UNKNOWN_EXCEPTION", "U")));
    r.payment("p1", "SUCCESS", 1907);
    r.pos(1, "charge", "FAILED");
    let v = r.judge("UPM-UNK-001");
    assert_fails(&v, "pos-success");
}

#[test]
fn unk_001_result_from_the_notification_passes() {
    // The real result may come by notifyPayment alone (§3): no inquiry or repeat needed.
    let mut r = Run::new();
    r.pay(0, "p1", Some(("UNKNOWN_EXCEPTION", "U")));
    r.notify(300, "p1", Some(200), "S", "valid");
    r.payment("p1", "SUCCESS", 1907);
    r.pos(1, "charge", "SUCCESS");
    assert_pass(&r.judge("UPM-UNK-001"));
}

#[test]
fn unk_002_same_id_retry_passes_new_id_or_no_retry_fails() {
    let mut r = Run::new();
    r.pay(0, "p1", Some(("UNKNOWN_EXCEPTION", "U")));
    r.pay(1_000, "p1", Some(("SUCCESS", "S")));
    r.payment("p1", "SUCCESS", 1250);
    r.pos(1, "charge", "SUCCESS");
    assert_pass(&r.judge("UPM-UNK-002"));

    let mut r = Run::new();
    r.pay(0, "p1", Some(("UNKNOWN_EXCEPTION", "U")));
    r.pay(1_000, "p2", Some(("SUCCESS", "S")));
    r.payment("p2", "SUCCESS", 1250);
    r.pos(1, "charge", "SUCCESS");
    let v = r.judge("UPM-UNK-002");
    assert_fails(&v, "pay-retried-same-id");

    let mut r = Run::new();
    r.pay(0, "p1", Some(("UNKNOWN_EXCEPTION", "U")));
    r.pos(1, "charge", "FAILED");
    let v = r.judge("UPM-UNK-002");
    assert_fails(&v, "pay-retried-same-id");
    assert_fails(&v, "pos-success");
}

#[test]
fn tmo_001_correct_passes_and_new_id_fails() {
    let mut r = Run::new();
    r.pay(0, "p1", None);
    r.pay(9_000, "p1", None);
    r.inquiry(18_000, "p1");
    r.cancel(61_000, "p1", ("SUCCESS", "S"));
    r.payment("p1", "CANCELLED", 1250);
    r.pos(1, "charge", "CANCELLED");
    assert_pass(&r.judge("UPM-TMO-001"));

    let mut r = Run::new();
    r.pay(0, "p1", None);
    r.pay(9_000, "p2", None);
    r.cancel(61_000, "p2", ("SUCCESS", "S"));
    r.payment("p1", "PROCESSING", 1250);
    r.payment("p2", "CANCELLED", 1250);
    r.pos(1, "charge", "CANCELLED");
    let v = r.judge("UPM-TMO-001");
    assert_fails(&v, "pay-same-id");
    assert_fails(&v, "one-payment");
    assert_fails(&v, "timeout-followed-up");
}

#[test]
fn tmp_001_trusting_a_tampered_answer_fails() {
    // The sandbox logs the answer as sent: S flipped to F PROCESS_FAIL after signing.
    let mut r = Run::new();
    r.pay(0, "p1", Some(("PROCESS_FAIL", "F")));
    r.payment("p1", "SUCCESS", 1910);
    r.pos(1, "charge", "FAILED");
    assert_fails(&r.judge("UPM-TMP-001"), "tampered-answer-not-trusted");

    let mut r = Run::new();
    r.pay(0, "p1", Some(("PROCESS_FAIL", "F")));
    r.pay(1_000, "p1", Some(("SUCCESS", "S")));
    r.payment("p1", "SUCCESS", 1910);
    r.pos(1, "charge", "SUCCESS");
    assert_pass(&r.judge("UPM-TMP-001"));
}

// ---------------------------------------------------------------------------------------------
// Notifications
// ---------------------------------------------------------------------------------------------

#[test]
fn ntf_001_notify_first_passes_and_polling_on_fails() {
    let mut r = Run::new();
    r.pay(0, "p1", Some(("PAYMENT_IN_PROCESS", "U")));
    r.notify(500, "p1", Some(200), "S", "valid");
    r.payment("p1", "SUCCESS", 1250);
    r.pos(1, "charge", "SUCCESS");
    assert_pass(&r.judge("UPM-NTF-001"));
    r.inquiry(2_000, "p1");
    let v = r.judge("UPM-NTF-001");
    assert_fails(&v, "no-inquiry-after-notify");
    assert_eq!(v.check("no-inquiry-after-notify").unwrap().entries, vec![3]);
}

fn ntf_002(signature: &str) -> Run {
    let mut r = Run::new();
    r.pay(0, "p1", Some(("SUCCESS", "S")));
    r.notify(300, "p1", Some(200), "S", signature);
    if signature != "valid" {
        // The sandbox retries an unacknowledged notification.
        r.notify(4_300, "p1", Some(200), "S", signature);
    }
    r.payment("p1", "SUCCESS", 1250);
    r
}

#[test]
fn ntf_002_signed_ack_passes() {
    assert_pass(&ntf_002("valid").judge("UPM-NTF-002"));
}

#[test]
fn ntf_002_unsigned_or_bad_ack_fails() {
    for sig in ["missing", "invalid"] {
        let v = ntf_002(sig).judge("UPM-NTF-002");
        assert_fails(&v, "notify-acked");
        assert_fails(&v, "ack-signed");
        assert!(v.check("notify-acked").unwrap().reason.contains(&format!("signature {sig}")));
    }
}

#[test]
fn ntf_002_non_s_ack_or_http_error_fails() {
    let mut r = Run::new();
    r.pay(0, "p1", Some(("SUCCESS", "S")));
    r.notify(300, "p1", Some(500), "F", "valid");
    r.payment("p1", "SUCCESS", 1250);
    let v = r.judge("UPM-NTF-002");
    assert_fails(&v, "notify-acked");
    assert!(v.check("notify-acked").unwrap().reason.contains("HTTP 500"));
}

// ---------------------------------------------------------------------------------------------
// Hygiene
// ---------------------------------------------------------------------------------------------

fn hyg(body: Value, findings: Value) -> Run {
    let mut r = Run::new();
    r.call(0, "pay", "p1", body, Some(("SUCCESS", "S")));
    r.input.traffic[0].findings = findings;
    r.payment("p1", "SUCCESS", 1250);
    r.pos(1, "charge", "SUCCESS");
    r
}

#[test]
fn hyg_001_correct_passes() {
    assert_pass(&hyg(good_pay_body("p1", "1250"), json!([])).judge("UPM-HYG-001"));
}

#[test]
fn hyg_001_each_fault_fails_its_own_check() {
    let numbers = hyg(
        good_pay_body("p1", "1250"),
        json!([{"kind": "number-as-string", "path": "paymentAmount.value", "detail": "1250"},
               {"kind": "signature-leniency", "path": "header.signature"}]),
    )
    .judge("UPM-HYG-001");
    assert_eq!(numbers.failed(), vec!["strings-not-numbers"]);
    assert!(numbers.check("strings-not-numbers").unwrap().reason.contains("paymentAmount.value"));
    assert!(!numbers.check("strings-not-numbers").unwrap().reason.contains("header.signature"));

    let mut no_store = good_pay_body("p1", "1250");
    no_store["order"]["merchant"].as_object_mut().unwrap().remove("store");
    assert_eq!(hyg(no_store, json!([])).judge("UPM-HYG-001").failed(), vec!["store-present"]);

    let mut no_terminal = good_pay_body("p1", "1250");
    no_terminal["order"].as_object_mut().unwrap().remove("env");
    let v = hyg(no_terminal, json!([])).judge("UPM-HYG-001");
    assert_eq!(v.failed(), vec!["terminal-present"]);
    assert!(v.check("terminal-present").unwrap().reason.contains("order.env.storeTerminalId is missing"));
}

// ---------------------------------------------------------------------------------------------
// Refunds and cancel
// ---------------------------------------------------------------------------------------------

#[test]
fn ref_003_local_refusal_passes_and_sent_excess_fails() {
    let mut r = Run::new();
    r.pay(0, "p1", Some(("SUCCESS", "S")));
    r.refund(1_000, "p1", "r1", "1000", ("SUCCESS", "S"));
    r.payment("p1", "SUCCESS", 1250).refunds.push(RefundSnapshot {
        refund_request_id: "r1".into(),
        refund_id: Some("rid1".into()),
        value: 1000,
        result_code: "SUCCESS".into(),
    });
    r.pos(1, "charge", "SUCCESS");
    r.pos(2, "refund", "SUCCESS");
    r.pos(3, "refund", "REFUSED");
    assert_pass(&r.judge("UPM-REF-003"));

    let id = r.refund(2_000, "p1", "r2", "500", ("REFUND_AMOUNT_EXCEED", "F"));
    r.input.pos.pop();
    r.pos(3, "refund", "FAILED");
    let v = r.judge("UPM-REF-003");
    assert_eq!(v.failed(), vec!["no-refund-over-amount"]);
    assert_eq!(v.check("no-refund-over-amount").unwrap().entries, vec![id]);
}

#[test]
fn ref_004_same_id_passes_new_id_fails() {
    let mut r = Run::new();
    r.pay(0, "p1", Some(("SUCCESS", "S")));
    r.refund(1_000, "p1", "r1", "1912", ("UNKNOWN_EXCEPTION", "U"));
    r.refund(2_000, "p1", "r1", "1912", ("SUCCESS", "S"));
    r.payment("p1", "SUCCESS", 1912).refunds.push(RefundSnapshot {
        refund_request_id: "r1".into(),
        refund_id: None,
        value: 1912,
        result_code: "SUCCESS".into(),
    });
    r.pos(1, "charge", "SUCCESS");
    r.pos(2, "refund", "SUCCESS");
    assert_pass(&r.judge("UPM-REF-004"));

    r.input.traffic[2].request_body =
        json!({"paymentRequestId": "p1", "refundRequestId": "r2", "refundAmount": {"currency": "USD", "value": "1912"}})
            .to_string();
    assert_fails(&r.judge("UPM-REF-004"), "refund-same-id");
}

#[test]
fn ref_002_totals_and_counts() {
    let mut r = Run::new();
    r.pay(0, "p1", Some(("SUCCESS", "S")));
    let mut refunds = vec![];
    for (i, v) in [500, 400, 350].iter().enumerate() {
        let rrid = format!("r{i}");
        r.refund(1_000 * (i as i64 + 1), "p1", &rrid, &v.to_string(), ("SUCCESS", "S"));
        refunds.push(RefundSnapshot {
            refund_request_id: rrid,
            refund_id: None,
            value: *v,
            result_code: "SUCCESS".into(),
        });
    }
    r.payment("p1", "SUCCESS", 1250).refunds = refunds;
    for s in 1..=4 {
        r.pos(s, if s == 1 { "charge" } else { "refund" }, "SUCCESS");
    }
    assert_pass(&r.judge("UPM-REF-002"));
    r.input.payments[0].refunds.pop();
    let v = r.judge("UPM-REF-002");
    assert_fails(&v, "refunds-total");
}

fn can_002(void_status: &str, refunded: bool) -> Run {
    let mut r = Run::new();
    r.pay(0, "p1", Some(("SUCCESS", "S")));
    // The sandbox refuses the void: the sale is past the window.
    r.cancel(90_000, "p1", ("CANCEL_WINDOW_EXCEED", "F"));
    if refunded {
        r.refund(95_000, "p1", "r1", "1250", ("SUCCESS", "S"));
    }
    let p = r.payment("p1", "SUCCESS", 1250);
    if refunded {
        p.refunds.push(RefundSnapshot {
            refund_request_id: "r1".into(),
            refund_id: Some("rf1".into()),
            value: 1250,
            result_code: "SUCCESS".into(),
        });
    }
    r.pos(1, "charge", "SUCCESS");
    r.pos(2, "cancel", void_status);
    r.pos(3, "refund", if refunded { "SUCCESS" } else { "REFUSED" });
    r
}

#[test]
fn can_002_refused_void_then_refund_passes_and_a_void_reported_done_fails() {
    assert_pass(&can_002("REFUSED", true).judge("UPM-CAN-002"));
    let v = can_002("CANCELLED", false).judge("UPM-CAN-002");
    assert_fails(&v, "pos-refuses-void");
    assert_fails(&v, "refunded-instead");
}

#[test]
fn amounts_on_the_wire_are_minor_units_of_the_currency() {
    let judge = |id: &str, currency: &str, value: &str| {
        let mut r = Run::new();
        let mut body = good_pay_body("p1", value);
        body["paymentAmount"]["currency"] = json!(currency);
        body["order"]["orderAmount"]["currency"] = json!(currency);
        r.call(0, "pay", "p1", body, Some(("SUCCESS", "S")));
        r.payment("p1", "SUCCESS", value.parse().unwrap());
        r.input.payments[0].currency = currency.into();
        r.pos(1, "charge", "SUCCESS");
        r.judge(id)
    };
    assert_pass(&judge("UPM-AMT-001", "JPY", "500"));
    let v = judge("UPM-AMT-001", "JPY", "50000");
    assert_fails(&v, "amount-in-minor-units");
    assert!(v.check("amount-in-minor-units").unwrap().reason.contains("expected \"500\" JPY"), "{v:?}");
    assert_pass(&judge("UPM-AMT-002", "KWD", "1234"));
    assert_fails(&judge("UPM-AMT-002", "KWD", "123"), "amount-in-minor-units");
    // A number where the string belongs is not the amount "as a string" either.
    let mut r = Run::new();
    let mut body = good_pay_body("p1", "500");
    body["paymentAmount"] = json!({"currency": "JPY", "value": 500});
    body["order"]["orderAmount"] = json!({"currency": "JPY", "value": "500"});
    r.call(0, "pay", "p1", body, Some(("SUCCESS", "S")));
    r.payment("p1", "SUCCESS", 500);
    r.pos(1, "charge", "SUCCESS");
    assert_fails(&r.judge("UPM-AMT-001"), "amount-in-minor-units");
}

#[test]
fn a_float_amount_fails_on_pay_and_refund() {
    let mut r = Run::new();
    r.call(0, "pay", "p1", good_pay_body("p1", "1998"), Some(("SUCCESS", "S")));
    let body = json!({"paymentRequestId": "p1", "refundRequestId": "r1", "refundAmount": {"currency": "USD", "value": "1998"}});
    r.call(100, "refund", "p1", body, Some(("SUCCESS", "S")));
    r.payment("p1", "SUCCESS", 1998);
    r.pos(1, "charge", "SUCCESS");
    let v = r.judge("UPM-AMT-003");
    assert_fails(&v, "pay-amount-exact");
    assert_fails(&v, "refund-amount-exact");
}

#[test]
fn request_time_written_as_utc8_wall_time_with_z_fails() {
    let mut r = hyg(good_pay_body("p1", "1250"), json!([]));
    // 04:00 UTC is 12:00 UTC+8; the broken form writes 12:00 with a Z.
    r.input.traffic[0].request_headers = json!({"request-time": "2026-03-10T12:00:00Z"});
    let v = r.judge("UPM-HYG-001");
    assert_eq!(v.failed(), vec!["request-time-real"]);
    assert!(v.check("request-time-real").unwrap().reason.contains("28800 s ahead"), "{v:?}");
    // Epoch milliseconds are a real time too.
    let mut r = hyg(good_pay_body("p1", "1250"), json!([]));
    let ms = (T0.unix_timestamp_nanos() / 1_000_000).to_string();
    r.input.traffic[0].request_headers = json!({"Request-Time": ms});
    assert_pass(&r.judge("UPM-HYG-001"));
    r.input.traffic[0].request_headers = json!({});
    assert_fails(&r.judge("UPM-HYG-001"), "request-time-real");
}

#[test]
fn pin_002_a_failed_payments_notification_answered_f_fails() {
    let build = |ack: &str| {
        let mut r = Run::new();
        r.pay(0, "p1", Some(("PAYMENT_IN_PROCESS", "U")));
        r.notify(3_000, "p1", Some(200), ack, "valid");
        r.payment("p1", "FAILED", 1250);
        r.pos(1, "charge", "FAILED");
        r.judge("UPM-PIN-002")
    };
    assert_pass(&build("S"));
    assert_eq!(build("F").failed(), vec!["failed-notify-acked-s"]);
}

#[test]
fn can_001_cancel_in_window_passes() {
    let mut r = Run::new();
    r.pay(0, "p1", Some(("SUCCESS", "S")));
    r.cancel(5_000, "p1", ("SUCCESS", "S"));
    r.payment("p1", "CANCELLED", 1250);
    r.pos(1, "charge", "SUCCESS");
    r.pos(2, "cancel", "CANCELLED");
    assert_pass(&r.judge("UPM-CAN-001"));
}

// ---------------------------------------------------------------------------------------------
// Input shape
// ---------------------------------------------------------------------------------------------

#[test]
fn traffic_entry_reads_the_sandbox_json_and_ignores_extra_fields() {
    let text = r#"{"id":7,"at":"2026-03-10T12:00:00+08:00","direction":"inbound","api":"pay","clientId":"c",
        "paymentRequestId":"p1","paymentId":null,"method":"POST","uri":"/aps/api/v1/payments/pay",
        "requestHeaders":{"a":"b"},"requestBody":"{}","responseStatus":200,"responseHeaders":{},
        "responseBody":"{}","resultCode":"SUCCESS","resultStatus":"S","signature":"valid",
        "findings":[{"kind":"number-as-string","path":"paymentAmount.value"}],"mockId":null,
        "durationMs":1.5,"note":null,"somethingNew":[1,2,3]}"#;
    let e: TrafficEntry = serde_json::from_str(text).unwrap();
    assert_eq!(e.id, 7);
    assert_eq!(e.payment_request_id.as_deref(), Some("p1"));
    assert_eq!(e.hygiene_findings().len(), 1);
    assert!(e.instant().is_some());
    let sparse: TrafficEntry = serde_json::from_str(r#"{"id":1}"#).unwrap();
    assert_eq!(sparse.signature, "");
}

#[test]
fn run_input_round_trips_through_json() {
    let r = pay_001_correct();
    let text = serde_json::to_string(&r.input).unwrap();
    let back: RunInput = serde_json::from_str(&text).unwrap();
    assert_eq!(back, r.input);
    assert_eq!(evaluate(&case("UPM-PAY-001"), &back), r.judge("UPM-PAY-001"));
}

#[test]
fn refused_payments_do_not_count_as_created() {
    let mut r = Run::new();
    r.pay(0, "p1", Some(("SUCCESS", "S")));
    r.pay(1_000, "p2", Some(("INVALID_CODE", "F")));
    r.payment("p1", "SUCCESS", 1250);
    r.payment("p2", "FAILED", 1250).fail_code = Some("INVALID_CODE".into());
    r.pos(1, "charge", "SUCCESS");
    r.pos(2, "charge", "FAILED");
    assert_pass(&r.judge("UPM-CODE-002"));
    r.input.payments[1].state = "SUCCESS".into();
    assert_fails(&r.judge("UPM-CODE-002"), "one-payment");
}
