//! The exported form of one record (DESIGN.md section 3,
//! `schemas/events.schema.json`): what `jsonl` exports write, and what the
//! OCSF and CEF renderings are made from.
//!
//! Besides the readable fields, each line carries the chain material an
//! offline verifier needs: the record's encoded header and, when it may be
//! shown, its encoded payload (`chain`). With them and the public key alone,
//! `cairn audit verify --export` recomputes every hash, checks the links and
//! the signed checkpoints, and re-renders the line to compare it with what
//! the file says. Payloads that hold sealed values or credentials (secrets,
//! connections, password hashes, API key digests) are withheld: their
//! details are shown (fingerprints only) but cannot be checked offline.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cairn_core::log::{Personal, codec};
use cairn_schemas::{EventPayload, Record};
use serde_json::{Map, Value, json};

use crate::record_json::{RecordView, details_json, personal_items};
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

/// The details of a record: `null` when it never had a payload,
/// `{"pruned":true}` when retention dropped it, the sanitized details
/// otherwise; and whether the payload may be exported.
fn details_of(record: &Record) -> (Value, Option<&[u8]>) {
    match &record.payload {
        None if record.header.payload_digest == [0; 32] => (Value::Null, None),
        None => (json!({"pruned": true}), None),
        Some(bytes) => match codec::decode_payload(bytes) {
            Ok(payload) => {
                let shown = payload_is_exportable(&payload).then_some(bytes.as_slice());
                (details_json(&payload), shown)
            }
            Err(error) => (json!({"undecodable": error.to_string()}), None),
        },
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

/// Renders a record in the exported form, chain material included.
pub fn export_line(view: &RecordView<'_>) -> Value {
    let record = view.record;
    let header = &record.header;
    let (details, payload_bytes) = details_of(record);

    let mut actor = Map::new();
    actor.insert("type".into(), json!(header.actor.kind.as_str()));
    actor.insert("id".into(), json!(header.actor.id.map(|id| id.to_string())));
    let actor_personal = personal_of(view, header.actor.id);
    if let Some(Personal::Data(data)) = actor_personal
        && let Some(name) = &data.name
    {
        actor.insert("name".into(), json!(name));
    }

    let mut resource = Map::new();
    resource.insert("type".into(), json!(header.resource.kind.as_str()));
    resource.insert(
        "id".into(),
        json!(header.resource.id.map(|id| id.to_string())),
    );
    let resource_name = match personal_of(view, header.resource.id) {
        Some(Personal::Data(data)) => data.name.clone(),
        _ => details
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_string),
    };
    if let Some(name) = resource_name {
        resource.insert("name".into(), json!(name));
    }

    // Where the request came from: the actor's own item, else the first
    // item that names an address (refusals of anonymous callers).
    let mut origin = Map::new();
    let origin_data = match actor_personal {
        Some(Personal::Data(data)) if data.ip.is_some() => Some(data),
        _ => view.personal.iter().find_map(|opened| match opened {
            Personal::Data(data) if data.ip.is_some() => Some(data),
            _ => None,
        }),
    };
    if let Some(data) = origin_data {
        if let Some(ip) = &data.ip {
            origin.insert("ip".into(), json!(ip));
        }
        if let Some(agent) = &data.user_agent {
            origin.insert("user_agent".into(), json!(agent));
        }
    }
    origin.insert("request_id".into(), json!(header.request_id));

    let personal = personal_items(view);

    let header_bytes = codec::encode_header(header).unwrap_or_default();
    json!({
        "seq": header.seq,
        "id": header.id.to_string(),
        "time": rfc3339_micros(header.at),
        "org": header.org.map(|org| org.to_string()),
        "actor": actor,
        "action": header.action.as_str(),
        "resource": resource,
        "outcome": header.outcome.as_str(),
        "origin": origin,
        "personal": personal,
        "details": details,
        "prev_hash": hex::encode(header.prev_hash),
        "hash": hex::encode(record.hash),
        "chain": {
            "header": STANDARD.encode(header_bytes),
            "payload": payload_bytes.map(|bytes| STANDARD.encode(bytes)),
        },
    })
}

/// The parts of a line that come from sealed personal data: they cannot be
/// checked offline (they are encrypted in the header) and are set aside
/// before a line is compared with its re-rendering.
pub fn strip_personal(line: &mut Value) {
    if let Some(actor) = line.get_mut("actor").and_then(Value::as_object_mut) {
        actor.remove("name");
    }
    if let Some(resource) = line.get_mut("resource").and_then(Value::as_object_mut) {
        resource.remove("name");
    }
    if let Some(origin) = line.get_mut("origin").and_then(Value::as_object_mut) {
        origin.remove("ip");
        origin.remove("user_agent");
    }
    if let Some(items) = line.get_mut("personal").and_then(Value::as_array_mut) {
        for item in items {
            if let Some(item) = item.as_object_mut() {
                item.retain(|key, _| key == "subject");
            }
        }
    }
}
