//! How long the unanchored tail of a log may be.
//!
//! A server signs a checkpoint every `every` events and at least every
//! `interval` (`CAIRN_CHECKPOINT_EVERY`, `CAIRN_CHECKPOINT_INTERVAL`), also
//! when idle, and once more at a clean shutdown. So the records after the
//! last signed checkpoint (the unanchored tail) are either few, or were
//! all written within one interval of the last anchored record: a crash
//! can leave no more. A longer tail is a history that someone rewrote
//! without the key to sign it (for example, a re-chained log whose
//! checkpoints were dropped), and it is refused, naming its first seq.

use super::verify::Violation;

/// Extra time allowed beyond the interval: the checkpoint job's own
/// latency (waking, signing, the sync).
pub const GRACE_MICROS: i64 = 5_000_000;

/// The checkpoint cadence the tail is held to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cadence {
    /// A checkpoint is signed after this many events.
    pub every: u64,
    /// A checkpoint is signed at least this often, in microseconds.
    pub interval_micros: i64,
}

impl Cadence {
    /// The server's defaults (`CAIRN_CHECKPOINT_EVERY=1000`,
    /// `CAIRN_CHECKPOINT_INTERVAL=60`).
    pub const DEFAULT: Cadence = Cadence {
        every: 1000,
        interval_micros: 60_000_000,
    };

    /// A cadence of `every` events or `interval_secs` seconds.
    pub fn new(every: u64, interval_secs: u64) -> Cadence {
        Cadence {
            every: every.max(1),
            interval_micros: i64::try_from(interval_secs.saturating_mul(1_000_000))
                .unwrap_or(i64::MAX),
        }
    }
}

impl Default for Cadence {
    fn default() -> Self {
        Cadence::DEFAULT
    }
}

/// The anchored part of a log and its tail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tail {
    /// The highest seq a verified checkpoint (or the anchor) covers; 0 when
    /// none does.
    pub anchored_through: u64,
    /// The time of the record at `anchored_through` (of the first record
    /// when nothing is anchored).
    pub anchored_at: i64,
    /// The last record's seq.
    pub head_seq: u64,
    /// The last record's time.
    pub head_at: i64,
}

/// Accepts a tail no longer than the cadence: at most `every` records, or
/// records all written within `interval` (plus [`GRACE_MICROS`]) of the
/// last anchored one. Otherwise names the first unanchored seq.
pub fn check_tail(cadence: &Cadence, tail: &Tail) -> Result<(), Violation> {
    let length = tail.head_seq.saturating_sub(tail.anchored_through);
    if length <= cadence.every {
        return Ok(());
    }
    let span = tail.head_at.saturating_sub(tail.anchored_at);
    if span <= cadence.interval_micros.saturating_add(GRACE_MICROS) {
        return Ok(());
    }
    let first = tail.anchored_through + 1;
    let anchored = match tail.anchored_through {
        0 => "no signed checkpoint covers any record".to_string(),
        seq => format!("the last signed checkpoint covers seq {seq}"),
    };
    Err(Violation {
        seq: first,
        problem: format!(
            "records {first}..={} are not anchored: {anchored}, and {length} records over {} s is longer than the checkpoint cadence ({} events or {} s): the history was rewritten without the key to sign it",
            tail.head_seq,
            span / 1_000_000,
            cadence.every,
            cadence.interval_micros / 1_000_000
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: i64 = 1_000_000;

    fn cadence() -> Cadence {
        Cadence::new(100, 60)
    }

    fn tail(anchored_through: u64, head_seq: u64, span_secs: i64) -> Tail {
        Tail {
            anchored_through,
            anchored_at: 1_000 * SECOND,
            head_seq,
            head_at: 1_000 * SECOND + span_secs * SECOND,
        }
    }

    #[test]
    fn a_tail_of_at_most_every_events_passes_whatever_its_span() {
        assert_eq!(check_tail(&cadence(), &tail(500, 600, 86_400)), Ok(()));
        assert_eq!(check_tail(&cadence(), &tail(0, 100, 86_400)), Ok(()));
    }

    #[test]
    fn a_long_tail_written_within_one_interval_passes() {
        // given a burst of 5,000 events in 3 s and a crash before the next
        // checkpoint
        assert_eq!(check_tail(&cadence(), &tail(500, 5_500, 3)), Ok(()));
        // the job's latency is allowed for
        assert_eq!(check_tail(&cadence(), &tail(500, 5_500, 64)), Ok(()));
    }

    #[test]
    fn a_long_tail_over_a_long_span_is_named_at_its_first_seq() {
        // given a log whose checkpoints were dropped after seq 500
        let violation = check_tail(&cadence(), &tail(500, 5_500, 3_600)).unwrap_err();
        // then the first unanchored seq is named
        assert_eq!(violation.seq, 501);
        assert!(violation.problem.contains("seq 500"), "{violation}");
    }

    #[test]
    fn a_log_with_no_checkpoint_at_all_is_named_from_seq_1() {
        let violation = check_tail(&cadence(), &tail(0, 1_000, 3_600)).unwrap_err();
        assert_eq!(violation.seq, 1);
        assert!(
            violation.problem.contains("no signed checkpoint"),
            "{violation}"
        );
    }

    #[test]
    fn a_zero_cadence_still_allows_one_record() {
        let strict = Cadence::new(0, 0);
        assert_eq!(strict.every, 1);
        assert_eq!(check_tail(&strict, &tail(9, 10, 3_600)), Ok(()));
        assert!(check_tail(&strict, &tail(9, 11, 3_600)).is_err());
    }
}
