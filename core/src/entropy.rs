//! Randomness as a parameter: the operating system's CSPRNG in production, a
//! seeded generator in tests (every random test prints its seed).

use std::sync::Mutex;

use rand::rngs::{OsRng, StdRng};
use rand::{RngCore, SeedableRng};

/// A source of random bytes for nonces, keys, salts and ids.
pub trait Entropy: Send + Sync + std::fmt::Debug {
    /// Fills `dest` with random bytes.
    fn fill(&self, dest: &mut [u8]);
}

/// The operating system's CSPRNG (`getrandom`).
#[derive(Clone, Copy, Debug, Default)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&self, dest: &mut [u8]) {
        OsRng.fill_bytes(dest);
    }
}

/// A deterministic generator from a seed. Never for production keys.
#[derive(Debug)]
pub struct SeededEntropy {
    rng: Mutex<StdRng>,
}

impl SeededEntropy {
    /// A generator that yields the same bytes for the same seed.
    pub fn new(seed: u64) -> Self {
        SeededEntropy {
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        }
    }
}

impl Entropy for SeededEntropy {
    fn fill(&self, dest: &mut [u8]) {
        // A poisoned lock only means another thread panicked mid-draw; the
        // generator state is still usable.
        let mut rng = match self.rng.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        rng.fill_bytes(dest);
    }
}

/// Draws an array of `N` random bytes.
pub fn random_array<const N: usize>(entropy: &dyn Entropy) -> [u8; N] {
    let mut out = [0u8; N];
    entropy.fill(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_is_reproducible_and_os_is_not_constant() {
        let a: [u8; 16] = random_array(&SeededEntropy::new(7));
        let b: [u8; 16] = random_array(&SeededEntropy::new(7));
        assert_eq!(a, b);
        let c: [u8; 32] = random_array(&OsEntropy);
        let d: [u8; 32] = random_array(&OsEntropy);
        assert_ne!(c, d);
    }
}
