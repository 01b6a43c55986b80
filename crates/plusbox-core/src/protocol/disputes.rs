//! Dispute bodies (alipayplus-api.md §13.3): `initiateRetrieval` / `initiateEscalation`
//! (Alipay+ → ACQP) and the ACQP's `responseRetrieval` / `responseEscalation` (ACQP → Alipay+),
//! with their field rules.
//!
//! Plusbox decisions (docs/registration-customs-disputes.md): the reference names only
//! `disputeRequestId`, `paymentRequestId` and `disputeOccurTime`. Plusbox sends those with the
//! disputed payment's ids, amount and time, a reason, the escalated `disputeAmount` and a
//! `responseDeadline`. An answer names the dispute and its payment and carries the order's
//! details (`order`, the common Order object of §2.3) as the material; `responseMessage` is free
//! text; `acceptLiability` (`"true"`/`"false"`) says whether the ACQP accepts an escalation.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::{FieldError, Problem};
use super::time::parse_instant;
use super::validate::{opt_text, required, text, Validate, ValidateAt, ID_MAX, TEXT_MAX, URL_MAX};
use super::{Order, WireAmount};
use crate::money::Amount;

/// `initiateRetrieval` path (Alipay+ → ACQP, §1.2).
pub const INITIATE_RETRIEVAL_PATH: &str = "/aps/api/v1/disputes/initiateRetrieval";
/// `initiateEscalation` path (Alipay+ → ACQP, §1.2).
pub const INITIATE_ESCALATION_PATH: &str = "/aps/api/v1/disputes/initiateEscalation";
/// `responseRetrieval` path (ACQP → Alipay+, §1.2).
pub const RESPONSE_RETRIEVAL_PATH: &str = "/aps/api/v1/disputes/responseRetrieval";
/// `responseEscalation` path (ACQP → Alipay+, §1.2).
pub const RESPONSE_ESCALATION_PATH: &str = "/aps/api/v1/disputes/responseEscalation";

/// `initiateRetrieval` / `initiateEscalation` request (what the sandbox sends the ACQP).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitiateDisputeRequest {
    /// `disputeRequestId`: Alipay+'s id of the dispute, the idempotency key (REQUIRED, ≤64).
    pub dispute_request_id: String,
    /// `paymentRequestId` of the disputed payment (REQUIRED, ≤64).
    pub payment_request_id: String,
    /// `paymentId` of the disputed payment (≤64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    /// `acquirerId` (≤64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acquirer_id: Option<String>,
    /// `pspId` of the wallet that paid (≤64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psp_id: Option<String>,
    /// `paymentAmount` of the disputed payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_amount: Option<WireAmount>,
    /// `paymentTime` of the disputed payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_time: Option<String>,
    /// `disputeOccurTime` (REQUIRED).
    pub dispute_occur_time: String,
    /// `disputeReasonCode` (≤64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispute_reason_code: Option<String>,
    /// `disputeReasonMessage` (≤256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispute_reason_message: Option<String>,
    /// `disputeAmount`: the escalated amount (escalations only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispute_amount: Option<WireAmount>,
    /// `responseDeadline`: the answer must arrive by then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_deadline: Option<String>,
    /// Fields this type does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `responseRetrieval` / `responseEscalation` request (the ACQP's answer to a dispute).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DisputeResponseRequest {
    /// `disputeRequestId` of the dispute answered (REQUIRED, ≤64).
    pub dispute_request_id: String,
    /// `paymentRequestId` of the disputed payment (REQUIRED, ≤64).
    pub payment_request_id: String,
    /// `order`: the order's details, the material of the answer (REQUIRED).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Order>,
    /// `responseMessage`: free text for the wallet (≤2048).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_message: Option<String>,
    /// `acceptLiability`: `"true"` when the ACQP accepts an escalation, `"false"` when it
    /// defends it (escalations only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_liability: Option<String>,
    /// Fields this type does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn time_field(field: &str, value: &str) -> Result<(), FieldError> {
    text("", field, value, TEXT_MAX)?;
    parse_instant(value).map(|_| ()).map_err(|e| FieldError::new(field, Problem::Invalid(e.to_string())))
}

fn amount_field(field: &str, value: &Option<WireAmount>) -> Result<Option<Amount>, FieldError> {
    value
        .as_ref()
        .map(|wire| {
            Amount::from_wire(wire).map_err(|e| {
                let sub = if e.is_currency_error() { "currency" } else { "value" };
                FieldError::new(format!("{field}.{sub}"), Problem::Invalid(e.to_string()))
            })
        })
        .transpose()
}

impl InitiateDisputeRequest {
    /// `disputeAmount`, validated.
    pub fn amount(&self) -> Result<Option<Amount>, FieldError> {
        amount_field("disputeAmount", &self.dispute_amount)
    }
}

impl Validate for InitiateDisputeRequest {
    fn validate(&self) -> Result<(), FieldError> {
        text("", "disputeRequestId", &self.dispute_request_id, ID_MAX)?;
        text("", "paymentRequestId", &self.payment_request_id, ID_MAX)?;
        opt_text("", "paymentId", &self.payment_id, ID_MAX)?;
        opt_text("", "acquirerId", &self.acquirer_id, ID_MAX)?;
        opt_text("", "pspId", &self.psp_id, ID_MAX)?;
        amount_field("paymentAmount", &self.payment_amount)?;
        if let Some(at) = &self.payment_time {
            time_field("paymentTime", at)?;
        }
        time_field("disputeOccurTime", &self.dispute_occur_time)?;
        opt_text("", "disputeReasonCode", &self.dispute_reason_code, ID_MAX)?;
        opt_text("", "disputeReasonMessage", &self.dispute_reason_message, TEXT_MAX)?;
        self.amount()?;
        if let Some(at) = &self.response_deadline {
            time_field("responseDeadline", at)?;
        }
        Ok(())
    }
}

impl DisputeResponseRequest {
    /// `acceptLiability` as a boolean (validated: `"true"` or `"false"`).
    pub fn accepts_liability(&self) -> Result<Option<bool>, FieldError> {
        match self.accept_liability.as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(FieldError::new(
                "acceptLiability",
                Problem::Invalid(format!("{other:?} is not \"true\" or \"false\"")),
            )),
        }
    }
}

impl Validate for DisputeResponseRequest {
    fn validate(&self) -> Result<(), FieldError> {
        text("", "disputeRequestId", &self.dispute_request_id, ID_MAX)?;
        text("", "paymentRequestId", &self.payment_request_id, ID_MAX)?;
        required("", "order", &self.order)?.validate_at("order")?;
        opt_text("", "responseMessage", &self.response_message, URL_MAX)?;
        self.accepts_liability().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::protocol::lenient;

    fn parse(body: &str) -> Result<DisputeResponseRequest, FieldError> {
        let parsed = lenient::parse::<DisputeResponseRequest>(body.as_bytes(), Default::default())?;
        parsed.value.validate()?;
        Ok(parsed.value)
    }

    const ORDER: &str = r#"{"referenceOrderId":"O1","orderDescription":"Noodles","orderAmount":{"currency":"USD","value":"1000"}}"#;

    #[test]
    fn a_complete_answer_parses() {
        let body = format!(
            r#"{{"disputeRequestId":"D1","paymentRequestId":"P1","order":{ORDER},"acceptLiability":"false"}}"#
        );
        let answer = parse(&body).unwrap();
        assert_eq!(answer.accepts_liability().unwrap(), Some(false));
    }

    #[test]
    fn each_bad_field_is_named_by_its_path() {
        let cases = [
            (r#"{"paymentRequestId":"P1"}"#.to_string(), "disputeRequestId"),
            (r#"{"disputeRequestId":"D1","paymentRequestId":"P1"}"#.to_string(), "order"),
            (
                r#"{"disputeRequestId":"D1","paymentRequestId":"P1","order":{"referenceOrderId":"O1","orderDescription":"x","orderAmount":{"currency":"USD","value":"-5"}}}"#.to_string(),
                "order.orderAmount.value",
            ),
            (
                format!(r#"{{"disputeRequestId":"D1","paymentRequestId":"P1","order":{ORDER},"acceptLiability":"maybe"}}"#),
                "acceptLiability",
            ),
            (
                format!(r#"{{"disputeRequestId":"{}","paymentRequestId":"P1","order":{ORDER}}}"#, "d".repeat(65)),
                "disputeRequestId",
            ),
        ];
        for (body, path) in cases {
            let error = parse(&body).unwrap_err();
            assert_eq!(error.path, path, "{body}: {error}");
        }
    }

    proptest::proptest! {
        /// Any bytes: the parser answers a value or a field error, never a panic.
        #[test]
        fn any_bytes_parse_or_name_a_field(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = lenient::parse::<DisputeResponseRequest>(&body, Default::default())
                .and_then(|p| p.value.validate().map(|()| p.value));
            let _ = lenient::parse::<InitiateDisputeRequest>(&body, Default::default())
                .and_then(|p| p.value.validate().map(|()| p.value));
        }

        /// Well-shaped answers with arbitrary texts: valid, or refused naming the field.
        #[test]
        fn arbitrary_texts_in_an_answer_are_judged_by_field(
            dispute in ".{0,70}", payment in ".{0,70}", value in "[-0-9a]{0,6}", accept in "[a-z]{0,6}",
        ) {
            let body = serde_json::json!({
                "disputeRequestId": dispute, "paymentRequestId": payment,
                "order": {"referenceOrderId": "O1", "orderDescription": "x", "orderAmount": {"currency": "USD", "value": value}},
                "acceptLiability": accept,
            }).to_string();
            match parse(&body) {
                Ok(answer) => {
                    proptest::prop_assert!(!answer.dispute_request_id.is_empty() && answer.dispute_request_id.chars().count() <= 64);
                    proptest::prop_assert!(accept == "true" || accept == "false");
                }
                Err(error) => proptest::prop_assert!(
                    ["disputeRequestId", "paymentRequestId", "order.orderAmount.value", "acceptLiability"].contains(&error.path.as_str()),
                    "unexpected path {}", error.path
                ),
            }
        }
    }
}
