//! Crash safety: SIGKILL a process with 16 concurrent appenders at random
//! moments (some while it is still recovering), restart it, and check that
//! every acknowledged append is present, seqs are gapless and the chain
//! verifies. The seed is printed; set CAIRN_TEST_SEED to replay a run.

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
