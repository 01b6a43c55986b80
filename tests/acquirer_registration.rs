//! The reference acquirer's merchant registration and customs declaration against the real
//! sandbox, over HTTP (alipayplus-api.md §13.1–§13.2): it registers, the sandbox's review ends and
//! its signed `notifyRegistrationStatus` reaches the acquirer, which verifies it, records the
//! result and acknowledges it signed; an update while the first is under review is held; a paid
//! Alipay (CN) sale is declared, a Test Wallet sale is refused by Alipay+.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod acquirer_common;

use acquirer_common::{fast_timing, Env};
use plusbox_acquirer::{DeclareRequest, Fault, RegisterRequest};

fn register(merchant: &str, name: &str) -> RegisterRequest {
    RegisterRequest {
        merchant_id: merchant.into(),
        store_id: "S01".into(),
        merchant_name: name.into(),
        registration_request_id: None,
    }
}

async fn settle(env: &Env, check: impl Fn(&Env) -> bool) -> bool {
    for _ in 0..300 {
        if check(env) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn a_registration_is_reviewed_and_its_signed_notification_acknowledged_and_recorded() {
    let env = Env::start(&[], fast_timing()).await;
    let store = env.sandbox.store();
    // A review of 0 s: the notification follows the answer at once.
    store
        .update_registration_settings(store.app().unwrap().id, None, None, Some(time::Duration::ZERO))
        .unwrap();
    let accepted = env.acquirer.register(register("M-ACQ-1", "Acquirer Cafe")).await.unwrap();
    assert_eq!(accepted.state, "ACCEPTED", "{}", accepted.message);
    let id = accepted.registration.unwrap().registration_request_id;
    let recorded = settle(&env, |env| {
        env.acquirer.store().registration(&id).unwrap().is_some_and(|r| r.status == "COMPLETED")
    })
    .await;
    assert!(recorded, "the acquirer recorded COMPLETED from the notification");
    // The sandbox logs the delivery once the acknowledgement is judged.
    let outbound = |env: &Env| {
        env.traffic().into_iter().any(|t| t.api == "notifyRegistrationStatus" && t.direction == "outbound")
    };
    assert!(settle(&env, outbound).await, "the delivery is in the traffic log");
    let notes: Vec<_> = env
        .traffic()
        .into_iter()
        .filter(|t| t.api == "notifyRegistrationStatus" && t.direction == "outbound")
        .collect();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].result_status.as_deref(), Some("S"));
    assert_eq!(notes[0].signature, "valid", "the acknowledgement is signed with the ACQP key");
    assert!(notes[0].uri.ends_with("/aps/api/v1/merchants/notifyRegistrationStatus"));
    env.stop().await;
}

#[tokio::test]
async fn an_update_under_review_is_held_unless_the_fault_is_on() {
    for (faults, expected, refused) in
        [(vec![], "DEFERRED", 0), (vec![Fault::ReregisterWithin30Minutes], "REFUSED", 1)]
    {
        let env = Env::start(&faults, fast_timing()).await;
        assert_eq!(env.acquirer.register(register("M-ACQ-2", "Tea")).await.unwrap().state, "ACCEPTED");
        let update = env.acquirer.register(register("M-ACQ-2", "Tea Two")).await.unwrap();
        assert_eq!(update.state, expected, "{faults:?}: {}", update.message);
        let refusals = env
            .calls("registration")
            .iter()
            .filter(|t| t.result_code.as_deref() == Some("PROCESS_FAIL"))
            .count();
        assert_eq!(refusals, refused, "{faults:?}");
        if expected == "DEFERRED" {
            assert_eq!(env.calls("inquiryRegistrationStatus").len(), 1, "it asked before holding the update");
        }
        env.stop().await;
    }
}

#[tokio::test]
async fn a_paid_alipay_cn_sale_is_declared_and_a_test_wallet_sale_refused() {
    let env = Env::start(&[], fast_timing()).await;
    let store = env.sandbox.store();
    let cny = plusbox_core::money::Amount::parse_positive("1000.00 CNY").unwrap();
    store.topup("buyer-1", &cny, env.sandbox_now()).unwrap();
    let test_wallet = env.charge(&env.code_for("buyer-1", "success"), "10.00 CNY").await;
    store.set_wallet("buyer-1", "ALIPAY_CN").unwrap();
    let alipay_cn = env.charge(&env.code_for("buyer-1", "success"), "20.00 CNY").await;
    let declare = |payment: &str| DeclareRequest {
        payment: payment.to_owned(),
        amount: "20.00 CNY".into(),
        customs_declaration_request_id: None,
    };
    let declared = env.acquirer.declare(declare(&alipay_cn.payment_request_id)).await.unwrap();
    assert_eq!(declared.state, "DECLARED", "{}", declared.result_message);
    assert!(declared.psp_declaration_request_id.is_some());
    let refused = env.acquirer.declare(declare(&test_wallet.payment_request_id)).await.unwrap();
    assert_eq!((refused.state, refused.result_code.as_deref()), ("REFUSED", Some("PROCESS_FAIL")));
    env.stop().await;
}
