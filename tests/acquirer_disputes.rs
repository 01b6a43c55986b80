//! The reference acquirer's dispute endpoint (alipayplus-api.md §13.3) over real HTTP, called as
//! the sandbox calls it (signed with the sandbox's key): a verified initiateRetrieval of a known
//! sale is acknowledged signed and answered once; a bad or missing signature, a malformed body
//! (named by field), an unknown sale, and a known disputeRequestId for another payment are refused
//! with their codes and never answered.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod acquirer_common;

use acquirer_common::Env;
use plusbox_acquirer::acquirer::INITIATE_RETRIEVAL_PATH;
use plusbox_acquirer::Timing;
use plusbox_core::signing::{MessageParts, PrivateKey};
use serde_json::{json, Value};

/// Posts `body` to the acquirer's initiateRetrieval, signed by `key` (the sandbox's unless
/// a test forges); returns the answer's result and whether its signature verifies.
async fn initiate(env: &Env, body: &Value, key: Option<&PrivateKey>) -> (Value, bool) {
    let store = env.sandbox.store();
    let app = store.app().unwrap();
    let sandbox_key = app.private_key().unwrap();
    let body = body.to_string();
    let time = plusbox_core::protocol::time::format_instant(time::OffsetDateTime::now_utc());
    let parts = MessageParts {
        method: "POST",
        uri: INITIATE_RETRIEVAL_PATH,
        client_id: &app.client_id,
        time: &time,
        body: body.as_bytes(),
    };
    let mut request = reqwest::Client::new()
        .post(format!("{}{INITIATE_RETRIEVAL_PATH}", env.base_url))
        .header("content-type", "application/json; charset=UTF-8")
        .header("client-id", &app.client_id)
        .header("request-time", &time);
    if let Some(key) = key {
        request = request.header("signature", key.sign_message(&parts, Some(1)).unwrap());
    } else {
        request = request.header("signature", sandbox_key.sign_message(&parts, Some(1)).unwrap());
    }
    let response = request.body(body).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let raw = response.text().await.unwrap();
    let acqp_key = store.acqp_key(app.id, None).unwrap().unwrap().1;
    let verified = headers.get("signature").is_some_and(|s| {
        let parts = MessageParts {
            method: "POST",
            uri: INITIATE_RETRIEVAL_PATH,
            client_id: headers["client-id"].to_str().unwrap(),
            time: headers["response-time"].to_str().unwrap(),
            body: raw.as_bytes(),
        };
        plusbox_core::signing::PublicKey::parse(&acqp_key)
            .unwrap()
            .verify_message(s.to_str().unwrap(), &parts)
            .is_ok()
    });
    let answer: Value = serde_json::from_str(&raw).unwrap();
    (answer["result"].clone(), verified)
}

fn retrieval(id: &str, payment_request_id: &str) -> Value {
    json!({
        "disputeRequestId": id,
        "paymentRequestId": payment_request_id,
        "disputeOccurTime": "2026-12-07T10:00:00+08:00",
        "disputeReasonCode": "TRANSACTION_INFO_REQUEST",
    })
}

fn answers(env: &Env) -> usize {
    env.traffic().iter().filter(|t| t.api == "responseRetrieval").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_acquirer_verifies_acknowledges_signed_and_answers_a_retrieval_once() {
    let env = Env::start(&[], Timing::default()).await;
    let code = env.code_for("buyer-1", "success");
    let sale = env.charge(&code, "9.00 USD").await;
    let prid = sale.payment_request_id.clone();

    // Refusals first: none of them leads to an answer.
    let forger = PrivateKey::generate().unwrap();
    let (result, signed) = initiate(&env, &retrieval("d-forged", &prid), Some(&forger)).await;
    assert_eq!(
        (result["resultStatus"].as_str(), result["resultCode"].as_str()),
        (Some("F"), Some("INVALID_SIGNATURE"))
    );
    assert!(signed, "even a refusal is signed");
    let (result, _) = initiate(&env, &json!({"paymentRequestId": prid, "disputeOccurTime": "x"}), None).await;
    assert_eq!(result["resultCode"], "PARAM_ILLEGAL");
    assert!(result["resultMessage"].as_str().unwrap().contains("disputeRequestId"), "{result}");
    let mut bad_time = retrieval("d-time", &prid);
    bad_time["disputeOccurTime"] = json!("yesterday");
    let (result, _) = initiate(&env, &bad_time, None).await;
    assert!(result["resultMessage"].as_str().unwrap().contains("disputeOccurTime"), "{result}");
    let (result, _) = initiate(&env, &retrieval("d-unknown", "pay_nobody_sold_this"), None).await;
    assert_eq!(result["resultCode"], "ORDER_NOT_EXIST");

    // The real one: acknowledged S, signed; then answered with the sale's order.
    let (result, signed) = initiate(&env, &retrieval("d-1", &prid), None).await;
    assert_eq!(
        (result["resultStatus"].as_str(), result["resultCode"].as_str()),
        (Some("S"), Some("SUCCESS"))
    );
    assert!(signed, "the acknowledgement is signed with the ACQP key");
    // A repeat (Alipay+ retrying) is acknowledged again; another payment under the id is not.
    let (again, _) = initiate(&env, &retrieval("d-1", &prid), None).await;
    assert_eq!(again["resultCode"], "SUCCESS");
    let (other, _) = initiate(&env, &retrieval("d-1", "pay_another_sale"), None).await;
    assert_eq!(other["resultCode"], "REPEAT_REQ_INCONSISTENT");

    // The answer reaches the sandbox (which has no such dispute: it is refused there, but the
    // request shows what the acquirer sent), and only one for the two acknowledgements.
    let mut sent = Vec::new();
    for _ in 0..400 {
        sent = env.traffic().into_iter().filter(|t| t.api == "responseRetrieval").collect();
        if !sent.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(sent.len(), 1, "one answer for one dispute");
    let body = sent[0].request_json();
    assert_eq!(body["disputeRequestId"], "d-1");
    assert_eq!(body["paymentRequestId"], prid.as_str());
    assert_eq!(body["order"]["orderAmount"], json!({"currency": "USD", "value": "900"}));
    assert!(body.get("acceptLiability").is_none(), "a retrieval's answer takes no liability stance");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(answers(&env), 1);
    env.stop().await;
}
