//! URL-safe base64 as Cairn writes and reads it, with decode errors that say
//! where the text went wrong without repeating any of it.
//!
//! Cairn always writes URL-safe base64 without `=` padding (keys, sealed
//! values). Decode errors are reported as positions, never as the offending
//! characters: the text being decoded is often a key or a ciphertext.

use base64::Engine;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use zeroize::Zeroizing;

/// The engine Cairn writes with: URL-safe alphabet, no padding. On decode
/// it refuses padding, so a stored value has exactly one spelling.
pub(crate) const WRITE: GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// An engine for text typed or pasted by people (the master key): padding
/// may be present or absent.
pub(crate) const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a text is not valid URL-safe base64. Positions count characters from
/// 1, so they match what an editor shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base64Problem {
    /// A character outside the URL-safe alphabet (`A-Z a-z 0-9 - _`), or a
    /// `=` where none may be.
    InvalidCharacter {
        /// 1-based character position of the first invalid character.
        position: usize,
    },
    /// The number of base64 characters cannot encode whole bytes.
    InvalidLength {
        /// Number of characters in the text.
        characters: usize,
    },
    /// `=` padding is present where it is not allowed, or is wrong.
    InvalidPadding,
    /// The last character carries bits that a canonical encoder sets to
    /// zero, so the text is not the encoding of any byte string.
    NonCanonicalEnd {
        /// 1-based character position of the last character.
        position: usize,
    },
}

impl std::fmt::Display for Base64Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Base64Problem::InvalidCharacter { position } => write!(
                f,
                "invalid character at position {position} (allowed: A-Z, a-z, 0-9, '-' and '_')"
            ),
            Base64Problem::InvalidLength { characters } => {
                write!(f, "{characters} characters cannot encode whole bytes")
            }
            Base64Problem::InvalidPadding => write!(f, "invalid '=' padding"),
            Base64Problem::NonCanonicalEnd { position } => write!(
                f,
                "the last character (position {position}) has trailing bits set, so it is not a canonical encoding"
            ),
        }
    }
}

/// Decodes `text` with `engine` into a buffer that is wiped when dropped.
pub(crate) fn decode(
    engine: &GeneralPurpose,
    text: &str,
) -> Result<Zeroizing<Vec<u8>>, Base64Problem> {
    match engine.decode(text) {
        Ok(bytes) => Ok(Zeroizing::new(bytes)),
        Err(error) => Err(problem(text, error)),
    }
}

fn problem(text: &str, error: base64::DecodeError) -> Base64Problem {
    match error {
        base64::DecodeError::InvalidByte(offset, _) => Base64Problem::InvalidCharacter {
            position: char_position(text, offset),
        },
        base64::DecodeError::InvalidLength(_) => Base64Problem::InvalidLength {
            characters: text.chars().count(),
        },
        base64::DecodeError::InvalidLastSymbol(offset, _) => Base64Problem::NonCanonicalEnd {
            position: char_position(text, offset),
        },
        base64::DecodeError::InvalidPadding => Base64Problem::InvalidPadding,
    }
}

/// The 1-based character position of byte `offset` of `text`. The base64
/// crate reports byte offsets; an invalid multi-byte character starts at a
/// character boundary, so the prefix is valid UTF-8.
fn char_position(text: &str, offset: usize) -> usize {
    match text.get(..offset) {
        Some(prefix) => prefix.chars().count() + 1,
        None => offset + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_engine_omits_padding_and_round_trips() {
        let encoded = WRITE.encode([0xfb, 0xff]);
        assert_eq!(encoded, "-_8");
        assert_eq!(decode(&WRITE, &encoded).unwrap().as_slice(), &[0xfb, 0xff]);
        assert_eq!(decode(&WRITE, "-_8="), Err(Base64Problem::InvalidPadding));
    }

    #[test]
    fn lenient_engine_accepts_padding_and_its_absence() {
        assert_eq!(decode(&LENIENT, "-_8=").unwrap().as_slice(), &[0xfb, 0xff]);
        assert_eq!(decode(&LENIENT, "-_8").unwrap().as_slice(), &[0xfb, 0xff]);
    }

    #[test]
    fn problems_report_positions_in_characters() {
        assert_eq!(
            decode(&WRITE, "ab+d"),
            Err(Base64Problem::InvalidCharacter { position: 3 })
        );
        assert_eq!(
            decode(&WRITE, "éabc"),
            Err(Base64Problem::InvalidCharacter { position: 1 })
        );
        assert_eq!(
            decode(&WRITE, "abéc"),
            Err(Base64Problem::InvalidCharacter { position: 3 })
        );
        assert_eq!(
            decode(&WRITE, "abcde"),
            Err(Base64Problem::InvalidLength { characters: 5 })
        );
        assert_eq!(
            decode(&WRITE, "-_9"),
            Err(Base64Problem::NonCanonicalEnd { position: 3 })
        );
    }

    #[test]
    fn messages_never_repeat_the_input() {
        let message = decode(&WRITE, "secretZ!").unwrap_err().to_string();
        assert!(!message.contains("secret"), "{message}");
        assert!(!message.contains('!'), "{message}");
    }
}
