//! The companion API for the companion UI (issue 11): pairing by link or short code and from
//! loopback, device listing and revocation, about/session, scenarios, wallet history with states,
//! pending payments with merchant and store, who owns a code, and one event stream (`pending`,
//! `payment`). Kept beside the first companion API so that module stays as it was.

use std::collections::HashMap;
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
use plusbox_core::protocol::time::format_instant;
use serde_json::{json, Value};

use super::{authorize, body_json, own_buyer, scope_of, ApiError, ApiResult};
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
    // A device linked through an invitation also learns its merchant, buyer and cases.
    let invite = crate::invite::session_invite(&shared, device.id).await;
    Ok(Json(json!({ "device": device, "invite": invite })).into_response())
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

/// Devices are the sandbox owner's to list and revoke: a device tied to a merchant or a buyer
/// (an invited merchant's phone) may not see or cut off anyone else's (403 `NOT_IN_SCOPE`).
async fn owner_only(shared: &Arc<Shared>, headers: &HeaderMap, what: &str) -> Result<(), ApiError> {
    if scope_of(shared, headers).await?.is_owner() {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "NOT_IN_SCOPE",
            format!(
                "only the sandbox owner's device may {what}; this device is scoped to a merchant or buyer"
            ),
        ))
    }
}

/// `GET /devices`: every paired device.
async fn devices(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> ApiResult {
    owner_only(&shared, &headers, "list the sandbox's devices").await?;
    let devices = shared.blocking(|store| store.devices()).await?;
    Ok(Json(devices).into_response())
}

/// `POST /devices/{id}/revoke`.
async fn revoke(State(shared): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap) -> ApiResult {
    let caller = authorize(&shared, &headers).await?;
    let id: i64 = id.parse().map_err(|_| bad_request(format!("device id must be a number, not {id:?}")))?;
    // Any device may unpair itself; only the owner's may cut off others.
    if id != caller.id {
        owner_only(&shared, &headers, "revoke other devices").await?;
    }
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
    own_buyer(&scope_of(&shared, &headers).await?, &id)?;
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
    own_buyer(&scope_of(&shared, &headers).await?, &id)?;
    let entries = shared.blocking(move |store| store.wallet_history(&id, 200)).await?;
    Ok(Json(entries).into_response())
}

/// `GET /pending/details`.
async fn pending_details(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> ApiResult {
    let scope = scope_of(&shared, &headers).await?;
    let now = shared.now();
    let mut list = shared.blocking(move |store| store.pending_details(now)).await?;
    if let Some(own) = scope.account.as_deref() {
        list.retain(|payment| payment.account_id == own);
    }
    Ok(Json(list).into_response())
}

/// `GET /codes/{code}`: the buyer account that owns a code this sandbox issued.
async fn code_owner(
    State(shared): State<Arc<Shared>>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let scope = scope_of(&shared, &headers).await?;
    let owner = shared.blocking(move |store| store.code_owner(&code)).await?;
    // A scoped device learns only of its own buyer's codes: another buyer's is "not found".
    let owner = owner.filter(|owner| own_buyer(&scope, &owner.account_id).is_ok());
    owner.map(|owner| Json(owner).into_response()).ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "this sandbox did not issue that code")
    })
}

/// `GET /events`: server-sent events — `pending` (the whole list, at once and on change) and
/// `payment` ({paymentId, accountId, state} when a recent payment changes state).
async fn events(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> ApiResult {
    let scope = scope_of(&shared, &headers).await?;
    Ok(Sse::new(event_stream(shared, scope.account)).keep_alive(KeepAlive::default()).into_response())
}

/// How many recent payments the stream watches for state changes.
const WATCHED_PAYMENTS: u32 = 100;

/// One reader per sandbox behind every `/events` subscriber: the database is read once per
/// change and the result sent to all (200 subscribers cost one read, not 200).
#[derive(Clone)]
struct Hub {
    /// The latest pending list as JSON (`None` until the first read).
    pending: tokio::sync::watch::Receiver<Option<String>>,
    /// Payment state changes as JSON.
    payments: tokio::sync::broadcast::Sender<String>,
}

/// The running hubs, by sandbox. A hub ends when its last subscriber leaves.
static HUBS: std::sync::Mutex<Vec<(std::sync::Weak<Shared>, Hub)>> = std::sync::Mutex::new(Vec::new());

fn hub(shared: &Arc<Shared>) -> Hub {
    let mut hubs = HUBS.lock().unwrap_or_else(|e| e.into_inner());
    hubs.retain(|(owner, _)| owner.strong_count() > 0);
    if let Some((_, hub)) = hubs.iter().find(|(owner, _)| std::ptr::eq(owner.as_ptr(), Arc::as_ptr(shared))) {
        return hub.clone();
    }
    let (pending_tx, pending) = tokio::sync::watch::channel(None);
    let (payments, _) = tokio::sync::broadcast::channel(256);
    let hub = Hub { pending, payments: payments.clone() };
    hubs.push((Arc::downgrade(shared), hub.clone()));
    tokio::spawn(read_loop(Arc::clone(shared), pending_tx, payments));
    hub
}

/// Reads the pending list and recent payment states once per change and publishes what changed,
/// until no subscriber is left or the sandbox stops.
async fn read_loop(
    shared: Arc<Shared>,
    pending: tokio::sync::watch::Sender<Option<String>>,
    payments: tokio::sync::broadcast::Sender<String>,
) {
    let mut changes = shared.changes.subscribe();
    let mut states: Option<HashMap<String, String>> = None;
    loop {
        let now = shared.now();
        let read = shared
            .blocking(move |store| {
                Ok((store.pending_details(now)?, store.recent_payment_states(WATCHED_PAYMENTS)?))
            })
            .await;
        if let Ok((list, recent)) = read {
            let json = serde_json::to_string(&list).unwrap_or_else(|_| "[]".into());
            pending.send_if_modified(|current| {
                let changed = current.as_deref() != Some(json.as_str());
                if changed {
                    *current = Some(json);
                }
                changed
            });
            let current: HashMap<String, String> =
                recent.iter().map(|s| (s.payment_id.clone(), s.state.clone())).collect();
            if let Some(previous) = &states {
                // Oldest first, so a client sees changes in the order the payments were made.
                for state in recent.iter().rev() {
                    if previous.get(&state.payment_id) != Some(&state.state) {
                        let _ = payments.send(serde_json::to_string(state).unwrap_or_else(|_| "{}".into()));
                    }
                }
            }
            states = Some(current);
        }
        let mut stop = shared.shutdown.clone();
        tokio::select! {
            _ = changes.recv() => {}
            // The CLI changes the database from another process; look again now and then.
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            _ = stop.wait_for(|stopped| *stopped) => break,
        }
        // The registry's own `Hub` holds one pending receiver; subscribers hold the others.
        if pending.receiver_count() <= 1 && payments.receiver_count() == 0 {
            break;
        }
    }
    let mut hubs = HUBS.lock().unwrap_or_else(|e| e.into_inner());
    hubs.retain(|(owner, _)| !std::ptr::eq(owner.as_ptr(), Arc::as_ptr(&shared)));
}

/// One subscriber's view of the hub: the current pending list at once and on change, payment
/// changes as they come.
/// A device tied to one buyer (`own`) gets only that buyer's pending payments and changes.
fn event_stream(shared: Arc<Shared>, own: Option<String>) -> impl Stream<Item = Result<Event, Infallible>> {
    let hub = hub(&shared);
    let payments = hub.payments.subscribe();
    let mut pending = hub.pending.clone();
    pending.mark_changed();
    // The last list sent: a scoped subscriber is not told when only others' payments changed.
    futures_util::stream::unfold(
        (pending, payments, shared, own, None::<String>),
        |(mut pending, mut payments, shared, own, mut sent)| async move {
            let mut stop = shared.shutdown.clone();
            loop {
                tokio::select! {
                    changed = pending.changed() => {
                        if changed.is_err() {
                            return None;
                        }
                        let current = pending.borrow_and_update().clone();
                        if let Some(list) = current {
                            let list = crate::live::only_buyer(&list, "accountId", own.as_deref());
                            if sent.as_deref() != Some(list.as_str()) {
                                sent = Some(list.clone());
                                let event = Event::default().event("pending").data(list);
                                return Some((Ok(event), (pending, payments, shared, own, sent)));
                            }
                        }
                    }
                    change = payments.recv() => match change {
                        Ok(data) if crate::live::is_buyers(&data, "accountId", own.as_deref()) => {
                            let event = Event::default().event("payment").data(data);
                            return Some((Ok(event), (pending, payments, shared, own, sent)));
                        }
                        Ok(_) => {}
                        // A slow subscriber missed some; the pending list it gets next is whole.
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                    },
                    _ = stop.wait_for(|stopped| *stopped) => return None,
                }
            }
        },
    )
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
