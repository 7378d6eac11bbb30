//! Password verifications in flight, per username. The lockout counts the
//! failures the log recorded; a burst of guesses that all arrive before
//! the first failure is recorded would each see a clean count and all be
//! verified. So a login reserves a slot for its username before argon2
//! runs, atomically with reading the recorded failures, and a slot is
//! granted only while recorded failures plus attempts in flight stay under
//! the threshold. A slot is released once the attempt's outcome is in the
//! views (its failure counted, or its success having reset the count), so
//! at every moment an attempt is counted at least once.
//!
//! A success in the middle of a burst resets the recorded count while the
//! burst's other guesses still run; counting only what is recorded and
//! running would then grant the burst more verifications. So a burst (the
//! attempts for a name from the moment one is running until none is) is
//! granted at most the threshold in total, whatever the log records
//! meanwhile.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// Whether one more verification may run for a username that has
/// `recorded` counted failures, `in_flight` verifications running, and
/// `granted` verifications granted since one began running (this burst),
/// under a lock after `threshold` failures.
pub fn may_verify(recorded: u32, in_flight: u32, granted: u32, threshold: u32) -> bool {
    recorded.saturating_add(in_flight) < threshold && granted < threshold
}

/// The verifications of one username's current burst.
#[derive(Clone, Copy, Debug, Default)]
struct Burst {
    /// Running now.
    in_flight: u32,
    /// Granted since the first of them began.
    granted: u32,
}

/// The verifications in flight per username fingerprint (only the ones
/// with any; the map never holds more entries than attempts running).
#[derive(Debug, Default)]
pub struct LoginAttempts {
    in_flight: Mutex<HashMap<[u8; 32], Burst>>,
}

/// A reserved verification; released when dropped, however the attempt
/// ends (an error or a dropped request included).
#[derive(Debug)]
pub struct AttemptSlot<'a> {
    attempts: &'a LoginAttempts,
    fingerprint: [u8; 32],
}

impl LoginAttempts {
    fn lock(&self) -> MutexGuard<'_, HashMap<[u8; 32], Burst>> {
        match self.in_flight.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Reserves a verification for `fingerprint` when [`may_verify`]
    /// allows it. `recorded` reads the counted failures; it is called
    /// under this table's lock, so no two reservations see the same room.
    pub fn reserve(
        &self,
        fingerprint: [u8; 32],
        threshold: u32,
        recorded: impl FnOnce() -> u32,
    ) -> Option<AttemptSlot<'_>> {
        let mut bursts = self.lock();
        let burst = bursts.get(&fingerprint).copied().unwrap_or_default();
        if !may_verify(recorded(), burst.in_flight, burst.granted, threshold) {
            return None;
        }
        bursts.insert(
            fingerprint,
            Burst {
                in_flight: burst.in_flight + 1,
                granted: burst.granted + 1,
            },
        );
        Some(AttemptSlot {
            attempts: self,
            fingerprint,
        })
    }

    /// How many verifications run for `fingerprint` now.
    pub fn in_flight(&self, fingerprint: &[u8; 32]) -> u32 {
        self.lock()
            .get(fingerprint)
            .map_or(0, |burst| burst.in_flight)
    }

    fn release(&self, fingerprint: &[u8; 32]) {
        let mut bursts = self.lock();
        if let Some(burst) = bursts.get_mut(fingerprint) {
            burst.in_flight = burst.in_flight.saturating_sub(1);
            // The burst ends with its last verification.
            if burst.in_flight == 0 {
                bursts.remove(fingerprint);
            }
        }
    }
}

impl Drop for AttemptSlot<'_> {
    fn drop(&mut self) {
        self.attempts.release(&self.fingerprint);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_is_the_threshold_less_recorded_failures_and_attempts_in_flight() {
        // Given a threshold of 5
        // Then with 3 recorded and 1 running one more may run, not two
        assert!(may_verify(3, 1, 1, 5));
        assert!(!may_verify(3, 2, 2, 5));
        assert!(!may_verify(5, 0, 0, 5));
        assert!(may_verify(0, 0, 0, 5));
        assert!(!may_verify(u32::MAX, u32::MAX, 0, 5));
    }

    #[test]
    fn a_burst_is_granted_the_threshold_at_most_even_when_a_success_resets_the_count() {
        // Given a threshold of 5 and a burst that was granted 5, one of
        // which succeeded and reset the recorded failures to 0
        // Then the 4 still running leave room by the count, but not by
        // the burst
        assert!(!may_verify(0, 4, 5, 5));
        // And once the burst is over a new one starts
        assert!(may_verify(0, 0, 0, 5));
    }

    #[test]
    fn a_success_inside_a_burst_frees_no_slot_until_the_burst_ends() {
        // Given a name with no recorded failure and 5 attempts running
        let attempts = LoginAttempts::default();
        let name = [9u8; 32];
        let mut slots: Vec<_> = (0..5)
            .filter_map(|_| attempts.reserve(name, 5, || 0))
            .collect();
        assert_eq!(slots.len(), 5);
        // When one succeeds (the recorded count is reset to 0) and ends
        drop(slots.pop());
        // Then the others still running get no company
        assert!(attempts.reserve(name, 5, || 0).is_none());
        // When the burst ends, the next attempt is a new burst
        slots.clear();
        assert!(attempts.reserve(name, 5, || 0).is_some());
    }

    #[test]
    fn a_burst_gets_no_more_slots_than_the_threshold_until_one_is_released() {
        // Given a name with 2 recorded failures and a threshold of 5
        let attempts = LoginAttempts::default();
        let name = [7u8; 32];
        // When 10 attempts arrive at once
        let mut slots: Vec<_> = (0..10)
            .filter_map(|_| attempts.reserve(name, 5, || 2))
            .collect();
        // Then 3 are verified, and another name is unaffected
        assert_eq!(slots.len(), 3);
        assert_eq!(attempts.in_flight(&name), 3);
        assert!(attempts.reserve([8u8; 32], 5, || 0).is_some());
        // When one ends and its failure is recorded (3 now)
        drop(slots.pop());
        assert_eq!(attempts.in_flight(&name), 2);
        // Then there is still no room: 3 recorded + 2 running
        assert!(attempts.reserve(name, 5, || 3).is_none());
    }

    #[test]
    fn released_slots_leave_no_entry_behind() {
        let attempts = LoginAttempts::default();
        let name = [1u8; 32];
        let slot = attempts.reserve(name, 5, || 0);
        assert!(slot.is_some());
        drop(slot);
        assert_eq!(attempts.in_flight(&name), 0);
        assert!(attempts.lock().is_empty());
    }
}
