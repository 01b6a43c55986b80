//! The companion API under /app/v1/: device token, codes, pending list with SSE, confirm, history.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use plusbox_sandbox::Scenario;
use serde_json::{json, Value};

async fn next_event(response: &mut reqwest::Response, buffer: &mut String) -> Value {
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data:")) {
                return serde_json::from_str(data.trim()).unwrap();
            }
            continue;
        }
        let chunk = response.chunk().await.unwrap().expect("stream open");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn companion_wallet_flow_with_live_pending_list() {
    let h = Harness::start().await;
    let store = h.sandbox.store();
    let token = store.create_device("phone", h.clock_now()).unwrap();
    let auth = format!("Bearer {}", token.expose());
    let api = |path: &str| h.url(&format!("/app/v1{path}"));

    let denied = h.http.get(api("/accounts")).send().await.unwrap();
    assert_eq!(denied.status(), 401);
    let body: Value = serde_json::from_str(&denied.text().await.unwrap()).unwrap();
    assert_eq!(body["code"], "UNAUTHORIZED");

    let accounts: Value = serde_json::from_str(
        &h.http
            .get(api("/accounts"))
            .header("authorization", &auth)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(accounts.as_array().unwrap().len(), 3);

    let missing =
        h.http.post(api("/accounts/nobody/codes")).header("authorization", &auth).send().await.unwrap();
    assert_eq!(missing.status(), 404);

    let mut stream = h.http.get(api("/pending/stream")).header("authorization", &auth).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    let mut buffer = String::new();
    assert_eq!(next_event(&mut stream, &mut buffer).await, json!([]));

    store.set_scenario("buyer-3", &Scenario::Pin).unwrap();
    let code: Value = serde_json::from_str(
        &h.http
            .post(api("/accounts/buyer-3/codes"))
            .header("authorization", &auth)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(code["account"], "buyer-3");
    let a = h.call("pay", &pay_body("comp-1", code["code"].as_str().unwrap(), "JPY", "500")).await;
    assert_eq!(a.code(), "PAYMENT_IN_PROCESS");

    let pending = next_event(&mut stream, &mut buffer).await;
    assert_eq!(pending[0]["paymentRequestId"], "comp-1");
    let payment_id = pending[0]["paymentId"].as_str().unwrap().to_string();

    let bad = h
        .http
        .post(api(&format!("/payments/{payment_id}/confirm")))
        .header("authorization", &auth)
        .body("{oops")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let ok: Value = serde_json::from_str(
        &h.http
            .post(api(&format!("/payments/{payment_id}/confirm")))
            .header("authorization", &auth)
            .body(r#"{"pin":"1234"}"#)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(ok["paymentResult"]["resultCode"], "SUCCESS");
    assert_eq!(next_event(&mut stream, &mut buffer).await, json!([]));

    let again = h
        .http
        .post(api(&format!("/payments/{payment_id}/confirm")))
        .header("authorization", &auth)
        .body(r#"{"pin":"1234"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);

    let topup: Value = serde_json::from_str(
        &h.http
            .post(api("/accounts/buyer-3/topup"))
            .header("authorization", &auth)
            .body(r#"{"amount":"1000 JPY"}"#)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(topup["value"], "1000500");
    let history: Value = serde_json::from_str(
        &h.http
            .get(api("/accounts/buyer-3/history"))
            .header("authorization", &auth)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    let kinds: Vec<&str> = history.as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(&kinds[..2], ["topup", "payment"]);
}

#[tokio::test]
async fn every_events_subscriber_gets_the_pending_list_and_its_changes() {
    let h = Harness::start().await;
    let store = h.sandbox.store();
    let token = store.create_device("phone", h.clock_now()).unwrap();
    let auth = format!("Bearer {}", token.expose());
    let mut streams = Vec::new();
    for _ in 0..20 {
        let stream = h.http.get(h.url("/app/v1/events")).header("authorization", &auth).send().await.unwrap();
        assert_eq!(stream.status(), 200);
        streams.push((stream, String::new()));
    }
    for (stream, buffer) in &mut streams {
        assert_eq!(next_event(stream, buffer).await, json!([]));
    }
    store.set_scenario("buyer-1", &Scenario::Pin).unwrap();
    let code = h.code("buyer-1");
    assert_eq!(h.call("pay", &pay_body("fan-1", &code, "USD", "100")).await.code(), "PAYMENT_IN_PROCESS");
    for (stream, buffer) in &mut streams {
        // The payment's first state, then the new pending list (in either order).
        let mut got_pending = false;
        while !got_pending {
            let data = next_event(stream, buffer).await;
            if let Some(list) = data.as_array() {
                assert_eq!(list.len(), 1);
                assert_eq!(list[0]["accountId"], "buyer-1");
                assert_eq!(list[0]["needsPin"], true);
                got_pending = true;
            }
        }
    }
}
