//! OCSF 1.8.0 rendering of exported records: one OCSF event per exported
//! line (`crate::export_line`), the canonical interchange form for SIEMs
//! (docs/contract.md section 3).
//!
//! `schemas/ocsf-mapping.md` is the specification: which class and
//! activity each action becomes, and which OCSF attribute carries which
//! part of the line. In short: the class is chosen by the action (and, for
//! grants, by the grantee's kind), `type_uid` is always
//! `class_uid * 100 + activity_id`, the caption attributes (`class_name`,
//! `activity_name`, `severity`, `status`, ...) agree with their ids, and
//! everything the mapped attributes do not carry verbatim (the Cairn actor
//! and resource, the origin, the personal items, the details, the hashes)
//! is kept in `unmapped`, so nothing of the line is lost but the chain
//! material, which only the `jsonl` export carries.
//!
//! The rendering is a pure function of the line: no clock, no lookups, no
//! parsing of anything but the event time. [`OcsfEvent`] borrows every
//! string from the line and serializes straight to the output, which is
//! what exports write; [`ocsf_event`] gives the same JSON as a
//! `serde_json::Value`, at the cost of copying it.
//!
//! It never makes a name up: an erased or missing name leaves only the
//! id. Where OCSF requires an attribute the record cannot fill, a fixed
//! placeholder stands in, listed in the mapping document (the user
//! `anonymous` for anonymous callers, `unknown` when a pruned record no
//! longer says who, Cairn itself as the device of its scheduled jobs).
//!
//! The parts, in the order a line goes through them: `line` reads the
//! exported line, `classification` gives its class and activity, `render`
//! builds the event (with `class_attributes` for each class's own
//! attributes, `objects` for the OCSF objects, `event_time` for the time)
//! out of `json` values that borrow from the line.

mod class_attributes;
mod classification;
mod event_time;
mod json;
mod line;
mod objects;
mod render;
#[cfg(test)]
mod tests;

use serde::ser::{Serialize, Serializer};
use serde_json::Value;

use crate::export_line::ExportedLine;

use json::Json;
use line::Line;
use render::render;

/// The OCSF schema version every event declares in `metadata.version`.
pub const OCSF_VERSION: &str = "1.8.0";

/// The product, vendor, application and service name Cairn reports.
const PRODUCT: &str = "Cairn";

/// The `metadata.log_name` (and Event Log Activity `log_name`) of the
/// audit log.
const LOG_NAME: &str = "audit";

/// An exported line viewed as its OCSF event, ready to serialize without
/// copying anything: `serde_json::to_writer(out, &OcsfEvent::of(&line))`
/// writes the same JSON as serializing [`ocsf_event`]`(&line)`, several
/// times faster. This is what exports should write.
#[derive(Debug)]
pub struct OcsfEvent<'a>(Json<'a>);

impl<'a> OcsfEvent<'a> {
    /// Renders one exported line (the value
    /// `crate::export_line::export_line` builds). Any other value still
    /// renders (missing fields become absent attributes or the documented
    /// placeholders), so a damaged line never stops an export.
    pub fn of(line: &'a Value) -> OcsfEvent<'a> {
        OcsfEvent(Json::Object(render(&Line::of(line))))
    }

    /// Renders a typed exported line: the same JSON as [`OcsfEvent::of`]
    /// on [`export_line`](crate::export_line::export_line)'s value, without
    /// building that value.
    pub fn of_exported(line: &'a ExportedLine<'a>) -> OcsfEvent<'a> {
        OcsfEvent(Json::Object(render(&Line::of_exported(line))))
    }
}

impl Serialize for OcsfEvent<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// Renders one exported line as one OCSF 1.8.0 event, as a
/// `serde_json::Value` (see [`OcsfEvent`] to write it directly).
pub fn ocsf_event(line: &Value) -> Value {
    OcsfEvent::of(line).0.into_value()
}
