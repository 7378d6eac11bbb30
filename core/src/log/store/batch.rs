//! The value of one group commit in store format 2: the encoded records of
//! consecutive seqs, stored as one sled value keyed by the first seq.
//!
//! ```text
//! count    u32 big-endian        n, the number of records (at least 1)
//! lengths  n × u32 big-endian    the length of each record, in seq order
//! records  the n encoded records, concatenated, in seq order
//! ```
//!
//! Record i (from 0) has seq `first + i`. The lengths come first so that a
//! reader finds any record without walking the others, and the records are
//! opaque here: the store never decodes them (the log does).
//!
//! Why one value per group commit: sled 0.34 writes every value about five
//! times over (its leaves are rewritten whole every few updates) and pays
//! its per-operation costs once per value, so one value per batch divides
//! both by the batch's size. A value stays below sled's blob threshold,
//! whatever the leaf holding it (see [`BATCH_CAP`]).

/// The bytes a batch value spends on its count.
const COUNT_BYTES: usize = 4;
/// The bytes a batch value spends per record (its length).
pub(crate) const PER_RECORD_BYTES: usize = 4;

/// The largest batch value, in bytes. sled stores a page larger than
/// `segment_size / 4 - 20` bytes (its log message header included) as a
/// blob file it never syncs, and a leaf page holds up to 17 values before
/// it splits (it splits when it holds more than 16). So 17 values of this
/// size, with their keys and sled's framing, must fit in a quarter
/// segment: asserted below against the store's segment size.
pub(crate) const BATCH_CAP: usize = 96 * 1024;

/// The most values a sled leaf holds before it splits.
pub(crate) const SLED_LEAF_VALUES: usize = 17;
/// A generous bound on what sled adds per value in a leaf (the 8-byte key
/// and two varint lengths) and per page (its header and the message
/// header of its log).
pub(crate) const SLED_PER_VALUE_OVERHEAD: usize = 64;
/// See [`SLED_PER_VALUE_OVERHEAD`].
pub(crate) const SLED_PER_PAGE_OVERHEAD: usize = 4096;

/// Whether a whole leaf of the largest values stays below sled's blob
/// threshold for a segment of `segment_size` bytes.
pub(crate) const fn leaf_fits(segment_size: usize) -> bool {
    SLED_LEAF_VALUES * (BATCH_CAP + SLED_PER_VALUE_OVERHEAD) + SLED_PER_PAGE_OVERHEAD
        <= segment_size / 4 - 20
}

/// Why a stored batch value cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// Shorter than its count and lengths say.
    #[error("the batch value is truncated")]
    Truncated,
    /// A count of zero: a batch holds at least one record.
    #[error("the batch value holds no record")]
    Empty,
    /// Bytes after the last record.
    #[error("the batch value has {0} bytes after its last record")]
    Trailing(usize),
}

/// The encoded size of a batch of records of these lengths.
pub(crate) fn encoded_len<'a>(records: impl IntoIterator<Item = &'a [u8]>) -> usize {
    records
        .into_iter()
        .map(|record| PER_RECORD_BYTES + record.len())
        .sum::<usize>()
        + COUNT_BYTES
}

/// Encodes records as one batch value. The caller keeps the value within
/// [`BATCH_CAP`] and never passes more than `u32::MAX` records or a record
/// of more than `u32::MAX` bytes (records are at most 64 KiB).
pub(crate) fn encode(records: &[&[u8]]) -> Vec<u8> {
    let mut value = Vec::with_capacity(encoded_len(records.iter().copied()));
    value.extend_from_slice(&(records.len() as u32).to_be_bytes());
    for record in records {
        value.extend_from_slice(&(record.len() as u32).to_be_bytes());
    }
    for record in records {
        value.extend_from_slice(record);
    }
    value
}

/// A parsed batch value: where each record lies in it.
#[derive(Debug)]
pub(crate) struct BatchView<'a> {
    bytes: &'a [u8],
    count: usize,
}

impl<'a> BatchView<'a> {
    /// Checks the framing of a stored value (its count, lengths and size).
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<BatchView<'a>, BatchError> {
        let count = read_u32(bytes, 0).ok_or(BatchError::Truncated)? as usize;
        if count == 0 {
            return Err(BatchError::Empty);
        }
        let table_end = count
            .checked_mul(PER_RECORD_BYTES)
            .and_then(|table| table.checked_add(COUNT_BYTES))
            .filter(|end| *end <= bytes.len())
            .ok_or(BatchError::Truncated)?;
        let mut total = 0usize;
        for index in 0..count {
            let length = read_u32(bytes, COUNT_BYTES + index * PER_RECORD_BYTES)
                .ok_or(BatchError::Truncated)? as usize;
            total = total.checked_add(length).ok_or(BatchError::Truncated)?;
        }
        let body = bytes.len() - table_end;
        if total > body {
            return Err(BatchError::Truncated);
        }
        if total < body {
            return Err(BatchError::Trailing(body - total));
        }
        Ok(BatchView { bytes, count })
    }

    /// How many records the batch holds.
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// The records, in seq order.
    pub(crate) fn records(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        let mut offset = COUNT_BYTES + self.count * PER_RECORD_BYTES;
        (0..self.count).map(move |index| {
            let length = self.length(index);
            let record = &self.bytes[offset..offset + length];
            offset += length;
            record
        })
    }

    /// Record `index` (from 0), if the batch holds that many.
    pub(crate) fn get(&self, index: usize) -> Option<&'a [u8]> {
        if index >= self.count {
            return None;
        }
        let start = COUNT_BYTES
            + self.count * PER_RECORD_BYTES
            + (0..index).map(|before| self.length(before)).sum::<usize>();
        Some(&self.bytes[start..start + self.length(index)])
    }

    /// The length of record `index`; `parse` checked the table.
    fn length(&self, index: usize) -> usize {
        read_u32(self.bytes, COUNT_BYTES + index * PER_RECORD_BYTES).unwrap_or(0) as usize
    }
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let word: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(word))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn worked_example() {
        // Given two records of 3 and 1 bytes
        let value = encode(&[b"abc", b"z"]);
        // Then the value is the count, the two lengths, then the bytes
        assert_eq!(
            hex::encode(&value),
            "00000002".to_owned() + "00000003" + "00000001" + "616263" + "7a"
        );
        let view = BatchView::parse(&value).expect("parse");
        assert_eq!(view.len(), 2);
        assert_eq!(view.get(1), Some(&b"z"[..]));
        assert_eq!(view.get(2), None);
    }

    #[test]
    fn damaged_values_are_refused() {
        let value = encode(&[b"abc", b"z"]);
        for cut in 0..value.len() {
            assert!(BatchView::parse(&value[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = value.clone();
        longer.push(0);
        assert_eq!(
            BatchView::parse(&longer).map(|view| view.len()),
            Err(BatchError::Trailing(1))
        );
        assert_eq!(
            BatchView::parse(&[0, 0, 0, 0]).map(|view| view.len()),
            Err(BatchError::Empty)
        );
        // A count far beyond the value's size is refused, not allocated.
        assert_eq!(
            BatchView::parse(&[0xff, 0xff, 0xff, 0xff, 0, 0]).map(|view| view.len()),
            Err(BatchError::Truncated)
        );
    }

    #[test]
    fn a_leaf_of_the_largest_batches_stays_below_the_blob_threshold() {
        assert!(leaf_fits(super::super::SEGMENT_SIZE));
        // And the bound is not vacuous: a segment of half the size fails it.
        assert!(!leaf_fits(super::super::SEGMENT_SIZE / 2));
        // The largest record fits in a batch of its own.
        assert!(
            encoded_len([vec![0u8; crate::log::codec::MAX_RECORD_BYTES].as_slice()]) <= BATCH_CAP
        );
    }

    proptest! {
        #[test]
        fn every_batch_round_trips(records in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 1..40)) {
            let slices: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
            let value = encode(&slices);
            prop_assert_eq!(value.len(), encoded_len(slices.iter().copied()));
            let view = BatchView::parse(&value).expect("parse");
            let read: Vec<&[u8]> = view.records().collect();
            prop_assert_eq!(&read, &slices);
            for (index, record) in slices.iter().enumerate() {
                prop_assert_eq!(view.get(index), Some(*record));
            }
        }

        #[test]
        fn parsing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(view) = BatchView::parse(&bytes) {
                let total: usize = view.records().map(<[u8]>::len).sum();
                prop_assert!(total <= bytes.len());
            }
        }
    }
}
