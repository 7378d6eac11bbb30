//! The run worker pool: `CAIRN_RUN_WORKERS` tasks taking run ids from the
//! bounded run queue, fairly between invokers, and executing them, so runs
//! never hold a request open and never grow without bound. Stopped with the server (aborted): a run
//! cut short is failed at the next start.

use std::sync::Arc;

use tokio::task::JoinHandle;

use cairn_app::App;
use cairn_app::runs::execute_run;

use crate::config::secret_env::ProcessEnv;
use crate::step_runner::http_client;

/// Why the workers could not start.
#[derive(Debug, thiserror::Error)]
pub enum WorkersError {
    /// The client the runs' steps are sent with.
    #[error("cannot build the runs' HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// Starts the workers. Empty when they were started already (the queue's
/// receiving end is taken once).
pub fn start(app: &Arc<App>) -> Result<Vec<JoinHandle<()>>, WorkersError> {
    if !app.run_queue().claim_workers() {
        return Ok(Vec::new());
    }
    let client = http_client(app.settings().run_egress.clone()).map_err(WorkersError::Client)?;
    let workers = app.settings().run_workers.max(1);
    Ok((0..workers)
        .map(|_| {
            let app = Arc::clone(app);
            let client = client.clone();
            tokio::spawn(async move {
                loop {
                    // The queue hands out runs round-robin per invoker.
                    let (invoker, run_id) = app.run_queue().next().await;
                    execute_run(&app, &client, &ProcessEnv, run_id).await;
                    app.run_queue().finished(invoker);
                }
            })
        })
        .collect())
}
