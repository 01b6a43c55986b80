//! User-presented payment codes (UPM): generation and the acquirer-side classifier.
//!
//! payment-codes.md §2 (formats), §2.5 (Plusbox generation rules) and §3 (classification).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::wallets::{CodeRule, Wallet, WalletTable};
use super::{random_digits, RandomSource};

/// How long an issued payment code stays valid (payment-codes.md §2.5: 1 minute).
pub const DEFAULT_CODE_VALIDITY: Duration = Duration::seconds(60);

/// The agreement ID Plusbox wallets put in digit 3 of a 24-digit code.
const AGREEMENT_ID: &str = "1";
/// Business type identifier for a UPM payment code.
const BTI_PAYMENT: &str = "02";

/// Which shape of payment code to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CodeForm {
    /// 24 digits: `25` + agreement `1` + routing number + BTI `02` + 16-digit UIN.
    #[serde(rename = "24")]
    Digits24,
    /// Legacy 17 digits: `28` + 15 digits.
    #[serde(rename = "17")]
    Legacy17,
    /// Legacy 18 digits: `28` + 16 digits.
    #[serde(rename = "18")]
    Legacy18,
    /// Alipay+ 19 digits: `289` + 10 digits + `6` + 5 digits.
    #[serde(rename = "19")]
    Legacy19,
}

impl CodeForm {
    /// Every form, mainstream first.
    pub const ALL: [CodeForm; 4] =
        [CodeForm::Digits24, CodeForm::Legacy17, CodeForm::Legacy18, CodeForm::Legacy19];

    /// Number of digits of a code of this form.
    pub fn length(self) -> usize {
        match self {
            CodeForm::Digits24 => 24,
            CodeForm::Legacy17 => 17,
            CodeForm::Legacy18 => 18,
            CodeForm::Legacy19 => 19,
        }
    }
}

impl fmt::Display for CodeForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.length())
    }
}

impl FromStr for CodeForm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "24" => Ok(CodeForm::Digits24),
            "17" => Ok(CodeForm::Legacy17),
            "18" => Ok(CodeForm::Legacy18),
            "19" => Ok(CodeForm::Legacy19),
            other => Err(format!("unknown code form {other:?}: expected 24, 17, 18 or 19")),
        }
    }
}

/// A freshly generated, one-time payment code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCode {
    /// The digits.
    pub value: String,
    /// Its form.
    pub form: CodeForm,
    /// The persona that issued it.
    pub wallet: Wallet,
    /// When it was issued (caller's clock).
    pub issued_at: OffsetDateTime,
    /// When it stops being accepted.
    pub expires_at: OffsetDateTime,
}

impl IssuedCode {
    /// Whether the code has expired at `now` (valid up to and including `expires_at`).
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        now > self.expires_at
    }
}

/// Generates a payment code for `wallet` at `now`, valid for [`DEFAULT_CODE_VALIDITY`].
///
/// The 24-digit form is `25` + agreement `1` + the persona's routing number + BTI `02` + a
/// 16-digit random UIN that carries no user data (payment-codes.md §2.5). The legacy forms use
/// the fixed prefixes of §2.2; the 19-digit form follows the Alipay+ 19-digit rule.
pub fn generate_payment_code<R: RandomSource + ?Sized>(
    form: CodeForm,
    wallet: &Wallet,
    now: OffsetDateTime,
    rng: &mut R,
) -> IssuedCode {
    let value = match form {
        CodeForm::Digits24 => {
            format!("25{AGREEMENT_ID}{}{BTI_PAYMENT}{}", wallet.routing_number, random_digits(rng, 16))
        }
        CodeForm::Legacy17 => format!("28{}", random_digits(rng, 15)),
        CodeForm::Legacy18 => format!("28{}", random_digits(rng, 16)),
        CodeForm::Legacy19 => {
            let body = random_digits(rng, 15);
            // 289 + 10 digits + 6 + 5 digits: the 14th digit (6th from the end) must be 6.
            format!("289{}6{}", &body[..10], &body[10..])
        }
    };
    IssuedCode {
        value,
        form,
        wallet: wallet.clone(),
        issued_at: now,
        expires_at: now + DEFAULT_CODE_VALIDITY,
    }
}

/// The family of a scanned user-presented code (payment-codes.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CodeFamily {
    /// Matched a reference acquirer's direct-integration rule (§3 step 2).
    #[serde(rename = "DIRECT")]
    Direct,
    /// CGCP / 24-digit Alipay+ code with agreement ID and routing number.
    #[serde(rename = "CGCP_24")]
    Cgcp24,
    /// The Alipay+ 19-digit code (`289…6…`).
    #[serde(rename = "ALIPAY_PLUS_19")]
    AlipayPlus19,
    /// AlipayCN / AlipayHK code, 17–19 digits starting `25`–`30`.
    #[serde(rename = "ALIPAY_CN_HK")]
    AlipayCnHk,
    /// Length 20–23 or 25–32: reserved, rejected.
    #[serde(rename = "RESERVED_LENGTH")]
    ReservedLength,
    /// Not an Alipay+ payment code.
    #[serde(rename = "NOT_ALIPAY_PLUS")]
    NotAlipayPlus,
}

impl CodeFamily {
    /// Human-readable name.
    pub fn label(self) -> &'static str {
        match self {
            CodeFamily::Direct => "direct integration",
            CodeFamily::Cgcp24 => "CGCP / 24-digit Alipay+ code",
            CodeFamily::AlipayPlus19 => "Alipay+ 19-digit code",
            CodeFamily::AlipayCnHk => "AlipayCN / AlipayHK code",
            CodeFamily::ReservedLength => "reserved length",
            CodeFamily::NotAlipayPlus => "not an Alipay+ payment code",
        }
    }

    /// Whether codes of this family are accepted and sent to Alipay+ (or the direct path).
    pub fn is_payable(self) -> bool {
        matches!(
            self,
            CodeFamily::Direct | CodeFamily::Cgcp24 | CodeFamily::AlipayPlus19 | CodeFamily::AlipayCnHk
        )
    }
}

impl fmt::Display for CodeFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Why a text is not an acceptable Alipay+ payment code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentCodeError {
    /// Nothing left after dropping spaces and hyphens.
    #[error("empty payment code")]
    Empty,
    /// A character other than a digit, space or hyphen.
    #[error("non-digit {found:?} at position {position}")]
    NonDigit {
        /// 1-based character position in the original input.
        position: usize,
        /// The offending character.
        found: char,
    },
    /// Length outside 17–32.
    #[error("length {length} is outside {min}–{max} digits")]
    Length {
        /// Digits after normalisation.
        length: usize,
        /// Shortest allowed.
        min: usize,
        /// Longest allowed.
        max: usize,
    },
    /// Length 20–23 or 25–32.
    #[error("length {length} is reserved for future use")]
    ReservedLength {
        /// Digits after normalisation.
        length: usize,
    },
    /// Digits and length are fine but no family's pattern matches.
    #[error("{length} digits starting {prefix}: {reason}")]
    NoFamily {
        /// Digits after normalisation.
        length: usize,
        /// First two digits.
        prefix: String,
        /// Which rule came closest and why it failed.
        reason: String,
    },
}

/// A parsed, acceptable payment code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentCode {
    /// Normalised digits.
    pub digits: String,
    /// Family.
    pub family: CodeFamily,
    /// Agreement ID (CGCP only).
    pub agreement_id: Option<String>,
    /// Routing number (CGCP only).
    pub routing_number: Option<String>,
    /// Business type identifier (24-digit only).
    pub bti: Option<String>,
    /// The wallet persona the code routes to, when the table knows it.
    pub wallet: Option<Wallet>,
    /// Remarks, e.g. an unassigned routing number.
    pub note: Option<String>,
}

/// Drops spaces and hyphens (§3 step 1) and checks that only digits remain.
fn normalise(input: &str) -> Result<String, PaymentCodeError> {
    let mut digits = String::with_capacity(input.len().min(64));
    for (index, ch) in input.chars().enumerate() {
        match ch {
            '0'..='9' => digits.push(ch),
            ' ' | '-' => {}
            other => return Err(PaymentCodeError::NonDigit { position: index + 1, found: other }),
        }
    }
    if digits.is_empty() {
        return Err(PaymentCodeError::Empty);
    }
    Ok(digits)
}

/// Parses and classifies `input` against the built-in table.
pub fn parse_payment_code(input: &str) -> Result<PaymentCode, PaymentCodeError> {
    WalletTable::builtin().parse_code(input)
}

/// Classifies `input` against the built-in table; never fails.
pub fn identify_payment_code(input: &str) -> Identification {
    WalletTable::builtin().identify(input)
}

impl WalletTable {
    /// Parses and classifies a payment code (§3): normalise, length, then the rules in order.
    pub fn parse_code(&self, input: &str) -> Result<PaymentCode, PaymentCodeError> {
        let digits = normalise(input)?;
        let length = digits.len();
        if length < self.min_length || length > self.max_length {
            return Err(PaymentCodeError::Length { length, min: self.min_length, max: self.max_length });
        }
        let Some(rule) = self.direct_rules.iter().chain(&self.rules).find(|rule| rule.matches(&digits))
        else {
            return Err(PaymentCodeError::NoFamily {
                length,
                prefix: digits.get(..2).unwrap_or_default().to_string(),
                reason: self.closest_miss(&digits),
            });
        };
        if rule.family == CodeFamily::ReservedLength {
            return Err(PaymentCodeError::ReservedLength { length });
        }
        let part = |positions: Option<[usize; 2]>| {
            positions.and_then(|p| CodeRule::slice(&digits, p)).map(str::to_string)
        };
        let routing_number = part(rule.routing_positions);
        let bti = part(rule.bti_positions);
        let agreement_id = part(rule.agreement_position.map(|p| [p, p]));
        let mut note = None;
        let wallet = match (&routing_number, &rule.default_wallet) {
            (Some(routing), _) => {
                let found = self.by_routing_number(routing).cloned();
                if found.is_none() {
                    note = Some(format!("routing number {routing} is not assigned to a wallet persona"));
                }
                found
            }
            (None, Some(name)) => self.find(name).cloned(),
            (None, None) => None,
        };
        Ok(PaymentCode { digits, family: rule.family, agreement_id, routing_number, bti, wallet, note })
    }

    /// Classifies a payment code and reports the result as data, valid or not.
    pub fn identify(&self, input: &str) -> Identification {
        match self.parse_code(input) {
            Ok(code) => Identification {
                code: code.digits,
                family: code.family,
                valid: true,
                reason: None,
                agreement_id: code.agreement_id,
                routing_number: code.routing_number,
                bti: code.bti,
                psp_id: code.wallet.as_ref().map(|w| w.psp_id.clone()),
                wallet_brand_name: code.wallet.as_ref().map(|w| w.wallet_brand_name.clone()),
                wallet: code.wallet.map(|w| w.wallet_enum),
                note: code.note,
            },
            Err(error) => Identification {
                code: input.chars().filter(|c| *c != ' ' && *c != '-').collect(),
                family: match error {
                    PaymentCodeError::ReservedLength { .. } => CodeFamily::ReservedLength,
                    _ => CodeFamily::NotAlipayPlus,
                },
                valid: false,
                reason: Some(error.to_string()),
                agreement_id: None,
                routing_number: None,
                bti: None,
                psp_id: None,
                wallet_brand_name: None,
                wallet: None,
                note: None,
            },
        }
    }

    /// Explains why no rule matched, naming the rule whose length fits.
    fn closest_miss(&self, digits: &str) -> String {
        let length = digits.len();
        // Prefer the broadest rule of this length (one with a prefix range) so the reason names
        // the general condition ("25–30") rather than a narrow special case ("289").
        let fits = |r: &&CodeRule| length >= r.lengths[0] && length <= r.lengths[1];
        let Some(rule) = self
            .rules
            .iter()
            .filter(fits)
            .find(|r| r.prefix_range.is_some())
            .or_else(|| self.rules.iter().find(fits))
        else {
            return format!("no family has length {length}");
        };
        if let Some([low, high]) = &rule.prefix_range {
            let head = digits.get(..low.len()).unwrap_or(digits);
            if head < low.as_str() || head > high.as_str() {
                return format!("does not start with {low}–{high}");
            }
        }
        if let Some(prefix) = &rule.prefix {
            if !digits.starts_with(prefix.as_str()) {
                return format!("does not start with {prefix}");
            }
        }
        format!("does not match the {} pattern", rule.family.label())
    }
}

/// The outcome of classifying a scanned payment code, as `plusbox code identify` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Identification {
    /// The input with spaces and hyphens dropped.
    pub code: String,
    /// Family.
    pub family: CodeFamily,
    /// Whether an acquirer should accept it.
    pub valid: bool,
    /// Why not, when `valid` is false.
    pub reason: Option<String>,
    /// Agreement ID (CGCP).
    pub agreement_id: Option<String>,
    /// Routing number (CGCP).
    pub routing_number: Option<String>,
    /// Business type identifier (24-digit).
    pub bti: Option<String>,
    /// Wallet enum, e.g. `ALIPAY_HK`.
    pub wallet: Option<String>,
    /// The wallet's pspId.
    pub psp_id: Option<String>,
    /// The wallet's brand name.
    pub wallet_brand_name: Option<String>,
    /// Remarks that do not make the code invalid.
    pub note: Option<String>,
}
