//! `cairn audit verify`: checks the whole log of a stopped server (the
//! chain, signed checkpoints over all but a tail within the checkpoint
//! cadence, the data dir's anchor, and with `--anchors` checkpoints kept
//! elsewhere), or (`--export`) an exported JSONL file offline, with the
//! public key alone. `cairn audit adopt`: anchors a data dir that
//! predates anchors, once, after verifying it. `cairn audit export`: writes the log of a stopped server as
//! `jsonl`, `ocsf` or `cef`, recording an `audit.exported` event first.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand};
use serde_json::json;

use cairn_audit::export_stream::{ExportFormat, write_export};
use cairn_audit::export_verify::{ExportChecks, verify_export};
use cairn_audit::time_format::parse_rfc3339_micros;
use cairn_core::log::{
    Anchor, EventLog, LogConfig, NewEvent, OpenError, StoreError, VerifyOptions,
};
use cairn_core::{OsEntropy, SystemClock};
use cairn_schemas::{Action, ActorRef, AuditExported, EventPayload, Outcome, ResourceRef};

use super::{CliError, open_reader};
use crate::config::{CadenceArgs, DataDirArgs};
use crate::master_key;

#[derive(Debug, Subcommand)]
pub(super) enum AuditCommand {
    /// Verify the hash chain and checkpoint signatures of the whole log, or
    /// with --export an exported JSONL file with only the public key.
    /// Exit 0 when intact, 3 on an integrity violation (naming the seq or
    /// the line).
    Verify(VerifyArgs),
    /// Export the log (server stopped) as jsonl, ocsf or cef.
    Export(ExportArgs),
    /// Anchor a data dir written before anchors existed (once): verifies
    /// the whole log under the master key, then writes its anchor file.
    /// Refused when the data dir already has one.
    Adopt(AdoptArgs),
}

#[derive(Debug, Args)]
pub(super) struct AdoptArgs {
    #[command(flatten)]
    data: DataDirArgs,
    #[command(flatten)]
    cadence: CadenceArgs,
}

#[derive(Debug, Args)]
pub(super) struct VerifyArgs {
    #[command(flatten)]
    data: DataDirArgs,
    /// Print the result as JSON (the same shape as GET /api/v1/audit/verify).
    #[arg(long)]
    json: bool,
    /// Verify this exported JSONL file instead of the data dir.
    #[arg(long, value_name = "FILE", requires = "public_key")]
    export: Option<PathBuf>,
    /// The Ed25519 public key of the checkpoints (hex, or a file holding
    /// the hex or the JSON of GET /api/v1/audit/public-key).
    #[arg(long, value_name = "KEY", requires = "export")]
    public_key: Option<String>,
    /// Accept seqs that jump (an export filtered by org, time or action):
    /// lines are still checked one by one and linked where seqs follow.
    #[arg(long, requires = "export")]
    allow_gaps: bool,
    /// Accept an export whose lines after the last anchored seq are more
    /// than the checkpoint cadence allows (a file cut after its last
    /// checkpoint): only the anchored part is vouched for by the key.
    #[arg(long, requires = "export")]
    allow_unanchored_tail: bool,
    /// Checkpoints kept elsewhere (a JSONL export, or a SIEM's copy of the
    /// `checkpoint.signed` events): the log must hold every seq they sign,
    /// with the same hash. This catches what nothing in the data dir can: a
    /// data dir rolled back together with its anchor.
    #[arg(long, value_name = "FILE", conflicts_with = "export")]
    anchors: Option<PathBuf>,
    #[command(flatten)]
    cadence: CadenceArgs,
}

#[derive(Debug, Args)]
pub(super) struct ExportArgs {
    #[command(flatten)]
    data: DataDirArgs,
    #[command(flatten)]
    cadence: CadenceArgs,
    /// jsonl, ocsf or cef.
    #[arg(long, value_parser = parse_format)]
    format: ExportFormat,
    /// Write to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Only events at or after this time (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    since: Option<i64>,
    /// Only events before this time (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    until: Option<i64>,
}

fn parse_format(text: &str) -> Result<ExportFormat, String> {
    ExportFormat::parse(text).ok_or_else(|| "must be jsonl, ocsf or cef".to_string())
}

fn parse_time(text: &str) -> Result<i64, String> {
    parse_rfc3339_micros(text).ok_or_else(|| "must be an RFC 3339 time".to_string())
}

pub(super) fn run(command: AuditCommand) -> Result<(), CliError> {
    match command {
        AuditCommand::Verify(args) => match &args.export {
            Some(file) => verify_file(
                file,
                args.public_key.as_deref().unwrap_or(""),
                ExportChecks {
                    allow_gaps: args.allow_gaps,
                    cadence: (!args.allow_unanchored_tail).then(|| args.cadence.cadence()),
                },
                args.json,
            ),
            None => verify(args),
        },
        AuditCommand::Export(args) => export(args),
        AuditCommand::Adopt(args) => adopt(args),
    }
}

/// The checkpoints of a JSONL file kept elsewhere (`--anchors`).
pub(super) fn read_outside_checkpoints(
    path: &Path,
) -> Result<Vec<cairn_schemas::CheckpointSigned>, CliError> {
    let input = File::open(path).map_err(|error| {
        CliError::usage_because(format!("--anchors: cannot open {}", path.display()), error)
    })?;
    let checkpoints = cairn_audit::outside_checkpoints::read_checkpoints(BufReader::new(input))
        .map_err(|problem| CliError::usage(format!("--anchors {}: {problem}", path.display())))?;
    if checkpoints.is_empty() {
        return Err(CliError::usage(format!(
            "--anchors: {} holds no checkpoint.signed line",
            path.display()
        )));
    }
    Ok(checkpoints)
}

fn adopt(args: AdoptArgs) -> Result<(), CliError> {
    let Some(master) = master_key::for_offline(&args.data.data_dir)? else {
        return Err(CliError::failure(format!(
            "no master key: set CAIRN_MASTER_KEY (or keep {} in the data dir)",
            master_key::key_file(&args.data.data_dir).display()
        )));
    };
    let reader = open_reader(&args.data, &master)?;
    if let Some(anchor) = reader.anchor().map_err(CliError::violated)? {
        return Err(CliError::usage(format!(
            "{} is already anchored (at seq {}): nothing to adopt",
            args.data.data_dir.display(),
            anchor.head.seq
        )));
    }
    let report = reader
        .verify(&VerifyOptions {
            cadence: args.cadence.cadence(),
            skip_anchor: true,
            ..VerifyOptions::default()
        })
        .map_err(CliError::failed)?;
    if let Some(bad) = &report.first_bad {
        return Err(CliError::integrity(format!(
            "not adopted: integrity violation at seq {}: {}",
            bad.seq, bad.problem
        )));
    }
    let checkpoints = reader.checkpoints(0).map_err(CliError::failed)?;
    let Some(last) = checkpoints.last() else {
        return Err(CliError::integrity(
            "not adopted: integrity violation at seq 1: no signed checkpoint covers any record, so nothing proves this history was written with the master key",
        ));
    };
    let head = cairn_core::log::Head {
        seq: last.seq,
        hash: last.hash,
    };
    reader
        .anchorer()
        .write(&Anchor {
            head,
            checkpoint_seq: last.seq + 1,
            written_at: last.at,
        })
        .map_err(CliError::failed)?;
    println!(
        "{}",
        json!({
            "ok": true,
            "anchored": {"seq": head.seq, "hash": hex::encode(head.hash)},
            "checked": report.checked,
            "checkpoints_verified": report.checkpoints_verified,
        })
    );
    Ok(())
}

/// The public key from hex, or from a file holding hex or the JSON body
/// of `GET /api/v1/audit/public-key`.
fn read_public_key(given: &str) -> Result<[u8; 32], CliError> {
    let text = if Path::new(given).is_file() {
        std::fs::read_to_string(given).map_err(|error| {
            CliError::usage_because(format!("--public-key: cannot read {given}"), error)
        })?
    } else {
        given.to_string()
    };
    let text = text.trim();
    let hex_text = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(body) if body.is_object() => body
            .get("public_key")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| CliError::usage("--public-key: the JSON has no public_key"))?,
        _ => text.to_string(),
    };
    hex::decode(&hex_text)
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| {
            CliError::usage("--public-key: expected 64 hex characters (an Ed25519 public key)")
        })
}

fn verify_file(
    file: &Path,
    public_key: &str,
    checks: ExportChecks,
    as_json: bool,
) -> Result<(), CliError> {
    let public_key = read_public_key(public_key)?;
    let input = File::open(file).map_err(|error| {
        CliError::failure_because(format!("cannot open {}", file.display()), error)
    })?;
    match verify_export(BufReader::new(input), &public_key, checks) {
        Ok(report) => {
            if as_json {
                println!(
                    "{}",
                    json!({
                        "ok": true,
                        "lines": report.lines,
                        "first_seq": report.first_seq,
                        "last_seq": report.last_seq,
                        "checkpoints_verified": report.checkpoints_verified,
                        "anchored_through": report.anchored_through,
                        "unanchored": report.unanchored,
                        "payloads_absent": report.payloads_absent,
                        "personal_erased": report.personal_erased,
                        "gaps": report.gaps,
                    })
                );
            } else {
                println!(
                    "ok: {} lines (seq {} to {}), {} checkpoint signatures verified, anchored through seq {} ({} lines not anchored); {} lines without their payload (withheld or pruned), {} personal items erased",
                    report.lines,
                    report.first_seq.unwrap_or(0),
                    report.last_seq.unwrap_or(0),
                    report.checkpoints_verified,
                    report
                        .anchored_through
                        .map_or("none".to_string(), |seq| seq.to_string()),
                    report.unanchored,
                    report.payloads_absent,
                    report.personal_erased,
                );
            }
            Ok(())
        }
        Err(fault) => {
            if as_json {
                println!(
                    "{}",
                    json!({"ok": false, "line": fault.line, "seq": fault.seq, "problem": fault.problem})
                );
            }
            Err(CliError::integrity(format!("integrity violation: {fault}")))
        }
    }
}

fn export(args: ExportArgs) -> Result<(), CliError> {
    let Some(master) = master_key::for_offline(&args.data.data_dir)? else {
        return Err(CliError::failure(format!(
            "no master key: set CAIRN_MASTER_KEY (or keep {} in the data dir)",
            master_key::key_file(&args.data.data_dir).display()
        )));
    };
    let config = LogConfig {
        dir: args.data.data_dir.clone(),
        create: false,
        cadence: args.cadence.cadence(),
    };
    let (log, _) = EventLog::open(&config, &master, Arc::new(SystemClock), Arc::new(OsEntropy))
        .map_err(|error| match error {
            OpenError::Store(StoreError::InUse(dir)) => CliError::failure(format!(
                "the data dir {} is in use by a running cairn server: stop it first, or use GET /api/v1/audit/export",
                dir.display()
            )),
            other => CliError::failed(other),
        })?;
    let to_seq = log.head().seq;
    let query = [
        args.since
            .map(|at| format!("since={}", cairn_audit::time_format::rfc3339_micros(at))),
        args.until
            .map(|at| format!("until={}", cairn_audit::time_format::rfc3339_micros(at))),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join("&");
    record_export(&log, args.format.as_str(), query, to_seq, "the export")?;
    let keep = |record: &cairn_schemas::Record| {
        args.since.is_none_or(|since| record.header.at >= since)
            && args.until.is_none_or(|until| record.header.at < until)
    };
    let written = match &args.out {
        Some(path) => {
            let file = File::create(path).map_err(|error| {
                CliError::failure_because(format!("cannot create {}", path.display()), error)
            })?;
            let mut out = BufWriter::new(file);
            let written = write_export(log.reader(), 1, to_seq, keep, args.format, &mut out);
            let synced = out
                .into_inner()
                .map_err(|error| error.into_error())
                .and_then(|file| file.sync_all());
            let written = written.map_err(CliError::failed)?;
            synced.map_err(|error| {
                CliError::failure_because(format!("writing {}", path.display()), error)
            })?;
            written
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            let written = write_export(log.reader(), 1, to_seq, keep, args.format, &mut out)
                .map_err(CliError::failed)?;
            out.flush().map_err(CliError::failed)?;
            written
        }
    };
    log.close()
        .map_err(|error| CliError::failure_because("closing the log", error))?;
    eprintln!(
        "exported {written} events (seq 1 to {to_seq}) as {}",
        args.format.as_str()
    );
    Ok(())
}

fn verify(args: VerifyArgs) -> Result<(), CliError> {
    let master = master_key::for_offline(&args.data.data_dir)?;
    let Some(master) = master else {
        return Err(CliError::failure(format!(
            "no master key: set CAIRN_MASTER_KEY (or keep {} in the data dir)",
            master_key::key_file(&args.data.data_dir).display()
        )));
    };
    let outside = match &args.anchors {
        Some(path) => read_outside_checkpoints(path)?,
        None => Vec::new(),
    };
    let reader = open_reader(&args.data, &master)?;
    let report = reader
        .verify(&VerifyOptions {
            cadence: args.cadence.cadence(),
            outside,
            ..VerifyOptions::default()
        })
        .map_err(CliError::failed)?;
    if args.json {
        let line = json!({
            "ok": report.ok(),
            "checked": report.checked,
            "head": {"seq": report.head.seq, "hash": hex::encode(report.head.hash)},
            "first_bad": report.first_bad.as_ref().map(|bad| bad.seq),
            "problem": report.first_bad.as_ref().map(|bad| bad.problem.clone()),
            "checkpoints_verified": report.checkpoints_verified,
            "payloads_pruned": report.payloads_pruned,
            "anchored_through": report.anchored_through,
            "anchor": report.anchor.map(|head| head.seq),
            "outside_checkpoints": report.outside_checkpoints,
        });
        println!("{line}");
    }
    match &report.first_bad {
        None => {
            if !args.json {
                println!(
                    "ok: {} records verified, head seq {} hash {}, {} checkpoint signatures verified, anchored through seq {} (anchor at seq {}), {} outside checkpoints agree, {} payloads pruned by retention",
                    report.checked,
                    report.head.seq,
                    hex::encode(report.head.hash),
                    report.checkpoints_verified,
                    report.anchored_through,
                    report.anchor.map_or(0, |head| head.seq),
                    report.outside_checkpoints,
                    report.payloads_pruned
                );
            }
            Ok(())
        }
        Some(bad) => Err(CliError::integrity(format!(
            "integrity violation at seq {}: {}",
            bad.seq, bad.problem
        ))),
    }
}

/// Records a read of the whole log by the command line (an export or a
/// backup) as `audit.exported`, durable before the read begins.
pub(super) fn record_export(
    log: &EventLog,
    format: &str,
    query: String,
    to_seq: u64,
    what: &str,
) -> Result<(), CliError> {
    let event = NewEvent::new(
        Action::AuditExported,
        ActorRef::SYSTEM,
        ResourceRef::AUDIT_LOG,
        Outcome::Success,
    )
    .with_request_id("cli")
    .with_payload(EventPayload::AuditExported(AuditExported {
        format: format.into(),
        query,
        from_seq: 1,
        to_seq,
    }));
    let recorded = log
        .append(vec![event])
        .map_err(|error| CliError::failure_because(format!("recording {what}"), error))?;
    if let Some(last) = recorded.last() {
        log.wait_durable(last.header.seq)
            .map_err(|error| CliError::failure_because(format!("recording {what}"), error))?;
    }
    Ok(())
}
