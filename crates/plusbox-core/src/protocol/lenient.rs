//! Lenient intake: parse a peer's body, coercing scalars the way the Alipay+ gateway does, and
//! report every deviation from the wire rules as a [`HygieneFinding`].
//!
//! Steps ([`parse`]):
//! 1. JSON syntax (error path `""`, problem [`Problem::Syntax`]); the body must be an object.
//! 2. A walk over the JSON tree, which (§2: every non-array field is a string, so every scalar
//!    leaf should be a string):
//!    - turns a number or boolean into its string (`100` → `"100"`, `true` → `"true"`) and
//!      records [`FindingKind::Coerced`]; with [`ParseOptions::strict`] this is an error instead;
//!    - drops members whose value is `null` (§2 allows `null` for an absent optional field), so
//!      a `null` required field reads as missing;
//!    - on `""` records [`FindingKind::EmptyString`]; unless [`ParseOptions::permissive`], that is
//!      an error ([`Problem::EmptyString`], answered F `PARAM_ILLEGAL`).
//! 3. Deserialization with path tracking: a wrong type, a missing required field or a bad value
//!    comes back as a [`FieldError`] naming the field.
//!
//! [`parse_request`] adds step 4, [`Validate::validate`] (required fields per scenario, lengths,
//! amount and time rules).

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use super::de;
use super::error::{FieldError, Problem};
use super::validate::Validate;

/// How forgiving intake is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Accept a JSON number or boolean where a string belongs (recording a finding). If false it
    /// is an error ([`Problem::NotAString`]).
    pub coerce_scalars: bool,
    /// Treat `""` as an error ([`Problem::EmptyString`]). If false it is only recorded.
    pub empty_string_is_error: bool,
}

impl ParseOptions {
    /// The sandbox default (§2 Plusbox decision): coerce scalars with a finding; `""` is an error.
    pub const fn lenient() -> ParseOptions {
        ParseOptions { coerce_scalars: true, empty_string_is_error: true }
    }

    /// The strict setting: a scalar that is not a string is an error too.
    pub const fn strict() -> ParseOptions {
        ParseOptions { coerce_scalars: false, empty_string_is_error: true }
    }

    /// Record everything, refuse nothing the types can hold (for tools that grade a peer's
    /// messages rather than answer them).
    pub const fn permissive() -> ParseOptions {
        ParseOptions { coerce_scalars: true, empty_string_is_error: false }
    }
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions::lenient()
    }
}

/// The JSON type found where a string was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JsonKind {
    /// A JSON number.
    Number,
    /// A JSON boolean.
    Boolean,
}

impl JsonKind {
    /// `"number"` or `"boolean"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            JsonKind::Number => "number",
            JsonKind::Boolean => "boolean",
        }
    }
}

/// What a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FindingKind {
    /// A number or boolean was accepted as the string `original`.
    Coerced {
        /// What was found.
        found: JsonKind,
        /// The JSON literal as sent, e.g. `100` or `true`.
        original: String,
    },
    /// `""` was sent (an error unless parsing permissively).
    EmptyString,
}

/// A deviation from the wire rules found during intake, for the traffic log and test cases.
/// Serializes as `{"path":"paymentAmount.value","kind":"coerced","found":"number","original":"100"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HygieneFinding {
    /// JSON path of the field.
    pub path: String,
    /// What was found.
    #[serde(flatten)]
    pub kind: FindingKind,
}

impl std::fmt::Display for HygieneFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            FindingKind::Coerced { found, original } => {
                write!(
                    f,
                    "{}: JSON {} {} sent where a string is required",
                    self.path,
                    found.as_str(),
                    original
                )
            }
            FindingKind::EmptyString => write!(f, "{}: empty string sent", self.path),
        }
    }
}

/// A parsed body and the findings made while reading it.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<T> {
    /// The message.
    pub value: T,
    /// Deviations that were tolerated, in document order.
    pub findings: Vec<HygieneFinding>,
}

/// Parses a body (see the module docs). Does not run [`Validate::validate`]; see
/// [`parse_request`].
pub fn parse<T: DeserializeOwned>(bytes: &[u8], options: ParseOptions) -> Result<Parsed<T>, FieldError> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| FieldError::new("", Problem::Syntax(e.to_string())))?;
    parse_value(value, options)
}

/// [`parse`] for an already-decoded JSON value.
pub fn parse_value<T: DeserializeOwned>(
    mut value: Value,
    options: ParseOptions,
) -> Result<Parsed<T>, FieldError> {
    let Value::Object(map) = &mut value else {
        return Err(FieldError::new(
            "",
            Problem::WrongType { expected: "a JSON object".into(), found: kind_name(&value).into() },
        ));
    };
    let mut findings = Vec::new();
    let mut path = String::new();
    walk_object(map, &mut path, options, &mut findings)?;
    let parsed = de::from_value::<T>(&value).map_err(|e| explain_coerced(e, &findings))?;
    Ok(Parsed { value: parsed, findings })
}

/// [`parse`], then [`Validate::validate`].
pub fn parse_request<T: DeserializeOwned + Validate>(
    bytes: &[u8],
    options: ParseOptions,
) -> Result<Parsed<T>, FieldError> {
    let parsed = parse::<T>(bytes, options)?;
    parsed.value.validate()?;
    Ok(parsed)
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn walk_object(
    map: &mut Map<String, Value>,
    path: &mut String,
    options: ParseOptions,
    findings: &mut Vec<HygieneFinding>,
) -> Result<(), FieldError> {
    // `null` means "absent" (§2); removing it lets `Option` fields read None and required fields
    // report "missing" rather than a type error.
    map.retain(|_, v| !v.is_null());
    for (key, v) in map.iter_mut() {
        let len = path.len();
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
        walk_value(v, path, options, findings)?;
        path.truncate(len);
    }
    Ok(())
}

fn walk_value(
    v: &mut Value,
    path: &mut String,
    options: ParseOptions,
    findings: &mut Vec<HygieneFinding>,
) -> Result<(), FieldError> {
    match v {
        Value::Object(map) => walk_object(map, path, options, findings),
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = path.len();
                path.push('[');
                path.push_str(&i.to_string());
                path.push(']');
                walk_value(item, path, options, findings)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Number(_) | Value::Bool(_) => {
            let found = if v.is_number() { JsonKind::Number } else { JsonKind::Boolean };
            let original = v.to_string();
            if !options.coerce_scalars {
                return Err(FieldError::new(
                    path.clone(),
                    Problem::NotAString { found: format!("{} {original}", found.as_str()) },
                ));
            }
            *v = Value::String(original.clone());
            findings
                .push(HygieneFinding { path: path.clone(), kind: FindingKind::Coerced { found, original } });
            Ok(())
        }
        Value::String(s) if s.is_empty() => {
            if options.empty_string_is_error {
                return Err(FieldError::new(path.clone(), Problem::EmptyString));
            }
            findings.push(HygieneFinding { path: path.clone(), kind: FindingKind::EmptyString });
            Ok(())
        }
        Value::String(_) | Value::Null => Ok(()),
    }
}

/// A type error on a value we coerced would say "found string \"5\""; name what was really sent.
fn explain_coerced(mut err: FieldError, findings: &[HygieneFinding]) -> FieldError {
    if let Problem::WrongType { found, .. } = &mut err.problem {
        if let Some(FindingKind::Coerced { found: kind, original }) =
            findings.iter().find(|f| f.path == err.path).map(|f| &f.kind)
        {
            *found = format!("{} {original}", kind.as_str());
        }
    }
    err
}
