//! Tampering with an exported JSONL file (issue 15, item 6), through the
//! real binary: `cairn audit export` writes the file of a stopped data dir
//! and `cairn audit verify --export FILE --public-key KEY` checks it with
//! the key alone.
//! - Every field of a line is checked: an edited name, IP address, user
//!   agent or personal item, and any detail added to a withheld payload
//!   (`role`, `is_superuser` of a `user.created`), fail naming the line and
//!   its seq.
//! - A file whose lines after the last anchored seq are more than the
//!   checkpoint cadence allows fails, naming the first unanchored seq,
//!   unless `--allow-unanchored-tail` is given.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_core::clock::ManualClock;
use cairn_core::crypto::{CheckpointSigner, MasterKey};
use cairn_core::log::{EventLog, LogConfig, NewEvent};
use cairn_core::{Clock, OsEntropy};
use cairn_schemas::{
    Action, ActorKind, ActorRef, EventPayload, HttpRequest, OrgRole, Outcome, PersonalData,
    ResourceKind, ResourceRef, UserCreated,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{self, test_master_key, texts};

const ALICE: Uuid = Uuid::from_u128(0xa11ce);

fn key() -> String {
    test_master_key(0x6E)
}

fn master() -> MasterKey {
    MasterKey::parse(&key()).expect("key")
}

fn public_key() -> String {
    hex::encode(CheckpointSigner::new(&master()).public_key())
}

/// Writes a log of `anchored` events (a user.created with alice's name,
/// then requests from her address and user agent), a signed checkpoint,
/// then `tail` more requests and no checkpoint after them. The clock moves
/// 10 s an event, starting two hours ago.
fn write_log(dir: &Path, anchored: u64, tail: u64) {
    let master = master();
    let signer = CheckpointSigner::new(&master);
    let start = cairn_core::SystemClock.now_micros() - 2 * 3_600_000_000;
    let clock = Arc::new(ManualClock::new(start));
    let config = LogConfig {
        dir: dir.to_path_buf(),
        create: true,
        cadence: Default::default(),
    };
    let (log, _) = EventLog::open(
        &config,
        &master,
        Arc::clone(&clock) as Arc<dyn cairn_core::Clock>,
        Arc::new(OsEntropy),
    )
    .expect("open");
    let credential = log
        .seal_for_subject(ALICE, b"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
        .expect("seal");
    let alice = ActorRef {
        kind: ActorKind::User,
        id: Some(ALICE),
    };
    log.append(vec![
        NewEvent::new(
            Action::UserCreated,
            ActorRef::SYSTEM,
            ResourceRef {
                kind: ResourceKind::User,
                id: Some(ALICE),
            },
            Outcome::Success,
        )
        .with_personal(
            ALICE,
            PersonalData {
                name: Some("alice".into()),
                email: Some("alice@example.com".into()),
                ip: None,
                user_agent: None,
            },
        )
        .with_payload(EventPayload::UserCreated(UserCreated {
            user_id: ALICE,
            org_id: Uuid::from_u128(0x0e6),
            role: OrgRole::FlowExecutor,
            is_active: true,
            is_superuser: false,
            credential,
        })),
    ])
    .expect("append");
    let request = |n: u64| {
        NewEvent::new(
            Action::HttpRequest,
            alice,
            ResourceRef::SYSTEM,
            Outcome::Success,
        )
        .with_personal(
            ALICE,
            PersonalData {
                name: Some("alice".into()),
                email: None,
                ip: Some("203.0.113.7".into()),
                user_agent: Some("curl/8.5.0".into()),
            },
        )
        .with_payload(EventPayload::HttpRequest(HttpRequest {
            method: "GET".into(),
            path: format!("/items/{n}"),
            status: 200,
            duration_micros: n,
        }))
    };
    for n in 1..anchored {
        clock.advance(10_000_000);
        log.append(vec![request(n)]).expect("append");
    }
    clock.advance(10_000_000);
    log.checkpoint(&signer).expect("checkpoint");
    for n in 0..tail {
        clock.advance(10_000_000);
        log.append(vec![request(anchored + n)]).expect("append");
    }
    log.wait_durable(log.head().seq).expect("durable");
}

/// Exports the stopped data dir as jsonl with the command line.
fn export(dir: &Path) -> PathBuf {
    let file = dir.with_extension("jsonl");
    let mut command = support::cairn(dir);
    command
        .env("CAIRN_MASTER_KEY", key())
        .args(["audit", "export", "--format", "jsonl", "--out"])
        .arg(&file);
    let exported = support::run(command);
    assert!(exported.status.success(), "{:?}", texts(&exported));
    file
}

fn verify(file: &Path, extra: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    // No data dir is read: only the file and the key.
    let mut command = support::cairn(&file.with_file_name("no-data-dir"));
    command
        .args(["audit", "verify", "--export"])
        .arg(file)
        .args(["--public-key", &public_key()])
        .args(extra);
    for (name, value) in env {
        command.env(name, value);
    }
    support::run(command)
}

fn lines_of(file: &Path) -> Vec<Value> {
    std::fs::read_to_string(file)
        .expect("read")
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON"))
        .collect()
}

/// Writes `lines` with line `index` changed by `tamper`, and checks that
/// verification refuses it, naming that line and its seq.
fn assert_refused(
    file: &Path,
    lines: &[Value],
    index: usize,
    what: &str,
    tamper: &dyn Fn(&mut Value),
) {
    let mut changed = lines.to_vec();
    tamper(&mut changed[index]);
    assert_ne!(
        changed[index], lines[index],
        "{what}: the tampering changes the line"
    );
    let text: String = changed.iter().map(|line| format!("{line}\n")).collect();
    let tampered = file.with_file_name("tampered.jsonl");
    std::fs::write(&tampered, text).expect("write");
    let refused = verify(&tampered, &[], &[]);
    let (stdout, stderr) = texts(&refused);
    assert_eq!(refused.status.code(), Some(3), "{what}: {stdout}{stderr}");
    let seq = lines[index]["seq"].as_u64().expect("seq");
    assert!(
        stderr.contains(&format!("line {} (seq {seq})", index + 1)),
        "{what}: names line {} and seq {seq}: {stderr}",
        index + 1
    );
}

#[test]
fn an_exported_line_with_an_edited_name_ip_user_agent_or_withheld_detail_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    write_log(&data, 6, 0);
    let file = export(&data);
    let lines = lines_of(&file);
    let verified = verify(&file, &[], &[]);
    assert_eq!(verified.status.code(), Some(0), "{:?}", texts(&verified));

    let created = lines
        .iter()
        .position(|line| line["action"] == "user.created")
        .expect("user.created");
    assert_eq!(
        lines[created]["details"],
        json!({"withheld": true}),
        "a withheld payload shows none of its details"
    );
    assert_eq!(lines[created]["resource"]["name"], "alice");
    let request = lines
        .iter()
        .position(|line| line["action"] == "http.request")
        .expect("a request");
    assert_eq!(lines[request]["actor"]["name"], "alice");
    assert_eq!(lines[request]["origin"]["ip"], "203.0.113.7");
    assert_eq!(lines[request]["origin"]["user_agent"], "curl/8.5.0");

    type Tamper = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(usize, &str, Tamper)> = vec![
        (
            request,
            "actor name",
            Box::new(|line| line["actor"]["name"] = json!("mallory")),
        ),
        (
            request,
            "IP address",
            Box::new(|line| line["origin"]["ip"] = json!("198.51.100.9")),
        ),
        (
            request,
            "user agent",
            Box::new(|line| line["origin"]["user_agent"] = json!("Mozilla/5.0")),
        ),
        (
            request,
            "IP address removed",
            Box::new(|line| {
                line["origin"].as_object_mut().expect("origin").remove("ip");
            }),
        ),
        (
            request,
            "personal item's email",
            Box::new(|line| line["personal"][0]["email"] = json!("x@example.com")),
        ),
        (
            request,
            "personal item shown erased",
            Box::new(|line| {
                line["personal"][0] = json!({"subject": ALICE.to_string(), "erased": true});
            }),
        ),
        (
            request,
            "opening swapped for another",
            Box::new(|line| {
                line["chain"]["personal"][0] = json!(base64_of(&[7u8; 32]));
            }),
        ),
        (
            created,
            "resource name",
            Box::new(|line| line["resource"]["name"] = json!("root")),
        ),
        (
            created,
            "withheld role",
            Box::new(|line| line["details"]["role"] = json!("admin")),
        ),
        (
            created,
            "withheld is_superuser",
            Box::new(|line| line["details"]["is_superuser"] = json!(true)),
        ),
        (
            created,
            "withheld shown as pruned",
            Box::new(|line| line["details"] = json!({"pruned": true})),
        ),
    ];
    for (index, what, tamper) in &cases {
        assert_refused(&file, &lines, *index, what, tamper.as_ref());
    }
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn an_export_cut_after_its_last_checkpoint_with_a_longer_tail_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    // Seq 1-5, the checkpoint at 6 (signing seq 5), then 30 requests, 10 s
    // apart: 31 records after seq 5 (the export covers the log up to its
    // own `audit.exported`, which it leaves out).
    write_log(&data, 5, 30);
    let file = export(&data);
    let cadence = [
        ("CAIRN_CHECKPOINT_EVERY", "10"),
        ("CAIRN_CHECKPOINT_INTERVAL", "60"),
    ];
    let refused = verify(&file, &[], &cadence);
    let (stdout, stderr) = texts(&refused);
    assert_eq!(refused.status.code(), Some(3), "{stdout}{stderr}");
    assert!(
        stderr.contains("seq 6 on") && stderr.contains("--allow-unanchored-tail"),
        "names the first unanchored seq: {stderr}"
    );
    let allowed = verify(&file, &["--allow-unanchored-tail", "--json"], &cadence);
    let (stdout, stderr) = texts(&allowed);
    assert_eq!(allowed.status.code(), Some(0), "{stdout}{stderr}");
    let report: Value = serde_json::from_str(stdout.trim()).expect("JSON");
    assert_eq!(report["anchored_through"], 5, "{report}");
    assert_eq!(report["unanchored"], 31, "{report}");

    // The same file passes under the default cadence (1,000 events): a
    // tail within the cadence is what a live server always has.
    let within = verify(&file, &[], &[]);
    assert_eq!(within.status.code(), Some(0), "{:?}", texts(&within));
}
