//! Sessions: which session ids are live. A token is only as good as its
//! session: logout, a password change, deactivation and deletion end them.

use std::collections::HashMap;

use cairn_schemas::EventPayload;
use uuid::Uuid;

/// One session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionRecord {
    /// Its owner.
    pub user_id: Uuid,
    /// The org it acts in.
    pub org_id: Uuid,
    /// When it began (micros).
    pub issued_at: i64,
    /// When it ends (micros).
    pub expires_at: i64,
    /// Ended early (logout, password change, deactivation).
    pub ended: bool,
}

impl SessionRecord {
    /// Live at `now` (micros).
    pub fn is_live(&self, now: i64) -> bool {
        !self.ended && now < self.expires_at
    }
}

/// The answer to "is session S live, and whose is it?".
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sessions {
    by_id: HashMap<Uuid, SessionRecord>,
    by_user: HashMap<Uuid, Vec<Uuid>>,
}

impl Sessions {
    /// The session with this id (live or not).
    pub fn get(&self, id: &Uuid) -> Option<&SessionRecord> {
        self.by_id.get(id)
    }

    /// Ends every session of a user.
    pub fn end_all_of(&mut self, user: Uuid) {
        for id in self.by_user.get(&user).into_iter().flatten() {
            if let Some(session) = self.by_id.get_mut(id) {
                session.ended = true;
            }
        }
    }

    /// Folds one event.
    pub fn apply(&mut self, payload: &EventPayload, at: i64) {
        match payload {
            EventPayload::LoginSucceeded(login) => {
                // Forget this user's sessions that expired before now (the
                // event's own time, so replay folds the same way): the view
                // stays bounded by live sessions.
                if let Some(ids) = self.by_user.get_mut(&login.user_id) {
                    ids.retain(|id| match self.by_id.get(id) {
                        Some(session) if session.expires_at > at => true,
                        _ => {
                            self.by_id.remove(id);
                            false
                        }
                    });
                }
                self.by_id.insert(
                    login.session_id,
                    SessionRecord {
                        user_id: login.user_id,
                        org_id: login.org_id,
                        issued_at: at,
                        expires_at: login.expires_at,
                        ended: false,
                    },
                );
                self.by_user
                    .entry(login.user_id)
                    .or_default()
                    .push(login.session_id);
            }
            EventPayload::Logout(logout) => {
                if let Some(session) = self.by_id.get_mut(&logout.session_id) {
                    session.ended = true;
                }
            }
            EventPayload::UserPasswordChanged(changed) => self.end_all_of(changed.user_id),
            EventPayload::UserDeactivated(user) | EventPayload::UserDeleted(user) => {
                self.end_all_of(user.user_id)
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_schemas::{LoginSucceeded, UserRef};

    fn login(user: Uuid, session: Uuid) -> EventPayload {
        EventPayload::LoginSucceeded(LoginSucceeded {
            user_id: user,
            org_id: Uuid::nil(),
            session_id: session,
            expires_at: 1_000,
            username_fingerprint: [0; 32],
        })
    }

    #[test]
    fn deactivation_and_deletion_end_every_session_of_the_user() {
        let (alice, bob) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let mut sessions = Sessions::default();
        sessions.apply(&login(alice, Uuid::from_u128(10)), 0);
        sessions.apply(&login(alice, Uuid::from_u128(11)), 0);
        sessions.apply(&login(bob, Uuid::from_u128(20)), 0);
        sessions.apply(&EventPayload::UserDeleted(UserRef { user_id: alice }), 1);
        for id in [10, 11] {
            assert!(
                !sessions
                    .get(&Uuid::from_u128(id))
                    .expect("session")
                    .is_live(1)
            );
        }
        assert!(
            sessions
                .get(&Uuid::from_u128(20))
                .expect("session")
                .is_live(1)
        );
        sessions.apply(&EventPayload::UserDeactivated(UserRef { user_id: bob }), 2);
        assert!(
            !sessions
                .get(&Uuid::from_u128(20))
                .expect("session")
                .is_live(2)
        );
    }
}
