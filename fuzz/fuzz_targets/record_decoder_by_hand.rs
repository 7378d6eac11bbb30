//! Fuzz target: the hand-written record decoder (`log::record_decoder`,
//! behind `codec::decode_record`) against the reference, bincode's serde
//! path followed by the canonical re-encoding check
//! (`codec::decode_record_by_serde`). For any input:
//!
//! - both return, never panic;
//! - both accept it, with the same record, or both refuse it: the decoder
//!   written by hand accepts exactly the canonical encodings;
//! - `Truncated` (what recovery reads as a torn record) from the decoder
//!   by hand means `Truncated` from the reference; the reverse holds too,
//!   except where the decoder by hand met a longer form before the end and
//!   said `NonCanonical`: the reference reads on past it (it judges the
//!   form only after a whole record) and runs out. Such bytes were never
//!   written by Cairn (it writes the shortest form), so they are no torn
//!   write of Cairn's, and refusing them as altered is the right call (the
//!   first finding of this target, `01 fc 00000000 26 00 00 01`); and
//!   except where either says `LimitExceeded`: the reference charges every
//!   value's in-memory size (8 bytes for a one-byte varint) against its
//!   256 KiB limit, the decoder by hand only the bytes that lengths claim,
//!   so on bytes that claim near the limit one says `LimitExceeded` where
//!   the other runs out (`01 fc82010024 fcffff0300 …`). Both refuse; a
//!   tail record cut short either way is one nobody acknowledged, and
//!   anyone who can write such bytes can write a plainly torn record too;
//! - when accepted, the header range it reports is the header's encoding.

#![no_main]

use cairn_core::log::codec::{self, CodecError};
use cairn_core::log::record_decoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let by_hand = record_decoder::decode_record(data);
    let by_serde = codec::decode_record_by_serde(data);
    match (&by_hand, &by_serde) {
        (Ok(decoded), Ok(record)) => {
            assert_eq!(&decoded.record, record, "the decoders read another record");
            let header = codec::encode_header(&record.header).expect("a decoded header encodes");
            assert_eq!(&data[decoded.header.clone()], header.as_slice());
        }
        (Err(_), Err(_)) => {}
        _ => panic!(
            "the decoders disagree: by hand {:?}, by serde {:?}",
            by_hand.as_ref().map(|decoded| &decoded.record),
            by_serde
        ),
    }
    let hand_truncated = matches!(by_hand, Err(CodecError::Truncated));
    let serde_truncated = matches!(by_serde, Err(CodecError::Truncated));
    let hand_non_canonical = matches!(by_hand, Err(CodecError::NonCanonical));
    let over_limit = matches!(by_hand, Err(CodecError::LimitExceeded { .. }))
        || matches!(by_serde, Err(CodecError::LimitExceeded { .. }));
    assert!(
        hand_truncated == serde_truncated
            || (serde_truncated && hand_non_canonical)
            || over_limit,
        "only one decoder calls the input truncated: {:?} vs {:?}",
        by_hand.as_ref().err(),
        by_serde.as_ref().err()
    );
});
