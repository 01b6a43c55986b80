//! The companion API for the companion UI (issue 11): pairing by link or short code and from
//! loopback, device listing and revocation, about/session, scenarios, wallet history with states,
//! pending payments with merchant and store, who owns a code, and one event stream (`pending`,
//! `payment`). Kept beside the first companion API so that module stays as it was.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::stream::Stream;
use plusbox_core::codes::CodeForm;
use plusbox_core::money::Amount;
use plusbox_core::protocol::time::format_instant;
use serde_json::{json, Value};

use super::{authorize, body_json, ApiError, ApiResult};
use crate::store::{IssuedCodeView, PayState, PaymentRecord, Redeemed, StoreError};
use crate::{Scenario, Shared};

/// Largest device name kept.
const MAX_NAME: usize = 64;

pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/about", get(about))
        .route("/session", get(session))
        .route("/pair", post(pair))
        .route("/pair/loopback", post(pair_loopback))
        .route("/devices", get(devices))
        .route("/devices/{id}/revoke", post(revoke))
        .route("/scenarios", get(scenarios))
        .route("/accounts/{id}/scenario", post(set_scenario))
        .route("/accounts/{id}/activity", get(activity))
        .route("/pending/details", get(pending_details))
        .route("/codes/{code}", get(code_owner))
        .route("/events", get(events))
}

/// One line per scenario, as the wallet's "what happens next" picker explains it.
pub const SCENARIO_SUMMARIES: &[(&str, &str)] = &[
    ("success", "Pay at once if the balance allows."),
    ("pin", "Wait for the buyer to confirm with the PIN or decline."),
    ("insufficient-balance", "Refuse: the balance is not enough."),
    ("risk-reject", "Refuse: rejected by risk control."),
    ("user-not-exist", "Refuse: the user does not exist."),
    ("user-abnormal", "Refuse: the user's status is abnormal."),
    ("over-limit", "Refuse: the user's amount limit is exceeded."),
    ("slow:10", "Pay, but answer the acquirer only after 10 seconds."),
    ("no-answer", "Never answer; the payment stays in process until it expires or is cancelled."),
    ("unknown-exception", "Answer UNKNOWN_EXCEPTION while the payment succeeds behind it."),
    ("stuck", "Stay in process past expiry until the acquirer cancels."),
];

/// The `form` of a code request body (`"24"` when absent).
pub(super) fn code_form(body: &Value) -> Result<CodeForm, ApiError> {
    match body.get("form") {
        None | Some(Value::Null) => Ok(CodeForm::Digits24),
        Some(Value::String(text)) => text.parse().map_err(|e: String| bad_request(e)),
        Some(other) => Err(bad_request(format!("form must be a string such as \"24\", not {other}"))),
    }
}

/// An issued code with the instant it was issued.
pub(super) fn with_issued_at(code: IssuedCodeView, now: time::OffsetDateTime) -> Response {
    let mut value = serde_json::to_value(&code).unwrap_or_else(|_| json!({}));
    value["issuedAt"] = Value::String(format_instant(now));
    Json(value).into_response()
}

/// Refuses a top-up that would take the balance past the 64-bit range, before it reaches SQL.
pub(super) async fn check_headroom(
    shared: &Arc<Shared>,
    account: &str,
    amount: &Amount,
) -> Result<(), ApiError> {
    let account = account.to_string();
    let currency = amount.currency;
    let headroom = shared.blocking(move |store| store.topup_headroom(&account, currency)).await?;
    if amount.value > headroom {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "AMOUNT_TOO_LARGE",
            format!("{amount} would take the balance past the largest amount the wallet can hold"),
        ));
    }
    Ok(())
}

/// Turns "not waiting for the buyer" into what happened: someone already decided, or it expired.
pub(super) async fn decided(
    shared: &Arc<Shared>,
    payment_id: &str,
    outcome: Result<PaymentRecord, StoreError>,
) -> Result<PaymentRecord, ApiError> {
    match outcome {
        Ok(payment) => Ok(payment),
        Err(StoreError::Invalid(message)) => {
            let id = payment_id.to_string();
            let now = shared.now();
            let payment = shared.blocking(move |store| store.payment_by_id(&id)).await?;
            // A waiting payment past its expiry is closed by the next look; say so now.
            let state = payment.map(|p| match p.state {
                PayState::Processing if p.expires_at <= now && !p.stuck => PayState::Closed,
                state => state,
            });
            Err(match state {
                Some(PayState::Closed) => ApiError::new(
                    StatusCode::CONFLICT,
                    "PAYMENT_EXPIRED",
                    format!("payment {payment_id} expired before the buyer answered"),
                ),
                Some(PayState::Success | PayState::Failed | PayState::Cancelled) => ApiError::new(
                    StatusCode::CONFLICT,
                    "ALREADY_DECIDED",
                    format!("payment {payment_id} was already decided ({message})"),
                ),
                _ => ApiError::new(StatusCode::CONFLICT, "INVALID_STATE", message),
            })
        }
        Err(other) => Err(other.into()),
    }
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
}

fn device_name(body: &Value) -> Result<Option<String>, ApiError> {
    match body.get("deviceName") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(name)) => {
            let name: String = name.trim().chars().filter(|c| !c.is_control()).take(MAX_NAME).collect();
            Ok((!name.is_empty()).then_some(name))
        }
        Some(_) => Err(bad_request("deviceName must be a string")),
    }
}

/// `GET /about`: what this sandbox is (no token needed; none of it is secret).
async fn about(State(shared): State<Arc<Shared>>) -> ApiResult {
    let view = shared.blocking(|store| store.app_view()).await?;
    Ok(Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "clientId": view.client_id,
        "acquirerId": view.acquirer_id,
        "gatewayUrl": view.gateway_url,
    }))
    .into_response())
}

/// `GET /session`: the calling device.
async fn session(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> ApiResult {
    let device = authorize(&shared, &headers).await?;
    Ok(Json(json!({ "device": device })).into_response())
}

/// `POST /pair` `{code, deviceName?}`: trades a short code or link token for a device token.
async fn pair(State(shared): State<Arc<Shared>>, body: Bytes) -> ApiResult {
    let body = body_json(&body)?;
    let code = body
        .get("code")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| bad_request("code is required: the short code or the token from the pairing link"))?
        .to_string();
    if code.len() > 200 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "PAIRING_CODE_INVALID",
            "that is not a pairing code",
        ));
    }
    let name = device_name(&body)?;
    let now = shared.now();
    let redeemed = shared.blocking(move |store| store.redeem_pairing(&code, name.as_deref(), now)).await?;
    match redeemed {
        Redeemed::Paired { device, token } => {
            Ok(Json(json!({"device": device, "token": token.expose()})).into_response())
        }
        Redeemed::Invalid => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "PAIRING_CODE_INVALID",
            "this pairing code is wrong, used or expired; run `plusbox app pair` for a new one",
        )),
        Redeemed::TooManyAttempts => Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_ATTEMPTS",
            "too many wrong pairing codes; wait a minute and try again",
        )),
    }
}

/// `POST /pair/loopback` `{deviceName?}`: pairs without a code, only for a caller on this
/// machine (the TCP peer address, never a header).
async fn pair_loopback(State(shared): State<Arc<Shared>>, request: Request) -> ApiResult {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| *addr);
    if !peer.is_some_and(|addr| addr.ip().is_loopback()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "PAIRING_NOT_LOOPBACK",
            "pairing without a code works only on the machine that runs the sandbox",
        ));
    }
    let body = axum::body::to_bytes(request.into_body(), 64 * 1024)
        .await
        .map_err(|e| bad_request(format!("cannot read the body: {e}")))?;
    let name = device_name(&body_json(&body)?)?.unwrap_or_else(|| "this computer".into());
    let now = shared.now();
    let (device, token) = shared.blocking(move |store| store.create_device_view(&name, now)).await?;
    Ok(Json(json!({"device": device, "token": token.expose()})).into_response())
}

/// `GET /devices`: every paired device.
async fn devices(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> ApiResult {
    authorize(&shared, &headers).await?;
    let devices = shared.blocking(|store| store.devices()).await?;
    Ok(Json(devices).into_response())
}

/// `POST /devices/{id}/revoke`.
async fn revoke(State(shared): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap) -> ApiResult {
    authorize(&shared, &headers).await?;
    let id: i64 = id.parse().map_err(|_| bad_request(format!("device id must be a number, not {id:?}")))?;
    let now = shared.now();
    let device = shared.blocking(move |store| store.revoke_device(id, now)).await?;
    shared.announce();
    Ok(Json(device).into_response())
}

/// `GET /scenarios`: `[{name, summary}]`.
async fn scenarios(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> ApiResult {
    authorize(&shared, &headers).await?;
    let list: Vec<Value> =
        SCENARIO_SUMMARIES.iter().map(|(name, summary)| json!({"name": name, "summary": summary})).collect();
    Ok(Json(list).into_response())
}

/// `POST /accounts/{id}/scenario` `{scenario}`: the account afterwards.
async fn set_scenario(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    authorize(&shared, &headers).await?;
    let body = body_json(&body)?;
    let text =
        body.get("scenario").and_then(Value::as_str).ok_or_else(|| bad_request("scenario is required"))?;
    let scenario: Scenario =
        text.parse().map_err(|e: String| ApiError::new(StatusCode::BAD_REQUEST, "UNKNOWN_SCENARIO", e))?;
    let account = shared
        .blocking(move |store| {
            store.set_scenario(&id, &scenario)?;
            store.account(&id)
        })
        .await?;
    shared.announce();
    Ok(Json(account).into_response())
}

/// `GET /accounts/{id}/activity`: payments, refunds, top-ups and cancel credits with states.
async fn activity(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    authorize(&shared, &headers).await?;
    let entries = shared.blocking(move |store| store.wallet_history(&id, 200)).await?;
    Ok(Json(entries).into_response())
}

/// `GET /pending/details`.
async fn pending_details(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> ApiResult {
    authorize(&shared, &headers).await?;
    let now = shared.now();
    let list = shared.blocking(move |store| store.pending_details(now)).await?;
    Ok(Json(list).into_response())
}

/// `GET /codes/{code}`: the buyer account that owns a code this sandbox issued.
async fn code_owner(
    State(shared): State<Arc<Shared>>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    authorize(&shared, &headers).await?;
    let owner = shared.blocking(move |store| store.code_owner(&code)).await?;
    owner.map(|owner| Json(owner).into_response()).ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "this sandbox did not issue that code")
    })
}

/// `GET /events`: server-sent events — `pending` (the whole list, at once and on change) and
/// `payment` ({paymentId, accountId, state} when a recent payment changes state).
async fn events(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> ApiResult {
    authorize(&shared, &headers).await?;
    Ok(Sse::new(event_stream(shared)).keep_alive(KeepAlive::default()).into_response())
}

/// How many recent payments the stream watches for state changes.
const WATCHED_PAYMENTS: u32 = 100;

struct Watch {
    shared: Arc<Shared>,
    changes: tokio::sync::broadcast::Receiver<()>,
    last_pending: Option<String>,
    states: Option<HashMap<String, String>>,
    queued: VecDeque<Event>,
}

fn event_stream(shared: Arc<Shared>) -> impl Stream<Item = Result<Event, Infallible>> {
    let changes = shared.changes.subscribe();
    let watch = Watch { shared, changes, last_pending: None, states: None, queued: VecDeque::new() };
    futures_util::stream::unfold(watch, |mut watch| async move {
        loop {
            if let Some(event) = watch.queued.pop_front() {
                return Some((Ok(event), watch));
            }
            look(&mut watch).await;
            if !watch.queued.is_empty() {
                continue;
            }
            let mut stop = watch.shared.shutdown.clone();
            tokio::select! {
                _ = watch.changes.recv() => {}
                // The CLI changes the database from another process; look again now and then.
                _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                _ = stop.wait_for(|stopped| *stopped) => return None,
            }
        }
    })
}

/// Reads the pending list and recent payment states once and queues what changed.
async fn look(watch: &mut Watch) {
    let now = watch.shared.now();
    let read = watch
        .shared
        .blocking(move |store| {
            Ok((store.pending_details(now)?, store.recent_payment_states(WATCHED_PAYMENTS)?))
        })
        .await;
    let Ok((pending, states)) = read else { return };
    let pending = serde_json::to_string(&pending).unwrap_or_else(|_| "[]".into());
    if watch.last_pending.as_deref() != Some(pending.as_str()) {
        watch.queued.push_back(Event::default().event("pending").data(pending.clone()));
        watch.last_pending = Some(pending);
    }
    let current: HashMap<String, String> =
        states.iter().map(|s| (s.payment_id.clone(), s.state.clone())).collect();
    if let Some(previous) = &watch.states {
        // Oldest first, so a client sees changes in the order the payments were made.
        for state in states.iter().rev() {
            if previous.get(&state.payment_id) != Some(&state.state) {
                let data = serde_json::to_string(state).unwrap_or_else(|_| "{}".into());
                watch.queued.push_back(Event::default().event("payment").data(data));
            }
        }
    }
    watch.states = Some(current);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_has_a_summary_and_every_summary_names_a_scenario() {
        for (name, summary) in SCENARIO_SUMMARIES {
            assert!(name.parse::<Scenario>().is_ok(), "{name}");
            assert!(!summary.is_empty());
        }
        for name in Scenario::NAMES {
            let family = name.split(':').next().unwrap_or(name);
            assert!(
                SCENARIO_SUMMARIES.iter().any(|(listed, _)| listed.split(':').next() == Some(family)),
                "{name} has no summary"
            );
        }
    }
}
