//! Group commit: many appenders share one flush.
//!
//! Appends are sequenced and stored without waiting for the disk. A waiter
//! asks for its seq to become durable; one flusher thread then syncs the
//! store (sled flush + fdatasync) for everything appended so far and wakes
//! every waiter whose seq that covered. While one sync runs, new appends
//! pile up and share the next one, so the cost of an fdatasync is split
//! across all concurrent appenders.
//!
//! The sync that makes a `checkpoint.signed` record durable also writes
//! the anchor (see [`super::anchor`]) before any waiter is woken, so an
//! acknowledged checkpoint is always anchored and the anchor is never
//! ahead of the disk.
//!
//! A failed sync (or anchor write) is fatal: every current and future waiter gets an error,
//! and the server exits (nothing may be acknowledged after the log lost
//! its ability to make records durable).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use tokio::sync::watch;

use super::anchor::{Anchor, Anchorer};
use super::store::EventStore;

/// The durable position, as seen by waiters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DurableState {
    /// Every record up to and including this seq is on disk.
    Through(u64),
    /// A sync failed: nothing further can be made durable.
    Failed(String),
}

/// Why a wait for durability ended without it.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum DurabilityError {
    /// The store could not be synced; the log is no longer writable.
    #[error("the log could not be made durable: {0}")]
    SyncFailed(String),
    /// The log was closed before the seq became durable.
    #[error("the log was closed before the record became durable")]
    Closed,
}

#[derive(Debug)]
struct FlushState {
    requested: u64,
    durable: u64,
    failed: Option<String>,
    closing: bool,
}

/// The shared state between appenders, waiters and the flusher thread.
#[derive(Debug)]
pub(crate) struct Durability {
    state: Mutex<FlushState>,
    /// Wakes the flusher when a waiter asks for more than is durable.
    flusher_wake: Condvar,
    /// Wakes blocking waiters after each sync.
    durable_changed: Condvar,
    /// Wakes async waiters after each sync.
    watch: watch::Sender<DurableState>,
    /// The highest seq stored (not necessarily durable). Appenders publish
    /// it after the store accepted their records.
    appended: AtomicU64,
    /// Number of syncs performed (for benchmarks and tests).
    syncs: AtomicU64,
    /// The anchor to write once the seq it names is durable.
    pending_anchor: Mutex<Option<(u64, Anchor)>>,
}

fn lock(state: &Mutex<FlushState>) -> MutexGuard<'_, FlushState> {
    // The flush state is plain numbers updated atomically under the lock: a
    // panic elsewhere cannot leave it half-written.
    match state.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl Durability {
    /// State for a store whose records up to `durable` are already on disk.
    pub(crate) fn new(durable: u64) -> Arc<Durability> {
        let (watch, _) = watch::channel(DurableState::Through(durable));
        Arc::new(Durability {
            state: Mutex::new(FlushState {
                requested: durable,
                durable,
                failed: None,
                closing: false,
            }),
            flusher_wake: Condvar::new(),
            durable_changed: Condvar::new(),
            watch,
            appended: AtomicU64::new(durable),
            syncs: AtomicU64::new(0),
            pending_anchor: Mutex::new(None),
        })
    }

    /// Writes `anchor` with the first sync that makes `due` durable.
    pub(crate) fn anchor_when_durable(&self, due: u64, anchor: Anchor) {
        let mut pending = match self.pending_anchor.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        // A later checkpoint supersedes an earlier one not yet written.
        if pending.is_none_or(|(_, waiting)| waiting.head.seq <= anchor.head.seq) {
            *pending = Some((due, anchor));
        }
    }

    /// The pending anchor, if the sync through `durable` makes it due.
    fn anchor_due(&self, durable: u64) -> Option<Anchor> {
        let mut pending = match self.pending_anchor.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        match *pending {
            Some((due, anchor)) if due <= durable => {
                *pending = None;
                Some(anchor)
            }
            _ => None,
        }
    }

    /// Publishes that records up to `seq` are stored.
    pub(crate) fn published(&self, seq: u64) {
        self.appended.fetch_max(seq, Ordering::Release);
    }

    /// Number of syncs so far.
    pub(crate) fn syncs(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    /// The highest durable seq.
    pub(crate) fn durable_seq(&self) -> u64 {
        lock(&self.state).durable
    }

    /// Asks the flusher to make `seq` durable; returns `Ok(true)` when it
    /// already is.
    fn request(&self, seq: u64) -> Result<bool, DurabilityError> {
        let mut state = lock(&self.state);
        if let Some(message) = &state.failed {
            return Err(DurabilityError::SyncFailed(message.clone()));
        }
        if state.durable >= seq {
            return Ok(true);
        }
        if state.closing {
            return Err(DurabilityError::Closed);
        }
        if state.requested < seq {
            state.requested = seq;
            self.flusher_wake.notify_one();
        }
        Ok(false)
    }

    /// Waits, blocking the thread, until `seq` is durable.
    pub(crate) fn wait_blocking(&self, seq: u64) -> Result<(), DurabilityError> {
        if self.request(seq)? {
            return Ok(());
        }
        let mut state = lock(&self.state);
        loop {
            if let Some(message) = &state.failed {
                return Err(DurabilityError::SyncFailed(message.clone()));
            }
            if state.durable >= seq {
                return Ok(());
            }
            if state.closing {
                return Err(DurabilityError::Closed);
            }
            state = match self.durable_changed.wait(state) {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
        }
    }

    /// Waits, without blocking a thread, until `seq` is durable.
    pub(crate) async fn wait(&self, seq: u64) -> Result<(), DurabilityError> {
        let mut receiver = self.watch.subscribe();
        if self.request(seq)? {
            return Ok(());
        }
        let outcome = receiver
            .wait_for(|state| match state {
                DurableState::Through(durable) => *durable >= seq,
                DurableState::Failed(_) => true,
            })
            .await;
        match outcome.as_deref() {
            Ok(DurableState::Through(_)) => Ok(()),
            Ok(DurableState::Failed(message)) => Err(DurabilityError::SyncFailed(message.clone())),
            Err(_) => Err(DurabilityError::Closed),
        }
    }

    /// A receiver that sees every change of the durable position.
    pub(crate) fn subscribe(&self) -> watch::Receiver<DurableState> {
        self.watch.subscribe()
    }

    /// Starts the flusher thread.
    pub(crate) fn spawn_flusher(
        self: &Arc<Self>,
        store: Arc<dyn EventStore>,
        anchorer: Anchorer,
    ) -> std::io::Result<JoinHandle<()>> {
        let durability = Arc::clone(self);
        std::thread::Builder::new()
            .name("cairn-log-flusher".into())
            .spawn(move || durability.run_flusher(&*store, &anchorer))
    }

    fn run_flusher(&self, store: &dyn EventStore, anchorer: &Anchorer) {
        loop {
            {
                let mut state = lock(&self.state);
                while state.requested <= state.durable && !state.closing {
                    state = match self.flusher_wake.wait(state) {
                        Ok(guard) => guard,
                        Err(poisoned) => poisoned.into_inner(),
                    };
                }
                if state.closing && state.requested <= state.durable {
                    return;
                }
            }
            // Everything stored up to `target` is covered by this sync:
            // appenders publish only after the store accepted their records.
            let target = self.appended.load(Ordering::Acquire);
            // The head goes into the same sync: after a crash, everything
            // up to it is there and nothing after it was acknowledged.
            let synced = store
                .record_head(target)
                .and_then(|()| store.sync())
                .map_err(|error| error.to_string())
                .and_then(|()| match self.anchor_due(target) {
                    Some(anchor) => anchorer
                        .write(&anchor)
                        .map_err(|error| format!("writing the anchor: {error}")),
                    None => Ok(()),
                });
            self.syncs.fetch_add(1, Ordering::Relaxed);
            let mut state = lock(&self.state);
            match synced {
                Ok(()) => {
                    state.durable = state.durable.max(target);
                    let durable = state.durable;
                    self.watch.send_replace(DurableState::Through(durable));
                }
                Err(message) => {
                    tracing::error!(error = %message, "the event log could not be synced to disk; no further event can be acknowledged");
                    state.failed = Some(message.clone());
                    self.watch.send_replace(DurableState::Failed(message));
                    self.durable_changed.notify_all();
                    return;
                }
            }
            self.durable_changed.notify_all();
        }
    }

    /// Asks the flusher to finish outstanding work and stop.
    pub(crate) fn close(&self) {
        let mut state = lock(&self.state);
        state.closing = true;
        self.flusher_wake.notify_all();
        self.durable_changed.notify_all();
    }
}
