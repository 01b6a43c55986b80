//! Linking a device through an invitation, `POST /app/v1/invites/link {token, deviceName?,
//! publicKey?}` (issue 14): the invite link's token (`…/#invite=<token>`) buys a device token
//! scoped to the invite's merchant (its MID), its buyer account and its cases. A device that
//! uploads signed results (the app, `plusbox device link`) sends its Ed25519 public key (SPKI
//! DER, Base64); a browser sends none and its runs are recorded by the sandbox itself.
//!
//! Answers `{device, token, invite: LinkedInvite}`; refusals `{code, message}`: 404
//! `INVITE_UNKNOWN`, 403 `INVITE_REVOKED`, 400 `INVALID_ARGUMENT`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::collector::{ed25519_key_of_spki, AppError};
use crate::store::{InviteView, LinkOutcome};
use crate::Shared;

/// Longest invite token accepted (they are 47 characters).
const MAX_TOKEN: usize = 200;

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
async fn link(State(shared): State<Arc<Shared>>, body: Bytes) -> Result<Response, AppError> {
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
