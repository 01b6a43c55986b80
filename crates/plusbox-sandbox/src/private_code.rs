//! Decoding what the buyer's wallet scanned (payment-codes.md §4.5, rows 1 and 2): an order code
//! this sandbox issued is looked up; a URL on a registered private-order-code domain is decoded
//! by the ACQP that issued it, with a signed `userInitiatedPay` (alipayplus-api.md §11) under
//! Alipay+'s 8 s timeout. The answer is verified — HTTP 200, a valid signature by the ACQP's key,
//! `result.resultStatus = S`, a `paymentRequestId` and an amount (`paymentAmount`, falling back to
//! `amount`) — before a payment is made from it. Any failure leaves no payment and tells the buyer
//! why ("this code cannot be paid: …"). Every call is in the traffic log, direction `outbound`,
//! API `userInitiatedPay`, with the answer's signature verdict.
//!
//! The same function serves the companion API (`POST /app/v1/order-codes/decode`) and an
//! in-process runner (`plusbox-runner-local`), so both decode exactly alike.

use std::sync::Arc;
use std::time::Instant;

use plusbox_core::money::Amount;
use plusbox_core::protocol::time::{format_instant, parse_instant};
use plusbox_core::result_code::ResultCode;
use plusbox_core::signing::{MessageParts, PublicKey, SignatureHeader};
use serde_json::{json, Value};

use crate::clock::SharedClock;
use crate::store::{
    validate_url, OrderCodeRefusal, OrderCodeView, PrivateCodeMatch, PrivateCodePayment, PrivateCodeTarget,
    Store, StoreError, TrafficRecord,
};

/// Alipay+'s timeout for `userInitiatedPay` (§11, §12), on the sandbox clock.
pub const USER_INITIATED_PAY_TIMEOUT: time::Duration = time::Duration::seconds(8);

/// Largest answer read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Decodes a scanned code for `account`: the order to show, or why it cannot be paid.
pub async fn decode_scanned(
    store: Arc<Store>,
    clock: SharedClock,
    code: String,
    account: String,
) -> Result<Result<OrderCodeView, OrderCodeRefusal>, StoreError> {
    let now = clock.now();
    let (c, a) = (code.clone(), account.clone());
    let known = blocking(&store, move |s| s.decode_order_code(&c, &a, now)).await?;
    let unknown = match known {
        Err(refusal) if refusal.code == ResultCode::InvalidCode.as_str() => refusal,
        other => return Ok(other),
    };
    let c = code.clone();
    let target = match blocking(&store, move |s| s.match_private_order_code(&c)).await? {
        PrivateCodeMatch::NoMatch => return Ok(Err(unknown)),
        PrivateCodeMatch::Refused(why) => {
            return Ok(Err(OrderCodeRefusal::new(
                ResultCode::InvalidCode,
                format!("this code cannot be paid: {why}"),
            )))
        }
        PrivateCodeMatch::Target(target) => target,
    };
    let a = account.clone();
    let (psp_id, customer_id) = blocking(&store, move |s| s.buyer_identity(&a)).await?;
    let (record, decoded) = user_initiated_pay(&clock, &target, &code, &psp_id, &customer_id).await;
    let app = target.app.clone();
    let (c, a) = (code, account);
    blocking(&store, move |s| {
        let mut record = record;
        let outcome = match decoded {
            Ok(payment) => match s.create_private_code_payment(&app, &c, &payment, clock.now())? {
                Ok(payment_id) => {
                    record.payment_id = Some(payment_id);
                    record.note = Some(format!(
                        "PrivateOrderCode: payment created from the ACQP's answer for {}",
                        payment.payment_request_id
                    ));
                    None
                }
                Err(refusal) => Some(refusal),
            },
            Err(refusal) => Some(refusal),
        };
        if let Some(refusal) = &outcome {
            record.note =
                Some(format!("PrivateOrderCode: no payment; the buyer was told: {}", refusal.message));
        }
        s.record_traffic(&record)?;
        match outcome {
            Some(refusal) => Ok(Err(refusal)),
            None => s.decode_order_code(&c, &a, clock.now()),
        }
    })
    .await
}

async fn blocking<T: Send + 'static>(
    store: &Arc<Store>,
    f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .unwrap_or_else(|error| Err(StoreError::Invalid(format!("background task failed: {error}"))))
}

fn cannot(code: &'static str, why: impl std::fmt::Display) -> OrderCodeRefusal {
    OrderCodeRefusal { code, message: format!("this code cannot be paid: {why}") }
}

/// Sends the signed `userInitiatedPay` and judges the answer; the traffic record either way.
async fn user_initiated_pay(
    clock: &SharedClock,
    target: &PrivateCodeTarget,
    code: &str,
    psp_id: &str,
    customer_id: &str,
) -> (TrafficRecord, Result<PrivateCodePayment, OrderCodeRefusal>) {
    let started = Instant::now();
    let app = &target.app;
    let body = json!({
        "acquirerId": app.acquirer_id,
        "pspId": psp_id,
        "codeValue": code,
        "customerId": customer_id,
    })
    .to_string();
    let mut record = TrafficRecord {
        at: Some(clock.now()),
        direction: "outbound",
        api: "userInitiatedPay".into(),
        client_id: Some(app.client_id.clone()),
        method: "POST".into(),
        uri: target.url.clone(),
        request_body: body.clone().into_bytes(),
        signature: "not-checked".into(),
        ..TrafficRecord::default()
    };
    let (url, uri) = match crate::notify::wire_url(&target.url) {
        Ok(parsed) => parsed,
        Err(e) => return (record, Err(cannot("ACQUIRER_UNREACHABLE", e))),
    };
    let request_time = format_instant(clock.now());
    let signature = app.private_key().and_then(|key| {
        let parts = MessageParts {
            method: "POST",
            uri: &uri,
            client_id: &app.client_id,
            time: &request_time,
            body: body.as_bytes(),
        };
        Ok(key.sign_message(&parts, Some(app.sandbox_key_version))?)
    });
    let signature = match signature {
        Ok(signature) => signature,
        Err(e) => {
            return (record, Err(cannot("ACQUIRER_UNREACHABLE", format!("the sandbox cannot sign: {e}"))))
        }
    };
    let headers = vec![
        ("content-type".to_string(), "application/json; charset=UTF-8".to_string()),
        ("client-id".to_string(), app.client_id.clone()),
        ("request-time".to_string(), request_time),
        ("signature".to_string(), signature),
    ];
    record.request_headers =
        headers.iter().map(|(n, v)| (n.clone(), crate::text::mask_header(n, v))).collect();
    // A real-time backstop only; the 8 s that count run on the sandbox clock below.
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(120))
        .build()
    {
        Ok(client) => client,
        Err(e) => return (record, Err(cannot("ACQUIRER_UNREACHABLE", e))),
    };
    let mut request = client.post(url);
    for (name, value) in &headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let exchange = async {
        let response = request.body(body.clone()).send().await?;
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let mut response = response;
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_ANSWER_BYTES {
                bytes.truncate(MAX_ANSWER_BYTES);
                break;
            }
        }
        Ok::<_, reqwest::Error>((status, headers, bytes))
    };
    let answered = tokio::select! {
        answer = exchange => Some(answer),
        () = clock.sleep(USER_INITIATED_PAY_TIMEOUT) => None,
    };
    record.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (status, headers, bytes) = match answered {
        None => {
            return (
                record,
                Err(cannot("ACQUIRER_TIMEOUT", "the merchant's acquirer did not answer within 8 seconds")),
            )
        }
        Some(Err(e)) => {
            return (
                record,
                Err(cannot(
                    "ACQUIRER_UNREACHABLE",
                    format!("the merchant's acquirer could not be reached ({e})"),
                )),
            )
        }
        Some(Ok(answer)) => answer,
    };
    record.response_status = Some(status);
    record.response_headers =
        headers.iter().map(|(n, v)| (n.clone(), crate::text::mask_header(n, v))).collect();
    record.response_body = bytes.clone();
    let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
    let text = |v: &Value, pointer: &str| v.pointer(pointer).and_then(Value::as_str).map(str::to_owned);
    if let Some(answer) = &parsed {
        record.result_code = text(answer, "/result/resultCode");
        record.result_status = text(answer, "/result/resultStatus");
        record.payment_request_id =
            text(answer, "/paymentRequestId").filter(|id| !id.is_empty() && id.len() <= 64);
    }
    let verdict = verify(&mut record, target, &uri, &headers, &bytes);
    let judged = judge(status, parsed, verdict);
    (record, judged)
}

/// The signature verdict on the answer: `Ok` when it verified, else the buyer's refusal. The
/// record gets `valid`, `missing` or `invalid` and, on a mismatch, the content Plusbox verified.
fn verify(
    record: &mut TrafficRecord,
    target: &PrivateCodeTarget,
    uri: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<(), OrderCodeRefusal> {
    let find =
        |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    let Some(header) = find("signature") else {
        record.signature = "missing".into();
        return Err(cannot("ACQUIRER_ANSWER_UNSIGNED", "the merchant's acquirer did not sign its answer"));
    };
    let Some((_, key)) = &target.acqp_key else {
        record.findings.push(json!({"kind": "no-acqp-key", "detail": "no ACQP public key is registered, so the answer cannot be verified"}));
        return Err(cannot(
            "ACQUIRER_ANSWER_BAD_SIGNATURE",
            "the merchant's acquirer has no public key registered, so its answer cannot be trusted",
        ));
    };
    let client_id = find("client-id").unwrap_or_else(|| target.app.client_id.clone());
    let response_time = find("response-time").unwrap_or_default();
    let parts = MessageParts { method: "POST", uri, client_id: &client_id, time: &response_time, body };
    let checked = PublicKey::parse(key).and_then(|k| {
        let parsed = SignatureHeader::parse(&header)?;
        k.verify(&parts.content(), &parsed.signature)?;
        Ok(parsed)
    });
    match checked {
        Ok(parsed) => {
            record.signature = "valid".into();
            for leniency in parsed.leniencies {
                record.findings.push(json!({"kind": "signature-leniency", "path": "header.signature", "detail": format!("{leniency:?}")}));
            }
            Ok(())
        }
        Err(error) => {
            record.signature = "invalid".into();
            record.findings.push(json!({
                "kind": "content-to-sign",
                "path": "header.signature",
                "detail": String::from_utf8_lossy(&parts.content()),
                "error": error.to_string(),
            }));
            Err(cannot(
                "ACQUIRER_ANSWER_BAD_SIGNATURE",
                "the signature on the merchant acquirer's answer does not verify",
            ))
        }
    }
}

/// Reads the payment out of a verified S answer (§11): `paymentRequestId`, the amount from
/// `paymentAmount` or else `amount`, `paymentExpiryTime`, `paymentNotifyUrl`; `codeType`, when
/// given, is `ORDER_CODE`.
fn judge(
    status: u16,
    parsed: Option<Value>,
    verdict: Result<(), OrderCodeRefusal>,
) -> Result<PrivateCodePayment, OrderCodeRefusal> {
    if status != 200 {
        return Err(cannot(
            "ACQUIRER_UNREACHABLE",
            format!("the merchant's acquirer answered HTTP {status}"),
        ));
    }
    let Some(mut answer) = parsed.filter(Value::is_object) else {
        return Err(cannot(
            "ACQUIRER_ANSWER_INCOMPLETE",
            "the merchant acquirer's answer is not a JSON object",
        ));
    };
    verdict?;
    let text = |pointer: &str| answer.pointer(pointer).and_then(Value::as_str).map(str::to_owned);
    let incomplete = |why: String| cannot("ACQUIRER_ANSWER_INCOMPLETE", why);
    match text("/result/resultStatus").as_deref() {
        Some("S") => {}
        other => {
            let code = text("/result/resultCode").unwrap_or_else(|| "no result code".into());
            let message =
                text("/result/resultMessage").or_else(|| text("/result/resultMsg")).unwrap_or_default();
            let status = other.unwrap_or("no status");
            return Err(cannot(
                "ACQUIRER_DECLINED_CODE",
                format!("the merchant's acquirer refused it ({status} {code}: {message})"),
            ));
        }
    }
    if let Some(kind) = text("/codeType").filter(|k| k != "ORDER_CODE") {
        return Err(incomplete(format!("the merchant's acquirer says it is a {kind}, not an ORDER_CODE")));
    }
    let payment_request_id = text("/paymentRequestId")
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| incomplete("the merchant acquirer's answer has no paymentRequestId".into()))?;
    if payment_request_id.chars().count() > 64 {
        return Err(incomplete(
            "the merchant acquirer's paymentRequestId is longer than 64 characters".into(),
        ));
    }
    let (field, wire) = match (answer.get("paymentAmount"), answer.get("amount")) {
        (Some(amount), _) if !amount.is_null() => ("paymentAmount", amount.clone()),
        (_, Some(amount)) if !amount.is_null() => ("amount", amount.clone()),
        _ => return Err(incomplete("the merchant acquirer's answer has no amount (paymentAmount)".into())),
    };
    let wire = serde_json::from_value(wire)
        .map_err(|e| incomplete(format!("the merchant acquirer's {field} is not an amount: {e}")))?;
    let amount =
        Amount::from_wire(&wire).map_err(|e| incomplete(format!("the merchant acquirer's {field}: {e}")))?;
    let expiry = match text("/paymentExpiryTime") {
        Some(t) => Some(parse_instant(&t).map_err(|e| incomplete(format!("paymentExpiryTime {t:?}: {e}")))?),
        None => None,
    };
    let notify_url = text("/paymentNotifyUrl");
    if let Some(url) = &notify_url {
        validate_url(url).map_err(|e| incomplete(format!("paymentNotifyUrl: {e}")))?;
    }
    // Traffic logs and reports label these payments (a Plusbox label, not a wire value).
    if let Some(factor) =
        answer.as_object_mut().map(|o| o.entry("paymentFactor").or_insert_with(|| json!({})))
    {
        if let Some(factor) = factor.as_object_mut() {
            factor.insert("inStorePaymentScenario".into(), json!("PrivateOrderCode"));
        }
    }
    Ok(PrivateCodePayment { payment_request_id, amount, expiry, notify_url, body: answer.to_string() })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ok() -> Result<(), OrderCodeRefusal> {
        Ok(())
    }

    fn answer() -> Value {
        json!({
            "result": {"resultCode": "SUCCESS", "resultStatus": "S", "resultMessage": "success"},
            "codeType": "ORDER_CODE",
            "paymentRequestId": "pay_poc_1",
            "paymentAmount": {"currency": "HKD", "value": "2500"},
        })
    }

    #[test]
    fn the_amount_comes_from_payment_amount_else_amount() {
        let paid = judge(200, Some(answer()), ok()).unwrap();
        assert_eq!(paid.amount.value, 2500);
        let mut fallback = answer();
        let amount = fallback.as_object_mut().unwrap().remove("paymentAmount").unwrap();
        fallback["amount"] = amount;
        assert_eq!(judge(200, Some(fallback), ok()).unwrap().amount.value, 2500);
        assert!(paid.body.contains("PrivateOrderCode"));
    }

    #[test]
    fn every_decode_failure_is_refused_in_words() {
        let mut no_amount = answer();
        no_amount.as_object_mut().unwrap().remove("paymentAmount");
        let refusal = judge(200, Some(no_amount), ok()).unwrap_err();
        assert_eq!(refusal.code, "ACQUIRER_ANSWER_INCOMPLETE");
        assert!(refusal.message.contains("no amount"), "{}", refusal.message);

        let mut declined = answer();
        declined["result"] =
            json!({"resultCode": "ORDER_IS_CLOSED", "resultStatus": "F", "resultMessage": "closed"});
        let refusal = judge(200, Some(declined), ok()).unwrap_err();
        assert_eq!(refusal.code, "ACQUIRER_DECLINED_CODE");
        assert!(refusal.message.contains("ORDER_IS_CLOSED"));

        let unsigned = Err(cannot("ACQUIRER_ANSWER_UNSIGNED", "unsigned"));
        assert_eq!(judge(200, Some(answer()), unsigned).unwrap_err().code, "ACQUIRER_ANSWER_UNSIGNED");
        assert_eq!(judge(500, Some(answer()), ok()).unwrap_err().code, "ACQUIRER_UNREACHABLE");
        assert_eq!(judge(200, Some(json!([1])), ok()).unwrap_err().code, "ACQUIRER_ANSWER_INCOMPLETE");
        let mut store_code = answer();
        store_code["codeType"] = json!("STORE_CODE");
        assert!(judge(200, Some(store_code), ok()).unwrap_err().message.contains("STORE_CODE"));
        let mut bad_value = answer();
        bad_value["paymentAmount"]["value"] = json!("-5");
        assert!(judge(200, Some(bad_value), ok()).unwrap_err().message.contains("paymentAmount"));
    }

    fn field_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            ".{0,24}".prop_map(Value::from),
            Just(json!("S")),
            Just(json!("2025-01-01T00:00:00+08:00")),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            proptest::collection::btree_map(
                prop_oneof![
                    Just("currency".to_string()),
                    Just("value".to_string()),
                    Just("resultStatus".to_string()),
                    "[a-z]{1,6}"
                ],
                inner,
                0..4,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect()))
        })
    }

    proptest::proptest! {
        /// Any answer — any of the fields §11 names with any JSON in them — is read or refused
        /// in words, never a panic.
        #[test]
        fn any_answer_is_read_or_refused(
            fields in proptest::collection::btree_map(
                proptest::prop_oneof![
                    proptest::strategy::Just("result".to_string()),
                    proptest::strategy::Just("paymentAmount".to_string()),
                    proptest::strategy::Just("amount".to_string()),
                    proptest::strategy::Just("paymentRequestId".to_string()),
                    proptest::strategy::Just("codeType".to_string()),
                    proptest::strategy::Just("paymentExpiryTime".to_string()),
                    proptest::strategy::Just("paymentNotifyUrl".to_string()),
                ],
                field_value(),
                0..7,
            ),
            status in 100u16..600,
        ) {
            let answer = Value::Object(fields.into_iter().collect());
            match judge(status, Some(answer), ok()) {
                Ok(payment) => proptest::prop_assert!(payment.amount.value > 0),
                Err(refusal) => proptest::prop_assert!(refusal.message.starts_with("this code cannot be paid: ")),
            }
        }
    }
}
