//! Wallet outcomes beyond the refusing scenarios, over HTTP against a real sandbox: the
//! `unknown-exception` and `stuck` scenarios, the magic amounts of testing-practice.md §10.2 with
//! their precedence, and tamper mock rules.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{pay_body, receiver, Harness};
use plusbox_core::result_code::ResultCode;
use plusbox_sandbox::store::Tamper;
use plusbox_sandbox::Scenario;
use serde_json::json;

#[tokio::test]
async fn unknown_exception_answers_u_while_the_payment_succeeds_behind_it() {
    let h = Harness::start().await;
    let rx = receiver(&h).await;
    let store = h.sandbox.store();
    store.set_notify_url(Some(&rx.url)).unwrap();
    store.set_scenario("buyer-1", &Scenario::UnknownException).unwrap();

    let a = h.call("pay", &pay_body("unk1", &h.code("buyer-1"), "USD", "700")).await;
    assert_eq!((a.code(), a.status_letter()), ("UNKNOWN_EXCEPTION", "U"));
    // The money is taken and the payment is final: inquiry S, notify S, and never a close at
    // expiry (an ACQP that gives up would void a sale the buyer paid for).
    assert_eq!(h.balance("buyer-1", "USD"), 100_000 - 700);
    let q = h.call("inquiryPayment", &json!({"paymentRequestId": "unk1"})).await;
    assert_eq!((q.code(), q.body["paymentResult"]["resultCode"].as_str()), ("SUCCESS", Some("SUCCESS")));
    assert_eq!(q.body["walletBrandName"], "Test Wallet");
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].0["paymentResult"]["resultStatus"], "S");
    // Repeating pay with the same ID gives the payment's state: S.
    let again = h.call("pay", &pay_body("unk1", &h.code("buyer-1"), "USD", "700")).await;
    assert_eq!(again.code(), "SUCCESS");
    h.advance(120);
    let q = h.call("inquiryPayment", &json!({"paymentRequestId": "unk1"})).await;
    assert_eq!(q.body["paymentResult"]["resultCode"], "SUCCESS");
    assert_eq!(rx.count(), 1, "one notification per payment");
}

#[tokio::test]
async fn stuck_scenario_stays_processing_until_cancelled() {
    let h = Harness::start().await;
    let store = h.sandbox.store();
    store.set_scenario("buyer-1", &"stuck".parse::<Scenario>().unwrap()).unwrap();
    let a = h.call("pay", &pay_body("stuck1", &h.code("buyer-1"), "USD", "100")).await;
    assert_eq!(a.code(), "PAYMENT_IN_PROCESS");
    h.advance(600);
    let q = h.call("inquiryPayment", &json!({"paymentRequestId": "stuck1"})).await;
    assert_eq!(q.body["paymentResult"]["resultCode"], "PAYMENT_IN_PROCESS");
    assert!(store.pending(h.clock_now()).unwrap().is_empty(), "nothing for the buyer to confirm");
    let c = h.call("cancelPayment", &json!({"paymentRequestId": "stuck1"})).await;
    assert_eq!(c.code(), "SUCCESS");
    let q = h.call("inquiryPayment", &json!({"paymentRequestId": "stuck1"})).await;
    assert_eq!(q.body["paymentResult"]["resultCode"], "ORDER_IS_CLOSED");
}

/// What to do after `pay` for one magic amount, and what must be seen.
enum Then {
    /// Nothing more.
    Done,
    /// Advance the clock, then inquire: the payment's result code.
    Later(i64, &'static str),
    /// Inquire repeatedly: each call's (`result`, `paymentResult`) codes.
    Inquiries(&'static [(&'static str, Option<&'static str>)]),
    /// Refund twice with the same refundRequestId: the two result codes.
    Refunds([&'static str; 2]),
    /// Advance the clock past expiry, inquire (still U), then cancel twice: the two result codes.
    StuckThenCancels([&'static str; 2]),
    /// No notifyPayment is ever sent.
    NoNotify,
}

#[tokio::test]
async fn magic_amounts_choose_the_outcome() {
    let h = Harness::start().await;
    let rx = receiver(&h).await;
    let store = h.sandbox.store();
    store.set_notify_url(Some(&rx.url)).unwrap();
    let table: Vec<(&str, (&str, &str), Then)> = vec![
        ("1901", ("PAYMENT_IN_PROCESS", "U"), Then::Later(10, "SUCCESS")),
        ("1902", ("PAYMENT_IN_PROCESS", "U"), Then::StuckThenCancels(["SUCCESS", "SUCCESS"])),
        ("1903", ("USER_BALANCE_NOT_ENOUGH", "F"), Then::Done),
        ("1904", ("RISK_REJECT", "F"), Then::Done),
        ("1905", ("PAYMENT_IN_PROCESS", "U"), Then::Later(10, "USER_PAYMENT_VERIFICATION_FAILED")),
        ("1907", ("UNKNOWN_EXCEPTION", "U"), Then::Later(0, "SUCCESS")),
        ("1908", ("PAYMENT_AMOUNT_EXCEED_LIMIT", "F"), Then::Done),
        ("1909", ("PAYMENT_IN_PROCESS", "U"), Then::Later(60, "ORDER_IS_CLOSED")),
        ("1910", ("SUCCESS", "S"), Then::NoNotify),
        (
            "1911",
            ("SUCCESS", "S"),
            Then::Inquiries(&[
                ("UNKNOWN_EXCEPTION", None),
                ("UNKNOWN_EXCEPTION", None),
                ("SUCCESS", Some("SUCCESS")),
            ]),
        ),
        ("1912", ("SUCCESS", "S"), Then::Refunds(["UNKNOWN_EXCEPTION", "SUCCESS"])),
        ("1913", ("PAYMENT_IN_PROCESS", "U"), Then::StuckThenCancels(["UNKNOWN_EXCEPTION", "SUCCESS"])),
        // Not magic: 900 and 914 pay normally.
        ("1900", ("SUCCESS", "S"), Then::Done),
        ("1914", ("SUCCESS", "S"), Then::Done),
    ];
    for (value, (code, status), then) in table {
        let id = format!("magic-{value}");
        let a = h.call("pay", &pay_body(&id, &h.code("buyer-1"), "USD", value)).await;
        assert_eq!((a.code(), a.status_letter()), (code, status), "pay {value}");
        let query = json!({"paymentRequestId": id});
        let inquire = || h.call("inquiryPayment", &query);
        match then {
            Then::Done => {}
            Then::Later(seconds, expected) => {
                h.advance(seconds);
                let q = inquire().await;
                assert_eq!(q.body["paymentResult"]["resultCode"], expected, "{value} after {seconds} s");
            }
            Then::Inquiries(expected) => {
                for (result, payment) in expected {
                    let q = inquire().await;
                    assert_eq!(q.code(), *result, "{value}");
                    assert_eq!(q.body["paymentResult"]["resultCode"].as_str(), *payment, "{value}");
                }
            }
            Then::Refunds(expected) => {
                for result in expected {
                    let refund = json!({
                        "paymentRequestId": id, "refundRequestId": format!("r-{value}"),
                        "refundAmount": {"currency": "USD", "value": "100"}
                    });
                    assert_eq!(h.call("refund", &refund).await.code(), result, "{value}");
                }
            }
            Then::StuckThenCancels(expected) => {
                h.advance(300);
                let q = inquire().await;
                assert_eq!(q.body["paymentResult"]["resultCode"], "PAYMENT_IN_PROCESS", "{value} is stuck");
                for result in expected {
                    let c = h.call("cancelPayment", &json!({"paymentRequestId": id})).await;
                    assert_eq!(c.code(), result, "{value}");
                }
                let q = inquire().await;
                assert_eq!(q.body["paymentResult"]["resultCode"], "ORDER_IS_CLOSED", "{value}");
            }
            Then::NoNotify => {
                let payment_id = a.body["paymentId"].as_str().unwrap().to_string();
                let status = store.notification_status(&payment_id).unwrap();
                assert_eq!(status.map(|s| s.0).as_deref(), Some("withheld"));
                let q = inquire().await;
                assert_eq!(q.body["paymentResult"]["resultCode"], "SUCCESS");
            }
        }
    }
    // Every final payment except 910 and the cancelled ones was notified, with S or F only.
    let notified = rx.wait_for(10).await;
    assert!(notified
        .iter()
        .all(|(body, verified)| *verified && body["paymentResult"]["resultStatus"] != "U"));
    let ids: Vec<&str> = notified.iter().filter_map(|(b, _)| b["paymentRequestId"].as_str()).collect();
    assert!(!ids.contains(&"magic-1910"), "{ids:?}");
    assert!(ids.contains(&"magic-1907") && ids.contains(&"magic-1911"), "{ids:?}");
    // The traffic log says which plan chose each outcome.
    let notes: Vec<String> =
        h.traffic().into_iter().filter(|t| t.api == "pay").filter_map(|t| t.note).collect();
    assert!(notes.iter().any(|n| n == "wallet plan: magic amount 907"), "{notes:?}");
}

#[tokio::test]
async fn magic_amounts_yield_to_scenarios_and_mocks_and_can_be_switched_off() {
    let h = Harness::start().await;
    let store = h.sandbox.store();
    // A scenario other than `success` wins over the amount.
    store.set_scenario("buyer-1", &Scenario::RiskReject).unwrap();
    let a = h.call("pay", &pay_body("prec-1", &h.code("buyer-1"), "USD", "1903")).await;
    assert_eq!(a.code(), "RISK_REJECT");
    store.set_scenario("buyer-1", &Scenario::Success).unwrap();
    // A mock rule wins over both.
    store.add_mock("pay", ResultCode::ProcessFail, Some(1), None, h.clock_now()).unwrap();
    let a = h.call("pay", &pay_body("prec-2", &h.code("buyer-1"), "USD", "1903")).await;
    assert_eq!(a.code(), "PROCESS_FAIL");
    // Switched off for the application, 903 is just an amount.
    store.set_magic_amounts(false).unwrap();
    let a = h.call("pay", &pay_body("prec-3", &h.code("buyer-1"), "USD", "1903")).await;
    assert_eq!(a.code(), "SUCCESS");
    store.set_magic_amounts(true).unwrap();
    let a = h.call("pay", &pay_body("prec-4", &h.code("buyer-1"), "USD", "1903")).await;
    assert_eq!(a.code(), "USER_BALANCE_NOT_ENOUGH");
}

#[tokio::test]
async fn magic_906_answers_pay_after_nine_seconds_of_clock_time() {
    let h = Harness::start().await;
    let body = pay_body("m906", &h.code("buyer-1"), "USD", "1906");
    let call = h.call("pay", &body);
    tokio::pin!(call);
    let store = h.sandbox.store();
    let paid = |store: &plusbox_sandbox::store::Store| {
        store.ledger_totals().unwrap().get("USD").is_some_and(|t| t.paid > 0)
    };
    // Drive the call until the payment is committed; the answer must still be held back.
    let held = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            tokio::select! {
                answer = &mut call => return Some(answer),
                _ = tokio::time::sleep(std::time::Duration::from_millis(20)) => {
                    if paid(&store) {
                        return None;
                    }
                }
            }
        }
    })
    .await;
    assert!(matches!(held, Ok(None)), "pay must not answer before its clock time has passed");
    // The nine seconds count from the moment the server took its deadline, which the test cannot
    // see; moving the clock again until the answer arrives keeps a loaded machine from racing it.
    let a = loop {
        tokio::select! {
            answer = &mut call => break answer,
            _ = tokio::time::sleep(std::time::Duration::from_millis(100)) => h.advance(9),
        }
    };
    assert_eq!(a.code(), "SUCCESS");
}

#[tokio::test]
async fn tamper_rules_send_answers_whose_signature_does_not_match() {
    let h = Harness::start().await;
    let store = h.sandbox.store();
    // A payment that is U, so a body tamper can claim S.
    store.set_scenario("buyer-1", &Scenario::Pin).unwrap();
    let a = h.call("pay", &pay_body("t1", &h.code("buyer-1"), "USD", "100")).await;
    assert_eq!(a.code(), "PAYMENT_IN_PROCESS");

    let rule = store.add_tamper_mock("inquiryPayment", Tamper::Body, Some(1), None, h.clock_now()).unwrap();
    assert_eq!((rule.tamper.as_deref(), rule.result_code.as_deref()), (Some("body"), None));
    let (q, verified) = h.call_unchecked("inquiryPayment", &json!({"paymentRequestId": "t1"})).await;
    assert!(!verified, "the tampered answer must not verify");
    assert_eq!(q.body["paymentResult"]["resultStatus"], "S", "the lie a careless ACQP would believe");

    store.add_tamper_mock("inquiryPayment", Tamper::Signature, None, None, h.clock_now()).unwrap();
    let (q, verified) = h.call_unchecked("inquiryPayment", &json!({"paymentRequestId": "t1"})).await;
    assert!(!verified);
    assert_eq!(q.body["paymentResult"]["resultCode"], "PAYMENT_IN_PROCESS", "body untouched");

    // Rules are spent: the next answer is genuine, and the truth never changed.
    let q = h.call("inquiryPayment", &json!({"paymentRequestId": "t1"})).await;
    assert_eq!(q.body["paymentResult"]["resultCode"], "PAYMENT_IN_PROCESS");

    // The traffic log records each tamper as deliberate, with what was truly signed.
    let tampered: Vec<_> = h.traffic().into_iter().filter(|t| t.mock_id.is_some()).collect();
    assert_eq!(tampered.len(), 2);
    for entry in &tampered {
        assert!(entry.note.as_deref().unwrap_or("").starts_with("deliberate tamper"), "{entry:?}");
        let finding = entry.findings.as_array().unwrap().iter().find(|f| f["kind"] == "deliberate-tamper");
        let signed = finding.unwrap()["signedBody"].as_str().unwrap();
        assert!(signed.contains("PAYMENT_IN_PROCESS"));
    }
    assert_eq!(tampered[0].result_status.as_deref(), Some("S"));
}
