//! Constant-time comparison of secrets (tokens, MACs, digests), so the time
//! a comparison takes does not reveal how many leading bytes matched.

use subtle::ConstantTimeEq;

/// Whether `a` and `b` are equal, in time that depends only on their
/// lengths. Different lengths return `false` at once: lengths are not
/// secret (compare fixed-length digests when they might be).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_slices_are_equal() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"token", b"token"));
        assert!(constant_time_eq(&[0u8; 64], &[0u8; 64]));
    }

    #[test]
    fn any_difference_is_unequal() {
        assert!(!constant_time_eq(b"token", b"tokem"));
        assert!(!constant_time_eq(b"token", b"Token"));
        for index in 0..32 {
            let mut other = [7u8; 32];
            other[index] ^= 0x80;
            assert!(!constant_time_eq(&[7u8; 32], &other), "byte {index}");
        }
    }

    #[test]
    fn different_lengths_are_unequal() {
        assert!(!constant_time_eq(b"token", b"token "));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
