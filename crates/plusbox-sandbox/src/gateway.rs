//! The ACQP-facing Alipay+ gateway: envelope checks in the order of alipayplus-api.md §1.8,
//! body validation, mock rules, the business calls, signed answers and the traffic log.
//!
//! Every answer is HTTP 200 with a `result` object and a signed response (§1.4), and each
//! exchange is committed to the traffic log before the answer leaves.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use plusbox_core::signing::{MessageParts, SignatureHeader, SigningError};
use serde_json::{json, Map, Value};

use crate::result::ResultCode;
use crate::store::{
    validate_url, AppRecord, CallOutcome, PayDelivery, PayInput, PayOutcome, PayState, PaymentRecord,
    StoreError, TrafficRecord,
};
use crate::wire::{parse_body, parse_request_time, parse_wire_time, read_amount, wire_time, Fields, Illegal};
use crate::Shared;

/// The Alipay+ APIs this sandbox serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Pay,
    Inquiry,
    Cancel,
    Refund,
}

impl Api {
    fn from_path(path: &str) -> Option<Api> {
        match path {
            "/aps/api/v1/payments/pay" => Some(Api::Pay),
            "/aps/api/v1/payments/inquiryPayment" => Some(Api::Inquiry),
            "/aps/api/v1/payments/cancelPayment" => Some(Api::Cancel),
            "/aps/api/v1/payments/refund" => Some(Api::Refund),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Api::Pay => "pay",
            Api::Inquiry => "inquiryPayment",
            Api::Cancel => "cancelPayment",
            Api::Refund => "refund",
        }
    }
}

/// One exchange being handled: what the traffic log will record.
struct Exchange {
    started: Instant,
    record: TrafficRecord,
    /// Client-Id for the response header: the caller's, or the default application's.
    response_client_id: String,
    /// The application whose key signs the answer.
    signer: Option<AppRecord>,
}

/// The fallback handler: every request that is not `/healthz` or `/app/v1/…`.
pub(crate) async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let uri = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str().to_string())
        .unwrap_or_else(|| parts.uri.path().to_string());
    let headers = header_list(&parts.headers);
    let client_id = header(&parts.headers, "client-id");
    let api = Api::from_path(parts.uri.path());
    let mut exchange = Exchange {
        started,
        record: TrafficRecord {
            at: Some(shared.now()),
            direction: "inbound",
            api: api.map(Api::name).unwrap_or("unknown").to_string(),
            client_id: client_id.clone(),
            method: parts.method.to_string(),
            uri: uri.clone(),
            request_headers: headers,
            signature: "not-checked".into(),
            ..TrafficRecord::default()
        },
        response_client_id: client_id.clone().unwrap_or_default(),
        signer: None,
    };

    // The default application signs answers to callers we cannot identify.
    let client_for_lookup = client_id.clone();
    let apps = shared
        .blocking(move |store| {
            let caller = match client_for_lookup {
                Some(id) => store.app_by_client_id(&id)?,
                None => None,
            };
            let default = store.app().ok();
            Ok((caller, default))
        })
        .await;
    let (caller, default_app) = match apps {
        Ok(apps) => apps,
        Err(error) => return internal(&shared, exchange, &uri, error).await,
    };
    exchange.signer = caller.clone().or(default_app.clone());
    if exchange.response_client_id.is_empty() {
        exchange.response_client_id = default_app.map(|a| a.client_id).unwrap_or_default();
    }

    // §1.8: METHOD_NOT_SUPPORTED → INVALID_API → MEDIA_TYPE_NOT_ACCEPTABLE → body size.
    if parts.method != Method::POST {
        return answer(&shared, exchange, &uri, ResultCode::MethodNotSupported.result(), Value::Null).await;
    }
    let Some(api) = api else {
        let message = format!("{} is not an Alipay+ API served by this sandbox", parts.uri.path());
        return answer(&shared, exchange, &uri, ResultCode::InvalidApi.result_with(&message), Value::Null)
            .await;
    };
    for content_type in parts.headers.get_all("content-type") {
        let content_type = String::from_utf8_lossy(content_type.as_bytes());
        let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if media != "application/json" {
            let message = format!("Content-Type {content_type:?} is not accepted; send application/json");
            return answer(
                &shared,
                exchange,
                &uri,
                ResultCode::MediaTypeNotAcceptable.result_with(&message),
                Value::Null,
            )
            .await;
        }
    }
    let limit = shared.config.max_body_bytes;
    let body = match to_bytes(body, limit).await {
        Ok(bytes) => bytes,
        Err(_) => {
            exchange.record.note = Some(format!("body larger than {limit} bytes; not read"));
            let message = format!("body: the request body is larger than {limit} bytes");
            return answer(
                &shared,
                exchange,
                &uri,
                ResultCode::ParamIllegal.result_with(&message),
                Value::Null,
            )
            .await;
        }
    };
    exchange.record.request_body = body.to_vec();

    // INVALID_CLIENT → KEY_NOT_FOUND → INVALID_SIGNATURE.
    let Some(app) = caller else {
        let message = match &client_id {
            Some(id) => format!("Client-Id {id:?} is not a sandbox application"),
            None => "the Client-Id header is missing".to_string(),
        };
        return answer(&shared, exchange, &uri, ResultCode::InvalidClient.result_with(&message), Value::Null)
            .await;
    };
    let client_id = app.client_id.clone();
    let signature_header = header(&parts.headers, "signature");
    let parsed_header = signature_header.as_deref().map(SignatureHeader::parse);
    let requested_version = match &parsed_header {
        Some(Ok(h)) => h.key_version,
        _ => None,
    };
    let app_id = app.id;
    let key = match shared.blocking(move |store| store.acqp_key(app_id, requested_version)).await {
        Ok(key) => key,
        Err(error) => return internal(&shared, exchange, &uri, error).await,
    };
    let Some((key_version, key_b64)) = key else {
        let message = match requested_version {
            Some(v) => format!("no ACQP public key with keyVersion {v} is registered for {client_id}; upload it with `plusbox app set-key`"),
            None => format!("no ACQP public key is registered for {client_id}; upload it with `plusbox app set-key`"),
        };
        return answer(&shared, exchange, &uri, ResultCode::KeyNotFound.result_with(&message), Value::Null)
            .await;
    };
    let request_time = header(&parts.headers, "request-time");
    let message_parts = MessageParts {
        method: "POST",
        uri: &uri,
        client_id: &client_id,
        time: request_time.as_deref().unwrap_or(""),
        body: &body,
    };
    let verdict = match (&parsed_header, shared.public_key(&key_b64)) {
        (None, _) => Err(SigningError::MissingHeader),
        (Some(Err(error)), _) => Err(error.clone()),
        (Some(Ok(_)), Err(error)) => Err(error),
        (Some(Ok(parsed)), Ok(public_key)) => {
            public_key.verify(&message_parts.content(), &parsed.signature).map(|()| parsed.clone())
        }
    };
    match verdict {
        Ok(parsed) => {
            // Lenient forms pass; they are warnings in the findings, not a different verdict.
            exchange.record.signature = "valid".into();
            for leniency in &parsed.leniencies {
                exchange.record.findings.push(json!({
                    "kind": "signature-leniency",
                    "path": "header.signature",
                    "detail": format!("{leniency:?}"),
                }));
            }
            let _ = key_version;
        }
        Err(error) => {
            exchange.record.signature =
                if signature_header.is_none() { "missing".into() } else { "invalid".into() };
            // The integrator's best debugging aid: the exact bytes we verified (log only).
            exchange.record.findings.push(json!({
                "kind": "content-to-sign",
                "path": "header.signature",
                "detail": String::from_utf8_lossy(&message_parts.content()),
                "keyVersion": key_version,
            }));
            if request_time.is_none() {
                exchange.record.findings.push(json!({"kind": "missing-header", "path": "header.request-time", "detail": "Request-Time is part of the content to sign"}));
            }
            let message = format!("signature verification failed: {error}");
            return answer(
                &shared,
                exchange,
                &uri,
                ResultCode::InvalidSignature.result_with(&message),
                Value::Null,
            )
            .await;
        }
    }

    // PARAM_ILLEGAL: headers, then the body.
    let Some(request_time) = request_time else {
        return illegal(
            &shared,
            exchange,
            &uri,
            Illegal::new("header.Request-Time", "required header is missing"),
        )
        .await;
    };
    let Some(sent_at) = parse_request_time(&request_time) else {
        return illegal(
            &shared,
            exchange,
            &uri,
            Illegal::new("header.Request-Time", "must be ISO 8601 with an offset or epoch milliseconds"),
        )
        .await;
    };
    if let Some(skew) = shared.config.max_clock_skew {
        if (shared.now() - sent_at).abs() > skew {
            return illegal(
                &shared,
                exchange,
                &uri,
                Illegal::new("header.Request-Time", format!("more than {skew} away from the sandbox clock")),
            )
            .await;
        }
    }
    if header(&parts.headers, "encrypt").is_some() {
        return illegal(
            &shared,
            exchange,
            &uri,
            Illegal::new("header.Encrypt", "body encryption is not supported"),
        )
        .await;
    }
    let (map, findings) = match parse_body(&body, shared.config.strict_types) {
        Ok(parsed) => parsed,
        Err(illegal_field) => return illegal(&shared, exchange, &uri, illegal_field).await,
    };
    for finding in findings {
        exchange
            .record
            .findings
            .push(json!({"kind": finding.kind, "path": finding.path, "detail": finding.detail}));
    }
    if let Some(Value::String(id)) = map.get("paymentRequestId") {
        exchange.record.payment_request_id = Some(id.clone());
    }
    if let Some(Value::String(id)) = map.get("paymentId") {
        exchange.record.payment_id = Some(id.clone());
    }
    let request = match validate(api, &map, &body) {
        Ok(request) => request,
        Err(illegal_field) => return illegal(&shared, exchange, &uri, illegal_field).await,
    };

    // iMock: a rule forces the answer; the business logic does not run.
    let now = shared.now();
    let api_name = api.name();
    match shared.blocking(move |store| store.take_mock(api_name, now)).await {
        Ok(Some((mock_id, code))) => {
            exchange.record.mock_id = Some(mock_id);
            exchange.record.note = Some(format!("answer forced by mock rule #{mock_id}"));
            let message = format!("{} (forced by mock rule #{mock_id})", code.message());
            let extra = json!({"acquirerId": app.acquirer_id});
            return answer(&shared, exchange, &uri, code.result_with(&message), extra).await;
        }
        Ok(None) => {}
        Err(error) => return internal(&shared, exchange, &uri, error).await,
    }

    match request {
        Request_::Pay(input) => pay(shared, exchange, &uri, app, input).await,
        Request_::Lookup { payment_request_id, payment_id } => {
            let app_id = app.id;
            if api == Api::Inquiry {
                let result = shared
                    .blocking(move |store| {
                        store.inquire(app_id, payment_request_id.as_deref(), payment_id.as_deref(), now)
                    })
                    .await;
                shared.changed();
                match result {
                    Ok(Ok(Some((payment, transactions)))) => {
                        exchange.record.payment_id = Some(payment.payment_id.clone());
                        let mut body = payment_fields(&app, &payment, payment.paid_at.is_some());
                        body.insert("paymentResult".into(), payment.payment_result());
                        body.insert("paymentRequestId".into(), json!(payment.payment_request_id));
                        if !transactions.is_empty() {
                            body.insert("transactions".into(), Value::Array(transactions));
                        }
                        answer(&shared, exchange, &uri, ResultCode::Success.result(), Value::Object(body))
                            .await
                    }
                    Ok(Ok(None)) => {
                        let extra = json!({"acquirerId": app.acquirer_id});
                        answer(&shared, exchange, &uri, ResultCode::OrderNotExist.result(), extra).await
                    }
                    Ok(Err(message)) => {
                        illegal(&shared, exchange, &uri, Illegal::new("paymentId", message)).await
                    }
                    Err(error) => internal(&shared, exchange, &uri, error).await,
                }
            } else {
                let result = shared
                    .blocking(move |store| {
                        store.cancel(app_id, payment_request_id.as_deref(), payment_id.as_deref(), now)
                    })
                    .await;
                shared.changed();
                match result {
                    Ok(outcome) => call_answer(&shared, exchange, &uri, &app, outcome).await,
                    Err(error) => internal(&shared, exchange, &uri, error).await,
                }
            }
        }
        Request_::Refund { payment_request_id, payment_id, refund_request_id, amount, reason } => {
            let app_id = app.id;
            let result = shared
                .blocking(move |store| {
                    store.refund(
                        app_id,
                        payment_request_id.as_deref(),
                        payment_id.as_deref(),
                        &refund_request_id,
                        &amount,
                        reason.as_deref(),
                        now,
                    )
                })
                .await;
            shared.changed();
            match result {
                Ok(outcome) => call_answer(&shared, exchange, &uri, &app, outcome).await,
                Err(error) => internal(&shared, exchange, &uri, error).await,
            }
        }
    }
}

/// A validated request.
enum Request_ {
    Pay(PayInput),
    Lookup {
        payment_request_id: Option<String>,
        payment_id: Option<String>,
    },
    Refund {
        payment_request_id: Option<String>,
        payment_id: Option<String>,
        refund_request_id: String,
        amount: crate::wire::Money,
        reason: Option<String>,
    },
}

fn validate(api: Api, map: &Map<String, Value>, body: &[u8]) -> Result<Request_, Illegal> {
    let root = Fields::root(map);
    match api {
        Api::Pay => {
            let payment_request_id = root.req_str("paymentRequestId", 64)?;
            let amount = read_amount(&root, "paymentAmount", true)?
                .ok_or_else(|| Illegal::new("paymentAmount", "required field is missing"))?;
            let method = root.req_obj("paymentMethod")?;
            let method_type = method.req_str("paymentMethodType", 64)?;
            let code = method.req_str("paymentMethodId", 128)?;
            let factor = root.req_obj("paymentFactor")?;
            let in_store = factor.req_str("isInStorePayment", 8)?;
            if in_store != "true" {
                return Err(Illegal::new(
                    factor.path("isInStorePayment"),
                    "must be \"true\" for an in-store payment",
                ));
            }
            let scenario = factor.req_str("inStorePaymentScenario", 32)?;
            if scenario != "PaymentCode" {
                return Err(Illegal::new(
                    factor.path("inStorePaymentScenario"),
                    format!("{scenario} is not supported by this sandbox yet; use PaymentCode (user-presented mode)"),
                ));
            }
            let order = root.req_obj("order")?;
            order.req_str("referenceOrderId", 64)?;
            order.req_str("orderDescription", 256)?;
            read_amount(&order, "orderAmount", true)?;
            let merchant = order.req_obj("merchant")?;
            merchant.opt_str("referenceMerchantId", 64)?;
            // UPM requires the store (§4.2).
            merchant.req_obj("store")?;
            let expiry = match root.opt_str("paymentExpiryTime", 64)? {
                Some(text) => Some(parse_wire_time(text).ok_or_else(|| {
                    Illegal::new(
                        "paymentExpiryTime",
                        "must be ISO 8601 with an offset, e.g. 2025-01-01T12:00:00+08:00",
                    )
                })?),
                None => None,
            };
            let notify_url = root.opt_str("paymentNotifyUrl", 2048)?;
            if let Some(url) = notify_url {
                validate_url(url).map_err(|reason| Illegal::new("paymentNotifyUrl", reason))?;
            }
            let settlement = root.opt_obj("settlementStrategy")?;
            if let Some(settlement) = &settlement {
                settlement.opt_str("settlementCurrency", 3)?;
            }
            let key_fields = canonical(&json!({
                "paymentAmount": map.get("paymentAmount"),
                "paymentFactor": map.get("paymentFactor"),
                "settlementStrategy": map.get("settlementStrategy"),
                "paymentMethodType": method_type,
            }));
            Ok(Request_::Pay(PayInput {
                payment_request_id: payment_request_id.to_string(),
                key_fields,
                amount,
                code: code.to_string(),
                expiry,
                notify_url: notify_url.map(str::to_string),
                request_body: String::from_utf8_lossy(body).into_owned(),
            }))
        }
        Api::Inquiry | Api::Cancel | Api::Refund => {
            let payment_request_id = root.opt_str("paymentRequestId", 64)?.map(str::to_string);
            let payment_id = root.opt_str("paymentId", 64)?.map(str::to_string);
            if payment_request_id.is_none() && payment_id.is_none() {
                return Err(Illegal::new(
                    "paymentRequestId",
                    "either paymentRequestId or paymentId is required",
                ));
            }
            if api != Api::Refund {
                return Ok(Request_::Lookup { payment_request_id, payment_id });
            }
            let refund_request_id = root.req_str("refundRequestId", 64)?.to_string();
            let amount = read_amount(&root, "refundAmount", true)?
                .ok_or_else(|| Illegal::new("refundAmount", "required field is missing"))?;
            let reason = root.opt_str("refundReason", 256)?.map(str::to_string);
            Ok(Request_::Refund { payment_request_id, payment_id, refund_request_id, amount, reason })
        }
    }
}

/// JSON with object keys sorted, so key-field comparison ignores key order.
fn canonical(value: &Value) -> String {
    fn sort(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let sorted: BTreeMap<&String, Value> = map.iter().map(|(k, v)| (k, sort(v))).collect();
                Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    sort(value).to_string()
}

async fn pay(
    shared: Arc<Shared>,
    mut exchange: Exchange,
    uri: &str,
    app: AppRecord,
    input: PayInput,
) -> Response {
    let now = shared.now();
    let app_for_store = app.clone();
    let outcome = shared.blocking(move |store| store.pay(&app_for_store, &input, now)).await;
    shared.changed();
    match outcome {
        Ok(PayOutcome::Refused(code, message)) => {
            let extra = json!({"acquirerId": app.acquirer_id});
            answer(&shared, exchange, uri, code.result_with(&message), extra).await
        }
        Ok(PayOutcome::Payment { payment, forced, delivery, repeat }) => {
            exchange.record.payment_id = Some(payment.payment_id.clone());
            if repeat {
                exchange.record.note =
                    Some("repeat of an earlier pay: answered with the payment's current state".into());
            }
            match delivery {
                PayDelivery::Now => {}
                PayDelivery::After(delay) => {
                    exchange.record.note = Some(format!("scenario slow: answer delayed by {delay}"));
                    shared.config.clock.sleep(delay).await;
                }
                PayDelivery::Never => {
                    exchange.record.note = Some("scenario no-answer: this pay is never answered".into());
                    exchange.record.duration_ms = exchange.started.elapsed().as_secs_f64() * 1000.0;
                    let record = exchange.record.clone();
                    let _ = shared.blocking(move |store| store.record_traffic(&record)).await;
                    // Hold the connection until the client gives up or the server stops.
                    let mut stop = shared.shutdown.clone();
                    let _ = stop.wait_for(|stopped| *stopped).await;
                    return Response::builder()
                        .status(StatusCode::SERVICE_UNAVAILABLE)
                        .body(Body::empty())
                        .unwrap_or_default();
                }
            }
            let (result, success_fields) = match (forced, payment.state) {
                (Some(code), _) => (code.result(), false),
                (None, PayState::Processing) => (ResultCode::PaymentInProcess.result(), false),
                (None, PayState::Success) => (ResultCode::Success.result(), true),
                (None, _) => (payment.payment_result(), false),
            };
            let body = payment_fields(&app, &payment, success_fields);
            answer(&shared, exchange, uri, result, Value::Object(body)).await
        }
        Err(error) => internal(&shared, exchange, uri, error).await,
    }
}

/// The fields a pay/inquiry answer carries about a payment; wallet fields only once paid.
fn payment_fields(app: &AppRecord, payment: &PaymentRecord, paid: bool) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("acquirerId".into(), json!(app.acquirer_id));
    body.insert("paymentId".into(), json!(payment.payment_id));
    body.insert("paymentAmount".into(), payment.amount.to_wire());
    if paid {
        body.insert("pspId".into(), json!(payment.psp_id));
        if let Some(paid_at) = payment.paid_at {
            body.insert("paymentTime".into(), json!(wire_time(paid_at)));
        }
        body.insert("customerId".into(), json!(payment.customer_id));
        body.insert("walletBrandName".into(), json!(payment.wallet_brand_name));
    }
    body
}

async fn call_answer(
    shared: &Arc<Shared>,
    mut exchange: Exchange,
    uri: &str,
    app: &AppRecord,
    outcome: CallOutcome,
) -> Response {
    let mut body = Map::new();
    body.insert("acquirerId".into(), json!(app.acquirer_id));
    if let Some(payment) = &outcome.payment {
        exchange.record.payment_id = Some(payment.payment_id.clone());
        exchange.record.payment_request_id = Some(payment.payment_request_id.clone());
        body.insert("pspId".into(), json!(payment.psp_id));
    }
    if let Some(refund) = &outcome.refund {
        body.insert("refundId".into(), json!(refund.refund_id));
        body.insert("refundTime".into(), json!(refund.refund_time));
        body.insert("refundAmount".into(), refund.amount.to_wire());
    }
    answer(shared, exchange, uri, outcome.code.result_with(&outcome.message), Value::Object(body)).await
}

async fn illegal(shared: &Arc<Shared>, exchange: Exchange, uri: &str, illegal: Illegal) -> Response {
    answer(shared, exchange, uri, ResultCode::ParamIllegal.result_with(&illegal.message()), Value::Null).await
}

/// A store failure: U `UNKNOWN_EXCEPTION` (retry), never a 500.
async fn internal(shared: &Arc<Shared>, mut exchange: Exchange, uri: &str, error: StoreError) -> Response {
    tracing::error!(%error, "request failed inside the sandbox");
    exchange.record.note = Some(format!("internal error: {error}"));
    answer(
        shared,
        exchange,
        uri,
        ResultCode::UnknownException
            .result_with("the sandbox could not process the request; retry with the same IDs"),
        Value::Null,
    )
    .await
}

/// Builds, signs, logs and returns the HTTP 200 answer.
async fn answer(
    shared: &Arc<Shared>,
    mut exchange: Exchange,
    uri: &str,
    result: Value,
    extra: Value,
) -> Response {
    let mut body = Map::new();
    body.insert("result".into(), result);
    if let Value::Object(extra) = extra {
        for (key, value) in extra {
            body.insert(key, value);
        }
    }
    let body_text = Value::Object(body).to_string();
    exchange.record.result_code = body_text_result(&body_text, "resultCode");
    exchange.record.result_status = body_text_result(&body_text, "resultStatus");
    let response_time = wire_time(shared.now());
    let client_id = exchange.response_client_id.clone();
    let uri = uri.to_string();
    let signer = exchange.signer.take();
    let started = exchange.started;
    let mut record = exchange.record;
    let shared_for_key = Arc::clone(shared);
    let signed = shared
        .blocking(move |store| {
            let signature = match &signer {
                Some(app) => {
                    let key = shared_for_key.private_key(app.sandbox_private_key.expose())?;
                    let parts = MessageParts {
                        method: "POST",
                        uri: &uri,
                        client_id: &client_id,
                        time: &response_time,
                        body: body_text.as_bytes(),
                    };
                    Some(key.sign_message(&parts, Some(app.sandbox_key_version))?)
                }
                None => None,
            };
            let mut response_headers = vec![
                ("content-type".to_string(), "application/json; charset=UTF-8".to_string()),
                ("client-id".to_string(), client_id.clone()),
                ("response-time".to_string(), response_time.clone()),
            ];
            if let Some(signature) = &signature {
                response_headers.push(("signature".to_string(), signature.clone()));
            }
            record.response_status = Some(200);
            record.response_headers = response_headers.clone();
            record.response_body = body_text.clone().into_bytes();
            record.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
            // Durable before the answer leaves (the commit returns only once written).
            store.record_traffic(&record)?;
            Ok((response_headers, body_text))
        })
        .await;
    match signed {
        Ok((headers, body_text)) => {
            let mut response = Response::new(Body::from(body_text));
            for (name, value) in headers {
                if let (Ok(name), Ok(value)) =
                    (axum::http::HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value))
                {
                    response.headers_mut().insert(name, value);
                }
            }
            response
        }
        Err(error) => {
            tracing::error!(%error, "could not sign or log an answer");
            let body = json!({"result": ResultCode::UnknownException.result_with("the sandbox could not sign its answer; retry")});
            let mut response = Response::new(Body::from(body.to_string()));
            response.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=UTF-8"),
            );
            response
        }
    }
}

fn body_text_result(body: &str, key: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    value.get("result")?.get(key)?.as_str().map(str::to_string)
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

fn header_list(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let value = if name.as_str() == "agent-token" {
                "***".to_string()
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            (name.as_str().to_string(), value)
        })
        .collect()
}
