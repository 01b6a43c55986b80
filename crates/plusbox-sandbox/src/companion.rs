//! The companion API under `/app/v1/`: the buyer-wallet side of the sandbox for the companion app
//! (issue codes, confirm or decline, balances, top-up, history, live pending list over SSE).
//!
//! Every call needs `Authorization: Bearer <device token>` (made by `plusbox app pair`; stored
//! hashed). Errors are `{code, message}` JSON with a matching HTTP status.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream::Stream;
use serde_json::{json, Value};

use crate::store::{DeviceAuth, DeviceView, StoreError};
use crate::Shared;
use plusbox_core::money::Amount;

mod app;
mod recon;
mod test_control;

/// An app-edge error: `{code, message}`.
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into() }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(message) => ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", message),
            StoreError::Invalid(message) => ApiError::new(StatusCode::CONFLICT, "INVALID_STATE", message),
            StoreError::OutOfRange(message) => {
                ApiError::new(StatusCode::BAD_REQUEST, "AMOUNT_TOO_LARGE", message)
            }
            other => {
                tracing::error!(error = %other, "companion API store failure");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "STORE_UNAVAILABLE",
                    "the sandbox store is unavailable; retry",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"code": self.code, "message": self.message}))).into_response()
    }
}

type ApiResult = Result<Response, ApiError>;

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/accounts", get(accounts))
        .route("/accounts/{id}/codes", post(issue_code))
        .route("/accounts/{id}/topup", post(topup))
        .route("/accounts/{id}/history", get(history))
        .route("/pending", get(pending))
        .route("/pending/stream", get(pending_stream))
        .route("/payments/{id}/confirm", post(confirm))
        .route("/payments/{id}/decline", post(decline))
        .route("/order-codes/decode", post(crate::mpm::decode))
        .route("/order-codes/confirm", post(crate::mpm::confirm))
        .route("/order-codes/decline", post(crate::mpm::decline))
        .route("/merchant-codes", get(crate::mpm::merchant_codes))
        .merge(app::router())
        .merge(test_control::router())
        .merge(recon::router())
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "no such companion API") })
}

async fn authorize(shared: &Arc<Shared>, headers: &HeaderMap) -> Result<DeviceView, ApiError> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "send Authorization: Bearer <device token>",
            )
        })?
        .to_string();
    let now = shared.now();
    match shared.blocking(move |store| store.authenticate_device(&token, now)).await? {
        DeviceAuth::Active(device) => Ok(device),
        DeviceAuth::Revoked(device) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "DEVICE_REVOKED",
            format!("this device ({}) was revoked; pair it again", device.name),
        )),
        DeviceAuth::Unknown => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "unknown device token; pair with `plusbox app pair`",
        )),
    }
}

/// Authorises a device for a buyer's own actions (decode, confirm or decline a merchant-presented
/// code): the device's scope, to check the buyer with [`acts_as`] once the body is read.
pub(crate) async fn authorized_scope(
    shared: &Arc<Shared>,
    headers: &HeaderMap,
) -> Result<crate::store::DeviceScope, Box<Response>> {
    let device = authorize(shared, headers).await.map_err(|e| Box::new(e.into_response()))?;
    let id = device.id;
    shared
        .blocking(move |store| store.device_scope(id))
        .await
        .map_err(|e| Box::new(ApiError::from(e).into_response()))
}

/// A device paired for one buyer account acts only as that buyer (403 `NOT_IN_SCOPE`); the
/// owner's device and a merchant-only device are not tied to one buyer.
pub(crate) fn acts_as(scope: &crate::store::DeviceScope, account: &str) -> Result<(), Box<Response>> {
    own_buyer(scope, account).map_err(|e| Box::new(e.into_response()))
}

/// [`acts_as`] for handlers that answer [`ApiError`]: an invited merchant's phone (or a device
/// paired with `--account`) sees and moves only its own buyer's wallet, never another
/// merchant's buyer on the same sandbox.
pub(crate) fn own_buyer(scope: &crate::store::DeviceScope, account: &str) -> Result<(), ApiError> {
    match scope.account.as_deref() {
        Some(own) if own != account => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "NOT_IN_SCOPE",
            format!("this device acts only as buyer {own}; {account} is not its own"),
        )),
        _ => Ok(()),
    }
}

/// The calling device's scope (its merchant and buyer; none for the sandbox owner's device).
pub(crate) async fn scope_of(
    shared: &Arc<Shared>,
    headers: &HeaderMap,
) -> Result<crate::store::DeviceScope, ApiError> {
    let device = authorize(shared, headers).await?;
    let id = device.id;
    Ok(shared.blocking(move |store| store.device_scope(id)).await?)
}

/// A payment's buyer must be the scoped device's own before it confirms or declines it.
async fn own_payment(shared: &Arc<Shared>, headers: &HeaderMap, payment_id: &str) -> Result<(), ApiError> {
    let scope = scope_of(shared, headers).await?;
    if scope.account.is_none() {
        return Ok(());
    }
    let id = payment_id.to_string();
    let payment = shared.blocking(move |store| store.payment_by_id(&id)).await?;
    match payment.and_then(|p| p.account_id) {
        Some(account) => own_buyer(&scope, &account),
        // Unknown here: the store's own answer (not found, not waiting) is the right one.
        None => Ok(()),
    }
}

/// The token of an `Authorization: Bearer <token>` value; the scheme is case-insensitive
/// (RFC 9110 §11.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn body_json(body: &Bytes) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", format!("the body is not JSON: {e}"))
    })
}

async fn accounts(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> ApiResult {
    let scope = scope_of(&shared, &headers).await?;
    let mut accounts = shared.blocking(|store| store.accounts()).await?;
    if let Some(own) = scope.account.as_deref() {
        accounts.retain(|account| account.id == own);
    }
    Ok(Json(accounts).into_response())
}

async fn issue_code(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    own_buyer(&scope_of(&shared, &headers).await?, &id)?;
    let form = app::code_form(&body_json(&body)?)?;
    let now = shared.now();
    let code = shared.blocking(move |store| store.issue_code_in_form(&id, form, now)).await?;
    Ok(app::with_issued_at(code, now))
}

async fn topup(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    own_buyer(&scope_of(&shared, &headers).await?, &id)?;
    let body = body_json(&body)?;
    let text = body["amount"].as_str().ok_or_else(|| {
        ApiError::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", "amount is required, e.g. \"100.00 USD\"")
    })?;
    let amount = Amount::parse_positive(text)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "BAD_AMOUNT", e.to_string()))?;
    let now = shared.now();
    let balance = shared.blocking(move |store| store.topup(&id, &amount, now)).await?;
    shared.changed();
    Ok(Json(balance).into_response())
}

async fn history(State(shared): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap) -> ApiResult {
    own_buyer(&scope_of(&shared, &headers).await?, &id)?;
    let entries = shared.blocking(move |store| store.history(&id, 200)).await?;
    Ok(Json(entries).into_response())
}

async fn pending(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> ApiResult {
    let scope = scope_of(&shared, &headers).await?;
    let now = shared.now();
    let mut pending = shared.blocking(move |store| store.pending(now)).await?;
    if let Some(own) = scope.account.as_deref() {
        pending.retain(|payment| payment.account == own);
    }
    Ok(Json(pending).into_response())
}

/// Server-sent events: a `pending` event with the full list at once and whenever it changes.
async fn pending_stream(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> ApiResult {
    let scope = scope_of(&shared, &headers).await?;
    Ok(Sse::new(pending_events(shared, scope.account)).keep_alive(KeepAlive::default()).into_response())
}

/// The stream for one subscriber: the list now, then each new rendering of the shared feed
/// (see [`crate::live`]); the list is read and rendered once per change for all subscribers.
/// A device tied to one buyer (`own`) gets only that buyer's entries.
fn pending_events(shared: Arc<Shared>, own: Option<String>) -> impl Stream<Item = Result<Event, Infallible>> {
    let feed = shared.pending_feed.subscribe();
    // `last` is the shared text last seen, `sent` the list last sent: a scoped subscriber is not
    // told when only others' payments changed.
    let start = (shared, feed, None::<Arc<str>>, own, None::<String>);
    futures_util::stream::unfold(start, |(shared, mut feed, mut last, own, mut sent)| async move {
        loop {
            let current = match &last {
                // First event: this subscriber's own read (the feed may be idle or stale).
                None => crate::live::render_now(&shared).await,
                Some(_) => {
                    let mut stop = shared.shutdown.clone();
                    loop {
                        tokio::select! {
                            changed = feed.changed() => if changed.is_err() { return None },
                            _ = stop.wait_for(|stopped| *stopped) => return None,
                        }
                        let next = feed.borrow_and_update().clone();
                        if let Some(next) = next.filter(|n| last.as_deref() != Some(&**n)) {
                            break next;
                        }
                    }
                }
            };
            let list = crate::live::only_buyer(&current, "account", own.as_deref());
            last = Some(current);
            if sent.as_deref() != Some(list.as_str()) {
                sent = Some(list.clone());
                let event = Event::default().event("pending").data(list);
                return Some((Ok(event), (shared, feed, last, own, sent)));
            }
        }
    })
}

async fn confirm(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    own_payment(&shared, &headers, &id).await?;
    let body = body_json(&body)?;
    let pin = body["pin"]
        .as_str()
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", "pin is required"))?
        .to_string();
    let now = shared.now();
    let asked = id.clone();
    let payment = shared.blocking(move |store| store.confirm(&id, &pin, now)).await;
    let payment = app::decided(&shared, &asked, payment).await?;
    shared.changed();
    let result = payment.payment_result();
    Ok(Json(json!({"paymentId": payment.payment_id, "paymentResult": result})).into_response())
}

async fn decline(State(shared): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap) -> ApiResult {
    own_payment(&shared, &headers, &id).await?;
    let now = shared.now();
    let asked = id.clone();
    let payment = shared.blocking(move |store| store.decline(&id, now)).await;
    let payment = app::decided(&shared, &asked, payment).await?;
    shared.changed();
    Ok(Json(json!({"paymentId": payment.payment_id, "paymentResult": payment.payment_result()}))
        .into_response())
}
