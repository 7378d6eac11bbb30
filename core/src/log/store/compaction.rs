//! Compaction: rewriting the store into a fresh sled database and swapping
//! it in, so that nothing the store no longer holds (a payload retention
//! dropped, a value replaced) stays readable in its files. sled 0.34 has
//! no way to force its segments to be rewritten; a copy of the live trees
//! holds only live data.
//!
//! The swap is crash-safe. sled's files sit in the data dir itself (`db`,
//! `conf`, `blobs/`, `snap.*`), next to Cairn's own (`snapshots/`, the
//! lock), so the swap moves them, in steps that a later open completes:
//!
//! 1. the copy is built in `db.compacting/`, synced, checked against a
//!    digest of the source, then renamed to `db.compact/` (the commit
//!    point: before it, an open removes `db.compacting/` and the old
//!    database is untouched);
//! 2. sled's old files move into `db.old/`, then a `moved` marker is
//!    written there;
//! 3. the files of `db.compact/` move into the data dir, and `db.compact/`
//!    is removed;
//! 4. `db.old/` is removed.
//!
//! An open that finds `db.compact/` redoes steps 2 to 4 from where they
//! stopped (each move is one rename, so every file is in exactly one
//! place); one that finds only `db.old/` redoes step 4. Every step syncs
//! the directories it changed before the next begins.

use std::path::Path;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use super::private_files;
use super::{
    Contents, Handles, SledStore, StoreError, engine, io, open_catching_panics, sled_config,
    sync_dir, wait_for_lock, walk_trees,
};

/// Where a copy is built (incomplete until renamed).
const BUILDING: &str = "db.compacting";
/// A complete, synced copy waiting to be (or being) swapped in.
const READY: &str = "db.compact";
/// The replaced database's files, until they are removed.
const SUPERSEDED: &str = "db.old";
/// In `db.old/`: every old file has been moved out of the data dir.
const MOVED_MARKER: &str = "moved";

/// What a compaction did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compaction {
    /// Trees copied.
    pub trees: u64,
    /// Entries (keys and values) copied.
    pub entries: u64,
    /// The database's size on disk before, in bytes (as sled reports it).
    pub bytes_before: u64,
    /// Its size after.
    pub bytes_after: u64,
    /// How long writes waited (the copy, its check and the swap).
    pub paused: Duration,
}

/// Whether a name in the data dir is one of sled's files.
fn is_sled_file(name: &str) -> bool {
    matches!(name, "db" | "conf" | "blobs") || name.starts_with("snap.")
}

/// Whether a compaction was interrupted in `dir` (so `db` may be missing
/// for a moment).
pub(super) fn interrupted(dir: &Path) -> bool {
    [BUILDING, READY, SUPERSEDED]
        .iter()
        .any(|name| dir.join(name).exists())
}

/// Completes a swap a crash interrupted, or removes a copy that was never
/// completed. Returns whether there was anything to do. The caller holds
/// the data dir's lock, and sled is not open on `dir`.
pub(super) fn finish_interrupted(dir: &Path) -> Result<bool, StoreError> {
    let mut acted = false;
    let building = dir.join(BUILDING);
    if building.exists() {
        std::fs::remove_dir_all(&building)
            .map_err(io(format!("removing {}", building.display())))?;
        sync_dir(dir)?;
        acted = true;
    }
    Ok(roll_forward(dir, &mut Budget::unlimited())? | acted)
}

/// How many file system steps a swap may take before it stops as if the
/// process had died (tests); unlimited otherwise.
#[derive(Debug)]
struct Budget(Option<usize>);

impl Budget {
    /// No limit (every real compaction and open).
    fn unlimited() -> Budget {
        Budget(None)
    }

    /// Whether the next step may run.
    fn spend(&mut self) -> bool {
        match &mut self.0 {
            None => true,
            Some(0) => false,
            Some(left) => {
                *left -= 1;
                true
            }
        }
    }
}

/// The error a swap stopped by its budget returns (tests only).
fn stopped() -> StoreError {
    StoreError::Engine {
        context: "compacting the store".into(),
        message: "stopped part-way (a simulated crash)".into(),
    }
}

/// Steps 2 to 4 (see the module documentation), from wherever they
/// stopped. Returns whether there was anything to do.
fn roll_forward(dir: &Path, budget: &mut Budget) -> Result<bool, StoreError> {
    let ready = dir.join(READY);
    let old = dir.join(SUPERSEDED);
    let mut acted = false;
    if ready.exists() {
        acted = true;
        let marker = old.join(MOVED_MARKER);
        if !marker.exists() {
            if !old.exists() {
                private_files::create_dir_all(&old)
                    .map_err(io(format!("creating {}", old.display())))?;
                sync_dir(dir)?;
            }
            for name in names_in(dir)?.into_iter().filter(|name| is_sled_file(name)) {
                if !budget.spend() {
                    return Err(stopped());
                }
                rename(&dir.join(&name), &old.join(&name))?;
            }
            sync_dir(&old)?;
            sync_dir(dir)?;
            if !budget.spend() {
                return Err(stopped());
            }
            private_files::create_file(&marker)
                .and_then(|file| file.sync_all())
                .map_err(io(format!("writing {}", marker.display())))?;
            sync_dir(&old)?;
        }
        for name in names_in(&ready)? {
            if !budget.spend() {
                return Err(stopped());
            }
            rename(&ready.join(&name), &dir.join(&name))?;
        }
        sync_dir(dir)?;
        if !budget.spend() {
            return Err(stopped());
        }
        std::fs::remove_dir(&ready).map_err(io(format!("removing {}", ready.display())))?;
        sync_dir(dir)?;
    }
    if old.exists() {
        if !budget.spend() {
            return Err(stopped());
        }
        std::fs::remove_dir_all(&old).map_err(io(format!("removing {}", old.display())))?;
        sync_dir(dir)?;
        acted = true;
    }
    Ok(acted)
}

fn names_in(dir: &Path) -> Result<Vec<String>, StoreError> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(format!("listing {}", dir.display())))? {
        let entry = entry.map_err(io(format!("listing {}", dir.display())))?;
        if let Ok(name) = entry.file_name().into_string() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

fn rename(from: &Path, to: &Path) -> Result<(), StoreError> {
    std::fs::rename(from, to).map_err(io(format!("moving {} to {}", from.display(), to.display())))
}

/// fdatasyncs every file in `dir` and its `blobs/` (a database just built).
fn sync_files(dir: &Path) -> Result<(), StoreError> {
    for folder in [dir.to_path_buf(), dir.join("blobs")] {
        if !folder.exists() {
            continue;
        }
        for name in names_in(&folder)? {
            let path = folder.join(name);
            if path.is_file() {
                std::fs::File::open(&path)
                    .and_then(|file| file.sync_all())
                    .map_err(io(format!("syncing {}", path.display())))?;
            }
        }
        sync_dir(&folder)?;
    }
    Ok(())
}

/// What the copy is of the source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rewrite {
    /// The same trees and entries (a compaction).
    Copy,
    /// Store format 1 rewritten in format 2 (see [`super::migration`]).
    ToBatched,
}

/// Builds a synced, checked copy of `source` in `building` and closes it.
fn build_copy(source: &Handles, building: &Path, rewrite: Rewrite) -> Result<Contents, StoreError> {
    if building.exists() {
        std::fs::remove_dir_all(building)
            .map_err(io(format!("removing {}", building.display())))?;
    }
    private_files::create_dir_all(building)
        .map_err(io(format!("creating {}", building.display())))?;
    let copied = {
        let copy = open_catching_panics(building, sled_config(building))?;
        let copied = match rewrite {
            Rewrite::Copy => walk_trees(&source.db, Some(&copy))?,
            Rewrite::ToBatched => super::migration::copy_to_batched(&source.db, &copy)?,
        };
        copy.flush()
            .map_err(engine("flushing the compacted copy"))?;
        let check = match rewrite {
            Rewrite::Copy => walk_trees(&copy, None)?,
            Rewrite::ToBatched => super::migration::logical_contents(&copy)?,
        };
        if check != copied {
            return Err(StoreError::Engine {
                context: "compacting the store".into(),
                message: format!(
                    "the copy differs from the store ({} entries copied, {} read back); the store is unchanged",
                    copied.entries, check.entries
                ),
            });
        }
        copied
    };
    // sled lets go of its files a moment after the database is dropped;
    // nothing may still write to them once they move.
    wait_for_lock(building, &building.join("db"))?;
    sync_files(building)?;
    private_files::tighten(building).map_err(io(format!(
        "restricting the permissions of {}",
        building.display()
    )))?;
    Ok(copied)
}

impl SledStore {
    /// Rewrites the store into a fresh database and swaps it in (see the
    /// module documentation). Writes and syncs wait meanwhile; reads go on
    /// (those begun before the swap finish on the old database, whose
    /// files are unlinked once the last of them ends).
    pub fn compact(&self) -> Result<Compaction, StoreError> {
        self.compact_with(&mut Budget::unlimited(), Rewrite::Copy)
    }

    /// Rewrites a store of format 1 (one record per key) in format 2 (one
    /// value per group commit), by the same crash-safe steps as a
    /// compaction: a crash before the copy is complete leaves format 1
    /// untouched (the next open removes the partial copy), one after it
    /// leaves format 2 (the next open completes the swap). Refused on a
    /// store already in format 2.
    pub fn migrate_to_batched(&self) -> Result<Compaction, StoreError> {
        if self.layout() != super::Layout::PerRecord {
            return Err(StoreError::Engine {
                context: "migrating the store".into(),
                message: "the store is already in format 2".into(),
            });
        }
        self.compact_with(&mut Budget::unlimited(), Rewrite::ToBatched)
    }

    fn compact_with(
        &self,
        budget: &mut Budget,
        rewrite: Rewrite,
    ) -> Result<Compaction, StoreError> {
        let _exclusive = self.writes.write().unwrap_or_else(PoisonError::into_inner);
        self.usable()?;
        // The records of the group commit under way are copied too.
        self.spill_pending()?;
        let started = Instant::now();
        let old = self.current();
        let bytes_before = old.db.size_on_disk().unwrap_or(0);
        // What an earlier attempt in this process left (it failed before
        // its commit point, or after the swap, before removing `db.old/`).
        finish_interrupted(&self.dir)?;
        let building = self.dir.join(BUILDING);
        let ready = self.dir.join(READY);
        let copied = build_copy(&old, &building, rewrite)?;
        std::fs::rename(&building, &ready).map_err(io(format!(
            "renaming {} to {}",
            building.display(),
            ready.display()
        )))?;
        sync_dir(&self.dir)?;
        // From here on the old database's files leave the data dir: if the
        // swap cannot finish, nothing more may be written through it.
        let swapped = roll_forward(&self.dir, budget)
            .and_then(|_| wait_for_lock(&self.dir, &self.dir.join("db")))
            .and_then(|()| Handles::open(&self.dir));
        let fresh = match swapped {
            Ok(fresh) => fresh,
            Err(error) => {
                self.mark_unusable(&error);
                return Err(error);
            }
        };
        let bytes_after = fresh.db.size_on_disk().unwrap_or(0);
        *self.handles.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(fresh);
        self.synced_blobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        Ok(Compaction {
            trees: copied.trees,
            entries: copied.entries,
            bytes_before,
            bytes_after,
            paused: started.elapsed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::store::EventStore;

    /// Every file under `dir`, read whole.
    fn all_bytes(dir: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
        let mut found = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(path) = stack.pop() {
            if path.is_dir() {
                for entry in std::fs::read_dir(&path).expect("list") {
                    stack.push(entry.expect("entry").path());
                }
            } else {
                found.push((path.clone(), std::fs::read(&path).expect("read")));
            }
        }
        found
    }

    /// The seqs whose recognisable values (see [`payload`]) appear in
    /// `haystack`, in one pass.
    fn seqs_found(haystack: &[u8]) -> std::collections::BTreeSet<u64> {
        const PREFIX: &[u8] = b"ciphertext-";
        let mut found = std::collections::BTreeSet::new();
        let mut at = 0;
        while at + PREFIX.len() + 9 <= haystack.len() {
            if haystack[at..].starts_with(PREFIX) {
                let digits = &haystack[at + PREFIX.len()..at + PREFIX.len() + 8];
                if let Some(seq) = std::str::from_utf8(digits)
                    .ok()
                    .and_then(|text| text.parse::<u64>().ok())
                    && haystack[at..].starts_with(&payload(seq))
                {
                    found.insert(seq);
                }
            }
            at += 1;
        }
        found
    }

    /// A recognisable 64-byte value per seq (the "ciphertext").
    fn payload(seq: u64) -> Vec<u8> {
        let mut value = format!("ciphertext-{seq:08}-").into_bytes();
        value.resize(64, b'#');
        value
    }

    /// A store with 200 records, whose first 150 were then replaced by a
    /// stub (as retention replaces a record with its payload-less form).
    fn pruned_store(dir: &Path) -> SledStore {
        let store = SledStore::open(dir, true).expect("open");
        let records: Vec<(u64, Vec<u8>)> = (1..=200).map(|seq| (seq, payload(seq))).collect();
        store.append_batch(&records).expect("append");
        store.record_head(200).expect("head");
        store.sync().expect("sync");
        for seq in 1..=150 {
            store.replace(seq, b"stub").expect("replace");
        }
        store.sync().expect("sync");
        store
    }

    fn assert_whole(store: &SledStore) {
        assert_eq!(store.recorded_head().expect("head"), Some(200));
        let stored: Vec<(u64, Vec<u8>)> = store
            .read_range(1, 200)
            .collect::<Result<_, _>>()
            .expect("read");
        assert_eq!(stored.len(), 200);
        for (seq, bytes) in stored {
            let expected = if seq <= 150 {
                b"stub".to_vec()
            } else {
                payload(seq)
            };
            assert_eq!(bytes, expected, "seq {seq}");
        }
    }

    #[test]
    fn replaced_values_are_in_the_files_until_compaction_removes_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = pruned_store(dir.path());
        assert!(
            all_bytes(dir.path())
                .iter()
                .any(|(_, bytes)| seqs_found(bytes).iter().any(|seq| *seq <= 150)),
            "sled keeps the replaced values' old page images (the weakness)"
        );
        let report = store.compact().expect("compact");
        assert_eq!(report.entries, store_entries(&store));
        assert_whole(&store);
        // Writes go on into the new database, and survive a reopen.
        store.append_batch(&[(201, payload(201))]).expect("append");
        store.record_head(201).expect("head");
        store.sync().expect("sync");
        drop(store);
        let mut kept = std::collections::BTreeSet::new();
        for (path, bytes) in all_bytes(dir.path()) {
            let found = seqs_found(&bytes);
            assert!(
                found.iter().all(|seq| *seq > 150),
                "{} still holds dropped values: {found:?}",
                path.display()
            );
            kept.extend(found);
        }
        assert_eq!(kept.len(), 51, "the search finds what is kept: {kept:?}");
        let reopened = SledStore::open(dir.path(), false).expect("reopen");
        assert_eq!(reopened.read(201).expect("read"), Some(payload(201)));
        assert_eq!(reopened.read(151).expect("read"), Some(payload(151)));
        for leftover in [BUILDING, READY, SUPERSEDED] {
            assert!(
                !dir.path().join(leftover).exists(),
                "{leftover} left behind"
            );
        }
    }

    fn store_entries(store: &SledStore) -> u64 {
        walk_trees(&store.current().db, None).expect("walk").entries
    }

    #[test]
    fn a_crash_at_any_step_of_the_swap_leaves_a_whole_store_that_open_completes() {
        let mut step = 0;
        loop {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = pruned_store(dir.path());
            let outcome = store.compact_with(&mut Budget(Some(step)), Rewrite::Copy);
            let finished = outcome.is_ok();
            if !finished {
                // The store refuses writes once its files may have moved.
                let refused = store.append_batch(&[(201, payload(201))]);
                assert!(
                    refused.is_err() || !interrupted(dir.path()),
                    "step {step}: a write was accepted mid-swap"
                );
            }
            drop(store);
            let reopened = SledStore::open(dir.path(), false).expect("reopen after the crash");
            assert_whole(&reopened);
            for leftover in [BUILDING, READY, SUPERSEDED] {
                assert!(
                    !dir.path().join(leftover).exists(),
                    "step {step}: {leftover} left behind"
                );
            }
            if finished {
                break;
            }
            step += 1;
            assert!(step < 64, "the swap never finished");
        }
    }

    /// `pruned_store`'s records and trees, in store format 1, in
    /// `dir/data`.
    fn per_record_store(dir: &Path) -> SledStore {
        let target = dir.join("data");
        {
            let source = pruned_store(&dir.join("source"));
            SledStore::write_per_record_copy(&source, &target).expect("format 1 copy");
        }
        let store = SledStore::open(&target, false).expect("open");
        assert_eq!(store.layout(), super::super::Layout::PerRecord);
        store
    }

    #[test]
    fn a_crash_at_any_step_of_a_migration_leaves_format_1_or_format_2_whole() {
        let mut step = 0;
        loop {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = per_record_store(dir.path());
            let outcome = store.compact_with(&mut Budget(Some(step)), Rewrite::ToBatched);
            let finished = outcome.is_ok();
            drop(store);
            let data = dir.path().join("data");
            let reopened = SledStore::open(&data, false).expect("reopen after the crash");
            assert_whole(&reopened);
            for leftover in [BUILDING, READY, SUPERSEDED] {
                assert!(
                    !data.join(leftover).exists(),
                    "step {step}: {leftover} left behind"
                );
            }
            if reopened.layout() == super::super::Layout::PerRecord {
                // Stopped before the copy was committed: migrated again.
                assert!(!finished, "step {step}");
                reopened.migrate_to_batched().expect("migrate again");
                assert_whole(&reopened);
            }
            assert_eq!(reopened.layout(), super::super::Layout::Batched);
            drop(reopened);
            assert_whole(&SledStore::open(&data, false).expect("reopen"));
            if finished {
                break;
            }
            step += 1;
            assert!(step < 64, "the migration never finished");
        }
    }

    #[test]
    fn writes_and_reads_during_a_compaction_are_neither_lost_nor_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(pruned_store(dir.path()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        // Two writers (disjoint seqs, each syncing now and then) and a
        // reader walking the log, while the store is compacted twice.
        let writers: Vec<_> = [1_000u64, 2_000_000]
            .into_iter()
            .map(|base| {
                let store = Arc::clone(&store);
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || {
                    let mut written = Vec::new();
                    let mut seq = base;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) || written.len() < 50 {
                        store.append_batch(&[(seq, payload(seq))]).expect("append");
                        if seq % 16 == 0 {
                            store.sync().expect("sync");
                        }
                        written.push(seq);
                        seq += 1;
                    }
                    written
                })
            })
            .collect();
        let reader = {
            let store = Arc::clone(&store);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut walks = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let count = store.read_range(1, 200).count();
                    assert_eq!(count, 200, "a read saw a partial log");
                    walks += 1;
                }
                walks
            })
        };
        store.compact().expect("first compaction");
        store.compact().expect("second compaction");
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let written: Vec<u64> = writers
            .into_iter()
            .flat_map(|writer| writer.join().expect("writer"))
            .collect();
        assert!(reader.join().expect("reader") > 0);
        store.sync().expect("sync");
        drop(store);
        let reopened = SledStore::open(dir.path(), false).expect("reopen");
        for seq in &written {
            assert_eq!(
                reopened.read(*seq).expect("read"),
                Some(payload(*seq)),
                "seq {seq} written during the compaction is missing"
            );
        }
        assert_whole(&reopened);
    }

    #[test]
    fn an_unfinished_copy_is_removed_at_open_and_the_old_store_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        drop(pruned_store(dir.path()));
        let building = dir.path().join(BUILDING);
        std::fs::create_dir_all(&building).expect("mkdir");
        std::fs::write(building.join("db"), b"half a copy").expect("write");
        let reopened = SledStore::open(dir.path(), false).expect("reopen");
        assert_whole(&reopened);
        assert!(!building.exists());
    }
}
