//! The Alipay+ MPM code standard, version 3 (payment-codes.md §4.4).
//!
//! `HTTPS://<DOMAIN>/MPM/3/<url-encoded Base64 of "GPLD" + 3-digit length + value>`, where the
//! value is a list of 4-character-ID / 3-digit-length objects, and template objects hold
//! 2-digit-ID / 2-digit-length sub-objects.

use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};

use super::mpm::{parse_https_url, UrlError};
use super::tlv::Cursor;

/// Object IDs whose values are templates of sub-objects (known from the published sample).
pub const TEMPLATE_IDS: [&str; 2] = ["CDSD", "CIRD"];

/// Longest value a 3-digit length can describe.
const MAX_VALUE: usize = 999;
/// Longest sub-object value a 2-digit length can describe.
const MAX_SUB_VALUE: usize = 99;

/// A sub-object inside a template (2-digit ID, 2-digit length).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpldSubObject {
    /// Two-digit ID.
    pub id: String,
    /// Value.
    pub value: String,
}

/// A top-level data object (4-character ID, 3-digit length).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpldObject {
    /// Four-character ID, e.g. `PLVS`.
    pub id: String,
    /// Raw value. When encoding a template, the value is rebuilt from `children`.
    #[serde(default)]
    pub value: String,
    /// Sub-objects, for template IDs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub children: Option<Vec<GpldSubObject>>,
}

/// The decoded general payload: the objects inside `GPLD`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpldPayload {
    /// Objects in order.
    pub objects: Vec<GpldObject>,
}

/// A decoded MPM v3 code URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MpmCode {
    /// Host, lower-cased.
    pub domain: String,
    /// The Base64 text as it appeared after URL-decoding.
    pub base64: String,
    /// The `GPLD…` text.
    pub general_payload: String,
    /// The objects.
    pub payload: GpldPayload,
}

/// What is wrong with a GPLD payload or MPM v3 URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GpldError {
    /// The URL itself is malformed.
    #[error("bad URL: {0}")]
    Url(#[from] UrlError),
    /// The path is not `/MPM/3/<payload>`.
    #[error("path {path:?} is not /MPM/3/<payload>")]
    NotMpmV3 {
        /// The path found.
        path: String,
    },
    /// The payload is not valid percent-encoding, Base64 or UTF-8.
    #[error("payload is not URL-encoded Base64 of UTF-8 text: {0}")]
    Encoding(String),
    /// Does not start with `GPLD`.
    #[error("payload does not start with GPLD (found {found:?})")]
    MissingGpld {
        /// The first characters found.
        found: String,
    },
    /// A length field is not digits.
    #[error("length of {id} at offset {offset} is not digits: {found:?}")]
    BadLength {
        /// The object whose length is bad.
        id: String,
        /// Character offset of the length field.
        offset: usize,
        /// What was found.
        found: String,
    },
    /// The `GPLD` length does not equal the remaining length.
    #[error("GPLD length {declared} does not match the {actual} characters that follow")]
    LengthMismatch {
        /// Declared length.
        declared: usize,
        /// Actual remaining characters.
        actual: usize,
    },
    /// The input ends inside an object.
    #[error("truncated at offset {offset}: {what}")]
    Truncated {
        /// Character offset.
        offset: usize,
        /// What was expected.
        what: String,
    },
    /// An ID has the wrong characters.
    #[error("bad ID {found:?} at offset {offset}: {expected}")]
    BadId {
        /// Character offset.
        offset: usize,
        /// What was found.
        found: String,
        /// What an ID must look like.
        expected: &'static str,
    },
    /// An ID appears twice at the same level.
    #[error("duplicated ID {id}")]
    DuplicateId {
        /// The repeated ID (`CDSD.01` for a sub-object).
        id: String,
    },
    /// A template's value is not a list of sub-objects.
    #[error("template {id}: {reason}")]
    BadTemplate {
        /// The template ID.
        id: String,
        /// Inner error.
        reason: String,
    },
    /// A value is too long for its length field.
    #[error("value of {id} is {length} characters; at most {max} fit")]
    ValueTooLong {
        /// The object.
        id: String,
        /// Its length in characters.
        length: usize,
        /// The maximum.
        max: usize,
    },
}

fn is_object_id(id: &str) -> bool {
    id.len() == 4 && id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn is_sub_id(id: &str) -> bool {
    id.len() == 2 && id.bytes().all(|b| b.is_ascii_digit())
}

/// Parses a `GPLD…` general payload.
pub fn decode_payload(text: &str) -> Result<GpldPayload, GpldError> {
    let mut cursor = Cursor::new(text);
    match cursor.take(4) {
        Some("GPLD") => {}
        _ => return Err(GpldError::MissingGpld { found: text.chars().take(4).collect() }),
    }
    let declared = read_length(&mut cursor, "GPLD", 3)?;
    let actual = cursor.remaining_chars();
    if declared != actual {
        return Err(GpldError::LengthMismatch { declared, actual });
    }
    let mut objects: Vec<GpldObject> = Vec::new();
    while !cursor.is_empty() {
        let offset = cursor.offset;
        let id = cursor
            .take(4)
            .ok_or_else(|| GpldError::Truncated { offset, what: "a 4-character object ID".into() })?;
        if !is_object_id(id) {
            return Err(GpldError::BadId {
                offset,
                found: id.to_string(),
                expected: "4 upper-case letters or digits",
            });
        }
        if objects.iter().any(|o| o.id == id) {
            return Err(GpldError::DuplicateId { id: id.to_string() });
        }
        let length = read_length(&mut cursor, id, 3)?;
        let value_offset = cursor.offset;
        let value = cursor.take(length).ok_or_else(|| GpldError::Truncated {
            offset: value_offset,
            what: format!("{length} characters of {id}"),
        })?;
        let children = if TEMPLATE_IDS.contains(&id) { Some(decode_sub_objects(id, value)?) } else { None };
        objects.push(GpldObject { id: id.to_string(), value: value.to_string(), children });
    }
    Ok(GpldPayload { objects })
}

fn read_length(cursor: &mut Cursor<'_>, id: &str, width: usize) -> Result<usize, GpldError> {
    let offset = cursor.offset;
    cursor.take_number(width).map_err(|found| match found {
        Some(found) => GpldError::BadLength { id: id.to_string(), offset, found },
        None => GpldError::Truncated { offset, what: format!("a {width}-digit length for {id}") },
    })
}

fn decode_sub_objects(template: &str, value: &str) -> Result<Vec<GpldSubObject>, GpldError> {
    let bad = |reason: String| GpldError::BadTemplate { id: template.to_string(), reason };
    let mut cursor = Cursor::new(value);
    let mut children: Vec<GpldSubObject> = Vec::new();
    while !cursor.is_empty() {
        let offset = cursor.offset;
        let id =
            cursor.take(2).ok_or_else(|| bad(format!("truncated at offset {offset}: a 2-digit sub-ID")))?;
        if !is_sub_id(id) {
            return Err(bad(format!("bad sub-ID {id:?} at offset {offset}")));
        }
        if children.iter().any(|c| c.id == id) {
            return Err(GpldError::DuplicateId { id: format!("{template}.{id}") });
        }
        let length_offset = cursor.offset;
        let length = cursor.take_number(2).map_err(|found| match found {
            Some(found) => bad(format!("length of {id} at offset {length_offset} is not digits: {found:?}")),
            None => bad(format!("truncated at offset {length_offset}: a 2-digit length")),
        })?;
        let value_offset = cursor.offset;
        let sub = cursor
            .take(length)
            .ok_or_else(|| bad(format!("truncated at offset {value_offset}: {length} characters of {id}")))?;
        children.push(GpldSubObject { id: id.to_string(), value: sub.to_string() });
    }
    Ok(children)
}

/// Encodes objects as a `GPLD…` general payload.
pub fn encode_payload(payload: &GpldPayload) -> Result<String, GpldError> {
    let mut body = String::new();
    let mut seen: Vec<&str> = Vec::new();
    for object in &payload.objects {
        if !is_object_id(&object.id) {
            return Err(GpldError::BadId {
                offset: body.chars().count(),
                found: object.id.clone(),
                expected: "4 upper-case letters or digits",
            });
        }
        if seen.contains(&object.id.as_str()) {
            return Err(GpldError::DuplicateId { id: object.id.clone() });
        }
        seen.push(&object.id);
        let value = match &object.children {
            Some(children) => encode_sub_objects(&object.id, children)?,
            None => object.value.clone(),
        };
        push_object(&mut body, &object.id, &value, 3, MAX_VALUE)?;
    }
    let mut out = String::with_capacity(body.len() + 7);
    push_object(&mut out, "GPLD", &body, 3, MAX_VALUE)?;
    Ok(out)
}

fn encode_sub_objects(template: &str, children: &[GpldSubObject]) -> Result<String, GpldError> {
    let mut value = String::new();
    let mut seen: Vec<&str> = Vec::new();
    for child in children {
        if !is_sub_id(&child.id) {
            return Err(GpldError::BadTemplate {
                id: template.to_string(),
                reason: format!("bad sub-ID {:?}: must be 2 digits", child.id),
            });
        }
        if seen.contains(&child.id.as_str()) {
            return Err(GpldError::DuplicateId { id: format!("{template}.{}", child.id) });
        }
        seen.push(&child.id);
        push_object(&mut value, &format!("{template}.{}", child.id), &child.value, 2, MAX_SUB_VALUE)?;
    }
    Ok(value)
}

/// Appends ID + zero-padded length + value. For qualified sub-object IDs (`CDSD.01`) only the
/// part after the dot is written.
fn push_object(out: &mut String, id: &str, value: &str, width: usize, max: usize) -> Result<(), GpldError> {
    let length = value.chars().count();
    if length > max {
        return Err(GpldError::ValueTooLong { id: id.to_string(), length, max });
    }
    let bare = id.rsplit('.').next().unwrap_or(id);
    out.push_str(bare);
    out.push_str(&format!("{length:0width$}"));
    out.push_str(value);
    Ok(())
}

/// Base64 that accepts missing padding (the decoder rule of §4.4).
const BASE64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Characters escaped in the URL: everything but letters and digits, so `+`, `/`, `=` never
/// reach the path raw.
const PAYLOAD_ESCAPE: &AsciiSet = NON_ALPHANUMERIC;

/// Decodes an `HTTPS://<DOMAIN>/MPM/3/<payload>` URL.
pub fn decode_mpm_url(url: &str) -> Result<MpmCode, GpldError> {
    let parsed = parse_https_url(url)?;
    let path = parsed.path;
    let payload = strip_prefix_ignore_case(path, "/MPM/3/")
        .ok_or_else(|| GpldError::NotMpmV3 { path: path.to_string() })?;
    if payload.is_empty() || payload.contains('/') || parsed.query.is_some() {
        return Err(GpldError::NotMpmV3 { path: path.to_string() });
    }
    let base64 = percent_decode_str(payload)
        .decode_utf8()
        .map_err(|e| GpldError::Encoding(format!("percent-decoding: {e}")))?
        .into_owned();
    let bytes = BASE64_LENIENT
        .decode(base64.trim_end_matches('=').as_bytes())
        .map_err(|e| GpldError::Encoding(format!("Base64: {e}")))?;
    let general_payload = String::from_utf8(bytes).map_err(|e| GpldError::Encoding(format!("UTF-8: {e}")))?;
    let payload = decode_payload(&general_payload)?;
    Ok(MpmCode { domain: parsed.host, base64, general_payload, payload })
}

/// Encodes a payload as `HTTPS://<DOMAIN>/MPM/3/<payload>` (upper-case scheme, as the sample).
pub fn encode_mpm_url(domain: &str, payload: &GpldPayload) -> Result<String, GpldError> {
    let general = encode_payload(payload)?;
    let base64 = base64::engine::general_purpose::STANDARD.encode(general.as_bytes());
    let escaped = utf8_percent_encode(&base64, PAYLOAD_ESCAPE).to_string();
    let url = format!("HTTPS://{domain}/MPM/3/{escaped}");
    // Check the domain by parsing what we produced, so a bad domain fails here, not at a scanner.
    parse_https_url(&url)?;
    Ok(url)
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &text[prefix.len()..])
}
