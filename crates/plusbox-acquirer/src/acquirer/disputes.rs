//! The reference ACQP's side of disputes (alipayplus-api.md §13.3): it receives
//! `initiateRetrieval` / `initiateEscalation` on its dispute URL, verifies Alipay+'s signature,
//! acknowledges signed, then answers with `responseRetrieval` / `responseEscalation` carrying its
//! order's details, well before the `responseDeadline`.
//!
//! What a correct ACQP does, and this one does:
//! - An initiate call that does not verify is answered F `INVALID_SIGNATURE` and not acted on.
//! - The same `disputeRequestId` again (Alipay+ retries an unacknowledged call) is acknowledged
//!   again without a second answer; the same id for another payment is F `REPEAT_REQ_INCONSISTENT`.
//! - A dispute of a payment it has no order for is F `ORDER_NOT_EXIST`.
//! - The answer names the dispute and the disputed `paymentRequestId`, with the order (reference,
//!   description, amount, merchant and store); a U answer or none is re-sent with the same body
//!   (up to [`ANSWER_ATTEMPTS`] times). An escalation is defended (`acceptLiability` `"false"`).
//!
//! Faults: `no-retrieval-answer` acknowledges a retrieval and never answers it;
//! `answer-unrelated-payment` answers under a new `paymentRequestId` instead of the disputed one.

use std::collections::HashMap;
use std::sync::Mutex;

use plusbox_core::protocol::{lenient, InitiateDisputeRequest, Validate};
use plusbox_core::result_code::Status;
use plusbox_core::signing::MessageParts;
use serde_json::json;
use time::Duration;

use super::{new_id, Acquirer, IncomingNotify, NotifyAck};
use crate::client::{Api, Outcome};
use crate::faults::Fault;

pub use plusbox_core::protocol::{INITIATE_ESCALATION_PATH, INITIATE_RETRIEVAL_PATH};

/// How many times one answer is sent before it is left unanswered.
pub const ANSWER_ATTEMPTS: u32 = 3;

/// Alipay+'s timeout for `responseRetrieval` and `responseEscalation` (§12).
const ANSWER_TIMEOUT_MS: u64 = 5_000;

/// Retrieval or escalation, as the ACQP receives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisputeKind {
    /// `initiateRetrieval` → `responseRetrieval`.
    Retrieval,
    /// `initiateEscalation` → `responseEscalation`.
    Escalation,
}

impl DisputeKind {
    fn answer_api(self) -> Api {
        match self {
            DisputeKind::Retrieval => Api::ResponseRetrieval,
            DisputeKind::Escalation => Api::ResponseEscalation,
        }
    }

    fn initiate_name(self) -> &'static str {
        match self {
            DisputeKind::Retrieval => "initiateRetrieval",
            DisputeKind::Escalation => "initiateEscalation",
        }
    }
}

/// The disputes received: `disputeRequestId` → the disputed `paymentRequestId` (idempotency of
/// the initiate calls).
#[derive(Debug, Default)]
pub(crate) struct DisputeBook(Mutex<HashMap<String, String>>);

impl Acquirer {
    /// Handles one `initiateRetrieval` / `initiateEscalation`: verify, acknowledge signed, and
    /// (for a new dispute of a known order) start the answer in the background.
    pub fn handle_dispute(&self, kind: DisputeKind, n: IncomingNotify<'_>) -> NotifyAck {
        let verified = match (n.client_id, n.request_time, n.signature) {
            (Some(client_id), Some(time), Some(signature)) => {
                let parts = MessageParts { method: "POST", uri: n.uri, client_id, time, body: n.body };
                self.inner.gateway_key.verify_message(signature, &parts).is_ok()
            }
            _ => false,
        };
        if !verified {
            return self.ack(n.uri, ("F", "INVALID_SIGNATURE", "signature verification failed"));
        }
        let request = match lenient::parse::<InitiateDisputeRequest>(n.body, Default::default())
            .and_then(|p| p.value.validate().map(|()| p.value))
        {
            Ok(request) => request,
            Err(error) => {
                let message = error.to_string();
                return self.ack(n.uri, ("F", "PARAM_ILLEGAL", &message));
            }
        };
        let prid = request.payment_request_id.clone();
        let id = request.dispute_request_id.clone();
        let known = {
            let book = self.inner.disputes.0.lock().unwrap_or_else(|e| e.into_inner());
            book.get(&id).cloned()
        };
        match known {
            Some(earlier) if earlier != prid => {
                let message = format!("disputeRequestId {id} was received for paymentRequestId {earlier}");
                return self.ack(n.uri, ("F", "REPEAT_REQ_INCONSISTENT", &message));
            }
            // A retry of a dispute already taken: acknowledge again, answer once.
            Some(_) => return self.ack(n.uri, ("S", "SUCCESS", "success")),
            None => {}
        }
        let Ok(Some(payment)) = self.store().payment(&prid) else {
            return self.ack(n.uri, ("F", "ORDER_NOT_EXIST", "no order has this paymentRequestId"));
        };
        self.inner.disputes.0.lock().unwrap_or_else(|e| e.into_inner()).insert(id.clone(), prid.clone());
        let _ = self.store().log_call(&prid, kind.initiate_name(), &id, "acknowledged", self.now());
        let silent = kind == DisputeKind::Retrieval && self.has(Fault::NoRetrievalAnswer);
        if !silent {
            let acquirer = self.clone();
            tokio::spawn(async move { acquirer.answer_dispute(kind, request, payment).await });
        }
        self.ack(n.uri, ("S", "SUCCESS", "success"))
    }

    /// Sends the answer with the order's details, re-sending the same body on U or no answer.
    async fn answer_dispute(
        &self,
        kind: DisputeKind,
        request: InitiateDisputeRequest,
        payment: crate::store::PaymentRecord,
    ) {
        let m = &self.config().merchant;
        let prid = if self.has(Fault::AnswerUnrelatedPayment) {
            new_id("pay", self.now())
        } else {
            payment.payment_request_id.clone()
        };
        let mut body = json!({
            "disputeRequestId": request.dispute_request_id,
            "paymentRequestId": prid,
            "order": {
                "referenceOrderId": payment.payment_request_id.replacen("pay_", "ord_", 1),
                "orderDescription": m.order_description,
                "orderAmount": {"currency": payment.currency, "value": payment.amount_minor.to_string()},
                "merchant": {
                    "referenceMerchantId": m.reference_merchant_id,
                    "merchantName": m.merchant_name,
                    "merchantMCC": m.merchant_mcc,
                    "store": {"referenceStoreId": m.reference_store_id, "storeName": m.store_name, "storeMCC": m.store_mcc},
                },
            },
            "responseMessage": format!(
                "in-store sale {} paid {} ({})",
                payment.payment_request_id,
                payment.payment_time.as_deref().unwrap_or("at an unknown time"),
                payment.payment_id.as_deref().unwrap_or("no paymentId")
            ),
        });
        if kind == DisputeKind::Escalation {
            body["acceptLiability"] = json!("false");
        }
        let api = kind.answer_api();
        for attempt in 1..=ANSWER_ATTEMPTS {
            let outcome = self
                .call(api, &body, ANSWER_TIMEOUT_MS, &payment.payment_request_id, &request.dispute_request_id)
                .await;
            match outcome {
                Outcome::Answered(answer) if answer.status != Status::Unknown => return,
                _ if attempt < ANSWER_ATTEMPTS => {
                    let at = self.now().checked_add(Duration::seconds(1)).unwrap_or(self.now());
                    self.sleep_until(at).await;
                }
                _ => {}
            }
        }
    }
}
