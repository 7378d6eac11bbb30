//! Users: accounts by id and by normalized username.

use crate::fast_map::HashMap;

use cairn_schemas::{EventPayload, Record, Sealed};
use uuid::Uuid;

use crate::PersonalSource;

/// One account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    /// Its id.
    pub id: Uuid,
    /// The normalized username (empty if the personal data is unreadable).
    pub username: String,
    /// The email, if given.
    pub email: Option<String>,
    /// Whether the user may log in.
    pub is_active: bool,
    /// A global admin.
    pub is_superuser: bool,
    /// The sealed argon2id PHC string.
    pub credential: Sealed,
    /// When the account was created (micros).
    pub created_at: i64,
    /// When the password last changed (micros); sessions older than this
    /// are void.
    pub credential_changed_at: i64,
}

/// The answer to "who is user X / who is called N?".
#[derive(Clone, Debug, Default)]
pub struct Users {
    by_id: HashMap<Uuid, UserRecord>,
    by_name: HashMap<String, Uuid>,
    /// Users that were deleted, and whether their personal data was
    /// erased since (`user.erased`).
    deleted: HashMap<Uuid, bool>,
}

impl Users {
    /// The user with this id.
    pub fn get(&self, id: &Uuid) -> Option<&UserRecord> {
        self.by_id.get(id)
    }

    /// The user with this normalized name.
    pub fn by_name(&self, normalized: &str) -> Option<&UserRecord> {
        self.by_name
            .get(normalized)
            .and_then(|id| self.by_id.get(id))
    }

    /// Every user, in no particular order.
    pub fn all(&self) -> impl Iterator<Item = &UserRecord> {
        self.by_id.values()
    }

    /// Whether this user was deleted: `Some(true)` once also erased.
    pub fn deleted(&self, id: &Uuid) -> Option<bool> {
        self.deleted.get(id).copied()
    }

    /// The users whose personal data was erased.
    pub fn erased(&self) -> impl Iterator<Item = &Uuid> {
        self.deleted
            .iter()
            .filter(|(_, erased)| **erased)
            .map(|(id, _)| id)
    }

    /// Whether any superuser exists.
    pub fn has_superuser(&self) -> bool {
        self.by_id.values().any(|user| user.is_superuser)
    }

    /// Folds one event.
    pub fn apply(
        &mut self,
        record: &Record,
        payload: &EventPayload,
        personal: &dyn PersonalSource,
    ) {
        match payload {
            EventPayload::UserCreated(created) => {
                let data = record
                    .header
                    .personal
                    .iter()
                    .find(|sealed| sealed.subject == created.user_id)
                    .and_then(|sealed| personal.open(sealed))
                    .unwrap_or_default();
                let username = data.name.unwrap_or_default();
                if !username.is_empty() {
                    self.by_name.insert(username.clone(), created.user_id);
                }
                self.by_id.insert(
                    created.user_id,
                    UserRecord {
                        id: created.user_id,
                        username,
                        email: data.email,
                        is_active: created.is_active,
                        is_superuser: created.is_superuser,
                        credential: created.credential.clone(),
                        created_at: record.header.at,
                        credential_changed_at: record.header.at,
                    },
                );
            }
            EventPayload::UserActivated(user) => self.set_active(user.user_id, true),
            EventPayload::UserDeactivated(user) => self.set_active(user.user_id, false),
            EventPayload::UserDeleted(user) => {
                if let Some(removed) = self.by_id.remove(&user.user_id) {
                    self.by_name.remove(&removed.username);
                    self.deleted.insert(user.user_id, false);
                }
            }
            EventPayload::UserErased(user) => {
                if let Some(erased) = self.deleted.get_mut(&user.user_id) {
                    *erased = true;
                }
            }
            EventPayload::UserPasswordChanged(changed) => {
                if let Some(user) = self.by_id.get_mut(&changed.user_id) {
                    user.credential = changed.credential.clone();
                    user.credential_changed_at = record.header.at;
                }
            }
            _ => {}
        }
    }

    fn set_active(&mut self, id: Uuid, active: bool) {
        if let Some(user) = self.by_id.get_mut(&id) {
            user.is_active = active;
        }
    }
}
