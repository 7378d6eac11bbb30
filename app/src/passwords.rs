//! Password hashing off the async runtime: argon2id runs on the blocking
//! pool behind a semaphore, so a login flood cannot starve other requests;
//! when too many wait, new ones are shed (503) rather than queued without
//! bound.
//!
//! Each hash needs ~19 MiB of argon2 working memory. The pool keeps one
//! [`HashMemory`] per permit and lends it to the task holding the permit,
//! so hashing memory stays at `concurrency` × 19 MiB, allocated on first use
//! and never freed or page-faulted again (a fresh buffer per hash cost a
//! sixth of the CPU in zero-filling, and glibc kept the freed buffers).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use cairn_core::Entropy;
use cairn_core::crypto::password::{
    HashMemory, burn_equivalent_time_with, hash_password_with, verify_password_with,
};
use cairn_schemas::Password;
use tokio::sync::Semaphore;

use super::CommandError;

/// The hashing pool.
#[derive(Debug)]
pub struct PasswordPool {
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
    /// Idle buffers; a task holding a permit takes one (or makes one when
    /// none is idle) and puts it back, so there are never more than the
    /// number of permits.
    memory: Arc<Mutex<Vec<HashMemory>>>,
    concurrency: usize,
}

/// Leaves the waiting count when dropped, however the wait ends.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PasswordPool {
    /// At most `concurrency` hashes at once, at most `max_waiting` queued.
    pub fn new(concurrency: usize, max_waiting: usize) -> PasswordPool {
        let concurrency = concurrency.max(1);
        PasswordPool {
            permits: Arc::new(Semaphore::new(concurrency)),
            waiting: AtomicUsize::new(0),
            max_waiting,
            memory: Arc::new(Mutex::new(Vec::with_capacity(concurrency))),
            concurrency,
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut HashMemory) -> T + Send + 'static,
    ) -> Result<T, CommandError> {
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(CommandError::Overloaded);
        }
        let waiting = Waiting(&self.waiting);
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| CommandError::internal("the hashing pool is closed"))?;
        drop(waiting);
        let pool = Arc::clone(&self.memory);
        let concurrency = self.concurrency;
        let outcome = tokio::task::spawn_blocking(move || {
            // Allocated here, off the async runtime, the first time only.
            let mut memory = take_memory(&pool).unwrap_or_default();
            let result = work(&mut memory);
            give_back_memory(&pool, memory, concurrency);
            drop(permit);
            result
        })
        .await;
        outcome.map_err(|error| CommandError::internal(format!("a hashing task failed: {error}")))
    }

    /// Hashes a new password (argon2id, OWASP parameters).
    pub async fn hash(
        &self,
        password: &Password,
        entropy: Arc<dyn Entropy>,
    ) -> Result<String, CommandError> {
        let password = password.clone();
        self.run(move |memory| hash_password_with(memory, password.expose().as_bytes(), &*entropy))
            .await?
            .map_err(CommandError::internal)
    }

    /// Verifies a password against a PHC string; `None` for an unknown user
    /// costs exactly as much and answers false.
    pub async fn verify(
        &self,
        password: &Password,
        phc: Option<String>,
    ) -> Result<bool, CommandError> {
        let password = password.clone();
        self.run(move |memory| match phc {
            Some(phc) => {
                verify_password_with(memory, password.expose().as_bytes(), &phc).unwrap_or(false)
            }
            None => {
                burn_equivalent_time_with(memory, password.expose().as_bytes());
                false
            }
        })
        .await
    }
}

/// An idle buffer, if any. A poisoned lock only means another task panicked
/// while pushing or popping; the vector is still sound.
fn take_memory(pool: &Mutex<Vec<HashMemory>>) -> Option<HashMemory> {
    pool.lock().unwrap_or_else(PoisonError::into_inner).pop()
}

/// Returns a buffer (already wiped by the hashing functions) for the next
/// task; keeps at most `concurrency` of them.
fn give_back_memory(pool: &Mutex<Vec<HashMemory>>, memory: HashMemory, concurrency: usize) {
    let mut idle = pool.lock().unwrap_or_else(PoisonError::into_inner);
    if idle.len() < concurrency {
        idle.push(memory);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_core::entropy::SeededEntropy;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn buffers_are_reused_and_bounded_by_the_concurrency() {
        let pool = Arc::new(PasswordPool::new(2, 16));
        let entropy: Arc<dyn Entropy> = Arc::new(SeededEntropy::new(5));
        let phc = pool.hash(&Password::new("pw"), entropy).await.unwrap();
        let mut tasks = Vec::new();
        for attempt in ["pw", "pW", "pw", "other", "pw", "pw"] {
            let pool = Arc::clone(&pool);
            let phc = (attempt != "other").then(|| phc.clone());
            tasks.push(tokio::spawn(async move {
                pool.verify(&Password::new(attempt), phc).await.unwrap()
            }));
        }
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap());
        }
        assert_eq!(answers, [true, false, true, false, true, true]);
        let idle = pool.memory.lock().unwrap();
        assert!((1..=2).contains(&idle.len()), "{}", idle.len());
    }
}
