//! The reference acquirer reconciles a day against the sandbox's clearing file, over the wire
//! with the application's SFTP login: a correct acquirer finds every sale and refund settled and
//! nothing else; each reconciliation fault shows up as the difference it causes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod acquirer_common;

use std::collections::BTreeSet;

use acquirer_common::{fast_timing, Env};
use plusbox_acquirer::reconcile::{self, Download, ReconFault};
use plusbox_acquirer::{CancelRequest, OrderState, RefundRequest};
use plusbox_core::protocol::time::parse_instant;
use plusbox_core::recon;

#[tokio::test]
async fn a_correct_acquirer_reconciles_and_each_fault_shows_its_difference() {
    let env = Env::start(&[], fast_timing()).await;
    // A sale refunded in part, a plain sale, and a sale voided at once.
    let refunded = env.charge(&env.code_for("buyer-1", "success"), "120.00 HKD").await;
    assert_eq!(refunded.state, OrderState::Success);
    let refund = env
        .acquirer
        .refund(RefundRequest {
            payment: refunded.payment_request_id.clone(),
            amount: "20.00 HKD".into(),
            refund_request_id: None,
            reason: None,
        })
        .await
        .unwrap();
    assert_eq!(refund.state, "SUCCESS");
    let plain = env.charge(&env.code_for("buyer-2", "success"), "8.00 USD").await;
    assert_eq!(plain.state, OrderState::Success);
    let voided = env.charge(&env.code_for("buyer-3", "success"), "300 JPY").await;
    let voided =
        env.acquirer.cancel(CancelRequest { payment: voided.payment_request_id.clone() }).await.unwrap();
    assert_eq!(voided.state, OrderState::Cancelled);

    // The days these happened on (one, unless the test straddles midnight UTC+8), then the
    // sandbox clock moves past their cycle and the files are made.
    let times = [refunded.payment_time.clone(), refund.refund_time.clone(), plain.payment_time.clone()];
    let dates: BTreeSet<time::Date> = times
        .iter()
        .map(|t| recon::clearing_date_of(parse_instant(t.as_deref().unwrap()).unwrap()))
        .collect();
    let store = env.sandbox.store();
    env.sandbox.clock().advance(time::Duration::days(2)).unwrap();
    let now = plusbox_sandbox::Clock::now(&env.sandbox.clock());
    let app = store.app().unwrap();
    for date in &dates {
        plusbox_sandbox::recon::generate(&store, &app, *date, now).unwrap();
    }
    let login = store.sftp_login(app.id).unwrap();
    let how = Download {
        base_url: env.sandbox.base_url().to_owned(),
        username: login.username.clone(),
        password: login.password.expose().to_owned(),
    };
    let run = |faults: Vec<ReconFault>| {
        let how = how.clone();
        let dates = dates.clone();
        let acquirer = env.acquirer.clone();
        async move {
            let mut matched = 0;
            let mut differences = Vec::new();
            for date in dates {
                let report = reconcile::reconcile(acquirer.store(), &how, date, &faults).await.unwrap();
                matched += report.matched;
                differences.extend(report.differences);
            }
            (matched, differences)
        }
    };

    let (matched, differences) = run(vec![]).await;
    assert!(differences.is_empty(), "the correct acquirer reconciles cleanly: {differences:?}");
    assert_eq!(matched, 3, "two sales and one refund are settled");

    let (_, differences) = run(vec![ReconFault::CountsCancelled]).await;
    assert_eq!(differences.len(), 1, "{differences:?}");
    assert_eq!(
        (differences[0].kind, differences[0].transaction_request_id.as_str()),
        ("missing-in-file", voided.payment_request_id.as_str())
    );

    let (_, differences) = run(vec![ReconFault::IgnoresRefunds]).await;
    assert_eq!(differences.len(), 1, "{differences:?}");
    assert_eq!(
        (
            differences[0].kind,
            differences[0].transaction_type,
            differences[0].transaction_request_id.as_str()
        ),
        ("missing-in-file", "REFUND", refund.refund_request_id.as_str())
    );

    // A wrong password downloads nothing.
    let wrong = Download { password: "wrong".into(), ..how.clone() };
    let error =
        reconcile::reconcile(env.acquirer.store(), &wrong, *dates.first().unwrap(), &[]).await.unwrap_err();
    assert!(error.to_string().contains("401"), "{error}");
    env.stop().await;
}
