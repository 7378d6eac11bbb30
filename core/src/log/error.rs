//! The log's errors, separating what the caller did wrong (rejections)
//! from what the machine did wrong (infrastructure failures).

use super::codec::CodecError;
use super::durability::DurabilityError;
use super::personal::PersonalError;
use super::store::StoreError;

/// Why an append did not happen. Nothing was stored when this is returned.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The event is not acceptable (too large, a field out of bounds).
    #[error("event rejected: {0}")]
    Rejected(String),
    /// The store failed: an infrastructure error.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Sealing personal data failed.
    #[error(transparent)]
    Personal(#[from] PersonalError),
    /// The log can no longer make records durable.
    #[error(transparent)]
    Durability(#[from] DurabilityError),
}

impl From<CodecError> for AppendError {
    fn from(error: CodecError) -> Self {
        AppendError::Rejected(error.to_string())
    }
}

/// Why a record could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored bytes do not decode.
    #[error("record {seq} does not decode: {error}")]
    Decode {
        /// The record's seq.
        seq: u64,
        /// Why.
        error: CodecError,
    },
}

/// Why the log did not open.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The data dir was written by a newer Cairn.
    #[error(
        "the data dir was written by a newer Cairn ({what} format {found}; this build reads up to {supported}); upgrade Cairn"
    )]
    NewerFormat {
        /// Which format: `store` or `record`.
        what: &'static str,
        /// The format found.
        found: u32,
        /// The newest format this build reads.
        supported: u32,
    },
    /// The master key is not the one the data dir was created with.
    #[error(
        "the master key is not the one this data dir was created with (check CAIRN_MASTER_KEY)"
    )]
    WrongMasterKey,
    /// The chain is broken: refuse to start rather than repair silently.
    #[error(
        "the event log is broken at seq {seq}: {problem}; run `cairn audit verify` for a full report"
    )]
    BrokenChain {
        /// The first affected seq.
        seq: u64,
        /// What is wrong.
        problem: String,
    },
    /// The log has records but the data dir has no anchor file.
    #[error(
        "the event log holds {head} records but the data dir has no anchor file: it was removed (restore the data dir from a backup with `cairn restore`), or the data dir predates anchors (adopt it once with `cairn audit adopt`)"
    )]
    Unanchored {
        /// The log's last seq.
        head: u64,
    },
    /// The anchor file could not be read or written, or does not verify.
    #[error("{0}")]
    Anchor(String),
    /// The flusher thread could not be started.
    #[error("could not start the log flusher: {0}")]
    Thread(std::io::Error),
    /// Reading records failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A data dir of store format 1 could not be migrated to format 2.
    #[error(transparent)]
    Migration(#[from] super::migrate::MigrateError),
    /// The subject keys do not match the master key.
    #[error(transparent)]
    Personal(#[from] PersonalError),
}
