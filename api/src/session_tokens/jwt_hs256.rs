//! The one JWT algorithm Cairn signs and accepts, HS256, as jsonwebtoken's
//! process-wide crypto provider.
//!
//! jsonwebtoken's bundled `rust_crypto` backend brings every algorithm
//! family, RSA among them: the `rsa` crate has an unfixed timing attack
//! (RUSTSEC-2023-0071, "Marvin"). Cairn never touches RSA, so instead of
//! that backend this provider offers HMAC-SHA-256 alone (the RustCrypto
//! `hmac` and `sha2` crates the rest of Cairn already uses), and every
//! other algorithm is refused as `InvalidAlgorithm`, before any key is
//! used. Signature checks are constant-time (`Mac::verify_slice`).

use hmac::{Hmac, Mac};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The provider: HS256 signing and verification, nothing else (JWKs are
/// not supported: Cairn issues and checks its own tokens only).
static HS256_ONLY: CryptoProvider = CryptoProvider {
    signer_factory: signer,
    verifier_factory: verifier,
    key_utils: KeyUtils::new_unimplemented(),
};

/// Installs the provider for the process. Idempotent: a second call (or a
/// provider installed earlier by this function) changes nothing.
pub fn install() {
    // Only this module installs a provider; an `Err` means it is in place.
    let _ = HS256_ONLY.install_default();
}

fn signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>, Error> {
    require_hs256(*algorithm, key.family())?;
    let mac = HmacSha256::new_from_slice(key.as_bytes())
        .map_err(|_| Error::from(ErrorKind::InvalidKeyFormat))?;
    Ok(Box::new(Hs256(mac)))
}

fn verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, Error> {
    require_hs256(*algorithm, key.family())?;
    let mac = HmacSha256::new_from_slice(key.try_get_as_bytes()?)
        .map_err(|_| Error::from(ErrorKind::InvalidKeyFormat))?;
    Ok(Box::new(Hs256(mac)))
}

/// Whether an algorithm and key may be used here: HS256 with an HMAC key.
fn require_hs256(algorithm: Algorithm, family: AlgorithmFamily) -> Result<(), Error> {
    if algorithm != Algorithm::HS256 {
        return Err(ErrorKind::InvalidAlgorithm.into());
    }
    if family != AlgorithmFamily::Hmac {
        return Err(ErrorKind::InvalidKeyFormat.into());
    }
    Ok(())
}

/// An HMAC-SHA-256 keyed once; each use works on a copy.
struct Hs256(HmacSha256);

impl Signer<Vec<u8>> for Hs256 {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, signature::Error> {
        let mut mac = self.0.clone();
        mac.update(message);
        Ok(mac.finalize().into_bytes().to_vec())
    }
}

impl JwtSigner for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

impl Verifier<Vec<u8>> for Hs256 {
    fn verify(&self, message: &[u8], tag: &Vec<u8>) -> Result<(), signature::Error> {
        let mut mac = self.0.clone();
        mac.update(message);
        mac.verify_slice(tag).map_err(signature::Error::from_source)
    }
}

impl JwtVerifier for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"a test key of thirty-two bytes!!";

    #[test]
    fn given_hs256_when_signing_then_the_tag_is_rfc_4231_hmac_sha256() {
        install();
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let tag = jsonwebtoken::crypto::sign(
            b"what do ya want for nothing?",
            &EncodingKey::from_secret(b"Jefe"),
            Algorithm::HS256,
        )
        .expect("signed");
        let expected =
            hex::decode("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
                .expect("hex");
        use base64::Engine as _;
        assert_eq!(
            tag,
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(expected)
        );
    }

    #[test]
    fn given_a_signed_message_when_verified_then_only_the_exact_tag_passes() {
        install();
        let key = DecodingKey::from_secret(KEY);
        let tag =
            jsonwebtoken::crypto::sign(b"m", &EncodingKey::from_secret(KEY), Algorithm::HS256)
                .expect("signed");
        assert!(
            jsonwebtoken::crypto::verify(&tag, b"m", &key, Algorithm::HS256).expect("verified")
        );
        assert!(!jsonwebtoken::crypto::verify(&tag, b"n", &key, Algorithm::HS256).unwrap_or(false));
    }

    #[test]
    fn given_any_other_algorithm_when_used_then_it_is_refused() {
        install();
        for algorithm in [
            Algorithm::HS384,
            Algorithm::HS512,
            Algorithm::RS256,
            Algorithm::PS256,
            Algorithm::ES256,
            Algorithm::EdDSA,
        ] {
            let signed =
                jsonwebtoken::crypto::sign(b"m", &EncodingKey::from_secret(KEY), algorithm);
            assert!(
                matches!(
                    signed.as_ref().map_err(Error::kind),
                    Err(ErrorKind::InvalidAlgorithm)
                ),
                "{algorithm:?}: {signed:?}"
            );
            let verified = jsonwebtoken::crypto::verify(
                "AAAA",
                b"m",
                &DecodingKey::from_secret(KEY),
                algorithm,
            );
            assert!(
                matches!(
                    verified.as_ref().map_err(Error::kind),
                    Err(ErrorKind::InvalidAlgorithm)
                ),
                "{algorithm:?}: {verified:?}"
            );
        }
    }
}
