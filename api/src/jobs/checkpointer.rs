//! Signs a checkpoint every N events or every T seconds, also when idle, so
//! that a gap between checkpoints proves that nothing was written.

use std::sync::Arc;
use std::time::Duration;

use cairn_app::App;

/// Runs until the task is dropped. A failed checkpoint is logged; the
/// durability watch takes the server down if the log itself failed.
pub async fn run(app: Arc<App>, interval: Duration) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = app.checkpoint_due().notified() => {}
        }
        match app.checkpoint().await {
            Ok(Some(seq)) => tracing::debug!(seq, "checkpoint signed"),
            Ok(None) => {}
            Err(error) => tracing::error!(%error, "signing a checkpoint failed"),
        }
    }
}
