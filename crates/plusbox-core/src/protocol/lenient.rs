//! Lenient intake: parse a peer's body, coercing scalars the way the Alipay+ gateway does, and
//! report every deviation from the wire rules as a [`HygieneFinding`].
//!
//! Steps ([`parse`]):
//! 1. JSON syntax (error path `""`, problem [`Problem::Syntax`]); the body must be an object. A
//!    key sent twice in one object is recorded as [`FindingKind::DuplicateKey`] (the last value
//!    is used, as most JSON libraries do); with [`ParseOptions::strict`] it is an error
//!    ([`Problem::DuplicateKey`]), because which value a peer's parser keeps is anyone's guess.
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
    /// Treat a key sent twice in one object as an error ([`Problem::DuplicateKey`]). If false it
    /// is recorded and the last value is used.
    pub duplicate_key_is_error: bool,
}

impl ParseOptions {
    /// The sandbox default (§2 Plusbox decision): coerce scalars with a finding; `""` is an error.
    pub const fn lenient() -> ParseOptions {
        ParseOptions { coerce_scalars: true, empty_string_is_error: true, duplicate_key_is_error: false }
    }

    /// The strict setting: a scalar that is not a string is an error too, and so is a key sent
    /// twice.
    pub const fn strict() -> ParseOptions {
        ParseOptions { coerce_scalars: false, empty_string_is_error: true, duplicate_key_is_error: true }
    }

    /// Record everything, refuse nothing the types can hold (for tools that grade a peer's
    /// messages rather than answer them).
    pub const fn permissive() -> ParseOptions {
        ParseOptions { coerce_scalars: true, empty_string_is_error: false, duplicate_key_is_error: false }
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
    /// The key appeared more than once in its object; the last value was used.
    DuplicateKey,
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
            FindingKind::DuplicateKey => {
                write!(f, "{}: key sent more than once in its object; the last value was used", self.path)
            }
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
    let (value, duplicates) =
        parse_checked(bytes).map_err(|e| FieldError::new("", Problem::Syntax(e.to_string())))?;
    if options.duplicate_key_is_error {
        if let Some(path) = duplicates.first() {
            return Err(FieldError::new(path.clone(), Problem::DuplicateKey));
        }
    }
    let mut parsed = parse_value(value, options)?;
    if !duplicates.is_empty() {
        let mut findings: Vec<HygieneFinding> = duplicates
            .into_iter()
            .map(|path| HygieneFinding { path, kind: FindingKind::DuplicateKey })
            .collect();
        findings.append(&mut parsed.findings);
        parsed.findings = findings;
    }
    Ok(parsed)
}

/// Parses JSON text into a [`Value`] as `serde_json` does (last value wins), also returning the
/// path of every key that appeared twice in one object.
pub fn parse_checked(bytes: &[u8]) -> Result<(Value, Vec<String>), serde_json::Error> {
    let mut duplicates = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde::de::DeserializeSeed::deserialize(
        Checked { path: String::new(), duplicates: &mut duplicates },
        &mut de,
    )?;
    de.end()?;
    Ok((value, duplicates))
}

/// A [`Value`] visitor that notes repeated keys (see [`parse_checked`]).
struct Checked<'a> {
    path: String,
    duplicates: &'a mut Vec<String>,
}

impl<'de> serde::de::DeserializeSeed<'de> for Checked<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Checked<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        serde::de::DeserializeSeed::deserialize(self, deserializer)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Checked {
            path: format!("{}[{}]", self.path, items.len()),
            duplicates: &mut *self.duplicates,
        })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let path = if self.path.is_empty() { key.clone() } else { format!("{}.{key}", self.path) };
            let value =
                access.next_value_seed(Checked { path: path.clone(), duplicates: &mut *self.duplicates })?;
            if map.insert(key, value).is_some() && !self.duplicates.contains(&path) {
                self.duplicates.push(path);
            }
        }
        Ok(Value::Object(map))
    }
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
