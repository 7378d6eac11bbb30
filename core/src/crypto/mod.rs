//! Cryptography: every primitive Cairn uses, behind small named functions.
//!
//! Everything secret descends from one 32-byte [`MasterKey`]. Purpose keys
//! are derived from it with HKDF-SHA256 and a fixed `info` label per
//! purpose ([`derive::info`]), so the labels, not the call sites, decide
//! which keys exist. The rest of Cairn never touches a cipher, a MAC or a
//! KDF directly; it calls these modules:
//!
//! - [`base64url`]: the one base64 dialect Cairn writes, with errors that
//!   point at a position instead of repeating the text.
//! - [`master_key`]: parsing, generating and printing the master key.
//! - [`derive`](mod@derive): HKDF purpose keys and per-owner keys.
//! - [`secretbox`]: XSalsa20-Poly1305 (libsodium `crypto_secretbox_easy`).
//! - [`sealed_value`]: the stored form of secret values,
//!   `$cairn$1$<owner_id>$<base64url(nonce || ciphertext)>`.
//! - [`password`]: argon2id password hashes (PHC strings).
//! - [`fingerprint`]: keyed HMAC fingerprints for the audit trail.
//! - [`compare`]: constant-time comparison of secrets.
//! - [`signing`]: Ed25519 checkpoint signatures.
//!
//! API boundary: key material lives in types that zeroize on drop and print
//! as `..redacted..`; no error message or `Debug` output of this module
//! contains key, secret or plaintext bytes. Compatibility with independent
//! implementations (PyNaCl, `cryptography`, argon2-cffi) is checked by
//! `tests/tests/e2e/log/crypto_interop.rs`.

pub mod base64url;
pub mod compare;
pub mod derive;
pub mod fingerprint;
pub mod master_key;
pub mod opening;
pub mod password;
pub mod sealed_value;
pub mod secretbox;
pub mod signing;

pub use base64url::Base64Problem;
pub use compare::constant_time_eq;
pub use derive::{DerivedKey, derive_key, info, owner_key};
pub use fingerprint::{Fingerprinter, format_fingerprint};
pub use master_key::{MasterKey, MasterKeyError};
pub use password::{
    PasswordHashError, burn_equivalent_time, dummy_hash, hash_password, verify_password,
};
pub use sealed_value::{ParsedSealed, SealedValueError, open_value, parse_sealed, seal_value};
pub use secretbox::OpenError;
pub use signing::{
    CheckpointSigner, SignatureError, checkpoint_message, key_id_of, verify_checkpoint,
    verify_signed,
};
