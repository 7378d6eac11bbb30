//! Username normalization: the one function that decides when two spellings
//! name the same user.
//!
//! Every comparison of usernames (uniqueness, login, the failed-login lock)
//! goes through [`normalize_username`], so `Alice`, ` ALICE ` and the
//! fullwidth `ａｌｉｃｅ` are one user and one lock. The normalized form is
//! also the only form Cairn stores, which is why [`Username`] can only be
//! built by normalizing.
//!
//! Normalization is Unicode NFKC, then lowercase, then trimming of Unicode
//! whitespace. The result must then pass a character policy meant to make
//! look-alike names hard to register: letters and digits of any script, the
//! punctuation `. _ - @ +`, and a few combining marks on a letter or digit;
//! never control, whitespace, invisible, bidirectional-control, private-use
//! or unassigned characters. Mixed-script confusables (a Cyrillic `а` in
//! `аlice`) are not detected here.

use std::fmt;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::{is_combining_mark, is_public_assigned};

/// The longest username accepted, in characters of the normalized form.
pub const MAX_USERNAME_CHARS: usize = 64;

/// The most combining marks accepted on one letter or digit. Real scripts
/// need a few (a Thai vowel and tone mark, Hebrew points); a long run of
/// them is only useful to draw over neighbouring characters.
pub const MAX_COMBINING_MARKS_PER_CHARACTER: usize = 4;

/// Names refused for users because they read as the system itself or as
/// "nobody", and would confuse audit trails and the API (`/users/me`).
/// Compared after normalization. `admin` is deliberately absent: operators
/// bootstrap a user of that name.
pub const RESERVED_USERNAMES: &[&str] = &[
    "system",
    "anonymous",
    "cairn",
    "root",
    "superuser",
    "null",
    "none",
    "api",
    "me",
];

/// The punctuation allowed in a username besides letters and digits.
const ALLOWED_PUNCTUATION: &[char] = &['.', '_', '-', '@', '+'];

/// A normalized username: the form that is stored, compared and shown.
///
/// The only constructor is [`normalize_username`], so holding a `Username`
/// proves the name passed the policy.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Username(String);

impl Username {
    /// The normalized name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The normalized name, by value.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl AsRef<str> for Username {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a username was refused. Messages are shown to API clients; they
/// name the rule and, for a bad character, its position in the normalized
/// name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    /// Nothing is left after normalization and trimming.
    #[error("username is empty")]
    Empty,
    /// The normalized name has more than `max` characters.
    #[error("username is too long: {len} characters after normalization, at most {max} allowed")]
    TooLong {
        /// The limit, [`MAX_USERNAME_CHARS`].
        max: usize,
        /// The length of the normalized name, in characters.
        len: usize,
    },
    /// A character of the normalized name is not allowed.
    #[error(
        "username character {position} (after normalization) is {description}; \
         usernames may contain letters, digits and . _ - @ +"
    )]
    ForbiddenCharacter {
        /// 1-based index of the character in the normalized name.
        position: usize,
        /// What kind of character it is, e.g. "a zero-width character".
        description: &'static str,
    },
    /// The normalized name is one of [`RESERVED_USERNAMES`].
    #[error("username \"{name}\" is reserved")]
    Reserved {
        /// The reserved name it normalized to.
        name: String,
    },
}

/// Normalizes `input` (NFKC, lowercase, trim) and checks the result against
/// the username policy.
///
/// Lowercasing is done character by character, without the context rule
/// for the Greek final sigma, so every case variant of a name normalizes to
/// the same string. The function is idempotent: normalizing an accepted
/// name again gives the same name.
pub fn normalize_username(input: &str) -> Result<Username, UsernameError> {
    let compatible: String = input.nfkc().collect();
    let lowered: String = compatible.chars().flat_map(char::to_lowercase).collect();
    // Lowercasing can leave a string that is not in NFKC any more (Ϊ and an
    // acute accent lowercase to ϊ and the accent, which compose into ΐ); a
    // second pass makes the result a fixed point, which is what makes this
    // function idempotent.
    let normalized: String = lowered.nfkc().collect();
    let name = normalized.trim();

    let len = name.chars().count();
    if len == 0 {
        return Err(UsernameError::Empty);
    }
    if len > MAX_USERNAME_CHARS {
        return Err(UsernameError::TooLong {
            max: MAX_USERNAME_CHARS,
            len,
        });
    }
    check_characters(name)?;
    if let Some(reserved) = RESERVED_USERNAMES
        .iter()
        .find(|reserved| **reserved == name)
    {
        return Err(UsernameError::Reserved {
            name: (*reserved).to_owned(),
        });
    }
    Ok(Username(name.to_owned()))
}

/// Checks every character of a normalized name, reporting the first one
/// that is not allowed.
fn check_characters(name: &str) -> Result<(), UsernameError> {
    first_forbidden_character(
        name,
        CharacterPolicy {
            forbidden: describe_forbidden,
            punctuation: |character| ALLOWED_PUNCTUATION.contains(&character),
            separator: None,
        },
    )
    .map_or(Ok(()), |(position, description)| {
        Err(UsernameError::ForbiddenCharacter {
            position,
            description,
        })
    })
}

/// What a name may hold, beyond letters, digits and the combining marks
/// they carry.
pub(super) struct CharacterPolicy {
    /// Describes a character never allowed (`None`: the ordinary checks).
    pub forbidden: fn(char) -> Option<&'static str>,
    /// The punctuation allowed.
    pub punctuation: fn(char) -> bool,
    /// A character allowed between words (it carries no mark).
    pub separator: Option<char>,
}

/// The first character of `name` that `policy` does not allow, as its
/// 1-based position and what it is: a forbidden kind, a combining mark
/// with no letter or digit before it or one too many on a letter, or a
/// symbol or punctuation the policy does not list.
pub(super) fn first_forbidden_character(
    name: &str,
    policy: CharacterPolicy,
) -> Option<(usize, &'static str)> {
    // How many combining marks follow the current letter or digit; `None`
    // when the previous character cannot carry a mark (start of the name,
    // a separator or punctuation).
    let mut marks_on_base: Option<usize> = None;
    for (index, character) in name.chars().enumerate() {
        let position = index + 1;
        if Some(character) == policy.separator {
            marks_on_base = None;
            continue;
        }
        if let Some(description) = (policy.forbidden)(character) {
            return Some((position, description));
        }
        if is_combining_mark(character) {
            marks_on_base = match marks_on_base {
                None => {
                    return Some((
                        position,
                        "a combining mark with no letter or digit before it",
                    ));
                }
                Some(count) if count >= MAX_COMBINING_MARKS_PER_CHARACTER => {
                    return Some((position, "one combining mark too many on a single letter"));
                }
                Some(count) => Some(count + 1),
            };
            continue;
        }
        if character.is_alphabetic() || character.is_numeric() {
            marks_on_base = Some(0);
        } else if (policy.punctuation)(character) {
            marks_on_base = None;
        } else {
            return Some((
                position,
                "a symbol or punctuation character that is not allowed",
            ));
        }
    }
    None
}

/// Names the kinds of character that are never allowed, whatever their
/// neighbours: the ones that are invisible, reorder text, or have no agreed
/// meaning. `None` means the character needs the ordinary checks.
pub(super) fn describe_forbidden(character: char) -> Option<&'static str> {
    if character.is_control() {
        return Some("a control character");
    }
    if character.is_whitespace() {
        return Some("a whitespace character");
    }
    match character {
        '\u{FFFD}' => return Some("the replacement character U+FFFD"),
        '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' => {
            return Some("a zero-width character");
        }
        '\u{061C}'
        | '\u{200E}'
        | '\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}' => {
            return Some("a bidirectional text control");
        }
        _ => {}
    }
    if is_default_ignorable(character) {
        return Some("an invisible character");
    }
    if !is_public_assigned(character) {
        return Some("an unassigned or private-use character");
    }
    None
}

/// The Unicode `Default_Ignorable_Code_Point` property (DerivedCoreProperties,
/// Unicode 16): characters that render as nothing. Some of them are letters
/// (the Hangul fillers) or marks (variation selectors), so the letter and
/// mark rules alone would let them through.
fn is_default_ignorable(character: char) -> bool {
    matches!(
        character,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn normalized(input: &str) -> String {
        match normalize_username(input) {
            Ok(name) => name.into_string(),
            Err(error) => panic!("{input:?} was refused: {error}"),
        }
    }

    fn forbidden_description(input: &str) -> (usize, &'static str) {
        match normalize_username(input) {
            Err(UsernameError::ForbiddenCharacter {
                position,
                description,
            }) => (position, description),
            other => panic!("{input:?} gave {other:?}, expected a forbidden character"),
        }
    }

    #[test]
    fn case_width_and_surrounding_space_variants_are_one_name() {
        for variant in [
            "Alice",
            " ALICE ",
            "ａｌｉｃｅ",
            "Ａlice",
            "\u{3000}alice\t",
            "aLiCe",
        ] {
            assert_eq!(normalized(variant), "alice", "variant {variant:?}");
        }
    }

    #[test]
    fn compatibility_characters_are_folded() {
        assert_eq!(normalized("ﬁnn"), "finn");
        // The Kelvin sign is a compatibility form of K.
        assert_eq!(normalized("\u{212A}elvin"), "kelvin");
        assert_eq!(normalized("①②"), "12");
        assert_eq!(normalized("Ⅻ"), "xii");
    }

    #[test]
    fn turkish_dotted_capital_i_lowercases_to_i_with_a_dot() {
        // U+0130 lowercases to "i" followed by U+0307 COMBINING DOT ABOVE,
        // which is a combining mark on a letter and so allowed.
        assert_eq!(normalized("\u{130}lker"), "i\u{307}lker");
        assert_eq!(normalized("ılker"), "ılker");
    }

    #[test]
    fn lowercasing_is_followed_by_a_second_normalization() {
        // Lowercasing Ϊ (U+03AA) before an acute accent gives ϊ + U+0301,
        // which NFKC composes into ΐ (U+0390); without the second pass a
        // second normalization would change the name.
        let once = normalized("\u{3AA}\u{301}");
        assert_eq!(once, "\u{390}");
        assert_eq!(normalized(&once), once);
        assert_eq!(
            normalized("T\u{308}\u{301}x"),
            normalized("t\u{308}\u{301}x")
        );
    }

    #[test]
    fn greek_sigma_case_variants_are_one_name() {
        assert_eq!(normalized("ΟΔΥΣΣΕΥΣ"), normalized("οδυσσευσ"));
    }

    #[test]
    fn other_scripts_and_allowed_punctuation_are_accepted() {
        for name in [
            "józef",
            "мария",
            "李小龍",
            "محمد",
            "देवनागरी",
            "a.b_c-d@example.org",
            "x+tag",
            "user42",
        ] {
            assert_eq!(normalized(name), name);
        }
    }

    #[test]
    fn empty_and_blank_names_are_refused() {
        for input in ["", " ", "\t\n", "\u{3000}"] {
            assert_eq!(normalize_username(input), Err(UsernameError::Empty));
        }
    }

    #[test]
    fn length_is_counted_in_characters_of_the_normalized_form() {
        assert_eq!(normalized(&"é".repeat(64)).chars().count(), 64);
        assert_eq!(
            normalize_username(&"é".repeat(65)),
            Err(UsernameError::TooLong { max: 64, len: 65 })
        );
        // NFKC can lengthen a name: one U+FDFA is eighteen characters.
        assert!(matches!(
            normalize_username(&"\u{FDFA}".repeat(4)),
            Err(UsernameError::TooLong { max: 64, len: 72 })
        ));
    }

    #[test]
    fn invisible_and_bidi_characters_are_refused_with_their_position() {
        assert_eq!(
            forbidden_description("al\u{200D}ice"),
            (3, "a zero-width character")
        );
        assert_eq!(
            forbidden_description("al\u{200B}ice"),
            (3, "a zero-width character")
        );
        assert_eq!(
            forbidden_description("\u{202E}ecila"),
            (1, "a bidirectional text control")
        );
        assert_eq!(
            forbidden_description("alice\u{2067}"),
            (6, "a bidirectional text control")
        );
        assert_eq!(
            forbidden_description("ali\u{FFFD}ce"),
            (4, "the replacement character U+FFFD")
        );
        assert_eq!(
            forbidden_description("a\u{3164}b"),
            (2, "an invisible character")
        );
        assert_eq!(
            forbidden_description("a\u{FE0F}"),
            (2, "an invisible character")
        );
        assert_eq!(
            forbidden_description("ali ce"),
            (4, "a whitespace character")
        );
        assert_eq!(
            forbidden_description("ali\u{7}ce"),
            (4, "a control character")
        );
        assert_eq!(
            forbidden_description("ali\u{E000}ce"),
            (4, "an unassigned or private-use character")
        );
    }

    #[test]
    fn symbols_and_other_punctuation_are_refused() {
        for input in ["a/b", "a:b", "a<b", "a'b", "a😀", "a$b", "a\\b", "a#b"] {
            let (position, _) = forbidden_description(input);
            assert_eq!(position, 2, "input {input:?}");
        }
    }

    #[test]
    fn combining_marks_need_a_base_and_a_limit() {
        assert_eq!(
            forbidden_description("\u{301}alice"),
            (1, "a combining mark with no letter or digit before it")
        );
        assert_eq!(
            forbidden_description("a.\u{301}b"),
            (3, "a combining mark with no letter or digit before it")
        );
        // U+0360 does not compose with "a", so all marks stay separate.
        let four = format!("a{}", "\u{360}".repeat(4));
        assert_eq!(normalized(&four), four);
        let five = format!("a{}", "\u{360}".repeat(5));
        assert_eq!(
            forbidden_description(&five),
            (6, "one combining mark too many on a single letter")
        );
    }

    #[test]
    fn reserved_names_are_refused_in_any_spelling() {
        for input in [
            "system",
            "SYSTEM",
            " Root ",
            "ｃａｉｒｎ",
            "ME",
            "None",
            "null",
            "api",
        ] {
            assert!(
                matches!(
                    normalize_username(input),
                    Err(UsernameError::Reserved { .. })
                ),
                "input {input:?}"
            );
        }
        assert_eq!(
            normalize_username("Anonymous"),
            Err(UsernameError::Reserved {
                name: "anonymous".to_owned()
            })
        );
        assert_eq!(
            normalize_username("SuperUser").map_err(|error| error.to_string()),
            Err("username \"superuser\" is reserved".to_owned())
        );
        // Bootstrapping creates an `admin` user; it must stay available.
        assert_eq!(normalized("Admin"), "admin");
        assert_eq!(normalized("system2"), "system2");
    }

    #[test]
    fn error_messages_name_the_rule() {
        let messages = [
            UsernameError::Empty.to_string(),
            UsernameError::TooLong { max: 64, len: 70 }.to_string(),
            UsernameError::ForbiddenCharacter {
                position: 3,
                description: "a zero-width character",
            }
            .to_string(),
        ];
        assert_eq!(messages[0], "username is empty");
        assert_eq!(
            messages[1],
            "username is too long: 70 characters after normalization, at most 64 allowed"
        );
        assert_eq!(
            messages[2],
            "username character 3 (after normalization) is a zero-width character; \
             usernames may contain letters, digits and . _ - @ +"
        );
    }

    /// Every single character, alone and after a letter, normalizes to a
    /// fixed point: a cheap exhaustive check of idempotence.
    #[test]
    fn normalization_is_idempotent_for_every_character() {
        // Unassigned and private-use characters are refused before any
        // other rule applies; skipping them keeps the test fast.
        let assigned = (0..=0x10FFFF_u32)
            .filter_map(char::from_u32)
            .filter(|character| is_public_assigned(*character));
        for character in assigned {
            for input in [character.to_string(), format!("a{character}")] {
                if let Ok(once) = normalize_username(&input) {
                    assert_eq!(
                        normalize_username(once.as_str()),
                        Ok(once.clone()),
                        "U+{:04X}",
                        u32::from(character)
                    );
                }
            }
        }
    }

    proptest! {
        #[test]
        fn normalize_never_panics_and_is_idempotent(input in any::<String>()) {
            if let Ok(once) = normalize_username(&input) {
                prop_assert_eq!(normalize_username(once.as_str()), Ok(once.clone()));
            }
        }

        #[test]
        fn accepted_names_are_short_and_trimmed(input in "[ A-Za-z0-9._@+\u{300}-\u{36F}\u{FF21}-\u{FF5A}-]{0,80}") {
            if let Ok(name) = normalize_username(&input) {
                prop_assert!(name.as_str().chars().count() <= MAX_USERNAME_CHARS);
                prop_assert_eq!(name.as_str().trim(), name.as_str());
                prop_assert_eq!(name.as_str().to_lowercase(), name.as_str());
            }
        }
    }
}
