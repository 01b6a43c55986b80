//! `CompanionClient`: the companion's only way to a sandbox — the companion API under `/app/v1`
//! over HTTP(S), with a device token. Wire records here mirror what the sandbox sends; the
//! commands turn them into the UI's types.

use std::time::Duration;

use futures_util::{Stream, StreamExt};
use plusbox_core::secret::SecretString;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::{CommandError, ErrorCode};

/// How long one companion-API call may take before the sandbox counts as unreachable.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// How long one results upload may take (a bundle with photos is megabytes).
pub const UPLOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A client for one sandbox and (optionally) one device token.
#[derive(Clone)]
pub struct CompanionClient {
    http: reqwest::Client,
    base: String,
    token: Option<SecretString>,
}

impl std::fmt::Debug for CompanionClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompanionClient").field("base", &self.base).finish_non_exhaustive()
    }
}

/// An HTTP client fit for the companion API: rustls, a connect timeout, no overall timeout
/// (event streams stay open; each call sets [`CALL_TIMEOUT`] itself).
pub fn http_client() -> Result<reqwest::Client, CommandError> {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .map_err(|e| CommandError::internal(format!("cannot build the HTTP client: {e}")))
}

/// What the sandbox says about itself (`GET /app/v1/about`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct WireAbout {
    /// Plusbox version of the sandbox.
    pub version: String,
    /// Client-Id.
    pub client_id: String,
    /// acquirerId.
    pub acquirer_id: String,
    /// Gateway URL.
    pub gateway_url: String,
}

/// A device as the sandbox lists it.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct WireDevice {
    /// Row id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Paired at.
    pub created_at: String,
    /// Last use.
    pub last_seen_at: Option<String>,
    /// Revoked at.
    pub revoked_at: Option<String>,
}

/// A new device and its token.
#[derive(Debug, Clone, Deserialize)]
pub struct WirePaired {
    /// The device.
    pub device: WireDevice,
    /// Its token.
    pub token: String,
}

#[derive(Debug, Clone, Deserialize)]
struct WireSession {
    device: WireDevice,
    #[serde(default)]
    invite: Option<crate::upload::LinkedInvite>,
}

/// A device linked through an invitation: the device, its token and the invite.
#[derive(Debug, Clone, Deserialize)]
pub struct WireLinked {
    /// The device.
    pub device: WireDevice,
    /// Its token.
    pub token: String,
    /// The invite.
    pub invite: crate::upload::LinkedInvite,
}

/// How an upload of a results bundle ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadAnswer {
    /// 201 (stored now) or 200 (stored before): uploaded either way.
    Stored {
        /// Whether this call stored it (false: a duplicate, stored before).
        new: bool,
    },
    /// Worth trying again later: the sandbox is unreachable, busy or failed (5xx, 408, 429).
    Retry(String),
    /// Refused for good (a 4xx): the message says why.
    Refused(String),
}

/// A balance: currency and minor units as a string.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct WireBalance {
    /// ISO 4217.
    pub currency: String,
    /// Minor units.
    pub value: String,
}

/// A buyer account.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct WireAccount {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Balances.
    pub balances: Vec<WireBalance>,
    /// Scenario.
    pub scenario: String,
}

/// A scenario and its one-line summary.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct WireScenario {
    /// Name.
    pub name: String,
    /// Summary.
    pub summary: String,
}

/// An issued code.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct WireCode {
    /// Digits.
    pub code: String,
    /// Account.
    pub account: String,
    /// Issued at.
    pub issued_at: String,
    /// Expires at.
    pub expires_at: String,
}

/// A history line.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct WireHistory {
    /// Id.
    pub id: String,
    /// Kind.
    pub kind: String,
    /// State.
    pub state: String,
    /// Currency.
    pub currency: String,
    /// Signed minor units.
    pub delta: String,
    /// paymentId / refundId.
    pub reference: Option<String>,
    /// Merchant.
    pub merchant_name: Option<String>,
    /// Failure code.
    pub result_code: Option<String>,
    /// When.
    pub at: String,
}

/// A payment waiting for the buyer.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct WirePending {
    /// paymentId.
    pub payment_id: String,
    /// Account.
    pub account_id: String,
    /// Currency.
    pub currency: String,
    /// Minor units.
    pub value: String,
    /// Merchant.
    pub merchant_name: Option<String>,
    /// Store.
    pub store_name: Option<String>,
    /// Created.
    pub created_at: String,
    /// Expires.
    pub expires_at: String,
    /// Needs the PIN.
    pub needs_pin: bool,
}

/// A decided payment's result.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct WireResult {
    /// Result code.
    pub result_code: String,
    /// S, F or U.
    pub result_status: String,
    /// Message.
    pub result_message: String,
}

/// A confirm or decline answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireDecision {
    /// paymentId.
    pub payment_id: String,
    /// Result.
    pub payment_result: WireResult,
}

/// Who owns an issued code.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct WireCodeOwner {
    /// Account.
    pub account_id: String,
    /// Its name.
    pub account_name: String,
    /// Code expiry.
    pub expires_at: String,
    /// Used by a payment.
    pub used: bool,
}

/// A payment state change.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct WirePaymentState {
    /// paymentId.
    pub payment_id: String,
    /// Account.
    pub account_id: String,
    /// State.
    pub state: String,
}

/// An event from `GET /app/v1/events`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireEvent {
    /// The whole pending list.
    Pending(Vec<WirePending>),
    /// A payment changed state.
    Payment(WirePaymentState),
}

impl CompanionClient {
    /// A client for the sandbox at `base` (e.g. `http://127.0.0.1:8787`).
    pub fn new(http: reqwest::Client, base: impl Into<String>, token: Option<SecretString>) -> Self {
        let base = base.into().trim_end_matches('/').to_string();
        CompanionClient { http, base, token }
    }

    /// The sandbox base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Whether a device token is present.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut builder = self.http.request(method, format!("{}/app/v1{path}", self.base));
        if let Some(token) = &self.token {
            builder = builder.bearer_auth(token.expose());
        }
        builder
    }

    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<T, CommandError> {
        let mut builder = self.request(method, path).timeout(CALL_TIMEOUT);
        if let Some(body) = body {
            builder = builder.json(&body);
        }
        let response = builder.send().await.map_err(|e| unreachable(&self.base, &e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| unreachable(&self.base, &e))?;
        if !status.is_success() {
            return Err(api_error(status, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            CommandError::internal(format!("the sandbox answered {path} with unexpected JSON: {e}"))
        })
    }

    /// `GET /about` (no token needed).
    pub async fn about(&self) -> Result<WireAbout, CommandError> {
        self.call(Method::GET, "/about", None).await
    }

    /// `GET /session`: this device.
    pub async fn session(&self) -> Result<WireDevice, CommandError> {
        self.require_token()?;
        let session: WireSession = self.call(Method::GET, "/session", None).await?;
        Ok(session.device)
    }

    /// `GET /session` with the invite the device was linked through, if any.
    pub async fn session_with_invite(
        &self,
    ) -> Result<(WireDevice, Option<crate::upload::LinkedInvite>), CommandError> {
        self.require_token()?;
        let session: WireSession = self.call(Method::GET, "/session", None).await?;
        Ok((session.device, session.invite))
    }

    /// `POST /invites/link`: trades an invite token (and the device's public key) for a device
    /// token scoped to the invite.
    pub async fn link_invite(
        &self,
        token: &str,
        device_name: Option<&str>,
        public_key: Option<&str>,
    ) -> Result<WireLinked, CommandError> {
        let body = json!({"token": token, "deviceName": device_name, "publicKey": public_key});
        self.call(Method::POST, "/invites/link", Some(body)).await
    }

    /// `POST /results`: uploads a signed results bundle (the exact bytes that were signed).
    pub async fn upload_bundle(&self, body: Vec<u8>, signature: &str) -> UploadAnswer {
        let response = self
            .request(Method::POST, "/results")
            .timeout(UPLOAD_TIMEOUT)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Bundle-Signature", format!("algorithm=Ed25519, signature={signature}"))
            .body(body)
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            Err(e) => return UploadAnswer::Retry(unreachable(&self.base, &e).message),
        };
        let status = response.status();
        let bytes = response.bytes().await.unwrap_or_default();
        if status.is_success() {
            return UploadAnswer::Stored { new: status == StatusCode::CREATED };
        }
        let error = api_error(status, &bytes);
        let message = format!("{} ({}): {}", status.as_u16(), error.code, error.message);
        if status.is_server_error() || matches!(status.as_u16(), 408 | 429) {
            UploadAnswer::Retry(message)
        } else {
            UploadAnswer::Refused(message)
        }
    }

    /// `POST /pair`: trades a short code or link token for a device token.
    pub async fn pair(&self, code: &str, device_name: Option<&str>) -> Result<WirePaired, CommandError> {
        self.call(Method::POST, "/pair", Some(json!({"code": code, "deviceName": device_name}))).await
    }

    /// `POST /pair/loopback`: pairs without a code (the sandbox checks its TCP peer).
    pub async fn pair_loopback(&self, device_name: Option<&str>) -> Result<WirePaired, CommandError> {
        self.call(Method::POST, "/pair/loopback", Some(json!({"deviceName": device_name}))).await
    }

    /// `GET /accounts`.
    pub async fn accounts(&self) -> Result<Vec<WireAccount>, CommandError> {
        self.require_token()?;
        self.call(Method::GET, "/accounts", None).await
    }

    /// `GET /merchant-codes`: the order-code domain and the registered private-order-code
    /// domains, to identify scanned merchant codes (payment-codes.md §4.5).
    pub async fn merchant_code_context(&self) -> Result<plusbox_core::codes::MpmContext, CommandError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire {
            private_order_code_domains: Vec<Domain>,
        }
        #[derive(Deserialize)]
        struct Domain {
            domain: String,
        }
        self.require_token()?;
        let wire: Wire = self.call(Method::GET, "/merchant-codes", None).await?;
        let mut context = plusbox_core::codes::MpmContext::default();
        for d in wire.private_order_code_domains {
            // A domain the sandbox accepted is a host name; anything else is skipped.
            let _ = context.register_private_domain(&d.domain);
        }
        Ok(context)
    }

    /// `POST /accounts/{id}/topup`: the new balance in that currency.
    pub async fn top_up(&self, account: &str, amount: &str) -> Result<WireBalance, CommandError> {
        self.require_token()?;
        let path = format!("/accounts/{}/topup", segment(account));
        self.call(Method::POST, &path, Some(json!({"amount": amount}))).await
    }

    /// `GET /scenarios`.
    pub async fn scenarios(&self) -> Result<Vec<WireScenario>, CommandError> {
        self.require_token()?;
        self.call(Method::GET, "/scenarios", None).await
    }

    /// `POST /accounts/{id}/scenario`.
    pub async fn set_scenario(&self, account: &str, scenario: &str) -> Result<WireAccount, CommandError> {
        self.require_token()?;
        let path = format!("/accounts/{}/scenario", segment(account));
        self.call(Method::POST, &path, Some(json!({"scenario": scenario}))).await
    }

    /// `POST /accounts/{id}/codes` with a form (`24`, `17`, `18`, `19`).
    pub async fn issue_code(&self, account: &str, form: &str) -> Result<WireCode, CommandError> {
        self.require_token()?;
        let path = format!("/accounts/{}/codes", segment(account));
        self.call(Method::POST, &path, Some(json!({"form": form}))).await
    }

    /// `GET /accounts/{id}/activity`.
    pub async fn history(&self, account: &str) -> Result<Vec<WireHistory>, CommandError> {
        self.require_token()?;
        self.call(Method::GET, &format!("/accounts/{}/activity", segment(account)), None).await
    }

    /// `GET /pending/details`.
    pub async fn pending(&self) -> Result<Vec<WirePending>, CommandError> {
        self.require_token()?;
        self.call(Method::GET, "/pending/details", None).await
    }

    /// `POST /payments/{id}/confirm`.
    pub async fn confirm(&self, payment_id: &str, pin: &str) -> Result<WireDecision, CommandError> {
        self.require_token()?;
        let path = format!("/payments/{}/confirm", segment(payment_id));
        self.call(Method::POST, &path, Some(json!({"pin": pin}))).await
    }

    /// `POST /payments/{id}/decline`.
    pub async fn decline(&self, payment_id: &str) -> Result<WireDecision, CommandError> {
        self.require_token()?;
        self.call(Method::POST, &format!("/payments/{}/decline", segment(payment_id)), None).await
    }

    /// `GET /devices`.
    pub async fn devices(&self) -> Result<Vec<WireDevice>, CommandError> {
        self.require_token()?;
        self.call(Method::GET, "/devices", None).await
    }

    /// `POST /devices/{id}/revoke`.
    pub async fn revoke(&self, device_id: i64) -> Result<WireDevice, CommandError> {
        self.require_token()?;
        self.call(Method::POST, &format!("/devices/{device_id}/revoke"), None).await
    }

    /// `GET /codes/{code}`: the owner, or `None` when this sandbox did not issue the code.
    pub async fn code_owner(&self, code: &str) -> Result<Option<WireCodeOwner>, CommandError> {
        self.require_token()?;
        match self.call(Method::GET, &format!("/codes/{}", segment(code)), None).await {
            Ok(owner) => Ok(Some(owner)),
            Err(error) if error.code == ErrorCode::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// `GET /events`: the live stream, until the sandbox closes it.
    pub async fn events(&self) -> Result<impl Stream<Item = Result<WireEvent, CommandError>>, CommandError> {
        self.require_token()?;
        let response =
            self.request(Method::GET, "/events").send().await.map_err(|e| unreachable(&self.base, &e))?;
        let status = response.status();
        if !status.is_success() {
            let bytes = response.bytes().await.map_err(|e| unreachable(&self.base, &e))?;
            return Err(api_error(status, &bytes));
        }
        let base = self.base.clone();
        let stream = eventsource_stream::EventStream::new(response.bytes_stream()).filter_map(move |item| {
            let base = base.clone();
            async move {
                match item {
                    Err(error) => Some(Err(CommandError::new(
                        ErrorCode::SandboxUnreachable,
                        format!("the event stream from {base} broke: {error}"),
                    ))),
                    Ok(event) => match event.event.as_str() {
                        "pending" => {
                            serde_json::from_str(&event.data).ok().map(|list| Ok(WireEvent::Pending(list)))
                        }
                        "payment" => {
                            serde_json::from_str(&event.data).ok().map(|state| Ok(WireEvent::Payment(state)))
                        }
                        _ => None,
                    },
                }
            }
        });
        Ok(stream)
    }

    pub(crate) fn require_token(&self) -> Result<(), CommandError> {
        if self.token.is_none() {
            return Err(CommandError::new(
                ErrorCode::NotPaired,
                "this device is not paired with the sandbox yet",
            ));
        }
        Ok(())
    }
}

/// Percent-encodes one path segment (ids come from the UI).
fn segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(b).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn unreachable(base: &str, error: &reqwest::Error) -> CommandError {
    let why = if error.is_timeout() {
        "it did not answer in time"
    } else if error.is_connect() {
        "nothing answers there"
    } else {
        "the connection failed"
    };
    CommandError::new(ErrorCode::SandboxUnreachable, format!("cannot reach the sandbox at {base}: {why}"))
}

/// Maps a companion-API error answer (`{code, message}`) to a command error.
fn api_error(status: StatusCode, body: &[u8]) -> CommandError {
    #[derive(Deserialize)]
    struct Body {
        code: String,
        message: String,
    }
    let Ok(body) = serde_json::from_slice::<Body>(body) else {
        return CommandError::internal(format!("the sandbox answered HTTP {status} without an error body"));
    };
    let code = match body.code.as_str() {
        "UNAUTHORIZED" => ErrorCode::NotPaired,
        // A scanned order code the wallet refuses (merchant-presented mode, `crate::mpm`).
        "INVALID_CODE" => ErrorCode::OrderCodeInvalid,
        "EXPIRED_CODE" => ErrorCode::OrderCodeExpired,
        "ORDER_IS_CLOSED" => ErrorCode::OrderClosed,
        "STORE_UNAVAILABLE" => ErrorCode::SandboxUnreachable,
        other => ErrorCode::from_wire(other).unwrap_or(match status.as_u16() {
            400 | 405 | 413 | 415 | 422 => ErrorCode::BadRequest,
            404 => ErrorCode::NotFound,
            409 => ErrorCode::InvalidState,
            _ => ErrorCode::Internal,
        }),
    };
    CommandError::new(code, body.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_cannot_escape_their_place() {
        assert_eq!(segment("buyer-1"), "buyer-1");
        assert_eq!(segment("../admin?x=1"), "..%2Fadmin%3Fx%3D1");
    }

    #[test]
    fn sandbox_error_bodies_map_to_command_codes() {
        let e = api_error(StatusCode::UNAUTHORIZED, br#"{"code":"UNAUTHORIZED","message":"no"}"#);
        assert_eq!(e.code, ErrorCode::NotPaired);
        let e = api_error(StatusCode::CONFLICT, br#"{"code":"ALREADY_DECIDED","message":"done"}"#);
        assert_eq!(e.code, ErrorCode::AlreadyDecided);
        let e = api_error(StatusCode::METHOD_NOT_ALLOWED, b"");
        assert_eq!(e.code, ErrorCode::Internal);
    }
}
