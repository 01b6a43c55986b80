//! The reference acquirer reconciles a day against the sandbox's clearing file, over the wire
//! with the application's SFTP login: a correct acquirer finds every sale and refund settled and
//! nothing else; each reconciliation fault shows up as the difference it causes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod acquirer_common;

use std::collections::BTreeSet;

use acquirer_common::{fast_timing, Env};
use plusbox_acquirer::reconcile::{self, Download};
use plusbox_acquirer::{CancelRequest, OrderState, RefundRequest};
use plusbox_acquirer::{Fault, Faults};
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
        sftp: None,
    };
    let run = |faults: Vec<Fault>| {
        let how = how.clone();
        let dates = dates.clone();
        let acquirer = env.acquirer.clone();
        async move {
            let mut matched = 0;
            let mut differences = Vec::new();
            for date in dates {
                let faults: Faults = faults.iter().copied().collect();
                let report =
                    reconcile::reconcile(acquirer.store(), &how, "M0001", date, &faults).await.unwrap();
                matched += report.matched;
                differences.extend(report.differences);
            }
            (matched, differences)
        }
    };

    let (matched, differences) = run(vec![]).await;
    assert!(differences.is_empty(), "the correct acquirer reconciles cleanly: {differences:?}");
    assert_eq!(matched, 3, "two sales and one refund are settled");

    let (_, differences) = run(vec![Fault::ReconCountsCancelled]).await;
    assert_eq!(differences.len(), 1, "{differences:?}");
    assert_eq!(
        (differences[0].kind, differences[0].transaction_request_id.as_str()),
        ("missing-in-file", voided.payment_request_id.as_str())
    );

    let (_, differences) = run(vec![Fault::ReconIgnoresRefunds]).await;
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
        reconcile::reconcile(env.acquirer.store(), &wrong, "M0001", *dates.first().unwrap(), &Faults::none())
            .await
            .unwrap_err();
    assert!(error.to_string().contains("401"), "{error}");
    env.stop().await;
}

/// POSTs JSON to the acquirer's POS-driver API; returns (status, body).
async fn post(url: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new().post(url).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn the_back_office_reconciles_its_own_merchant_while_another_merchant_pays_the_same_day() {
    let env = Env::start(&[], fast_timing()).await;
    let other = env.add_acquirer("M0002", &[], fast_timing(), 1).await;
    // Our day: a sale refunded in part and a voided sale. The other acquirer's merchant sells
    // on the same application the same day.
    let sale = env.charge(&env.code_for("buyer-1", "success"), "50.00 HKD").await;
    let refund = env
        .acquirer
        .refund(RefundRequest {
            payment: sale.payment_request_id.clone(),
            amount: "12.34 HKD".into(),
            refund_request_id: None,
            reason: None,
        })
        .await
        .unwrap();
    assert_eq!(refund.state, "SUCCESS");
    let voided = env.charge(&env.code_for("buyer-1", "success"), "7.00 HKD").await;
    env.acquirer.cancel(CancelRequest { payment: voided.payment_request_id.clone() }).await.unwrap();
    let (status, theirs) = post(
        &format!("{other}/charge"),
        serde_json::json!({"code": env.code_for("buyer-2", "success"), "amount": "9.99 HKD"}),
    )
    .await;
    assert_eq!((status, theirs["state"].as_str()), (200, Some("SUCCESS")), "{theirs}");

    let date = recon::clearing_date_of(parse_instant(sale.payment_time.as_deref().unwrap()).unwrap());
    let day = recon::date_compact(date);
    // Not made yet: a clear error, not a reconciled day.
    let (status, early) =
        post(&format!("{}/reconcile", env.base_url), serde_json::json!({"date": day})).await;
    assert_eq!(status, 503, "{early}");
    assert!(early["message"].as_str().unwrap().contains("no clearing file"), "{early}");

    env.sandbox.clock().advance(time::Duration::days(2)).unwrap();
    let now = plusbox_sandbox::Clock::now(&env.sandbox.clock());
    let store = env.sandbox.store();
    plusbox_sandbox::recon::generate(&store, &store.app().unwrap(), date, now).unwrap();
    let (status, report) =
        post(&format!("{}/reconcile", env.base_url), serde_json::json!({"date": day})).await;
    assert_eq!(status, 200, "{report}");
    if sale.payment_time.as_deref().map(|t| recon::clearing_date_of(parse_instant(t).unwrap()))
        == refund.refund_time.as_deref().map(|t| recon::clearing_date_of(parse_instant(t).unwrap()))
    {
        assert_eq!(report["state"], "RECONCILED", "{report}");
        assert_eq!(
            (report["matchedPayments"].as_u64(), report["matchedRefunds"].as_u64()),
            (Some(1), Some(1))
        );
        assert_eq!(report["matchedPaymentAmount"]["HKD"], 5000);
        assert_eq!(report["matchedRefundAmount"]["HKD"], 1234);
        assert_eq!(report["otherMerchantRows"], 1, "the other merchant's sale is counted apart");
        assert_eq!(report["merchant"], "M0001");
    }
    // The other acquirer reconciles its own sale only, and is balanced too.
    let (_, theirs) = post(&format!("{other}/reconcile"), serde_json::json!({"date": day})).await;
    assert_eq!(
        (theirs["state"].as_str(), theirs["matched"].as_u64()),
        (Some("RECONCILED"), Some(1)),
        "{theirs}"
    );

    // Bad input: a clear 400 naming the field.
    let (status, bad) =
        post(&format!("{}/reconcile", env.base_url), serde_json::json!({"date": "yesterday"})).await;
    assert_eq!(status, 400);
    assert!(bad["message"].as_str().unwrap().contains("date"), "{bad}");
    let (status, _) = post(&format!("{}/reconcile", env.base_url), serde_json::json!({"day": day})).await;
    assert_eq!(status, 400);
    env.stop().await;
}

#[tokio::test]
async fn aging_an_order_moves_its_payment_and_refund_times_back_and_refuses_bad_input() {
    let env = Env::start(&[], fast_timing()).await;
    let sale = env.charge(&env.code_for("buyer-1", "success"), "20.00 USD").await;
    let refund = env
        .acquirer
        .refund(RefundRequest {
            payment: sale.payment_request_id.clone(),
            amount: "5.00 USD".into(),
            refund_request_id: None,
            reason: None,
        })
        .await
        .unwrap();
    let url = format!("{}/orders/age", env.base_url);
    let (status, aged) = post(
        &url,
        serde_json::json!({"paymentRequestIds": [sale.payment_request_id, "unknown"], "seconds": 86_400}),
    )
    .await;
    assert_eq!((status, aged["aged"].as_u64()), (200, Some(1)), "{aged}");
    let after = env.acquirer.store().payment(&sale.payment_request_id).unwrap().unwrap();
    let before_at = parse_instant(sale.payment_time.as_deref().unwrap()).unwrap();
    assert_eq!(
        parse_instant(after.payment_time.as_deref().unwrap()).unwrap(),
        before_at - time::Duration::DAY
    );
    let refunded = env.acquirer.store().refund(&refund.refund_request_id).unwrap().unwrap();
    assert_eq!(
        parse_instant(refunded.refund_time.as_deref().unwrap()).unwrap(),
        parse_instant(refund.refund_time.as_deref().unwrap()).unwrap() - time::Duration::DAY
    );
    for bad in [
        serde_json::json!({"paymentRequestIds": [sale.payment_request_id], "seconds": 0}),
        serde_json::json!({"paymentRequestIds": [sale.payment_request_id], "seconds": -5}),
        serde_json::json!({"paymentRequestIds": [], "seconds": 60}),
        serde_json::json!({"paymentRequestIds": "x", "seconds": 60}),
    ] {
        let (status, answer) = post(&url, bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {answer}");
    }
    env.stop().await;
}

#[tokio::test]
async fn the_back_office_downloads_over_sftp_with_the_pinned_host_key_the_same_bytes_as_over_http() {
    let env = Env::start(&[], fast_timing()).await;
    let sale = env.charge(&env.code_for("buyer-1", "success"), "3.21 USD").await;
    let date = recon::clearing_date_of(parse_instant(sale.payment_time.as_deref().unwrap()).unwrap());
    env.sandbox.clock().advance(time::Duration::days(2)).unwrap();
    let now = plusbox_sandbox::Clock::now(&env.sandbox.clock());
    let store = env.sandbox.store();
    plusbox_sandbox::recon::generate(&store, &store.app().unwrap(), date, now).unwrap();
    let login = acquirer_common::sftp_login(&env.sandbox);
    let address = login.address.clone().unwrap();
    let http = Download {
        base_url: env.sandbox.base_url().to_owned(),
        username: login.username.clone(),
        password: login.password.clone(),
        sftp: None,
    };
    let over_sftp = Download { sftp: Some((address.clone(), login.host_key.clone())), ..http.clone() };
    let mut by_http = reconcile::download(&http, date).await.unwrap();
    let mut by_sftp = reconcile::download(&over_sftp, date).await.unwrap();
    by_http.sort();
    by_sftp.sort();
    assert!(!by_sftp.is_empty());
    assert_eq!(by_sftp, by_http, "SFTP and HTTP give the same files");
    let report =
        reconcile::reconcile(env.acquirer.store(), &over_sftp, "M0001", date, &Faults::none()).await.unwrap();
    assert_eq!((report.state, report.matched), ("RECONCILED", 1), "{report:?}");

    // Another host key than the pinned one, or a wrong password: nothing is downloaded.
    let spoofed = Download {
        sftp: Some((address.clone(), Some("SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into()))),
        ..http.clone()
    };
    let error = reconcile::download(&spoofed, date).await.unwrap_err();
    assert!(error.to_string().contains("host key"), "{error}");
    let wrong = Download { password: "wrong".into(), ..over_sftp.clone() };
    let error = reconcile::download(&wrong, date).await.unwrap_err();
    assert!(error.to_string().contains("refused"), "{error}");
    env.stop().await;
}
