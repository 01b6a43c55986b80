//! Private order codes end to end (alipayplus-api.md §11, payment-codes.md §4.3): the reference
//! acquirer issues a code through its POS-driver API, the buyer's companion decodes it through
//! the sandbox (which asks the acquirer with a signed `userInitiatedPay`) and pays it with the
//! companion commands, and the acquirer's sale ends in success. Each decode fault of the acquirer
//! leaves no payment, the companion names why, and the sale ends unpaid. Real sandbox, acquirer
//! and companion client on ephemeral ports, on time compressed 12 times.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod acquirer_common;

use std::time::Duration;

use acquirer_common::Env;
use plusbox_acquirer::{Fault, OrderState, PaymentRecord, PosDriver, Timing};
use plusbox_companion::error::ErrorCode;
use plusbox_companion::mpm::{confirm_order_code, decode_order_code, ConfirmOrderCodeArgs, OrderCodeArgs};

/// A 36 s window polled every second, on a 12× clock: three seconds of real time.
fn timing() -> Timing {
    Timing { order_code_window_ms: 36_000, order_code_poll_interval_ms: 1_000, ..Timing::default() }
}

async fn ended(driver: &PosDriver, prid: &str) -> PaymentRecord {
    for _ in 0..800 {
        let record = driver.payment(prid).await.unwrap();
        if record.state.is_final() {
            return record;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("sale {prid} did not end");
}

fn args(code: &str) -> OrderCodeArgs {
    OrderCodeArgs { code: code.to_owned(), account_id: "buyer-1".into() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_buyer_decodes_the_acquirers_private_code_through_the_sandbox_and_pays_it() {
    let env = Env::start_compressed(&[], timing(), 12).await;
    let driver = PosDriver::new(&env.base_url, Duration::from_secs(60)).unwrap();
    let sale = driver.private_order_code("25.00 USD").await.unwrap();
    let shown = sale.order_code.expect("a private order code to display");
    // The fixed-domain form: the path starts with 12 digits shaped 281***04****.
    let path = shown.code_value.strip_prefix("https://qr.plusbox-acquirer.example/").unwrap();
    assert!(plusbox_core::codes::mpm::private_order_digits(&format!("/{path}")).is_some(), "{path}");
    assert_eq!(sale.payment.state, OrderState::Init);

    let phone = acquirer_common::paired_phone(&env).await;
    let order = decode_order_code(phone.clone(), args(&shown.code_value)).await.unwrap();
    assert_eq!((order.amount.currency.as_str(), order.amount.value.as_str()), ("USD", "2500"));
    assert_eq!(order.merchant_name, "Plusbox Demo Store");
    assert_eq!(order.payment_request_id, sale.payment.payment_request_id);
    assert!(!order.needs_pin);

    // The sandbox's userInitiatedPay: signed by the sandbox, answered and verified, no pay at all.
    let decodes: Vec<_> = env.traffic().into_iter().filter(|t| t.api == "userInitiatedPay").collect();
    assert_eq!(decodes.len(), 1);
    assert_eq!(decodes[0].direction, "outbound");
    assert_eq!(decodes[0].signature, "valid", "{:?}", decodes[0]);
    assert_eq!(decodes[0].result_status.as_deref(), Some("S"));
    assert!(decodes[0].request_body.contains(&shown.code_value));
    assert!(env.calls("pay").is_empty(), "a private order code needs no pay from the ACQP");

    // A second scan shows the same order without asking the acquirer again.
    let again = decode_order_code(phone.clone(), args(&shown.code_value)).await.unwrap();
    assert_eq!(again.payment_id, order.payment_id);
    assert_eq!(env.traffic().iter().filter(|t| t.api == "userInitiatedPay").count(), 1);

    let outcome = confirm_order_code(
        phone.clone(),
        ConfirmOrderCodeArgs { code: shown.code_value.clone(), account_id: "buyer-1".into(), pin: None },
    )
    .await
    .unwrap();
    assert_eq!(outcome.result_code, "SUCCESS");
    env.sandbox.poke();
    let record = ended(&driver, &sale.payment.payment_request_id).await;
    assert_eq!(record.state, OrderState::Success, "{record:?}");
    assert_eq!(record.payment_id.as_deref(), Some(order.payment_id.as_str()));
    assert!(env.calls("cancelPayment").is_empty());

    // Paid: a third scan is refused in words.
    let refused = decode_order_code(phone, args(&shown.code_value)).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::OrderClosed, "{refused}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_decode_fault_leaves_no_payment_and_the_buyer_is_told_why() {
    let cases = [
        (Fault::PocUnsignedAnswer, ErrorCode::AcquirerAnswerUnsigned, "did not sign", "missing"),
        (Fault::PocBadAnswerSignature, ErrorCode::AcquirerAnswerBadSignature, "does not verify", "invalid"),
        (Fault::PocSlowAnswer, ErrorCode::AcquirerTimeout, "within 8 seconds", "not-checked"),
        (Fault::PocMissingAmount, ErrorCode::AcquirerAnswerIncomplete, "no amount", "valid"),
    ];
    let runs = cases.into_iter().map(|(fault, code, words, signature)| async move {
        let env = Env::start_compressed(&[fault], timing(), 12).await;
        let driver = PosDriver::new(&env.base_url, Duration::from_secs(60)).unwrap();
        let sale = driver.private_order_code("7.00 USD").await.unwrap();
        let code_value = sale.order_code.unwrap().code_value;
        let phone = acquirer_common::paired_phone(&env).await;
        let refused = decode_order_code(phone, args(&code_value)).await.unwrap_err();
        assert_eq!(refused.code, code, "{fault}: {refused}");
        assert!(refused.message.starts_with("this code cannot be paid: "), "{fault}: {refused}");
        assert!(refused.message.contains(words), "{fault}: {refused}");
        let decode = env.traffic().into_iter().find(|t| t.api == "userInitiatedPay").unwrap();
        assert_eq!(decode.signature, signature, "{fault}: {decode:?}");
        assert!(decode.payment_id.is_none(), "{fault}: no payment was made");
        // The sale is never paid: the sandbox never had the payment, so the cancel at the end of
        // the window finds nothing and the order fails.
        let record = ended(&driver, &sale.payment.payment_request_id).await;
        assert_eq!(record.state, OrderState::Failed, "{fault}: {record:?}");
        assert_eq!(record.result_code.as_deref(), Some("ORDER_NOT_EXIST"), "{fault}: {record:?}");
        env.stop().await;
    });
    futures_util::future::join_all(runs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registration_refuses_the_order_code_domain_and_codes_off_the_digit_rule() {
    let env = Env::start_compressed(&[], timing(), 12).await;
    let store = env.sandbox.store();
    let now = time::OffsetDateTime::now_utc();
    let domain = |d: &str, digits: bool| plusbox_sandbox::store::PrivateDomain { domain: d.into(), digits };
    let url = "http://127.0.0.1:9/aps/api/v1/payments/userInitiatedPay";
    let taken = store.set_private_order_codes(url, &[domain("global.alipay.com", false)], now).unwrap_err();
    assert!(taken.to_string().contains("order-code domain"), "{taken}");
    let bad = store.set_private_order_codes("ftp://x", &[domain("a.example", false)], now).unwrap_err();
    assert!(bad.to_string().contains("userInitiatedPay URL"), "{bad}");
    // The acquirer's fixed-domain registration is still in place: a path off the 12-digit rule
    // on its domain is refused without asking the acquirer.
    let phone = acquirer_common::paired_phone(&env).await;
    let refused =
        decode_order_code(phone, args("https://qr.plusbox-acquirer.example/12345")).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::OrderCodeInvalid, "{refused}");
    assert!(refused.message.contains("281***04****"), "{refused}");
    assert!(env.traffic().iter().all(|t| t.api != "userInitiatedPay"));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_the_acquirer_no_longer_sells_is_declined_by_its_answer_and_leaves_no_payment() {
    let env = Env::start_compressed(&[], timing(), 12).await;
    let driver = PosDriver::new(&env.base_url, Duration::from_secs(60)).unwrap();
    let sale = driver.private_order_code("3.00 USD").await.unwrap();
    let code_value = sale.order_code.unwrap().code_value;
    // Nobody scans it: the window ends and the acquirer closes the sale.
    let record = ended(&driver, &sale.payment.payment_request_id).await;
    assert_eq!(record.state, OrderState::Failed, "{record:?}");
    let refused =
        decode_order_code(acquirer_common::paired_phone(&env).await, args(&code_value)).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::AcquirerDeclinedCode, "{refused}");
    assert!(refused.message.contains("F ORDER_IS_CLOSED"), "{refused}");
    let decode = env.traffic().into_iter().find(|t| t.api == "userInitiatedPay").unwrap();
    assert_eq!((decode.signature.as_str(), decode.result_status.as_deref()), ("valid", Some("F")));
    assert!(decode.payment_id.is_none());
    env.stop().await;
}
