//! TSP mode over real HTTP (alipayplus-api.md §14, docs/tsp.md): several ACQP applications on one
//! sandbox, each verified with its own key, answered with its own sandbox key, owning its own
//! payments, traffic and notifications; and the Agent-Token check of an application in TSP
//! mode (missing, unknown, cancelled, another application's, out of scope → F ACCESS_DENIED;
//! ignored without TSP mode).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::HeaderMap;
use common::{pay_body, receiver, Answer, Harness};
use plusbox_core::signing::{MessageParts, PrivateKey, PublicKey};
use plusbox_sandbox::store::{TrafficView, TspProduct};
use plusbox_sandbox::Scenario;
use serde_json::{json, Value};

/// A second ACQP application: its own Client-Id and keys.
struct Caller {
    client_id: String,
    key: PrivateKey,
    sandbox_public: PublicKey,
}

impl Caller {
    fn of_default(h: &Harness) -> Caller {
        Caller {
            client_id: h.client_id.clone(),
            key: PrivateKey::parse(h.acqp_key.to_base64().expose()).unwrap(),
            sandbox_public: h.sandbox_public.clone(),
        }
    }

    fn create(h: &Harness, name: &str) -> Caller {
        let store = h.sandbox.store();
        let app = store.create_app(name, h.clock_now()).unwrap();
        let key = PrivateKey::generate().unwrap();
        store.set_acqp_key_for(app.id, &key.public_key().unwrap().to_base64(), 1, h.clock_now()).unwrap();
        Caller {
            client_id: app.client_id.clone(),
            key,
            sandbox_public: app.private_key().unwrap().public_key().unwrap(),
        }
    }
}

/// A signed call as `signer` with `client_id` in the header (normally the signer's own), with
/// an optional Agent-Token; the answer must verify with `verify_with`'s sandbox key.
async fn call_as(
    h: &Harness,
    signer: &Caller,
    client_id: &str,
    api: &str,
    body: &Value,
    agent_token: Option<&str>,
    verify_with: &PublicKey,
) -> Answer {
    let path = format!("/aps/api/v1/payments/{api}");
    let body = body.to_string().into_bytes();
    let time = plusbox_core::protocol::time::format_instant(h.clock_now());
    let parts = MessageParts { method: "POST", uri: &path, client_id, time: &time, body: &body };
    let signature = signer.key.sign_message(&parts, Some(1)).unwrap();
    let mut request = h
        .http
        .post(h.url(&path))
        .header("content-type", "application/json; charset=UTF-8")
        .header("client-id", client_id)
        .header("request-time", &time)
        .header("signature", signature)
        .body(body);
    if let Some(token) = agent_token {
        request = request.header("agent-token", token);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let headers = response.headers().clone();
    let raw = response.text().await.unwrap();
    let answer_client = headers["client-id"].to_str().unwrap();
    let answer_time = headers["response-time"].to_str().unwrap();
    let parts = MessageParts {
        method: "POST",
        uri: &path,
        client_id: answer_client,
        time: answer_time,
        body: raw.as_bytes(),
    };
    assert!(
        verify_with.verify_message(headers["signature"].to_str().unwrap(), &parts).is_ok(),
        "the answer is signed with the calling application's sandbox key: {raw}"
    );
    Answer { status: 200, body: serde_json::from_str(&raw).unwrap(), headers, raw }
}

async fn call(h: &Harness, caller: &Caller, api: &str, body: &Value, agent_token: Option<&str>) -> Answer {
    call_as(h, caller, &caller.client_id, api, body, agent_token, &caller.sandbox_public).await
}

/// Notifications received: (Client-Id header, body, verified).
type Seen = Arc<Mutex<Vec<(String, Value, bool)>>>;

/// A notify receiver that records who each notification was for (its Client-Id header) and
/// whether it verifies with `sandbox_public`.
async fn recorder(sandbox_public: PublicKey) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let state = (Arc::clone(&seen), sandbox_public);
    let app = axum::Router::new()
        .route(
            "/notify",
            axum::routing::post(
                |axum::extract::State((seen, key)): axum::extract::State<(
                    Seen,
                    PublicKey,
                )>,
                 headers: HeaderMap,
                 body: Bytes| async move {
                    let h = |n: &str| headers.get(n).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
                    let client_id = h("client-id");
                    let parts = MessageParts { method: "POST", uri: "/notify", client_id: &client_id, time: &h("request-time"), body: &body };
                    let ok = key.verify_message(&h("signature"), &parts).is_ok();
                    seen.lock().unwrap().push((client_id, serde_json::from_slice(&body).unwrap(), ok));
                    // An unsigned acknowledgement: the sandbox retries it, which this test ignores.
                    json!({"result": {"resultCode": "SUCCESS", "resultStatus": "S", "resultMessage": "success"}}).to_string()
                },
            ),
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/notify"), seen)
}

fn traffic_of(h: &Harness, client_id: &str) -> Vec<TrafficView> {
    h.sandbox.store().traffic_of(Some(client_id), 0, 10_000).unwrap()
}

#[tokio::test]
async fn two_applications_on_one_sandbox_each_see_only_their_own_payments_traffic_and_notifications() {
    let h = Harness::start().await;
    let store = h.sandbox.store();
    let a = Caller::of_default(&h);
    let b = Caller::create(&h, "acqp-b");
    assert_ne!(a.client_id, b.client_id);
    assert_ne!(
        a.sandbox_public.to_base64(),
        b.sandbox_public.to_base64(),
        "each application has its own sandbox key"
    );
    let rx_a = receiver(&h).await;
    store.set_notify_url(Some(&rx_a.url)).unwrap();
    let (url_b, seen_b) = recorder(b.sandbox_public.clone()).await;
    let b_id = store.resolve_app(Some("acqp-b")).unwrap().id;
    store.set_notify_url_for(b_id, Some(&url_b)).unwrap();

    // The same paymentRequestId in both applications: two separate payments.
    let paid_a = call(&h, &a, "pay", &pay_body("same-id", &h.code("buyer-1"), "USD", "100"), None).await;
    let paid_b = call(&h, &b, "pay", &pay_body("same-id", &h.code("buyer-2"), "USD", "250"), None).await;
    assert_eq!(paid_a.code(), "SUCCESS", "{}", paid_a.raw);
    assert_eq!(paid_b.code(), "SUCCESS", "{}", paid_b.raw);
    assert_eq!(paid_a.headers["client-id"], a.client_id.as_str());
    assert_eq!(paid_b.headers["client-id"], b.client_id.as_str());
    let b_payment = paid_b.body["paymentId"].as_str().unwrap().to_string();
    assert_ne!(paid_a.body["paymentId"], paid_b.body["paymentId"]);
    assert_eq!(paid_b.body["acquirerId"], store.app_view_of(b_id).unwrap().acquirer_id.as_str());

    // Each inquiry finds its own payment; A cannot see B's by its paymentId.
    let q = call(&h, &a, "inquiryPayment", &json!({"paymentRequestId": "same-id"}), None).await;
    assert_eq!(q.body["paymentAmount"]["value"], "100", "{}", q.raw);
    let q = call(&h, &b, "inquiryPayment", &json!({"paymentRequestId": "same-id"}), None).await;
    assert_eq!(q.body["paymentAmount"]["value"], "250", "{}", q.raw);
    let q = call(&h, &a, "inquiryPayment", &json!({"paymentId": b_payment}), None).await;
    assert_eq!(q.code(), "ORDER_NOT_EXIST", "{}", q.raw);

    // A payment of B's that waits for the buyer's PIN notifies B's URL, signed with B's key.
    store.set_scenario("buyer-3", &Scenario::Pin).unwrap();
    let pin = call(&h, &b, "pay", &pay_body("b-pin", &h.code("buyer-3"), "USD", "300"), None).await;
    assert_eq!(pin.code(), "PAYMENT_IN_PROCESS", "{}", pin.raw);
    let pending = store.pending(h.clock_now()).unwrap();
    let waiting = pending.iter().find(|p| p.payment_request_id == "b-pin").unwrap();
    store.confirm(&waiting.payment_id, "1234", h.clock_now()).unwrap();
    h.sandbox.poke();
    let has_pin = || seen_b.lock().unwrap().iter().any(|(_, n, _)| n["paymentRequestId"] == "b-pin");
    assert!(common::eventually(has_pin).await, "B's notify URL got the notification");
    for (client, note, verified) in seen_b.lock().unwrap().iter() {
        assert_eq!(client, &b.client_id, "{note}");
        assert!(*verified, "signed with B's sandbox key: {note}");
        assert_ne!(note["paymentId"], paid_a.body["paymentId"], "none of A's payments reached B");
    }
    for (note, _) in rx_a.wait_for(1).await {
        assert_ne!(note["paymentRequestId"], "b-pin", "nothing of B's reached A's notify URL");
        assert_ne!(note["paymentId"].as_str(), Some(b_payment.as_str()));
    }

    // Each application's traffic holds only its own calls.
    let ta = traffic_of(&h, &a.client_id);
    let tb = traffic_of(&h, &b.client_id);
    assert!(ta.len() >= 3 && tb.len() >= 3, "{} {}", ta.len(), tb.len());
    assert!(ta.iter().all(|t| t.client_id.as_deref() == Some(a.client_id.as_str())));
    assert!(tb.iter().all(|t| t.client_id.as_deref() == Some(b.client_id.as_str())));
    assert!(tb.iter().any(|t| t.direction == "outbound"), "B's notification is in B's traffic");
    assert!(!ta.iter().any(|t| t.payment_request_id.as_deref() == Some("b-pin")));
}

#[tokio::test]
async fn a_call_signed_by_one_application_with_another_ones_client_id_fails_the_signature() {
    let h = Harness::start().await;
    let a = Caller::of_default(&h);
    let b = Caller::create(&h, "acqp-b");
    // A's key, B's Client-Id: verified with B's key, so it fails; answered with B's sandbox key.
    let answer = call_as(
        &h,
        &a,
        &b.client_id,
        "pay",
        &pay_body("x1", &h.code("buyer-1"), "USD", "100"),
        None,
        &b.sandbox_public,
    )
    .await;
    assert_eq!((answer.code(), answer.status_letter()), ("INVALID_SIGNATURE", "F"), "{}", answer.raw);
    let logged = traffic_of(&h, &b.client_id);
    assert_eq!(logged.last().unwrap().signature, "invalid");
    assert!(traffic_of(&h, &a.client_id).is_empty(), "nothing is booked to A");
}

#[tokio::test]
async fn without_tsp_mode_the_agent_token_header_is_ignored() {
    let h = Harness::start().await;
    let a = Caller::of_default(&h);
    let answer =
        call(&h, &a, "pay", &pay_body("n1", &h.code("buyer-1"), "USD", "100"), Some("no-such-token")).await;
    assert_eq!(answer.code(), "SUCCESS", "{}", answer.raw);
}

#[tokio::test]
async fn in_tsp_mode_a_missing_unknown_foreign_cancelled_or_out_of_scope_agent_token_is_access_denied() {
    let h = Harness::start().await;
    let store = h.sandbox.store();
    let a = Caller::of_default(&h);
    let b = Caller::create(&h, "acqp-b");
    let a_id = store.app().unwrap().id;
    let b_id = store.resolve_app(Some(&b.client_id)).unwrap().id;
    let now = h.clock_now();

    // An authorization URL that is not yet authorized issues no token and changes nothing.
    let pending = store.create_tsp_authorization(a_id, &[TspProduct::Upm], now).unwrap();
    assert_eq!((pending.status.as_str(), pending.display_status), ("PENDING", "Inactive"));
    assert!(pending.agent_token.is_none());
    let answer = call(&h, &a, "pay", &pay_body("p0", &h.code("buyer-1"), "USD", "100"), None).await;
    assert_eq!(answer.code(), "SUCCESS", "not in TSP mode before the ACQP authorizes");

    let active = store.authorize_tsp(&pending.authorization_id, now).unwrap();
    assert_eq!(active.display_status, "Active");
    assert!(active.tsp_mode);
    let token = active.agent_token.clone().unwrap();
    let b_auth = store.create_tsp_authorization(b_id, &[TspProduct::Upm, TspProduct::Mpm], now).unwrap();
    let b_token = store.authorize_tsp(&b_auth.authorization_id, now).unwrap().agent_token.unwrap();

    let denied = |answer: &Answer| {
        assert_eq!((answer.code(), answer.status_letter()), ("ACCESS_DENIED", "F"), "{}", answer.raw);
    };
    // Missing, unknown, and another application's token.
    denied(&call(&h, &a, "pay", &pay_body("p1", &h.code("buyer-1"), "USD", "100"), None).await);
    denied(&call(&h, &a, "pay", &pay_body("p2", &h.code("buyer-1"), "USD", "100"), Some("nope")).await);
    denied(&call(&h, &a, "pay", &pay_body("p3", &h.code("buyer-1"), "USD", "100"), Some(&b_token)).await);
    // The check comes after the signature: a bad signature is reported as such, not as a
    // permission problem, and a token is never judged for an unauthenticated caller.
    let stranger = Caller {
        client_id: a.client_id.clone(),
        key: PrivateKey::generate().unwrap(),
        sandbox_public: a.sandbox_public.clone(),
    };
    let forged =
        call(&h, &stranger, "pay", &pay_body("p4", &h.code("buyer-1"), "USD", "100"), Some(&token)).await;
    assert_eq!(forged.code(), "INVALID_SIGNATURE", "{}", forged.raw);
    // Before PARAM_ILLEGAL: a caller without permission learns nothing about its body.
    denied(&call(&h, &a, "pay", &json!({"paymentRequestId": 5}), None).await);

    // The right token: the payment goes through; inquiries are covered by any active token.
    let ok = call(&h, &a, "pay", &pay_body("p5", &h.code("buyer-1"), "USD", "100"), Some(&token)).await;
    assert_eq!(ok.code(), "SUCCESS", "{}", ok.raw);
    let q = call(&h, &a, "inquiryPayment", &json!({"paymentRequestId": "p5"}), Some(&token)).await;
    assert_eq!(q.code(), "SUCCESS", "{}", q.raw);
    // B's own token works for B.
    let ok_b = call(&h, &b, "pay", &pay_body("b1", &h.code("buyer-2"), "USD", "100"), Some(&b_token)).await;
    assert_eq!(ok_b.code(), "SUCCESS", "{}", ok_b.raw);

    // Out of scope: A's authorization covers upm only; an order-code (MPM) pay is refused
    // after the body is read, with the products named.
    let mpm = json!({
        "paymentRequestId": "m1",
        "paymentAmount": {"currency": "USD", "value": "100"},
        "paymentMethod": {"paymentMethodType": "CONNECT_WALLET"},
        "paymentFactor": {"isInStorePayment": "true", "inStorePaymentScenario": "OrderCode"},
        "paymentExpiryTime": "2025-03-10T10:30:00+08:00",
        "order": {
            "referenceOrderId": "order-m1",
            "orderDescription": "Coffee",
            "orderAmount": {"currency": "USD", "value": "100"},
            "merchant": {"referenceMerchantId": "M0001", "merchantName": "Test Cafe", "store": {"referenceStoreId": "S0001", "storeName": "Main St"}},
            "env": {"storeTerminalId": "T01", "storeTerminalRequestTime": "2025-03-10T10:00:00+08:00", "userAgent": "Mozilla/5.0 AlipayClient/10.5"}
        }
    });
    let refused = call(&h, &a, "pay", &mpm, Some(&token)).await;
    denied(&refused);
    assert!(refused.body["result"]["resultMessage"].as_str().unwrap().contains("mpm"), "{}", refused.raw);
    // The ACQP changes the scope: the same token now covers MPM.
    store.change_tsp_scope(&active.authorization_id, &[TspProduct::Upm, TspProduct::Mpm]).unwrap();
    let widened = call(&h, &a, "pay", &mpm, Some(&token)).await;
    assert_ne!(widened.code(), "ACCESS_DENIED", "{}", widened.raw);

    // Cancelled: the token is refused; the application stays in TSP mode.
    let cancelled = store.cancel_tsp_authorization(&active.authorization_id, now).unwrap();
    assert_eq!((cancelled.status.as_str(), cancelled.display_status), ("INACTIVE", "Inactive"));
    denied(&call(&h, &a, "pay", &pay_body("p6", &h.code("buyer-1"), "USD", "100"), Some(&token)).await);
    assert!(
        store.authorize_tsp(&active.authorization_id, now).is_err(),
        "a cancelled authorization stays cancelled"
    );

    // Every refusal is in the traffic log, signed, with the reason as a finding.
    let logged: Vec<TrafficView> = traffic_of(&h, &a.client_id)
        .into_iter()
        .filter(|t| t.result_code.as_deref() == Some("ACCESS_DENIED"))
        .collect();
    assert_eq!(logged.len(), 6, "{logged:?}");
    assert!(logged.iter().all(|t| t.signature == "valid"));
    assert!(logged.iter().all(|t| t.findings.to_string().contains("agent-token")));
    // Refused before the body is judged, yet linked to the payment it names.
    let linked: Vec<_> = logged.iter().filter_map(|t| t.payment_request_id.as_deref()).collect();
    assert!(["p1", "p2", "p3", "m1", "p6"].iter().all(|id| linked.contains(id)), "{linked:?}");

    // TSP mode off: the header is ignored again.
    store.set_tsp_mode(a_id, false).unwrap();
    let ok = call(&h, &a, "pay", &pay_body("p7", &h.code("buyer-1"), "USD", "100"), None).await;
    assert_eq!(ok.code(), "SUCCESS", "{}", ok.raw);
}

#[tokio::test]
async fn application_names_are_checked_and_unique() {
    let h = Harness::start().await;
    let store = h.sandbox.store();
    store.create_app("acqp-b", h.clock_now()).unwrap();
    for (bad, why) in
        [("acqp-b", "already exists"), ("", "1 to 64"), ("a b", "letters"), ("SANDBOX_X", "Client-Id")]
    {
        let error = store.create_app(bad, h.clock_now()).unwrap_err().to_string();
        assert!(error.contains(why), "{bad:?}: {error}");
    }
    let apps = store.app_list().unwrap();
    assert_eq!(
        apps.iter().map(|a| (a.name.as_str(), a.default)).collect::<Vec<_>>(),
        [("default", true), ("acqp-b", false)]
    );
    assert!(store.resolve_app(Some("nobody")).unwrap_err().to_string().contains("nobody"));
}

#[tokio::test]
async fn the_authorization_url_opens_a_page_that_shows_the_request_and_never_the_agent_token() {
    let h = Harness::start().await;
    let store = h.sandbox.store();
    let b = Caller::create(&h, "acqp-b");
    let b_id = store.resolve_app(Some(&b.client_id)).unwrap().id;
    let now = h.clock_now();
    let pending = store.create_tsp_authorization(b_id, &[TspProduct::Upm, TspProduct::Mpm], now).unwrap();
    let open = |path: String| {
        let http = h.http.clone();
        let url = h.url(&path);
        async move {
            let response = http.get(url).send().await.unwrap();
            let status = response.status().as_u16();
            let kind = response.headers()["content-type"].to_str().unwrap().to_string();
            (status, kind, response.text().await.unwrap())
        }
    };
    let traffic_before = h.traffic().len();

    let (status, kind, page) = open(format!("/tsp/authorize/{}", pending.authorization_id)).await;
    assert_eq!((status, kind.as_str()), (200, "text/html; charset=utf-8"));
    assert!(page.contains("acqp-b") && page.contains(&b.client_id), "{page}");
    assert!(
        page.contains("<dd id=\"products\">UPM, MPM</dd>")
            && page.contains("<dd id=\"status\">Inactive</dd>"),
        "{page}"
    );
    assert!(page.contains(&format!("plusbox tsp authorize {}", pending.authorization_id)), "{page}");

    let active = store.authorize_tsp(&pending.authorization_id, now).unwrap();
    let token = active.agent_token.unwrap();
    let (_, _, page) = open(format!("/tsp/authorize/{}", pending.authorization_id)).await;
    assert!(page.contains("<dd id=\"status\">Active</dd>"), "{page}");
    assert!(
        !page.contains(&token),
        "the Agent-Token is the TSP's, never on a page anyone with the link can open"
    );

    for (path, why) in [
        ("/tsp/authorize/AUTH_AAAAAAAAAAAAAAAAAAAA", "unknown"),
        ("/tsp/authorize/%3Cscript%3E", "not an id"),
    ] {
        let (status, _, page) = open(path.into()).await;
        assert_eq!(status, 404, "{why}");
        assert!(page.contains("No such authorization") && !page.contains("<script>"), "{why}: {page}");
    }
    assert_eq!(h.traffic().len(), traffic_before, "a browser opening the link is not an Alipay+ call");
}
