//! `cairn backup DIR` and `cairn restore DIR`.
//!
//! A backup directory holds two files: `cairn-backup.bin`, the stream of
//! `cairn_core::log::backup` (every record up to a head, with the
//! checkpoints, subject keys, export cursors and metadata that belong with
//! them, ending in a SHA-256), and `manifest.json`, which names the head,
//! the digest and the entry counts. Neither holds the master key: back it
//! up separately (docs/operations.md).
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

use cairn_core::crypto::CheckpointSigner;
use cairn_core::log::backup::{BackupSummary, read_backup, restore_backup, write_backup};
use cairn_core::log::store::private_files;
use cairn_core::log::{EventLog, LogConfig, LogReader, OpenError, SledStore, StoreError};
use cairn_core::{OsEntropy, SystemClock};

use super::CliError;
use crate::app::backup::BACKUP_FORMAT;
use crate::config::{DataDirArgs, secret_env};
use crate::master_key;

/// The backup stream's file in a backup directory.
pub const BACKUP_FILE: &str = "cairn-backup.bin";
/// The manifest's file in a backup directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The manifest's `format`.
pub const MANIFEST_FORMAT: &str = "cairn-backup/1";

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
}

#[derive(Debug, Args)]
pub(super) struct RestoreArgs {
    /// The backup directory (written by `cairn backup`).
    dir: PathBuf,
    /// The new data dir to restore into (must not exist, or be empty).
    #[command(flatten)]
    data: DataDirArgs,
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
        Some(url) => from_server(url, &args.dir)?,
        None => match master_key::for_offline(&args.data.data_dir)? {
            Some(master) => match open_for_backup(&args.data.data_dir, &master) {
                Ok(log) => from_data_dir(&log, &args.dir)?,
                Err(OpenError::Store(StoreError::InUse(_))) => {
                    from_server(&default_url(args.bind), &args.dir)?
                }
                Err(error) => return Err(CliError::failure(error.to_string())),
            },
            None if secret_env::read(secret_env::TOKEN).is_some() => {
                from_server(&default_url(args.bind), &args.dir)?
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
                CliError::failure(format!("cannot restrict {}: {error}", dir.display()))
            })
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            private_files::create_dir_all(dir).map_err(|error| {
                CliError::failure(format!("cannot create {}: {error}", dir.display()))
            })
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotADirectory => Err(CliError::usage(
            format!("{what} {} is not a directory", dir.display()),
        )),
        Err(error) => Err(CliError::failure(format!(
            "cannot read {}: {error}",
            dir.display()
        ))),
    }
}

fn open_for_backup(
    data_dir: &Path,
    master: &cairn_core::crypto::MasterKey,
) -> Result<EventLog, OpenError> {
    let config = LogConfig {
        dir: data_dir.to_path_buf(),
        create: false,
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
    let summary = write_backup(log.reader().store(), log.reader().dir(), head, &mut out)
        .map_err(|error| CliError::failure(error.to_string()))?;
    finish_file(out, &path)?;
    log.close()
        .map_err(|error| CliError::failure(format!("closing the log: {error}")))?;
    Ok(summary)
}

/// A running server: the stream from `GET /api/v1/admin/backup`, written
/// to disk, then read back and checked (framing, gapless events, digest).
fn from_server(url: &str, dir: &Path) -> Result<BackupSummary, CliError> {
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
        .map_err(|error| CliError::failure(format!("cannot start an HTTP client: {error}")))?;
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
        .map_err(|error| CliError::failure(format!("the backup stream was cut: {error}")))?;
    finish_file(out, &path)?;
    let mut input = BufReader::with_capacity(256 * 1024, open_file(&path)?);
    read_backup(&mut input, &mut |_, _, _| Ok(()))
        .map_err(|error| CliError::failure(format!("the server's backup: {error}")))
}

fn create_file(path: &Path) -> Result<File, CliError> {
    private_files::create_new_file(path)
        .map_err(|error| CliError::failure(format!("cannot create {}: {error}", path.display())))
}

fn open_file(path: &Path) -> Result<File, CliError> {
    File::open(path)
        .map_err(|error| CliError::failure(format!("cannot open {}: {error}", path.display())))
}

fn finish_file(out: BufWriter<File>, path: &Path) -> Result<(), CliError> {
    out.into_inner()
        .map_err(|error| error.into_error())
        .and_then(|file| file.sync_all())
        .map_err(|error| CliError::failure(format!("writing {}: {error}", path.display())))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let mut file = create_file(path)?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|error| CliError::failure(format!("writing {}: {error}", path.display())))
}

fn sync_dir(dir: &Path) -> Result<(), CliError> {
    File::open(dir)
        .and_then(|handle| handle.sync_all())
        .map_err(|error| CliError::failure(format!("syncing {}: {error}", dir.display())))
}

fn manifest(summary: &BackupSummary) -> serde_json::Value {
    json!({
        "format": MANIFEST_FORMAT,
        "cairn_version": env!("CARGO_PKG_VERSION"),
        "store_format": summary.store_format,
        "head": {"seq": summary.head_seq, "hash": hex::encode(summary.head_hash)},
        "file": BACKUP_FILE,
        "bytes": summary.bytes,
        "sha256": hex::encode(summary.digest),
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
    })?;
    let manifest: serde_json::Value = serde_json::from_str(&text).map_err(|error| {
        CliError::failure(format!("{} is not JSON: {error}", manifest_path.display()))
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
    prepare_empty_dir(target, "the data dir")?;
    match restore_into(&args.dir, target, &manifest, &master) {
        Ok(line) => {
            println!("{line}");
            Ok(())
        }
        Err(error) => {
            // Nothing half-restored is left behind to be served by mistake.
            let _ = remove_contents(target);
            Err(error)
        }
    }
}

fn restore_into(
    dir: &Path,
    target: &Path,
    manifest: &serde_json::Value,
    master: &cairn_core::crypto::MasterKey,
) -> Result<serde_json::Value, CliError> {
    let path = dir.join(BACKUP_FILE);
    let mut input = BufReader::with_capacity(256 * 1024, open_file(&path)?);
    let summary = {
        let store =
            SledStore::open(target, true).map_err(|error| CliError::failure(error.to_string()))?;
        restore_backup(&mut input as &mut dyn Read, &store, target)
            .map_err(|error| CliError::failure(format!("{}: {error}", path.display())))?
    };
    let expected = (
        manifest["head"]["seq"].as_u64(),
        manifest["head"]["hash"].as_str(),
        manifest["sha256"].as_str(),
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
    let reader = LogReader::open(target, master).map_err(|error| match error {
        OpenError::WrongMasterKey => CliError::failure(
            "CAIRN_MASTER_KEY is not the key of the server the backup was taken from",
        ),
        other => CliError::failure(other.to_string()),
    })?;
    let public_key = CheckpointSigner::new(master).public_key();
    let report = reader
        .verify(Some(&public_key))
        .map_err(|error| CliError::failure(error.to_string()))?;
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
    Ok(json!({
        "ok": true,
        "data_dir": target.display().to_string(),
        "head": {"seq": report.head.seq, "hash": hex::encode(report.head.hash)},
        "checked": report.checked,
        "checkpoints_verified": report.checkpoints_verified,
    }))
}

fn remove_contents(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}
