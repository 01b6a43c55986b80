//! Disputes over HTTP (alipayplus-api.md §13.3, docs/registration-customs-disputes.md): the
//! sandbox on an ephemeral port sends a signed `initiateRetrieval` / `initiateEscalation` to a real
//! ACQP receiver, takes only a signed acknowledgement, and accepts the signed `responseRetrieval`
//! / `responseEscalation`; the counts and windows on the sandbox clock; idempotency; bad bodies
//! with their field paths; unsigned and badly signed answers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use common::{pay_body, Answer, Harness};
use plusbox_core::money::{Amount, Currency};
use plusbox_core::signing::{MessageParts, PrivateKey};
use plusbox_sandbox::store::{DisputeInput, DisputeKind, DisputeRecord, DisputeRefusal};
use serde_json::{json, Value};

const RESPONSE_RETRIEVAL: &str = "/aps/api/v1/disputes/responseRetrieval";
const RESPONSE_ESCALATION: &str = "/aps/api/v1/disputes/responseEscalation";
const DAY: i64 = 86_400;

/// What the ACQP receiver got: (path, body, signature verified).
type Received = Arc<Mutex<Vec<(String, Value, bool)>>>;

/// A real ACQP dispute endpoint: verifies each call with the sandbox key and acknowledges it,
/// signed with the ACQP key unless told not to.
struct Acqp {
    url: String,
    received: Received,
    signed: Arc<Mutex<bool>>,
}

async fn acqp(h: &Harness) -> Acqp {
    let received: Received = Arc::default();
    let signed = Arc::new(Mutex::new(true));
    let key = Arc::new(PrivateKey::parse(h.acqp_key.to_base64().expose()).unwrap());
    let verify = h.sandbox_public.clone();
    let (rx, sg) = (Arc::clone(&received), Arc::clone(&signed));
    let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let (received, signed, key, verify) =
            (Arc::clone(&rx), Arc::clone(&sg), Arc::clone(&key), verify.clone());
        async move {
            let h = |n: &str| headers.get(n).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
            let client_id = h("client-id");
            let path = uri.path().to_string();
            let parts = MessageParts {
                method: "POST",
                uri: &path,
                client_id: &client_id,
                time: &h("request-time"),
                body: &body,
            };
            let verified = verify.verify_message(&h("signature"), &parts).is_ok();
            received.lock().unwrap().push((path.clone(), serde_json::from_slice(&body).unwrap(), verified));
            let ack =
                json!({"result": {"resultCode": "SUCCESS", "resultStatus": "S", "resultMessage": "success"}})
                    .to_string();
            let time = "2025-03-10T10:00:00+08:00".to_string();
            let mut response = (StatusCode::OK, ack.clone()).into_response();
            let hs = response.headers_mut();
            hs.insert("content-type", "application/json".parse().unwrap());
            hs.insert("client-id", client_id.parse().unwrap());
            hs.insert("response-time", time.parse().unwrap());
            if *signed.lock().unwrap() {
                let parts = MessageParts {
                    method: "POST",
                    uri: &path,
                    client_id: &client_id,
                    time: &time,
                    body: ack.as_bytes(),
                };
                hs.insert("signature", key.sign_message(&parts, Some(1)).unwrap().parse().unwrap());
            }
            response
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let url = format!("http://{addr}/acqp");
    let store = h.sandbox.store();
    store.set_dispute_url(store.app().unwrap().id, Some(&url)).unwrap();
    Acqp { url, received, signed }
}

impl Acqp {
    async fn wait_for(&self, n: usize) -> Vec<(String, Value, bool)> {
        for _ in 0..400 {
            if self.received.lock().unwrap().len() >= n {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        self.received.lock().unwrap().clone()
    }
}

/// A paid USD payment of buyer-1; its paymentId.
async fn paid(h: &Harness, id: &str, value: &str) -> String {
    let store = h.sandbox.store();
    store
        .topup("buyer-1", &Amount::from_minor(Currency::from_code("USD").unwrap(), 1_000_000), h.clock_now())
        .unwrap();
    let code = h.code("buyer-1");
    let answer = h.call("pay", &pay_body(id, &code, "USD", value)).await;
    assert_eq!(answer.code(), "SUCCESS", "{}", answer.raw);
    answer.body["paymentId"].as_str().unwrap().to_owned()
}

fn open(
    h: &Harness,
    kind: DisputeKind,
    payment: &str,
    amount: Option<i64>,
) -> Result<DisputeRecord, DisputeRefusal> {
    let amount = amount.map(|v| Amount::from_minor(Currency::from_code("USD").unwrap(), v));
    let input = DisputeInput { kind, payment: payment.to_owned(), reason: None, amount };
    let opened = h.sandbox.store().open_dispute(&input, h.clock_now()).unwrap();
    h.sandbox.poke();
    opened
}

fn refused(result: Result<DisputeRecord, DisputeRefusal>) -> &'static str {
    match result {
        Ok(d) => panic!("started {} {} against the rules", d.kind.word(), d.dispute_request_id),
        Err(refusal) => refusal.code,
    }
}

fn answer_body(dispute: &str, payment_request_id: &str) -> Value {
    json!({
        "disputeRequestId": dispute,
        "paymentRequestId": payment_request_id,
        "order": {
            "referenceOrderId": format!("order-{payment_request_id}"),
            "orderDescription": "Coffee",
            "orderAmount": {"currency": "USD", "value": "1000"},
            "merchant": {"referenceMerchantId": "M0001", "merchantName": "Test Cafe", "store": {"referenceStoreId": "S0001", "storeName": "Main St"}}
        },
        "responseMessage": "receipt attached"
    })
}

async fn post(h: &Harness, path: &str, body: &Value) -> Answer {
    h.call_raw(path, body.to_string().into_bytes(), |r| r).await
}

/// Answers a dispute correctly (S).
async fn answer(h: &Harness, d: &DisputeRecord) {
    let (path, mut body) = match d.kind {
        DisputeKind::Retrieval => {
            (RESPONSE_RETRIEVAL, answer_body(&d.dispute_request_id, &d.payment_request_id))
        }
        DisputeKind::Escalation => {
            (RESPONSE_ESCALATION, answer_body(&d.dispute_request_id, &d.payment_request_id))
        }
    };
    if d.kind == DisputeKind::Escalation {
        body["acceptLiability"] = json!("false");
    }
    let answered = post(h, path, &body).await;
    assert_eq!((answered.status_letter(), answered.code()), ("S", "SUCCESS"), "{}", answered.raw);
}

fn dispute(h: &Harness, id: &str) -> DisputeRecord {
    h.sandbox.store().dispute(id, h.clock_now()).unwrap().unwrap()
}

#[tokio::test]
async fn a_retrieval_goes_out_signed_is_acknowledged_and_its_answer_recorded_once() {
    let h = Harness::start().await;
    let acqp = acqp(&h).await;
    let pid = paid(&h, "p-dsp-1", "1000").await;
    let d = open(&h, DisputeKind::Retrieval, "p-dsp-1", None).unwrap();
    assert_eq!((d.status.as_str(), d.sequence, d.payment_id.as_str()), ("OPEN", 1, pid.as_str()));

    let received = acqp.wait_for(1).await;
    let (path, body, verified) = &received[0];
    assert_eq!(path, "/acqp/aps/api/v1/disputes/initiateRetrieval");
    assert!(verified, "initiateRetrieval is signed with the sandbox key over the exact path and body");
    assert_eq!(body["disputeRequestId"], d.dispute_request_id.as_str());
    assert_eq!(body["paymentRequestId"], "p-dsp-1");
    assert_eq!(body["paymentId"], pid.as_str());
    assert_eq!(body["paymentAmount"], json!({"currency": "USD", "value": "1000"}));
    for field in ["disputeOccurTime", "responseDeadline", "paymentTime", "disputeReasonCode", "acquirerId"] {
        assert!(body.get(field).is_some(), "{field} in {body}");
    }
    assert!(body.get("disputeAmount").is_none(), "a retrieval claims no amount");
    assert!(common::eventually(|| dispute(&h, &d.dispute_request_id).acknowledged_at.is_some()).await);
    assert_eq!(dispute(&h, &d.dispute_request_id).delivery.unwrap().status, "delivered");

    let body = answer_body(&d.dispute_request_id, "p-dsp-1");
    let first = post(&h, RESPONSE_RETRIEVAL, &body).await;
    assert_eq!((first.status, first.status_letter(), first.code()), (200, "S", "SUCCESS"), "{}", first.raw);
    assert_eq!(first.body["disputeRequestId"], d.dispute_request_id.as_str());
    let recorded = dispute(&h, &d.dispute_request_id);
    assert_eq!(recorded.status, "ANSWERED");
    assert_eq!(recorded.response.as_ref().unwrap()["order"]["referenceOrderId"], "order-p-dsp-1");

    // Idempotency by disputeRequestId: the same body again is the first answer; another is not.
    let again = post(&h, RESPONSE_RETRIEVAL, &body).await;
    assert_eq!(again.code(), "SUCCESS", "{}", again.raw);
    let mut changed = body.clone();
    changed["responseMessage"] = json!("a different story");
    let inconsistent = post(&h, RESPONSE_RETRIEVAL, &changed).await;
    assert_eq!((inconsistent.status_letter(), inconsistent.code()), ("F", "REPEAT_REQ_INCONSISTENT"));
    assert_eq!(dispute(&h, &d.dispute_request_id).response.unwrap()["responseMessage"], "receipt attached");

    // The traffic log links both directions to the disputed payment.
    let traffic = h.traffic();
    assert!(traffic.iter().any(|t| t.api == "initiateRetrieval"
        && t.direction == "outbound"
        && t.result_status.as_deref() == Some("S")
        && t.payment_id.as_deref() == Some(pid.as_str())));
    assert!(traffic
        .iter()
        .filter(|t| t.api == "responseRetrieval")
        .all(|t| t.direction == "inbound" && t.payment_id.as_deref() == Some(pid.as_str())));
}

#[tokio::test]
async fn an_unsigned_acknowledgement_is_not_taken_and_the_initiate_call_is_retried() {
    let h = Harness::start().await;
    let acqp = acqp(&h).await;
    *acqp.signed.lock().unwrap() = false;
    paid(&h, "p-dsp-ack", "1000").await;
    let d = open(&h, DisputeKind::Escalation, "p-dsp-ack", None).unwrap();
    let first = acqp.wait_for(1).await;
    assert_eq!(first[0].0, "/acqp/aps/api/v1/disputes/initiateEscalation");
    assert_eq!(first[0].1["disputeAmount"], json!({"currency": "USD", "value": "1000"}));
    assert!(
        common::eventually(|| dispute(&h, &d.dispute_request_id).delivery.is_some_and(|o| o.attempts == 1))
            .await
    );
    let pending = dispute(&h, &d.dispute_request_id);
    assert!(pending.acknowledged_at.is_none(), "an unsigned ack is not an acknowledgement");
    assert_eq!(pending.delivery.unwrap().status, "pending");
    // Signed from now on: the retry 4 s later (§10's schedule) is taken, with the same body.
    *acqp.signed.lock().unwrap() = true;
    h.advance(4);
    let both = acqp.wait_for(2).await;
    assert_eq!(both[0].1, both[1].1, "a retry re-sends the same body");
    assert!(common::eventually(|| dispute(&h, &d.dispute_request_id).acknowledged_at.is_some()).await);
    let _ = acqp.url;
}

#[tokio::test]
async fn at_most_five_retrievals_per_payment_and_one_open_at_a_time() {
    let h = Harness::start().await;
    let _acqp = acqp(&h).await;
    paid(&h, "p-dsp-5", "1000").await;
    let first = open(&h, DisputeKind::Retrieval, "p-dsp-5", None).unwrap();
    assert_eq!(refused(open(&h, DisputeKind::Retrieval, "p-dsp-5", None)), "RETRIEVAL_OPEN");
    answer(&h, &first).await;
    for n in 2..=5 {
        let next = open(&h, DisputeKind::Retrieval, "p-dsp-5", None).unwrap();
        assert_eq!(next.sequence, n);
        if n == 3 {
            // A closed retrieval is no longer open either.
            h.sandbox.store().close_dispute(&next.dispute_request_id, h.clock_now()).unwrap().unwrap();
        } else {
            answer(&h, &next).await;
        }
    }
    assert_eq!(refused(open(&h, DisputeKind::Retrieval, "p-dsp-5", None)), "RETRIEVAL_COUNT_EXCEEDED");
    // Escalations are counted apart.
    open(&h, DisputeKind::Escalation, "p-dsp-5", None).unwrap();
}

#[tokio::test]
async fn a_retrieval_and_the_first_escalation_start_within_360_days_of_the_payment() {
    let h = Harness::start().await;
    let _acqp = acqp(&h).await;
    paid(&h, "p-dsp-360", "1000").await;
    h.advance(360 * DAY);
    let last_day = open(&h, DisputeKind::Retrieval, "p-dsp-360", None).unwrap();
    answer(&h, &last_day).await;
    h.advance(1);
    assert_eq!(refused(open(&h, DisputeKind::Retrieval, "p-dsp-360", None)), "DISPUTE_WINDOW_EXCEEDED");
    assert_eq!(refused(open(&h, DisputeKind::Escalation, "p-dsp-360", None)), "DISPUTE_WINDOW_EXCEEDED");
}

#[tokio::test]
async fn two_escalations_at_most_the_second_within_25_days_of_the_first_being_answered() {
    let h = Harness::start().await;
    let _acqp = acqp(&h).await;
    paid(&h, "p-dsp-e1", "1000").await;
    let first = open(&h, DisputeKind::Escalation, "p-dsp-e1", None).unwrap();
    assert_eq!(refused(open(&h, DisputeKind::Escalation, "p-dsp-e1", None)), "ESCALATION_OPEN");
    answer(&h, &first).await;
    h.advance(25 * DAY);
    let second = open(&h, DisputeKind::Escalation, "p-dsp-e1", None).unwrap();
    assert_eq!(second.sequence, 2);
    answer(&h, &second).await;
    assert_eq!(refused(open(&h, DisputeKind::Escalation, "p-dsp-e1", None)), "ESCALATION_COUNT_EXCEEDED");

    // Another payment: the first escalation closed by the TSP, the second a day too late.
    paid(&h, "p-dsp-e2", "1000").await;
    let first = open(&h, DisputeKind::Escalation, "p-dsp-e2", None).unwrap();
    h.sandbox.store().close_dispute(&first.dispute_request_id, h.clock_now()).unwrap().unwrap();
    h.advance(25 * DAY + 1);
    assert_eq!(refused(open(&h, DisputeKind::Escalation, "p-dsp-e2", None)), "ESCALATION_WINDOW_EXCEEDED");
}

#[tokio::test]
async fn an_escalation_claims_at_most_the_payment_amount_minus_refunds() {
    let h = Harness::start().await;
    let _acqp = acqp(&h).await;
    paid(&h, "p-dsp-amt", "10000").await;
    let refund = h
        .call(
            "refund",
            &json!({"paymentRequestId": "p-dsp-amt", "refundRequestId": "r-1", "refundAmount": {"currency": "USD", "value": "3000"}}),
        )
        .await;
    assert_eq!(refund.code(), "SUCCESS", "{}", refund.raw);
    assert_eq!(
        refused(open(&h, DisputeKind::Escalation, "p-dsp-amt", Some(7001))),
        "ESCALATION_AMOUNT_EXCEEDED"
    );
    assert_eq!(refused(open(&h, DisputeKind::Retrieval, "p-dsp-amt", Some(100))), "AMOUNT_INVALID");
    let input = DisputeInput {
        kind: DisputeKind::Escalation,
        payment: "p-dsp-amt".into(),
        reason: None,
        amount: Some(Amount::from_minor(Currency::from_code("HKD").unwrap(), 100)),
    };
    assert_eq!(
        h.sandbox.store().open_dispute(&input, h.clock_now()).unwrap().unwrap_err().code,
        "AMOUNT_INVALID"
    );
    let whole = open(&h, DisputeKind::Escalation, "p-dsp-amt", None).unwrap();
    assert_eq!(whole.amount.unwrap().value, 7000, "by default the disputable amount");

    // What cannot be disputed at all.
    assert_eq!(refused(open(&h, DisputeKind::Retrieval, "no-such-payment", None)), "PAYMENT_NOT_FOUND");
    let code = h.code("buyer-1");
    let mut declined = pay_body("p-dsp-fail", &code, "USD", "1000");
    declined["paymentAmount"]["value"] = json!("999999999");
    declined["order"]["orderAmount"]["value"] = json!("999999999");
    assert_ne!(h.call("pay", &declined).await.code(), "SUCCESS");
    assert_eq!(refused(open(&h, DisputeKind::Retrieval, "p-dsp-fail", None)), "PAYMENT_NOT_DISPUTABLE");
    let store = h.sandbox.store();
    store.set_dispute_url(store.app().unwrap().id, None).unwrap();
    assert_eq!(refused(open(&h, DisputeKind::Retrieval, "p-dsp-amt", None)), "NO_DISPUTE_URL");
}

#[tokio::test]
async fn bad_answers_get_the_documented_codes_with_field_paths() {
    let h = Harness::start().await;
    let _acqp = acqp(&h).await;
    paid(&h, "p-dsp-bad", "1000").await;
    let d = open(&h, DisputeKind::Retrieval, "p-dsp-bad", None).unwrap();
    let id = d.dispute_request_id.clone();
    let good = answer_body(&id, "p-dsp-bad");

    let mut cases: Vec<(Value, &str)> = Vec::new();
    let mut missing_order = good.clone();
    missing_order.as_object_mut().unwrap().remove("order");
    cases.push((missing_order, "order"));
    let mut bad_amount = good.clone();
    bad_amount["order"]["orderAmount"]["value"] = json!("-5");
    cases.push((bad_amount, "order.orderAmount.value"));
    let mut liability = good.clone();
    liability["acceptLiability"] = json!("true");
    cases.push((liability, "acceptLiability"));
    let mut no_id = good.clone();
    no_id.as_object_mut().unwrap().remove("disputeRequestId");
    cases.push((no_id, "disputeRequestId"));
    let mut long_id = good.clone();
    long_id["disputeRequestId"] = json!("d".repeat(65));
    cases.push((long_id, "disputeRequestId"));
    for (body, path) in cases {
        let refused = post(&h, RESPONSE_RETRIEVAL, &body).await;
        assert_eq!(
            (refused.status, refused.status_letter(), refused.code()),
            (200, "F", "PARAM_ILLEGAL"),
            "{}",
            refused.raw
        );
        let message = refused.body["result"]["resultMessage"].as_str().unwrap();
        assert!(message.contains(path), "{path} named in {message:?}");
    }
    let not_json = h.call_raw(RESPONSE_RETRIEVAL, b"{\"disputeRequestId\": ".to_vec(), |r| r).await;
    assert_eq!(not_json.code(), "PARAM_ILLEGAL", "{}", not_json.raw);

    let unknown = post(&h, RESPONSE_RETRIEVAL, &answer_body("20250310000000000000000", "p-dsp-bad")).await;
    assert_eq!(unknown.code(), "DISPUTE_NOT_EXIST");
    // A retrieval answered as an escalation is no escalation the sandbox knows.
    let mut as_escalation = good.clone();
    as_escalation["acceptLiability"] = json!("false");
    assert_eq!(post(&h, RESPONSE_ESCALATION, &as_escalation).await.code(), "DISPUTE_NOT_EXIST");
    // The same disputeRequestId with another paymentRequestId.
    let other = post(&h, RESPONSE_RETRIEVAL, &answer_body(&id, "p-some-other-sale")).await;
    assert_eq!((other.status_letter(), other.code()), ("F", "REPEAT_REQ_INCONSISTENT"));
    assert_eq!(dispute(&h, &id).status, "OPEN", "no refused answer changed the dispute");

    // Closed by the TSP, or past its deadline: no answer is taken.
    h.sandbox.store().close_dispute(&id, h.clock_now()).unwrap().unwrap();
    assert_eq!(post(&h, RESPONSE_RETRIEVAL, &good).await.code(), "DISPUTE_CLOSED");
    let late = open(&h, DisputeKind::Retrieval, "p-dsp-bad", None).unwrap();
    h.advance(7 * DAY + 1);
    assert_eq!(dispute(&h, &late.dispute_request_id).status, "EXPIRED");
    let expired = post(&h, RESPONSE_RETRIEVAL, &answer_body(&late.dispute_request_id, "p-dsp-bad")).await;
    assert_eq!((expired.status_letter(), expired.code()), ("F", "DISPUTE_CLOSED"));
    // An expired retrieval is not open: the next one may start.
    open(&h, DisputeKind::Retrieval, "p-dsp-bad", None).unwrap();
}

#[tokio::test]
async fn unsigned_or_badly_signed_answers_are_refused() {
    let h = Harness::start().await;
    let _acqp = acqp(&h).await;
    paid(&h, "p-dsp-sig", "1000").await;
    let d = open(&h, DisputeKind::Retrieval, "p-dsp-sig", None).unwrap();
    let body = answer_body(&d.dispute_request_id, "p-dsp-sig").to_string();
    let unsigned = h.post_with(RESPONSE_RETRIEVAL, body.as_bytes(), &[("signature", None)]).await;
    assert_eq!((unsigned.status_letter(), unsigned.code()), ("F", "INVALID_SIGNATURE"), "{}", unsigned.raw);
    // Signed over another body than the one sent.
    let time = plusbox_core::protocol::time::format_instant(h.clock_now());
    let parts = MessageParts {
        method: "POST",
        uri: RESPONSE_RETRIEVAL,
        client_id: &h.client_id,
        time: &time,
        body: b"{}",
    };
    let wrong = h.acqp_key.sign_message(&parts, Some(1)).unwrap();
    let forged = h
        .post_with(
            RESPONSE_RETRIEVAL,
            body.as_bytes(),
            &[("signature", Some(&wrong)), ("request-time", Some(&time))],
        )
        .await;
    assert_eq!(forged.code(), "INVALID_SIGNATURE", "{}", forged.raw);
    assert_eq!(dispute(&h, &d.dispute_request_id).status, "OPEN");
}
