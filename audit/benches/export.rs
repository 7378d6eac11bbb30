//! Exporting a large log (issue 6): 1M events written to a file as OCSF,
//! with events/s, MB/s and peak memory, against baselines measured in the
//! same run on the same log:
//! - `read`: reading and decoding every record (no rendering, no output);
//! - `jsonl`: the exported form, written to a file.
//!
//! Memory: the peak resident size is reset before each export
//! (`/proc/self/clear_refs`) and read after it (`VmHWM`); it is measured
//! for a quarter of the log and for all of it: flat memory means the two
//! peaks are about the same.
//!
//! Run: `cargo bench -p cairn-audit --bench export` (EVENTS=N to change the
//! size; the log is built first, in a temp dir under target/).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use cairn_audit::RecordView;
use cairn_audit::export_line::ExportedLine;
use cairn_audit::export_stream::{ExportFormat, write_export};
use cairn_audit::ocsf::OcsfEvent;
use cairn_audit::record_json::open_personal;
use cairn_core::crypto::MasterKey;
use cairn_core::log::{EventLog, LogConfig, NewEvent};
use cairn_core::{OsEntropy, SystemClock};
use cairn_schemas::{
    Action, ActorKind, ActorRef, EventPayload, GrantCreated, GrantLevel, GranteeKind, HttpRequest,
    LoginSucceeded, Outcome, PersonalData, ResourceKind, ResourceRef,
};
use uuid::Uuid;

/// The allocator of the `cairn` binary, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 1_000;

fn event(index: u64, users: &[Uuid], org: Uuid) -> NewEvent {
    let user = users[(index as usize * 7919) % users.len()];
    let actor = ActorRef {
        kind: ActorKind::User,
        id: Some(user),
    };
    let personal = PersonalData {
        name: Some(format!("user-{}", index % 10_000)),
        ip: Some(format!("203.0.113.{}", index % 250)),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) cairn-bench".into()),
        ..PersonalData::default()
    };
    let (action, resource, payload) = match index % 4 {
        0 => (
            Action::AuthLoginSucceeded,
            ResourceRef {
                kind: ResourceKind::User,
                id: Some(user),
            },
            EventPayload::LoginSucceeded(LoginSucceeded {
                user_id: user,
                org_id: org,
                session_id: Uuid::from_u128(index as u128),
                expires_at: 1_800_000_000_000_000,
                username_fingerprint: [7; 32],
            }),
        ),
        1 => {
            let flow = Uuid::from_u128(u128::from(index) << 1);
            (
                Action::GrantCreated,
                ResourceRef {
                    kind: ResourceKind::Flow,
                    id: Some(flow),
                },
                EventPayload::GrantCreated(GrantCreated {
                    grant_id: Uuid::from_u128(u128::from(index) << 2),
                    org_id: org,
                    resource_kind: ResourceKind::Flow,
                    resource_id: flow,
                    grantee_kind: GranteeKind::Group,
                    grantee_id: Uuid::from_u128(u128::from(index) << 3),
                    level: GrantLevel::Use,
                    granted_by: user,
                }),
            )
        }
        _ => (
            Action::HttpRequest,
            ResourceRef::SYSTEM,
            EventPayload::HttpRequest(HttpRequest {
                method: "GET".into(),
                path: format!("/api/v1/flows/{}", Uuid::from_u128(index as u128)),
                status: 403,
                duration_micros: 1_000 + index % 9_000,
            }),
        ),
    };
    let outcome = if action == Action::HttpRequest {
        Outcome::Denied
    } else {
        Outcome::Success
    };
    NewEvent::new(action, actor, resource, outcome)
        .in_org(org)
        .with_request_id(format!("req-{index:012}"))
        .with_personal(user, personal)
        .with_payload(payload)
}

fn build_log(dir: &Path, events: u64) -> EventLog {
    let master = MasterKey::generate(&OsEntropy);
    let config = LogConfig {
        dir: dir.to_path_buf(),
        create: true,
        cadence: Default::default(),
    };
    let (log, _) = EventLog::open(&config, &master, Arc::new(SystemClock), Arc::new(OsEntropy))
        .unwrap_or_else(|error| panic!("opening the log: {error}"));
    let users: Vec<Uuid> = (0..10_000u128).map(|i| Uuid::from_u128(i + 1)).collect();
    let org = Uuid::from_u128(42);
    let started = Instant::now();
    let mut index = 0;
    while index < events {
        let count = BATCH.min((events - index) as usize);
        let batch: Vec<NewEvent> = (0..count as u64)
            .map(|offset| event(index + offset, &users, org))
            .collect();
        let appended = log.append(batch).expect("append");
        index += count as u64;
        if index % 100_000 < BATCH as u64 || index == events {
            log.wait_durable(appended.last().expect("appended").header.seq)
                .expect("durable");
        }
    }
    eprintln!(
        "built a log of {events} events in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    log
}

fn peak_reset() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

struct Measured {
    seconds: f64,
    events: u64,
    bytes: u64,
    peak_kib: u64,
}

fn export(log: &EventLog, to: u64, format: ExportFormat, out: &Path) -> Measured {
    peak_reset();
    let started = Instant::now();
    let file = File::create(out).expect("create");
    let mut writer = BufWriter::new(file);
    let events = write_export(log.reader(), 1, to, |_| true, format, &mut writer).expect("export");
    drop(writer);
    Measured {
        seconds: started.elapsed().as_secs_f64(),
        events,
        bytes: std::fs::metadata(out).map(|meta| meta.len()).unwrap_or(0),
        peak_kib: peak_kib(),
    }
}

fn read_only(log: &EventLog, to: u64) -> Measured {
    peak_reset();
    let started = Instant::now();
    let mut events = 0;
    for record in log.reader().records(1, to) {
        let record = record.expect("read");
        if let Some(payload) = &record.payload {
            std::hint::black_box(cairn_core::log::codec::decode_payload(payload).expect("decode"));
        }
        events += 1;
    }
    Measured {
        seconds: started.elapsed().as_secs_f64(),
        events,
        bytes: 0,
        peak_kib: peak_kib(),
    }
}

/// Where the time of one OCSF event goes, on a sample held in memory:
/// the stages of `write_export` one after the other, single-threaded.
fn stages(log: &EventLog, sample: u64) {
    let reader = log.reader();
    let started = Instant::now();
    let records: Vec<_> = reader
        .records(1, sample)
        .map(|record| record.expect("read"))
        .collect();
    let read = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let views: Vec<RecordView<'_>> = records
        .iter()
        .map(|record| RecordView {
            record,
            personal: open_personal(reader, record).expect("open"),
        })
        .collect();
    let personal = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let lines: Vec<ExportedLine<'_>> = views.iter().map(ExportedLine::of).collect();
    let line = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut out = Vec::with_capacity(64 * 1024);
    let mut bytes = 0;
    for line in &lines {
        serde_json::to_writer(&mut out, &OcsfEvent::of_exported(line)).expect("json");
        bytes += out.len();
        out.clear();
    }
    let ocsf = started.elapsed().as_secs_f64();
    let started = Instant::now();
    drop(lines);
    drop(views);
    let free = started.elapsed().as_secs_f64();
    let per = |seconds: f64| seconds * 1e6 / sample as f64;
    println!(
        "per event (µs): read+decode {:.2}, open personal {:.2}, exported line {:.2}, OCSF rendered and serialized {:.2} ({} B), drop {:.2}",
        per(read),
        per(personal),
        per(line),
        per(ocsf),
        bytes / sample as usize,
        per(free)
    );
}

fn report(name: &str, measured: &Measured, baseline: &Measured) {
    let rate = measured.events as f64 / measured.seconds;
    println!(
        "{name:<18} {:>9} events in {:>6.2} s: {:>9.0} events/s, {:>7.1} MB/s, peak RSS {:>7.1} MiB, {:.2}x the read baseline's rate",
        measured.events,
        measured.seconds,
        rate,
        measured.bytes as f64 / 1e6 / measured.seconds,
        measured.peak_kib as f64 / 1024.0,
        rate / (baseline.events as f64 / baseline.seconds),
    );
}

fn main() {
    let events: u64 = std::env::var("EVENTS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(1_000_000);
    let parent = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target");
    std::fs::create_dir_all(&parent).expect("target dir");
    let dir = tempfile::Builder::new()
        .prefix("cairn-bench-export-")
        .tempdir_in(&parent)
        .expect("tempdir");
    let log = build_log(&dir.path().join("data"), events);
    let out = dir.path().join("export.out");
    let quarter = events / 4;

    stages(&log, quarter.min(100_000));
    let baseline = read_only(&log, events);
    report("read (baseline)", &baseline, &baseline);
    let jsonl = export(&log, events, ExportFormat::Jsonl, &out);
    report("jsonl", &jsonl, &baseline);
    let ocsf_quarter = export(&log, quarter, ExportFormat::Ocsf, &out);
    report("ocsf, 1/4 of log", &ocsf_quarter, &baseline);
    let ocsf = export(&log, events, ExportFormat::Ocsf, &out);
    report("ocsf", &ocsf, &baseline);
    let cef = export(&log, events, ExportFormat::Cef, &out);
    report("cef", &cef, &baseline);
    println!(
        "ocsf peak RSS, whole log / quarter: {:.2} (flat memory: about 1)",
        ocsf.peak_kib as f64 / ocsf_quarter.peak_kib.max(1) as f64
    );
    let target = 200_000.0;
    let rate = ocsf.events as f64 / ocsf.seconds;
    println!(
        "ocsf export: {rate:.0} events/s, {:.2}x the 200,000 events/s target",
        rate / target
    );
}
