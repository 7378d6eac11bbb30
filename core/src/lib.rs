//! Cairn's core: the durable, hash-chained event log and everything it needs
//! that has no state of its own.
//!
//! - [`log`]: the log on sled (the only module that touches sled), its codec,
//!   hash chain, group commit, recovery, verification, checkpoints and sealed
//!   personal data.
//! - [`crypto`]: master key, key derivation, sealed values, password hashing,
//!   fingerprints, constant-time comparison, checkpoint signing.
//! - [`clock`] and [`entropy`]: time and randomness are passed in, so tests
//!   and replays are deterministic; [`ids`] makes ids from both.
//! - [`rules`]: pure rules that need no state: username normalization and
//!   the password policy.
//!
//! Architecture invariant: this crate is synchronous domain code. It never
//! imports axum, tokio's network types or jsonwebtoken (a test in cairn-api
//! reads `cargo metadata` and fails if it does).

pub mod clock;
pub mod crypto;
pub mod entropy;
pub mod ids;
pub mod log;
pub mod rules;
pub mod time_format;

pub use clock::{Clock, SystemClock};
pub use entropy::{Entropy, OsEntropy};
pub use ids::IdSource;
