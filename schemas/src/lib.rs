//! Cairn's contract types and nothing else: the record envelope stored in
//! the log, the event vocabulary (actions, actors, resources, outcomes) and
//! the event payloads.
//!
//! Architecture invariant: no logic and no IO live here. Every type is plain
//! data with serde derives, so that other programs (exporters, SIEM
//! integrations, replay tools) can be written against it.
//!
//! Stored types are encoded positionally (bincode): they use no
//! `#[serde(flatten)]`, no untagged or internally tagged enums and no
//! `skip_serializing_if`. Enum variants are only ever appended, never
//! reordered or removed, and a released payload never changes shape: a new
//! shape is a new variant. `tests` in each module pin the variant order.

pub mod event;
pub mod payload;
pub mod record;

pub use event::{Action, ActorKind, ActorRef, Outcome, ResourceKind, ResourceRef, RetentionClass};
pub use payload::{CheckpointSigned, EventPayload, HttpRequest, SystemStarted};
pub use record::{Header, PersonalData, RECORD_FORMAT, Record, Sealed};
