//! Retention's work on the log: finding where a class's payloads may be
//! dropped, and dropping them. Only payloads go; headers, hashes and so the
//! chain stay, and every drop follows a durable `retention.pruned` record
//! that covers it (see [`super::verify`]).
//!
//! Deciding what to prune (the policy, the floors, the clock) is the
//! application's job; this module only reads and rewrites records.

use cairn_schemas::{Action, Record, RetentionClass};

use super::codec;
use super::error::ReadError;
use super::store::meta_key;
use super::{EventLog, LogReader, decode_at};

/// How many stripped records retention hands the store at once.
const REWRITE_RUN: usize = 4096;

/// One seq per retention class, in the order security, activity,
/// operational.
pub type ClassSeqs = [u64; 3];

/// The position of `class` in a [`ClassSeqs`].
pub fn class_index(class: RetentionClass) -> usize {
    match class {
        RetentionClass::Security => 0,
        RetentionClass::Activity => 1,
        RetentionClass::Operational => 2,
    }
}

/// Whether retention may ever drop this action's payload. The retention
/// record is what tells pruning from tampering, and a checkpoint's payload
/// is its signature: both are kept for ever (they are small).
pub fn prunable(action: Action) -> bool {
    !matches!(action, Action::RetentionPruned | Action::CheckpointSigned)
}

impl LogReader {
    /// The seq of the last record stored strictly before the time `at`
    /// (micros), among seqs `1..=head`; 0 when there is none. Time in the
    /// log never goes backwards, so this is a binary search.
    pub fn last_seq_before(&self, at: i64, head: u64) -> Result<u64, ReadError> {
        let (mut low, mut high) = (0u64, head);
        // Invariant: record `low` (if any) is before `at`; every record
        // after `high` is at or after it.
        while low < high {
            let middle = low + (high - low).div_ceil(2);
            let record = self.read_existing(middle)?;
            if record.header.at < at {
                low = middle;
            } else {
                high = middle - 1;
            }
        }
        Ok(low)
    }

    /// The seq of the record of `class` that is the `ordinal`-th of its
    /// class (1-based), scanning forward from `from`, whose record is the
    /// `from_ordinal`-th of its class (`from` must hold a record of
    /// `class`). `None` when the log ends (at `head`) first.
    pub fn class_ordinal_seq(
        &self,
        class: RetentionClass,
        from: u64,
        from_ordinal: u64,
        ordinal: u64,
        head: u64,
    ) -> Result<Option<u64>, ReadError> {
        if ordinal < from_ordinal {
            return Ok(None);
        }
        let mut seen = from_ordinal - 1;
        for record in self.records(from, head) {
            let record = record?;
            if record.header.action.retention_class() == class {
                seen += 1;
                if seen == ordinal {
                    return Ok(Some(record.header.seq));
                }
            }
        }
        Ok(None)
    }

    fn read_existing(&self, seq: u64) -> Result<Record, ReadError> {
        match self.store.read(seq)? {
            Some(bytes) => decode_at(seq, &bytes),
            None => Err(ReadError::Decode {
                seq,
                error: codec::CodecError::Truncated,
            }),
        }
    }

    /// How far payloads have been dropped, per class (0: never).
    pub fn retention_applied(&self) -> Result<ClassSeqs, ReadError> {
        let Some(bytes) = self.store.meta_get(meta_key::RETENTION_APPLIED)? else {
            return Ok([0; 3]);
        };
        let mut applied = [0u64; 3];
        for (index, chunk) in bytes.chunks_exact(8).take(3).enumerate() {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            applied[index] = u64::from_be_bytes(word);
        }
        Ok(applied)
    }
}

impl EventLog {
    /// Drops the payload of every prunable record of class `c` with seq
    /// in `(applied[c], horizons[c]]`, where `applied` is how far earlier
    /// drops went, then syncs and records the new extent. Returns how many
    /// payloads were dropped per class. The caller must have made a
    /// `retention.pruned` record with these horizons durable first.
    pub fn drop_payloads(&self, horizons: ClassSeqs) -> Result<ClassSeqs, ReadError> {
        self.prunable_payloads(horizons, true)
    }

    /// How many payloads [`EventLog::drop_payloads`] with these horizons
    /// would drop, per class (nothing is changed).
    pub fn count_prunable(&self, horizons: ClassSeqs) -> Result<ClassSeqs, ReadError> {
        self.prunable_payloads(horizons, false)
    }

    fn prunable_payloads(&self, horizons: ClassSeqs, drop: bool) -> Result<ClassSeqs, ReadError> {
        let applied = self.reader.retention_applied()?;
        let mut dropped = [0u64; 3];
        let from = (0..3)
            .filter(|&index| horizons[index] > applied[index])
            .map(|index| applied[index] + 1)
            .min();
        let Some(from) = from else {
            return Ok(dropped);
        };
        let to = horizons.iter().copied().max().unwrap_or(0);
        let store = self.reader.store();
        // Rewritten in runs, so that a store keeping many records per value
        // rewrites each value once per run, not once per record.
        let mut stripped_run: Vec<(u64, Vec<u8>)> = Vec::new();
        for item in store.read_range(from, to) {
            let (seq, bytes) = item?;
            let mut record = decode_at(seq, &bytes)?;
            let class = class_index(record.header.action.retention_class());
            if seq <= applied[class] || seq > horizons[class] {
                continue;
            }
            if record.payload.is_none() || !prunable(record.header.action) {
                continue;
            }
            dropped[class] += 1;
            if !drop {
                continue;
            }
            record.payload = None;
            let stripped =
                codec::encode_record(&record).map_err(|error| ReadError::Decode { seq, error })?;
            stripped_run.push((seq, stripped));
            if stripped_run.len() == REWRITE_RUN {
                store.replace_many(&std::mem::take(&mut stripped_run))?;
            }
        }
        if !stripped_run.is_empty() {
            store.replace_many(&stripped_run)?;
        }
        if !drop {
            return Ok(dropped);
        }
        let extent: ClassSeqs = [0, 1, 2].map(|index| applied[index].max(horizons[index]));
        let mut bytes = Vec::with_capacity(24);
        for seq in extent {
            bytes.extend_from_slice(&seq.to_be_bytes());
        }
        store.sync()?;
        store.meta_put(meta_key::RETENTION_APPLIED, &bytes)?;
        store.sync()?;
        Ok(dropped)
    }
}
