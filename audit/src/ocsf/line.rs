//! The exported line as the rendering reads it: its fields, its actor and
//! its resource, borrowed from the line in one pass.

use cairn_schemas::Action;
use serde_json::{Map, Value};

use crate::export_line::{ExportedLine, ExportedParty};

/// An actor or a resource of the line.
#[derive(Clone, Copy, Debug)]
pub(super) struct Party<'a> {
    pub(super) kind: &'a str,
    pub(super) id: Option<&'a str>,
    pub(super) name: Option<&'a str>,
}

impl<'a> Party<'a> {
    /// Reads `{"type", "id", "name"}` in one pass over its fields.
    fn of(value: Option<&'a Value>) -> Party<'a> {
        let mut party = Party {
            kind: "unknown",
            id: None,
            name: None,
        };
        for (key, value) in value.and_then(Value::as_object).into_iter().flatten() {
            match (key.as_str(), value.as_str()) {
                ("type", Some(kind)) => party.kind = kind,
                ("id", id) => party.id = id,
                ("name", name) => party.name = name,
                _ => {}
            }
        }
        party
    }

    /// The id and the name; a party with neither (the system, the audit
    /// log: singletons) is named by its kind.
    pub(super) fn label(&self) -> (Option<&'a str>, Option<&'a str>) {
        match (self.id, self.name) {
            (None, None) => (None, Some(self.kind)),
            label => label,
        }
    }
}

/// The parts of an exported line the rendering reads.
#[derive(Debug)]
pub(super) struct Line<'a> {
    pub(super) fields: Option<&'a Map<String, Value>>,
    /// The typed line, when the event is rendered from one (exports).
    pub(super) exported: Option<&'a ExportedLine<'a>>,
    pub(super) seq: Option<u64>,
    pub(super) id: Option<&'a str>,
    pub(super) time: Option<&'a str>,
    pub(super) org: Option<&'a str>,
    pub(super) action_name: &'a str,
    pub(super) action: Option<Action>,
    pub(super) actor: Party<'a>,
    pub(super) resource: Party<'a>,
    pub(super) outcome: &'a str,
    pub(super) ip: Option<&'a str>,
    pub(super) user_agent: Option<&'a str>,
    pub(super) request_id: Option<&'a str>,
    pub(super) details: &'a Value,
}

impl<'a> Line<'a> {
    /// Reads the line in one pass over its fields (cheaper than a hashed
    /// lookup per field).
    pub(super) fn of(raw: &'a Value) -> Line<'a> {
        static NULL: Value = Value::Null;
        let mut line = Line {
            fields: raw.as_object(),
            exported: None,
            seq: None,
            id: None,
            time: None,
            org: None,
            action_name: "unknown",
            action: None,
            actor: Party::of(None),
            resource: Party::of(None),
            outcome: "unknown",
            ip: None,
            user_agent: None,
            request_id: None,
            details: &NULL,
        };
        for (key, value) in line.fields.into_iter().flatten() {
            match key.as_str() {
                "seq" => line.seq = value.as_u64(),
                "id" => line.id = value.as_str(),
                "time" => line.time = value.as_str(),
                "org" => line.org = value.as_str(),
                "action" => line.action_name = value.as_str().unwrap_or("unknown"),
                "actor" => line.actor = Party::of(Some(value)),
                "resource" => line.resource = Party::of(Some(value)),
                "outcome" => line.outcome = value.as_str().unwrap_or("unknown"),
                "details" => line.details = value,
                "origin" => {
                    for (key, value) in value.as_object().into_iter().flatten() {
                        match key.as_str() {
                            "ip" => line.ip = value.as_str(),
                            "user_agent" => line.user_agent = value.as_str(),
                            "request_id" => line.request_id = value.as_str(),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        line.action = Action::parse(line.action_name);
        line
    }

    /// Reads a typed exported line (the same fields, without a
    /// `serde_json::Value` of the whole line).
    pub(super) fn of_exported(line: &'a ExportedLine<'a>) -> Line<'a> {
        let party = |party: &'a ExportedParty<'a>| Party {
            kind: party.kind,
            id: party.id.as_deref(),
            name: party.name.as_deref(),
        };
        Line {
            fields: None,
            exported: Some(line),
            seq: Some(line.seq),
            id: Some(&line.id),
            time: Some(&line.time),
            org: line.org.as_deref(),
            action_name: line.action,
            action: Action::parse(line.action),
            actor: party(&line.actor),
            resource: party(&line.resource),
            outcome: line.outcome,
            ip: line.origin.ip,
            user_agent: line.origin.user_agent,
            request_id: line.origin.request_id,
            details: &line.details,
        }
    }

    /// A string of the details (absent when pruned or never there).
    pub(super) fn detail(&self, key: &str) -> Option<&'a str> {
        self.details.get(key).and_then(Value::as_str)
    }

    /// An integer of the details.
    pub(super) fn detail_u64(&self, key: &str) -> Option<u64> {
        self.details.get(key).and_then(Value::as_u64)
    }

    /// The resource's id when it is of `kind`.
    pub(super) fn resource_id_if(&self, kind: &str) -> Option<&'a str> {
        self.resource.id.filter(|_| self.resource.kind == kind)
    }

    /// The resource's name when it is of `kind`.
    pub(super) fn resource_name_if(&self, kind: &str) -> Option<&'a str> {
        self.resource.name.filter(|_| self.resource.kind == kind)
    }
}
