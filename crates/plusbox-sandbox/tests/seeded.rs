//! Seeded runs give the same identifiers (alipayplus-api.md §15), over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{pay_body, Harness};
use serde_json::json;

/// Runs the same requests against a fresh sandbox; returns every identifier it handed out.
async fn run(seed: Option<u64>) -> Vec<String> {
    let h = Harness::start_with(|mut config| {
        config.seed = seed;
        config
    })
    .await;
    let mut ids = vec![h.client_id.clone()];
    for n in 0..3 {
        let code = h.code("buyer-1");
        let a = h.call("pay", &pay_body(&format!("seed-{n}"), &code, "USD", "250")).await;
        assert_eq!(a.code(), "SUCCESS");
        let r = h
            .call(
                "refund",
                &json!({"paymentRequestId": format!("seed-{n}"), "refundRequestId": format!("r-{n}"),
                        "refundAmount": {"currency": "USD", "value": "50"}}),
            )
            .await;
        assert_eq!(r.code(), "SUCCESS");
        ids.extend([
            code,
            a.body["paymentId"].as_str().unwrap().into(),
            r.body["refundId"].as_str().unwrap().into(),
        ]);
    }
    ids
}

#[tokio::test]
async fn the_same_seed_gives_the_same_ids() {
    let first = run(Some(42)).await;
    assert_eq!(first, run(Some(42)).await);
    assert_ne!(first, run(Some(43)).await);
    assert_ne!(run(None).await, run(None).await);
    // The shapes stay those of §15 and payment-codes.md §2.5.
    assert!(first[0].starts_with("SANDBOX_") && first[0].len() == 25);
    assert!(first[1].len() == 24 && first[1].starts_with("251001"));
    assert!(first[2].len() == 23 && first[2].starts_with("20250310"));
}
