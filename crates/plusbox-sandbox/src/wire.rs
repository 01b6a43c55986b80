//! Request bodies as the gateway reads them: lenient scalar coercion with hygiene findings
//! (alipayplus-api.md §2), field-path validation for `PARAM_ILLEGAL`, amounts and wire times.

use serde::Serialize;
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// A hygiene finding: something the gateway accepted but a correct integration would not send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// JSON path of the field, e.g. `paymentAmount.value`.
    pub path: String,
    /// Machine-readable kind, e.g. `number-as-string`.
    pub kind: String,
    /// Human-readable detail.
    pub detail: String,
}

/// A field that makes the request illegal: answered F `PARAM_ILLEGAL` with the path in the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Illegal {
    /// JSON path (or header name) of the offending field.
    pub path: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Illegal {
    /// A new illegal-field finding.
    pub fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Illegal { path: path.into(), reason: reason.into() }
    }

    /// The `resultMessage`: the path first, so integrators see at once which field to fix.
    pub fn message(&self) -> String {
        format!("{}: {}", self.path, self.reason)
    }
}

/// Parses a request body into a JSON object, coercing numbers and booleans to strings.
///
/// With `strict`, a coercible scalar is illegal instead of a finding. `""` anywhere is illegal
/// (§2: never send empty strings; leave optional fields out or send `null`).
pub fn parse_body(body: &[u8], strict: bool) -> Result<(Map<String, Value>, Vec<Finding>), Illegal> {
    let value: Value = serde_json::from_slice(body).map_err(|error| {
        Illegal::new(
            "body",
            format!("malformed JSON at line {} column {}: {}", error.line(), error.column(), error),
        )
    })?;
    let Value::Object(mut map) = value else {
        return Err(Illegal::new("body", "the body must be a JSON object"));
    };
    let mut findings = Vec::new();
    for (key, value) in map.iter_mut() {
        coerce(value, key.clone(), strict, &mut findings)?;
    }
    Ok((map, findings))
}

fn coerce(value: &mut Value, path: String, strict: bool, findings: &mut Vec<Finding>) -> Result<(), Illegal> {
    match value {
        Value::Number(number) => {
            let text = number.to_string();
            if strict {
                return Err(Illegal::new(path, format!("must be a JSON string, found the number {text}")));
            }
            findings.push(Finding {
                path,
                kind: "number-as-string".into(),
                detail: format!("the number {text} was sent where the spec requires a string (\"{text}\")"),
            });
            *value = Value::String(text);
        }
        Value::Bool(flag) => {
            let text = flag.to_string();
            if strict {
                return Err(Illegal::new(path, format!("must be a JSON string, found the boolean {text}")));
            }
            findings.push(Finding {
                path,
                kind: "boolean-as-string".into(),
                detail: format!("the boolean {text} was sent where the spec requires a string (\"{text}\")"),
            });
            *value = Value::String(text);
        }
        Value::String(text) if text.is_empty() => {
            return Err(Illegal::new(path, "empty string; leave optional fields out or send null"));
        }
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                coerce(child, format!("{path}.{key}"), strict, findings)?;
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter_mut().enumerate() {
                coerce(child, format!("{path}[{index}]"), strict, findings)?;
            }
        }
        Value::String(_) | Value::Null => {}
    }
    Ok(())
}

/// A read-only view of a JSON object that knows its path, for validation with precise messages.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    prefix: String,
}

impl<'a> Fields<'a> {
    /// The top-level object.
    pub fn root(map: &'a Map<String, Value>) -> Self {
        Fields { map, prefix: String::new() }
    }

    /// The dotted path of `key` inside this object.
    pub fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    /// The raw value of `key`, if present.
    pub fn raw(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// An optional string of at most `max` characters (`null` counts as absent).
    pub fn opt_str(&self, key: &str, max: usize) -> Result<Option<&'a str>, Illegal> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => {
                if text.chars().count() > max {
                    Err(Illegal::new(self.path(key), format!("longer than {max} characters")))
                } else {
                    Ok(Some(text.as_str()))
                }
            }
            Some(_) => Err(Illegal::new(self.path(key), "must be a string")),
        }
    }

    /// A required string of at most `max` characters.
    pub fn req_str(&self, key: &str, max: usize) -> Result<&'a str, Illegal> {
        self.opt_str(key, max)?.ok_or_else(|| Illegal::new(self.path(key), "required field is missing"))
    }

    /// An optional nested object.
    pub fn opt_obj(&self, key: &str) -> Result<Option<Fields<'a>>, Illegal> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Fields { map, prefix: self.path(key) })),
            Some(_) => Err(Illegal::new(self.path(key), "must be a JSON object")),
        }
    }

    /// A required nested object.
    pub fn req_obj(&self, key: &str) -> Result<Fields<'a>, Illegal> {
        self.opt_obj(key)?.ok_or_else(|| Illegal::new(self.path(key), "required field is missing"))
    }
}

/// An amount in minor units of a currency, as validated from the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Money {
    /// ISO 4217 code.
    pub currency: String,
    /// Value in minor units.
    pub value: i64,
}

impl Money {
    /// The wire object `{currency, value}` with `value` a string of minor units.
    pub fn to_wire(&self) -> Value {
        serde_json::json!({"currency": self.currency, "value": self.value.to_string()})
    }

    /// Human form, e.g. `12.50 USD`.
    pub fn display(&self) -> String {
        format_minor(&self.currency, self.value)
    }
}

/// Reads an `Amount` object (§2.1): known currency, `value` matching `^[1-9][0-9]*$`, IDR ending `00`.
pub fn read_amount(fields: &Fields<'_>, key: &str, required: bool) -> Result<Option<Money>, Illegal> {
    let Some(obj) = fields.opt_obj(key)? else {
        if required {
            return Err(Illegal::new(fields.path(key), "required field is missing"));
        }
        return Ok(None);
    };
    let currency = obj.req_str("currency", 3)?;
    let currency_path = obj.path("currency");
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(Illegal::new(currency_path, "must be a 3-letter upper-case ISO 4217 code"));
    }
    if currency_exponent(currency).is_none() {
        return Err(Illegal::new(currency_path, format!("{currency} is not an ISO 4217 currency")));
    }
    let value = obj.req_str("value", 32)?;
    let value_path = obj.path("value");
    if !value.starts_with(|c: char| ('1'..='9').contains(&c)) || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Illegal::new(
            value_path,
            "must be a positive integer in minor units, without sign, decimals or leading zeros",
        ));
    }
    let minor: i64 = value.parse().map_err(|_| Illegal::new(obj.path("value"), "is too large"))?;
    if currency == "IDR" && minor % 100 != 0 {
        return Err(Illegal::new(obj.path("value"), "IDR amounts must end in 00"));
    }
    Ok(Some(Money { currency: currency.to_string(), value: minor }))
}

/// ISO 4217 minor-unit exponent of the currencies the sandbox accepts.
pub fn currency_exponent(code: &str) -> Option<u32> {
    const ZERO: &[&str] = &[
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV",
        "XAF", "XOF", "XPF",
    ];
    const THREE: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
    const TWO: &[&str] = &[
        "AED", "AUD", "BDT", "BND", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EGP", "EUR", "GBP", "HKD",
        "HUF", "IDR", "ILS", "INR", "KHR", "KZT", "LAK", "LKR", "MMK", "MNT", "MOP", "MXN", "MYR", "NOK",
        "NPR", "NZD", "PEN", "PHP", "PKR", "PLN", "QAR", "RUB", "SAR", "SEK", "SGD", "THB", "TRY", "TWD",
        "UAH", "USD", "ZAR",
    ];
    if ZERO.contains(&code) {
        Some(0)
    } else if THREE.contains(&code) {
        Some(3)
    } else if TWO.contains(&code) {
        Some(2)
    } else {
        None
    }
}

/// Formats minor units for people: `1250 USD` → `12.50 USD`.
pub fn format_minor(currency: &str, value: i64) -> String {
    let exponent = currency_exponent(currency).unwrap_or(2);
    if exponent == 0 {
        return format!("{value} {currency}");
    }
    let scale = 10_i64.pow(exponent);
    let sign = if value < 0 { "-" } else { "" };
    let abs = value.unsigned_abs();
    let scale = scale.unsigned_abs();
    format!("{sign}{}.{:0width$} {currency}", abs / scale, abs % scale, width = exponent as usize)
}

/// Parses a human amount such as `100.00 USD`, `100 USD`, `USD 100.5` or `5000 JPY` into minor units.
pub fn parse_human_amount(text: &str) -> Result<Money, String> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let (number, currency) = match parts.as_slice() {
        [a, b] if b.len() == 3 && b.bytes().all(|c| c.is_ascii_alphabetic()) => (*a, *b),
        [a, b] if a.len() == 3 && a.bytes().all(|c| c.is_ascii_alphabetic()) => (*b, *a),
        _ => return Err(format!("expected an amount like \"100.00 USD\", got {text:?}")),
    };
    let currency = currency.to_ascii_uppercase();
    let exponent = currency_exponent(&currency)
        .ok_or_else(|| format!("{currency} is not a supported ISO 4217 currency"))?;
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(format!("{number:?} is not a plain decimal amount"));
    }
    if fraction.len() > exponent as usize {
        return Err(format!("{currency} has {exponent} decimal places; {number} has more"));
    }
    let padded = format!("{whole}{fraction:0<width$}", width = exponent as usize);
    let value: i64 = padded.parse().map_err(|_| format!("{number} is too large"))?;
    if value <= 0 {
        return Err("the amount must be positive".into());
    }
    Ok(Money { currency, value })
}

/// UTC+8, the offset Plusbox writes on the wire and in which T (cancel window) is counted.
pub fn utc8() -> UtcOffset {
    UtcOffset::from_hms(8, 0, 0).unwrap_or(UtcOffset::UTC)
}

/// Formats an instant as the sandbox writes it: ISO 8601, whole seconds, offset `+08:00`.
pub fn wire_time(at: OffsetDateTime) -> String {
    let at = at.to_offset(utc8()).replace_nanosecond(0).unwrap_or(at);
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

/// Parses an ISO 8601 time with offset (fraction and `Z` allowed).
pub fn parse_wire_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text.trim(), &Rfc3339).ok()
}

/// Parses a `Request-Time` header: ISO 8601 with offset, or epoch milliseconds (the Java SDK).
pub fn parse_request_time(text: &str) -> Option<OffsetDateTime> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let millis: i128 = text.parse().ok()?;
        return OffsetDateTime::from_unix_timestamp_nanos(millis * 1_000_000).ok();
    }
    parse_wire_time(text)
}

/// Milliseconds since the epoch, the store's representation of instants.
pub fn to_millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The inverse of [`to_millis`].
pub fn from_millis(millis: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn coerces_numbers_and_reports_paths() {
        let (map, findings) =
            parse_body(br#"{"paymentAmount":{"currency":"USD","value":100},"a":[true]}"#, false).unwrap();
        assert_eq!(map["paymentAmount"]["value"], "100");
        assert_eq!(findings[0].path, "paymentAmount.value");
        assert_eq!(findings[1].path, "a[0]");
        assert!(parse_body(br#"{"v":1}"#, true).is_err());
        assert_eq!(parse_body(br#"{"x":{"y":""}}"#, false).unwrap_err().path, "x.y");
    }

    #[test]
    fn amounts() {
        assert_eq!(parse_human_amount("12.5 USD").unwrap().value, 1250);
        assert_eq!(parse_human_amount("500 JPY").unwrap().value, 500);
        assert!(parse_human_amount("5.5 JPY").is_err());
        assert_eq!(format_minor("USD", 1250), "12.50 USD");
        assert_eq!(format_minor("KWD", 1), "0.001 KWD");
        let body = br#"{"a":{"currency":"USD","value":"0100"}}"#;
        let (map, _) = parse_body(body, false).unwrap();
        assert_eq!(read_amount(&Fields::root(&map), "a", true).unwrap_err().path, "a.value");
    }

    #[test]
    fn times() {
        let t = parse_request_time("2025-02-20T08:51:49.09Z").unwrap();
        assert_eq!(wire_time(t), "2025-02-20T16:51:49+08:00");
        assert_eq!(parse_request_time("1740041509090").unwrap(), t);
    }
}
