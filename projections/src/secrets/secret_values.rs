//! Secret values: the current sealed value of each secret and the versions
//! it superseded (kept until retention drops them).

use std::collections::HashMap;

use cairn_schemas::EventPayload;
use uuid::Uuid;

/// One version of a secret's value.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SecretValue {
    /// Its version (the first value is 1).
    pub version: u32,
    /// The sealed value, `$cairn$1$<owner_id>$…`.
    pub value: String,
    /// HMAC of the plaintext under the audit key.
    pub fingerprint: [u8; 32],
    /// When it was set (micros).
    pub since: i64,
}

/// A secret's values.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SecretRecord {
    /// The secret.
    pub id: Uuid,
    /// The value now.
    pub current: SecretValue,
    /// Earlier values, oldest first.
    pub superseded: Vec<SecretValue>,
}

/// The answer to "what is secret X's sealed value now?".
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Secrets {
    by_id: HashMap<Uuid, SecretRecord>,
}

impl Secrets {
    /// The secret with this id.
    pub fn get(&self, id: &Uuid) -> Option<&SecretRecord> {
        self.by_id.get(id)
    }

    /// Folds one event.
    pub fn apply(&mut self, payload: &EventPayload, at: i64) {
        match payload {
            EventPayload::SecretCreated(created) => {
                self.by_id.insert(
                    created.secret_id,
                    SecretRecord {
                        id: created.secret_id,
                        current: SecretValue {
                            version: 1,
                            value: created.value.clone(),
                            fingerprint: created.fingerprint,
                            since: at,
                        },
                        superseded: Vec::new(),
                    },
                );
            }
            EventPayload::SecretRotated(rotated) => {
                if let Some(record) = self.by_id.get_mut(&rotated.secret_id) {
                    let next = SecretValue {
                        version: rotated.version,
                        value: rotated.value.clone(),
                        fingerprint: rotated.fingerprint,
                        since: at,
                    };
                    let previous = std::mem::replace(&mut record.current, next);
                    record.superseded.push(previous);
                }
            }
            EventPayload::SecretDeleted(deleted) => {
                self.by_id.remove(&deleted.secret_id);
            }
            // The ciphertext of a superseded value lived in the payload of
            // the event that set it: once retention dropped that payload,
            // the view lets go of it too.
            EventPayload::RetentionPruned(pruned) => {
                let Some(security) =
                    crate::retention::horizon_of(pruned, cairn_schemas::RetentionClass::Security)
                else {
                    return;
                };
                for record in self.by_id.values_mut() {
                    record
                        .superseded
                        .retain(|value| value.since > security.up_to_at);
                }
            }
            _ => {}
        }
    }
}
