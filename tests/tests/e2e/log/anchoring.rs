//! The tamper suite of someone holding the data dir or a backup, but never
//! the master key, run against the real binary: each case is named after
//! its attack, and each is refused by `cairn audit verify`, `cairn serve`
//! and `cairn restore`, naming the seq. The one case nothing in the data
//! dir can catch (the whole data dir rolled back with its anchor) is caught
//! by checkpoints kept elsewhere (`--anchors`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use cairn_core::crypto::{CheckpointSigner, MasterKey};
use cairn_core::log::backup::{backup_key, write_backup};
use cairn_core::log::{Cadence, EventLog, LogConfig, NewEvent, chain, codec};
use cairn_core::{OsEntropy, SystemClock};
use cairn_schemas::{
    Action, ActorKind, ActorRef, EventPayload, HttpRequest, Outcome, Record, ResourceRef,
};
use uuid::Uuid;

use crate::support::{self, Records, copy_data_dir, open_sled, test_master_key};

const EVENTS: u64 = 400;

fn key() -> String {
    test_master_key(0x3C)
}

fn master() -> MasterKey {
    MasterKey::parse(&key()).expect("key")
}

fn request(n: u64) -> NewEvent {
    NewEvent::new(
        Action::HttpRequest,
        ActorRef {
            kind: ActorKind::User,
            id: Some(Uuid::from_u128(u128::from(n % 5) + 1)),
        },
        ResourceRef::SYSTEM,
        Outcome::Success,
    )
    .with_payload(EventPayload::HttpRequest(HttpRequest {
        method: "GET".into(),
        path: format!("/things/{n}"),
        status: 200,
        duration_micros: n,
    }))
}

/// Appends `count` events to the log in `dir` with a checkpoint every 50,
/// and a last checkpoint at the end, as a server and its clean shutdown do.
fn grow(dir: &Path, count: u64) {
    let config = LogConfig {
        dir: dir.to_path_buf(),
        create: true,
        cadence: Cadence::DEFAULT,
    };
    let (log, _) = EventLog::open(
        &config,
        &master(),
        Arc::new(SystemClock),
        Arc::new(OsEntropy),
    )
    .expect("open");
    let signer = CheckpointSigner::new(&master());
    for n in 0..count {
        log.append(vec![request(n)]).expect("append");
        if n % 50 == 49 {
            log.checkpoint(&signer).expect("checkpoint");
        }
    }
    log.checkpoint(&signer).expect("checkpoint");
    log.wait_durable(log.head().seq).expect("durable");
}

/// A stopped server's data dir: 400 events, signed checkpoints, anchored.
fn pristine() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        grow(dir.path(), EVENTS);
        dir
    })
    .path()
}

fn head_of(dir: &Path) -> u64 {
    let events = Records::open(dir);
    let last = events.last().expect("last").expect("a record");
    u64::from_be_bytes(last.0.as_ref().try_into().expect("key"))
}

fn records(dir: &Path) -> Vec<Record> {
    let events = Records::open(dir);
    events
        .iter()
        .map(|item| codec::decode_record(&item.expect("item").1).expect("decode"))
        .collect()
}

/// Re-chains the log from genesis keeping what `keep` chooses, as anyone
/// with the disk can: seqs renumbered, every hash recomputed, the recorded
/// head and the checkpoints tree made to agree. Returns the new head.
fn rechain(dir: &Path, keep: impl Fn(&Record) -> bool) -> u64 {
    let kept: Vec<Record> = records(dir).into_iter().filter(|r| keep(r)).collect();
    let events = Records::open(dir);
    events.clear().expect("clear");
    let mut prev = chain::GENESIS_HASH;
    let mut seq = 0;
    for mut record in kept {
        seq += 1;
        record.header.seq = seq;
        record.header.prev_hash = prev;
        record.hash = chain::record_hash(
            &prev,
            &codec::encode_header(&record.header).expect("header"),
        );
        prev = record.hash;
        events
            .insert(
                seq.to_be_bytes(),
                codec::encode_record(&record).expect("encode"),
            )
            .expect("insert");
    }
    drop(events);
    let db = open_sled(dir);
    db.open_tree("checkpoints")
        .expect("checkpoints")
        .clear()
        .expect("clear");
    db.open_tree("meta")
        .expect("meta")
        .insert("head_seq", &seq.to_be_bytes())
        .expect("head");
    db.flush().expect("flush");
    seq
}

fn verify(dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut command = support::cairn(dir);
    command
        .args(["audit", "verify"])
        .args(extra)
        .env("CAIRN_MASTER_KEY", key());
    support::run(command)
}

/// `cairn audit verify` exits 3 naming `seq`; the line.
fn verify_refuses(dir: &Path, extra: &[&str], seq: u64) -> String {
    let line = support::assert_one_error_line(&verify(dir, extra), 3);
    assert!(
        line.contains(&format!("integrity violation at seq {seq}:")),
        "expected seq {seq}: {line}"
    );
    line
}

fn verify_passes(dir: &Path, extra: &[&str]) {
    let output = verify(dir, extra);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{:?}",
        support::texts(&output)
    );
}

/// Runs `cairn serve` on `dir` until it exits (at most a minute): `None`
/// when it was still running, so started.
fn serve_until_exit(dir: &Path) -> Option<std::process::Output> {
    let child = support::cairn(dir)
        .arg("serve")
        .env("CAIRN_BIND", "127.0.0.1:0")
        .env("CAIRN_MASTER_KEY", key())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_exit(child, Duration::from_secs(60))
}

/// `cairn serve` refuses to start (exit 3, within seconds) naming `seq`;
/// the error line.
fn serve_refuses(dir: &Path, seq: u64) -> String {
    let output = serve_until_exit(dir).expect("cairn serve started over a tampered log");
    let line = support::assert_one_error_line(&output, 3);
    assert!(
        line.contains(&format!("at seq {seq}:")),
        "expected seq {seq}: {line}"
    );
    line
}

/// `cairn backup` of a stopped data dir into a new directory.
fn backup(dir: &Path) -> tempfile::TempDir {
    let target = tempfile::tempdir().expect("tempdir");
    let mut command = support::cairn(dir);
    command
        .arg("backup")
        .arg(target.path().join("b"))
        .env("CAIRN_MASTER_KEY", key());
    let output = support::run(command);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{:?}",
        support::texts(&output)
    );
    target
}

fn restore(backup: &Path, target: &Path, extra: &[&str]) -> std::process::Output {
    let mut command = support::cairn(target);
    command
        .arg("restore")
        .arg(backup)
        .args(extra)
        .env("CAIRN_MASTER_KEY", key());
    support::run(command)
}

/// What a SIEM keeps: a JSONL export of the live log (its checkpoint
/// lines are what `--anchors` reads).
fn export(dir: &Path) -> (tempfile::TempDir, PathBuf) {
    let out = tempfile::tempdir().expect("tempdir");
    let file = out.path().join("siem.jsonl");
    let mut command = support::cairn(dir);
    command
        .args(["audit", "export", "--format", "jsonl", "--out"])
        .arg(&file)
        .env("CAIRN_MASTER_KEY", key());
    let output = support::run(command);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{:?}",
        support::texts(&output)
    );
    (out, file)
}

/// The stream an attacker without the key writes: a backup of a store
/// they edited, authenticated under a key of their own.
fn forged_backup(dir: &Path) -> tempfile::TempDir {
    let out = tempfile::tempdir().expect("tempdir");
    let folder = out.path().join("b");
    std::fs::create_dir_all(&folder).expect("mkdir");
    let head = head_of(dir);
    let store = cairn_core::log::SledStore::open(dir, false).expect("store");
    let attacker = backup_key(&MasterKey::from_bytes([0xEE; 32]));
    let mut bytes = Vec::new();
    let summary = write_backup(&store, dir, &attacker, head, &mut bytes).expect("write");
    std::fs::write(folder.join("cairn-backup.bin"), &bytes).expect("write");
    let manifest = serde_json::json!({
        "format": "cairn-backup/2",
        "head": {"seq": summary.head_seq, "hash": hex::encode(summary.head_hash)},
        "file": "cairn-backup.bin",
        "bytes": summary.bytes,
        "mac": hex::encode(summary.digest),
        "entries": summary.entries,
    });
    std::fs::File::create(folder.join("manifest.json"))
        .and_then(|mut file| file.write_all(manifest.to_string().as_bytes()))
        .expect("manifest");
    out
}

fn restore_refuses_a_forged_backup(dir: &Path) {
    let forged = forged_backup(dir);
    let target = tempfile::tempdir().expect("tempdir");
    let line = support::assert_one_error_line(
        &restore(&forged.path().join("b"), &target.path().join("data"), &[]),
        1,
    );
    assert!(line.contains("MAC does not match"), "{line}");
    assert!(
        line.contains(&format!("seqs 1..={}", head_of(dir))),
        "names what it would restore: {line}"
    );
}

#[test]
fn a_history_rechained_without_its_checkpoints_is_refused() {
    // remove one event (as one would a secret.revealed) and every
    // checkpoint, then re-chain
    let dir = copy_data_dir(pristine());
    let anchored = EVENTS + EVENTS / 50; // the last checkpoint signs this seq
    rechain(dir.path(), |record| {
        record.header.action != Action::CheckpointSigned && record.header.seq != 123
    });
    // the re-chained log is shorter than its anchor: named from the first
    // record it lacks, with the anchor's seq
    let line = verify_refuses(dir.path(), &[], EVENTS);
    assert!(line.contains(&format!("seq {anchored}")), "{line}");
    serve_refuses(dir.path(), EVENTS);
    restore_refuses_a_forged_backup(dir.path());
    // without its anchor, nothing signs it: named from seq 1
    std::fs::remove_file(dir.path().join("anchor")).expect("remove anchor");
    let line = verify_refuses(dir.path(), &[], 1);
    assert!(line.contains("no anchor file"), "{line}");
    let mut adopt = support::cairn(dir.path());
    adopt
        .args(["audit", "adopt"])
        .env("CAIRN_MASTER_KEY", key());
    let line = support::assert_one_error_line(&support::run(adopt), 3);
    assert!(
        line.contains("at seq 1:") && line.contains("no signed checkpoint"),
        "{line}"
    );
}

#[test]
fn dropping_only_the_checkpoints_is_refused() {
    let dir = copy_data_dir(pristine());
    let head = rechain(dir.path(), |record| {
        record.header.action != Action::CheckpointSigned
    });
    assert_eq!(head, EVENTS);
    let line = verify_refuses(dir.path(), &[], EVENTS + 1);
    assert!(line.contains("behind its anchor"), "{line}");
    serve_refuses(dir.path(), EVENTS + 1);
    restore_refuses_a_forged_backup(dir.path());
}

#[test]
fn a_tail_cut_at_any_of_20_byte_offsets_is_refused() {
    let length = std::fs::metadata(pristine().join("db")).expect("db").len();
    let mut refused = 0;
    for step in 1..=20u64 {
        let offset = length * step / 21;
        let dir = copy_data_dir(pristine());
        {
            // zero the file from `offset` on, as a cut or a crafted
            // truncation leaves it
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .open(dir.path().join("db"))
                .expect("db");
            std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(offset)).expect("seek");
            file.write_all(&vec![0u8; (length - offset) as usize])
                .expect("zero");
            file.sync_all().expect("sync");
        }
        let verified = verify(dir.path(), &[]);
        let (_, stderr) = support::texts(&verified);
        assert_ne!(
            verified.status.code(),
            Some(0),
            "cut at {offset}: verified ok"
        );
        assert!(!stderr.contains("panick"), "{stderr}");
        // a store that still opens is named by seq; one sled cannot open at
        // all is refused by sled
        if verified.status.code() == Some(3) {
            assert!(stderr.contains("at seq "), "cut at {offset}: {stderr}");
            refused += 1;
        }
        let output = serve_until_exit(dir.path())
            .unwrap_or_else(|| panic!("cut at {offset}: cairn serve started"));
        assert_ne!(output.status.code(), Some(0), "cut at {offset}");
        assert_eq!(
            output.status.code(),
            verified.status.code(),
            "cut at {offset}: serve and verify disagree: {:?}",
            support::texts(&output)
        );
    }
    assert!(
        refused > 0,
        "no cut left a store that opens: the case proves nothing"
    );
}

fn wait_exit(mut child: std::process::Child, limit: Duration) -> Option<std::process::Output> {
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return Some(child.wait_with_output().expect("output"));
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_data_dir_rolled_back_without_its_anchor_is_refused() {
    let dir = copy_data_dir(pristine());
    let old = copy_data_dir(dir.path());
    let old_backup = backup(dir.path());
    grow(dir.path(), 120);
    let live_head = head_of(dir.path());
    // the old data dir put back, under the live anchor
    std::fs::copy(dir.path().join("anchor"), old.path().join("anchor")).expect("anchor");
    let old_head = head_of(old.path());
    let line = verify_refuses(old.path(), &[], old_head + 1);
    assert!(line.contains("behind its anchor"), "{line}");
    assert!(line.contains(&format!("seq {}", live_head - 1)), "{line}");
    serve_refuses(old.path(), old_head + 1);
    // restoring the old backup where the live anchor is kept: a rollback,
    // refused naming both seqs unless meant
    let target = tempfile::tempdir().expect("tempdir");
    let data = target.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::copy(dir.path().join("anchor"), data.join("anchor")).expect("anchor");
    let backup_dir = old_backup.path().join("b");
    let line = support::assert_one_error_line(&restore(&backup_dir, &data, &[]), 3);
    assert!(line.contains("behind the anchor"), "{line}");
    assert!(line.contains(&format!("seq {}", live_head - 1)), "{line}");
    let output = restore(&backup_dir, &data, &["--allow-rollback"]);
    let (stdout, stderr) = support::texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("json");
    assert_eq!(report["rolled_back_from"], live_head - 1);
    verify_passes(&data, &[]);
}

#[test]
fn a_data_dir_rolled_back_with_its_anchor_is_caught_only_by_checkpoints_kept_elsewhere() {
    let dir = copy_data_dir(pristine());
    let old = copy_data_dir(dir.path());
    let old_backup = backup(old.path());
    let old = copy_data_dir(dir.path()); // the data dir before the backup's event
    grow(dir.path(), 120);
    let (_siem, siem) = export(dir.path());
    let siem = siem.to_str().expect("utf-8").to_string();
    // the whole old data dir, anchor and all: nothing in it is wrong
    verify_passes(old.path(), &[]);
    // but the SIEM's checkpoints name what it lacks
    let old_head = head_of(old.path());
    let line = verify_refuses(old.path(), &["--anchors", &siem], old_head + 1);
    assert!(line.contains("kept elsewhere"), "{line}");
    // and the live log agrees with them
    verify_passes(dir.path(), &["--anchors", &siem]);
    // a restore from the old backup, checked against them, is refused too
    let target = tempfile::tempdir().expect("tempdir");
    let data = target.path().join("data");
    let line = support::assert_one_error_line(
        &restore(&old_backup.path().join("b"), &data, &["--anchors", &siem]),
        3,
    );
    assert!(line.contains("kept elsewhere"), "{line}");
}

#[test]
fn a_newer_backup_swapped_for_an_older_one_is_refused() {
    let dir = copy_data_dir(pristine());
    let older = backup(dir.path());
    grow(dir.path(), 80);
    let newer = backup(dir.path());
    let newer_head = manifest_head(&newer.path().join("b"));
    // the data dir is lost but its anchor is kept; the newest backup's
    // folder now holds the older backup
    let swapped = tempfile::tempdir().expect("tempdir");
    copy_tree(&older.path().join("b"), &swapped.path().join("b"));
    let target = tempfile::tempdir().expect("tempdir");
    let data = target.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::copy(dir.path().join("anchor"), data.join("anchor")).expect("anchor");
    let line = support::assert_one_error_line(&restore(&swapped.path().join("b"), &data, &[]), 3);
    assert!(line.contains("behind the anchor"), "{line}");
    // nothing was restored, and the kept anchor is still there
    let left: Vec<_> = std::fs::read_dir(&data)
        .expect("read")
        .map(|entry| entry.expect("entry").file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("anchor")]);
    // the real newest backup restores over the kept anchor
    let output = restore(&newer.path().join("b"), &data, &[]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{:?}",
        support::texts(&output)
    );
    verify_passes(&data, &[]);
    assert!(head_of(&data) == newer_head);
}

fn manifest_head(backup: &Path) -> u64 {
    let text = std::fs::read_to_string(backup.join("manifest.json")).expect("manifest");
    let manifest: serde_json::Value = serde_json::from_str(&text).expect("json");
    manifest["head"]["seq"].as_u64().expect("seq")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
}

#[test]
fn an_edited_or_foreign_anchor_is_refused() {
    let dir = copy_data_dir(pristine());
    let path = dir.path().join("anchor");
    let mut bytes = std::fs::read(&path).expect("anchor");
    bytes[12] ^= 0x01; // inside the anchored seq
    std::fs::write(&path, &bytes).expect("write");
    let output = verify(dir.path(), &[]);
    let line = support::assert_one_error_line(&output, 3);
    assert!(line.contains("does not verify"), "{line}");
    let output = serve_until_exit(dir.path()).expect("refused");
    let line = support::assert_one_error_line(&output, 3);
    assert!(line.contains("does not verify"), "{line}");
}
