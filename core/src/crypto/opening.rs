//! Opening one sealed item, and only that one, without its owner's key.
//!
//! A `crypto_secretbox` (XSalsa20-Poly1305) first derives a per-message key
//! from the owner's key and the first 16 bytes of the nonce (HSalsa20),
//! then encrypts and authenticates with Salsa20-Poly1305 under that key and
//! the last 8 bytes of the nonce. Handing out the per-message key (an
//! "opening") lets anyone open that one ciphertext and check its Poly1305
//! tag, and nothing else: HSalsa20 is a pseudo-random function, so the
//! opening reveals neither the owner's key nor the opening of any other
//! nonce. An export ships the opening of each personal item it shows, so
//! an offline verifier opens the sealed bytes of the signed header and
//! checks that the names, addresses and user agents the line shows are the
//! ones recorded. Finding another opening under which the same ciphertext
//! authenticates means matching a 128-bit tag by chance.

use poly1305::Poly1305;
use poly1305::universal_hash::KeyInit;
use salsa20::Salsa20;
use salsa20::cipher::consts::U10;
use salsa20::cipher::{KeyIvInit, StreamCipher};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::secretbox::{KEY_LEN, NONCE_LEN, OpenError, TAG_LEN};

/// The per-message key of the box sealed under `key` with `nonce`.
pub fn opening_key(key: &[u8; KEY_LEN], nonce: &[u8; NONCE_LEN]) -> Zeroizing<[u8; KEY_LEN]> {
    let derived = salsa20::hsalsa::<U10>(key.into(), nonce[..16].into());
    Zeroizing::new(derived.into())
}

/// Checks the tag and decrypts a box with its per-message key: the same
/// plaintext [`super::secretbox::open`] gives with the owner's key.
pub fn open_with_opening(
    opening: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    if ciphertext.len() < TAG_LEN {
        return Err(OpenError::Forged);
    }
    let (tag, encrypted) = ciphertext.split_at(TAG_LEN);
    let mut cipher = Salsa20::new(opening.into(), nonce[16..].into());
    // The Poly1305 key is the first 32 bytes of the keystream; the
    // message is encrypted with the keystream that follows.
    let mut mac_key = Zeroizing::new([0u8; 32]);
    cipher.apply_keystream(mac_key.as_mut_slice());
    let expected = Poly1305::new(mac_key.as_slice().into()).compute_unpadded(encrypted);
    if !bool::from(expected.as_slice().ct_eq(tag)) {
        return Err(OpenError::Forged);
    }
    let mut plain = Zeroizing::new(encrypted.to_vec());
    cipher.apply_keystream(plain.as_mut_slice());
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::secretbox::seal;

    const KEY: [u8; 32] = [0x42; 32];

    #[test]
    fn given_a_box_when_opened_with_its_opening_then_the_plaintext_comes_back() {
        for (index, plaintext) in [&b""[..], b"ada", &[7u8; 300], "ünïcødé".as_bytes()]
            .into_iter()
            .enumerate()
        {
            let nonce: [u8; 24] = std::array::from_fn(|i| (i + index) as u8);
            let ciphertext = seal(&KEY, &nonce, plaintext);
            let opening = opening_key(&KEY, &nonce);
            assert_eq!(
                open_with_opening(&opening, &nonce, &ciphertext)
                    .unwrap()
                    .as_slice(),
                plaintext
            );
        }
    }

    #[test]
    fn given_a_box_when_anything_is_changed_then_it_does_not_open() {
        let nonce = [9u8; 24];
        let ciphertext = seal(&KEY, &nonce, b"mallory");
        let opening = opening_key(&KEY, &nonce);
        let mut other = *opening;
        other[0] ^= 1;
        assert_eq!(
            open_with_opening(&other, &nonce, &ciphertext),
            Err(OpenError::Forged)
        );
        // Another nonce's opening does not open this box.
        let elsewhere = opening_key(&KEY, &[8u8; 24]);
        assert_eq!(
            open_with_opening(&elsewhere, &nonce, &ciphertext),
            Err(OpenError::Forged)
        );
        for index in 0..ciphertext.len() {
            let mut tampered = ciphertext.clone();
            tampered[index] ^= 0x01;
            assert_eq!(
                open_with_opening(&opening, &nonce, &tampered),
                Err(OpenError::Forged),
                "byte {index}"
            );
        }
        assert_eq!(
            open_with_opening(&opening, &nonce, &ciphertext[..TAG_LEN - 1]),
            Err(OpenError::Forged)
        );
    }

    #[test]
    fn given_two_nonces_when_their_openings_are_derived_then_they_differ_from_each_other_and_the_key()
     {
        let first = opening_key(&KEY, &[1u8; 24]);
        let second = opening_key(&KEY, &[2u8; 24]);
        assert_ne!(*first, *second);
        assert_ne!(*first, KEY);
    }
}
