//! The anchor: a small keyed file outside sled that says how far the log
//! had reached at its last checkpoint.
//!
//! A hash chain alone proves nothing to someone who can rewrite all of it,
//! and a log cut short, or a data dir rolled back, is still a valid chain.
//! The anchor closes both: after every checkpoint becomes durable, the
//! flusher writes `<data dir>/anchor` (atomically, fsynced) holding the
//! head that checkpoint signed, MAC'd under a key derived from the master
//! key. Opening, verifying and restoring a log compare it with the anchor:
//!
//! - a log that ends before the anchor's head was cut or rolled back;
//! - a log whose record at the anchor's seq has another hash was rewritten;
//! - a log with records and no anchor lost its anchor (or predates them).
//!
//! Someone without the master key can neither forge nor advance an
//! anchor; they can only put back an older, genuine one together with the
//! data dir it belongs to. Only a copy kept elsewhere (a SIEM's copy of the
//! `checkpoint.signed` events) catches that; see [`crate::log::verify`]'s
//! outside anchors.
//!
//! The file, 97 bytes, every integer big-endian:
//!
//! ```text
//! offset  size  field
//!      0     8  magic "CAIRNANC"
//!      8     1  version (1)
//!      9     8  head seq: the seq the last checkpoint signed (0: none yet)
//!     17    32  head hash: the hash of the record at that seq
//!     49     8  checkpoint seq: the seq of that checkpoint.signed record (0: none)
//!     57     8  written at, microseconds since the Unix epoch
//!     65    32  HMAC-SHA256(anchor key, bytes 0..65)
//! ```
//!
//! The anchor key is HKDF-SHA256 of the master key with info `anchor-mac`.

use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::Head;
use super::verify::Violation;
use crate::crypto::{self, DerivedKey, MasterKey};

/// The anchor's file name in the data dir.
pub const ANCHOR_FILE: &str = "anchor";
/// The anchor file's length in bytes.
pub const ANCHOR_LEN: usize = 97;
/// The anchor file's first bytes.
pub const MAGIC: &[u8; 8] = b"CAIRNANC";
/// The anchor format this build writes and reads.
pub const VERSION: u8 = 1;
const BODY_LEN: usize = ANCHOR_LEN - 32;

type AnchorMac = Hmac<Sha256>;

/// What the anchor says: the log had reached `head` (signed by the
/// checkpoint record at `checkpoint_seq`) when it was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Anchor {
    /// The head the last checkpoint signed ([`Head::EMPTY`] before any).
    pub head: Head,
    /// The seq of the `checkpoint.signed` record that signed it (0: none).
    pub checkpoint_seq: u64,
    /// When the anchor was written, microseconds since the Unix epoch.
    pub written_at: i64,
}

impl Anchor {
    /// The anchor of a new, empty log.
    pub fn empty(written_at: i64) -> Anchor {
        Anchor {
            head: Head::EMPTY,
            checkpoint_seq: 0,
            written_at,
        }
    }
}

/// Why an anchor could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    /// The file could not be read or written.
    #[error("{context} {path}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not an anchor this build can read, or its MAC does not
    /// verify: it was edited, or belongs to another master key.
    #[error("the anchor file {path} {problem}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
}

/// Reads and writes a data dir's anchor under its master-derived key.
pub struct Anchorer {
    dir: PathBuf,
    key: DerivedKey,
}

impl std::fmt::Debug for Anchorer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Anchorer").field("dir", &self.dir).finish()
    }
}

impl Anchorer {
    /// The anchor of the data dir `dir`, keyed from `master`.
    pub fn new(dir: &Path, master: &MasterKey) -> Anchorer {
        Anchorer {
            dir: dir.to_path_buf(),
            key: crypto::derive_key(master, crypto::info::ANCHOR_MAC),
        }
    }

    /// The anchor file's path.
    pub fn path(&self) -> PathBuf {
        self.dir.join(ANCHOR_FILE)
    }

    /// Reads the anchor: `None` when there is no anchor file.
    pub fn read(&self) -> Result<Option<Anchor>, AnchorError> {
        self.read_file(&self.path())
    }

    /// Reads an anchor file kept elsewhere (for example, the anchor of a
    /// data dir being replaced by a restore).
    pub fn read_file(&self, path: &Path) -> Result<Option<Anchor>, AnchorError> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(AnchorError::Io {
                    context: "reading",
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        decode(&bytes, &self.key)
            .map(Some)
            .map_err(|problem| AnchorError::Invalid {
                path: path.to_path_buf(),
                problem,
            })
    }

    /// Writes the anchor: to a temporary file, fsynced, renamed over the
    /// anchor, and the directory fsynced, so a crash leaves the old anchor
    /// or the new one, whole.
    pub fn write(&self, anchor: &Anchor) -> Result<(), AnchorError> {
        let path = self.path();
        let temporary = self.dir.join(format!("{ANCHOR_FILE}.tmp"));
        let io = |context: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| AnchorError::Io {
                context,
                path,
                source,
            }
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(&temporary)
            .map_err(io("creating", &temporary))?;
        file.write_all(&encode(anchor, &self.key))
            .and_then(|()| file.sync_all())
            .map_err(io("writing", &temporary))?;
        drop(file);
        std::fs::rename(&temporary, &path).map_err(io("replacing", &path))?;
        std::fs::File::open(&self.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(io("syncing", &self.dir))
    }
}

fn mac(key: &DerivedKey, body: &[u8]) -> [u8; 32] {
    let mut mac = <AnchorMac as Mac>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// The anchor's bytes (see the module docs).
pub fn encode(anchor: &Anchor, key: &DerivedKey) -> [u8; ANCHOR_LEN] {
    let mut bytes = [0u8; ANCHOR_LEN];
    bytes[0..8].copy_from_slice(MAGIC);
    bytes[8] = VERSION;
    bytes[9..17].copy_from_slice(&anchor.head.seq.to_be_bytes());
    bytes[17..49].copy_from_slice(&anchor.head.hash);
    bytes[49..57].copy_from_slice(&anchor.checkpoint_seq.to_be_bytes());
    bytes[57..65].copy_from_slice(&anchor.written_at.to_be_bytes());
    let tag = mac(key, &bytes[..BODY_LEN]);
    bytes[BODY_LEN..].copy_from_slice(&tag);
    bytes
}

/// Decodes an anchor, checking its length, magic, version and MAC.
pub fn decode(bytes: &[u8], key: &DerivedKey) -> Result<Anchor, String> {
    if bytes.len() != ANCHOR_LEN {
        return Err(format!(
            "is {} bytes long, not {ANCHOR_LEN}: it is not an anchor, or it was cut",
            bytes.len()
        ));
    }
    if &bytes[0..8] != MAGIC {
        return Err("does not start with CAIRNANC: it is not an anchor".into());
    }
    if bytes[8] != VERSION {
        return Err(format!(
            "has version {}; this build reads version {VERSION}",
            bytes[8]
        ));
    }
    let expected = mac(key, &bytes[..BODY_LEN]);
    if !crypto::constant_time_eq(&expected, &bytes[BODY_LEN..]) {
        return Err(
            "does not verify under this master key: it was edited, or belongs to another key"
                .into(),
        );
    }
    let u64_at = |at: usize| {
        let mut field = [0u8; 8];
        field.copy_from_slice(&bytes[at..at + 8]);
        field
    };
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&bytes[17..49]);
    Ok(Anchor {
        head: Head {
            seq: u64::from_be_bytes(u64_at(9)),
            hash,
        },
        checkpoint_seq: u64::from_be_bytes(u64_at(49)),
        written_at: i64::from_be_bytes(u64_at(57)),
    })
}

/// Compares a log with its anchor: the log must reach the anchor's head,
/// and hold the anchored record unchanged. `log_head` is the log's last
/// record; `hash_at_anchor` the hash of its record at the anchor's seq
/// (`None` when it has none).
pub fn check_log(
    anchor: &Anchor,
    log_head: &Head,
    hash_at_anchor: Option<[u8; 32]>,
) -> Result<(), Violation> {
    let anchored = anchor.head.seq;
    if log_head.seq < anchored {
        return Err(Violation {
            seq: log_head.seq + 1,
            problem: format!(
                "the log ends at seq {}, behind its anchor at seq {anchored}: records {}..={anchored} were cut off, or the data dir was rolled back",
                log_head.seq,
                log_head.seq + 1
            ),
        });
    }
    if anchored == 0 {
        return Ok(());
    }
    if hash_at_anchor != Some(anchor.head.hash) {
        return Err(Violation {
            seq: anchored,
            problem: format!(
                "record {anchored} is not the record the anchor holds: the history up to it was rewritten"
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> DerivedKey {
        let master = MasterKey::from_bytes([7; 32]);
        crypto::derive_key(&master, crypto::info::ANCHOR_MAC)
    }

    fn anchor(seq: u64) -> Anchor {
        Anchor {
            head: Head {
                seq,
                hash: [seq as u8; 32],
            },
            checkpoint_seq: seq + 1,
            written_at: 1_700_000_000_000_000,
        }
    }

    #[test]
    fn an_anchor_reads_back_as_written() {
        // given an anchor
        let written = anchor(41);
        // when it is encoded and decoded under the same key
        let read = decode(&encode(&written, &key()), &key());
        // then it is the same anchor
        assert_eq!(read, Ok(written));
    }

    #[test]
    fn every_edited_byte_is_refused() {
        let bytes = encode(&anchor(41), &key());
        for position in 0..ANCHOR_LEN {
            let mut edited = bytes;
            edited[position] ^= 0x01;
            assert!(
                decode(&edited, &key()).is_err(),
                "byte {position} edited and still accepted"
            );
        }
    }

    #[test]
    fn an_anchor_under_another_master_key_is_refused() {
        let other = crypto::derive_key(&MasterKey::from_bytes([8; 32]), crypto::info::ANCHOR_MAC);
        let error = decode(&encode(&anchor(3), &other), &key()).unwrap_err();
        assert!(error.contains("another key"), "{error}");
    }

    #[test]
    fn a_cut_anchor_is_refused() {
        let bytes = encode(&anchor(3), &key());
        assert!(decode(&bytes[..ANCHOR_LEN - 1], &key()).is_err());
        assert!(decode(&[], &key()).is_err());
    }

    #[test]
    fn a_log_behind_its_anchor_is_named_with_both_seqs() {
        // given an anchor at seq 41 and a log that ends at 30
        let log_head = Head {
            seq: 30,
            hash: [1; 32],
        };
        // when they are compared
        let violation = check_log(&anchor(41), &log_head, None).unwrap_err();
        // then the first missing seq is named, with the anchor's
        assert_eq!(violation.seq, 31);
        assert!(violation.problem.contains("seq 30"), "{violation}");
        assert!(violation.problem.contains("seq 41"), "{violation}");
    }

    #[test]
    fn a_log_rewritten_up_to_its_anchor_is_named_at_the_anchor() {
        let log_head = Head {
            seq: 50,
            hash: [1; 32],
        };
        let violation = check_log(&anchor(41), &log_head, Some([9; 32])).unwrap_err();
        assert_eq!(violation.seq, 41);
        assert!(violation.problem.contains("rewritten"), "{violation}");
    }

    #[test]
    fn a_log_at_or_beyond_its_anchor_with_the_same_record_passes() {
        let at = anchor(41);
        for seq in [41, 42, 5000] {
            let log_head = Head { seq, hash: [0; 32] };
            assert_eq!(check_log(&at, &log_head, Some(at.head.hash)), Ok(()));
        }
        assert_eq!(
            check_log(&Anchor::empty(0), &Head::EMPTY, None),
            Ok(()),
            "an empty log and the anchor of an empty log"
        );
    }

    #[test]
    fn the_file_is_written_whole_and_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let anchorer = Anchorer::new(dir.path(), &MasterKey::from_bytes([7; 32]));
        assert_eq!(anchorer.read().expect("read"), None);
        anchorer.write(&anchor(9)).expect("write");
        anchorer.write(&anchor(10)).expect("write");
        assert_eq!(anchorer.read().expect("read"), Some(anchor(10)));
        assert!(!dir.path().join("anchor.tmp").exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(anchorer.path())
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}

#[cfg(test)]
mod worked_example {
    use super::*;

    /// The worked example of docs/event-log-format.md, section 15: an
    /// anchor of seq 41 (hash all 0x29), signed by checkpoint record 42,
    /// written at 2026-11-18T11:06:40Z, under master key 32 × 0x07.
    pub(super) const EXAMPLE_HEX: &str = "434149524e414e430100000000000000292929292929292929292929292929292929292929292929292929292929292929000000000000002a0006608b015f30003957dc0176041e5f335a92d3620afb2ed6d2259bd2ad9536c882d7702b82c3d7";

    #[test]
    fn the_documented_example_is_what_the_code_writes() {
        let key = crypto::derive_key(&MasterKey::from_bytes([7; 32]), crypto::info::ANCHOR_MAC);
        let anchor = Anchor {
            head: Head {
                seq: 41,
                hash: [0x29; 32],
            },
            checkpoint_seq: 42,
            written_at: 1_795_000_000_000_000,
        };
        assert_eq!(hex::encode(encode(&anchor, &key)), EXAMPLE_HEX);
    }
}
