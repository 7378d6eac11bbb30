//! Snapshots of the views: read at start (and for `at_seq` questions) so
//! only the events after the latest one are folded; written every
//! `CAIRN_SNAPSHOT_EVERY` events and around every prune.
//!
//! A snapshot is believed only when its MAC verifies and the log holds the
//! record hash it names at its seq; otherwise the next older one is tried,
//! and then the log from seq 1. Once retention has dropped payloads the log
//! alone can no longer rebuild the views before the prune: a fold that
//! meets a pruned payload stops with [`RebuildError::Pruned`] instead of
//! silently building different views.

use cairn_core::log::chain::NO_PAYLOAD_DIGEST;
use cairn_core::log::snapshots::{SnapshotError, SnapshotInfo, Snapshots};
use cairn_core::log::{LogReader, ReadError};
use cairn_projections::{ApplyError, Views};
use cairn_schemas::{EventPayload, Record};

/// Why the views could not be rebuilt.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// Reading the log failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A record would not apply (a bug).
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// The fold met a payload retention dropped, with no usable snapshot
    /// after it.
    #[error(
        "record {seq}'s payload was pruned by retention and no readable snapshot covers it: the state before seq {seq} can no longer be rebuilt (restore the data dir's snapshots/ from a backup)"
    )]
    Pruned {
        /// The first pruned record met.
        seq: u64,
    },
}

/// The views as of `to`, from the latest usable snapshot at or before it
/// and the records after it. Returns the views and the snapshot used.
pub fn rebuild(
    reader: &LogReader,
    snapshots: &Snapshots,
    to: u64,
) -> Result<(Views, Option<u64>), RebuildError> {
    if let Some((mut views, record)) =
        latest_usable(reader, snapshots, |record| record.header.seq <= to)
    {
        let seq = record.header.seq;
        fold(reader, &mut views, seq + 1, to)?;
        return Ok((views, Some(seq)));
    }
    let mut views = Views::new();
    fold(reader, &mut views, 1, to)?;
    Ok((views, None))
}

/// The newest snapshot of this log whose record `fits`, with that record;
/// the views' personal data opened. Snapshots that do not authenticate or
/// name another log's record are passed over with a warning.
pub fn latest_usable(
    reader: &LogReader,
    snapshots: &Snapshots,
    fits: impl Fn(&Record) -> bool,
) -> Option<(Views, Record)> {
    let listed = match snapshots.list() {
        Ok(listed) => listed,
        Err(error) => {
            tracing::warn!(%error, "cannot list the snapshots; folding the whole log");
            return None;
        }
    };
    for info in listed.iter().rev() {
        let record = match reader.read(info.seq) {
            Ok(Some(record)) => record,
            Ok(None) => continue,
            Err(error) => {
                tracing::warn!(seq = info.seq, %error, "cannot read the record a snapshot names");
                continue;
            }
        };
        if !fits(&record) {
            continue;
        }
        match usable(snapshots, info, &record) {
            Ok(Some(mut views)) => {
                views.reopen_personal(reader);
                return Some((views, record));
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(snapshot = %info.path.display(), %error, "snapshot not used");
            }
        }
    }
    None
}

/// The snapshot's views, if it is a snapshot of `record`'s log.
fn usable(
    snapshots: &Snapshots,
    info: &SnapshotInfo,
    record: &Record,
) -> Result<Option<Views>, SnapshotError> {
    let (hash, views): ([u8; 32], Views) = snapshots.read(info)?;
    if record.hash != hash || views.applied_seq() != info.seq {
        tracing::warn!(
            snapshot = %info.path.display(),
            "snapshot not used: the log holds another record at its seq"
        );
        return Ok(None);
    }
    Ok(Some(views))
}

/// Records decoded per batch handed from the reading thread to the fold.
const FOLD_BATCH: usize = 512;
/// Batches in flight between the two threads (bounded memory).
const FOLD_QUEUE: usize = 8;

/// Applies the records `from..=to`. Reading and decoding runs on a second
/// thread, in batches through a bounded queue, while this one applies: on
/// two cores a start folds about twice as fast as one thread doing both.
pub fn fold(reader: &LogReader, views: &mut Views, from: u64, to: u64) -> Result<(), RebuildError> {
    if from > to {
        return Ok(());
    }
    std::thread::scope(|scope| {
        let (batches, received) =
            std::sync::mpsc::sync_channel::<Result<Vec<Decoded>, RebuildError>>(FOLD_QUEUE);
        let reading = scope.spawn(move || {
            let mut batch = Vec::with_capacity(FOLD_BATCH);
            for record in reader.records_for_fold(from, to) {
                let decoded = record.map_err(RebuildError::from).and_then(|record| {
                    let payload = Views::decode_payload(&record)?;
                    Ok((record, payload))
                });
                match decoded {
                    Ok(decoded) => batch.push(decoded),
                    Err(error) => {
                        let _ = batches.send(Err(error));
                        return;
                    }
                }
                if batch.len() == FOLD_BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(FOLD_BATCH));
                    if batches.send(Ok(full)).is_err() {
                        return; // the fold stopped early
                    }
                }
            }
            if !batch.is_empty() {
                let _ = batches.send(Ok(batch));
            }
        });
        let mut outcome = Ok(());
        for batch in received.iter() {
            if let Err(error) = batch.and_then(|batch| apply_all(reader, views, &batch)) {
                outcome = Err(error);
                break;
            }
        }
        // Dropping the receiver ends the reading thread at its next send.
        drop(received);
        let _ = reading.join();
        outcome
    })
}

/// A record with its payload decoded.
type Decoded = (Record, Option<EventPayload>);

fn apply_all(
    reader: &LogReader,
    views: &mut Views,
    records: &[Decoded],
) -> Result<(), RebuildError> {
    for (record, payload) in records {
        if record.payload.is_none() && record.header.payload_digest != NO_PAYLOAD_DIGEST {
            return Err(RebuildError::Pruned {
                seq: record.header.seq,
            });
        }
        views.apply_decoded(record, payload.as_ref(), reader)?;
    }
    Ok(())
}
