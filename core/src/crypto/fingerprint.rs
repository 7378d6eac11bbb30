//! Keyed fingerprints: a stable, non-reversible tag for a value the audit
//! trail must recognise but not reveal (an email, a token, a secret).
//!
//! A plain hash of a low-entropy value can be brute-forced by anyone who
//! reads the audit log; HMAC-SHA256 under a key derived from the master key
//! cannot, yet the same value always gives the same fingerprint.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::crypto::derive::{DerivedKey, derive_key, info};
use crate::crypto::master_key::MasterKey;

/// What every fingerprint starts with, naming the algorithm.
pub const FINGERPRINT_PREFIX: &str = "hmac-sha256:";

/// Computes audit fingerprints with the key `derive_key(master,
/// info::AUDIT_FINGERPRINT)`. Its `Debug` output is redacted.
pub struct Fingerprinter {
    key: DerivedKey,
}

impl Fingerprinter {
    /// A fingerprinter keyed from `master`.
    pub fn new(master: &MasterKey) -> Fingerprinter {
        Fingerprinter {
            key: derive_key(master, info::AUDIT_FINGERPRINT),
        }
    }

    /// The raw HMAC-SHA256 of `value` (for fields stored as bytes).
    pub fn digest(&self, value: &[u8]) -> [u8; 32] {
        let mut mac = match Hmac::<Sha256>::new_from_slice(self.key.as_bytes()) {
            Ok(mac) => mac,
            // HMAC accepts keys of any length.
            Err(_) => unreachable!("HMAC-SHA256 accepts a 32-byte key"),
        };
        mac.update(value);
        mac.finalize().into_bytes().into()
    }

    /// `"hmac-sha256:"` followed by the lowercase hex HMAC-SHA256 of `value`.
    pub fn fingerprint(&self, value: &[u8]) -> String {
        format_fingerprint(&self.digest(value))
    }
}

/// What a per-subject fingerprint's HMAC input starts with, so the subject
/// key's MACs never collide with any other use of that key.
const SUBJECT_DOMAIN: &[u8] = b"cairn subject fingerprint v1\0";

/// A fingerprint of `value` keyed by one data subject's own key (the
/// random per-subject key of `core/src/log/personal.rs`):
/// HMAC-SHA256(subject key, "cairn subject fingerprint v1\0" || value).
///
/// Used where a fingerprint is about a known person (a login with their
/// username): erasing the person deletes the key, so after an erasure
/// nobody, not even the holder of the master key, can compute the
/// fingerprint of a guessed value and match it against the records.
pub fn subject_digest(subject_key: &[u8; 32], value: &[u8]) -> [u8; 32] {
    let mut mac = match Hmac::<Sha256>::new_from_slice(subject_key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC-SHA256 accepts a 32-byte key"),
    };
    mac.update(SUBJECT_DOMAIN);
    mac.update(value);
    mac.finalize().into_bytes().into()
}

/// Renders a raw fingerprint digest as `"hmac-sha256:<hex>"`.
pub fn format_fingerprint(digest: &[u8; 32]) -> String {
    format!("{FINGERPRINT_PREFIX}{}", hex::encode(digest))
}

impl std::fmt::Debug for Fingerprinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fingerprinter(..redacted..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counting_master() -> MasterKey {
        MasterKey::from_bytes(std::array::from_fn(|i| i as u8))
    }

    /// Computed independently with Python: `hmac.new(HKDF(..., info=b"audit-fingerprint")
    /// .derive(bytes(range(32))), b"alice@example.com", sha256).hexdigest()`.
    #[test]
    fn known_answer_from_python() {
        let fingerprinter = Fingerprinter::new(&counting_master());
        assert_eq!(
            fingerprinter.fingerprint(b"alice@example.com"),
            "hmac-sha256:22dfab2307f70bec90c496b46780504390c6f3943dc5905506be85c33f56b1a7"
        );
    }

    #[test]
    fn stable_per_value_and_key() {
        let fingerprinter = Fingerprinter::new(&counting_master());
        assert_eq!(
            fingerprinter.fingerprint(b"a"),
            fingerprinter.fingerprint(b"a")
        );
        assert_ne!(
            fingerprinter.fingerprint(b"a"),
            fingerprinter.fingerprint(b"b")
        );
        let other = Fingerprinter::new(&MasterKey::from_bytes([3; 32]));
        assert_ne!(fingerprinter.fingerprint(b"a"), other.fingerprint(b"a"));
        let fingerprint = fingerprinter.fingerprint(b"");
        assert_eq!(fingerprint.len(), FINGERPRINT_PREFIX.len() + 64);
        assert!(
            fingerprint[FINGERPRINT_PREFIX.len()..]
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    /// Computed independently with Python: `hmac.new(bytes(range(32)),
    /// b"cairn subject fingerprint v1\x00" + b"alice", sha256).hexdigest()`.
    #[test]
    fn subject_digest_known_answer_from_python() {
        let key: [u8; 32] = std::array::from_fn(|i| i as u8);
        assert_eq!(
            hex::encode(subject_digest(&key, b"alice")),
            "cc5d7cdfde12be4550acd1b1a58b741175a0e8e670d0f730dd85b5d943e130b7"
        );
    }

    #[test]
    fn a_subject_keyed_fingerprint_differs_from_the_audit_one_and_per_subject() {
        let fingerprinter = Fingerprinter::new(&counting_master());
        let key = [1u8; 32];
        assert_ne!(
            subject_digest(&key, b"alice"),
            fingerprinter.digest(b"alice")
        );
        assert_ne!(
            subject_digest(&key, b"alice"),
            subject_digest(&[2u8; 32], b"alice")
        );
        assert_eq!(
            subject_digest(&key, b"alice"),
            subject_digest(&key, b"alice")
        );
    }

    #[test]
    fn debug_is_redacted() {
        let master = counting_master();
        let fingerprinter = Fingerprinter::new(&master);
        let debug = format!("{fingerprinter:?}");
        assert_eq!(debug, "Fingerprinter(..redacted..)");
        let key = derive_key(&master, info::AUDIT_FINGERPRINT);
        assert!(!debug.contains(&hex::encode(&key.as_bytes()[..4])));
    }
}
