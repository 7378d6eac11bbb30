//! Password hashing off the async runtime: argon2id runs on the blocking
//! pool behind a semaphore, so a login flood cannot starve other requests;
//! when too many wait, new ones are shed (503) rather than queued without
//! bound.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use cairn_core::Entropy;
use cairn_core::crypto;
use cairn_schemas::Password;
use tokio::sync::Semaphore;

use super::CommandError;

/// The hashing pool.
#[derive(Debug)]
pub struct PasswordPool {
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
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
        PasswordPool {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            waiting: AtomicUsize::new(0),
            max_waiting,
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, CommandError> {
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(CommandError::Overloaded);
        }
        let waiting = Waiting(&self.waiting);
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| CommandError::Internal("the hashing pool is closed".into()))?;
        drop(waiting);
        let outcome = tokio::task::spawn_blocking(move || {
            let result = work();
            drop(permit);
            result
        })
        .await;
        outcome.map_err(|error| CommandError::Internal(format!("a hashing task failed: {error}")))
    }

    /// Hashes a new password (argon2id, OWASP parameters).
    pub async fn hash(
        &self,
        password: &Password,
        entropy: Arc<dyn Entropy>,
    ) -> Result<String, CommandError> {
        let password = password.clone();
        self.run(move || crypto::hash_password(password.expose().as_bytes(), &*entropy))
            .await?
            .map_err(|error| CommandError::Internal(error.to_string()))
    }

    /// Verifies a password against a PHC string; `None` for an unknown user
    /// costs exactly as much and answers false.
    pub async fn verify(
        &self,
        password: &Password,
        phc: Option<String>,
    ) -> Result<bool, CommandError> {
        let password = password.clone();
        self.run(move || match phc {
            Some(phc) => {
                crypto::verify_password(password.expose().as_bytes(), &phc).unwrap_or(false)
            }
            None => {
                crypto::burn_equivalent_time(password.expose().as_bytes());
                false
            }
        })
        .await
    }
}
