//! The checkpoint cadence, and how long an unanchored tail may be.
//!
//! A server signs a checkpoint after `CAIRN_CHECKPOINT_EVERY` events and at
//! least every `CAIRN_CHECKPOINT_INTERVAL` seconds. So the records after
//! the last seq a verified checkpoint signs (the unanchored tail) are, in a
//! log nobody cut, at most `every` records, or records written at most
//! `interval` after the last anchored record. A longer tail means the
//! checkpoints that should cover it are missing: removed, or never signed
//! because the history was rewritten without the master key. The same rule
//! serves the live log (open, verify, restore) and an exported file.

/// Extra time allowed beyond the interval: the checkpoint job's own
/// latency (waking, signing, the sync).
pub const GRACE_MICROS: i64 = 5_000_000;

/// How often checkpoints are signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cadence {
    /// A checkpoint after this many events.
    pub every: u64,
    /// A checkpoint at least this often, in microseconds.
    pub interval_micros: i64,
}

impl Cadence {
    /// The server's defaults (`CAIRN_CHECKPOINT_EVERY=1000`,
    /// `CAIRN_CHECKPOINT_INTERVAL=60`).
    pub const DEFAULT: Cadence = Cadence {
        every: 1000,
        interval_micros: 60_000_000,
    };

    /// The cadence of `CAIRN_CHECKPOINT_EVERY` events and
    /// `CAIRN_CHECKPOINT_INTERVAL` seconds (at least one event).
    pub fn new(every: u64, interval_secs: u64) -> Cadence {
        Cadence {
            every: every.max(1),
            interval_micros: i64::try_from(interval_secs)
                .unwrap_or(i64::MAX)
                .saturating_mul(1_000_000),
        }
    }
}

impl Default for Cadence {
    fn default() -> Self {
        Cadence::DEFAULT
    }
}

/// The records after the last anchored one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnanchoredTail {
    /// The first seq no verified checkpoint covers.
    pub first_seq: u64,
    /// How many records the tail holds (seqs, gaps of a filtered export
    /// included).
    pub len: u64,
    /// The time from the last anchored record (or, with none, the first
    /// record) to the tail's last record, in microseconds.
    pub span_micros: i64,
}

/// The unanchored tail is longer than the cadence allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "no verified checkpoint covers seq {} on: {} records over {} s, more than the checkpoint cadence allows ({} events or {} s); checkpoints are missing or the history was rewritten",
    tail.first_seq,
    tail.len,
    tail.span_micros / 1_000_000,
    cadence.every,
    cadence.interval_micros / 1_000_000
)]
pub struct TailTooLong {
    /// The tail found.
    pub tail: UnanchoredTail,
    /// The cadence it was held to.
    pub cadence: Cadence,
}

/// Accepts a tail of at most `every` records, or one whose records were
/// written at most `interval` (plus [`GRACE_MICROS`]) after the last
/// anchored record; refuses any other, naming the first unanchored seq.
pub fn check_unanchored_tail(cadence: Cadence, tail: UnanchoredTail) -> Result<(), TailTooLong> {
    if tail.len <= cadence.every
        || tail.span_micros <= cadence.interval_micros.saturating_add(GRACE_MICROS)
    {
        Ok(())
    } else {
        Err(TailTooLong { tail, cadence })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CADENCE: Cadence = Cadence {
        every: 10,
        interval_micros: 60_000_000,
    };

    fn tail(len: u64, span_secs: i64) -> UnanchoredTail {
        UnanchoredTail {
            first_seq: 41,
            len,
            span_micros: span_secs * 1_000_000,
        }
    }

    #[test]
    fn given_no_tail_when_checked_then_it_passes() {
        assert_eq!(check_unanchored_tail(CADENCE, tail(0, 0)), Ok(()));
    }

    #[test]
    fn given_a_tail_of_every_records_over_a_long_time_when_checked_then_it_passes() {
        assert_eq!(check_unanchored_tail(CADENCE, tail(10, 3_600)), Ok(()));
    }

    #[test]
    fn given_many_records_within_the_interval_when_checked_then_it_passes() {
        assert_eq!(check_unanchored_tail(CADENCE, tail(5_000, 60)), Ok(()));
    }

    #[test]
    fn given_more_records_than_every_over_more_than_the_interval_when_checked_then_it_names_the_first_seq()
     {
        assert_eq!(
            check_unanchored_tail(CADENCE, tail(11, 65)),
            Ok(()),
            "the checkpoint job's latency is allowed for"
        );
        let refused = check_unanchored_tail(CADENCE, tail(11, 66)).unwrap_err();
        assert_eq!(refused.tail.first_seq, 41);
        let text = refused.to_string();
        assert!(text.contains("seq 41"), "{text}");
        assert!(text.contains("10 events or 60 s"), "{text}");
    }

    #[test]
    fn given_the_settings_when_built_then_seconds_become_microseconds() {
        assert_eq!(
            Cadence::new(1000, 60),
            Cadence {
                every: 1000,
                interval_micros: 60_000_000
            }
        );
        assert_eq!(Cadence::new(1, u64::MAX).interval_micros, i64::MAX);
        assert_eq!(
            Cadence::new(0, 60).every,
            1,
            "a tail of one record is always allowed"
        );
    }
}
