//! `cairn events dump|tail`: the log of a stopped server as JSON lines.
//! Personal data is opened under its subject's key or shown as erased;
//! `--raw` adds stored ciphertexts and digests, never plaintext.

use std::io::{BufWriter, Write};

use cairn_audit::record_json::open_personal;
use cairn_audit::{RecordView, render_record};
use cairn_core::log::LogReader;
use clap::{Args, Subcommand};

use super::{CliError, open_reader};
use crate::config::DataDirArgs;
use crate::master_key;

#[derive(Debug, Subcommand)]
pub(super) enum EventsCommand {
    /// Print events as JSON lines, oldest first.
    Dump(DumpArgs),
    /// Print the last events as JSON lines.
    Tail(TailArgs),
}

#[derive(Debug, Args)]
pub(super) struct DumpArgs {
    #[command(flatten)]
    data: DataDirArgs,
    /// The first seq to print.
    #[arg(long, default_value_t = 1)]
    from: u64,
    /// At most this many events.
    #[arg(long)]
    limit: Option<u64>,
    /// Add the stored form: payload digest, sealed personal data, encoded payload.
    #[arg(long)]
    raw: bool,
}

#[derive(Debug, Args)]
pub(super) struct TailArgs {
    #[command(flatten)]
    data: DataDirArgs,
    /// How many of the last events to print.
    #[arg(short = 'n', long, default_value_t = 20)]
    lines: u64,
    /// Add the stored form.
    #[arg(long)]
    raw: bool,
}

pub(super) fn run(command: EventsCommand) -> Result<(), CliError> {
    match command {
        EventsCommand::Dump(args) => {
            let to = match args.limit {
                Some(0) => return Ok(()),
                Some(limit) => args.from.saturating_add(limit - 1),
                None => u64::MAX,
            };
            print_range(&args.data, args.from, to, args.raw)
        }
        EventsCommand::Tail(args) => {
            let (reader, _) = open(&args.data)?;
            let head = reader.stored_head().map_err(CliError::failed)?.seq;
            drop(reader);
            let from = head.saturating_sub(args.lines).saturating_add(1);
            print_range(&args.data, from, head, args.raw)
        }
    }
}

fn open(data: &DataDirArgs) -> Result<(LogReader, ()), CliError> {
    let Some(master) = master_key::for_offline(&data.data_dir)? else {
        return Err(CliError::failure(format!(
            "no master key: set CAIRN_MASTER_KEY (or keep {} in the data dir)",
            master_key::key_file(&data.data_dir).display()
        )));
    };
    Ok((open_reader(data, &master)?, ()))
}

fn print_range(data: &DataDirArgs, from: u64, to: u64, raw: bool) -> Result<(), CliError> {
    let (reader, _) = open(data)?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for record in reader.records(from, to) {
        let record = record.map_err(CliError::failed)?;
        let personal = open_personal(&reader, &record).map_err(|error| {
            CliError::failure_because(format!("record {}", record.header.seq), error)
        })?;
        let line = render_record(
            &RecordView {
                record: &record,
                personal,
            },
            raw,
        );
        if let Err(error) = writeln!(out, "{line}") {
            return write_error(error);
        }
    }
    out.flush().or_else(write_error)
}

/// A closed pipe (`cairn events dump | head`) is the reader's choice, not a
/// failure.
fn write_error(error: std::io::Error) -> Result<(), CliError> {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(CliError::failure_because("writing to stdout", error))
    }
}
