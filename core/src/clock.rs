//! Time as a parameter: the one place that reads the system clock, and a
//! manual clock for tests and replays.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of wall-clock time in microseconds since the Unix epoch.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time, in microseconds since the Unix epoch.
    fn now_micros(&self) -> i64;
}

/// The real clock. `SystemTime::now` appears here and nowhere else.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_micros(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(elapsed) => i64::try_from(elapsed.as_micros()).unwrap_or(i64::MAX),
            // A clock set before 1970 is an operating error, not a reason to
            // crash: record it as the epoch.
            Err(_) => 0,
        }
    }
}

/// A clock that only moves when told to: deterministic tests and replays.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicI64,
}

impl ManualClock {
    /// A clock that reads `start` until advanced.
    pub fn new(start_micros: i64) -> Self {
        ManualClock {
            now: AtomicI64::new(start_micros),
        }
    }

    /// Moves the clock forward by `micros`.
    pub fn advance(&self, micros: i64) {
        self.now.fetch_add(micros, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_micros(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_clock_is_after_2025() {
        assert!(SystemClock.now_micros() > 1_735_689_600_000_000);
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(10);
        assert_eq!(clock.now_micros(), 10);
        clock.advance(5);
        assert_eq!(clock.now_micros(), 15);
    }
}
