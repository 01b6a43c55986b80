//! The Alipay+ result-code catalogue (API reference §16) and the `S`/`F`/`U` result status.
//!
//! [`ResultCode`] is a closed, `Copy` enum of the codes Plusbox knows. Codes received from peers
//! are *not* forced into it: the wire type [`crate::protocol::WireResult`] keeps `resultCode` as a
//! `String` (so an unknown code round-trips untouched) and offers
//! [`crate::protocol::WireResult::known_code`] to map it onto this enum. An unknown code is
//! handled by its status alone, as §2.2 says: unknown `F` means final failure, unknown `U` means
//! "inquire or retry".
//!
//! Every code carries catalogue data ([`ResultCodeInfo`]): default status, a short English default
//! `resultMessage`, the meaning, what the ACQP must do, the confidence label and whether Plusbox
//! produces it by default. Use the enum instead of string literals everywhere:
//! `ResultCode::PaymentInProcess.as_str() == "PAYMENT_IN_PROCESS"`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `resultStatus`: `S` success, `F` failure (final), `U` unknown / processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Status {
    /// Success.
    #[serde(rename = "S")]
    Success,
    /// Failure; final.
    #[serde(rename = "F")]
    Failure,
    /// Unknown or still processing; inquire or retry.
    #[serde(rename = "U")]
    Unknown,
}

impl Status {
    /// The wire letter.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Success => "S",
            Status::Failure => "F",
            Status::Unknown => "U",
        }
    }

    /// True for `S` and `F`: the outcome will not change.
    pub const fn is_final(self) -> bool {
        !matches!(self, Status::Unknown)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not `S`, `F` or `U`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("result status {0:?} is not one of S, F, U")]
pub struct UnknownStatus(pub String);

impl FromStr for Status {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "S" => Ok(Status::Success),
            "F" => Ok(Status::Failure),
            "U" => Ok(Status::Unknown),
            other => Err(UnknownStatus(other.to_owned())),
        }
    }
}

/// How well a catalogue entry is supported by public documents (reference §0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// Confirmed on an official Alipay+ page.
    AlipayPlus,
    /// Stated for the same API family (Antom, AlipayHK, the Java SDK).
    Family,
    /// Third-party material or inference only.
    Unconfirmed,
    /// Plusbox's own rule; the name is not confirmed publicly.
    PlusboxDecision,
}

impl Confidence {
    /// The label as the reference writes it.
    pub const fn label(self) -> &'static str {
        match self {
            Confidence::AlipayPlus => "[A+]",
            Confidence::Family => "[Family]",
            Confidence::Unconfirmed => "[Unconfirmed]",
            Confidence::PlusboxDecision => "Plusbox decision",
        }
    }
}

/// Which table of §16 an entry comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    /// §16.1 protocol and common codes.
    Common,
    /// §16.2 payment codes.
    Payment,
    /// §16.3 cancel and refund.
    CancelRefund,
}

/// Catalogue data for one result code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ResultCodeInfo {
    /// The code.
    pub code: ResultCode,
    /// Status the code is returned with.
    pub status: Status,
    /// Default `resultMessage`: a short English sentence clients must not parse.
    pub message: &'static str,
    /// What the code means.
    pub meaning: &'static str,
    /// What the ACQP must do on receiving it.
    pub acqp_action: &'static str,
    /// Confidence label.
    pub confidence: Confidence,
    /// Section of the reference.
    pub section: Section,
    /// False for codes listed for completeness that Plusbox does not produce by default
    /// (the Antom/AMS-only codes of §16.2).
    pub produced_by_plusbox: bool,
}

/// Declares the enum and its catalogue from one table so the two never drift apart.
macro_rules! result_codes {
    ($(
        $variant:ident = $wire:literal, $status:ident, $section:ident, $conf:ident, $produced:literal,
        message: $message:literal, meaning: $meaning:literal, action: $action:literal;
    )*) => {
        /// Every result code Plusbox knows (reference §16). Wire spelling via
        /// [`ResultCode::as_str`] / [`FromStr`]; serde uses the wire spelling.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ResultCode {
            $(
                #[doc = concat!("`", $wire, "` (", stringify!($status), "): ", $meaning, ".")]
                $variant,
            )*
        }

        static CATALOGUE: &[ResultCodeInfo] = &[$(
            ResultCodeInfo {
                code: ResultCode::$variant,
                status: Status::$status,
                message: $message,
                meaning: $meaning,
                acqp_action: $action,
                confidence: Confidence::$conf,
                section: Section::$section,
                produced_by_plusbox: $produced,
            },
        )*];

        impl ResultCode {
            /// The wire spelling, e.g. `"PAYMENT_IN_PROCESS"`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ResultCode::$variant => $wire,)*
                }
            }

            /// Looks a wire spelling up; `None` for codes outside the catalogue.
            pub fn from_wire(code: &str) -> Option<ResultCode> {
                match code {
                    $($wire => Some(ResultCode::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

result_codes! {
    // §16.1 Protocol and common codes.
    Success = "SUCCESS", Success, Common, AlipayPlus, true,
        message: "success", meaning: "call or payment succeeded", action: "update state";
    UnknownException = "UNKNOWN_EXCEPTION", Unknown, Common, AlipayPlus, true,
        message: "unknown exception", meaning: "unknown failure",
        action: "call again with the same IDs; for pay, inquire";
    RequestTrafficExceedLimit = "REQUEST_TRAFFIC_EXCEED_LIMIT", Unknown, Common, Family, true,
        message: "request traffic exceeds the limit", meaning: "rate limit", action: "call again later";
    ProcessFail = "PROCESS_FAIL", Failure, Common, AlipayPlus, true,
        message: "process failed", meaning: "general business failure", action: "do not retry; investigate";
    ParamIllegal = "PARAM_ILLEGAL", Failure, Common, AlipayPlus, true,
        message: "illegal parameters", meaning: "illegal header or body field (non-numeric, bad date, ...)",
        action: "fix the request";
    MethodNotSupported = "METHOD_NOT_SUPPORTED", Failure, Common, AlipayPlus, true,
        message: "method not supported", meaning: "not POST", action: "fix";
    MediaTypeNotAcceptable = "MEDIA_TYPE_NOT_ACCEPTABLE", Failure, Common, AlipayPlus, true,
        message: "media type not acceptable", meaning: "media type not accepted", action: "fix";
    InvalidApi = "INVALID_API", Failure, Common, AlipayPlus, true,
        message: "invalid api", meaning: "API path invalid or inactive", action: "fix";
    InvalidClient = "INVALID_CLIENT", Failure, Common, AlipayPlus, true,
        message: "invalid client", meaning: "client invalid", action: "check Client-Id";
    InvalidSignature = "INVALID_SIGNATURE", Failure, Common, AlipayPlus, true,
        message: "invalid signature", meaning: "signature invalid",
        action: "check key, content to sign, algorithm";
    KeyNotFound = "KEY_NOT_FOUND", Failure, Common, Family, true,
        message: "key not found", meaning: "no key for Client-Id / keyVersion",
        action: "upload key / fix keyVersion";
    AccessDenied = "ACCESS_DENIED", Failure, Common, Family, true,
        message: "access denied", meaning: "contract or permission", action: "contact / fix configuration";
    CurrencyNotSupport = "CURRENCY_NOT_SUPPORT", Failure, Common, Family, true,
        message: "currency not supported", meaning: "currency not supported", action: "use a supported currency";

    // §16.2 Payment codes.
    PaymentInProcess = "PAYMENT_IN_PROCESS", Unknown, Payment, AlipayPlus, true,
        message: "payment in process", meaning: "processing, e.g. buyer must enter PIN/password",
        action: "poll inquiryPayment until final or expiry, then cancelPayment";
    OrderIsClosed = "ORDER_IS_CLOSED", Failure, Payment, AlipayPlus, true,
        message: "order is closed", meaning: "order closed, cancelled or timed out",
        action: "treat as failed; merchant may start a new payment";
    OrderNotExist = "ORDER_NOT_EXIST", Failure, Payment, AlipayPlus, true,
        message: "order does not exist", meaning: "order not found (inquiry/cancel/refund)",
        action: "check IDs; for inquiry keep trying within expiry, then cancel";
    RepeatReqInconsistent = "REPEAT_REQ_INCONSISTENT", Failure, Payment, AlipayPlus, true,
        message: "repeated request is inconsistent", meaning: "same request ID, different key fields",
        action: "use a new ID or the original fields";
    UserBalanceNotEnough = "USER_BALANCE_NOT_ENOUGH", Failure, Payment, AlipayPlus, true,
        message: "user balance not enough", meaning: "insufficient balance (MPP must return this)",
        action: "fail the order; buyer may pay another way";
    RiskReject = "RISK_REJECT", Failure, Payment, AlipayPlus, true,
        message: "rejected by risk control", meaning: "risk decline", action: "fail the order";
    UserNotExist = "USER_NOT_EXIST", Failure, Payment, AlipayPlus, true,
        message: "user does not exist", meaning: "buyer account not found", action: "fail";
    UserStatusAbnormal = "USER_STATUS_ABNORMAL", Failure, Payment, AlipayPlus, true,
        message: "user status abnormal", meaning: "buyer account restricted", action: "fail";
    UnavailablePaymentMethod = "UNAVAILABLE_PAYMENT_METHOD", Failure, Payment, AlipayPlus, true,
        message: "payment method unavailable", meaning: "payment method unavailable", action: "fail";
    UserPaymentVerificationFailed = "USER_PAYMENT_VERIFICATION_FAILED", Failure, Payment, AlipayPlus, true,
        message: "user payment verification failed", meaning: "PIN/OTP verification failed", action: "fail";
    UserKycNotQualified = "USER_KYC_NOT_QUALIFIED", Failure, Payment, AlipayPlus, true,
        message: "user KYC not qualified", meaning: "buyer not KYC-compliant", action: "fail";
    PaymentAmountExceedLimit = "PAYMENT_AMOUNT_EXCEED_LIMIT", Failure, Payment, AlipayPlus, true,
        message: "payment amount exceeds the limit", meaning: "amount over a limit", action: "fail; lower amount";
    UserAmountExceedLimit = "USER_AMOUNT_EXCEED_LIMIT", Failure, Payment, AlipayPlus, true,
        message: "user amount exceeds the limit", meaning: "buyer's limit exceeded", action: "fail";
    PaymentCountExceedLimit = "PAYMENT_COUNT_EXCEED_LIMIT", Failure, Payment, AlipayPlus, true,
        message: "payment count exceeds the limit", meaning: "too many payments", action: "fail";
    MerchantKybNotQualified = "MERCHANT_KYB_NOT_QUALIFIED", Failure, Payment, AlipayPlus, true,
        message: "merchant KYB not qualified", meaning: "merchant not KYB-qualified", action: "fix merchant";
    MerchantNotRegistered = "MERCHANT_NOT_REGISTERED", Failure, Payment, Unconfirmed, true,
        message: "merchant not registered", meaning: "merchant not registered with the MPP", action: "register";
    ExpiredCode = "EXPIRED_CODE", Failure, Payment, Family, true,
        message: "payment code expired", meaning: "payment code expired",
        action: "buyer refreshes the code; new payment";
    InvalidCode = "INVALID_CODE", Failure, Payment, Family, true,
        message: "invalid code", meaning: "code invalid (also an MPM decode error)", action: "ask for a new code";
    InvalidPaymentCode = "INVALID_PAYMENT_CODE", Failure, Payment, Family, true,
        message: "invalid payment code", meaning: "code cannot be accepted by Alipay+",
        action: "route elsewhere / reject";
    OrderStatusInvalid = "ORDER_STATUS_INVALID", Failure, Payment, Family, false,
        message: "order status invalid", meaning: "Antom/AMS code; not produced by Plusbox by default",
        action: "treat as final failure";
    VerifyTimesExceedLimit = "VERIFY_TIMES_EXCEED_LIMIT", Failure, Payment, Family, false,
        message: "verification times exceed the limit",
        meaning: "Antom/AMS code; not produced by Plusbox by default", action: "treat as final failure";
    VerifyUnmatched = "VERIFY_UNMATCHED", Failure, Payment, Family, false,
        message: "verification unmatched", meaning: "Antom/AMS code; not produced by Plusbox by default",
        action: "treat as final failure";
    FraudReject = "FRAUD_REJECT", Failure, Payment, Family, false,
        message: "rejected for fraud", meaning: "Antom/AMS code; not produced by Plusbox by default",
        action: "treat as final failure";
    InvalidMerchantStatus = "INVALID_MERCHANT_STATUS", Failure, Payment, Family, false,
        message: "invalid merchant status", meaning: "Antom/AMS code; not produced by Plusbox by default",
        action: "treat as final failure";
    NoPayOptions = "NO_PAY_OPTIONS", Failure, Payment, Family, false,
        message: "no pay options", meaning: "Antom/AMS code; not produced by Plusbox by default",
        action: "treat as final failure";

    // §16.3 Cancel and refund (SUCCESS and UNKNOWN_EXCEPTION are in §16.1).
    CancelWindowExceed = "CANCEL_WINDOW_EXCEED", Failure, CancelRefund, PlusboxDecision, true,
        message: "cancel window exceeded", meaning: "cancel after 00:15 UTC+8 on T+1", action: "refund instead";
    RefundAmountExceed = "REFUND_AMOUNT_EXCEED", Failure, CancelRefund, PlusboxDecision, true,
        message: "refund amount exceeds the payment amount",
        meaning: "refunds would exceed the payment amount", action: "lower the amount";
    RefundWindowExceed = "REFUND_WINDOW_EXCEED", Failure, CancelRefund, PlusboxDecision, true,
        message: "refund window exceeded", meaning: "refund more than one calendar year after payment",
        action: "handle offline";

    // §13.1 Merchant registration: an inquiry for a registration Alipay+ has no record of (Antom's
    // inquiryRegistrationStatus and inquiryRegistrationInfo tables name it; the Alipay+ page does
    // not list its codes).
    RecordNotFound = "RECORD_NOT_FOUND", Failure, Common, Family, true,
        message: "record not found", meaning: "no registration matches the inquiry",
        action: "check registrationRequestId / referenceMerchantId / referenceStoreId; register first";

    // §13.3 Disputes: the ACQP answers (responseRetrieval / responseEscalation) a dispute Alipay+
    // has no record of, or one that is no longer open. The names are Plusbox decisions
    // (docs/registration-customs-disputes.md); the Alipay+ pages list no codes for these calls.
    DisputeNotExist = "DISPUTE_NOT_EXIST", Failure, Common, PlusboxDecision, true,
        message: "dispute does not exist",
        meaning: "no retrieval or escalation of this kind has the disputeRequestId",
        action: "answer with the disputeRequestId of the initiateRetrieval / initiateEscalation received";
    DisputeClosed = "DISPUTE_CLOSED", Failure, Common, PlusboxDecision, true,
        message: "dispute is closed",
        meaning: "the dispute was closed or its response deadline passed before this answer",
        action: "do not retry; answer disputes before their responseDeadline";
}

impl ResultCode {
    /// The catalogue entry for this code.
    pub fn info(self) -> &'static ResultCodeInfo {
        // The catalogue lists variants in declaration order, so the discriminant is the index;
        // a unit test checks that. The fallback keeps this total without a panic.
        CATALOGUE
            .get(self as usize)
            .filter(|i| i.code == self)
            .unwrap_or_else(|| CATALOGUE.iter().find(|i| i.code == self).unwrap_or(&CATALOGUE_FALLBACK))
    }

    /// The status this code is returned with.
    pub fn status(self) -> Status {
        self.info().status
    }

    /// The default `resultMessage`.
    pub fn default_message(self) -> &'static str {
        self.info().message
    }

    /// What the ACQP must do on receiving this code.
    pub fn acqp_action(self) -> &'static str {
        self.info().acqp_action
    }

    /// How well the code is documented.
    pub fn confidence(self) -> Confidence {
        self.info().confidence
    }
}

/// Never used in practice (every variant is in the catalogue); exists so `info` needs no panic.
static CATALOGUE_FALLBACK: ResultCodeInfo = ResultCodeInfo {
    code: ResultCode::UnknownException,
    status: Status::Unknown,
    message: "unknown exception",
    meaning: "unknown failure",
    acqp_action: "call again with the same IDs; for pay, inquire",
    confidence: Confidence::AlipayPlus,
    section: Section::Common,
    produced_by_plusbox: true,
};

/// Every catalogue entry, in reference order.
pub fn catalogue() -> impl Iterator<Item = &'static ResultCodeInfo> {
    CATALOGUE.iter()
}

impl fmt::Display for ResultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A result code outside the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("result code {0:?} is not in the Plusbox catalogue")]
pub struct UnknownResultCode(pub String);

impl FromStr for ResultCode {
    type Err = UnknownResultCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ResultCode::from_wire(s).ok_or_else(|| UnknownResultCode(s.to_owned()))
    }
}

impl Serialize for ResultCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ResultCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn catalogue_index_matches_discriminant() {
        for (i, entry) in CATALOGUE.iter().enumerate() {
            assert_eq!(entry.code as usize, i, "{}", entry.code);
            assert!(std::ptr::eq(entry.code.info(), entry));
        }
    }
}
