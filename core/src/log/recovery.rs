//! What happens when the log opens for writing.
//!
//! 1. The store format is checked (a newer one is refused).
//! 2. Records after the recorded head (written just before each sync) were
//!    never acknowledged: they are removed with a warning, and so are
//!    checkpoints that cover them. A torn tail is repaired: a last record that ends early was never
//!    acknowledged (acknowledgement follows fdatasync of the whole record),
//!    so it is removed with a warning. A torn record that a signed
//!    checkpoint covers is not torn but altered, and is refused.
//! 3. The tail of the chain ([`TAIL_WINDOW`] records) is verified; a broken
//!    chain is never repaired silently: the log refuses to open and names
//!    the seq. `cairn audit verify` checks the whole chain.
//! 4. Records missing from the tail (the recorded head is beyond the last
//!    record) are refused the same way.
//! 5. The log is compared with its anchor (see [`super::anchor`]): it must
//!    reach the anchored head with the anchored record unchanged, and the
//!    records after the last signed checkpoint or anchor must fit the
//!    checkpoint cadence (see [`super::cadence`]). A new, empty log gets
//!    its first anchor; a log with records and no anchor is refused. So a
//!    server never starts, and never signs, over a history it cannot
//!    anchor.

use cairn_schemas::Record;

use super::Head;
use super::anchor::{self, Anchor, Anchorer};
use super::cadence::Cadence;
use super::chain::GENESIS_HASH;
use super::codec::{self, CodecError};
use super::error::OpenError;
use super::store::{EventStore, STORE_FORMAT_VERSION, meta_key};
use super::verify::{ChainWalker, tail_violation};
use crate::crypto::{self, CheckpointSigner, MasterKey};

/// How many records at the tail are verified on every open.
pub const TAIL_WINDOW: u64 = 4096;

/// What recovery found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovery {
    /// The head after recovery.
    pub head: Head,
    /// The time of the last record (0 for an empty log).
    pub last_at: i64,
    /// Records removed at open: never acknowledged (after the recorded
    /// head) or torn.
    pub torn_records_dropped: u64,
    /// The first seq whose chain was verified.
    pub verified_from: u64,
    /// The head the anchor held at open.
    pub anchored: Head,
}

/// Checks (and on a new store, writes) the store format version.
pub fn check_format(store: &dyn EventStore, writable: bool) -> Result<(), OpenError> {
    match store.meta_get(meta_key::FORMAT_VERSION)? {
        Some(bytes) => {
            let found = <[u8; 4]>::try_from(bytes.as_slice())
                .map(u32::from_be_bytes)
                .unwrap_or(u32::MAX);
            if found > STORE_FORMAT_VERSION {
                return Err(OpenError::NewerFormat {
                    what: "store",
                    found,
                    supported: STORE_FORMAT_VERSION,
                });
            }
            Ok(())
        }
        None if writable => {
            store.meta_put(
                meta_key::FORMAT_VERSION,
                &STORE_FORMAT_VERSION.to_be_bytes(),
            )?;
            Ok(())
        }
        None => Ok(()),
    }
}

/// Checks (and on a new store, records) that `master` is the data dir's
/// master key, so a wrong key fails at open with a clear message instead of
/// as undecryptable data later.
pub fn check_master_key(
    store: &dyn EventStore,
    master: &MasterKey,
    writable: bool,
) -> Result<(), OpenError> {
    let derived = crypto::derive_key(master, crypto::info::MASTER_KEY_CHECK);
    let expected = &derived.as_bytes()[..16];
    match store.meta_get(meta_key::MASTER_KEY_CHECK)? {
        Some(found) if crypto::constant_time_eq(&found, expected) => Ok(()),
        Some(_) => Err(OpenError::WrongMasterKey),
        None if writable => Ok(store.meta_put(meta_key::MASTER_KEY_CHECK, expected)?),
        None => Ok(()),
    }
}

fn broken(seq: u64, problem: impl Into<String>) -> OpenError {
    OpenError::BrokenChain {
        seq,
        problem: problem.into(),
    }
}

/// Recovers the log in `store` (see the module docs).
pub(crate) fn recover(
    store: &dyn EventStore,
    master: &MasterKey,
    anchorer: &Anchorer,
    cadence: &Cadence,
    now: i64,
) -> Result<Recovery, OpenError> {
    check_format(store, true)?;
    check_master_key(store, master, true)?;
    let anchor = anchorer
        .read()
        .map_err(|error| OpenError::Anchor(error.to_string()))?;
    // Records after the recorded head were stored but never made durable by
    // a sync, so never acknowledged: a crash cut their batch or their sync
    // short. Remove them (a whole batch goes, never part of one).
    let recorded = store.recorded_head()?.unwrap_or(0);
    let mut unacknowledged = 0u64;
    while let Some((seq, _)) = store.tail()? {
        if seq <= recorded {
            break;
        }
        store.remove_tail(seq)?;
        unacknowledged += 1;
    }
    if unacknowledged > 0 {
        tracing::warn!(
            removed = unacknowledged,
            head = recorded,
            "records after the last durable head were never acknowledged (a crash before their sync); removed"
        );
    }
    let last_durable = store.tail()?.map(|(seq, _)| seq).unwrap_or(0);
    store.remove_checkpoints_after(last_durable)?;

    let last_checkpoint = store.last_checkpoint()?.map(|(seq, _)| seq).unwrap_or(0);
    let mut torn_records_dropped = unacknowledged;
    let tail: Option<Record> = loop {
        let Some((seq, bytes)) = store.tail()? else {
            break None;
        };
        match codec::decode_record(&bytes) {
            Ok(record) => break Some(record),
            Err(CodecError::Truncated)
                if torn_records_dropped == 0
                    && seq > last_checkpoint
                    && anchor.is_none_or(|anchor| seq > anchor.head.seq) =>
            {
                tracing::warn!(
                    seq,
                    "the last record was torn (a write cut short by a crash); it was never acknowledged and is removed"
                );
                store.remove_tail(seq)?;
                torn_records_dropped += 1;
            }
            Err(CodecError::NewerFormat { found, supported }) => {
                return Err(OpenError::NewerFormat {
                    what: "record",
                    found: found.into(),
                    supported: supported.into(),
                });
            }
            Err(error) => return Err(broken(seq, format!("the record does not decode ({error})"))),
        }
    };
    let head = tail
        .as_ref()
        .map(|record| Head {
            seq: record.header.seq,
            hash: record.hash,
        })
        .unwrap_or(Head::EMPTY);

    let recorded = match store.meta_get(meta_key::HEAD_SEQ)? {
        Some(bytes) => <[u8; 8]>::try_from(bytes.as_slice())
            .map(u64::from_be_bytes)
            .unwrap_or(0),
        None => 0,
    };
    let expected = recorded.max(last_checkpoint);
    if expected > head.seq {
        return Err(broken(
            head.seq + 1,
            format!(
                "records {}..={expected} are missing from the tail",
                head.seq + 1
            ),
        ));
    }

    let anchor = match anchor {
        Some(anchor) => anchor,
        None if head.seq == 0 => {
            let anchor = Anchor::empty(now);
            anchorer
                .write(&anchor)
                .map_err(|error| OpenError::Anchor(error.to_string()))?;
            anchor
        }
        None => return Err(OpenError::Unanchored { head: head.seq }),
    };
    // The chain is walked from the anchored record (or the tail window,
    // whichever starts earlier), so the whole unanchored tail is checked.
    let verified_from = head
        .seq
        .saturating_sub(TAIL_WINDOW)
        .min(anchor.head.seq)
        .max(1);
    let prev_hash = if verified_from <= 1 {
        GENESIS_HASH
    } else {
        match store.read(verified_from - 1)? {
            Some(bytes) => {
                codec::decode_record(&bytes)
                    .map_err(|error| {
                        broken(
                            verified_from - 1,
                            format!("the record does not decode ({error})"),
                        )
                    })?
                    .hash
            }
            None => return Err(broken(verified_from - 1, "the record is missing")),
        }
    };
    let public_key = CheckpointSigner::new(master).public_key();
    let mut walker = ChainWalker::new(verified_from, prev_hash, Some(&public_key));
    walker.watch(anchor.head.seq);
    for item in store.read_range(verified_from, head.seq) {
        let (seq, bytes) = item?;
        walker
            .step(seq, &bytes)
            .map_err(|violation| broken(violation.seq, violation.problem))?;
    }
    if walker.head() != head && head.seq > 0 {
        return Err(broken(walker.head().seq + 1, "the record is missing"));
    }
    let at_anchor = walker.watched(anchor.head.seq);
    anchor::check_log(&anchor, &head, at_anchor.map(|(hash, _)| hash))
        .map_err(|violation| broken(violation.seq, violation.problem))?;
    let (anchored_through, anchored_at) = match walker.last_signed {
        Some((seq, at)) if seq > anchor.head.seq => (seq, Some(at)),
        _ => (anchor.head.seq, at_anchor.map(|(_, at)| at)),
    };
    if let Some(violation) = tail_violation(
        *cadence,
        anchored_through,
        anchored_at.or(walker.first_at).unwrap_or(0),
        head.seq,
        tail.as_ref().map_or(0, |record| record.header.at),
    ) {
        return Err(broken(violation.seq, violation.problem));
    }
    Ok(Recovery {
        head,
        last_at: tail.map(|record| record.header.at).unwrap_or(0),
        torn_records_dropped,
        verified_from,
        anchored: anchor.head,
    })
}
