//! The customs-declaration APIs of the gateway (alipayplus-api.md §13.2): `declare` and
//! `inquireDeclarationRequests`, after the envelope and body checks of `gateway`. The rules live
//! in `store/customs.rs`.

use std::sync::Arc;

use plusbox_core::protocol::{DeclareRequest, FieldError, WireResult};
use serde_json::{json, Value};

use crate::gateway::{answer, canonical, internal, Exchange, Reply};
use crate::store::{AppRecord, DeclareInput, DeclareOutcome};
use crate::Shared;

/// The store's input from a validated `declare` body; the whole body is the idempotency key.
pub(crate) fn declare_input(request: DeclareRequest, body: &[u8]) -> Result<DeclareInput, FieldError> {
    let amount = request.amount()?;
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let customs = request.customs.unwrap_or_else(|| plusbox_core::protocol::CustomsInfo {
        customs_code: None,
        region: None,
        extra: Default::default(),
    });
    let merchant =
        request.merchant_customs_info.unwrap_or_else(|| plusbox_core::protocol::MerchantCustomsInfo {
            merchant_customs_code: None,
            merchant_customs_name: None,
            extra: Default::default(),
        });
    Ok(DeclareInput {
        customs_declaration_request_id: request.customs_declaration_request_id,
        key_fields: canonical(&value),
        payment_request_id: request.payment_request_id,
        customs_code: customs.customs_code.unwrap_or_default(),
        region: customs.region.unwrap_or_default(),
        merchant_customs_code: merchant.merchant_customs_code.unwrap_or_default(),
        merchant_customs_name: merchant.merchant_customs_name.unwrap_or_default(),
        amount,
        is_split: request.is_split,
        reference_order_id: request.reference_order_id,
    })
}

/// `declare`: S with the sandbox's ids when accepted (the customs' result follows over time).
pub(crate) fn declare(
    shared: &Arc<Shared>,
    mut exchange: Exchange,
    uri: &str,
    app: &AppRecord,
    input: DeclareInput,
) -> Reply {
    let now = shared.now();
    match shared.store.declare(app, &input, now) {
        Ok(DeclareOutcome::Accepted { record, repeat }) => {
            exchange.record.payment_id = Some(record.payment_id.clone());
            exchange.record.note = Some(if repeat {
                format!(
                    "repeat of declaration {:?}: the first answer again",
                    record.customs_declaration_request_id
                )
            } else {
                format!("declaration {:?} accepted", record.customs_declaration_request_id)
            });
            let extra = json!({
                "customsDeclarationRequestId": record.customs_declaration_request_id,
                "pspDeclarationRequestId": record.psp_declaration_request_id,
                "pspPaymentId": record.payment_id,
            });
            answer(shared, exchange, uri, WireResult::success(), extra).into()
        }
        Ok(DeclareOutcome::Refused(code, message)) => {
            answer(shared, exchange, uri, WireResult::with_message(code, message), Value::Null).into()
        }
        Err(error) => internal(shared, exchange, uri, error).into(),
    }
}

/// `inquireDeclarationRequests`: S with the records found and the ids not found.
pub(crate) fn inquire(
    shared: &Arc<Shared>,
    exchange: Exchange,
    uri: &str,
    app: &AppRecord,
    ids: Vec<String>,
) -> Reply {
    let now = shared.now();
    match shared.store.declarations(app.id, &ids) {
        Ok((found, missing)) => {
            let records: Vec<Value> = found.iter().map(|r| r.wire(now)).collect();
            let mut extra = json!({"declarationRecords": records});
            if !missing.is_empty() {
                extra["declarationRequestsNotFound"] = json!(missing);
            }
            answer(shared, exchange, uri, WireResult::success(), extra).into()
        }
        Err(error) => internal(shared, exchange, uri, error).into(),
    }
}
