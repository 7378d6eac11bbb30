//! The password policy, NIST SP 800-63B style: a length window and a
//! refusal of guessable passwords, with no composition rules.
//!
//! Composition rules ("one digit, one symbol") push people towards
//! `Password1!`; a length minimum plus a check against common and
//! easily-guessed passwords does more for less annoyance. The guessability
//! check is `zxcvbn`, which knows common passwords, dictionary words, names,
//! keyboard patterns, repeats, sequences and dates, and is told the user's
//! own words (username, email). zxcvbn alone rates `alice2024!` fair even
//! for `alice` (a name and a year with a symbol: about 10^7 guesses), and
//! NIST asks to refuse passwords derived from the username, so a second rule
//! removes the user's words from the password and refuses it when fewer than
//! [`MIN_PASSWORD_CHARS`] characters remain.
//!
//! Passwords are never truncated: a password longer than the limit is
//! refused, not shortened. The length is checked before anything else, so an
//! oversized password costs one pass over its bytes and nothing more.
//!
//! Error messages are shown to API clients; none of them ever contains the
//! password or any part of it.

use zeroize::Zeroizing;
use zxcvbn::Score;

/// The shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// The longest password accepted, in characters. Long enough for any
/// passphrase, short enough that hashing and strength estimation stay cheap.
pub const MAX_PASSWORD_CHARS: usize = 128;

/// The best `zxcvbn` score that is still refused: `One` means the password
/// falls to fewer than 10^6 guesses, which an online attacker gets through.
const HIGHEST_REFUSED_SCORE: Score = Score::One;

/// Pieces of context values shorter than this are not used: pieces like
/// `io` or `me` would only make many good passwords look weak. The same
/// bound applies to the words removed by the own-words rule.
const MIN_CONTEXT_PIECE_CHARS: usize = 3;

/// At most this many context words are used: a bound on the work, far
/// above what a username, an email and a display name produce.
const MAX_CONTEXT_WORDS: usize = 32;

/// The hint given when a password is mostly the user's own words. A fixed
/// sentence, like zxcvbn's warnings.
pub const OWN_WORDS_HINT: &str = "It is mostly made of your own username, name or email.";

/// Why a password was refused. Messages are shown to API clients; they name
/// the rule and never contain the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordPolicyError {
    /// The password has fewer than `min` characters.
    #[error("password is too short: {len} characters, at least {min} required")]
    TooShort {
        /// The limit, [`MIN_PASSWORD_CHARS`].
        min: usize,
        /// The password's length in characters.
        len: usize,
    },
    /// The password has more than `max` characters.
    #[error("password is too long: {len} characters, at most {max} allowed")]
    TooLong {
        /// The limit, [`MAX_PASSWORD_CHARS`].
        max: usize,
        /// The password's length in characters.
        len: usize,
    },
    /// The password is common, or easy to guess from patterns and the
    /// user's own words.
    #[error("password is too common or too easy to guess{}", hint_suffix(.hint.as_deref()))]
    TooCommon {
        /// What makes it guessable, when known: [`OWN_WORDS_HINT`] or one of
        /// `zxcvbn`'s fixed warnings (e.g. "This is a top-10 common
        /// password.").
        hint: Option<String>,
    },
}

fn hint_suffix(hint: Option<&str>) -> String {
    match hint {
        Some(hint) => format!(": {hint}"),
        None => String::new(),
    }
}

/// Checks `password` against the policy. `context` holds words specific to
/// the user (username, email, display name) that make a password weak;
/// each value is also split at non-alphanumeric characters, so passing the
/// email `alice.smith@example.org` also covers `alice` and `smith`.
///
/// Lengths are counted in characters (Unicode scalar values), not bytes.
pub fn check_password(password: &str, context: &[&str]) -> Result<(), PasswordPolicyError> {
    // Length first, before any allocation or estimation: counting is one
    // pass over the bytes, so an oversized password is cheap to refuse.
    let len = password.chars().count();
    if len < MIN_PASSWORD_CHARS {
        return Err(PasswordPolicyError::TooShort {
            min: MIN_PASSWORD_CHARS,
            len,
        });
    }
    if len > MAX_PASSWORD_CHARS {
        return Err(PasswordPolicyError::TooLong {
            max: MAX_PASSWORD_CHARS,
            len,
        });
    }

    let words = context_words(context);
    if is_mostly_own_words(password, &words) {
        return Err(PasswordPolicyError::TooCommon {
            hint: Some(OWN_WORDS_HINT.to_owned()),
        });
    }
    let word_refs: Vec<&str> = words.iter().map(String::as_str).collect();
    let estimate = zxcvbn::zxcvbn(password, &word_refs);
    if estimate.score() <= HIGHEST_REFUSED_SCORE {
        // The warning is one of zxcvbn's fixed sentences (`Warning` is a
        // field-less enum), so it cannot echo the password.
        let hint = estimate
            .feedback()
            .and_then(|feedback| feedback.warning())
            .map(|warning| warning.to_string());
        return Err(PasswordPolicyError::TooCommon { hint });
    }
    Ok(())
}

/// Whether fewer than [`MIN_PASSWORD_CHARS`] characters remain once every
/// occurrence of the user's words (ignoring case, longest words first) is
/// removed from the password.
fn is_mostly_own_words(password: &str, words: &[String]) -> bool {
    let mut words: Vec<String> = words
        .iter()
        .filter(|word| word.chars().count() >= MIN_CONTEXT_PIECE_CHARS)
        .map(|word| word.to_lowercase())
        .collect();
    words.sort_by_key(|word| std::cmp::Reverse(word.chars().count()));
    // Copies of the password are wiped when dropped.
    let mut remainder = Zeroizing::new(password.to_lowercase());
    for word in &words {
        if remainder.contains(word.as_str()) {
            remainder = Zeroizing::new(remainder.replace(word.as_str(), ""));
        }
    }
    remainder.chars().count() < MIN_PASSWORD_CHARS
}

/// The user's words as given, plus their alphanumeric pieces, without
/// empty strings or duplicates (zxcvbn lowercases them itself), and at most
/// [`MAX_CONTEXT_WORDS`] of them.
fn context_words(context: &[&str]) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut add = |word: &str| {
        let word = word.trim();
        if !word.is_empty()
            && words.len() < MAX_CONTEXT_WORDS
            && !words.iter().any(|known| known == word)
        {
            words.push(word.to_owned());
        }
    };
    for value in context {
        add(value);
        for piece in value.split(|character: char| !character.is_alphanumeric()) {
            if piece.chars().count() >= MIN_CONTEXT_PIECE_CHARS {
                add(piece);
            }
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every warning zxcvbn can give. The exhaustive match makes this test
    /// stop compiling if a new zxcvbn adds one, so it gets reviewed.
    fn all_zxcvbn_warnings() -> Vec<String> {
        use zxcvbn::feedback::Warning::{self, *};
        let all = [
            StraightRowsOfKeysAreEasyToGuess,
            ShortKeyboardPatternsAreEasyToGuess,
            RepeatsLikeAaaAreEasyToGuess,
            RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess,
            ThisIsATop10Password,
            ThisIsATop100Password,
            ThisIsACommonPassword,
            ThisIsSimilarToACommonlyUsedPassword,
            SequencesLikeAbcAreEasyToGuess,
            RecentYearsAreEasyToGuess,
            AWordByItselfIsEasyToGuess,
            DatesAreOftenEasyToGuess,
            NamesAndSurnamesByThemselvesAreEasyToGuess,
            CommonNamesAndSurnamesAreEasyToGuess,
        ];
        for warning in all {
            match warning {
                StraightRowsOfKeysAreEasyToGuess
                | ShortKeyboardPatternsAreEasyToGuess
                | RepeatsLikeAaaAreEasyToGuess
                | RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess
                | ThisIsATop10Password
                | ThisIsATop100Password
                | ThisIsACommonPassword
                | ThisIsSimilarToACommonlyUsedPassword
                | SequencesLikeAbcAreEasyToGuess
                | RecentYearsAreEasyToGuess
                | AWordByItselfIsEasyToGuess
                | DatesAreOftenEasyToGuess
                | NamesAndSurnamesByThemselvesAreEasyToGuess
                | CommonNamesAndSurnamesAreEasyToGuess => {}
            }
        }
        all.iter().map(Warning::to_string).collect()
    }

    /// Asserts that an error carries nothing derived from the password but
    /// its length: its fields are the limits, the length, and a hint that
    /// is one of zxcvbn's fixed sentences. Then, belt and braces, that the
    /// message does not contain the password, unless the fixed wording
    /// itself does (the password `password` is in "password is too ...").
    fn assert_message_hides(password: &str, error: &PasswordPolicyError) {
        let len = password.chars().count();
        let warnings = all_zxcvbn_warnings();
        match error {
            PasswordPolicyError::TooShort { min, len: reported } => {
                assert_eq!((*min, *reported), (MIN_PASSWORD_CHARS, len));
            }
            PasswordPolicyError::TooLong { max, len: reported } => {
                assert_eq!((*max, *reported), (MAX_PASSWORD_CHARS, len));
            }
            PasswordPolicyError::TooCommon { hint } => {
                if let Some(hint) = hint {
                    assert!(
                        hint == OWN_WORDS_HINT || warnings.contains(hint),
                        "unexpected hint {hint:?}"
                    );
                }
            }
        }
        let message = error.to_string();
        // The message may contain the limits and the length (asserted above
        // to be the only data the error holds): a password like "8" is not
        // echoed by "at least 8 characters".
        let fixed_wording = format!(
            "{} {} {}",
            PasswordPolicyError::TooShort {
                min: MIN_PASSWORD_CHARS,
                len
            },
            PasswordPolicyError::TooLong {
                max: MAX_PASSWORD_CHARS,
                len
            },
            PasswordPolicyError::TooCommon {
                hint: Some(format!("{OWN_WORDS_HINT} {}", warnings.join(" ")))
            },
        );
        assert!(
            !message.contains(password) || fixed_wording.contains(password),
            "message {message:?} contains the password"
        );
    }

    fn refused(password: &str, context: &[&str]) -> PasswordPolicyError {
        match check_password(password, context) {
            Err(error) => {
                assert_message_hides(password, &error);
                error
            }
            Ok(()) => panic!("{password:?} (context {context:?}) was accepted"),
        }
    }

    fn assert_accepted(password: &str, context: &[&str]) {
        assert_eq!(
            check_password(password, context),
            Ok(()),
            "{password:?} was refused"
        );
    }

    #[test]
    fn common_and_patterned_passwords_are_refused() {
        for password in [
            "password",
            "password123",
            "12345678",
            "qwertyuiop",
            "iloveyou1",
            "aaaaaaaa",
            "abcdefgh",
            "P@ssw0rd",
            "letmein!",
        ] {
            let error = refused(password, &[]);
            assert!(
                matches!(error, PasswordPolicyError::TooCommon { .. }),
                "{password:?} gave {error:?}"
            );
        }
    }

    #[test]
    fn the_hint_explains_why_when_zxcvbn_knows() {
        assert_eq!(
            refused("password", &[]),
            PasswordPolicyError::TooCommon {
                hint: Some("This is a top-10 common password.".to_owned())
            }
        );
        assert_eq!(
            refused("password", &[]).to_string(),
            "password is too common or too easy to guess: This is a top-10 common password."
        );
        assert_eq!(
            PasswordPolicyError::TooCommon { hint: None }.to_string(),
            "password is too common or too easy to guess"
        );
    }

    #[test]
    fn the_users_own_words_make_a_password_weak() {
        for password in ["alicealice", "alice2024!", "Alice2024", "ALICE!2024"] {
            assert_eq!(
                refused(password, &["alice", "alice@example.org"]),
                PasswordPolicyError::TooCommon {
                    hint: Some(OWN_WORDS_HINT.to_owned())
                },
                "{password:?}"
            );
        }
        // Removing the user's words must leave at least eight characters.
        assert!(matches!(
            refused("alice.smith1!", &["alice.smith@example.org"]),
            PasswordPolicyError::TooCommon { .. }
        ));
        assert_accepted("alice and the wooden lantern", &["alice"]);
        // The same kind of password from someone else's name is fine.
        assert_accepted("zorbulax2024!", &["alice"]);
        assert!(matches!(
            refused("zorbulax2024!", &["zorbulax"]),
            PasswordPolicyError::TooCommon { .. }
        ));
        // Pieces of an email count too.
        assert!(matches!(
            refused("zorbulax2024!", &["zorbulax.smith@example.org"]),
            PasswordPolicyError::TooCommon { .. }
        ));
    }

    #[test]
    fn strong_passwords_are_accepted() {
        assert_accepted("correct horse battery staple", &["alice"]);
        assert_accepted("vN7#qL2!xR9p", &["alice"]);
        // A passphrase in another script, 20 characters.
        let greek = "καλημέρα θάλασσα φως";
        assert_eq!(greek.chars().count(), 20);
        assert_accepted(greek, &[]);
    }

    #[test]
    fn a_random_128_character_password_is_accepted() {
        let password: String = (0..128_u32)
            .map(|i| {
                // A fixed, scrambled walk over printable ASCII.
                let code = 33 + (i.wrapping_mul(7919).wrapping_add(i * i * 31) % 94);
                char::from_u32(code).unwrap()
            })
            .collect();
        assert_eq!(password.chars().count(), MAX_PASSWORD_CHARS);
        assert_accepted(&password, &[]);
    }

    #[test]
    fn length_window_is_counted_in_characters() {
        assert_eq!(
            refused("vN7#qL2", &[]),
            PasswordPolicyError::TooShort { min: 8, len: 7 }
        );
        assert_eq!(
            refused("", &[]),
            PasswordPolicyError::TooShort { min: 8, len: 0 }
        );
        // 129 characters: refused, not truncated.
        let long = format!("vN7#qL2!xR9p{}", "Zq8$".repeat(30))
            .chars()
            .take(129)
            .collect::<String>();
        assert_eq!(long.chars().count(), 129);
        assert_eq!(
            refused(&long, &[]),
            PasswordPolicyError::TooLong { max: 128, len: 129 }
        );
        // Seven characters of four bytes each is still seven characters.
        assert_eq!(
            refused("😀🐍🦀🌍🎲🔑🧭", &[]),
            PasswordPolicyError::TooShort { min: 8, len: 7 }
        );
        // 128 multi-byte characters (512 bytes) are within the limit.
        let wide: String = "水火木金土日月😀".chars().cycle().take(128).collect();
        assert!(!matches!(
            check_password(&wide, &[]),
            Err(PasswordPolicyError::TooLong { .. } | PasswordPolicyError::TooShort { .. })
        ));
    }

    #[test]
    fn a_mebibyte_password_is_refused_as_too_long() {
        let huge = "x".repeat(1 << 20);
        assert_eq!(
            check_password(&huge, &[]),
            Err(PasswordPolicyError::TooLong {
                max: 128,
                len: 1 << 20
            })
        );
    }

    #[test]
    fn context_words_are_bounded() {
        let many = (0..100)
            .map(|i| format!("word{i}"))
            .collect::<Vec<_>>()
            .join(".");
        assert_eq!(context_words(&[&many]).len(), MAX_CONTEXT_WORDS);
    }

    #[test]
    fn short_context_pieces_are_not_removed() {
        // "al" and "io" are too short to count as the user's own words.
        assert!(!is_mostly_own_words(
            "Gal1ioBx7#q",
            &context_words(&["al", "x@y.io"])
        ));
        assert!(is_mostly_own_words("Alice2024", &context_words(&["alice"])));
    }

    #[test]
    fn context_words_are_split_and_deduplicated() {
        assert_eq!(
            context_words(&["alice", " alice.smith@example.org ", "", "alice"]),
            [
                "alice",
                "alice.smith@example.org",
                "smith",
                "example",
                "org"
            ]
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn never_panics_and_never_echoes_the_password(
            password in "\\PC{0,140}",
            context in proptest::collection::vec("\\PC{0,20}", 0..3),
        ) {
            let context: Vec<&str> = context.iter().map(String::as_str).collect();
            if let Err(error) = check_password(&password, &context) {
                assert_message_hides(&password, &error);
            }
        }
    }
}
