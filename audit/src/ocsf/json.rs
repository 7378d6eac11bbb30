//! The event's JSON, borrowing from the line, and the helpers that build
//! its objects.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::export_line::{ExportedOrigin, ExportedParty, ExportedPersonal};

/// A JSON value that borrows from the line: the event is built from
/// these without copying a string of the line, then either serialized
/// directly ([`OcsfEvent`](super::OcsfEvent)) or turned into a
/// `serde_json::Value` ([`ocsf_event`](super::ocsf_event)). Both give the
/// same JSON, keys in the same order.
#[derive(Debug)]
pub(super) enum Json<'a> {
    Str(&'a str),
    String(String),
    Int(i64),
    Uint(u64),
    Array(Vec<Json<'a>>),
    Object(Object<'a>),
    /// A part of the line, as it is (in `unmapped`).
    Line(&'a Value),
    /// A part of a typed exported line, as it is (in `unmapped`).
    Part(Part<'a>),
}

/// A part of a typed exported line that `unmapped` keeps.
#[derive(Debug)]
pub(super) enum Part<'a> {
    Party(&'a ExportedParty<'a>),
    Origin(&'a ExportedOrigin<'a>),
    Personal(&'a [ExportedPersonal<'a>]),
    Str(&'a str),
}

impl Serialize for Part<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Part::Party(party) => party.serialize(serializer),
            Part::Origin(origin) => origin.serialize(serializer),
            Part::Personal(items) => items.serialize(serializer),
            Part::Str(text) => serializer.serialize_str(text),
        }
    }
}

/// An object's members, in order; keys are never repeated.
pub(super) type Object<'a> = Vec<(&'a str, Json<'a>)>;

impl Json<'_> {
    pub(super) fn into_value(self) -> Value {
        match self {
            Json::Str(text) => Value::String(text.to_owned()),
            Json::String(text) => Value::String(text),
            Json::Int(number) => Value::from(number),
            Json::Uint(number) => Value::from(number),
            Json::Array(items) => Value::Array(items.into_iter().map(Json::into_value).collect()),
            Json::Object(members) => {
                let mut map = Map::with_capacity(members.len());
                for (key, value) in members {
                    map.insert(key.to_owned(), value.into_value());
                }
                Value::Object(map)
            }
            Json::Line(value) => value.clone(),
            Json::Part(part) => serde_json::to_value(&part).unwrap_or(Value::Null),
        }
    }
}

impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Str(text) => serializer.serialize_str(text),
            Json::String(text) => serializer.serialize_str(text),
            Json::Int(number) => serializer.serialize_i64(*number),
            Json::Uint(number) => serializer.serialize_u64(*number),
            Json::Array(items) => serializer.collect_seq(items),
            Json::Object(members) => {
                let mut map = serializer.serialize_map(Some(members.len()))?;
                for (key, value) in members {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
            Json::Line(value) => value.serialize(serializer),
            Json::Part(part) => part.serialize(serializer),
        }
    }
}

/// Adds `key: value` (a string) when there is a value.
pub(super) fn put_str<'a>(object: &mut Object<'a>, key: &'a str, value: Option<&'a str>) {
    if let Some(value) = value {
        object.push((key, Json::Str(value)));
    }
}

/// Adds an enum id and its caption sibling.
pub(super) fn put_enum<'a>(
    object: &mut Object<'a>,
    id_key: &'a str,
    id: u32,
    key: &'a str,
    caption: &'a str,
) {
    object.push((id_key, Json::Uint(u64::from(id))));
    object.push((key, Json::Str(caption)));
}

/// Whether the object already has `key`.
pub(super) fn has(object: &Object<'_>, key: &str) -> bool {
    object.iter().any(|(existing, _)| *existing == key)
}
