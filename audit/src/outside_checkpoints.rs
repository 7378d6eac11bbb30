//! Checkpoints kept outside the data dir: the `checkpoint.signed` lines of
//! a JSONL export, or a SIEM's copy of them, read back for
//! `cairn audit verify --anchors FILE` and `cairn restore --anchors FILE`.
//!
//! Each line that is a checkpoint gives its signed seq, hash, time, key id
//! and signature, taken from the line's chain material (`chain.payload`,
//! the encoded payload) when present, else from its `details`. The
//! signature is not trusted here: the log's verification checks every one
//! under the log's key, and a line that fails is refused there. Other
//! lines are skipped; a line that says it is a checkpoint but cannot be
//! read is an error naming it.

use std::io::BufRead;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cairn_core::log::codec;
use cairn_schemas::{CheckpointSigned, EventPayload};
use serde_json::Value;

use crate::time_format::parse_rfc3339_micros;

/// The action name of checkpoint lines.
const CHECKPOINT_ACTION: &str = "checkpoint.signed";

/// Reads the checkpoints of a JSONL file. Errors name the line (1-based).
pub fn read_checkpoints(input: impl BufRead) -> Result<Vec<CheckpointSigned>, String> {
    let mut checkpoints = Vec::new();
    for (index, line) in input.lines().enumerate() {
        let number = index + 1;
        let line = line.map_err(|error| format!("line {number}: {error}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(&line)
            .map_err(|error| format!("line {number} is not JSON: {error}"))?;
        if value.get("action").and_then(Value::as_str) != Some(CHECKPOINT_ACTION) {
            continue;
        }
        let checkpoint = from_chain(&value)
            .or_else(|| from_details(&value))
            .ok_or_else(|| {
                format!("line {number} is a checkpoint.signed line without a readable checkpoint")
            })?;
        checkpoints.push(checkpoint);
    }
    Ok(checkpoints)
}

fn from_chain(line: &Value) -> Option<CheckpointSigned> {
    let encoded = line.get("chain")?.get("payload")?.as_str()?;
    let bytes = STANDARD.decode(encoded).ok()?;
    match codec::decode_payload(&bytes).ok()? {
        EventPayload::CheckpointSigned(checkpoint) => Some(checkpoint),
        _ => None,
    }
}

fn from_details(line: &Value) -> Option<CheckpointSigned> {
    let details = line.get("details")?;
    let hash = hex::decode(details.get("hash")?.as_str()?).ok()?;
    Some(CheckpointSigned {
        key_id: details.get("key_id")?.as_str()?.to_string(),
        seq: details.get("seq")?.as_u64()?,
        hash: <[u8; 32]>::try_from(hash).ok()?,
        at: parse_rfc3339_micros(details.get("at")?.as_str()?)?,
        signature: hex::decode(details.get("signature")?.as_str()?).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_ID: &str = "0011223344556677";

    fn details_line(seq: u64) -> String {
        serde_json::json!({
            "seq": seq + 1,
            "action": "checkpoint.signed",
            "details": {
                "key_id": KEY_ID,
                "seq": seq,
                "hash": hex::encode([seq as u8; 32]),
                "at": "2026-12-07T10:00:00.000000Z",
                "signature": hex::encode([1u8; 64]),
            }
        })
        .to_string()
    }

    #[test]
    fn checkpoint_lines_are_read_and_other_lines_skipped() {
        // given an export with a request line between two checkpoints
        let text = [
            details_line(10),
            r#"{"seq":12,"action":"http.request","details":{}}"#.to_string(),
            details_line(20),
        ]
        .join("\n");
        // when it is read
        let read = read_checkpoints(text.as_bytes()).expect("read");
        // then both checkpoints, and only they, come back
        assert_eq!(read.iter().map(|c| c.seq).collect::<Vec<_>>(), [10, 20]);
        assert_eq!(read[1].hash, [20u8; 32]);
        assert_eq!(read[0].key_id, KEY_ID);
    }

    #[test]
    fn a_checkpoint_line_that_cannot_be_read_is_named() {
        let text = format!(
            "{}\n{}",
            details_line(10),
            r#"{"action":"checkpoint.signed","details":{"seq":"x"}}"#
        );
        let error = read_checkpoints(text.as_bytes()).unwrap_err();
        assert!(error.starts_with("line 2 "), "{error}");
        let error = read_checkpoints("not json".as_bytes()).unwrap_err();
        assert!(error.starts_with("line 1 is not JSON"), "{error}");
    }
}
