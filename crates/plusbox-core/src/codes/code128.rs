//! Code 128 symbol values for numeric payment codes (payment-codes.md §8).
//!
//! Digits go in code set C, two per symbol. An odd-length code ends with `Code B` (100) and the
//! last digit in set B. Renderers draw the bars; this module fixes which symbols they must draw,
//! so the choice of sets can be checked against the reference vectors.

/// Value of the Start C symbol.
pub const START_C: u8 = 105;
/// Value of the Code B shift-to-set-B symbol.
pub const CODE_B: u8 = 100;

/// The symbols of a numeric Code 128 barcode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code128Symbols {
    /// Start symbol, then data symbols (not the checksum, not Stop).
    pub values: Vec<u8>,
    /// The check symbol.
    pub checksum: u8,
}

impl Code128Symbols {
    /// Number of modules of the whole symbol, without quiet zones: 11 per symbol (start, data,
    /// checksum) and 13 for Stop.
    pub fn module_count(&self) -> usize {
        (self.values.len() + 1) * 11 + 13
    }
}

/// Why digits cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Code128Error {
    /// No digits.
    #[error("nothing to encode")]
    Empty,
    /// Only digits are encoded by this routine.
    #[error("non-digit {found:?} at position {position}")]
    NonDigit {
        /// 1-based position.
        position: usize,
        /// The offending character.
        found: char,
    },
}

/// Computes the Code 128 symbols for a string of digits.
pub fn code128_symbols(digits: &str) -> Result<Code128Symbols, Code128Error> {
    if digits.is_empty() {
        return Err(Code128Error::Empty);
    }
    let mut values = vec![START_C];
    let mut pending = None;
    for (index, ch) in digits.chars().enumerate() {
        let Some(value) = ch.to_digit(10) else {
            return Err(Code128Error::NonDigit { position: index + 1, found: ch });
        };
        // to_digit(10) is < 10, so the casts below cannot truncate.
        let value = value as u8;
        match pending.take() {
            None => pending = Some(value),
            Some(tens) => values.push(tens * 10 + value),
        }
    }
    if let Some(last) = pending {
        values.push(CODE_B);
        // Set B value of an ASCII digit is its code minus 32: '0' (48) → 16.
        values.push(last + 16);
    }
    let sum = values
        .iter()
        .enumerate()
        .map(|(position, value)| position.max(1) as u64 * u64::from(*value))
        .sum::<u64>();
    // Position weights: start symbol counts 1, data symbols their 1-based position.
    let checksum = (sum % 103) as u8;
    Ok(Code128Symbols { values, checksum })
}

/// Groups digits by four for the human-readable line: `2510 0102 0123 4567 8901 2345`.
pub fn group_digits(code: &str) -> String {
    let mut out = String::with_capacity(code.len() + code.len() / 4);
    for (index, ch) in code.chars().enumerate() {
        if index > 0 && index % 4 == 0 {
            out.push(' ');
        }
        out.push(ch);
    }
    out
}
