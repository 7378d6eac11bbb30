//! A batch of events in a sink's wire form: octet-counted RFC 5424 syslog
//! messages (the OCSF JSON, or the chosen format, as MSG), JSON lines, or
//! the Splunk HEC envelope.

use cairn_audit::export_stream::{ExportFormat, line_of, render_into};
use cairn_audit::{cef, ocsf, syslog};
use serde_json::{Value, json};

use super::config::{SinkSpec, SinkTarget};
use cairn_app::App;

/// Rendered events, ready to write or POST.
#[derive(Debug)]
pub struct Batch {
    /// The last seq in the batch.
    pub last: u64,
    /// How many events it holds.
    pub events: usize,
    /// The bytes on the wire.
    pub bytes: Vec<u8>,
}

/// This machine's name for syslog's HOSTNAME (`-` when unknown).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "-".into())
}

fn message_text(format: ExportFormat, line: &Value) -> String {
    match format {
        ExportFormat::Ocsf => serde_json::to_string(&ocsf::OcsfEvent::of(line)).unwrap_or_default(),
        ExportFormat::Jsonl => line.to_string(),
        ExportFormat::Cef => cef::cef_record(line),
    }
}

/// Renders the durable events `from..=to` (blocking: it reads the log).
pub fn render_batch(
    app: &App,
    spec: &SinkSpec,
    from: u64,
    to: u64,
    host: &str,
) -> Result<Batch, String> {
    let reader = app.log().reader();
    let mut batch = Batch {
        last: from.saturating_sub(1),
        events: 0,
        bytes: Vec::new(),
    };
    let procid = std::process::id();
    for record in reader.records(from, to) {
        let record = record.map_err(|error| format!("reading the log: {error}"))?;
        let line = line_of(reader, &record).map_err(|error| error.to_string())?;
        match (&spec.target, &spec.hec_token) {
            (SinkTarget::Syslog { .. }, _) => {
                let message =
                    syslog::syslog_message(&line, &message_text(spec.format, &line), host, procid);
                syslog::octet_counted(&message, &mut batch.bytes);
            }
            (SinkTarget::Http { .. }, Some(_)) => {
                let event = match spec.format {
                    ExportFormat::Ocsf => ocsf::ocsf_event(&line),
                    _ => line,
                };
                let envelope = json!({
                    "time": record.header.at as f64 / 1_000_000.0,
                    "host": host,
                    "source": "cairn",
                    "sourcetype": format!("cairn:{}", spec.format.as_str()),
                    "event": event,
                });
                let _ = serde_json::to_writer(&mut batch.bytes, &envelope);
                batch.bytes.push(b'\n');
            }
            (SinkTarget::Http { .. }, None) => render_into(spec.format, &line, &mut batch.bytes),
        }
        batch.last = record.header.seq;
        batch.events += 1;
    }
    Ok(batch)
}
