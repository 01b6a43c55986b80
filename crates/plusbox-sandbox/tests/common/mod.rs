//! Shared test harness: a sandbox on an ephemeral port with a test clock, a signing ACQP client,
//! and a real notify receiver that verifies notifications and signs its acknowledgements.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::type_complexity, dead_code)]

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use plusbox_core::signing::{MessageParts, PrivateKey, PublicKey};
use plusbox_sandbox::{Sandbox, SandboxConfig, TestClock};
use serde_json::{json, Value};
use time::macros::datetime;

pub struct Harness {
    pub sandbox: Sandbox,
    pub clock: TestClock,
    pub acqp_key: PrivateKey,
    pub client_id: String,
    pub http: reqwest::Client,
    pub sandbox_public: PublicKey,
    _dir: tempfile::TempDir,
}

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub raw: String,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["result"]["resultCode"].as_str().unwrap_or("")
    }
    pub fn status_letter(&self) -> &str {
        self.body["result"]["resultStatus"].as_str().unwrap_or("")
    }
}

/// A start time far from midnight UTC+8 so the cancel window does not interfere.
pub fn start_time() -> time::OffsetDateTime {
    datetime!(2025-03-10 10:00 +08:00)
}

impl Harness {
    pub async fn start() -> Harness {
        Self::start_with(|c| c).await
    }

    pub async fn start_with(tweak: impl FnOnce(SandboxConfig) -> SandboxConfig) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let clock = TestClock::new(start_time());
        let config = SandboxConfig::new(dir.path(), "127.0.0.1:0".parse().unwrap())
            .with_clock(Arc::new(clock.clone()));
        let sandbox = Sandbox::start(tweak(config)).await.unwrap();
        let store = sandbox.store();
        let acqp_key = PrivateKey::generate().unwrap();
        let public = acqp_key.public_key().unwrap().to_base64();
        let now = start_time();
        store.set_acqp_key(&public, 1, now).unwrap();
        let app = store.app().unwrap();
        let sandbox_public = app.private_key().unwrap().public_key().unwrap();
        Harness {
            client_id: app.client_id.clone(),
            sandbox,
            clock,
            acqp_key,
            http: reqwest::Client::new(),
            sandbox_public,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.sandbox.base_url(), path)
    }

    /// Signed POST to an Alipay+ API; verifies the response signature.
    pub async fn call(&self, api: &str, body: &Value) -> Answer {
        self.call_raw(&format!("/aps/api/v1/payments/{api}"), body.to_string().into_bytes(), |h| h).await
    }

    pub async fn call_raw(
        &self,
        path: &str,
        body: Vec<u8>,
        tweak: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Answer {
        let response = self.send_signed(path, body, tweak).await;
        self.read(path, response).await
    }

    /// A signed call whose answer's signature is reported, not required (for tamper rules).
    pub async fn call_unchecked(&self, api: &str, body: &Value) -> (Answer, bool) {
        let path = format!("/aps/api/v1/payments/{api}");
        let response = self.send_signed(&path, body.to_string().into_bytes(), |r| r).await;
        self.read_unchecked(&path, response).await
    }

    async fn send_signed(
        &self,
        path: &str,
        body: Vec<u8>,
        tweak: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> reqwest::Response {
        let time = plusbox_core::protocol::time::format_instant(self.clock_now());
        let parts =
            MessageParts { method: "POST", uri: path, client_id: &self.client_id, time: &time, body: &body };
        let signature = self.acqp_key.sign_message(&parts, Some(1)).unwrap();
        let request = self
            .http
            .post(self.url(path))
            .header("content-type", "application/json; charset=UTF-8")
            .header("client-id", &self.client_id)
            .header("request-time", &time)
            .header("signature", signature)
            .body(body);
        tweak(request).send().await.unwrap()
    }

    /// POST with the usual signed headers, some replaced (`None` removes a header).
    pub async fn post_with(&self, path: &str, body: &[u8], overrides: &[(&str, Option<&str>)]) -> Answer {
        let time = plusbox_core::protocol::time::format_instant(self.clock_now());
        let parts = MessageParts { method: "POST", uri: path, client_id: &self.client_id, time: &time, body };
        let signature = self.acqp_key.sign_message(&parts, Some(1)).unwrap();
        let mut headers: Vec<(String, String)> = vec![
            ("content-type".into(), "application/json; charset=UTF-8".into()),
            ("client-id".into(), self.client_id.clone()),
            ("request-time".into(), time),
            ("signature".into(), signature),
        ];
        for (name, value) in overrides {
            headers.retain(|(n, _)| n != name);
            if let Some(value) = value {
                headers.push((name.to_string(), value.to_string()));
            }
        }
        let mut request = self.http.post(self.url(path)).body(body.to_vec());
        for (n, v) in headers {
            request = request.header(n, v);
        }
        let response = request.send().await.unwrap();
        self.read(path, response).await
    }

    pub async fn read(&self, path: &str, response: reqwest::Response) -> Answer {
        let (answer, verified) = self.read_unchecked(path, response).await;
        // Every answer is signed by the sandbox key over the exact bytes.
        assert!(verified, "response signature verifies: {}", answer.raw);
        answer
    }

    /// Reads an answer and says whether its signature verifies, without insisting that it does
    /// (for tamper rules).
    pub async fn read_unchecked(&self, path: &str, response: reqwest::Response) -> (Answer, bool) {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let raw = response.text().await.unwrap();
        let client_id = headers["client-id"].to_str().unwrap();
        let time = headers["response-time"].to_str().unwrap();
        let parts = MessageParts { method: "POST", uri: path, client_id, time, body: raw.as_bytes() };
        let verified =
            self.sandbox_public.verify_message(headers["signature"].to_str().unwrap(), &parts).is_ok();
        let body = serde_json::from_str(&raw).unwrap();
        (Answer { status, headers, body, raw }, verified)
    }

    pub fn clock_now(&self) -> time::OffsetDateTime {
        use plusbox_sandbox::Clock;
        self.clock.now()
    }

    /// Advances the test clock and wakes the worker.
    pub fn advance(&self, seconds: i64) {
        self.clock.advance(time::Duration::seconds(seconds));
        self.sandbox.poke();
    }

    pub fn code(&self, account: &str) -> String {
        self.sandbox.store().issue_code(account, self.clock_now()).unwrap().code
    }

    pub fn balance(&self, account: &str, currency: &str) -> i64 {
        let account = self.sandbox.store().account(account).unwrap();
        account
            .balances
            .iter()
            .find(|b| b.currency == currency)
            .map(|b| b.value.parse().unwrap())
            .unwrap_or(0)
    }

    pub fn traffic(&self) -> Vec<plusbox_sandbox::store::TrafficView> {
        self.sandbox.store().traffic(0, 10_000).unwrap()
    }
}

pub fn pay_body(request_id: &str, code: &str, currency: &str, value: &str) -> Value {
    json!({
        "paymentRequestId": request_id,
        "paymentAmount": {"currency": currency, "value": value},
        "paymentMethod": {"paymentMethodType": "CONNECT_WALLET", "paymentMethodId": code},
        "paymentFactor": {"isInStorePayment": "true", "inStorePaymentScenario": "PaymentCode"},
        "order": {
            "referenceOrderId": format!("order-{request_id}"),
            "orderDescription": "Coffee",
            "orderAmount": {"currency": currency, "value": value},
            "merchant": {"referenceMerchantId": "M0001", "merchantName": "Test Cafe", "store": {"referenceStoreId": "S0001", "storeName": "Main St"}},
            "env": {"storeTerminalId": "T01", "storeTerminalRequestTime": "2025-03-10T10:00:00+08:00"}
        }
    })
}

/// A real notify receiver: verifies each notification with the sandbox public key and answers with
/// an acknowledgement signed by the ACQP key (or a configured misbehaviour).
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub received: Arc<Mutex<Vec<(Value, bool)>>>,
    pub mode: Arc<Mutex<AckMode>>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AckMode {
    Signed,
    Unsigned,
    Failure,
}

pub async fn receiver(harness: &Harness) -> Receiver {
    let received: Arc<Mutex<Vec<(Value, bool)>>> = Arc::default();
    let mode = Arc::new(Mutex::new(AckMode::Signed));
    let key = PrivateKey::parse(harness.acqp_key.to_base64().expose()).unwrap();
    let verify_key = harness.sandbox_public.clone();
    let state = (Arc::clone(&received), Arc::clone(&mode), Arc::new(key), verify_key);
    let app = axum::Router::new()
        .route(
            "/notify",
            axum::routing::post(
                |axum::extract::State((received, mode, key, verify_key)): axum::extract::State<(
                    Arc<Mutex<Vec<(Value, bool)>>>,
                    Arc<Mutex<AckMode>>,
                    Arc<PrivateKey>,
                    PublicKey,
                )>,
                 headers: HeaderMap,
                 body: Bytes| async move {
                    let h = |n: &str| headers.get(n).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
                    let client_id = h("client-id");
                    let parts = MessageParts { method: "POST", uri: "/notify", client_id: &client_id, time: &h("request-time"), body: &body };
                    let verified = verify_key.verify_message(&h("signature"), &parts).is_ok();
                    received.lock().unwrap().push((serde_json::from_slice(&body).unwrap(), verified));
                    let mode = *mode.lock().unwrap();
                    let ack = if mode == AckMode::Failure {
                        json!({"result": {"resultCode": "PROCESS_FAIL", "resultStatus": "F", "resultMessage": "no"}})
                    } else {
                        json!({"result": {"resultCode": "SUCCESS", "resultStatus": "S", "resultMessage": "success"}})
                    }
                    .to_string();
                    let time = "2025-03-10T10:00:00+08:00".to_string();
                    let mut response = (StatusCode::OK, ack.clone()).into_response();
                    let hs = response.headers_mut();
                    hs.insert("content-type", "application/json".parse().unwrap());
                    hs.insert("client-id", client_id.parse().unwrap());
                    hs.insert("response-time", time.parse().unwrap());
                    if mode != AckMode::Unsigned {
                        let parts = MessageParts { method: "POST", uri: "/notify", client_id: &client_id, time: &time, body: ack.as_bytes() };
                        hs.insert("signature", key.sign_message(&parts, Some(1)).unwrap().parse().unwrap());
                    }
                    response
                },
            ),
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { url: format!("http://{addr}/notify"), received, mode }
}

impl Receiver {
    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    /// Waits (bounded, by polling; the delivery itself is immediate) for `n` notifications.
    pub async fn wait_for(&self, n: usize) -> Vec<(Value, bool)> {
        for _ in 0..400 {
            if self.count() >= n {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        self.received.lock().unwrap().clone()
    }
}

/// Waits (bounded) until `check` holds, polling the store.
pub async fn eventually(mut check: impl FnMut() -> bool) -> bool {
    for _ in 0..400 {
        if check() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    false
}
