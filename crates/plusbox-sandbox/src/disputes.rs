//! The dispute APIs of the gateway (alipayplus-api.md §13.3): the ACQP's `responseRetrieval` and
//! `responseEscalation`, after the envelope and body checks of `gateway`, and the TSP's way to
//! start a dispute (the CLI, the dashboard's admin API, test runs). The rules live in
//! `store/disputes.rs`; the signed `initiateRetrieval` / `initiateEscalation` leave through the
//! outbox (`notify.rs`), which verifies the ACQP's signed acknowledgement.

use std::sync::Arc;

use plusbox_core::protocol::{DisputeResponseRequest, FieldError, Problem, WireResult};
use serde_json::{json, Value};

use crate::gateway::{answer, canonical, internal, Exchange, Reply};
use crate::store::{AppRecord, DisputeAnswerInput, DisputeAnswerOutcome, DisputeKind};
use crate::Shared;

/// The store's input from a validated answer; the whole body is the idempotency key.
pub(crate) fn answer_input(
    kind: DisputeKind,
    request: DisputeResponseRequest,
    body: &[u8],
) -> Result<DisputeAnswerInput, FieldError> {
    if kind == DisputeKind::Retrieval && request.accept_liability.is_some() {
        return Err(FieldError::new(
            "acceptLiability",
            Problem::Invalid(
                "only an escalation's answer accepts or defends liability; leave it out of responseRetrieval"
                    .into(),
            ),
        ));
    }
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    Ok(DisputeAnswerInput {
        kind,
        dispute_request_id: request.dispute_request_id,
        payment_request_id: request.payment_request_id,
        key_fields: canonical(&value),
        body: value,
    })
}

/// `responseRetrieval` / `responseEscalation`: S when the answer is recorded (or is the identical
/// repeat of the recorded one); F `DISPUTE_NOT_EXIST`, `DISPUTE_CLOSED` or
/// `REPEAT_REQ_INCONSISTENT` otherwise.
pub(crate) fn respond(
    shared: &Arc<Shared>,
    mut exchange: Exchange,
    uri: &str,
    app: &AppRecord,
    input: DisputeAnswerInput,
) -> Reply {
    let now = shared.now();
    match shared.store.answer_dispute(app.id, &input, now) {
        Ok(DisputeAnswerOutcome::Accepted { record, repeat }) => {
            // The traffic entry names the disputed payment, so a run sees its own answers.
            exchange.record.payment_request_id = Some(record.payment_request_id.clone());
            exchange.record.payment_id = Some(record.payment_id.clone());
            exchange.record.note = Some(if repeat {
                format!(
                    "repeat of the answer to {} {}: the first answer again",
                    record.kind.word(),
                    record.dispute_request_id
                )
            } else {
                format!("{} {} answered; ANSWERED", record.kind.word(), record.dispute_request_id)
            });
            let extra = json!({"disputeRequestId": record.dispute_request_id});
            answer(shared, exchange, uri, WireResult::success(), extra).into()
        }
        Ok(DisputeAnswerOutcome::Refused(code, message, record)) => {
            if let Some(record) = record {
                exchange.record.payment_request_id = Some(record.payment_request_id.clone());
                exchange.record.payment_id = Some(record.payment_id.clone());
            }
            answer(shared, exchange, uri, WireResult::with_message(code, message), Value::Null).into()
        }
        Err(error) => internal(shared, exchange, uri, error).into(),
    }
}
