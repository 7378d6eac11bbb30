//! Users: accounts by id and by normalized username.

use crate::fast_map::HashMap;

use cairn_schemas::{EventPayload, Record, Sealed};
use uuid::Uuid;

use crate::PersonalSource;

/// One account.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UserRecord {
    /// Its id.
    pub id: Uuid,
    /// The normalized username (empty if the personal data is unreadable).
    /// Opened from `personal`; never written into a snapshot, so a
    /// snapshot holds no personal data in the clear and erasing the
    /// subject's key erases it there too.
    #[serde(skip)]
    pub username: String,
    /// The email, if given (opened from `personal` like the username).
    #[serde(skip)]
    pub email: Option<String>,
    /// The user's personal data as the log sealed it at creation: what
    /// `username` and `email` are opened from after a snapshot is loaded.
    pub personal: Option<Sealed>,
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
    /// The password was set by someone else (an admin's reset): it is
    /// temporary, and the user must change it before doing anything else.
    pub password_change_required: bool,
}

/// The answer to "who is user X / who is called N?".
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Users {
    by_id: HashMap<Uuid, UserRecord>,
    /// Rebuilt from the opened names after a snapshot is loaded.
    #[serde(skip)]
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
                let sealed = record
                    .header
                    .personal
                    .iter()
                    .find(|sealed| sealed.subject == created.user_id)
                    .cloned();
                let data = sealed
                    .as_ref()
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
                        personal: sealed,
                        created_at: record.header.at,
                        credential_changed_at: record.header.at,
                        password_change_required: false,
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
                    user.password_change_required = changed.reset_by_admin;
                }
            }
            _ => {}
        }
    }

    /// Opens every user's name and email again from their sealed personal
    /// data (after a snapshot, which holds them only sealed, is loaded).
    pub fn reopen_personal(&mut self, personal: &dyn PersonalSource) {
        self.by_name.clear();
        for user in self.by_id.values_mut() {
            let data = user
                .personal
                .as_ref()
                .and_then(|sealed| personal.open(sealed))
                .unwrap_or_default();
            user.username = data.name.unwrap_or_default();
            user.email = data.email;
            if !user.username.is_empty() {
                self.by_name.insert(user.username.clone(), user.id);
            }
        }
    }

    fn set_active(&mut self, id: Uuid, active: bool) {
        if let Some(user) = self.by_id.get_mut(&id) {
            user.is_active = active;
        }
    }
}
