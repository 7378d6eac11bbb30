//! Migrating a data dir from store format 1 (one sled value per record) to
//! store format 2 (one sled value per group commit).
//!
//! It happens when the log is opened for writing ([`super::EventLog::open`],
//! so at the first `cairn serve` of a new version), not by a separate
//! command: a store of format 1 is still read (verification, backups,
//! dumps work on it), but never written, so a server cannot run without
//! it, and an operator step that can be forgotten would only stop the
//! upgrade at start anyway. Before anything changes:
//!
//! 1. a backup of the whole store as of its durable head (the stream of
//!    [`super::backup`], labelled store format 1, so that the Cairn that
//!    wrote the data dir restores it) is written beside the store's files,
//!    as `store-format-1.backup` in the data dir, and fsynced: beside, not
//!    in the parent folder, because a data dir is often a mounted volume
//!    whose parent is not writable;
//! 2. that file is read back and checked whole: its framing, gapless
//!    records, its head and its MAC under the master key;
//! 3. the store is rewritten in format 2 and swapped in by the
//!    compaction's crash-safe steps (see `SledStore::migrate_to_batched`):
//!    a crash before the copy is complete leaves format 1 untouched and the
//!    next start migrates again; one after it leaves format 2.
//!
//! Recovery (torn tail, unacknowledged records, the chain, the anchor)
//! then runs on format 2 as on every open: the migration copies records
//! as they are stored, repairing nothing.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::backup::{self, BackupError};
use super::codec;
use super::store::{Layout, SledStore, StoreError, private_files};
use crate::crypto::MasterKey;

/// The file, in the data dir, that holds the backup of a format 1 store
/// written before it was migrated.
pub const FORMAT_1_BACKUP: &str = "store-format-1.backup";

/// What a migration did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Migration {
    /// The durable head the backup was taken as of.
    pub head: u64,
    /// The verified backup of the format 1 store.
    pub backup: PathBuf,
    /// Its size in bytes.
    pub backup_bytes: u64,
    /// Entries (records and other keys) copied into format 2.
    pub entries: u64,
    /// sled's size on disk before and after.
    pub bytes_before: u64,
    /// See `bytes_before`.
    pub bytes_after: u64,
    /// How long the backup, its check and the rewrite took.
    pub took: Duration,
}

/// Why a migration could not be done (the store is then unchanged, or
/// already migrated: see the module docs).
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The store failed.
    #[error("migrating the store to format 2: {0}")]
    Store(#[from] StoreError),
    /// The backup could not be written or did not verify.
    #[error("the backup of the format 1 store, written before migrating it, failed: {0}")]
    Backup(#[from] BackupError),
    /// Writing the backup file failed.
    #[error("writing {path} before migrating the store: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The backup read back is not the one written.
    #[error("the backup read back from {0} is not the one written; the store was not migrated")]
    Mismatch(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> MigrateError + '_ {
    move |source| MigrateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Migrates `store` (open on `dir`) to format 2 when it is in format 1;
/// `None` when there was nothing to do. See the module docs.
pub fn migrate_if_needed(
    store: &SledStore,
    dir: &Path,
    master: &MasterKey,
) -> Result<Option<Migration>, MigrateError> {
    if store.layout() != Layout::PerRecord {
        return Ok(None);
    }
    let started = Instant::now();
    let head = durable_head(store)?;
    let key = backup::backup_key(master);
    let path = dir.join(FORMAT_1_BACKUP);
    let partial = dir.join(format!("{FORMAT_1_BACKUP}.partial"));
    let written = {
        let file = private_files::create_file(&partial).map_err(io(&partial))?;
        let mut out = BufWriter::new(file);
        let written = backup::write_backup(store, dir, &key, head, &mut out)?;
        let file = out
            .into_inner()
            .map_err(|error| io(&partial)(error.into_error()))?;
        file.sync_all().map_err(io(&partial))?;
        written
    };
    let mut input = BufReader::new(File::open(&partial).map_err(io(&partial))?);
    let read = backup::read_backup(&mut input, Some(&key), &mut |_, _, _| Ok(()))?;
    if read != written {
        return Err(MigrateError::Mismatch(partial));
    }
    std::fs::rename(&partial, &path).map_err(io(&path))?;
    File::open(dir)
        .and_then(|folder| folder.sync_all())
        .map_err(io(dir))?;
    tracing::warn!(
        backup = %path.display(),
        head,
        "the data dir is in store format 1: a verified backup of it was written; migrating it to format 2"
    );
    let rewritten = store.migrate_to_batched()?;
    Ok(Some(Migration {
        head,
        backup: path,
        backup_bytes: written.bytes,
        entries: rewritten.entries,
        bytes_before: rewritten.bytes_before,
        bytes_after: rewritten.bytes_after,
        took: started.elapsed(),
    }))
}

/// The head a backup of a format 1 store is taken as of: the recorded
/// head, or the last record when fewer are stored, less a last record
/// that does not decode (torn: recovery removes it after the migration).
fn durable_head(store: &SledStore) -> Result<u64, MigrateError> {
    use super::store::EventStore;
    let recorded = store.recorded_head()?.unwrap_or(0);
    let last = store.tail()?.map_or(0, |(seq, _)| seq);
    let head = recorded.min(last);
    if head == 0 {
        return Ok(0);
    }
    let decodes = store
        .read(head)?
        .is_some_and(|bytes| codec::decode_record(&bytes).is_ok());
    Ok(if decodes { head } else { head - 1 })
}

/// Writes a copy of `store`'s records and trees into a new format 1
/// store in `target` (which must not exist), as the previous release laid
/// them out. For testing the migration, and for going back to a release
/// that reads only format 1 (restoring the backup the migration wrote
/// does the same).
pub fn write_format_1_copy(
    store: &dyn super::EventStore,
    target: &Path,
) -> Result<u64, StoreError> {
    SledStore::write_per_record_copy(store, target)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;
    use crate::entropy::SeededEntropy;
    use crate::log::store::EventStore;
    use crate::log::testing::request_event;
    use crate::log::{EventLog, LogConfig, LogReader, OpenError, VerifyOptions};

    fn master() -> MasterKey {
        MasterKey::from_bytes([5u8; 32])
    }

    fn open_log(dir: &Path) -> Result<EventLog, OpenError> {
        EventLog::open(
            &LogConfig {
                dir: dir.to_path_buf(),
                create: true,
                cadence: Default::default(),
            },
            &master(),
            Arc::new(ManualClock::new(1_780_000_000_000_000)),
            Arc::new(SeededEntropy::new(11)),
        )
        .map(|(log, _)| log)
    }

    /// A data dir of store format 1 holding `count` events and a
    /// checkpoint, as the previous release left it: returns its records.
    fn format_1_data_dir(root: &Path, count: u64) -> (PathBuf, Vec<(u64, Vec<u8>)>) {
        let made = root.join("made");
        let records = {
            let log = open_log(&made).expect("open");
            for n in 0..count {
                log.append(vec![request_event(n)]).expect("append");
            }
            let signer = crate::crypto::CheckpointSigner::new(&master());
            log.checkpoint(&signer).expect("checkpoint");
            log.wait_durable(log.head().seq).expect("durable");
            log.reader()
                .store()
                .read_range(1, u64::MAX)
                .collect::<Result<Vec<_>, _>>()
                .expect("read")
        };
        let old = root.join("old");
        {
            let store = SledStore::open(&made, false).expect("store");
            write_format_1_copy(&store, &old).expect("format 1 copy");
        }
        std::fs::copy(made.join("anchor"), old.join("anchor")).expect("anchor");
        (old, records)
    }

    #[test]
    fn a_format_1_data_dir_is_read_then_migrated_at_open_after_a_verified_backup() {
        // Given a data dir of store format 1
        let root = tempfile::tempdir().expect("tempdir");
        let (dir, records) = format_1_data_dir(root.path(), 300);
        assert_eq!(
            SledStore::open(&dir, false).expect("store").layout(),
            Layout::PerRecord
        );
        // Then it is read and verified as it is
        {
            let reader = LogReader::open(&dir, &master()).expect("reader");
            assert!(
                reader
                    .verify(&VerifyOptions::default())
                    .expect("verify")
                    .ok()
            );
        }
        // When the log opens for writing
        let log = open_log(&dir).expect("open migrates");
        // Then the store is in format 2 with every record unchanged
        let migrated: Vec<(u64, Vec<u8>)> = log
            .reader()
            .store()
            .read_range(1, u64::MAX)
            .collect::<Result<_, _>>()
            .expect("read");
        assert_eq!(migrated, records);
        assert_eq!(
            log.reader()
                .store()
                .meta_get(crate::log::store::meta_key::FORMAT_VERSION)
                .expect("meta"),
            Some(2u32.to_be_bytes().to_vec())
        );
        assert!(
            log.reader()
                .verify(&VerifyOptions::default())
                .expect("verify")
                .ok()
        );
        // And it appends on top
        let appended = log.append(vec![request_event(999)]).expect("append");
        log.wait_durable(appended[0].header.seq).expect("durable");
        drop(log);
        // And the backup beside it is whole, of format 1, as of the head
        let backup_path = dir.join(FORMAT_1_BACKUP);
        let mut input = BufReader::new(File::open(&backup_path).expect("backup"));
        let summary = backup::read_backup(
            &mut input,
            Some(&backup::backup_key(&master())),
            &mut |_, _, _| Ok(()),
        )
        .expect("the backup verifies");
        assert_eq!(summary.store_format, 1);
        assert_eq!(summary.head_seq, records.len() as u64);
        assert_eq!(summary.entries.get("events"), Some(&(records.len() as u64)));
        assert!(!dir.join(format!("{FORMAT_1_BACKUP}.partial")).exists());
        // And a second open has nothing to migrate
        let store = SledStore::open(&dir, false).expect("store");
        assert_eq!(store.layout(), Layout::Batched);
        assert_eq!(
            migrate_if_needed(&store, &dir, &master()).expect("nothing to do"),
            None
        );
    }

    #[test]
    fn a_format_1_store_refuses_writes_until_migrated() {
        let root = tempfile::tempdir().expect("tempdir");
        let (dir, _) = format_1_data_dir(root.path(), 3);
        let store = SledStore::open(&dir, false).expect("store");
        assert!(store.append_batch(&[(4, b"x".to_vec())]).is_err());
        assert!(store.replace(1, b"x").is_err());
        assert!(store.remove_tail(3).is_err());
    }

    #[test]
    fn a_newer_store_format_is_refused_in_one_line() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("data");
        drop(open_log(&dir).expect("open"));
        {
            let store = SledStore::open(&dir, false).expect("store");
            store
                .meta_put(
                    crate::log::store::meta_key::FORMAT_VERSION,
                    &3u32.to_be_bytes(),
                )
                .expect("meta");
            store.sync().expect("sync");
        }
        let Err(error) = open_log(&dir) else {
            panic!("a newer format must be refused");
        };
        let message = error.to_string();
        assert!(
            matches!(error, OpenError::NewerFormat { found: 3, .. }),
            "{message}"
        );
        assert!(!message.contains('\n'), "{message}");
        assert!(message.contains("store format 3"), "{message}");
    }
}
