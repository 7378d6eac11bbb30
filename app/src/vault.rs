//! Sealing and opening secret values (`$cairn$1$<owner_id>$…`) under the
//! owner's key derived from the master key (docs/contract.md section 5). The only
//! place in the server that holds the master key after start-up; it never
//! prints.

use std::fmt;

use cairn_core::Entropy;
use cairn_core::crypto::{MasterKey, open_value, seal_value};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::CommandError;

/// Seals and opens values for their owners.
pub struct Vault {
    master: MasterKey,
}

impl fmt::Debug for Vault {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Vault(..redacted..)")
    }
}

impl Vault {
    /// A vault with its own copy of the master key.
    pub fn new(master: &MasterKey) -> Vault {
        Vault {
            master: master.duplicate(),
        }
    }

    /// Seals `plaintext` for `owner` under a fresh nonce.
    pub fn seal(&self, owner: Uuid, plaintext: &[u8], entropy: &dyn Entropy) -> String {
        seal_value(&self.master, owner, plaintext, entropy)
    }

    /// Opens a stored value (with the key of the owner named inside it).
    /// A value that does not open is an internal error: it was sealed by
    /// this server under this master key.
    pub fn open(&self, stored: &str) -> Result<Zeroizing<Vec<u8>>, CommandError> {
        open_value(&self.master, stored).map_err(|error| {
            CommandError::internal(format!("a stored value does not open: {error}"))
        })
    }
}
