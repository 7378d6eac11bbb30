//! The erasure ledger: which data subjects were erased, kept outside the
//! store so that an erasure outlives a restore of an older backup.
//!
//! Erasing a person deletes their subject key from the store's
//! `subject_keys` tree. A backup taken before the erasure still holds that
//! key, so restoring it would bring the person back. The ledger is a small
//! append-only file beside the store (`<data dir>/erasures`, never part of
//! a backup) that `cairn restore` and every start re-apply: each subject it
//! names has its key deleted again.
//!
//! Format (all integers big-endian):
//!
//! ```text
//! magic   16 bytes  "cairn-erasures/1"
//! entry   48 bytes  subject id (16) || mac (32), repeated
//! mac_i = HMAC-SHA256(key, "cairn erasure ledger v1" || i (u64) || mac_{i-1} || subject_i)
//! ```
//!
//! with `mac_{-1}` all zeros and `key = derive_key(master,
//! info::ERASURE_LEDGER)`. The chain of MACs means an entry cannot be
//! edited, forged, reordered or removed from the middle without the master
//! key; a file cut inside an entry is refused, naming it. A cut exactly at
//! an entry boundary leaves a valid shorter ledger: on a live data dir the
//! log's own `user.erased` events put the missing entries back at the next
//! start; a ledger rolled back with its backup is what the operator's copy
//! kept off the backups' storage is for (docs/operations.md).
//!
//! Only subject ids are stored: no name, no time, nothing personal.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::store::{EventStore, StoreError};
use crate::crypto::{MasterKey, derive_key, info};

/// The ledger's file name in a data dir.
pub const LEDGER_FILE: &str = "erasures";
/// The first bytes of every ledger file (names the format version).
pub const LEDGER_MAGIC: &[u8; 16] = b"cairn-erasures/1";
/// The length of one entry: a subject id and its chained MAC.
pub const ENTRY_LEN: usize = 16 + 32;
/// The most entries a ledger may hold (a bound on what is read at start).
pub const MAX_ENTRIES: usize = 10_000_000;

const MAC_DOMAIN: &[u8] = b"cairn erasure ledger v1";

/// Why a ledger could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The file could not be read, written or synced.
    #[error("erasure ledger {path}: {source}")]
    Io {
        /// The ledger file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file does not start with [`LEDGER_MAGIC`].
    #[error("{path} is not an erasure ledger (it does not start with \"cairn-erasures/1\")")]
    NotALedger {
        /// The file.
        path: PathBuf,
    },
    /// The file ends inside an entry: it was cut short (or a write tore).
    #[error(
        "erasure ledger {path} ends inside entry {entry} ({bytes} of {ENTRY_LEN} bytes): the file was cut short"
    )]
    Incomplete {
        /// The file.
        path: PathBuf,
        /// The entry, counted from 1.
        entry: u64,
        /// How many of its bytes are there.
        bytes: usize,
    },
    /// An entry's MAC does not verify.
    #[error(
        "erasure ledger {path}: entry {entry} does not verify: the ledger was edited, reordered or cut, or was written under another master key"
    )]
    Forged {
        /// The file.
        path: PathBuf,
        /// The entry, counted from 1.
        entry: u64,
    },
    /// The file holds more than [`MAX_ENTRIES`] entries.
    #[error("erasure ledger {path} holds more than {MAX_ENTRIES} entries")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// Deleting a subject key failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why ledger bytes do not parse (the file is named by the caller).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Problem {
    NotALedger,
    Incomplete { entry: u64, bytes: usize },
    Forged { entry: u64 },
    TooLarge,
}

/// The erasures recorded in one ledger file, verified.
pub struct ErasureLedger {
    path: PathBuf,
    key: Zeroizing<[u8; 32]>,
    subjects: Vec<Uuid>,
    known: HashSet<Uuid>,
    last_mac: [u8; 32],
}

impl std::fmt::Debug for ErasureLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErasureLedger")
            .field("path", &self.path)
            .field("entries", &self.subjects.len())
            .finish_non_exhaustive()
    }
}

/// The ledger's path in a data dir.
pub fn ledger_path(data_dir: &Path) -> PathBuf {
    data_dir.join(LEDGER_FILE)
}

fn entry_mac(key: &[u8; 32], index: u64, prev: &[u8; 32], subject: &Uuid) -> Hmac<Sha256> {
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC-SHA256 accepts a 32-byte key"),
    };
    mac.update(MAC_DOMAIN);
    mac.update(&index.to_be_bytes());
    mac.update(prev);
    mac.update(subject.as_bytes());
    mac
}

/// Parses and verifies ledger bytes: the subjects in order and the last MAC.
fn parse(key: &[u8; 32], bytes: &[u8]) -> Result<(Vec<Uuid>, [u8; 32]), Problem> {
    let Some(body) = bytes.strip_prefix(LEDGER_MAGIC.as_slice()) else {
        return Err(Problem::NotALedger);
    };
    if body.len() / ENTRY_LEN > MAX_ENTRIES {
        return Err(Problem::TooLarge);
    }
    let mut subjects = Vec::with_capacity(body.len() / ENTRY_LEN);
    let mut prev = [0u8; 32];
    let mut entries = body.chunks(ENTRY_LEN);
    for (index, entry) in (0u64..).zip(&mut entries) {
        if entry.len() < ENTRY_LEN {
            return Err(Problem::Incomplete {
                entry: index + 1,
                bytes: entry.len(),
            });
        }
        let (id, stored) = entry.split_at(16);
        let subject = Uuid::from_slice(id).map_err(|_| Problem::Forged { entry: index + 1 })?;
        // Constant time: the MAC is the only thing standing between a
        // forger and the ledger.
        entry_mac(key, index, &prev, &subject)
            .verify_slice(stored)
            .map_err(|_| Problem::Forged { entry: index + 1 })?;
        prev.copy_from_slice(stored);
        subjects.push(subject);
    }
    Ok((subjects, prev))
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> LedgerError + '_ {
    move |source| LedgerError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl ErasureLedger {
    /// Opens and verifies the ledger at `path`; a missing file is an empty
    /// ledger (the file is created by the first [`ErasureLedger::append`]).
    /// Refuses a file that is not a ledger, is cut inside an entry, or
    /// whose entries do not verify under `master`, naming the entry.
    pub fn open(path: &Path, master: &MasterKey) -> Result<ErasureLedger, LedgerError> {
        ErasureLedger::open_keyed(path, derive_key(master, info::ERASURE_LEDGER).as_bytes())
    }

    /// [`ErasureLedger::open`] given the ledger key itself
    /// (`derive_key(master, info::ERASURE_LEDGER)`).
    pub(crate) fn open_keyed(path: &Path, key: &[u8; 32]) -> Result<ErasureLedger, LedgerError> {
        let key = Zeroizing::new(*key);
        let bytes = match File::open(path) {
            Ok(mut file) => {
                let mut bytes = Vec::new();
                file.read_to_end(&mut bytes).map_err(io_error(path))?;
                Some(bytes)
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => return Err(io_error(path)(error)),
        };
        let (subjects, last_mac) = match bytes {
            None => (Vec::new(), [0u8; 32]),
            Some(bytes) => parse(&key, &bytes).map_err(|problem| {
                let path = path.to_path_buf();
                match problem {
                    Problem::NotALedger => LedgerError::NotALedger { path },
                    Problem::Incomplete { entry, bytes } => {
                        LedgerError::Incomplete { path, entry, bytes }
                    }
                    Problem::Forged { entry } => LedgerError::Forged { path, entry },
                    Problem::TooLarge => LedgerError::TooLarge { path },
                }
            })?,
        };
        let known = subjects.iter().copied().collect();
        Ok(ErasureLedger {
            path: path.to_path_buf(),
            key,
            subjects,
            known,
            last_mac,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The erased subjects, in the order they were recorded.
    pub fn subjects(&self) -> &[Uuid] {
        &self.subjects
    }

    /// Whether `subject` is recorded.
    pub fn contains(&self, subject: &Uuid) -> bool {
        self.known.contains(subject)
    }

    /// Records `subject` (unless it already is) and makes it durable: the
    /// file (created 0600 with its directory entry synced) is fsynced
    /// before this returns, so an erasure is never acknowledged ahead of
    /// its ledger entry. Returns whether an entry was added.
    pub fn append(&mut self, subject: Uuid) -> Result<bool, LedgerError> {
        if self.contains(&subject) {
            return Ok(false);
        }
        if self.subjects.len() >= MAX_ENTRIES {
            return Err(LedgerError::TooLarge {
                path: self.path.clone(),
            });
        }
        let index = self.subjects.len() as u64;
        let mac: [u8; 32] = entry_mac(&self.key, index, &self.last_mac, &subject)
            .finalize()
            .into_bytes()
            .into();
        let creating = self.subjects.is_empty() && !self.path.exists();
        let mut bytes = Vec::with_capacity(LEDGER_MAGIC.len() + ENTRY_LEN);
        if creating {
            bytes.extend_from_slice(LEDGER_MAGIC);
        }
        bytes.extend_from_slice(subject.as_bytes());
        bytes.extend_from_slice(&mac);
        let mut options = OpenOptions::new();
        if creating {
            options.write(true).create_new(true);
        } else {
            options.append(true);
        }
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&self.path).map_err(io_error(&self.path))?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .map_err(io_error(&self.path))?;
        if creating {
            sync_parent(&self.path)?;
        }
        self.subjects.push(subject);
        self.known.insert(subject);
        self.last_mac = mac;
        Ok(true)
    }

    /// Records every subject of `other` this ledger lacks (a ledger kept
    /// elsewhere, merged into the data dir's). Returns how many were added.
    pub fn merge(&mut self, other: &ErasureLedger) -> Result<usize, LedgerError> {
        let mut added = 0;
        for subject in other.subjects() {
            if self.append(*subject)? {
                added += 1;
            }
        }
        Ok(added)
    }

    /// Deletes the key of every recorded subject that `store` still holds,
    /// and syncs the store. Returns the subjects whose keys were deleted
    /// (the erasures re-applied).
    pub fn reapply(&self, store: &dyn EventStore) -> Result<Vec<Uuid>, LedgerError> {
        let mut reapplied = Vec::new();
        for subject in &self.subjects {
            if store.subject_key_delete(subject.as_bytes())? {
                reapplied.push(*subject);
            }
        }
        if !reapplied.is_empty() {
            store.sync()?;
        }
        Ok(reapplied)
    }
}

fn sync_parent(path: &Path) -> Result<(), LedgerError> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(parent)
        .and_then(|handle| handle.sync_all())
        .map_err(io_error(parent))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::log::SledStore;

    fn master() -> MasterKey {
        MasterKey::from_bytes([7; 32])
    }

    fn subject(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn ledger_with(dir: &Path, subjects: &[u128]) -> ErasureLedger {
        let mut ledger = ErasureLedger::open(&ledger_path(dir), &master()).unwrap();
        for n in subjects {
            ledger.append(subject(*n)).unwrap();
        }
        ledger
    }

    #[test]
    fn given_appended_erasures_when_reopened_then_they_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = ledger_with(dir.path(), &[1, 2, 3]);
        assert!(!ledger.append(subject(2)).unwrap(), "recorded once");
        let reopened = ErasureLedger::open(&ledger_path(dir.path()), &master()).unwrap();
        assert_eq!(reopened.subjects(), &[subject(1), subject(2), subject(3)]);
        let bytes = std::fs::read(ledger_path(dir.path())).unwrap();
        assert_eq!(bytes.len(), LEDGER_MAGIC.len() + 3 * ENTRY_LEN);
    }

    #[test]
    fn given_no_file_then_the_ledger_is_empty_and_nothing_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = ErasureLedger::open(&ledger_path(dir.path()), &master()).unwrap();
        assert!(ledger.subjects().is_empty());
        assert!(!ledger_path(dir.path()).exists());
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        ledger_with(dir.path(), &[1]);
        let mode = std::fs::metadata(ledger_path(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn an_edited_entry_is_refused_naming_it() {
        let key = *derive_key(&master(), info::ERASURE_LEDGER).as_bytes();
        let dir = tempfile::tempdir().unwrap();
        ledger_with(dir.path(), &[1, 2, 3]);
        let bytes = std::fs::read(ledger_path(dir.path())).unwrap();
        // Swap the second subject for another: entry 2 no longer verifies.
        let mut edited = bytes.clone();
        edited[LEDGER_MAGIC.len() + ENTRY_LEN + 15] ^= 1;
        assert_eq!(
            parse(&key, &edited).unwrap_err(),
            Problem::Forged { entry: 2 }
        );
        // A flipped MAC bit, in the last entry.
        let mut edited = bytes.clone();
        let last = edited.len() - 1;
        edited[last] ^= 0x80;
        assert_eq!(
            parse(&key, &edited).unwrap_err(),
            Problem::Forged { entry: 3 }
        );
    }

    #[test]
    fn removed_or_reordered_entries_are_refused() {
        let key = *derive_key(&master(), info::ERASURE_LEDGER).as_bytes();
        let dir = tempfile::tempdir().unwrap();
        ledger_with(dir.path(), &[1, 2, 3]);
        let bytes = std::fs::read(ledger_path(dir.path())).unwrap();
        let start = LEDGER_MAGIC.len();
        let entry = |i: usize| &bytes[start + i * ENTRY_LEN..start + (i + 1) * ENTRY_LEN];
        // The first entry removed: the second is now at index 0.
        let mut removed = LEDGER_MAGIC.to_vec();
        removed.extend_from_slice(entry(1));
        removed.extend_from_slice(entry(2));
        assert_eq!(
            parse(&key, &removed).unwrap_err(),
            Problem::Forged { entry: 1 }
        );
        // The middle entry removed.
        let mut removed = LEDGER_MAGIC.to_vec();
        removed.extend_from_slice(entry(0));
        removed.extend_from_slice(entry(2));
        assert_eq!(
            parse(&key, &removed).unwrap_err(),
            Problem::Forged { entry: 2 }
        );
        // Two entries swapped.
        let mut swapped = LEDGER_MAGIC.to_vec();
        swapped.extend_from_slice(entry(0));
        swapped.extend_from_slice(entry(2));
        swapped.extend_from_slice(entry(1));
        assert_eq!(
            parse(&key, &swapped).unwrap_err(),
            Problem::Forged { entry: 2 }
        );
    }

    #[test]
    fn a_file_cut_inside_an_entry_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        ledger_with(dir.path(), &[1, 2]);
        let path = ledger_path(dir.path());
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
        let error = ErasureLedger::open(&path, &master()).unwrap_err();
        assert!(
            matches!(
                error,
                LedgerError::Incomplete {
                    entry: 2,
                    bytes: 43,
                    ..
                }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("entry 2"), "{error}");
    }

    #[test]
    fn a_forged_entry_without_the_key_or_another_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = ledger_path(dir.path());
        // A ledger written under another master key.
        let mut other = ErasureLedger::open(&path, &MasterKey::from_bytes([8; 32])).unwrap();
        other.append(subject(1)).unwrap();
        let error = ErasureLedger::open(&path, &master()).unwrap_err();
        assert!(
            matches!(error, LedgerError::Forged { entry: 1, .. }),
            "{error}"
        );
        std::fs::write(&path, b"not a ledger at all").unwrap();
        let error = ErasureLedger::open(&path, &master()).unwrap_err();
        assert!(matches!(error, LedgerError::NotALedger { .. }), "{error}");
    }

    #[test]
    fn given_a_store_holding_erased_keys_when_reapplied_then_they_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SledStore::open(&dir.path().join("data"), true).unwrap());
        store.subject_key_put(subject(1).as_bytes(), b"k1").unwrap();
        store.subject_key_put(subject(2).as_bytes(), b"k2").unwrap();
        let ledger = ledger_with(dir.path(), &[1, 3]);
        assert_eq!(ledger.reapply(&*store).unwrap(), vec![subject(1)]);
        assert!(
            store
                .subject_key_get(subject(1).as_bytes())
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .subject_key_get(subject(2).as_bytes())
                .unwrap()
                .is_some()
        );
        assert!(ledger.reapply(&*store).unwrap().is_empty(), "idempotent");
    }

    fn open_log(dir: &Path) -> crate::log::EventLog {
        crate::log::EventLog::open(
            &crate::log::LogConfig {
                dir: dir.to_path_buf(),
                create: true,
                cadence: Default::default(),
            },
            &master(),
            Arc::new(crate::clock::ManualClock::new(1_780_000_000_000_000)),
            Arc::new(crate::entropy::SeededEntropy::new(3)),
        )
        .expect("open")
        .0
    }

    #[test]
    fn given_an_erasure_when_the_data_dir_is_rolled_back_but_the_ledger_kept_then_start_erases_again()
     {
        let dir = tempfile::tempdir().unwrap();
        let erin = subject(0xE41);
        let sealed;
        let wrapped;
        {
            let log = open_log(dir.path());
            sealed = log.seal_for_subject(erin, b"erin's hash").unwrap();
            log.reader().store().sync().unwrap();
            wrapped = log
                .reader()
                .store()
                .subject_key_get(erin.as_bytes())
                .unwrap()
                .expect("a key");
            assert!(log.subject_fingerprint(erin, b"erin").unwrap().is_some());
            assert!(log.erase_subject(erin).unwrap());
            assert_eq!(log.subject_fingerprint(erin, b"erin").unwrap(), None);
            // Recorded (and durable) before the erasure returned.
            let ledger = ErasureLedger::open(&ledger_path(dir.path()), &master()).unwrap();
            assert_eq!(ledger.subjects(), &[erin]);
            // Erasing again records nothing twice.
            assert!(!log.erase_subject(erin).unwrap());
        }
        let bytes = std::fs::read(ledger_path(dir.path())).unwrap();
        assert_eq!(bytes.len(), LEDGER_MAGIC.len() + ENTRY_LEN);
        // A rolled-back store: the key is back, the ledger kept.
        {
            let store = SledStore::open(dir.path(), false).unwrap();
            store.subject_key_put(erin.as_bytes(), &wrapped).unwrap();
            store.sync().unwrap();
        }
        let log = open_log(dir.path());
        assert!(log.reader().open_sealed(&sealed).unwrap().is_some(), "back");
        assert_eq!(log.reapply_erasures().unwrap(), vec![erin]);
        assert!(log.reader().open_sealed(&sealed).unwrap().is_none());
        assert!(log.reapply_erasures().unwrap().is_empty());
    }

    #[test]
    fn a_forged_ledger_fails_the_erasure_and_the_start_but_the_key_still_goes() {
        let dir = tempfile::tempdir().unwrap();
        let log = open_log(dir.path());
        let erin = subject(0xE42);
        log.seal_for_subject(erin, b"x").unwrap();
        std::fs::write(ledger_path(dir.path()), b"cairn-erasures/1 forged").unwrap();
        let error = log.reapply_erasures().unwrap_err();
        assert!(error.to_string().contains("entry 1"), "{error}");
        let error = log.erase_subject(erin).unwrap_err();
        assert!(error.to_string().contains("entry 1"), "{error}");
        assert!(
            log.reader()
                .store()
                .subject_key_get(erin.as_bytes())
                .unwrap()
                .is_none(),
            "the key goes even when the ledger is refused"
        );
    }

    #[test]
    fn merging_adds_only_what_is_missing() {
        let here = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let mut ledger = ledger_with(here.path(), &[1]);
        let kept = ledger_with(elsewhere.path(), &[1, 2]);
        assert_eq!(ledger.merge(&kept).unwrap(), 1);
        assert_eq!(ledger.subjects(), &[subject(1), subject(2)]);
    }
}
