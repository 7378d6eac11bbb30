//! Fuzz target: arbitrary bytes read as an event payload.
//!
//! Payloads are decoded by the views on every start, by verification (for
//! checkpoints) and by exports. For any input:
//!
//! - `codec::decode_payload` returns, never panics, and never allocates
//!   past its decode limit (run with `-malloc_limit_mb=64` to enforce it);
//! - a payload that decodes re-encodes to a payload that decodes to itself;
//! - its re-encoding is byte-identical to the input (set
//!   decoder refuses any other).

#![no_main]

use cairn_core::log::codec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = codec::decode_payload(data) else {
        return;
    };
    let encoded = match codec::encode_payload(&payload) {
        Ok(encoded) => encoded,
        Err(error) => panic!("a decoded payload does not re-encode: {error}"),
    };
    match codec::decode_payload(&encoded) {
        Ok(again) => assert_eq!(
            again, payload,
            "a re-encoded payload decodes to another payload"
        ),
        Err(error) => panic!("a re-encoded payload does not decode: {error}"),
    }
    assert!(
        encoded == data,
        "the payload decodes but re-encodes to other bytes (more than one encoding per payload)\n input:     {}\n re-encoded: {}",
        hex(data),
        hex(&encoded),
    );
});

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
