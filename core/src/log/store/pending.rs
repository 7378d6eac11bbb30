//! The group commit under way: the records appended since the last one
//! was stored, kept in memory until the flusher records the head (or until
//! they fill a batch value), then stored as one sled value (see
//! [`super::batch`]). Also every other write of records in store format 2,
//! which must keep `pending` and the stored batches from overlapping.

use std::sync::{MutexGuard, PoisonError};

use super::batch;
use super::batches;
use super::{
    Handles, Layout, STORE_FORMAT_PER_RECORD, STORE_FORMAT_VERSION, SledStore, StoreError,
};

/// Records appended but not yet handed to sled: consecutive seqs from
/// `first`, in order, and at most one batch value's worth.
#[derive(Debug, Default)]
pub(super) struct Pending {
    /// The seq of the first pending record; when there is none and
    /// `end_known`, the seq after the last record sled holds.
    pub(super) first: u64,
    pub(super) records: Vec<Vec<u8>>,
    /// The size of their batch value.
    bytes: usize,
    /// Whether `first` is known to follow sled's last record (found once,
    /// then kept by every write, so an append never asks sled).
    end_known: bool,
}

impl Pending {
    /// The seq after the last pending record (`first` when there is none).
    pub(super) fn end(&self) -> u64 {
        self.first + self.records.len() as u64
    }

    pub(super) fn get(&self, seq: u64) -> Option<&Vec<u8>> {
        if seq < self.first {
            return None;
        }
        self.records.get(usize::try_from(seq - self.first).ok()?)
    }
}

impl SledStore {
    pub(super) fn pending(&self) -> MutexGuard<'_, Pending> {
        // Pending holds whole records and a count kept with them: a panic
        // elsewhere cannot leave it half-written.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands the pending records to sled as one batch value (a group
    /// commit), so that the next sync covers them.
    pub(super) fn spill(handles: &Handles, pending: &mut Pending) -> Result<(), StoreError> {
        if pending.records.is_empty() {
            return Ok(());
        }
        let records: Vec<&[u8]> = pending.records.iter().map(Vec::as_slice).collect();
        batches::insert_run(&handles.records, pending.first, &records)?;
        pending.first = pending.end();
        pending.records.clear();
        pending.bytes = 0;
        pending.end_known = true;
        Ok(())
    }

    /// Stores records (in seq order): appended to the pending batch when
    /// they extend the log, written into their stored batch otherwise.
    pub(super) fn put_records(
        &self,
        handles: &Handles,
        records: &[(u64, &[u8])],
    ) -> Result<(), StoreError> {
        let mut sorted;
        let mut records = records;
        if !records.is_sorted_by_key(|(seq, _)| *seq) {
            sorted = records.to_vec();
            sorted.sort_by_key(|(seq, _)| *seq);
            records = &sorted;
        }
        if let Some((_, too_large)) = records
            .iter()
            .find(|(_, bytes)| batch::encoded_len([*bytes]) > batch::BATCH_CAP)
        {
            return Err(StoreError::Engine {
                context: "storing records".into(),
                message: format!(
                    "a record of {} bytes does not fit in a batch of {} bytes",
                    too_large.len(),
                    batch::BATCH_CAP
                ),
            });
        }
        let mut pending = self.pending();
        if !pending.end_known {
            pending.first = batches::end(&handles.records)?;
            pending.end_known = true;
        }
        let stored = records.partition_point(|(seq, _)| *seq < pending.first);
        if stored > 0 {
            Self::spill(handles, &mut pending)?;
            let stored = records.partition_point(|(seq, _)| *seq < pending.first);
            batches::put_many(&handles.records, &records[..stored])?;
            records = &records[stored..];
        }
        for (seq, bytes) in records {
            let (seq, bytes) = (*seq, *bytes);
            let end = pending.end();
            if seq < end {
                // A pending record written again (tests and restore only).
                let index = (seq - pending.first) as usize;
                let old = std::mem::replace(&mut pending.records[index], bytes.to_vec());
                pending.bytes = pending.bytes - old.len() + bytes.len();
                continue;
            }
            let fits = pending.bytes + batch::PER_RECORD_BYTES + bytes.len() <= batch::BATCH_CAP;
            if seq > end || !fits {
                Self::spill(handles, &mut pending)?;
                pending.first = seq;
            }
            if pending.records.is_empty() {
                pending.bytes = batch::encoded_len([]);
            }
            pending.records.push(bytes.to_vec());
            pending.bytes += batch::PER_RECORD_BYTES + bytes.len();
        }
        Ok(())
    }

    /// Removes one record (stored or pending), leaving the head alone.
    pub(super) fn remove_record(&self, handles: &Handles, seq: u64) -> Result<(), StoreError> {
        let mut pending = self.pending();
        if !pending.records.is_empty() && seq + 1 == pending.end() {
            if let Some(removed) = pending.records.pop() {
                pending.bytes -= batch::PER_RECORD_BYTES + removed.len();
            }
            return Ok(());
        }
        Self::spill(handles, &mut pending)?;
        batches::remove(&handles.records, seq)?;
        pending.end_known = false;
        Ok(())
    }

    /// Hands any pending records to sled (before a compaction copies it,
    /// and when the store closes).
    pub(super) fn spill_pending(&self) -> Result<(), StoreError> {
        let handles = self.current();
        if handles.layout == Layout::PerRecord {
            return Ok(());
        }
        Self::spill(&handles, &mut self.pending())
    }

    /// Removes one record wherever it lies, leaving the head alone. Never
    /// used by the log (which only drops a torn or unacknowledged tail,
    /// with [`EventStore::remove_tail`]): for tools that take a stopped
    /// data dir apart, such as the tamper tests.
    pub fn remove_record_keeping_head(&self, seq: u64) -> Result<(), StoreError> {
        let _write = self.write_gate()?;
        let handles = self.current();
        if handles.layout == Layout::PerRecord {
            return Err(per_record_read_only());
        }
        self.remove_record(&handles, seq)
    }

    /// How the open database lays its records out.
    pub fn layout(&self) -> Layout {
        self.current().layout
    }
}

/// A write refused on a store of format 1, which is only read until it is
/// migrated.
pub(super) fn per_record_read_only() -> StoreError {
    StoreError::Engine {
        context: "writing records".into(),
        message: format!(
            "the store is in format {STORE_FORMAT_PER_RECORD}, which this build only reads; opening the log for writing migrates it to format {STORE_FORMAT_VERSION}"
        ),
    }
}

impl Drop for SledStore {
    fn drop(&mut self) {
        // Records appended and never synced were never acknowledged, but
        // store them as format 1 did (sled flushes when it closes).
        if let Err(error) = self.spill_pending() {
            tracing::warn!(%error, "storing the last appended records at close");
        }
    }
}
