//! Writing a range of the log as an export: `jsonl` (the exported form),
//! `ocsf` (OCSF 1.8.0 JSON lines) or `cef` (one CEF record per line).
//!
//! Records are read, rendered and written one at a time through a buffer,
//! so memory stays flat whatever the range; the caller decides where the
//! bytes go (a file, stdout, an HTTP body fed chunk by chunk).

use std::io::Write;

use cairn_core::log::LogReader;
use cairn_schemas::Record;
use serde_json::Value;

use crate::export_line::{ExportedLine, export_line_with_openings};
use crate::ocsf::OcsfEvent;
use crate::record_json::{RecordView, open_personal_for_export};

/// The export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// One exported JSON object per line (`schemas/events.schema.json`),
    /// with the chain material offline verification needs.
    Jsonl,
    /// One OCSF 1.8.0 event per line (`schemas/ocsf-mapping.md`).
    Ocsf,
    /// One CEF record per line.
    Cef,
}

impl ExportFormat {
    /// Every format, in the order the documentation lists them.
    pub const ALL: [ExportFormat; 3] = [ExportFormat::Jsonl, ExportFormat::Ocsf, ExportFormat::Cef];

    /// The format's name as the API and the CLI take it.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Jsonl => "jsonl",
            ExportFormat::Ocsf => "ocsf",
            ExportFormat::Cef => "cef",
        }
    }

    /// The format named `name`, if any.
    pub fn parse(name: &str) -> Option<ExportFormat> {
        ExportFormat::ALL
            .into_iter()
            .find(|format| format.as_str() == name)
    }

    /// The HTTP content type of an export in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Jsonl | ExportFormat::Ocsf => "application/x-ndjson",
            ExportFormat::Cef => "text/plain; charset=utf-8",
        }
    }

    /// The file extension of an export in this format.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Jsonl => "jsonl",
            ExportFormat::Ocsf => "ocsf.jsonl",
            ExportFormat::Cef => "cef",
        }
    }
}

/// Appends one exported line, in `format`, with its newline.
pub fn render_into(format: ExportFormat, line: &Value, out: &mut Vec<u8>) {
    match format {
        ExportFormat::Jsonl => {
            // Writing a `Value` into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, line);
        }
        ExportFormat::Ocsf => {
            let _ = serde_json::to_writer(&mut *out, &crate::ocsf::OcsfEvent::of(line));
        }
        ExportFormat::Cef => out.extend_from_slice(crate::cef::cef_record(line).as_bytes()),
    }
    out.push(b'\n');
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The log could not be read.
    #[error("reading the log: {0}")]
    Read(String),
    /// The output could not be written (a closed connection, a full disk).
    #[error("writing the export: {0}")]
    Write(#[from] std::io::Error),
}

/// Renders one record as its exported line, opening its personal data
/// (the line ships the openings, so it verifies offline).
pub fn line_of(reader: &LogReader, record: &Record) -> Result<Value, ExportError> {
    let (personal, openings) = open_personal_for_export(reader, record)
        .map_err(|error| ExportError::Read(error.to_string()))?;
    Ok(export_line_with_openings(
        &RecordView { record, personal },
        openings,
    ))
}

/// Records rendered per chunk handed to a worker.
const CHUNK_RECORDS: usize = 512;

/// How many threads render: the machine's cores, at most 4.
fn workers() -> usize {
    std::thread::available_parallelism()
        .map(|cores| cores.get())
        .unwrap_or(1)
        .clamp(1, 4)
}

/// Renders a chunk of records, in order, into one buffer: JSON lines and
/// OCSF serialized straight from the typed [`ExportedLine`].
fn render_chunk(
    reader: &LogReader,
    records: &[Record],
    format: ExportFormat,
) -> Result<Vec<u8>, ExportError> {
    let mut out = Vec::with_capacity(records.len() * 1024);
    for record in records {
        let (personal, openings) = open_personal_for_export(reader, record)
            .map_err(|error| ExportError::Read(error.to_string()))?;
        let view = RecordView { record, personal };
        let line = ExportedLine::with_openings(&view, openings);
        match format {
            ExportFormat::Jsonl => {
                let _ = serde_json::to_writer(&mut out, &line);
                out.push(b'\n');
            }
            ExportFormat::Ocsf => {
                let _ = serde_json::to_writer(&mut out, &OcsfEvent::of_exported(&line));
                out.push(b'\n');
            }
            ExportFormat::Cef => {
                let value = serde_json::to_value(&line).unwrap_or(Value::Null);
                render_into(format, &value, &mut out);
            }
        }
    }
    Ok(out)
}

/// Writes the records with seq in `from..=to` that `keep` accepts, in
/// `format`. Returns how many were written.
///
/// A reading thread reads and filters records in chunks; worker threads
/// render the chunks; the calling thread writes them back in seq order.
/// Every queue is bounded, so memory stays flat whatever the range, and a
/// slow output slows the reading down.
pub fn write_export(
    reader: &LogReader,
    from: u64,
    to: u64,
    keep: impl Fn(&Record) -> bool + Sync,
    format: ExportFormat,
    out: &mut impl Write,
) -> Result<u64, ExportError> {
    use std::collections::BTreeMap;
    use std::sync::mpsc::sync_channel;
    use std::sync::{Arc, Mutex};

    let workers = workers();
    let (chunks_tx, chunks_rx) = sync_channel::<(u64, Vec<Record>)>(workers * 2);
    let chunks_rx = Arc::new(Mutex::new(chunks_rx));
    let (rendered_tx, rendered_rx) =
        sync_channel::<(u64, Result<Vec<u8>, ExportError>)>(workers * 2);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let chunks_rx = Arc::clone(&chunks_rx);
            let rendered_tx = rendered_tx.clone();
            scope.spawn(move || {
                loop {
                    let next = match chunks_rx.lock() {
                        Ok(receiver) => receiver.recv(),
                        Err(_) => return,
                    };
                    let Ok((index, records)) = next else { return };
                    let rendered = render_chunk(reader, &records, format);
                    if rendered_tx.send((index, rendered)).is_err() {
                        return;
                    }
                }
            });
        }

        // The reader: chunks of kept records, numbered; a read error is
        // passed on in place of the chunk it interrupted.
        let keep = &keep;
        let read_errors = rendered_tx.clone();
        let reading = scope.spawn(move || -> u64 {
            let mut kept = 0u64;
            let mut index = 0u64;
            let mut chunk = Vec::with_capacity(CHUNK_RECORDS);
            for record in reader.records(from, to) {
                let record = match record {
                    Ok(record) => record,
                    Err(error) => {
                        let _ =
                            read_errors.send((index, Err(ExportError::Read(error.to_string()))));
                        return kept;
                    }
                };
                if !keep(&record) {
                    continue;
                }
                chunk.push(record);
                kept += 1;
                if chunk.len() == CHUNK_RECORDS {
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_RECORDS));
                    if chunks_tx.send((index, full)).is_err() {
                        return kept;
                    }
                    index += 1;
                }
            }
            if !chunk.is_empty() {
                let _ = chunks_tx.send((index, chunk));
            }
            kept
        });
        drop(rendered_tx);

        // Chunks come back in any order and leave in order. Dropping the
        // receiver on an error stops the workers and the reader.
        let mut pending = BTreeMap::new();
        let mut next = 0u64;
        let mut result = Ok(());
        for (index, rendered) in rendered_rx {
            pending.insert(index, rendered);
            while let Some(rendered) = pending.remove(&next) {
                if let Err(error) = rendered.and_then(|bytes| Ok(out.write_all(&bytes)?)) {
                    result = Err(error);
                    break;
                }
                next += 1;
            }
            if result.is_err() {
                break;
            }
        }
        let kept = reading
            .join()
            .map_err(|_| ExportError::Read("the reading thread failed".into()))?;
        result?;
        out.flush()?;
        Ok(kept)
    })
}
