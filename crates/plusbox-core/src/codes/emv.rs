//! EMVCo merchant-presented QR payloads (EMV QRCPS-MPM): TLV decoder, validating encoder and
//! CRC-16/CCITT-FALSE (payment-codes.md §5).
//!
//! Each data object is a 2-digit ID, a 2-digit length counted in characters, and the value.
//! The CRC object `63` covers every byte of the UTF-8 text up to and including `6304`.

use serde::{Deserialize, Serialize};

use super::tlv::Cursor;

/// A data object. Templates (`26`–`51`, `62`, `64`, `80`–`99`) carry their sub-objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmvObject {
    /// Two-digit ID.
    pub id: String,
    /// Raw value. When encoding a template, the value is rebuilt from `children`.
    #[serde(default)]
    pub value: String,
    /// Sub-objects of a template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub children: Option<Vec<EmvObject>>,
}

impl EmvObject {
    /// A primitive object.
    pub fn new(id: &str, value: &str) -> Self {
        EmvObject { id: id.to_string(), value: value.to_string(), children: None }
    }

    /// A template object built from sub-objects.
    pub fn template(id: &str, children: Vec<EmvObject>) -> Self {
        EmvObject { id: id.to_string(), value: String::new(), children: Some(children) }
    }

    /// The sub-object `id` of a template.
    pub fn child(&self, id: &str) -> Option<&EmvObject> {
        self.children.as_ref()?.iter().find(|c| c.id == id)
    }
}

/// A decoded and validated payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmvPayload {
    /// Root objects in the order found, including `63`.
    pub objects: Vec<EmvObject>,
    /// The CRC as 4 upper-case hex characters.
    pub crc: String,
    /// Order problems that are not errors (e.g. `00` not first).
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl EmvPayload {
    /// The root object `id`.
    pub fn get(&self, id: &str) -> Option<&EmvObject> {
        self.objects.iter().find(|o| o.id == id)
    }
}

/// What is wrong with an EMV payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmvError {
    /// Empty input.
    #[error("empty payload")]
    Empty,
    /// An ID is not two digits.
    #[error("bad ID {found:?} at offset {offset}{}", in_template(.template))]
    BadId {
        /// Character offset (within the template value, for sub-objects).
        offset: usize,
        /// What was found.
        found: String,
        /// The template, for sub-objects.
        template: Option<String>,
    },
    /// A length is not two digits.
    #[error("length of {id} at offset {offset} is not two digits: {found:?}{}", in_template(.template))]
    BadLength {
        /// The object ID.
        id: String,
        /// Character offset.
        offset: usize,
        /// What was found.
        found: String,
        /// The template, for sub-objects.
        template: Option<String>,
    },
    /// The input ends inside an object.
    #[error("truncated TLV at offset {offset}: expected {what}{}", in_template(.template))]
    Truncated {
        /// Character offset.
        offset: usize,
        /// What was expected.
        what: String,
        /// The template, for sub-objects.
        template: Option<String>,
    },
    /// An ID appears twice at one level.
    #[error("duplicated ID {id}")]
    DuplicateId {
        /// The ID (`62.05` for a sub-object).
        id: String,
    },
    /// IDs `65`–`79` are reserved for EMVCo.
    #[error("ID {id} is reserved for future EMVCo use (65–79)")]
    ReservedId {
        /// The ID.
        id: String,
    },
    /// No CRC object.
    #[error("no CRC object (63)")]
    MissingCrc,
    /// The CRC object is not 4 upper-case hex characters.
    #[error("CRC value {found:?} is not 4 upper-case hex characters")]
    BadCrcFormat {
        /// What was found.
        found: String,
    },
    /// The CRC does not match.
    #[error("CRC mismatch: expected {expected}, found {found}")]
    CrcMismatch {
        /// The CRC computed over the payload.
        expected: String,
        /// The CRC in the payload.
        found: String,
    },
    /// A mandatory object is missing.
    #[error("missing mandatory object {id} ({name})")]
    MissingField {
        /// The ID.
        id: String,
        /// Its name.
        name: &'static str,
    },
    /// An object's value is malformed.
    #[error("object {id} ({name}) is invalid: {reason}")]
    BadField {
        /// The ID.
        id: String,
        /// Its name.
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// No merchant account information (`02`–`51`).
    #[error("no merchant account information object (02–51)")]
    NoMerchantAccount,
    /// A template `26`–`51` or `80`–`99` does not start with its GUI (`00`).
    #[error("template {id} does not start with a globally unique identifier (sub-ID 00)")]
    MissingGui {
        /// The template ID.
        id: String,
    },
    /// A value does not fit a 2-digit length.
    #[error("value of {id} is {length} characters; at most 99 fit")]
    ValueTooLong {
        /// The ID.
        id: String,
        /// Its length.
        length: usize,
    },
}

fn in_template(template: &Option<String>) -> String {
    template.as_ref().map(|t| format!(" in template {t}")).unwrap_or_default()
}

/// CRC-16/CCITT-FALSE: polynomial 0x1021, initial 0xFFFF, no reflection, no final XOR.
pub fn crc16_ccitt_false(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc
}

/// Formats a CRC as 4 upper-case hex characters, keeping leading zeros.
pub fn format_crc(crc: u16) -> String {
    format!("{crc:04X}")
}

/// Whether root ID `id` is a template whose value holds sub-objects.
pub fn is_template(id: &str) -> bool {
    matches!(id.parse::<u8>(), Ok(26..=51 | 62 | 64 | 80..=99)) && id.len() == 2
}

/// Whether template `id` must start with a GUI (sub-ID `00`).
fn needs_gui(id: &str) -> bool {
    matches!(id.parse::<u8>(), Ok(26..=51 | 80..=99))
}

fn name_of(id: &str) -> &'static str {
    match id {
        "00" => "Payload Format Indicator",
        "01" => "Point of Initiation Method",
        "52" => "Merchant Category Code",
        "53" => "Transaction Currency",
        "54" => "Transaction Amount",
        "55" => "Tip or Convenience Indicator",
        "56" => "Value of Convenience Fee Fixed",
        "57" => "Value of Convenience Fee Percentage",
        "58" => "Country Code",
        "59" => "Merchant Name",
        "60" => "Merchant City",
        "61" => "Postal Code",
        "62" => "Additional Data Field Template",
        "63" => "CRC",
        "64" => "Merchant Information — Language Template",
        _ => "data object",
    }
}

/// Parses one level of TLV. Returns each object with the character offset just past its
/// length field's end (used to locate the CRC).
fn parse_level(text: &str, template: Option<&str>) -> Result<Vec<(EmvObject, usize)>, EmvError> {
    let template_name = template.map(str::to_string);
    let mut cursor = Cursor::new(text);
    let mut objects: Vec<(EmvObject, usize)> = Vec::new();
    while !cursor.is_empty() {
        let offset = cursor.offset;
        let id = match cursor.take_number(2) {
            Ok(_) => {
                // take_number consumed the two digits; re-slice them for the ID text.
                text.chars().skip(offset).take(2).collect::<String>()
            }
            Err(found) => {
                return Err(match found {
                    Some(found) => EmvError::BadId { offset, found, template: template_name },
                    None => {
                        EmvError::Truncated { offset, what: "a 2-digit ID".into(), template: template_name }
                    }
                })
            }
        };
        if objects.iter().any(|(o, _)| o.id == id) {
            return Err(EmvError::DuplicateId {
                id: match template {
                    Some(t) => format!("{t}.{id}"),
                    None => id,
                },
            });
        }
        let length_offset = cursor.offset;
        let length = cursor.take_number(2).map_err(|found| match found {
            Some(found) => EmvError::BadLength {
                id: id.clone(),
                offset: length_offset,
                found,
                template: template_name.clone(),
            },
            None => EmvError::Truncated {
                offset: length_offset,
                what: format!("a 2-digit length for {id}"),
                template: template_name.clone(),
            },
        })?;
        let value_offset = cursor.offset;
        let value = cursor.take(length).ok_or_else(|| EmvError::Truncated {
            offset: value_offset,
            what: format!("{length} characters of {id}"),
            template: template_name.clone(),
        })?;
        let children = if template.is_none() && is_template(&id) {
            Some(parse_level(value, Some(&id))?.into_iter().map(|(o, _)| o).collect())
        } else {
            None
        };
        objects.push((EmvObject { id, value: value.to_string(), children }, value_offset));
    }
    Ok(objects)
}

/// Decodes and validates a payload: TLV structure, CRC, then the rules of §5.4.
pub fn decode(text: &str) -> Result<EmvPayload, EmvError> {
    if text.is_empty() {
        return Err(EmvError::Empty);
    }
    let parsed = parse_level(text, None)?;
    let Some((crc_object, crc_value_offset)) = parsed.iter().find(|(o, _)| o.id == "63") else {
        return Err(EmvError::MissingCrc);
    };
    let found = crc_object.value.clone();
    if found.len() != 4 || !found.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)) {
        return Err(EmvError::BadCrcFormat { found });
    }
    // The CRC covers the text up to the CRC value, i.e. including the literal "6304".
    let covered: String = text.chars().take(*crc_value_offset).collect();
    let expected = format_crc(crc16_ccitt_false(covered.as_bytes()));
    if expected != found {
        return Err(EmvError::CrcMismatch { expected, found });
    }
    let objects: Vec<EmvObject> = parsed.into_iter().map(|(o, _)| o).collect();
    let warnings = validate(&objects)?;
    Ok(EmvPayload { objects, crc: found, warnings })
}

/// Checks the rules of §5.4 on root objects; returns warnings for order problems.
pub fn validate(objects: &[EmvObject]) -> Result<Vec<String>, EmvError> {
    let mut warnings = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for object in objects {
        if seen.contains(&object.id.as_str()) {
            return Err(EmvError::DuplicateId { id: object.id.clone() });
        }
        seen.push(&object.id);
        if matches!(object.id.parse::<u8>(), Ok(65..=79)) {
            return Err(EmvError::ReservedId { id: object.id.clone() });
        }
        if needs_gui(&object.id) {
            let first = object.children.as_ref().and_then(|c| c.first());
            if first.is_none_or(|c| c.id != "00" || c.value.is_empty()) {
                return Err(EmvError::MissingGui { id: object.id.clone() });
            }
        }
    }
    let get = |id: &str| objects.iter().find(|o| o.id == id);
    let bad = |id: &str, reason: &str| EmvError::BadField {
        id: id.to_string(),
        name: name_of(id),
        reason: reason.to_string(),
    };
    let require =
        |id: &str| get(id).ok_or_else(|| EmvError::MissingField { id: id.to_string(), name: name_of(id) });
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());

    if require("00")?.value != "01" {
        return Err(bad("00", "must be 01"));
    }
    if objects.first().is_some_and(|o| o.id != "00") {
        warnings.push("00 (Payload Format Indicator) is not the first object".to_string());
    }
    if let Some(last) = objects.last() {
        if last.id != "63" && get("63").is_some() {
            warnings.push("63 (CRC) is not the last object".to_string());
        }
    }
    if let Some(poi) = get("01") {
        if poi.value != "11" && poi.value != "12" {
            return Err(bad("01", "must be 11 (static) or 12 (dynamic)"));
        }
    }
    if !objects.iter().any(|o| matches!(o.id.parse::<u8>(), Ok(2..=51))) {
        return Err(EmvError::NoMerchantAccount);
    }
    if !digits(&require("52")?.value, 4) {
        return Err(bad("52", "must be 4 digits (ISO 18245)"));
    }
    if !digits(&require("53")?.value, 3) {
        return Err(bad("53", "must be 3 digits (ISO 4217 numeric)"));
    }
    let country = &require("58")?.value;
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(bad("58", "must be 2 upper-case letters (ISO 3166 alpha-2)"));
    }
    for id in ["59", "60"] {
        if require(id)?.value.trim().is_empty() {
            return Err(bad(id, "must not be empty"));
        }
    }
    if let Some(amount) = get("54") {
        let v = &amount.value;
        let well_formed = !v.is_empty()
            && v.len() <= 13
            && v.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && v.bytes().filter(|b| *b == b'.').count() <= 1
            && v.bytes().any(|b| b.is_ascii_digit());
        if !well_formed {
            return Err(bad("54", "must be up to 13 characters of digits and one '.'"));
        }
    }
    if let Some(tip) = get("55") {
        if !["01", "02", "03"].contains(&tip.value.as_str()) {
            return Err(bad("55", "must be 01, 02 or 03"));
        }
    }
    Ok(warnings)
}

/// Encodes root objects into a payload, validating them first (§5.4).
///
/// Objects are written in the given order, except that `63` always goes last. When `63` is
/// given, its value must equal the computed CRC; otherwise the CRC is computed.
pub fn encode(objects: &[EmvObject]) -> Result<String, EmvError> {
    let mut rebuilt = Vec::with_capacity(objects.len());
    let mut given_crc = None;
    for object in objects {
        if object.id.len() != 2 || !object.id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(EmvError::BadId { offset: 0, found: object.id.clone(), template: None });
        }
        if object.id == "63" {
            given_crc = Some(object.value.clone());
            continue;
        }
        let value = match &object.children {
            Some(children) => {
                let mut value = String::new();
                let mut seen: Vec<&str> = Vec::new();
                for child in children {
                    if child.id.len() != 2 || !child.id.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(EmvError::BadId {
                            offset: 0,
                            found: child.id.clone(),
                            template: Some(object.id.clone()),
                        });
                    }
                    if seen.contains(&child.id.as_str()) {
                        return Err(EmvError::DuplicateId { id: format!("{}.{}", object.id, child.id) });
                    }
                    seen.push(&child.id);
                    push_tlv(&mut value, &format!("{}.{}", object.id, child.id), &child.value)?;
                }
                value
            }
            None => object.value.clone(),
        };
        let children = if is_template(&object.id) {
            Some(parse_level(&value, Some(&object.id))?.into_iter().map(|(o, _)| o).collect())
        } else {
            None
        };
        rebuilt.push(EmvObject { id: object.id.clone(), value, children });
    }
    validate(&rebuilt)?;
    let mut text = String::new();
    for object in &rebuilt {
        push_tlv(&mut text, &object.id, &object.value)?;
    }
    text.push_str("6304");
    let crc = format_crc(crc16_ccitt_false(text.as_bytes()));
    if let Some(found) = given_crc {
        if found != crc {
            return Err(EmvError::CrcMismatch { expected: crc, found });
        }
    }
    text.push_str(&crc);
    Ok(text)
}

fn push_tlv(out: &mut String, id: &str, value: &str) -> Result<(), EmvError> {
    let length = value.chars().count();
    if length > 99 {
        return Err(EmvError::ValueTooLong { id: id.to_string(), length });
    }
    let bare = id.rsplit('.').next().unwrap_or(id);
    out.push_str(bare);
    out.push_str(&format!("{length:02}"));
    out.push_str(value);
    Ok(())
}
