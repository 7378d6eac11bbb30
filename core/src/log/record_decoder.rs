//! A hand-written decoder for stored records: the same bytes as
//! [`super::codec`]'s bincode path accepts in canonical form, decoded in one
//! pass without serde and without re-encoding the record to check it.
//!
//! bincode 2.0.1 accepts longer forms of an integer than the shortest
//! (`fb 05 00` for 5), so the canonical path decodes, then re-encodes the
//! whole record and compares: two passes, and a serde visitor per field.
//! This decoder refuses a longer form where it meets it, so what it
//! accepts is exactly what the canonical path accepts, with the same value
//! (the `record_decoder` fuzz target and the property tests below compare
//! the two on arbitrary bytes), and a record cut short is `Truncated` for
//! both, which is what recovery's torn-tail rule reads.
//!
//! The encoding is section 2 of docs/event-log-format.md.

use std::sync::OnceLock;

use cairn_schemas::{
    Action, ActorKind, ActorRef, Header, Outcome, RECORD_FORMAT, Record, ResourceKind, ResourceRef,
    Sealed,
};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::codec::{CodecError, MAX_RECORD_BYTES};

/// The decode limit of the canonical path (a length claiming more is
/// `LimitExceeded`, as there).
const DECODE_LIMIT: usize = 4 * MAX_RECORD_BYTES;

/// Reads the encoding from a byte slice, front to back.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    /// The bytes claimed by length prefixes so far, counted as bincode
    /// counts them against its decode limit.
    claimed: usize,
}

fn non_canonical() -> CodecError {
    CodecError::NonCanonical
}

impl<'a> Reader<'a> {
    fn take(&mut self, length: usize) -> Result<&'a [u8], CodecError> {
        let end = self
            .at
            .checked_add(length)
            .filter(|end| *end <= self.bytes.len())
            .ok_or(CodecError::Truncated)?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    fn byte(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let mut array = [0u8; N];
        array.copy_from_slice(self.take(N)?);
        Ok(array)
    }

    /// An unsigned varint in its shortest form.
    fn varint(&mut self) -> Result<u64, CodecError> {
        match self.byte()? {
            small @ 0..=250 => Ok(u64::from(small)),
            251 => {
                let value = u64::from(u16::from_le_bytes(self.array()?));
                if value < 251 {
                    return Err(non_canonical());
                }
                Ok(value)
            }
            252 => {
                let value = u64::from(u32::from_le_bytes(self.array()?));
                if value <= u64::from(u16::MAX) {
                    return Err(non_canonical());
                }
                Ok(value)
            }
            253 => {
                let value = u64::from_le_bytes(self.array()?);
                if value <= u64::from(u32::MAX) {
                    return Err(non_canonical());
                }
                Ok(value)
            }
            marker => Err(CodecError::Malformed(format!(
                "varint marker {marker:#04x} is not a u64"
            ))),
        }
    }

    fn zigzag(&mut self) -> Result<i64, CodecError> {
        let raw = self.varint()?;
        Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }

    /// A length prefix of items of `item_size` bytes in memory: bounded,
    /// as the canonical path bounds it, by the decode limit (for all
    /// claims together), then by the input.
    fn claim(&mut self, item_size: usize) -> Result<usize, CodecError> {
        let length = self.varint()?;
        let claimed = usize::try_from(length)
            .ok()
            .and_then(|length| length.checked_mul(item_size))
            .and_then(|bytes| bytes.checked_add(self.claimed))
            .filter(|claimed| *claimed <= DECODE_LIMIT)
            .ok_or(CodecError::LimitExceeded {
                limit: DECODE_LIMIT,
            })?;
        self.claimed = claimed;
        // Not checked against the input here: the reference reads on until
        // the bytes run out (a fuzz finding), and `take` says `Truncated`.
        Ok(length as usize)
    }

    /// A length prefix of bytes.
    fn length(&mut self) -> Result<usize, CodecError> {
        self.claim(1)
    }

    fn bytes(&mut self) -> Result<Vec<u8>, CodecError> {
        let length = self.length()?;
        Ok(self.take(length)?.to_vec())
    }

    fn tag(&mut self) -> Result<bool, CodecError> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(CodecError::Malformed(format!("option tag {other:#04x}"))),
        }
    }

    fn uuid(&mut self) -> Result<Uuid, CodecError> {
        // The bytes are read before their length is judged, as the
        // reference reads them (a fuzz finding: otherwise a UUID cut short
        // would be malformed here and truncated there).
        let length = self.length()?;
        let bytes = self.take(length)?;
        let array: [u8; 16] = bytes
            .try_into()
            .map_err(|_| CodecError::Malformed(format!("a UUID of {length} bytes")))?;
        Ok(Uuid::from_bytes(array))
    }

    fn optional_uuid(&mut self) -> Result<Option<Uuid>, CodecError> {
        if self.tag()? {
            Ok(Some(self.uuid()?))
        } else {
            Ok(None)
        }
    }

    fn string(&mut self) -> Result<String, CodecError> {
        let length = self.length()?;
        let bytes = self.take(length)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|error| CodecError::Malformed(error.to_string()))
    }

    /// An enum variant by its index (a u32 varint), from `table`. A u64
    /// marker is refused before the bytes it announces are read, as the
    /// reference refuses it: a record cut short after one is altered, not
    /// torn (a fuzz finding).
    fn variant<T: Copy>(&mut self, table: &[T], what: &str) -> Result<T, CodecError> {
        if let Some(&marker) = self.bytes.get(self.at)
            && marker > 252
        {
            return Err(CodecError::Malformed(format!(
                "varint marker {marker:#04x} is not a u32"
            )));
        }
        let index = self.varint()?;
        usize::try_from(index)
            .ok()
            .and_then(|index| table.get(index))
            .copied()
            .ok_or_else(|| CodecError::Malformed(format!("{what} variant {index}")))
    }
}

/// Every unit variant of an enum, by index: what the canonical path
/// decodes from each one-byte index, until the first it refuses. Built
/// once, by the serde path itself, so the two cannot disagree.
fn variants<T: DeserializeOwned>() -> Vec<T> {
    let mut found = Vec::new();
    for index in 0..=250u8 {
        match bincode::serde::decode_from_slice::<T, _>(&[index], bincode::config::standard()) {
            Ok((value, 1)) => found.push(value),
            _ => break,
        }
    }
    found
}

struct Tables {
    actions: Vec<Action>,
    actor_kinds: Vec<ActorKind>,
    resource_kinds: Vec<ResourceKind>,
    outcomes: Vec<Outcome>,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| Tables {
        actions: variants(),
        actor_kinds: variants(),
        resource_kinds: variants(),
        outcomes: variants(),
    })
}

fn header(reader: &mut Reader<'_>) -> Result<Header, CodecError> {
    let tables = tables();
    let seq = reader.varint()?;
    let id = reader.uuid()?;
    let at = reader.zigzag()?;
    let org = reader.optional_uuid()?;
    let actor = ActorRef {
        kind: reader.variant(&tables.actor_kinds, "actor kind")?,
        id: reader.optional_uuid()?,
    };
    let action = reader.variant(&tables.actions, "action")?;
    let resource = ResourceRef {
        kind: reader.variant(&tables.resource_kinds, "resource kind")?,
        id: reader.optional_uuid()?,
    };
    let outcome = reader.variant(&tables.outcomes, "outcome")?;
    let request_id = if reader.tag()? {
        Some(reader.string()?)
    } else {
        None
    };
    // The reference holds a sequence's count against nothing (only the
    // bytes of strings and byte arrays count toward its limit; a fuzz
    // finding): it reads items until the input runs out, and so does this
    // loop, every item taking at least 42 bytes.
    let count = reader.varint()?;
    // Each item takes at least 58 bytes: never reserve more than the input
    // could hold.
    let room = ((reader.bytes.len() - reader.at) / 58) as u64;
    let mut personal = Vec::with_capacity(count.min(room) as usize);
    for _ in 0..count {
        personal.push(Sealed {
            subject: reader.uuid()?,
            nonce: reader.array()?,
            ciphertext: reader.bytes()?,
        });
    }
    Ok(Header {
        seq,
        id,
        at,
        org,
        actor,
        action,
        resource,
        outcome,
        request_id,
        personal,
        payload_digest: reader.array()?,
        prev_hash: reader.array()?,
    })
}

/// A decoded record and where its header lies in the stored bytes (the
/// bytes its hash covers, section 4).
#[derive(Debug)]
pub struct DecodedRecord {
    /// The record.
    pub record: Record,
    /// The byte range of the encoded header in the input.
    pub header: std::ops::Range<usize>,
}

/// Decodes a stored record, refusing exactly what
/// `codec::decode_record_by_serde` refuses (see the module docs).
pub fn decode_record(bytes: &[u8]) -> Result<DecodedRecord, CodecError> {
    let mut reader = Reader {
        bytes,
        at: 0,
        claimed: 0,
    };
    let format = reader.byte()?;
    if format > RECORD_FORMAT {
        return Err(CodecError::NewerFormat {
            found: format,
            supported: RECORD_FORMAT,
        });
    }
    if format == 0 {
        return Err(CodecError::Malformed("record format 0".into()));
    }
    let header_start = reader.at;
    let header = header(&mut reader)?;
    let header_end = reader.at;
    let payload = if reader.tag()? {
        Some(reader.bytes()?)
    } else {
        None
    };
    let hash = reader.array()?;
    if reader.at != bytes.len() {
        return Err(CodecError::TrailingBytes(bytes.len() - reader.at));
    }
    Ok(DecodedRecord {
        record: Record {
            format,
            header,
            payload,
            hash,
        },
        header: header_start..header_end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::codec;
    use crate::log::testing::arbitrary_record;
    use proptest::prelude::*;

    /// The two decoders agree: both accept, with the same record, or both
    /// refuse; and a record cut short is `Truncated` for both.
    fn agree(bytes: &[u8]) -> Result<(), TestCaseError> {
        let by_hand = decode_record(bytes);
        let by_serde = codec::decode_record_by_serde(bytes);
        match (&by_hand, &by_serde) {
            (Ok(decoded), Ok(record)) => prop_assert_eq!(&decoded.record, record),
            (Err(_), Err(_)) => {}
            _ => prop_assert!(
                false,
                "disagree on {}: {:?} vs {:?}",
                hex::encode(bytes),
                by_hand.as_ref().map(|d| &d.record),
                by_serde
            ),
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn every_record_decodes_as_the_serde_path_decodes_it(record in arbitrary_record()) {
            let bytes = codec::encode(&record).expect("encode");
            let decoded = decode_record(&bytes).expect("decode");
            prop_assert_eq!(&decoded.record, &record);
            let header = codec::encode_header(&record.header).expect("header");
            prop_assert_eq!(&bytes[decoded.header.clone()], header.as_slice());
        }

        #[test]
        fn a_record_cut_short_is_truncated_for_both(record in arbitrary_record(), cut in 0usize..10_000) {
            let bytes = codec::encode(&record).expect("encode");
            let cut = cut % bytes.len();
            prop_assert_eq!(decode_record(&bytes[..cut]).err(), Some(CodecError::Truncated));
            prop_assert_eq!(codec::decode_record_by_serde(&bytes[..cut]).err(), Some(CodecError::Truncated));
        }

        #[test]
        fn a_changed_byte_is_judged_alike(record in arbitrary_record(), at in 0usize..10_000, value in any::<u8>()) {
            let mut bytes = codec::encode(&record).expect("encode");
            let at = at % bytes.len();
            bytes[at] = value;
            agree(&bytes)?;
        }

        #[test]
        fn arbitrary_bytes_are_judged_alike(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut bytes = bytes;
            if let Some(first) = bytes.first_mut() {
                *first = 1;
            }
            agree(&bytes)?;
        }
    }

    #[test]
    fn longer_forms_are_refused() {
        // seq 1 written as `fb 01 00`.
        let record = crate::log::testing::sample_record(1);
        let bytes = codec::encode(&record).expect("encode");
        assert_eq!(bytes[1], 1);
        let mut longer = vec![bytes[0], 0xfb, 0x01, 0x00];
        longer.extend_from_slice(&bytes[2..]);
        assert_eq!(decode_record(&longer).err(), Some(CodecError::NonCanonical));
        assert!(codec::decode_record_by_serde(&longer).is_err());
    }

    /// What the `record_decoder_by_hand` fuzz target found.
    #[test]
    fn fuzz_findings_are_judged_as_the_reference_judges_them() {
        // A longer form (seq 0 as `fc 00000000`), then the end: the
        // reference reads on and runs out; by hand it stops at the longer
        // form. Both refuse; only a prefix of a canonical record is torn.
        let longer_then_cut = hex::decode("01fc000000002600 0001".replace(' ', "")).expect("hex");
        assert_eq!(
            decode_record(&longer_then_cut).err(),
            Some(CodecError::NonCanonical)
        );
        assert_eq!(
            codec::decode_record_by_serde(&longer_then_cut).err(),
            Some(CodecError::Truncated)
        );
        // A u64 marker where an enum index (u32) goes, then the end: both
        // call it malformed, neither torn.
        let wide_index_then_cut = hex::decode(
            "01f8102700 24d3000000 037affffff ffffffff04 000000fd07 0000d3cc".replace(' ', ""),
        )
        .expect("hex");
        assert!(matches!(
            decode_record(&wide_index_then_cut),
            Err(CodecError::Malformed(_))
        ));
        assert!(matches!(
            codec::decode_record_by_serde(&wide_index_then_cut),
            Err(CodecError::Malformed(_))
        ));
        // 204 personal items announced, the first with a UUID of 0 bytes:
        // malformed for both (the count is not held against the input).
        let empty_uuid = hex::decode(
            "01f8100000 24d37affff ffffffffff ffffffa207 0000000100 000000cc00 25ffff2d"
                .replace(' ', ""),
        )
        .expect("hex");
        assert!(matches!(
            decode_record(&empty_uuid),
            Err(CodecError::Malformed(_))
        ));
        assert!(matches!(
            codec::decode_record_by_serde(&empty_uuid),
            Err(CodecError::Malformed(_))
        ));
        // A count of about 2^61 personal items, then the end: truncated for
        // both (the count is held against no limit by either).
        let huge_count = hex::decode(
            "01f8100100 0001f810ff 11ff002f00 d50b000004 0000000000 00000000fd ff00000000 000028d300 0000000000 0000000000 000000"
                .replace(' ', ""),
        )
        .expect("hex");
        assert_eq!(
            decode_record(&huge_count).err(),
            Some(CodecError::Truncated)
        );
        assert_eq!(
            codec::decode_record_by_serde(&huge_count).err(),
            Some(CodecError::Truncated)
        );
    }

    #[test]
    fn the_enum_tables_hold_every_variant() {
        assert_eq!(tables().actions.len(), Action::ALL.len());
        assert_eq!(tables().resource_kinds.len(), ResourceKind::ALL.len());
        assert_eq!(tables().actor_kinds.len(), 6);
        assert_eq!(tables().outcomes.len(), 3);
    }
}
