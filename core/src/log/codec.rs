//! The one place that knows the on-disk encoding (bincode 2, standard
//! config: little-endian, varint lengths). Every decode runs with a size
//! limit, so a corrupt length prefix gives an error instead of a huge
//! allocation, and refuses trailing bytes, so a flipped `Option` tag cannot
//! silently reinterpret a record.

use bincode::config::{Configuration, Limit, LittleEndian, Varint};
use bincode::error::DecodeError;
use cairn_schemas::{EventPayload, Header, RECORD_FORMAT, Record};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The largest encoded record the log accepts (header, payload and hash).
/// sled stores pages over ~2 MiB (with our 8 MiB segments) in blob files
/// that it never fsyncs; 17 records of this size per leaf stay well below.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;

/// The decode limit: generous above [`MAX_RECORD_BYTES`], still bounded.
const DECODE_LIMIT: usize = 4 * MAX_RECORD_BYTES;

type Config = Configuration<LittleEndian, Varint, Limit<DECODE_LIMIT>>;

fn config() -> Config {
    bincode::config::standard().with_limit::<DECODE_LIMIT>()
}

/// Why bytes did not decode.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    /// The bytes end before the value does: a torn or truncated write.
    #[error("truncated: the bytes end before the value does")]
    Truncated,
    /// The bytes are not a valid encoding of the expected type.
    #[error("malformed: {0}")]
    Malformed(String),
    /// The value decoded but bytes were left over.
    #[error("{0} unexpected trailing bytes")]
    TrailingBytes(usize),
    /// The record was written by a newer Cairn.
    #[error("record format {found} is newer than this Cairn supports ({supported})")]
    NewerFormat {
        /// The format byte found.
        found: u8,
        /// The newest format this build reads.
        supported: u8,
    },
    /// Decoding would need more than the decode limit (a corrupt length
    /// prefix, most likely).
    #[error("the value claims more than the decode limit of {limit} bytes")]
    LimitExceeded {
        /// The limit.
        limit: usize,
    },
    /// The bytes decode, but are not the one canonical encoding of the value
    /// (bincode accepts over-long varints). Refused, so a stored record has
    /// exactly one byte form and no byte can change unnoticed.
    #[error("not the canonical encoding of the value")]
    NonCanonical,
    /// The value is larger than the limit.
    #[error("encoded size {size} exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The encoded size.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

impl From<DecodeError> for CodecError {
    fn from(error: DecodeError) -> Self {
        match error {
            DecodeError::UnexpectedEnd { .. } => CodecError::Truncated,
            DecodeError::LimitExceeded => CodecError::LimitExceeded {
                limit: DECODE_LIMIT,
            },
            other => CodecError::Malformed(other.to_string()),
        }
    }
}

/// Encodes any stored value.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    bincode::serde::encode_to_vec(value, config())
        .map_err(|error| CodecError::Malformed(error.to_string()))
}

/// Decodes any stored value, refusing trailing bytes.
pub fn decode<T: DeserializeOwned + Serialize>(bytes: &[u8]) -> Result<T, CodecError> {
    let (value, used): (T, usize) = bincode::serde::decode_from_slice(bytes, config())?;
    if used != bytes.len() {
        return Err(CodecError::TrailingBytes(bytes.len() - used));
    }
    if encode(&value)? != bytes {
        return Err(CodecError::NonCanonical);
    }
    Ok(value)
}

/// Decodes a stored value without the canonical-form check: for folding
/// the views, where only the decoded value matters. Whether stored bytes
/// are the one canonical encoding (so that no byte can change unnoticed)
/// is verification's question, and [`decode_record`] answers it there;
/// re-encoding every record costs as much as decoding it.
fn decode_relaxed<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (value, used): (T, usize) = bincode::serde::decode_from_slice(bytes, config())?;
    if used != bytes.len() {
        return Err(CodecError::TrailingBytes(bytes.len() - used));
    }
    Ok(value)
}

/// Decodes a record for folding. It is [`decode_record`]: the
/// hand-written decoder checks the canonical form as it reads, in one
/// pass, so folding no longer skips that check to save a re-encoding.
pub fn decode_record_for_fold(bytes: &[u8]) -> Result<Record, CodecError> {
    decode_record(bytes)
}

/// Decodes an event payload for folding (see [`decode_record_for_fold`]).
/// A payload's digest covers its stored bytes, so verification still
/// finds any change to them.
pub fn decode_payload_for_fold(bytes: &[u8]) -> Result<EventPayload, CodecError> {
    decode_relaxed(bytes)
}

/// Encodes a large value (a snapshot of the views) straight into `writer`,
/// without building it in memory first.
pub fn encode_into_writer<T: Serialize, W: std::io::Write>(
    value: &T,
    writer: &mut W,
) -> Result<usize, CodecError> {
    bincode::serde::encode_into_std_write(value, writer, bincode::config::standard())
        .map_err(|error| CodecError::Malformed(error.to_string()))
}

/// Decodes a large value written by [`encode_into_writer`] from `reader`.
/// It has no size limit: call it only on bytes whose authenticity was
/// checked first (snapshots carry an HMAC under a master-derived key).
pub fn decode_authenticated_from_reader<T: DeserializeOwned, R: std::io::Read>(
    reader: &mut R,
) -> Result<T, CodecError> {
    Ok(bincode::serde::decode_from_std_read(
        reader,
        bincode::config::standard(),
    )?)
}

/// Encodes a record, refusing one over [`MAX_RECORD_BYTES`].
pub fn encode_record(record: &Record) -> Result<Vec<u8>, CodecError> {
    let bytes = encode(record)?;
    if bytes.len() > MAX_RECORD_BYTES {
        return Err(CodecError::TooLarge {
            size: bytes.len(),
            limit: MAX_RECORD_BYTES,
        });
    }
    Ok(bytes)
}

/// Decodes a record. The format byte comes first, so a record of a newer
/// format is recognised before its (unknown) layout is parsed.
pub fn decode_record(bytes: &[u8]) -> Result<Record, CodecError> {
    super::record_decoder::decode_record(bytes).map(|decoded| decoded.record)
}

/// Decodes a stored record through bincode's serde path, then re-encodes
/// it and refuses it unless the bytes are identical: the reference the
/// hand-written decoder ([`super::record_decoder`], which
/// [`decode_record`] uses) is checked against, by the property tests and
/// the `record_decoder_by_hand` fuzz target.
pub fn decode_record_by_serde(bytes: &[u8]) -> Result<Record, CodecError> {
    check_format_byte(bytes)?;
    decode(bytes)
}

/// Refuses a record of a newer (or no) format before its layout is parsed.
fn check_format_byte(bytes: &[u8]) -> Result<(), CodecError> {
    match bytes.first() {
        None => Err(CodecError::Truncated),
        Some(&format) if format > RECORD_FORMAT => Err(CodecError::NewerFormat {
            found: format,
            supported: RECORD_FORMAT,
        }),
        Some(&0) => Err(CodecError::Malformed("record format 0".into())),
        Some(_) => Ok(()),
    }
}

/// Encodes a header: the bytes the hash covers.
pub fn encode_header(header: &Header) -> Result<Vec<u8>, CodecError> {
    encode(header)
}

/// Encodes an event payload.
pub fn encode_payload(payload: &EventPayload) -> Result<Vec<u8>, CodecError> {
    encode(payload)
}

/// Decodes an event payload.
pub fn decode_payload(bytes: &[u8]) -> Result<EventPayload, CodecError> {
    decode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::testing::{arbitrary_payload, arbitrary_personal, arbitrary_record};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn record_round_trips(record in arbitrary_record()) {
            let bytes = encode(&record).expect("encode");
            prop_assert_eq!(decode_record(&bytes).expect("decode"), record);
        }

        #[test]
        fn every_payload_round_trips(payload in arbitrary_payload()) {
            let bytes = encode_payload(&payload).expect("encode");
            prop_assert_eq!(decode_payload(&bytes).expect("decode"), payload);
        }

        #[test]
        fn personal_data_round_trips(data in arbitrary_personal()) {
            let bytes = encode(&data).expect("encode");
            prop_assert_eq!(decode::<cairn_schemas::PersonalData>(&bytes).expect("decode"), data);
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = decode_record(&bytes);
            let _ = decode_payload(&bytes);
        }

        #[test]
        fn every_truncation_is_an_error(record in arbitrary_record(), cut in 0usize..10_000) {
            let bytes = encode(&record).expect("encode");
            let cut = cut % bytes.len();
            prop_assert!(decode_record(&bytes[..cut]).is_err());
        }
    }

    #[test]
    fn a_huge_length_prefix_is_an_error_not_an_allocation() {
        // format 1, then a header whose first field claims nothing sane:
        // varint marker 0xFD announces a u64, followed by a giant string
        // length later on. Whatever the decoder reads, it must stop at the
        // limit.
        let mut bytes = vec![1u8, 0xFD];
        bytes.extend_from_slice(&u64::MAX.to_le_bytes());
        bytes.extend_from_slice(&[0xFD; 64]);
        assert!(decode_record(&bytes).is_err());
    }

    #[test]
    fn newer_format_is_recognised() {
        assert_eq!(
            decode_record(&[9, 0, 0]),
            Err(CodecError::NewerFormat {
                found: 9,
                supported: RECORD_FORMAT
            })
        );
    }

    #[test]
    fn over_long_varints_are_refused() {
        // seq 1 written as `fb 01 00` (a u16 marker) instead of `01`; the
        // fuzzer found that bincode accepts it.
        let record = crate::log::testing::sample_record(1);
        let bytes = encode(&record).expect("encode");
        assert_eq!(bytes[1], 1, "seq is the first header field");
        let mut long = vec![bytes[0], 0xfb, 0x01, 0x00];
        long.extend_from_slice(&bytes[2..]);
        assert_eq!(decode_record(&long), Err(CodecError::NonCanonical));
        // The payload reproducer from the fuzzer.
        let payload = hex::decode("020000fb190006").expect("hex");
        assert_eq!(decode_payload(&payload), Err(CodecError::NonCanonical));
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let record = crate::log::testing::sample_record(1);
        let mut bytes = encode(&record).expect("encode");
        bytes.push(0);
        assert_eq!(decode_record(&bytes), Err(CodecError::TrailingBytes(1)));
    }
}
