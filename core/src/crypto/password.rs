//! Password hashes: argon2id with the OWASP parameters, stored as PHC
//! strings (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).
//!
//! The whole password is hashed, whatever its length: nothing here
//! truncates (argon2 accepts up to 2^32 - 1 bytes). Password *policy*
//! (length limits, common passwords) belongs to the caller.
//!
//! An unknown user must cost as much as a wrong password, or login timing
//! tells which accounts exist: [`burn_equivalent_time`] verifies against a
//! fixed hash made with the same parameters.
//!
//! Hashing is deliberately slow (tens of milliseconds); async callers run
//! it on the blocking pool.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::entropy::{Entropy, random_array};

/// Memory cost in KiB (OWASP: 19 MiB).
pub const MEMORY_KIB: u32 = 19_456;
/// Number of passes.
pub const ITERATIONS: u32 = 2;
/// Degree of parallelism.
pub const PARALLELISM: u32 = 1;
/// Length of the hash output in bytes.
pub const OUTPUT_LEN: usize = 32;
/// Length of the random salt in bytes.
pub const SALT_LEN: usize = 16;

/// A hash of an unknowable password (32 random bytes, discarded), made once
/// with exactly the parameters above by argon2-cffi. A unit test checks the
/// parameters still match.
const DUMMY_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$mdSD2x/V4dGoVTbdhKWIHg$Uu4bybMr1v8+3muyO8VJXpuC3aaXW+NLCMZ0dRR4RDo";

/// Why a password could not be hashed, or a stored hash could not be read.
/// No variant holds the password or the hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordHashError {
    /// The stored text is not a PHC string with parameters, salt and hash.
    #[error("the stored password hash is not a valid PHC string: {reason}")]
    Malformed {
        /// What the PHC parser objected to (never the text itself).
        reason: String,
    },
    /// The stored hash uses another algorithm than argon2id.
    #[error("the stored password hash uses an unsupported algorithm (only argon2id is accepted)")]
    UnsupportedAlgorithm,
    /// argon2 refused to hash (a password longer than 2^32 - 1 bytes).
    #[error("password hashing failed: {reason}")]
    HashingFailed {
        /// argon2's reason.
        reason: String,
    },
}

fn hasher() -> Result<Argon2<'static>, PasswordHashError> {
    let params =
        Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, Some(OUTPUT_LEN)).map_err(|error| {
            PasswordHashError::HashingFailed {
                reason: error.to_string(),
            }
        })?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes `password` with argon2id under a fresh 16-byte salt from
/// `entropy`; returns the PHC string to store.
pub fn hash_password(password: &[u8], entropy: &dyn Entropy) -> Result<String, PasswordHashError> {
    hash_password_with_salt(password, &random_array::<SALT_LEN>(entropy))
}

fn hash_password_with_salt(
    password: &[u8],
    salt: &[u8; SALT_LEN],
) -> Result<String, PasswordHashError> {
    let salt = SaltString::encode_b64(salt).map_err(|error| PasswordHashError::HashingFailed {
        reason: error.to_string(),
    })?;
    let hash = hasher()?.hash_password(password, &salt).map_err(|error| {
        PasswordHashError::HashingFailed {
            reason: error.to_string(),
        }
    })?;
    Ok(hash.to_string())
}

/// Checks `password` against a stored PHC string, with the parameters
/// written in it (so hashes made with older parameters still verify).
/// `Ok(false)` means the password is wrong; `Err` means the stored string is
/// unusable. The final comparison is constant-time.
pub fn verify_password(password: &[u8], phc: &str) -> Result<bool, PasswordHashError> {
    let hash = PasswordHash::new(phc).map_err(|error| PasswordHashError::Malformed {
        reason: error.to_string(),
    })?;
    if hash.algorithm != argon2::ARGON2ID_IDENT {
        return Err(PasswordHashError::UnsupportedAlgorithm);
    }
    if hash.salt.is_none() || hash.hash.is_none() {
        // The verifier would report these as a wrong password; they are a
        // broken stored value instead.
        return Err(PasswordHashError::Malformed {
            reason: "salt or hash missing".to_string(),
        });
    }
    match Argon2::default().verify_password(password, &hash) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(error) => Err(PasswordHashError::Malformed {
            reason: error.to_string(),
        }),
    }
}

/// A valid PHC string, made with the current parameters, that no password
/// is known to match.
pub fn dummy_hash() -> &'static str {
    DUMMY_PHC
}

/// Spends the time of one failed [`verify_password`] call: the login path
/// calls this when the user does not exist, so unknown users and wrong
/// passwords cannot be told apart by timing.
pub fn burn_equivalent_time(password: &[u8]) {
    // The result is meaningless by construction; only the work matters.
    let _ = std::hint::black_box(verify_password(std::hint::black_box(password), DUMMY_PHC));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::SeededEntropy;

    /// Computed independently with argon2-cffi:
    /// `hash_secret(b"correct horse battery staple", bytes(range(16)), time_cost=2,
    /// memory_cost=19456, parallelism=1, hash_len=32, type=Type.ID)`.
    const KNOWN_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$AAECAwQFBgcICQoLDA0ODw$gYJZtjEAJqjg26xdLmknq8/bB7MiWPrE9hsYuA+SkIU";

    #[test]
    fn known_answer_from_argon2_cffi() {
        let salt: [u8; 16] = std::array::from_fn(|i| i as u8);
        assert_eq!(
            hash_password_with_salt(b"correct horse battery staple", &salt).unwrap(),
            KNOWN_PHC
        );
        assert_eq!(
            verify_password(b"correct horse battery staple", KNOWN_PHC),
            Ok(true)
        );
        assert_eq!(
            verify_password(b"correct horse battery stapl", KNOWN_PHC),
            Ok(false)
        );
    }

    #[test]
    fn hash_uses_owasp_parameters_and_random_salt() {
        let entropy = SeededEntropy::new(21);
        let first = hash_password(b"pw", &entropy).unwrap();
        let second = hash_password(b"pw", &entropy).unwrap();
        assert!(
            first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{first}"
        );
        assert_ne!(first, second);
        let parsed = PasswordHash::new(&first).unwrap();
        assert_eq!(parsed.hash.unwrap().len(), OUTPUT_LEN);
        assert_eq!(
            parsed
                .salt
                .unwrap()
                .decode_b64(&mut [0u8; 64])
                .unwrap()
                .len(),
            SALT_LEN
        );
        assert_eq!(verify_password(b"pw", &first), Ok(true));
        assert_eq!(verify_password(b"pW", &first), Ok(false));
    }

    #[test]
    fn long_passwords_are_not_truncated() {
        let entropy = SeededEntropy::new(22);
        let long = vec![b'a'; 4096];
        let hash = hash_password(&long, &entropy).unwrap();
        assert_eq!(verify_password(&long, &hash), Ok(true));
        let mut differs_at_end = long.clone();
        differs_at_end[4095] = b'b';
        assert_eq!(verify_password(&differs_at_end, &hash), Ok(false));
        assert_eq!(verify_password(&long[..72], &hash), Ok(false));
        assert_eq!(verify_password(&long[..4095], &hash), Ok(false));
    }

    #[test]
    fn non_utf8_and_empty_passwords_hash() {
        let entropy = SeededEntropy::new(23);
        for password in [&b""[..], &[0xff, 0x00, 0xfe]] {
            let hash = hash_password(password, &entropy).unwrap();
            assert_eq!(verify_password(password, &hash), Ok(true));
        }
    }

    #[test]
    fn malformed_and_foreign_hashes_are_errors() {
        for phc in [
            "",
            "not a hash",
            "$argon2id$v=19$m=19456,t=2,p=1",
            "$argon2id$v=19$m=19456,t=2,p=1$AAECAwQFBgcICQoLDA0ODw",
        ] {
            assert!(
                matches!(
                    verify_password(b"pw", phc),
                    Err(PasswordHashError::Malformed { .. })
                ),
                "{phc:?}"
            );
        }
        let argon2i = "$argon2i$v=19$m=19456,t=2,p=1$AAECAwQFBgcICQoLDA0ODw$gYJZtjEAJqjg26xdLmknq8/bB7MiWPrE9hsYuA+SkIU";
        assert_eq!(
            verify_password(b"pw", argon2i),
            Err(PasswordHashError::UnsupportedAlgorithm)
        );
    }

    #[test]
    fn error_messages_do_not_echo_the_stored_hash() {
        let broken = KNOWN_PHC.replace("m=19456", "m=zz");
        let error = verify_password(b"pw", &broken).unwrap_err();
        for message in [error.to_string(), format!("{error:?}")] {
            assert!(!message.contains("gYJZtjEAJqjg"), "{message}");
            assert!(!message.contains("AAECAwQFBgcICQoLDA0ODw"), "{message}");
        }
    }

    #[test]
    fn dummy_hash_has_the_current_parameters() {
        let dummy = PasswordHash::new(dummy_hash()).unwrap();
        assert_eq!(dummy.algorithm, argon2::ARGON2ID_IDENT);
        assert_eq!(dummy.version, Some(Version::V0x13 as u32));
        let params = Params::try_from(&dummy).unwrap();
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (MEMORY_KIB, ITERATIONS, PARALLELISM)
        );
        assert_eq!(dummy.hash.unwrap().len(), OUTPUT_LEN);
        assert_eq!(verify_password(b"anything", dummy_hash()), Ok(false));
        burn_equivalent_time(b"anything");
    }
}
