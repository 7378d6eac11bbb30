//! Fuzz target: arbitrary bytes read as a stored record.
//!
//! A record comes back from disk, from a backup or from a crash: the log
//! must treat its bytes as hostile. For any input:
//!
//! - `codec::decode_record` returns, never panics, and never allocates
//!   past its decode limit (run with `-malloc_limit_mb=64` to enforce it);
//! - a record that decodes re-encodes to a record that decodes to itself;
//! - its re-encoding is byte-identical to the input, so a record has
//!   exactly one encoding (the decoder refuses any other);
//! - `chain::check_record` returns, never panics, whatever the record holds.

#![no_main]

use cairn_core::log::{chain, codec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(record) = codec::decode_record(data) else {
        return;
    };
    // The verifier runs on every record read back; it must answer, not panic.
    let _ = chain::check_record(&record);

    let encoded = match codec::encode(&record) {
        Ok(encoded) => encoded,
        Err(error) => panic!("a decoded record does not re-encode: {error}"),
    };
    match codec::decode_record(&encoded) {
        Ok(again) => assert_eq!(
            again, record,
            "a re-encoded record decodes to another record"
        ),
        Err(error) => panic!("a re-encoded record does not decode: {error}"),
    }
    assert!(
        encoded == data,
        "the record decodes but re-encodes to other bytes (more than one encoding per record)\n input:     {}\n re-encoded: {}",
        hex(data),
        hex(&encoded),
    );
});

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
