//! Customs declaration bodies (alipayplus-api.md §13.2): `declare` and
//! `inquireDeclarationRequests` (ACQP → Alipay+), for Alipay (CN) payments only, with their
//! field rules.
//!
//! Plusbox decisions (docs/registration-customs-disputes.md): `paymentRequestId`,
//! `customsDeclarationRequestId`, `customs.customsCode`, `customs.region` (`CN`),
//! `merchantCustomsInfo.{merchantCustomsCode, merchantCustomsName}` and `declarationAmount`
//! (currency `CNY`) are required; `isSplit` is `"true"` or `"false"`; an inquiry names 1 to
//! [`MAX_INQUIRY_IDS`] distinct ids.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::{FieldError, Problem};
use super::validate::{opt_text, required, text, Validate, ID_MAX, TEXT_MAX};
use super::WireAmount;
use crate::money::Amount;

/// Most ids one `inquireDeclarationRequests` may name (§13.2).
pub const MAX_INQUIRY_IDS: usize = 10;

/// `declare` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeclareRequest {
    /// `paymentRequestId` of the payment declared (REQUIRED, ≤64).
    pub payment_request_id: String,
    /// `customsDeclarationRequestId`: the idempotency key (REQUIRED, ≤64).
    pub customs_declaration_request_id: String,
    /// `customs` (REQUIRED).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customs: Option<CustomsInfo>,
    /// `merchantCustomsInfo` (REQUIRED).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_customs_info: Option<MerchantCustomsInfo>,
    /// `declarationAmount` (REQUIRED, currency `CNY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declaration_amount: Option<WireAmount>,
    /// `isSplit`: `"true"` when the payment is declared in parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_split: Option<String>,
    /// `referenceOrderId` (≤64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_order_id: Option<String>,
    /// Fields this type does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `customs`: where the declaration goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomsInfo {
    /// `customsCode`, e.g. `HANGZHOU` (REQUIRED, ≤64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customs_code: Option<String>,
    /// `region` (REQUIRED, `CN`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Fields this type does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `merchantCustomsInfo`: the merchant as customs knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MerchantCustomsInfo {
    /// `merchantCustomsCode` (REQUIRED, ≤64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_customs_code: Option<String>,
    /// `merchantCustomsName` (REQUIRED, ≤256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_customs_name: Option<String>,
    /// Fields this type does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `inquireDeclarationRequests` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InquireDeclarationRequestsRequest {
    /// `declarationRequestIds[]` (REQUIRED, 1 to 10 `customsDeclarationRequestId`s).
    pub declaration_request_ids: Vec<String>,
    /// Fields this type does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl DeclareRequest {
    /// The declared amount (validated: CNY, positive).
    pub fn amount(&self) -> Result<Amount, FieldError> {
        let wire = required("", "declarationAmount", &self.declaration_amount)?;
        let amount = Amount::from_wire(wire).map_err(|e| {
            let sub = if e.is_currency_error() { "currency" } else { "value" };
            FieldError::new(format!("declarationAmount.{sub}"), Problem::Invalid(e.to_string()))
        })?;
        if amount.currency.code() != "CNY" {
            return Err(FieldError::new(
                "declarationAmount.currency",
                Problem::Invalid(format!(
                    "{} is not CNY; customs declarations are in CNY",
                    amount.currency.code()
                )),
            ));
        }
        Ok(amount)
    }
}

impl Validate for DeclareRequest {
    fn validate(&self) -> Result<(), FieldError> {
        text("", "paymentRequestId", &self.payment_request_id, ID_MAX)?;
        text("", "customsDeclarationRequestId", &self.customs_declaration_request_id, ID_MAX)?;
        let customs = required("", "customs", &self.customs)?;
        let code = required("customs", "customsCode", &customs.customs_code)?;
        text("customs", "customsCode", code, ID_MAX)?;
        let region = required("customs", "region", &customs.region)?;
        if region != "CN" {
            return Err(FieldError::new(
                "customs.region",
                Problem::Invalid(format!("{region:?}: only the China customs (CN) take declarations")),
            ));
        }
        let merchant = required("", "merchantCustomsInfo", &self.merchant_customs_info)?;
        let mp = "merchantCustomsInfo";
        let code = required(mp, "merchantCustomsCode", &merchant.merchant_customs_code)?;
        text(mp, "merchantCustomsCode", code, ID_MAX)?;
        let name = required(mp, "merchantCustomsName", &merchant.merchant_customs_name)?;
        text(mp, "merchantCustomsName", name, TEXT_MAX)?;
        self.amount()?;
        if let Some(split) = &self.is_split {
            if split != "true" && split != "false" {
                return Err(FieldError::new(
                    "isSplit",
                    Problem::Invalid(format!("{split:?} is not \"true\" or \"false\"")),
                ));
            }
        }
        opt_text("", "referenceOrderId", &self.reference_order_id, ID_MAX)
    }
}

impl Validate for InquireDeclarationRequestsRequest {
    fn validate(&self) -> Result<(), FieldError> {
        let ids = &self.declaration_request_ids;
        if ids.is_empty() {
            return Err(FieldError::new(
                "declarationRequestIds",
                Problem::Invalid("at least one id is required".into()),
            ));
        }
        if ids.len() > MAX_INQUIRY_IDS {
            return Err(FieldError::new(
                "declarationRequestIds",
                Problem::Invalid(format!("{} ids; at most {MAX_INQUIRY_IDS} per inquiry", ids.len())),
            ));
        }
        for (i, id) in ids.iter().enumerate() {
            let path = format!("declarationRequestIds[{i}]");
            text("", &path, id, ID_MAX)?;
            if ids[..i].contains(id) {
                return Err(FieldError::new(path, Problem::Invalid(format!("{id:?} is listed twice"))));
            }
        }
        Ok(())
    }
}
