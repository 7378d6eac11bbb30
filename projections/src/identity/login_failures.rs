//! Lockout: after [`LOCKOUT_THRESHOLD`] consecutive failed logins, a
//! normalized username is locked for [`LOCKOUT_MICROS`]. Keyed by the HMAC
//! of the normalized name, so case or Unicode variants share one counter and
//! unknown names lock exactly like known ones (no enumeration).

use std::collections::HashMap;

use cairn_schemas::{EventPayload, LoginFailure};

/// Consecutive failures that lock a username.
pub const LOCKOUT_THRESHOLD: u32 = 5;

/// How long a lock lasts: 15 minutes.
pub const LOCKOUT_MICROS: i64 = 15 * 60 * 1_000_000;

/// Prune forgotten counters once every this many failures.
const PRUNE_EVERY: u64 = 4096;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct FailureState {
    consecutive: u32,
    last_failure_at: i64,
    locked_until: i64,
}

/// The answer to "is this username locked, and until when?".
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoginFailures {
    by_fingerprint: HashMap<[u8; 32], FailureState>,
    failures_seen: u64,
}

impl LoginFailures {
    /// When the lock on this username ends, if it is locked at `now`.
    pub fn locked_until(&self, fingerprint: &[u8; 32], now: i64) -> Option<i64> {
        self.by_fingerprint
            .get(fingerprint)
            .map(|state| state.locked_until)
            .filter(|until| *until > now)
    }

    /// The failures that count towards a lock of this username at `now`:
    /// [`LOCKOUT_THRESHOLD`] while it is locked, none once a lock expired
    /// (the next failure starts a new count), the consecutive failures
    /// otherwise.
    pub fn counted_failures(&self, fingerprint: &[u8; 32], now: i64) -> u32 {
        match self.by_fingerprint.get(fingerprint) {
            None => 0,
            Some(state) if state.locked_until > now => LOCKOUT_THRESHOLD,
            Some(state) if state.locked_until != 0 => 0,
            Some(state) => state.consecutive,
        }
    }

    /// Folds one event.
    pub fn apply(&mut self, payload: &EventPayload, at: i64) {
        match payload {
            EventPayload::LoginFailed(failed) if failed.reason != LoginFailure::Locked => {
                let state = self
                    .by_fingerprint
                    .entry(failed.username_fingerprint)
                    .or_default();
                // A failure after a lock expired starts a new count.
                if state.locked_until != 0 && state.locked_until <= at {
                    *state = FailureState::default();
                }
                state.consecutive += 1;
                state.last_failure_at = at;
                if state.consecutive >= LOCKOUT_THRESHOLD {
                    state.locked_until = at + LOCKOUT_MICROS;
                    state.consecutive = 0;
                }
                self.failures_seen += 1;
                if self.failures_seen.is_multiple_of(PRUNE_EVERY) {
                    self.prune(at);
                }
            }
            EventPayload::LoginSucceeded(login) => {
                self.by_fingerprint.remove(&login.username_fingerprint);
            }
            _ => {}
        }
    }

    /// Forgets counters with no lock and no failure in the last lockout
    /// window: an attacker spraying random names cannot grow the view
    /// without bound.
    fn prune(&mut self, now: i64) {
        self.by_fingerprint.retain(|_, state| {
            state.locked_until > now || now - state.last_failure_at < LOCKOUT_MICROS
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_schemas::{LoginFailed, LoginSucceeded};
    use uuid::Uuid;

    fn failed(fingerprint: [u8; 32]) -> EventPayload {
        EventPayload::LoginFailed(LoginFailed {
            username_fingerprint: fingerprint,
            user_id: None,
            reason: LoginFailure::WrongPassword,
        })
    }

    #[test]
    fn five_failures_lock_for_fifteen_minutes() {
        let mut view = LoginFailures::default();
        let name = [1u8; 32];
        for minute in 0..4 {
            view.apply(&failed(name), minute * 60_000_000);
            assert_eq!(view.locked_until(&name, minute * 60_000_000), None);
        }
        view.apply(&failed(name), 4 * 60_000_000);
        let until = view.locked_until(&name, 4 * 60_000_000).expect("locked");
        assert_eq!(until, 4 * 60_000_000 + LOCKOUT_MICROS);
        assert_eq!(view.locked_until(&name, until), None, "the lock ends");
        assert_eq!(
            view.locked_until(&[2u8; 32], 0),
            None,
            "other names are not affected"
        );
    }

    #[test]
    fn counted_failures_are_the_consecutive_ones_or_the_threshold_while_locked() {
        // Given two failures for one name
        let mut view = LoginFailures::default();
        let name = [1u8; 32];
        view.apply(&failed(name), 0);
        view.apply(&failed(name), 1);
        // Then two count; an unknown name has none
        assert_eq!(view.counted_failures(&name, 2), 2);
        assert_eq!(view.counted_failures(&[2u8; 32], 2), 0);
        // When it is locked
        for at in 2..5 {
            view.apply(&failed(name), at);
        }
        // Then the threshold counts until the lock ends, none after
        assert_eq!(view.counted_failures(&name, 5), LOCKOUT_THRESHOLD);
        assert_eq!(view.counted_failures(&name, 4 + LOCKOUT_MICROS), 0);
    }

    #[test]
    fn a_success_resets_the_count() {
        let mut view = LoginFailures::default();
        let name = [1u8; 32];
        for _ in 0..4 {
            view.apply(&failed(name), 0);
        }
        view.apply(
            &EventPayload::LoginSucceeded(LoginSucceeded {
                user_id: Uuid::nil(),
                org_id: Uuid::nil(),
                session_id: Uuid::nil(),
                expires_at: 1,
                username_fingerprint: name,
            }),
            0,
        );
        view.apply(&failed(name), 0);
        assert_eq!(view.locked_until(&name, 0), None);
    }
}
