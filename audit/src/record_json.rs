//! One record as one JSON object, in the exported form of docs/contract.md
//! section 3, with the personal data opened (or marked erased).
//!
//! `raw` adds what is stored for debugging: the payload digest, the sealed
//! personal items' ciphertexts and the encoded payload. Never plaintext
//! secrets: payloads hold secret values only as ciphertext to begin with.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use cairn_core::crypto::format_fingerprint;
use cairn_core::crypto::opening::open_with_opening;
use cairn_core::log::{LogReader, Personal, PersonalError, codec};
use cairn_schemas::{EventPayload, PersonalData, Record};
use serde_json::{Map, Value, json};

use crate::time_format::rfc3339_micros;

/// A record with its personal data already opened, in header order.
#[derive(Debug)]
pub struct RecordView<'a> {
    /// The record.
    pub record: &'a Record,
    /// Each sealed item of `record.header.personal`, opened.
    pub personal: Vec<Personal>,
}

fn personal_json(data: &PersonalData) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in [
        ("name", &data.name),
        ("email", &data.email),
        ("ip", &data.ip),
        ("user_agent", &data.user_agent),
    ] {
        if let Some(value) = value {
            out.insert(key.into(), Value::String(value.clone()));
        }
    }
    out
}

/// Opens every sealed personal item of a record, under its subject's key
/// (an erased subject's items as [`Personal::Erased`]).
pub fn open_personal(reader: &LogReader, record: &Record) -> Result<Vec<Personal>, PersonalError> {
    record
        .header
        .personal
        .iter()
        .map(|sealed| reader.open_personal(sealed))
        .collect()
}

/// Opens every sealed personal item of a record for an export: each item
/// opened through its opening (`cairn_core::crypto::opening`), and the
/// opening itself (base64) that the line ships so that an offline verifier
/// can open the same bytes; `None` for an erased subject.
pub fn open_personal_for_export(
    reader: &LogReader,
    record: &Record,
) -> Result<(Vec<Personal>, Vec<Option<String>>), PersonalError> {
    let mut opened = Vec::with_capacity(record.header.personal.len());
    let mut openings = Vec::with_capacity(record.header.personal.len());
    for sealed in &record.header.personal {
        match reader.personal_opening(sealed)? {
            None => {
                opened.push(Personal::Erased);
                openings.push(None);
            }
            Some(opening) => {
                let plain = open_with_opening(&opening, &sealed.nonce, &sealed.ciphertext)
                    .map_err(|_| PersonalError::Forged(sealed.subject))?;
                opened.push(Personal::Data(codec::decode(&plain)?));
                openings.push(Some(STANDARD.encode(opening.as_slice())));
            }
        }
    }
    Ok((opened, openings))
}

/// The personal items of a record as JSON: the subject, then what was
/// opened, or `"erased": true`.
pub(crate) fn personal_items(view: &RecordView<'_>) -> Vec<Value> {
    view.record
        .header
        .personal
        .iter()
        .zip(&view.personal)
        .map(|(sealed, opened)| {
            let mut item = Map::new();
            item.insert("subject".into(), Value::String(sealed.subject.to_string()));
            match opened {
                Personal::Data(data) => item.extend(personal_json(data)),
                Personal::Erased => {
                    item.insert("erased".into(), Value::Bool(true));
                }
            }
            Value::Object(item)
        })
        .collect()
}

/// A retention policy as JSON: one object per class.
pub fn policy_json(policy: &cairn_schemas::RetentionPolicy) -> Value {
    let class = |class: &cairn_schemas::ClassPolicy| {
        json!({
            "cadence_secs": class.cadence_secs,
            "max_age_days": class.max_age_days,
            "max_count": class.max_count,
        })
    };
    json!({
        "security": class(&policy.security),
        "activity": class(&policy.activity),
        "operational": class(&policy.operational),
    })
}

/// The payload's details as JSON (hashes and signatures as hex).
pub fn details_json(payload: &EventPayload) -> Value {
    match payload {
        EventPayload::SystemStarted(started) => json!({
            "version": started.version,
            "record_format": started.record_format,
            "recovered_head": started.recovered_head,
            "torn_records_dropped": started.torn_records_dropped,
        }),
        EventPayload::CheckpointSigned(checkpoint) => json!({
            "key_id": checkpoint.key_id,
            "seq": checkpoint.seq,
            "hash": hex::encode(checkpoint.hash),
            "at": rfc3339_micros(checkpoint.at),
            "signature": hex::encode(&checkpoint.signature),
        }),
        EventPayload::HttpRequest(request) => json!({
            "method": request.method,
            "path": request.path,
            "status": request.status,
            "duration_micros": request.duration_micros,
        }),
        EventPayload::HttpThrottled(throttled) => json!({
            "rate_limited": throttled.rate_limited,
            "shed": throttled.shed,
            "first": rfc3339_micros(throttled.first_at),
            "last": rfc3339_micros(throttled.last_at),
            "window_secs": throttled.window_secs,
            "overflow": throttled.overflow,
        }),
        // Credentials (sealed PHC strings) and API key digests are never
        // rendered: they serve authentication, not review.
        EventPayload::UserCreated(created) => json!({
            "user_id": created.user_id.to_string(),
            "org_id": created.org_id.to_string(),
            "role": created.role.as_str(),
            "is_active": created.is_active,
            "is_superuser": created.is_superuser,
        }),
        EventPayload::UserActivated(user)
        | EventPayload::UserDeactivated(user)
        | EventPayload::UserDeleted(user)
        | EventPayload::UserErased(user) => json!({"user_id": user.user_id.to_string()}),
        EventPayload::UserPasswordChanged(changed) => json!({
            "user_id": changed.user_id.to_string(),
            "reset_by_admin": changed.reset_by_admin,
        }),
        EventPayload::UserRoleChanged(changed) => json!({
            "user_id": changed.user_id.to_string(),
            "org_id": changed.org_id.to_string(),
            "previous": changed.previous.as_str(),
            "role": changed.role.as_str(),
        }),
        EventPayload::LoginSucceeded(login) => json!({
            "user_id": login.user_id.to_string(),
            "org_id": login.org_id.to_string(),
            "session_id": login.session_id.to_string(),
            "expires_at": rfc3339_micros(login.expires_at),
            "username_fingerprint": format_fingerprint(&login.username_fingerprint),
        }),
        EventPayload::LoginFailed(failed) => json!({
            "username_fingerprint": format_fingerprint(&failed.username_fingerprint),
            "user_id": failed.user_id.map(|id| id.to_string()),
            "reason": failed.reason.as_str(),
        }),
        EventPayload::Logout(logout) => json!({"session_id": logout.session_id.to_string()}),
        EventPayload::ApiKeyCreated(created) => json!({
            "key_id": created.key_id.to_string(),
            "user_id": created.user_id.to_string(),
            "org_id": created.org_id.to_string(),
            "name": created.name,
            "prefix": created.prefix,
            "expires_at": created.expires_at.map(rfc3339_micros),
        }),
        EventPayload::ApiKeyRevoked(revoked) => json!({"key_id": revoked.key_id.to_string()}),
        EventPayload::OrgCreated(created) => json!({
            "org_id": created.org_id.to_string(),
            "name": created.name,
        }),
        EventPayload::OrgMemberAdded(added) => json!({
            "org_id": added.org_id.to_string(),
            "user_id": added.user_id.to_string(),
            "role": added.role.as_str(),
        }),
        EventPayload::OrgMemberRemoved(removed) => json!({
            "org_id": removed.org_id.to_string(),
            "user_id": removed.user_id.to_string(),
        }),
        EventPayload::AuditQueried(queried) => json!({
            "query": queried.query,
            "returned": queried.returned,
            "next": queried.next,
        }),
        EventPayload::AuditExported(exported) => json!({
            "format": exported.format,
            "query": exported.query,
            "from_seq": exported.from_seq,
            "to_seq": exported.to_seq,
        }),
        EventPayload::RetentionPolicySet(set) => json!({
            "setting": "retention",
            "policy": policy_json(&set.policy),
            "previous": set.previous.as_ref().map(policy_json),
        }),
        EventPayload::RetentionPruned(pruned) => json!({
            "snapshot_seq": pruned.snapshot_seq,
            "horizons": pruned.horizons.iter().map(|horizon| json!({
                "class": horizon.class.as_str(),
                "up_to_seq": horizon.up_to_seq,
                "up_to": (horizon.up_to_at > 0).then(|| rfc3339_micros(horizon.up_to_at)),
                "pruned": horizon.pruned,
            })).collect::<Vec<_>>(),
            "policy": policy_json(&pruned.policy),
        }),
        EventPayload::BootstrapAdmin(bootstrap) => json!({
            "user_id": bootstrap.user_id.to_string(),
            "org_id": bootstrap.org_id.to_string(),
        }),
        secrets_or_runs @ (EventPayload::SecretCreated(_)
        | EventPayload::SecretRotated(_)
        | EventPayload::SecretDeleted(_)
        | EventPayload::SecretRevealed(_)
        | EventPayload::SecretResolved(_)
        | EventPayload::ConnectionCreated(_)
        | EventPayload::ConnectionUpdated(_)
        | EventPayload::ConnectionDeleted(_)
        | EventPayload::RunRequested(_)
        | EventPayload::RunStarted(_)
        | EventPayload::RunStepFinished(_)
        | EventPayload::RunFinished(_)
        | EventPayload::ScheduleCreated(_)
        | EventPayload::ScheduleDeleted(_)
        | EventPayload::ScheduleFired(_)
        | EventPayload::SchedulePinned(_)
        | EventPayload::ScheduleSuspended(_)
        | EventPayload::ScheduleResumed(_)
        | EventPayload::RunDefinitionPinned(_)) => secrets_and_runs_json(secrets_or_runs),
        sharing @ (EventPayload::GroupCreated(_)
        | EventPayload::GroupDeleted(_)
        | EventPayload::GroupMemberAdded(_)
        | EventPayload::GroupMemberRemoved(_)
        | EventPayload::GroupMemberRoleChanged(_)
        | EventPayload::NamespaceCreated(_)
        | EventPayload::NamespaceUpdated(_)
        | EventPayload::NamespaceDeleted(_)
        | EventPayload::FlowCreated(_)
        | EventPayload::FlowUpdated(_)
        | EventPayload::FlowDeleted(_)
        | EventPayload::GrantCreated(_)
        | EventPayload::GrantRevoked(_)
        | EventPayload::AccessDenied(_)) => sharing_details_json(sharing),
    }
}

/// The details of the sharing events (groups, catalog, grants, denials).
fn sharing_details_json(payload: &EventPayload) -> Value {
    match payload {
        EventPayload::GroupCreated(created) => json!({
            "group_id": created.group_id.to_string(),
            "org_id": created.org_id.to_string(),
            "name": created.name,
            "owner_id": created.owner_id.to_string(),
        }),
        EventPayload::GroupDeleted(deleted) => json!({"group_id": deleted.group_id.to_string()}),
        EventPayload::GroupMemberAdded(added) => json!({
            "group_id": added.group_id.to_string(),
            "user_id": added.user_id.to_string(),
            "role": added.role.as_str(),
        }),
        EventPayload::GroupMemberRemoved(removed) => json!({
            "group_id": removed.group_id.to_string(),
            "user_id": removed.user_id.to_string(),
        }),
        EventPayload::GroupMemberRoleChanged(changed) => json!({
            "group_id": changed.group_id.to_string(),
            "user_id": changed.user_id.to_string(),
            "previous": changed.previous.as_str(),
            "role": changed.role.as_str(),
        }),
        EventPayload::NamespaceCreated(created) => json!({
            "namespace_id": created.namespace_id.to_string(),
            "org_id": created.org_id.to_string(),
            "parent_id": created.parent_id.map(|id| id.to_string()),
            "name": created.name,
            "owner_id": created.owner_id.map(|id| id.to_string()),
            "system": created.system,
        }),
        EventPayload::NamespaceUpdated(updated) => json!({
            "namespace_id": updated.namespace_id.to_string(),
            "name": updated.name,
        }),
        EventPayload::NamespaceDeleted(deleted) => {
            json!({"namespace_id": deleted.namespace_id.to_string()})
        }
        EventPayload::FlowCreated(created) => json!({
            "flow_id": created.flow_id.to_string(),
            "org_id": created.org_id.to_string(),
            "namespace_id": created.namespace_id.to_string(),
            "name": created.name,
            "owner_id": created.owner_id.to_string(),
            "definition": definition_json(&created.definition),
        }),
        EventPayload::FlowUpdated(updated) => json!({
            "flow_id": updated.flow_id.to_string(),
            "namespace_id": updated.namespace_id.to_string(),
            "name": updated.name,
            "definition": definition_json(&updated.definition),
        }),
        EventPayload::FlowDeleted(deleted) => json!({"flow_id": deleted.flow_id.to_string()}),
        EventPayload::GrantCreated(grant) => json!({
            "grant_id": grant.grant_id.to_string(),
            "org_id": grant.org_id.to_string(),
            "resource_type": grant.resource_kind.as_str(),
            "resource_id": grant.resource_id.to_string(),
            "grantee_type": grant.grantee_kind.as_str(),
            "grantee_id": grant.grantee_id.to_string(),
            "level": grant.level.as_str(),
            "granted_by": grant.granted_by.to_string(),
        }),
        EventPayload::GrantRevoked(revoked) => json!({"grant_id": revoked.grant_id.to_string()}),
        EventPayload::AccessDenied(denied) => json!({
            "method": denied.method,
            "path": denied.path,
            "status": denied.status,
            "action": denied.action.map(|action| action.as_str()),
            "reason": denied.reason,
        }),
        // Only the variants above are passed in.
        _ => Value::Null,
    }
}

/// The details of secret, connection, run and schedule events. Sealed
/// values are shown only as their fingerprints (and, in `--raw` dumps, as
/// the stored ciphertext: see [`sealed_values`]).
fn secrets_and_runs_json(payload: &EventPayload) -> Value {
    let id = |id: &uuid::Uuid| Value::String(id.to_string());
    match payload {
        EventPayload::SecretCreated(created) => json!({
            "secret_id": id(&created.secret_id),
            "org_id": id(&created.org_id),
            "owner_id": id(&created.owner_id),
            "name": created.name,
            "version": 1,
            "fingerprint": format_fingerprint(&created.fingerprint),
        }),
        EventPayload::SecretRotated(rotated) => json!({
            "secret_id": id(&rotated.secret_id),
            "version": rotated.version,
            "fingerprint": format_fingerprint(&rotated.fingerprint),
        }),
        EventPayload::SecretDeleted(deleted) => json!({"secret_id": id(&deleted.secret_id)}),
        EventPayload::ConnectionDeleted(deleted) => {
            json!({"connection_id": id(&deleted.secret_id)})
        }
        EventPayload::SecretRevealed(revealed) => json!({
            "secret_id": id(&revealed.secret_id),
            "version": revealed.version,
        }),
        EventPayload::SecretResolved(resolved) => json!({
            "secret_id": id(&resolved.secret_id),
            "owner_id": id(&resolved.owner_id),
            "version": resolved.version,
            "run_id": id(&resolved.run_id),
            "invoker_id": id(&resolved.invoker_id),
        }),
        EventPayload::ConnectionCreated(created) => json!({
            "connection_id": id(&created.connection_id),
            "org_id": id(&created.org_id),
            "owner_id": id(&created.owner_id),
            "name": created.name,
            "kind": created.kind.as_str(),
            "target": definition_json(&created.target),
            "credentials_fingerprint": format_fingerprint(&created.fingerprint),
        }),
        EventPayload::ConnectionUpdated(updated) => json!({
            "connection_id": id(&updated.connection_id),
            "name": updated.name,
            "target": definition_json(&updated.target),
            "credentials_fingerprint": updated.fingerprint.as_ref().map(format_fingerprint),
        }),
        EventPayload::RunRequested(run) => json!({
            "run_id": id(&run.run_id),
            "flow_id": id(&run.flow_id),
            "org_id": id(&run.org_id),
            "invoker_id": id(&run.invoker_id),
            "schedule_id": run.schedule_id.as_ref().map(id),
        }),
        EventPayload::RunStarted(run) => json!({"run_id": id(&run.run_id)}),
        EventPayload::RunStepFinished(step) => json!({
            "run_id": id(&step.run_id),
            "index": step.index,
            "step_id": step.step_id,
            "status": step.status.as_str(),
            "output": definition_json(&step.output),
        }),
        EventPayload::RunFinished(run) => json!({
            "run_id": id(&run.run_id),
            "status": run.status.as_str(),
            "error": run.error,
        }),
        EventPayload::ScheduleCreated(created) => json!({
            "schedule_id": id(&created.schedule_id),
            "org_id": id(&created.org_id),
            "flow_id": id(&created.flow_id),
            "owner_id": id(&created.owner_id),
            "cron": created.cron,
        }),
        EventPayload::ScheduleDeleted(deleted) => {
            json!({"schedule_id": id(&deleted.schedule_id)})
        }
        EventPayload::ScheduleFired(fired) => json!({
            "schedule_id": id(&fired.schedule_id),
            "due_at": rfc3339_micros(fired.due_at),
            "outcome": fired.outcome.as_str(),
            "run_id": fired.run_id.as_ref().map(id),
            "missed": fired.missed,
        }),
        EventPayload::SchedulePinned(pinned) | EventPayload::ScheduleResumed(pinned) => json!({
            "schedule_id": id(&pinned.schedule_id),
            "flow_id": id(&pinned.flow_id),
            "digest": pinned.digest,
            "author_id": id(&pinned.author_id),
        }),
        EventPayload::ScheduleSuspended(suspended) => json!({
            "schedule_id": id(&suspended.schedule_id),
            "flow_id": id(&suspended.flow_id),
            "by_id": id(&suspended.by_id),
            "old_digest": suspended.old_digest,
            "new_digest": suspended.new_digest,
            "reason": suspended.reason,
        }),
        EventPayload::RunDefinitionPinned(pinned) => json!({
            "run_id": id(&pinned.run_id),
            "flow_id": id(&pinned.flow_id),
            "digest": pinned.digest,
            "invoker_id": id(&pinned.invoker_id),
            "author_id": id(&pinned.author_id),
        }),
        // Only the variants above are passed in.
        _ => Value::Null,
    }
}

/// The sealed values a payload stores (`$cairn$1$<owner>$…`): shown only
/// by `--raw` dumps, for checking the encryption independently.
pub fn sealed_values(payload: &EventPayload) -> Vec<&str> {
    match payload {
        EventPayload::SecretCreated(created) => vec![created.value.as_str()],
        EventPayload::SecretRotated(rotated) => vec![rotated.value.as_str()],
        EventPayload::ConnectionCreated(created) => vec![created.credentials.as_str()],
        EventPayload::ConnectionUpdated(updated) => {
            updated.credentials.iter().map(String::as_str).collect()
        }
        _ => Vec::new(),
    }
}

/// JSON text stored in a payload (a flow definition, a connection's
/// target, a step's output) as JSON.
fn definition_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

/// Renders a record as one JSON object.
pub fn render_record(view: &RecordView<'_>, raw: bool) -> Value {
    let header = &view.record.header;
    let personal = personal_items(view);
    let details = match &view.record.payload {
        None if header.payload_digest == [0; 32] => Value::Null,
        None => json!({"pruned": true}),
        Some(bytes) => match codec::decode_payload(bytes) {
            Ok(payload) => details_json(&payload),
            Err(error) => json!({"undecodable": error.to_string()}),
        },
    };
    let mut out = json!({
        "seq": header.seq,
        "id": header.id.to_string(),
        "time": rfc3339_micros(header.at),
        "org": header.org.map(|org| org.to_string()),
        "actor": {"type": header.actor.kind.as_str(), "id": header.actor.id.map(|id| id.to_string())},
        "action": header.action.as_str(),
        "resource": {"type": header.resource.kind.as_str(), "id": header.resource.id.map(|id| id.to_string())},
        "outcome": header.outcome.as_str(),
        "request_id": header.request_id,
        "personal": personal,
        "details": details,
        "prev_hash": hex::encode(header.prev_hash),
        "hash": hex::encode(view.record.hash),
    });
    if raw {
        let sealed: Vec<Value> = header
            .personal
            .iter()
            .map(|sealed| {
                json!({
                    "subject": sealed.subject.to_string(),
                    "nonce": hex::encode(sealed.nonce),
                    "ciphertext": URL_SAFE_NO_PAD.encode(&sealed.ciphertext),
                })
            })
            .collect();
        let values: Vec<String> = view
            .record
            .payload
            .as_ref()
            .and_then(|bytes| codec::decode_payload(bytes).ok())
            .map(|payload| {
                sealed_values(&payload)
                    .into_iter()
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        out["raw"] = json!({
            "format": view.record.format,
            "sealed_values": values,
            "payload_digest": hex::encode(header.payload_digest),
            "payload": view.record.payload.as_ref().map(|bytes| URL_SAFE_NO_PAD.encode(bytes)),
            "personal": sealed,
        });
    }
    out
}
