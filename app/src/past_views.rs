//! Past states of the views (`at_seq` questions: explain, the access
//! review), rebuilt on a bounded pool and shared.
//!
//! Rebuilding the views as of a seq folds the log from the nearest
//! snapshot: seconds of CPU and memory of a whole state. Without a bound,
//! any caller could start as many as they like in parallel. So:
//! - at most `concurrency` rebuilds run at once, each on the blocking pool
//!   (never on the async runtime);
//! - requests for a seq already being rebuilt join that rebuild instead of
//!   starting another (N parallel requests for one seq rebuild once);
//! - at most `queue` further seqs wait for a slot; a request for yet
//!   another seq is shed at once ([`PastError::Busy`], a 503 with
//!   `Retry-After`), so the wait of every caller is bounded by the work
//!   ahead of it;
//! - the last `cached` points rebuilt are kept (least recently used
//!   evicted), so asking again about the same point costs nothing.
//!
//! A rebuild, once started, runs to its end in its own task even when
//! every caller waiting for it has gone (a dropped request cannot leave a
//! slot taken or a point half-built), and its result is cached.
//!
//! Cached points are tagged with an epoch the caller computes from the
//! current state (erasures and prunes): a past state rebuilt before an
//! erasure may hold the erased person's name, and one rebuilt before a
//! prune may no longer be rebuildable; either change of epoch drops every
//! cached point.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Semaphore, watch};

/// Rebuilds that run at once by default (the server has few cores, and
/// each rebuild holds a whole state in memory).
pub const DEFAULT_CONCURRENCY: usize = 2;
/// Further points that may wait for a slot by default.
pub const DEFAULT_QUEUE: usize = 8;
/// Points kept once rebuilt by default.
pub const DEFAULT_CACHED: usize = 4;

/// Why a past state is not available.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PastError<E> {
    /// Too many other points are being rebuilt or wait to be: try later.
    #[error("too many past states are being rebuilt")]
    Busy,
    /// The rebuild failed.
    #[error("{0}")]
    Rebuild(E),
    /// The rebuild's task ended without an answer (it panicked, or the
    /// runtime is shutting down).
    #[error("the rebuild stopped before it finished")]
    Stopped,
}

/// What waiters of one rebuild receive: nothing yet, then its outcome.
type Outcome<T, E> = Option<Result<Arc<T>, PastError<E>>>;

/// The bounded, shared rebuilds of past states of type `T` (the views),
/// with rebuild errors of type `E`.
#[derive(Debug)]
pub struct PastStates<T, E> {
    permits: Arc<Semaphore>,
    concurrency: usize,
    queue: usize,
    cached: usize,
    inner: Mutex<Inner<T, E>>,
    rebuilds: AtomicU64,
}

#[derive(Debug)]
struct Inner<T, E> {
    /// The epoch the cached points belong to.
    epoch: u64,
    /// Most recently used first.
    cache: VecDeque<(u64, Arc<T>)>,
    /// Rebuilds running or waiting for a slot, by seq (and epoch).
    flights: HashMap<(u64, u64), watch::Receiver<Outcome<T, E>>>,
}

impl<T, E> PastStates<T, E>
where
    T: Send + Sync + 'static,
    E: Clone + Send + Sync + 'static,
{
    /// At most `concurrency` rebuilds at once (at least 1), `queue` more
    /// waiting, `cached` points kept.
    pub fn new(concurrency: usize, queue: usize, cached: usize) -> Self {
        let concurrency = concurrency.max(1);
        PastStates {
            permits: Arc::new(Semaphore::new(concurrency)),
            concurrency,
            queue,
            cached,
            inner: Mutex::new(Inner {
                epoch: 0,
                cache: VecDeque::new(),
                flights: HashMap::new(),
            }),
            rebuilds: AtomicU64::new(0),
        }
    }

    /// How many rebuilds were started since the server started (a cached
    /// or shared answer starts none).
    pub fn rebuilds(&self) -> u64 {
        self.rebuilds.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, Inner<T, E>> {
        match self.inner.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The state as of `seq` in `epoch`: cached, shared with a rebuild
    /// already under way, or rebuilt by `rebuild` (blocking; it runs on the
    /// blocking pool once a slot is free).
    pub async fn get(
        self: &Arc<Self>,
        seq: u64,
        epoch: u64,
        rebuild: impl FnOnce() -> Result<T, E> + Send + 'static,
    ) -> Result<Arc<T>, PastError<E>> {
        let mut waiting = {
            let mut inner = self.lock();
            if inner.epoch != epoch {
                // Points of another epoch are never answered again.
                inner.epoch = epoch;
                inner.cache.clear();
            }
            if let Some(found) = inner.cache.iter().position(|(at, _)| *at == seq)
                && let Some(entry) = inner.cache.remove(found)
            {
                let state = Arc::clone(&entry.1);
                inner.cache.push_front(entry);
                return Ok(state);
            }
            match inner.flights.get(&(seq, epoch)) {
                Some(flight) => flight.clone(),
                None => {
                    if inner.flights.len() >= self.concurrency + self.queue {
                        return Err(PastError::Busy);
                    }
                    let (done, waiting) = watch::channel(None);
                    inner.flights.insert((seq, epoch), waiting.clone());
                    tokio::spawn(Arc::clone(self).fly(seq, epoch, rebuild, done));
                    waiting
                }
            }
        };
        let outcome = waiting
            .wait_for(Option::is_some)
            .await
            .map_err(|_| PastError::Stopped)?;
        match &*outcome {
            Some(outcome) => outcome.clone(),
            None => Err(PastError::Stopped),
        }
    }

    /// One rebuild, from waiting for a slot to publishing its outcome.
    async fn fly(
        self: Arc<Self>,
        seq: u64,
        epoch: u64,
        rebuild: impl FnOnce() -> Result<T, E> + Send + 'static,
        done: watch::Sender<Outcome<T, E>>,
    ) {
        let outcome = match Arc::clone(&self.permits).acquire_owned().await {
            Err(_) => Err(PastError::Stopped),
            Ok(permit) => {
                self.rebuilds.fetch_add(1, Ordering::Relaxed);
                let built = tokio::task::spawn_blocking(move || {
                    let built = rebuild();
                    drop(permit);
                    built
                })
                .await;
                match built {
                    Ok(Ok(state)) => Ok(Arc::new(state)),
                    Ok(Err(error)) => Err(PastError::Rebuild(error)),
                    Err(_) => Err(PastError::Stopped),
                }
            }
        };
        {
            let mut inner = self.lock();
            inner.flights.remove(&(seq, epoch));
            if let Ok(state) = &outcome
                && inner.epoch == epoch
                && self.cached > 0
            {
                inner.cache.retain(|(at, _)| *at != seq);
                inner.cache.push_front((seq, Arc::clone(state)));
                inner.cache.truncate(self.cached);
            }
        }
        // Nobody waiting any more is not an error: the point is cached.
        let _ = done.send(Some(outcome));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use super::*;

    type Pool = PastStates<u64, String>;

    /// A rebuild that counts itself, tracks how many run at once, and
    /// takes a little while (so parallel requests overlap it).
    fn counting(
        seq: u64,
        started: &Arc<AtomicUsize>,
        running: &Arc<AtomicUsize>,
        most: &Arc<AtomicUsize>,
    ) -> impl FnOnce() -> Result<u64, String> + Send + 'static {
        let (started, running, most) = (Arc::clone(started), Arc::clone(running), Arc::clone(most));
        move || {
            started.fetch_add(1, Ordering::SeqCst);
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(50));
            running.fetch_sub(1, Ordering::SeqCst);
            Ok(seq * 10)
        }
    }

    fn counters() -> (Arc<AtomicUsize>, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        (Arc::default(), Arc::default(), Arc::default())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn twenty_parallel_requests_for_one_seq_rebuild_once() {
        // Given a pool, when 20 requests for the same seq arrive at once,
        let pool = Arc::new(Pool::new(2, 8, 4));
        let (started, running, most) = counters();
        let mut requests = Vec::new();
        for _ in 0..20 {
            let pool = Arc::clone(&pool);
            let rebuild = counting(7, &started, &running, &most);
            requests.push(tokio::spawn(async move { pool.get(7, 0, rebuild).await }));
        }
        let mut answers = Vec::new();
        for request in requests {
            answers.push(request.await.expect("joined").expect("rebuilt"));
        }
        // then one rebuild served them all, with the same state.
        assert_eq!(started.load(Ordering::SeqCst), 1);
        assert_eq!(pool.rebuilds(), 1);
        assert!(answers.iter().all(|answer| **answer == 70));
        assert!(
            answers
                .iter()
                .all(|answer| Arc::ptr_eq(answer, &answers[0]))
        );
        // And asking again later is answered from the cache.
        let again = pool
            .get(7, 0, counting(7, &started, &running, &most))
            .await
            .expect("cached");
        assert!(Arc::ptr_eq(&again, &answers[0]));
        assert_eq!(pool.rebuilds(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_the_concurrency_runs_at_once_and_the_queue_waits() {
        // Given two slots and room for four more,
        let pool = Arc::new(Pool::new(2, 4, 8));
        let (started, running, most) = counters();
        // when six different seqs are asked at once,
        let mut requests = Vec::new();
        for seq in 1..=6 {
            let pool = Arc::clone(&pool);
            let rebuild = counting(seq, &started, &running, &most);
            requests.push(tokio::spawn(async move { pool.get(seq, 0, rebuild).await }));
        }
        for (seq, request) in (1..=6u64).zip(requests) {
            let answer = request.await.expect("joined").expect("rebuilt");
            assert_eq!(*answer, seq * 10);
        }
        // then all were answered, never more than two rebuilding at once.
        assert_eq!(started.load(Ordering::SeqCst), 6);
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_seq_past_the_queue_is_shed_as_busy() {
        // Given one slot and one place in the queue, both taken by
        // rebuilds that wait for a signal,
        let pool = Arc::new(Pool::new(1, 1, 4));
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate));
        let blocked = |seq: u64| {
            let gate = Arc::clone(&gate);
            move || {
                let _ = gate.lock().expect("gate").recv();
                Ok(seq)
            }
        };
        let first = tokio::spawn({
            let pool = Arc::clone(&pool);
            let rebuild = blocked(1);
            async move { pool.get(1, 0, rebuild).await }
        });
        let second = tokio::spawn({
            let pool = Arc::clone(&pool);
            let rebuild = blocked(2);
            async move { pool.get(2, 0, rebuild).await }
        });
        while pool.lock().flights.len() < 2 {
            tokio::task::yield_now().await;
        }
        // when a third seq is asked, it is shed at once,
        let third = pool.get(3, 0, || Ok(3)).await;
        assert_eq!(third, Err(PastError::Busy));
        // while a request for a seq under way joins it.
        let joined = tokio::spawn({
            let pool = Arc::clone(&pool);
            async move { pool.get(2, 0, || Ok(999)).await }
        });
        release.send(()).expect("release");
        release.send(()).expect("release");
        assert_eq!(*first.await.expect("joined").expect("first"), 1);
        assert_eq!(*second.await.expect("joined").expect("second"), 2);
        assert_eq!(*joined.await.expect("joined").expect("joined"), 2);
        assert_eq!(pool.rebuilds(), 2);
    }

    #[tokio::test]
    async fn a_new_epoch_drops_the_cached_points_and_lru_evicts_the_oldest() {
        let pool = Arc::new(Pool::new(1, 1, 2));
        for seq in [1, 2] {
            pool.get(seq, 0, move || Ok(seq)).await.expect("built");
        }
        // Seq 1 used again, so seq 2 is the least recently used...
        pool.get(1, 0, || Ok(0)).await.expect("cached");
        assert_eq!(pool.rebuilds(), 2);
        pool.get(3, 0, || Ok(3)).await.expect("built");
        // ...and was evicted by seq 3, while seq 1 stays.
        assert_eq!(*pool.get(1, 0, || Ok(0)).await.expect("cached"), 1);
        assert_eq!(pool.rebuilds(), 3);
        assert_eq!(*pool.get(2, 0, || Ok(22)).await.expect("rebuilt"), 22);
        assert_eq!(pool.rebuilds(), 4);
        // A new epoch (an erasure, a prune) rebuilds even a cached point.
        assert_eq!(*pool.get(2, 1, || Ok(23)).await.expect("rebuilt"), 23);
        assert_eq!(pool.rebuilds(), 5);
    }

    #[tokio::test]
    async fn a_failed_rebuild_is_answered_and_not_cached() {
        let pool = Arc::new(Pool::new(1, 1, 2));
        let failed = pool.get(5, 0, || Err("pruned".to_string())).await;
        assert_eq!(failed, Err(PastError::Rebuild("pruned".to_string())));
        assert_eq!(*pool.get(5, 0, || Ok(5)).await.expect("rebuilt"), 5);
        assert_eq!(pool.rebuilds(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rebuild_whose_callers_left_still_finishes_and_is_cached() {
        let pool = Arc::new(Pool::new(1, 1, 2));
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let request = tokio::spawn({
            let pool = Arc::clone(&pool);
            async move {
                pool.get(9, 0, move || {
                    let _ = gate.recv();
                    Ok(90)
                })
                .await
            }
        });
        while pool.rebuilds() == 0 {
            tokio::task::yield_now().await;
        }
        // The caller goes away mid-rebuild (a client that disconnected).
        request.abort();
        let _ = request.await;
        release.send(()).expect("release");
        while !pool.lock().flights.is_empty() {
            tokio::task::yield_now().await;
        }
        assert_eq!(*pool.get(9, 0, || Ok(0)).await.expect("cached"), 90);
        assert_eq!(pool.rebuilds(), 1);
    }
}
