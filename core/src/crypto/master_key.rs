//! The master key: the one secret every other Cairn key is derived from.
//!
//! It is 32 random bytes, written as URL-safe base64 (`CAIRN_MASTER_KEY`,
//! `<data dir>/master.key`, `cairn keygen`). A malformed key must be a clear
//! startup error, so parsing reports what is wrong (empty, which position is
//! not base64, how many bytes it decodes to) and never repeats the input.

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::crypto::base64url::{self, Base64Problem};
use crate::entropy::{Entropy, random_array};

/// Length of the master key in bytes.
pub const MASTER_KEY_LEN: usize = 32;

/// The 32-byte master key. Wiped from memory when dropped; its `Debug`
/// output is `MasterKey(..redacted..)`. It is deliberately not `Clone`:
/// share it by reference or behind an `Arc`, so there is one copy to wipe.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct MasterKey {
    bytes: [u8; MASTER_KEY_LEN],
}

/// Why a text is not a master key. No variant holds any part of the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MasterKeyError {
    /// The text is empty or only whitespace.
    #[error(
        "the master key is empty: expected 32 random bytes in URL-safe base64 (`cairn keygen` prints one)"
    )]
    Empty,
    /// The text is not URL-safe base64.
    #[error("the master key is not valid URL-safe base64: {0}")]
    NotBase64(Base64Problem),
    /// The text is base64 but not of 32 bytes.
    #[error("the master key decodes to {len} bytes, expected 32")]
    WrongLength {
        /// Number of bytes the text decodes to.
        len: usize,
    },
}

impl MasterKey {
    /// Parses a master key from URL-safe base64, with or without `=`
    /// padding. Surrounding whitespace (a trailing newline in a key file)
    /// is ignored; positions in errors count from the first non-blank
    /// character.
    pub fn parse(text: &str) -> Result<MasterKey, MasterKeyError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(MasterKeyError::Empty);
        }
        let decoded =
            base64url::decode(&base64url::LENIENT, text).map_err(MasterKeyError::NotBase64)?;
        if decoded.len() != MASTER_KEY_LEN {
            return Err(MasterKeyError::WrongLength { len: decoded.len() });
        }
        let mut key = MasterKey {
            bytes: [0u8; MASTER_KEY_LEN],
        };
        key.bytes.copy_from_slice(&decoded);
        Ok(key)
    }

    /// Draws a fresh master key from `entropy` (the OS CSPRNG in production).
    pub fn generate(entropy: &dyn Entropy) -> MasterKey {
        MasterKey {
            bytes: random_array::<MASTER_KEY_LEN>(entropy),
        }
    }

    /// Wraps raw key bytes (tests, and keys read from elsewhere).
    pub fn from_bytes(bytes: [u8; MASTER_KEY_LEN]) -> MasterKey {
        MasterKey { bytes }
    }

    /// The key as URL-safe base64 without padding, the form `parse` reads
    /// and `cairn keygen` prints. The string is wiped when dropped.
    pub fn to_base64(&self) -> Zeroizing<String> {
        use base64::Engine;
        Zeroizing::new(base64url::WRITE.encode(self.bytes))
    }

    /// A second handle on the same key (also wiped when dropped), for a
    /// component that must keep it, like the secret vault.
    pub fn duplicate(&self) -> MasterKey {
        MasterKey { bytes: self.bytes }
    }

    /// The raw key bytes, for key derivation inside this crate only.
    pub(crate) fn as_bytes(&self) -> &[u8; MASTER_KEY_LEN] {
        &self.bytes
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..redacted..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::SeededEntropy;

    /// bytes 0..32 as URL-safe base64 without padding.
    const COUNTING_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

    fn counting_bytes() -> [u8; 32] {
        std::array::from_fn(|i| i as u8)
    }

    #[test]
    fn parses_with_or_without_padding_and_surrounding_whitespace() {
        for text in [
            COUNTING_KEY.to_string(),
            format!("{COUNTING_KEY}="),
            format!("  {COUNTING_KEY}\n"),
            format!("\t{COUNTING_KEY}=\r\n"),
        ] {
            let key = MasterKey::parse(&text).unwrap();
            assert_eq!(key.as_bytes(), &counting_bytes(), "{text:?}");
        }
    }

    #[test]
    fn to_base64_round_trips_without_padding() {
        let key = MasterKey::from_bytes(counting_bytes());
        assert_eq!(key.to_base64().as_str(), COUNTING_KEY);
        let seed = 0x5eed_0001;
        let generated = MasterKey::generate(&SeededEntropy::new(seed));
        let reparsed = MasterKey::parse(&generated.to_base64()).unwrap();
        assert_eq!(reparsed.as_bytes(), generated.as_bytes(), "seed {seed}");
    }

    #[test]
    fn url_safe_characters_decode() {
        // 0xfb 0xff... exercises '-' and '_', which standard base64 spells '+' and '/'.
        let key = MasterKey::from_bytes([0xfb; 32]);
        let text = key.to_base64();
        assert!(text.contains('-') || text.contains('_'));
        assert_eq!(MasterKey::parse(&text).unwrap().as_bytes(), &[0xfb; 32]);
    }

    #[test]
    fn empty_and_blank_are_empty() {
        assert_eq!(MasterKey::parse("").unwrap_err(), MasterKeyError::Empty);
        assert_eq!(
            MasterKey::parse(" \n\t").unwrap_err(),
            MasterKeyError::Empty
        );
    }

    #[test]
    fn standard_base64_characters_are_rejected_with_their_position() {
        let mut text = COUNTING_KEY.to_string();
        text.replace_range(4..5, "+");
        let error = MasterKey::parse(&format!("  {text}")).unwrap_err();
        assert_eq!(
            error,
            MasterKeyError::NotBase64(Base64Problem::InvalidCharacter { position: 5 })
        );
        assert!(error.to_string().contains("position 5"), "{error}");
    }

    #[test]
    fn wrong_length_says_how_many_bytes() {
        let short = base64::Engine::encode(&base64url::WRITE, [7u8; 16]);
        let error = MasterKey::parse(&short).unwrap_err();
        assert_eq!(error, MasterKeyError::WrongLength { len: 16 });
        assert_eq!(
            error.to_string(),
            "the master key decodes to 16 bytes, expected 32"
        );
        let long = base64::Engine::encode(&base64url::WRITE, [7u8; 33]);
        assert_eq!(
            MasterKey::parse(&long).unwrap_err(),
            MasterKeyError::WrongLength { len: 33 }
        );
    }

    #[test]
    fn impossible_lengths_are_not_base64() {
        let error = MasterKey::parse("abcde").unwrap_err();
        assert_eq!(
            error,
            MasterKeyError::NotBase64(Base64Problem::InvalidLength { characters: 5 })
        );
    }

    #[test]
    fn errors_never_echo_the_input() {
        let inputs = [
            format!("{COUNTING_KEY}!"),
            COUNTING_KEY[..20].to_string(),
            "hunter2hunter2".to_string(),
        ];
        for input in inputs {
            let error = MasterKey::parse(&input).unwrap_err();
            for message in [error.to_string(), format!("{error:?}")] {
                assert!(!message.contains(&input[..8]), "{message}");
            }
        }
    }

    #[test]
    fn debug_is_redacted() {
        let key = MasterKey::from_bytes([0xab; 32]);
        let debug = format!("{key:?}");
        assert_eq!(debug, "MasterKey(..redacted..)");
        assert!(!debug.contains("abab"));
        assert!(!debug.contains(&key.to_base64()[..8]));
    }
}
