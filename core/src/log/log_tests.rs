//! Tests of the log as a whole: append, durability, reopen, erasure,
//! recovery and verification against tampering.

use std::sync::Arc;

use cairn_schemas::{EventPayload, HttpRequest, Outcome, PersonalData};
use proptest::prelude::*;
use uuid::Uuid;

use super::*;
use crate::clock::ManualClock;
use crate::entropy::SeededEntropy;
use crate::log::testing::request_event;

fn master() -> MasterKey {
    MasterKey::from_bytes([7u8; 32])
}

fn open(dir: &Path) -> (EventLog, Recovery) {
    EventLog::open(
        &LogConfig {
            dir: dir.to_path_buf(),
            create: true,
            cadence: Default::default(),
        },
        &master(),
        Arc::new(ManualClock::new(1_780_000_000_000_000)),
        Arc::new(SeededEntropy::new(1)),
    )
    .expect("open")
}

/// Opening for writing must fail; the error.
fn open_error(dir: &Path, key: &MasterKey, why: &str) -> OpenError {
    EventLog::open(
        &LogConfig {
            dir: dir.to_path_buf(),
            create: true,
            cadence: Default::default(),
        },
        key,
        Arc::new(ManualClock::new(0)),
        Arc::new(SeededEntropy::new(2)),
    )
    .expect_err(why)
}

fn fill(dir: &Path, count: u64) -> Head {
    let (log, _) = open(dir);
    for n in 0..count {
        let records = log.append(vec![request_event(n)]).expect("append");
        log.wait_durable(records[0].header.seq).expect("durable");
    }
    log.head()
}

#[test]
fn appends_are_gapless_chained_and_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, recovery) = open(dir.path());
    assert_eq!(recovery.head, Head::EMPTY);
    let batch = log
        .append((0..5).map(request_event).collect())
        .expect("append");
    assert_eq!(
        batch.iter().map(|r| r.header.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(batch[0].header.prev_hash, chain::GENESIS_HASH);
    assert_eq!(batch[1].header.prev_hash, batch[0].hash);
    log.wait_durable(5).expect("durable");
    assert_eq!(log.durable_seq(), 5);
    let head = log.head();
    drop(log);

    let (log, recovery) = open(dir.path());
    assert_eq!(recovery.head, head);
    assert_eq!(
        log.reader().read(3).expect("read").expect("present"),
        batch[2]
    );
    let report = log
        .reader()
        .verify(&crate::log::VerifyOptions::default())
        .expect("verify");
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.checked, 5);
}

#[test]
fn empty_batch_and_oversized_events_store_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, _) = open(dir.path());
    assert!(log.append(Vec::new()).expect("empty").is_empty());
    let mut huge = request_event(0);
    huge.payload = Some(EventPayload::HttpRequest(HttpRequest {
        method: "GET".into(),
        path: "x".repeat(codec::MAX_RECORD_BYTES),
        status: 200,
        duration_micros: 0,
    }));
    let error = log
        .append(vec![request_event(1), huge])
        .expect_err("too large");
    assert!(matches!(error, AppendError::Rejected(_)), "{error}");
    let bad_request_id = request_event(2).with_request_id("a\nb");
    assert!(matches!(
        log.append(vec![bad_request_id]),
        Err(AppendError::Rejected(_))
    ));
    assert_eq!(log.head(), Head::EMPTY);
    assert_eq!(
        log.append(vec![request_event(3)]).expect("append")[0]
            .header
            .seq,
        1
    );
}

#[test]
fn concurrent_appenders_share_syncs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, _) = open(dir.path());
    let log = Arc::new(log);
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                let mut seqs = Vec::new();
                for n in 0..50 {
                    let seq = log
                        .append(vec![request_event(t * 1000 + n)])
                        .expect("append")[0]
                        .header
                        .seq;
                    log.wait_durable(seq).expect("durable");
                    seqs.push(seq);
                }
                seqs
            })
        })
        .collect();
    let mut all: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("thread"))
        .collect();
    all.sort_unstable();
    assert_eq!(all, (1..=800).collect::<Vec<_>>());
    assert!(
        log.syncs() < 800,
        "group commit should share syncs, got {} for 800 appends",
        log.syncs()
    );
    assert!(
        log.reader()
            .verify(&crate::log::VerifyOptions::default())
            .expect("verify")
            .ok()
    );
}

#[test]
fn async_waiters_are_woken() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, _) = open(dir.path());
    let log = Arc::new(log);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let tasks: Vec<_> = (0..32)
            .map(|n| {
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    let seq = log.append(vec![request_event(n)]).expect("append")[0]
                        .header
                        .seq;
                    log.durable(seq).await.expect("durable");
                    seq
                })
            })
            .collect();
        for task in tasks {
            let seq = task.await.expect("task");
            assert!(log.durable_seq() >= seq);
        }
    });
}

#[test]
fn erasing_a_subject_makes_only_their_data_unreadable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let alice = Uuid::from_u128(0xA11CE);
    let bob = Uuid::from_u128(0xB0B);
    let alice_data = PersonalData {
        name: Some("alice".into()),
        ip: Some("10.0.0.1".into()),
        ..Default::default()
    };
    let bob_data = PersonalData {
        name: Some("bob".into()),
        email: Some("bob@example.org".into()),
        ..Default::default()
    };
    {
        let (log, _) = open(dir.path());
        let event = request_event(1)
            .with_personal(alice, alice_data.clone())
            .with_personal(bob, bob_data.clone());
        let record = log.append(vec![event]).expect("append").remove(0);
        log.wait_durable(1).expect("durable");
        let encoded = codec::encode_record(&record).expect("encode");
        let needle = b"alice";
        assert!(
            !encoded.windows(needle.len()).any(|w| w == needle),
            "personal data must be sealed"
        );
        assert!(log.erase_subject(alice).expect("erase"));
        assert!(!log.erase_subject(alice).expect("erase again"));
    }
    let (log, _) = open(dir.path());
    let record = log.reader().read(1).expect("read").expect("present");
    let opened: Vec<Personal> = record
        .header
        .personal
        .iter()
        .map(|s| log.reader().open_personal(s).expect("open"))
        .collect();
    assert_eq!(opened, vec![Personal::Erased, Personal::Data(bob_data)]);
    assert!(
        log.reader()
            .verify(&crate::log::VerifyOptions::default())
            .expect("verify")
            .ok()
    );
}

#[test]
fn checkpoints_sign_the_head_and_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, _) = open(dir.path());
    let signer = CheckpointSigner::new(&master());
    assert!(log.checkpoint(&signer).expect("empty").is_none());
    fill_log(&log, 10);
    let record = log
        .checkpoint(&signer)
        .expect("checkpoint")
        .expect("record");
    assert_eq!(record.header.seq, 11);
    log.wait_durable(11).expect("durable");
    let checkpoints = log.reader().checkpoints(0).expect("checkpoints");
    assert_eq!(checkpoints.len(), 1);
    assert_eq!(checkpoints[0].seq, 10);
    let report = log
        .reader()
        .verify(&crate::log::VerifyOptions {
            public_key: Some(signer.public_key()),
            ..Default::default()
        })
        .expect("verify");
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.checkpoints_verified, 1);
    let other = CheckpointSigner::new(&MasterKey::from_bytes([8u8; 32]));
    let report = log
        .reader()
        .verify(&crate::log::VerifyOptions {
            public_key: Some(other.public_key()),
            ..Default::default()
        })
        .expect("verify");
    assert_eq!(report.first_bad.map(|bad| bad.seq), Some(11));
}

/// `GET /api/v1/audit/verify` walks a log that a running server keeps
/// appending to: records and checkpoints that arrive during the walk must
/// not read as a tail gone missing.
#[test]
fn verifying_a_growing_log_finds_nothing_wrong() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, _) = open(dir.path());
    let log = Arc::new(log);
    fill_log(&log, 20);
    let public_key = CheckpointSigner::new(&master()).public_key();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let log = Arc::clone(&log);
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let signer = CheckpointSigner::new(&master());
            for n in 0..100_000 {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                log.append(vec![request_event(n)]).expect("append");
                if n % 5 == 0 {
                    log.checkpoint(&signer).expect("checkpoint");
                }
                log.wait_durable(log.head().seq).expect("durable");
            }
        })
    };
    let mut reports = Vec::new();
    for _ in 0..30 {
        reports.push(
            log.reader()
                .verify(&crate::log::VerifyOptions {
                    public_key: Some(public_key),
                    ..Default::default()
                })
                .expect("verify"),
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().expect("writer");
    for report in &reports {
        assert!(report.ok(), "{report:?}");
    }
    assert!(
        reports.last().map(|report| report.checked) > reports.first().map(|report| report.checked),
        "the log grew while it was verified"
    );
}

fn fill_log(log: &EventLog, count: u64) {
    for n in 0..count {
        log.append(vec![request_event(n)]).expect("append");
    }
    log.wait_durable(log.head().seq).expect("durable");
}

#[test]
fn a_torn_tail_is_removed_with_its_head() {
    let dir = tempfile::tempdir().expect("tempdir");
    let head = fill(dir.path(), 10);
    {
        let store = SledStore::open(dir.path(), false).expect("store");
        let mut torn = codec::encode_record(&testing::sample_record(11)).expect("encode");
        torn.truncate(torn.len() / 2);
        store
            .append_batch(&[(11, torn)])
            .expect("write torn record");
        store.sync().expect("sync");
    }
    let reader_report = {
        let reader = LogReader::open(dir.path(), &master()).expect("reader");
        reader
            .verify(&crate::log::VerifyOptions::default())
            .expect("verify")
    };
    assert_eq!(
        reader_report.first_bad.map(|bad| bad.seq),
        Some(11),
        "verify reports, never repairs"
    );
    let (log, recovery) = open(dir.path());
    assert_eq!(recovery.torn_records_dropped, 1);
    assert_eq!(recovery.head, head);
    assert!(
        log.reader()
            .verify(&crate::log::VerifyOptions::default())
            .expect("verify")
            .ok()
    );
}

#[test]
fn a_broken_chain_refuses_to_open_naming_the_seq() {
    let dir = tempfile::tempdir().expect("tempdir");
    fill(dir.path(), 10);
    {
        let store = SledStore::open(dir.path(), false).expect("store");
        let mut bytes = store.read(6).expect("read").expect("present");
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        store.put_raw(6, &bytes);
    }
    let error = open_error(dir.path(), &master(), "must refuse");
    assert!(
        matches!(error, OpenError::BrokenChain { seq: 6, .. }),
        "{error}"
    );
}

#[test]
fn records_missing_from_the_tail_refuse_to_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    fill(dir.path(), 10);
    {
        let store = SledStore::open(dir.path(), false).expect("store");
        store.remove_raw(10);
    }
    let error = open_error(dir.path(), &master(), "must refuse");
    assert!(
        matches!(error, OpenError::BrokenChain { seq: 10, .. }),
        "{error}"
    );
    let reader = LogReader::open(dir.path(), &master()).expect("reader");
    assert_eq!(
        reader
            .verify(&crate::log::VerifyOptions::default())
            .expect("verify")
            .first_bad
            .map(|bad| bad.seq),
        Some(10)
    );
}

#[test]
fn a_newer_store_format_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    fill(dir.path(), 1);
    {
        let store = SledStore::open(dir.path(), false).expect("store");
        store
            .meta_put(store::meta_key::FORMAT_VERSION, &99u32.to_be_bytes())
            .expect("meta");
        store.sync().expect("sync");
    }
    let error = LogReader::open(dir.path(), &master()).expect_err("newer");
    assert!(
        matches!(error, OpenError::NewerFormat { found: 99, .. }),
        "{error}"
    );
}

/// One way of tampering with a stored chain.
#[derive(Clone, Debug)]
enum Tamper {
    FlipByte { seq: u64, position: usize, bit: u8 },
    Modify { seq: u64, rehash: bool },
    Delete { seq: u64 },
    SwapWithNext { seq: u64 },
    InsertBefore { seq: u64 },
}

fn tamper_strategy(len: u64) -> impl Strategy<Value = Tamper> {
    prop_oneof![
        (1..=len, any::<usize>(), 0u8..8).prop_map(|(seq, position, bit)| Tamper::FlipByte {
            seq,
            position,
            bit
        }),
        (1..=len, any::<bool>()).prop_map(|(seq, rehash)| Tamper::Modify { seq, rehash }),
        (1..=len).prop_map(|seq| Tamper::Delete { seq }),
        (1..len).prop_map(|seq| Tamper::SwapWithNext { seq }),
        (1..=len).prop_map(|seq| Tamper::InsertBefore { seq }),
    ]
}

/// Applies the tamper and returns the seq that verification must name,
/// or `None` when no verifier could notice (a rehashed last record).
fn apply_tamper(store: &SledStore, len: u64, tamper: &Tamper) -> Option<u64> {
    let bytes = |seq| store.read(seq).expect("read").expect("present");
    match *tamper {
        Tamper::FlipByte { seq, position, bit } => {
            let mut stored = bytes(seq);
            let index = position % stored.len();
            stored[index] ^= 1 << bit;
            store.put_raw(seq, &stored);
            Some(seq)
        }
        Tamper::Modify { seq, rehash } => {
            let mut record = codec::decode_record(&bytes(seq)).expect("decode");
            record.header.outcome = Outcome::Denied;
            if rehash {
                record.hash = chain::record_hash(
                    &record.header.prev_hash,
                    &codec::encode_header(&record.header).expect("header"),
                );
                if seq == len {
                    return None;
                }
            }
            store.put_raw(seq, &codec::encode(&record).expect("encode"));
            Some(seq)
        }
        Tamper::Delete { seq } => {
            store.remove_raw(seq);
            Some(seq)
        }
        Tamper::SwapWithNext { seq } => {
            let (a, b) = (bytes(seq), bytes(seq + 1));
            store.put_raw(seq, &b);
            store.put_raw(seq + 1, &a);
            Some(seq)
        }
        Tamper::InsertBefore { seq } => {
            for moved in (seq..=len).rev() {
                store.put_raw(moved + 1, &bytes(moved));
            }
            let mut forged = testing::sample_record(seq);
            forged.header.prev_hash = if seq == 1 {
                chain::GENESIS_HASH
            } else {
                codec::decode_record(&bytes(seq - 1)).expect("decode").hash
            };
            forged.hash = chain::record_hash(
                &forged.header.prev_hash,
                &codec::encode_header(&forged.header).expect("header"),
            );
            store.put_raw(seq, &codec::encode(&forged).expect("encode"));
            // The forged record chains correctly to its predecessor; the
            // record it displaced (now at seq + 1) still claims `seq`, which
            // names the insertion point.
            Some(seq)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Any single tampering of a random chain is reported at the first
    /// affected seq; an untouched chain verifies.
    #[test]
    fn verification_names_the_first_tampered_seq(
        (len, tamper) in (2u64..40).prop_flat_map(|len| (Just(len), tamper_strategy(len)))
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        fill(dir.path(), len);
        {
            let reader = LogReader::open(dir.path(), &master()).expect("reader");
            prop_assert!(reader.verify(&crate::log::VerifyOptions::default()).expect("verify").ok());
        }
        let expected = {
            let store = SledStore::open(dir.path(), false).expect("store");
            let expected = apply_tamper(&store, len, &tamper);
            store.sync().expect("sync");
            expected
        };
        let reader = LogReader::open(dir.path(), &master()).expect("reader");
        let report = reader.verify(&crate::log::VerifyOptions::default()).expect("verify");
        prop_assert_eq!(report.first_bad.as_ref().map(|bad| bad.seq), expected, "{:?} -> {:?}", tamper, report);
    }
}

#[test]
fn a_wrong_master_key_is_refused_at_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    fill(dir.path(), 1);
    let other = MasterKey::from_bytes([9u8; 32]);
    let error = LogReader::open(dir.path(), &other).expect_err("wrong key");
    assert!(matches!(error, OpenError::WrongMasterKey), "{error}");
    let error = open_error(dir.path(), &other, "wrong key");
    assert!(matches!(error, OpenError::WrongMasterKey), "{error}");
    assert!(LogReader::open(dir.path(), &master()).is_ok());
}
