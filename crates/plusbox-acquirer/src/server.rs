//! `acquirer serve`: the POS-driver HTTP API (`/charge`, `/order-code`, `/refund`, `/cancel`,
//! `/payments/{id}`)
//! and the `notifyPayment` endpoint, the registration notify and dispute endpoints
//! (`initiateRetrieval`, `initiateEscalation`), on one listener. The contract is in `docs/pos-driver.md`.
//!
//! Every answer is JSON; errors are `{code, message}` with a 4xx status (503 when the acquirer
//! itself cannot work, e.g. its order table is unwritable). Bad input never panics.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::acquirer::{
    Acquirer, CancelRequest, ChargeRequest, DeclareRequest, DisputeKind, EntryPage, IncomingNotify,
    NotifyAck, OrderCodeRequest, RefundRequest, RegisterRequest, ENTRY_PAGE_PATH, INITIATE_ESCALATION_PATH,
    INITIATE_RETRIEVAL_PATH, REGISTRATION_NOTIFY_PATH, USER_INITIATED_PAY_PATH,
};
use crate::error::AcquirerError;

/// The API paths the notify URL must not collide with.
const RESERVED: &[&str] = &[
    "/charge",
    "/register",
    "/declare",
    "/reconcile",
    "/orders",
    REGISTRATION_NOTIFY_PATH,
    "/order-code",
    "/private-order-code",
    "/entry",
    "/entry-code",
    "/refund",
    "/cancel",
    "/payments",
    "/faults",
    "/clock",
    "/health",
    USER_INITIATED_PAY_PATH,
];

/// Builds the router: POS-driver API plus the notify endpoint at the notify URL's path.
pub fn router(acquirer: Acquirer) -> Result<Router, AcquirerError> {
    let notify_path = acquirer.config().notify_path();
    let notify_path = notify_path.split('?').next().unwrap_or("/").to_owned();
    if RESERVED.iter().any(|r| notify_path == *r || notify_path.starts_with(&format!("{r}/")))
        || notify_path == "/"
    {
        return Err(AcquirerError::Config(format!(
            "notify_url path {notify_path:?} collides with the POS-driver API; use e.g. /notify"
        )));
    }
    Ok(Router::new()
        .route("/charge", post(charge))
        .route("/order-code", post(order_code))
        .route("/private-order-code", post(private_order_code))
        .route(ENTRY_PAGE_PATH, get(entry_page).post(entry_pay))
        .route("/entry-code", get(entry_code))
        .route(USER_INITIATED_PAY_PATH, post(user_initiated_pay))
        .route("/register", post(register))
        .route("/declare", post(declare))
        .route("/reconcile", post(reconcile_day))
        .route("/orders/age", post(age_orders))
        .route(REGISTRATION_NOTIFY_PATH, post(registration_notify))
        .route(INITIATE_RETRIEVAL_PATH, post(initiate_retrieval))
        .route(INITIATE_ESCALATION_PATH, post(initiate_escalation))
        .route("/refund", post(refund))
        .route("/cancel", post(cancel))
        .route("/payments", get(recent))
        .route("/payments/{id}", get(payment))
        .route("/faults", get(faults))
        .route("/clock", get(clock_get).put(clock_put).delete(clock_delete))
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route(&notify_path, post(notify))
        .fallback(|| async { error(&AcquirerError::NotFound("no such endpoint".to_owned())) })
        .with_state(acquirer))
}

/// Serves `acquirer` on an already bound listener until the task is dropped or aborted.
pub async fn serve(acquirer: Acquirer, listener: tokio::net::TcpListener) -> Result<(), AcquirerError> {
    let app = router(acquirer)?;
    axum::serve(listener, app).await.map_err(|e| AcquirerError::Network(e.to_string()))
}

/// Binds `addr` and serves in a background task; returns the bound address and the task.
pub async fn spawn(
    acquirer: Acquirer,
    addr: &str,
) -> Result<(SocketAddr, tokio::task::JoinHandle<Result<(), AcquirerError>>), AcquirerError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| AcquirerError::Network(format!("cannot listen on {addr}: {e}")))?;
    let local = listener.local_addr().map_err(|e| AcquirerError::Network(e.to_string()))?;
    let app = router(acquirer)?;
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.map_err(|e| AcquirerError::Network(e.to_string()))
    });
    Ok((local, task))
}

fn error(e: &AcquirerError) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    (status, Json(json!({"code": e.code(), "message": e.to_string()}))).into_response()
}

fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, AcquirerError> {
    serde_json::from_slice(body).map_err(|e| AcquirerError::BadRequest(format!("request body: {e}")))
}

fn reply<T: serde::Serialize>(result: Result<T, AcquirerError>) -> Response {
    match result {
        Ok(value) => Json(value).into_response(),
        Err(e) => error(&e),
    }
}

async fn charge(State(acq): State<Acquirer>, body: Bytes) -> Response {
    match parse::<ChargeRequest>(&body) {
        Ok(req) => reply(acq.charge(req).await),
        Err(e) => error(&e),
    }
}

/// `POST /order-code`: starts an order-code sale and answers at once with the code to display
/// (`orderCode`) and the order as it stands; the acquirer follows the sale to its end in the
/// background (`GET /payments/{id}` shows how it ended).
async fn order_code(State(acq): State<Acquirer>, body: Bytes) -> Response {
    match parse::<OrderCodeRequest>(&body) {
        Ok(req) => reply(acq.start_order_code(req).await.map(|(sale, _follow)| sale)),
        Err(e) => error(&e),
    }
}

/// `POST /private-order-code`: issues a private order code for a sale and answers at once with
/// the code to display (`orderCode`); the acquirer decodes it when Alipay+ asks
/// (`userInitiatedPay`) and follows the sale to its end in the background.
async fn private_order_code(State(acq): State<Acquirer>, body: Bytes) -> Response {
    match parse::<OrderCodeRequest>(&body) {
        Ok(req) => reply(acq.start_private_order_code(req).await.map(|(sale, _follow)| sale)),
        Err(e) => error(&e),
    }
}

/// `GET /entry-code`: the entry code the POS shows (`{codeValue}`: the merchant page's HTTPS URL).
async fn entry_code(State(acq): State<Acquirer>) -> Response {
    match acq.entry_code() {
        Some(code) => Json(code).into_response(),
        None => error(&AcquirerError::NotFound(
            "no entry code: set merchant.entry_code_url to the merchant page's HTTPS URL".to_owned(),
        )),
    }
}

/// `GET /entry`: the merchant page (§6), told apart by the wallet's User-Agent.
async fn entry_page(State(acq): State<Acquirer>, headers: HeaderMap) -> Response {
    let agent = headers.get("user-agent").and_then(|v| v.to_str().ok());
    entry_answer(acq.entry_page(agent))
}

/// `POST /entry` (form `amount`): `pay` with `EntryCode`, then 303 to the wallet's cashier.
async fn entry_pay(State(acq): State<Acquirer>, headers: HeaderMap, body: Bytes) -> Response {
    let agent = headers.get("user-agent").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let amount = form_field(&body, "amount").unwrap_or_default();
    match acq.entry_pay(agent.as_deref(), &amount).await {
        Ok(page) => entry_answer(page),
        Err(e) => error(&e),
    }
}

fn entry_answer(page: EntryPage) -> Response {
    match page {
        EntryPage::Html(status, body) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            [("content-type", "text/html; charset=utf-8"), ("cache-control", "no-store")],
            body,
        )
            .into_response(),
        EntryPage::NotStarted { body, payment_request_id } => {
            let mut response = (
                StatusCode::BAD_GATEWAY,
                [("content-type", "text/html; charset=utf-8"), ("cache-control", "no-store")],
                body,
            )
                .into_response();
            if let Ok(id) = HeaderValue::from_str(&payment_request_id) {
                response.headers_mut().insert("x-payment-request-id", id);
            }
            response
        }
        EntryPage::Redirect { to, payment_request_id } => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            if let Ok(location) = HeaderValue::from_str(&to) {
                response.headers_mut().insert("location", location);
            }
            if let Ok(id) = HeaderValue::from_str(&payment_request_id) {
                response.headers_mut().insert("x-payment-request-id", id);
            }
            response
        }
    }
}

/// One field of an `application/x-www-form-urlencoded` body.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (decode_form(key).as_deref() == Some(name)).then(|| decode_form(value)).flatten()
    })
}

/// Decodes `+` and `%XX` of a form value; `None` for a broken escape or non-UTF-8.
fn decode_form(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// `POST /aps/api/v1/payments/userInitiatedPay` (Alipay+ → ACQP, §11): decodes a private order
/// code a buyer scanned; always HTTP 200 with a signed `result`.
async fn user_initiated_pay(
    State(acq): State<Acquirer>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let target = uri.path_and_query().map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let answer = acq
        .handle_user_initiated_pay(IncomingNotify {
            uri: &target,
            client_id: header("client-id"),
            request_time: header("request-time"),
            signature: header("signature"),
            body: &body,
        })
        .await;
    signed(answer)
}

fn signed(answer: NotifyAck) -> Response {
    let mut response = answer.body.into_response();
    for (name, value) in answer.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

async fn refund(State(acq): State<Acquirer>, body: Bytes) -> Response {
    match parse::<RefundRequest>(&body) {
        Ok(req) => reply(acq.refund(req).await),
        Err(e) => error(&e),
    }
}

async fn cancel(State(acq): State<Acquirer>, body: Bytes) -> Response {
    match parse::<CancelRequest>(&body) {
        Ok(req) => reply(acq.cancel(req).await),
        Err(e) => error(&e),
    }
}

async fn payment(State(acq): State<Acquirer>, Path(id): Path<String>) -> Response {
    let result = acq.payment(&id).and_then(|mut record| {
        let notes = acq.store().notifications(&record.payment_request_id)?;
        record.notifications = u32::try_from(notes.len()).unwrap_or(u32::MAX);
        Ok(json!({"payment": record, "notifications": notes}))
    });
    match result {
        // Flatten: the payment's fields at the top, notifications beside them.
        Ok(mut v) => {
            let notes = v["notifications"].take();
            let mut out = v["payment"].take();
            out["notificationLog"] = notes;
            Json(out).into_response()
        }
        Err(e) => error(&e),
    }
}

async fn recent(State(acq): State<Acquirer>) -> Response {
    reply(acq.store().recent_payments(100))
}

async fn faults(State(acq): State<Acquirer>) -> Response {
    let list: Vec<_> = acq
        .faults()
        .iter()
        .map(|f| json!({"name": f.name(), "section": f.section(), "rule": f.rule(), "behaviour": f.behaviour()}))
        .collect();
    Json(json!({"faults": list})).into_response()
}

/// `{now, shiftMs}`: the acquirer's clock as its time rules read it.
fn clock_view(acq: &Acquirer) -> Response {
    let now = plusbox_core::protocol::time::format_instant(acq.clock_now());
    let shift = i64::try_from(acq.clock_shift().whole_milliseconds()).unwrap_or(i64::MAX);
    Json(json!({"now": now, "shiftMs": shift})).into_response()
}

async fn clock_get(State(acq): State<Acquirer>) -> Response {
    clock_view(&acq)
}

/// `PUT /clock {"at": RFC 3339}`: the acquirer's clock reads `at` from now on (window tests).
async fn clock_put(State(acq): State<Acquirer>, body: Bytes) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct SetClock {
        at: String,
    }
    let set = parse::<SetClock>(&body).and_then(|req| {
        let at = plusbox_core::protocol::time::parse_instant(&req.at).map_err(|e| {
            AcquirerError::BadRequest(format!("at: {:?} is not an RFC 3339 time with offset: {e}", req.at))
        })?;
        acq.set_clock(at)
    });
    match set {
        Ok(_) => clock_view(&acq),
        Err(e) => error(&e),
    }
}

/// `DELETE /clock`: back to the acquirer's own clock.
async fn clock_delete(State(acq): State<Acquirer>) -> Response {
    acq.reset_clock();
    clock_view(&acq)
}

/// `POST /register`: registers a merchant and its store (§13.1). The answer's `state` is
/// `ACCEPTED`, `DEFERRED` (an update held back by the 30-minute rule), `REFUSED` or `UNKNOWN`.
async fn register(State(acq): State<Acquirer>, body: Bytes) -> Response {
    let req = match parse::<RegisterRequest>(&body) {
        Ok(req) => req,
        Err(e) => return error(&e),
    };
    reply(acq.register(req).await.map(|o| {
        json!({
            "state": o.state,
            "registrationRequestId": o.registration.as_ref().map(|r| r.registration_request_id.clone()),
            "resultCode": o.result_code,
            "resultMessage": o.message,
            "registration": o.registration,
        })
    }))
}

/// `POST /declare`: declares a paid sale to the customs (§13.2). `state`: `DECLARED`, `REFUSED`
/// (with Alipay+'s `resultCode`) or `UNKNOWN`.
async fn declare(State(acq): State<Acquirer>, body: Bytes) -> Response {
    match parse::<DeclareRequest>(&body) {
        Ok(req) => reply(acq.declare(req).await),
        Err(e) => error(&e),
    }
}

/// `initiateRetrieval` from Alipay+ (§13.3): verified, acknowledged signed, answered later.
async fn initiate_retrieval(
    State(acq): State<Acquirer>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    dispute(acq, DisputeKind::Retrieval, uri, headers, body)
}

/// `initiateEscalation` from Alipay+ (§13.3): verified, acknowledged signed, answered later.
async fn initiate_escalation(
    State(acq): State<Acquirer>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    dispute(acq, DisputeKind::Escalation, uri, headers, body)
}

fn dispute(acq: Acquirer, kind: DisputeKind, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let target = uri.path_and_query().map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
    signed(acq.handle_dispute(
        kind,
        IncomingNotify {
            uri: &target,
            client_id: header("client-id"),
            request_time: header("request-time"),
            signature: header("signature"),
            body: &body,
        },
    ))
}

/// `POST /reconcile {date}`: the back office downloads the clearing day's files and reconciles
/// them against the order table (reconciliation.md §2): `state` `RECONCILED` or `DIFFERENCES`,
/// with the counts and every difference.
async fn reconcile_day(State(acq): State<Acquirer>, body: Bytes) -> Response {
    match parse::<crate::reconcile::ReconcileRequest>(&body) {
        Ok(req) => reply(acq.reconcile_day(req).await),
        Err(e) => error(&e),
    }
}

/// `POST /orders/age {paymentRequestIds, seconds}`: the order table's side of the sandbox's test
/// aging (capability `acquirer-reconcile`, docs/pos-driver.md).
async fn age_orders(State(acq): State<Acquirer>, body: Bytes) -> Response {
    match parse::<crate::reconcile::AgeRequest>(&body) {
        Ok(req) => reply(acq.age_orders(req).map(|aged| json!({ "aged": aged }))),
        Err(e) => error(&e),
    }
}

/// `notifyRegistrationStatus` from Alipay+ (§13.1): verified, recorded, answered signed.
async fn registration_notify(
    State(acq): State<Acquirer>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let target = uri.path_and_query().map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let ack = acq.handle_registration_notify(IncomingNotify {
        uri: &target,
        client_id: header("client-id"),
        request_time: header("request-time"),
        signature: header("signature"),
        body: &body,
    });
    let mut response = ack.body.into_response();
    for (name, value) in ack.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

async fn notify(State(acq): State<Acquirer>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let target = uri.path_and_query().map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let ack = acq.handle_notify(IncomingNotify {
        uri: &target,
        client_id: header("client-id"),
        request_time: header("request-time"),
        signature: header("signature"),
        body: &body,
    });
    let mut response = ack.body.into_response();
    for (name, value) in ack.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::{decode_form, form_field};

    #[test]
    fn form_fields_are_decoded_and_broken_escapes_refused() {
        assert_eq!(form_field(b"amount=12.50&x=1", "amount").as_deref(), Some("12.50"));
        assert_eq!(form_field(b"x=1&amount=1%2C5+0", "amount").as_deref(), Some("1,5 0"));
        assert_eq!(form_field(b"amount", "amount").as_deref(), Some(""));
        assert_eq!(form_field(b"amount=%zz", "amount"), None);
        assert_eq!(form_field(b"other=1", "amount"), None);
        assert_eq!(decode_form("%e4%b8%ad"), Some("中".to_owned()));
        assert_eq!(decode_form("%ff"), None);
    }

    proptest::proptest! {
        /// Any body is read or refused, never a panic; a decoded value is never longer than the body.
        #[test]
        fn any_form_body_is_read_or_refused(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            if let Some(value) = form_field(&body, "amount") {
                proptest::prop_assert!(value.len() <= body.len());
            }
        }
    }
}
