//! Fuzz target: the hand-written record decoder (`log::record_decoder`,
//! behind `codec::decode_record`) against the reference, bincode's serde
//! path followed by the canonical re-encoding check
//! (`codec::decode_record_by_serde`). For any input:
//!
//! - both return, never panic;
//! - both accept it, with the same record, or both refuse it: the decoder
//!   written by hand accepts exactly the canonical encodings;
//! - a refusal as `Truncated` (what recovery reads as a torn record) is
//!   the same for both;
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
    let truncated = |result: bool| result;
    assert_eq!(
        truncated(matches!(by_hand, Err(CodecError::Truncated))),
        truncated(matches!(by_serde, Err(CodecError::Truncated))),
        "only one decoder calls the input truncated: {:?} vs {:?}",
        by_hand.as_ref().err(),
        by_serde.as_ref().err()
    );
});
