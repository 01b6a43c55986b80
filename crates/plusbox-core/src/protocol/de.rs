//! A serde `Deserializer` over a `serde_json::Value` that records the JSON path of the first
//! error, so intake errors can say `order.merchant.store.referenceStoreId` instead of only
//! "missing field". (`serde_path_to_error` does this too but is not a dependency.)
//!
//! The path is a linked list of segments on the stack and is rendered to a string only when an
//! error passes through, so the happy path allocates nothing extra.

use std::fmt;

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeSeed, Visitor};
use serde::forward_to_deserialize_any;
use serde_json::{Map, Value};

use super::error::{FieldError, Problem};

/// One step of a JSON path.
#[derive(Clone, Copy)]
pub(crate) enum Seg<'a> {
    /// The body itself.
    Root,
    /// An object member.
    Key(&'a Seg<'a>, &'a str),
    /// An array element.
    Index(&'a Seg<'a>, usize),
}

impl Seg<'_> {
    fn render(&self, out: &mut String) {
        match self {
            Seg::Root => {}
            Seg::Key(parent, key) => {
                parent.render(out);
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Seg::Index(parent, i) => {
                parent.render(out);
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }

    pub(crate) fn to_path(self) -> String {
        let mut s = String::new();
        self.render(&mut s);
        s
    }
}

/// Deserialization error carrying the path once known.
#[derive(Debug)]
pub(crate) struct DeError {
    path: Option<String>,
    /// For `missing_field`: the field, appended to the path of the object that lacks it.
    missing: Option<&'static str>,
    problem: Problem,
}

impl DeError {
    fn at(mut self, seg: &Seg<'_>) -> DeError {
        if self.path.is_none() {
            let mut path = seg.to_path();
            if let Some(field) = self.missing.take() {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(field);
            }
            self.path = Some(path);
        }
        self
    }

    pub(crate) fn into_field_error(self) -> FieldError {
        let mut path = self.path.unwrap_or_default();
        if let Some(field) = self.missing {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(field);
        }
        FieldError { path, problem: self.problem }
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.problem)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError { path: None, missing: None, problem: Problem::Invalid(msg.to_string()) }
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError {
            path: None,
            missing: None,
            problem: Problem::WrongType { expected: exp.to_string(), found: unexp.to_string() },
        }
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError { path: None, missing: None, problem: Problem::Invalid(format!("{unexp} is not {exp}")) }
    }

    fn missing_field(field: &'static str) -> Self {
        DeError { path: None, missing: Some(field), problem: Problem::Missing }
    }
}

/// Deserializes `T` from `value`, reporting the path of the first failure.
pub(crate) fn from_value<T: de::DeserializeOwned>(value: &Value) -> Result<T, FieldError> {
    T::deserialize(PathDeserializer { value, seg: &Seg::Root })
        .map_err(|e| e.at(&Seg::Root).into_field_error())
}

struct PathDeserializer<'a, 'de> {
    value: &'de Value,
    seg: &'a Seg<'a>,
}

impl<'de> de::Deserializer<'de> for PathDeserializer<'_, 'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let seg = self.seg;
        let result = match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => {
                visitor.visit_seq(SeqAccess { items: items.iter(), index: 0, parent: seg })
            }
            Value::Object(map) => visitor.visit_map(MapAccess::new(map, seg)),
        };
        result.map_err(|e| e.at(seg))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let seg = self.seg;
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
        .map_err(|e| e.at(seg))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let seg = self.seg;
        visitor.visit_newtype_struct(self).map_err(|e| e.at(seg))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let seg = self.seg;
        match self.value {
            // Only unit variants spelled as strings occur on the wire (e.g. "S"/"F"/"U").
            Value::String(s) => {
                let access: BorrowedStrDeserializer<'de, DeError> = BorrowedStrDeserializer::new(s.as_str());
                visitor.visit_enum(access)
            }
            _ => self.deserialize_any(visitor),
        }
        .map_err(|e| e.at(seg))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

struct SeqAccess<'a, 'de> {
    items: std::slice::Iter<'de, Value>,
    index: usize,
    parent: &'a Seg<'a>,
}

impl<'de> de::SeqAccess<'de> for SeqAccess<'_, 'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
        let Some(value) = self.items.next() else {
            return Ok(None);
        };
        let seg = Seg::Index(self.parent, self.index);
        self.index += 1;
        seed.deserialize(PathDeserializer { value, seg: &seg }).map(Some).map_err(|e| e.at(&seg))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapAccess<'a, 'de> {
    entries: serde_json::map::Iter<'de>,
    pending: Option<(&'de str, &'de Value)>,
    parent: &'a Seg<'a>,
}

impl<'a, 'de> MapAccess<'a, 'de> {
    fn new(map: &'de Map<String, Value>, parent: &'a Seg<'a>) -> Self {
        MapAccess { entries: map.iter(), pending: None, parent }
    }
}

impl<'de> de::MapAccess<'de> for MapAccess<'_, 'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.pending = Some((key.as_str(), value));
        let key_de: BorrowedStrDeserializer<'de, DeError> = BorrowedStrDeserializer::new(key.as_str());
        seed.deserialize(key_de).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some((key, value)) = self.pending.take() else {
            return Err(de::Error::custom("value requested before key"));
        };
        let seg = Seg::Key(self.parent, key);
        seed.deserialize(PathDeserializer { value, seg: &seg }).map_err(|e| e.at(&seg))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}
