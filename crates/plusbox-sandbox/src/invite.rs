//! Linking a device through an invitation, `POST /app/v1/invites/link {token, deviceName?,
//! publicKey?}` (issue 14): the invite link's token (`…/#invite=<token>`) buys a device token
//! scoped to the invite's merchant (its MID), its buyer account and its cases. A device that
//! uploads signed results (the app, `plusbox device link`) sends its Ed25519 public key (SPKI
//! DER, Base64); a browser sends none and its runs are recorded by the sandbox itself.
//!
//! Answers `{device, token, invite: LinkedInvite}`; refusals `{code, message}`: 404
//! `INVITE_UNKNOWN`, 403 `INVITE_REVOKED`, 400 `INVALID_ARGUMENT`, 429 `TOO_MANY_ATTEMPTS` (with
//! `Retry-After`) when one address, or everyone together, tries links faster than a person with
//! an invitation ever would. Tokens carry 256 bits, so the limit is defence in depth: it keeps a
//! guesser from hammering the store and shows up in the log.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::collector::{ed25519_key_of_spki, AppError};
use crate::store::{InviteView, LinkOutcome};
use crate::Shared;

/// Longest invite token accepted (they are 47 characters).
const MAX_TOKEN: usize = 200;

/// Link attempts one client address may make: a burst of this many, then one more per
/// [`LINK_REFILL`]. A merchant links one phone, maybe a few; ten in a row is already generous.
const LINK_BURST_PER_CLIENT: u32 = 10;

/// Link attempts from all addresses together: a burst of this many, then one per
/// [`LINK_REFILL`] / 10 (a guesser spread over many addresses).
const LINK_BURST_GLOBAL: u32 = 100;

/// How long one client's attempt takes to come back.
const LINK_REFILL: std::time::Duration = std::time::Duration::from_secs(6);

/// Keyed clients kept before the ones that are back at a full burst are forgotten.
const LINK_CLIENTS_KEPT: usize = 10_000;

/// The rate limits on `POST /invites/link` (real time, not the sandbox clock: a test run that
/// jumps the clock must not reset them).
pub(crate) struct LinkLimiter {
    per_client: governor::DefaultKeyedRateLimiter<IpAddr>,
    global: governor::DefaultDirectRateLimiter,
}

fn quota(burst: u32, refill: std::time::Duration) -> governor::Quota {
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    governor::Quota::with_period(refill)
        .unwrap_or_else(|| governor::Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

impl LinkLimiter {
    /// Limits as the constants above say.
    pub(crate) fn new() -> Self {
        LinkLimiter {
            per_client: governor::RateLimiter::keyed(quota(LINK_BURST_PER_CLIENT, LINK_REFILL)),
            global: governor::RateLimiter::direct(quota(LINK_BURST_GLOBAL, LINK_REFILL / 10)),
        }
    }

    /// Takes one attempt for `client`, or says how long to wait (whole seconds, at least one).
    fn attempt(&self, client: IpAddr) -> Result<(), u64> {
        if self.per_client.len() > LINK_CLIENTS_KEPT {
            self.per_client.retain_recent();
        }
        let clock = governor::clock::DefaultClock::default();
        let wait = |not_until: governor::NotUntil<governor::clock::QuantaInstant>| {
            use governor::clock::Clock as _;
            not_until.wait_time_from(clock.now()).as_secs().saturating_add(1)
        };
        self.per_client.check_key(&client).map_err(wait)?;
        self.global.check().map_err(wait)
    }
}

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new().route("/invites/link", post(link))
}

/// An invite as a linked device sees it (`LinkedInvite` of the companion).
pub fn linked_invite_json(invite: &InviteView) -> Value {
    json!({
        "inviteId": invite.id,
        "merchant": invite.merchant,
        "mid": invite.mid,
        "products": invite.products,
        "cases": invite.cases,
        "accounts": invite.accounts,
    })
}

/// The invite a device was linked through, as `LinkedInvite` JSON, or `null`.
pub(crate) async fn session_invite(shared: &Arc<Shared>, device_id: i64) -> Value {
    match shared.blocking(move |store| store.device_invite(device_id)).await {
        Ok(Some((invite, _))) => linked_invite_json(&invite),
        _ => Value::Null,
    }
}

fn invalid(message: impl Into<String>) -> AppError {
    AppError::new(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", message)
}

fn optional_text(body: &Value, name: &str) -> Result<Option<String>, AppError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.trim().to_string()).filter(|t| !t.is_empty())),
        Some(_) => Err(invalid(format!("{name} must be a string"))),
    }
}

/// `POST /invites/link`.
async fn link(State(shared): State<Arc<Shared>>, request: Request) -> Result<Response, AppError> {
    // The TCP peer, never a header the client sets.
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    if let Err(seconds) = shared.link_limiter.attempt(client) {
        tracing::warn!(%client, "invite link attempts over the limit");
        let mut response = AppError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_ATTEMPTS",
            format!("too many invite links tried from here; try again in {seconds} s"),
        )
        .into_response();
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        return Ok(response);
    }
    let body = axum::body::to_bytes(request.into_body(), 64 * 1024)
        .await
        .map_err(|e| invalid(format!("cannot read the body: {e}")))?;
    let body: Value =
        serde_json::from_slice(&body).map_err(|e| invalid(format!("the body is not JSON: {e}")))?;
    let token = optional_text(&body, "token")?
        .ok_or_else(|| invalid("token is required: the text after #invite= in the invite link"))?;
    if token.len() > MAX_TOKEN || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(AppError::new(
            StatusCode::NOT_FOUND,
            "INVITE_UNKNOWN",
            "that is not an invite link of this sandbox",
        ));
    }
    let name = optional_text(&body, "deviceName")?.unwrap_or_default();
    let public_key = optional_text(&body, "publicKey")?;
    if let Some(key) = &public_key {
        ed25519_key_of_spki(key).map_err(invalid)?;
    }
    let now = shared.now();
    let outcome =
        shared.blocking(move |store| store.link_invite(&token, &name, public_key.as_deref(), now)).await?;
    match outcome {
        LinkOutcome::Linked { invite, device, token } => {
            tracing::info!(invite = %invite.id, device = device.id, "device linked through an invitation");
            shared.announce();
            Ok(Json(
                json!({"device": device, "token": token.expose(), "invite": linked_invite_json(&invite)}),
            )
            .into_response())
        }
        LinkOutcome::Unknown => Err(AppError::new(
            StatusCode::NOT_FOUND,
            "INVITE_UNKNOWN",
            "no invitation of this sandbox has that link; ask for a new one",
        )),
        LinkOutcome::Revoked => Err(AppError::new(
            StatusCode::FORBIDDEN,
            "INVITE_REVOKED",
            "this invitation was revoked; ask whoever invited you for a new one",
        )),
    }
}
