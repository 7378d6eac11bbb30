//! How views read the sealed personal data of a record (a user's name and
//! email) without knowing where the keys live.

use cairn_core::log::{LogReader, Personal};
use cairn_schemas::{PersonalData, Sealed};

/// Opens sealed personal data; `None` when it cannot be read (erased).
pub trait PersonalSource {
    /// The personal data in `sealed`, if readable.
    fn open(&self, sealed: &Sealed) -> Option<PersonalData>;
}

impl PersonalSource for LogReader {
    fn open(&self, sealed: &Sealed) -> Option<PersonalData> {
        match self.open_personal(sealed) {
            Ok(Personal::Data(data)) => Some(data),
            Ok(Personal::Erased) | Err(_) => None,
        }
    }
}

/// A source that reads nothing (tests, and views that need no names).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoPersonalData;

impl PersonalSource for NoPersonalData {
    fn open(&self, _: &Sealed) -> Option<PersonalData> {
        None
    }
}
