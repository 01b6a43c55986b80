//! The one error every companion command returns: `{code, message}`, where `code` is a fixed
//! list the UI branches on (and translates) and `message` says in English what went wrong.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What went wrong, as the UI branches on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// This browser or app has no device token yet (or the sandbox does not know it).
    NotPaired,
    /// This device's token was revoked.
    DeviceRevoked,
    /// The pairing code is wrong, used or expired.
    PairingCodeInvalid,
    /// Pairing without a code was asked for from another machine.
    PairingNotLoopback,
    /// Too many wrong pairing codes in the last minute.
    TooManyAttempts,
    /// The sandbox cannot be reached (down, wrong URL, network).
    SandboxUnreachable,
    /// No such account, payment, device or command.
    NotFound,
    /// The arguments are malformed.
    BadRequest,
    /// The amount is not a positive amount with a known currency.
    BadAmount,
    /// The amount would take a balance past what the wallet can hold.
    AmountTooLarge,
    /// No such wallet scenario.
    UnknownScenario,
    /// The request does not fit the current state.
    InvalidState,
    /// The PIN was wrong (the payment failed).
    WrongPin,
    /// Someone already confirmed or declined the payment, or it was cancelled.
    AlreadyDecided,
    /// The payment expired before the buyer answered.
    PaymentExpired,
    /// The image cannot be read (not PNG/JPEG, corrupt, wrong frame size).
    BadImage,
    /// The image is larger than the scanner accepts.
    ImageTooLarge,
    /// The scanned order code was not issued by this sandbox.
    OrderCodeInvalid,
    /// The scanned order code has expired.
    OrderCodeExpired,
    /// The order behind the scanned code is closed: paid, cancelled or refused already.
    OrderClosed,
    /// This buyer confirms with a PIN; none was given (nothing changed).
    PinRequired,
    /// The case is not in this device's list of cases.
    CaseNotAssigned,
    /// No such case in the catalogue.
    UnknownCase,
    /// This device or buyer already has a test run under way.
    RunActive,
    /// A private order code its acquirer refused to decode (its answer was not S).
    AcquirerDeclinedCode,
    /// A private order code whose acquirer answered without a signature.
    AcquirerAnswerUnsigned,
    /// A private order code whose acquirer's answer did not verify.
    AcquirerAnswerBadSignature,
    /// A private order code whose acquirer did not answer within 8 s.
    AcquirerTimeout,
    /// A private order code whose acquirer's answer lacks the amount or the order's id.
    AcquirerAnswerIncomplete,
    /// A private order code whose acquirer could not be reached or answered with an HTTP error.
    AcquirerUnreachable,
    /// No invitation of this sandbox has that link.
    InviteUnknown,
    /// The invitation was revoked.
    InviteRevoked,
    /// The device is tied to another merchant or buyer (an invited merchant's phone acting for
    /// someone else's buyer, or a scoped device listing the sandbox's devices).
    NotInScope,
    /// An argument is not what the command takes (e.g. text that is no invite link).
    InvalidArgument,
    /// Something failed inside; the message says what.
    Internal,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::NotPaired,
        ErrorCode::DeviceRevoked,
        ErrorCode::PairingCodeInvalid,
        ErrorCode::PairingNotLoopback,
        ErrorCode::TooManyAttempts,
        ErrorCode::SandboxUnreachable,
        ErrorCode::NotFound,
        ErrorCode::BadRequest,
        ErrorCode::BadAmount,
        ErrorCode::AmountTooLarge,
        ErrorCode::UnknownScenario,
        ErrorCode::InvalidState,
        ErrorCode::WrongPin,
        ErrorCode::AlreadyDecided,
        ErrorCode::PaymentExpired,
        ErrorCode::BadImage,
        ErrorCode::ImageTooLarge,
        ErrorCode::OrderCodeInvalid,
        ErrorCode::OrderCodeExpired,
        ErrorCode::OrderClosed,
        ErrorCode::PinRequired,
        ErrorCode::CaseNotAssigned,
        ErrorCode::UnknownCase,
        ErrorCode::RunActive,
        ErrorCode::AcquirerDeclinedCode,
        ErrorCode::AcquirerAnswerUnsigned,
        ErrorCode::AcquirerAnswerBadSignature,
        ErrorCode::AcquirerTimeout,
        ErrorCode::AcquirerAnswerIncomplete,
        ErrorCode::AcquirerUnreachable,
        ErrorCode::InviteUnknown,
        ErrorCode::InviteRevoked,
        ErrorCode::NotInScope,
        ErrorCode::InvalidArgument,
        ErrorCode::Internal,
    ];

    /// The wire name, e.g. `NOT_PAIRED`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NotPaired => "NOT_PAIRED",
            ErrorCode::DeviceRevoked => "DEVICE_REVOKED",
            ErrorCode::PairingCodeInvalid => "PAIRING_CODE_INVALID",
            ErrorCode::PairingNotLoopback => "PAIRING_NOT_LOOPBACK",
            ErrorCode::TooManyAttempts => "TOO_MANY_ATTEMPTS",
            ErrorCode::SandboxUnreachable => "SANDBOX_UNREACHABLE",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::BadRequest => "BAD_REQUEST",
            ErrorCode::BadAmount => "BAD_AMOUNT",
            ErrorCode::AmountTooLarge => "AMOUNT_TOO_LARGE",
            ErrorCode::UnknownScenario => "UNKNOWN_SCENARIO",
            ErrorCode::InvalidState => "INVALID_STATE",
            ErrorCode::WrongPin => "WRONG_PIN",
            ErrorCode::AlreadyDecided => "ALREADY_DECIDED",
            ErrorCode::PaymentExpired => "PAYMENT_EXPIRED",
            ErrorCode::BadImage => "BAD_IMAGE",
            ErrorCode::ImageTooLarge => "IMAGE_TOO_LARGE",
            ErrorCode::OrderCodeInvalid => "ORDER_CODE_INVALID",
            ErrorCode::OrderCodeExpired => "ORDER_CODE_EXPIRED",
            ErrorCode::OrderClosed => "ORDER_CLOSED",
            ErrorCode::PinRequired => "PIN_REQUIRED",
            ErrorCode::CaseNotAssigned => "CASE_NOT_ASSIGNED",
            ErrorCode::UnknownCase => "UNKNOWN_CASE",
            ErrorCode::RunActive => "RUN_ACTIVE",
            ErrorCode::AcquirerDeclinedCode => "ACQUIRER_DECLINED_CODE",
            ErrorCode::AcquirerAnswerUnsigned => "ACQUIRER_ANSWER_UNSIGNED",
            ErrorCode::AcquirerAnswerBadSignature => "ACQUIRER_ANSWER_BAD_SIGNATURE",
            ErrorCode::AcquirerTimeout => "ACQUIRER_TIMEOUT",
            ErrorCode::AcquirerAnswerIncomplete => "ACQUIRER_ANSWER_INCOMPLETE",
            ErrorCode::AcquirerUnreachable => "ACQUIRER_UNREACHABLE",
            ErrorCode::InviteUnknown => "INVITE_UNKNOWN",
            ErrorCode::InviteRevoked => "INVITE_REVOKED",
            ErrorCode::NotInScope => "NOT_IN_SCOPE",
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::Internal => "INTERNAL",
        }
    }

    /// The code with this wire name.
    pub fn from_wire(name: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|code| code.as_str() == name)
    }

    /// The HTTP status `/rpc` answers with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::NotPaired | ErrorCode::DeviceRevoked => 401,
            ErrorCode::PairingNotLoopback
            | ErrorCode::CaseNotAssigned
            | ErrorCode::InviteRevoked
            | ErrorCode::NotInScope => 403,
            ErrorCode::NotFound
            | ErrorCode::OrderCodeInvalid
            | ErrorCode::UnknownCase
            | ErrorCode::InviteUnknown => 404,
            ErrorCode::InvalidState
            | ErrorCode::AlreadyDecided
            | ErrorCode::PaymentExpired
            | ErrorCode::OrderCodeExpired
            | ErrorCode::OrderClosed
            | ErrorCode::RunActive => 409,
            ErrorCode::ImageTooLarge => 413,
            ErrorCode::WrongPin
            | ErrorCode::PairingCodeInvalid
            | ErrorCode::BadRequest
            | ErrorCode::BadAmount
            | ErrorCode::AmountTooLarge
            | ErrorCode::UnknownScenario
            | ErrorCode::BadImage
            | ErrorCode::PinRequired
            | ErrorCode::InvalidArgument => 400,
            ErrorCode::TooManyAttempts => 429,
            ErrorCode::SandboxUnreachable
            | ErrorCode::AcquirerDeclinedCode
            | ErrorCode::AcquirerAnswerUnsigned
            | ErrorCode::AcquirerAnswerBadSignature
            | ErrorCode::AcquirerAnswerIncomplete
            | ErrorCode::AcquirerUnreachable => 502,
            ErrorCode::AcquirerTimeout => 504,
            ErrorCode::Internal => 500,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A command's error: `{code, message}` on the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize, TS)]
#[error("{code}: {message}")]
pub struct CommandError {
    /// What went wrong, for the UI to branch on.
    pub code: ErrorCode,
    /// What went wrong, in English, for people and logs.
    pub message: String,
}

impl CommandError {
    /// A new error.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        CommandError { code, message: message.into() }
    }

    /// `BAD_REQUEST` with a message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        CommandError::new(ErrorCode::BadRequest, message)
    }

    /// `INTERNAL` with a message.
    pub fn internal(message: impl Into<String>) -> Self {
        CommandError::new(ErrorCode::Internal, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_wire_name() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(code).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(ErrorCode::from_wire(code.as_str()), Some(*code));
        }
    }
}
