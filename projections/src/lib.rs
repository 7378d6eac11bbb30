//! Cairn's views: the state that commands decide against and queries read,
//! folded from the event log. Each view answers one question and has one
//! `apply`; [`Views`] applies every record to all of them in seq order.
//!
//! Architecture invariant: views are derived data. They are rebuilt from
//! the log on every start, and nothing in them is written anywhere else.

pub mod system_status;

use cairn_schemas::Record;

pub use system_status::SystemStatus;

/// Every view, with the seq of the last record applied.
#[derive(Clone, Debug, Default)]
pub struct Views {
    applied_seq: u64,
    /// When the server started and what was checkpointed.
    pub system: SystemStatus,
}

/// A record that cannot be applied in order.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApplyError {
    /// Records must be applied gaplessly, in seq order.
    #[error("record {got} applied after {applied}: views apply records in order")]
    OutOfOrder {
        /// The last applied seq.
        applied: u64,
        /// The seq offered.
        got: u64,
    },
}

impl Views {
    /// Empty views (before the first record).
    pub fn new() -> Views {
        Views::default()
    }

    /// The seq of the last record applied.
    pub fn applied_seq(&self) -> u64 {
        self.applied_seq
    }

    /// Applies the next record.
    pub fn apply(&mut self, record: &Record) -> Result<(), ApplyError> {
        let seq = record.header.seq;
        if seq != self.applied_seq + 1 {
            return Err(ApplyError::OutOfOrder {
                applied: self.applied_seq,
                got: seq,
            });
        }
        self.system.apply(record);
        self.applied_seq = seq;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_order_is_refused() {
        let mut views = Views::new();
        let record = system_status::tests::started_record(2);
        assert_eq!(
            views.apply(&record),
            Err(ApplyError::OutOfOrder { applied: 0, got: 2 })
        );
    }
}
