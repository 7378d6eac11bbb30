//! Secret values and connections, as stored: sealed values, their versions
//! and fingerprints. Who may use them is the catalog's and the grants'
//! business (`sharing`, `access`).

mod connections;
mod secret_values;

pub use connections::{ConnectionRecord, Connections};
pub use secret_values::{SecretRecord, SecretValue, Secrets};
