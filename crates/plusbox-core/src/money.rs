//! Money: ISO 4217 currencies and amounts in integer minor units. Never floats.
//!
//! - [`Currency`] is a validated ISO 4217 alphabetic code with its minor-unit exponent, taken
//!   from a static table of every active code (see the `iso4217` submodule for what is in it and
//!   why). There is one associated constant per code: `Currency::USD`, `Currency::JPY`, …
//! - [`Amount`] is a currency plus a signed count of minor units (`i64`). Signed, because
//!   balances and differences can be negative; the Alipay+ wire rule ("positive integer") is a
//!   separate check, [`Amount::check_wire_rules`].
//!
//! # Text form
//!
//! [`Amount::parse`] reads `"12.50 USD"`, `"USD 12.50"`, `"12.5 USD"` (padded to the exponent),
//! `"1000 JPY"`, `"-3.10 EUR"`. It rejects more decimals than the currency has, digit-grouping
//! commas (`"1,234.56 USD"` — rejected on purpose: `,` is a decimal separator in many locales, so
//! accepting it would let `"1,5 EUR"` mean the wrong thing), a `+` sign, exponents, missing digits
//! (`".5"`, `"12."`), lower-case or unknown codes, and values beyond `i64`. `Display` writes the
//! canonical form `"12.50 USD"`, `"1000 JPY"`, `"1.234 BHD"`, which `parse` reads back exactly.
//!
//! # JSON form
//!
//! Plusbox's own JSON (CLI, app, stores) uses the wire shape with a signed value:
//! `{"currency":"USD","value":"1250"}` (value a string of minor units, `-` allowed, no leading
//! zeros). The Alipay+ wire type is [`crate::protocol::WireAmount`]; convert with
//! [`Amount::to_wire`] and [`Amount::from_wire`] (also `TryFrom<&WireAmount>`), which enforces
//! §2.1 of the API reference.

mod iso4217;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::protocol::WireAmount;

/// Errors from parsing, converting or computing with money. Each names what is wrong so it can go
/// into a `resultMessage` or a CLI error as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The input was empty or only whitespace.
    #[error("amount is empty")]
    Empty,
    /// The input is not `<number> <CODE>` or `<CODE> <number>`.
    #[error("amount {input:?} is not in the form \"12.50 USD\" or \"USD 12.50\"")]
    BadShape {
        /// The offending input.
        input: String,
    },
    /// The currency code is not three upper-case ASCII letters.
    #[error("currency code {code:?} is not three upper-case letters (ISO 4217)")]
    MalformedCurrency {
        /// The offending code.
        code: String,
    },
    /// Three letters, but not an active ISO 4217 code with a minor unit.
    #[error("currency code {code:?} is not a known ISO 4217 currency")]
    UnknownCurrency {
        /// The offending code.
        code: String,
    },
    /// A character that has no place in a decimal amount.
    #[error("unexpected character {ch:?} in amount {input:?}")]
    UnexpectedCharacter {
        /// The character found.
        ch: char,
        /// The number being parsed.
        input: String,
    },
    /// A digit-grouping comma, which Plusbox refuses because it is ambiguous across locales.
    #[error("amount {input:?} contains ',': digit grouping is not accepted (write 1234.56)")]
    DigitGrouping {
        /// The number being parsed.
        input: String,
    },
    /// A sign or decimal point without digits where digits are needed (`"-"`, `".5"`, `"12."`).
    #[error("amount {input:?} is missing digits")]
    MissingDigits {
        /// The number being parsed.
        input: String,
    },
    /// More decimal places than the currency's minor unit allows.
    #[error("{currency} allows {exponent} decimal place(s) but {found} were given")]
    TooManyDecimals {
        /// The currency.
        currency: Currency,
        /// Its minor-unit exponent.
        exponent: u8,
        /// Decimal places found.
        found: usize,
    },
    /// The value does not fit in a signed 64-bit count of minor units, or arithmetic overflowed.
    #[error("amount out of range: {context}")]
    Overflow {
        /// What overflowed.
        context: String,
    },
    /// The amount must be greater than zero here.
    #[error("amount {amount} must be greater than zero")]
    NotPositive {
        /// The offending amount (canonical text form).
        amount: String,
    },
    /// Two amounts in different currencies were combined.
    #[error("currency mismatch: {left} and {right}")]
    CurrencyMismatch {
        /// Left operand's currency.
        left: Currency,
        /// Right operand's currency.
        right: Currency,
    },
    /// A wire `value` that is not a positive integer string without leading zeros.
    #[error("amount value {value:?} must be a positive integer in minor units without leading zeros (^[1-9][0-9]*$)")]
    WireValueMalformed {
        /// The offending value string.
        value: String,
    },
    /// An app-level JSON `value` that is not an integer string.
    #[error("amount value {value:?} must be an integer string of minor units")]
    JsonValueMalformed {
        /// The offending value string.
        value: String,
    },
    /// An IDR wire value whose last two digits are not `00` (Alipay+ §2.1).
    #[error("IDR amount value {value} must end in 00 (whole rupiah)")]
    IdrNotWholeRupiah {
        /// The offending value in minor units.
        value: i64,
    },
}

impl MoneyError {
    /// Whether the error is about the currency code (as opposed to the value), so a caller can
    /// point at `….currency` rather than `….value` in a field path.
    pub fn is_currency_error(&self) -> bool {
        matches!(self, MoneyError::MalformedCurrency { .. } | MoneyError::UnknownCurrency { .. })
    }
}

/// A validated ISO 4217 currency: alphabetic code plus minor-unit exponent.
///
/// Only values from the built-in table exist (fields are private), so holding a `Currency` means
/// the code is known. Construct with [`Currency::from_code`] or an associated constant such as
/// `Currency::HKD`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: &'static str,
    exponent: u8,
}

impl Currency {
    /// Looks up an ISO 4217 code. Strict: exactly three upper-case ASCII letters, as on the wire.
    pub fn from_code(code: &str) -> Result<Currency, MoneyError> {
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(MoneyError::MalformedCurrency { code: code.to_owned() });
        }
        iso4217::TABLE
            .binary_search_by(|c| c.code.cmp(code))
            .ok()
            .and_then(|i| iso4217::TABLE.get(i).copied())
            .ok_or_else(|| MoneyError::UnknownCurrency { code: code.to_owned() })
    }

    /// The alphabetic code, e.g. `"USD"`.
    pub const fn code(self) -> &'static str {
        self.code
    }

    /// Number of decimal places of the minor unit (0 for JPY, 2 for USD, 3 for BHD, 4 for CLF).
    pub const fn exponent(self) -> u8 {
        self.exponent
    }

    /// Minor units per major unit (`10^exponent`).
    pub const fn minor_per_major(self) -> i64 {
        10_i64.pow(self.exponent as u32)
    }

    /// Every currency in the table, sorted by code.
    pub fn all() -> &'static [Currency] {
        iso4217::TABLE
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({}, exp {})", self.code, self.exponent)
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::from_code(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code)
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Currency::from_code(&s).map_err(serde::de::Error::custom)
    }
}

/// An amount of money: a currency and a signed count of its minor units.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Amount {
    /// The currency.
    pub currency: Currency,
    /// Value in minor units (cents for USD, yen for JPY, fils for BHD).
    pub value: i64,
}

impl Amount {
    /// An amount from minor units.
    pub const fn from_minor(currency: Currency, value: i64) -> Amount {
        Amount { currency, value }
    }

    /// Zero in the given currency.
    pub const fn zero(currency: Currency) -> Amount {
        Amount { currency, value: 0 }
    }

    /// True if the value is greater than zero.
    pub const fn is_positive(self) -> bool {
        self.value > 0
    }

    /// True if the value is zero.
    pub const fn is_zero(self) -> bool {
        self.value == 0
    }

    /// Parses the text form (see the module docs). Zero and negative amounts are accepted; use
    /// [`Amount::parse_positive`] where only a payable amount makes sense.
    pub fn parse(input: &str) -> Result<Amount, MoneyError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(MoneyError::Empty);
        }
        let mut parts = trimmed.split_ascii_whitespace();
        let (first, second) = match (parts.next(), parts.next(), parts.next()) {
            (Some(a), Some(b), None) => (a, b),
            _ => return Err(MoneyError::BadShape { input: input.to_owned() }),
        };
        // The token that starts with a letter is the currency; this allows both orders.
        let first_is_code = first.chars().next().is_some_and(|c| c.is_alphabetic());
        let second_is_code = second.chars().next().is_some_and(|c| c.is_alphabetic());
        let (number, code) = match (first_is_code, second_is_code) {
            (false, true) => (first, second),
            (true, false) => (second, first),
            _ => return Err(MoneyError::BadShape { input: input.to_owned() }),
        };
        let currency = Currency::from_code(code)?;
        let value = parse_decimal(number, currency)?;
        Ok(Amount { currency, value })
    }

    /// Like [`Amount::parse`], but the amount must be greater than zero.
    pub fn parse_positive(input: &str) -> Result<Amount, MoneyError> {
        let amount = Amount::parse(input)?;
        amount.require_positive()?;
        Ok(amount)
    }

    /// Errors with [`MoneyError::NotPositive`] unless the value is greater than zero.
    pub fn require_positive(self) -> Result<(), MoneyError> {
        if self.is_positive() {
            Ok(())
        } else {
            Err(MoneyError::NotPositive { amount: self.to_string() })
        }
    }

    /// `self + other`; errors on a currency mismatch or overflow instead of wrapping.
    pub fn checked_add(self, other: Amount) -> Result<Amount, MoneyError> {
        self.same_currency(other)?;
        self.value
            .checked_add(other.value)
            .map(|value| Amount { value, ..self })
            .ok_or_else(|| MoneyError::Overflow { context: format!("{self} + {other}") })
    }

    /// `self - other`; errors on a currency mismatch or overflow. The result may be negative.
    pub fn checked_sub(self, other: Amount) -> Result<Amount, MoneyError> {
        self.same_currency(other)?;
        self.value
            .checked_sub(other.value)
            .map(|value| Amount { value, ..self })
            .ok_or_else(|| MoneyError::Overflow { context: format!("{self} - {other}") })
    }

    /// `self * factor`; errors on overflow.
    pub fn checked_mul(self, factor: i64) -> Result<Amount, MoneyError> {
        self.value
            .checked_mul(factor)
            .map(|value| Amount { value, ..self })
            .ok_or_else(|| MoneyError::Overflow { context: format!("{self} * {factor}") })
    }

    /// `-self`; errors on overflow (only for `i64::MIN`).
    pub fn checked_neg(self) -> Result<Amount, MoneyError> {
        self.value
            .checked_neg()
            .map(|value| Amount { value, ..self })
            .ok_or_else(|| MoneyError::Overflow { context: format!("-({self})") })
    }

    /// Sum of amounts, all of which must be in `currency` (the sum of nothing is zero).
    pub fn checked_sum<I>(currency: Currency, amounts: I) -> Result<Amount, MoneyError>
    where
        I: IntoIterator<Item = Amount>,
    {
        amounts.into_iter().try_fold(Amount::zero(currency), Amount::checked_add)
    }

    fn same_currency(self, other: Amount) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch { left: self.currency, right: other.currency })
        }
    }

    /// Rounds the value to a multiple of `step` minor units with banker's rounding (half to even
    /// multiple). `step` ≤ 0 returns the amount unchanged.
    pub fn round_half_even_to(self, step: i64) -> Result<Amount, MoneyError> {
        if step <= 0 {
            return Ok(self);
        }
        // Work in i128: `value - rem` can go below i64::MIN before rounding back up.
        let (value, step128) = (i128::from(self.value), i128::from(step));
        let rem = value.rem_euclid(step128);
        let down = value - rem;
        let round_up = match (rem * 2).cmp(&step128) {
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Greater => true,
            // Exactly half: go to the even multiple.
            std::cmp::Ordering::Equal => (down / step128) % 2 != 0,
        };
        let rounded = if round_up { down + step128 } else { down };
        let value = i64::try_from(rounded).map_err(|_| MoneyError::Overflow {
            context: format!("rounding {self} to a multiple of {step}"),
        })?;
        Ok(Amount { value, ..self })
    }

    /// An IDR amount from a minor-unit value rounded to whole rupiah (a multiple of 100 minor
    /// units) with banker's rounding, as Alipay+ §2.1 asks: 12_350 → 12_400, 12_250 → 12_200.
    pub fn idr_rounded_from_minor(value: i64) -> Result<Amount, MoneyError> {
        Amount::from_minor(Currency::IDR, value).round_half_even_to(100)
    }

    /// The amount as it may be sent: IDR rounded to whole rupiah, other currencies unchanged.
    pub fn round_for_wire(self) -> Result<Amount, MoneyError> {
        if self.currency == Currency::IDR {
            self.round_half_even_to(100)
        } else {
            Ok(self)
        }
    }

    /// Enforces the Alipay+ wire rules (§2.1, Plusbox decision): the value is positive, and an
    /// IDR value ends in `00`.
    pub fn check_wire_rules(self) -> Result<(), MoneyError> {
        self.require_positive()?;
        if self.currency == Currency::IDR && self.value % 100 != 0 {
            return Err(MoneyError::IdrNotWholeRupiah { value: self.value });
        }
        Ok(())
    }

    /// The wire form `{"currency":"USD","value":"1250"}`. Does not check the wire rules; call
    /// [`Amount::check_wire_rules`] first where that matters.
    pub fn to_wire(self) -> WireAmount {
        WireAmount { currency: self.currency.code().to_owned(), value: self.value.to_string() }
    }

    /// Reads a wire amount, enforcing §2.1: known ISO 4217 code, `value` matching
    /// `^[1-9][0-9]*$` within `i64`, and the IDR `00` rule.
    pub fn from_wire(wire: &WireAmount) -> Result<Amount, MoneyError> {
        let currency = Currency::from_code(&wire.currency)?;
        let v = wire.value.as_str();
        let canonical = v.bytes().next().is_some_and(|b| (b'1'..=b'9').contains(&b))
            && v.bytes().all(|b| b.is_ascii_digit());
        if !canonical {
            return Err(MoneyError::WireValueMalformed { value: wire.value.clone() });
        }
        let value = v.parse::<i64>().map_err(|_| MoneyError::Overflow {
            context: format!("value {v:?} exceeds the largest supported amount"),
        })?;
        let amount = Amount { currency, value };
        amount.check_wire_rules()?;
        Ok(amount)
    }
}

/// Parses the numeric part of an amount into minor units of `currency`.
fn parse_decimal(number: &str, currency: Currency) -> Result<i64, MoneyError> {
    let (negative, digits) = match number.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, number),
    };
    for ch in digits.chars() {
        match ch {
            '0'..='9' | '.' => {}
            ',' => return Err(MoneyError::DigitGrouping { input: number.to_owned() }),
            _ => return Err(MoneyError::UnexpectedCharacter { ch, input: number.to_owned() }),
        }
    }
    let (int_part, frac_part) = match digits.split_once('.') {
        Some((i, f)) => {
            if f.contains('.') {
                return Err(MoneyError::UnexpectedCharacter { ch: '.', input: number.to_owned() });
            }
            if f.is_empty() {
                return Err(MoneyError::MissingDigits { input: number.to_owned() });
            }
            (i, f)
        }
        None => (digits, ""),
    };
    if int_part.is_empty() {
        return Err(MoneyError::MissingDigits { input: number.to_owned() });
    }
    let exponent = usize::from(currency.exponent());
    if frac_part.len() > exponent {
        return Err(MoneyError::TooManyDecimals {
            currency,
            exponent: currency.exponent(),
            found: frac_part.len(),
        });
    }
    let overflow = || MoneyError::Overflow {
        context: format!("{number} {currency} does not fit in 64-bit minor units"),
    };
    // Accumulate in i128 with checks: a long digit string must fail, not wrap.
    let mut acc: i128 = 0;
    let padded = frac_part.len()..exponent;
    for b in int_part.bytes().chain(frac_part.bytes()).chain(padded.map(|_| b'0')) {
        acc = acc.checked_mul(10).and_then(|a| a.checked_add(i128::from(b - b'0'))).ok_or_else(overflow)?;
    }
    let signed = if negative { -acc } else { acc };
    i64::try_from(signed).map_err(|_| overflow())
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.value < 0 { "-" } else { "" };
        let magnitude = self.value.unsigned_abs();
        let exponent = u32::from(self.currency.exponent());
        if exponent == 0 {
            return write!(f, "{sign}{magnitude} {}", self.currency);
        }
        let divisor = 10_u64.pow(exponent);
        write!(
            f,
            "{sign}{}.{:0width$} {}",
            magnitude / divisor,
            magnitude % divisor,
            self.currency,
            width = exponent as usize
        )
    }
}

impl FromStr for Amount {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Amount::parse(s)
    }
}

impl TryFrom<&WireAmount> for Amount {
    type Error = MoneyError;
    fn try_from(wire: &WireAmount) -> Result<Self, Self::Error> {
        Amount::from_wire(wire)
    }
}

impl From<Amount> for WireAmount {
    fn from(amount: Amount) -> Self {
        amount.to_wire()
    }
}

/// The app-level JSON shape (same field names as the wire, value may be signed or zero).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AmountJson {
    currency: String,
    value: String,
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        AmountJson { currency: self.currency.code().to_owned(), value: self.value.to_string() }
            .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = AmountJson::deserialize(deserializer)?;
        let currency = Currency::from_code(&json.currency).map_err(serde::de::Error::custom)?;
        let value = parse_json_value(&json.value).map_err(serde::de::Error::custom)?;
        Ok(Amount { currency, value })
    }
}

/// `^-?(0|[1-9][0-9]*)$` within `i64`: canonical, so each amount has one JSON spelling.
fn parse_json_value(v: &str) -> Result<i64, MoneyError> {
    let digits = v.strip_prefix('-').unwrap_or(v);
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && v != "-0";
    if !canonical {
        return Err(MoneyError::JsonValueMalformed { value: v.to_owned() });
    }
    v.parse::<i64>().map_err(|_| MoneyError::Overflow {
        context: format!("value {v:?} does not fit in 64-bit minor units"),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn table_is_sorted_unique_and_well_formed() {
        let all = Currency::all();
        assert!(all.len() >= 165, "only {} currencies", all.len());
        for pair in all.windows(2) {
            assert!(pair[0].code < pair[1].code, "{} !< {}", pair[0], pair[1]);
        }
        for c in all {
            assert_eq!(c.code.len(), 3);
            assert!(c.code.bytes().all(|b| b.is_ascii_uppercase()));
            assert!(c.exponent <= 4);
            assert_eq!(Currency::from_code(c.code).unwrap(), *c);
        }
    }

    #[test]
    fn parse_decimal_pads_and_limits() {
        assert_eq!(parse_decimal("12.5", Currency::USD).unwrap(), 1250);
        assert_eq!(parse_decimal("0012", Currency::USD).unwrap(), 1200);
        assert!(matches!(
            parse_decimal("1.0", Currency::JPY),
            Err(MoneyError::TooManyDecimals { found: 1, .. })
        ));
    }
}
