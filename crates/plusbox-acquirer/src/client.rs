//! The signed HTTP client for the Alipay+ gateway: signs each request over the exact bytes sent,
//! applies the per-API timeout, and verifies the response signature over the exact bytes
//! received before anything acts on it (§1.4, §1.5, §12).

use std::time::Duration as StdDuration;

use plusbox_core::result_code::Status;
use plusbox_core::signing::{MessageParts, PrivateKey, PublicKey};
use serde_json::Value;
use time::OffsetDateTime;

use crate::config::uri_path;
use crate::error::AcquirerError;

/// The four ACQP → Alipay+ APIs the acquirer calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `pay`
    Pay,
    /// `inquiryPayment`
    InquiryPayment,
    /// `cancelPayment`
    CancelPayment,
    /// `refund`
    Refund,
    /// `registration` (§13.1)
    Registration,
    /// `inquiryRegistrationStatus` (§13.1)
    InquiryRegistrationStatus,
    /// `declare` (§13.2)
    Declare,
    /// `responseRetrieval` (§13.3)
    ResponseRetrieval,
    /// `responseEscalation` (§13.3)
    ResponseEscalation,
}

impl Api {
    /// The endpoint path.
    pub fn path(self) -> &'static str {
        match self {
            Api::Pay => "/aps/api/v1/payments/pay",
            Api::InquiryPayment => "/aps/api/v1/payments/inquiryPayment",
            Api::CancelPayment => "/aps/api/v1/payments/cancelPayment",
            Api::Refund => "/aps/api/v1/payments/refund",
            Api::Registration => "/aps/api/v1/merchants/registration",
            Api::InquiryRegistrationStatus => "/aps/api/v1/merchants/inquiryRegistrationStatus",
            Api::Declare => "/aps/api/v1/customs/declare",
            Api::ResponseRetrieval => plusbox_core::protocol::RESPONSE_RETRIEVAL_PATH,
            Api::ResponseEscalation => plusbox_core::protocol::RESPONSE_ESCALATION_PATH,
        }
    }

    /// The API name as the reference writes it.
    pub fn name(self) -> &'static str {
        match self {
            Api::Pay => "pay",
            Api::InquiryPayment => "inquiryPayment",
            Api::CancelPayment => "cancelPayment",
            Api::Refund => "refund",
            Api::Registration => "registration",
            Api::InquiryRegistrationStatus => "inquiryRegistrationStatus",
            Api::Declare => "declare",
            Api::ResponseRetrieval => "responseRetrieval",
            Api::ResponseEscalation => "responseEscalation",
        }
    }
}

/// A verified answer: the parsed body and its `result`.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The whole response body.
    pub body: Value,
    /// `result.resultStatus`.
    pub status: Status,
    /// `result.resultCode`.
    pub code: String,
    /// `result.resultMessage` (or `resultMsg`).
    pub message: String,
}

/// What came of one call. Anything but [`Outcome::Answered`] means "no result": the caller treats
/// it like U and retries or inquires with the same IDs.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A response whose signature verified (or was not checked, under the fault).
    Answered(Answer),
    /// No answer within the client timeout.
    Timeout,
    /// Connection failure or an HTTP status other than 200.
    Transport(String),
    /// The response signature was missing or did not verify; the body is not trusted.
    Unverified(String),
    /// The body was not JSON with a `result`.
    BadBody(String),
}

impl Outcome {
    /// A short label for logs and the call table: `S SUCCESS`, `timeout`, ….
    pub fn label(&self) -> String {
        match self {
            Outcome::Answered(a) => format!("{} {}", a.status, a.code),
            Outcome::Timeout => "timeout".to_owned(),
            Outcome::Transport(e) => format!("transport: {e}"),
            Outcome::Unverified(e) => format!("unverified response: {e}"),
            Outcome::BadBody(e) => format!("bad body: {e}"),
        }
    }
}

/// Reads `result` (or `paymentResult`) style objects: `(status, code, message)`.
pub fn read_result(value: Option<&Value>) -> Option<(Status, String, String)> {
    let value = value?;
    let status = match value.get("resultStatus")?.as_str()? {
        "S" => Status::Success,
        "F" => Status::Failure,
        "U" => Status::Unknown,
        _ => return None,
    };
    let code = value.get("resultCode").and_then(Value::as_str).unwrap_or("").to_owned();
    let message = value
        .get("resultMessage")
        .or_else(|| value.get("resultMsg"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    Some((status, code, message))
}

/// The time format Alipay+ writes: ISO 8601 with a `+08:00` offset, whole seconds.
pub fn wire_time(at: OffsetDateTime) -> String {
    let offset = time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC);
    let t = at.to_offset(offset);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+08:00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// JSON text with every non-ASCII character written as `\uXXXX` (UTF-16, surrogate pairs for
/// characters outside the BMP): the same JSON value, different bytes.
pub fn ascii_escaped(json: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(json);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out.into_bytes()
}

/// The gateway client.
#[derive(Clone)]
pub struct Gateway {
    http: reqwest::Client,
    base_url: String,
    client_id: String,
    key_version: u32,
    signing_key: std::sync::Arc<PrivateKey>,
    gateway_key: PublicKey,
    verify_responses: bool,
    /// The `request-time-local-z` fault: UTC+8 wall time written with `Z`.
    local_time_as_utc: bool,
    /// The `sign-utf8-send-escaped` fault: sign the UTF-8 body, send it `\u`-escaped.
    escape_after_signing: bool,
    /// Sent as the `Agent-Token` header on every call (a TSP calling for an ACQP, §14).
    agent_token: Option<String>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("base_url", &self.base_url)
            .field("client_id", &self.client_id)
            .finish()
    }
}

impl Gateway {
    /// A client for `base_url` signing with `signing_key` and verifying with `gateway_key`.
    /// `verify_responses = false` is the `skip-response-verification` fault.
    pub fn new(
        base_url: &str,
        client_id: &str,
        key_version: u32,
        signing_key: std::sync::Arc<PrivateKey>,
        gateway_key: PublicKey,
        verify_responses: bool,
    ) -> Result<Gateway, AcquirerError> {
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| AcquirerError::Network(format!("cannot build HTTP client: {e}")))?;
        Ok(Gateway {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            key_version,
            signing_key,
            gateway_key,
            verify_responses,
            local_time_as_utc: false,
            escape_after_signing: false,
            agent_token: None,
        })
    }

    /// Sends `token` as the `Agent-Token` header on every call (alipayplus-api.md §14: a TSP
    /// calling on behalf of an ACQP); `None` sends no such header.
    pub fn with_agent_token(mut self, token: Option<String>) -> Gateway {
        self.agent_token = token;
        self
    }

    /// Switches on the two wire faults this client carries: `request-time-local-z` (UTC+8 wall
    /// time written with `Z`) and `sign-utf8-send-escaped` (signs UTF-8, sends `\u`-escaped).
    pub fn with_wire_faults(mut self, local_time_as_utc: bool, escape_after_signing: bool) -> Gateway {
        self.local_time_as_utc = local_time_as_utc;
        self.escape_after_signing = escape_after_signing;
        self
    }

    /// Sends one signed request and reads the answer. Never panics; every failure is an
    /// [`Outcome`].
    pub async fn call(&self, api: Api, body: &Value, timeout: StdDuration, now: OffsetDateTime) -> Outcome {
        let url = format!("{}{}", self.base_url, api.path());
        let uri = uri_path(&url);
        let bytes = match serde_json::to_vec(body) {
            Ok(b) => b,
            Err(e) => return Outcome::BadBody(format!("cannot encode request: {e}")),
        };
        let request_time = if self.local_time_as_utc {
            // The broken form: the UTC+8 wall clock, labelled as UTC.
            wire_time(now).replace("+08:00", "Z")
        } else {
            wire_time(now)
        };
        let parts = MessageParts {
            method: "POST",
            uri: &uri,
            client_id: &self.client_id,
            time: &request_time,
            body: &bytes,
        };
        let signature = match self.signing_key.sign_message(&parts, Some(self.key_version)) {
            Ok(s) => s,
            Err(e) => return Outcome::Transport(format!("cannot sign: {e}")),
        };
        let bytes = if self.escape_after_signing { ascii_escaped(&bytes) } else { bytes };
        let mut request = self
            .http
            .post(&url)
            .timeout(timeout)
            .header("Content-Type", "application/json; charset=UTF-8")
            .header("Client-Id", &self.client_id)
            .header("Request-Time", &request_time)
            .header("Signature", signature);
        if let Some(token) = &self.agent_token {
            request = request.header("Agent-Token", token);
        }
        let sent = request.body(bytes).send().await;
        let response = match sent {
            Ok(r) => r,
            Err(e) if e.is_timeout() => return Outcome::Timeout,
            Err(e) => return Outcome::Transport(e.to_string()),
        };
        let status = response.status();
        let header =
            |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let signature = header("signature");
        let response_time = header("response-time");
        let response_client = header("client-id").unwrap_or_else(|| self.client_id.clone());
        let raw = match response.bytes().await {
            Ok(b) => b,
            Err(e) if e.is_timeout() => return Outcome::Timeout,
            Err(e) => return Outcome::Transport(e.to_string()),
        };
        if status != reqwest::StatusCode::OK {
            return Outcome::Transport(format!("HTTP {status}"));
        }
        if self.verify_responses {
            let (Some(signature), Some(response_time)) = (signature, response_time) else {
                return Outcome::Unverified("missing Signature or Response-Time header".to_owned());
            };
            let parts = MessageParts {
                method: "POST",
                uri: &uri,
                client_id: &response_client,
                time: &response_time,
                body: &raw,
            };
            if let Err(e) = self.gateway_key.verify_message(&signature, &parts) {
                return Outcome::Unverified(e.to_string());
            }
        }
        let body: Value = match serde_json::from_slice(&raw) {
            Ok(v) => v,
            Err(e) => return Outcome::BadBody(format!("not JSON: {e}")),
        };
        match read_result(body.get("result")) {
            Some((status, code, message)) => Outcome::Answered(Answer { body, status, code, message }),
            None => Outcome::BadBody("no valid result object".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_time_uses_plus_eight() {
        let t = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(wire_time(t), "1970-01-01T08:00:00+08:00");
    }

    #[test]
    fn ascii_escaping_keeps_the_json_value_and_changes_the_bytes() {
        let body = serde_json::json!({"orderDescription": "咖啡 ☕ 𝄞 tea"});
        let utf8 = serde_json::to_vec(&body).unwrap_or_default();
        let escaped = ascii_escaped(&utf8);
        assert!(escaped.is_ascii());
        assert_ne!(escaped, utf8);
        let back: Value = serde_json::from_slice(&escaped).unwrap_or(Value::Null);
        assert_eq!(back, body);
    }

    #[test]
    fn reads_both_message_spellings() {
        let v: Value =
            serde_json::json!({"resultStatus":"U","resultCode":"PAYMENT_IN_PROCESS","resultMsg":"wait"});
        let (s, c, m) = read_result(Some(&v)).unwrap_or((Status::Failure, String::new(), String::new()));
        assert_eq!((s, c.as_str(), m.as_str()), (Status::Unknown, "PAYMENT_IN_PROCESS", "wait"));
        assert!(read_result(Some(&serde_json::json!({"resultStatus":"X"}))).is_none());
    }
}
