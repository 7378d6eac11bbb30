//! A sink's cursor held to the log's head.
//!
//! A cursor is the last seq a sink delivered, so it can never be beyond
//! the head of the log it follows. One that is (a crafted or mismatched
//! backup, a store edited on disk) would silence the sink for good: it
//! waits for seqs the log will take years to reach, while `/health`
//! shows no lag. So `cairn restore` and the start of every sink set such a
//! cursor back to the head, and say so: a warning in the server's log,
//! the restore's JSON output and the sink's `cursor_beyond_head` in
//! `/health`. What lay between the true cursor and the head cannot be
//! known; it is not resent.

use cairn_core::log::{EventStore, StoreError};
use serde::Serialize;

/// The store's tree of sink cursors (name -> big-endian u64).
const EXPORT_CURSORS: &str = "export_cursors";

/// The cursor a sink may use, given the one stored and the head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CursorCheck {
    /// The cursor to use: the stored one, at most the head.
    pub cursor: u64,
    /// The stored cursor, when it was beyond the head and was set back.
    pub beyond_head: Option<u64>,
}

/// Holds a stored cursor to the head of the log.
pub fn clamp_cursor(stored: u64, head: u64) -> CursorCheck {
    if stored > head {
        CursorCheck {
            cursor: head,
            beyond_head: Some(stored),
        }
    } else {
        CursorCheck {
            cursor: stored,
            beyond_head: None,
        }
    }
}

/// A cursor found beyond the head and set back to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClampedCursor {
    /// The sink it belongs to.
    pub sink: String,
    /// The cursor found.
    pub stored: u64,
    /// The head it was set back to.
    pub head: u64,
}

/// Sets every stored cursor beyond `head` back to it (durably) and
/// returns those it set back, each also logged as a warning.
pub fn clamp_stored_cursors(
    store: &dyn EventStore,
    head: u64,
) -> Result<Vec<ClampedCursor>, StoreError> {
    let mut clamped = Vec::new();
    for entry in store.tree_entries(EXPORT_CURSORS) {
        let (key, value) = entry?;
        // A key that is not UTF-8 names no sink (names are text); a value
        // that is not 8 bytes is refused when its sink starts.
        let (Ok(sink), Ok(bytes)) = (String::from_utf8(key), <[u8; 8]>::try_from(value)) else {
            continue;
        };
        let check = clamp_cursor(u64::from_be_bytes(bytes), head);
        if let Some(stored) = check.beyond_head {
            tracing::warn!(sink = %sink, stored, head, "a sink's cursor was beyond the head of the log: set back to the head");
            store.export_cursor_put(&sink, check.cursor)?;
            clamped.push(ClampedCursor { sink, stored, head });
        }
    }
    if !clamped.is_empty() {
        store.sync()?;
    }
    Ok(clamped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_a_cursor_behind_or_at_the_head_when_checked_then_it_is_kept() {
        assert_eq!(
            clamp_cursor(0, 0),
            CursorCheck {
                cursor: 0,
                beyond_head: None
            }
        );
        assert_eq!(
            clamp_cursor(7, 10),
            CursorCheck {
                cursor: 7,
                beyond_head: None
            }
        );
        assert_eq!(
            clamp_cursor(10, 10),
            CursorCheck {
                cursor: 10,
                beyond_head: None
            }
        );
    }

    #[test]
    fn given_a_cursor_beyond_the_head_when_checked_then_it_is_set_back_and_reported() {
        assert_eq!(
            clamp_cursor(1_000_000_000_000, 42),
            CursorCheck {
                cursor: 42,
                beyond_head: Some(1_000_000_000_000)
            }
        );
        assert_eq!(
            clamp_cursor(u64::MAX, 0),
            CursorCheck {
                cursor: 0,
                beyond_head: Some(u64::MAX)
            }
        );
    }

    #[test]
    fn given_stored_cursors_when_clamped_then_only_those_beyond_the_head_change() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = cairn_core::log::SledStore::open(dir.path(), true).expect("store");
        store
            .export_cursor_put("siem", 1_000_000_000_000)
            .expect("put");
        store.export_cursor_put("late", 3).expect("put");
        store.export_cursor_put("even", 10).expect("put");
        let clamped = clamp_stored_cursors(&store, 10).expect("clamp");
        assert_eq!(
            clamped,
            vec![ClampedCursor {
                sink: "siem".into(),
                stored: 1_000_000_000_000,
                head: 10
            }]
        );
        assert_eq!(store.export_cursor_get("siem").expect("get"), Some(10));
        assert_eq!(store.export_cursor_get("late").expect("get"), Some(3));
        assert_eq!(store.export_cursor_get("even").expect("get"), Some(10));
        assert!(clamp_stored_cursors(&store, 10).expect("again").is_empty());
    }
}
