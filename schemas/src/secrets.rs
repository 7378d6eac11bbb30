//! Secret and connection events (docs/contract.md sections 4 and 5). A value is
//! only ever here sealed (`$cairn$1$<owner_id>$…`, XSalsa20-Poly1305 under
//! the owner's derived key) and as an HMAC fingerprint, so that exports can
//! correlate two records about the same value without revealing it.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

crate::named_enum! {
    /// What a connection connects to.
    ConnectionKind {
        /// A PostgreSQL database.
        Postgres => "postgres",
        /// An HTTP API.
        Http => "http",
        /// An S3-compatible object store.
        S3 => "s3",
        /// An SMTP relay.
        Smtp => "smtp",
    }
}

/// `secret.created`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretCreated {
    /// The secret.
    pub secret_id: Uuid,
    /// Its org.
    pub org_id: Uuid,
    /// Its owner, whose derived key seals it.
    pub owner_id: Uuid,
    /// Its name, unique among its owner's secrets (`$secret.NAME`).
    pub name: String,
    /// The sealed value, `$cairn$1$<owner_id>$…`.
    pub value: String,
    /// HMAC-SHA256 of the value under the audit key.
    pub fingerprint: [u8; 32],
}

/// `secret.rotated`: a new version; the previous ciphertext is superseded
/// (retention drops it when its time comes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRotated {
    /// The secret.
    pub secret_id: Uuid,
    /// The new version (the first value is version 1).
    pub version: u32,
    /// The sealed new value.
    pub value: String,
    /// Its fingerprint.
    pub fingerprint: [u8; 32],
}

/// A secret or connection named by id (deleted).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRef {
    /// The secret (or connection).
    pub secret_id: Uuid,
}

/// `secret.revealed`: the owner read the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRevealed {
    /// The secret.
    pub secret_id: Uuid,
    /// The version shown.
    pub version: u32,
}

/// `secret.resolved`: a run used the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretResolved {
    /// The secret.
    pub secret_id: Uuid,
    /// Its owner.
    pub owner_id: Uuid,
    /// The version resolved.
    pub version: u32,
    /// The run.
    pub run_id: Uuid,
    /// The member the run acts for.
    pub invoker_id: Uuid,
}

/// `connection.created`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionCreated {
    /// The connection.
    pub connection_id: Uuid,
    /// Its org.
    pub org_id: Uuid,
    /// Its owner.
    pub owner_id: Uuid,
    /// Its name, unique among its owner's connections.
    pub name: String,
    /// What it connects to.
    pub kind: ConnectionKind,
    /// The target (host, port, endpoint, protocol…) as JSON text: not
    /// secret.
    pub target: String,
    /// The credentials as JSON text, sealed like a secret value.
    pub credentials: String,
    /// HMAC of the credentials' JSON text.
    pub fingerprint: [u8; 32],
}

/// `connection.updated`: the whole new state; new credentials are required
/// whenever the target changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionUpdated {
    /// The connection.
    pub connection_id: Uuid,
    /// Its name now.
    pub name: String,
    /// Its target now.
    pub target: String,
    /// New sealed credentials, when they changed.
    pub credentials: Option<String>,
    /// Their fingerprint, when they changed.
    pub fingerprint: Option<[u8; 32]>,
}
