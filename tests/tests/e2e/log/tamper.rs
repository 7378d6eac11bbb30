//! Tamper detection through the real binary: on a 1,000-event log (with
//! signed checkpoints), modifying, deleting, reordering or inserting any
//! single record, or flipping any single byte of one, makes `cairn audit
//! verify` exit 3 and name the first affected seq. A torn tail is recovered
//! by `cairn serve` with a warning.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use cairn_core::crypto::{CheckpointSigner, MasterKey};
use cairn_core::log::{EventLog, LogConfig, NewEvent, chain, codec};
use cairn_core::{OsEntropy, SystemClock};
use cairn_schemas::{Action, ActorKind, ActorRef, EventPayload, HttpRequest, Outcome, ResourceRef};
use uuid::Uuid;

use crate::support::{self, Records, Server, copy_data_dir, open_sled, test_master_key};

const EVENTS: u64 = 1000;

fn key() -> String {
    test_master_key(0x5A)
}

/// A stopped server's data dir holding exactly 1,000 records, a signed
/// checkpoint every 100 (built once, copied by each test).
fn pristine() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let master = MasterKey::parse(&key()).expect("key");
        let signer = CheckpointSigner::new(&master);
        let config = LogConfig {
            dir: dir.path().to_path_buf(),
            create: true,
            cadence: Default::default(),
        };
        let (log, _) = EventLog::open(&config, &master, Arc::new(SystemClock), Arc::new(OsEntropy))
            .expect("open");
        while log.head().seq < EVENTS {
            if log.head().seq % 100 == 99 {
                log.checkpoint(&signer).expect("checkpoint");
                continue;
            }
            let n = log.head().seq;
            log.append(vec![
                NewEvent::new(
                    Action::HttpRequest,
                    ActorRef {
                        kind: ActorKind::User,
                        id: Some(Uuid::from_u128(u128::from(n % 7))),
                    },
                    ResourceRef::SYSTEM,
                    Outcome::Success,
                )
                .with_payload(EventPayload::HttpRequest(HttpRequest {
                    method: "GET".into(),
                    path: format!("/items/{n}"),
                    status: 200,
                    duration_micros: n,
                })),
            ])
            .expect("append");
        }
        log.wait_durable(EVENTS).expect("durable");
        drop(log);
        dir
    })
    .path()
}

fn verify(dir: &Path) -> std::process::Output {
    let mut command = support::cairn(dir);
    command
        .args(["audit", "verify"])
        .env("CAIRN_MASTER_KEY", key());
    support::run(command)
}

/// Verification exits 3 and names `seq` as the first bad one.
fn assert_names(dir: &Path, seq: u64, what: &str) {
    let output = verify(dir);
    let line = support::assert_one_error_line(&output, 3);
    assert!(
        line.contains(&format!("integrity violation at seq {seq}:")),
        "{what}: expected seq {seq}, got {line}"
    );
}

fn key_of(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

fn tampered(edit: impl FnOnce(&Records)) -> tempfile::TempDir {
    let copy = copy_data_dir(pristine());
    {
        let events = Records::open(copy.path());
        edit(&events);
    }
    copy
}

fn stored(events: &Records, seq: u64) -> Vec<u8> {
    events
        .get(key_of(seq))
        .expect("get")
        .expect("present")
        .to_vec()
}

#[test]
fn the_untouched_log_verifies() {
    let output = verify(pristine());
    let (stdout, stderr) = support::texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("1000 records verified"), "{stdout}");
    assert!(
        stdout.contains("10 checkpoint signatures verified"),
        "{stdout}"
    );
}

#[test]
fn modified_records_are_named() {
    for seq in [1, 2, 500, 999, EVENTS] {
        for rehash in [false, true] {
            if rehash && seq == EVENTS {
                continue; // a rehashed last record has no successor to betray it
            }
            let dir = tampered(|events| {
                let mut record = codec::decode_record(&stored(events, seq)).expect("decode");
                record.header.outcome = Outcome::Denied;
                if rehash {
                    record.hash = chain::record_hash(
                        &record.header.prev_hash,
                        &codec::encode_header(&record.header).expect("header"),
                    );
                }
                events
                    .insert(key_of(seq), codec::encode(&record).expect("encode"))
                    .expect("insert");
            });
            assert_names(dir.path(), seq, &format!("modify {seq} rehash={rehash}"));
        }
    }
}

#[test]
fn deleted_reordered_and_inserted_records_are_named() {
    for seq in [1, 500, EVENTS] {
        let dir = tampered(|events| {
            events.remove(key_of(seq)).expect("remove");
        });
        assert_names(dir.path(), seq, &format!("delete {seq}"));
    }
    for seq in [1, 500, EVENTS - 1] {
        let dir = tampered(|events| {
            let (a, b) = (stored(events, seq), stored(events, seq + 1));
            events.insert(key_of(seq), b).expect("insert");
            events.insert(key_of(seq + 1), a).expect("insert");
        });
        assert_names(dir.path(), seq, &format!("swap {seq}"));
    }
    for seq in [1, 500, EVENTS] {
        let dir = tampered(|events| {
            for moved in (seq..=EVENTS).rev() {
                events
                    .insert(key_of(moved + 1), stored(events, moved))
                    .expect("insert");
            }
            // A well-formed forgery that chains to its predecessor.
            let mut forged = codec::decode_record(&stored(events, seq + 1)).expect("decode");
            forged.header.outcome = Outcome::Failure;
            forged.header.prev_hash = if seq == 1 {
                chain::GENESIS_HASH
            } else {
                codec::decode_record(&stored(events, seq - 1))
                    .expect("decode")
                    .hash
            };
            forged.hash = chain::record_hash(
                &forged.header.prev_hash,
                &codec::encode_header(&forged.header).expect("h"),
            );
            events
                .insert(key_of(seq), codec::encode(&forged).expect("encode"))
                .expect("insert");
        });
        assert_names(dir.path(), seq, &format!("insert at {seq}"));
    }
}

#[test]
fn every_single_byte_flip_of_a_record_is_named() {
    for seq in [500, EVENTS] {
        let length = stored(&Records::open(copy_data_dir(pristine()).path()), seq).len();
        for position in 0..length {
            let dir = tampered(|events| {
                let mut bytes = stored(events, seq);
                bytes[position] ^= 0xFF;
                events.insert(key_of(seq), bytes).expect("insert");
            });
            assert_names(dir.path(), seq, &format!("flip byte {position} of {seq}"));
        }
    }
}

#[test]
fn a_torn_tail_is_recovered_with_a_warning() {
    let dir = tampered(|events| {
        let mut torn = stored(events, EVENTS);
        // seq 1001: a copy of the last record cut short, as a crash
        // mid-write would leave it.
        torn.truncate(torn.len() / 2);
        events.insert(key_of(EVENTS + 1), torn).expect("insert");
    });
    {
        let db = open_sled(dir.path());
        db.open_tree("meta")
            .expect("meta")
            .insert("head_seq", &key_of(EVENTS + 1))
            .expect("head");
        db.flush().expect("flush");
    }
    // verify reports; it never repairs.
    assert_names(dir.path(), EVENTS + 1, "torn tail");
    // serve repairs, with a warning naming the record.
    let key = key();
    let server = Server::start(dir.path(), &[("CAIRN_MASTER_KEY", key.as_str())]);
    let (status, health) = server.get_json("/health");
    assert_eq!(status, 200);
    assert_eq!(
        health["seq"],
        EVENTS + 1,
        "the torn record is gone and system.started took its seq"
    );
    let warnings: Vec<String> = server
        .stderr_lines()
        .into_iter()
        .filter(|line| line.contains("torn"))
        .collect();
    assert!(
        warnings
            .iter()
            .any(|line| line.contains("WARN") && line.contains("seq=1001")),
        "{warnings:?}"
    );
    assert_eq!(server.stop(), Some(0));
    let output = verify(dir.path());
    assert_eq!(
        output.status.code(),
        Some(0),
        "{:?}",
        support::texts(&output)
    );
}
