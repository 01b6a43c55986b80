//! The typed test-case model: what a TOML case file deserializes into.
//!
//! Every leaf type validates itself while it is read (`try_from = "String"`), so a bad value is
//! reported by the TOML reader with the line it sits on. Cross-field rules are checked afterwards
//! in [`super::load`].

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::money::Amount;
use crate::result_code::ResultCode;

/// A case identifier: upper-case letters, digits and hyphens, ending in a three-digit number,
/// e.g. `UPM-PAY-001`. Ids are stable: results, reports and the coverage table refer to them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CaseId(String);

impl CaseId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CaseId {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        let parts: Vec<&str> = text.split('-').collect();
        let well_formed = parts.len() >= 2
            && text.len() <= 40
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
            && parts.first().is_some_and(|p| p.bytes().all(|b| b.is_ascii_uppercase()))
            && parts.last().is_some_and(|p| p.len() == 3 && p.bytes().all(|b| b.is_ascii_digit()));
        if well_formed {
            Ok(CaseId(text))
        } else {
            Err(format!(
                "{text:?} is not a case id: upper-case words joined by hyphens, ending in three digits (e.g. UPM-PAY-001)"
            ))
        }
    }
}

impl From<CaseId> for String {
    fn from(id: CaseId) -> String {
        id.0
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The product a case belongs to (its suite).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Product {
    /// User-presented mode: the merchant scans the buyer's payment code.
    #[serde(rename = "UPM")]
    Upm,
    /// Merchant-presented mode with an order code: the buyer scans the code the POS shows
    /// (alipayplus-api.md §5).
    #[serde(rename = "Order Code")]
    OrderCode,
    /// Merchant-presented mode with a private order code: the ACQP issues the code and decodes
    /// it when Alipay+ asks with `userInitiatedPay` (alipayplus-api.md §11).
    #[serde(rename = "Private Order Code")]
    PrivateOrderCode,
    /// Merchant-presented mode with an entry code: the buyer's wallet opens the ACQP's merchant
    /// page, which calls `pay` with `EntryCode` and sends the buyer to the cashier (§6).
    #[serde(rename = "Entry Code")]
    EntryCode,
    /// Merchant registration: the ACQP registers its merchants with Alipay+ and follows each
    /// registration's review (alipayplus-api.md §13.1).
    #[serde(rename = "Merchant Registration")]
    Registration,
    /// Customs declaration of Alipay (CN) payments (alipayplus-api.md §13.2).
    #[serde(rename = "Customs Declaration")]
    Customs,
    /// Disputes: the ACQP acknowledges and answers the retrievals and escalations Alipay+ starts
    /// against its payments (alipayplus-api.md §13.3).
    #[serde(rename = "Dispute")]
    Dispute,
    /// Reconciliation: the ACQP downloads a clearing day's Transaction Detail Report from the
    /// sandbox's SFTP tree and reconciles it against its order table (reconciliation.md §2).
    #[serde(rename = "Reconciliation")]
    Reconciliation,
    /// TSP mode: a TSP calls Alipay+ on behalf of an ACQP that authorized it, with the
    /// authorization's Agent-Token on every call (alipayplus-api.md §14).
    #[serde(rename = "TSP")]
    Tsp,
}

impl Product {
    /// The suite name used on the command line (`--suite upm`).
    pub const fn suite(self) -> &'static str {
        match self {
            Product::Upm => "upm",
            Product::OrderCode | Product::PrivateOrderCode | Product::EntryCode => "mpm",
            Product::Registration | Product::Customs => "merchant",
            Product::Dispute => "dispute",
            Product::Reconciliation => "recon",
            Product::Tsp => "tsp",
        }
    }
}

/// An Alipay+ API as named in the traffic log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Api {
    /// `pay` (ACQP → Alipay+).
    Pay,
    /// `inquiryPayment` (ACQP → Alipay+).
    InquiryPayment,
    /// `cancelPayment` (ACQP → Alipay+).
    CancelPayment,
    /// `refund` (ACQP → Alipay+).
    Refund,
    /// `notifyPayment` (Alipay+ → ACQP).
    NotifyPayment,
    /// `userInitiatedPay` (Alipay+ → ACQP).
    UserInitiatedPay,
    /// `registration` (ACQP → Alipay+, §13.1).
    Registration,
    /// `inquiryRegistrationStatus` (ACQP → Alipay+, §13.1).
    InquiryRegistrationStatus,
    /// `notifyRegistrationStatus` (Alipay+ → ACQP, §13.1).
    NotifyRegistrationStatus,
    /// `declare` (ACQP → Alipay+, §13.2).
    Declare,
    /// `inquireDeclarationRequests` (ACQP → Alipay+, §13.2).
    InquireDeclarationRequests,
    /// `initiateRetrieval` (Alipay+ → ACQP, §13.3).
    InitiateRetrieval,
    /// `initiateEscalation` (Alipay+ → ACQP, §13.3).
    InitiateEscalation,
    /// `responseRetrieval` (ACQP → Alipay+, §13.3).
    ResponseRetrieval,
    /// `responseEscalation` (ACQP → Alipay+, §13.3).
    ResponseEscalation,
}

impl Api {
    /// Every API, in the order of the reference.
    pub const ALL: &'static [Api] = &[
        Api::Pay,
        Api::InquiryPayment,
        Api::CancelPayment,
        Api::Refund,
        Api::NotifyPayment,
        Api::UserInitiatedPay,
        Api::Registration,
        Api::InquiryRegistrationStatus,
        Api::NotifyRegistrationStatus,
        Api::Declare,
        Api::InquireDeclarationRequests,
        Api::InitiateRetrieval,
        Api::InitiateEscalation,
        Api::ResponseRetrieval,
        Api::ResponseEscalation,
    ];

    /// The traffic-log name, e.g. `inquiryPayment`.
    pub const fn name(self) -> &'static str {
        match self {
            Api::Pay => "pay",
            Api::InquiryPayment => "inquiryPayment",
            Api::CancelPayment => "cancelPayment",
            Api::Refund => "refund",
            Api::NotifyPayment => "notifyPayment",
            Api::UserInitiatedPay => "userInitiatedPay",
            Api::Registration => "registration",
            Api::InquiryRegistrationStatus => "inquiryRegistrationStatus",
            Api::NotifyRegistrationStatus => "notifyRegistrationStatus",
            Api::Declare => "declare",
            Api::InquireDeclarationRequests => "inquireDeclarationRequests",
            Api::InitiateRetrieval => "initiateRetrieval",
            Api::InitiateEscalation => "initiateEscalation",
            Api::ResponseRetrieval => "responseRetrieval",
            Api::ResponseEscalation => "responseEscalation",
        }
    }

    /// The request-body field that is this API's idempotency key, when it is not the payment's
    /// `paymentRequestId`: `refundRequestId`, `registrationRequestId`,
    /// `customsDeclarationRequestId`, `disputeRequestId`.
    pub const fn idempotency_key(self) -> Option<&'static str> {
        match self {
            Api::Refund => Some("refundRequestId"),
            Api::Registration => Some("registrationRequestId"),
            Api::Declare => Some("customsDeclarationRequestId"),
            Api::ResponseRetrieval | Api::ResponseEscalation => Some("disputeRequestId"),
            _ => None,
        }
    }

    /// True for the calls Alipay+ (the sandbox) makes to the ACQP.
    pub const fn is_outbound(self) -> bool {
        matches!(
            self,
            Api::NotifyPayment
                | Api::UserInitiatedPay
                | Api::NotifyRegistrationStatus
                | Api::InitiateRetrieval
                | Api::InitiateEscalation
        )
    }

    /// The traffic-log direction of this API's entries.
    pub const fn direction(self) -> &'static str {
        if self.is_outbound() {
            "outbound"
        } else {
            "inbound"
        }
    }
}

impl TryFrom<String> for Api {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl FromStr for Api {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Api::ALL.iter().copied().find(|a| a.name() == text).ok_or_else(|| {
            let names: Vec<&str> = Api::ALL.iter().map(|a| a.name()).collect();
            format!("unknown API {text:?}; one of {}", names.join(", "))
        })
    }
}

impl From<Api> for String {
    fn from(api: Api) -> String {
        api.name().to_owned()
    }
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A duration written as a number and a unit: `500ms`, `15s`, `2m`, `1h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CaseDuration(pub Duration);

impl TryFrom<String> for CaseDuration {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl FromStr for CaseDuration {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad =
            || format!("{text:?} is not a duration; write a whole number and a unit: 500ms, 15s, 2m, 1h");
        let trimmed = text.trim();
        let split = trimmed.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (number, unit) = trimmed.split_at(split);
        if number.is_empty() || number.len() > 9 {
            return Err(bad());
        }
        let n: u64 = number.parse().map_err(|_| bad())?;
        let millis = match unit {
            "ms" => n,
            "s" => n * 1_000,
            "m" => n * 60_000,
            "h" => n * 3_600_000,
            _ => return Err(bad()),
        };
        Ok(CaseDuration(Duration::from_millis(millis)))
    }
}

impl From<CaseDuration> for String {
    fn from(d: CaseDuration) -> String {
        d.to_string()
    }
}

impl fmt::Display for CaseDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms % 3_600_000 == 0 && ms > 0 {
            write!(f, "{}h", ms / 3_600_000)
        } else if ms % 60_000 == 0 && ms > 0 {
            write!(f, "{}m", ms / 60_000)
        } else if ms % 1_000 == 0 {
            write!(f, "{}s", ms / 1_000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

/// An amount in the text form `"12.50 USD"` (see [`crate::money`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CaseAmount(pub Amount);

impl TryFrom<String> for CaseAmount {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Amount::parse(&text)
            .map(CaseAmount)
            .map_err(|e| format!("{text:?} is not an amount like \"12.50 USD\": {e}"))
    }
}

impl From<CaseAmount> for String {
    fn from(a: CaseAmount) -> String {
        a.to_string()
    }
}

impl fmt::Display for CaseAmount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exp = u32::from(self.0.currency.exponent());
        let per = self.0.currency.minor_per_major();
        let sign = if self.0.value < 0 { "-" } else { "" };
        let abs = self.0.value.unsigned_abs();
        let per = per.unsigned_abs();
        if exp == 0 {
            write!(f, "{sign}{abs} {}", self.0.currency)
        } else {
            write!(f, "{sign}{}.{:0width$} {}", abs / per, abs % per, self.0.currency, width = exp as usize)
        }
    }
}

/// A result code, spelled as on the wire (`USER_BALANCE_NOT_ENOUGH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Code(pub ResultCode);

impl TryFrom<String> for Code {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        ResultCode::from_wire(&text)
            .map(Code)
            .ok_or_else(|| format!("{text:?} is not a result code in the catalogue (alipayplus-api.md §16)"))
    }
}

impl From<Code> for String {
    fn from(c: Code) -> String {
        c.0.as_str().to_owned()
    }
}

/// A `resultStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ResultStatus {
    /// Success.
    S,
    /// Failure.
    F,
    /// Unknown: the caller must find out (inquire, retry).
    U,
}

impl ResultStatus {
    /// `"S"`, `"F"` or `"U"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ResultStatus::S => "S",
            ResultStatus::F => "F",
            ResultStatus::U => "U",
        }
    }
}

/// The sandbox's payment states (alipayplus-api.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentState {
    /// Waiting for the buyer or the wallet.
    Processing,
    /// Paid.
    Success,
    /// Refused by the wallet.
    Failed,
    /// Expired without a final result.
    Closed,
    /// Cancelled by `cancelPayment`.
    Cancelled,
}

impl PaymentState {
    /// The state as the traffic log and the sandbox spell it.
    pub const fn as_str(self) -> &'static str {
        match self {
            PaymentState::Processing => "PROCESSING",
            PaymentState::Success => "SUCCESS",
            PaymentState::Failed => "FAILED",
            PaymentState::Closed => "CLOSED",
            PaymentState::Cancelled => "CANCELLED",
        }
    }

    /// Parses the sandbox spelling; `None` for anything else.
    pub fn parse(text: &str) -> Option<PaymentState> {
        [
            PaymentState::Processing,
            PaymentState::Success,
            PaymentState::Failed,
            PaymentState::Closed,
            PaymentState::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

impl fmt::Display for PaymentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the simulated wallet does with the buyer's payment (the sandbox's scenario names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WalletScenario {
    /// Pay at once if the balance allows.
    Success,
    /// Hold at U `PAYMENT_IN_PROCESS` until the buyer confirms with a PIN or declines.
    Pin,
    /// Refuse with `USER_BALANCE_NOT_ENOUGH`.
    InsufficientBalance,
    /// Refuse with `RISK_REJECT`.
    RiskReject,
    /// Refuse with `USER_NOT_EXIST`.
    UserNotExist,
    /// Refuse with `USER_STATUS_ABNORMAL`.
    UserAbnormal,
    /// Refuse with `USER_AMOUNT_EXCEED_LIMIT`.
    OverLimit,
    /// Never answer `pay`; the payment stays U until it expires or is cancelled.
    NoAnswer,
    /// Answer `pay` with U `UNKNOWN_EXCEPTION`.
    UnknownException,
}

impl WalletScenario {
    /// The sandbox's name for the scenario (`plusbox wallet scenario NAME`).
    pub const fn name(self) -> &'static str {
        match self {
            WalletScenario::Success => "success",
            WalletScenario::Pin => "pin",
            WalletScenario::InsufficientBalance => "insufficient-balance",
            WalletScenario::RiskReject => "risk-reject",
            WalletScenario::UserNotExist => "user-not-exist",
            WalletScenario::UserAbnormal => "user-abnormal",
            WalletScenario::OverLimit => "over-limit",
            WalletScenario::NoAnswer => "no-answer",
            WalletScenario::UnknownException => "unknown-exception",
        }
    }
}

/// Which payment code the buyer presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum CodeKind {
    /// A fresh code issued by the sandbox wallet (24 digits, the mainstream format).
    #[default]
    Fresh,
    /// A 17-digit legacy code (payment-codes.md §2.2, row 1), routed by prefix.
    #[serde(rename = "legacy-17")]
    Legacy17,
    /// An 18-digit legacy code (row 2).
    #[serde(rename = "legacy-18")]
    Legacy18,
    /// A 19-digit legacy AlipayCN/AlipayHK code (row 4).
    #[serde(rename = "legacy-19")]
    Legacy19,
    /// The 19-digit Alipay+ legacy code (row 5).
    #[serde(rename = "alipayplus-19")]
    Alipayplus19,
    /// A code issued more than 60 s before `pay`: the sandbox issues it already lapsed (issued
    /// 61 s in the past), so no clock moves and the ACQP's own clock stays consistent.
    Expired,
    /// A code already used by another payment (codes are single-use).
    Reused,
    /// Text that is not an Alipay+ payment code at all.
    Invalid,
}

impl CodeKind {
    /// The kebab-case name.
    pub const fn name(self) -> &'static str {
        match self {
            CodeKind::Fresh => "fresh",
            CodeKind::Legacy17 => "legacy-17",
            CodeKind::Legacy18 => "legacy-18",
            CodeKind::Legacy19 => "legacy-19",
            CodeKind::Alipayplus19 => "alipayplus-19",
            CodeKind::Expired => "expired",
            CodeKind::Reused => "reused",
            CodeKind::Invalid => "invalid",
        }
    }

    /// A fixed sample code of this shape, for kinds that are not issued by the wallet
    /// (samples from payment-codes.md §3 test vectors).
    pub const fn sample(self) -> Option<&'static str> {
        match self {
            CodeKind::Legacy17 => Some("28024456785672301"),
            CodeKind::Legacy18 => Some("280244567856723012"),
            CodeKind::Legacy19 => Some("2891234567890123456"),
            CodeKind::Alipayplus19 => Some("2893612204263667830"),
            CodeKind::Invalid => Some("12345"),
            _ => None,
        }
    }
}

/// A forced answer (iMock style), arranged before the case starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockSetup {
    /// The API whose answer is forced.
    pub api: Api,
    /// The result code forced onto the answer.
    pub result: Code,
    /// How many calls it applies to (default 1).
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

/// How the scenario of a case is arranged before the first step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// The wallet scenario of the buyer account (default `success`).
    #[serde(default = "default_scenario")]
    pub scenario: WalletScenario,
    /// The buyer's balance before the case (topped up to this); the sale currency by default.
    #[serde(default)]
    pub balance: Option<CaseAmount>,
    /// The sale amount, `"12.50 USD"`.
    pub amount: CaseAmount,
    /// True when the amount is a magic amount (value ends in 901–913, testing-practice.md §10.2)
    /// that selects the outcome in headless runs. Required, so no case picks one by accident.
    #[serde(default)]
    pub magic: bool,
    /// Which code the buyer presents.
    #[serde(default)]
    pub code: CodeKind,
    /// Forced answers (dashboard rules).
    #[serde(default)]
    pub mocks: Vec<MockSetup>,
    /// The sandbox signs this API's answers over altered content once, so the ACQP must reject
    /// the answer (testing its response verification).
    #[serde(default)]
    pub tamper: Option<Api>,
    /// The wallet persona the buyer pays as during the case (its `walletEnum`, e.g.
    /// `ALIPAY_CN` for a customs declaration, §13.2); put back when the case ends.
    #[serde(default)]
    pub wallet: Option<String>,
    /// Hold the run's `notifyPayment` back this long after the payment's final state, so a
    /// case that judges how the ACQP reads `pay`'s answer is not raced by the notification
    /// (the same verdict every time).
    #[serde(default)]
    pub notify_delay: Option<CaseDuration>,
}

fn default_scenario() -> WalletScenario {
    WalletScenario::Success
}

impl Setup {
    /// The magic suffix (901–913) of the sale amount, if it has one.
    pub fn magic_suffix(&self) -> Option<u16> {
        let suffix = self.amount.0.value.rem_euclid(1000);
        (901..=913).contains(&suffix).then_some(suffix as u16)
    }
}

/// What the companion shows the person during a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Shows {
    /// Nothing in particular.
    #[default]
    Nothing,
    /// The buyer's payment code (barcode and QR).
    PaymentCode,
    /// The PIN prompt for a payment waiting for the buyer.
    PinPrompt,
    /// The payment's result as the wallet sees it.
    Result,
    /// The scanner, ready for the order code the POS shows (merchant-presented mode).
    OrderCode,
}

/// Which refund amount a POS refund asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum RefundAmount {
    /// The whole sale amount.
    Full,
    /// A fixed amount.
    Amount(CaseAmount),
}

impl TryFrom<String> for RefundAmount {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        if text.trim() == "full" {
            Ok(RefundAmount::Full)
        } else {
            CaseAmount::try_from(text).map(RefundAmount::Amount).map_err(|e| format!("{e} (or \"full\")"))
        }
    }
}

impl From<RefundAmount> for String {
    fn from(r: RefundAmount) -> String {
        match r {
            RefundAmount::Full => "full".into(),
            RefundAmount::Amount(a) => a.to_string(),
        }
    }
}

/// What the headless runner does on the POS (through the POS-driver contract) in a step. A
/// person at a real POS does the same by hand, following the instruction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum PosAction {
    /// `POST /charge`: ring up a sale and scan the buyer's code.
    Charge {
        /// The amount; the setup's sale amount by default.
        #[serde(default)]
        amount: Option<CaseAmount>,
        /// A label for the `paymentRequestId`: two charges with the same label reuse one id
        /// (duplicate-request cases). Without a label the POS picks its own id.
        #[serde(default)]
        request_id: Option<String>,
        /// Re-use the code of the earlier charge instead of a fresh one.
        #[serde(default)]
        same_code: bool,
        /// The order text the POS puts on the sale (`description` in the POS-driver contract,
        /// `order.orderDescription` on the wire); any UTF-8 text, e.g. a name in Chinese.
        #[serde(default)]
        description: Option<String>,
    },
    /// `POST /refund` of the charged payment.
    Refund {
        /// The amount, or `"full"`.
        amount: RefundAmount,
        /// A label for the `refundRequestId` (same label, same id).
        #[serde(default)]
        request_id: Option<String>,
    },
    /// `POST /cancel` of the charged payment (the first charge, or the charge whose `request_id`
    /// label is `charge`).
    Cancel {
        /// The `request_id` label of the charge to cancel; the first charge by default.
        #[serde(default)]
        charge: Option<String>,
    },
    /// `POST /reconcile`: the acquirer's back office downloads the clearing file of the day of
    /// the run's first charge and reconciles it against its order table (reconciliation.md §2);
    /// the answer's `state` is `RECONCILED` or `DIFFERENCES`. Needs the `acquirer-reconcile`
    /// capability.
    Reconcile,
    /// `POST /order-code`: ring up a sale paid by the buyer scanning the order code the POS
    /// shows (merchant-presented mode). It counts as the run's charge.
    OrderCode {
        /// The amount; the setup's sale amount by default.
        #[serde(default)]
        amount: Option<CaseAmount>,
        /// A label for the `paymentRequestId` (as for `charge`).
        #[serde(default)]
        request_id: Option<String>,
        /// The order text (`order.orderDescription`).
        #[serde(default)]
        description: Option<String>,
    },
    /// `POST /private-order-code`: ring up a sale paid by the buyer scanning the private order
    /// code the POS shows, which the ACQP issued and decodes when Alipay+ asks
    /// (`userInitiatedPay`, alipayplus-api.md §11). It counts as the run's charge.
    PrivateOrderCode {
        /// The amount; the setup's sale amount by default.
        #[serde(default)]
        amount: Option<CaseAmount>,
        /// A label for the `paymentRequestId` (as for `charge`).
        #[serde(default)]
        request_id: Option<String>,
        /// The order text (`order.orderDescription`).
        #[serde(default)]
        description: Option<String>,
    },
    /// `GET /entry-code`: the POS shows the merchant's static entry code (the merchant page's
    /// HTTPS URL, alipayplus-api.md §6) for the buyer to scan.
    EntryCode,
    /// `POST /register`: the acquirer registers a merchant and its store for in-store payments
    /// (`registration`, alipayplus-api.md §13.1). A second `register` of the same merchant is
    /// an update, which Alipay+ accepts only once the first is processed or 30 minutes old.
    /// `POST /declare`: the acquirer declares the charged payment to the customs
    /// (`declare`, alipayplus-api.md §13.2). Needs an earlier charge.
    Declare {
        /// The declared amount in CNY; the sale amount by default (a CNY sale).
        #[serde(default)]
        amount: Option<CaseAmount>,
        /// A label for the `customsDeclarationRequestId` (same label, same id).
        #[serde(default)]
        request_id: Option<String>,
    },
    Register {
        /// A label for the merchant: the runner makes a `referenceMerchantId` of it that is the
        /// run's own, so runs never update each other's merchants.
        merchant: String,
        /// `merchantDisplayName` (default "Plusbox Test Merchant").
        #[serde(default)]
        name: Option<String>,
        /// A label for the `registrationRequestId` (same label, same id). Without one the
        /// acquirer picks its own id.
        #[serde(default)]
        request_id: Option<String>,
    },
}

impl PosAction {
    /// `charge`, `refund`, `cancel`, `order-code` or `private-order-code`.
    pub const fn name(&self) -> &'static str {
        match self {
            PosAction::Charge { .. } => "charge",
            PosAction::Refund { .. } => "refund",
            PosAction::Cancel { .. } => "cancel",
            PosAction::Reconcile => "reconcile",
            PosAction::OrderCode { .. } => "order-code",
            PosAction::PrivateOrderCode { .. } => "private-order-code",
            PosAction::EntryCode => "entry-code",
            PosAction::Register { .. } => "register",
            PosAction::Declare { .. } => "declare",
        }
    }
}

/// What a case needs from the POS driver beyond `/charge`, `/refund` and `/cancel`. A driver
/// without it cannot run the case: the runner reports the case SKIPPED, naming what is missing,
/// and never counts it as passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// `PUT /clock`: the driver sets the acquirer's own clock (`docs/pos-driver.md`), so a case
    /// can put a sale at a chosen time of day without moving the sandbox's clock or anyone
    /// else's.
    AcquirerClock,
    /// `POST /reconcile` and `POST /orders/age`: the driver's back office reconciles a clearing
    /// day, and its order table follows the sandbox when a step ages the run's payments into a
    /// past clearing cycle (`docs/pos-driver.md`).
    AcquirerReconcile,
}

impl Capability {
    /// `acquirer-clock`.
    pub const fn name(self) -> &'static str {
        match self {
            Capability::AcquirerClock => "acquirer-clock",
            Capability::AcquirerReconcile => "acquirer-reconcile",
        }
    }
}

/// A time of day in UTC written `HH:MM:SS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UtcTimeOfDay {
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
    /// Second, 0–59.
    pub second: u8,
}

impl TryFrom<String> for UtcTimeOfDay {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl FromStr for UtcTimeOfDay {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{text:?} is not a UTC time of day; write HH:MM:SS, e.g. \"23:59:30\"");
        let parts: Vec<&str> = text.trim().split(':').collect();
        let [h, m, s] = parts.as_slice() else { return Err(bad()) };
        let field = |t: &str, max: u8| -> Result<u8, String> {
            if t.len() != 2 || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            t.parse::<u8>().ok().filter(|v| *v <= max).ok_or_else(bad)
        };
        Ok(UtcTimeOfDay { hour: field(h, 23)?, minute: field(m, 59)?, second: field(s, 59)? })
    }
}

impl From<UtcTimeOfDay> for String {
    fn from(t: UtcTimeOfDay) -> String {
        t.to_string()
    }
}

impl fmt::Display for UtcTimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}:{:02}", self.hour, self.minute, self.second)
    }
}

/// How a step sets the acquirer's clock through the POS driver (`PUT /clock`); the runner puts
/// it back to real time when the case ends, whatever happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum AcquirerClock {
    /// Today's date (UTC) at this time of day.
    Utc(UtcTimeOfDay),
    /// The time an earlier step set, plus this much.
    Advance(CaseDuration),
}

/// What the buyer does in the companion during a step (the headless runner does it itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WalletAction {
    /// Confirm the waiting payment with the PIN.
    ConfirmPin,
    /// Decline the waiting payment.
    Decline,
    /// Walk away: neither confirm nor decline.
    Abandon,
    /// Scan the order code the POS shows, check the order, and confirm it (with the PIN when the
    /// wallet asks for one).
    ScanConfirm,
    /// Scan the order code the POS shows and decline it.
    ScanDecline,
    /// Scan the entry code the POS shows: the wallet opens the merchant page with its own
    /// User-Agent, enters the sale amount and follows the page to the cashier (§6); a following
    /// `scan-confirm` or `scan-decline` pays or declines there.
    OpenEntryCode,
    /// Open the entry code in an ordinary browser (not a wallet) and try to pay the sale amount
    /// there: a correct merchant page does not start a payment (§6).
    OpenEntryCodeInBrowser,
}

/// What the engine waits for before it moves to the next step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Wait {
    /// A call of `api` (optionally with this result status) shows up in the traffic log.
    Api {
        /// The API.
        api: Api,
        /// Only answers with this status count.
        #[serde(default)]
        result_status: Option<ResultStatus>,
        /// How long to wait at most (simulated time).
        within: CaseDuration,
    },
    /// The run's payment reaches a state in the sandbox.
    State {
        /// The state.
        state: PaymentState,
        /// How long to wait at most (simulated time).
        within: CaseDuration,
    },
    /// The person presses Next (manual runs); headless runs move on at once.
    Confirmation,
    /// Let this much simulated time pass (polling, expiry, notify retries).
    Timeout {
        /// How long.
        duration: CaseDuration,
    },
}

/// A dispute a step starts (alipayplus-api.md §13.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisputeStart {
    /// Retrieval or escalation.
    pub kind: DisputeStartKind,
    /// The escalated amount; the disputable amount (paid minus refunded) by default.
    #[serde(default)]
    pub amount: Option<CaseAmount>,
}

/// Which dispute a step starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DisputeStartKind {
    /// A retrieval: the wallet asks for the transaction's information.
    Retrieval,
    /// An escalation: a chargeback.
    Escalation,
}

impl DisputeStartKind {
    /// `retrieval` or `escalation`.
    pub const fn name(self) -> &'static str {
        match self {
            DisputeStartKind::Retrieval => "retrieval",
            DisputeStartKind::Escalation => "escalation",
        }
    }
}

/// One step of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// What the person does, in plain words.
    pub instruction: String,
    /// What the person should see when the step is done (acceptance-tool "Expected Result").
    #[serde(default)]
    pub expect: Option<String>,
    /// What the companion shows.
    #[serde(default)]
    pub shows: Shows,
    /// What the headless runner does on the POS.
    #[serde(default)]
    pub pos: Option<PosAction>,
    /// What the headless runner does as the buyer.
    #[serde(default)]
    pub wallet: Option<WalletAction>,
    /// Before the step, age the run's payments in the sandbox by this much: their creation and
    /// payment times move into the past (e.g. `25h` puts a sale behind the T+1 cancel window).
    /// Only the run's own objects change; no clock moves, so the ACQP's clock and every other
    /// merchant's payments are untouched.
    #[serde(default)]
    pub age_payments: Option<CaseDuration>,
    /// Before the step, the runner sends the ACQP's notify URL a forged `notifyPayment` for the
    /// run's payment claiming this result, signed with a key that is not the sandbox's. A correct
    /// ACQP verifies the signature and ignores it.
    #[serde(default)]
    pub forge_notify: Option<ResultStatus>,
    /// Before the step, the runner sets the acquirer's clock through the POS driver (the case
    /// must list `acquirer-clock` in `requires`). Neither the sandbox's clock nor its records
    /// move: this tests the ACQP's own time rules, such as its cancel-window check.
    #[serde(default)]
    pub acquirer_clock: Option<AcquirerClock>,
    /// Before the step, the runner has the sandbox start a dispute against the run's payment, as
    /// the TSP does from the dashboard or `plusbox dispute` (alipayplus-api.md §13.3): the
    /// sandbox sends the ACQP's dispute URL a signed `initiateRetrieval` / `initiateEscalation`.
    #[serde(default)]
    pub dispute: Option<DisputeStart>,
    /// What the engine waits for.
    pub wait: Wait,
}

/// Picks one traffic entry to measure order and time from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventRef {
    /// The API of the entry.
    pub api: Api,
    /// Only entries answered with this result code.
    #[serde(default)]
    pub result_code: Option<Code>,
    /// Only entries answered with this status.
    #[serde(default)]
    pub result_status: Option<ResultStatus>,
    /// The first (default) or the last such entry.
    #[serde(default)]
    pub occurrence: Occurrence,
}

/// First or last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Occurrence {
    /// The earliest.
    #[default]
    First,
    /// The latest.
    Last,
}

/// Which payment of the run a state check looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum WhichPayment {
    /// The first payment the run created.
    #[default]
    First,
    /// The latest one.
    Last,
    /// Every payment of the run.
    Every,
}

/// Which signatures a signature check looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureDirection {
    /// Every request the ACQP sent the sandbox.
    Requests,
    /// Every acknowledgement of a `notifyPayment` the ACQP answered.
    Acks,
    /// Both.
    Both,
    /// Every answer the ACQP gave to a `userInitiatedPay` (private order code, §11): Alipay+
    /// trusts a decoded order only when its answer is signed.
    DecodeAnswers,
}

/// A typed check. The names are stable within a case; reports and results refer to them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Check {
    /// `api` was called a number of times, inside a window, in an order.
    Called {
        /// Stable check name.
        name: String,
        /// The API.
        api: Api,
        /// Only calls answered with this code.
        #[serde(default)]
        result_code: Option<Code>,
        /// Only calls answered with this status.
        #[serde(default)]
        result_status: Option<ResultStatus>,
        /// At least this many (default 1).
        #[serde(default)]
        min: Option<u32>,
        /// At most this many.
        #[serde(default)]
        max: Option<u32>,
        /// Count only calls after this event.
        #[serde(default)]
        after: Option<EventRef>,
        /// Count only calls before this event.
        #[serde(default)]
        before: Option<EventRef>,
        /// The window opens this long after `after` (or the start of the run).
        #[serde(default)]
        from: Option<CaseDuration>,
        /// The window closes this long after `after` (or the start of the run).
        #[serde(default)]
        within: Option<CaseDuration>,
        /// Consecutive counted calls are at least this far apart (no tight polling).
        #[serde(default)]
        min_gap: Option<CaseDuration>,
    },
    /// `api` was not called (in the window, in the order given).
    NotCalled {
        /// Stable check name.
        name: String,
        /// The API.
        api: Api,
        /// Only calls answered with this code.
        #[serde(default)]
        result_code: Option<Code>,
        /// Only calls answered with this status.
        #[serde(default)]
        result_status: Option<ResultStatus>,
        /// Only calls after this event.
        #[serde(default)]
        after: Option<EventRef>,
        /// Only calls before this event.
        #[serde(default)]
        before: Option<EventRef>,
        /// The window opens this long after `after` (or the start of the run).
        #[serde(default)]
        from: Option<CaseDuration>,
        /// The window closes this long after `after` (or the start of the run).
        #[serde(default)]
        within: Option<CaseDuration>,
    },
    /// Every call of `api` carries the same idempotency key (`paymentRequestId`, or
    /// `refundRequestId` for refunds): retries re-use the id.
    SameRequestId {
        /// Stable check name.
        name: String,
        /// `pay`, `refund`, `inquiryPayment` or `cancelPayment`.
        api: Api,
        /// At least this many calls must have been seen (2 proves a retry happened; default 1).
        #[serde(default)]
        min_calls: Option<u32>,
    },
    /// After an answer that is not final (U, a timeout, an answer that failed verification), the
    /// ACQP found the real result: it called `inquiryPayment` or re-sent `pay` for the same
    /// payment (same `paymentRequestId` or `paymentId`) — either is correct (§12).
    FollowedUp {
        /// Stable check name.
        name: String,
        /// The answer that needed a follow-up.
        after: EventRef,
        /// The follow-up came within this long of it.
        #[serde(default)]
        within: Option<CaseDuration>,
    },
    /// Request hygiene: no numbers or booleans where strings belong, and required fields present.
    RequestFields {
        /// Stable check name.
        name: String,
        /// The API whose requests are checked (default `pay`).
        #[serde(default = "default_pay")]
        api: Api,
        /// Fail on hygiene findings (default true).
        #[serde(default = "yes")]
        strings_only: bool,
        /// Dotted JSON paths that must be present and non-empty in every request.
        #[serde(default)]
        present: Vec<String>,
    },
    /// Signatures verified: the ACQP's requests, its notify acknowledgements, or both.
    Signatures {
        /// Stable check name.
        name: String,
        /// Which direction.
        direction: SignatureDirection,
        /// Accept signatures that verified only after a tolerant-parsing rule fired.
        #[serde(default)]
        allow_lenient: bool,
    },
    /// Every request of `api` has a text at `path` that contains one of `contains` (e.g. the
    /// wallet's User-Agent markers in an entry-code `pay`, §6).
    RequestValue {
        /// Stable check name.
        name: String,
        /// The API whose requests are checked (default `pay`).
        #[serde(default = "default_pay")]
        api: Api,
        /// Dotted JSON path.
        path: String,
        /// Accepted substrings (one must occur).
        contains: Vec<String>,
    },
    /// Every request the ACQP sent in the run carries `header` with a non-empty value (e.g. the
    /// `Agent-Token` a TSP sends on an ACQP's behalf, alipayplus-api.md §14).
    RequestHeader {
        /// Stable check name.
        name: String,
        /// The header name (any case).
        header: String,
    },
    /// The ACQP's answers to an Alipay+ → ACQP call (`userInitiatedPay`) carry these fields:
    /// every answer of `api` that arrived has each dotted path present and non-empty; `a|b`
    /// accepts either path (e.g. `paymentAmount.value|amount.value`, §11).
    AnswerFields {
        /// Stable check name.
        name: String,
        /// The outbound API whose answers are checked.
        api: Api,
        /// Dotted JSON paths that must be present and non-empty.
        present: Vec<String>,
    },
    /// `notifyPayment` was acknowledged: HTTP 200, result S, with a valid signature.
    NotifyAcked {
        /// Stable check name.
        name: String,
        /// The first delivery attempt must be the acknowledged one (default true).
        #[serde(default = "yes")]
        first_attempt: bool,
    },
    /// The number of payments the run created in the sandbox. Payments the wallet or the
    /// gateway refused at once (state FAILED) are left out unless `include_failed`: they can
    /// never take the buyer's money, and the sandbox keeps a record of every refused `pay`.
    PaymentsCreated {
        /// Stable check name.
        name: String,
        /// Exactly this many.
        count: u32,
        /// Count FAILED payments too.
        #[serde(default)]
        include_failed: bool,
    },
    /// The final state of the run's payment in the sandbox.
    PaymentState {
        /// Stable check name.
        name: String,
        /// The expected state.
        state: PaymentState,
        /// For FAILED: the expected failure code.
        #[serde(default)]
        result_code: Option<Code>,
        /// Which payment (default the first).
        #[serde(default)]
        which: WhichPayment,
    },
    /// The refunds of the run's payment.
    RefundState {
        /// Stable check name.
        name: String,
        /// Exactly this many successful refunds.
        #[serde(default)]
        succeeded: Option<u32>,
        /// Successful refunds total this amount (`"full"` = the payment amount).
        #[serde(default)]
        total: Option<RefundAmount>,
    },
    /// What the POS reported for a step's action (headless runs; skipped in manual runs).
    PosResult {
        /// Stable check name.
        name: String,
        /// The 1-based step whose POS action is checked.
        step: u32,
        /// Acceptable statuses, e.g. `["SUCCESS"]` or `["FAILED", "CANCELLED"]`.
        status: Vec<String>,
    },
    /// The amount on the wire is the sale's amount in the currency's minor unit: every request
    /// of `api` carries it as `paymentAmount` (and `order.orderAmount` for `pay`; `refundAmount`
    /// for refunds), as a string of minor units, e.g. JPY 500 → `"500"`, KWD 1.234 → `"1234"`.
    AmountOnWire {
        /// Stable check name.
        name: String,
        /// `pay` (default) or `refund`.
        #[serde(default = "default_pay")]
        api: Api,
        /// The expected amount; the setup's sale amount by default.
        #[serde(default)]
        amount: Option<CaseAmount>,
    },
    /// Every request the ACQP sent carries a `Request-Time` with its real offset that lies within
    /// `max_skew` of when the sandbox received it (UTC+8 wall time written with `Z` is 8 h off).
    RequestTime {
        /// Stable check name.
        name: String,
        /// The largest allowed distance (default 5m).
        #[serde(default)]
        max_skew: Option<CaseDuration>,
    },
    /// A question for the person (skipped in headless runs).
    Manual {
        /// Stable check name.
        name: String,
        /// The question, e.g. "Did the POS show payment success for 12.50 USD?".
        question: String,
        /// The answer that passes (default yes).
        #[serde(default = "yes")]
        expect: bool,
    },
    /// A photo attached to the result (skipped in headless runs).
    Evidence {
        /// Stable check name.
        name: String,
        /// What the photo shows, e.g. "the printed receipt".
        what: String,
        /// At least this many attachments (default 1).
        #[serde(default = "one")]
        min: u32,
    },
}

fn default_pay() -> Api {
    Api::Pay
}

fn yes() -> bool {
    true
}

impl Check {
    /// The stable check name.
    pub fn name(&self) -> &str {
        match self {
            Check::Called { name, .. }
            | Check::NotCalled { name, .. }
            | Check::SameRequestId { name, .. }
            | Check::FollowedUp { name, .. }
            | Check::RequestFields { name, .. }
            | Check::AnswerFields { name, .. }
            | Check::RequestValue { name, .. }
            | Check::RequestHeader { name, .. }
            | Check::Signatures { name, .. }
            | Check::NotifyAcked { name, .. }
            | Check::PaymentsCreated { name, .. }
            | Check::PaymentState { name, .. }
            | Check::RefundState { name, .. }
            | Check::PosResult { name, .. }
            | Check::AmountOnWire { name, .. }
            | Check::RequestTime { name, .. }
            | Check::Manual { name, .. }
            | Check::Evidence { name, .. } => name,
        }
    }

    /// The kind as written in the file (`called`, `not-called`, …).
    pub const fn kind(&self) -> &'static str {
        match self {
            Check::Called { .. } => "called",
            Check::NotCalled { .. } => "not-called",
            Check::SameRequestId { .. } => "same-request-id",
            Check::FollowedUp { .. } => "followed-up",
            Check::RequestFields { .. } => "request-fields",
            Check::AnswerFields { .. } => "answer-fields",
            Check::RequestValue { .. } => "request-value",
            Check::RequestHeader { .. } => "request-header",
            Check::Signatures { .. } => "signatures",
            Check::NotifyAcked { .. } => "notify-acked",
            Check::PaymentsCreated { .. } => "payments-created",
            Check::PaymentState { .. } => "payment-state",
            Check::RefundState { .. } => "refund-state",
            Check::PosResult { .. } => "pos-result",
            Check::AmountOnWire { .. } => "amount-on-wire",
            Check::RequestTime { .. } => "request-time",
            Check::Manual { .. } => "manual",
            Check::Evidence { .. } => "evidence",
        }
    }

    /// True for checks only a person can satisfy (manual answers, photos).
    pub const fn is_personal(&self) -> bool {
        matches!(self, Check::Manual { .. } | Check::Evidence { .. })
    }
}

/// One acceptance test case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Stable id, e.g. `UPM-PAY-001`.
    pub id: CaseId,
    /// Short title.
    pub title: String,
    /// The product (suite).
    pub product: Product,
    /// Must pass before go-live.
    pub required: bool,
    /// The rule the case proves, with a pointer into the reference ("alipayplus-api.md §7").
    pub proves: String,
    /// Fault switches of the reference acquirer this case is designed to catch (coverage matrix).
    #[serde(default)]
    pub targets: Vec<String>,
    /// What the POS driver must support for this case to run (e.g. `acquirer-clock`).
    #[serde(default)]
    pub requires: Vec<Capability>,
    /// How the scenario is arranged.
    pub setup: Setup,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// The checks.
    pub checks: Vec<Check>,
}

impl Case {
    /// Looks a check up by name.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name() == name)
    }
}
