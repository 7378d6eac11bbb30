//! The whole event: the attributes every class shares (classification,
//! time, outcome, `metadata`, actor, `unmapped`) around the class's own.

use super::class_attributes::put_class_attributes;
use super::classification::{Class, classify};
use super::event_time::epoch_millis;
use super::json::{Json, Object, Part, put_enum, put_str};
use super::line::Line;
use super::objects::{actor_object, http_request, src_endpoint};
use super::{LOG_NAME, OCSF_VERSION, PRODUCT};

/// The fields of the line `unmapped` keeps, in the line's order: what the
/// mapped attributes do not carry verbatim. (Seq, id, time, org and action
/// are in `metadata`; the chain material for offline verification is in
/// the `jsonl` export.)
const UNMAPPED: [&str; 8] = [
    "actor",
    "resource",
    "outcome",
    "origin",
    "personal",
    "details",
    "prev_hash",
    "hash",
];

/// The whole event.
pub(super) fn render<'a>(line: &Line<'a>) -> Object<'a> {
    let (class, activity) = classify(line.action, line.details);
    let (class_uid, class_name) = class.id_and_name();
    let (category_uid, category_name) = class.category();

    let mut event = Vec::with_capacity(32);
    put_enum(
        &mut event,
        "category_uid",
        category_uid,
        "category_name",
        category_name,
    );
    put_enum(&mut event, "class_uid", class_uid, "class_name", class_name);
    put_enum(
        &mut event,
        "activity_id",
        activity.id,
        "activity_name",
        activity.name,
    );
    let type_uid = u64::from(class_uid) * 100 + u64::from(activity.id);
    event.push(("type_uid", Json::Uint(type_uid)));
    event.push(("type_name", Json::Str(activity.type_name)));
    let time = line.time.and_then(epoch_millis).unwrap_or(0);
    event.push(("time", Json::Int(time)));
    event.push(("timezone_offset", Json::Int(0)));
    put_outcome(&mut event, line);
    let mut message = String::with_capacity(line.action_name.len() + 1 + line.outcome.len());
    message.push_str(line.action_name);
    message.push(' ');
    message.push_str(line.outcome);
    event.push(("message", Json::String(message)));
    event.push(("metadata", metadata(line, class)));

    event.push(("actor", actor_object(&line.actor)));
    let required = class == Class::ApiActivity;
    if class.has_src_endpoint()
        && let Some(endpoint) = src_endpoint(line, required)
    {
        event.push(("src_endpoint", endpoint));
    }
    let http_shaped = matches!(
        class,
        Class::HttpActivity | Class::WebResourceAccessActivity
    );
    if class.has_http_request()
        && let Some(request) = http_request(line, http_shaped)
    {
        event.push(("http_request", request));
    }
    put_class_attributes(&mut event, line, class);

    let mut unmapped = Vec::with_capacity(UNMAPPED.len());
    if let Some(exported) = line.exported {
        unmapped.extend([
            ("actor", Json::Part(Part::Party(&exported.actor))),
            ("resource", Json::Part(Part::Party(&exported.resource))),
            ("outcome", Json::Part(Part::Str(exported.outcome))),
            ("origin", Json::Part(Part::Origin(&exported.origin))),
            ("personal", Json::Part(Part::Personal(&exported.personal))),
            ("details", Json::Line(&exported.details)),
            ("prev_hash", Json::Part(Part::Str(&exported.prev_hash))),
            ("hash", Json::Part(Part::Str(&exported.hash))),
        ]);
    }
    for (key, value) in line.fields.into_iter().flatten() {
        if UNMAPPED.contains(&key.as_str()) {
            unmapped.push((key.as_str(), Json::Line(value)));
        }
    }
    event.push(("unmapped", Json::Object(unmapped)));
    event
}

/// `status_id`/`status` (and `status_detail`), `severity_id`/`severity`,
/// and for refusals the `security_control` profile's action and
/// disposition.
fn put_outcome<'a>(event: &mut Object<'a>, line: &Line<'a>) {
    let (status_id, status, severity_id, severity) = match line.outcome {
        "success" => (1, "Success", 1, "Informational"),
        "failure" => (2, "Failure", 2, "Low"),
        "denied" => (2, "Failure", 3, "Medium"),
        _ => (0, "Unknown", 0, "Unknown"),
    };
    put_enum(event, "severity_id", severity_id, "severity", severity);
    put_enum(event, "status_id", status_id, "status", status);
    if status_id != 1 {
        // Why it failed, in Cairn's words: a login's reason code, a
        // denial's reason, else the outcome itself.
        let detail = line.detail("reason").unwrap_or(line.outcome);
        event.push(("status_detail", Json::Str(detail)));
    }
    if let Some(status) = line.detail_u64("status") {
        event.push(("status_code", Json::String(status.to_string())));
    }
    if line.outcome == "denied" {
        put_enum(event, "action_id", 2, "action", "Denied");
        put_enum(event, "disposition_id", 2, "disposition", "Blocked");
    }
}

/// `metadata`: the OCSF version, the product, and the line's identity.
fn metadata<'a>(line: &Line<'a>, class: Class) -> Json<'a> {
    let product = vec![
        ("name", Json::Str(PRODUCT)),
        ("vendor_name", Json::Str(PRODUCT)),
        ("version", Json::Str(env!("CARGO_PKG_VERSION"))),
    ];
    let mut metadata = Vec::with_capacity(11);
    metadata.push(("version", Json::Str(OCSF_VERSION)));
    metadata.push(("product", Json::Object(product)));
    let mut profiles = Vec::new();
    if class.actor_needs_host_profile() {
        profiles.push(Json::Str("host"));
    }
    if line.outcome == "denied" {
        profiles.push(Json::Str("security_control"));
    }
    if !profiles.is_empty() {
        metadata.push(("profiles", Json::Array(profiles)));
    }
    put_str(&mut metadata, "uid", line.id);
    if let Some(seq) = line.seq {
        metadata.push(("sequence", Json::Uint(seq)));
    }
    metadata.push(("event_code", Json::Str(line.action_name)));
    metadata.push(("log_name", Json::Str(LOG_NAME)));
    put_str(&mut metadata, "original_time", line.time);
    put_str(&mut metadata, "tenant_uid", line.org);
    put_str(&mut metadata, "correlation_uid", line.request_id);
    Json::Object(metadata)
}
