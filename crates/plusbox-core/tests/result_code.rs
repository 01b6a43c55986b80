//! Behaviour of `plusbox_core::result_code`: the §16 catalogue and the result status.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;

use plusbox_core::result_code::{catalogue, Confidence, ResultCode, Section, Status};

/// Every code named in reference §16, with its status.
const REFERENCE: &[(&str, &str)] = &[
    ("SUCCESS", "S"),
    ("UNKNOWN_EXCEPTION", "U"),
    ("REQUEST_TRAFFIC_EXCEED_LIMIT", "U"),
    ("PROCESS_FAIL", "F"),
    ("PARAM_ILLEGAL", "F"),
    ("METHOD_NOT_SUPPORTED", "F"),
    ("MEDIA_TYPE_NOT_ACCEPTABLE", "F"),
    ("INVALID_API", "F"),
    ("INVALID_CLIENT", "F"),
    ("INVALID_SIGNATURE", "F"),
    ("KEY_NOT_FOUND", "F"),
    ("ACCESS_DENIED", "F"),
    ("CURRENCY_NOT_SUPPORT", "F"),
    ("PAYMENT_IN_PROCESS", "U"),
    ("ORDER_IS_CLOSED", "F"),
    ("ORDER_NOT_EXIST", "F"),
    ("REPEAT_REQ_INCONSISTENT", "F"),
    ("USER_BALANCE_NOT_ENOUGH", "F"),
    ("RISK_REJECT", "F"),
    ("USER_NOT_EXIST", "F"),
    ("USER_STATUS_ABNORMAL", "F"),
    ("UNAVAILABLE_PAYMENT_METHOD", "F"),
    ("USER_PAYMENT_VERIFICATION_FAILED", "F"),
    ("USER_KYC_NOT_QUALIFIED", "F"),
    ("PAYMENT_AMOUNT_EXCEED_LIMIT", "F"),
    ("USER_AMOUNT_EXCEED_LIMIT", "F"),
    ("PAYMENT_COUNT_EXCEED_LIMIT", "F"),
    ("MERCHANT_KYB_NOT_QUALIFIED", "F"),
    ("MERCHANT_NOT_REGISTERED", "F"),
    ("EXPIRED_CODE", "F"),
    ("INVALID_CODE", "F"),
    ("INVALID_PAYMENT_CODE", "F"),
    ("ORDER_STATUS_INVALID", "F"),
    ("VERIFY_TIMES_EXCEED_LIMIT", "F"),
    ("VERIFY_UNMATCHED", "F"),
    ("FRAUD_REJECT", "F"),
    ("INVALID_MERCHANT_STATUS", "F"),
    ("NO_PAY_OPTIONS", "F"),
    ("CANCEL_WINDOW_EXCEED", "F"),
    ("REFUND_AMOUNT_EXCEED", "F"),
    ("REFUND_WINDOW_EXCEED", "F"),
    // §13.1: the inquiry of an unknown registration (Family: Antom's inquiryRegistrationStatus).
    ("RECORD_NOT_FOUND", "F"),
    // §13.3: answers to a dispute Alipay+ has no record of, or to one no longer open (Plusbox
    // decisions, docs/registration-customs-disputes.md).
    ("DISPUTE_NOT_EXIST", "F"),
    ("DISPUTE_CLOSED", "F"),
];

#[test]
fn catalogue_covers_reference_exactly() {
    let wire: Vec<&str> = catalogue().map(|e| e.code.as_str()).collect();
    let expected: Vec<&str> = REFERENCE.iter().map(|(c, _)| *c).collect();
    assert_eq!(wire, expected);
    for (code, status) in REFERENCE {
        let rc: ResultCode = code.parse().unwrap();
        assert_eq!(rc.as_str(), *code);
        assert_eq!(rc.status().as_str(), *status, "{code}");
        assert_eq!(rc.to_string(), *code);
    }
    let unique: HashSet<_> = catalogue().map(|e| e.code).collect();
    assert_eq!(unique.len(), REFERENCE.len());
}

#[test]
fn entries_have_text() {
    for e in catalogue() {
        assert!(!e.message.is_empty() && !e.meaning.is_empty() && !e.acqp_action.is_empty(), "{}", e.code);
        assert_eq!(e.message, e.message.trim());
        assert!(e.code.as_str().len() <= 64);
    }
}

#[test]
fn documented_details() {
    assert_eq!(ResultCode::Success.default_message(), "success");
    assert_eq!(ResultCode::PaymentInProcess.default_message(), "payment in process");
    assert_eq!(ResultCode::PaymentInProcess.status(), Status::Unknown);
    assert!(ResultCode::PaymentInProcess.acqp_action().contains("cancelPayment"));
    assert_eq!(ResultCode::KeyNotFound.confidence(), Confidence::Family);
    assert_eq!(ResultCode::MerchantNotRegistered.confidence(), Confidence::Unconfirmed);
    assert_eq!(ResultCode::CancelWindowExceed.confidence(), Confidence::PlusboxDecision);
    assert_eq!(ResultCode::RefundWindowExceed.info().section, Section::CancelRefund);
    assert!(!ResultCode::FraudReject.info().produced_by_plusbox);
    assert!(ResultCode::ParamIllegal.info().produced_by_plusbox);
    assert_eq!(Confidence::AlipayPlus.label(), "[A+]");
}

#[test]
fn unknown_codes_are_not_in_the_enum() {
    // Alipay+ has no USER_PAYING (§16 notes); peers' unknown codes stay strings on the wire type.
    assert!("USER_PAYING".parse::<ResultCode>().is_err());
    assert!("success".parse::<ResultCode>().is_err());
    assert_eq!(ResultCode::from_wire("SOMETHING_NEW"), None);
    let err = "X".parse::<ResultCode>().unwrap_err();
    assert!(err.to_string().contains("\"X\""));
}

#[test]
fn serde_uses_wire_spellings() {
    assert_eq!(serde_json::to_string(&ResultCode::OrderIsClosed).unwrap(), r#""ORDER_IS_CLOSED""#);
    assert_eq!(
        serde_json::from_str::<ResultCode>(r#""ORDER_IS_CLOSED""#).unwrap(),
        ResultCode::OrderIsClosed
    );
    assert!(serde_json::from_str::<ResultCode>(r#""NOPE""#).is_err());
    assert_eq!(serde_json::to_string(&Status::Failure).unwrap(), r#""F""#);
    assert_eq!(serde_json::from_str::<Status>(r#""U""#).unwrap(), Status::Unknown);
    assert!(serde_json::from_str::<Status>(r#""s""#).is_err());
    assert_eq!("S".parse::<Status>().unwrap(), Status::Success);
    assert!("X".parse::<Status>().is_err());
    assert!(Status::Success.is_final() && Status::Failure.is_final() && !Status::Unknown.is_final());
}
