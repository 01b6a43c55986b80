//! The merchant-registration APIs of the gateway (alipayplus-api.md §13.1): `registration` and
//! `inquiryRegistrationStatus`, after the envelope and body checks of `gateway`. The rules live
//! in `store/registrations.rs`; this module turns a valid body into the store's input and the
//! store's outcome into a signed answer.

use std::sync::Arc;

use plusbox_core::protocol::{FieldError, Problem, RegistrationRequest, WireResult};
use plusbox_core::result_code::ResultCode;
use serde_json::{json, Map, Value};

use crate::gateway::{answer, canonical, internal, Exchange, Reply};
use crate::store::{validate_url, AppRecord, RegisterOutcome, RegistrationInput};
use crate::Shared;

/// The store's input from a validated `registration` body. The whole body is the key of
/// idempotency: a repeat must send it again unchanged (in any key order).
pub(crate) fn registration_input(
    request: RegistrationRequest,
    body: &[u8],
) -> Result<RegistrationInput, FieldError> {
    if let Some(url) = &request.registration_notify_url {
        validate_url(url)
            .map_err(|reason| FieldError::new("registrationNotifyUrl", Problem::Invalid(reason)))?;
    }
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let store = request.store_info.as_ref().and_then(|s| s.reference_store_id.clone());
    Ok(RegistrationInput {
        registration_request_id: request.registration_request_id.clone(),
        key_fields: canonical(&value),
        reference_merchant_id: request.merchant_info.reference_merchant_id.clone(),
        reference_store_id: store,
        merchant_name: request.merchant_info.merchant_display_name.clone().unwrap_or_default(),
        product_codes: request.product_codes.clone(),
        notify_url: request.registration_notify_url.clone(),
        pass_through_info: request.pass_through_info.clone(),
    })
}

/// `registration`: S when accepted (not approved: the review follows over sandbox time).
pub(crate) fn registration(
    shared: &Arc<Shared>,
    mut exchange: Exchange,
    uri: &str,
    app: &AppRecord,
    input: RegistrationInput,
) -> Reply {
    let now = shared.now();
    let outcome = shared.store.register(app, &input, now);
    // The worker sleeps until the next due instant; a new review may be due sooner.
    shared.changed();
    match outcome {
        Ok(RegisterOutcome::Accepted { record, repeat }) => {
            exchange.record.note = Some(if repeat {
                format!("repeat of registration {:?}: the first answer again", record.registration_request_id)
            } else {
                format!(
                    "registration {:?} accepted; PROCESSING until {}",
                    record.registration_request_id,
                    plusbox_core::protocol::time::format_instant(record.resolve_at)
                )
            });
            let mut extra = Map::new();
            if let Some(info) = &record.pass_through_info {
                extra.insert("passThroughInfo".into(), json!(info));
            }
            let result = WireResult::with_message(
                ResultCode::Success,
                "registration accepted; the review result follows",
            );
            answer(shared, exchange, uri, result, Value::Object(extra)).into()
        }
        Ok(RegisterOutcome::Refused(code, message)) => {
            answer(shared, exchange, uri, WireResult::with_message(code, message), Value::Null).into()
        }
        Err(error) => internal(shared, exchange, uri, error).into(),
    }
}

/// `inquiryRegistrationStatus`: S with the registration's result, or F `RECORD_NOT_FOUND`.
pub(crate) fn inquiry(
    shared: &Arc<Shared>,
    exchange: Exchange,
    uri: &str,
    app: &AppRecord,
    registration_request_id: Option<String>,
    merchant: Option<String>,
    store: Option<String>,
) -> Reply {
    let now = shared.now();
    let found = shared.store.inquire_registration(
        app.id,
        registration_request_id.as_deref(),
        merchant.as_deref(),
        store.as_deref(),
        now,
    );
    // Resolving a due review may have queued a notification.
    shared.changed();
    match found {
        Ok(Some(record)) => {
            answer(shared, exchange, uri, WireResult::success(), Value::Object(record.result_fields())).into()
        }
        Ok(None) => {
            let what = match (&registration_request_id, &merchant, &store) {
                (Some(id), _, _) => format!("registrationRequestId {id:?}"),
                (None, Some(m), Some(s)) => format!("merchant {m:?}, store {s:?}"),
                (None, Some(m), None) => format!("merchant {m:?}"),
                (None, None, _) => "the request".to_string(),
            };
            let result = WireResult::with_message(
                ResultCode::RecordNotFound,
                format!("no registration matches {what}"),
            );
            answer(shared, exchange, uri, result, Value::Null).into()
        }
        Err(error) => internal(shared, exchange, uri, error).into(),
    }
}
