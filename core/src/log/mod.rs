//! The durable, hash-chained, append-only event log.
//!
//! Every command of Cairn ends here: its events are sequenced under one
//! short critical section (decide, assign seq, chain hash, store), and its
//! reply waits for [`EventLog::durable`], which group commit makes cheap.
//!
//! - [`codec`]: the on-disk encoding (bincode behind one module).
//! - [`chain`]: record hashes and payload digests.
//! - [`record_decoder`]: the hand-written, single-pass decoder of stored records.
//! - [`store`]: the storage boundary ([`EventStore`]) and the sled store.
//! - `durability`: group commit and the flusher thread.
//! - `personal`: personal data sealed under per-subject keys.
//! - [`recovery`]: what happens on open (torn tail, tail verification).
//! - [`verify`]: whole-chain verification with checkpoints.
//! - [`snapshots`]: authenticated snapshot files of the views.
//! - [`retention`]: finding and dropping prunable payloads.
//! - [`backup`]: a consistent copy of the store as of a head, and restore.
//! - [`migrate`]: store format 1 rewritten in format 2, after a verified backup.
//!
//! Architecture invariant: a record is acknowledged only after fdatasync;
//! seqs are gapless from 1; the stored head in `meta` is never ahead of the
//! events tree.

pub mod anchor;
pub mod backup;
pub mod cadence;
pub mod chain;
pub mod codec;
mod durability;
pub mod erasure_ledger;
mod error;
mod event;
pub mod migrate;
mod personal;
pub mod record_decoder;
pub mod recovery;
pub mod retention;
pub mod snapshots;
pub mod store;
pub mod verify;

#[cfg(test)]
mod anchor_tests;
#[cfg(test)]
mod log_tests;
#[cfg(test)]
pub(crate) mod testing;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use cairn_schemas::{
    Action, CheckpointSigned, EventPayload, Header, RECORD_FORMAT, Record, Sealed,
};
use uuid::Uuid;

use crate::clock::Clock;
use crate::crypto::{CheckpointSigner, MasterKey};
use crate::entropy::{Entropy, random_array};

pub use anchor::{Anchor, AnchorError, Anchorer};
pub use cadence::Cadence;
pub use durability::{DurabilityError, DurableState};
pub use error::{AppendError, OpenError, ReadError};
pub use event::{MAX_REQUEST_ID_LEN, NewEvent};
pub use personal::{Personal, PersonalError};
pub use recovery::Recovery;
pub use store::{EventStore, SledStore, StoreError};
pub use verify::{VerifyOptions, VerifyReport, Violation};

use durability::Durability;
use personal::SubjectKeys;

/// The most events one command may append at once.
pub const MAX_BATCH: usize = 1024;

/// The last record of the log: its seq and hash (seq 0 and the genesis hash
/// for an empty log).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// The seq of the last record, 0 when empty.
    pub seq: u64,
    /// Its hash.
    pub hash: [u8; 32],
}

impl Head {
    /// The head of an empty log.
    pub const EMPTY: Head = Head {
        seq: 0,
        hash: chain::GENESIS_HASH,
    };
}

/// How to open a log.
#[derive(Clone, Debug)]
pub struct LogConfig {
    /// The data dir.
    pub dir: PathBuf,
    /// Create the data dir when it does not exist.
    pub create: bool,
    /// The checkpoint cadence the unanchored tail is held to at open.
    pub cadence: Cadence,
}

/// Read access to a log: records, personal data, verification. Opening one
/// repairs nothing, so it serves `cairn audit verify` and `cairn events
/// dump` as they find the data dir.
#[derive(Debug)]
pub struct LogReader {
    store: Arc<dyn EventStore>,
    subjects: SubjectKeys,
    dir: PathBuf,
    anchorer: Anchorer,
    /// The checkpoint verifying key derived from the master key.
    public_key: [u8; 32],
    backup_key: crate::crypto::DerivedKey,
}

impl LogReader {
    /// Opens an existing data dir for reading. Refuses a newer store format.
    pub fn open(dir: &Path, master: &MasterKey) -> Result<LogReader, OpenError> {
        let store: Arc<dyn EventStore> = Arc::new(SledStore::open(dir, false)?);
        recovery::check_format(&*store, false)?;
        recovery::check_master_key(&*store, master, false)?;
        Ok(LogReader::with_store(store, master, dir))
    }

    fn with_store(store: Arc<dyn EventStore>, master: &MasterKey, dir: &Path) -> LogReader {
        let subjects = SubjectKeys::new(Arc::clone(&store), master);
        LogReader {
            store,
            subjects,
            dir: dir.to_path_buf(),
            anchorer: Anchorer::new(dir, master),
            public_key: CheckpointSigner::new(master).public_key(),
            backup_key: backup::backup_key(master),
        }
    }

    /// Writes a backup of this log as of `head` (see [`backup`]),
    /// authenticated under the master key.
    pub fn write_backup(
        &self,
        head: u64,
        out: &mut dyn std::io::Write,
    ) -> Result<backup::BackupSummary, backup::BackupError> {
        backup::write_backup(&*self.store, &self.dir, &self.backup_key, head, out)
    }

    /// The data dir's anchor (see [`anchor`]): `None` when it has none.
    pub fn anchor(&self) -> Result<Option<Anchor>, AnchorError> {
        self.anchorer.read()
    }

    /// Reads and writes anchors under this log's master-derived key.
    pub fn anchorer(&self) -> &Anchorer {
        &self.anchorer
    }

    /// The data dir.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The storage behind the log.
    pub fn store(&self) -> &dyn EventStore {
        &*self.store
    }

    /// Reads and decodes one record (without checking it).
    pub fn read(&self, seq: u64) -> Result<Option<Record>, ReadError> {
        match self.store.read(seq)? {
            Some(bytes) => Ok(Some(decode_at(seq, &bytes)?)),
            None => Ok(None),
        }
    }

    /// The records with seq in `from..=to`, decoded, in order.
    pub fn records(
        &self,
        from: u64,
        to: u64,
    ) -> impl Iterator<Item = Result<Record, ReadError>> + '_ {
        self.decoded(from, to, codec::decode_record)
    }

    /// The records with seq in `from..=to`, decoded for folding the views
    /// (without the canonical-form check, see
    /// [`codec::decode_record_for_fold`]), in order.
    pub fn records_for_fold(
        &self,
        from: u64,
        to: u64,
    ) -> impl Iterator<Item = Result<Record, ReadError>> + '_ {
        self.decoded(from, to, codec::decode_record_for_fold)
    }

    fn decoded(
        &self,
        from: u64,
        to: u64,
        decode: fn(&[u8]) -> Result<Record, codec::CodecError>,
    ) -> impl Iterator<Item = Result<Record, ReadError>> + '_ {
        self.store.read_range(from, to).map(move |item| {
            let (seq, bytes) = item?;
            decode(&bytes).map_err(|error| ReadError::Decode { seq, error })
        })
    }

    /// The last stored record's seq and hash, as stored (unchecked).
    pub fn stored_head(&self) -> Result<Head, ReadError> {
        match self.store.tail()? {
            Some((seq, bytes)) => Ok(Head {
                seq,
                hash: decode_at(seq, &bytes)?.hash,
            }),
            None => Ok(Head::EMPTY),
        }
    }

    /// Opens a sealed personal item: the data, or erased.
    pub fn open_personal(&self, sealed: &Sealed) -> Result<Personal, PersonalError> {
        self.subjects.open(sealed)
    }

    /// The opening of a sealed personal item: the per-message key that
    /// opens that item alone (an export ships it so that an offline
    /// verifier can check the data shown). `None` when the subject was
    /// erased.
    pub fn personal_opening(
        &self,
        sealed: &Sealed,
    ) -> Result<Option<zeroize::Zeroizing<[u8; 32]>>, PersonalError> {
        self.subjects.opening(sealed)
    }

    /// Opens bytes sealed with [`EventLog::seal_for_subject`]: `None` when
    /// the subject was erased.
    pub fn open_sealed(
        &self,
        sealed: &Sealed,
    ) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>, PersonalError> {
        self.subjects.open_bytes(sealed)
    }

    /// The signed checkpoints recorded from `from_seq` on, oldest first.
    pub fn checkpoints(&self, from_seq: u64) -> Result<Vec<CheckpointSigned>, ReadError> {
        self.store
            .checkpoints(from_seq)
            .map(|item| {
                let (seq, bytes) = item?;
                codec::decode(&bytes).map_err(|error| ReadError::Decode { seq, error })
            })
            .collect()
    }

    /// Verifies the whole log (see [`verify`]).
    pub fn verify(&self, options: &VerifyOptions) -> Result<VerifyReport, ReadError> {
        verify::verify_chain(self, options)
    }
}

fn decode_at(seq: u64, bytes: &[u8]) -> Result<Record, ReadError> {
    codec::decode_record(bytes).map_err(|error| ReadError::Decode { seq, error })
}

#[derive(Debug)]
struct Writer {
    head: Head,
    last_at: i64,
}

/// The log, open for appending. Dropping it syncs and stops the flusher.
#[derive(Debug)]
pub struct EventLog {
    reader: LogReader,
    writer: Mutex<Writer>,
    durability: Arc<Durability>,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    flusher: Mutex<Option<JoinHandle<()>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl EventLog {
    /// Opens (or creates) the log, recovers it (see [`recovery`]) and starts
    /// the flusher. Refuses to open a broken chain, naming the seq.
    pub fn open(
        config: &LogConfig,
        master: &MasterKey,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
    ) -> Result<(EventLog, Recovery), OpenError> {
        let sled = SledStore::open(&config.dir, config.create)?;
        // A store of format 1 is rewritten in format 2 first, after a
        // verified backup of it (see [`migrate`]).
        if let Some(migration) = migrate::migrate_if_needed(&sled, &config.dir, master)? {
            tracing::warn!(
                head = migration.head,
                entries = migration.entries,
                backup = %migration.backup.display(),
                took_ms = migration.took.as_millis() as u64,
                "migrated the store to format 2"
            );
        }
        let store: Arc<dyn EventStore> = Arc::new(sled);
        let reader = LogReader::with_store(Arc::clone(&store), master, &config.dir);
        let recovered = recovery::recover(
            &*store,
            master,
            &reader.anchorer,
            &config.cadence,
            clock.now_micros(),
        )?;
        store.record_head(recovered.head.seq)?;
        // Everything recovered is made durable before anything new is
        // acknowledged on top of it.
        store.sync()?;
        let durability = Durability::new(recovered.head.seq);
        let flusher = durability
            .spawn_flusher(Arc::clone(&store), Anchorer::new(&config.dir, master))
            .map_err(OpenError::Thread)?;
        let log = EventLog {
            reader,
            writer: Mutex::new(Writer {
                head: recovered.head,
                last_at: recovered.last_at,
            }),
            durability,
            clock,
            entropy,
            flusher: Mutex::new(Some(flusher)),
        };
        Ok((log, recovered))
    }

    /// Read access.
    pub fn reader(&self) -> &LogReader {
        &self.reader
    }

    /// The head: the last appended record (durable or not).
    pub fn head(&self) -> Head {
        lock(&self.writer).head
    }

    /// The highest seq known to be durable.
    pub fn durable_seq(&self) -> u64 {
        self.durability.durable_seq()
    }

    /// How many store syncs (fdatasync) have run.
    pub fn syncs(&self) -> u64 {
        self.durability.syncs()
    }

    /// Appends events atomically. See [`EventLog::append_with`].
    pub fn append(&self, events: Vec<NewEvent>) -> Result<Vec<Record>, AppendError> {
        self.append_with(|_| Ok::<_, AppendError>(events))
    }

    /// Appends the events that `decide` returns, given the head, under the
    /// log's critical section: either all of them are stored, gapless and
    /// chained, or none is. The records are not durable yet: await
    /// [`EventLog::durable`] for the last seq before acknowledging.
    pub fn append_with<E: From<AppendError>>(
        &self,
        decide: impl FnOnce(&Head) -> Result<Vec<NewEvent>, E>,
    ) -> Result<Vec<Record>, E> {
        let mut writer = lock(&self.writer);
        let events = decide(&writer.head)?;
        if events.is_empty() {
            return Ok(Vec::new());
        }
        if events.len() > MAX_BATCH {
            return Err(AppendError::Rejected(format!(
                "{} events in one batch; the limit is {MAX_BATCH}",
                events.len()
            ))
            .into());
        }
        let mut head = writer.head;
        let mut last_at = writer.last_at;
        let mut records = Vec::with_capacity(events.len());
        let mut encoded = Vec::with_capacity(events.len());
        for event in events {
            // Time in the log never goes backwards, even when the system
            // clock does: queries by time rely on it.
            last_at = last_at.max(self.clock.now_micros());
            let record = self.seal(event, head, last_at)?;
            head = Head {
                seq: record.header.seq,
                hash: record.hash,
            };
            encoded.push((
                record.header.seq,
                codec::encode_record(&record).map_err(AppendError::from)?,
            ));
            records.push(record);
        }
        self.reader
            .store
            .append_batch(&encoded)
            .map_err(AppendError::from)?;
        writer.head = head;
        writer.last_at = last_at;
        self.durability.published(head.seq);
        Ok(records)
    }

    fn seal(&self, event: NewEvent, prev: Head, at: i64) -> Result<Record, AppendError> {
        if let Some(request_id) = &event.request_id
            && (request_id.len() > MAX_REQUEST_ID_LEN || request_id.chars().any(char::is_control))
        {
            return Err(AppendError::Rejected(format!(
                "request id must be at most {MAX_REQUEST_ID_LEN} printable characters"
            )));
        }
        let seq = prev.seq + 1;
        let millis = u64::try_from(at / 1000).unwrap_or(0);
        let id =
            uuid::Builder::from_unix_timestamp_millis(millis, &random_array::<10>(&*self.entropy))
                .into_uuid();
        let personal = event
            .personal
            .iter()
            .map(|(subject, data)| self.reader.subjects.seal(*subject, data, &*self.entropy))
            .collect::<Result<Vec<_>, _>>()?;
        let payload = event
            .payload
            .as_ref()
            .map(codec::encode_payload)
            .transpose()?;
        let header = Header {
            seq,
            id,
            at,
            org: event.org,
            actor: event.actor,
            action: event.action,
            resource: event.resource,
            outcome: event.outcome,
            request_id: event.request_id,
            personal,
            payload_digest: chain::payload_digest(payload.as_deref()),
            prev_hash: prev.hash,
        };
        let hash = chain::record_hash(&prev.hash, &codec::encode_header(&header)?);
        Ok(Record {
            format: RECORD_FORMAT,
            header,
            payload,
            hash,
        })
    }

    /// Seals bytes under `subject`'s key (created on first use), for
    /// payload fields that must die with the subject, such as a password
    /// hash. The key is stored with the next sync, before any record that
    /// carries the sealed bytes can be acknowledged.
    pub fn seal_for_subject(&self, subject: Uuid, plain: &[u8]) -> Result<Sealed, PersonalError> {
        self.reader
            .subjects
            .seal_bytes(subject, plain, &*self.entropy)
    }

    /// Waits (without blocking a thread) until `seq` is durable.
    pub async fn durable(&self, seq: u64) -> Result<(), DurabilityError> {
        self.durability.wait(seq).await
    }

    /// Waits, blocking this thread, until `seq` is durable.
    pub fn wait_durable(&self, seq: u64) -> Result<(), DurabilityError> {
        self.durability.wait_blocking(seq)
    }

    /// Every change of the durable position (for health and failure
    /// handling: a `Failed` state means the server must stop).
    pub fn durable_changes(&self) -> tokio::sync::watch::Receiver<DurableState> {
        self.durability.subscribe()
    }

    /// Signs the current head and appends the `checkpoint.signed` event.
    /// Returns `None` on an empty log. Not yet durable on return: the sync
    /// that makes it durable also writes the anchor (see [`anchor`]) before
    /// anyone waiting on it is woken.
    pub fn checkpoint(&self, signer: &CheckpointSigner) -> Result<Option<Record>, AppendError> {
        let mut signed = None;
        let records = self.append_with(|head| {
            if head.seq == 0 {
                return Ok::<_, AppendError>(Vec::new());
            }
            let at = self.clock.now_micros();
            // Set before the record is stored, so the sync that covers it
            // sees it. The anchor holds the signed head, which is true as
            // soon as that head is durable.
            self.durability.anchor_when_durable(
                head.seq + 1,
                Anchor {
                    head: *head,
                    checkpoint_seq: head.seq + 1,
                    written_at: at,
                },
            );
            let checkpoint = CheckpointSigned {
                key_id: signer.key_id(),
                seq: head.seq,
                hash: head.hash,
                at,
                signature: signer.sign_checkpoint(head.seq, &head.hash, at).to_vec(),
            };
            signed = Some(checkpoint.clone());
            Ok(vec![NewEvent::system(
                Action::CheckpointSigned,
                EventPayload::CheckpointSigned(checkpoint),
            )])
        })?;
        if let Some(checkpoint) = signed {
            self.reader
                .store
                .checkpoint_put(checkpoint.seq, &codec::encode(&checkpoint)?)?;
        }
        Ok(records.into_iter().next())
    }

    /// Erases a data subject: records the erasure in the erasure ledger
    /// (fsynced first, see [`erasure_ledger`], so a restored older backup
    /// cannot bring the person back), then deletes their key and makes
    /// that durable. A ledger that does not verify or cannot be written is
    /// an error, after the key was deleted. Their personal data in every record becomes
    /// unreadable; the records and the chain stay. Returns whether a key
    /// existed.
    pub fn erase_subject(&self, subject: Uuid) -> Result<bool, PersonalError> {
        let ledger = erasure_ledger::ledger_path(&self.reader.dir);
        let recorded = self
            .reader
            .subjects
            .with_ledger(&ledger, |ledger| Ok(ledger.append(subject)?));
        // A ledger that cannot be written fails the erasure, but the key
        // goes all the same: the person is erased from this store whatever
        // happens to the record of it.
        let existed = self.reader.subjects.erase(subject)?;
        self.reader.store.sync()?;
        recorded?;
        Ok(existed)
    }

    /// Re-applies the erasure ledger: deletes (durably) the key of every
    /// subject it records that the store still holds, which happens only
    /// when the data dir was rolled back past an erasure while the ledger
    /// was kept. Returns those subjects. Refuses a ledger that does not
    /// verify. Run at start, before the views open any personal data.
    pub fn reapply_erasures(&self) -> Result<Vec<Uuid>, PersonalError> {
        let path = erasure_ledger::ledger_path(&self.reader.dir);
        let reapplied = self
            .reader
            .subjects
            .with_ledger(&path, |ledger| Ok(ledger.reapply(&*self.reader.store)?))?;
        for subject in &reapplied {
            // Forget any key cached before the deletion.
            self.reader.subjects.erase(*subject)?;
        }
        Ok(reapplied)
    }

    /// A fingerprint of `value` keyed by `subject`'s own key (see
    /// [`crate::crypto::fingerprint::subject_digest`]); `None` when the
    /// subject has no key (erased, or never sealed anything).
    pub fn subject_fingerprint(
        &self,
        subject: Uuid,
        value: &[u8],
    ) -> Result<Option<[u8; 32]>, PersonalError> {
        self.reader.subjects.fingerprint(subject, value)
    }

    /// Syncs what is outstanding and stops the flusher. Appends after this
    /// are stored but can no longer be awaited.
    pub fn close(&self) -> Result<(), StoreError> {
        let head = self.head().seq;
        let synced = if self.durability.durable_seq() < head {
            self.durability
                .wait_blocking(head)
                .map_err(|error| StoreError::Engine {
                    context: "syncing before close".into(),
                    message: error.to_string(),
                })
        } else {
            Ok(())
        };
        self.durability.close();
        if let Some(handle) = lock(&self.flusher).take() {
            let _ = handle.join();
        }
        synced
    }
}

impl Drop for EventLog {
    fn drop(&mut self) {
        if let Err(error) = self.close() {
            tracing::error!(%error, "closing the event log");
        }
    }
}
