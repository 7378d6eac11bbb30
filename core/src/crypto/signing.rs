//! Ed25519 signatures over log checkpoints, so an exported log can be
//! checked by anyone holding the public key, without the master key.
//!
//! The signing seed is `derive_key(master, info::CHECKPOINT_SIGNING)`. A key
//! is named by its key id, the lowercase hex of the first 8 bytes of
//! SHA-256(public key). The signed message is, byte by byte:
//!
//! ```text
//! b"cairn/checkpoint/v1"          19 bytes, domain separation
//! len(key_id)                     1 byte
//! key_id                          ASCII, 16 bytes for Cairn's key ids
//! seq                             u64 big-endian
//! hash                            32 bytes, the chain hash at seq
//! at                              i64 big-endian, microseconds since the Unix epoch
//! ```
//!
//! Verification uses `verify_strict`, which refuses weak public keys and
//! non-canonical signatures, so a signature has exactly one valid form.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::crypto::derive::{derive_key, info};
use crate::crypto::master_key::MasterKey;

/// The domain separation prefix of checkpoint messages.
pub const CHECKPOINT_DOMAIN: &[u8] = b"cairn/checkpoint/v1";
/// Length of a signature in bytes.
pub const SIGNATURE_LEN: usize = 64;
/// Length of a public key in bytes.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Longest key id the message layout can carry (its length is one byte).
pub const MAX_KEY_ID_LEN: usize = u8::MAX as usize;

/// Why a checkpoint signature was refused. Nothing here is secret: public
/// keys, key ids and signatures are published.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The key id given with the checkpoint is not the id of the public key.
    #[error("the checkpoint's key id does not match the public key (whose key id is {expected})")]
    KeyIdMismatch {
        /// The key id of the public key.
        expected: String,
    },
    /// The 32 bytes are not a valid Ed25519 public key.
    #[error("the checkpoint public key is not a valid Ed25519 point")]
    InvalidPublicKey,
    /// The signature is not 64 bytes long.
    #[error("the checkpoint signature is {len} bytes long, expected 64")]
    MalformedSignature {
        /// Length of the signature given.
        len: usize,
    },
    /// The signature does not verify for this message and key.
    #[error("the checkpoint signature does not verify under this public key")]
    BadSignature,
}

/// The key id of `public_key`: lowercase hex of the first 8 bytes of its
/// SHA-256.
pub fn key_id_of(public_key: &[u8; PUBLIC_KEY_LEN]) -> String {
    let digest = Sha256::digest(public_key);
    hex::encode(&digest[..8])
}

/// Signs checkpoints with the key derived from the master key. Its `Debug`
/// output shows the (public) key id only.
pub struct CheckpointSigner {
    signing_key: SigningKey,
    key_id: String,
}

impl CheckpointSigner {
    /// The signer whose seed is `derive_key(master, info::CHECKPOINT_SIGNING)`.
    pub fn new(master: &MasterKey) -> CheckpointSigner {
        let seed = derive_key(master, info::CHECKPOINT_SIGNING);
        let signing_key = SigningKey::from_bytes(seed.as_bytes());
        let key_id = key_id_of(&signing_key.verifying_key().to_bytes());
        CheckpointSigner {
            signing_key,
            key_id,
        }
    }

    /// The key id, 16 lowercase hex characters.
    pub fn key_id(&self) -> String {
        self.key_id.clone()
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.signing_key.verifying_key().to_bytes()
    }

    /// Signs the checkpoint "the chain hash at `seq` is `hash`, as of
    /// `at_micros`".
    pub fn sign_checkpoint(
        &self,
        seq: u64,
        hash: &[u8; 32],
        at_micros: i64,
    ) -> [u8; SIGNATURE_LEN] {
        let message = checkpoint_message(&self.key_id, seq, hash, at_micros);
        self.signing_key.sign(&message).to_bytes()
    }
}

impl std::fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointSigner")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// The bytes a checkpoint signature covers (layout in the module docs). A
/// key id longer than 255 bytes is cut to 255: no such id is valid, and
/// [`verify_checkpoint`] refuses any id but the public key's own.
pub fn checkpoint_message(key_id: &str, seq: u64, hash: &[u8; 32], at_micros: i64) -> Vec<u8> {
    let key_id = &key_id.as_bytes()[..key_id.len().min(MAX_KEY_ID_LEN)];
    let mut message = Vec::with_capacity(CHECKPOINT_DOMAIN.len() + 1 + key_id.len() + 8 + 32 + 8);
    message.extend_from_slice(CHECKPOINT_DOMAIN);
    message.push(key_id.len() as u8);
    message.extend_from_slice(key_id);
    message.extend_from_slice(&seq.to_be_bytes());
    message.extend_from_slice(hash);
    message.extend_from_slice(&at_micros.to_be_bytes());
    message
}

/// Verifies a recorded checkpoint (see [`verify_checkpoint`]).
pub fn verify_signed(
    public_key: &[u8; PUBLIC_KEY_LEN],
    checkpoint: &cairn_schemas::CheckpointSigned,
) -> Result<(), SignatureError> {
    verify_checkpoint(
        public_key,
        &checkpoint.key_id,
        checkpoint.seq,
        &checkpoint.hash,
        checkpoint.at,
        &checkpoint.signature,
    )
}

/// Checks a checkpoint signature: `key_id` must be the id of `public_key`,
/// and `signature` must verify strictly over the checkpoint message.
pub fn verify_checkpoint(
    public_key: &[u8; PUBLIC_KEY_LEN],
    key_id: &str,
    seq: u64,
    hash: &[u8; 32],
    at_micros: i64,
    signature: &[u8],
) -> Result<(), SignatureError> {
    let expected = key_id_of(public_key);
    if key_id != expected {
        return Err(SignatureError::KeyIdMismatch { expected });
    }
    let verifying_key =
        VerifyingKey::from_bytes(public_key).map_err(|_| SignatureError::InvalidPublicKey)?;
    let signature =
        Signature::from_slice(signature).map_err(|_| SignatureError::MalformedSignature {
            len: signature.len(),
        })?;
    let message = checkpoint_message(key_id, seq, hash, at_micros);
    verifying_key
        .verify_strict(&message, &signature)
        .map_err(|_| SignatureError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counting_master() -> MasterKey {
        MasterKey::from_bytes(std::array::from_fn(|i| i as u8))
    }

    fn sample_hash() -> [u8; 32] {
        Sha256::digest(b"cairn").into()
    }

    const AT: i64 = 1_700_000_000_000_000;

    /// Computed independently with PyNaCl: `SigningKey(HKDF(..., info=b"checkpoint-signing")
    /// .derive(bytes(range(32))))`, message rebuilt from the documented layout.
    #[test]
    fn known_answers_from_pynacl() {
        let signer = CheckpointSigner::new(&counting_master());
        assert_eq!(
            hex::encode(signer.public_key()),
            "f0e58cfaa501e59ff8fb8d1056d42519c59da91e039a94422828d0f7cbc6d094"
        );
        assert_eq!(signer.key_id(), "6beb6b7d7780924b");
        assert_eq!(
            hex::encode(checkpoint_message(&signer.key_id(), 42, &sample_hash(), AT)),
            "636169726e2f636865636b706f696e742f76311036626562366237643737383039323462000000000000002a4a9909a9516d02fd4c729a45922398fb41c398c235423a5304085bc923a8db6700060a24181e4000"
        );
        assert_eq!(
            hex::encode(signer.sign_checkpoint(42, &sample_hash(), AT)),
            "72ecfffb4dd39866766637207b9f44828f65d9f0d2296c60cbdbfe9611f84636a964e328811a3794380bedea9255b39e22963572fbc8a8682f7d69f17c0d9908"
        );
    }

    #[test]
    fn sign_then_verify() {
        let signer = CheckpointSigner::new(&counting_master());
        let signature = signer.sign_checkpoint(7, &sample_hash(), -5);
        assert_eq!(
            verify_checkpoint(
                &signer.public_key(),
                &signer.key_id(),
                7,
                &sample_hash(),
                -5,
                &signature
            ),
            Ok(())
        );
    }

    #[test]
    fn any_changed_field_fails() {
        let signer = CheckpointSigner::new(&counting_master());
        let public = signer.public_key();
        let key_id = signer.key_id();
        let hash = sample_hash();
        let signature = signer.sign_checkpoint(7, &hash, AT);
        let mut other_hash = hash;
        other_hash[31] ^= 1;
        let mut other_signature = signature;
        other_signature[0] ^= 1;
        let bad = Err(SignatureError::BadSignature);
        assert_eq!(
            verify_checkpoint(&public, &key_id, 8, &hash, AT, &signature),
            bad
        );
        assert_eq!(
            verify_checkpoint(&public, &key_id, 7, &other_hash, AT, &signature),
            bad
        );
        assert_eq!(
            verify_checkpoint(&public, &key_id, 7, &hash, AT + 1, &signature),
            bad
        );
        assert_eq!(
            verify_checkpoint(&public, &key_id, 7, &hash, AT, &other_signature),
            bad
        );
        assert_eq!(
            verify_checkpoint(&public, &key_id, 7, &hash, AT, &signature[..63]),
            Err(SignatureError::MalformedSignature { len: 63 })
        );
    }

    #[test]
    fn another_key_or_key_id_fails() {
        let signer = CheckpointSigner::new(&counting_master());
        let other = CheckpointSigner::new(&MasterKey::from_bytes([5; 32]));
        assert_ne!(signer.key_id(), other.key_id());
        let signature = signer.sign_checkpoint(1, &sample_hash(), AT);
        assert_eq!(
            verify_checkpoint(
                &other.public_key(),
                &other.key_id(),
                1,
                &sample_hash(),
                AT,
                &signature
            ),
            Err(SignatureError::BadSignature)
        );
        assert_eq!(
            verify_checkpoint(
                &signer.public_key(),
                &other.key_id(),
                1,
                &sample_hash(),
                AT,
                &signature
            ),
            Err(SignatureError::KeyIdMismatch {
                expected: signer.key_id()
            })
        );
    }

    #[test]
    fn invalid_public_key_is_refused() {
        // y = 2 is not the encoding of a curve point.
        let mut not_a_point = [0u8; 32];
        not_a_point[0] = 2;
        let key_id = key_id_of(&not_a_point);
        assert_eq!(
            verify_checkpoint(&not_a_point, &key_id, 1, &sample_hash(), AT, &[0u8; 64]),
            Err(SignatureError::InvalidPublicKey)
        );
    }

    #[test]
    fn message_layout_frames_the_key_id() {
        let message = checkpoint_message("ab", 1, &[0xee; 32], -1);
        let mut expected = b"cairn/checkpoint/v1".to_vec();
        expected.push(2);
        expected.extend_from_slice(b"ab");
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
        expected.extend_from_slice(&[0xee; 32]);
        expected.extend_from_slice(&[0xff; 8]);
        assert_eq!(message, expected);
        let long = "k".repeat(300);
        let message = checkpoint_message(&long, 1, &[0; 32], 0);
        assert_eq!(message[CHECKPOINT_DOMAIN.len()], 255);
        assert_eq!(message.len(), CHECKPOINT_DOMAIN.len() + 1 + 255 + 48);
    }

    #[test]
    fn debug_shows_only_the_key_id() {
        let master = counting_master();
        let signer = CheckpointSigner::new(&master);
        let debug = format!("{signer:?}");
        assert_eq!(
            debug,
            "CheckpointSigner { key_id: \"6beb6b7d7780924b\", .. }"
        );
        let seed = derive_key(&master, info::CHECKPOINT_SIGNING);
        assert!(!debug.contains(&hex::encode(&seed.as_bytes()[..4])));
    }
}
