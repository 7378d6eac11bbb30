//! The record envelope: what one entry of the log holds on disk.
//!
//! `hash = SHA-256("cairn/event/v1" || prev_hash || bincode(header))` and
//! `payload_digest = SHA-256(payload)`. Because the header carries only the
//! digest of the payload, retention can drop a payload and the chain still
//! verifies. docs/event-log-format.md gives the byte layout.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::event::{Action, ActorRef, Outcome, ResourceRef};

/// The record format this version of Cairn writes. A record with a higher
/// format was written by a newer Cairn and is refused, never guessed at.
pub const RECORD_FORMAT: u8 = 1;

/// One entry of the log, exactly as stored under its seq.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Envelope format version ([`RECORD_FORMAT`]).
    pub format: u8,
    /// Everything the hash covers.
    pub header: Header,
    /// The encoded [`crate::EventPayload`], or `None` once retention pruned it.
    #[serde(with = "serde_bytes")]
    pub payload: Option<Vec<u8>>,
    /// `SHA-256("cairn/event/v1" || header.prev_hash || bincode(header))`.
    pub hash: [u8; 32],
}

/// The hashed part of a record: who did what to what, when, with which
/// outcome, chained to the record before it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Position in the log: 1 for the first record, gapless after that.
    pub seq: u64,
    /// A UUIDv7, unique across logs; the de-duplication key for SIEMs.
    pub id: Uuid,
    /// When the event was recorded, in microseconds since the Unix epoch.
    pub at: i64,
    /// The tenant the event belongs to; `None` for system-wide events.
    pub org: Option<Uuid>,
    /// Who acted: a type and an id only. Names live in `personal`.
    pub actor: ActorRef,
    /// What happened.
    pub action: Action,
    /// What it happened to: a type and an id only.
    pub resource: ResourceRef,
    /// Whether it was allowed and succeeded.
    pub outcome: Outcome,
    /// The request that caused it, when there was one.
    pub request_id: Option<String>,
    /// Personal data (names, email, IP address, user agent), each item
    /// sealed under the key of the person it is about. Erasing a person
    /// deletes their key; these bytes stay, so the chain still verifies.
    pub personal: Vec<Sealed>,
    /// `SHA-256(payload)` of the payload as first written.
    pub payload_digest: [u8; 32],
    /// The hash of the record before this one; all zeros for seq 1.
    pub prev_hash: [u8; 32],
}

/// Personal data sealed under one subject's key (XSalsa20-Poly1305).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// The person (data subject) whose key sealed this.
    pub subject: Uuid,
    /// Random 24-byte nonce.
    pub nonce: [u8; 24],
    /// `crypto_secretbox` of the bincode encoding of [`PersonalData`].
    #[serde(with = "serde_bytes")]
    pub ciphertext: Vec<u8>,
}

/// The personal data about one subject that one event carries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalData {
    /// The subject's display or user name.
    pub name: Option<String>,
    /// The subject's email address.
    pub email: Option<String>,
    /// The IP address the subject acted from.
    pub ip: Option<String>,
    /// The user agent the subject acted with.
    pub user_agent: Option<String>,
}

impl PersonalData {
    /// True when no field is set (nothing worth sealing).
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.email.is_none()
            && self.ip.is_none()
            && self.user_agent.is_none()
    }
}
