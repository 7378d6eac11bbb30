//! The benchmark of issue 2, run by hand (not a timed test): durable appends
//! per second and acknowledgement latency of the event log with 1, 16 and 64
//! concurrent appenders, measured in the same run as the raw limits of the
//! same disk, so the ratios between them mean something on any machine.
//!
//! The raw limits use a plain length-prefixed file and records of the log's
//! own encoded size:
//! - `raw fdatasync/record`: one writer, `write` + `fdatasync` per record;
//! - `raw group commit@N`: N writer threads hand records to one committer
//!   thread, which writes everything pending, fdatasyncs once and wakes the
//!   writers that sync covered (the best any group-committing log can do).
//!
//! The log, with one realistic event per append (an HTTP request by one of
//! 1,000 users, name and IP address sealed as personal data):
//! - `log@N`: N threads, each `append` then `wait_durable`, in a loop;
//! - `log@64 async`: the server's shape, 64 tokio tasks on one worker per
//!   CPU, each `append` then `durable().await`;
//! - `log append only@1`: appends nobody waits for, the ceiling that the
//!   critical section alone puts on the log (a diagnostic, no target).
//!
//! Run: `cargo bench -p cairn-core --bench log_append`. Settings (env):
//! `CAIRN_BENCH_SECONDS` (measured seconds per scenario, default 5),
//! `CAIRN_BENCH_WARMUP_SECONDS` (default 1), `CAIRN_BENCH_DIR` (where the
//! data goes, default a temp dir under the workspace's `target`, which sits
//! on the same filesystem as a real data dir; `/tmp` may be tmpfs).
//! `CAIRN_BENCH_ONLY` (a scenario name, e.g. `log@64`) runs one scenario,
//! for profiling. See docs/performance.md for how to read the output.

// A benchmark run by hand: any failure should stop it loudly, so unwrap and
// panic are the right tools here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use cairn_core::crypto::MasterKey;
use cairn_core::log::{EventLog, LogConfig, NewEvent, codec};
use cairn_core::{OsEntropy, SystemClock};
use cairn_schemas::{
    Action, ActorKind, ActorRef, EventPayload, HttpRequest, Outcome, PersonalData, ResourceRef,
};
use uuid::Uuid;

/// Distinct users (data subjects) the events are about; each gets its own
/// sealing key on first use, as in production.
const USERS: usize = 1000;
/// Distinct tenants.
const ORGS: usize = 8;
/// The most samples one writer keeps (64 MiB): a bound on memory far above
/// what a writer completes in a scenario of a minute at the rates seen here.
const MAX_SAMPLES_PER_WRITER: usize = 4_000_000;

struct Settings {
    warmup: Duration,
    measure: Duration,
    only: Option<String>,
}

fn seconds_from_env(name: &str, default: f64) -> Duration {
    let value = match std::env::var(name) {
        Ok(text) => text
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("{name}={text} is not a number of seconds")),
        Err(_) => default,
    };
    Duration::from_secs_f64(value)
}

impl Settings {
    fn from_env() -> Settings {
        Settings {
            warmup: seconds_from_env("CAIRN_BENCH_WARMUP_SECONDS", 1.0),
            measure: seconds_from_env("CAIRN_BENCH_SECONDS", 5.0),
            only: std::env::var("CAIRN_BENCH_ONLY").ok(),
        }
    }

    fn runs(&self, name: &str) -> bool {
        self.only.as_deref().is_none_or(|only| only == name)
    }
}

/// What one scenario measured, over the measurement window only.
struct Measurement {
    name: String,
    events: u64,
    seconds: f64,
    /// Acknowledgement latencies in microseconds, sorted.
    latencies: Vec<u64>,
    syncs: u64,
    cpu_seconds: f64,
    /// CPU time used by everything else on the machine (other processes,
    /// and the kernel on their behalf): a scenario with much of it is noise.
    other_cpu_seconds: f64,
    /// Bytes the process handed to `write`/`pwrite`.
    bytes_written: u64,
    /// The longest time, in microseconds, in which no append was
    /// acknowledged: a stall of the whole log rather than one slow writer.
    longest_stall_micros: u64,
}

impl Measurement {
    fn per_second(&self) -> f64 {
        self.events as f64 / self.seconds
    }

    /// Nearest-rank percentile, in milliseconds.
    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let rank = ((p * self.latencies.len() as f64).ceil() as usize).max(1);
        self.latencies[rank.min(self.latencies.len()) - 1] as f64 / 1000.0
    }

    fn print(&self) {
        println!(
            "{:<22} {:>10.0} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>8.0} {:>8.1} {:>6.2} {:>8.0} {:>6.2}",
            self.name,
            self.per_second(),
            self.percentile_ms(0.50),
            self.percentile_ms(0.99),
            self.percentile_ms(1.0),
            self.longest_stall_micros as f64 / 1000.0,
            self.syncs as f64 / self.seconds,
            self.events as f64 / self.syncs.max(1) as f64,
            self.cpu_seconds / self.seconds,
            self.bytes_written as f64 / self.events.max(1) as f64,
            self.other_cpu_seconds / self.seconds,
        );
    }
}

/// Bytes the process has handed to write syscalls (`wchar` in /proc).
fn bytes_written() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("wchar:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0)
}

/// CPU time used by the whole machine, from /proc/stat (USER_HZ is 100).
fn machine_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|line| line.starts_with("cpu ")) else {
        return f64::NAN;
    };
    // user nice system idle iowait irq softirq steal: all but idle and iowait.
    let ticks: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|field| field.parse().unwrap_or(0.0))
        .collect();
    let busy: f64 = ticks
        .iter()
        .enumerate()
        .filter(|(index, _)| *index != 3 && *index != 4)
        .map(|(_, value)| value)
        .sum();
    busy / 100.0
}

/// The process's user + system CPU time, from /proc (USER_HZ is 100).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // Fields after the command name (which may contain spaces) start at
    // field 3; utime and stime are fields 14 and 15.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| fields.get(index).and_then(|f| f.parse::<f64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => (user + system) / 100.0,
        _ => f64::NAN,
    }
}

/// The process-wide counters a scenario reads at both ends of its window.
struct Snapshot {
    at_micros: u64,
    syncs: u64,
    cpu_seconds: f64,
    machine_cpu_seconds: f64,
    bytes_written: u64,
}

impl Snapshot {
    fn take(base: Instant, syncs: &(dyn Fn() -> u64 + Sync)) -> Snapshot {
        Snapshot {
            at_micros: base.elapsed().as_micros() as u64,
            syncs: syncs(),
            cpu_seconds: cpu_seconds(),
            machine_cpu_seconds: machine_cpu_seconds(),
            bytes_written: bytes_written(),
        }
    }
}

/// What one writer saw: (completed at, latency), both in microseconds from
/// the scenario's start.
type Samples = Vec<(u64, u64)>;

/// Keeps the samples completed inside the window and summarises them.
fn summarise(name: &str, before: &Snapshot, after: &Snapshot, samples: &[Samples]) -> Measurement {
    let mut in_window: Vec<(u64, u64)> = samples
        .iter()
        .flatten()
        .filter(|(done, _)| *done >= before.at_micros && *done < after.at_micros)
        .copied()
        .collect();
    in_window.sort_unstable();
    let longest_stall_micros = in_window
        .windows(2)
        .map(|pair| pair[1].0 - pair[0].0)
        .max()
        .unwrap_or(0);
    let mut latencies: Vec<u64> = in_window.iter().map(|(_, latency)| *latency).collect();
    latencies.sort_unstable();
    Measurement {
        name: name.to_string(),
        events: latencies.len() as u64,
        seconds: (after.at_micros - before.at_micros) as f64 / 1e6,
        latencies,
        syncs: after.syncs - before.syncs,
        cpu_seconds: after.cpu_seconds - before.cpu_seconds,
        other_cpu_seconds: ((after.machine_cpu_seconds - before.machine_cpu_seconds)
            - (after.cpu_seconds - before.cpu_seconds))
            .max(0.0),
        bytes_written: after.bytes_written - before.bytes_written,
        longest_stall_micros,
    }
}

/// Runs `op` in a loop on `writers` threads: warm-up, then a measured
/// window, then stop. `op(writer, iteration)` returns once its record is
/// acknowledged; `syncs` reads the number of fdatasyncs so far.
fn drive(
    name: &str,
    writers: usize,
    settings: &Settings,
    syncs: &(dyn Fn() -> u64 + Sync),
    op: &(dyn Fn(usize, u64) + Sync),
) -> Measurement {
    let base = Instant::now();
    let stop = AtomicBool::new(false);
    let (before, after, samples) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..writers)
            .map(|writer| {
                let stop = &stop;
                scope.spawn(move || {
                    let mut samples: Samples = Vec::with_capacity(1 << 16);
                    let mut iteration = 0u64;
                    while !stop.load(Ordering::Relaxed) && samples.len() < MAX_SAMPLES_PER_WRITER {
                        let started = base.elapsed();
                        op(writer, iteration);
                        let done = base.elapsed();
                        samples
                            .push((done.as_micros() as u64, (done - started).as_micros() as u64));
                        iteration += 1;
                    }
                    samples
                })
            })
            .collect();
        std::thread::sleep(settings.warmup);
        let before = Snapshot::take(base, syncs);
        std::thread::sleep(settings.measure);
        let after = Snapshot::take(base, syncs);
        stop.store(true, Ordering::Relaxed);
        let samples: Vec<Samples> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        (before, after, samples)
    });
    summarise(name, &before, &after, &samples)
}

/// Where the data goes: `CAIRN_BENCH_DIR`, or the workspace's target dir.
fn bench_parent() -> PathBuf {
    let parent = match std::env::var_os("CAIRN_BENCH_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        },
    };
    std::fs::create_dir_all(&parent).unwrap();
    parent.canonicalize().unwrap()
}

/// The filesystem type and device holding `path`, from /proc/self/mountinfo.
fn filesystem_of(path: &Path) -> (String, String) {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut best: (usize, String, String) = (0, "unknown".into(), "unknown".into());
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(dash) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        let (Some(mount), Some(fstype), Some(source)) =
            (fields.get(4), fields.get(dash + 1), fields.get(dash + 2))
        else {
            continue;
        };
        if path.starts_with(mount) && mount.len() >= best.0 {
            best = (mount.len(), (*fstype).to_string(), (*source).to_string());
        }
    }
    (best.1, best.2)
}

fn print_machine(parent: &Path) {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|line| {
            line.strip_prefix("model name")
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let (fstype, device) = filesystem_of(parent);
    println!(
        "machine: {cpus} CPUs ({model}); load average {}",
        load_average()
    );
    println!("data: {} ({fstype} on {device})", parent.display());
    if fstype == "tmpfs" || fstype == "ramfs" {
        println!(
            "WARNING: {fstype} has no disk behind it; the figures mean nothing. Set CAIRN_BENCH_DIR."
        );
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".into())
}

/// The events a busy API server logs: one HTTP request each, by one of
/// `USERS` users of one of `ORGS` tenants, with the user's name and IP
/// address sealed as personal data.
struct Workload {
    users: Vec<Uuid>,
    orgs: Vec<Uuid>,
}

impl Workload {
    fn new() -> Workload {
        Workload {
            users: (0..USERS)
                .map(|_| Uuid::from_u128(rand::random()))
                .collect(),
            orgs: (0..ORGS).map(|_| Uuid::from_u128(rand::random())).collect(),
        }
    }

    fn event(&self, writer: usize, iteration: u64) -> NewEvent {
        let n = (writer as u64)
            .wrapping_mul(7919)
            .wrapping_add(iteration.wrapping_mul(104_729));
        let user_index = (n % USERS as u64) as usize;
        let user = self.users[user_index];
        let org = self.orgs[user_index % ORGS];
        NewEvent::new(
            Action::HttpRequest,
            ActorRef {
                kind: ActorKind::User,
                id: Some(user),
            },
            ResourceRef::SYSTEM,
            Outcome::Success,
        )
        .in_org(org)
        .with_request_id(format!("req-{writer:03}-{iteration:012}"))
        .with_personal(
            user,
            PersonalData {
                name: Some(format!("user-{user_index:04}")),
                ip: Some(format!("203.0.113.{}", user_index % 250)),
                ..Default::default()
            },
        )
        .with_payload(EventPayload::HttpRequest(HttpRequest {
            method: "GET".into(),
            path: format!("/api/v1/orgs/{org}/secrets"),
            status: 200,
            duration_micros: 1_000 + n % 9_000,
        }))
    }
}

fn open_log(dir: &Path) -> EventLog {
    let master = MasterKey::generate(&OsEntropy);
    let config = LogConfig {
        dir: dir.to_path_buf(),
        create: true,
        cadence: Default::default(),
    };
    let (log, _) = EventLog::open(&config, &master, Arc::new(SystemClock), Arc::new(OsEntropy))
        .unwrap_or_else(|error| panic!("opening the log in {}: {error}", dir.display()));
    log
}

/// The mean encoded size of the workload's records, as the log stores them.
fn record_size(parent: &Path, workload: &Workload) -> usize {
    let dir = tempfile::Builder::new()
        .prefix("cairn-bench-size-")
        .tempdir_in(parent)
        .unwrap();
    let log = open_log(dir.path());
    let events: Vec<NewEvent> = (0..64).map(|i| workload.event(i, i as u64)).collect();
    let records = log.append(events).unwrap();
    let total: usize = records
        .iter()
        .map(|r| codec::encode_record(r).unwrap().len())
        .sum();
    total / records.len()
}

/// The sequencer alone: appends that nobody waits for. Its rate is the
/// ceiling the critical section (seal, hash, encode, store) puts on any
/// number of appenders; the log's syncs still run when sled needs them.
fn log_append_only(parent: &Path, workload: &Workload, settings: &Settings) -> Measurement {
    let dir = tempfile::Builder::new()
        .prefix("cairn-bench-log-")
        .tempdir_in(parent)
        .unwrap();
    let log = open_log(dir.path());
    let measurement = drive(
        "log append only@1",
        1,
        settings,
        &|| log.syncs(),
        &|writer, iteration| {
            log.append(vec![workload.event(writer, iteration)]).unwrap();
        },
    );
    log.close().unwrap();
    measurement
}

fn log_scenario(
    parent: &Path,
    workload: &Workload,
    appenders: usize,
    settings: &Settings,
) -> Measurement {
    let dir = tempfile::Builder::new()
        .prefix("cairn-bench-log-")
        .tempdir_in(parent)
        .unwrap();
    let log = open_log(dir.path());
    let measurement = drive(
        &format!("log@{appenders}"),
        appenders,
        settings,
        &|| log.syncs(),
        &|writer, iteration| {
            let records = log.append(vec![workload.event(writer, iteration)]).unwrap();
            let seq = records.last().unwrap().header.seq;
            log.wait_durable(seq).unwrap();
        },
    );
    log.close().unwrap();
    measurement
}

/// The server's shape: appenders are tasks on a tokio runtime with one
/// worker per CPU, and await durability with [`EventLog::durable`].
fn log_scenario_async(
    parent: &Path,
    workload: &Arc<Workload>,
    appenders: usize,
    settings: &Settings,
) -> Measurement {
    let dir = tempfile::Builder::new()
        .prefix("cairn-bench-log-")
        .tempdir_in(parent)
        .unwrap();
    let log = Arc::new(open_log(dir.path()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let base = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..appenders)
        .map(|writer| {
            let (log, workload, stop) = (Arc::clone(&log), Arc::clone(workload), Arc::clone(&stop));
            runtime.spawn(async move {
                let mut samples: Samples = Vec::with_capacity(1 << 16);
                let mut iteration = 0u64;
                while !stop.load(Ordering::Relaxed) && samples.len() < MAX_SAMPLES_PER_WRITER {
                    let started = base.elapsed();
                    let records = log.append(vec![workload.event(writer, iteration)]).unwrap();
                    log.durable(records.last().unwrap().header.seq)
                        .await
                        .unwrap();
                    let done = base.elapsed();
                    samples.push((done.as_micros() as u64, (done - started).as_micros() as u64));
                    iteration += 1;
                }
                samples
            })
        })
        .collect();
    let syncs = || log.syncs();
    std::thread::sleep(settings.warmup);
    let before = Snapshot::take(base, &syncs);
    std::thread::sleep(settings.measure);
    let after = Snapshot::take(base, &syncs);
    stop.store(true, Ordering::Relaxed);
    let samples: Vec<Samples> = runtime.block_on(async {
        let mut all = Vec::with_capacity(tasks.len());
        for task in tasks {
            all.push(task.await.unwrap());
        }
        all
    });
    log.close().unwrap();
    summarise(&format!("log@{appenders} async"), &before, &after, &samples)
}

/// A length-prefixed record of `size` bytes (the prefix is extra).
fn raw_record(size: usize) -> Vec<u8> {
    let mut record = Vec::with_capacity(size + 4);
    record.extend_from_slice(&u32::try_from(size).unwrap().to_le_bytes());
    record.extend((0..size).map(|i| (i * 31 % 251) as u8));
    record
}

fn raw_fdatasync_per_record(parent: &Path, size: usize, settings: &Settings) -> Measurement {
    let dir = tempfile::Builder::new()
        .prefix("cairn-bench-raw-")
        .tempdir_in(parent)
        .unwrap();
    let file = Mutex::new(File::create(dir.path().join("records")).unwrap());
    let record = raw_record(size);
    let syncs = AtomicU64::new(0);
    drive(
        "raw fdatasync/record",
        1,
        settings,
        &|| syncs.load(Ordering::Relaxed),
        &|_, _| {
            let mut file = file.lock().unwrap();
            file.write_all(&record).unwrap();
            file.sync_data().unwrap();
            syncs.fetch_add(1, Ordering::Relaxed);
        },
    )
}

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    /// Tickets handed out (one per record) and tickets made durable.
    appended: u64,
    durable: u64,
    closing: bool,
}

/// A minimal group commit: the best a log can do on this disk.
#[derive(Default)]
struct GroupCommitter {
    pending: Mutex<Pending>,
    committer_wake: Condvar,
    durable_changed: Condvar,
    syncs: AtomicU64,
}

impl GroupCommitter {
    fn submit(&self, record: &[u8]) {
        let mut pending = self.pending.lock().unwrap();
        pending.bytes.extend_from_slice(record);
        pending.appended += 1;
        let ticket = pending.appended;
        self.committer_wake.notify_one();
        while pending.durable < ticket {
            pending = self.durable_changed.wait(pending).unwrap();
        }
    }

    fn run(&self, mut file: File) {
        let mut batch = Vec::new();
        loop {
            let target = {
                let mut pending = self.pending.lock().unwrap();
                while pending.bytes.is_empty() && !pending.closing {
                    pending = self.committer_wake.wait(pending).unwrap();
                }
                if pending.bytes.is_empty() {
                    return;
                }
                std::mem::swap(&mut batch, &mut pending.bytes);
                pending.appended
            };
            file.write_all(&batch).unwrap();
            file.sync_data().unwrap();
            batch.clear();
            self.syncs.fetch_add(1, Ordering::Relaxed);
            self.pending.lock().unwrap().durable = target;
            self.durable_changed.notify_all();
        }
    }

    fn close(&self) {
        self.pending.lock().unwrap().closing = true;
        self.committer_wake.notify_all();
    }
}

fn raw_group_commit(
    parent: &Path,
    size: usize,
    writers: usize,
    settings: &Settings,
) -> Measurement {
    let dir = tempfile::Builder::new()
        .prefix("cairn-bench-raw-")
        .tempdir_in(parent)
        .unwrap();
    let file = File::create(dir.path().join("records")).unwrap();
    let committer = Arc::new(GroupCommitter::default());
    let thread = {
        let committer = Arc::clone(&committer);
        std::thread::spawn(move || committer.run(file))
    };
    let record = raw_record(size);
    let measurement = drive(
        &format!("raw group commit@{writers}"),
        writers,
        settings,
        &|| committer.syncs.load(Ordering::Relaxed),
        &|_, _| committer.submit(&record),
    );
    committer.close();
    thread.join().unwrap();
    measurement
}

fn ratio_line(label: &str, value: f64, target: &str, met: bool) {
    let verdict = if met { "ok" } else { "MISSED" };
    println!("{label:<48} {value:>10.3}   target {target:<10} {verdict}");
}

fn main() {
    // `cargo bench` passes `--bench`; this harness takes no arguments.
    let settings = Settings::from_env();
    let parent = bench_parent();
    print_machine(&parent);
    let workload = Arc::new(Workload::new());
    let size = record_size(&parent, &workload);
    println!(
        "record: {size} bytes encoded (raw records: the same + a 4-byte length prefix); \
         warm-up {:.1} s, measured {:.1} s per scenario\n",
        settings.warmup.as_secs_f64(),
        settings.measure.as_secs_f64()
    );
    println!(
        "{:<22} {:>10} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>6} {:>8} {:>6}",
        "scenario",
        "events/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "stall ms",
        "syncs/s",
        "ev/sync",
        "cpus",
        "B/event",
        "other"
    );
    let mut results: Vec<Measurement> = Vec::new();
    let mut run = |name: &str, scenario: &dyn Fn() -> Measurement| {
        if settings.runs(name) {
            let measurement = scenario();
            measurement.print();
            results.push(measurement);
        }
    };
    run("raw fdatasync/record", &|| {
        raw_fdatasync_per_record(&parent, size, &settings)
    });
    run("raw group commit@16", &|| {
        raw_group_commit(&parent, size, 16, &settings)
    });
    run("raw group commit@64", &|| {
        raw_group_commit(&parent, size, 64, &settings)
    });
    run("log append only@1", &|| {
        log_append_only(&parent, &workload, &settings)
    });
    for appenders in [1, 16, 64] {
        run(&format!("log@{appenders}"), &|| {
            log_scenario(&parent, &workload, appenders, &settings)
        });
    }
    run("log@64 async", &|| {
        log_scenario_async(&parent, &workload, 64, &settings)
    });

    let find = |name: &str| results.iter().find(|m| m.name == name);
    println!("\nload average after: {}\n", load_average());
    // The targets of issue 2, for the blocking appenders (threads) and for
    // the server's shape (tasks awaiting `durable`).
    for name in ["log@64", "log@64 async"] {
        if let (Some(log64), Some(raw64)) = (find(name), find("raw group commit@64")) {
            let ratio = log64.per_second() / raw64.per_second();
            let label = format!("{name} / raw group commit@64 (events/s)");
            ratio_line(&label, ratio, ">= 0.4", ratio >= 0.4);
        }
        if let Some(log64) = find(name) {
            let rate = log64.per_second();
            ratio_line(
                &format!("{name} events/s"),
                rate,
                ">= 20000",
                rate >= 20_000.0,
            );
            let p99 = log64.percentile_ms(0.99);
            let label = format!("{name} p99 acknowledgement latency (ms)");
            ratio_line(&label, p99, "< 10", p99 < 10.0);
        }
    }
    if let (Some(log1), Some(raw1)) = (find("log@1"), find("raw fdatasync/record")) {
        let ratio = log1.per_second() / raw1.per_second();
        ratio_line(
            "log@1 / raw fdatasync/record (events/s)",
            ratio,
            ">= 0.4",
            ratio >= 0.4,
        );
    }
}
