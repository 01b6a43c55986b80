//! Alipay+ wire messages: serde types for the in-store API bodies, lenient intake with hygiene
//! findings, validation with field paths, and ISO 8601 instants.
//!
//! # Wire rules these types keep (reference §2)
//!
//! - Every non-array field is a JSON string: amounts are `{"currency":"HKD","value":"50000"}`
//!   ([`WireAmount`]), booleans are `"true"`/`"false"` ([`WireBool`]), times stay `String`s
//!   (parse them with [`time`]). Nothing is a JSON number on output.
//! - Optional fields are `Option`s, omitted when `None`: never `""`, never `null`.
//! - Unknown fields are kept: every object and message has `#[serde(flatten)] extra`, so a
//!   field Plusbox does not model survives parse → serialize.
//! - `result` objects ([`WireResult`]) always emit `resultMessage` and accept `resultMsg`.
//!
//! # Intake
//!
//! Peers' bytes go through [`lenient::parse`] (or [`lenient::parse_request`], which also runs
//! [`Validate::validate`]). It accepts a JSON number or boolean where a string belongs, as the
//! Alipay+ gateway does, but reports each as a [`lenient::HygieneFinding`]; strict options turn
//! that into an error. Errors are [`FieldError`]s: a JSON path such as
//! `order.merchant.store.referenceStoreId` plus what is wrong, ready for a `PARAM_ILLEGAL`
//! `resultMessage`.
//!
//! Plain `serde_json::from_slice` also works on these types, but then a number where a string
//! belongs is a hard error and errors carry no path.

mod customs;
mod de;
mod disputes;
mod error;
pub mod lenient;
mod merchants;
mod messages;
mod objects;
pub mod time;
mod validate;

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use customs::*;
pub use disputes::*;
pub use error::{FieldError, Problem};
pub use merchants::*;
pub use messages::*;
pub use objects::*;
pub use validate::Validate;

use crate::money::{Amount, MoneyError};
use crate::result_code::{ResultCode, Status};

/// Endpoint paths (reference §1.2). The sandbox serves them unchanged on its own base URL.
pub mod paths {
    /// `pay` (UPM, Order Code, Entry Code).
    pub const PAY: &str = "/aps/api/v1/payments/pay";
    /// `inquiryPayment`.
    pub const INQUIRY_PAYMENT: &str = "/aps/api/v1/payments/inquiryPayment";
    /// `cancelPayment`.
    pub const CANCEL_PAYMENT: &str = "/aps/api/v1/payments/cancelPayment";
    /// `refund`.
    pub const REFUND: &str = "/aps/api/v1/payments/refund";
    /// `notifyPayment` as documented; in practice the ACQP's `paymentNotifyUrl`.
    pub const NOTIFY_PAYMENT: &str = "/aps/api/v1/payments/notifyPayment";
    /// `userInitiatedPay`, served by the ACQP.
    pub const USER_INITIATED_PAY: &str = "/aps/api/v1/payments/userInitiatedPay";
    /// `registration` (§13.1).
    pub const REGISTRATION: &str = "/aps/api/v1/merchants/registration";
    /// `inquiryRegistrationStatus` (§13.1).
    pub const INQUIRY_REGISTRATION_STATUS: &str = "/aps/api/v1/merchants/inquiryRegistrationStatus";
    /// `declare` (§13.2).
    pub const DECLARE: &str = "/aps/api/v1/customs/declare";
    /// `inquireDeclarationRequests` (§13.2).
    pub const INQUIRE_DECLARATION_REQUESTS: &str = "/aps/api/v1/customs/inquireDeclarationRequests";
    /// `notifyRegistrationStatus` as documented; in practice the ACQP's registration notify URL.
    pub const NOTIFY_REGISTRATION_STATUS: &str = "/aps/api/v1/merchants/notifyRegistrationStatus";
}

/// Values of `paymentFactor.inStorePaymentScenario` (SDK enum `InStorePaymentScenario`).
pub mod scenario {
    /// User-presented Mode: the merchant scans the buyer's payment code.
    pub const PAYMENT_CODE: &str = "PaymentCode";
    /// Merchant-presented dynamic order code issued by Alipay+.
    pub const ORDER_CODE: &str = "OrderCode";
    /// Merchant-presented static entry code issued by the ACQP.
    pub const ENTRY_CODE: &str = "EntryCode";
}

/// Ties a request body to its path and response type, so generic clients and handlers can be
/// written once.
pub trait ApiMessage {
    /// Endpoint path.
    const PATH: &'static str;
    /// Body of the answer.
    type Response;
}

impl ApiMessage for PayRequest {
    const PATH: &'static str = paths::PAY;
    type Response = PayResponse;
}
impl ApiMessage for InquiryPaymentRequest {
    const PATH: &'static str = paths::INQUIRY_PAYMENT;
    type Response = InquiryPaymentResponse;
}
impl ApiMessage for CancelPaymentRequest {
    const PATH: &'static str = paths::CANCEL_PAYMENT;
    type Response = CancelPaymentResponse;
}
impl ApiMessage for RefundRequest {
    const PATH: &'static str = paths::REFUND;
    type Response = RefundResponse;
}
impl ApiMessage for NotifyPaymentRequest {
    const PATH: &'static str = paths::NOTIFY_PAYMENT;
    type Response = NotifyPaymentResponse;
}
impl ApiMessage for UserInitiatedPayRequest {
    const PATH: &'static str = paths::USER_INITIATED_PAY;
    type Response = UserInitiatedPayResponse;
}

/// The wire amount `{"currency":"HKD","value":"50000"}`: both fields strings, `value` in minor
/// units. Kept as text so what a peer sent is preserved exactly; convert with
/// [`WireAmount::to_amount`] / [`Amount::from_wire`], which enforce §2.1.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WireAmount {
    /// ISO 4217 alphabetic code.
    pub currency: String,
    /// Minor units as a decimal string, e.g. `"100"` for USD 1.00.
    pub value: String,
}

impl WireAmount {
    /// The typed amount, enforcing the wire rules (§2.1).
    pub fn to_amount(&self) -> Result<Amount, MoneyError> {
        Amount::from_wire(self)
    }
}

impl fmt::Display for WireAmount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} (minor units)", self.value, self.currency)
    }
}

/// The `result` object (§2.2): `{resultCode, resultStatus, resultMessage}`.
///
/// `result_code` stays a `String` so codes outside the catalogue round-trip untouched; use
/// [`WireResult::known_code`] to match on [`ResultCode`]. `resultMsg` (one customs sample's
/// spelling) is accepted on input; output always says `resultMessage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireResult {
    /// `resultCode` (≤64).
    pub result_code: String,
    /// `resultStatus`: S, F or U.
    pub result_status: Status,
    /// `resultMessage`: short English text clients must not parse.
    #[serde(default, alias = "resultMsg", skip_serializing_if = "Option::is_none")]
    pub result_message: Option<String>,
}

impl WireResult {
    /// A result for a catalogue code with its default status and message.
    pub fn from_code(code: ResultCode) -> WireResult {
        WireResult {
            result_code: code.as_str().to_owned(),
            result_status: code.status(),
            result_message: Some(code.default_message().to_owned()),
        }
    }

    /// A result for a catalogue code with its default status and a specific message (e.g. a
    /// [`FieldError`] for `PARAM_ILLEGAL`).
    pub fn with_message(code: ResultCode, message: impl Into<String>) -> WireResult {
        WireResult { result_message: Some(message.into()), ..WireResult::from_code(code) }
    }

    /// `SUCCESS` / `S` / `"success"`.
    pub fn success() -> WireResult {
        WireResult::from_code(ResultCode::Success)
    }

    /// The code as a catalogue entry, or `None` for a code Plusbox does not know (handle those
    /// by [`WireResult::result_status`] alone).
    pub fn known_code(&self) -> Option<ResultCode> {
        ResultCode::from_wire(&self.result_code)
    }

    /// True if `resultCode` is `code`.
    pub fn is(&self, code: ResultCode) -> bool {
        self.result_code == code.as_str()
    }
}

impl From<ResultCode> for WireResult {
    fn from(code: ResultCode) -> Self {
        WireResult::from_code(code)
    }
}

/// A boolean on the wire: the JSON strings `"true"` / `"false"` (§2). Deserialization accepts
/// exactly those two strings; a JSON `true` is coerced (and reported) by [`lenient::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct WireBool(pub bool);

impl WireBool {
    /// `"true"`.
    pub const TRUE: WireBool = WireBool(true);
    /// `"false"`.
    pub const FALSE: WireBool = WireBool(false);

    /// The wire text.
    pub const fn as_str(self) -> &'static str {
        if self.0 {
            "true"
        } else {
            "false"
        }
    }
}

impl From<bool> for WireBool {
    fn from(b: bool) -> Self {
        WireBool(b)
    }
}

impl From<WireBool> for bool {
    fn from(b: WireBool) -> Self {
        b.0
    }
}

impl Serialize for WireBool {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for WireBool {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = WireBool;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the string \"true\" or \"false\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<WireBool, E> {
                match v {
                    "true" => Ok(WireBool(true)),
                    "false" => Ok(WireBool(false)),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                }
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// The in-store scenario of a `pay` request, from `paymentFactor.inStorePaymentScenario`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InStoreScenario {
    /// `PaymentCode` (UPM).
    PaymentCode,
    /// `OrderCode`.
    OrderCode,
    /// `EntryCode`.
    EntryCode,
    /// Any other value, kept verbatim.
    Other(String),
}

impl PayRequest {
    /// The in-store scenario, if `paymentFactor.inStorePaymentScenario` is present.
    pub fn scenario(&self) -> Option<InStoreScenario> {
        let s = self.payment_factor.as_ref()?.in_store_payment_scenario.as_deref()?;
        Some(match s {
            scenario::PAYMENT_CODE => InStoreScenario::PaymentCode,
            scenario::ORDER_CODE => InStoreScenario::OrderCode,
            scenario::ENTRY_CODE => InStoreScenario::EntryCode,
            other => InStoreScenario::Other(other.to_owned()),
        })
    }
}

impl UserInitiatedPayResponse {
    /// The amount to charge: `paymentAmount`, falling back to the SDK's `amount` (§11).
    pub fn effective_amount(&self) -> Option<&WireAmount> {
        self.payment_amount.as_ref().or(self.amount.as_ref())
    }
}
