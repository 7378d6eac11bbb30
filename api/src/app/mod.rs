//! The application layer: commands decided against the views, appended to
//! the log, applied to the views, and acknowledged only once durable.
//!
//! Architecture invariant: every append goes through [`App::commit`] or
//! [`App::append`], which hold the views' write lock across append and
//! apply, so the views are always exactly the fold of the log up to its
//! head.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use cairn_core::crypto::{CheckpointSigner, MasterKey};
use cairn_core::log::{AppendError, DurabilityError, EventLog, NewEvent, ReadError};
use cairn_projections::{ApplyError, Views};
use cairn_schemas::Record;
use tokio::sync::Notify;

/// Why a command did not complete.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The log refused or failed the append (nothing was stored).
    #[error(transparent)]
    Append(#[from] AppendError),
    /// The events were stored but could not be made durable: the server is
    /// going down and nothing was acknowledged.
    #[error(transparent)]
    Durability(#[from] DurabilityError),
    /// The views fell out of step with the log (a bug).
    #[error("views out of step with the log: {0}")]
    Views(#[from] ApplyError),
    /// Reading the log failed.
    #[error(transparent)]
    Read(#[from] ReadError),
}

/// The running application: the log, the views folded from it, and the
/// checkpoint signer.
#[derive(Debug)]
pub struct App {
    log: Arc<EventLog>,
    views: RwLock<Views>,
    signer: CheckpointSigner,
    checkpoint_every: u64,
    /// Wakes the checkpoint job when enough events have accumulated.
    pub(crate) checkpoint_due: Notify,
}

impl App {
    /// Folds the whole log into fresh views (blocking: run it off the async
    /// runtime).
    pub fn start(
        log: Arc<EventLog>,
        master: &MasterKey,
        checkpoint_every: u64,
    ) -> Result<App, CommitError> {
        let mut views = Views::new();
        let head = log.head().seq;
        for record in log.reader().records(1, head) {
            views.apply(&record?)?;
        }
        Ok(App {
            log,
            views: RwLock::new(views),
            signer: CheckpointSigner::new(master),
            checkpoint_every,
            checkpoint_due: Notify::new(),
        })
    }

    /// The log.
    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// The checkpoint signer (its public key is published).
    pub fn signer(&self) -> &CheckpointSigner {
        &self.signer
    }

    /// Read access to the views.
    pub fn views(&self) -> RwLockReadGuard<'_, Views> {
        match self.views.read() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn views_mut(&self) -> RwLockWriteGuard<'_, Views> {
        match self.views.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Appends the events `decide` returns given the current views, and
    /// applies them, under one lock. Not durable on return.
    pub fn append<E>(
        &self,
        decide: impl FnOnce(&Views) -> Result<Vec<NewEvent>, E>,
    ) -> Result<Vec<Record>, E>
    where
        E: From<AppendError> + From<ApplyError>,
    {
        let mut views = self.views_mut();
        let records = self.log.append_with(|_| decide(&views))?;
        for record in &records {
            views.apply(record)?;
        }
        drop(views);
        if let Some(last) = records.last() {
            let since_checkpoint = self
                .views()
                .system
                .last_checkpoint
                .as_ref()
                .map(|c| c.seq)
                .unwrap_or(0);
            if last.header.seq.saturating_sub(since_checkpoint) >= self.checkpoint_every {
                self.checkpoint_due.notify_one();
            }
        }
        Ok(records)
    }

    /// Appends events and waits until they are durable.
    pub async fn commit(&self, events: Vec<NewEvent>) -> Result<Vec<Record>, CommitError> {
        let records = self.append(|_| Ok::<_, CommitError>(events))?;
        if let Some(last) = records.last() {
            self.log.durable(last.header.seq).await?;
        }
        Ok(records)
    }

    /// Signs a checkpoint of the head and waits until it is durable.
    /// Returns the covered seq, or `None` on an empty log.
    pub async fn checkpoint(&self) -> Result<Option<u64>, CommitError> {
        let record = {
            let mut views = self.views_mut();
            let record = self.log.checkpoint(&self.signer)?;
            if let Some(record) = &record {
                views.apply(record)?;
            }
            record
        };
        match record {
            Some(record) => {
                self.log.durable(record.header.seq).await?;
                Ok(Some(record.header.seq - 1))
            }
            None => Ok(None),
        }
    }
}
