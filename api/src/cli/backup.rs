//! `cairn backup DIR` and `cairn restore DIR`.
//!
//! A backup directory holds two files: `cairn-backup.bin`, the stream of
//! `cairn_core::log::backup` (every record up to a head, with the
//! checkpoints, subject keys, export cursors and metadata that belong with
//! them, ending in an HMAC-SHA256 under a key derived from the master
//! key), and `manifest.json`, which names the head, the MAC and the entry
//! counts. Neither holds the master key: back it up separately
//! (docs/operations.md).
//!
//! A restore checks the MAC, verifies the whole restored log (signed
//! checkpoints over all of it but a tail within the checkpoint cadence),
//! compares it with the anchor of the data dir it replaces (kept in the
//! target directory, or given with `--anchor`): a backup behind that
//! anchor is a rollback, refused unless `--allow-rollback` says it is
//! meant; a backup that contradicts it is always refused. Then it anchors
//! the restored log.
//!
//! A running server holds the data dir's lock, so `cairn backup` asks it
//! (`GET /api/v1/admin/backup`, with a superuser's token from
//! `CAIRN_TOKEN`); a stopped server's data dir is read directly. Either
//! way the backup is an `audit.exported` event (format `backup`).

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use serde_json::json;

use cairn_core::log::anchor::{self, ANCHOR_FILE, Anchor};
use cairn_core::log::backup::{
    BackupError, BackupSummary, backup_key, read_backup, restore_backup,
};
use cairn_core::log::store::private_files;
use cairn_core::log::{
    Cadence, EventLog, Head, LogConfig, LogReader, OpenError, SledStore, StoreError, VerifyOptions,
    VerifyReport,
};
use cairn_core::{OsEntropy, SystemClock};

use super::CliError;
use crate::config::{CadenceArgs, DataDirArgs, secret_env};
use crate::master_key;
use cairn_app::backup::BACKUP_FORMAT;

/// The backup stream's file in a backup directory.
pub const BACKUP_FILE: &str = "cairn-backup.bin";
/// The manifest's file in a backup directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The manifest's `format`.
pub const MANIFEST_FORMAT: &str = "cairn-backup/2";

#[derive(Debug, Args)]
pub(super) struct BackupArgs {
    /// The directory to write the backup into (new, or empty).
    dir: PathBuf,
    /// The data dir, read directly when the server is stopped.
    #[command(flatten)]
    data: DataDirArgs,
    /// The running server's base URL (default: from CAIRN_BIND). Given, the
    /// backup always goes through the server.
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// The server's listen address, for the default URL.
    #[arg(
        long,
        env = "CAIRN_BIND",
        default_value = "127.0.0.1:8080",
        hide = true
    )]
    bind: SocketAddr,
    #[command(flatten)]
    cadence: CadenceArgs,
}

#[derive(Debug, Args)]
pub(super) struct RestoreArgs {
    /// The backup directory (written by `cairn backup`).
    dir: PathBuf,
    /// The new data dir to restore into (must not exist, or hold nothing
    /// but the `erasures` and `anchor` files kept from the data dir it
    /// replaces).
    #[command(flatten)]
    data: DataDirArgs,
    /// An erasure ledger kept elsewhere (a copy of a data dir's
    /// `erasures`): merged into the restored data dir's, and every erasure
    /// it records is applied again to the restored store.
    #[arg(long, value_name = "FILE")]
    erasures: Option<PathBuf>,
    /// The anchor file of the data dir this restore replaces (default: the
    /// `anchor` file kept in the target data dir, if any). A backup behind
    /// it is refused unless --allow-rollback is given.
    #[arg(long, value_name = "FILE")]
    anchor: Option<PathBuf>,
    /// Restore a backup that ends before the replaced data dir's anchor,
    /// losing the records after the backup's head.
    #[arg(long)]
    allow_rollback: bool,
    /// Checkpoints kept elsewhere (a JSONL export or a SIEM's copy of the
    /// `checkpoint.signed` events): the restored log must agree with every
    /// one it reaches.
    #[arg(long, value_name = "FILE")]
    anchors: Option<PathBuf>,
    #[command(flatten)]
    cadence: CadenceArgs,
}

pub(super) fn backup(args: BackupArgs) -> Result<(), CliError> {
    prepare_empty_dir(&args.dir, "the backup directory")?;
    let taken = take_backup(&args);
    if taken.is_err() {
        // A cut stream must not pass for a backup: leave the directory empty.
        let _ = std::fs::remove_file(args.dir.join(BACKUP_FILE));
    }
    let summary = taken?;
    let manifest = manifest(&summary);
    write_synced(
        &args.dir.join(MANIFEST_FILE),
        format!("{manifest:#}\n").as_bytes(),
    )?;
    sync_dir(&args.dir)?;
    println!("{manifest}");
    Ok(())
}

fn take_backup(args: &BackupArgs) -> Result<BackupSummary, CliError> {
    let summary = match &args.url {
        Some(url) => from_server(
            url,
            &args.dir,
            master_key::for_offline(&args.data.data_dir)?.as_ref(),
        )?,
        None => match master_key::for_offline(&args.data.data_dir)? {
            Some(master) => {
                match open_for_backup(&args.data.data_dir, &master, args.cadence.cadence()) {
                    Ok(log) => from_data_dir(&log, &args.dir)?,
                    Err(OpenError::Store(StoreError::InUse(_))) => {
                        from_server(&default_url(args.bind), &args.dir, Some(&master))?
                    }
                    Err(error) => return Err(CliError::failed(error)),
                }
            }
            None if secret_env::read(secret_env::TOKEN).is_some() => {
                from_server(&default_url(args.bind), &args.dir, None)?
            }
            None => {
                return Err(CliError::failure(format!(
                    "no master key to read {} directly (set CAIRN_MASTER_KEY), and no {} to ask a running server",
                    args.data.data_dir.display(),
                    secret_env::TOKEN
                )));
            }
        },
    };
    Ok(summary)
}

fn default_url(bind: SocketAddr) -> String {
    let mut address = bind;
    if address.ip().is_unspecified() {
        address.set_ip(if address.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    format!("http://{address}")
}

/// Refuses a directory that holds anything; creates a missing one.
fn prepare_empty_dir(dir: &Path, what: &str) -> Result<(), CliError> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(CliError::usage(format!(
                    "{what} {} is not empty: use a new or empty directory",
                    dir.display()
                )));
            }
            // An empty directory given by the caller becomes private too.
            private_files::tighten(dir).map(|_| ()).map_err(|error| {
                CliError::failure_because(format!("cannot restrict {}", dir.display()), error)
            })
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            private_files::create_dir_all(dir).map_err(|error| {
                CliError::failure_because(format!("cannot create {}", dir.display()), error)
            })
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotADirectory => Err(CliError::usage(
            format!("{what} {} is not a directory", dir.display()),
        )),
        Err(error) => Err(CliError::failure_because(
            format!("cannot read {}", dir.display()),
            error,
        )),
    }
}

fn open_for_backup(
    data_dir: &Path,
    master: &cairn_core::crypto::MasterKey,
    cadence: Cadence,
) -> Result<EventLog, OpenError> {
    let config = LogConfig {
        dir: data_dir.to_path_buf(),
        create: false,
        cadence,
    };
    EventLog::open(&config, master, Arc::new(SystemClock), Arc::new(OsEntropy)).map(|(log, _)| log)
}

/// A stopped server: the head after recovery, the backup recorded as an
/// event, then the copy.
fn from_data_dir(log: &EventLog, dir: &Path) -> Result<BackupSummary, CliError> {
    let head = log.head().seq;
    super::audit::record_export(log, BACKUP_FORMAT, String::new(), head, "the backup")?;
    let path = dir.join(BACKUP_FILE);
    let file = create_file(&path)?;
    let mut out = BufWriter::with_capacity(256 * 1024, file);
    let summary = log
        .reader()
        .write_backup(head, &mut out)
        .map_err(CliError::failed)?;
    finish_file(out, &path)?;
    log.close()
        .map_err(|error| CliError::failure_because("closing the log", error))?;
    Ok(summary)
}

/// A running server: the stream from `GET /api/v1/admin/backup`, written
/// to disk, then read back and checked (framing, gapless events, and the
/// MAC when the master key is at hand).
fn from_server(
    url: &str,
    dir: &Path,
    master: Option<&cairn_core::crypto::MasterKey>,
) -> Result<BackupSummary, CliError> {
    let Some(token) = secret_env::read(secret_env::TOKEN) else {
        return Err(CliError::failure(format!(
            "the server holds the data dir: set {} to a superuser's token (or API key) so `cairn backup` can ask it",
            secret_env::TOKEN
        )));
    };
    let base = url.trim_end_matches('/');
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(CliError::usage(format!(
            "--url {base:?} is not an http:// or https:// URL"
        )));
    }
    let client = reqwest::blocking::Client::builder()
        .timeout(None)
        .connect_timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|error| CliError::failure_because("cannot start an HTTP client", error))?;
    let mut response = client
        .get(format!("{base}/api/v1/admin/backup"))
        .bearer_auth(token.as_str())
        .send()
        .map_err(|error| {
            CliError::failure(format!(
                "cannot reach the server at {base}: {}",
                error.without_url()
            ))
        })?;
    let status = response.status();
    if !status.is_success() {
        let detail = response
            .json::<serde_json::Value>()
            .ok()
            .and_then(|body| {
                body.get("detail")
                    .or_else(|| body.get("title"))
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_default();
        return Err(CliError::failure(format!(
            "the server refused the backup ({status}): {detail}"
        )));
    }
    let path = dir.join(BACKUP_FILE);
    let file = create_file(&path)?;
    let mut out = BufWriter::with_capacity(256 * 1024, file);
    std::io::copy(&mut response, &mut out)
        .map_err(|error| CliError::failure_because("the backup stream was cut", error))?;
    finish_file(out, &path)?;
    let mut input = BufReader::with_capacity(256 * 1024, open_file(&path)?);
    let key = master.map(backup_key);
    read_backup(&mut input, key.as_ref(), &mut |_, _, _| Ok(()))
        .map_err(|error| CliError::failure_because("the server's backup", error))
}

fn create_file(path: &Path) -> Result<File, CliError> {
    private_files::create_new_file(path).map_err(|error| {
        CliError::failure_because(format!("cannot create {}", path.display()), error)
    })
}

fn open_file(path: &Path) -> Result<File, CliError> {
    File::open(path).map_err(|error| {
        CliError::failure_because(format!("cannot open {}", path.display()), error)
    })
}

fn finish_file(out: BufWriter<File>, path: &Path) -> Result<(), CliError> {
    out.into_inner()
        .map_err(|error| error.into_error())
        .and_then(|file| file.sync_all())
        .map_err(|error| CliError::failure_because(format!("writing {}", path.display()), error))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let mut file = create_file(path)?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|error| CliError::failure_because(format!("writing {}", path.display()), error))
}

fn sync_dir(dir: &Path) -> Result<(), CliError> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(|error| CliError::failure_because(format!("syncing {}", dir.display()), error))
}

fn manifest(summary: &BackupSummary) -> serde_json::Value {
    json!({
        "format": MANIFEST_FORMAT,
        "cairn_version": env!("CARGO_PKG_VERSION"),
        "store_format": summary.store_format,
        "head": {"seq": summary.head_seq, "hash": hex::encode(summary.head_hash)},
        "file": BACKUP_FILE,
        "bytes": summary.bytes,
        "mac": hex::encode(summary.digest),
        "entries": summary.entries,
    })
}

pub(super) fn restore(args: RestoreArgs) -> Result<(), CliError> {
    let manifest_path = args.dir.join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&manifest_path).map_err(|error| {
        CliError::usage(format!(
            "{} cannot be read ({error}): is {} a backup made by `cairn backup`?",
            manifest_path.display(),
            args.dir.display()
        ))
        .with_cause(error)
    })?;
    let manifest: serde_json::Value = serde_json::from_str(&text).map_err(|error| {
        CliError::failure_because(format!("{} is not JSON", manifest_path.display()), error)
    })?;
    if manifest["format"] != MANIFEST_FORMAT {
        return Err(CliError::failure(format!(
            "{} is not a {MANIFEST_FORMAT} manifest",
            manifest_path.display()
        )));
    }
    let target = &args.data.data_dir;
    let master = master_key::for_offline(target)?.ok_or_else(|| {
        CliError::failure(
            "no master key: set CAIRN_MASTER_KEY to the key of the server the backup was taken from",
        )
    })?;
    let kept_anchor = kept_anchor(&args, &master)?;
    let outside = match &args.anchors {
        Some(path) => super::audit::read_outside_checkpoints(path)?,
        None => Vec::new(),
    };
    prepare_restore_target(target)?;
    let checks = RestoreChecks {
        cadence: args.cadence.cadence(),
        kept_anchor,
        allow_rollback: args.allow_rollback,
        outside,
    };
    // The restored log is anchored last: until then a failed restore
    // leaves the kept anchor as it found it.
    let restored = restore_into(&args.dir, target, &manifest, &master, &checks).and_then(
        |(line, reader, head)| {
            let line = with_erasures_reapplied(line, &reader, args.erasures.as_deref(), &master)?;
            anchor_restored(&reader, head)?;
            Ok(line)
        },
    );
    match restored {
        Ok(line) => {
            println!("{line}");
            Ok(())
        }
        Err(error) => {
            // Nothing half-restored is left behind to be served by mistake
            // (the files kept from the replaced data dir stay).
            let _ = remove_contents(target, KEPT_ON_RESTORE);
            Err(error)
        }
    }
}

/// What a restore checks beyond the backup's own MAC.
struct RestoreChecks {
    cadence: Cadence,
    /// The anchor of the data dir being replaced, if kept.
    kept_anchor: Option<Anchor>,
    allow_rollback: bool,
    outside: Vec<cairn_schemas::CheckpointSigned>,
}

/// The anchor of the data dir this restore replaces: `--anchor`, or the
/// `anchor` file kept in the target. One that does not verify is refused.
fn kept_anchor(
    args: &RestoreArgs,
    master: &cairn_core::crypto::MasterKey,
) -> Result<Option<Anchor>, CliError> {
    let path = args
        .anchor
        .clone()
        .unwrap_or_else(|| args.data.data_dir.join(ANCHOR_FILE));
    if args.anchor.is_some() && !path.is_file() {
        return Err(CliError::usage(format!(
            "--anchor: {} is not a file",
            path.display()
        )));
    }
    anchor::Anchorer::new(&args.data.data_dir, master)
        .read_file(&path)
        .map_err(CliError::violated)
}

/// The files a restore target may already hold: kept from the data dir
/// it replaces, because they live outside the backed-up trees on purpose
/// (the erasure ledger, the anchor).
const KEPT_ON_RESTORE: &[&str] = &[cairn_core::log::erasure_ledger::LEDGER_FILE, ANCHOR_FILE];

/// What in a restore target stops a restore: anything but plain files
/// named in [`KEPT_ON_RESTORE`]. `entries` are (name, is a plain file).
fn refused_leftover(entries: &[(String, bool)]) -> Option<&str> {
    entries
        .iter()
        .find(|(name, is_file)| !(*is_file && KEPT_ON_RESTORE.contains(&name.as_str())))
        .map(|(name, _)| name.as_str())
}

/// Accepts a missing (created), empty, or kept-files-only target.
fn prepare_restore_target(dir: &Path) -> Result<(), CliError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return prepare_empty_dir(dir, "the data dir");
        }
        Err(_) => return prepare_empty_dir(dir, "the data dir"),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| {
            CliError::failure_because(format!("cannot read {}", dir.display()), error)
        })?;
        let is_file = entry.file_type().is_ok_and(|kind| kind.is_file());
        found.push((entry.file_name().to_string_lossy().into_owned(), is_file));
    }
    match refused_leftover(&found) {
        Some(name) => Err(CliError::usage(format!(
            "the data dir {} is not empty (it holds {name:?}): use a new or empty directory; only the files {} kept from the data dir it replaces may stay",
            dir.display(),
            KEPT_ON_RESTORE.join(" and ")
        ))),
        None => Ok(()),
    }
}

/// Applies every erasure the ledger records to the restored store again
/// (its subject keys deleted), merging a ledger kept elsewhere into the
/// data dir's first, and adds `erasures_reapplied` to the restore's line.
fn with_erasures_reapplied(
    mut line: serde_json::Value,
    reader: &LogReader,
    kept: Option<&Path>,
    master: &cairn_core::crypto::MasterKey,
) -> Result<serde_json::Value, CliError> {
    use cairn_core::log::erasure_ledger::LedgerError;
    use cairn_core::log::erasure_ledger::{ErasureLedger, ledger_path};
    // A ledger that does not verify is an integrity violation; one that
    // cannot be read or written, a failure.
    let ledger_error = |error: LedgerError| match error {
        LedgerError::Io { .. } | LedgerError::Store(_) => CliError::failed(error),
        other => CliError::violated(other),
    };
    let mut ledger =
        ErasureLedger::open(&ledger_path(reader.dir()), master).map_err(ledger_error)?;
    if let Some(kept) = kept {
        if !kept.is_file() {
            return Err(CliError::usage(format!(
                "--erasures {} is not a file",
                kept.display()
            )));
        }
        let elsewhere = ErasureLedger::open(kept, master).map_err(ledger_error)?;
        ledger.merge(&elsewhere).map_err(ledger_error)?;
    }
    let reapplied = ledger.reapply(reader.store()).map_err(ledger_error)?;
    if ledger.subjects().is_empty() && !ledger.path().exists() {
        eprintln!(
            "note: no erasure ledger ({} is absent and no --erasures FILE was given): erasures made after this backup was taken are not re-applied",
            ledger.path().display()
        );
    }
    line["erasures_reapplied"] = json!(reapplied.len());
    line["erasures_in_ledger"] = json!(ledger.subjects().len());
    Ok(line)
}

fn restore_into(
    dir: &Path,
    target: &Path,
    manifest: &serde_json::Value,
    master: &cairn_core::crypto::MasterKey,
    checks: &RestoreChecks,
) -> Result<(serde_json::Value, LogReader, Head), CliError> {
    let summary = write_the_backup(dir, target, manifest, master)?;
    let (reader, report) = verify_the_restored_log(target, master, checks, &summary)?;
    let rolled_back_from = match &checks.kept_anchor {
        Some(kept) => compare_with_kept_anchor(&reader, kept, &report.head, checks.allow_rollback)?,
        None => None,
    };
    let cursors_clamped = crate::jobs::sinks::clamp_stored_cursors(reader.store(), report.head.seq)
        .map_err(CliError::failed)?;
    let line = json!({
        "ok": true,
        "data_dir": target.display().to_string(),
        "head": {"seq": report.head.seq, "hash": hex::encode(report.head.hash)},
        "checked": report.checked,
        "checkpoints_verified": report.checkpoints_verified,
        "anchored_through": report.anchored_through,
        "outside_checkpoints": report.outside_checkpoints,
        "rolled_back_from": rolled_back_from,
        "sink_cursors_clamped": cursors_clamped,
    });
    Ok((line, reader, report.head))
}

/// Writes the backup in `dir` into a new store at `target`, and checks
/// that what was written is what the manifest describes.
fn write_the_backup(
    dir: &Path,
    target: &Path,
    manifest: &serde_json::Value,
    master: &cairn_core::crypto::MasterKey,
) -> Result<BackupSummary, CliError> {
    let path = dir.join(BACKUP_FILE);
    let mut input = BufReader::with_capacity(256 * 1024, open_file(&path)?);
    let summary = {
        let store = SledStore::open(target, true).map_err(CliError::failed)?;
        restore_backup(
            &mut input as &mut dyn Read,
            &store,
            target,
            &backup_key(master),
        )
        .map_err(|error| {
            let hint = match error {
                BackupError::Unauthenticated => {
                    "; if it is intact, CAIRN_MASTER_KEY is not the key of the server the backup was taken from"
                }
                _ => "",
            };
            CliError::failure(format!(
                "{}: {error} (restoring seqs 1..={}){hint}",
                path.display(),
                manifest["head"]["seq"].as_u64().unwrap_or(0)
            ))
            .with_cause(error)
        })?
    };
    let expected = (
        manifest["head"]["seq"].as_u64(),
        manifest["head"]["hash"].as_str(),
        manifest["mac"].as_str(),
    );
    let found = (
        Some(summary.head_seq),
        Some(hex::encode(summary.head_hash)),
        Some(hex::encode(summary.digest)),
    );
    if expected.0 != found.0 || expected.1 != found.1.as_deref() || expected.2 != found.2.as_deref()
    {
        return Err(CliError::failure(format!(
            "{} does not match {}: the backup directory was altered",
            path.display(),
            MANIFEST_FILE
        )));
    }
    Ok(summary)
}

/// Opens the restored log and verifies its whole chain, which must end at
/// the backup's head.
fn verify_the_restored_log(
    target: &Path,
    master: &cairn_core::crypto::MasterKey,
    checks: &RestoreChecks,
    summary: &BackupSummary,
) -> Result<(LogReader, VerifyReport), CliError> {
    let reader = LogReader::open(target, master).map_err(|error| match error {
        OpenError::WrongMasterKey => CliError::failure(
            "CAIRN_MASTER_KEY is not the key of the server the backup was taken from",
        ),
        other => CliError::failed(other),
    })?;
    // The restored data dir has no anchor of its own yet: it gets one
    // once everything holds.
    let report = reader
        .verify(&VerifyOptions {
            cadence: checks.cadence,
            skip_anchor: true,
            outside: checks.outside.clone(),
            ..VerifyOptions::default()
        })
        .map_err(CliError::failed)?;
    if let Some(bad) = &report.first_bad {
        return Err(CliError::integrity(format!(
            "the restored log does not verify: integrity violation at seq {}: {}",
            bad.seq, bad.problem
        )));
    }
    if report.head.seq != summary.head_seq || report.head.hash != summary.head_hash {
        return Err(CliError::integrity(format!(
            "the restored log ends at seq {}, not at the backup's head {}",
            report.head.seq, summary.head_seq
        )));
    }
    Ok((reader, report))
}

/// Anchors the restored log at its head: the backup's MAC proves the
/// whole of it came from a holder of the master key.
fn anchor_restored(reader: &LogReader, head: Head) -> Result<(), CliError> {
    let checkpoint_seq = reader
        .store()
        .last_checkpoint()
        .map_err(CliError::failed)?
        .map_or(0, |(seq, _)| seq + 1);
    reader
        .anchorer()
        .write(&Anchor {
            head,
            checkpoint_seq,
            written_at: now_micros(),
        })
        .map_err(CliError::failed)
}

/// The restored log against the anchor of the data dir it replaces: one
/// that contradicts it is refused; one behind it is a rollback, refused
/// unless allowed. Returns the anchor's seq when a rollback was allowed.
fn compare_with_kept_anchor(
    reader: &LogReader,
    kept: &Anchor,
    head: &Head,
    allow_rollback: bool,
) -> Result<Option<u64>, CliError> {
    let at_anchor = if kept.head.seq <= head.seq {
        reader
            .read(kept.head.seq)
            .map_err(CliError::failed)?
            .map(|record| record.hash)
    } else {
        None
    };
    match anchor::check_log(kept, head, at_anchor) {
        Ok(()) => Ok(None),
        Err(_) if head.seq < kept.head.seq && allow_rollback => Ok(Some(kept.head.seq)),
        Err(violation) if head.seq < kept.head.seq => Err(CliError::integrity(format!(
            "the backup ends at seq {}, behind the anchor of the data dir it replaces (seq {}): restoring it would lose records {}..={}; if that is meant (the newest backup you have), pass --allow-rollback ({violation})",
            head.seq,
            kept.head.seq,
            head.seq + 1,
            kept.head.seq
        ))),
        Err(violation) => Err(CliError::integrity(format!(
            "the backup contradicts the anchor of the data dir it replaces: integrity violation at seq {}: {}",
            violation.seq, violation.problem
        ))),
    }
}

fn now_micros() -> i64 {
    use cairn_core::Clock;
    SystemClock.now_micros()
}

fn remove_contents(dir: &Path, keep: &[&str]) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if keep.iter().any(|name| entry.file_name() == **name) {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(names: &[(&str, bool)]) -> Vec<(String, bool)> {
        names
            .iter()
            .map(|(name, is_file)| ((*name).to_string(), *is_file))
            .collect()
    }

    #[test]
    fn a_restore_target_may_hold_only_the_kept_files() {
        assert_eq!(refused_leftover(&entries(&[])), None);
        assert_eq!(
            refused_leftover(&entries(&[("erasures", true), ("anchor", true)])),
            None
        );
        assert_eq!(
            refused_leftover(&entries(&[("erasures", true), ("db", true)])),
            Some("db")
        );
        assert_eq!(
            refused_leftover(&entries(&[("erasures", false)])),
            Some("erasures"),
            "a directory by that name is not the ledger"
        );
        assert_eq!(
            refused_leftover(&entries(&[("snapshots", false)])),
            Some("snapshots")
        );
    }

    #[test]
    fn a_failed_restore_keeps_the_kept_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("erasures"), b"x").unwrap();
        std::fs::write(dir.path().join("db"), b"x").unwrap();
        std::fs::create_dir(dir.path().join("snapshots")).unwrap();
        remove_contents(dir.path(), KEPT_ON_RESTORE).unwrap();
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("erasures")]);
    }
}
