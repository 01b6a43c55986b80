//! The dashboard's dispute API (`/dashboard/api/disputes`, alipayplus-api.md §13.3) against a real
//! sandbox on an ephemeral port, with the admin password set by the real binary: every route
//! needs the admin session; the TSP starts a retrieval and an escalation against a payment paid
//! over signed HTTP, lists, reads and closes them; each refusal is 422 naming its rule, and bad
//! bodies are 400 naming what is wrong.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::sync::Arc;

use plusbox_core::signing::{MessageParts, PrivateKey};
use plusbox_sandbox::{Clock, Sandbox, SandboxConfig, TestClock};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use time::macros::datetime;

const BIN: &str = env!("CARGO_BIN_EXE_plusbox");
const PASSWORD: &str = "correct horse battery staple";

struct Harness {
    sandbox: Sandbox,
    clock: TestClock,
    http: Client,
    base: String,
    cookie: String,
    _dir: tempfile::TempDir,
}

async fn start() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut child = Command::new(BIN)
        .args(["admin", "set-password", "--stdin", "--data"])
        .arg(&data)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    }
    assert!(child.wait().unwrap().success());
    let clock = TestClock::new(datetime!(2026-12-07 10:00:30 UTC));
    let config =
        SandboxConfig::new(&data, "127.0.0.1:0".parse().unwrap()).with_clock(Arc::new(clock.clone()));
    let sandbox = Sandbox::start(config).await.unwrap();
    let base = sandbox.base_url().to_owned();
    let http = Client::builder().timeout(std::time::Duration::from_secs(20)).build().unwrap();
    let login = http
        .post(format!("{base}/dashboard/api/login"))
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::NO_CONTENT);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    Harness { sandbox, clock, http, base, cookie, _dir: dir }
}

impl Harness {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&str>,
        login: bool,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}/dashboard/api/{path}", self.base));
        if login {
            request = request.header("cookie", &self.cookie);
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_owned());
        }
        let response = request.send().await.unwrap();
        (response.status(), response.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(&body.to_string()), true).await
    }

    /// A 10.00 USD payment of buyer-1 over signed HTTP; its paymentRequestId.
    async fn paid(&self, id: &str) -> String {
        let store = self.sandbox.store();
        let now = self.clock.now();
        let key = PrivateKey::generate().unwrap();
        store.set_acqp_key(&key.public_key().unwrap().to_base64(), 1, now).unwrap();
        store.topup("buyer-1", &"100.00 USD".parse().unwrap(), now).unwrap();
        let code = store.issue_code("buyer-1", now).unwrap().code;
        let app = store.app().unwrap();
        let body = json!({
            "paymentRequestId": id,
            "paymentAmount": {"currency": "USD", "value": "1000"},
            "paymentMethod": {"paymentMethodType": "CONNECT_WALLET", "paymentMethodId": code},
            "paymentFactor": {"isInStorePayment": "true", "inStorePaymentScenario": "PaymentCode"},
            "order": {"referenceOrderId": "o-1", "orderDescription": "Coffee", "orderAmount": {"currency": "USD", "value": "1000"},
                      "merchant": {"referenceMerchantId": "M0001", "merchantName": "Test Cafe", "store": {"referenceStoreId": "S0001", "storeName": "Main St"}}}
        })
        .to_string();
        let path = "/aps/api/v1/payments/pay";
        let time = plusbox_core::protocol::time::format_instant(now);
        let parts = MessageParts {
            method: "POST",
            uri: path,
            client_id: &app.client_id,
            time: &time,
            body: body.as_bytes(),
        };
        let answer: Value = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json; charset=UTF-8")
            .header("client-id", &app.client_id)
            .header("request-time", &time)
            .header("signature", key.sign_message(&parts, Some(1)).unwrap())
            .body(body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["result"]["resultCode"], "SUCCESS", "{answer}");
        id.to_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tsp_starts_lists_reads_and_closes_disputes_under_the_admin_session() {
    let h = start().await;
    for (method, path) in [
        (reqwest::Method::GET, "disputes"),
        (reqwest::Method::POST, "disputes"),
        (reqwest::Method::GET, "disputes/x"),
        (reqwest::Method::POST, "disputes/x/close"),
    ] {
        let (status, body) = h.call(method, path, Some("{}"), false).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("LOGIN_REQUIRED")),
            "{path}"
        );
    }
    let prid = h.paid("p-dash-1").await;
    let store = h.sandbox.store();
    // The ACQP's dispute endpoint is down: the dispute is recorded and its call retried.
    store.set_dispute_url(store.app().unwrap().id, Some("http://127.0.0.1:9")).unwrap();

    let (status, opened) = h.post("disputes", &json!({"kind": "retrieval", "payment": prid})).await;
    assert_eq!(status, StatusCode::CREATED, "{opened}");
    assert_eq!((opened["kind"].as_str(), opened["status"].as_str()), (Some("RETRIEVAL"), Some("OPEN")));
    let id = opened["disputeRequestId"].as_str().unwrap().to_owned();

    let (status, refused) = h.post("disputes", &json!({"kind": "retrieval", "payment": prid})).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("RETRIEVAL_OPEN"))
    );
    assert!(
        refused["message"].as_str().unwrap().contains("one retrieval may be open at a time"),
        "{refused}"
    );
    let (status, refused) =
        h.post("disputes", &json!({"kind": "escalation", "payment": prid, "amount": "10.01 USD"})).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("ESCALATION_AMOUNT_EXCEEDED"))
    );
    let (status, escalated) = h
        .post(
            "disputes",
            &json!({"kind": "escalation", "payment": prid, "amount": "4.00 USD", "reason": "DUPLICATE"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{escalated}");
    assert_eq!(escalated["amount"], json!({"currency": "USD", "value": "400"}));
    assert_eq!(escalated["reasonCode"], "DUPLICATE");

    for (body, named) in [
        ("{", "the body is not"),
        (r#"{"kind": "chargeback", "payment": "p"}"#, "kind"),
        (r#"{"kind": "retrieval"}"#, "payment"),
        (r#"{"kind": "escalation", "payment": "p", "amount": "lots"}"#, "amount"),
        (r#"{"kind": "retrieval", "payment": "p", "extra": 1}"#, "extra"),
    ] {
        let (status, error) = h.call(reqwest::Method::POST, "disputes", Some(body), true).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("INVALID_ARGUMENT")),
            "{body}"
        );
        assert!(error["message"].as_str().unwrap().contains(named), "{body}: {error}");
    }

    let (status, listed) = h.call(reqwest::Method::GET, "disputes", None, true).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["disputes"].as_array().unwrap().len(), 2, "refusals are not recorded: {listed}");
    let (status, shown) = h.call(reqwest::Method::GET, &format!("disputes/{id}"), None, true).await;
    assert_eq!((status, shown["paymentRequestId"].as_str()), (StatusCode::OK, Some(prid.as_str())));
    let (status, _) = h.call(reqwest::Method::GET, "disputes/20261207000000000000000", None, true).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, closed) = h.post(&format!("disputes/{id}/close"), &json!({})).await;
    assert_eq!((status, closed["status"].as_str()), (StatusCode::OK, Some("CLOSED")), "{closed}");
    let (status, again) = h.post(&format!("disputes/{id}/close"), &json!({})).await;
    assert_eq!(
        (status, again["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("DISPUTE_NOT_OPEN"))
    );
    // Closed, the retrieval no longer blocks the next one.
    let (status, _) = h.post("disputes", &json!({"kind": "retrieval", "payment": prid})).await;
    assert_eq!(status, StatusCode::CREATED);
    h.sandbox.shutdown().await;
}
