//! Offline verification of a JSONL export with nothing but the public key
//! (`cairn audit verify --export FILE --public-key KEY`).
//!
//! Each line carries its record's encoded header, its payload (unless it
//! is withheld) and the opening of each sealed personal item, so the
//! verifier:
//! - recomputes the hash from `prev_hash` and the header bytes;
//! - checks the payload against the header's digest;
//! - opens each personal item of the header with its opening (an erased
//!   subject's item has none and must show as erased);
//! - re-renders the line from those bytes and compares it with what the
//!   file says, every field of it: nothing is set aside;
//! - checks each line links to the one before (`prev_hash` = its `hash`)
//!   and that no seq is missing, unless the export was filtered;
//! - checks every `checkpoint.signed` line's Ed25519 signature and that the
//!   hash it signs is the hash of that seq in the file;
//! - refuses a file whose lines after the last anchored seq (the
//!   unanchored tail) are more than the checkpoint cadence allows, unless
//!   told to accept it: a file cut after its last checkpoint, or whose
//!   checkpoints were removed, is not vouched for by the key.
//!
//! It reads the file once, keeping only a window of recent hashes, so its
//! memory does not grow with the file.

use std::collections::BTreeMap;
use std::io::BufRead;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cairn_core::crypto::opening::open_with_opening;
use cairn_core::crypto::verify_signed;
use cairn_core::log::cadence::{Cadence, UnanchoredTail, check_unanchored_tail};
use cairn_core::log::{Personal, chain, codec};
use cairn_schemas::{EventPayload, Header, RECORD_FORMAT, Record};
use serde_json::Value;

use crate::export_line::export_line_with_openings;
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
    /// Lines that carry no payload (withheld because it holds sealed
    /// values or credentials, or pruned): they show no details but what
    /// the header proves.
    pub payloads_absent: u64,
    /// Personal items shown as erased: they show nothing, so there is
    /// nothing to check (the subject's key was deleted before the export).
    pub personal_erased: u64,
    /// Lines no verified checkpoint vouches for: in an unfiltered file,
    /// those after the last anchored seq (all of them when none is).
    pub unanchored: u64,
    /// Places where seqs jump (a filtered export), when gaps are allowed.
    pub gaps: u64,
}

/// What a verification accepts beyond an intact, complete, anchored file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportChecks {
    /// Accept seqs that jump (a filtered export): each line is still
    /// checked on its own and linked where seqs follow.
    pub allow_gaps: bool,
    /// The checkpoint cadence an unanchored tail is held to; `None`
    /// accepts any tail (`--allow-unanchored-tail`).
    pub cadence: Option<Cadence>,
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

/// The hash window's entry of one line: its number, hash and time.
#[derive(Clone, Copy, Debug)]
struct Seen {
    line: u64,
    hash: [u8; 32],
    at: i64,
}

/// Verifies an exported JSONL file against the Ed25519 public key of its
/// checkpoints, with the leniency `checks` allows.
pub fn verify_export(
    input: impl BufRead,
    public_key: &[u8; 32],
    checks: ExportChecks,
) -> Result<ExportReport, ExportFault> {
    let allow_gaps = checks.allow_gaps;
    let mut report = ExportReport::default();
    let mut previous: Option<(u64, [u8; 32])> = None;
    let mut hashes: BTreeMap<u64, Seen> = BTreeMap::new();
    let mut anchoring = Anchoring::default();
    let mut last_at = 0;
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
        if checked.payload_absent {
            report.payloads_absent += 1;
        }
        report.personal_erased += checked.personal_erased;

        let linked = previous.is_some_and(|(previous_seq, _)| seq == previous_seq + 1);
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

        let at = checked.record.header.at;
        anchoring.line(seq, at, linked);
        if let Some(checkpoint) = &checked.checkpoint {
            verify_signed(public_key, checkpoint).map_err(|error| {
                fault(
                    Some(seq),
                    format!(
                        "the checkpoint of seq {} does not verify: {error}",
                        checkpoint.seq
                    ),
                )
            })?;
            if let Some(signed) = hashes.get(&checkpoint.seq) {
                if signed.hash != checkpoint.hash {
                    return Err(ExportFault {
                        line: signed.line,
                        seq: Some(checkpoint.seq),
                        problem: format!(
                            "its hash is not the one the checkpoint on line {number} signs: this line or one before it was changed"
                        ),
                    });
                }
                report.anchored_through = report.anchored_through.max(Some(checkpoint.seq));
                anchoring.anchor(checkpoint.seq, signed.at);
            }
            report.checkpoints_verified += 1;
        }

        hashes.insert(
            seq,
            Seen {
                line: number,
                hash: checked.record.hash,
                at,
            },
        );
        last_at = at;
        if hashes.len() > HASH_WINDOW {
            hashes.pop_first();
        }
        previous = Some((seq, checked.record.hash));
        report.lines = number;
        report.first_seq = report.first_seq.or(Some(seq));
        report.last_seq = Some(seq);
    }
    if let Some(tail) = anchoring.finish(last_at) {
        report.unanchored = tail.len;
        if let Some(cadence) = checks.cadence {
            check_unanchored_tail(cadence, tail).map_err(|refused| ExportFault {
                line: report.lines,
                seq: report.last_seq,
                problem: format!(
                    "{refused} (a file cut after its last checkpoint, or with checkpoints removed; --allow-unanchored-tail accepts it)"
                ),
            })?;
        }
    }
    Ok(report)
}

/// Which lines the verified checkpoints vouch for. A checkpoint signs the
/// hash of one seq, and each hash covers the one before it through
/// `prev_hash`, so it vouches for that seq and every line linked before it
/// back to the start of its run (a jump of a filtered export ends a run),
/// never for a line after it.
#[derive(Debug, Default)]
struct Anchoring {
    /// The run being read.
    run: Option<Run>,
    /// Lines of the runs read so far that no checkpoint vouches for.
    unanchored: u64,
    /// The first such line, and the time its stretch is counted from: the
    /// anchored record before it, or the line itself when there is none.
    first: Option<(u64, i64)>,
}

/// Consecutive, linked lines: (seq, time) of the first and last, and of
/// the highest seq a verified checkpoint signs.
#[derive(Debug)]
struct Run {
    start: (u64, i64),
    end: u64,
    anchor: Option<(u64, i64)>,
}

impl Anchoring {
    /// A line: it continues the run when linked to the line before.
    fn line(&mut self, seq: u64, at: i64, linked: bool) {
        match &mut self.run {
            Some(run) if linked => run.end = seq,
            _ => {
                self.close();
                self.run = Some(Run {
                    start: (seq, at),
                    end: seq,
                    anchor: None,
                });
            }
        }
    }

    /// A verified checkpoint signs the line of `seq` (written at `at`).
    fn anchor(&mut self, seq: u64, at: i64) {
        if let Some(run) = &mut self.run
            && run.start.0 <= seq
            && run.anchor.is_none_or(|(anchored, _)| anchored < seq)
        {
            run.anchor = Some((seq, at));
        }
    }

    fn close(&mut self) {
        let Some(run) = self.run.take() else {
            return;
        };
        let (from, from_at) = match run.anchor {
            Some((seq, at)) => (seq + 1, at),
            None => run.start,
        };
        if from <= run.end {
            self.unanchored += run.end - from + 1;
            self.first = self.first.or(Some((from, from_at)));
        }
    }

    /// The unanchored lines, if any, up to the last line (written at
    /// `last_at`).
    fn finish(mut self, last_at: i64) -> Option<UnanchoredTail> {
        self.close();
        self.first.map(|(first_seq, from_at)| UnanchoredTail {
            first_seq,
            len: self.unanchored,
            span_micros: last_at.saturating_sub(from_at),
        })
    }
}

/// One line checked on its own.
struct CheckedLine {
    record: Record,
    checkpoint: Option<cairn_schemas::CheckpointSigned>,
    payload_absent: bool,
    personal_erased: u64,
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

fn base64_text(text: &str, field: &str) -> Result<Vec<u8>, String> {
    STANDARD
        .decode(text)
        .map_err(|_| format!("`{field}` is not base64"))
}

fn base64_field(chain_material: &Value, field: &str) -> Result<Option<Vec<u8>>, String> {
    match chain_material.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => base64_text(text, &format!("chain.{field}")).map(Some),
        Some(_) => Err(format!("`chain.{field}` is not a string")),
    }
}

/// The openings a line ships (`chain.personal`), one per sealed item of
/// the header: absent means none (every item shows as erased).
fn openings_of(chain_material: &Value, items: usize) -> Result<Vec<Option<String>>, String> {
    let openings = match chain_material.get("personal") {
        None => return Ok(vec![None; items]),
        Some(Value::Array(openings)) => openings,
        Some(_) => return Err("`chain.personal` is not an array".into()),
    };
    if openings.len() != items {
        return Err(format!(
            "`chain.personal` has {} openings for the header's {items} personal items",
            openings.len()
        ));
    }
    openings
        .iter()
        .enumerate()
        .map(|(index, opening)| match opening {
            Value::Null => Ok(None),
            Value::String(text) => Ok(Some(text.clone())),
            _ => Err(format!("`chain.personal.{index}` is not a string")),
        })
        .collect()
}

/// Opens each sealed personal item of the header with the line's opening:
/// what the line must show.
fn open_items(header: &Header, openings: &[Option<String>]) -> Result<Vec<Personal>, String> {
    header
        .personal
        .iter()
        .zip(openings)
        .enumerate()
        .map(|(index, (sealed, opening))| {
            let Some(text) = opening else {
                return Ok(Personal::Erased);
            };
            let field = format!("chain.personal.{index}");
            let opening: [u8; 32] = base64_text(text, &field)?
                .try_into()
                .map_err(|_| format!("`{field}` is not 32 bytes"))?;
            let plain = open_with_opening(&opening, &sealed.nonce, &sealed.ciphertext)
                .map_err(|_| {
                    format!(
                        "`{field}` does not open the personal item of subject {} in the signed header: the line was changed",
                        sealed.subject
                    )
                })?;
            codec::decode(&plain).map(Personal::Data).map_err(|error| {
                format!("the personal item of subject {} cannot be decoded: {error}", sealed.subject)
            })
        })
        .collect()
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
    let payload_absent = payload.is_none() && header.payload_digest != chain::NO_PAYLOAD_DIGEST;
    let checkpoint = match &payload {
        Some(bytes) => match codec::decode_payload(bytes) {
            Ok(EventPayload::CheckpointSigned(checkpoint)) => Some(checkpoint),
            Ok(_) => None,
            Err(error) => return Err(format!("`chain.payload` cannot be decoded: {error}")),
        },
        None => None,
    };
    let openings = openings_of(chain_material, header.personal.len())?;
    let personal = open_items(&header, &openings)?;
    let personal_erased = personal
        .iter()
        .filter(|item| matches!(item, Personal::Erased))
        .count() as u64;
    let record = Record {
        format: RECORD_FORMAT,
        header,
        payload,
        hash,
    };
    // Every field is re-rendered from the signed bytes: the header, the
    // payload (or, when the line carries none, what the header alone
    // says) and the opened personal items. Nothing is set aside.
    let expected = export_line_with_openings(
        &RecordView {
            record: &record,
            personal,
        },
        openings,
    );
    if *line != expected {
        let field = first_difference(line, &expected);
        let hint = if chain_material.get("personal").is_none() && !record.header.personal.is_empty()
        {
            " (the line ships no openings of its personal items, `chain.personal`, so it may show none of their data)"
        } else {
            ""
        };
        return Err(format!(
            "`{field}` is not what the signed record says: the line was changed{hint}"
        ));
    }
    Ok(CheckedLine {
        record,
        checkpoint,
        payload_absent,
        personal_erased,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines (seq, time in seconds, linked to the line before), checkpoints
    /// signing (seq, time) after the line given, then the unanchored part.
    fn anchoring(lines: &[(u64, i64, bool)], anchors: &[(usize, u64)]) -> Option<UnanchoredTail> {
        let mut anchoring = Anchoring::default();
        let mut last = 0;
        for (index, (seq, at, linked)) in lines.iter().enumerate() {
            anchoring.line(*seq, at * 1_000_000, *linked);
            for (after, signed) in anchors {
                if *after == index {
                    let at = lines
                        .iter()
                        .find(|(seq, _, _)| seq == signed)
                        .map_or(0, |(_, at, _)| *at);
                    anchoring.anchor(*signed, at * 1_000_000);
                }
            }
            last = at * 1_000_000;
        }
        anchoring.finish(last)
    }

    #[test]
    fn given_a_file_anchored_at_its_end_when_counted_then_only_the_checkpoint_line_is_unanchored() {
        let lines = [(1, 0, false), (2, 10, true), (3, 20, true)];
        assert_eq!(
            anchoring(&lines, &[(2, 2)]),
            Some(UnanchoredTail {
                first_seq: 3,
                len: 1,
                span_micros: 10_000_000
            })
        );
    }

    #[test]
    fn given_lines_after_the_last_checkpoint_when_counted_then_they_are_the_tail_timed_from_the_anchor()
     {
        let lines = [
            (1, 0, false),
            (2, 10, true),
            (3, 20, true),
            (4, 30, true),
            (5, 500, true),
        ];
        assert_eq!(
            anchoring(&lines, &[(2, 2)]),
            Some(UnanchoredTail {
                first_seq: 3,
                len: 3,
                span_micros: 490_000_000
            })
        );
    }

    #[test]
    fn given_no_checkpoint_when_counted_then_every_line_is_unanchored_timed_from_the_first() {
        let lines = [(7, 100, false), (8, 130, true)];
        assert_eq!(
            anchoring(&lines, &[]),
            Some(UnanchoredTail {
                first_seq: 7,
                len: 2,
                span_micros: 30_000_000
            })
        );
    }

    #[test]
    fn given_a_gap_when_a_later_checkpoint_anchors_then_the_run_before_the_gap_stays_unanchored() {
        // Lines 1-2, a jump, then 5-7 with a checkpoint (at 7) signing 6:
        // nothing vouches for 1-2, nor for 7.
        let lines = [
            (1, 0, false),
            (2, 10, true),
            (5, 40, false),
            (6, 50, true),
            (7, 60, true),
        ];
        assert_eq!(
            anchoring(&lines, &[(4, 6)]),
            Some(UnanchoredTail {
                first_seq: 1,
                len: 3,
                span_micros: 60_000_000
            })
        );
    }

    #[test]
    fn given_every_line_anchored_when_counted_then_nothing_is_unanchored() {
        let lines = [(1, 0, false), (2, 10, true)];
        assert_eq!(anchoring(&lines, &[(1, 2)]), None);
    }
}
