//! Purpose keys derived from the master key with HKDF-SHA256.
//!
//! One master key serves several purposes (JWT signing, audit fingerprints,
//! checkpoint signatures, per-owner value keys). Each purpose gets its own
//! key, `HKDF-SHA256(ikm = master key, salt = "cairn/v1", info = label)`, so
//! a key leaked or misused in one purpose says nothing about the others. The
//! labels are defined once, in [`info`]; changing one changes every key
//! derived from it and makes stored data unreadable.

use hkdf::Hkdf;
use sha2::Sha256;
use uuid::Uuid;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::crypto::master_key::MasterKey;

/// The HKDF salt: names the key schedule version.
pub const HKDF_SALT: &[u8] = b"cairn/v1";

/// Length of every derived key in bytes.
pub const DERIVED_KEY_LEN: usize = 32;

/// The HKDF `info` labels, one per purpose. A new purpose gets a new label
/// here; a label is never reused for another purpose.
pub mod info {
    use uuid::Uuid;

    /// The HS256 JWT secret (unless `CAIRN_JWT_SECRET` overrides it).
    pub const JWT_SIGNING: &[u8] = b"jwt-signing";
    /// The HMAC key of audit fingerprints.
    pub const AUDIT_FINGERPRINT: &[u8] = b"audit-fingerprint";
    /// The Ed25519 seed of checkpoint signatures.
    pub const CHECKPOINT_SIGNING: &[u8] = b"checkpoint-signing";
    /// The key that wraps per-subject keys of sealed personal data.
    pub const SUBJECT_KEY_WRAP: &[u8] = b"subject-key-wrap";
    /// The key that seals stored credentials.
    pub const CREDENTIAL_SEAL: &[u8] = b"credential-seal";
    /// The check value that tells whether a master key is the one a data
    /// dir was created with (stored in the log's `meta`).
    pub const MASTER_KEY_CHECK: &[u8] = b"master-key-check";
    /// The HMAC key that authenticates snapshots of the views, so a
    /// snapshot edited on disk is refused instead of believed.
    pub const SNAPSHOT_MAC: &[u8] = b"snapshot-mac";
    /// The HMAC key of the log's anchor file (`<data dir>/anchor`), so an
    /// anchor can be neither forged nor advanced without the master key.
    pub const ANCHOR_MAC: &[u8] = b"anchor-mac";
    /// The HMAC key that authenticates backup streams, so a backup edited
    /// or cut by someone without the master key is refused.
    pub const BACKUP_MAC: &[u8] = b"backup-mac";
    /// The prefix of per-owner secret-value keys; see [`secret_key`].
    pub const SECRET_KEY_PREFIX: &[u8] = b"secret-key:";
    /// The HMAC key that chains the erasure ledger's entries, so an entry
    /// cannot be forged, edited, reordered or removed without the master
    /// key (`core/src/log/erasure_ledger.rs`).
    pub const ERASURE_LEDGER: &[u8] = b"erasure-ledger";

    /// The label of the key that seals `owner_id`'s secret values:
    /// `secret-key:` followed by the owner id in hyphenated lowercase form.
    pub fn secret_key(owner_id: &Uuid) -> Vec<u8> {
        let mut label = Vec::with_capacity(SECRET_KEY_PREFIX.len() + uuid::fmt::Hyphenated::LENGTH);
        label.extend_from_slice(SECRET_KEY_PREFIX);
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        label.extend_from_slice(owner_id.hyphenated().encode_lower(&mut text).as_bytes());
        label
    }
}

/// A 32-byte key derived for one purpose. Wiped when dropped; its `Debug`
/// output is `DerivedKey(..redacted..)`.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct DerivedKey {
    bytes: [u8; DERIVED_KEY_LEN],
}

impl DerivedKey {
    /// The key bytes, to key a primitive. Do not copy them into storage
    /// that outlives the `DerivedKey`.
    pub fn as_bytes(&self) -> &[u8; DERIVED_KEY_LEN] {
        &self.bytes
    }
}

impl std::fmt::Debug for DerivedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DerivedKey(..redacted..)")
    }
}

/// Derives the key for purpose `info` from `master`:
/// HKDF-SHA256(ikm = master key bytes, salt = [`HKDF_SALT`], info).
pub fn derive_key(master: &MasterKey, info: &[u8]) -> DerivedKey {
    let hkdf = Hkdf::<Sha256>::new(Some(HKDF_SALT), master.as_bytes());
    let mut key = DerivedKey {
        bytes: [0u8; DERIVED_KEY_LEN],
    };
    if hkdf.expand(info, &mut key.bytes).is_err() {
        // HKDF-SHA256 refuses only outputs longer than 255 * 32 bytes.
        unreachable!("HKDF-SHA256 always expands to 32 bytes");
    }
    key
}

/// The key that seals and opens `owner_id`'s secret values.
pub fn owner_key(master: &MasterKey, owner_id: &Uuid) -> DerivedKey {
    derive_key(master, &info::secret_key(owner_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counting_master() -> MasterKey {
        MasterKey::from_bytes(std::array::from_fn(|i| i as u8))
    }

    const OWNER: &str = "018f2f4e-7b1c-7a3d-9e4f-0123456789ab";

    /// Known answers computed independently with Python `cryptography`:
    /// `HKDF(SHA256(), length=32, salt=b"cairn/v1", info=label).derive(bytes(range(32)))`.
    #[test]
    fn known_answers_from_python_cryptography() {
        let master = counting_master();
        let cases: [(&[u8], &str); 6] = [
            (
                info::JWT_SIGNING,
                "572e1b6507f22c3e55dd645684e51619a5006dd203aa602cd796de7922c76c14",
            ),
            (
                info::AUDIT_FINGERPRINT,
                "5fec1cc3961f1624d6ac76beb9264641375ff699eb22601588a05383ee94dca6",
            ),
            (
                info::CHECKPOINT_SIGNING,
                "c3c7515b5baaca4fd6d6e5070f1fd3d1e896358db6bd4304c8a7b18c61483b13",
            ),
            (
                info::SUBJECT_KEY_WRAP,
                "e62385f20b5db21fefcee30a5029c9bd07e653d9b8029fc822c0a4cb0a7d4da1",
            ),
            (
                info::CREDENTIAL_SEAL,
                "0c300b99432db500bd2a8098a0727e3e8216dbf86c46d25b5bbe05ed1a383b46",
            ),
            (
                info::ERASURE_LEDGER,
                "3f87ad78c62f8d81b72a98a97a90424abdfe3cb2b98eb320cc741b10f5d57a48",
            ),
        ];
        for (label, expected) in cases {
            assert_eq!(
                hex::encode(derive_key(&master, label).as_bytes()),
                expected,
                "{label:?}"
            );
        }
        let owner = Uuid::parse_str(OWNER).unwrap();
        assert_eq!(
            hex::encode(owner_key(&master, &owner).as_bytes()),
            "9e0c0513d90e4d9d7a447aba2d5ca241f4b7761da944b6395d6db10db8708375"
        );
    }

    #[test]
    fn secret_key_label_uses_hyphenated_lowercase_owner_id() {
        let owner = Uuid::parse_str(&OWNER.to_uppercase()).unwrap();
        assert_eq!(
            info::secret_key(&owner),
            format!("secret-key:{OWNER}").into_bytes()
        );
    }

    #[test]
    fn labels_and_owners_give_distinct_keys() {
        let master = counting_master();
        let a = derive_key(&master, info::JWT_SIGNING);
        let b = derive_key(&master, info::AUDIT_FINGERPRINT);
        assert_ne!(a.as_bytes(), b.as_bytes());
        let first = owner_key(&master, &Uuid::from_u128(1));
        let second = owner_key(&master, &Uuid::from_u128(2));
        assert_ne!(first.as_bytes(), second.as_bytes());
        let other_master = MasterKey::from_bytes([9; 32]);
        assert_ne!(
            derive_key(&other_master, info::JWT_SIGNING).as_bytes(),
            a.as_bytes()
        );
    }

    #[test]
    fn debug_is_redacted() {
        let key = derive_key(&counting_master(), info::JWT_SIGNING);
        let debug = format!("{key:?}");
        assert_eq!(debug, "DerivedKey(..redacted..)");
        assert!(!debug.contains(&hex::encode(&key.as_bytes()[..4])));
    }
}
