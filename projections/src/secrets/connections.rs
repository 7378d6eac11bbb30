//! Connections: what each connects to and its sealed credentials.

use std::collections::HashMap;

use cairn_schemas::{ConnectionKind, EventPayload};
use uuid::Uuid;

/// One connection.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConnectionRecord {
    /// Its id.
    pub id: Uuid,
    /// What it connects to.
    pub kind: ConnectionKind,
    /// The target as JSON text (not secret).
    pub target: String,
    /// The sealed credentials (JSON text inside).
    pub credentials: String,
    /// HMAC of the credentials.
    pub fingerprint: [u8; 32],
}

/// The answer to "where does connection X point, with which credentials?".
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Connections {
    by_id: HashMap<Uuid, ConnectionRecord>,
}

impl Connections {
    /// The connection with this id.
    pub fn get(&self, id: &Uuid) -> Option<&ConnectionRecord> {
        self.by_id.get(id)
    }

    /// Folds one event.
    pub fn apply(&mut self, payload: &EventPayload) {
        match payload {
            EventPayload::ConnectionCreated(created) => {
                self.by_id.insert(
                    created.connection_id,
                    ConnectionRecord {
                        id: created.connection_id,
                        kind: created.kind,
                        target: created.target.clone(),
                        credentials: created.credentials.clone(),
                        fingerprint: created.fingerprint,
                    },
                );
            }
            EventPayload::ConnectionUpdated(updated) => {
                if let Some(record) = self.by_id.get_mut(&updated.connection_id) {
                    record.target = updated.target.clone();
                    if let (Some(credentials), Some(fingerprint)) =
                        (&updated.credentials, updated.fingerprint)
                    {
                        record.credentials = credentials.clone();
                        record.fingerprint = fingerprint;
                    }
                }
            }
            EventPayload::ConnectionDeleted(deleted) => {
                self.by_id.remove(&deleted.secret_id);
            }
            _ => {}
        }
    }
}
