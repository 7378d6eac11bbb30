//! New ids: UUIDv7 built from a [`Clock`] and an [`Entropy`], the one place
//! ids are made. Ids from one [`IdSource`] strictly increase, so they sort
//! in the order they were made even within a millisecond, and a seeded
//! entropy with a manual clock makes them reproducible.

use std::sync::{Arc, Mutex};

use uuid::Uuid;

use crate::clock::Clock;
use crate::entropy::{Entropy, random_array};

/// Makes ids from a clock and an entropy source.
#[derive(Debug)]
pub struct IdSource {
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    last: Mutex<u128>,
}

impl IdSource {
    /// Ids from `clock` and `entropy`.
    pub fn new(clock: Arc<dyn Clock>, entropy: Arc<dyn Entropy>) -> IdSource {
        IdSource {
            clock,
            entropy,
            last: Mutex::new(0),
        }
    }

    /// A new UUIDv7: the clock's millisecond, then random bits; one more
    /// than the previous id when that would not be greater (a clock read
    /// twice in one millisecond, or set back).
    pub fn new_id(&self) -> Uuid {
        let millis = u64::try_from(self.clock.now_micros().max(0) / 1000).unwrap_or(0);
        let random: [u8; 10] = random_array(self.entropy.as_ref());
        let fresh = uuid::Builder::from_unix_timestamp_millis(millis, &random)
            .into_uuid()
            .as_u128();
        let mut last = match self.last.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *last = next_after(*last, fresh);
        Uuid::from_u128(*last)
    }

    /// The clock's time, in microseconds since the epoch.
    pub fn now_micros(&self) -> i64 {
        self.clock.now_micros()
    }
}

/// The id to hand out after `last`: `fresh` when it is greater, else one
/// more than `last` (in the random low bits, which 2^62 ids in one
/// millisecond would be needed to exhaust).
fn next_after(last: u128, fresh: u128) -> u128 {
    if fresh > last { fresh } else { last + 1 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::entropy::SeededEntropy;

    fn source(seed: u64) -> IdSource {
        IdSource::new(
            Arc::new(ManualClock::new(1_700_000_000_000_000)),
            Arc::new(SeededEntropy::new(seed)),
        )
    }

    #[test]
    fn given_one_millisecond_when_many_ids_are_made_then_they_strictly_increase_and_are_v7() {
        let ids = source(7);
        let made: Vec<Uuid> = (0..1000).map(|_| ids.new_id()).collect();
        for pair in made.windows(2) {
            assert!(pair[0] < pair[1]);
        }
        for id in &made {
            assert_eq!(id.get_version_num(), 7);
            assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
            let (secs, _) = id.get_timestamp().expect("v7").to_unix();
            assert_eq!(secs, 1_700_000_000);
        }
    }

    #[test]
    fn given_the_same_seed_and_clock_when_ids_are_made_then_they_are_the_same() {
        let (a, b) = (source(3), source(3));
        assert_eq!(a.new_id(), b.new_id());
        assert_ne!(source(3).new_id(), source(4).new_id());
    }

    #[test]
    fn given_a_clock_set_back_when_an_id_is_made_then_it_is_still_greater() {
        assert_eq!(next_after(10, 5), 11);
        assert_eq!(next_after(10, 12), 12);
    }
}
