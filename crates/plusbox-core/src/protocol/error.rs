//! Intake errors that name the JSON field at fault.

use std::fmt;

use crate::protocol::WireResult;
use crate::result_code::ResultCode;

/// What is wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The body is not valid JSON (serde_json's message, with line and column).
    Syntax(String),
    /// A required field is absent (or `null`).
    Missing,
    /// None of several alternative fields is present.
    MissingOneOf(&'static [&'static str]),
    /// The JSON type is wrong, e.g. an object where a string belongs.
    WrongType {
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// A JSON number or boolean where a string belongs, refused by strict intake.
    NotAString {
        /// `number` or `boolean`, with the literal.
        found: String,
    },
    /// Longer than the documented maximum (counted in characters).
    TooLong {
        /// Maximum length.
        max: usize,
        /// Actual length.
        len: usize,
    },
    /// `""`, which Alipay+ forbids for any field (§2).
    EmptyString,
    /// Present and well-typed but not an acceptable value.
    Invalid(String),
    /// The key appears more than once in its object (refused by strict intake).
    DuplicateKey,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Syntax(msg) => write!(f, "body is not valid JSON: {msg}"),
            Problem::Missing => f.write_str("required field is missing"),
            Problem::MissingOneOf(names) => write!(f, "one of {} is required", names.join(", ")),
            Problem::WrongType { expected, found } => write!(f, "expected {expected}, found {found}"),
            Problem::NotAString { found } => write!(f, "must be a JSON string, found {found}"),
            Problem::TooLong { max, len } => write!(f, "too long: {len} characters, at most {max} allowed"),
            Problem::EmptyString => f.write_str("empty string is not allowed (omit the field instead)"),
            Problem::Invalid(msg) => f.write_str(msg),
            Problem::DuplicateKey => {
                f.write_str("the key appears more than once in its object; send each key once")
            }
        }
    }
}

/// An intake or validation failure: the JSON path of the field (`""` for the whole body) and the
/// problem. `Display` gives `order.merchant.store.referenceStoreId: required field is missing`,
/// suitable as the `resultMessage` of an F `PARAM_ILLEGAL`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FieldError {
    /// Dotted path with `[i]` for array elements, e.g. `order.goods[0].goodsName`; empty for the
    /// body itself.
    pub path: String,
    /// What is wrong.
    pub problem: Problem,
}

impl FieldError {
    /// A new error.
    pub fn new(path: impl Into<String>, problem: Problem) -> FieldError {
        FieldError { path: path.into(), problem }
    }

    /// The result code the sandbox answers with: always `PARAM_ILLEGAL` (§1.8).
    pub fn result_code(&self) -> ResultCode {
        ResultCode::ParamIllegal
    }

    /// F `PARAM_ILLEGAL` with this error as the message.
    pub fn to_wire_result(&self) -> WireResult {
        WireResult::with_message(ResultCode::ParamIllegal, self.to_string())
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "body: {}", self.problem)
        } else {
            write!(f, "{}: {}", self.path, self.problem)
        }
    }
}
