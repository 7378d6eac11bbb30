//! Continuous export sinks: each configured sink follows the durable log
//! and delivers every event, in seq order, to a syslog receiver or an HTTP
//! endpoint, at least once. Its cursor (the last delivered seq) lives in
//! the store's `export_cursors` tree, so after a crash or an outage of the
//! receiver it resumes where it stopped; nothing is skipped. Failures are
//! retried with exponential backoff; `GET /health` shows each sink's lag.
//! A cursor beyond the head of the log is set back to it (see `cursor`).

pub mod config;
pub mod cursor;
mod deliver;
mod render;
pub mod transport;

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use cairn_app::App;
pub use config::{SinkSpec, SinkTarget, sinks_from};
pub use cursor::{ClampedCursor, clamp_stored_cursors};

/// What one sink is doing, for `GET /health`.
#[derive(Debug, Default)]
struct SinkState {
    /// The last seq known delivered (the stored cursor).
    delivered: u64,
    /// The last seq written to the receiver.
    sent: u64,
    connected: bool,
    retries: u64,
    last_error: Option<String>,
    /// The stored cursor found beyond the head at start and set back.
    cursor_beyond_head: Option<u64>,
}

/// One sink's status, shared between its task and `/health`.
#[derive(Debug)]
pub struct SinkStatus {
    name: String,
    format: &'static str,
    state: Mutex<SinkState>,
}

impl SinkStatus {
    fn update(&self, change: impl FnOnce(&mut SinkState)) {
        if let Ok(mut state) = self.state.lock() {
            change(&mut state);
        }
    }

    fn json(&self, head: u64) -> Value {
        let state = match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        };
        // /health answers anyone: no target (an internal host name) and
        // no error text (it may name one); both are in the server's log.
        json!({
            "name": self.name,
            "format": self.format,
            "delivered": state.delivered,
            "sent": state.sent,
            "lag": head.saturating_sub(state.delivered),
            "connected": state.connected,
            "retries": state.retries,
            "failing": state.last_error.is_some(),
            "cursor_beyond_head": state.cursor_beyond_head,
            "reason": state.last_error.as_deref().map(public_reason),
        })
    }
}

/// What `/health` says about a failure: a fixed text, never the error
/// itself (it may name the target). A receiver that sends data is named,
/// as something its operator must fix; any other failure points to the
/// server's log, which has the detail.
fn public_reason(error: &str) -> &'static str {
    if error.starts_with(transport::RECEIVER_SENDS_DATA) {
        transport::RECEIVER_SENDS_DATA
    } else {
        "delivery is failing: the server log names the error"
    }
}

/// The statuses of every configured sink.
#[derive(Debug, Default)]
pub struct SinkBoard {
    sinks: Vec<Arc<SinkStatus>>,
}

impl SinkBoard {
    /// A board for these sinks, none started yet.
    pub fn new(specs: &[SinkSpec]) -> SinkBoard {
        SinkBoard {
            sinks: specs
                .iter()
                .map(|spec| {
                    Arc::new(SinkStatus {
                        name: spec.name.clone(),
                        format: spec.format.as_str(),
                        state: Mutex::new(SinkState::default()),
                    })
                })
                .collect(),
        }
    }

    /// Whether any sink is configured.
    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    /// Every sink's status as JSON, lag counted against `head`.
    pub fn json(&self, head: u64) -> Value {
        Value::Array(self.sinks.iter().map(|sink| sink.json(head)).collect())
    }
}

/// Checks every sink's TLS and HTTP settings (at start-up, so a bad CA
/// file stops the server instead of failing later).
pub fn check(specs: &[SinkSpec]) -> Result<(), String> {
    for spec in specs {
        deliver::Wire::prepare(spec).map_err(|error| format!("sink {:?}: {error}", spec.name))?;
    }
    // Once, at start-up: the operator accepted this, but it stays visible.
    for spec in specs.iter().filter(|spec| spec.sends_token_in_clear()) {
        tracing::warn!(
            sink = %spec.name,
            "the sink sends its HEC token over plain http:// (marked insecure): \
             anyone on the network path can read it; use https://"
        );
    }
    Ok(())
}

/// Starts one task per sink.
pub fn start(
    app: &Arc<App>,
    specs: Vec<SinkSpec>,
    board: &SinkBoard,
) -> Vec<tokio::task::JoinHandle<()>> {
    specs
        .into_iter()
        .zip(&board.sinks)
        .map(|(spec, status)| tokio::spawn(deliver::run(Arc::clone(app), spec, Arc::clone(status))))
        .collect()
}
