//! Issue 9, over HTTP against a real sandbox: money that would overflow, out-of-range clock jumps,
//! notification signatures over the path actually sent, slow clients and the connection cap,
//! the companion API's error shape, unreadable bodies, masked credentials, duplicate JSON keys,
//! routes added beside the sandbox's own and the data directory's mode.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use common::*;
use plusbox_core::money::{Amount, Currency};
use plusbox_core::signing::{MessageParts, PrivateKey};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn device(h: &Harness) -> String {
    let token = h.sandbox.store().create_device("phone", h.clock_now()).unwrap();
    format!("Bearer {}", token.expose())
}

async fn app_call(
    h: &Harness,
    method: reqwest::Method,
    path: &str,
    auth: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = h.http.request(method, h.url(&format!("/app/v1{path}"))).header("authorization", auth);
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text:?}")))
}

/// Sends raw bytes and reads the whole answer (the server closes after it, or on an error).
async fn raw(h: &Harness, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(h.sandbox.local_addr()).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn body_of(response: &str) -> Value {
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
    // A chunked answer: take the JSON between the first `{` and the last `}`.
    let (start, end) = (body.find('{').unwrap_or(0), body.rfind('}').map(|i| i + 1).unwrap_or(0));
    serde_json::from_str(&body[start..end]).unwrap_or_else(|_| panic!("no JSON in {response:?}"))
}

#[tokio::test]
async fn a_credit_that_would_overflow_a_balance_is_refused_and_the_store_stays_readable() {
    let h = Harness::start().await;
    let auth = device(&h);
    let pay = h.call("pay", &pay_body("p-1", &h.code("buyer-1"), "USD", "10000")).await;
    assert_eq!(pay.code(), "SUCCESS");

    // A top-up that overflows by itself: a clear 400, not a 503.
    let (status, body) = app_call(
        &h,
        reqwest::Method::POST,
        "/accounts/buyer-1/topup",
        &auth,
        Some(json!({"amount": "92233720368547758.07 USD"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "AMOUNT_TOO_LARGE");
    assert!(body["message"].as_str().unwrap().contains("largest balance"), "{body}");

    // Top up to just under the limit: then a full refund of the pay cannot be credited.
    let balance = h.balance("buyer-1", "USD");
    let room = i64::MAX - balance - 5_000;
    h.sandbox.store().topup("buyer-1", &Amount::from_minor(Currency::USD, room), h.clock_now()).unwrap();
    let refund = h
        .call(
            "refund",
            &json!({"paymentRequestId": "p-1", "refundRequestId": "r-1", "refundAmount": {"currency": "USD", "value": "10000"}}),
        )
        .await;
    assert_eq!(refund.code(), "PROCESS_FAIL", "{}", refund.raw);
    assert!(refund.raw.contains("cannot be credited"), "{}", refund.raw);
    // Cancel gives the money back too: refused the same way, the payment stays paid.
    let cancel = h.call("cancelPayment", &json!({"paymentRequestId": "p-1"})).await;
    assert_eq!(cancel.code(), "PROCESS_FAIL", "{}", cancel.raw);
    assert_eq!(h.balance("buyer-1", "USD"), i64::MAX - 5_000);

    // Every account still reads, over HTTP and in the store; the ledger adds up.
    let (status, accounts) = app_call(&h, reqwest::Method::GET, "/accounts", &auth, None).await;
    assert_eq!(status, 200, "{accounts}");
    let totals = h.sandbox.store().ledger_totals().unwrap();
    let usd = &totals["USD"];
    assert_eq!(usd.balances + usd.paid - usd.refunded, usd.topups);
}

#[tokio::test]
async fn the_schema_refuses_money_that_is_not_an_integer() {
    let h = Harness::start().await;
    let conn = rusqlite::Connection::open(h.sandbox.store().path()).unwrap();
    for sql in [
        "UPDATE balance SET value = 9.3e18 WHERE account_id = 'buyer-1' AND currency = 'USD'",
        "UPDATE balance SET value = value + 9223372036854775807 WHERE account_id = 'buyer-1' AND currency = 'USD'",
        "INSERT INTO ledger (account_id, currency, delta, kind, at) VALUES ('buyer-1', 'USD', 1.5, 'topup', 0)",
    ] {
        let error = conn.execute(sql, []).unwrap_err().to_string();
        assert!(error.contains("integer"), "{sql}: {error}");
    }
    assert!(h.sandbox.store().accounts().is_ok());
}

#[tokio::test]
async fn an_out_of_range_clock_jump_is_refused_and_a_stored_one_cannot_break_the_server() {
    let h = Harness::start().await;
    let receiver = receiver(&h).await;
    h.sandbox.store().set_notify_url(Some(&receiver.url)).unwrap();
    let store = h.sandbox.store();
    let error = store.advance_clock(time::Duration::hours(999_999_999)).unwrap_err();
    assert!(matches!(error, plusbox_sandbox::StoreError::OutOfRange(_)), "{error}");
    assert!(error.to_string().contains("at most 36525 days"), "{error}");
    assert_eq!(store.clock_offset().unwrap(), time::Duration::ZERO, "nothing was saved");

    // An offset an older build saved: read as the bound, so requests still get signed answers.
    let conn = rusqlite::Connection::open(store.path()).unwrap();
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('clock_offset_ms', '3599999996400000')",
        [],
    )
    .unwrap();
    assert_eq!(store.clock_offset().unwrap(), plusbox_sandbox::store::MAX_CLOCK_OFFSET);
    let pay = h.call("pay", &pay_body("p-far", &h.code("buyer-1"), "USD", "100")).await;
    assert!(!pay.code().is_empty(), "a signed answer: {}", pay.raw);

    // Back to now: pays are notified again (the background worker is alive).
    store.reset_clock().unwrap();
    h.sandbox.poke();
    let pay = h.call("pay", &pay_body("p-after", &h.code("buyer-1"), "USD", "100")).await;
    assert_eq!(pay.code(), "SUCCESS");
    let received = receiver.wait_for(1).await;
    assert!(received.iter().any(|(body, verified)| body["paymentRequestId"] == "p-after" && *verified));
}

/// Request-targets received, each with whether its signature verified.
type Seen = Arc<Mutex<Vec<(String, bool)>>>;

/// A notify receiver that verifies the signature over the request-target it actually received.
async fn exact_receiver(h: &Harness) -> (std::net::SocketAddr, Seen) {
    let seen: Seen = Arc::default();
    let key = Arc::new(PrivateKey::parse(h.acqp_key.to_base64().expose()).unwrap());
    let verify = h.sandbox_public.clone();
    let state = (Arc::clone(&seen), key, verify);
    let app = axum::Router::new()
        .fallback(
            |axum::extract::State((seen, key, verify)): axum::extract::State<(
                Seen,
                Arc<PrivateKey>,
                plusbox_core::signing::PublicKey,
            )>,
             uri: Uri,
             headers: HeaderMap,
             body: Bytes| async move {
                let target = uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
                let h = |n: &str| headers.get(n).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
                let client_id = h("client-id");
                let parts = MessageParts { method: "POST", uri: &target, client_id: &client_id, time: &h("request-time"), body: &body };
                let verified = verify.verify_message(&h("signature"), &parts).is_ok();
                seen.lock().unwrap().push((target.clone(), verified));
                let ack = json!({"result": {"resultCode": "SUCCESS", "resultStatus": "S", "resultMessage": "success"}}).to_string();
                let time = "2025-03-10T10:00:00+08:00";
                let parts = MessageParts { method: "POST", uri: &target, client_id: &client_id, time, body: ack.as_bytes() };
                let mut response = (StatusCode::OK, ack.clone()).into_response();
                let hs = response.headers_mut();
                hs.insert("content-type", "application/json".parse().unwrap());
                hs.insert("client-id", client_id.parse().unwrap());
                hs.insert("response-time", time.parse().unwrap());
                hs.insert("signature", key.sign_message(&parts, Some(1)).unwrap().parse().unwrap());
                response
            },
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

#[tokio::test]
async fn notifications_are_signed_over_exactly_the_path_and_query_sent() {
    let h = Harness::start().await;
    let (addr, seen) = exact_receiver(&h).await;
    let store = h.sandbox.store();
    let cases = [
        (format!("http://{addr}?via=q"), "/?via=q"),
        (format!("http://{addr}/a/../notify"), "/notify"),
        (format!("http://{addr}/nötify?x=ä"), "/n%C3%B6tify?x=%C3%A4"),
        (format!("http://{addr}/notify#fragment"), "/notify"),
    ];
    for (i, (url, expected)) in cases.iter().enumerate() {
        store.set_notify_url(Some(url)).unwrap();
        let id = format!("p-url-{i}");
        assert_eq!(h.call("pay", &pay_body(&id, &h.code("buyer-1"), "USD", "100")).await.code(), "SUCCESS");
        assert!(eventually(|| seen.lock().unwrap().len() > i).await, "{url} was notified");
        let (target, verified) = seen.lock().unwrap()[i].clone();
        assert_eq!(&target, expected, "{url}");
        assert!(verified, "{url}: the signature covers {target}");
        let payment = store
            .traffic(0, 1000)
            .unwrap()
            .into_iter()
            .find(|t| t.payment_request_id.as_deref() == Some(&id) && t.api == "pay")
            .unwrap();
        let payment_id = payment.payment_id.unwrap();
        assert!(
            eventually(|| store
                .notification_status(&payment_id)
                .unwrap()
                .is_some_and(|(s, _)| s == "delivered"))
            .await,
            "{url}: the signed acknowledgement is accepted"
        );
    }
    assert!(store.set_notify_url(Some("http://h/a b")).is_err(), "whitespace is refused, not dropped");
    assert!(store.set_notify_url(Some("http://h/a\u{1b}b")).is_err());
}

#[tokio::test]
async fn slow_and_silent_clients_are_closed_and_the_connection_cap_holds() {
    let h = Harness::start_with(|mut c| {
        c.header_timeout = Duration::from_millis(600);
        c.idle_timeout = Duration::from_secs(2);
        c.max_connections = 4;
        c
    })
    .await;
    let addr = h.sandbox.local_addr();
    // Three clients sending headers a byte at a time, one that never sends anything.
    let mut slow = Vec::new();
    for i in 0..4 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        if i < 3 {
            stream.write_all(b"POST /aps/api/v1/payments/pay HTTP/1.1\r\nHo").await.unwrap();
        }
        slow.push(stream);
    }
    let drip = tokio::spawn(async move {
        let mut closed = Vec::new();
        for mut stream in slow {
            let mut buf = [0u8; 256];
            let started = Instant::now();
            // Keep dripping; the server must close the connection (EOF or reset).
            let mut open = true;
            while open && started.elapsed() < Duration::from_secs(60) {
                let _ = stream.write_all(b"s").await;
                match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => open = false,
                    Ok(Ok(_)) => {} // e.g. a 408 answer before the close
                    Err(_) => {}
                }
            }
            closed.push((!open, Instant::now()));
        }
        closed
    });
    // A fifth, well-formed client: served, but only once a slot is free.
    let fifth = tokio::spawn(async move {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut out)).await.unwrap().unwrap();
        (String::from_utf8(out).unwrap(), Instant::now())
    });
    let closed = drip.await.unwrap();
    let (answer, answered_at) = fifth.await.unwrap();
    assert!(closed.iter().all(|(c, _)| *c), "every slow or silent client was closed");
    assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok"), "{answer}");
    let first_close = closed.iter().map(|(_, at)| *at).min().unwrap();
    assert!(answered_at >= first_close, "the fifth connection waited for a free slot");
    // Afterwards the server is healthy.
    assert_eq!(h.http.get(h.url("/healthz")).send().await.unwrap().text().await.unwrap(), "ok");
}

#[tokio::test]
async fn companion_api_errors_are_json_including_405_413_and_broken_bodies() {
    let h = Harness::start().await;
    let auth = device(&h);
    let (status, body) = app_call(&h, reqwest::Method::PUT, "/accounts", &auth, None).await;
    assert_eq!(status, 405);
    assert_eq!(body["code"], "METHOD_NOT_ALLOWED");
    assert!(!body["message"].as_str().unwrap().is_empty());

    let big = vec![b'x'; 3 * 1024 * 1024];
    let response = h
        .http
        .post(h.url("/app/v1/accounts/buyer-1/topup"))
        .header("authorization", &auth)
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(body["code"], "BODY_TOO_LARGE");

    let request = format!(
        "POST /app/v1/accounts/buyer-1/topup HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nZZ\r\nxx\r\n0\r\n\r\n"
    );
    let answer = raw(&h, request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let body = body_of(&answer);
    assert_eq!(body["code"], "BAD_REQUEST");
    assert!(!body["message"].as_str().unwrap().contains("larger than"), "{body}");
}

#[tokio::test]
async fn a_broken_body_on_the_alipay_api_names_the_problem_not_the_size() {
    let h = Harness::start().await;
    let head = format!(
        "POST /aps/api/v1/payments/pay HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nClient-Id: {}\r\nConnection: close\r\n",
        h.client_id
    );
    let chunked = format!("{head}Transfer-Encoding: chunked\r\n\r\nZZ\r\n{{}}\r\n0\r\n\r\n");
    let answer = raw(&h, chunked.as_bytes()).await;
    let body = body_of(&answer);
    assert_eq!(body["result"]["resultCode"], "PARAM_ILLEGAL", "{answer}");
    let message = body["result"]["resultMessage"].as_str().unwrap();
    assert!(message.contains("could not be read") && !message.contains("larger than"), "{message}");

    // Both Content-Length and Transfer-Encoding: never "too large".
    let both = format!("{head}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{{}}\r\n0\r\n\r\n");
    let answer = raw(&h, both.as_bytes()).await;
    assert!(!answer.contains("larger than"), "{answer}");
    // hyper reads such a body by Transfer-Encoding alone (RFC 9112 §6.1) and the gateway
    // answers it like any other request.
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn credentials_in_headers_are_masked_in_the_traffic_log() {
    let h = Harness::start().await;
    let body = pay_body("p-mask", &h.code("buyer-1"), "USD", "100").to_string();
    let overrides = [
        ("authorization", Some("Bearer s3cret")),
        ("cookie", Some("session=s3cret")),
        ("agent-token", Some("s3cret")),
    ];
    let answer = h.post_with("/aps/api/v1/payments/pay", body.as_bytes(), &overrides).await;
    assert_eq!(answer.code(), "SUCCESS");
    let entry = h
        .traffic()
        .into_iter()
        .find(|t| t.payment_request_id.as_deref() == Some("p-mask") && t.api == "pay")
        .unwrap();
    let headers = entry.request_headers.to_string();
    assert!(!headers.contains("s3cret"), "{headers}");
    for name in ["authorization", "cookie", "agent-token"] {
        assert_eq!(entry.request_headers[name], "***", "{headers}");
    }
}

fn with_duplicate_amount(h: &Harness, id: &str) -> Vec<u8> {
    let body = pay_body(id, &h.code("buyer-1"), "USD", "500").to_string();
    // The first paymentAmount says 1 cent; the second (last) says 5.00.
    body.replacen('{', r#"{"paymentAmount":{"currency":"USD","value":"1"},"#, 1).into_bytes()
}

#[tokio::test]
async fn a_duplicate_key_is_a_finding_and_under_strict_types_param_illegal() {
    let h = Harness::start().await;
    let answer = h.post_with("/aps/api/v1/payments/pay", &with_duplicate_amount(&h, "p-dup"), &[]).await;
    assert_eq!(answer.code(), "SUCCESS");
    assert_eq!(answer.body["paymentAmount"]["value"], "500", "the last value is used");
    let entry = h
        .traffic()
        .into_iter()
        .find(|t| t.payment_request_id.as_deref() == Some("p-dup") && t.api == "pay")
        .unwrap();
    let finding = entry.findings.as_array().unwrap().iter().find(|f| f["kind"] == "duplicate-key").cloned();
    assert_eq!(finding.expect("a duplicate-key finding")["path"], "paymentAmount");

    let strict = Harness::start_with(|mut c| {
        c.strict_types = true;
        c
    })
    .await;
    let answer =
        strict.post_with("/aps/api/v1/payments/pay", &with_duplicate_amount(&strict, "p-dup"), &[]).await;
    assert_eq!(answer.code(), "PARAM_ILLEGAL");
    assert!(
        answer.body["result"]["resultMessage"].as_str().unwrap().starts_with("paymentAmount:"),
        "{}",
        answer.raw
    );
}

#[tokio::test]
async fn added_routes_share_the_port_and_unmatched_paths_stay_alipay_answers() {
    let extra = axum::Router::new().route("/extra", axum::routing::get(|| async { "extra" }));
    let h = Harness::start_with(move |c| c.with_routes(extra)).await;
    assert_eq!(h.http.get(h.url("/extra")).send().await.unwrap().text().await.unwrap(), "extra");
    assert_eq!(h.http.get(h.url("/healthz")).send().await.unwrap().text().await.unwrap(), "ok");
    let answer = h.call_raw("/aps/api/v1/payments/nothing", b"{}".to_vec(), |r| r).await;
    assert_eq!(answer.code(), "INVALID_API");
    let pay = h.call("pay", &pay_body("p-extra", &h.code("buyer-1"), "USD", "100")).await;
    assert_eq!(pay.code(), "SUCCESS");
}

#[tokio::test]
async fn every_sse_subscriber_gets_the_same_pending_list() {
    let h = Harness::start().await;
    let auth = device(&h);
    h.sandbox.store().set_scenario("buyer-1", &plusbox_sandbox::Scenario::Pin).unwrap();
    let mut streams = Vec::new();
    for _ in 0..20 {
        let stream =
            h.http.get(h.url("/app/v1/pending/stream")).header("authorization", &auth).send().await.unwrap();
        assert_eq!(stream.status(), 200);
        streams.push((stream, String::new()));
    }
    let pay = h.call("pay", &pay_body("p-sse", &h.code("buyer-1"), "USD", "100")).await;
    assert_eq!(pay.code(), "PAYMENT_IN_PROCESS");
    for (stream, buffer) in &mut streams {
        // Events until one lists the payment (the first may be the empty list).
        let mut found = false;
        for _ in 0..5 {
            let event = loop {
                if let Some(end) = buffer.find("\n\n") {
                    let event: String = buffer.drain(..end + 2).collect();
                    if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data:")) {
                        break serde_json::from_str::<Value>(data.trim()).unwrap();
                    }
                    continue;
                }
                let chunk = tokio::time::timeout(Duration::from_secs(30), stream.chunk())
                    .await
                    .unwrap()
                    .unwrap()
                    .unwrap();
                buffer.push_str(&String::from_utf8_lossy(&chunk));
            };
            if event.as_array().unwrap().iter().any(|p| p["paymentRequestId"] == "p-sse") {
                found = true;
                break;
            }
        }
        assert!(found, "every subscriber saw the payment");
    }
}

#[cfg(unix)]
#[test]
fn a_data_directory_open_to_others_is_tightened_and_new_parents_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let store = plusbox_sandbox::Store::open(&open).unwrap();
    assert_eq!(std::fs::metadata(&open).unwrap().permissions().mode() & 0o777, 0o700);
    assert!(
        store.notices().iter().any(|n| n.contains("0777") && n.contains("0700")),
        "{:?}",
        store.notices()
    );

    let nested = dir.path().join("a/b/c");
    plusbox_sandbox::Store::open(&nested).unwrap();
    for path in [dir.path().join("a"), dir.path().join("a/b"), nested] {
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o077, 0, "{}", path.display());
    }
}
