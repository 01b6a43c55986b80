//! The reference ACQP's merchant registration (alipayplus-api.md §13.1): `registration` of a
//! merchant and its store for in-store payments, the update rule, and the
//! `notifyRegistrationStatus` it receives.
//!
//! What a correct ACQP does, and this one does:
//! - It keeps each registration it sends; a `registration` answered U or not at all is re-sent
//!   with the **same** `registrationRequestId` (up to [`SEND_ATTEMPTS`] times).
//! - An update (same merchant and store) while the earlier request is under 30 minutes old is
//!   sent only once that request is processed: it first asks `inquiryRegistrationStatus`, and
//!   while the answer is still `PROCESSING` it holds the update (`DEFERRED` to the POS) instead
//!   of sending one Alipay+ would refuse. Fault `reregister-within-30-minutes` sends it anyway.
//! - A verified `notifyRegistrationStatus` updates the registration; every one is answered with
//!   a signed acknowledgement.

use serde::Deserialize;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

use super::{new_id, Acquirer, IncomingNotify, NotifyAck};
use crate::client::{Api, Outcome};
use crate::error::AcquirerError;
use crate::faults::Fault;
use crate::store::{parse_rfc3339, rfc3339, RegistrationRow};
use plusbox_core::result_code::Status;
use plusbox_core::signing::MessageParts;

/// Where the acquirer receives `notifyRegistrationStatus` (the documented path, §1.2).
pub const REGISTRATION_NOTIFY_PATH: &str = "/aps/api/v1/merchants/notifyRegistrationStatus";

/// How many times one `registration` is sent before its outcome is left UNKNOWN.
pub const SEND_ATTEMPTS: u32 = 3;

/// Alipay+'s timeout for `registration` and `inquiryRegistrationStatus` (§12).
const CALL_TIMEOUT_MS: u64 = 5_000;

/// The 30-minute update rule (§13.1).
const UPDATE_WINDOW: Duration = Duration::minutes(30);

/// `POST /register` of the POS-driver contract.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterRequest {
    /// `referenceMerchantId`.
    pub merchant_id: String,
    /// `referenceStoreId`.
    pub store_id: String,
    /// `merchantDisplayName`.
    pub merchant_name: String,
    /// The `registrationRequestId` to use; the acquirer makes one when absent.
    #[serde(default)]
    pub registration_request_id: Option<String>,
}

/// What `register` did: the POS-driver answer's `state` and the registration.
#[derive(Debug, Clone)]
pub struct RegisterOutcome {
    /// `ACCEPTED` (under review), `DEFERRED` (an update held back), `REFUSED` (F by Alipay+),
    /// `UNKNOWN` (no final answer).
    pub state: &'static str,
    /// The registration concerned (the earlier one when deferred).
    pub registration: Option<RegistrationRow>,
    /// Result code of the last answer, if any.
    pub result_code: Option<String>,
    /// What happened, for the cashier.
    pub message: String,
}

fn check_text(name: &str, value: &str, max: usize) -> Result<(), AcquirerError> {
    if value.trim().is_empty() || value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(AcquirerError::BadRequest(format!("{name} must be 1-{max} printable characters")));
    }
    Ok(())
}

impl Acquirer {
    /// The URL the sandbox sends `notifyRegistrationStatus` to: the notify URL's origin with
    /// [`REGISTRATION_NOTIFY_PATH`].
    pub fn registration_notify_url(&self) -> Option<String> {
        let mut url = reqwest::Url::parse(&self.config().notify_url).ok()?;
        url.set_path(REGISTRATION_NOTIFY_PATH);
        url.set_query(None);
        Some(url.to_string())
    }

    /// Registers a merchant and its store for in-store payments, keeping the update rule.
    pub async fn register(&self, req: RegisterRequest) -> Result<RegisterOutcome, AcquirerError> {
        check_text("merchantId", &req.merchant_id, 64)?;
        check_text("storeId", &req.store_id, 32)?;
        check_text("merchantName", &req.merchant_name, 256)?;
        if let Some(id) = &req.registration_request_id {
            check_text("registrationRequestId", id, 64)?;
        }
        let now = self.now();
        if !self.has(Fault::ReregisterWithin30Minutes) {
            if let Some(earlier) = self.store().latest_registration(&req.merchant_id, &req.store_id)? {
                if let Some(deferred) = self.hold_update(&req, earlier, now).await? {
                    return Ok(deferred);
                }
            }
        }
        let id = req.registration_request_id.clone().unwrap_or_else(|| new_id("reg", now));
        let body = json!({
            "registrationRequestId": id,
            "merchantInfo": {
                "referenceMerchantId": req.merchant_id,
                "merchantDisplayName": req.merchant_name,
                "merchantMCC": "5812",
                "registrationDetail": {
                    "legalName": req.merchant_name,
                    "registrationType": "ENTERPRISE_REGISTRATION_NO",
                    "registrationNo": format!("BR-{}", req.merchant_id),
                },
            },
            "storeInfo": {"referenceStoreId": req.store_id, "storeName": req.merchant_name},
            "productCodes": ["IN_STORE_PAYMENT"],
            "registrationNotifyUrl": self.registration_notify_url(),
        });
        let row = RegistrationRow {
            registration_request_id: id.clone(),
            merchant_id: req.merchant_id.clone(),
            store_id: req.store_id.clone(),
            merchant_name: req.merchant_name.clone(),
            status: "SENDING".to_owned(),
            result_code: None,
            result_message: None,
            created_at: rfc3339(now),
        };
        if self.store().registration(&id)?.is_none() {
            self.store().insert_registration(&row)?;
        }
        let mut last = String::from("no answer");
        for attempt in 1..=SEND_ATTEMPTS {
            match self.call(Api::Registration, &body, CALL_TIMEOUT_MS, &req.merchant_id, &id).await {
                Outcome::Answered(answer) if answer.status == Status::Success => {
                    self.store().update_registration(
                        &id,
                        "PROCESSING",
                        Some(&answer.code),
                        Some(&answer.message),
                        self.now(),
                    )?;
                    return Ok(self.outcome(
                        "ACCEPTED",
                        &id,
                        Some(answer.code),
                        "registration accepted; under review".into(),
                    ));
                }
                Outcome::Answered(answer) if answer.status == Status::Failure => {
                    self.store().update_registration(
                        &id,
                        "REFUSED",
                        Some(&answer.code),
                        Some(&answer.message),
                        self.now(),
                    )?;
                    let message =
                        format!("Alipay+ refused the registration: {} {}", answer.code, answer.message);
                    return Ok(self.outcome("REFUSED", &id, Some(answer.code), message));
                }
                other => {
                    // U, a timeout or an answer that failed verification: the same request again.
                    last = other.label();
                    if attempt < SEND_ATTEMPTS {
                        let at = self.now().checked_add(Duration::seconds(1)).unwrap_or(self.now());
                        self.sleep_until(at).await;
                    }
                }
            }
        }
        self.store().update_registration(&id, "UNKNOWN", None, Some(&last), self.now())?;
        let message = format!("no final answer after {SEND_ATTEMPTS} attempts ({last}); send it again later with the same registrationRequestId");
        Ok(self.outcome("UNKNOWN", &id, None, message))
    }

    /// The update rule: with an earlier request under 30 minutes old whose review is not known
    /// to be over, ask Alipay+; hold the update while it is still PROCESSING (or unknown).
    async fn hold_update(
        &self,
        req: &RegisterRequest,
        earlier: RegistrationRow,
        now: OffsetDateTime,
    ) -> Result<Option<RegisterOutcome>, AcquirerError> {
        let sent = parse_rfc3339(&earlier.created_at).unwrap_or(now);
        let open_at = sent.checked_add(UPDATE_WINDOW).unwrap_or(now);
        // In flight, accepted, or of unknown outcome: the review may be running.
        let under_review = matches!(earlier.status.as_str(), "SENDING" | "PROCESSING" | "UNKNOWN");
        if !under_review || now >= open_at {
            return Ok(None);
        }
        let id = earlier.registration_request_id.clone();
        // By request id, with the merchant and store it must belong to.
        let inquiry = json!({
            "registrationRequestId": id,
            "referenceMerchantId": earlier.merchant_id,
            "referenceStoreId": earlier.store_id,
        });
        let outcome =
            self.call(Api::InquiryRegistrationStatus, &inquiry, CALL_TIMEOUT_MS, &req.merchant_id, &id).await;
        let status = match &outcome {
            Outcome::Answered(answer) if answer.status == Status::Success => answer
                .body
                .pointer("/registrationResult/registrationStatus")
                .and_then(Value::as_str)
                .map(str::to_owned),
            _ => None,
        };
        match status.as_deref() {
            Some(done @ ("COMPLETED" | "REJECTED")) => {
                self.store().update_registration(&id, done, None, None, self.now())?;
                Ok(None)
            }
            _ => {
                let seen = status.unwrap_or_else(|| format!("unknown ({})", outcome.label()));
                let message = format!(
                    "update held: the previous registration {id} is {seen}; Alipay+ accepts an update once it is processed or after {}",
                    crate::client::wire_time(open_at)
                );
                Ok(Some(RegisterOutcome {
                    state: "DEFERRED",
                    registration: Some(earlier),
                    result_code: None,
                    message,
                }))
            }
        }
    }

    fn outcome(
        &self,
        state: &'static str,
        id: &str,
        code: Option<String>,
        message: String,
    ) -> RegisterOutcome {
        RegisterOutcome {
            state,
            registration: self.store().registration(id).ok().flatten(),
            result_code: code,
            message,
        }
    }

    /// Handles one `notifyRegistrationStatus`: verifies it, records the review's result, and
    /// answers with a signed acknowledgement (S once verified and read; F otherwise).
    pub fn handle_registration_notify(&self, n: IncomingNotify<'_>) -> NotifyAck {
        let verified = match (n.client_id, n.request_time, n.signature) {
            (Some(client_id), Some(time), Some(signature)) => {
                let parts = MessageParts { method: "POST", uri: n.uri, client_id, time, body: n.body };
                self.inner.gateway_key.verify_message(signature, &parts).is_ok()
            }
            _ => false,
        };
        let parsed: Option<Value> = serde_json::from_slice(n.body).ok();
        let id = parsed.as_ref().and_then(|v| v.get("registrationRequestId")).and_then(Value::as_str);
        let status = parsed
            .as_ref()
            .and_then(|v| v.pointer("/registrationResult/registrationStatus"))
            .and_then(Value::as_str);
        let ack = match (verified, id, status) {
            (false, _, _) => ("F", "INVALID_SIGNATURE", "signature verification failed"),
            (true, Some(id), Some(status)) => {
                let reason = parsed
                    .as_ref()
                    .and_then(|v| v.pointer("/registrationResult/rejectReason"))
                    .and_then(Value::as_str);
                // Bookkeeping: the acknowledgement goes out even if the table is busy.
                let _ = self.store().update_registration(id, status, None, reason, self.now());
                ("S", "SUCCESS", "success")
            }
            _ => (
                "F",
                "PARAM_ILLEGAL",
                "registrationRequestId and registrationResult.registrationStatus are required",
            ),
        };
        self.ack(n.uri, ack)
    }
}
