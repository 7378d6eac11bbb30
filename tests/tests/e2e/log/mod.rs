//! The log on disk: crashes, tampering, anchoring, backups, retention, erasure, compaction.

pub(crate) mod anchoring;
pub(crate) mod backup;
pub(crate) mod compaction;
pub(crate) mod crash_safety;
pub(crate) mod crypto_interop;
pub(crate) mod erasure;
pub(crate) mod erasure_api;
pub(crate) mod erasure_restore;
pub(crate) mod file_modes;
pub(crate) mod retention;
pub(crate) mod tamper;
