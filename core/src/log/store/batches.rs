//! Records in the batches tree of store format 2: one value per group
//! commit (see [`super::batch`]), keyed by its first seq (u64 big-endian).
//! Batches never overlap and hold consecutive seqs; a seq is found by a
//! range search for the last batch that starts at or before it.
//!
//! These functions read and rewrite that tree; the store decides when (it
//! buffers a group commit's records, see `SledStore::append_batch`).

use super::batch::{self, BATCH_CAP, BatchView};
use super::{StoreError, engine, seq_key};

fn corrupt(first: u64, error: batch::BatchError) -> StoreError {
    StoreError::Engine {
        context: format!("reading the batch of records from seq {first}"),
        message: error.to_string(),
    }
}

fn key_first(key: &[u8]) -> Result<u64, StoreError> {
    super::key_seq(key)
}

/// The batch holding `seq`: its first seq and value.
pub(super) fn containing(
    tree: &sled::Tree,
    seq: u64,
) -> Result<Option<(u64, sled::IVec)>, StoreError> {
    let Some(found) = tree.range(..=seq_key(seq)).next_back() else {
        return Ok(None);
    };
    let (key, value) = found.map_err(engine("reading records"))?;
    let first = key_first(&key)?;
    let count = BatchView::parse(&value)
        .map_err(|error| corrupt(first, error))?
        .len() as u64;
    if seq - first < count {
        Ok(Some((first, value)))
    } else {
        Ok(None)
    }
}

/// One stored record.
pub(super) fn read(tree: &sled::Tree, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
    let Some((first, value)) = containing(tree, seq)? else {
        return Ok(None);
    };
    let view = BatchView::parse(&value).map_err(|error| corrupt(first, error))?;
    Ok(view
        .get(usize::try_from(seq - first).unwrap_or(usize::MAX))
        .map(<[u8]>::to_vec))
}

/// The last stored record.
pub(super) fn tail(tree: &sled::Tree) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
    let Some((key, value)) = tree.last().map_err(engine("reading the tail"))? else {
        return Ok(None);
    };
    let first = key_first(&key)?;
    let view = BatchView::parse(&value).map_err(|error| corrupt(first, error))?;
    let last = view.len() - 1;
    Ok(view
        .get(last)
        .map(|record| (first + last as u64, record.to_vec())))
}

/// The seq after the last stored record (1 when none is).
pub(super) fn end(tree: &sled::Tree) -> Result<u64, StoreError> {
    let Some((key, value)) = tree.last().map_err(engine("reading the tail"))? else {
        return Ok(1);
    };
    let first = key_first(&key)?;
    let view = BatchView::parse(&value).map_err(|error| corrupt(first, error))?;
    Ok(first + view.len() as u64)
}

/// Adds to `writes` the batch values that store consecutive records from
/// `first`, each of at most [`BATCH_CAP`] bytes (a single record larger
/// than that gets a value of its own).
fn add_run(writes: &mut sled::Batch, first: u64, records: &[&[u8]]) {
    let mut start = 0usize;
    while start < records.len() {
        let mut end = start;
        let mut size = batch::encoded_len([]);
        while end < records.len()
            && (end == start || size + batch::PER_RECORD_BYTES + records[end].len() <= BATCH_CAP)
        {
            size += batch::PER_RECORD_BYTES + records[end].len();
            end += 1;
        }
        writes.insert(
            &seq_key(first + start as u64),
            batch::encode(&records[start..end]),
        );
        start = end;
    }
}

/// Stores consecutive records from `first` (see [`add_run`]), all or
/// nothing. The caller ensures that no stored batch overlaps them.
pub(super) fn insert_run(
    tree: &sled::Tree,
    first: u64,
    records: &[&[u8]],
) -> Result<(), StoreError> {
    if records.is_empty() {
        return Ok(());
    }
    if batch::encoded_len(records.iter().copied()) <= BATCH_CAP {
        // The usual case, one group commit: one plain insert, cheaper in
        // sled than a batch.
        tree.insert(seq_key(first), batch::encode(records))
            .map_err(engine("storing records"))?;
        return Ok(());
    }
    let mut writes = sled::Batch::default();
    add_run(&mut writes, first, records);
    tree.apply_batch(writes).map_err(engine("storing records"))
}

/// Rewrites the batch that starts at `first` as `before` (kept under
/// `first`) and `after` (from `after_first`), in one atomic sled batch: a
/// crash leaves the old batch or the new ones, never neither.
fn rewrite(
    tree: &sled::Tree,
    first: u64,
    before: &[&[u8]],
    after_first: u64,
    after: &[&[u8]],
) -> Result<(), StoreError> {
    let mut writes = sled::Batch::default();
    writes.remove(&seq_key(first));
    add_run(&mut writes, first, before);
    add_run(&mut writes, after_first, after);
    tree.apply_batch(writes)
        .map_err(engine("rewriting records"))
}

/// Replaces (or, where no record is stored, inserts) records, each
/// batch rewritten once however many of its records change. `records` is
/// in seq order.
pub(super) fn put_many(tree: &sled::Tree, records: &[(u64, &[u8])]) -> Result<(), StoreError> {
    let mut index = 0;
    while index < records.len() {
        let seq = records[index].0;
        match containing(tree, seq)? {
            Some((first, value)) => {
                let view = BatchView::parse(&value).map_err(|error| corrupt(first, error))?;
                let count = view.len() as u64;
                let mut rebuilt: Vec<&[u8]> = view.records().collect();
                while index < records.len()
                    && records[index].0 >= first
                    && records[index].0 < first + count
                {
                    let (at, bytes) = records[index];
                    rebuilt[(at - first) as usize] = bytes;
                    index += 1;
                }
                rewrite(tree, first, &rebuilt, first + count, &[])?;
            }
            None => {
                // A seq no batch holds (past the end, or a gap left by a
                // removal): a batch of its own, which overlaps none.
                insert_run(tree, seq, &[records[index].1])?;
                index += 1;
            }
        }
    }
    Ok(())
}

/// Removes one record: its batch is cut in two around it (either part
/// may be empty).
pub(super) fn remove(tree: &sled::Tree, seq: u64) -> Result<(), StoreError> {
    let Some((first, value)) = containing(tree, seq)? else {
        return Ok(());
    };
    let view = BatchView::parse(&value).map_err(|error| corrupt(first, error))?;
    let records: Vec<&[u8]> = view.records().collect();
    let at = (seq - first) as usize;
    rewrite(tree, first, &records[..at], seq + 1, &records[at + 1..])
}

/// The stored records with seq in `from..=to`, in order, reading each
/// batch once.
pub(super) struct RangeRecords {
    batches: Option<sled::Iter>,
    current: Option<Cursor>,
    from: u64,
    to: u64,
}

/// A position inside one batch value.
struct Cursor {
    first: u64,
    value: sled::IVec,
    count: usize,
    index: usize,
    offset: usize,
}

impl RangeRecords {
    pub(super) fn new(tree: &sled::Tree, from: u64, to: u64) -> RangeRecords {
        if from > to {
            return RangeRecords {
                batches: None,
                current: None,
                from,
                to,
            };
        }
        // Start at the batch holding `from`, if one does; otherwise at the
        // first batch after it.
        let start = match tree.range(..=seq_key(from)).next_back() {
            Some(Ok((key, _))) => key_first(&key).unwrap_or(from),
            _ => from,
        };
        RangeRecords {
            batches: Some(tree.range(seq_key(start)..=seq_key(to))),
            current: None,
            from,
            to,
        }
    }

    fn next_batch(&mut self) -> Option<Result<(), StoreError>> {
        let batches = self.batches.as_mut()?;
        let (key, value) = match batches.next()? {
            Ok(pair) => pair,
            Err(error) => return Some(Err(engine("reading records")(error))),
        };
        let first = match key_first(&key) {
            Ok(first) => first,
            Err(error) => return Some(Err(error)),
        };
        let count = match BatchView::parse(&value) {
            Ok(view) => view.len(),
            Err(error) => return Some(Err(corrupt(first, error))),
        };
        self.current = Some(Cursor {
            first,
            value,
            count,
            index: 0,
            offset: 4 + 4 * count,
        });
        Some(Ok(()))
    }
}

impl Iterator for RangeRecords {
    type Item = Result<(u64, Vec<u8>), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(cursor) = &mut self.current {
                while cursor.index < cursor.count {
                    let seq = cursor.first + cursor.index as u64;
                    let at = 4 + 4 * cursor.index;
                    let length =
                        u32::from_be_bytes(cursor.value[at..at + 4].try_into().unwrap_or([0; 4]))
                            as usize;
                    let start = cursor.offset;
                    cursor.offset += length;
                    cursor.index += 1;
                    if seq > self.to {
                        self.batches = None;
                        self.current = None;
                        return None;
                    }
                    if seq >= self.from {
                        return Some(Ok((seq, cursor.value[start..start + length].to_vec())));
                    }
                }
                self.current = None;
            }
            match self.next_batch()? {
                Ok(()) => {}
                Err(error) => {
                    self.batches = None;
                    return Some(Err(error));
                }
            }
        }
    }
}
