//! The exported form of one record (docs/contract.md section 3,
//! `schemas/events.schema.json`): what `jsonl` exports write, and what the
//! OCSF and CEF renderings are made from.
//!
//! Besides the readable fields, each line carries the chain material an
//! offline verifier needs: the record's encoded header and, when it may be
//! shown, its encoded payload (`chain`). With them and the public key alone,
//! `cairn audit verify --export` recomputes every hash, checks the links and
//! the signed checkpoints, and re-renders the line to compare it with what
//! the file says, every field of it:
//! - personal data (names, email, IP address, user agent) is sealed in the
//!   header under its subject's key; the line ships each item's opening
//!   (`chain.personal`, see `cairn_core::crypto::opening`), the key of that
//!   one box, so the verifier opens the signed ciphertext and checks what
//!   the line shows. An erased subject's item has no opening and shows
//!   `"erased": true`.
//! - payloads that hold sealed values or credentials (secrets, connections,
//!   password hashes, API key digests) are withheld, and so are their
//!   details: the header commits to the payload's bytes, which the line
//!   cannot carry, so any detail shown could not be checked. The line says
//!   `{"withheld": true}`, and so do the OCSF and CEF renderings made from
//!   it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cairn_core::log::{Personal, codec};
use std::borrow::Cow;

use cairn_schemas::{Action, EventPayload, Header, PersonalData, Record};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Value, json};

use crate::record_json::{RecordView, details_json};
use crate::time_format::rfc3339_micros;

/// Whether a payload may travel in an export's `chain.payload`: not when
/// it holds a sealed value, a sealed credential or a key digest.
pub fn payload_is_exportable(payload: &EventPayload) -> bool {
    !matches!(
        payload,
        EventPayload::UserCreated(_)
            | EventPayload::UserPasswordChanged(_)
            | EventPayload::ApiKeyCreated(_)
            | EventPayload::SecretCreated(_)
            | EventPayload::SecretRotated(_)
            | EventPayload::ConnectionCreated(_)
            | EventPayload::ConnectionUpdated(_)
    )
}

/// Whether the records of `action` carry payloads that exports withhold
/// (the actions of the payloads [`payload_is_exportable`] refuses). A
/// line whose payload is absent says `withheld` for these and `pruned`
/// for the others: both sides of an export decide it from the header.
pub fn action_withholds_payload(action: Action) -> bool {
    matches!(
        action,
        Action::UserCreated
            | Action::UserPasswordChanged
            | Action::ApiKeyCreated
            | Action::SecretCreated
            | Action::SecretRotated
            | Action::ConnectionCreated
            | Action::ConnectionUpdated
    )
}

/// The details of a record whose payload a line does not carry: `null`
/// when it never had one, else `{"withheld":true}` or `{"pruned":true}`
/// by its action. All of it follows from the header alone.
pub fn absent_details(header: &Header) -> Value {
    if header.payload_digest == [0; 32] {
        Value::Null
    } else if action_withholds_payload(header.action) {
        json!({"withheld": true})
    } else {
        json!({"pruned": true})
    }
}

/// The details of a record, and the payload bytes its line carries: the
/// sanitized details when the payload may travel with the line, else only
/// what the header proves ([`absent_details`]).
fn details_of(record: &Record) -> (Value, Option<&[u8]>) {
    match &record.payload {
        Some(bytes) => match codec::decode_payload(bytes) {
            Ok(payload) if payload_is_exportable(&payload) => {
                (details_json(&payload), Some(bytes.as_slice()))
            }
            Ok(_) => (absent_details(&record.header), None),
            Err(error) => (json!({"undecodable": error.to_string()}), None),
        },
        None => (absent_details(&record.header), None),
    }
}

/// The opened personal data of one subject, if readable.
fn personal_of<'a>(view: &'a RecordView<'_>, subject: Option<uuid::Uuid>) -> Option<&'a Personal> {
    let subject = subject?;
    view.record
        .header
        .personal
        .iter()
        .zip(&view.personal)
        .find(|(sealed, _)| sealed.subject == subject)
        .map(|(_, opened)| opened)
}

/// An actor or a resource of an exported line.
#[derive(Clone, Debug, Serialize)]
pub struct ExportedParty<'a> {
    /// Its kind.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Its id.
    pub id: Option<String>,
    /// Its name, when the record says it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Cow<'a, str>>,
}

/// Where the request came from.
#[derive(Clone, Debug, Serialize)]
pub struct ExportedOrigin<'a> {
    /// The client's address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<&'a str>,
    /// The client's user agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<&'a str>,
    /// The request id.
    pub request_id: Option<&'a str>,
}

/// One personal item: its subject, then what was opened, or `erased`.
#[derive(Clone, Debug)]
pub struct ExportedPersonal<'a> {
    /// The subject.
    pub subject: String,
    /// The opened data; `None` when the subject was erased.
    pub data: Option<&'a PersonalData>,
}

impl Serialize for ExportedPersonal<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("subject", &self.subject)?;
        match self.data {
            Some(data) => {
                for (key, value) in [
                    ("name", &data.name),
                    ("email", &data.email),
                    ("ip", &data.ip),
                    ("user_agent", &data.user_agent),
                ] {
                    if let Some(value) = value {
                        map.serialize_entry(key, value)?;
                    }
                }
            }
            None => map.serialize_entry("erased", &true)?,
        }
        map.end()
    }
}

/// The chain material of a line.
#[derive(Clone, Debug, Serialize)]
pub struct ExportedChain {
    /// The encoded header, base64.
    pub header: String,
    /// The encoded payload, base64, unless withheld or pruned.
    pub payload: Option<String>,
    /// The opening of each sealed personal item of the header, in order
    /// (base64 of 32 bytes), `None` for an erased subject; left out when
    /// the header has no personal items.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub personal: Vec<Option<String>>,
}

/// A record in the exported form, serialized straight to JSON (no
/// intermediate `serde_json::Value` but the payload's details). Its JSON is
/// exactly [`export_line`]'s.
#[derive(Clone, Debug, Serialize)]
pub struct ExportedLine<'a> {
    /// The seq.
    pub seq: u64,
    /// The event id.
    pub id: String,
    /// The time, RFC 3339 with microseconds.
    pub time: String,
    /// The org.
    pub org: Option<String>,
    /// Who acted.
    pub actor: ExportedParty<'a>,
    /// The action.
    pub action: &'static str,
    /// What it was done to.
    pub resource: ExportedParty<'a>,
    /// `success`, `denied` or `failure`.
    pub outcome: &'static str,
    /// Where the request came from.
    pub origin: ExportedOrigin<'a>,
    /// The personal items.
    pub personal: Vec<ExportedPersonal<'a>>,
    /// The sanitized details (of a withheld payload: `{"withheld":true}`).
    pub details: Value,
    /// The previous record's hash, hex.
    pub prev_hash: String,
    /// This record's hash, hex.
    pub hash: String,
    /// What offline verification needs.
    pub chain: ExportedChain,
}

impl<'a> ExportedLine<'a> {
    /// The exported form of a record whose personal data is opened,
    /// without the openings (for OCSF and CEF, which are not verified).
    pub fn of(view: &'a RecordView<'a>) -> ExportedLine<'a> {
        ExportedLine::with_openings(view, Vec::new())
    }

    /// The exported form of a record whose personal data is opened, with
    /// the opening of each personal item (see
    /// [`crate::record_json::open_personal_for_export`]) so that an
    /// offline verifier can check it.
    pub fn with_openings(
        view: &'a RecordView<'a>,
        openings: Vec<Option<String>>,
    ) -> ExportedLine<'a> {
        let record = view.record;
        let header = &record.header;
        let (details, payload_bytes) = details_of(record);
        let actor_personal = personal_of(view, header.actor.id);
        let actor_name = match actor_personal {
            Some(Personal::Data(data)) => data.name.as_deref().map(Cow::Borrowed),
            _ => None,
        };
        let resource_name = match personal_of(view, header.resource.id) {
            Some(Personal::Data(data)) => data.name.as_deref().map(Cow::Borrowed),
            _ => details
                .get("name")
                .and_then(Value::as_str)
                .map(|name| Cow::Owned(name.to_string())),
        };
        // Where the request came from: the actor's own item, else the
        // first item that names an address (refusals of anonymous callers).
        let origin_data = match actor_personal {
            Some(Personal::Data(data)) if data.ip.is_some() => Some(data),
            _ => view.personal.iter().find_map(|opened| match opened {
                Personal::Data(data) if data.ip.is_some() => Some(data),
                _ => None,
            }),
        };
        let personal = header
            .personal
            .iter()
            .zip(&view.personal)
            .map(|(sealed, opened)| ExportedPersonal {
                subject: sealed.subject.to_string(),
                data: match opened {
                    Personal::Data(data) => Some(data),
                    Personal::Erased => None,
                },
            })
            .collect();
        let header_bytes = codec::encode_header(header).unwrap_or_default();
        ExportedLine {
            seq: header.seq,
            id: header.id.to_string(),
            time: rfc3339_micros(header.at),
            org: header.org.map(|org| org.to_string()),
            actor: ExportedParty {
                kind: header.actor.kind.as_str(),
                id: header.actor.id.map(|id| id.to_string()),
                name: actor_name,
            },
            action: header.action.as_str(),
            resource: ExportedParty {
                kind: header.resource.kind.as_str(),
                id: header.resource.id.map(|id| id.to_string()),
                name: resource_name,
            },
            outcome: header.outcome.as_str(),
            origin: ExportedOrigin {
                ip: origin_data.and_then(|data| data.ip.as_deref()),
                user_agent: origin_data.and_then(|data| data.user_agent.as_deref()),
                request_id: header.request_id.as_deref(),
            },
            personal,
            details,
            prev_hash: hex::encode(header.prev_hash),
            hash: hex::encode(record.hash),
            chain: ExportedChain {
                header: STANDARD.encode(header_bytes),
                payload: payload_bytes.map(|bytes| STANDARD.encode(bytes)),
                personal: openings,
            },
        }
    }
}

/// Renders a record in the exported form, chain material included (with
/// the openings of its personal items), as a `serde_json::Value`: the
/// verifiable jsonl line. Exports serialize [`ExportedLine`] directly.
pub fn export_line_with_openings(view: &RecordView<'_>, openings: Vec<Option<String>>) -> Value {
    serde_json::to_value(ExportedLine::with_openings(view, openings)).unwrap_or(Value::Null)
}

/// Renders a record in the exported form, chain material included, as a
/// `serde_json::Value` (for checks and tests; exports serialize
/// [`ExportedLine`] directly).
pub fn export_line(view: &RecordView<'_>) -> Value {
    serde_json::to_value(ExportedLine::of(view)).unwrap_or(Value::Null)
}
