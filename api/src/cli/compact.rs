//! `cairn compact`: rewrites a stopped server's store so that no payload
//! retention dropped stays readable in its files.
//!
//! A prune replaces each record with its payload-less form, but sled keeps
//! the old page images in its files until they are rewritten. The server
//! compacts after each prune (`CAIRN_RETENTION_COMPACT`); this command does
//! the same on a stopped data dir, for a server that runs with it off (a
//! large log, where the pause would be felt) or after a stop cut a
//! compaction short. A running server holds the data dir's lock: the
//! command refuses rather than wait.
//!
//! It needs no master key: it copies the stored bytes as they are.

use clap::Args;
use serde_json::json;

use cairn_core::log::recovery::check_format;
use cairn_core::log::{OpenError, SledStore, StoreError};

use super::CliError;
use crate::config::DataDirArgs;
use cairn_app::retention::{compact_store, compaction_owed};

#[derive(Debug, Args)]
pub(super) struct CompactArgs {
    /// The data dir of the stopped server.
    #[command(flatten)]
    data: DataDirArgs,
}

/// Runs `cairn compact`: prints one JSON line saying what it did.
pub(super) fn run(args: CompactArgs) -> Result<(), CliError> {
    let dir = &args.data.data_dir;
    let store = SledStore::open(dir, false).map_err(|error| match error {
        StoreError::InUse(dir) => CliError::failure(format!(
            "the data dir {} is in use by a running cairn server: stop it first (or let the server compact: CAIRN_RETENTION_COMPACT=true)",
            dir.display()
        )),
        other => CliError::failed(other),
    })?;
    check_format(&store, false).map_err(|error| match error {
        OpenError::Store(error) => CliError::failed(error),
        other => CliError::failed(other),
    })?;
    let owed = compaction_owed(&store).map_err(CliError::failed)?;
    let compaction = compact_store(&store).map_err(|error| {
        CliError::failure_because(format!("compacting {}", dir.display()), error)
    })?;
    let report = json!({
        "compacted": true,
        "data_dir": dir.display().to_string(),
        "dropped_payloads_were_pending": owed,
        "trees": compaction.trees,
        "entries": compaction.entries,
        "bytes_before": compaction.bytes_before,
        "bytes_after": compaction.bytes_after,
        "millis": u64::try_from(compaction.paused.as_millis()).unwrap_or(u64::MAX),
    });
    println!("{report}");
    Ok(())
}
