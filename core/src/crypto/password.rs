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
//! it on the blocking pool. Each hash needs `m` KiB of working memory: the
//! plain functions allocate it per call, the `*_with` ones take a reusable
//! [`HashMemory`] (wiped after every use), which a server keeps per hashing
//! thread.

use argon2::password_hash::{Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use zeroize::Zeroize;

use crate::crypto::constant_time_eq;
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

/// Largest memory cost accepted from a stored PHC string, in KiB (1 GiB): a
/// larger `m` is treated as a corrupt value, not as a reason to allocate.
pub const MAX_MEMORY_KIB: u32 = 1024 * 1024;

fn owasp_params() -> Result<Params, PasswordHashError> {
    Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, Some(OUTPUT_LEN)).map_err(|error| {
        PasswordHashError::HashingFailed {
            reason: error.to_string(),
        }
    })
}

/// Working memory for argon2 (its `m_cost` 1 KiB blocks), owned by the
/// caller so a busy server reuses a few buffers instead of allocating and
/// page-faulting ~19 MiB per hash.
///
/// The blocks are derived from the password, so every `*_with` function
/// zeroizes the blocks it used before returning (even when argon2 fails):
/// between calls the buffer holds only zeros. argon2 0.5.3 does not do this
/// itself, even with its `zeroize` feature: that feature only wipes the
/// initial hash and the final block it copies out; `hash_password_into`
/// (and so `PasswordHasher`/`PasswordVerifier`) drops its
/// `vec![Block::default(); n]` without wiping it, and
/// `hash_password_into_with_memory` leaves the caller's blocks filled.
pub struct HashMemory {
    blocks: Vec<Block>,
}

impl HashMemory {
    /// A buffer sized for the current (OWASP) parameters: 19 MiB.
    pub fn new() -> HashMemory {
        // m=19456, t=2, p=1 are valid constants; the fallback is never used.
        let block_count = owasp_params().map_or(MEMORY_KIB as usize, |params| params.block_count());
        HashMemory {
            blocks: vec![Block::default(); block_count],
        }
    }

    /// The number of 1 KiB blocks held (it only grows, for a stored hash
    /// with a larger memory cost).
    pub fn block_count(&self) -> usize {
        self.blocks.len()
    }

    /// Runs argon2id with `params` into `out`, growing the buffer to
    /// `params.block_count()` if needed, and zeroizes the used blocks
    /// afterwards.
    fn hash_into(
        &mut self,
        version: Version,
        params: Params,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), argon2::Error> {
        let block_count = params.block_count();
        if self.blocks.len() < block_count {
            self.blocks.resize(block_count, Block::default());
        }
        let argon2 = Argon2::new(Algorithm::Argon2id, version, params);
        let used = Wipe(&mut self.blocks[..block_count]);
        argon2.hash_password_into_with_memory(password, salt, out, &mut *used.0)
    }
}

impl Default for HashMemory {
    fn default() -> HashMemory {
        HashMemory::new()
    }
}

impl std::fmt::Debug for HashMemory {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("HashMemory")
            .field("blocks", &self.blocks.len())
            .finish()
    }
}

/// Zeroizes the blocks it borrows when dropped, however the hash ends.
struct Wipe<'a>(&'a mut [Block]);

impl Drop for Wipe<'_> {
    fn drop(&mut self) {
        for block in self.0.iter_mut() {
            block.zeroize();
        }
    }
}

/// Hashes `password` with argon2id under a fresh 16-byte salt from
/// `entropy`; returns the PHC string to store. Allocates a temporary
/// [`HashMemory`]; servers should keep one and call [`hash_password_with`].
pub fn hash_password(password: &[u8], entropy: &dyn Entropy) -> Result<String, PasswordHashError> {
    hash_password_with(&mut HashMemory::new(), password, entropy)
}

/// [`hash_password`] in caller-provided memory.
pub fn hash_password_with(
    memory: &mut HashMemory,
    password: &[u8],
    entropy: &dyn Entropy,
) -> Result<String, PasswordHashError> {
    hash_password_with_salt(memory, password, &random_array::<SALT_LEN>(entropy))
}

fn hash_password_with_salt(
    memory: &mut HashMemory,
    password: &[u8],
    salt: &[u8; SALT_LEN],
) -> Result<String, PasswordHashError> {
    let failed = |reason: String| PasswordHashError::HashingFailed { reason };
    let params = owasp_params()?;
    let mut out = [0u8; OUTPUT_LEN];
    memory
        .hash_into(Version::V0x13, params.clone(), password, salt, &mut out)
        .map_err(|error| failed(error.to_string()))?;
    let salt = SaltString::encode_b64(salt).map_err(|error| failed(error.to_string()))?;
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|error| failed(error.to_string()))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|error| failed(error.to_string()))?),
    };
    Ok(phc.to_string())
}

/// Checks `password` against a stored PHC string, with the parameters
/// written in it (so hashes made with older parameters still verify).
/// `Ok(false)` means the password is wrong; `Err` means the stored string is
/// unusable. The final comparison is constant-time. Allocates a temporary
/// [`HashMemory`]; servers should keep one and call [`verify_password_with`].
pub fn verify_password(password: &[u8], phc: &str) -> Result<bool, PasswordHashError> {
    verify_password_with(&mut HashMemory::new(), password, phc)
}

/// [`verify_password`] in caller-provided memory, grown if the stored hash
/// asks for more than it holds (up to [`MAX_MEMORY_KIB`]).
pub fn verify_password_with(
    memory: &mut HashMemory,
    password: &[u8],
    phc: &str,
) -> Result<bool, PasswordHashError> {
    let malformed = |reason: String| PasswordHashError::Malformed { reason };
    let hash = PasswordHash::new(phc).map_err(|error| malformed(error.to_string()))?;
    if hash.algorithm != argon2::ARGON2ID_IDENT {
        return Err(PasswordHashError::UnsupportedAlgorithm);
    }
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        // A wrong password would be the verifier's answer; this is a broken
        // stored value instead.
        return Err(malformed("salt or hash missing".to_string()));
    };
    // Like argon2's own verifier: the PHC's version, v=19 when absent; the
    // output length is the stored hash's.
    let version = match hash.version {
        Some(version) => {
            Version::try_from(version).map_err(|error| malformed(error.to_string()))?
        }
        None => Version::V0x13,
    };
    let params = Params::try_from(&hash).map_err(|error| malformed(error.to_string()))?;
    if params.m_cost() > MAX_MEMORY_KIB {
        return Err(malformed(format!("memory cost above {MAX_MEMORY_KIB} KiB")));
    }
    let mut salt_buffer = [0u8; Salt::MAX_LENGTH];
    let salt = salt
        .decode_b64(&mut salt_buffer)
        .map_err(|error| malformed(error.to_string()))?;
    let mut out = [0u8; Output::MAX_LENGTH];
    let out = &mut out[..expected.len()];
    memory
        .hash_into(version, params, password, salt, out)
        .map_err(|error| malformed(error.to_string()))?;
    let matches = constant_time_eq(out, expected.as_bytes());
    out.zeroize();
    Ok(matches)
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
    burn_equivalent_time_with(&mut HashMemory::new(), password);
}

/// [`burn_equivalent_time`] in caller-provided memory: it costs what a
/// failed [`verify_password_with`] with the same memory costs.
pub fn burn_equivalent_time_with(memory: &mut HashMemory, password: &[u8]) {
    // The result is meaningless by construction; only the work matters.
    let _ = std::hint::black_box(verify_password_with(
        memory,
        std::hint::black_box(password),
        DUMMY_PHC,
    ));
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
            hash_password_with_salt(
                &mut HashMemory::new(),
                b"correct horse battery staple",
                &salt
            )
            .unwrap(),
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

    fn is_wiped(memory: &HashMemory) -> bool {
        memory
            .blocks
            .iter()
            .all(|block| block.as_ref().iter().all(|word| *word == 0))
    }

    #[test]
    fn reused_memory_matches_the_known_answers_and_is_wiped() {
        let mut memory = HashMemory::new();
        assert_eq!(memory.block_count(), owasp_params().unwrap().block_count());
        let salt: [u8; 16] = std::array::from_fn(|i| i as u8);
        for _ in 0..2 {
            assert_eq!(
                hash_password_with_salt(&mut memory, b"correct horse battery staple", &salt)
                    .unwrap(),
                KNOWN_PHC
            );
            assert!(is_wiped(&memory));
            assert_eq!(
                verify_password_with(&mut memory, b"correct horse battery staple", KNOWN_PHC),
                Ok(true)
            );
            assert!(is_wiped(&memory));
            assert_eq!(
                verify_password_with(&mut memory, b"correct horse battery stapl", KNOWN_PHC),
                Ok(false)
            );
            assert_eq!(
                verify_password_with(&mut memory, b"anything", dummy_hash()),
                Ok(false)
            );
            burn_equivalent_time_with(&mut memory, b"anything");
            assert!(is_wiped(&memory));
        }
    }

    #[test]
    fn with_memory_and_plain_functions_agree() {
        let entropy = SeededEntropy::new(24);
        let mut memory = HashMemory::new();
        let with = hash_password_with(&mut memory, b"pw", &entropy).unwrap();
        let plain = hash_password(b"pw", &entropy).unwrap();
        assert!(
            with.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{with}"
        );
        assert_ne!(with, plain);
        for phc in [&with, &plain] {
            assert_eq!(verify_password(b"pw", phc), Ok(true));
            assert_eq!(verify_password(b"pW", phc), Ok(false));
            assert_eq!(verify_password_with(&mut memory, b"pw", phc), Ok(true));
            assert_eq!(verify_password_with(&mut memory, b"pW", phc), Ok(false));
            // And argon2's own verifier, an independent path.
            let parsed = PasswordHash::new(phc).unwrap();
            assert!(
                argon2::password_hash::PasswordVerifier::verify_password(
                    &Argon2::default(),
                    b"pw",
                    &parsed
                )
                .is_ok()
            );
        }
        // The same salt gives the same PHC from either path.
        let salt = [7u8; SALT_LEN];
        let mut other = HashMemory::new();
        assert_eq!(
            hash_password_with_salt(&mut memory, b"pw", &salt),
            hash_password_with_salt(&mut other, b"pw", &salt)
        );
    }

    #[test]
    fn memory_grows_for_larger_stored_parameters_and_refuses_absurd_ones() {
        // m=32768 (32 MiB), t=1, and a 16-byte output; hashed by argon2 itself.
        let params = Params::new(32_768, 1, 1, Some(16)).unwrap();
        let salt = SaltString::encode_b64(&[3u8; SALT_LEN]).unwrap();
        let phc = argon2::password_hash::PasswordHasher::hash_password(
            &Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            b"pw",
            &salt,
        )
        .unwrap()
        .to_string();
        let mut memory = HashMemory::new();
        assert_eq!(verify_password_with(&mut memory, b"pw", &phc), Ok(true));
        assert_eq!(memory.block_count(), 32_768);
        assert!(is_wiped(&memory));
        assert_eq!(verify_password_with(&mut memory, b"pW", &phc), Ok(false));
        // Smaller parameters use a prefix of the grown buffer.
        assert_eq!(
            verify_password_with(&mut memory, b"correct horse battery staple", KNOWN_PHC),
            Ok(true)
        );

        let absurd = KNOWN_PHC.replace("m=19456", "m=1048577");
        assert!(matches!(
            verify_password_with(&mut memory, b"pw", &absurd),
            Err(PasswordHashError::Malformed { .. })
        ));
        assert_eq!(memory.block_count(), 32_768);
    }
}
