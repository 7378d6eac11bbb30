//! Attacks on the log by someone with the data dir but not the master key:
//! re-chaining a history without its checkpoints, cutting the tail, rolling
//! back the data dir with or without its anchor. Each is refused at open
//! and by verification, naming the seq.

use std::path::Path;
use std::sync::Arc;

use cairn_schemas::{Action, EventPayload, Record};

use super::*;
use crate::clock::ManualClock;
use crate::entropy::SeededEntropy;
use crate::log::testing::request_event;

const START: i64 = 1_780_000_000_000_000;

fn master() -> MasterKey {
    MasterKey::from_bytes([7u8; 32])
}

fn config(dir: &Path, cadence: Cadence) -> LogConfig {
    LogConfig {
        dir: dir.to_path_buf(),
        create: true,
        cadence,
    }
}

fn open_at(dir: &Path, cadence: Cadence, now: i64) -> Result<(EventLog, Recovery), OpenError> {
    EventLog::open(
        &config(dir, cadence),
        &master(),
        Arc::new(ManualClock::new(now)),
        Arc::new(SeededEntropy::new(3)),
    )
}

/// A log of `count` request events with a checkpoint every 10, the clock
/// one second further per event, and a last checkpoint at the end (as a
/// clean shutdown signs).
fn build(dir: &Path, count: u64) -> Head {
    let clock = Arc::new(ManualClock::new(START));
    let (log, _) = EventLog::open(
        &config(dir, Cadence::new(10, 60)),
        &master(),
        clock.clone(),
        Arc::new(SeededEntropy::new(4)),
    )
    .expect("open");
    let signer = CheckpointSigner::new(&master());
    for n in 0..count {
        clock.advance(1_000_000);
        log.append(vec![request_event(n)]).expect("append");
        if n % 10 == 9 {
            log.checkpoint(&signer).expect("checkpoint");
        }
    }
    log.checkpoint(&signer).expect("checkpoint");
    log.wait_durable(log.head().seq).expect("durable");
    log.head()
}

fn records(dir: &Path) -> Vec<Record> {
    let reader = LogReader::open(dir, &master()).expect("reader");
    reader
        .records(1, u64::MAX)
        .collect::<Result<_, _>>()
        .expect("records")
}

/// Rewrites the whole log as `keep` chooses, re-chained from genesis, as
/// someone with the disk but no key can: every hash recomputed, seqs
/// renumbered, the recorded head and the checkpoints tree made to agree.
fn rechain(dir: &Path, keep: impl Fn(&Record) -> bool) -> Head {
    let kept: Vec<Record> = records(dir).into_iter().filter(|r| keep(r)).collect();
    let store = SledStore::open(dir, false).expect("store");
    while let Some((seq, _)) = store.tail().expect("tail") {
        store.remove_tail(seq).expect("remove");
    }
    store.remove_checkpoints_after(0).expect("checkpoints");
    let mut prev = Head::EMPTY;
    let mut batch = Vec::new();
    for mut record in kept {
        record.header.seq = prev.seq + 1;
        record.header.prev_hash = prev.hash;
        record.hash = chain::record_hash(
            &prev.hash,
            &codec::encode_header(&record.header).expect("header"),
        );
        prev = Head {
            seq: record.header.seq,
            hash: record.hash,
        };
        batch.push((prev.seq, codec::encode_record(&record).expect("encode")));
    }
    store.append_batch(&batch).expect("write");
    store.record_head(prev.seq).expect("head");
    store.sync().expect("sync");
    prev
}

/// Removes records from the tail, and the recorded head with them, as a
/// cut `db` file leaves the store.
fn cut_to(dir: &Path, seq: u64) {
    let store = SledStore::open(dir, false).expect("store");
    while let Some((tail, _)) = store.tail().expect("tail") {
        if tail <= seq {
            break;
        }
        store.remove_tail(tail).expect("remove");
    }
    store.remove_checkpoints_after(seq).expect("checkpoints");
    store.record_head(seq).expect("head");
    store.sync().expect("sync");
}

fn verify(dir: &Path, outside: Vec<cairn_schemas::CheckpointSigned>) -> VerifyReport {
    let reader = LogReader::open(dir, &master()).expect("reader");
    reader
        .verify(&VerifyOptions {
            cadence: Cadence::new(10, 60),
            outside,
            ..VerifyOptions::default()
        })
        .expect("verify")
}

fn refused_at_open(dir: &Path) -> (u64, String) {
    match open_at(dir, Cadence::new(10, 60), START + 3_600_000_000) {
        Err(OpenError::BrokenChain { seq, problem }) => (seq, problem),
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("a tampered log opened"),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[test]
fn an_untouched_log_is_anchored_and_opens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let head = build(dir.path(), 95);
    let anchor = Anchorer::new(dir.path(), &master())
        .read()
        .expect("read")
        .expect("an anchor");
    assert_eq!(
        anchor.head.seq,
        head.seq - 1,
        "the last checkpoint signs the head before it"
    );
    assert_eq!(anchor.checkpoint_seq, head.seq);
    let report = verify(dir.path(), Vec::new());
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.anchored_through, head.seq - 1);
    let (_, recovery) =
        open_at(dir.path(), Cadence::new(10, 60), START + 3_600_000_000).expect("opens");
    assert_eq!(recovery.head, head);
}

#[test]
fn a_history_rechained_without_its_checkpoints_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    build(dir.path(), 95);
    // remove one event and every checkpoint, then re-chain
    rechain(dir.path(), |record| {
        record.header.action != Action::CheckpointSigned && record.header.seq != 40
    });
    let report = verify(dir.path(), Vec::new());
    let bad = report.first_bad.expect("refused");
    assert!(bad.problem.contains("anchor"), "{bad}");
    assert_eq!(report.checkpoints_verified, 0);
    let (seq, problem) = refused_at_open(dir.path());
    assert!(
        problem.contains("rewritten") || problem.contains("behind"),
        "{problem}"
    );
    assert!(seq <= 95, "{seq}");
}

#[test]
fn a_rechained_history_without_an_anchor_is_refused_for_its_unanchored_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    build(dir.path(), 95);
    rechain(dir.path(), |record| {
        record.header.action != Action::CheckpointSigned
    });
    std::fs::remove_file(dir.path().join(anchor::ANCHOR_FILE)).expect("remove anchor");
    // even adopting it (no anchor check) fails: nothing signs it
    let reader = LogReader::open(dir.path(), &master()).expect("reader");
    let report = reader
        .verify(&VerifyOptions {
            cadence: Cadence::new(10, 60),
            skip_anchor: true,
            ..VerifyOptions::default()
        })
        .expect("verify");
    let bad = report.first_bad.expect("refused");
    assert_eq!(bad.seq, 1, "{bad}");
    assert!(
        bad.problem.contains("no verified checkpoint covers seq 1"),
        "{bad}"
    );
    drop(reader);
    match open_at(dir.path(), Cadence::new(10, 60), START) {
        Err(OpenError::Unanchored { head }) => assert_eq!(head, 95),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_log_cut_behind_its_anchor_is_refused_naming_both_seqs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let head = build(dir.path(), 95);
    for cut in [0, 1, 50, head.seq - 2] {
        let copy = tempfile::tempdir().expect("tempdir");
        copy_dir(dir.path(), copy.path());
        cut_to(copy.path(), cut);
        let bad = verify(copy.path(), Vec::new()).first_bad.expect("refused");
        assert_eq!(bad.seq, cut + 1, "cut to {cut}: {bad}");
        assert!(
            bad.problem.contains(&format!("seq {}", head.seq - 1)),
            "{bad}"
        );
        let (seq, problem) = refused_at_open(copy.path());
        assert_eq!(seq, cut + 1, "{problem}");
        assert!(problem.contains("behind its anchor"), "{problem}");
    }
}

#[test]
fn a_data_dir_rolled_back_under_a_newer_anchor_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    build(dir.path(), 45);
    let old = tempfile::tempdir().expect("tempdir");
    copy_dir(dir.path(), old.path());
    // the server goes on
    {
        let clock = Arc::new(ManualClock::new(START + 100_000_000));
        let (log, _) = EventLog::open(
            &config(dir.path(), Cadence::new(10, 60)),
            &master(),
            clock,
            Arc::new(SeededEntropy::new(5)),
        )
        .expect("open");
        for n in 0..30 {
            log.append(vec![request_event(n)]).expect("append");
        }
        log.checkpoint(&CheckpointSigner::new(&master()))
            .expect("checkpoint");
        log.wait_durable(log.head().seq).expect("durable");
    }
    // the old data dir is put back, keeping the newer anchor
    let newer_anchor = std::fs::read(dir.path().join(anchor::ANCHOR_FILE)).expect("anchor");
    std::fs::write(old.path().join(anchor::ANCHOR_FILE), newer_anchor).expect("write");
    let (_, problem) = refused_at_open(old.path());
    assert!(problem.contains("behind its anchor"), "{problem}");
    assert!(!verify(old.path(), Vec::new()).ok());
}

#[test]
fn a_data_dir_rolled_back_with_its_anchor_is_caught_only_by_outside_checkpoints() {
    let dir = tempfile::tempdir().expect("tempdir");
    build(dir.path(), 45);
    let old = tempfile::tempdir().expect("tempdir");
    copy_dir(dir.path(), old.path());
    {
        let (log, _) =
            open_at(dir.path(), Cadence::new(10, 60), START + 100_000_000).expect("open");
        for n in 0..30 {
            log.append(vec![request_event(n)]).expect("append");
        }
        log.checkpoint(&CheckpointSigner::new(&master()))
            .expect("checkpoint");
        log.wait_durable(log.head().seq).expect("durable");
    }
    // what a SIEM holds: every checkpoint of the live log
    let outside: Vec<_> = records(dir.path())
        .into_iter()
        .filter_map(
            |record| match record.payload.as_deref().map(codec::decode_payload) {
                Some(Ok(EventPayload::CheckpointSigned(checkpoint))) => Some(checkpoint),
                _ => None,
            },
        )
        .collect();
    // the whole old data dir, anchor included, verifies and opens alone
    assert!(verify(old.path(), Vec::new()).ok());
    // but not against the outside copy
    let bad = verify(old.path(), outside.clone())
        .first_bad
        .expect("caught by the outside copy");
    assert!(bad.problem.contains("kept elsewhere"), "{bad}");
    assert_eq!(bad.seq, records(old.path()).len() as u64 + 1);
    // and the live log agrees with it
    assert!(verify(dir.path(), outside).ok());
}

#[test]
fn an_outside_checkpoint_that_does_not_verify_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    build(dir.path(), 15);
    let mut forged = records(dir.path())
        .into_iter()
        .find_map(
            |record| match record.payload.as_deref().map(codec::decode_payload) {
                Some(Ok(EventPayload::CheckpointSigned(checkpoint))) => Some(checkpoint),
                _ => None,
            },
        )
        .expect("a checkpoint");
    forged.hash[0] ^= 1;
    let bad = verify(dir.path(), vec![forged]).first_bad.expect("refused");
    assert!(bad.problem.contains("does not verify"), "{bad}");
}

#[test]
fn an_edited_anchor_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    build(dir.path(), 15);
    let path = dir.path().join(anchor::ANCHOR_FILE);
    let mut bytes = std::fs::read(&path).expect("anchor");
    bytes[16] ^= 1;
    std::fs::write(&path, bytes).expect("write");
    match open_at(dir.path(), Cadence::new(10, 60), START) {
        Err(OpenError::Anchor(problem)) => {
            assert!(problem.contains("does not verify"), "{problem}")
        }
        other => panic!("{other:?}"),
    }
    assert!(!verify(dir.path(), Vec::new()).ok());
}

#[test]
fn a_crash_with_a_short_unanchored_tail_still_opens() {
    let dir = tempfile::tempdir().expect("tempdir");
    build(dir.path(), 15);
    {
        let (log, _) =
            open_at(dir.path(), Cadence::new(10, 60), START + 100_000_000).expect("open");
        for n in 0..8 {
            log.append(vec![request_event(n)]).expect("append");
        }
        log.wait_durable(log.head().seq).expect("durable");
        // dropped without a checkpoint, as a crash leaves it
    }
    open_at(dir.path(), Cadence::new(10, 60), START + 3_600_000_000).expect("opens");
}
