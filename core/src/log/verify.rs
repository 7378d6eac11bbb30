//! Whole-chain verification: every record decodes, sits at its own seq,
//! hashes to its stored hash, carries the payload it committed to, and is
//! the one its successor chained to; every checkpoint matches the record it
//! covers and its Ed25519 signature verifies; the log reaches the head it
//! recorded.
//!
//! A chain proves nothing by itself to someone who can rewrite all of it,
//! so the whole log must also be anchored under the master key: every
//! record but an unanchored tail no longer than the checkpoint cadence
//! (see [`super::cadence`]) is covered by a signed checkpoint or by the
//! data dir's anchor file (see [`super::anchor`]), and the log reaches
//! its anchor with the anchored record unchanged. Checkpoints collected
//! elsewhere (a SIEM's copy of the `checkpoint.signed` events) can be
//! given too: the log must hold every seq they sign, with the same hash,
//! which catches a data dir rolled back together with its anchor.
//!
//! The first violation is reported with the seq it affects. When a record
//! is self-consistent but its successor chained to a different hash, the
//! altered record is the predecessor (its successor's own hash covers the
//! link), so that one is named.

use std::collections::BTreeMap;

use cairn_schemas::{Action, CheckpointSigned, EventPayload, Record, RetentionClass};

use super::anchor::{self, Anchor};
use super::cadence::{Cadence, UnanchoredTail, check_unanchored_tail};
use super::chain::{self, GENESIS_HASH};
use super::codec::{self, CodecError};
use super::error::ReadError;
use super::store::meta_key;
use super::{Head, LogReader};
use crate::crypto;

/// The first thing found wrong with the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The first affected seq.
    pub seq: u64,
    /// What is wrong, in one sentence.
    pub problem: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "seq {}: {}", self.seq, self.problem)
    }
}

/// The result of verifying a whole log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records checked (up to the first violation).
    pub checked: u64,
    /// The last good record.
    pub head: Head,
    /// Checkpoints whose signature was verified.
    pub checkpoints_verified: u64,
    /// Payloads dropped by retention (each covered by a `retention.pruned`
    /// record; the headers, and so the chain, are intact).
    pub payloads_pruned: u64,
    /// The highest seq covered by a verified checkpoint or the anchor (0
    /// when none is): records after it are the unanchored tail.
    pub anchored_through: u64,
    /// The head the data dir's anchor holds, when it was checked.
    pub anchor: Option<Head>,
    /// Checkpoints collected elsewhere that the log was checked against.
    pub outside_checkpoints: u64,
    /// The first violation, if any.
    pub first_bad: Option<Violation>,
}

/// What a whole-log verification checks beyond the chain itself.
#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// The checkpoint verifying key; `None` uses the one derived from the
    /// master key the log was opened with.
    pub public_key: Option<[u8; 32]>,
    /// The cadence the unanchored tail is held to.
    pub cadence: Cadence,
    /// Check the data dir's anchor file (it must exist once the log has
    /// records). Off only for adopting a data dir that predates anchors.
    pub skip_anchor: bool,
    /// Checkpoints collected elsewhere (see [`outside_checkpoints`]).
    pub outside: Vec<CheckpointSigned>,
}

impl VerifyReport {
    /// True when the whole log verified.
    pub fn ok(&self) -> bool {
        self.first_bad.is_none()
    }
}

/// Walks records in order and checks each against the chain so far.
#[derive(Debug)]
pub(crate) struct ChainWalker<'k> {
    expected: u64,
    prev_hash: [u8; 32],
    prev_at: i64,
    public_key: Option<&'k [u8; 32]>,
    pub(crate) checkpoints_verified: u64,
    /// The seq and time of the last record a verified checkpoint signed.
    pub(crate) last_signed: Option<(u64, i64)>,
    /// The time of the first record walked.
    pub(crate) first_at: Option<i64>,
    /// Seqs whose hash and time are wanted (the anchor's), and what was
    /// found there.
    watched: BTreeMap<u64, Option<([u8; 32], i64)>>,
    pruned: PrunedPayloads,
}

/// Payloads found missing, waiting for the `retention.pruned` record that
/// covers them. Retention writes that record (durably) before it drops
/// any payload, so every legitimately missing payload comes before a
/// retention record whose horizon for its class reaches it; anything
/// still uncovered at the end was removed by someone else.
#[derive(Debug, Default)]
pub(crate) struct PrunedPayloads {
    /// Missing payloads not yet covered, in seq order.
    uncovered: Vec<(u64, RetentionClass)>,
    /// Payloads found missing and covered by a retention record.
    pub(crate) covered: u64,
}

impl PrunedPayloads {
    fn missing(&mut self, seq: u64, action: Action) {
        self.uncovered.push((seq, action.retention_class()));
    }

    fn retention_record(&mut self, payload: &[u8]) {
        let Ok(EventPayload::RetentionPruned(pruned)) = codec::decode_payload(payload) else {
            return;
        };
        let before = self.uncovered.len();
        self.uncovered.retain(|(seq, class)| {
            !pruned
                .horizons
                .iter()
                .any(|horizon| horizon.class == *class && *seq <= horizon.up_to_seq)
        });
        self.covered += (before - self.uncovered.len()) as u64;
    }

    /// The first missing payload no retention record covers.
    pub(crate) fn first_uncovered(&self) -> Option<Violation> {
        self.uncovered.first().map(|(seq, class)| {
            violation(
                *seq,
                format!(
                    "record {seq}: its payload is missing and no retention record covers it (class {class})"
                ),
            )
        })
    }
}

fn violation(seq: u64, problem: impl Into<String>) -> Violation {
    Violation {
        seq,
        problem: problem.into(),
    }
}

impl<'k> ChainWalker<'k> {
    /// A walker that expects `start_seq` next, chained to `prev_hash`.
    pub(crate) fn new(
        start_seq: u64,
        prev_hash: [u8; 32],
        public_key: Option<&'k [u8; 32]>,
    ) -> Self {
        ChainWalker {
            expected: start_seq,
            prev_hash,
            prev_at: 0,
            public_key,
            checkpoints_verified: 0,
            last_signed: None,
            first_at: None,
            watched: BTreeMap::new(),
            pruned: PrunedPayloads::default(),
        }
    }

    /// Asks the walk to note the hash and time of the record at `seq`.
    pub(crate) fn watch(&mut self, seq: u64) {
        self.watched.insert(seq, None);
    }

    /// The hash and time of a watched record, once walked.
    pub(crate) fn watched(&self, seq: u64) -> Option<([u8; 32], i64)> {
        self.watched.get(&seq).copied().flatten()
    }

    /// The head walked so far.
    pub(crate) fn head(&self) -> Head {
        Head {
            seq: self.expected - 1,
            hash: self.prev_hash,
        }
    }

    /// Checks the record stored under `seq`.
    pub(crate) fn step(&mut self, seq: u64, bytes: &[u8]) -> Result<Record, Violation> {
        if seq > self.expected {
            return Err(violation(
                self.expected,
                format!("record {} is missing", self.expected),
            ));
        }
        if seq < self.expected {
            return Err(violation(seq, "record stored twice"));
        }
        let record = codec::decode_record(bytes).map_err(|error| match error {
            CodecError::NewerFormat { .. } => violation(seq, format!("{error}")),
            other => violation(seq, format!("record does not decode ({other})")),
        })?;
        match chain::check_record(&record) {
            Ok(()) => {}
            // Pruned by retention, or removed: told apart when the walk
            // reaches (or never reaches) the retention record covering it.
            // The retention record itself is never pruned.
            Err(chain::RecordFault::PayloadMissing)
                if record.header.action != Action::RetentionPruned =>
            {
                self.pruned.missing(seq, record.header.action);
            }
            Err(fault) => return Err(violation(seq, format!("record {seq}: {fault}"))),
        }
        let claimed = record.header.seq;
        if claimed != seq {
            // A genuine record in the wrong place. When it claims an earlier
            // seq, something was inserted at that seq and pushed it along;
            // when it claims a later one, it was moved here.
            return Err(if (1..seq).contains(&claimed) {
                violation(
                    claimed,
                    format!(
                        "a record was inserted at seq {claimed}: the original record {claimed} now sits at seq {seq}"
                    ),
                )
            } else {
                violation(
                    seq,
                    format!("the record stored at seq {seq} claims seq {claimed} (moved)"),
                )
            });
        }
        if record.header.prev_hash != self.prev_hash {
            return Err(if seq == 1 {
                violation(1, "the first record does not start the chain")
            } else {
                violation(
                    seq - 1,
                    format!(
                        "record {} is not the record that record {seq} was chained to (altered or replaced)",
                        seq - 1
                    ),
                )
            });
        }
        if record.header.action == Action::CheckpointSigned {
            self.check_checkpoint(&record)?;
        }
        if record.header.action == Action::RetentionPruned
            && let Some(payload) = &record.payload
        {
            self.pruned.retention_record(payload);
        }
        if let Some(found) = self.watched.get_mut(&seq) {
            *found = Some((record.hash, record.header.at));
        }
        self.first_at.get_or_insert(record.header.at);
        self.prev_hash = record.hash;
        self.prev_at = record.header.at;
        self.expected = seq + 1;
        Ok(record)
    }

    fn check_checkpoint(&mut self, record: &Record) -> Result<(), Violation> {
        let seq = record.header.seq;
        // A pruned checkpoint payload has nothing left to check; the record
        // itself is still chained.
        let Some(payload) = &record.payload else {
            return Ok(());
        };
        let Ok(EventPayload::CheckpointSigned(checkpoint)) = codec::decode_payload(payload) else {
            return Err(violation(
                seq,
                "a checkpoint.signed record without a checkpoint",
            ));
        };
        if checkpoint.seq + 1 != seq || checkpoint.hash != self.prev_hash {
            return Err(violation(
                seq,
                format!(
                    "checkpoint claims seq {} with a hash the log does not have",
                    checkpoint.seq
                ),
            ));
        }
        if let Some(public_key) = self.public_key {
            crypto::verify_signed(public_key, &checkpoint).map_err(|error| {
                violation(
                    seq,
                    format!("checkpoint signature does not verify ({error})"),
                )
            })?;
            self.checkpoints_verified += 1;
            self.last_signed = Some((checkpoint.seq, self.prev_at));
        }
        Ok(())
    }
}

/// Verifies the whole log (see the module docs).
pub fn verify_chain(
    reader: &LogReader,
    options: &VerifyOptions,
) -> Result<VerifyReport, ReadError> {
    // What the log claims to hold is read before the walk: on a running
    // server, records appended during the walk only make the walk longer,
    // while claims read after it could name records it never reached and
    // report a tail as missing that is merely new. The anchor only ever
    // moves forward, so reading it first is as safe.
    let claimed = claimed_head(reader)?;
    let anchor = if options.skip_anchor {
        Ok(None)
    } else {
        reader.anchor()
    };
    let public_key = options.public_key.unwrap_or(reader.public_key);
    let mut walker = ChainWalker::new(1, GENESIS_HASH, Some(&public_key));
    let mut first_bad = None;
    let anchor = match anchor {
        Ok(anchor) => anchor,
        Err(error) => {
            first_bad = Some(violation(1, error.to_string()));
            None
        }
    };
    if let Some(anchor) = &anchor {
        walker.watch(anchor.head.seq);
    }
    let outside = match outside_by_seq(&options.outside, &public_key) {
        Ok(outside) => outside,
        Err(bad) => {
            first_bad.get_or_insert(bad);
            BTreeMap::new()
        }
    };
    for seq in outside.keys() {
        walker.watch(*seq);
    }
    if first_bad.is_none() {
        for item in reader.store().read_range(1, u64::MAX) {
            let (seq, bytes) = item?;
            if let Err(found) = walker.step(seq, &bytes) {
                first_bad = Some(found);
                break;
            }
        }
    }
    if first_bad.is_none() {
        first_bad = walker.pruned.first_uncovered();
    }
    let head = walker.head();
    if first_bad.is_none() {
        first_bad = missing_tail(claimed, head.seq);
    }
    let mut anchored_through = walker.last_signed.map_or(0, |(seq, _)| seq);
    let mut anchored_at = walker.last_signed.map(|(_, at)| at);
    if first_bad.is_none() && !options.skip_anchor {
        first_bad = match &anchor {
            None if head.seq > 0 => Some(violation(
                1,
                format!(
                    "the log holds {} records but the data dir has no anchor file: it was removed, or the data dir predates anchors (adopt it with `cairn audit adopt`)",
                    head.seq
                ),
            )),
            None => None,
            Some(anchor) => {
                let found = walker.watched(anchor.head.seq);
                anchor::check_log(anchor, &head, found.map(|(hash, _)| hash)).err()
            }
        };
        if let (None, Some(anchor)) = (&first_bad, &anchor)
            && anchor.head.seq > anchored_through
        {
            anchored_through = anchor.head.seq;
            anchored_at = walker.watched(anchor.head.seq).map(|(_, at)| at);
        }
    }
    if first_bad.is_none() {
        first_bad = check_outside(&outside, &walker, head.seq);
    }
    if first_bad.is_none() {
        first_bad = tail_violation(
            options.cadence,
            anchored_through,
            anchored_at.or(walker.first_at).unwrap_or(0),
            head.seq,
            walker.prev_at,
        );
    }
    Ok(VerifyReport {
        checked: head.seq,
        head,
        checkpoints_verified: walker.checkpoints_verified,
        payloads_pruned: walker.pruned.covered,
        anchored_through,
        anchor: anchor.map(|anchor: Anchor| anchor.head),
        outside_checkpoints: outside.len() as u64,
        first_bad,
    })
}

/// The unanchored tail (the records after `anchored_through`, the last
/// ending at `head_at`) held to the cadence: the violation, naming its
/// first seq, when it is longer.
pub(crate) fn tail_violation(
    cadence: Cadence,
    anchored_through: u64,
    anchored_at: i64,
    head_seq: u64,
    head_at: i64,
) -> Option<Violation> {
    let tail = UnanchoredTail {
        first_seq: anchored_through + 1,
        len: head_seq.saturating_sub(anchored_through),
        span_micros: head_at.saturating_sub(anchored_at),
    };
    check_unanchored_tail(cadence, tail)
        .err()
        .map(|refused| violation(tail.first_seq, refused.to_string()))
}

/// Outside checkpoints by the seq they sign, each signature verified.
fn outside_by_seq(
    outside: &[CheckpointSigned],
    public_key: &[u8; 32],
) -> Result<BTreeMap<u64, [u8; 32]>, Violation> {
    let mut by_seq = BTreeMap::new();
    for checkpoint in outside {
        crypto::verify_signed(public_key, checkpoint)
        .map_err(|error| {
            violation(
                checkpoint.seq,
                format!(
                    "the outside checkpoint of seq {} does not verify under this log's key ({error})",
                    checkpoint.seq
                ),
            )
        })?;
        if let Some(other) = by_seq.insert(checkpoint.seq, checkpoint.hash)
            && other != checkpoint.hash
        {
            return Err(violation(
                checkpoint.seq,
                format!(
                    "two outside checkpoints sign different hashes for seq {}",
                    checkpoint.seq
                ),
            ));
        }
    }
    Ok(by_seq)
}

/// The log must hold every seq an outside checkpoint signs, with its hash.
fn check_outside(
    outside: &BTreeMap<u64, [u8; 32]>,
    walker: &ChainWalker<'_>,
    head: u64,
) -> Option<Violation> {
    for (seq, hash) in outside {
        if *seq > head {
            return Some(violation(
                head + 1,
                format!(
                    "the log ends at seq {head}, but a checkpoint kept elsewhere signs seq {seq}: records {}..={seq} were cut off, or the data dir was rolled back with its anchor",
                    head + 1
                ),
            ));
        }
        if *seq > 0 && walker.watched(*seq).map(|(found, _)| found) != Some(*hash) {
            return Some(violation(
                *seq,
                format!(
                    "record {seq} is not the record a checkpoint kept elsewhere signs: the history up to it was rewritten"
                ),
            ));
        }
    }
    None
}

/// The seq the log claims to reach: the head it recorded before its last
/// sync, or the latest checkpoint's seq if that is further.
pub(crate) fn claimed_head(reader: &LogReader) -> Result<u64, ReadError> {
    let recorded = match reader.store().meta_get(meta_key::HEAD_SEQ)? {
        Some(bytes) => <[u8; 8]>::try_from(bytes.as_slice())
            .map(u64::from_be_bytes)
            .unwrap_or(0),
        None => 0,
    };
    let checkpointed = reader
        .store()
        .last_checkpoint()?
        .map(|(seq, _)| seq)
        .unwrap_or(0);
    Ok(recorded.max(checkpointed))
}

/// The log claimed a head beyond its last record: records were removed
/// from the tail.
pub(crate) fn missing_tail(claimed: u64, last: u64) -> Option<Violation> {
    (claimed > last).then(|| {
        violation(
            last + 1,
            format!("records {}..={claimed} are missing from the tail", last + 1),
        )
    })
}
