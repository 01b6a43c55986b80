//! The result codes the sandbox produces (alipayplus-api.md §16), with their status and the short
//! English message Plusbox sends.
//!
//! Kept as a small adapter so the wire layer has one place to look codes up; it mirrors the
//! catalogue in `plusbox-core`.

use serde_json::{json, Value};

/// `resultStatus` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Success.
    S,
    /// Failure, final.
    F,
    /// Unknown or processing.
    U,
}

impl Status {
    /// The one-letter wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::S => "S",
            Status::F => "F",
            Status::U => "U",
        }
    }
}

macro_rules! codes {
    ($($variant:ident => ($text:literal, $status:ident, $message:literal),)*) => {
        /// A result code of the Alipay+ catalogue.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ResultCode {
            $(
                #[doc = $message]
                $variant,
            )*
        }

        impl ResultCode {
            /// Every code.
            pub const ALL: &'static [ResultCode] = &[$(ResultCode::$variant,)*];

            /// The wire spelling, e.g. `PAYMENT_IN_PROCESS`.
            pub fn as_str(self) -> &'static str {
                match self { $(ResultCode::$variant => $text,)* }
            }

            /// The status Alipay+ returns with this code.
            pub fn status(self) -> Status {
                match self { $(ResultCode::$variant => Status::$status,)* }
            }

            /// Plusbox's default message.
            pub fn message(self) -> &'static str {
                match self { $(ResultCode::$variant => $message,)* }
            }

            /// Looks a code up by its wire spelling.
            pub fn parse(text: &str) -> Option<ResultCode> {
                match text { $($text => Some(ResultCode::$variant),)* _ => None }
            }
        }
    };
}

codes! {
    Success => ("SUCCESS", S, "success"),
    UnknownException => ("UNKNOWN_EXCEPTION", U, "unknown exception"),
    RequestTrafficExceedLimit => ("REQUEST_TRAFFIC_EXCEED_LIMIT", U, "request traffic exceeds the limit"),
    ProcessFail => ("PROCESS_FAIL", F, "process failed"),
    ParamIllegal => ("PARAM_ILLEGAL", F, "illegal parameters"),
    MethodNotSupported => ("METHOD_NOT_SUPPORTED", F, "the HTTP method is not supported; use POST"),
    MediaTypeNotAcceptable => ("MEDIA_TYPE_NOT_ACCEPTABLE", F, "the media type is not acceptable; use application/json"),
    InvalidApi => ("INVALID_API", F, "the API path is invalid or inactive"),
    InvalidClient => ("INVALID_CLIENT", F, "the client is invalid"),
    InvalidSignature => ("INVALID_SIGNATURE", F, "the signature is invalid"),
    KeyNotFound => ("KEY_NOT_FOUND", F, "no public key is registered for this client and key version"),
    AccessDenied => ("ACCESS_DENIED", F, "access denied"),
    CurrencyNotSupport => ("CURRENCY_NOT_SUPPORT", F, "the currency is not supported"),
    PaymentInProcess => ("PAYMENT_IN_PROCESS", U, "payment in process"),
    OrderIsClosed => ("ORDER_IS_CLOSED", F, "the order is closed"),
    OrderNotExist => ("ORDER_NOT_EXIST", F, "the order does not exist"),
    RepeatReqInconsistent => ("REPEAT_REQ_INCONSISTENT", F, "the repeated request is inconsistent with the first one"),
    UserBalanceNotEnough => ("USER_BALANCE_NOT_ENOUGH", F, "the user balance is not enough"),
    RiskReject => ("RISK_REJECT", F, "rejected by risk control"),
    UserNotExist => ("USER_NOT_EXIST", F, "the user does not exist"),
    UserStatusAbnormal => ("USER_STATUS_ABNORMAL", F, "the user status is abnormal"),
    UnavailablePaymentMethod => ("UNAVAILABLE_PAYMENT_METHOD", F, "the payment method is unavailable"),
    UserPaymentVerificationFailed => ("USER_PAYMENT_VERIFICATION_FAILED", F, "the user payment verification failed"),
    UserKycNotQualified => ("USER_KYC_NOT_QUALIFIED", F, "the user is not KYC qualified"),
    PaymentAmountExceedLimit => ("PAYMENT_AMOUNT_EXCEED_LIMIT", F, "the payment amount exceeds the limit"),
    UserAmountExceedLimit => ("USER_AMOUNT_EXCEED_LIMIT", F, "the user's amount limit is exceeded"),
    PaymentCountExceedLimit => ("PAYMENT_COUNT_EXCEED_LIMIT", F, "the payment count exceeds the limit"),
    MerchantKybNotQualified => ("MERCHANT_KYB_NOT_QUALIFIED", F, "the merchant is not KYB qualified"),
    MerchantNotRegistered => ("MERCHANT_NOT_REGISTERED", F, "the merchant is not registered"),
    ExpiredCode => ("EXPIRED_CODE", F, "the payment code has expired"),
    InvalidCode => ("INVALID_CODE", F, "the payment code is invalid"),
    InvalidPaymentCode => ("INVALID_PAYMENT_CODE", F, "the payment code cannot be accepted by Alipay+"),
    CancelWindowExceed => ("CANCEL_WINDOW_EXCEED", F, "the cancel window has passed; refund instead"),
    RefundAmountExceed => ("REFUND_AMOUNT_EXCEED", F, "the total refund amount exceeds the payment amount"),
    RefundWindowExceed => ("REFUND_WINDOW_EXCEED", F, "the refund window has passed"),
}

impl ResultCode {
    /// The `result` object with the default message.
    pub fn result(self) -> Value {
        self.result_with(self.message())
    }

    /// The `result` object with a specific message.
    pub fn result_with(self, message: &str) -> Value {
        json!({
            "resultCode": self.as_str(),
            "resultStatus": self.status().as_str(),
            "resultMessage": message,
        })
    }
}
