//! Start-up and replay at scale (issue 7): folding a large log into the
//! views, with and without a snapshot, against a baseline measured in the
//! same run on the same log (reading and decoding every record, nothing
//! else).
//!
//! - `read`: the baseline;
//! - `fold (warm)`: every record applied to fresh views, the log in the
//!   page cache (the second of two passes);
//! - `snapshot write` / `snapshot load`: the views at the head to a
//!   snapshot file and back;
//! - `/health`: the real `cairn serve` (release build) on the log, with a
//!   snapshot `EVENTS/20` events behind the head (the periodic snapshot's
//!   worst case at the default `CAIRN_SNAPSHOT_EVERY` for 1M events is
//!   100k), and without any snapshot: time from spawn to the first 200;
//! - `fold (cold process)`: a fresh process folds the whole log with no
//!   snapshot, after the page cache was dropped when the machine allows
//!   it; its time and peak memory (VmHWM) against the logical log size
//!   (the bytes of every stored record).
//!
//! Run: `cargo build --release --bin cairn && cargo bench -p cairn-api
//! --bench fold` (EVENTS=N, default 1,000,000; the log is built once under
//! target/bench-fold-N and reused).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_app::snapshots;
use cairn_core::crypto::MasterKey;
use cairn_core::log::snapshots::Snapshots;
use cairn_core::log::{EventLog, LogConfig, LogReader, NewEvent};
use cairn_core::{OsEntropy, SystemClock};
use cairn_projections::Views;
use cairn_schemas::*;
use uuid::Uuid;

/// The allocator of the `cairn` binary, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: u64 = 1_000;
const KEY: [u8; 32] = [0x5a; 32];

fn id(kind: u128, n: u64) -> Uuid {
    Uuid::from_u128((kind << 96) | u128::from(n) | 0x0190_0000_0000_7000_8000_0000_0000_0000)
}

fn actor(user: u64) -> ActorRef {
    ActorRef {
        kind: ActorKind::User,
        id: Some(id(1, user)),
    }
}

/// Event `index` of a busy instance: of every 20 events, a new user, a
/// group membership, a namespace or flow, two grants, four logins, a run
/// (four events) and seven refused requests, with personal data sealed as
/// the server seals it.
fn event(index: u64) -> NewEvent {
    let org = id(9, 1);
    let round = index / 20;
    let user = round;
    let who = round.saturating_sub(index % 7);
    let personal = PersonalData {
        name: Some(format!("user-{who}")),
        email: None,
        ip: Some(format!("203.0.113.{}", index % 250)),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) cairn-bench".into()),
    };
    let on = |kind: ResourceKind, resource: Uuid| ResourceRef {
        kind,
        id: Some(resource),
    };
    let (action, resource, payload) = match index % 20 {
        0 => (
            Action::UserCreated,
            on(ResourceKind::User, id(1, user)),
            EventPayload::UserCreated(UserCreated {
                user_id: id(1, user),
                org_id: org,
                role: OrgRole::FlowExecutor,
                is_active: true,
                is_superuser: false,
                credential: Sealed {
                    subject: id(1, user),
                    nonce: [3; 24],
                    ciphertext: vec![4; 120],
                },
            }),
        ),
        1 => (
            Action::GroupMemberAdded,
            on(ResourceKind::Group, id(2, round % 1000)),
            EventPayload::GroupMemberAdded(GroupMemberAdded {
                group_id: id(2, round % 1000),
                user_id: id(1, who),
                role: GroupRole::Member,
            }),
        ),
        2 if round < 1000 => (
            Action::GroupCreated,
            on(ResourceKind::Group, id(2, round)),
            EventPayload::GroupCreated(GroupCreated {
                group_id: id(2, round),
                org_id: org,
                name: format!("group-{round}"),
                owner_id: id(1, round),
            }),
        ),
        2 if round.is_multiple_of(10) => (
            Action::NamespaceCreated,
            on(ResourceKind::Namespace, id(3, round)),
            EventPayload::NamespaceCreated(NamespaceCreated {
                namespace_id: id(3, round),
                org_id: org,
                parent_id: None,
                name: format!("ns-{round}"),
                owner_id: Some(id(1, who)),
                system: false,
            }),
        ),
        2 => (
            Action::FlowCreated,
            on(ResourceKind::Flow, id(4, round)),
            EventPayload::FlowCreated(FlowCreated {
                flow_id: id(4, round),
                org_id: org,
                namespace_id: id(3, round - round % 10),
                name: format!("flow-{round}"),
                owner_id: id(1, who),
                definition: r#"{"steps":[{"id":"fetch","type":"http","method":"GET","url":"https://example.test/api","headers":{"Authorization":"Bearer $secret.token"}}]}"#.into(),
            }),
        ),
        3 | 4 => (
            Action::GrantCreated,
            on(ResourceKind::Grant, id(5, index)),
            EventPayload::GrantCreated(GrantCreated {
                grant_id: id(5, index),
                org_id: org,
                resource_kind: ResourceKind::Flow,
                resource_id: id(4, round.saturating_sub(index % 5)),
                grantee_kind: GranteeKind::Group,
                grantee_id: id(2, (round + index) % 1000),
                level: GrantLevel::Use,
                granted_by: id(1, who),
            }),
        ),
        5..=8 => (
            Action::AuthLoginSucceeded,
            on(ResourceKind::User, id(1, who)),
            EventPayload::LoginSucceeded(LoginSucceeded {
                user_id: id(1, who),
                org_id: org,
                session_id: id(6, index),
                expires_at: 1_800_000_000_000_000,
                username_fingerprint: [7; 32],
            }),
        ),
        9 => (
            Action::RunRequested,
            on(ResourceKind::Run, id(7, round)),
            EventPayload::RunRequested(RunRequested {
                run_id: id(7, round),
                flow_id: id(4, round.saturating_sub(1)),
                org_id: org,
                invoker_id: id(1, who),
                schedule_id: None,
            }),
        ),
        10 => (
            Action::RunStarted,
            on(ResourceKind::Run, id(7, round)),
            EventPayload::RunStarted(RunRef { run_id: id(7, round) }),
        ),
        11 => (
            Action::RunStepFinished,
            on(ResourceKind::Run, id(7, round)),
            EventPayload::RunStepFinished(RunStepFinished {
                run_id: id(7, round),
                index: 0,
                step_id: "fetch".into(),
                status: StepStatus::Succeeded,
                output: r#"{"status":200,"body":"ok","headers":{"authorization":"Bearer ***"}}"#.into(),
            }),
        ),
        12 => (
            Action::RunFinished,
            on(ResourceKind::Run, id(7, round)),
            EventPayload::RunFinished(RunFinished {
                run_id: id(7, round),
                status: RunStatus::Succeeded,
                error: None,
            }),
        ),
        _ => (
            Action::HttpRequest,
            ResourceRef::SYSTEM,
            EventPayload::HttpRequest(HttpRequest {
                method: "GET".into(),
                path: format!("/api/v1/flows/{}", id(4, index)),
                status: 404,
                duration_micros: 1_000 + index % 9_000,
            }),
        ),
    };
    NewEvent::new(action, actor(who), resource, Outcome::Success)
        .in_org(org)
        .with_request_id(format!("req-{index:012}"))
        .with_personal(id(1, who), personal)
        .with_payload(payload)
}

fn open_log(dir: &Path) -> EventLog {
    let config = LogConfig {
        dir: dir.to_path_buf(),
        create: true,
        cadence: Default::default(),
    };
    let (log, _) = EventLog::open(
        &config,
        &MasterKey::from_bytes(KEY),
        Arc::new(SystemClock),
        Arc::new(OsEntropy),
    )
    .unwrap_or_else(|error| panic!("opening the log: {error}"));
    log
}

/// Appends events `from..to` of the generator.
fn append(log: &EventLog, from: u64, to: u64) {
    let mut index = from;
    while index < to {
        let count = BATCH.min(to - index);
        let batch: Vec<NewEvent> = (index..index + count).map(event).collect();
        let appended = log.append(batch).expect("append");
        index += count;
        if index % 100_000 < BATCH || index == to {
            log.wait_durable(appended.last().expect("appended").header.seq)
                .expect("durable");
        }
    }
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

fn master() -> MasterKey {
    MasterKey::from_bytes(KEY)
}

fn open_reader(dir: &Path) -> LogReader {
    LogReader::open(dir, &master()).expect("open the log for reading")
}

/// Folds the whole log into fresh views; returns them and the seconds.
fn fold_all(reader: &LogReader, head: u64) -> (Views, f64) {
    let started = Instant::now();
    let mut views = Views::new();
    snapshots::fold(reader, &mut views, 1, head).expect("fold");
    (views, started.elapsed().as_secs_f64())
}

fn logical_bytes(reader: &LogReader, head: u64) -> u64 {
    reader
        .store()
        .read_range(1, head)
        .map(|item| item.expect("read").1.len() as u64)
        .sum()
}

/// The child mode: fold the whole log in a fresh process, print seconds
/// and peak KiB.
fn cold_child(dir: &Path) {
    let reader = open_reader(dir);
    let head = reader.stored_head().expect("head").seq;
    let (views, seconds) = fold_all(&reader, head);
    assert_eq!(views.applied_seq(), head);
    println!("{seconds} {}", peak_kib());
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Seconds from spawning `cairn serve` on `dir` to its first 200 on
/// /health.
fn health_after_start(cairn: &Path, dir: &Path) -> f64 {
    use base64::Engine;
    let port = free_port();
    let key = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(KEY);
    let started = Instant::now();
    let mut child = Command::new(cairn)
        .arg("serve")
        .env_clear()
        .env("CAIRN_DATA_DIR", dir)
        .env("CAIRN_MASTER_KEY", key)
        .env("CAIRN_BIND", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn cairn serve");
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .expect("client");
    let url = format!("http://127.0.0.1:{port}/health");
    let seconds = loop {
        if client
            .get(&url)
            .send()
            .is_ok_and(|response| response.status().as_u16() == 200)
        {
            break started.elapsed().as_secs_f64();
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "cairn serve never became healthy"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    terminate(&mut child);
    seconds
}

fn terminate(child: &mut std::process::Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "cairn serve did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn main() {
    let events: u64 = std::env::var("EVENTS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(1_000_000);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = root.join(format!("target/bench-fold-{events}"));
    if std::env::var_os("FOLD_CHILD").is_some() {
        cold_child(&dir);
        return;
    }
    let cairn = root.join("target/release/cairn");
    assert!(
        cairn.exists(),
        "build the server first: cargo build --release --bin cairn"
    );

    let built = dir.join("built");
    if !built.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        let started = Instant::now();
        let log = open_log(&dir);
        append(&log, 0, events);
        log.close().expect("close");
        drop(log);
        std::fs::write(&built, events.to_string()).expect("marker");
        eprintln!(
            "built a log of {events} events in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    // Runs of the server add a few events; the figures use the head found.
    let snapshots_dir = dir.join(cairn_core::log::snapshots::SNAPSHOT_DIR);
    let _ = std::fs::remove_dir_all(&snapshots_dir);

    let reader = open_reader(&dir);
    let head = reader.stored_head().expect("head").seq;
    let bytes = logical_bytes(&reader, head);
    println!(
        "log: {head} events, {:.1} MiB logical ({:.0} B/event)",
        bytes as f64 / 1_048_576.0,
        bytes as f64 / head as f64
    );

    // Baseline: read and decode every record.
    let started = Instant::now();
    let mut count = 0u64;
    for record in reader.records(1, head) {
        record.expect("decode");
        count += 1;
    }
    let read_rate = count as f64 / started.elapsed().as_secs_f64();
    println!("read (baseline)      {read_rate:>12.0} events/s   1.00x");

    // The fold, warm: the second of two passes.
    let _ = fold_all(&reader, head);
    let (views, seconds) = fold_all(&reader, head);
    let fold_rate = head as f64 / seconds;
    println!(
        "fold (warm)          {fold_rate:>12.0} events/s   {:.2}x   (target 700,000)",
        fold_rate / read_rate
    );

    // The same on one thread: reading, decoding and applying in turn.
    let started = Instant::now();
    let mut single = Views::new();
    for record in reader.records_for_fold(1, head) {
        single
            .apply(&record.expect("decode"), &reader)
            .expect("apply");
    }
    let single_rate = head as f64 / started.elapsed().as_secs_f64();
    assert!(single == views);
    drop(single);
    println!(
        "fold (one thread)    {single_rate:>12.0} events/s   {:.2}x",
        single_rate / read_rate
    );

    // Snapshot write and load.
    let snapshots = Snapshots::new(&dir, &master(), Views::SNAPSHOT_VERSION);
    let hash = reader.read(head).expect("read").expect("head").hash;
    let started = Instant::now();
    let info = snapshots.write(head, &hash, &views).expect("snapshot");
    let write_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let (loaded, _) = snapshots::rebuild(&reader, &snapshots, head).expect("load");
    let load_seconds = started.elapsed().as_secs_f64();
    assert!(loaded == views, "the loaded snapshot differs from the fold");
    println!(
        "snapshot write       {write_seconds:>9.2} s   {:.1} MiB   snapshot load {load_seconds:.2} s",
        info.bytes as f64 / 1_048_576.0
    );
    drop((views, loaded, reader));

    // /health after start: with the snapshot EVENTS/20 events behind the
    // head, then with none.
    {
        let log = open_log(&dir);
        append(&log, events, events + events / 20);
        log.close().expect("close");
    }
    let with_snapshot = health_after_start(&cairn, &dir);
    println!(
        "/health 200 after start, snapshot {} events behind: {with_snapshot:.2} s   (target 2 s)",
        events / 20
    );
    let _ = std::fs::remove_dir_all(&snapshots_dir);
    let without = health_after_start(&cairn, &dir);
    println!("/health 200 after start, no snapshot: {without:.2} s");
    let _ = std::fs::remove_dir_all(&snapshots_dir);

    // A cold process folds the whole log.
    let dropped = std::fs::write("/proc/sys/vm/drop_caches", "3").is_ok();
    let output = Command::new(std::env::current_exe().expect("exe"))
        .env("FOLD_CHILD", "1")
        .env("EVENTS", events.to_string())
        .output()
        .expect("child");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut fields = text.split_whitespace();
    let seconds: f64 = fields.next().and_then(|f| f.parse().ok()).expect("seconds");
    let peak: u64 = fields.next().and_then(|f| f.parse().ok()).expect("peak");
    let reader = open_reader(&dir);
    let head = reader.stored_head().expect("head").seq;
    let bytes = logical_bytes(&reader, head);
    println!(
        "fold (cold process{}) {:>9.0} events/s   {seconds:.1} s   peak {:.0} MiB = {:.2}x the logical log ({:.0} MiB; target <= 2x)",
        if dropped {
            ", page cache dropped"
        } else {
            ", page cache NOT dropped"
        },
        head as f64 / seconds,
        peak as f64 / 1024.0,
        (peak * 1024) as f64 / bytes as f64,
        bytes as f64 / 1_048_576.0
    );
}
