//! The hash chain: how a record's hash and payload digest are computed.
//!
//! `hash = SHA-256("cairn/event/v1" || prev_hash || bincode(header))`. The
//! domain prefix keeps these hashes from ever colliding with another use of
//! SHA-256 in Cairn; the header carries `seq`, `prev_hash` and the payload's
//! digest, so reordering, deleting, inserting or editing a record all break
//! the chain.

use cairn_schemas::Record;
use sha2::{Digest, Sha256};

use super::codec::{self, CodecError};

/// Domain separation prefix of every record hash.
pub const EVENT_DOMAIN: &[u8] = b"cairn/event/v1";

/// The `prev_hash` of the first record.
pub const GENESIS_HASH: [u8; 32] = [0u8; 32];

/// The digest recorded for an event that never had a payload.
pub const NO_PAYLOAD_DIGEST: [u8; 32] = [0u8; 32];

/// The hash of a record given its predecessor's hash and its encoded header.
pub fn record_hash(prev_hash: &[u8; 32], header_bytes: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(EVENT_DOMAIN);
    hasher.update(prev_hash);
    hasher.update(header_bytes);
    hasher.finalize().into()
}

/// The digest of a payload as written ([`NO_PAYLOAD_DIGEST`] when none).
pub fn payload_digest(payload: Option<&[u8]>) -> [u8; 32] {
    match payload {
        Some(bytes) => Sha256::digest(bytes).into(),
        None => NO_PAYLOAD_DIGEST,
    }
}

/// What is wrong with one record taken on its own.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordFault {
    /// The stored hash is not the hash of the stored header.
    #[error("its hash does not match its contents")]
    HashMismatch,
    /// The payload is not the one the header committed to.
    #[error("its payload does not match the payload digest")]
    PayloadMismatch,
    /// The payload is gone but the header says there was one.
    #[error("its payload is missing and no retention record covers it")]
    PayloadMissing,
    /// The header could not be encoded to be hashed.
    #[error("its header cannot be encoded: {0}")]
    Codec(#[from] CodecError),
}

/// Checks a record on its own: its hash over its header and its payload
/// against the digest. Linking to the predecessor is the caller's job.
pub fn check_record(record: &Record) -> Result<(), RecordFault> {
    let header_bytes = codec::encode_header(&record.header)?;
    if record_hash(&record.header.prev_hash, &header_bytes) != record.hash {
        return Err(RecordFault::HashMismatch);
    }
    match &record.payload {
        Some(payload) => {
            if payload_digest(Some(payload)) != record.header.payload_digest {
                return Err(RecordFault::PayloadMismatch);
            }
        }
        None => {
            if record.header.payload_digest != NO_PAYLOAD_DIGEST {
                return Err(RecordFault::PayloadMissing);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::testing::sample_record;

    #[test]
    fn a_sealed_sample_checks_and_any_edit_breaks_it() {
        let record = sample_record(3);
        assert_eq!(check_record(&record), Ok(()));

        let mut edited = record.clone();
        edited.header.seq += 1;
        assert_eq!(check_record(&edited), Err(RecordFault::HashMismatch));

        let mut edited = record.clone();
        if let Some(payload) = edited.payload.as_mut() {
            payload[0] ^= 1;
        }
        assert_eq!(check_record(&edited), Err(RecordFault::PayloadMismatch));

        let mut edited = record;
        edited.payload = None;
        assert_eq!(check_record(&edited), Err(RecordFault::PayloadMissing));
    }

    #[test]
    fn domain_and_predecessor_matter() {
        let header = b"header";
        assert_ne!(record_hash(&[0; 32], header), record_hash(&[1; 32], header));
        let plain: [u8; 32] = Sha256::digest([&[0u8; 32][..], header].concat()).into();
        assert_ne!(record_hash(&[0; 32], header), plain);
    }
}
