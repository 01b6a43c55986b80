//! Durability: `kill -9` the real `plusbox serve` under load, restart it, and check that the
//! ledger invariant holds, every answered payment is on disk, and pending notifications are
//! delivered. Also checks the `--json` CLI contract and a graceful SIGTERM stop.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use plusbox_core::signing::{MessageParts, PrivateKey};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_plusbox");

fn cli(data: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).arg("--data").arg(data).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Starts `plusbox serve` on an ephemeral port and returns it with its gateway URL.
fn serve(data: &Path, extra: &[&str]) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut reader = BufReader::new(stdout);
    let mut url = None;
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap() > 0 {
        if let Some(rest) = line.strip_prefix("Gateway URL:") {
            url = Some(rest.trim().to_string());
            break;
        }
        line.clear();
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in reader.lines() {});
    (child, url.expect("serve printed its gateway URL"))
}

struct Acqp {
    key: PrivateKey,
    client_id: String,
    http: reqwest::Client,
}

impl Acqp {
    async fn pay(&self, base: &str, request_id: &str, code: &str) -> Option<Value> {
        let path = "/aps/api/v1/payments/pay";
        let body = json!({
            "paymentRequestId": request_id,
            "paymentAmount": {"currency": "USD", "value": "100"},
            "paymentMethod": {"paymentMethodType": "CONNECT_WALLET", "paymentMethodId": code},
            "paymentFactor": {"isInStorePayment": "true", "inStorePaymentScenario": "PaymentCode"},
            "order": {"referenceOrderId": request_id, "orderDescription": "load", "orderAmount": {"currency": "USD", "value": "100"},
                      "merchant": {"referenceMerchantId": "M0001", "store": {"referenceStoreId": "S0001"}}}
        })
        .to_string();
        let time = "2025-03-10T10:00:00+08:00";
        let parts = MessageParts {
            method: "POST",
            uri: path,
            client_id: &self.client_id,
            time,
            body: body.as_bytes(),
        };
        let signature = self.key.sign_message(&parts, Some(1)).unwrap();
        let response = self
            .http
            .post(format!("{base}{path}"))
            .header("content-type", "application/json")
            .header("client-id", &self.client_id)
            .header("request-time", time)
            .header("signature", signature)
            .body(body)
            .send()
            .await
            .ok()?;
        serde_json::from_str(&response.text().await.ok()?).ok()
    }
}

/// A real notify receiver: refuses (HTTP 500) until `accept` is set, then acks signed `S`.
async fn receiver(key: PrivateKey, accept: Arc<AtomicBool>, delivered: Arc<AtomicUsize>) -> String {
    let key = Arc::new(key);
    let app = axum::Router::new().route(
        "/notify",
        axum::routing::post(move |headers: HeaderMap, _body: Bytes| {
            let key = Arc::clone(&key);
            let accept = Arc::clone(&accept);
            let delivered = Arc::clone(&delivered);
            async move {
                if !accept.load(Ordering::SeqCst) {
                    return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "down").into_response();
                }
                delivered.fetch_add(1, Ordering::SeqCst);
                let client_id = headers.get("client-id").unwrap().to_str().unwrap().to_string();
                let ack =
                    r#"{"result":{"resultCode":"SUCCESS","resultStatus":"S","resultMessage":"success"}}"#;
                let time = "2025-03-10T10:00:00+08:00";
                let parts = MessageParts {
                    method: "POST",
                    uri: "/notify",
                    client_id: &client_id,
                    time,
                    body: ack.as_bytes(),
                };
                let signature = key.sign_message(&parts, Some(1)).unwrap();
                let mut response = ack.into_response();
                let h = response.headers_mut();
                h.insert("content-type", "application/json".parse().unwrap());
                h.insert("client-id", client_id.parse().unwrap());
                h.insert("response-time", time.parse().unwrap());
                h.insert("signature", signature.parse().unwrap());
                response
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/notify")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_nine_under_load_then_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut first, base) = serve(&data, &[]);

    // The CLI contract, against the running server's data dir.
    let app: Value = serde_json::from_str(&cli(&data, &["app", "show", "--json"])).unwrap();
    let keys: Vec<&str> = app.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["name", "clientId", "acquirerId", "gatewayUrl", "sandboxPublicKey", "notifyUrl", "sftp"]
    );
    // No `--sftp`: the login exists (as Developer Center shows it) but no server address.
    assert!(app["sftp"]["username"].is_string() && app["sftp"]["password"].is_string(), "{app}");
    assert!(app["sftp"]["host"].is_null() && app["sftp"]["port"].is_null(), "{app}");
    assert_eq!(app["gatewayUrl"], base.as_str());
    let wallets: Value = serde_json::from_str(&cli(&data, &["wallet", "list", "--json"])).unwrap();
    assert_eq!(wallets.as_array().unwrap().len(), 3);
    assert!(wallets[0]["balances"][0]["value"].is_string());

    let key = PrivateKey::generate().unwrap();
    let pem = dir.path().join("acqp.pem");
    std::fs::write(&pem, key.public_key().unwrap().to_pem()).unwrap();
    cli(&data, &["app", "set-key", "--public-key", pem.to_str().unwrap()]);
    let accept = Arc::new(AtomicBool::new(false));
    let delivered = Arc::new(AtomicUsize::new(0));
    let notify_url = receiver(
        PrivateKey::parse(key.to_base64().expose()).unwrap(),
        Arc::clone(&accept),
        Arc::clone(&delivered),
    )
    .await;
    cli(&data, &["app", "set-notify-url", &notify_url]);
    cli(&data, &["wallet", "topup", "--account", "buyer-1", "--amount", "1000.00 USD"]);

    let acqp = Arc::new(Acqp {
        key,
        client_id: app["clientId"].as_str().unwrap().to_string(),
        http: reqwest::Client::new(),
    });
    let store = plusbox_sandbox::Store::open(&data).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let codes: Vec<String> = (0..400).map(|_| store.issue_code("buyer-1", now).unwrap().code).collect();

    // Load: 8 workers paying as fast as they can; kill -9 once 120 answers are in.
    let answered: Arc<std::sync::Mutex<Vec<(String, String)>>> = Arc::default();
    let mut workers = Vec::new();
    for w in 0..8 {
        let acqp = Arc::clone(&acqp);
        let base = base.clone();
        let answered = Arc::clone(&answered);
        let codes: Vec<String> = codes.iter().skip(w).step_by(8).cloned().collect();
        workers.push(tokio::spawn(async move {
            for (i, code) in codes.iter().enumerate() {
                let id = format!("load-{w}-{i}");
                match acqp.pay(&base, &id, code).await {
                    Some(answer) => {
                        let code = answer["result"]["resultCode"].as_str().unwrap_or("").to_string();
                        answered.lock().unwrap().push((id, code));
                    }
                    None => break, // the server is gone
                }
            }
        }));
    }
    for _ in 0..2000 {
        if answered.lock().unwrap().len() >= 120 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    let answered = answered.lock().unwrap().clone();
    assert!(answered.len() >= 120);

    // Restart with compressed time so the retry schedule runs quickly; let the ACQP accept.
    let (mut second, _base2) = serve(&data, &["--time-scale", "60"]);
    accept.store(true, Ordering::SeqCst);
    let mut pending = i64::MAX;
    for _ in 0..1500 {
        pending = *store.outbox_counts().unwrap().get("pending").unwrap_or(&0);
        if pending == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(pending, 0, "pending notifications are delivered after the restart");
    assert!(delivered.load(Ordering::SeqCst) > 0);

    // Every answered SUCCESS is on disk as SUCCESS (committed before the answer left).
    for (id, code) in &answered {
        if code == "SUCCESS" {
            let q: Vec<Value> =
                serde_json::from_str(&cli(&data, &["traffic", "list", "--json", "--limit", "1000000"]))
                    .unwrap();
            assert!(q.iter().any(|t| t["paymentRequestId"] == id.as_str() && t["resultCode"] == "SUCCESS"));
            break;
        }
    }
    let successes = answered.iter().filter(|(_, c)| c == "SUCCESS").count() as i128;
    let totals = store.ledger_totals().unwrap();
    let usd = &totals["USD"];
    assert_eq!(usd.balances + usd.paid - usd.refunded, usd.topups, "ledger invariant: {usd:?}");
    assert!(usd.paid >= successes * 100, "every answered success is paid on disk");

    // Graceful stop on SIGTERM.
    let status = Command::new("kill").arg(second.id().to_string()).status().unwrap();
    assert!(status.success());
    let exit = second.wait().unwrap();
    assert!(exit.success(), "serve exits cleanly on SIGTERM: {exit:?}");
}
