//! XSalsa20-Poly1305 authenticated encryption, byte-compatible with
//! libsodium's `crypto_secretbox_easy` (and so with PyNaCl's `SecretBox`).
//!
//! The ciphertext is the 16-byte Poly1305 tag followed by the encrypted
//! bytes, which is the layout the `crypto_secretbox` crate produces; the
//! interop test checks it against PyNaCl. Nonces are 24 random bytes, large
//! enough that random nonces never collide in practice.

use crypto_secretbox::XSalsa20Poly1305;
use crypto_secretbox::aead::{Aead, AeadInPlace, KeyInit};
use zeroize::Zeroizing;

use crate::entropy::{Entropy, random_array};

/// Length of a key in bytes.
pub const KEY_LEN: usize = 32;
/// Length of a nonce in bytes.
pub const NONCE_LEN: usize = 24;
/// Length of the Poly1305 tag that precedes the encrypted bytes.
pub const TAG_LEN: usize = 16;

/// A ciphertext did not authenticate under the key and nonce given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The tag does not match: the ciphertext or nonce was altered, it is
    /// shorter than a tag, or it was sealed under another key.
    #[error("the value does not open under this key (tampered, or sealed for another owner)")]
    Forged,
}

/// Encrypts and authenticates `plaintext`: returns tag || encrypted bytes,
/// `plaintext.len() + 16` bytes. Never reuse a nonce with the same key; use
/// [`seal_random`] unless the nonce is chosen elsewhere.
pub fn seal(key: &[u8; KEY_LEN], nonce: &[u8; NONCE_LEN], plaintext: &[u8]) -> Vec<u8> {
    let cipher = XSalsa20Poly1305::new(key.into());
    match cipher.encrypt(nonce.into(), plaintext) {
        Ok(ciphertext) => ciphertext,
        // The crate refuses only associated data (none here) and buffers
        // that cannot grow (a Vec always can).
        Err(_) => unreachable!("crypto_secretbox encryption without associated data cannot fail"),
    }
}

/// Checks the tag and decrypts. The plaintext is wiped when dropped.
pub fn open(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    let cipher = XSalsa20Poly1305::new(key.into());
    // Decrypt in a buffer that is wiped on drop, so no copy of the
    // plaintext is left behind in freed memory.
    let mut buffer = Zeroizing::new(ciphertext.to_vec());
    match cipher.decrypt_in_place(nonce.into(), &[], &mut *buffer) {
        Ok(()) => Ok(buffer),
        Err(_) => Err(OpenError::Forged),
    }
}

/// Seals `plaintext` under a fresh random nonce drawn from `entropy`;
/// returns the nonce and the ciphertext.
pub fn seal_random(
    key: &[u8; KEY_LEN],
    plaintext: &[u8],
    entropy: &dyn Entropy,
) -> ([u8; NONCE_LEN], Vec<u8>) {
    let nonce = random_array::<NONCE_LEN>(entropy);
    let ciphertext = seal(key, &nonce, plaintext);
    (nonce, ciphertext)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::SeededEntropy;

    const KEY: [u8; 32] = [0x42; 32];

    /// Known answer computed independently with PyNaCl:
    /// `SecretBox(key).encrypt("héllo, cairn ✓".encode(), bytes(range(24))).ciphertext`
    /// with key = the owner key of the counting master key (see derive.rs).
    #[test]
    fn known_answer_from_pynacl() {
        let key: [u8; 32] =
            hex::decode("9e0c0513d90e4d9d7a447aba2d5ca241f4b7761da944b6395d6db10db8708375")
                .unwrap()
                .try_into()
                .unwrap();
        let nonce: [u8; 24] = std::array::from_fn(|i| i as u8);
        let plaintext = "héllo, cairn ✓".as_bytes();
        let ciphertext = seal(&key, &nonce, plaintext);
        assert_eq!(
            hex::encode(&ciphertext),
            "b5e16bead5bb943b6efb1555dfabaf12a5f22beea3e0d0a1e59e3ae33593be1e8e"
        );
        assert_eq!(
            open(&key, &nonce, &ciphertext).unwrap().as_slice(),
            plaintext
        );
    }

    #[test]
    fn round_trip_including_empty() {
        let entropy = SeededEntropy::new(11);
        for plaintext in [&b""[..], b"x", &[0u8; 1000], "ünïcødé".as_bytes()] {
            let (nonce, ciphertext) = seal_random(&KEY, plaintext, &entropy);
            assert_eq!(ciphertext.len(), plaintext.len() + TAG_LEN);
            assert_eq!(
                open(&KEY, &nonce, &ciphertext).unwrap().as_slice(),
                plaintext
            );
        }
    }

    #[test]
    fn random_nonces_differ() {
        let entropy = SeededEntropy::new(12);
        let (first, _) = seal_random(&KEY, b"same", &entropy);
        let (second, _) = seal_random(&KEY, b"same", &entropy);
        assert_ne!(first, second);
    }

    #[test]
    fn wrong_key_nonce_or_tampering_fails() {
        let nonce = [7u8; 24];
        let ciphertext = seal(&KEY, &nonce, b"attack at dawn");
        assert_eq!(
            open(&[0x43; 32], &nonce, &ciphertext),
            Err(OpenError::Forged)
        );
        assert_eq!(open(&KEY, &[8u8; 24], &ciphertext), Err(OpenError::Forged));
        for index in 0..ciphertext.len() {
            let mut tampered = ciphertext.clone();
            tampered[index] ^= 0x01;
            assert_eq!(
                open(&KEY, &nonce, &tampered),
                Err(OpenError::Forged),
                "byte {index}"
            );
        }
        assert_eq!(
            open(&KEY, &nonce, &ciphertext[..TAG_LEN - 1]),
            Err(OpenError::Forged)
        );
        assert_eq!(
            open(&KEY, &nonce, &ciphertext[..ciphertext.len() - 1]),
            Err(OpenError::Forged)
        );
    }
}
