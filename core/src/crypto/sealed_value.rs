//! The stored form of secret values: `$cairn$1$<owner_id>$<payload>`.
//!
//! `<owner_id>` is the owning principal's id as a hyphenated lowercase UUID
//! and `<payload>` is URL-safe base64 without padding of
//! `nonce (24 bytes) || tag (16 bytes) || encrypted bytes`, sealed with
//! XSalsa20-Poly1305 under the owner's key (HKDF of the master key with
//! `info = "secret-key:" + owner_id`).
//!
//! The key comes only from the owner id written in the value, so opening a
//! value never depends on who runs the flow that needs it. Moving a value to
//! another owner by rewriting the id does not work: the other owner's key
//! does not open it.
//!
//! Parsing is strict (one spelling per value: lowercase id, no padding) so
//! that `parse` followed by formatting gives back the same text.

use uuid::Uuid;
use zeroize::Zeroizing;

use crate::crypto::base64url::{self, Base64Problem};
use crate::crypto::derive::owner_key;
use crate::crypto::master_key::MasterKey;
use crate::crypto::secretbox::{self, NONCE_LEN, TAG_LEN};
use crate::entropy::Entropy;

/// The text every sealed value starts with.
pub const PREFIX: &str = "$cairn$";
/// The only format version this code writes and reads.
pub const VERSION: &str = "1";
/// The smallest decoded payload: a nonce and a tag (an empty plaintext).
pub const MIN_PAYLOAD_LEN: usize = NONCE_LEN + TAG_LEN;
/// Versions longer than this are cut short in error messages.
const MAX_VERSION_IN_MESSAGE: usize = 16;

/// A sealed value split into its parts, not yet opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedSealed {
    /// The owner whose key sealed the value.
    pub owner_id: Uuid,
    /// The random nonce.
    pub nonce: [u8; NONCE_LEN],
    /// Tag || encrypted bytes, at least 16 bytes.
    pub ciphertext: Vec<u8>,
}

impl ParsedSealed {
    /// The stored text of these parts, `$cairn$1$<owner_id>$<payload>`.
    pub fn to_stored(&self) -> String {
        format_sealed(&self.owner_id, &self.nonce, &self.ciphertext)
    }
}

/// Why a stored text is not a sealed value, or does not open. No variant
/// holds ciphertext or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealedValueError {
    /// The text does not start with `$cairn$`.
    #[error("not a cairn sealed value (expected it to start with \"$cairn$\")")]
    NotSealed,
    /// The version field is not one this code reads.
    #[error("unsupported sealed value version \"{version}\" (this build reads version 1)")]
    UnsupportedVersion {
        /// The version field, cut to 16 characters and stripped of control characters.
        version: String,
    },
    /// The fields after the version are not `<owner_id>$<payload>`.
    #[error(
        "malformed sealed value: expected $cairn$1$<owner_id>$<payload>, found {fields} field(s) after the version"
    )]
    Malformed {
        /// Number of `$`-separated fields found after the version.
        fields: usize,
    },
    /// The owner id is not a hyphenated lowercase UUID.
    #[error("the sealed value's owner id is not a hyphenated lowercase UUID")]
    BadOwnerId,
    /// The payload is not URL-safe base64 without padding.
    #[error("the sealed value's payload is not URL-safe base64 without padding: {0}")]
    BadBase64(Base64Problem),
    /// The payload is too short to hold a nonce and a tag.
    #[error(
        "the sealed value's payload decodes to {len} bytes, at least 40 expected (24-byte nonce + 16-byte tag)"
    )]
    TooShort {
        /// Number of bytes the payload decodes to.
        len: usize,
    },
    /// The value is well formed but does not authenticate under its owner's key.
    #[error("the value does not open under this key (tampered, or sealed for another owner)")]
    DoesNotOpen,
}

/// Seals `plaintext` for `owner_id` under a fresh random nonce and returns
/// its stored form.
pub fn seal_value(
    master: &MasterKey,
    owner_id: Uuid,
    plaintext: &[u8],
    entropy: &dyn Entropy,
) -> String {
    let key = owner_key(master, &owner_id);
    let (nonce, ciphertext) = secretbox::seal_random(key.as_bytes(), plaintext, entropy);
    format_sealed(&owner_id, &nonce, &ciphertext)
}

/// Opens a stored value with the key of the owner named inside it. The
/// plaintext is wiped when dropped.
pub fn open_value(
    master: &MasterKey,
    stored: &str,
) -> Result<Zeroizing<Vec<u8>>, SealedValueError> {
    let parsed = parse_sealed(stored)?;
    let key = owner_key(master, &parsed.owner_id);
    secretbox::open(key.as_bytes(), &parsed.nonce, &parsed.ciphertext)
        .map_err(|_| SealedValueError::DoesNotOpen)
}

/// Splits a stored value into owner id, nonce and ciphertext without
/// opening it. Never panics, whatever the input.
pub fn parse_sealed(stored: &str) -> Result<ParsedSealed, SealedValueError> {
    let rest = stored
        .strip_prefix(PREFIX)
        .ok_or(SealedValueError::NotSealed)?;
    let (version, rest) = rest.split_once('$').unwrap_or((rest, ""));
    if version != VERSION {
        return Err(SealedValueError::UnsupportedVersion {
            version: printable_prefix(version),
        });
    }
    let fields: Vec<&str> = rest.split('$').collect();
    let [owner_text, payload] = fields.as_slice() else {
        return Err(SealedValueError::Malformed {
            fields: if rest.is_empty() { 0 } else { fields.len() },
        });
    };
    let owner_id = parse_owner_id(owner_text)?;
    let decoded =
        base64url::decode(&base64url::WRITE, payload).map_err(SealedValueError::BadBase64)?;
    if decoded.len() < MIN_PAYLOAD_LEN {
        return Err(SealedValueError::TooShort { len: decoded.len() });
    }
    let (nonce_bytes, ciphertext) = decoded.split_at(NONCE_LEN);
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(nonce_bytes);
    Ok(ParsedSealed {
        owner_id,
        nonce,
        ciphertext: ciphertext.to_vec(),
    })
}

fn format_sealed(owner_id: &Uuid, nonce: &[u8; NONCE_LEN], ciphertext: &[u8]) -> String {
    use base64::Engine;
    let mut payload = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    payload.extend_from_slice(nonce);
    payload.extend_from_slice(ciphertext);
    format!(
        "{PREFIX}{VERSION}${}${}",
        owner_id.hyphenated(),
        base64url::WRITE.encode(&payload)
    )
}

/// Accepts exactly the canonical spelling, so each value has one text form.
fn parse_owner_id(text: &str) -> Result<Uuid, SealedValueError> {
    let owner_id = Uuid::try_parse(text).map_err(|_| SealedValueError::BadOwnerId)?;
    let mut canonical = [0u8; uuid::fmt::Hyphenated::LENGTH];
    if owner_id.hyphenated().encode_lower(&mut canonical) != text {
        return Err(SealedValueError::BadOwnerId);
    }
    Ok(owner_id)
}

/// The version field as it may appear in a message: short and printable.
fn printable_prefix(version: &str) -> String {
    version
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_VERSION_IN_MESSAGE)
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::entropy::SeededEntropy;

    const OWNER: &str = "018f2f4e-7b1c-7a3d-9e4f-0123456789ab";

    fn counting_master() -> MasterKey {
        MasterKey::from_bytes(std::array::from_fn(|i| i as u8))
    }

    /// Known answer built independently with Python `cryptography` (HKDF)
    /// and PyNaCl (`SecretBox`), nonce = bytes(range(24)).
    const KNOWN_STORED: &str = "$cairn$1$018f2f4e-7b1c-7a3d-9e4f-0123456789ab$AAECAwQFBgcICQoLDA0ODxAREhMUFRYXteFr6tW7lDtu-xVV36uvEqXyK-6j4NCh5Z464zWTvh6O";

    #[test]
    fn known_answer_opens_and_formats_back() {
        let opened = open_value(&counting_master(), KNOWN_STORED).unwrap();
        assert_eq!(opened.as_slice(), "héllo, cairn ✓".as_bytes());
        let parsed = parse_sealed(KNOWN_STORED).unwrap();
        assert_eq!(parsed.owner_id, Uuid::parse_str(OWNER).unwrap());
        assert_eq!(parsed.nonce, std::array::from_fn::<u8, 24, _>(|i| i as u8));
        assert_eq!(parsed.to_stored(), KNOWN_STORED);
    }

    #[test]
    fn seal_value_writes_the_documented_form() {
        let owner = Uuid::parse_str(OWNER).unwrap();
        let stored = seal_value(&counting_master(), owner, b"", &SeededEntropy::new(3));
        let prefix = format!("$cairn$1${OWNER}$");
        assert!(stored.starts_with(&prefix), "{stored}");
        // 40 bytes (nonce + tag) are 54 base64 characters without padding.
        assert_eq!(stored.len(), prefix.len() + 54);
        assert!(!stored.ends_with('='));
    }

    #[test]
    fn errors_are_distinct_and_precise() {
        let cases: [(String, SealedValueError); 10] = [
            ("".into(), SealedValueError::NotSealed),
            ("$argon2id$v=19$...".into(), SealedValueError::NotSealed),
            (
                "$cairn$2$x$y".into(),
                SealedValueError::UnsupportedVersion {
                    version: "2".into(),
                },
            ),
            (
                "$cairn$".into(),
                SealedValueError::UnsupportedVersion { version: "".into() },
            ),
            ("$cairn$1".into(), SealedValueError::Malformed { fields: 0 }),
            (
                format!("$cairn$1${OWNER}"),
                SealedValueError::Malformed { fields: 1 },
            ),
            (
                format!("$cairn$1${OWNER}$AAAA$x"),
                SealedValueError::Malformed { fields: 3 },
            ),
            (
                format!("$cairn$1${}$AAAA", OWNER.to_uppercase()),
                SealedValueError::BadOwnerId,
            ),
            (
                format!("$cairn$1${OWNER}$AA+A"),
                SealedValueError::BadBase64(Base64Problem::InvalidCharacter { position: 3 }),
            ),
            (
                format!("$cairn$1${OWNER}$AAAA"),
                SealedValueError::TooShort { len: 3 },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_sealed(&text), Err(expected), "{text:?}");
        }
        assert_eq!(
            parse_sealed(&format!("$cairn$1${}$AAAA", OWNER.replace('-', ""))),
            Err(SealedValueError::BadOwnerId)
        );
        let padded = format!("{KNOWN_STORED}==");
        assert!(matches!(
            parse_sealed(&padded),
            Err(SealedValueError::BadBase64(_))
        ));
        let message = parse_sealed("$cairn$1$x$AAAA").unwrap_err().to_string();
        assert_eq!(
            message,
            "the sealed value's owner id is not a hyphenated lowercase UUID"
        );
        let message = parse_sealed("$cairn$99$x$y").unwrap_err().to_string();
        assert!(message.contains("\"99\""), "{message}");
    }

    #[test]
    fn unsupported_version_message_is_short_and_printable() {
        let text = format!("$cairn${}\n\u{7}$x$y", "9".repeat(100));
        let Err(SealedValueError::UnsupportedVersion { version }) = parse_sealed(&text) else {
            panic!("expected an unsupported version");
        };
        assert_eq!(version, "9".repeat(16));
    }

    #[test]
    fn another_master_key_does_not_open() {
        let stored = seal_value(
            &counting_master(),
            Uuid::from_u128(5),
            b"secret",
            &SeededEntropy::new(4),
        );
        assert_eq!(
            open_value(&MasterKey::from_bytes([1; 32]), &stored),
            Err(SealedValueError::DoesNotOpen)
        );
    }

    #[test]
    fn error_messages_hold_no_payload() {
        let stored = seal_value(
            &counting_master(),
            Uuid::from_u128(5),
            b"secret",
            &SeededEntropy::new(4),
        );
        let payload = stored.rsplit('$').next().unwrap().to_string();
        let truncated = &stored[..stored.len() - 20];
        let error = open_value(&counting_master(), truncated).unwrap_err();
        for message in [error.to_string(), format!("{error:?}")] {
            assert!(!message.contains(&payload[..12]), "{message}");
        }
    }

    fn owner_strategy() -> impl Strategy<Value = Uuid> {
        any::<u128>().prop_map(Uuid::from_u128)
    }

    proptest! {
        #[test]
        fn round_trips_for_any_plaintext_and_owner(
            plaintext in proptest::collection::vec(any::<u8>(), 0..512),
            owner in owner_strategy(),
            seed in any::<u64>(),
        ) {
            let master = counting_master();
            let stored = seal_value(&master, owner, &plaintext, &SeededEntropy::new(seed));
            let parsed = parse_sealed(&stored).unwrap();
            prop_assert_eq!(parsed.owner_id, owner);
            prop_assert_eq!(parsed.to_stored(), stored.clone());
            let opened = open_value(&master, &stored).unwrap();
            prop_assert_eq!(opened.as_slice(), plaintext.as_slice());
        }

        #[test]
        fn moving_a_value_to_another_owner_does_not_open(
            plaintext in proptest::collection::vec(any::<u8>(), 0..64),
            owner in owner_strategy(),
            other in owner_strategy(),
            seed in any::<u64>(),
        ) {
            prop_assume!(owner != other);
            let master = counting_master();
            let stored = seal_value(&master, owner, &plaintext, &SeededEntropy::new(seed));
            let mut parsed = parse_sealed(&stored).unwrap();
            parsed.owner_id = other;
            prop_assert_eq!(open_value(&master, &parsed.to_stored()), Err(SealedValueError::DoesNotOpen));
        }

        #[test]
        fn parse_never_panics(text in any::<String>()) {
            let _ = parse_sealed(&text);
        }

        #[test]
        fn parse_never_panics_on_near_misses(
            owner in owner_strategy(),
            payload in "[A-Za-z0-9_=+/$-]{0,80}",
        ) {
            let text = format!("$cairn$1${}${payload}", owner.hyphenated());
            if let Ok(parsed) = parse_sealed(&text) {
                prop_assert_eq!(parsed.to_stored(), text);
            }
        }
    }
}
