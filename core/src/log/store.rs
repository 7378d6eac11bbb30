//! The storage boundary of the log, and its embedded implementation on
//! sled 0.34. This module is the only code in Cairn that touches sled.
//!
//! Durability: sled 0.34's `flush` ends in `sync_file_range`, which does not
//! make data durable on Linux (sled issue #1452): it neither flushes the
//! disk's write cache nor persists file metadata. So [`SledStore::sync`]
//! calls sled's flush and then `fdatasync` on every file sled writes data
//! to. Pages too large for a segment would go to blob files that sled never
//! syncs; the record size limit keeps that from happening, and `sync`
//! fdatasyncs any blob file anyway.
//!
//! Compaction: sled never rewrites the page images a replaced or removed
//! value left in its files, so a payload retention dropped stays readable
//! there. [`EventStore::compact`] copies every tree into a fresh database
//! and swaps it in (see [`compaction`]); the sled handles sit behind a lock
//! so that a running server swaps them in place.
//!
//! Files: everything in the data dir is private to the account that runs
//! Cairn (directories 0700, files 0600, see [`private_files`]), whatever the
//! umask; what sled creates itself is tightened at open.

mod batch;
mod batches;
mod compaction;
mod migration;
mod pending;
pub mod private_files;
mod sled_store;

use std::collections::HashSet;
use std::fs::File;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard};

use sha2::{Digest, Sha256};

pub use batch::BatchError;
pub use compaction::Compaction;

use pending::{Pending, per_record_read_only};

/// Trees (key spaces) of the store.
mod tree {
    /// Store format 1: one record per key (read, and migrated, only).
    pub const EVENTS: &str = "events";
    /// Store format 2: one value per group commit (see [`super::batch`]).
    pub const BATCHES: &str = "event_batches";
    pub const META: &str = "meta";
    pub const CHECKPOINTS: &str = "checkpoints";
    pub const SNAPSHOTS: &str = "snapshots";
    pub const EXPORT_CURSORS: &str = "export_cursors";
    pub const SUBJECT_KEYS: &str = "subject_keys";
}

/// Keys of the `meta` tree.
pub mod meta_key {
    /// The store's format version (u32 big-endian).
    pub const FORMAT_VERSION: &[u8] = b"format_version";
    /// The head the last sync made durable (u64 big-endian), written just
    /// before each sync. It is never ahead of the events tree (a log that
    /// ends before it has lost records at its tail), and records after it
    /// were never acknowledged (recovery removes them).
    pub const HEAD_SEQ: &[u8] = b"head_seq";
    /// 16 bytes derived from the master key (HKDF info
    /// `master-key-check`): a wrong key is refused at open.
    pub const MASTER_KEY_CHECK: &[u8] = b"master_key_check";
    /// How far retention has dropped payloads, per class (security,
    /// activity, operational: three u64 big-endian), written after each
    /// drop is synced. A `retention.pruned` record beyond it is a prune
    /// whose drop a crash cut short: the next pass completes it.
    pub const RETENTION_APPLIED: &[u8] = b"retention_applied";
    /// The value of [`RETENTION_APPLIED`] when the store was last compacted
    /// after a drop: when the two differ, the store's files may still hold
    /// dropped payloads, and a compaction is owed.
    pub const RETENTION_COMPACTED: &[u8] = b"retention_compacted";
}

/// The store format this build writes (and the newest it reads).
pub const STORE_FORMAT_VERSION: u32 = 2;

/// The store format of one record per key, which this build reads and
/// migrates (see [`super::migrate`]) but never writes.
pub const STORE_FORMAT_PER_RECORD: u32 = 1;

/// The logical name of the log's records, whatever the layout: backups
/// carry one entry per record under it (see [`EventStore::tree_names`]).
pub const EVENTS_TREE: &str = tree::EVENTS;

/// sled's segment size: large enough that a leaf page (up to 17 batch
/// values of at most [`batch::BATCH_CAP`]) never becomes an unsynced blob.
const SEGMENT_SIZE: usize = 8 * 1024 * 1024;

const _: () = assert!(batch::leaf_fits(SEGMENT_SIZE));

/// How the records of an open database are laid out, from its
/// `format_version`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Store format 1: one sled value per record, in the `events` tree.
    /// Read-only: a log opened for writing migrates it first.
    PerRecord,
    /// Store format 2: one sled value per group commit, in the
    /// `event_batches` tree.
    Batched,
}

/// sled's page cache (its default is 1 GiB). Appends touch the tail and
/// reads stream through the log once (folds, exports, verification), so a
/// large cache only grows the process with the log: a start that folds a
/// 2 GiB log would hold half of it twice (the page cache, and the views).
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// A storage failure, with the operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process holds the data dir (sled's exclusive file lock).
    #[error("the data dir {0} is in use by another process (is `cairn serve` running?)")]
    InUse(PathBuf),
    /// The path exists and is not a directory.
    #[error("{0} is not a directory")]
    NotADirectory(PathBuf),
    /// An IO error, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// sled reported an error.
    #[error("{context}: {message}")]
    Engine {
        /// What was being done.
        context: String,
        /// sled's message.
        message: String,
    },
    /// The storage engine's files cannot be read.
    #[error("the storage files in {dir} cannot be read: {message}")]
    Unreadable {
        /// The data dir.
        dir: PathBuf,
        /// What went wrong.
        message: String,
    },
}

fn engine(context: &str) -> impl Fn(sled::Error) -> StoreError + '_ {
    move |error| StoreError::Engine {
        context: context.to_string(),
        message: error.to_string(),
    }
}

/// Encoded records (or checkpoints) with their seqs, in seq order.
pub type StoredRecords<'a> = Box<dyn Iterator<Item = Result<(u64, Vec<u8>), StoreError>> + 'a>;

/// The raw keys and values of one tree, in key order (backup).
pub type StoredEntries<'a> = Box<dyn Iterator<Item = Result<(Vec<u8>, Vec<u8>), StoreError>> + 'a>;

/// The operations the log needs from its storage. The embedded default is
/// [`SledStore`]; a shared backend (PostgreSQL) for multi-instance
/// deployments implements the same boundary.
pub trait EventStore: Send + Sync + std::fmt::Debug {
    /// Stores encoded records under their seqs, in seq order. A batch is
    /// all-or-nothing through the recorded head (see [`EventStore::record_head`]).
    fn append_batch(&self, records: &[(u64, Vec<u8>)]) -> Result<(), StoreError>;
    /// Records the head a sync is about to make durable: every record up to
    /// it is stored, and it never points inside a batch. Records beyond the
    /// recorded head were never acknowledged.
    fn record_head(&self, seq: u64) -> Result<(), StoreError>;
    /// The recorded head, if one was ever recorded.
    fn recorded_head(&self) -> Result<Option<u64>, StoreError>;
    /// Removes checkpoints covering seqs after `seq` (recovery only: they
    /// were signed but never made durable). Returns how many.
    fn remove_checkpoints_after(&self, seq: u64) -> Result<u64, StoreError>;
    /// Reads the encoded records with seq in `from..=to`, in order.
    fn read_range(&self, from: u64, to: u64) -> StoredRecords<'_>;
    /// Reads one encoded record.
    fn read(&self, seq: u64) -> Result<Option<Vec<u8>>, StoreError>;
    /// The last stored record, if any.
    fn tail(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError>;
    /// Removes a torn record from the tail (recovery only).
    fn remove_tail(&self, seq: u64) -> Result<(), StoreError>;
    /// Makes everything stored so far durable (fdatasync).
    fn sync(&self) -> Result<(), StoreError>;
    /// Replaces the stored bytes of an existing record (retention only:
    /// the same record without its payload; header and hash unchanged).
    fn replace(&self, seq: u64, bytes: &[u8]) -> Result<(), StoreError>;
    /// Replaces the stored bytes of many records, in seq order (retention:
    /// a store that keeps many records per value rewrites each value once).
    fn replace_many(&self, records: &[(u64, Vec<u8>)]) -> Result<(), StoreError> {
        for (seq, bytes) in records {
            self.replace(*seq, bytes)?;
        }
        Ok(())
    }
    /// Reads a `meta` value.
    fn meta_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Writes a `meta` value.
    fn meta_put(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    /// Reads a wrapped subject key.
    fn subject_key_get(&self, subject: &[u8; 16]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Stores a wrapped subject key.
    fn subject_key_put(&self, subject: &[u8; 16], wrapped: &[u8]) -> Result<(), StoreError>;
    /// Deletes a subject key (erasure).
    fn subject_key_delete(&self, subject: &[u8; 16]) -> Result<bool, StoreError>;
    /// Records a checkpoint under the seq it covers.
    fn checkpoint_put(&self, seq: u64, encoded: &[u8]) -> Result<(), StoreError>;
    /// The checkpoints, oldest first, from `from_seq` on.
    fn checkpoints(&self, from_seq: u64) -> StoredRecords<'_>;
    /// The latest checkpoint.
    fn last_checkpoint(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError>;
    /// The last seq an export sink delivered, if it ever delivered one.
    fn export_cursor_get(&self, sink: &str) -> Result<Option<u64>, StoreError>;
    /// Records that a sink delivered every event up to `seq`. It is made
    /// durable by the next sync: a cursor lost in a crash only means some
    /// events are delivered again (at least once), never skipped.
    fn export_cursor_put(&self, sink: &str, seq: u64) -> Result<(), StoreError>;
    /// The names of every tree (key space) the store holds, for a backup
    /// that copies them all, including trees this module adds later.
    fn tree_names(&self) -> Result<Vec<String>, StoreError>;
    /// Every key and value of one tree, in key order (backup). Readers see
    /// each entry atomically; entries written meanwhile may or may not be
    /// seen, which the backup's rules account for (see `log::backup`).
    fn tree_entries(&self, tree: &str) -> StoredEntries<'_>;
    /// Writes one key and value into a tree (restore, into a new store).
    fn tree_put(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    /// Rewrites the store so that its files hold only what it holds now:
    /// no image of a value since replaced or removed (a payload retention
    /// dropped) stays readable in them. Writes (and syncs) wait while it
    /// runs; reads do not. Everything stored before it is durable after it.
    fn compact(&self) -> Result<Compaction, StoreError>;
}

/// The embedded store: one sled database in the data dir.
#[derive(Debug)]
pub struct SledStore {
    dir: PathBuf,
    /// The open database. A compaction replaces it; readers clone the
    /// `Arc` (and sled's iterators own their tree), so a read that started
    /// before a swap finishes on the old database.
    handles: RwLock<Arc<Handles>>,
    /// Every write and every sync holds this shared; a compaction holds it
    /// exclusively from its copy to its swap, so nothing written can miss
    /// the copy or land in the database being replaced.
    writes: RwLock<()>,
    /// Blob files already made durable.
    synced_blobs: Mutex<HashSet<PathBuf>>,
    /// Set when a compaction failed after its files began to move: no
    /// write is accepted after that.
    unusable: Mutex<Option<String>>,
    /// The records appended since the last group commit was stored: they
    /// go to sled as one value when the flusher records the head (or
    /// earlier, when they fill a batch). Readers see them here meanwhile.
    pending: Mutex<Pending>,
    /// The data dir's lock (`store.lock`), held while the store is open: it
    /// covers the moments of a compaction when sled's own lock (on `db`) is
    /// not in place.
    _lock: File,
}

/// One open sled database and its trees.
#[derive(Debug)]
struct Handles {
    layout: Layout,
    db: sled::Db,
    /// The records: `events` (format 1) or `event_batches` (format 2).
    records: sled::Tree,
    meta: sled::Tree,
    checkpoints: sled::Tree,
    subject_keys: sled::Tree,
    export_cursors: sled::Tree,
    /// sled's log file, kept open for fdatasync.
    log_file: File,
}

impl Handles {
    /// Opens the database whose files are in `path`, with Cairn's settings.
    fn open(path: &Path) -> Result<Handles, StoreError> {
        let db = open_catching_panics(path, sled_config(path))?;
        let tree = |name: &str| db.open_tree(name).map_err(engine("opening a tree"));
        let meta = tree(tree::META)?;
        let format = meta
            .get(meta_key::FORMAT_VERSION)
            .map_err(engine("reading the store format"))?;
        let layout = match format.as_deref() {
            Some(bytes) if bytes == STORE_FORMAT_PER_RECORD.to_be_bytes() => Layout::PerRecord,
            _ => Layout::Batched,
        };
        let records = tree(match layout {
            Layout::PerRecord => tree::EVENTS,
            Layout::Batched => tree::BATCHES,
        })?;
        let checkpoints = tree(tree::CHECKPOINTS)?;
        let subject_keys = tree(tree::SUBJECT_KEYS)?;
        tree(tree::SNAPSHOTS)?;
        let export_cursors = tree(tree::EXPORT_CURSORS)?;
        let db_path = path.join("db");
        let log_file =
            File::open(&db_path).map_err(io(format!("opening {}", db_path.display())))?;
        Ok(Handles {
            layout,
            db,
            records,
            meta,
            checkpoints,
            subject_keys,
            export_cursors,
            log_file,
        })
    }
}

/// sled's settings for a database in `path` (the data dir, or the folder
/// a compaction builds its copy in).
fn sled_config(path: &Path) -> sled::Config {
    sled::Config::new()
        .path(path)
        .segment_size(SEGMENT_SIZE)
        .cache_capacity(CACHE_BYTES)
        .flush_every_ms(None)
        .mode(sled::Mode::HighThroughput)
}

fn read_lock<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    // The guarded values are replaced whole (an `Arc`) or hold nothing: a
    // panic elsewhere cannot leave them half-written.
    match lock.read() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

fn seq_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

fn key_seq(key: &[u8]) -> Result<u64, StoreError> {
    let bytes: [u8; 8] = key.try_into().map_err(|_| StoreError::Engine {
        context: "reading the events tree".into(),
        message: format!("a key of {} bytes is not a seq", key.len()),
    })?;
    Ok(u64::from_be_bytes(bytes))
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> StoreError {
    let context = context.into();
    move |source| StoreError::Io { context, source }
}

impl SledStore {
    /// Opens (creating when `create`) the store in `dir`. Completes or
    /// undoes a compaction a crash interrupted, and tightens the data
    /// dir's permissions (directories 0700, files 0600) when they are
    /// looser.
    pub fn open(dir: &Path, create: bool) -> Result<SledStore, StoreError> {
        match std::fs::metadata(dir) {
            Ok(meta) if !meta.is_dir() => return Err(StoreError::NotADirectory(dir.to_path_buf())),
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && create => {
                private_files::create_dir_all(dir)
                    .map_err(io(format!("creating the data dir {}", dir.display())))?;
                sync_parent(dir)?;
            }
            Err(error) => return Err(io(format!("reading the data dir {}", dir.display()))(error)),
        }
        // Probe readability ourselves: sled's messages for these cases are
        // poor, and it may panic on some unreadable layouts.
        std::fs::read_dir(dir).map_err(io(format!("listing the data dir {}", dir.display())))?;
        let db_path = dir.join("db");
        if !create && !db_path.exists() && !compaction::interrupted(dir) {
            return Err(StoreError::Unreadable {
                dir: dir.to_path_buf(),
                message: "no Cairn data here (no `db` file); run `cairn serve` first or check CAIRN_DATA_DIR".into(),
            });
        }
        let lock = private_files::lock_data_dir(dir)?;
        if compaction::finish_interrupted(dir)? {
            tracing::warn!(dir = %dir.display(), "completed a compaction of the store that a stop had interrupted");
        }
        let fresh = !db_path.exists();
        if !fresh {
            wait_for_lock(dir, &db_path)?;
        }

        let handles = Handles::open(dir)?;
        let store = SledStore {
            dir: dir.to_path_buf(),
            handles: RwLock::new(Arc::new(handles)),
            writes: RwLock::new(()),
            synced_blobs: Mutex::new(HashSet::new()),
            unusable: Mutex::new(None),
            pending: Mutex::new(Pending::default()),
            _lock: lock,
        };
        if fresh {
            store.sync()?;
            sync_dir(dir)?;
        }
        let tightened = private_files::tighten(dir).map_err(io(format!(
            "restricting the permissions of {}",
            dir.display()
        )))?;
        if tightened > 0 {
            tracing::warn!(
                dir = %dir.display(),
                entries = tightened,
                "the data dir was readable by other accounts: restricted it to its owner (directories 0700, files 0600)"
            );
        }
        Ok(store)
    }

    /// The open database (readers clone it, so a compaction never waits
    /// for them).
    fn current(&self) -> Arc<Handles> {
        Arc::clone(&read_lock(&self.handles))
    }

    /// Admits one write (or sync): shared with other writes, exclusive of
    /// a compaction. Refused once a compaction failed part-way through its
    /// swap (the files of the database in hand may have left the data dir;
    /// the next open completes the swap).
    fn write_gate(&self) -> Result<RwLockReadGuard<'_, ()>, StoreError> {
        let guard = read_lock(&self.writes);
        self.usable()?;
        Ok(guard)
    }

    fn usable(&self) -> Result<(), StoreError> {
        match &*self.unusable.lock().unwrap_or_else(PoisonError::into_inner) {
            None => Ok(()),
            Some(message) => Err(StoreError::Engine {
                context: "writing to the store".into(),
                message: format!(
                    "a compaction failed part-way ({message}); restart to complete it"
                ),
            }),
        }
    }

    fn mark_unusable(&self, error: &StoreError) {
        *self.unusable.lock().unwrap_or_else(PoisonError::into_inner) = Some(error.to_string());
    }

    /// The data dir.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes sled reports on disk (for status and benchmarks).
    pub fn size_on_disk(&self) -> u64 {
        self.current().db.size_on_disk().unwrap_or(0)
    }

    /// fdatasyncs blob files written since the last sync. With the record
    /// size limit there are none; this is the safety net if sled ever
    /// decides otherwise.
    fn sync_blobs(&self) -> Result<(), StoreError> {
        let blob_dir = self.dir.join("blobs");
        let entries = match std::fs::read_dir(&blob_dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(io("listing sled's blob dir")(error)),
        };
        let mut synced = match self.synced_blobs.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut created = false;
        for entry in entries {
            let path = entry.map_err(io("listing sled's blob dir"))?.path();
            if synced.contains(&path) {
                continue;
            }
            File::open(&path)
                .and_then(|file| file.sync_data())
                .map_err(io(format!("syncing {}", path.display())))?;
            synced.insert(path);
            created = true;
        }
        if created {
            sync_dir(&blob_dir)?;
        }
        Ok(())
    }
}

/// sled releases its exclusive lock on `db` only when the last of its
/// background write jobs lets go of the file, a moment after the database
/// is dropped. Wait (bounded) for a lock that is about to be released,
/// rather than calling the data dir "in use" after our own close; a lock
/// still held after the deadline belongs to a live process.
fn wait_for_lock(dir: &Path, db_path: &Path) -> Result<(), StoreError> {
    const PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);
    let file = File::open(db_path).map_err(io(format!("opening {}", db_path.display())))?;
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        match file.try_lock() {
            Ok(()) => {
                let _ = file.unlock();
                return Ok(());
            }
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::InUse(dir.to_path_buf()));
            }
            Err(std::fs::TryLockError::Error(error)) => {
                return Err(io(format!("locking {}", db_path.display()))(error));
            }
        }
    }
}

/// sled 0.34 panics on some corrupt files instead of returning an error;
/// turn that into an error that names the data dir, and keep the panic's
/// own message out of the terminal.
fn open_catching_panics(dir: &Path, config: sled::Config) -> Result<sled::Db, StoreError> {
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let opened = std::panic::catch_unwind(AssertUnwindSafe(|| config.open()));
    std::panic::set_hook(previous_hook);
    match opened {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(sled::Error::Io(error))) if error.to_string().contains("could not acquire lock") => {
            Err(StoreError::InUse(dir.to_path_buf()))
        }
        Ok(Err(sled::Error::Corruption { .. })) => Err(StoreError::Unreadable {
            dir: dir.to_path_buf(),
            message: "its files are corrupt".into(),
        }),
        Ok(Err(error)) => Err(StoreError::Unreadable {
            dir: dir.to_path_buf(),
            message: error.to_string(),
        }),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|text| text.to_string()))
                .unwrap_or_else(|| "the storage engine failed while reading its files".into());
            Err(StoreError::Unreadable {
                dir: dir.to_path_buf(),
                message,
            })
        }
    }
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(io(format!("syncing the directory {}", dir.display())))
}

fn sync_parent(dir: &Path) -> Result<(), StoreError> {
    match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => sync_dir(parent),
        _ => Ok(()),
    }
}

/// The names of the trees Cairn stores (sled's own default tree, which
/// holds nothing of ours, left out).
fn our_tree_names(db: &sled::Db) -> Vec<String> {
    db.tree_names()
        .into_iter()
        .filter_map(|name| String::from_utf8(name.to_vec()).ok())
        .filter(|name| !name.starts_with("__sled__"))
        .collect()
}

/// Entries written to the copy per sled batch.
const COPY_BATCH: usize = 4096;

/// A digest of every tree's name, keys and values, length-prefixed, and
/// how many trees and entries it covered.
#[derive(Debug, PartialEq, Eq)]
struct Contents {
    digest: [u8; 32],
    trees: u64,
    entries: u64,
}

fn absorb(hasher: &mut Sha256, bytes: &[u8]) {
    hasher.update((bytes.len() as u64).to_be_bytes());
    hasher.update(bytes);
}

/// Reads every tree of `source`, writing each entry into `target` when
/// one is given, and returns the digest of what was read.
fn walk_trees(source: &sled::Db, target: Option<&sled::Db>) -> Result<Contents, StoreError> {
    let mut names = our_tree_names(source);
    names.sort();
    let mut hasher = Sha256::new();
    let mut entries = 0u64;
    for name in &names {
        absorb(&mut hasher, name.as_bytes());
        let tree = source
            .open_tree(name)
            .map_err(engine("opening a tree to compact"))?;
        let copy = target
            .map(|target| target.open_tree(name))
            .transpose()
            .map_err(engine("creating a tree in the compacted copy"))?;
        // Batches, not single inserts: one sled batch takes its locks once
        // for many entries (a million-entry compaction took 15% less time).
        let mut batch = sled::Batch::default();
        let mut batched = 0usize;
        for item in tree.iter() {
            let (key, value) = item.map_err(engine("reading a tree to compact"))?;
            absorb(&mut hasher, &key);
            absorb(&mut hasher, &value);
            if copy.is_some() {
                batch.insert(key, value);
                batched += 1;
            }
            entries += 1;
            if batched == COPY_BATCH
                && let Some(copy) = &copy
            {
                copy.apply_batch(std::mem::take(&mut batch))
                    .map_err(engine("writing the compacted copy"))?;
                batched = 0;
            }
        }
        if batched > 0
            && let Some(copy) = &copy
        {
            copy.apply_batch(batch)
                .map_err(engine("writing the compacted copy"))?;
        }
    }
    Ok(Contents {
        digest: hasher.finalize().into(),
        trees: names.len() as u64,
        entries,
    })
}

#[cfg(test)]
impl SledStore {
    /// Overwrites the stored bytes of a record (tamper tests).
    pub(crate) fn put_raw(&self, seq: u64, bytes: &[u8]) {
        let handles = self.current();
        self.put_records(&handles, &[(seq, bytes)])
            .expect("put_raw");
    }

    /// Removes a record without touching the head (tamper tests).
    pub(crate) fn remove_raw(&self, seq: u64) {
        let handles = self.current();
        self.remove_record(&handles, seq).expect("remove_raw");
    }
}
