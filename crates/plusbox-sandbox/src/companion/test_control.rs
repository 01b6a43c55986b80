//! The test-control API under `/app/v1/test/`: everything a test run arranges and reads on the
//! sandbox, for a runner that reaches the sandbox over HTTP (`plusbox run --sandbox URL --token
//! T`, the companion app) instead of opening its SQLite file. See `docs/test-control-api.md`.
//!
//! Every call is authorised by a device token, like the rest of the companion API, and limited to
//! the device's scope (`store::DeviceScope`): a device paired for a merchant and a buyer sees
//! only that merchant's and that buyer's traffic, payments and rules, and arranges only its own
//! buyer. Errors are `{code, message}` JSON naming what is wrong.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::str::FromStr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use futures_util::stream::Stream;
use plusbox_core::money::Amount;
use plusbox_core::protocol::time::format_instant;
use plusbox_core::result_code::ResultCode;
use serde_json::{json, Value};

use super::{authorize, body_json, ApiError, ApiResult};
use crate::store::{DeviceScope, MockAction, MockScope, PaymentRecord, Tamper, TrafficView};
use crate::{Scenario, Shared};

/// Real time between looks at the traffic log for a live stream.
const STREAM_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// Most traffic entries one list call returns.
const MAX_PAGE: u32 = 500;

/// Longest a payment can be aged or a code backdated in one call: 400 days (past the one-year
/// refund window, far from any overflow).
const MAX_AGE_SECONDS: i64 = 400 * 24 * 3600;

pub(super) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/test/scope", get(scope))
        .route("/test/sandbox", get(sandbox))
        .route("/test/runs", post(begin_run))
        .route("/test/runs/{id}", delete(end_run))
        .route("/test/buyers", post(ensure_buyer))
        .route("/test/accounts/{id}", get(account))
        .route("/test/accounts/{id}/scenario", put(set_scenario))
        .route("/test/accounts/{id}/wallet", put(set_wallet))
        .route("/test/accounts/{id}/topup", post(topup))
        .route("/test/accounts/{id}/codes", post(issue_code))
        .route("/test/accounts/{id}/notify-hold", put(hold).delete(release))
        .route("/test/magic-amounts", put(magic_amounts))
        .route("/test/mocks", get(mocks).post(add_mock))
        .route("/test/mocks/{id}", delete(remove_mock))
        .route("/test/payments/age", post(age_payments))
        .route("/test/disputes", post(open_dispute))
        .route("/test/payments/{id}", get(payment))
        .route("/test/payments/{id}/confirm", post(confirm))
        .route("/test/payments/{id}/decline", post(decline))
        .route("/test/pending", get(pending))
        .route("/test/traffic", get(traffic))
        .route("/test/traffic/stream", get(traffic_stream))
        .route("/test/clock", get(clock))
        .route("/test/clock/advance", post(advance_clock))
}

/// An authorised device and its scope.
struct Caller {
    id: i64,
    scope: DeviceScope,
}

/// Sandbox time as milliseconds since the epoch (a remote runner measures the sandbox's pace with it).
fn unix_ms(at: time::OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
}

fn out_of_scope(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "NOT_IN_SCOPE", message)
}

/// Authorises the device, reads its scope and keeps its open runs alive.
async fn caller(shared: &Arc<Shared>, headers: &HeaderMap) -> Result<Caller, ApiError> {
    shared.sync_clock();
    let device = authorize(shared, headers).await?;
    let id = device.id;
    let now = shared.now();
    let scope = shared
        .blocking(move |store| {
            store.touch_test_runs(id, now)?;
            store.device_scope(id)
        })
        .await?;
    Ok(Caller { id, scope })
}

impl Caller {
    /// Refuses a buyer account this device may not arrange.
    fn arranges(&self, account: &str) -> Result<(), ApiError> {
        if self.scope.may_arrange(account) {
            return Ok(());
        }
        Err(out_of_scope(format!(
            "this device arranges only buyer {}; {account} is not its own",
            self.scope.account.as_deref().unwrap_or("(none: pair it with --account)")
        )))
    }

    /// Refuses a payment this device may not see: 404 for one that does not exist, 403 for
    /// another merchant's or buyer's.
    async fn sees_payment(&self, shared: &Arc<Shared>, id: &str) -> Result<(), ApiError> {
        let key = id.to_owned();
        match shared.blocking(move |store| store.payment_scope(&key)).await? {
            None => Err(ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", format!("no payment {id}"))),
            Some((merchant, account)) if self.scope.covers(merchant.as_deref(), account.as_deref()) => Ok(()),
            Some(_) => Err(out_of_scope(format!("payment {id} belongs to another merchant and buyer"))),
        }
    }
}

fn string_field(body: &Value, name: &str) -> Result<String, ApiError> {
    body.get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| bad(format!("{name} is required (a string)")))
}

fn int_field(body: &Value, name: &str) -> Result<Option<i64>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| bad(format!("{name} must be an integer, not {v}"))),
    }
}

fn u32_field(body: &Value, name: &str) -> Result<Option<u32>, ApiError> {
    int_field(body, name)?
        .map(|n| u32::try_from(n).map_err(|_| bad(format!("{name} must be between 0 and {}", u32::MAX))))
        .transpose()
}

async fn scope(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> ApiResult {
    let caller = caller(&shared, &headers).await?;
    let mut value = serde_json::to_value(&caller.scope).unwrap_or_else(|_| json!({}));
    value["deviceId"] = json!(caller.id);
    value["owner"] = json!(caller.scope.is_owner());
    let id = caller.id;
    value["cases"] = json!(shared.blocking(move |store| store.device_cases(id)).await?);
    Ok(Json(value).into_response())
}

/// What a runner needs about the sandbox: its application (to forge a notification to the ACQP's
/// URL) and its time.
async fn sandbox(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> ApiResult {
    caller(&shared, &headers).await?;
    let view = shared.blocking(|store| store.app_view()).await?;
    let offset = shared.clock.offset();
    Ok(Json(json!({
        "clientId": view.client_id,
        "acquirerId": view.acquirer_id,
        "notifyUrl": view.notify_url,
        "gatewayUrl": view.gateway_url,
        "now": format_instant(shared.now()),
        "nowMs": unix_ms(shared.now()),
        "clockOffsetMs": offset.whole_milliseconds(),
        "timeScale": plusbox_clock::Clock::pace(&shared.clock),
    }))
    .into_response())
}

async fn begin_run(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let caller = caller(&shared, &headers).await?;
    let body = body_json(&body)?;
    let account = match body.get("account").and_then(Value::as_str) {
        Some(account) => account.to_owned(),
        None => {
            caller.scope.account.clone().ok_or_else(|| bad("account is required (a buyer account id)"))?
        }
    };
    caller.arranges(&account)?;
    let (device, now, buyer) = (caller.id, shared.now(), account.clone());
    match shared.blocking(move |store| store.begin_test_run(device, &buyer, now)).await? {
        Ok(run) => Ok((StatusCode::CREATED, Json(json!({"runId": run, "account": account}))).into_response()),
        Err(active) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "RUN_ACTIVE",
            format!(
                "buyer {account} already has an active run (run {} of device {}, started {}); wait for it to end or use another buyer",
                active.id, active.device_id, active.started_at
            ),
        )),
    }
}

async fn end_run(State(shared): State<Arc<Shared>>, Path(id): Path<i64>, headers: HeaderMap) -> ApiResult {
    let caller = caller(&shared, &headers).await?;
    let (device, now) = (caller.id, shared.now());
    if shared.blocking(move |store| store.end_test_run(device, id, now)).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", format!("this device has no open run {id}")))
    }
}

/// Makes a buyer like another (same wallet persona and PIN) if it does not exist yet.
async fn ensure_buyer(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let caller = caller(&shared, &headers).await?;
    let body = body_json(&body)?;
    let id = string_field(&body, "id")?;
    let like = string_field(&body, "like")?;
    caller.arranges(&id)?;
    let now = shared.now();
    let created = shared.blocking(move |store| store.ensure_buyer_like(&id, &like, now)).await?;
    Ok(Json(json!({"created": created})).into_response())
}

async fn account(State(shared): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap) -> ApiResult {
    caller(&shared, &headers).await?.arranges(&id)?;
    let view = shared.blocking(move |store| store.account(&id)).await?;
    Ok(Json(view).into_response())
}

/// `PUT /test/accounts/{id}/wallet` `{"wallet": "ALIPAY_CN"}`: the buyer pays as this wallet
/// persona from now on (a customs case needs an Alipay (CN) payment, §13.2). Answers
/// `{"wallet", "previous"}` so the run can put it back.
async fn set_wallet(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    caller(&shared, &headers).await?.arranges(&id)?;
    let wallet = string_field(&body_json(&body)?, "wallet")?;
    if plusbox_core::codes::WalletTable::builtin().find(&wallet).is_none() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "BAD_WALLET",
            format!("no wallet persona {wallet:?}"),
        ));
    }
    let set = wallet.clone();
    let previous = shared.blocking(move |store| store.set_wallet(&id, &set)).await?;
    shared.changed();
    Ok(Json(serde_json::json!({"wallet": wallet, "previous": previous})).into_response())
}

async fn set_scenario(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    caller(&shared, &headers).await?.arranges(&id)?;
    let name = string_field(&body_json(&body)?, "scenario")?;
    let scenario = Scenario::from_str(&name).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "BAD_SCENARIO", format!("scenario {name:?}: {e}"))
    })?;
    let view = shared
        .blocking(move |store| {
            store.set_scenario(&id, &scenario)?;
            store.account(&id)
        })
        .await?;
    shared.changed();
    Ok(Json(view).into_response())
}

async fn topup(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    caller(&shared, &headers).await?.arranges(&id)?;
    let text = string_field(&body_json(&body)?, "amount")?;
    let amount = Amount::parse_positive(&text)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "BAD_AMOUNT", format!("amount {text:?}: {e}")))?;
    let now = shared.now();
    let balance = shared.blocking(move |store| store.topup(&id, &amount, now)).await?;
    shared.changed();
    Ok(Json(balance).into_response())
}

/// Issues a code for the buyer; `ageSeconds` backdates it (a code issued 61 s ago has lapsed
/// without any clock moving).
async fn issue_code(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    caller(&shared, &headers).await?.arranges(&id)?;
    let age = int_field(&body_json(&body)?, "ageSeconds")?.unwrap_or(0);
    if !(0..=MAX_AGE_SECONDS).contains(&age) {
        return Err(bad(format!("ageSeconds must be between 0 and {MAX_AGE_SECONDS}")));
    }
    let issued_at = crate::clock::add_saturating(shared.now(), -time::Duration::seconds(age));
    let code = shared.blocking(move |store| store.issue_code(&id, issued_at)).await?;
    Ok(super::app::with_issued_at(code, issued_at))
}

async fn hold(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    caller(&shared, &headers).await?.arranges(&id)?;
    let body = body_json(&body)?;
    let delay = int_field(&body, "delayMs")?.ok_or_else(|| bad("delayMs is required"))?;
    if !(1..=MAX_AGE_SECONDS * 1000).contains(&delay) {
        return Err(bad("delayMs must be at least 1 and at most 400 days"));
    }
    let minutes = u32_field(&body, "minutes")?.unwrap_or(30).clamp(1, 24 * 60);
    let now = shared.now();
    let until = crate::clock::add_saturating(now, time::Duration::minutes(i64::from(minutes)));
    shared
        .blocking(move |store| store.hold_notifications(&id, time::Duration::milliseconds(delay), until))
        .await?;
    Ok(Json(json!({"delayMs": delay, "until": format_instant(until)})).into_response())
}

async fn release(State(shared): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap) -> ApiResult {
    caller(&shared, &headers).await?.arranges(&id)?;
    let released = shared.blocking(move |store| store.release_notifications(&id)).await?;
    shared.changed();
    Ok(Json(json!({"released": released})).into_response())
}

/// Magic amounts are one switch for the whole application: any device may switch them on (the
/// default, which no one's run relies on being off); only the owner's device may switch them off.
async fn magic_amounts(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let caller = caller(&shared, &headers).await?;
    let on = body_json(&body)?
        .get("on")
        .and_then(Value::as_bool)
        .ok_or_else(|| bad("on is required (true or false)"))?;
    if !on && !caller.scope.is_owner() {
        return Err(out_of_scope(
            "magic amounts are one switch for every merchant on this sandbox; only the owner's device may switch them off",
        ));
    }
    shared.blocking(move |store| store.set_magic_amounts(on)).await?;
    Ok(Json(json!({"on": on})).into_response())
}

fn rule_json(rule: &crate::store::MockRule, scope: &MockScope) -> Value {
    let mut value = serde_json::to_value(rule).unwrap_or_else(|_| json!({}));
    value["scope"] = json!({"merchant": scope.merchant, "account": scope.account});
    value
}

async fn mocks(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> ApiResult {
    let caller = caller(&shared, &headers).await?;
    let (scope, now) = (caller.scope, shared.now());
    let rules = shared.blocking(move |store| store.mocks_in_scope(&scope, now)).await?;
    Ok(Json(rules.iter().map(|(r, s)| rule_json(r, s)).collect::<Vec<_>>()).into_response())
}

/// Adds a forced result or a tamper rule, scoped to the device's buyer (`"scope": "account"`, the
/// default) or merchant (`"merchant"`). The owner's device may name any buyer or merchant, or
/// none (`"global"`).
async fn add_mock(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let caller = caller(&shared, &headers).await?;
    let body = body_json(&body)?;
    let api = string_field(&body, "api")?;
    let action =
        match (body.get("resultCode").and_then(Value::as_str), body.get("tamper").and_then(Value::as_str)) {
            (Some(code), None) => {
                MockAction::Force(ResultCode::from_wire(code).ok_or_else(|| {
                    bad(format!("resultCode {code:?} is not a result code the sandbox knows"))
                })?)
            }
            (None, Some(tamper)) => MockAction::Tamper(Tamper::from_str(tamper).map_err(bad)?),
            _ => return Err(bad("give exactly one of resultCode or tamper (\"body\" or \"signature\")")),
        };
    let count = u32_field(&body, "count")?;
    let minutes = u32_field(&body, "minutes")?.or(Some(30));
    let kind = body.get("scope").and_then(Value::as_str).unwrap_or(if caller.scope.account.is_some() {
        "account"
    } else if caller.scope.merchant.is_some() {
        "merchant"
    } else {
        "global"
    });
    let named = |field: &str| body.get(field).and_then(Value::as_str).map(str::to_owned);
    let scope = match kind {
        "account" => {
            let account = named("account")
                .or(caller.scope.account.clone())
                .ok_or_else(|| bad("scope account needs an account (this device has none)"))?;
            caller.arranges(&account)?;
            MockScope::account(&account)
        }
        "merchant" => {
            let merchant = named("merchant")
                .or(caller.scope.merchant.clone())
                .ok_or_else(|| bad("scope merchant needs a merchant (this device has none)"))?;
            if !caller.scope.is_owner() && caller.scope.merchant.as_deref() != Some(merchant.as_str()) {
                return Err(out_of_scope(format!("merchant {merchant} is not this device's merchant")));
            }
            MockScope { merchant: Some(merchant), account: None }
        }
        "global" if caller.scope.is_owner() => MockScope::default(),
        "global" => {
            return Err(out_of_scope(
                "a global rule would catch every merchant's calls; only the owner's device may add one",
            ))
        }
        other => return Err(bad(format!("scope must be account, merchant or global, not {other:?}"))),
    };
    let now = shared.now();
    let scope_back = scope.clone();
    let rule = shared
        .blocking(move |store| store.add_scoped_mock(&api, action, count, minutes, &scope, now))
        .await?;
    Ok((StatusCode::CREATED, Json(rule_json(&rule, &scope_back))).into_response())
}

async fn remove_mock(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> ApiResult {
    let caller = caller(&shared, &headers).await?;
    let scope = shared.blocking(move |store| store.mock_scope(id)).await?;
    let Some(scope) = scope else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", format!("no mock rule {id}")));
    };
    let global = scope.merchant.is_none() && scope.account.is_none();
    if !caller.scope.is_owner()
        && (global || !caller.scope.covers(scope.merchant.as_deref(), scope.account.as_deref()))
    {
        return Err(out_of_scope(format!("mock rule {id} is not this device's")));
    }
    shared.blocking(move |store| store.remove_mock(id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Ages payments of the device's own into the past (`seconds`), so a case can put a sale behind
/// the cancel window without moving the sandbox clock for everyone.
async fn age_payments(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let caller = caller(&shared, &headers).await?;
    let body = body_json(&body)?;
    let ids: Vec<String> = body
        .get("paymentIds")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("paymentIds is required (an array of paymentId)"))?
        .iter()
        .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| bad("paymentIds holds strings")))
        .collect::<Result<_, _>>()?;
    let seconds = int_field(&body, "seconds")?.ok_or_else(|| bad("seconds is required"))?;
    if !(1..=MAX_AGE_SECONDS).contains(&seconds) {
        return Err(bad(format!("seconds must be between 1 and {MAX_AGE_SECONDS}")));
    }
    for id in &ids {
        caller.sees_payment(&shared, id).await?;
    }
    let aged =
        shared.blocking(move |store| store.age_payments(&ids, time::Duration::seconds(seconds))).await?;
    shared.changed();
    Ok(Json(json!({"aged": aged})).into_response())
}

/// `POST /test/disputes` `{kind, paymentId, amount?}`: starts a dispute against a payment the
/// device may see, as the TSP does (alipayplus-api.md §13.3). A refusal by the dispute rules is
/// `422 {code, message}` with the rule's code.
async fn open_dispute(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let caller = caller(&shared, &headers).await?;
    let body = body_json(&body)?;
    let kind = match body.get("kind").and_then(Value::as_str) {
        Some("retrieval") => crate::store::DisputeKind::Retrieval,
        Some("escalation") => crate::store::DisputeKind::Escalation,
        _ => return Err(bad("kind is required: retrieval or escalation")),
    };
    let payment =
        body.get("paymentId").and_then(Value::as_str).ok_or_else(|| bad("paymentId is required"))?.to_owned();
    let amount = match body.get("amount") {
        None | Some(Value::Null) => None,
        Some(value) => {
            let wire: plusbox_core::protocol::WireAmount = serde_json::from_value(value.clone())
                .map_err(|e| bad(format!("amount is {{currency, value}}: {e}")))?;
            Some(Amount::from_wire(&wire).map_err(|e| bad(format!("amount: {e}")))?)
        }
    };
    caller.sees_payment(&shared, &payment).await?;
    let input = crate::store::DisputeInput { kind, payment, reason: None, amount };
    let now = shared.now();
    let opened = shared.blocking(move |store| store.open_dispute(&input, now)).await?;
    shared.changed();
    match opened {
        Ok(dispute) => Ok((StatusCode::CREATED, Json(dispute)).into_response()),
        Err(refused) => Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, refused.code, refused.message)),
    }
}

fn payment_json(record: &PaymentRecord, refunds: &[crate::store::RefundView]) -> Value {
    json!({
        "paymentRequestId": record.payment_request_id,
        "paymentId": record.payment_id,
        "state": record.state,
        "failCode": record.fail_code.map(|c| c.as_str()),
        "amount": {"currency": record.amount.currency.code(), "value": record.amount.value.to_string()},
        "account": record.account_id,
        "createdAt": format_instant(record.created_at),
        "expiresAt": format_instant(record.expires_at),
        "paidAt": record.paid_at.map(format_instant),
        "refunds": refunds,
    })
}

async fn payment(State(shared): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap) -> ApiResult {
    let caller = caller(&shared, &headers).await?;
    caller.sees_payment(&shared, &id).await?;
    let key = id.clone();
    let found = shared
        .blocking(move |store| {
            let Some(record) = store.payment_by_id(&key)? else { return Ok(None) };
            let refunds = store.refunds_of(&record.payment_id)?;
            Ok(Some((record, refunds)))
        })
        .await?;
    let (record, refunds) = found.ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", format!("no payment with paymentId {id}"))
    })?;
    Ok(Json(payment_json(&record, &refunds)).into_response())
}

async fn pending(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> ApiResult {
    let caller = caller(&shared, &headers).await?;
    let now = shared.now();
    let all = shared.blocking(move |store| store.pending(now)).await?;
    let mut mine = Vec::new();
    for p in all {
        let id = p.payment_id.clone();
        let scope = shared.blocking(move |store| store.payment_scope(&id)).await?;
        if let Some((merchant, account)) = scope {
            if caller.scope.covers(merchant.as_deref(), account.as_deref()) {
                mine.push(p);
            }
        }
    }
    Ok(Json(mine).into_response())
}

async fn confirm(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    caller(&shared, &headers).await?.sees_payment(&shared, &id).await?;
    let pin = string_field(&body_json(&body)?, "pin")?;
    let (now, asked) = (shared.now(), id.clone());
    let outcome = shared.blocking(move |store| store.confirm(&id, &pin, now)).await;
    let payment = super::app::decided(&shared, &asked, outcome).await?;
    shared.changed();
    Ok(Json(json!({"paymentId": payment.payment_id, "paymentResult": payment.payment_result()}))
        .into_response())
}

async fn decline(State(shared): State<Arc<Shared>>, Path(id): Path<String>, headers: HeaderMap) -> ApiResult {
    caller(&shared, &headers).await?.sees_payment(&shared, &id).await?;
    let (now, asked) = (shared.now(), id.clone());
    let outcome = shared.blocking(move |store| store.decline(&id, now)).await;
    let payment = super::app::decided(&shared, &asked, outcome).await?;
    shared.changed();
    Ok(Json(json!({"paymentId": payment.payment_id, "paymentResult": payment.payment_result()}))
        .into_response())
}

#[derive(serde::Deserialize)]
struct Page {
    after: Option<i64>,
    limit: Option<u32>,
}

/// Traffic the device may see after `after`: `{entries, next, mark}`. `next` is where the next
/// page starts; `mark` is the newest entry id of the whole log (a run's high-water mark).
async fn traffic(
    State(shared): State<Arc<Shared>>,
    Query(page): Query<Page>,
    headers: HeaderMap,
) -> ApiResult {
    let caller = caller(&shared, &headers).await?;
    let after = page.after.unwrap_or(0);
    let limit = page.limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
    let scope = caller.scope;
    let (entries, next, mark) = shared
        .blocking(move |store| {
            let mark = store.traffic_max_id()?;
            let (entries, next) = store.traffic_in_scope(&scope, after, limit)?;
            Ok((entries, next, mark))
        })
        .await?;
    Ok(Json(json!({"entries": entries, "next": next, "mark": mark})).into_response())
}

/// Server-sent events: one `traffic` event per entry the device may see, from `after` on, live.
async fn traffic_stream(
    State(shared): State<Arc<Shared>>,
    Query(page): Query<Page>,
    headers: HeaderMap,
) -> ApiResult {
    let caller = caller(&shared, &headers).await?;
    let events = traffic_events(shared, caller.scope, page.after.unwrap_or(0));
    Ok(Sse::new(events).keep_alive(KeepAlive::default()).into_response())
}

fn traffic_events(
    shared: Arc<Shared>,
    scope: DeviceScope,
    after: i64,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let start = (shared, scope, after, VecDeque::<TrafficView>::new());
    futures_util::stream::unfold(start, |(shared, scope, mut cursor, mut queue)| async move {
        loop {
            if let Some(entry) = queue.pop_front() {
                let data = serde_json::to_string(&entry).unwrap_or_else(|_| "{}".into());
                let event = Event::default().event("traffic").id(entry.id.to_string()).data(data);
                return Some((Ok(event), (shared, scope, cursor, queue)));
            }
            let wanted = scope.clone();
            match shared.blocking(move |store| store.traffic_in_scope(&wanted, cursor, MAX_PAGE)).await {
                Ok((entries, next)) => {
                    cursor = next;
                    queue.extend(entries);
                }
                Err(error) => tracing::warn!(%error, "traffic stream: the store could not be read"),
            }
            if queue.is_empty() {
                let mut stop = shared.shutdown.clone();
                tokio::select! {
                    _ = tokio::time::sleep(STREAM_POLL) => {}
                    _ = stop.wait_for(|stopped| *stopped) => return None,
                }
            }
        }
    })
}

async fn clock(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> ApiResult {
    let caller = caller(&shared, &headers).await?;
    Ok(Json(json!({
        "now": format_instant(shared.now()),
        "nowMs": unix_ms(shared.now()),
        "offsetMs": shared.clock.offset().whole_milliseconds(),
        "clockControl": caller.scope.clock_control,
    }))
    .into_response())
}

/// Jumps the sandbox clock by `seconds`. The clock is one for the whole sandbox: a jump expires
/// every merchant's codes and payments at once. So it is allowed only to a device paired with
/// clock control (`--clock`), and only while no other device has an active run.
async fn advance_clock(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let caller = caller(&shared, &headers).await?;
    if !caller.scope.clock_control {
        return Err(out_of_scope(
            "the sandbox clock is shared by every merchant; only a device paired with clock control (`plusbox app pair --clock`) may jump it",
        ));
    }
    let seconds = int_field(&body_json(&body)?, "seconds")?.ok_or_else(|| bad("seconds is required"))?;
    let by = time::Duration::seconds(seconds);
    let now = shared.now();
    let others: Vec<_> = shared
        .blocking(move |store| store.active_test_runs(now))
        .await?
        .into_iter()
        .filter(|run| run.device_id != caller.id)
        .collect();
    if let Some(run) = others.first() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "CLOCK_SHARED",
            format!(
                "another device's run is active (run {} on buyer {}); a clock jump would move its time too",
                run.id, run.account
            ),
        ));
    }
    let offset = shared.clock.advance(by).map_err(|e| match e {
        crate::StoreError::OutOfRange(message) | crate::StoreError::Invalid(message) => {
            ApiError::new(StatusCode::BAD_REQUEST, "CLOCK_OUT_OF_RANGE", message)
        }
        other => ApiError::from(other),
    })?;
    shared.changed();
    Ok(Json(json!({"now": format_instant(shared.now()), "offsetMs": offset.whole_milliseconds()}))
        .into_response())
}
