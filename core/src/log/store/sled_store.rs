//! [`EventStore`] on sled: the records in batch values (store format 2,
//! through [`super::pending`] and [`super::batches`]) or, read-only, one per
//! key (store format 1); the other trees as they are.

use super::batches;
use super::{
    Compaction, EventStore, Layout, STORE_FORMAT_PER_RECORD, STORE_FORMAT_VERSION, SledStore,
    StoreError, StoredEntries, StoredRecords, engine, io, key_seq, meta_key, our_tree_names,
    per_record_read_only, seq_key, tree,
};

impl EventStore for SledStore {
    fn append_batch(&self, records: &[(u64, Vec<u8>)]) -> Result<(), StoreError> {
        // No sled work per append: the records wait in `pending` and go to
        // sled as one value at the next group commit (`record_head`), or
        // when they fill a batch. The head moves only at a sync, to the end
        // of a whole append, and recovery removes what lies beyond it.
        let _write = self.write_gate()?;
        let handles = self.current();
        if handles.layout == Layout::PerRecord {
            return Err(per_record_read_only());
        }
        let records: Vec<(u64, &[u8])> = records
            .iter()
            .map(|(seq, bytes)| (*seq, bytes.as_slice()))
            .collect();
        self.put_records(&handles, &records)
    }

    fn record_head(&self, seq: u64) -> Result<(), StoreError> {
        let _write = self.write_gate()?;
        let handles = self.current();
        if handles.layout == Layout::Batched {
            // The group commit: every record appended so far, as one value,
            // before the head that names it.
            Self::spill(&handles, &mut self.pending())?;
        }
        handles
            .meta
            .insert(meta_key::HEAD_SEQ, &seq_key(seq))
            .map_err(engine("recording the head"))?;
        Ok(())
    }

    fn recorded_head(&self) -> Result<Option<u64>, StoreError> {
        match self
            .current()
            .meta
            .get(meta_key::HEAD_SEQ)
            .map_err(engine("reading the head"))?
        {
            Some(bytes) => Ok(Some(key_seq(&bytes)?)),
            None => Ok(None),
        }
    }

    fn remove_checkpoints_after(&self, seq: u64) -> Result<u64, StoreError> {
        let _write = self.write_gate()?;
        let handles = self.current();
        let mut removed = 0;
        let keys: Vec<sled::IVec> = handles
            .checkpoints
            .range(seq_key(seq.saturating_add(1))..)
            .keys()
            .collect::<Result<_, _>>()
            .map_err(engine("reading checkpoints"))?;
        for key in keys {
            handles
                .checkpoints
                .remove(key)
                .map_err(engine("removing a checkpoint"))?;
            removed += 1;
        }
        Ok(removed)
    }

    fn read_range(&self, from: u64, to: u64) -> StoredRecords<'_> {
        if from > to {
            return Box::new(std::iter::empty());
        }
        let handles = self.current();
        if handles.layout == Layout::PerRecord {
            let events = handles.records.clone();
            return Box::new(events.range(seq_key(from)..=seq_key(to)).map(|item| {
                let (key, value) = item.map_err(engine("reading records"))?;
                Ok((key_seq(&key)?, value.to_vec()))
            }));
        }
        // The pending records as of now, then everything before them from
        // sled: a record leaves `pending` only after sled holds it, so
        // nothing falls between the two.
        let (stored_to, pending) = {
            let pending = self.pending();
            if pending.records.is_empty() {
                (to, Vec::new())
            } else {
                let copied: Vec<(u64, Vec<u8>)> = (from.max(pending.first)
                    ..=to.min(pending.end() - 1))
                    .filter_map(|seq| pending.get(seq).map(|bytes| (seq, bytes.clone())))
                    .collect();
                (to.min(pending.first.saturating_sub(1)), copied)
            }
        };
        let stored = batches::RangeRecords::new(&handles.records, from, stored_to);
        Box::new(stored.chain(pending.into_iter().map(Ok)))
    }

    fn read(&self, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let handles = self.current();
        if handles.layout == Layout::PerRecord {
            return Ok(handles
                .records
                .get(seq_key(seq))
                .map_err(engine("reading a record"))?
                .map(|value| value.to_vec()));
        }
        if let Some(bytes) = self.pending().get(seq) {
            return Ok(Some(bytes.clone()));
        }
        batches::read(&handles.records, seq)
    }

    fn tail(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        let handles = self.current();
        if handles.layout == Layout::PerRecord {
            return match handles.records.last().map_err(engine("reading the tail"))? {
                Some((key, value)) => Ok(Some((key_seq(&key)?, value.to_vec()))),
                None => Ok(None),
            };
        }
        let pending = self.pending();
        match pending.records.last() {
            Some(bytes) => Ok(Some((pending.end() - 1, bytes.clone()))),
            None => batches::tail(&handles.records),
        }
    }

    fn remove_tail(&self, seq: u64) -> Result<(), StoreError> {
        let _write = self.write_gate()?;
        let handles = self.current();
        if handles.layout == Layout::PerRecord {
            return Err(per_record_read_only());
        }
        self.remove_record(&handles, seq)?;
        let head = seq.saturating_sub(1);
        handles
            .meta
            .insert(meta_key::HEAD_SEQ, &seq_key(head))
            .map_err(engine("recording the head"))?;
        Ok(())
    }

    fn replace(&self, seq: u64, bytes: &[u8]) -> Result<(), StoreError> {
        self.replace_many(&[(seq, bytes.to_vec())])
    }

    fn replace_many(&self, records: &[(u64, Vec<u8>)]) -> Result<(), StoreError> {
        let _write = self.write_gate()?;
        let handles = self.current();
        if handles.layout == Layout::PerRecord {
            return Err(per_record_read_only());
        }
        let records: Vec<(u64, &[u8])> = records
            .iter()
            .map(|(seq, bytes)| (*seq, bytes.as_slice()))
            .collect();
        self.put_records(&handles, &records)
    }

    fn sync(&self) -> Result<(), StoreError> {
        let _write = self.write_gate()?;
        let handles = self.current();
        if handles.layout == Layout::Batched {
            Self::spill(&handles, &mut self.pending())?;
        }
        handles.db.flush().map_err(engine("flushing the store"))?;
        handles
            .log_file
            .sync_data()
            .map_err(io("fdatasync of the store's log file"))?;
        self.sync_blobs()
    }
    fn export_cursor_get(&self, sink: &str) -> Result<Option<u64>, StoreError> {
        let Some(value) = self
            .current()
            .export_cursors
            .get(sink.as_bytes())
            .map_err(engine("reading an export cursor"))?
        else {
            return Ok(None);
        };
        let bytes: [u8; 8] = value.as_ref().try_into().map_err(|_| StoreError::Engine {
            context: "reading an export cursor".into(),
            message: format!(
                "the cursor of sink {sink:?} is {} bytes, not 8",
                value.len()
            ),
        })?;
        Ok(Some(u64::from_be_bytes(bytes)))
    }

    fn export_cursor_put(&self, sink: &str, seq: u64) -> Result<(), StoreError> {
        let _write = self.write_gate()?;
        self.current()
            .export_cursors
            .insert(sink.as_bytes(), &seq.to_be_bytes())
            .map_err(engine("writing an export cursor"))?;
        Ok(())
    }

    fn meta_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .current()
            .meta
            .get(key)
            .map_err(engine("reading meta"))?
            .map(|value| value.to_vec()))
    }

    fn meta_put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let _write = self.write_gate()?;
        self.current()
            .meta
            .insert(key, value)
            .map_err(engine("writing meta"))?;
        Ok(())
    }

    fn subject_key_get(&self, subject: &[u8; 16]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .current()
            .subject_keys
            .get(subject)
            .map_err(engine("reading a subject key"))?
            .map(|value| value.to_vec()))
    }

    fn subject_key_put(&self, subject: &[u8; 16], wrapped: &[u8]) -> Result<(), StoreError> {
        let _write = self.write_gate()?;
        self.current()
            .subject_keys
            .insert(subject, wrapped)
            .map_err(engine("storing a subject key"))?;
        Ok(())
    }

    fn subject_key_delete(&self, subject: &[u8; 16]) -> Result<bool, StoreError> {
        let _write = self.write_gate()?;
        Ok(self
            .current()
            .subject_keys
            .remove(subject)
            .map_err(engine("deleting a subject key"))?
            .is_some())
    }

    fn checkpoint_put(&self, seq: u64, encoded: &[u8]) -> Result<(), StoreError> {
        let _write = self.write_gate()?;
        self.current()
            .checkpoints
            .insert(seq_key(seq), encoded)
            .map_err(engine("storing a checkpoint"))?;
        Ok(())
    }

    fn checkpoints(&self, from_seq: u64) -> StoredRecords<'_> {
        let checkpoints = self.current().checkpoints.clone();
        Box::new(checkpoints.range(seq_key(from_seq)..).map(|item| {
            let (key, value) = item.map_err(engine("reading checkpoints"))?;
            Ok((key_seq(&key)?, value.to_vec()))
        }))
    }

    fn last_checkpoint(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        match self
            .current()
            .checkpoints
            .last()
            .map_err(engine("reading checkpoints"))?
        {
            Some((key, value)) => Ok(Some((key_seq(&key)?, value.to_vec()))),
            None => Ok(None),
        }
    }

    fn tree_names(&self) -> Result<Vec<String>, StoreError> {
        // The records are one logical tree, `events`, whatever their layout:
        // a backup carries one entry per record (see `log::backup`).
        Ok(our_tree_names(&self.current().db)
            .into_iter()
            .map(|name| {
                if name == tree::BATCHES {
                    tree::EVENTS.to_string()
                } else {
                    name
                }
            })
            .collect())
    }

    fn tree_entries(&self, tree: &str) -> StoredEntries<'_> {
        let handles = self.current();
        if tree == tree::EVENTS {
            return Box::new(
                self.read_range(1, u64::MAX)
                    .map(|item| item.map(|(seq, bytes)| (seq_key(seq).to_vec(), bytes))),
            );
        }
        let exists = handles
            .db
            .tree_names()
            .iter()
            .any(|name| name == tree.as_bytes());
        if !exists || tree == tree::BATCHES {
            return Box::new(std::iter::empty());
        }
        match handles.db.open_tree(tree) {
            Ok(handle) => Box::new(handle.iter().map(|item| {
                let (key, value) = item.map_err(engine("reading a tree for a backup"))?;
                Ok((key.to_vec(), value.to_vec()))
            })),
            Err(error) => Box::new(std::iter::once(Err(engine("opening a tree")(error)))),
        }
    }

    fn tree_put(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        if tree == tree::EVENTS {
            return self.replace_many(&[(key_seq(key)?, value.to_vec())]);
        }
        if tree == tree::BATCHES {
            return Err(StoreError::Engine {
                context: "restoring an entry".into(),
                message: format!("{} is not a tree a backup writes", tree::BATCHES),
            });
        }
        let _write = self.write_gate()?;
        let handles = self.current();
        // A backup of either format restores into this store's layout: the
        // records go through `events` above, and the format is this one.
        let value = if tree == tree::META && key == meta_key::FORMAT_VERSION {
            match handles.layout {
                Layout::Batched => STORE_FORMAT_VERSION.to_be_bytes().to_vec(),
                Layout::PerRecord => STORE_FORMAT_PER_RECORD.to_be_bytes().to_vec(),
            }
        } else {
            value.to_vec()
        };
        handles
            .db
            .open_tree(tree)
            .map_err(engine("opening a tree"))?
            .insert(key, value)
            .map_err(engine("restoring an entry"))?;
        Ok(())
    }

    fn compact(&self) -> Result<Compaction, StoreError> {
        SledStore::compact(self)
    }
}
