//! Offline verification of a JSONL export with nothing but the public key
//! (`cairn audit verify --export FILE --public-key KEY`).
//!
//! Each line carries its record's encoded header (and payload, unless it
//! is withheld), so the verifier:
//! - recomputes the hash from `prev_hash` and the header bytes;
//! - checks the payload against the header's digest;
//! - re-renders the line from those bytes and compares it with what the
//!   file says, field by field (personal data is sealed in the header and
//!   cannot be checked without the subjects' keys; it is set aside);
//! - checks each line links to the one before (`prev_hash` = its `hash`)
//!   and that no seq is missing, unless the export was filtered;
//! - checks every `checkpoint.signed` line's Ed25519 signature and that the
//!   hash it signs is the hash of that seq in the file.
//!
//! It reads the file once, keeping only a window of recent hashes, so its
//! memory does not grow with the file.

use std::collections::BTreeMap;
use std::io::BufRead;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cairn_core::crypto::verify_checkpoint;
use cairn_core::log::{Personal, chain, codec};
use cairn_schemas::{EventPayload, Header, RECORD_FORMAT, Record};
use serde_json::Value;

use crate::export_line::{export_line, strip_personal};
use crate::record_json::RecordView;

/// How many recent seqs keep their hash for checkpoint lines that come
/// after them (a checkpoint signs the head just before it is written).
const HASH_WINDOW: usize = 65_536;

/// What a successful verification found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// Lines read.
    pub lines: u64,
    /// The first and last seq in the file.
    pub first_seq: Option<u64>,
    /// The last seq in the file.
    pub last_seq: Option<u64>,
    /// Checkpoint signatures that verified.
    pub checkpoints_verified: u64,
    /// The highest seq whose hash a verified checkpoint signs: every line
    /// linked up to it is anchored to the signing key.
    pub anchored_through: Option<u64>,
    /// Lines whose details could not be checked (payload withheld because
    /// it holds sealed values or credentials, or pruned).
    pub details_unchecked: u64,
    /// Places where seqs jump (a filtered export), when gaps are allowed.
    pub gaps: u64,
}

/// The first problem found: the line (1-based) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}{}: {problem}", seq.map(|seq| format!(" (seq {seq})")).unwrap_or_default())]
pub struct ExportFault {
    /// The line of the file, from 1.
    pub line: u64,
    /// The seq the line claims, when it could be read.
    pub seq: Option<u64>,
    /// What is wrong.
    pub problem: String,
}

/// Verifies an exported JSONL file against the Ed25519 public key of its
/// checkpoints. `allow_gaps` accepts seqs that jump (a filtered export):
/// each line is still checked on its own and linked where seqs follow.
pub fn verify_export(
    input: impl BufRead,
    public_key: &[u8; 32],
    allow_gaps: bool,
) -> Result<ExportReport, ExportFault> {
    let mut report = ExportReport::default();
    let mut previous: Option<(u64, [u8; 32])> = None;
    let mut hashes: BTreeMap<u64, (u64, [u8; 32])> = BTreeMap::new();
    for (index, text) in input.lines().enumerate() {
        let number = index as u64 + 1;
        let fault = |seq: Option<u64>, problem: String| ExportFault {
            line: number,
            seq,
            problem,
        };
        let text = text.map_err(|error| fault(None, format!("cannot be read: {error}")))?;
        if text.trim().is_empty() {
            return Err(fault(None, "is empty".into()));
        }
        let line: Value = serde_json::from_str(&text)
            .map_err(|error| fault(None, format!("is not JSON: {error}")))?;
        let claimed_seq = line.get("seq").and_then(Value::as_u64);
        let checked = check_line(&line).map_err(|problem| fault(claimed_seq, problem))?;
        let seq = checked.record.header.seq;
        if checked.details_unchecked {
            report.details_unchecked += 1;
        }

        match previous {
            Some((previous_seq, _)) if seq <= previous_seq => {
                return Err(fault(
                    Some(seq),
                    format!(
                        "seq {seq} comes after seq {previous_seq}: lines are out of order or repeated"
                    ),
                ));
            }
            Some((previous_seq, previous_hash)) if seq == previous_seq + 1 => {
                if checked.record.header.prev_hash != previous_hash {
                    return Err(fault(
                        Some(seq),
                        format!(
                            "prev_hash does not link to the hash of seq {previous_seq} on line {}",
                            number - 1
                        ),
                    ));
                }
            }
            Some((previous_seq, _)) => {
                if !allow_gaps {
                    return Err(fault(
                        Some(seq),
                        format!(
                            "seq jumps from {previous_seq} to {seq}: lines are missing (a filtered export needs --allow-gaps)"
                        ),
                    ));
                }
                report.gaps += 1;
            }
            None => {
                if seq == 1 && checked.record.header.prev_hash != chain::GENESIS_HASH {
                    return Err(fault(
                        Some(seq),
                        "seq 1 must have an all-zero prev_hash".into(),
                    ));
                }
            }
        }

        if let Some(checkpoint) = &checked.checkpoint {
            verify_checkpoint(
                public_key,
                &checkpoint.key_id,
                checkpoint.seq,
                &checkpoint.hash,
                checkpoint.at,
                &checkpoint.signature,
            )
            .map_err(|error| {
                fault(
                    Some(seq),
                    format!(
                        "the checkpoint of seq {} does not verify: {error}",
                        checkpoint.seq
                    ),
                )
            })?;
            if let Some((signed_line, hash)) = hashes.get(&checkpoint.seq) {
                if *hash != checkpoint.hash {
                    return Err(ExportFault {
                        line: *signed_line,
                        seq: Some(checkpoint.seq),
                        problem: format!(
                            "its hash is not the one the checkpoint on line {number} signs: this line or one before it was changed"
                        ),
                    });
                }
                report.anchored_through = report.anchored_through.max(Some(checkpoint.seq));
            }
            report.checkpoints_verified += 1;
        }

        hashes.insert(seq, (number, checked.record.hash));
        if hashes.len() > HASH_WINDOW {
            hashes.pop_first();
        }
        previous = Some((seq, checked.record.hash));
        report.lines = number;
        report.first_seq = report.first_seq.or(Some(seq));
        report.last_seq = Some(seq);
    }
    Ok(report)
}

/// One line checked on its own.
struct CheckedLine {
    record: Record,
    checkpoint: Option<cairn_schemas::CheckpointSigned>,
    details_unchecked: bool,
}

fn hex32(line: &Value, field: &str) -> Result<[u8; 32], String> {
    let text = line
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("`{field}` is missing"))?;
    let bytes = hex::decode(text).map_err(|_| format!("`{field}` is not hex"))?;
    bytes
        .try_into()
        .map_err(|_| format!("`{field}` is not 32 bytes"))
}

fn base64_field(chain_material: &Value, field: &str) -> Result<Option<Vec<u8>>, String> {
    match chain_material.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => STANDARD
            .decode(text)
            .map(Some)
            .map_err(|_| format!("`chain.{field}` is not base64")),
        Some(_) => Err(format!("`chain.{field}` is not a string")),
    }
}

fn check_line(line: &Value) -> Result<CheckedLine, String> {
    let chain_material = line
        .get("chain")
        .ok_or("`chain` is missing: is this a jsonl export of Cairn?")?;
    let header_bytes =
        base64_field(chain_material, "header")?.ok_or("`chain.header` is missing")?;
    let header: Header = codec::decode(&header_bytes)
        .map_err(|error| format!("`chain.header` is not an encoded header: {error}"))?;
    let hash = hex32(line, "hash")?;
    if chain::record_hash(&header.prev_hash, &header_bytes) != hash {
        return Err("`hash` is not the hash of the record's header: the line was changed".into());
    }
    let payload = base64_field(chain_material, "payload")?;
    if let Some(bytes) = &payload
        && chain::payload_digest(Some(bytes)) != header.payload_digest
    {
        return Err("`chain.payload` is not the payload the header commits to".into());
    }
    let details_unchecked = payload.is_none() && header.payload_digest != chain::NO_PAYLOAD_DIGEST;
    let checkpoint = match &payload {
        Some(bytes) => match codec::decode_payload(bytes) {
            Ok(EventPayload::CheckpointSigned(checkpoint)) => Some(checkpoint),
            Ok(_) => None,
            Err(error) => return Err(format!("`chain.payload` cannot be decoded: {error}")),
        },
        None => None,
    };
    let personal = vec![Personal::Erased; header.personal.len()];
    let record = Record {
        format: RECORD_FORMAT,
        header,
        payload,
        hash,
    };
    let mut expected = export_line(&RecordView {
        record: &record,
        personal,
    });
    if details_unchecked {
        // Withheld (sealed values, credentials) or pruned: the details the
        // file shows cannot be checked against the digest.
        expected["details"] = line.get("details").cloned().unwrap_or(Value::Null);
        expected["chain"]["payload"] = Value::Null;
    }
    let mut shown = line.clone();
    strip_personal(&mut shown);
    strip_personal(&mut expected);
    if shown != expected {
        let field = first_difference(&shown, &expected);
        return Err(format!(
            "`{field}` is not what the signed record says: the line was changed"
        ));
    }
    Ok(CheckedLine {
        record,
        checkpoint,
        details_unchecked,
    })
}

/// The path of the first field where two lines differ.
fn first_difference(shown: &Value, expected: &Value) -> String {
    match (shown, expected) {
        (Value::Object(left), Value::Object(right)) => {
            for (key, value) in right {
                match left.get(key) {
                    None => return key.clone(),
                    Some(other) if other != value => {
                        let inner = first_difference(other, value);
                        return if inner.is_empty() {
                            key.clone()
                        } else {
                            format!("{key}.{inner}")
                        };
                    }
                    Some(_) => {}
                }
            }
            left.keys()
                .find(|key| !right.contains_key(*key))
                .cloned()
                .unwrap_or_default()
        }
        _ => String::new(),
    }
}
