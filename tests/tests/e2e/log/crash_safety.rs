//! Crash safety: SIGKILL a process with 16 concurrent appenders at random
//! moments (some while it is still recovering, all while batch values are
//! being written), restart it, and check that every acknowledged append is
//! present, seqs are gapless and the chain verifies. A second test kills
//! the process while it migrates a data dir of store format 1. The seed is
//! printed; set CAIRN_TEST_SEED to replay a run.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_core::crypto::MasterKey;
use cairn_core::log::LogReader;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::support::{self, line_reader, send_signal, test_master_key};

const CYCLES: usize = 24;
const APPENDERS: &str = "16";

fn seed() -> u64 {
    match std::env::var("CAIRN_TEST_SEED") {
        Ok(text) => text.parse().expect("CAIRN_TEST_SEED must be a number"),
        Err(_) => rand::random(),
    }
}

struct Cycle {
    acked: Vec<(u64, String)>,
    reached_ready: bool,
    recovery_time: Option<Duration>,
}

fn run_cycle(
    dir: &std::path::Path,
    key: &str,
    kill_during_recovery: bool,
    delay: Duration,
) -> Cycle {
    let mut child = Command::new(support::harness_binary())
        .arg(dir)
        .arg(APPENDERS)
        .env("CAIRN_MASTER_KEY", key)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn harness");
    let lines = line_reader(child.stdout.take().expect("stdout"));
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    let mut recovering_at = None;
    let mut ready_at = None;
    let mut acked = Vec::new();
    let mut handle = |(at, line): (Instant, String)| {
        if line == "RECOVERING" {
            recovering_at = Some(at);
        } else if line.starts_with("READY") {
            ready_at = Some(at);
        } else if let Some(rest) = line.strip_prefix("ACK ") {
            let (seq, id) = rest.split_once(' ').expect("ACK seq id");
            acked.push((seq.parse::<u64>().expect("seq"), id.to_string()));
        }
    };
    // Wait for the phase we want to interrupt, then kill after `delay`.
    let wanted = if kill_during_recovery {
        "RECOVERING"
    } else {
        "READY"
    };
    loop {
        let (at, line) = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("harness output");
        let reached = line.starts_with(wanted);
        handle((at, line));
        if reached {
            break;
        }
    }
    std::thread::sleep(delay);
    send_signal(pid, libc::SIGKILL);
    let status = child.wait().expect("wait");
    assert!(!status.success(), "the harness must have been killed");
    while let Ok(item) = lines.recv_timeout(Duration::from_secs(10)) {
        handle(item);
    }
    let recovery_time = match (recovering_at, ready_at) {
        (Some(start), Some(end)) => Some(end - start),
        _ => None,
    };
    Cycle {
        acked,
        reached_ready: ready_at.is_some(),
        recovery_time,
    }
}

#[test]
fn acknowledged_appends_survive_sigkill() {
    let seed = seed();
    println!("crash-safety seed: {seed} (replay with CAIRN_TEST_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let key = test_master_key(rng.r#gen::<u8>());
    let master = Arc::new(MasterKey::parse(&key).expect("key"));

    let mut acked: BTreeMap<u64, String> = BTreeMap::new();
    let mut last_recovery = Duration::from_millis(20);
    let mut killed_in_recovery = 0;
    for cycle in 0..CYCLES {
        let during_recovery = cycle % 4 == 3;
        let delay = if during_recovery {
            last_recovery.mul_f64(rng.gen_range(0.0..0.8))
        } else {
            Duration::from_millis(rng.gen_range(20..400))
        };
        let outcome = run_cycle(&data, &key, during_recovery, delay);
        if during_recovery && !outcome.reached_ready {
            killed_in_recovery += 1;
        }
        if let Some(time) = outcome.recovery_time {
            last_recovery = time;
        }
        for (seq, id) in outcome.acked {
            if let Some(previous) = acked.insert(seq, id.clone()) {
                assert_eq!(
                    previous, id,
                    "seed {seed}: seq {seq} was acknowledged twice with different events"
                );
            }
        }

        // Everything acknowledged so far is there, gapless and chained.
        let reader = LogReader::open(&data, &master).expect("open after kill");
        let report = reader
            .verify(&cairn_core::log::VerifyOptions::default())
            .expect("verify");
        assert!(report.ok(), "seed {seed}, cycle {cycle}: {report:?}");
        if let Some((&highest, _)) = acked.last_key_value() {
            assert!(
                report.head.seq >= highest,
                "seed {seed}: acknowledged seq {highest} lost (head {})",
                report.head.seq
            );
        }
        for (seq, id) in &acked {
            let record = reader
                .read(*seq)
                .expect("read")
                .unwrap_or_else(|| panic!("seed {seed}: acked seq {seq} missing"));
            assert_eq!(
                &record.header.id.to_string(),
                id,
                "seed {seed}: seq {seq} holds another event"
            );
        }
    }
    println!(
        "crash-safety: {CYCLES} kill/restart cycles, {} acknowledged appends checked, {killed_in_recovery} kills during recovery",
        acked.len()
    );
    assert!(
        acked.len() > 1000,
        "seed {seed}: too few appends acknowledged to mean anything ({})",
        acked.len()
    );
    assert!(
        killed_in_recovery >= 1,
        "seed {seed}: no kill landed during recovery"
    );

    // The real binary agrees.
    let output = support::run({
        let mut command = support::cairn(&data);
        command
            .args(["audit", "verify"])
            .env("CAIRN_MASTER_KEY", &key);
        command
    });
    let (stdout, stderr) = support::texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
}

/// Every acknowledged seq holds its event, and the chain verifies.
fn assert_acked_present(
    data: &std::path::Path,
    master: &MasterKey,
    acked: &BTreeMap<u64, String>,
    context: &str,
) {
    let reader = LogReader::open(data, master).expect("open after kill");
    let report = reader
        .verify(&cairn_core::log::VerifyOptions::default())
        .expect("verify");
    assert!(report.ok(), "{context}: {report:?}");
    for (seq, id) in acked {
        let record = reader
            .read(*seq)
            .expect("read")
            .unwrap_or_else(|| panic!("{context}: acked seq {seq} missing"));
        assert_eq!(
            &record.header.id.to_string(),
            id,
            "{context}: seq {seq} holds another event"
        );
    }
}

#[test]
fn a_kill_during_the_migration_from_store_format_1_loses_nothing() {
    let seed = seed();
    println!("migration crash seed: {seed} (replay with CAIRN_TEST_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let made = dir.path().join("made");
    let data = dir.path().join("data");
    let key = test_master_key(rng.r#gen::<u8>());
    let master = MasterKey::parse(&key).expect("key");

    // Given a log with acknowledged appends, in store format 1
    let mut acked: BTreeMap<u64, String> = BTreeMap::new();
    let outcome = run_cycle(&made, &key, false, Duration::from_millis(600));
    acked.extend(outcome.acked);
    assert!(
        acked.len() > 500,
        "too few appends to migrate ({})",
        acked.len()
    );
    let copied = support::run({
        let mut command = Command::new(support::harness_binary());
        command.arg("format-1-copy").arg(&made).arg(&data);
        command
    });
    let (stdout, stderr) = support::texts(&copied);
    assert!(copied.status.success(), "{stdout}{stderr}");
    let format = |data: &std::path::Path| {
        LogReader::open(data, &master)
            .expect("reader")
            .store()
            .meta_get(cairn_core::log::store::meta_key::FORMAT_VERSION)
            .expect("meta")
    };
    assert_eq!(format(&data), Some(1u32.to_be_bytes().to_vec()));
    assert_acked_present(&data, &master, &acked, "the format 1 copy");

    // When the process is killed while it migrates, later each time, until
    // one start completes
    let mut killed_while_migrating = 0;
    let mut delay = Duration::from_millis(rng.gen_range(0..3));
    let mut migrated = false;
    for cycle in 0..200 {
        let outcome = run_cycle(&data, &key, true, delay);
        // What a migration under way leaves: its backup being written, its
        // copy being built, or its swap part-way.
        let mid_migration = [
            "store-format-1.backup.partial",
            "db.compacting",
            "db.compact",
            "db.old",
        ]
        .iter()
        .any(|name| data.join(name).exists())
            || (data
                .join(cairn_core::log::migrate::FORMAT_1_BACKUP)
                .exists()
                && !outcome.reached_ready);
        // Then nothing acknowledged is lost, whichever format it is in now
        assert_acked_present(
            &data,
            &master,
            &acked,
            &format!("seed {seed}, cycle {cycle}, killed after {delay:?}"),
        );
        acked.extend(outcome.acked);
        if outcome.reached_ready {
            migrated = true;
            break;
        }
        if mid_migration {
            killed_while_migrating += 1;
        }
        delay += Duration::from_millis(rng.gen_range(2..12));
    }
    assert!(migrated, "seed {seed}: the migration never completed");
    assert!(
        killed_while_migrating >= 1,
        "seed {seed}: no kill landed during the migration"
    );
    assert_eq!(format(&data), Some(2u32.to_be_bytes().to_vec()));
    assert!(
        data.join(cairn_core::log::migrate::FORMAT_1_BACKUP)
            .exists()
    );
    assert_acked_present(&data, &master, &acked, &format!("seed {seed}, migrated"));
    println!(
        "migration crash: {killed_while_migrating} kills during the migration, {} acknowledged appends checked",
        acked.len()
    );
}
