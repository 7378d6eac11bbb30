//! The run worker pool: `CAIRN_RUN_WORKERS` tasks taking run ids from the
//! bounded run queue and executing them, so runs never hold a request open
//! and never grow without bound. Stopped with the server (aborted): a run
//! cut short is failed at the next start.

use std::sync::Arc;

use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use crate::app::App;
use crate::app::runs::{execute_run, steps::http_client};

/// Starts the workers. Empty when they were started already (the queue's
/// receiving end is taken once).
pub fn start(app: &Arc<App>) -> Result<Vec<JoinHandle<()>>, String> {
    let Some(receiver) = app.run_queue().take_receiver() else {
        return Ok(Vec::new());
    };
    let client = http_client(app.settings().run_egress.clone())
        .map_err(|error| format!("cannot build the runs' HTTP client: {error}"))?;
    let receiver = Arc::new(Mutex::new(receiver));
    let workers = app.settings().run_workers.max(1);
    Ok((0..workers)
        .map(|_| {
            let app = Arc::clone(app);
            let client = client.clone();
            let receiver = Arc::clone(&receiver);
            tokio::spawn(async move {
                loop {
                    // One worker waits on the queue at a time; the others
                    // wait for the lock, then for a run.
                    let next = receiver.lock().await.recv().await;
                    let Some(run_id) = next else { return };
                    execute_run(&app, &client, run_id).await;
                }
            })
        })
        .collect())
}
