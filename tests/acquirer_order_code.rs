//! The reference acquirer's order-code sale (MPM, alipayplus-api.md §5, §11, §12) against a real
//! sandbox, through the POS-driver API: the code it shows is the one the sandbox issued, the buyer
//! pays it through the sandbox's wallet side, and the sale ends as the reference says — paid by
//! notify or inquiry, or polled 30–60 times in the window then cancelled; each new fault switch
//! breaks its rule.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod acquirer_common;

use std::time::Duration;

use acquirer_common::{fast_timing, Env};
use plusbox_acquirer::{Fault, OrderState, PaymentRecord, PosDriver, Timing};
use plusbox_sandbox::store::BuyerDecision;

/// The fast timing with a 4 s order-code window polled every 90 ms (44 inquiries).
fn timing() -> Timing {
    Timing { order_code_window_ms: 4_000, order_code_poll_interval_ms: 90, ..fast_timing() }
}

fn driver(env: &Env) -> PosDriver {
    PosDriver::new(&env.base_url, Duration::from_secs(60)).unwrap()
}

/// Polls the POS until the sale is final (bounded).
async fn ended(driver: &PosDriver, prid: &str) -> PaymentRecord {
    for _ in 0..600 {
        let record = driver.payment(prid).await.unwrap();
        if record.state.is_final() {
            return record;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("sale {prid} did not end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shown_order_code_paid_by_the_buyer_ends_the_sale_in_success() {
    let env = Env::start(&[], timing()).await;
    let driver = driver(&env);
    let sale = driver.order_code("12.50 USD").await.unwrap();
    assert_eq!(sale.payment.state, OrderState::Init);
    let shown = sale.order_code.expect("an order code to display");
    assert!(shown.code_value.starts_with("https://global.alipay.com/28100204"), "{shown:?}");
    assert_eq!(shown.images.len(), 3);
    assert_eq!(sale.payment.code, shown.code_value);

    // The pay carried OrderCode, the user agent and no payment code.
    let pay = &env.calls("pay")[0];
    let body: serde_json::Value = serde_json::from_str(&pay.request_body).unwrap();
    assert_eq!(body["paymentFactor"]["inStorePaymentScenario"], "OrderCode");
    assert!(body["order"]["env"]["userAgent"].as_str().unwrap().starts_with("PlusboxPOS/"));
    assert!(body["paymentMethod"].get("paymentMethodId").is_none());

    let store = env.sandbox.store();
    let now = time::OffsetDateTime::now_utc();
    let view = store.decode_order_code(&shown.code_value, "buyer-1", now).unwrap().unwrap();
    assert_eq!(view.display_amount, "12.50 USD");
    store
        .answer_order_code(&shown.code_value, "buyer-1", BuyerDecision::Confirm(None), now)
        .unwrap()
        .unwrap();
    env.sandbox.poke();
    let record = ended(&driver, &sale.payment.payment_request_id).await;
    assert_eq!(record.state, OrderState::Success, "{record:?}");
    assert!(matches!(record.final_source.as_deref(), Some("notify") | Some("inquiry")), "{record:?}");
    assert!(env.calls("cancelPayment").is_empty());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpaid_order_code_is_polled_30_to_60_times_in_the_window_then_cancelled() {
    let env = Env::start(&[], timing()).await;
    let driver = driver(&env);
    let sale = driver.order_code("3.00 USD").await.unwrap();
    let shown = sale.order_code.unwrap();
    let record = ended(&driver, &sale.payment.payment_request_id).await;
    assert_eq!(record.state, OrderState::Cancelled, "{record:?}");
    let inquiries = env.calls("inquiryPayment").len();
    assert!((30..=60).contains(&inquiries), "{inquiries} inquiries in the window");
    assert_eq!(env.calls("cancelPayment").len(), 1);
    // The cancelled code is refused when scanned.
    let refused = env
        .sandbox
        .store()
        .decode_order_code(&shown.code_value, "buyer-1", time::OffsetDateTime::now_utc())
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.code, "ORDER_IS_CLOSED");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_code_faults_break_their_rules() {
    let (omit, no_cancel, slow) = tokio::join!(
        Env::start(&[Fault::OmitUserAgent], timing()),
        Env::start(&[Fault::OrderCodeNoCancel], timing()),
        Env::start(&[Fault::OrderCodePollTooSlow], timing()),
    );
    // omit-user-agent: the pay is refused PARAM_ILLEGAL and nothing is shown.
    let sale = driver(&omit).order_code("3.00 USD").await.unwrap();
    assert_eq!(sale.payment.state, OrderState::Failed);
    assert_eq!(sale.payment.result_code.as_deref(), Some("PARAM_ILLEGAL"));
    assert!(sale.order_code.is_none());
    omit.stop().await;

    // The other two run side by side: each sale stays unpaid for its whole window.
    let (a, b) = (driver(&no_cancel), driver(&slow));
    let (sale_a, sale_b) = (a.order_code("3.00 USD").await.unwrap(), b.order_code("3.00 USD").await.unwrap());
    let (record_a, _) = tokio::join!(
        ended(&a, &sale_a.payment.payment_request_id),
        ended(&b, &sale_b.payment.payment_request_id)
    );
    // order-code-no-cancel: the window ends without a cancel.
    assert_eq!(record_a.state, OrderState::Failed);
    assert!(no_cancel.calls("cancelPayment").is_empty());
    // order-code-poll-too-slow: fewer than 30 inquiries in the window.
    let inquiries = slow.calls("inquiryPayment").len();
    assert!(inquiries < 30, "{inquiries}");
    no_cancel.stop().await;
    slow.stop().await;
}
