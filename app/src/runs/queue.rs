//! The run queue: bounded, and fair between invokers. Runs wait per
//! invoker and workers take them round-robin (the invoker served goes to
//! the back of the line), so one member's hundred queued runs do not make
//! another's one wait behind them; and no invoker holds more than all the
//! workers but one while others wait, so runs stuck on a slow target
//! cannot take the whole pool.
//!
//! A request reserves its place before `run.requested` is appended, so a
//! full queue is answered 503 with nothing written; the place is given
//! back if the append fails (dropped unsent).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;
use uuid::Uuid;

use crate::CommandError;

/// Places in the run queue per worker.
pub const QUEUE_PER_WORKER: usize = 16;

/// The pure state of the queue: who waits with which runs, whose turn it
/// is, and how many runs each invoker has running.
#[derive(Debug, Default)]
pub struct FairQueue {
    waiting: HashMap<Uuid, VecDeque<Uuid>>,
    /// Invokers with waiting runs, in turn order.
    turn: VecDeque<Uuid>,
    running: HashMap<Uuid, usize>,
    reserved: usize,
    queued: usize,
    capacity: usize,
    running_per_invoker: usize,
}

impl FairQueue {
    /// Room for `capacity` waiting runs; an invoker runs at most
    /// `running_per_invoker` at once.
    pub fn new(capacity: usize, running_per_invoker: usize) -> FairQueue {
        FairQueue {
            capacity: capacity.max(1),
            running_per_invoker: running_per_invoker.max(1),
            ..FairQueue::default()
        }
    }

    /// Takes a place, if there is room.
    pub fn try_reserve(&mut self) -> bool {
        if self.reserved + self.queued >= self.capacity {
            return false;
        }
        self.reserved += 1;
        true
    }

    /// Gives an unused place back.
    pub fn release(&mut self) {
        self.reserved = self.reserved.saturating_sub(1);
    }

    /// Fills a reserved place with `run` of `invoker`.
    pub fn push(&mut self, invoker: Uuid, run: Uuid) {
        self.reserved = self.reserved.saturating_sub(1);
        self.queued += 1;
        let runs = self.waiting.entry(invoker).or_default();
        if runs.is_empty() {
            self.turn.push_back(invoker);
        }
        runs.push_back(run);
    }

    /// The next run to start: of the first invoker in turn who may run
    /// one more, who then goes to the back of the line.
    pub fn pop(&mut self) -> Option<(Uuid, Uuid)> {
        let position = self.turn.iter().position(|invoker| {
            self.running.get(invoker).copied().unwrap_or(0) < self.running_per_invoker
        })?;
        let invoker = self.turn.remove(position)?;
        let runs = self.waiting.get_mut(&invoker)?;
        let run = runs.pop_front()?;
        if runs.is_empty() {
            self.waiting.remove(&invoker);
        } else {
            self.turn.push_back(invoker);
        }
        self.queued = self.queued.saturating_sub(1);
        *self.running.entry(invoker).or_default() += 1;
        Some((invoker, run))
    }

    /// A run of `invoker` ended.
    pub fn finished(&mut self, invoker: Uuid) {
        if let Some(count) = self.running.get_mut(&invoker) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.running.remove(&invoker);
            }
        }
    }
}

/// The queue between the requests (and the scheduler) and the worker
/// pool.
#[derive(Debug)]
pub struct RunQueue {
    state: Mutex<FairQueue>,
    ready: Notify,
    workers_started: AtomicBool,
}

/// A reserved place in the queue; given back when dropped unsent.
#[derive(Debug)]
pub struct Place<'q> {
    queue: &'q RunQueue,
    invoker: Uuid,
    sent: bool,
}

impl Place<'_> {
    /// Queues the run (once its request is durable).
    pub fn send(mut self, run: Uuid) {
        self.sent = true;
        self.queue.lock().push(self.invoker, run);
        self.queue.ready.notify_waiters();
    }
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        if !self.sent {
            self.queue.lock().release();
        }
    }
}

impl RunQueue {
    /// A queue with room for [`QUEUE_PER_WORKER`] runs per worker; one
    /// invoker runs on at most all the workers but one (one, with one).
    pub fn new(workers: usize) -> RunQueue {
        let workers = workers.max(1);
        RunQueue {
            state: Mutex::new(FairQueue::new(
                workers * QUEUE_PER_WORKER,
                workers.saturating_sub(1).max(1),
            )),
            ready: Notify::new(),
            workers_started: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, FairQueue> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A place in the queue for a run of `invoker`, or `Overloaded` (503)
    /// when it is full.
    pub fn reserve(&self, invoker: Uuid) -> Result<Place<'_>, CommandError> {
        if self.lock().try_reserve() {
            Ok(Place {
                queue: self,
                invoker,
                sent: false,
            })
        } else {
            Err(CommandError::Overloaded)
        }
    }

    /// True the first time only: the worker pool starts once.
    pub fn claim_workers(&self) -> bool {
        !self.workers_started.swap(true, Ordering::SeqCst)
    }

    /// Waits for the next run to start: `(invoker, run)`. The worker
    /// calls [`RunQueue::finished`] when it ends.
    pub async fn next(&self) -> (Uuid, Uuid) {
        loop {
            let notified = self.ready.notified();
            tokio::pin!(notified);
            // Registered before looking, so a push in between wakes it.
            notified.as_mut().enable();
            if let Some(next) = self.lock().pop() {
                return next;
            }
            notified.await;
        }
    }

    /// A run of `invoker` ended: another of theirs may start.
    pub fn finished(&self, invoker: Uuid) {
        self.lock().finished(invoker);
        self.ready.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: Uuid = Uuid::from_u128(1);
    const BOB: Uuid = Uuid::from_u128(2);
    const CAROL: Uuid = Uuid::from_u128(3);

    fn run(n: u128) -> Uuid {
        Uuid::from_u128(1000 + n)
    }

    fn queued(queue: &mut FairQueue, invoker: Uuid, runs: impl IntoIterator<Item = u128>) {
        for n in runs {
            assert!(queue.try_reserve(), "room");
            queue.push(invoker, run(n));
        }
    }

    #[test]
    fn one_invokers_many_runs_do_not_make_anothers_one_wait_behind_them() {
        // Given alice queued 100 runs, then bob one
        let mut queue = FairQueue::new(1000, 1000);
        queued(&mut queue, ALICE, 0..100);
        queued(&mut queue, BOB, [500]);
        // When two workers take runs
        let first = queue.pop().expect("one");
        let second = queue.pop().expect("two");
        // Then bob's run is the second one started, not the 101st
        assert_eq!(first, (ALICE, run(0)));
        assert_eq!(second, (BOB, run(500)));
        assert_eq!(queue.pop(), Some((ALICE, run(1))));
    }

    #[test]
    fn invokers_take_turns_round_robin_and_each_keeps_their_order() {
        let mut queue = FairQueue::new(100, 100);
        queued(&mut queue, ALICE, [1, 2, 3]);
        queued(&mut queue, BOB, [4]);
        queued(&mut queue, CAROL, [5, 6]);
        let order: Vec<Uuid> = std::iter::from_fn(|| queue.pop().map(|(_, run)| run)).collect();
        assert_eq!(order, [1, 4, 5, 2, 6, 3].map(run));
    }

    #[test]
    fn an_invoker_at_their_running_limit_waits_while_others_run() {
        // Given one run each at most, alice with two waiting
        let mut queue = FairQueue::new(100, 1);
        queued(&mut queue, ALICE, [1, 2]);
        assert_eq!(queue.pop(), Some((ALICE, run(1))));
        // When nobody else waits, alice's second still waits for her first
        assert_eq!(queue.pop(), None);
        // Then bob's run starts at once
        queued(&mut queue, BOB, [3]);
        assert_eq!(queue.pop(), Some((BOB, run(3))));
        // And alice's second starts when her first ends
        queue.finished(ALICE);
        assert_eq!(queue.pop(), Some((ALICE, run(2))));
    }

    #[test]
    fn the_queue_is_bounded_and_a_place_given_back_is_free_again() {
        let mut queue = FairQueue::new(2, 1);
        assert!(queue.try_reserve());
        assert!(queue.try_reserve());
        assert!(!queue.try_reserve(), "full");
        queue.release();
        assert!(queue.try_reserve(), "room again");
        queue.push(ALICE, run(1));
        assert!(!queue.try_reserve(), "a queued run holds its place");
        assert!(queue.pop().is_some());
        assert!(queue.try_reserve(), "a started run frees it");
    }

    #[tokio::test]
    async fn a_dropped_place_is_given_back_and_a_sent_run_reaches_a_worker() {
        let queue = RunQueue::new(1);
        let mut places = Vec::new();
        for _ in 0..QUEUE_PER_WORKER {
            places.push(queue.reserve(ALICE).expect("room"));
        }
        assert!(matches!(
            queue.reserve(ALICE),
            Err(CommandError::Overloaded)
        ));
        places.pop();
        let place = queue.reserve(BOB).expect("room again");
        place.send(run(7));
        assert!(queue.claim_workers());
        assert!(!queue.claim_workers(), "claimed once");
        assert_eq!(queue.next().await, (BOB, run(7)));
    }
}
