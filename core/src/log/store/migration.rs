//! Store format 1 to 2: the records of the `events` tree (one value per
//! record) regrouped into batch values in `event_batches`, every other
//! tree copied as it is, and `format_version` set to 2. The copy is built
//! and swapped in by the compaction's crash-safe steps (see
//! [`super::compaction`]), and checked before the swap against a digest of
//! what both stores hold logically: every record under its seq, every
//! other entry, the format version left out.

use sha2::{Digest, Sha256};

use super::batch::{self, BATCH_CAP};
use super::{
    COPY_BATCH, Contents, STORE_FORMAT_VERSION, StoreError, absorb, batches, engine, key_seq,
    meta_key, our_tree_names, tree,
};

/// The logical trees of a database, sorted: `event_batches` is `events`.
fn logical_names(db: &sled::Db) -> Vec<String> {
    let mut names: Vec<String> = our_tree_names(db)
        .into_iter()
        .map(|name| {
            if name == tree::BATCHES {
                tree::EVENTS.to_string()
            } else {
                name
            }
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

fn physical(db: &sled::Db, name: &str) -> Result<Option<sled::Tree>, StoreError> {
    if !db.tree_names().iter().any(|found| found == name.as_bytes()) {
        return Ok(None);
    }
    db.open_tree(name)
        .map(Some)
        .map_err(engine("opening a tree to migrate"))
}

/// Every record of the database, whichever layout holds it, in order:
/// format 1's tree first, then format 2's.
fn for_each_record(
    db: &sled::Db,
    mut visit: impl FnMut(u64, &[u8]) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    if let Some(events) = physical(db, tree::EVENTS)? {
        for item in events.iter() {
            let (key, value) = item.map_err(engine("reading records to migrate"))?;
            visit(key_seq(&key)?, &value)?;
        }
    }
    if let Some(batched) = physical(db, tree::BATCHES)? {
        for item in batches::RangeRecords::new(&batched, 0, u64::MAX) {
            let (seq, bytes) = item?;
            visit(seq, &bytes)?;
        }
    }
    Ok(())
}

/// What a database holds, whatever its layout (see the module docs).
pub(super) fn logical_contents(db: &sled::Db) -> Result<Contents, StoreError> {
    let mut hasher = Sha256::new();
    let mut entries = 0u64;
    let names = logical_names(db);
    for name in &names {
        absorb(&mut hasher, name.as_bytes());
        if name == tree::EVENTS {
            for_each_record(db, |seq, bytes| {
                absorb(&mut hasher, &seq.to_be_bytes());
                absorb(&mut hasher, bytes);
                entries += 1;
                Ok(())
            })?;
            continue;
        }
        let Some(handle) = physical(db, name)? else {
            continue;
        };
        for item in handle.iter() {
            let (key, value) = item.map_err(engine("reading a tree to migrate"))?;
            if name == tree::META && key == meta_key::FORMAT_VERSION {
                continue;
            }
            absorb(&mut hasher, &key);
            absorb(&mut hasher, &value);
            entries += 1;
        }
    }
    Ok(Contents {
        digest: hasher.finalize().into(),
        trees: names.len() as u64,
        entries,
    })
}

/// Copies `source` (format 1) into `target` in format 2. Returns the
/// logical contents of the source, for the check of the copy.
pub(super) fn copy_to_batched(
    source: &sled::Db,
    target: &sled::Db,
) -> Result<Contents, StoreError> {
    let contents = logical_contents(source)?;
    let batched = target
        .open_tree(tree::BATCHES)
        .map_err(engine("creating the batches tree"))?;
    // Consecutive records go into one batch value until it is full; a gap
    // (never in a sound log, but copied as found) starts a new one.
    let mut run: Vec<Vec<u8>> = Vec::new();
    let mut run_first = 0u64;
    let mut run_bytes = 0usize;
    let flush = |run: &mut Vec<Vec<u8>>, first: u64| -> Result<(), StoreError> {
        let slices: Vec<&[u8]> = run.iter().map(Vec::as_slice).collect();
        batches::insert_run(&batched, first, &slices)?;
        run.clear();
        Ok(())
    };
    for_each_record(source, |seq, bytes| {
        let follows = seq == run_first + run.len() as u64;
        let fits = run_bytes + batch::PER_RECORD_BYTES + bytes.len() <= BATCH_CAP;
        let ends_run = !follows || !fits;
        if !run.is_empty() && ends_run {
            flush(&mut run, run_first)?;
        }
        if run.is_empty() {
            run_first = seq;
            run_bytes = batch::encoded_len([]);
        }
        run.push(bytes.to_vec());
        run_bytes += batch::PER_RECORD_BYTES + bytes.len();
        Ok(())
    })?;
    if !run.is_empty() {
        flush(&mut run, run_first)?;
    }
    for name in our_tree_names(source) {
        if name == tree::EVENTS || name == tree::BATCHES {
            continue;
        }
        let from = source
            .open_tree(&name)
            .map_err(engine("opening a tree to migrate"))?;
        let to = target
            .open_tree(&name)
            .map_err(engine("creating a tree in the migrated copy"))?;
        let mut writes = sled::Batch::default();
        let mut batched_entries = 0usize;
        for item in from.iter() {
            let (key, value) = item.map_err(engine("reading a tree to migrate"))?;
            if name == tree::META && key == meta_key::FORMAT_VERSION {
                writes.insert(key, &STORE_FORMAT_VERSION.to_be_bytes());
            } else {
                writes.insert(key, value);
            }
            batched_entries += 1;
            if batched_entries == COPY_BATCH {
                to.apply_batch(std::mem::take(&mut writes))
                    .map_err(engine("writing the migrated copy"))?;
                batched_entries = 0;
            }
        }
        to.apply_batch(writes)
            .map_err(engine("writing the migrated copy"))?;
    }
    Ok(contents)
}

impl super::SledStore {
    /// Writes `source`'s records and trees into a new store of format 1
    /// in `target` (see `log::migrate::write_format_1_copy`). Returns how
    /// many records it wrote.
    pub(crate) fn write_per_record_copy(
        source: &dyn super::EventStore,
        target: &std::path::Path,
    ) -> Result<u64, StoreError> {
        super::private_files::create_dir_all(target)
            .map_err(super::io(format!("creating {}", target.display())))?;
        let records = {
            let db = super::open_catching_panics(target, super::sled_config(target))?;
            let events = db
                .open_tree(tree::EVENTS)
                .map_err(engine("creating the events tree"))?;
            let mut records = 0u64;
            for item in source.read_range(1, u64::MAX) {
                let (seq, bytes) = item?;
                events
                    .insert(super::seq_key(seq), bytes)
                    .map_err(engine("writing a record"))?;
                records += 1;
            }
            for name in source.tree_names()? {
                if name == tree::EVENTS {
                    continue;
                }
                let copy = db.open_tree(&name).map_err(engine("creating a tree"))?;
                for item in source.tree_entries(&name) {
                    let (key, value) = item?;
                    copy.insert(key, value)
                        .map_err(engine("writing an entry"))?;
                }
            }
            db.open_tree(tree::META)
                .map_err(engine("opening meta"))?
                .insert(
                    meta_key::FORMAT_VERSION,
                    &super::STORE_FORMAT_PER_RECORD.to_be_bytes(),
                )
                .map_err(engine("writing the format"))?;
            db.flush().map_err(engine("flushing the copy"))?;
            records
        };
        super::wait_for_lock(target, &target.join("db"))?;
        Ok(records)
    }
}
