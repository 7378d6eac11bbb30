//! Backups: a consistent copy of a store as one self-describing stream,
//! and its restoration into a new data dir.
//!
//! A backup is taken "as of" a head: the durable head when it begins.
//! Records are append-only, so every record `1..=head` is final when the
//! copy starts, and appends made while it runs (seqs after the head) are
//! left out. The other trees follow rules that keep the copy consistent
//! with that head:
//!
//! - `events`: exactly the records `1..=head`, gapless.
//! - `meta`: every key, with `head_seq` set to the head.
//! - `checkpoints`, `snapshots`: only those whose key (a big-endian seq)
//!   is at or before the head.
//! - `export_cursors`: each cursor clamped to the head, so a sink of the
//!   restored server re-sends rather than skips.
//! - `subject_keys` and any other tree: every entry.
//! - the snapshot files of the data dir (`snapshots/snapshot-<seq>.bin`,
//!   written whole and renamed into place, never changed after) whose seq
//!   is at or before the head, as entries of the pseudo-tree
//!   `file:snapshots` keyed by file name: once retention has dropped
//!   payloads, the views can only be rebuilt from a snapshot.
//!
//! The stream (every integer big-endian):
//!
//! ```text
//! MAGIC (16 bytes) | store format u32 | head seq u64 | head hash [32]
//! { 0x01 | tree name length u8 | name | key length u32 | key | value length u32 | value }*
//! 0x00 | entry count u64 | HMAC-SHA256(backup key, every byte before it) [32]
//! ```
//!
//! The backup key is HKDF-SHA256 of the master key with info `backup-mac`,
//! so a backup edited or cut by someone without the master key (an export
//! cursor moved past the head, a subject key put back, a record dropped)
//! is refused. Version 1 streams ended in a plain SHA-256 that anyone
//! could recompute; they are refused with a clear message.
//!
//! Restoring refuses a stream whose MAC, framing or head does not hold,
//! writes a fresh store and records its head; the caller then verifies the
//! whole log (`LogReader::verify`) and anchors it.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::codec;
use super::store::{EventStore, STORE_FORMAT_VERSION, StoreError, meta_key};
use crate::crypto::{self, DerivedKey, MasterKey};

/// The first bytes of every backup stream.
pub const MAGIC: &[u8; 16] = b"CAIRN-BACKUP/v2\n";
/// The first bytes of a version 1 stream (unauthenticated; refused).
const MAGIC_V1: &[u8; 16] = b"CAIRN-BACKUP/v1\n";

type BackupMac = Hmac<Sha256>;

/// The key that authenticates backup streams of a master key.
pub fn backup_key(master: &MasterKey) -> DerivedKey {
    crypto::derive_key(master, crypto::info::BACKUP_MAC)
}

fn new_mac(key: &DerivedKey) -> BackupMac {
    <BackupMac as Mac>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
}

const ENTRY: u8 = 0x01;
const END: u8 = 0x00;

/// The longest tree name, key and value a backup accepts. A value may be a
/// whole snapshot of the views, hence the generous bound; the bound keeps a
/// corrupt length from asking for an absurd allocation.
const MAX_TREE_NAME: usize = 64;
const MAX_KEY: usize = 64 * 1024;
const MAX_VALUE: usize = 512 * 1024 * 1024;

/// Trees whose keys are big-endian seqs: only entries at or before the
/// head belong to the backup.
const SEQ_KEYED_TREES: [&str; 2] = ["checkpoints", "snapshots"];
const EVENTS: &str = "events";
/// Entries of trees named `file:<dir>` are files of the data dir's `<dir>`.
const FILE_TREE_PREFIX: &str = "file:";
/// The data dir's folder of snapshot files, and their names.
const SNAPSHOT_DIR: &str = "snapshots";
const SNAPSHOT_PREFIX: &str = "snapshot-";
const SNAPSHOT_SUFFIX: &str = ".bin";
const META: &str = "meta";
const EXPORT_CURSORS: &str = "export_cursors";

/// What a backup holds: its head and how many entries of each tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupSummary {
    /// The store format of the source.
    pub store_format: u32,
    /// The head the backup was taken as of.
    pub head_seq: u64,
    /// The hash of the record at the head (the genesis hash when empty).
    pub head_hash: [u8; 32],
    /// Entries per tree (trees with none are left out).
    pub entries: BTreeMap<String, u64>,
    /// The HMAC-SHA256 the stream ends with.
    pub digest: [u8; 32],
    /// The stream's length in bytes.
    pub bytes: u64,
}

/// Why a backup could not be taken or restored.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing or reading the stream failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The source store does not hold what its head promises.
    #[error("the log is not consistent with its head {head}: {problem}")]
    Inconsistent {
        /// The head the backup was taken as of.
        head: u64,
        /// What is missing or wrong.
        problem: String,
    },
    /// The stream is not a Cairn backup, or was damaged.
    #[error("not a valid Cairn backup: {0}")]
    Invalid(String),
    /// The stream's MAC does not verify under this master key: it was
    /// damaged or edited, or was taken under another master key.
    #[error(
        "not a valid Cairn backup: its MAC does not match its content under this master key (damaged, edited, or taken with another key)"
    )]
    Unauthenticated,
    /// The backup was made by a newer Cairn.
    #[error(
        "the backup holds store format {found}; this build reads up to {STORE_FORMAT_VERSION}: upgrade Cairn"
    )]
    NewerFormat {
        /// The format found.
        found: u32,
    },
}

fn io(context: &'static str) -> impl FnOnce(std::io::Error) -> BackupError {
    move |source| BackupError::Io { context, source }
}

/// MACs everything written through it.
struct HashingWriter<W> {
    inner: W,
    hasher: BackupMac,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), BackupError> {
        self.hasher.update(bytes);
        self.bytes += bytes.len() as u64;
        self.inner
            .write_all(bytes)
            .map_err(io("writing the backup"))
    }
}

/// Writes a backup of `store` (and of the snapshot files of `data_dir`) as
/// of `head` (which must be durable and stored) to `out`. Appends that
/// happen meanwhile are not included.
pub fn write_backup(
    store: &dyn EventStore,
    data_dir: &Path,
    key: &DerivedKey,
    head: u64,
    out: &mut dyn Write,
) -> Result<BackupSummary, BackupError> {
    let head_hash = match head {
        0 => super::chain::GENESIS_HASH,
        seq => {
            let bytes = store.read(seq)?.ok_or_else(|| BackupError::Inconsistent {
                head,
                problem: format!("record {seq} is missing"),
            })?;
            codec::decode_record(&bytes)
                .map_err(|error| BackupError::Inconsistent {
                    head,
                    problem: format!("record {seq} does not decode: {error}"),
                })?
                .hash
        }
    };
    let mut writer = HashingWriter {
        inner: out,
        hasher: new_mac(key),
        bytes: 0,
    };
    // The stream is the same in every store format (one `events` entry
    // per record); its header names the source's format, so that the Cairn
    // that wrote a store restores its backups (a migration's, above all).
    let store_format = match store.meta_get(meta_key::FORMAT_VERSION)? {
        Some(bytes) => <[u8; 4]>::try_from(bytes.as_slice())
            .map(u32::from_be_bytes)
            .unwrap_or(STORE_FORMAT_VERSION),
        None => STORE_FORMAT_VERSION,
    };
    writer.put(MAGIC)?;
    writer.put(&store_format.to_be_bytes())?;
    writer.put(&head.to_be_bytes())?;
    writer.put(&head_hash)?;

    let mut entries: BTreeMap<String, u64> = BTreeMap::new();
    let mut total: u64 = 0;
    let mut trees = store.tree_names()?;
    trees.sort();
    for tree in &trees {
        let mut count = 0u64;
        let mut emit = |writer: &mut HashingWriter<&mut dyn Write>,
                        key: &[u8],
                        value: &[u8]|
         -> Result<(), BackupError> {
            write_entry(writer, tree, key, value)?;
            count += 1;
            Ok(())
        };
        match tree.as_str() {
            EVENTS => {
                let mut expected = 1u64;
                for item in store.read_range(1, head) {
                    let (seq, value) = item?;
                    if seq != expected {
                        return Err(BackupError::Inconsistent {
                            head,
                            problem: format!("record {expected} is missing"),
                        });
                    }
                    emit(&mut writer, &seq.to_be_bytes(), &value)?;
                    expected += 1;
                }
                if expected != head + 1 {
                    return Err(BackupError::Inconsistent {
                        head,
                        problem: format!("the events end at {}", expected - 1),
                    });
                }
            }
            META => {
                for item in store.tree_entries(tree) {
                    let (key, value) = item?;
                    if key == meta_key::HEAD_SEQ {
                        continue;
                    }
                    emit(&mut writer, &key, &value)?;
                }
                emit(&mut writer, meta_key::HEAD_SEQ, &head.to_be_bytes())?;
            }
            EXPORT_CURSORS => {
                for item in store.tree_entries(tree) {
                    let (key, value) = item?;
                    let cursor = <[u8; 8]>::try_from(value.as_slice())
                        .map(u64::from_be_bytes)
                        .map_err(|_| BackupError::Inconsistent {
                            head,
                            problem: "an export cursor is not 8 bytes".into(),
                        })?;
                    emit(&mut writer, &key, &cursor.min(head).to_be_bytes())?;
                }
            }
            name if SEQ_KEYED_TREES.contains(&name) => {
                for item in store.tree_entries(tree) {
                    let (key, value) = item?;
                    let seq = <[u8; 8]>::try_from(key.as_slice()).map(u64::from_be_bytes);
                    match seq {
                        Ok(seq) if seq > head => break,
                        _ => emit(&mut writer, &key, &value)?,
                    }
                }
            }
            _ => {
                for item in store.tree_entries(tree) {
                    let (key, value) = item?;
                    emit(&mut writer, &key, &value)?;
                }
            }
        }
        total += count;
        if count > 0 {
            entries.insert(tree.clone(), count);
        }
    }
    let snapshots = snapshot_files(data_dir, head)?;
    if !snapshots.is_empty() {
        let tree = format!("{FILE_TREE_PREFIX}{SNAPSHOT_DIR}");
        let mut count = 0u64;
        for (name, path) in snapshots {
            // Retention may remove an old snapshot meanwhile: skip it.
            let bytes = match std::fs::read(&path) {
                Ok(bytes) => bytes,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(BackupError::Io {
                        context: "reading a snapshot",
                        source,
                    });
                }
            };
            write_entry(&mut writer, &tree, name.as_bytes(), &bytes)?;
            count += 1;
        }
        total += count;
        if count > 0 {
            entries.insert(tree, count);
        }
    }

    writer.put(&[END])?;
    writer.put(&total.to_be_bytes())?;
    let digest: [u8; 32] = writer.hasher.clone().finalize().into_bytes().into();
    writer
        .inner
        .write_all(&digest)
        .map_err(io("writing the backup"))?;
    writer.inner.flush().map_err(io("writing the backup"))?;
    Ok(BackupSummary {
        store_format,
        head_seq: head,
        head_hash,
        entries,
        digest,
        bytes: writer.bytes + 32,
    })
}

/// The snapshot files of `data_dir` at or before `head`, oldest first.
fn snapshot_files(data_dir: &Path, head: u64) -> Result<Vec<(String, PathBuf)>, BackupError> {
    let dir = data_dir.join(SNAPSHOT_DIR);
    let listing = match std::fs::read_dir(&dir) {
        Ok(listing) => listing,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(BackupError::Io {
                context: "listing the snapshots",
                source,
            });
        }
    };
    let mut found = Vec::new();
    for entry in listing {
        let entry = entry.map_err(io("listing the snapshots"))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if let Some(seq) = snapshot_seq(&name)
            && seq <= head
        {
            found.push((seq, name, entry.path()));
        }
    }
    found.sort();
    Ok(found
        .into_iter()
        .map(|(_, name, path)| (name, path))
        .collect())
}

/// The seq of a snapshot file name (`snapshot-<20 digits>.bin`).
fn snapshot_seq(name: &str) -> Option<u64> {
    let digits = name
        .strip_prefix(SNAPSHOT_PREFIX)?
        .strip_suffix(SNAPSHOT_SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn write_entry(
    writer: &mut HashingWriter<&mut dyn Write>,
    tree: &str,
    key: &[u8],
    value: &[u8],
) -> Result<(), BackupError> {
    let name_len = u8::try_from(tree.len())
        .ok()
        .filter(|len| usize::from(*len) <= MAX_TREE_NAME)
        .ok_or_else(|| BackupError::Invalid(format!("tree name {tree:?} is too long")))?;
    let key_len = u32::try_from(key.len())
        .ok()
        .filter(|_| key.len() <= MAX_KEY)
        .ok_or_else(|| BackupError::Invalid(format!("a key of {tree} is too long")))?;
    let value_len = u32::try_from(value.len())
        .ok()
        .filter(|_| value.len() <= MAX_VALUE)
        .ok_or_else(|| BackupError::Invalid(format!("a value of {tree} is too long")))?;
    writer.put(&[ENTRY, name_len])?;
    writer.put(tree.as_bytes())?;
    writer.put(&key_len.to_be_bytes())?;
    writer.put(key)?;
    writer.put(&value_len.to_be_bytes())?;
    writer.put(value)
}

/// Reads a backup stream, checking framing, bounds and its MAC.
struct BackupReader<R> {
    inner: R,
    hasher: BackupMac,
    bytes: u64,
}

impl<R: Read> BackupReader<R> {
    fn take(&mut self, length: usize, what: &str) -> Result<Vec<u8>, BackupError> {
        let mut buffer = Vec::new();
        let read = (&mut self.inner)
            .take(length as u64)
            .read_to_end(&mut buffer)
            .map_err(io("reading the backup"))?;
        if read != length {
            return Err(BackupError::Invalid(format!(
                "it ends in the middle of {what} (truncated?)"
            )));
        }
        self.hasher.update(&buffer);
        self.bytes += length as u64;
        Ok(buffer)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], BackupError> {
        let bytes = self.take(N, what)?;
        <[u8; N]>::try_from(bytes.as_slice())
            .map_err(|_| BackupError::Invalid(format!("{what} is short")))
    }

    fn length(&mut self, what: &str, max: usize) -> Result<usize, BackupError> {
        let length = u32::from_be_bytes(self.array(what)?) as usize;
        if length > max {
            return Err(BackupError::Invalid(format!(
                "{what} says {length} bytes (at most {max})"
            )));
        }
        Ok(length)
    }
}

/// What receives each entry of a backup being read: tree, key, value.
pub type EntrySink<'a> = dyn FnMut(&str, &[u8], &[u8]) -> Result<(), BackupError> + 'a;

/// Reads a backup stream and hands each entry to `put` (tree, key, value),
/// checking the stream as it goes: the magic, the format, the framing and
/// bounds, the events gapless from 1 to the head, and the final MAC under
/// `key` (without a key, everything but the MAC: what a client without
/// the master key can check of a backup it receives from the server).
/// `put` must be undone by the caller when this fails (the restore writes
/// into a new data dir and removes it).
pub fn read_backup(
    input: &mut dyn Read,
    key: Option<&DerivedKey>,
    put: &mut EntrySink<'_>,
) -> Result<BackupSummary, BackupError> {
    // Without a key, a MAC under a fixed key only serves to read the
    // stream the same way; its result is not compared.
    let hasher = match key {
        Some(key) => new_mac(key),
        None => <BackupMac as Mac>::new_from_slice(&[0u8; 32])
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length")),
    };
    let mut reader = BackupReader {
        inner: input,
        hasher,
        bytes: 0,
    };
    let magic: [u8; 16] = reader.array("the header")?;
    if &magic == MAGIC_V1 {
        return Err(BackupError::Invalid(
            "it is a version 1 backup, which is not authenticated: restore it with the Cairn version that wrote it, then take a new backup".into(),
        ));
    }
    if &magic != MAGIC {
        return Err(BackupError::Invalid(
            "it does not start with the Cairn backup header".into(),
        ));
    }
    let store_format = u32::from_be_bytes(reader.array("the header")?);
    if store_format > STORE_FORMAT_VERSION {
        return Err(BackupError::NewerFormat {
            found: store_format,
        });
    }
    let head_seq = u64::from_be_bytes(reader.array("the header")?);
    let head_hash: [u8; 32] = reader.array("the header")?;

    let mut entries: BTreeMap<String, u64> = BTreeMap::new();
    let mut next_event = 1u64;
    let mut last_event_hash = super::chain::GENESIS_HASH;
    let mut total = 0u64;
    loop {
        let [tag] = reader.array::<1>("an entry")?;
        match tag {
            ENTRY => {
                let [name_len] = reader.array::<1>("an entry")?;
                if usize::from(name_len) > MAX_TREE_NAME || name_len == 0 {
                    return Err(BackupError::Invalid("a tree name is malformed".into()));
                }
                let name = String::from_utf8(reader.take(usize::from(name_len), "a tree name")?)
                    .map_err(|_| BackupError::Invalid("a tree name is not UTF-8".into()))?;
                let key_len = reader.length("a key length", MAX_KEY)?;
                let key = reader.take(key_len, "a key")?;
                let value_len = reader.length("a value length", MAX_VALUE)?;
                let value = reader.take(value_len, "a value")?;
                if name == EVENTS {
                    let seq = <[u8; 8]>::try_from(key.as_slice())
                        .map(u64::from_be_bytes)
                        .map_err(|_| BackupError::Invalid("an event key is not a seq".into()))?;
                    if seq != next_event || seq > head_seq {
                        return Err(BackupError::Invalid(format!(
                            "record {seq} comes where {next_event} was expected (head {head_seq})"
                        )));
                    }
                    last_event_hash = codec::decode_record(&value)
                        .map_err(|error| {
                            BackupError::Invalid(format!("record {seq} does not decode: {error}"))
                        })?
                        .hash;
                    next_event += 1;
                }
                put(&name, &key, &value)?;
                *entries.entry(name).or_default() += 1;
                total += 1;
            }
            END => {
                let count = u64::from_be_bytes(reader.array("the end")?);
                let expected: [u8; 32] = reader.hasher.clone().finalize().into_bytes().into();
                let mut digest = [0u8; 32];
                reader
                    .inner
                    .read_exact(&mut digest)
                    .map_err(|_| BackupError::Invalid("its final MAC is missing".into()))?;
                if key.is_some() && !crypto::constant_time_eq(&digest, &expected) {
                    return Err(BackupError::Unauthenticated);
                }
                let mut trailing = [0u8; 1];
                if reader
                    .inner
                    .read(&mut trailing)
                    .map_err(io("reading the backup"))?
                    != 0
                {
                    return Err(BackupError::Invalid("bytes follow its end".into()));
                }
                if count != total {
                    return Err(BackupError::Invalid(format!(
                        "it announces {count} entries and holds {total}"
                    )));
                }
                if next_event != head_seq + 1 {
                    return Err(BackupError::Invalid(format!(
                        "its events end at {} but its head is {head_seq}",
                        next_event - 1
                    )));
                }
                if last_event_hash != head_hash {
                    return Err(BackupError::Invalid(
                        "the record at its head does not have the head's hash".into(),
                    ));
                }
                return Ok(BackupSummary {
                    store_format,
                    head_seq,
                    head_hash,
                    entries,
                    digest,
                    bytes: reader.bytes + 32,
                });
            }
            other => {
                return Err(BackupError::Invalid(format!(
                    "unknown entry tag {other:#04x}"
                )));
            }
        }
    }
}

/// Restores a backup stream into `store` (a new, empty store in
/// `data_dir`), writing its files (snapshots) into `data_dir`, then records
/// its head and syncs. The caller verifies the chain afterwards.
pub fn restore_backup(
    input: &mut dyn Read,
    store: &dyn EventStore,
    data_dir: &Path,
    mac_key: &DerivedKey,
) -> Result<BackupSummary, BackupError> {
    let mut written_dirs: Vec<PathBuf> = Vec::new();
    let summary = read_backup(input, Some(mac_key), &mut |tree, key, value| match tree
        .strip_prefix(FILE_TREE_PREFIX)
    {
        Some(dir) => {
            let path = restored_file_path(data_dir, dir, key)?;
            if let Some(parent) = path.parent()
                && !written_dirs.iter().any(|seen| seen == parent)
            {
                super::store::private_files::create_dir_all(parent)
                    .map_err(io("creating a folder"))?;
                written_dirs.push(parent.to_path_buf());
            }
            let mut file =
                super::store::private_files::create_file(&path).map_err(io("writing a file"))?;
            file.write_all(value)
                .and_then(|()| file.sync_all())
                .map_err(io("writing a file"))
        }
        None => Ok(store.tree_put(tree, key, value)?),
    })?;
    for dir in written_dirs {
        std::fs::File::open(&dir)
            .and_then(|handle| handle.sync_all())
            .map_err(io("syncing a folder"))?;
    }
    store.record_head(summary.head_seq)?;
    store.sync()?;
    Ok(summary)
}

/// Where a file entry goes: only the snapshot folder, only snapshot file
/// names (a backup never writes anywhere else, whatever it says).
fn restored_file_path(data_dir: &Path, dir: &str, key: &[u8]) -> Result<PathBuf, BackupError> {
    let name = std::str::from_utf8(key)
        .ok()
        .filter(|name| snapshot_seq(name).is_some())
        .ok_or_else(|| BackupError::Invalid("a file entry is not a snapshot file name".into()))?;
    if dir != SNAPSHOT_DIR {
        return Err(BackupError::Invalid(format!(
            "a file entry names the folder {dir:?}"
        )));
    }
    Ok(data_dir.join(SNAPSHOT_DIR).join(name))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;
    use crate::crypto::MasterKey;
    use crate::entropy::SeededEntropy;
    use crate::log::testing::request_event;
    use crate::log::{EventLog, LogConfig, LogReader, SledStore};

    fn master() -> MasterKey {
        MasterKey::from_bytes([9u8; 32])
    }

    /// The backup stream of `log` as of `head`, under the test's key.
    fn backup_of(log: &EventLog, head: u64) -> Vec<u8> {
        let mut bytes = Vec::new();
        write_backup(
            log.reader().store(),
            log.reader().dir(),
            &backup_key(&master()),
            head,
            &mut bytes,
        )
        .expect("backup");
        bytes
    }

    fn log_with_events(count: u64) -> (tempfile::TempDir, EventLog) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (log, _) = EventLog::open(
            &LogConfig {
                dir: dir.path().join("data"),
                create: true,
                cadence: Default::default(),
            },
            &master(),
            Arc::new(ManualClock::new(1_780_000_000_000_000)),
            Arc::new(SeededEntropy::new(3)),
        )
        .expect("open");
        for n in 0..count {
            let event = request_event(n);
            let records = log.append(vec![event]).expect("append");
            log.wait_durable(records[0].header.seq).expect("durable");
        }
        (dir, log)
    }

    #[test]
    fn a_backup_restores_to_the_same_head_and_leaves_later_records_out() {
        let (_dir, log) = log_with_events(20);
        let store = log.reader().store();
        let mut bytes = Vec::new();
        let written = write_backup(
            store,
            log.reader().dir(),
            &backup_key(&master()),
            12,
            &mut bytes,
        )
        .expect("backup");
        assert_eq!(written.head_seq, 12);
        assert_eq!(written.entries.get("events"), Some(&12));
        assert_eq!(written.bytes, bytes.len() as u64);
        let head_hash = log.reader().read(12).expect("read").expect("record").hash;
        assert_eq!(written.head_hash, head_hash);

        let target = tempfile::tempdir().expect("tempdir");
        let data = target.path().join("data");
        {
            let restored = SledStore::open(&data, true).expect("open");
            let read = restore_backup(
                &mut bytes.as_slice(),
                &restored,
                &data,
                &backup_key(&master()),
            )
            .expect("restore");
            assert_eq!(read, written);
            assert_eq!(restored.recorded_head().expect("head"), Some(12));
        }
        let reader = LogReader::open(&data, &master()).expect("reader");
        let report = reader
            .verify(&crate::log::VerifyOptions {
                skip_anchor: true,
                ..Default::default()
            })
            .expect("verify");
        assert!(report.ok(), "{report:?}");
        assert_eq!(reader.stored_head().expect("head").seq, 12);
        assert_eq!(reader.stored_head().expect("head").hash, head_hash);
    }

    #[test]
    fn a_backup_edited_and_rehashed_without_the_key_is_refused() {
        let (_dir, log) = log_with_events(5);
        let bytes = backup_of(&log, 5);
        // someone with the backup but not the key: change a byte of the
        // head hash and recompute the trailer, as a MAC under
        // another master key
        let body = bytes.len() - 32;
        let mut edited = bytes.clone();
        edited[30] ^= 1; // inside the head hash
        let other = backup_key(&MasterKey::from_bytes([1u8; 32]));
        let mut mac = new_mac(&other);
        mac.update(&edited[..body]);
        let forged: [u8; 32] = mac.finalize().into_bytes().into();
        edited[body..].copy_from_slice(&forged);
        let discard = &mut |_: &str, _: &[u8], _: &[u8]| Ok(());
        let error = read_backup(
            &mut edited.as_slice(),
            Some(&backup_key(&master())),
            discard,
        )
        .expect_err("edited");
        assert!(error.to_string().contains("MAC"), "{error}");
        // a version 1 stream is refused by name
        let mut v1 = bytes.clone();
        v1[..16].copy_from_slice(MAGIC_V1);
        let error = read_backup(&mut v1.as_slice(), None, discard).expect_err("v1");
        assert!(error.to_string().contains("version 1"), "{error}");
    }

    #[test]
    fn a_damaged_or_truncated_backup_is_refused() {
        let (_dir, log) = log_with_events(5);
        let bytes = backup_of(&log, 5);
        let discard = &mut |_: &str, _: &[u8], _: &[u8]| Ok(());

        for cut in [0, 10, bytes.len() / 2, bytes.len() - 1] {
            let error = read_backup(&mut &bytes[..cut], Some(&backup_key(&master())), discard)
                .expect_err("truncated");
            assert!(matches!(error, BackupError::Invalid(_)), "{error}");
        }
        for at in [20, bytes.len() / 2, bytes.len() - 40, bytes.len() - 1] {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x40;
            assert!(
                read_backup(
                    &mut damaged.as_slice(),
                    Some(&backup_key(&master())),
                    discard
                )
                .is_err(),
                "a flip at {at} went unnoticed"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(
            read_backup(
                &mut longer.as_slice(),
                Some(&backup_key(&master())),
                discard
            )
            .is_err()
        );
        read_backup(&mut bytes.as_slice(), Some(&backup_key(&master())), discard)
            .expect("the intact stream reads");
    }

    #[test]
    fn export_cursors_are_clamped_to_the_head_and_checkpoints_after_it_left_out() {
        let (_dir, log) = log_with_events(10);
        let store = log.reader().store();
        store.export_cursor_put("siem", 9).expect("cursor");
        store.export_cursor_put("late", 3).expect("cursor");
        store.checkpoint_put(4, b"four").expect("checkpoint");
        store.checkpoint_put(8, b"eight").expect("checkpoint");
        let mut bytes = Vec::new();
        write_backup(
            store,
            log.reader().dir(),
            &backup_key(&master()),
            6,
            &mut bytes,
        )
        .expect("backup");
        let mut seen: Vec<(String, Vec<u8>, Vec<u8>)> = Vec::new();
        read_backup(
            &mut bytes.as_slice(),
            Some(&backup_key(&master())),
            &mut |tree, key, value| {
                seen.push((tree.to_string(), key.to_vec(), value.to_vec()));
                Ok(())
            },
        )
        .expect("read");
        let find = |tree: &str, key: &[u8]| {
            seen.iter()
                .find(|(t, k, _)| t == tree && k == key)
                .map(|(_, _, v)| v.clone())
        };
        assert_eq!(
            find("export_cursors", b"siem"),
            Some(6u64.to_be_bytes().to_vec())
        );
        assert_eq!(
            find("export_cursors", b"late"),
            Some(3u64.to_be_bytes().to_vec())
        );
        assert_eq!(
            find("checkpoints", &4u64.to_be_bytes()),
            Some(b"four".to_vec())
        );
        assert_eq!(find("checkpoints", &8u64.to_be_bytes()), None);
        assert_eq!(
            find("meta", meta_key::HEAD_SEQ),
            Some(6u64.to_be_bytes().to_vec())
        );
        assert!(find("meta", meta_key::MASTER_KEY_CHECK).is_some());
    }

    #[test]
    fn snapshot_files_up_to_the_head_travel_with_the_backup() {
        let (_dir, log) = log_with_events(20);
        let snapshots = log.reader().dir().join("snapshots");
        std::fs::create_dir_all(&snapshots).expect("mkdir");
        std::fs::write(snapshots.join(format!("snapshot-{:020}.bin", 5)), b"five").expect("5");
        std::fs::write(
            snapshots.join(format!("snapshot-{:020}.bin", 15)),
            b"fifteen",
        )
        .expect("15");
        std::fs::write(snapshots.join("snapshot-5.tmp"), b"partial").expect("tmp");
        let mut bytes = Vec::new();
        let written = write_backup(
            log.reader().store(),
            log.reader().dir(),
            &backup_key(&master()),
            12,
            &mut bytes,
        )
        .expect("backup");
        assert_eq!(written.entries.get("file:snapshots"), Some(&1));

        let target = tempfile::tempdir().expect("tempdir");
        let data = target.path().join("data");
        let restored = SledStore::open(&data, true).expect("open");
        restore_backup(
            &mut bytes.as_slice(),
            &restored,
            &data,
            &backup_key(&master()),
        )
        .expect("restore");
        let names: Vec<String> = std::fs::read_dir(data.join("snapshots"))
            .expect("snapshots restored")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(names, [format!("snapshot-{:020}.bin", 5)]);
        assert_eq!(
            std::fs::read(data.join("snapshots").join(&names[0])).expect("read"),
            b"five"
        );
    }

    #[test]
    fn a_file_entry_never_writes_outside_the_snapshot_folder() {
        let data = Path::new("/data");
        let good = format!("snapshot-{:020}.bin", 3);
        assert!(restored_file_path(data, "snapshots", good.as_bytes()).is_ok());
        assert!(restored_file_path(data, "..", good.as_bytes()).is_err());
        assert!(restored_file_path(data, "snapshots", b"../../etc/passwd").is_err());
        assert!(restored_file_path(data, "snapshots", b"db").is_err());
    }

    #[test]
    fn a_head_beyond_the_log_is_an_error_not_a_short_backup() {
        let (_dir, log) = log_with_events(3);
        let error = write_backup(
            log.reader().store(),
            log.reader().dir(),
            &backup_key(&master()),
            7,
            &mut Vec::new(),
        )
        .expect_err("beyond");
        assert!(matches!(error, BackupError::Inconsistent { .. }), "{error}");
    }
}
