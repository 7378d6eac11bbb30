//! Maintenance: snapshots of the views every `CAIRN_SNAPSHOT_EVERY` events,
//! and retention passes at each class's cadence (and at once when the
//! policy changes, and once at start). Both run on the blocking pool, one
//! at a time (they share the app's maintenance lock). A pass that dropped
//! payloads ends with a compaction of the store, and one owed by an
//! earlier pass (cut short by a stop) is run by the pass at start.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_core::log::retention::class_index;
use cairn_schemas::RetentionClass;

use cairn_app::{App, retention};

/// How often the job looks at the event count and the cadences.
pub const TICK: Duration = Duration::from_secs(5);

/// Runs until the task is dropped. A failure is logged and retried at the
/// next tick; it never stops the server (the durability watch does that
/// when the log itself fails).
pub async fn run(app: Arc<App>, tick: Duration) {
    let mut last_pass: [Option<Instant>; 3] = [None; 3];
    let mut policy_changed = true;
    loop {
        let since_snapshot = app
            .views()
            .applied_seq()
            .saturating_sub(app.last_snapshot_seq());
        if since_snapshot >= app.settings().snapshot_every {
            let worker = Arc::clone(&app);
            match tokio::task::spawn_blocking(move || worker.write_snapshot()).await {
                Ok(Ok(info)) => {
                    tracing::info!(
                        seq = info.seq,
                        bytes = info.bytes,
                        "snapshot of the views written"
                    )
                }
                Ok(Err(error)) => tracing::error!(%error, "writing a snapshot failed"),
                Err(error) => tracing::error!(%error, "the snapshot task stopped"),
            }
        }

        let policy = app.views().retention.policy();
        let mut due = [false; 3];
        for class in RetentionClass::ALL {
            let index = class_index(*class);
            let cadence = Duration::from_secs(policy.of(*class).cadence_secs);
            due[index] =
                policy_changed || last_pass[index].is_none_or(|at| at.elapsed() >= cadence);
        }
        if due.iter().any(|due| *due) {
            let worker = Arc::clone(&app);
            match tokio::task::spawn_blocking(move || retention::prune_pass(&worker, due)).await {
                Ok(Ok(Some((seq, _)))) => tracing::info!(seq, "retention pass pruned payloads"),
                Ok(Ok(None)) => {}
                Ok(Err(error)) => tracing::error!(%error, "retention pass failed"),
                Err(error) => tracing::error!(%error, "the retention task stopped"),
            }
            let now = Instant::now();
            for (index, due) in due.iter().enumerate() {
                if *due {
                    last_pass[index] = Some(now);
                }
            }
        }

        policy_changed = tokio::select! {
            _ = tokio::time::sleep(tick) => false,
            _ = app.retention_due().notified() => true,
        };
    }
}
