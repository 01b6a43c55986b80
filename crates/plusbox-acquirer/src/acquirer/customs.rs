//! The reference ACQP's customs declaration (alipayplus-api.md §13.2): `declare` of a paid
//! Alipay (CN) sale. A declaration answered U or not at all is re-sent with the **same**
//! `customsDeclarationRequestId` (the idempotency key, §12) until it is final or the attempts run
//! out; fault `new-declaration-id-on-retry` re-sends it under a new id, so the customs could get
//! the same goods twice.

use serde::Deserialize;
use serde_json::json;
use time::Duration;

use super::{new_id, parse_amount, Acquirer};
use crate::client::{Api, Outcome};
use crate::error::AcquirerError;
use crate::faults::Fault;
use crate::store::OrderState;
use plusbox_core::result_code::Status;

/// How many times one declaration is sent before its outcome is left UNKNOWN.
pub const DECLARE_ATTEMPTS: u32 = 3;

/// Alipay+'s timeout for `declare` (§12).
const DECLARE_TIMEOUT_MS: u64 = 5_000;

/// `POST /declare` of the POS-driver contract.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeclareRequest {
    /// `paymentRequestId` or Alipay+ `paymentId` of the paid sale.
    pub payment: String,
    /// The declared amount, in CNY (`"100.00 CNY"`).
    pub amount: String,
    /// The `customsDeclarationRequestId` to use; the acquirer makes one when absent.
    #[serde(default)]
    pub customs_declaration_request_id: Option<String>,
}

/// What `declare` did.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeclareOutcome {
    /// `DECLARED` (S), `REFUSED` (F) or `UNKNOWN` (no final answer).
    pub state: &'static str,
    /// The id of the last attempt.
    pub customs_declaration_request_id: String,
    /// Alipay+'s id for the declaration, when declared.
    pub psp_declaration_request_id: Option<String>,
    /// Result code of the last answer.
    pub result_code: Option<String>,
    /// What happened, for the cashier.
    pub result_message: String,
}

impl Acquirer {
    /// Declares a paid sale to the China customs.
    pub async fn declare(&self, req: DeclareRequest) -> Result<DeclareOutcome, AcquirerError> {
        let amount = parse_amount(&req.amount)?;
        if amount.currency.code() != "CNY" {
            return Err(AcquirerError::BadRequest("amount: customs declarations are in CNY".into()));
        }
        let payment = self.payment(req.payment.trim())?;
        if payment.state != OrderState::Success {
            return Err(AcquirerError::Refused {
                code: "PAYMENT_NOT_PAID",
                message: format!(
                    "sale {} is {}; only a paid sale is declared",
                    payment.payment_request_id,
                    payment.state.as_str()
                ),
            });
        }
        let now = self.now();
        let mut id = req.customs_declaration_request_id.clone().unwrap_or_else(|| new_id("dec", now));
        let mut last = String::from("no answer");
        for attempt in 1..=DECLARE_ATTEMPTS {
            if attempt > 1 && self.has(Fault::NewDeclarationIdOnRetry) {
                id = new_id("dec", self.now());
            }
            let body = json!({
                "paymentRequestId": payment.payment_request_id,
                "customsDeclarationRequestId": id,
                "customs": {"customsCode": "HANGZHOU", "region": "CN"},
                "merchantCustomsInfo": {"merchantCustomsCode": "PLUSBOX-M0001", "merchantCustomsName": "Plusbox Test Merchant"},
                "declarationAmount": {"currency": "CNY", "value": amount.value.to_string()},
                "isSplit": "false",
            });
            match self.call(Api::Declare, &body, DECLARE_TIMEOUT_MS, &payment.payment_request_id, &id).await {
                Outcome::Answered(answer) if answer.status == Status::Success => {
                    let psp = answer
                        .body
                        .get("pspDeclarationRequestId")
                        .and_then(|v| v.as_str())
                        .map(str::to_owned);
                    return Ok(DeclareOutcome {
                        state: "DECLARED",
                        customs_declaration_request_id: id,
                        psp_declaration_request_id: psp,
                        result_code: Some(answer.code),
                        result_message: "declared; the customs' result follows (inquireDeclarationRequests)"
                            .into(),
                    });
                }
                Outcome::Answered(answer) if answer.status == Status::Failure => {
                    return Ok(DeclareOutcome {
                        state: "REFUSED",
                        customs_declaration_request_id: id,
                        psp_declaration_request_id: None,
                        result_message: format!(
                            "Alipay+ refused the declaration: {} {}",
                            answer.code, answer.message
                        ),
                        result_code: Some(answer.code),
                    });
                }
                other => {
                    last = other.label();
                    if attempt < DECLARE_ATTEMPTS {
                        let at = self.now().checked_add(Duration::seconds(1)).unwrap_or(self.now());
                        self.sleep_until(at).await;
                    }
                }
            }
        }
        Ok(DeclareOutcome {
            state: "UNKNOWN",
            customs_declaration_request_id: id,
            psp_declaration_request_id: None,
            result_code: None,
            result_message: format!("no final answer after {DECLARE_ATTEMPTS} attempts ({last}); declare again later with the same customsDeclarationRequestId"),
        })
    }
}
