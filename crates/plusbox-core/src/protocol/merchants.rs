//! Merchant registration bodies (alipayplus-api.md §13.1): `registration`,
//! `inquiryRegistrationStatus` (ACQP → Alipay+) and `notifyRegistrationStatus` (Alipay+ → ACQP),
//! with their field rules.
//!
//! The reference names the main fields only. Plusbox decisions, documented in
//! `docs/registration-customs-disputes.md`: `merchantInfo.referenceMerchantId`,
//! `merchantInfo.merchantDisplayName`, `merchantInfo.merchantMCC` (four digits) and
//! `merchantInfo.registrationDetail.{legalName, registrationType, registrationNo}` are required;
//! `storeInfo.{referenceStoreId, storeName}` are required when `productCodes` holds
//! `IN_STORE_PAYMENT`; `referenceStoreId` is at most 32 characters (the inquiry page's limit).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::{FieldError, Problem};
use super::validate::{
    join, one_of, opt_text, opt_url, required, text, Validate, ValidateAt, ID_MAX, TEXT_MAX,
};
use super::{Address, WireResult};

/// The product codes a registration may name (§13.1).
pub const PRODUCT_CODES: &[&str] = &["CASHIER_PAYMENT", "AGREEMENT_PAYMENT", "IN_STORE_PAYMENT"];

/// The product code whose registrations are keyed by merchant **and** store (UPM/MPM).
pub const IN_STORE_PAYMENT: &str = "IN_STORE_PAYMENT";

/// `referenceStoreId` limit (the inquiry and notification pages say 32 characters).
pub const STORE_ID_MAX: usize = 32;

/// `passThroughInfo` limit.
pub const PASS_THROUGH_MAX: usize = 2048;

/// `registration` request (ACQP → Alipay+).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationRequest {
    /// `registrationRequestId`: the idempotency key (REQUIRED, ≤64).
    pub registration_request_id: String,
    /// `merchantInfo` (REQUIRED).
    pub merchant_info: MerchantInfo,
    /// `storeInfo`: required for `IN_STORE_PAYMENT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_info: Option<StoreInfo>,
    /// `productCodes[]` (REQUIRED, at least one; each counts as its own registration).
    pub product_codes: Vec<String>,
    /// `registrationNotifyUrl`: where `notifyRegistrationStatus` goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_notify_url: Option<String>,
    /// `passThroughInfo` (≤2048), echoed back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass_through_info: Option<String>,
    /// Fields this type does not model, kept so they survive a round trip.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `merchantInfo` of a registration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MerchantInfo {
    /// `referenceMerchantId` (REQUIRED, ≤64).
    pub reference_merchant_id: String,
    /// `merchantDisplayName` (REQUIRED, ≤256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_display_name: Option<String>,
    /// `merchantMCC` (REQUIRED, four digits).
    #[serde(default, rename = "merchantMCC", skip_serializing_if = "Option::is_none")]
    pub merchant_mcc: Option<String>,
    /// `merchantAddress`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_address: Option<Address>,
    /// `registrationDetail` (REQUIRED).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_detail: Option<RegistrationDetail>,
    /// Fields this type does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `merchantInfo.registrationDetail`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationDetail {
    /// `legalName` (REQUIRED, ≤256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_name: Option<String>,
    /// `registrationType`, e.g. `ENTERPRISE_REGISTRATION_NO` (REQUIRED, ≤64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_type: Option<String>,
    /// `registrationNo` (REQUIRED, ≤64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_no: Option<String>,
    /// Fields this type does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `storeInfo` of a registration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreInfo {
    /// `referenceStoreId` (REQUIRED, ≤32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_store_id: Option<String>,
    /// `storeName` (REQUIRED, ≤256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_name: Option<String>,
    /// `storeMCC` (four digits).
    #[serde(default, rename = "storeMCC", skip_serializing_if = "Option::is_none")]
    pub store_mcc: Option<String>,
    /// `storeAddress`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_address: Option<Address>,
    /// Fields this type does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `inquiryRegistrationStatus` request: `registrationRequestId`, or `referenceMerchantId`
/// (with `referenceStoreId` for in-store registrations).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct InquiryRegistrationStatusRequest {
    /// `referenceMerchantId` (≤64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_merchant_id: Option<String>,
    /// `referenceStoreId` (≤32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_store_id: Option<String>,
    /// `registrationRequestId` (≤64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_request_id: Option<String>,
    /// Fields this type does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `notifyRegistrationStatus` request (Alipay+ → ACQP), also the shape of an inquiry's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotifyRegistrationStatusRequest {
    /// `referenceMerchantId` (REQUIRED).
    pub reference_merchant_id: String,
    /// `referenceStoreId` (in-store registrations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_store_id: Option<String>,
    /// `registrationRequestId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_request_id: Option<String>,
    /// `registrationResult` (REQUIRED): the collective result.
    pub registration_result: RegistrationResult,
    /// `pspRegistrationResultList[]`: one entry per wallet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psp_registration_result_list: Option<Vec<PspRegistrationResult>>,
    /// Fields this type does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `registrationResult`: `registrationStatus` (`PROCESSING`, `COMPLETED`, `REJECTED` as
/// Plusbox reports them; wallet entries use `APPROVED`/`REJECTED`) and an optional reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationResult {
    /// `registrationStatus`.
    pub registration_status: String,
    /// `rejectReason`, when rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reject_reason: Option<String>,
    /// Fields this type does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One wallet's registration result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PspRegistrationResult {
    /// `pspName`, e.g. `ALIPAY_CN`.
    pub psp_name: String,
    /// `productCodes[]`.
    pub product_codes: Vec<String>,
    /// `registrationResult`.
    pub registration_result: RegistrationResult,
    /// Fields this type does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The acknowledgement of an Alipay+ → ACQP call: `result` only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AckResponse {
    /// `result` (REQUIRED).
    pub result: WireResult,
    /// Fields this type does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn mcc(parent: &str, field: &str, value: &Option<String>, required_here: bool) -> Result<(), FieldError> {
    let Some(v) = value else {
        return if required_here {
            Err(FieldError::new(join(parent, field), Problem::Missing))
        } else {
            Ok(())
        };
    };
    text(parent, field, v, 4)?;
    if v.len() != 4 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new(
            join(parent, field),
            Problem::Invalid(format!("{v:?} is not a four-digit merchant category code")),
        ));
    }
    Ok(())
}

impl RegistrationRequest {
    /// True if the registration names `IN_STORE_PAYMENT` (keyed by merchant and store).
    pub fn is_in_store(&self) -> bool {
        self.product_codes.iter().any(|c| c == IN_STORE_PAYMENT)
    }
}

impl Validate for RegistrationRequest {
    fn validate(&self) -> Result<(), FieldError> {
        text("", "registrationRequestId", &self.registration_request_id, ID_MAX)?;
        let m = &self.merchant_info;
        let p = "merchantInfo";
        text(p, "referenceMerchantId", &m.reference_merchant_id, ID_MAX)?;
        let name = required(p, "merchantDisplayName", &m.merchant_display_name)?;
        text(p, "merchantDisplayName", name, TEXT_MAX)?;
        mcc(p, "merchantMCC", &m.merchant_mcc, true)?;
        m.merchant_address.validate_at(&join(p, "merchantAddress"))?;
        let dp = join(p, "registrationDetail");
        let detail = required(p, "registrationDetail", &m.registration_detail)?;
        let legal = required(&dp, "legalName", &detail.legal_name)?;
        text(&dp, "legalName", legal, TEXT_MAX)?;
        let kind = required(&dp, "registrationType", &detail.registration_type)?;
        text(&dp, "registrationType", kind, ID_MAX)?;
        let no = required(&dp, "registrationNo", &detail.registration_no)?;
        text(&dp, "registrationNo", no, ID_MAX)?;

        if self.product_codes.is_empty() {
            return Err(FieldError::new(
                "productCodes",
                Problem::Invalid("at least one product code is required".into()),
            ));
        }
        for (i, code) in self.product_codes.iter().enumerate() {
            let path = format!("productCodes[{i}]");
            if !PRODUCT_CODES.contains(&code.as_str()) {
                return Err(FieldError::new(
                    path,
                    Problem::Invalid(format!(
                        "{code:?} is not a product code; one of {}",
                        PRODUCT_CODES.join(", ")
                    )),
                ));
            }
            if self.product_codes[..i].contains(code) {
                return Err(FieldError::new(path, Problem::Invalid(format!("{code} is listed twice"))));
            }
        }
        match &self.store_info {
            Some(s) => {
                let sp = "storeInfo";
                let id = required(sp, "referenceStoreId", &s.reference_store_id)?;
                text(sp, "referenceStoreId", id, STORE_ID_MAX)?;
                let name = required(sp, "storeName", &s.store_name)?;
                text(sp, "storeName", name, TEXT_MAX)?;
                mcc(sp, "storeMCC", &s.store_mcc, false)?;
                s.store_address.validate_at(&join(sp, "storeAddress"))?;
            }
            None if self.is_in_store() => {
                return Err(FieldError::new(
                    "storeInfo",
                    Problem::Invalid("required when productCodes includes IN_STORE_PAYMENT".into()),
                ));
            }
            None => {}
        }
        opt_url("", "registrationNotifyUrl", &self.registration_notify_url)?;
        opt_text("", "passThroughInfo", &self.pass_through_info, PASS_THROUGH_MAX)
    }
}

impl Validate for InquiryRegistrationStatusRequest {
    fn validate(&self) -> Result<(), FieldError> {
        one_of(
            &self.registration_request_id,
            &self.reference_merchant_id,
            &["registrationRequestId", "referenceMerchantId"],
        )?;
        opt_text("", "registrationRequestId", &self.registration_request_id, ID_MAX)?;
        opt_text("", "referenceMerchantId", &self.reference_merchant_id, ID_MAX)?;
        opt_text("", "referenceStoreId", &self.reference_store_id, STORE_ID_MAX)?;
        if self.reference_store_id.is_some() && self.reference_merchant_id.is_none() {
            return Err(FieldError::new(
                "referenceMerchantId",
                Problem::Invalid("referenceStoreId is given without the merchant it belongs to".into()),
            ));
        }
        Ok(())
    }
}

impl Validate for NotifyRegistrationStatusRequest {
    fn validate(&self) -> Result<(), FieldError> {
        text("", "referenceMerchantId", &self.reference_merchant_id, ID_MAX)?;
        opt_text("", "referenceStoreId", &self.reference_store_id, STORE_ID_MAX)?;
        opt_text("", "registrationRequestId", &self.registration_request_id, ID_MAX)?;
        text(
            "registrationResult",
            "registrationStatus",
            &self.registration_result.registration_status,
            ID_MAX,
        )?;
        Ok(())
    }
}
