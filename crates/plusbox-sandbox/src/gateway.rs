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
use plusbox_core::money::Amount;
use plusbox_core::protocol::lenient::{self, FindingKind, HygieneFinding, JsonKind, ParseOptions};
use plusbox_core::protocol::time::{format_instant, parse_instant, parse_request_time};
use plusbox_core::protocol::{
    CancelPaymentRequest, DeclareRequest, DisputeResponseRequest, FieldError, InStoreScenario,
    InquireDeclarationRequestsRequest, InquiryPaymentRequest, InquiryRegistrationStatusRequest, PayRequest,
    Problem, RefundRequest, RegistrationRequest, Validate, WireResult,
};
use plusbox_core::result_code::ResultCode;
use plusbox_core::signing::{MessageParts, SignatureHeader, SigningError};
use serde_json::{json, Map, Value};

use crate::store::{
    validate_url, AgentTokenCheck, AppRecord, CallOutcome, Envelope, Inquiry, MockAction, PayDelivery,
    PayInput, PayOutcome, PayState, PaymentRecord, StoreError, Tamper, TrafficRecord, TspProduct,
};
use crate::Shared;

/// The Alipay+ APIs this sandbox serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Pay,
    Inquiry,
    Cancel,
    Refund,
    Registration,
    InquiryRegistration,
    Declare,
    InquireDeclarations,
    ResponseRetrieval,
    ResponseEscalation,
}

impl Api {
    fn from_path(path: &str) -> Option<Api> {
        match path {
            "/aps/api/v1/payments/pay" => Some(Api::Pay),
            "/aps/api/v1/payments/inquiryPayment" => Some(Api::Inquiry),
            "/aps/api/v1/payments/cancelPayment" => Some(Api::Cancel),
            "/aps/api/v1/payments/refund" => Some(Api::Refund),
            "/aps/api/v1/merchants/registration" => Some(Api::Registration),
            "/aps/api/v1/merchants/inquiryRegistrationStatus" => Some(Api::InquiryRegistration),
            "/aps/api/v1/customs/declare" => Some(Api::Declare),
            "/aps/api/v1/customs/inquireDeclarationRequests" => Some(Api::InquireDeclarations),
            plusbox_core::protocol::RESPONSE_RETRIEVAL_PATH => Some(Api::ResponseRetrieval),
            plusbox_core::protocol::RESPONSE_ESCALATION_PATH => Some(Api::ResponseEscalation),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Api::Pay => "pay",
            Api::Inquiry => "inquiryPayment",
            Api::Cancel => "cancelPayment",
            Api::Refund => "refund",
            Api::Registration => "registration",
            Api::InquiryRegistration => "inquiryRegistrationStatus",
            Api::Declare => "declare",
            Api::InquireDeclarations => "inquireDeclarationRequests",
            Api::ResponseRetrieval => "responseRetrieval",
            Api::ResponseEscalation => "responseEscalation",
        }
    }
}

/// One exchange being handled: what the traffic log will record.
pub(crate) struct Exchange {
    started: Instant,
    pub(crate) record: TrafficRecord,
    /// Client-Id for the response header: the caller's, or the default application's.
    response_client_id: String,
    /// The application whose key signs the answer.
    signer: Option<AppRecord>,
    /// A tamper rule caught this call: spoil the signed answer (rule id, how).
    tamper: Option<(i64, Tamper)>,
}

/// What processing a request produced: an answer to send now, one to send after a delay
/// (scenario `slow`, magic amount 906), or none ever (`no-answer`).
pub(crate) enum Reply {
    Now(Response),
    Later { delay: time::Duration, pending: Box<Pending> },
    Never,
}

impl From<Response> for Reply {
    fn from(response: Response) -> Self {
        Reply::Now(response)
    }
}

/// An answer held back by a delay: signed and logged only when it is sent.
pub(crate) struct Pending {
    exchange: Exchange,
    uri: String,
    result: WireResult,
    extra: Value,
}

/// The fallback handler: every request that is not `/healthz` or `/app/v1/…`.
///
/// The body is read here (async); everything else — lookups, signature verification, intake,
/// the business call, signing and the durable traffic write — runs in one blocking task, so a
/// request costs one trip to a blocking thread.
pub(crate) async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    // The size limit is judged in its place in the check order (after the media type).
    let body = read_body(body, shared.config.max_body_bytes).await;
    let fallback = (
        parts.uri.path_and_query().map(|pq| pq.as_str().to_string()).unwrap_or_default(),
        header(&parts.headers, "client-id"),
    );
    let worker = Arc::clone(&shared);
    let reply = tokio::task::spawn_blocking(move || process(&worker, started, parts, body)).await;
    match reply {
        Ok(Reply::Now(response)) => response,
        Ok(Reply::Later { delay, pending }) => {
            shared.config.clock.sleep(delay).await;
            let worker = Arc::clone(&shared);
            let Pending { exchange, uri, result, extra } = *pending;
            let failed = Arc::clone(&shared);
            tokio::task::spawn_blocking(move || answer(&worker, exchange, &uri, result, extra))
                .await
                .unwrap_or_else(|error| task_failed(&failed, &error, &fallback.0, fallback.1))
        }
        Ok(Reply::Never) => {
            // Hold the connection until the client gives up or the server stops.
            let mut stop = shared.shutdown.clone();
            let _ = stop.wait_for(|stopped| *stopped).await;
            Response::builder()
                .status(StatusCode::SERVICE_UNAVAILABLE)
                .body(Body::empty())
                .unwrap_or_default()
        }
        Err(error) => task_failed(&shared, &error, &fallback.0, fallback.1),
    }
}

/// Why a request body could not be taken.
pub(crate) enum BodyProblem {
    /// Over the configured limit.
    TooLarge,
    /// The client did not finish sending it in time.
    TimedOut,
    /// The HTTP framing was broken (bad chunked encoding, a connection cut mid-body, …).
    Unreadable(String),
}

/// How long a request body may take to arrive in full (real time).
const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Reads the body up to `limit` bytes, telling a body that is too large from one that is broken.
async fn read_body(body: Body, limit: usize) -> Result<axum::body::Bytes, BodyProblem> {
    match tokio::time::timeout(BODY_READ_TIMEOUT, to_bytes(body, limit)).await {
        Err(_) => Err(BodyProblem::TimedOut),
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(error)) => {
            let inner = error.into_inner();
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&*inner);
            while let Some(error) = source {
                if error.is::<http_body_util::LengthLimitError>() {
                    return Err(BodyProblem::TooLarge);
                }
                source = error.source();
            }
            let mut text = inner.to_string();
            let mut next = inner.source();
            while let Some(cause) = next {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                next = cause.source();
            }
            Err(BodyProblem::Unreadable(text))
        }
    }
}

/// The blocking task died (a bug): still an HTTP 200 U `UNKNOWN_EXCEPTION`, never a 500, signed
/// by the default application with `client-id` and `response-time` on the wall clock, so a
/// client that verifies answers can read it.
fn task_failed(
    shared: &Arc<Shared>,
    error: &tokio::task::JoinError,
    uri: &str,
    client_id: Option<String>,
) -> Response {
    tracing::error!(%error, "request task failed");
    let message = "the sandbox could not process the request; retry with the same IDs";
    let body = json!({"result": WireResult::with_message(ResultCode::UnknownException, message)}).to_string();
    // The caller's application signs when its Client-Id is known; the default one otherwise.
    let caller = client_id.as_deref().and_then(|id| shared.store.app_by_client_id(id).ok().flatten());
    let app = match caller.map(Ok).unwrap_or_else(|| shared.store.app()) {
        Ok(app) => app,
        Err(_) => return unsigned_unknown(message),
    };
    let client_id = client_id.unwrap_or_else(|| app.client_id.clone());
    let response_time = format_instant(time::OffsetDateTime::now_utc());
    let parts = MessageParts {
        method: "POST",
        uri,
        client_id: &client_id,
        time: &response_time,
        body: body.as_bytes(),
    };
    let signature = shared
        .private_key(app.sandbox_private_key.expose())
        .and_then(|key| key.sign_message(&parts, Some(app.sandbox_key_version)));
    let mut response = unsigned_unknown(message);
    let headers = response.headers_mut();
    for (name, value) in [("client-id", client_id), ("response-time", response_time)] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    if let Ok(Ok(value)) = signature.map(|s| HeaderValue::from_str(&s)) {
        headers.insert("signature", value);
    }
    response
}

/// An unsigned U `UNKNOWN_EXCEPTION` for when signing itself is impossible.
fn unsigned_unknown(message: &str) -> Response {
    let body = json!({"result": WireResult::with_message(ResultCode::UnknownException, message)});
    let mut response = Response::new(Body::from(body.to_string()));
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    response
}

/// Everything after reading the body, on a blocking thread (see [`handle`]).
fn process(
    shared: &Arc<Shared>,
    started: Instant,
    parts: axum::http::request::Parts,
    body: Result<axum::body::Bytes, BodyProblem>,
) -> Reply {
    // Sandbox time may have been moved by another process a moment ago.
    shared.sync_clock();
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
        tamper: None,
    };

    // One read: the caller, the default application (it signs answers to callers we cannot
    // identify), the caller's key for the keyVersion asked for, and whether a mock is active.
    let signature_header = header(&parts.headers, "signature");
    let parsed_header = signature_header.as_deref().map(SignatureHeader::parse);
    let requested_version = match &parsed_header {
        Some(Ok(h)) => h.key_version,
        _ => None,
    };
    let envelope = shared.store.envelope(
        client_id.as_deref(),
        requested_version,
        api.map(Api::name).unwrap_or("unknown"),
        shared.now(),
    );
    let Envelope { caller, default: default_app, key, mock_active } = match envelope {
        Ok(envelope) => envelope,
        Err(error) => return internal(shared, exchange, &uri, error).into(),
    };
    exchange.signer = caller.clone().or(default_app.clone());
    if exchange.response_client_id.is_empty() {
        exchange.response_client_id = default_app.map(|a| a.client_id).unwrap_or_default();
    }

    // §1.8: METHOD_NOT_SUPPORTED → INVALID_API → MEDIA_TYPE_NOT_ACCEPTABLE → body size.
    if parts.method != Method::POST {
        return answer(
            shared,
            exchange,
            &uri,
            WireResult::from_code(ResultCode::MethodNotSupported),
            Value::Null,
        )
        .into();
    }
    let Some(api) = api else {
        let message = format!("{} is not an Alipay+ API served by this sandbox", parts.uri.path());
        return answer(
            shared,
            exchange,
            &uri,
            WireResult::with_message(ResultCode::InvalidApi, message),
            Value::Null,
        )
        .into();
    };
    for content_type in parts.headers.get_all("content-type") {
        let content_type = String::from_utf8_lossy(content_type.as_bytes());
        let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if media != "application/json" {
            let message = format!("Content-Type {content_type:?} is not accepted; send application/json");
            return answer(
                shared,
                exchange,
                &uri,
                WireResult::with_message(ResultCode::MediaTypeNotAcceptable, message),
                Value::Null,
            )
            .into();
        }
    }
    let limit = shared.config.max_body_bytes;
    let body = match body {
        Ok(bytes) => bytes,
        Err(problem) => {
            let (note, message) = match problem {
                BodyProblem::TooLarge => (
                    format!("body larger than {limit} bytes; not read"),
                    format!("body: the request body is larger than {limit} bytes"),
                ),
                BodyProblem::TimedOut => (
                    "the body did not arrive in time; not read".to_string(),
                    format!("body: the request body did not arrive within {} s", BODY_READ_TIMEOUT.as_secs()),
                ),
                BodyProblem::Unreadable(reason) => {
                    let reason = crate::text::for_log(&reason).into_owned();
                    (
                        format!("body unreadable: {reason}"),
                        format!("body: the request body could not be read (bad HTTP framing, e.g. a malformed chunked encoding or a connection cut mid-body): {reason}"),
                    )
                }
            };
            exchange.record.note = Some(note);
            return answer(
                shared,
                exchange,
                &uri,
                WireResult::with_message(ResultCode::ParamIllegal, message),
                Value::Null,
            )
            .into();
        }
    };
    exchange.record.request_body = body.to_vec();

    // INVALID_CLIENT → KEY_NOT_FOUND → INVALID_SIGNATURE.
    let Some(app) = caller else {
        let message = match &client_id {
            Some(id) => format!("Client-Id {id:?} is not a sandbox application"),
            None => "the Client-Id header is missing".to_string(),
        };
        return answer(
            shared,
            exchange,
            &uri,
            WireResult::with_message(ResultCode::InvalidClient, message),
            Value::Null,
        )
        .into();
    };
    let client_id = app.client_id.clone();
    let Some((key_version, key_b64)) = key else {
        let message = match requested_version {
            Some(v) => format!("no ACQP public key with keyVersion {v} is registered for {client_id}; upload it with `plusbox app set-key`"),
            None => format!("no ACQP public key is registered for {client_id}; upload it with `plusbox app set-key`"),
        };
        return answer(
            shared,
            exchange,
            &uri,
            WireResult::with_message(ResultCode::KeyNotFound, message),
            Value::Null,
        )
        .into();
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
                shared,
                exchange,
                &uri,
                WireResult::with_message(ResultCode::InvalidSignature, message),
                Value::Null,
            )
            .into();
        }
    }

    // ACCESS_DENIED for TSP mode (alipayplus-api.md §14), right after INVALID_SIGNATURE and
    // before PARAM_ILLEGAL. Authentication comes before authorization: until the signature is
    // verified the Client-Id is only a claim, so judging an Agent-Token against it would let an
    // unsigned request probe which tokens are live, and would report a permission problem where
    // the real one is the signature. Before PARAM_ILLEGAL, because a caller without permission
    // is told nothing about its body. The product scope needs the parsed body; it is checked
    // after PARAM_ILLEGAL (see `out_of_scope`).
    let agent_token = header(&parts.headers, "agent-token");
    let granted = match shared.store.check_agent_token(app.id, agent_token.as_deref()) {
        Ok(AgentTokenCheck::NotTspMode) => None,
        Ok(AgentTokenCheck::Granted(products)) => Some(products),
        Ok(AgentTokenCheck::Denied(message)) => {
            // The body is not judged, but the IDs it names link the refusal to its payment in
            // the traffic log (a test run finds its refused calls by them).
            let named: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let id = |key: &str| named.get(key).and_then(Value::as_str).map(str::to_owned);
            exchange.record.payment_request_id = id("paymentRequestId");
            exchange.record.payment_id = id("paymentId");
            exchange.record.findings.push(json!({
                "kind": "agent-token",
                "path": "header.agent-token",
                "detail": message,
            }));
            return answer(
                shared,
                exchange,
                &uri,
                WireResult::with_message(ResultCode::AccessDenied, message),
                Value::Null,
            )
            .into();
        }
        Err(error) => return internal(shared, exchange, &uri, error).into(),
    };

    // PARAM_ILLEGAL: headers, then the body.
    let Some(request_time) = request_time else {
        return illegal(shared, exchange, &uri, FieldError::new("header.Request-Time", Problem::Missing))
            .into();
    };
    let Ok(sent_at) = parse_request_time(&request_time) else {
        return illegal(
            shared,
            exchange,
            &uri,
            FieldError::new(
                "header.Request-Time",
                Problem::Invalid("must be ISO 8601 with an offset or epoch milliseconds".into()),
            ),
        )
        .into();
    };
    if let Some(skew) = shared.config.max_clock_skew {
        if (shared.now() - sent_at).abs() > skew {
            return illegal(
                shared,
                exchange,
                &uri,
                FieldError::new(
                    "header.Request-Time",
                    Problem::Invalid(format!("more than {skew} away from the sandbox clock")),
                ),
            )
            .into();
        }
    }
    if header(&parts.headers, "encrypt").is_some() {
        return illegal(
            shared,
            exchange,
            &uri,
            FieldError::new("header.Encrypt", Problem::Invalid("body encryption is not supported".into())),
        )
        .into();
    }
    let options = if shared.config.strict_types { ParseOptions::strict() } else { ParseOptions::lenient() };
    let intake = intake(api, &body, options);
    for finding in &intake.findings {
        exchange.record.findings.push(finding_json(finding));
    }
    exchange.record.payment_request_id = intake.payment_request_id;
    exchange.record.payment_id = intake.payment_id;
    let request = match intake.request {
        Ok(request) => request,
        Err(illegal_field) => return illegal(shared, exchange, &uri, illegal_field).into(),
    };

    if let Some(message) = granted.as_deref().and_then(|products| out_of_scope(products, &request)) {
        exchange
            .record
            .findings
            .push(json!({"kind": "agent-token", "path": "header.agent-token", "detail": message}));
        let result = WireResult::with_message(ResultCode::AccessDenied, message);
        return answer(shared, exchange, &uri, result, Value::Null).into();
    }

    // iMock: a rule forces the answer; the business logic does not run.
    let now = shared.now();
    let api_name = api.name();
    // Almost every request finds no rule; only then is the write lock taken.
    let mock = if mock_active { shared.store.take_mock_for(api_name, &body, now) } else { Ok(None) };
    match mock {
        Ok(Some((mock_id, MockAction::Tamper(tamper)))) => {
            // The call runs as usual; only its signed answer is spoiled (see `answer`).
            exchange.record.mock_id = Some(mock_id);
            exchange.tamper = Some((mock_id, tamper));
        }
        Ok(Some((mock_id, MockAction::Force(code)))) => {
            exchange.record.mock_id = Some(mock_id);
            exchange.record.note = Some(format!("answer forced by mock rule #{mock_id}"));
            let message = format!("{} (forced by mock rule #{mock_id})", code.default_message());
            let extra = json!({"acquirerId": app.acquirer_id});
            return answer(shared, exchange, &uri, WireResult::with_message(code, message), extra).into();
        }
        Ok(None) => {}
        Err(error) => return internal(shared, exchange, &uri, error).into(),
    }

    // The application switch of §13.1: `pay` serves registered merchants only.
    if api == Api::Pay {
        match unregistered_merchant(shared, &app, &body, now) {
            Ok(None) => {}
            Ok(Some(message)) => {
                let extra = json!({"acquirerId": app.acquirer_id});
                let result = WireResult::with_message(ResultCode::MerchantNotRegistered, message);
                return answer(shared, exchange, &uri, result, extra).into();
            }
            Err(error) => return internal(shared, exchange, &uri, error).into(),
        }
    }

    match request {
        Request_::Registration(input) => crate::merchants::registration(shared, exchange, &uri, &app, *input),
        Request_::InquiryRegistration { registration_request_id, merchant, store } => {
            crate::merchants::inquiry(shared, exchange, &uri, &app, registration_request_id, merchant, store)
        }
        Request_::Declare(input) => crate::customs::declare(shared, exchange, &uri, &app, *input),
        Request_::InquireDeclarations(ids) => crate::customs::inquire(shared, exchange, &uri, &app, ids),
        Request_::DisputeAnswer(input) => crate::disputes::respond(shared, exchange, &uri, &app, *input),
        Request_::Pay(input) => pay(shared, exchange, &uri, app, input),
        Request_::OrderCode(input) => {
            match crate::mpm::pay_order_code(shared, &app, &input, |p, paid| payment_fields(&app, p, paid)) {
                Ok(reply) => {
                    exchange.record.payment_id = reply.payment_id;
                    exchange.record.note = Some(reply.note);
                    answer(shared, exchange, &uri, reply.result, reply.extra).into()
                }
                Err(error) => internal(shared, exchange, &uri, error).into(),
            }
        }
        Request_::Lookup { payment_request_id, payment_id } => {
            let app_id = app.id;
            if api == Api::Inquiry {
                let result =
                    shared.store.inquire(app_id, payment_request_id.as_deref(), payment_id.as_deref(), now);
                match result {
                    Ok(Inquiry::Found(payment, transactions)) => {
                        exchange.record.payment_id = Some(payment.payment_id.clone());
                        let mut body = payment_fields(&app, &payment, payment.paid_at.is_some());
                        body.insert("paymentResult".into(), json!(payment.payment_result()));
                        body.insert("paymentRequestId".into(), json!(payment.payment_request_id));
                        if !transactions.is_empty() {
                            body.insert("transactions".into(), Value::Array(transactions));
                        }
                        answer(
                            shared,
                            exchange,
                            &uri,
                            WireResult::from_code(ResultCode::Success),
                            Value::Object(body),
                        )
                        .into()
                    }
                    Ok(Inquiry::Fault(payment)) => {
                        exchange.record.payment_id = Some(payment.payment_id.clone());
                        let plan = payment.plan.unwrap_or_default();
                        exchange.record.note = Some(format!("{plan}: this inquiry is planned to fail"));
                        let message = format!("unknown exception ({plan}); inquire again");
                        let extra = json!({"acquirerId": app.acquirer_id});
                        let result = WireResult::with_message(ResultCode::UnknownException, message);
                        answer(shared, exchange, &uri, result, extra).into()
                    }
                    Ok(Inquiry::NotFound) => {
                        let extra = json!({"acquirerId": app.acquirer_id});
                        answer(
                            shared,
                            exchange,
                            &uri,
                            WireResult::from_code(ResultCode::OrderNotExist),
                            extra,
                        )
                        .into()
                    }
                    Ok(Inquiry::Conflict(message)) => illegal(
                        shared,
                        exchange,
                        &uri,
                        FieldError::new("paymentId", Problem::Invalid(message)),
                    )
                    .into(),
                    Err(error) => internal(shared, exchange, &uri, error).into(),
                }
            } else {
                let result =
                    shared.store.cancel(app_id, payment_request_id.as_deref(), payment_id.as_deref(), now);
                shared.changed();
                match result {
                    Ok(outcome) => call_answer(shared, exchange, &uri, &app, outcome).into(),
                    Err(error) => internal(shared, exchange, &uri, error).into(),
                }
            }
        }
        Request_::Refund { payment_request_id, payment_id, refund_request_id, amount, reason } => {
            let app_id = app.id;
            let result = shared.store.refund(
                app_id,
                payment_request_id.as_deref(),
                payment_id.as_deref(),
                &refund_request_id,
                &amount,
                reason.as_deref(),
                now,
            );
            shared.changed();
            match result {
                Ok(outcome) => call_answer(shared, exchange, &uri, &app, outcome).into(),
                Err(error) => internal(shared, exchange, &uri, error).into(),
            }
        }
    }
}

/// In TSP mode: why the authorization (its `products`) does not cover this call, or `None`
/// when it does. Only `pay` maps to one product clearly (a payment code is User-presented Mode,
/// an order or entry code Merchant-presented Mode); every other API is open to any active
/// authorization.
fn out_of_scope(products: &[TspProduct], request: &Request_) -> Option<String> {
    let product = match request {
        Request_::Pay(_) => TspProduct::Upm,
        Request_::OrderCode(_) => TspProduct::Mpm,
        _ => return None,
    };
    if products.contains(&product) {
        return None;
    }
    let scope = products.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(",");
    Some(format!(
        "the Agent-Token's authorization covers {scope}, not {product}; the ACQP must add {product} to its scope"
    ))
}

/// With the application's "registered merchants only" switch on (§13.1): why this `pay`'s
/// merchant may not be served, or `None` when it may (or the switch is off).
fn unregistered_merchant(
    shared: &Arc<Shared>,
    app: &AppRecord,
    body: &[u8],
    now: time::OffsetDateTime,
) -> Result<Option<String>, StoreError> {
    if !shared.store.registration_settings(app.id)?.require_registration {
        return Ok(None);
    }
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let text = |pointer: &str| value.pointer(pointer).and_then(Value::as_str).map(str::to_string);
    let Some(merchant) = text("/order/merchant/referenceMerchantId") else {
        return Ok(Some(
            "this application serves registered merchants only, and the pay names no order.merchant.referenceMerchantId".into(),
        ));
    };
    let store = text("/order/merchant/store/referenceStoreId");
    if shared.store.merchant_registered(app.id, &merchant, store.as_deref(), now)? {
        return Ok(None);
    }
    let store_text = store.map(|s| format!(", store {s:?}")).unwrap_or_default();
    Ok(Some(format!(
        "merchant {merchant:?}{store_text} has no COMPLETED IN_STORE_PAYMENT registration; register it (registration) and wait until inquiryRegistrationStatus says COMPLETED"
    )))
}

/// A validated request.
pub(crate) enum Request_ {
    /// `declare` (§13.2).
    Declare(Box<crate::store::DeclareInput>),
    /// `inquireDeclarationRequests` (§13.2).
    InquireDeclarations(Vec<String>),
    /// `responseRetrieval` / `responseEscalation` (§13.3).
    DisputeAnswer(Box<crate::store::DisputeAnswerInput>),
    /// `registration` (§13.1).
    Registration(Box<crate::store::RegistrationInput>),
    /// `inquiryRegistrationStatus` (§13.1).
    InquiryRegistration {
        registration_request_id: Option<String>,
        merchant: Option<String>,
        store: Option<String>,
    },
    Pay(PayInput),
    /// `pay` with `OrderCode` or `EntryCode` (merchant-presented mode, `crate::mpm`).
    OrderCode(crate::store::OrderCodeInput),
    Lookup {
        payment_request_id: Option<String>,
        payment_id: Option<String>,
    },
    Refund {
        payment_request_id: Option<String>,
        payment_id: Option<String>,
        refund_request_id: String,
        amount: Amount,
        reason: Option<String>,
    },
}

/// What intake made of a body: the request (or the field at fault), the hygiene findings, and
/// the IDs it names, so even a refused exchange is linked to its payment in the traffic log.
struct Intake {
    request: Result<Request_, FieldError>,
    findings: Vec<HygieneFinding>,
    payment_request_id: Option<String>,
    payment_id: Option<String>,
}

/// A hygiene finding as the traffic log records it. The `kind` names (`number-as-string`,
/// `boolean-as-string`, `empty-string`) are the sandbox's documented traffic-log contract.
fn finding_json(finding: &HygieneFinding) -> Value {
    let kind = match &finding.kind {
        FindingKind::Coerced { found: JsonKind::Number, .. } => "number-as-string",
        FindingKind::Coerced { found: JsonKind::Boolean, .. } => "boolean-as-string",
        FindingKind::EmptyString => "empty-string",
        FindingKind::DuplicateKey => "duplicate-key",
    };
    json!({"kind": kind, "path": finding.path, "detail": finding.to_string()})
}

/// Parses a body with `plusbox-core`'s lenient intake, validates it, then applies the rules that
/// are this sandbox's own (UPM and order codes; the notify URL must have a host).
fn intake(api: Api, body: &[u8], options: ParseOptions) -> Intake {
    fn run<T: serde::de::DeserializeOwned + Validate>(
        body: &[u8],
        options: ParseOptions,
        ids: impl Fn(&T) -> (Option<String>, Option<String>),
        then: impl FnOnce(T) -> Result<Request_, FieldError>,
    ) -> Intake {
        match lenient::parse::<T>(body, options) {
            Err(error) => Intake {
                request: Err(error),
                findings: Vec::new(),
                payment_request_id: None,
                payment_id: None,
            },
            Ok(parsed) => {
                let (payment_request_id, payment_id) = ids(&parsed.value);
                let request = parsed.value.validate().and_then(|()| then(parsed.value));
                Intake { request, findings: parsed.findings, payment_request_id, payment_id }
            }
        }
    }
    match api {
        Api::Pay => run::<PayRequest>(
            body,
            options,
            |r| (Some(r.payment_request_id.clone()), None),
            |r| pay_input(r, body),
        ),
        Api::Inquiry => run::<InquiryPaymentRequest>(
            body,
            options,
            |r| (r.payment_request_id.clone(), r.payment_id.clone()),
            |r| Ok(Request_::Lookup { payment_request_id: r.payment_request_id, payment_id: r.payment_id }),
        ),
        Api::Cancel => run::<CancelPaymentRequest>(
            body,
            options,
            |r| (r.payment_request_id.clone(), r.payment_id.clone()),
            |r| Ok(Request_::Lookup { payment_request_id: r.payment_request_id, payment_id: r.payment_id }),
        ),
        Api::Registration => run::<RegistrationRequest>(
            body,
            options,
            |_| (None, None),
            |r| crate::merchants::registration_input(r, body).map(|i| Request_::Registration(Box::new(i))),
        ),
        Api::InquiryRegistration => run::<InquiryRegistrationStatusRequest>(
            body,
            options,
            |_| (None, None),
            |r| {
                Ok(Request_::InquiryRegistration {
                    registration_request_id: r.registration_request_id,
                    merchant: r.reference_merchant_id,
                    store: r.reference_store_id,
                })
            },
        ),
        Api::Declare => run::<DeclareRequest>(
            body,
            options,
            |r| (Some(r.payment_request_id.clone()), None),
            |r| crate::customs::declare_input(r, body).map(|i| Request_::Declare(Box::new(i))),
        ),
        Api::InquireDeclarations => run::<InquireDeclarationRequestsRequest>(
            body,
            options,
            |_| (None, None),
            |r| Ok(Request_::InquireDeclarations(r.declaration_request_ids)),
        ),
        Api::ResponseRetrieval | Api::ResponseEscalation => {
            let kind = if api == Api::ResponseRetrieval {
                crate::store::DisputeKind::Retrieval
            } else {
                crate::store::DisputeKind::Escalation
            };
            run::<DisputeResponseRequest>(
                body,
                options,
                |r| (Some(r.payment_request_id.clone()), None),
                |r| {
                    crate::disputes::answer_input(kind, r, body).map(|i| Request_::DisputeAnswer(Box::new(i)))
                },
            )
        }
        Api::Refund => run::<RefundRequest>(
            body,
            options,
            |r| (r.payment_request_id.clone(), r.payment_id.clone()),
            |r| {
                let amount = Amount::from_wire(&r.refund_amount)
                    .map_err(|e| FieldError::new("refundAmount.value", Problem::Invalid(e.to_string())))?;
                Ok(Request_::Refund {
                    payment_request_id: r.payment_request_id,
                    payment_id: r.payment_id,
                    refund_request_id: r.refund_request_id,
                    amount,
                    reason: r.refund_reason,
                })
            },
        ),
    }
}

/// The sandbox's rules on a valid `pay`: user-presented mode or an order code (`crate::mpm`), and
/// a notify URL it can reach.
fn pay_input(request: PayRequest, body: &[u8]) -> Result<Request_, FieldError> {
    let key_fields = canonical(&json!({
        "paymentAmount": request.payment_amount,
        "paymentFactor": request.payment_factor,
        "settlementStrategy": request.settlement_strategy,
        "paymentMethodType": request.payment_method.payment_method_type,
    }));
    match request.scenario() {
        Some(InStoreScenario::PaymentCode) => {}
        Some(InStoreScenario::OrderCode) => {
            return crate::mpm::order_code_input(request, key_fields, body).map(Request_::OrderCode)
        }
        Some(InStoreScenario::EntryCode) => {
            return crate::mpm::entry_code_input(request, key_fields, body).map(Request_::OrderCode)
        }
        Some(_) => {
            return Err(FieldError::new(
                "paymentFactor.inStorePaymentScenario",
                Problem::Invalid(
                    "this scenario is not served by this sandbox; use PaymentCode, OrderCode or EntryCode"
                        .into(),
                ),
            ));
        }
        None => return Err(FieldError::new("paymentFactor.inStorePaymentScenario", Problem::Missing)),
    }
    // Validate has checked these; reading them again keeps this function total.
    let amount = Amount::from_wire(&request.payment_amount)
        .map_err(|e| FieldError::new("paymentAmount.value", Problem::Invalid(e.to_string())))?;
    let code = request
        .payment_method
        .payment_method_id
        .clone()
        .ok_or_else(|| FieldError::new("paymentMethod.paymentMethodId", Problem::Missing))?;
    let expiry = match &request.payment_expiry_time {
        Some(text) => Some(
            parse_instant(text)
                .map_err(|e| FieldError::new("paymentExpiryTime", Problem::Invalid(e.to_string())))?,
        ),
        None => None,
    };
    if let Some(url) = &request.payment_notify_url {
        validate_url(url).map_err(|reason| FieldError::new("paymentNotifyUrl", Problem::Invalid(reason)))?;
    }
    Ok(Request_::Pay(PayInput {
        payment_request_id: request.payment_request_id,
        key_fields,
        amount,
        code,
        expiry,
        notify_url: request.payment_notify_url,
        request_body: String::from_utf8_lossy(body).into_owned(),
    }))
}

/// JSON with object keys sorted, so key-field comparison ignores key order.
pub(crate) fn canonical(value: &Value) -> String {
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

fn pay(shared: &Arc<Shared>, mut exchange: Exchange, uri: &str, app: AppRecord, input: PayInput) -> Reply {
    let now = shared.now();
    let outcome = shared.store.pay(&app, &input, now);
    // The worker only has work when the payment has a deadline (processing) or a notification
    // to deliver; waking it for every pay would cost a scan per request under load.
    let worker_has_work = match &outcome {
        Ok(PayOutcome::Payment { payment, .. }) => {
            payment.state == PayState::Processing || payment.notify_url.is_some() || app.notify_url.is_some()
        }
        _ => false,
    };
    if worker_has_work {
        shared.changed();
    } else {
        shared.announce();
    }
    match outcome {
        Ok(PayOutcome::Refused(code, message)) => {
            let extra = json!({"acquirerId": app.acquirer_id});
            answer(shared, exchange, uri, WireResult::with_message(code, message), extra).into()
        }
        Ok(PayOutcome::Payment { payment, forced, delivery, repeat }) => {
            exchange.record.payment_id = Some(payment.payment_id.clone());
            let plan = payment.plan.clone().unwrap_or_else(|| "default".into());
            exchange.record.note = Some(if repeat {
                "repeat of an earlier pay: answered with the payment's current state".to_string()
            } else {
                format!("wallet plan: {plan}")
            });
            let (result, success_fields) = match (forced, payment.state) {
                (Some(code), _) => (WireResult::from_code(code), false),
                (None, PayState::Processing) => (WireResult::from_code(ResultCode::PaymentInProcess), false),
                (None, PayState::Success) => (WireResult::from_code(ResultCode::Success), true),
                (None, _) => (payment.payment_result(), false),
            };
            let extra = Value::Object(payment_fields(&app, &payment, success_fields));
            match delivery {
                PayDelivery::Now => answer(shared, exchange, uri, result, extra).into(),
                PayDelivery::After(delay) => {
                    exchange.record.note = Some(format!("{plan}: answer delayed by {delay}"));
                    let pending = Pending { exchange, uri: uri.to_string(), result, extra };
                    Reply::Later { delay, pending: Box::new(pending) }
                }
                PayDelivery::Never => {
                    exchange.record.note = Some(format!("{plan}: this pay is never answered"));
                    exchange.record.duration_ms = exchange.started.elapsed().as_secs_f64() * 1000.0;
                    if let Err(error) = shared.store.record_traffic(&exchange.record) {
                        tracing::error!(%error, "cannot record an unanswered pay");
                    }
                    Reply::Never
                }
            }
        }
        Err(error) => internal(shared, exchange, uri, error).into(),
    }
}

/// The fields a pay/inquiry answer carries about a payment; wallet fields only once paid.
fn payment_fields(app: &AppRecord, payment: &PaymentRecord, paid: bool) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("acquirerId".into(), json!(app.acquirer_id));
    body.insert("paymentId".into(), json!(payment.payment_id));
    body.insert("paymentAmount".into(), json!(payment.amount.to_wire()));
    if paid {
        body.insert("pspId".into(), json!(payment.psp_id));
        if let Some(paid_at) = payment.paid_at {
            body.insert("paymentTime".into(), json!(format_instant(paid_at)));
        }
        body.insert("customerId".into(), json!(payment.customer_id));
        body.insert("walletBrandName".into(), json!(payment.wallet_brand_name));
    }
    body
}

fn call_answer(
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
        body.insert("refundAmount".into(), json!(refund.amount.to_wire()));
    }
    answer(
        shared,
        exchange,
        uri,
        WireResult::with_message(outcome.code, outcome.message),
        Value::Object(body),
    )
}

pub(crate) fn illegal(shared: &Arc<Shared>, exchange: Exchange, uri: &str, illegal: FieldError) -> Response {
    answer(shared, exchange, uri, illegal.to_wire_result(), Value::Null)
}

/// A store failure: U `UNKNOWN_EXCEPTION` (retry), never a 500.
pub(crate) fn internal(
    shared: &Arc<Shared>,
    mut exchange: Exchange,
    uri: &str,
    error: StoreError,
) -> Response {
    tracing::error!(error = %crate::text::for_log(&error.to_string()), "request failed inside the sandbox");
    exchange.record.note = Some(format!("internal error: {error}"));
    answer(
        shared,
        exchange,
        uri,
        WireResult::with_message(
            ResultCode::UnknownException,
            "the sandbox could not process the request; retry with the same IDs",
        ),
        Value::Null,
    )
}

/// Builds, signs, logs and returns the HTTP 200 answer. The traffic entry is committed before
/// this returns, so it is durable before the answer leaves.
pub(crate) fn answer(
    shared: &Arc<Shared>,
    mut exchange: Exchange,
    uri: &str,
    result: WireResult,
    extra: Value,
) -> Response {
    exchange.record.result_code = Some(result.result_code.clone());
    exchange.record.result_status = Some(result.result_status.as_str().to_string());
    let mut body = Map::new();
    body.insert("result".into(), json!(result));
    if let Value::Object(extra) = extra {
        for (key, value) in extra {
            body.insert(key, value);
        }
    }
    let body_text = Value::Object(body).to_string();
    let response_time = format_instant(shared.now());
    let client_id = exchange.response_client_id.clone();
    let started = exchange.started;
    let mut record = exchange.record;
    let signed = (|| -> Result<(Vec<(String, String)>, String), StoreError> {
        let signature = match &exchange.signer {
            Some(app) => {
                let key = shared.private_key(app.sandbox_private_key.expose())?;
                let parts = MessageParts {
                    method: "POST",
                    uri,
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
        if let Some(signature) = signature {
            response_headers.push(("signature".to_string(), signature));
        }
        // A tamper rule: the signature above covers the true body; what leaves does not match.
        let (response_headers, body_text) = match exchange.tamper {
            Some((rule, mode)) => spoil(&mut record, rule, mode, response_headers, body_text),
            None => (response_headers, body_text),
        };
        record.response_status = Some(200);
        record.response_headers = response_headers.clone();
        record.response_body = body_text.clone().into_bytes();
        record.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        shared.store.record_traffic(&record)?;
        Ok((response_headers, body_text))
    })();
    // One line per exchange; headers and bodies are never logged (they carry signatures and
    // buyer data), only what identifies the exchange.
    tracing::info!(
        api = %record.api,
        result = record.result_code.as_deref().unwrap_or("-"),
        status = record.result_status.as_deref().unwrap_or("-"),
        ms = format_args!("{:.1}", started.elapsed().as_secs_f64() * 1000.0),
        payment_request_id = %crate::text::for_log(record.payment_request_id.as_deref().unwrap_or("-")),
        "exchange"
    );
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
            unsigned_unknown("the sandbox could not sign its answer; retry")
        }
    }
}

/// Spoils a signed answer for a tamper rule and records it as a deliberate tamper: `body` flips
/// the payment's result (`paymentResult` if present, else `result`: S becomes F `PROCESS_FAIL`,
/// anything else S `SUCCESS`); `signature` changes one character of the signature value.
fn spoil(
    record: &mut TrafficRecord,
    rule: i64,
    mode: Tamper,
    mut headers: Vec<(String, String)>,
    body: String,
) -> (Vec<(String, String)>, String) {
    let sent = match mode {
        Tamper::Body => {
            let mut value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut value {
                let key = if map.contains_key("paymentResult") { "paymentResult" } else { "result" };
                let was_success =
                    map.get(key).and_then(|r| r.get("resultStatus")).and_then(Value::as_str) == Some("S");
                let flipped = if was_success {
                    WireResult::from_code(ResultCode::ProcessFail)
                } else {
                    WireResult::success()
                };
                map.insert(key.to_string(), json!(flipped));
            }
            value.to_string()
        }
        Tamper::Signature => {
            for (name, value) in &mut headers {
                if name == "signature" {
                    *value = corrupt_signature(value);
                }
            }
            body.clone()
        }
    };
    record.result_code = body_text_result(&sent, "resultCode");
    record.result_status = body_text_result(&sent, "resultStatus");
    record.note = Some(format!(
        "deliberate tamper by mock rule #{rule} ({}): the signature does not match the body sent",
        mode.as_str()
    ));
    // Under `header.` so catalogue hygiene checks (which judge the ACQP's own requests) skip it.
    record.findings.push(json!({
        "kind": "deliberate-tamper",
        "path": "header.signature",
        "mode": mode.as_str(),
        "mockId": rule,
        "detail": "the sandbox signed the true body below, then spoiled the answer on purpose; a correct ACQP rejects it",
        "signedBody": body,
    }));
    (headers, sent)
}

/// Changes one character of the `signature=` value, keeping the header well-formed.
fn corrupt_signature(header: &str) -> String {
    let Some(start) = header.rfind("signature=").map(|i| i + "signature=".len()) else {
        return format!("{header}x");
    };
    let mut out = header.to_string();
    if let Some(first) = out[start..].chars().next() {
        let replacement = if first == 'A' { "B" } else { "A" };
        out.replace_range(start..start + first.len_utf8(), replacement);
    }
    out
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
            let value = crate::text::mask_header(name.as_str(), &String::from_utf8_lossy(value.as_bytes()));
            (name.as_str().to_string(), value)
        })
        .collect()
}
