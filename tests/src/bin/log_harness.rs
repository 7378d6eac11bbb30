//! The crash-safety harness: a log-only process that appends with many
//! concurrent writers and prints one line per acknowledged append, so a
//! test can SIGKILL it at any moment and check that nothing it printed was
//! lost.
//!
//! Usage: `cairn-log-harness <data dir> <appenders>`, master key in
//! `CAIRN_MASTER_KEY`. Prints `RECOVERING`, then `READY <head seq>`, then
//! `ACK <seq> <event id>` lines (each only after the append is durable),
//! until killed. A checkpoint thread signs the head every few
//! milliseconds, as the server's checkpoint job does, so kills also land
//! in the middle of a checkpoint and of the anchor write that follows it.
//! The first appender also appends a batch of 200 events now and then, so
//! that kills land while batch values fill and spill (store format 2).
//!
//! `cairn-log-harness format-1-copy <data dir> <target>` writes a copy of a
//! (closed) data dir in store format 1, as the previous release left it,
//! with its anchor: the crash test migrates it while killing the process.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use cairn_core::crypto::{CheckpointSigner, MasterKey};
use cairn_core::log::{EventLog, LogConfig, NewEvent};
use cairn_core::{OsEntropy, SystemClock};
use cairn_schemas::{
    Action, ActorKind, ActorRef, EventPayload, HttpRequest, Outcome, PersonalData, ResourceRef,
};
use uuid::Uuid;

fn say(line: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(appenders)) = (args.next(), args.next()) else {
        bail!("usage: cairn-log-harness <data dir> <appenders>");
    };
    if dir == "format-1-copy" {
        let target = args
            .next()
            .context("usage: format-1-copy <data dir> <target>")?;
        return format_1_copy(&PathBuf::from(appenders), &PathBuf::from(target));
    }
    let appenders: u64 = appenders.parse().context("appenders")?;
    let master = MasterKey::parse(&std::env::var("CAIRN_MASTER_KEY").context("CAIRN_MASTER_KEY")?)
        .context("CAIRN_MASTER_KEY")?;
    say("RECOVERING")?;
    let config = LogConfig {
        dir: PathBuf::from(dir),
        create: true,
        cadence: Default::default(),
    };
    let (log, recovery) =
        EventLog::open(&config, &master, Arc::new(SystemClock), Arc::new(OsEntropy))
            .context("opening the log")?;
    say(&format!("READY {}", recovery.head.seq))?;
    let log = Arc::new(log);
    let checkpointer = {
        let log = Arc::clone(&log);
        let signer = CheckpointSigner::new(&master);
        std::thread::spawn(move || -> Result<()> {
            let mut signed = 0;
            loop {
                std::thread::sleep(std::time::Duration::from_millis(5));
                let head = log.head().seq;
                if head > signed
                    && let Some(record) = log.checkpoint(&signer)?
                {
                    signed = record.header.seq;
                    log.wait_durable(signed)?;
                }
            }
        })
    };
    let workers: Vec<_> = (0..appenders)
        .map(|worker| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || -> Result<()> {
                let user = Uuid::from_u128(u128::from(worker) + 1);
                for n in 0u64.. {
                    let mut event = NewEvent::new(
                        Action::HttpRequest,
                        ActorRef {
                            kind: ActorKind::User,
                            id: Some(user),
                        },
                        ResourceRef::SYSTEM,
                        Outcome::Success,
                    )
                    .with_request_id(format!("w{worker}-{n}"))
                    .with_payload(EventPayload::HttpRequest(HttpRequest {
                        method: "POST".into(),
                        path: format!("/harness/{worker}/{n}"),
                        status: 201,
                        duration_micros: n,
                    }));
                    if n % 3 == 0 {
                        event = event.with_personal(
                            user,
                            PersonalData {
                                name: Some(format!("user-{worker}")),
                                ..PersonalData::default()
                            },
                        );
                    }
                    // Every fourth append is a batch of two, so batches are
                    // covered by the same guarantee.
                    let events = if worker == 0 && n % 8 == 5 {
                        vec![event; 200]
                    } else if n % 4 == 0 {
                        vec![event.clone(), event]
                    } else {
                        vec![event]
                    };
                    let records = log.append(events)?;
                    let last = records.last().map(|record| record.header.seq).unwrap_or(0);
                    log.wait_durable(last)?;
                    for record in &records {
                        say(&format!("ACK {} {}", record.header.seq, record.header.id))?;
                    }
                }
                Ok(())
            })
        })
        .collect();
    for worker in workers.into_iter().chain([checkpointer]) {
        match worker.join() {
            Ok(result) => result?,
            Err(_) => bail!("an appender thread panicked"),
        }
    }
    Ok(())
}

/// Writes `source` (a data dir no process holds) into `target` in store
/// format 1, with its anchor file.
fn format_1_copy(source: &std::path::Path, target: &std::path::Path) -> Result<()> {
    let store = cairn_core::log::SledStore::open(source, false).context("opening the source")?;
    let records = cairn_core::log::migrate::write_format_1_copy(&store, target)
        .context("writing the format 1 copy")?;
    drop(store);
    std::fs::copy(source.join("anchor"), target.join("anchor")).context("copying the anchor")?;
    say(&format!("COPIED {records}"))
}
