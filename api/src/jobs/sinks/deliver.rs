//! The delivery loop of one sink: follow the durable head, render a batch,
//! send it, move the cursor; on failure back off and resend from the last
//! delivered event.
//!
//! An HTTP sink's event is delivered when the endpoint answers 2xx. Plain
//! syslog has no acknowledgement: a write succeeds once the bytes are in
//! the kernel, and a receiver killed a moment later loses what it had not
//! yet processed. So a syslog batch counts as delivered only when the
//! connection is still open `confirm_after` after its write; when the
//! connection breaks, everything written but not confirmed is sent again
//! (the receiver de-duplicates by seq or event id).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_rustls::TlsConnector;

use super::SinkStatus;
use super::config::{SinkSpec, SinkTarget};
use super::cursor::clamp_cursor;
use super::render::{host_name, render_batch};
use super::transport::{self, Peer, RECEIVER_SENDS_DATA, SinkError, SyslogConnection};
use cairn_app::App;

const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How often an idle sink looks for new events and for a closed connection.
const IDLE_TICK: Duration = Duration::from_millis(250);

/// A sink's prepared wire: a TLS connector or an HTTP client, built once.
pub(super) enum Wire {
    Syslog {
        tls: Option<TlsConnector>,
        connection: Option<SyslogConnection>,
    },
    Http(reqwest::Client),
}

impl Wire {
    /// Builds the wire of a sink, checking its settings.
    pub(super) fn prepare(spec: &SinkSpec) -> Result<Wire, SinkError> {
        Ok(match &spec.target {
            SinkTarget::Syslog { tls, .. } => Wire::Syslog {
                tls: if *tls {
                    Some(transport::tls_connector(spec)?)
                } else {
                    None
                },
                connection: None,
            },
            SinkTarget::Http { .. } => Wire::Http(transport::http_client(spec)?),
        })
    }

    fn connected(&self) -> bool {
        match self {
            Wire::Syslog { connection, .. } => connection.is_some(),
            Wire::Http(_) => true,
        }
    }
}

/// Where a sink stands.
struct Progress {
    /// The stored cursor: every event up to it is delivered.
    delivered: u64,
    /// The last event written.
    sent: u64,
    /// Syslog writes awaiting confirmation: (written at, last seq).
    unconfirmed: VecDeque<(Instant, u64)>,
}

/// Runs one sink until the server stops.
pub(super) async fn run(app: Arc<App>, spec: SinkSpec, status: Arc<SinkStatus>) {
    let Some(mut sink) = Delivery::start(app, spec, status) else {
        return;
    };
    let mut durable = sink.app.log().durable_changes();
    loop {
        sink.watch_the_receiver().await;
        let head = sink.app.log().durable_seq();
        if sink.progress.sent >= head {
            tokio::select! {
                _ = durable.changed() => {}
                () = tokio::time::sleep(IDLE_TICK) => {}
            }
            continue;
        }
        let from = sink.progress.sent + 1;
        let to = head.min(sink.progress.sent.saturating_add(sink.spec.batch as u64));
        let batch = match sink.render(from, to).await {
            Ok(batch) => batch,
            Err(error) => {
                failed(&sink.status, &mut sink.backoff, &sink.spec, error).await;
                continue;
            }
        };
        match send(&mut sink.wire, &sink.spec, batch.bytes).await {
            Ok(()) => sink.sent(batch.last),
            Err(error) => {
                if let Wire::Syslog { connection, .. } = &mut sink.wire {
                    *connection = None;
                }
                // The sink's status keeps the text; the log line says it.
                let error = error.to_string();
                rewind(&mut sink.progress, &sink.status, error.clone());
                failed(&sink.status, &mut sink.backoff, &sink.spec, error).await;
            }
        }
    }
}

/// One sink's delivery: its wire, where it stands and its back-off.
struct Delivery {
    app: Arc<App>,
    spec: SinkSpec,
    status: Arc<SinkStatus>,
    wire: Wire,
    progress: Progress,
    backoff: Duration,
    host: String,
}

impl Delivery {
    /// Prepares the wire and reads the stored cursor (set back to the head
    /// when beyond it). `None`, with the reason on the sink's status, when
    /// the sink cannot start.
    fn start(app: Arc<App>, spec: SinkSpec, status: Arc<SinkStatus>) -> Option<Delivery> {
        let wire = match Wire::prepare(&spec) {
            Ok(wire) => wire,
            Err(error) => {
                tracing::error!(sink = %spec.name, %error, "sink not started");
                status.update(|state| state.last_error = Some(error.to_string()));
                return None;
            }
        };
        let stored = match app.log().reader().store().export_cursor_get(&spec.name) {
            Ok(cursor) => cursor.unwrap_or(0),
            Err(error) => {
                tracing::error!(sink = %spec.name, %error, "sink not started: its cursor cannot be read");
                status.update(|state| state.last_error = Some(error.to_string()));
                return None;
            }
        };
        let head = app.log().durable_seq();
        let check = clamp_cursor(stored, head);
        if let Some(beyond) = check.beyond_head {
            tracing::warn!(sink = %spec.name, stored = beyond, head, "the sink's cursor is beyond the head of the log: set back to the head");
            store_cursor(&app, &spec, &status, check.cursor);
            status.update(|state| state.cursor_beyond_head = Some(beyond));
        }
        let delivered = check.cursor;
        tracing::info!(sink = %spec.name, target = %spec.target_text(), from = delivered + 1, "sink started");
        status.update(|state| {
            state.delivered = delivered;
            state.sent = delivered;
        });
        Some(Delivery {
            app,
            spec,
            status,
            wire,
            progress: Progress {
                delivered,
                sent: delivered,
                unconfirmed: VecDeque::new(),
            },
            backoff: FIRST_BACKOFF,
            host: host_name(),
        })
    }

    /// A syslog sink: notices a receiver that closed the connection or
    /// talks (everything unconfirmed is sent again), and confirms the
    /// writes the open connection has outlived.
    async fn watch_the_receiver(&mut self) {
        let Wire::Syslog { connection, .. } = &mut self.wire else {
            return;
        };
        match connection
            .as_mut()
            .map_or(Peer::Open, SyslogConnection::peer)
        {
            Peer::Open => {}
            Peer::Closed => {
                *connection = None;
                rewind(
                    &mut self.progress,
                    &self.status,
                    "the receiver closed the connection".into(),
                );
            }
            // A receiver that talks is failing, not merely gone: back
            // off before connecting again, as after any failure.
            Peer::Misbehaving => {
                *connection = None;
                rewind(&mut self.progress, &self.status, RECEIVER_SENDS_DATA.into());
                failed(
                    &self.status,
                    &mut self.backoff,
                    &self.spec,
                    RECEIVER_SENDS_DATA.into(),
                )
                .await;
            }
        }
        let connected = connection.is_some();
        if confirm(
            &self.app,
            &self.spec,
            &self.status,
            &mut self.progress,
            connected,
        ) {
            // Only a confirmed write shows a syslog receiver works.
            self.backoff = FIRST_BACKOFF;
            self.status.update(|state| state.last_error = None);
        }
    }

    /// Renders the events `from..=to` off the async runtime.
    async fn render(&self, from: u64, to: u64) -> Result<super::render::Batch, String> {
        let app = Arc::clone(&self.app);
        let spec = self.spec.clone();
        let host = self.host.clone();
        match tokio::task::spawn_blocking(move || render_batch(&app, &spec, from, to, &host)).await
        {
            Ok(rendered) => rendered,
            Err(error) => Err(error.to_string()),
        }
    }

    /// A batch up to `last` was written: delivered at once over HTTP (an
    /// answer is an acknowledgement); over syslog only once confirmed (the
    /// bytes are only in the kernel), so that sink stays failing, and
    /// backing off, until a write is confirmed.
    fn sent(&mut self, last: u64) {
        self.progress.sent = last;
        let acknowledged = matches!(self.wire, Wire::Http(_));
        if acknowledged {
            self.backoff = FIRST_BACKOFF;
            self.progress.delivered = last;
            store_cursor(&self.app, &self.spec, &self.status, last);
        } else {
            self.progress.unconfirmed.push_back((Instant::now(), last));
        }
        let connected = self.wire.connected();
        self.status.update(|state| {
            state.sent = last;
            state.connected = connected;
            if acknowledged {
                state.last_error = None;
            }
        });
    }
}

/// Sends a batch, connecting first when needed.
async fn send(wire: &mut Wire, spec: &SinkSpec, bytes: Vec<u8>) -> Result<(), SinkError> {
    match wire {
        Wire::Syslog { tls, connection } => {
            if connection.is_none() {
                *connection = Some(transport::connect_syslog(spec, tls.as_ref()).await?);
            }
            match connection {
                Some(open) => open.send(&bytes).await,
                None => Err(SinkError::NotConnected),
            }
        }
        Wire::Http(client) => transport::post_batch(client, spec, bytes).await,
    }
}

/// Writes older than `confirm_after` on a connection still open are
/// delivered: the cursor moves to the newest of them. Whether any was.
fn confirm(
    app: &App,
    spec: &SinkSpec,
    status: &SinkStatus,
    progress: &mut Progress,
    open: bool,
) -> bool {
    if !open {
        return false;
    }
    let mut confirmed = None;
    while let Some((written, last)) = progress.unconfirmed.front().copied() {
        if written.elapsed() < spec.confirm_after {
            break;
        }
        confirmed = Some(last);
        progress.unconfirmed.pop_front();
    }
    if let Some(last) = confirmed {
        progress.delivered = last;
        store_cursor(app, spec, status, last);
    }
    confirmed.is_some()
}

/// The connection broke: what was written but not confirmed is sent again.
fn rewind(progress: &mut Progress, status: &SinkStatus, error: String) {
    progress.sent = progress.delivered;
    progress.unconfirmed.clear();
    let delivered = progress.delivered;
    status.update(|state| {
        state.sent = delivered;
        state.connected = false;
        state.last_error = Some(error);
    });
}

/// Records the cursor in the store (made durable by the log's next sync; a
/// cursor lost in a crash only means events are delivered again).
fn store_cursor(app: &App, spec: &SinkSpec, status: &SinkStatus, seq: u64) {
    if let Err(error) = app
        .log()
        .reader()
        .store()
        .export_cursor_put(&spec.name, seq)
    {
        tracing::warn!(sink = %spec.name, %error, "the sink's cursor was not stored");
    }
    status.update(|state| state.delivered = seq);
}

/// A failure: say so, then wait before the next attempt (doubling, capped).
async fn failed(status: &SinkStatus, backoff: &mut Duration, spec: &SinkSpec, error: String) {
    tracing::warn!(sink = %spec.name, %error, retry_in_ms = backoff.as_millis() as u64, "sink delivery failed");
    status.update(|state| {
        state.retries += 1;
        state.connected = false;
        state.last_error = Some(error);
    });
    tokio::time::sleep(*backoff).await;
    *backoff = (*backoff * 2).min(MAX_BACKOFF);
}
