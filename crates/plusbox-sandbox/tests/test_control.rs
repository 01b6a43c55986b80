//! The test-control API under /app/v1/test/: device scopes keep two merchants' runs apart
//! (traffic, payments, rules, buyers), one run per buyer, clock jumps only for a clock-control
//! device while nobody else runs, and every refusal is `{code, message}`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use plusbox_sandbox::store::DeviceScope;
use serde_json::{json, Value};

/// A device paired with a scope, and how to call the API as it.
struct Device<'a> {
    h: &'a Harness,
    auth: String,
}

impl Device<'_> {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .h
            .http
            .request(method, self.h.url(&format!("/app/v1/test{path}")))
            .header("authorization", &self.auth);
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
    }
    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }
    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }
    async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::DELETE, path, None).await
    }
}

fn pair<'a>(h: &'a Harness, name: &str, scope: DeviceScope) -> Device<'a> {
    let store = h.sandbox.store();
    if let Some(account) = &scope.account {
        store.ensure_buyer_like(account, "buyer-1", h.clock_now()).unwrap();
    }
    let token = store.create_device(name, h.clock_now()).unwrap();
    let id = store.device_id_by_name(name).unwrap().unwrap();
    store.set_device_scope(id, &scope).unwrap();
    Device { h, auth: format!("Bearer {}", token.expose()) }
}

fn scoped(merchant: &str, account: &str) -> DeviceScope {
    DeviceScope { merchant: Some(merchant.into()), account: Some(account.into()), clock_control: false }
}

/// A pay for `merchant` with a code of `account`, issued through the device.
async fn pay(device: &Device<'_>, account: &str, merchant: &str, request_id: &str) -> Value {
    let (status, code) = device.post(&format!("/accounts/{account}/codes"), json!({})).await;
    assert_eq!(status, 200, "{code}");
    let mut body = pay_body(request_id, code["code"].as_str().unwrap(), "USD", "1000");
    body["order"]["merchant"]["referenceMerchantId"] = json!(merchant);
    let answer = device.h.call("pay", &body).await;
    assert_eq!(answer.code(), "SUCCESS", "{}", answer.raw);
    answer.body
}

#[tokio::test]
async fn two_merchants_see_and_arrange_only_their_own() {
    let h = Harness::start().await;
    let a = pair(&h, "shop-a", scoped("M-A", "buyer-a"));
    let b = pair(&h, "shop-b", scoped("M-B", "buyer-b"));
    for (device, account) in [(&a, "buyer-a"), (&b, "buyer-b")] {
        let (status, _) =
            device.post(&format!("/accounts/{account}/topup"), json!({"amount": "100.00 USD"})).await;
        assert_eq!(status, 200);
    }
    let paid_a = pay(&a, "buyer-a", "M-A", "tc-a-1").await;
    let paid_b = pay(&b, "buyer-b", "M-B", "tc-b-1").await;
    let pid_a = paid_a["paymentId"].as_str().unwrap();
    let pid_b = paid_b["paymentId"].as_str().unwrap();

    // Traffic: each sees its own pay only.
    let (_, seen_a) = a.get("/test-does-not-exist").await;
    assert_eq!(seen_a["code"], "NOT_FOUND");
    let (status, traffic_a) = a.get("/traffic?after=0").await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = traffic_a["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["paymentRequestId"].as_str())
        .collect();
    assert!(ids.contains(&"tc-a-1") && ids.iter().all(|id| *id == "tc-a-1"), "{ids:?}");
    assert!(traffic_a["mark"].as_i64().unwrap() >= 2);

    // Payments: own readable, another's forbidden, unknown not found.
    let (status, own) = a.get(&format!("/payments/{pid_a}")).await;
    assert_eq!((status, own["state"].as_str()), (200, Some("SUCCESS")));
    let (status, other) = a.get(&format!("/payments/{pid_b}")).await;
    assert_eq!((status, other["code"].as_str()), (403, Some("NOT_IN_SCOPE")));
    assert!(other["message"].as_str().unwrap().contains(pid_b));
    let (status, missing) = a.get("/payments/20990101000000000000000").await;
    assert_eq!((status, missing["code"].as_str()), (404, Some("NOT_FOUND")));
    let (status, aged) = a.post("/payments/age", json!({"paymentIds": [pid_b], "seconds": 60})).await;
    assert_eq!((status, aged["code"].as_str()), (403, Some("NOT_IN_SCOPE")));

    // Buyers: arranging another's is refused, naming the device's own.
    let (status, refused) = a.put("/accounts/buyer-b/scenario", json!({"scenario": "risk-reject"})).await;
    assert_eq!((status, refused["code"].as_str()), (403, Some("NOT_IN_SCOPE")));
    assert!(refused["message"].as_str().unwrap().contains("buyer-a"), "{refused}");
    let (status, bad) = a.put("/accounts/buyer-a/scenario", json!({"scenario": "sometimes"})).await;
    assert_eq!((status, bad["code"].as_str()), (400, Some("BAD_SCENARIO")));
    // The wallet a buyer pays as (a customs case's Alipay (CN) buyer): its own only, a known
    // persona only, and the previous one is handed back for the run to restore.
    let (status, refused) = a.put("/accounts/buyer-b/wallet", json!({"wallet": "ALIPAY_CN"})).await;
    assert_eq!((status, refused["code"].as_str()), (403, Some("NOT_IN_SCOPE")));
    let (status, bad) = a.put("/accounts/buyer-a/wallet", json!({"wallet": "NO_SUCH_WALLET"})).await;
    assert_eq!((status, bad["code"].as_str()), (400, Some("BAD_WALLET")));
    let (status, set) = a.put("/accounts/buyer-a/wallet", json!({"wallet": "ALIPAY_CN"})).await;
    assert_eq!(status, 200, "{set}");
    let previous = set["previous"].as_str().unwrap().to_owned();
    assert_eq!(set["wallet"], "ALIPAY_CN");
    let (_, back) = a.put("/accounts/buyer-a/wallet", json!({"wallet": previous})).await;
    assert_eq!(back["previous"], "ALIPAY_CN");

    // Rules: A's rule catches A's next pay, not B's, and B can neither see nor remove it.
    let (status, rule) =
        a.post("/mocks", json!({"api": "pay", "resultCode": "RISK_REJECT", "count": 5})).await;
    assert_eq!(status, 201, "{rule}");
    assert_eq!(rule["scope"]["account"], "buyer-a");
    let (_, listed_b) = b.get("/mocks").await;
    assert_eq!(listed_b, json!([]));
    let (status, _) = b.delete(&format!("/mocks/{}", rule["id"])).await;
    assert_eq!(status, 403);
    let (status, global) =
        b.post("/mocks", json!({"api": "pay", "resultCode": "RISK_REJECT", "scope": "global"})).await;
    assert_eq!((status, global["code"].as_str()), (403, Some("NOT_IN_SCOPE")));
    pay(&b, "buyer-b", "M-B", "tc-b-2").await;
    let (_, code) = a.post("/accounts/buyer-a/codes", json!({})).await;
    let mut body = pay_body("tc-a-2", code["code"].as_str().unwrap(), "USD", "1000");
    body["order"]["merchant"]["referenceMerchantId"] = json!("M-A");
    assert_eq!(h.call("pay", &body).await.code(), "RISK_REJECT");
    let (status, _) = a.delete(&format!("/mocks/{}", rule["id"])).await;
    assert_eq!(status, 204);

    // Bad input names what is wrong.
    let (status, garbage) = a.post("/mocks", json!({"api": "pay"})).await;
    assert_eq!((status, garbage["code"].as_str()), (400, Some("BAD_REQUEST")));
    let response = h
        .http
        .post(h.url("/app/v1/test/runs"))
        .header("authorization", &a.auth)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let (status, unauthorised) = Device { h: &h, auth: "Bearer nope".into() }.get("/scope").await;
    assert_eq!((status, unauthorised["code"].as_str()), (401, Some("UNAUTHORIZED")));
}

#[tokio::test]
async fn one_run_per_buyer_and_clock_jumps_only_while_nobody_else_runs() {
    let h = Harness::start().await;
    let a = pair(&h, "shop-a", scoped("M-A", "buyer-a"));
    let owner = pair(&h, "owner", DeviceScope { clock_control: true, ..DeviceScope::default() });

    let (status, run) = a.post("/runs", json!({})).await;
    assert_eq!(status, 201, "{run}");
    assert_eq!(run["account"], "buyer-a");
    let (status, again) = a.post("/runs", json!({"account": "buyer-a"})).await;
    assert_eq!((status, again["code"].as_str()), (409, Some("RUN_ACTIVE")));
    assert!(again["message"].as_str().unwrap().contains("buyer-a"), "{again}");
    let (status, _) = a.post("/runs", json!({"account": "buyer-1"})).await;
    assert_eq!(status, 403, "a run on another's buyer is refused");

    let (status, no_control) = a.post("/clock/advance", json!({"seconds": 60})).await;
    assert_eq!((status, no_control["code"].as_str()), (403, Some("NOT_IN_SCOPE")));
    let (status, shared) = owner.post("/clock/advance", json!({"seconds": 60})).await;
    assert_eq!((status, shared["code"].as_str()), (409, Some("CLOCK_SHARED")));

    let (status, _) = a.delete(&format!("/runs/{}", run["runId"])).await;
    assert_eq!(status, 204);
    let (status, _) = a.delete(&format!("/runs/{}", run["runId"])).await;
    assert_eq!(status, 404);
    let (status, jumped) = owner.post("/clock/advance", json!({"seconds": 3600})).await;
    assert_eq!(status, 200, "{jumped}");
    assert_eq!(jumped["offsetMs"], 3_600_000);
    let (status, too_far) = owner.post("/clock/advance", json!({"seconds": i64::MAX / 1000})).await;
    assert_eq!((status, too_far["code"].as_str()), (400, Some("CLOCK_OUT_OF_RANGE")));
    let (status, run) = a.post("/runs", json!({})).await;
    assert_eq!(status, 201, "{run}");
}

#[tokio::test]
async fn the_live_traffic_stream_carries_only_the_devices_own_entries() {
    let h = Harness::start().await;
    let a = pair(&h, "shop-a", scoped("M-A", "buyer-a"));
    let b = pair(&h, "shop-b", scoped("M-B", "buyer-b"));
    for (device, account) in [(&a, "buyer-a"), (&b, "buyer-b")] {
        device.post(&format!("/accounts/{account}/topup"), json!({"amount": "100.00 USD"})).await;
    }
    let mut stream = h
        .http
        .get(h.url("/app/v1/test/traffic/stream?after=0"))
        .header("authorization", &a.auth)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    pay(&b, "buyer-b", "M-B", "live-b").await;
    pay(&a, "buyer-a", "M-A", "live-a").await;
    let mut buffer = String::new();
    let event = loop {
        if let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data:")) {
                break serde_json::from_str::<Value>(data.trim()).unwrap();
            }
            continue;
        }
        let chunk = stream.chunk().await.unwrap().expect("stream open");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    };
    assert_eq!(event["paymentRequestId"], "live-a", "B's earlier pay is not in A's stream");
}
