//! Snapshots of the views: files in `<data dir>/snapshots/`, so a start
//! folds only the events after the latest one, and retention can drop
//! payloads the views were built from.
//!
//! A snapshot is a file `snapshot-<seq, 20 digits>.bin`:
//!
//! ```text
//! magic "CAIRNSNP" | format u32 LE | seq u64 LE | hash of record seq [32]
//! | body (bincode of the views, written by the caller's type)
//! | HMAC-SHA256 over everything before it [32]
//! ```
//!
//! The HMAC key is derived from the master key (`snapshot-mac`): a
//! snapshot edited on disk, or one from another data dir, is refused, and
//! the caller falls back to an older one or to the log. The record hash
//! ties a snapshot to the chain: one whose seq does not carry that hash in
//! the log is not a snapshot of this log. Snapshots are written to a
//! temporary file, fdatasynced, renamed and the directory synced, so a
//! crash leaves either the whole snapshot or none.
//!
//! Snapshots hold what the views hold, but never personal data in the
//! clear: the views keep names and emails only sealed (see the views'
//! `reopen_personal`), so erasing a subject's key erases them here too.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

use super::codec::{self, CodecError};
use crate::crypto::{self, DerivedKey, MasterKey};

/// The first bytes of every snapshot file.
pub const SNAPSHOT_MAGIC: &[u8; 8] = b"CAIRNSNP";

/// The snapshot file format this build writes and reads. A snapshot of
/// another format (or of views of another shape, see `views_version`) is
/// skipped, and the views are folded from the log instead.
pub const SNAPSHOT_FORMAT: u32 = 1;

const HEADER_LEN: usize = 8 + 4 + 4 + 8 + 32;
const MAC_LEN: usize = 32;

/// The folder of snapshots inside a data dir.
pub const SNAPSHOT_DIR: &str = "snapshots";

/// Why a snapshot could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// A file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not an intact snapshot written with this master key.
    #[error("snapshot {path}: {problem}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The body did not encode or decode.
    #[error("snapshot body: {0}")]
    Codec(#[from] CodecError),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> SnapshotError {
    let context = context.into();
    move |source| SnapshotError::Io { context, source }
}

/// One snapshot file, as listed (not yet authenticated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The seq of the last record folded into it.
    pub seq: u64,
    /// Its file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
}

/// The snapshot files of one data dir.
pub struct Snapshots {
    dir: PathBuf,
    mac_key: DerivedKey,
    /// The shape of the views: a snapshot written for another shape is
    /// not read (a new Cairn version folds from the log instead).
    views_version: u32,
}

impl std::fmt::Debug for Snapshots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshots")
            .field("dir", &self.dir)
            .field("views_version", &self.views_version)
            .finish_non_exhaustive()
    }
}

type SnapshotMac = Hmac<Sha256>;

/// A writer that feeds everything it writes to the HMAC too.
struct MacWriter<W: Write> {
    inner: W,
    mac: SnapshotMac,
    written: u64,
}

impl<W: Write> Write for MacWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(bytes)?;
        self.mac.update(&bytes[..written]);
        self.written += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn file_name(seq: u64) -> String {
    format!("snapshot-{seq:020}.bin")
}

fn seq_of(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("snapshot-")?.strip_suffix(".bin")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

impl Snapshots {
    /// The snapshots of the data dir `data_dir`, authenticated with a key
    /// derived from `master`, for views of shape `views_version`.
    pub fn new(data_dir: &Path, master: &MasterKey, views_version: u32) -> Snapshots {
        Snapshots {
            dir: data_dir.join(SNAPSHOT_DIR),
            mac_key: crypto::derive_key(master, crypto::info::SNAPSHOT_MAC),
            views_version,
        }
    }

    /// The folder the snapshot files live in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn new_mac(&self) -> SnapshotMac {
        // HMAC takes a key of any length; this cannot fail for 32 bytes.
        match SnapshotMac::new_from_slice(self.mac_key.as_bytes()) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts keys of any length"),
        }
    }

    /// Every snapshot file, oldest first. Files that are not snapshots
    /// (and temporary files of an interrupted write) are ignored.
    pub fn list(&self) -> Result<Vec<SnapshotInfo>, SnapshotError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(io(format!("listing {}", self.dir.display()))(error)),
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io(format!("listing {}", self.dir.display())))?;
            let Some(seq) = entry.file_name().to_str().and_then(seq_of) else {
                continue;
            };
            let bytes = entry
                .metadata()
                .map_err(io(format!("reading {}", entry.path().display())))?
                .len();
            found.push(SnapshotInfo {
                seq,
                path: entry.path(),
                bytes,
            });
        }
        found.sort_by_key(|info| info.seq);
        Ok(found)
    }

    /// Writes a snapshot of `views`, the fold of the log up to `seq`
    /// whose record hash is `hash`, durably. Returns the file written.
    pub fn write<T: Serialize>(
        &self,
        seq: u64,
        hash: &[u8; 32],
        views: &T,
    ) -> Result<SnapshotInfo, SnapshotError> {
        super::store::private_files::create_dir_all(&self.dir)
            .map_err(io(format!("creating {}", self.dir.display())))?;
        let path = self.dir.join(file_name(seq));
        let temporary = self.dir.join(format!("{}.partial", file_name(seq)));
        let file = super::store::private_files::create_file(&temporary)
            .map_err(io(format!("creating {}", temporary.display())))?;
        let mut writer = MacWriter {
            inner: BufWriter::with_capacity(1 << 20, file),
            mac: self.new_mac(),
            written: 0,
        };
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(SNAPSHOT_MAGIC);
        header.extend_from_slice(&SNAPSHOT_FORMAT.to_le_bytes());
        header.extend_from_slice(&self.views_version.to_le_bytes());
        header.extend_from_slice(&seq.to_le_bytes());
        header.extend_from_slice(hash);
        writer
            .write_all(&header)
            .map_err(io(format!("writing {}", temporary.display())))?;
        codec::encode_into_writer(views, &mut writer)?;
        let MacWriter {
            inner,
            mac,
            written,
            ..
        } = writer;
        let mut inner = inner;
        inner
            .write_all(&mac.finalize().into_bytes())
            .map_err(io(format!("writing {}", temporary.display())))?;
        let file = inner
            .into_inner()
            .map_err(|error| io(format!("writing {}", temporary.display()))(error.into_error()))?;
        file.sync_all()
            .map_err(io(format!("syncing {}", temporary.display())))?;
        drop(file);
        std::fs::rename(&temporary, &path)
            .map_err(io(format!("renaming {}", temporary.display())))?;
        File::open(&self.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(io(format!("syncing {}", self.dir.display())))?;
        Ok(SnapshotInfo {
            seq,
            path,
            bytes: written + MAC_LEN as u64,
        })
    }

    /// Reads and authenticates a snapshot: its MAC, its format, its views
    /// version and its seq. Returns the record hash it claims for its seq
    /// (the caller checks it against the log) and the views.
    pub fn read<T: DeserializeOwned>(
        &self,
        info: &SnapshotInfo,
    ) -> Result<([u8; 32], T), SnapshotError> {
        let invalid = |problem: &str| SnapshotError::Invalid {
            path: info.path.clone(),
            problem: problem.to_string(),
        };
        let context = format!("reading {}", info.path.display());
        // First pass: authenticate the whole file before decoding any of
        // it, so a damaged length prefix never drives an allocation.
        let file = File::open(&info.path).map_err(io(context.clone()))?;
        let length = file.metadata().map_err(io(context.clone()))?.len();
        if length < (HEADER_LEN + MAC_LEN) as u64 {
            return Err(invalid("too short to be a snapshot"));
        }
        let mut reader = BufReader::with_capacity(1 << 20, file).take(length - MAC_LEN as u64);
        let mut mac = self.new_mac();
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let read = reader.read(&mut buffer).map_err(io(context.clone()))?;
            if read == 0 {
                break;
            }
            mac.update(&buffer[..read]);
        }
        let mut file = reader.into_inner();
        let mut stored = [0u8; MAC_LEN];
        file.read_exact(&mut stored).map_err(io(context.clone()))?;
        if mac.verify_slice(&stored).is_err() {
            return Err(invalid(
                "its MAC does not verify (altered, damaged, or written with another master key)",
            ));
        }

        // Second pass: the header, then the body.
        let file = File::open(&info.path).map_err(io(context.clone()))?;
        let mut reader = BufReader::with_capacity(1 << 20, file).take(length - MAC_LEN as u64);
        let mut header = [0u8; HEADER_LEN];
        reader
            .read_exact(&mut header)
            .map_err(io(context.clone()))?;
        if &header[..8] != SNAPSHOT_MAGIC {
            return Err(invalid("not a snapshot file"));
        }
        let word = |at: usize| {
            u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
        };
        if word(8) != SNAPSHOT_FORMAT {
            return Err(invalid(&format!(
                "snapshot format {} (this Cairn reads {SNAPSHOT_FORMAT})",
                word(8)
            )));
        }
        if word(12) != self.views_version {
            return Err(invalid(&format!(
                "views version {} (this Cairn's views are version {})",
                word(12),
                self.views_version
            )));
        }
        let mut seq_bytes = [0u8; 8];
        seq_bytes.copy_from_slice(&header[16..24]);
        if u64::from_le_bytes(seq_bytes) != info.seq {
            return Err(invalid("its seq is not the one its name says"));
        }
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&header[24..56]);
        let views = codec::decode_authenticated_from_reader(&mut reader)?;
        if reader.limit() != 0 {
            return Err(invalid("bytes left over after the views"));
        }
        Ok((hash, views))
    }

    /// Removes every snapshot but those in `keep` (by seq).
    pub fn remove_all_but(&self, keep: &[u64]) -> Result<u64, SnapshotError> {
        let mut removed = 0;
        for info in self.list()? {
            if keep.contains(&info.seq) {
                continue;
            }
            std::fs::remove_file(&info.path)
                .map_err(io(format!("removing {}", info.path.display())))?;
            removed += 1;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> MasterKey {
        MasterKey::from_bytes([byte; 32])
    }

    #[test]
    fn a_snapshot_round_trips_and_lists_in_seq_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let snapshots = Snapshots::new(dir.path(), &key(7), 3);
        let views: Vec<(u64, String)> = (0..1000).map(|n| (n, format!("entry {n}"))).collect();
        snapshots.write(42, &[9; 32], &views).expect("write");
        snapshots
            .write(7, &[1; 32], &vec![(1u64, "x".to_string())])
            .expect("write");
        let listed = snapshots.list().expect("list");
        assert_eq!(
            listed.iter().map(|i| i.seq).collect::<Vec<_>>(),
            vec![7, 42]
        );
        let (hash, read): ([u8; 32], Vec<(u64, String)>) =
            snapshots.read(&listed[1]).expect("read");
        assert_eq!(hash, [9; 32]);
        assert_eq!(read, views);
        assert_eq!(snapshots.remove_all_but(&[42]).expect("remove"), 1);
        assert_eq!(snapshots.list().expect("list").len(), 1);
    }

    #[test]
    fn any_flipped_byte_another_key_or_another_views_version_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let snapshots = Snapshots::new(dir.path(), &key(7), 3);
        let info = snapshots
            .write(5, &[2; 32], &vec![1u32, 2, 3])
            .expect("write");
        let original = std::fs::read(&info.path).expect("read");
        for at in 0..original.len() {
            let mut altered = original.clone();
            altered[at] ^= 0x40;
            std::fs::write(&info.path, &altered).expect("write");
            let result: Result<([u8; 32], Vec<u32>), _> = snapshots.read(&info);
            assert!(result.is_err(), "a flip at byte {at} went unnoticed");
        }
        std::fs::write(&info.path, &original).expect("write");
        let other_key = Snapshots::new(dir.path(), &key(8), 3);
        assert!(other_key.read::<Vec<u32>>(&info).is_err());
        let other_shape = Snapshots::new(dir.path(), &key(7), 4);
        assert!(other_shape.read::<Vec<u32>>(&info).is_err());
        std::fs::write(&info.path, &original[..original.len() - 1]).expect("write");
        assert!(snapshots.read::<Vec<u32>>(&info).is_err());
    }

    #[test]
    fn partial_files_and_strangers_are_not_listed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let snapshots = Snapshots::new(dir.path(), &key(1), 1);
        std::fs::create_dir_all(snapshots.dir()).expect("mkdir");
        std::fs::write(
            snapshots
                .dir()
                .join("snapshot-00000000000000000009.bin.partial"),
            b"x",
        )
        .expect("write");
        std::fs::write(snapshots.dir().join("notes.txt"), b"x").expect("write");
        assert!(snapshots.list().expect("list").is_empty());
    }
}
