//! The application layer: commands decided against the views, appended to
//! the log, applied to the views, and acknowledged only once durable.
//!
//! Architecture invariant: every append goes through one place
//! (`App::append_decided`, behind [`App::decide`], [`App::commit`] and
//! [`App::append`]), which holds the views' write lock across decision,
//! append and apply, so the views are always exactly the fold of the log
//! up to its head. Handlers in `http` call the command functions of the submodules
//! and never touch the log or the views directly.

pub mod access;
pub mod api_keys;
pub mod audit_export;
pub mod audit_log;
pub mod backup;
pub mod bootstrap;
pub mod connections;
pub mod display_names;
pub mod edge_records;
pub mod error;
pub mod flows;
pub mod grants;
pub mod groups;
pub mod listing;
pub mod login;
pub mod login_attempts;
pub mod namespaces;
pub mod orgs;
pub mod origin;
pub mod passwords;
pub mod past_views;
pub mod principal;
pub mod reports;
pub mod retention;
pub mod runs;
pub mod schedules;
pub mod secrets;
pub mod snapshots;
#[cfg(test)]
pub mod testing;
pub mod tokens;
pub mod users;
pub mod vault;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use cairn_core::crypto::{CheckpointSigner, Fingerprinter, MasterKey};
use cairn_core::log::snapshots::{SnapshotError, SnapshotInfo, Snapshots};
use cairn_core::log::{AppendError, DurabilityError, EventLog, NewEvent, ReadError};
use cairn_core::{Clock, Entropy};
use cairn_projections::{ApplyError, Views};
use cairn_schemas::Record;
use tokio::sync::Notify;

pub use error::CommandError;
pub use origin::Origin;
pub use principal::Principal;

/// Settings the commands need.
#[derive(Clone, Debug)]
pub struct AppSettings {
    /// How often checkpoints are signed (and what the unanchored tail is
    /// held to).
    pub cadence: cairn_core::log::Cadence,
    /// Write a snapshot of the views after this many events.
    pub snapshot_every: u64,
    /// How long a login session lasts, in seconds.
    pub session_ttl_secs: u64,
    /// Whether new users are active unless the creator says otherwise.
    pub new_user_is_active: bool,
    /// At most this many password hashes run at once.
    pub hashing_concurrency: usize,
    /// At most this many wait for a hashing slot; more are shed with 503.
    pub hashing_queue: usize,
    /// `CAIRN_FLOW_ENV_ALLOW`: the environment variables flows may read.
    pub flow_env_allow: Vec<String>,
    /// Runs executed at once.
    pub run_workers: usize,
    /// Where runs' http steps may connect (`CAIRN_RUN_EGRESS_ALLOW` and the
    /// server's own listen address).
    pub run_egress: runs::egress::EgressPolicy,
    /// `CAIRN_SCHEDULE_MIN_INTERVAL`: the shortest interval between a
    /// schedule's due times, in seconds.
    pub schedule_min_interval_secs: u64,
    /// `CAIRN_SCHEDULES_PER_USER`: schedules one member may own.
    pub schedules_per_user: usize,
    /// `CAIRN_RUNS_QUEUED_PER_USER`: runs one member may have queued or
    /// running.
    pub runs_queued_per_user: usize,
    /// `CAIRN_RUN_TIMEOUT`: the longest a whole run may take, in seconds.
    pub run_timeout_secs: u64,
    /// `CAIRN_RETENTION_COMPACT`: whether a prune pass compacts the store
    /// (pausing writes meanwhile) so no dropped payload stays in its files.
    pub retention_compact: bool,
}

impl Default for AppSettings {
    fn default() -> Self {
        AppSettings {
            cadence: cairn_core::log::Cadence::DEFAULT,
            snapshot_every: 100_000,
            session_ttl_secs: 3600,
            new_user_is_active: false,
            hashing_concurrency: 2,
            hashing_queue: 64,
            flow_env_allow: Vec::new(),
            run_workers: 4,
            run_egress: runs::egress::EgressPolicy::default(),
            schedule_min_interval_secs: 60,
            schedules_per_user: 20,
            runs_queued_per_user: 8,
            run_timeout_secs: 300,
            retention_compact: true,
        }
    }
}

/// What a decision returns: the events to append (none when it changes
/// nothing) and the reply to give once they are durable.
#[derive(Debug)]
pub struct Decided<R> {
    /// The events, in order.
    pub events: Vec<NewEvent>,
    /// The reply.
    pub reply: R,
}

impl<R> Decided<R> {
    /// `events`, then `reply`.
    pub fn new(events: Vec<NewEvent>, reply: R) -> Decided<R> {
        Decided { events, reply }
    }

    /// A reply that records nothing.
    pub fn nothing(reply: R) -> Decided<R> {
        Decided {
            events: Vec::new(),
            reply,
        }
    }
}

/// Why a command did not complete at the log level.
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
    /// The views could not be rebuilt from the snapshots and the log.
    #[error(transparent)]
    Rebuild(#[from] snapshots::RebuildError),
}

/// Why a snapshot was not written.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotFailure {
    /// Writing the file failed.
    #[error(transparent)]
    Write(#[from] SnapshotError),
    /// Reading the record the snapshot names failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The state to snapshot never became durable.
    #[error(transparent)]
    Durability(#[from] DurabilityError),
}

/// The running application: the log, the views folded from it, and the
/// keys and pools the commands use.
#[derive(Debug)]
pub struct App {
    log: Arc<EventLog>,
    views: RwLock<Views>,
    signer: CheckpointSigner,
    fingerprinter: Fingerprinter,
    vault: vault::Vault,
    run_queue: runs::RunQueue,
    passwords: passwords::PasswordPool,
    settings: AppSettings,
    clock: Arc<dyn Clock>,
    entropy: Arc<dyn Entropy>,
    /// New ids, from the clock and the entropy.
    ids: cairn_core::IdSource,
    /// Wakes the checkpoint job when enough events have accumulated.
    checkpoint_due: Notify,
    /// Wakes the maintenance job when the retention policy changed.
    retention_due: Notify,
    /// The snapshot files of the data dir.
    snapshots: Snapshots,
    /// The seq of the latest snapshot written or loaded (0: none).
    last_snapshot: AtomicU64,
    /// Held by snapshot writing and retention, so they never interleave.
    maintenance: Mutex<()>,
    /// Past states of the views (`at_seq`): bounded, shared rebuilds.
    past_views: Arc<past_views::PastStates<Views, PastFailure>>,
    /// Password verifications in flight per username (lockout).
    login_attempts: login_attempts::LoginAttempts,
}

/// Why a past state of the views could not be rebuilt (shared by every
/// request waiting for that rebuild, so it is cloneable).
#[derive(Clone, Debug, thiserror::Error)]
pub enum PastFailure {
    /// Retention pruned a payload the fold needed.
    #[error("record {seq}'s payload was pruned")]
    Pruned {
        /// The first pruned record met.
        seq: u64,
    },
    /// Anything else (reading the log, applying a record).
    #[error("{0}")]
    Failed(String),
}

impl App {
    /// Folds the whole log into fresh views (blocking: run it off the async
    /// runtime).
    pub fn start(
        log: Arc<EventLog>,
        master: &MasterKey,
        settings: AppSettings,
        clock: Arc<dyn Clock>,
        entropy: Arc<dyn Entropy>,
    ) -> Result<App, CommitError> {
        let snapshots = Snapshots::new(log.reader().dir(), master, Views::SNAPSHOT_VERSION);
        let head = log.head().seq;
        let started = std::time::Instant::now();
        let (views, from_snapshot) = snapshots::rebuild(log.reader(), &snapshots, head)?;
        tracing::info!(
            head,
            snapshot = from_snapshot,
            folded = head - from_snapshot.unwrap_or(0),
            millis = started.elapsed().as_millis() as u64,
            "views rebuilt"
        );
        Ok(App {
            snapshots,
            last_snapshot: AtomicU64::new(from_snapshot.unwrap_or(0)),
            maintenance: Mutex::new(()),
            past_views: Arc::new(past_views::PastStates::new(
                past_views::DEFAULT_CONCURRENCY,
                past_views::DEFAULT_QUEUE,
                past_views::DEFAULT_CACHED,
            )),
            views: RwLock::new(views),
            signer: CheckpointSigner::new(master),
            fingerprinter: Fingerprinter::new(master),
            vault: vault::Vault::new(master),
            run_queue: runs::RunQueue::new(settings.run_workers),
            passwords: passwords::PasswordPool::new(
                settings.hashing_concurrency,
                settings.hashing_queue,
            ),
            settings,
            log,
            ids: cairn_core::IdSource::new(Arc::clone(&clock), Arc::clone(&entropy)),
            clock,
            entropy,
            checkpoint_due: Notify::new(),
            retention_due: Notify::new(),
            login_attempts: login_attempts::LoginAttempts::default(),
        })
    }

    /// The log.
    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// The log, shared (for work moved off the async runtime).
    pub fn log_handle(&self) -> Arc<EventLog> {
        Arc::clone(&self.log)
    }

    /// The checkpoint signer (its public key is published).
    pub fn signer(&self) -> &CheckpointSigner {
        &self.signer
    }

    /// The settings.
    pub fn settings(&self) -> &AppSettings {
        &self.settings
    }

    /// The current time (micros).
    pub fn now(&self) -> i64 {
        self.clock.now_micros()
    }

    /// A new id (UUIDv7) from the App's clock and entropy.
    pub fn new_id(&self) -> uuid::Uuid {
        self.ids.new_id()
    }

    /// Where new ids come from.
    pub fn ids(&self) -> &cairn_core::IdSource {
        &self.ids
    }

    /// Read access to the views.
    pub fn views(&self) -> RwLockReadGuard<'_, Views> {
        match self.views.read() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The views as of `seq`: rebuilt from the nearest snapshot and the log
    /// on the bounded pool of past states, or shared with a rebuild of the
    /// same seq (under way or cached). A seq beyond the head is refused;
    /// too many rebuilds at once are shed (`Overloaded`, a 503).
    pub async fn views_at(self: &Arc<Self>, seq: u64) -> Result<Arc<Views>, CommandError> {
        let head = self.log.head().seq;
        if seq == 0 || seq > head {
            return Err(CommandError::invalid(
                "at_seq",
                format!("must be from 1 to the head of the log ({head})"),
            ));
        }
        let app = Arc::clone(self);
        let rebuilt = self
            .past_views
            .get(seq, self.past_epoch(), move || app.rebuild_views_at(seq))
            .await;
        rebuilt.map_err(|error| match error {
            past_views::PastError::Busy => CommandError::Overloaded,
            past_views::PastError::Rebuild(PastFailure::Pruned { seq: pruned }) => {
                CommandError::invalid(
                    "at_seq",
                    format!(
                        "the state at seq {seq} can no longer be rebuilt: retention pruned the payload of record {pruned} and every snapshot before it; ask for a later seq"
                    ),
                )
            }
            past_views::PastError::Rebuild(PastFailure::Failed(detail)) => {
                CommandError::internal(detail)
            }
            past_views::PastError::Stopped => {
                CommandError::internal("rebuilding a past state stopped")
            }
        })
    }

    /// How many past states were rebuilt since the start (answers shared
    /// with a rebuild under way, or cached, rebuild nothing).
    pub fn past_rebuilds(&self) -> u64 {
        self.past_views.rebuilds()
    }

    /// What past states depend on besides their seq: erasures (a past
    /// state rebuilt before one may hold the erased person's name) and
    /// prunes (a point before one may no longer be rebuildable). Both only
    /// grow, so their sum changes whenever either does.
    fn past_epoch(&self) -> u64 {
        let views = self.views();
        let erased = u64::try_from(views.users.erased().count()).unwrap_or(u64::MAX);
        let pruned = views
            .retention
            .last_prune()
            .map(|prune| prune.seq)
            .unwrap_or(0);
        erased.saturating_add(pruned)
    }

    /// Folds the views as of `seq` (blocking: the pool runs it off the
    /// async runtime).
    fn rebuild_views_at(&self, seq: u64) -> Result<Views, PastFailure> {
        match snapshots::rebuild(self.log.reader(), &self.snapshots, seq) {
            Ok((views, _)) => Ok(views),
            Err(snapshots::RebuildError::Pruned { seq }) => Err(PastFailure::Pruned { seq }),
            Err(error) => Err(PastFailure::Failed(error.to_string())),
        }
    }

    /// The snapshot files.
    pub fn snapshots(&self) -> &Snapshots {
        &self.snapshots
    }

    /// The seq of the latest snapshot written or loaded (0: none).
    pub fn last_snapshot_seq(&self) -> u64 {
        self.last_snapshot.load(Ordering::Acquire)
    }

    /// Notified when enough events have accumulated for a checkpoint.
    pub fn checkpoint_due(&self) -> &Notify {
        &self.checkpoint_due
    }

    /// Notified when the retention policy changed.
    pub fn retention_due(&self) -> &Notify {
        &self.retention_due
    }

    /// Holds off other maintenance (snapshots, retention) while alive.
    pub fn maintenance(&self) -> MutexGuard<'_, ()> {
        match self.maintenance.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Writes a snapshot of the views as they are now, once the state it
    /// captures is durable, and keeps only the `keep` newest snapshots
    /// (blocking: run it off the async runtime). The caller holds
    /// [`App::maintenance`].
    pub(crate) fn write_snapshot_locked(
        &self,
        keep: usize,
    ) -> Result<SnapshotInfo, SnapshotFailure> {
        // A copy, so commands wait only for the copy, not for the disk.
        let views = self.views().clone();
        let seq = views.applied_seq();
        self.log.wait_durable(seq)?;
        let hash = match self.log.reader().read(seq)? {
            Some(record) => record.hash,
            None => cairn_core::log::chain::GENESIS_HASH,
        };
        let info = self.snapshots.write(seq, &hash, &views)?;
        drop(views);
        let mut kept: Vec<u64> = self.snapshots.list()?.iter().map(|info| info.seq).collect();
        kept.sort_unstable();
        let keep_from = kept.len().saturating_sub(keep.max(1));
        self.snapshots.remove_all_but(&kept[keep_from..])?;
        self.last_snapshot.store(seq, Ordering::Release);
        Ok(info)
    }

    /// Writes a snapshot now (see [`App::write_snapshot_locked`]), keeping
    /// the two newest.
    pub fn write_snapshot(&self) -> Result<SnapshotInfo, SnapshotFailure> {
        let _maintenance = self.maintenance();
        self.write_snapshot_locked(2)
    }

    fn views_mut(&self) -> RwLockWriteGuard<'_, Views> {
        match self.views.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Runs `decide` on the current views with the App's ids and appends
    /// and applies its events, all under the views' write lock. Not
    /// durable on return.
    fn append_decided<R, E>(
        &self,
        decide: impl FnOnce(&Views, &cairn_core::IdSource) -> Result<Decided<R>, E>,
    ) -> Result<(R, Vec<Record>), E>
    where
        E: From<AppendError> + From<ApplyError>,
    {
        let mut views = self.views_mut();
        let Decided { events, reply } = decide(&views, &self.ids)?;
        let records = self.log.append_with(|_| Ok::<_, E>(events))?;
        for record in &records {
            views.apply(record, self.log.reader())?;
        }
        drop(views);
        self.note_appended(&records);
        Ok((reply, records))
    }

    /// Appends the events `decide` returns given the current views, and
    /// applies them, under one lock. Not durable on return (offline
    /// commands and the prune pass, which wait themselves).
    pub fn append<E>(
        &self,
        decide: impl FnOnce(&Views) -> Result<Vec<NewEvent>, E>,
    ) -> Result<Vec<Record>, E>
    where
        E: From<AppendError> + From<ApplyError>,
    {
        self.append_decided(|views, _| decide(views).map(|events| Decided::new(events, ())))
            .map(|((), records)| records)
    }

    /// Waits until the last of `records` is durable.
    async fn durable(&self, records: &[Record]) -> Result<(), DurabilityError> {
        match records.last() {
            Some(last) => self.log.durable(last.header.seq).await,
            None => Ok(()),
        }
    }

    /// Wakes the checkpoint job when the records just appended make a
    /// checkpoint due.
    fn note_appended(&self, records: &[Record]) {
        if let Some(last) = records.last() {
            let since_checkpoint = self
                .views()
                .system
                .last_checkpoint
                .as_ref()
                .map(|c| c.seq)
                .unwrap_or(0);
            if last.header.seq.saturating_sub(since_checkpoint) >= self.settings.cadence.every {
                self.checkpoint_due.notify_one();
            }
        }
    }

    /// Runs `decide` on the current views with the App's ids, under the
    /// views' write lock: its events are appended and applied under that
    /// same lock, so what it decided on is exactly what its events follow
    /// (nothing can change in between), and nothing else runs under the
    /// lock. Waits until the events are durable, then returns the reply.
    /// A decision reads only its arguments, so it may be run again on
    /// fresher views and gives the same answer for the same state.
    pub async fn decide<R, E>(
        &self,
        decide: impl FnOnce(&Views, &cairn_core::IdSource) -> Result<Decided<R>, E>,
    ) -> Result<R, E>
    where
        E: From<AppendError> + From<ApplyError> + From<DurabilityError>,
    {
        let (reply, records) = self.append_decided(decide)?;
        self.durable(&records).await?;
        Ok(reply)
    }

    /// Appends events and waits until they are durable.
    pub async fn commit(&self, events: Vec<NewEvent>) -> Result<Vec<Record>, CommitError> {
        let records = self.append(|_| Ok::<_, CommitError>(events))?;
        self.durable(&records).await?;
        Ok(records)
    }

    /// Signs a checkpoint of the head and waits until it is durable.
    /// Returns the covered seq, or `None` on an empty log.
    pub async fn checkpoint(&self) -> Result<Option<u64>, CommitError> {
        let record = {
            let mut views = self.views_mut();
            let record = self.log.checkpoint(&self.signer)?;
            if let Some(record) = &record {
                views.apply(record, self.log.reader())?;
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

    /// HMAC of a normalized username (lockout key, audit correlation).
    /// A name that belongs to a user is keyed by that user's own subject
    /// key, so erasing them breaks the link: nobody can fingerprint a
    /// guessed name and match it to their past logins. A name that matches
    /// nobody (or an erased user) is keyed by the audit key, so failures
    /// on it are still counted and correlated.
    pub(crate) fn username_fingerprint(
        &self,
        normalized: &str,
    ) -> Result<[u8; 32], cairn_core::log::PersonalError> {
        let owner = self.views().users.by_name(normalized).map(|user| user.id);
        if let Some(owner) = owner
            && let Some(digest) = self
                .log()
                .subject_fingerprint(owner, normalized.as_bytes())?
        {
            return Ok(digest);
        }
        Ok(self.fingerprinter.digest(normalized.as_bytes()))
    }

    /// HMAC of a secret value under the audit key (what exports show).
    pub(crate) fn value_fingerprint(&self, value: &[u8]) -> [u8; 32] {
        self.fingerprinter.digest(value)
    }

    /// Seals and opens secret values.
    pub(crate) fn vault(&self) -> &vault::Vault {
        &self.vault
    }

    /// The bounded queue of runs waiting for a worker.
    pub fn run_queue(&self) -> &runs::RunQueue {
        &self.run_queue
    }

    /// The randomness source.
    pub fn entropy(&self) -> &dyn Entropy {
        self.entropy.as_ref()
    }

    pub(crate) fn entropy_arc(&self) -> Arc<dyn Entropy> {
        Arc::clone(&self.entropy)
    }

    pub(crate) fn passwords(&self) -> &passwords::PasswordPool {
        &self.passwords
    }

    /// Password verifications in flight per username.
    pub(crate) fn login_attempts(&self) -> &login_attempts::LoginAttempts {
        &self.login_attempts
    }
}
