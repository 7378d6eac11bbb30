//! API keys: which digests are live, and whose they are.

use std::collections::{BTreeMap, HashMap};

use cairn_schemas::EventPayload;
use uuid::Uuid;

/// One API key (never the key itself).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ApiKeyRecord {
    /// Its id.
    pub id: Uuid,
    /// Its owner.
    pub user_id: Uuid,
    /// The org it acts in.
    pub org_id: Uuid,
    /// The owner's label.
    pub name: String,
    /// The key's first characters.
    pub prefix: String,
    /// When it was created (micros).
    pub created_at: i64,
    /// When it stops working (micros).
    pub expires_at: Option<i64>,
    /// Revoked.
    pub revoked: bool,
}

impl ApiKeyRecord {
    /// Usable at `now` (micros).
    pub fn is_live(&self, now: i64) -> bool {
        !self.revoked && self.expires_at.is_none_or(|expires| now < expires)
    }
}

/// The answer to "which key has this digest, and is it live?".
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ApiKeys {
    by_id: BTreeMap<Uuid, ApiKeyRecord>,
    by_digest: HashMap<[u8; 32], Uuid>,
}

impl ApiKeys {
    /// The key with this SHA-256 digest.
    pub fn by_digest(&self, digest: &[u8; 32]) -> Option<&ApiKeyRecord> {
        self.by_digest.get(digest).and_then(|id| self.by_id.get(id))
    }

    /// The key with this id.
    pub fn get(&self, id: &Uuid) -> Option<&ApiKeyRecord> {
        self.by_id.get(id)
    }

    /// A user's keys, oldest id first.
    pub fn of_user(&self, user: Uuid) -> impl Iterator<Item = &ApiKeyRecord> {
        self.by_id.values().filter(move |key| key.user_id == user)
    }

    /// Folds one event.
    pub fn apply(&mut self, payload: &EventPayload, at: i64) {
        match payload {
            EventPayload::ApiKeyCreated(created) => {
                self.by_digest.insert(created.digest, created.key_id);
                self.by_id.insert(
                    created.key_id,
                    ApiKeyRecord {
                        id: created.key_id,
                        user_id: created.user_id,
                        org_id: created.org_id,
                        name: created.name.clone(),
                        prefix: created.prefix.clone(),
                        created_at: at,
                        expires_at: created.expires_at,
                        revoked: false,
                    },
                );
            }
            EventPayload::ApiKeyRevoked(revoked) => self.revoke(revoked.key_id),
            EventPayload::UserDeleted(user) => {
                let ids: Vec<Uuid> = self.of_user(user.user_id).map(|key| key.id).collect();
                for id in ids {
                    self.revoke(id);
                }
            }
            _ => {}
        }
    }

    fn revoke(&mut self, id: Uuid) {
        if let Some(key) = self.by_id.get_mut(&id) {
            key.revoked = true;
            self.by_digest.retain(|_, key_id| *key_id != id);
        }
    }
}
