//! Display names of groups, organizations and namespaces: the characters
//! they may hold, and when two of them look the same.
//!
//! These names are shown to people who decide by them (whom to grant what,
//! which org to act in) and they travel into SIEMs (CEF, syslog), so two
//! rules apply to every new name, on create and on rename:
//!
//! 1. [`normalize_display_name`]: Unicode NFKC (fullwidth `Ａｄｍｉｎｓ` is
//!    `Admins`), surrounding whitespace trimmed and inner runs of spaces
//!    made one space, then a character policy: letters, digits and
//!    combining marks (a few on each letter or digit), the space, ASCII
//!    punctuation and symbols, and a short list of typographic punctuation
//!    (curly quotes, dashes, guillemets). Never a control, format (Cf),
//!    bidirectional-control, zero-width or otherwise invisible character, a
//!    private-use or unassigned one, nor whitespace other than the space.
//!    Each word (a run of letters, digits and marks) keeps to one script,
//!    or to Latin with Han and Japanese, Chinese or Korean (UTS #39's
//!    "highly restrictive" level), so `Аdmins` with a Cyrillic `А` is
//!    refused. Unlike usernames, names keep their case and their spaces.
//! 2. [`LookAlike`]: two names conflict when their confusable skeletons
//!    (UTS #39 `skeleton`, case-folded) are equal, so a second `admins`,
//!    `AdmIns` or `Admins` with a zero-width space is refused where an
//!    `Admins` exists. The skeleton is computed for any string, so names
//!    recorded before the policy existed (which the log still folds as they
//!    were written) take part in the comparison too.

use std::fmt;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;
use unicode_script::{Script, ScriptExtension, UnicodeScript};
use unicode_security::mixed_script::AugmentedScriptSet;
use unicode_security::skeleton;

use super::username::{CharacterPolicy, describe_forbidden, first_forbidden_character};

/// Punctuation beyond ASCII that names may hold: what word processors type
/// for quotes, dashes and a few common signs. Anything else that is
/// neither a letter, a digit nor ASCII (emoji, arrows, box drawing, the
/// many dots and dashes that imitate ASCII ones) is refused.
const TYPOGRAPHIC_PUNCTUATION: &[char] = &[
    '\u{2018}', // ‘
    '\u{2019}', // ’
    '\u{201C}', // “
    '\u{201D}', // ”
    '\u{2013}', // –
    '\u{2014}', // —
    '\u{00AB}', // «
    '\u{00BB}', // »
    '\u{00B7}', // ·
    '\u{2022}', // •
    '\u{00A7}', // §
    '\u{00B0}', // °
    '\u{20AC}', // €
    '\u{00A3}', // £
    '\u{00A5}', // ¥
    '\u{00A9}', // ©
    '\u{00AE}', // ®
    '\u{00BF}', // ¿
    '\u{00A1}', // ¡
    '\u{00D7}', // ×
];

/// A name that passed [`normalize_display_name`]: the form that is stored
/// and shown.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DisplayName(String);

impl DisplayName {
    /// The normalized name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The normalized name, by value.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a name was refused. The messages are shown to API clients as the
/// detail of the `name` field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DisplayNameError {
    /// Nothing is left after normalization and trimming.
    #[error("must not be empty")]
    Empty,
    /// The normalized name has more than `max` characters.
    #[error("is too long: {len} characters after normalization, at most {max} allowed")]
    TooLong {
        /// The caller's limit.
        max: usize,
        /// The length of the normalized name, in characters.
        len: usize,
    },
    /// A character of the normalized name is not allowed.
    #[error(
        "character {position} (after normalization) is {description}; names may hold \
         letters, digits, spaces and common punctuation"
    )]
    ForbiddenCharacter {
        /// 1-based index of the character in the normalized name.
        position: usize,
        /// What kind of character it is, e.g. "a zero-width character".
        description: &'static str,
    },
    /// A word mixes letters of scripts that are not written together.
    #[error("the word {word} mixes the {scripts} scripts; write each word in one script")]
    MixedScripts {
        /// The word, quoted as [`quoted`] shows it.
        word: String,
        /// The scripts found, e.g. "Latin and Cyrillic".
        scripts: String,
    },
}

/// Normalizes `input` (NFKC, trimmed, inner runs of spaces made one) and
/// checks the result against the character policy of the module doc. The
/// function is idempotent: an accepted name normalizes to itself.
pub fn normalize_display_name(
    input: &str,
    max_chars: usize,
) -> Result<DisplayName, DisplayNameError> {
    let compatible: String = input.nfkc().collect();
    let mut name = String::with_capacity(compatible.len());
    for piece in compatible
        .trim()
        .split(' ')
        .filter(|piece| !piece.is_empty())
    {
        if !name.is_empty() {
            name.push(' ');
        }
        name.push_str(piece);
    }
    // Removing spaces never joins two characters that compose (a space
    // still separates them), so `name` is still in NFKC.
    let len = name.chars().count();
    if len == 0 {
        return Err(DisplayNameError::Empty);
    }
    if len > max_chars {
        return Err(DisplayNameError::TooLong {
            max: max_chars,
            len,
        });
    }
    check_characters(&name)?;
    check_scripts(&name)?;
    Ok(DisplayName(name))
}

/// Checks every character, reporting the first one that is not allowed.
fn check_characters(name: &str) -> Result<(), DisplayNameError> {
    first_forbidden_character(
        name,
        CharacterPolicy {
            forbidden: describe_invisible_or_unassigned,
            punctuation: is_allowed_punctuation,
            separator: Some(' '),
        },
    )
    .map_or(Ok(()), |(position, description)| {
        Err(DisplayNameError::ForbiddenCharacter {
            position,
            description,
        })
    })
}

/// The kinds of character never allowed in a name: the username policy's
/// (controls, whitespace, zero-width, bidirectional controls, invisible,
/// private-use and unassigned characters) and the remaining format
/// characters (Cf) that draw or hide text. The space is checked before.
fn describe_invisible_or_unassigned(character: char) -> Option<&'static str> {
    if let Some(description) = describe_forbidden(character) {
        return Some(description);
    }
    is_other_format_character(character).then_some("a format character")
}

/// The format characters (general category Cf, Unicode 16) that the
/// username policy's lists do not already cover: number signs that draw
/// over the digits after them, interlinear annotation marks, the Egyptian
/// hieroglyph format controls.
fn is_other_format_character(character: char) -> bool {
    matches!(
        character,
        '\u{0600}'..='\u{0605}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
    )
}

fn is_allowed_punctuation(character: char) -> bool {
    (character.is_ascii_punctuation()) || TYPOGRAPHIC_PUNCTUATION.contains(&character)
}

/// Checks that each word keeps to one script (UTS #39 "highly
/// restrictive": one script, or Latin with Han and kana, Han and Bopomofo,
/// or Han and Hangul).
fn check_scripts(name: &str) -> Result<(), DisplayNameError> {
    let is_word_character = |character: char| {
        character.is_alphabetic() || character.is_numeric() || is_combining_mark(character)
    };
    for word in name
        .split(|character: char| !is_word_character(character))
        .filter(|word| !word.is_empty())
    {
        if !is_highly_restrictive(word) {
            return Err(DisplayNameError::MixedScripts {
                word: quoted(word),
                scripts: scripts_of(word),
            });
        }
    }
    Ok(())
}

/// Whether `word` is single-script, or Latin plus one of the CJK
/// combinations UTS #39 allows with it.
fn is_highly_restrictive(word: &str) -> bool {
    if !AugmentedScriptSet::for_str(word).is_empty() {
        return true;
    }
    let mut without_latin = AugmentedScriptSet::default();
    for character in word.chars() {
        if !ScriptExtension::from(character).contains_script(Script::Latin) {
            without_latin.intersect_with(AugmentedScriptSet::for_char(character));
        }
    }
    without_latin.hanb || without_latin.jpan || without_latin.kore
}

/// The scripts of a word's letters, in order of appearance, for messages.
fn scripts_of(word: &str) -> String {
    let mut scripts: Vec<&'static str> = Vec::new();
    for character in word.chars() {
        let script = character.script();
        if matches!(script, Script::Common | Script::Inherited | Script::Unknown) {
            continue;
        }
        let name = script.full_name();
        if !scripts.contains(&name) {
            scripts.push(name);
        }
    }
    match scripts.as_slice() {
        [] => "different".to_owned(),
        [only] => (*only).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The keys under which a name is compared with others: two names look
/// alike when either key is equal.
///
/// UTS #39's skeleton maps each character to its prototype (Cyrillic `а`
/// to `a`, `0` to `O`, capital `I` to `l`) and drops invisible characters.
/// Case-folding before the skeleton makes `ADMINS` and `admins` one name;
/// the skeleton before case-folding keeps `AdmIns` (a capital i) and
/// `Admlns` (a small L) together, which folding first would separate.
/// Whitespace runs count as one space and surrounding whitespace not at
/// all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LookAlike {
    folded_then_skeleton: String,
    skeleton_then_folded: String,
}

impl LookAlike {
    /// The keys of `name`, any string (names from old records included).
    pub fn of(name: &str) -> LookAlike {
        let compatible: String = name.nfkc().collect();
        let folded = fold_case(&compatible);
        let folded_then_skeleton = skeleton_of(&fold_case(&skeleton_of(&folded)));
        let skeleton_then_folded = skeleton_of(&fold_case(&skeleton_of(&compatible)));
        LookAlike {
            folded_then_skeleton: collapse_whitespace(&folded_then_skeleton),
            skeleton_then_folded: collapse_whitespace(&skeleton_then_folded),
        }
    }

    /// Whether a name with these keys would be mistaken for `other`.
    pub fn matches(&self, other: &LookAlike) -> bool {
        self.folded_then_skeleton == other.folded_then_skeleton
            || self.skeleton_then_folded == other.skeleton_then_folded
    }

    /// The first of `existing` that looks like `name`, if any.
    pub fn find_among<'a>(
        name: &str,
        existing: impl IntoIterator<Item = &'a str>,
    ) -> Option<&'a str> {
        let keys = LookAlike::of(name);
        existing
            .into_iter()
            .find(|other| keys.matches(&LookAlike::of(other)))
    }
}

fn skeleton_of(text: &str) -> String {
    skeleton(text).collect()
}

/// Simple case folding by lowercasing each character, as usernames do.
fn fold_case(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).collect()
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A name quoted for a message: in double quotes, with quotes and
/// backslashes escaped and every character that the policy refuses (which
/// a name from an old record may hold) written as `\u{…}`, so a refusal
/// never carries a bidirectional control or an invisible character.
pub fn quoted(name: &str) -> String {
    let mut shown = String::with_capacity(name.len() + 2);
    shown.push('"');
    for character in name.chars() {
        match character {
            '"' | '\\' => {
                shown.push('\\');
                shown.push(character);
            }
            ' ' => shown.push(' '),
            _ if describe_invisible_or_unassigned(character).is_some() => {
                shown.push_str(&format!("\\u{{{:04X}}}", u32::from(character)));
            }
            _ => shown.push(character),
        }
    }
    shown.push('"');
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAX: usize = 100;

    fn normalized(input: &str) -> String {
        match normalize_display_name(input, MAX) {
            Ok(name) => name.into_string(),
            Err(error) => panic!("{input:?} was refused: {error}"),
        }
    }

    fn refusal(input: &str) -> DisplayNameError {
        match normalize_display_name(input, MAX) {
            Ok(name) => panic!("{input:?} was accepted as {name:?}"),
            Err(error) => error,
        }
    }

    /// Eight spellings of "Admins" that a console shows identically (or
    /// nearly): the attack of issue 15.
    const ADMINS_LOOK_ALIKES: [&str; 8] = [
        "\u{0410}dmins",                                    // Cyrillic capital A
        "Ad\u{200B}mins",                                   // a zero-width space
        "Admins\u{202E}",                                   // a right-to-left override
        "\u{FF21}\u{FF44}\u{FF4D}\u{FF49}\u{FF4E}\u{FF53}", // fullwidth
        "Admins   ",                                        // trailing spaces
        "admins",                                           // another case
        "Adm\u{0456}ns",                                    // Cyrillic small i
        "\u{0391}dmins",                                    // Greek capital alpha
    ];

    #[test]
    fn given_admins_exists_when_any_look_alike_is_named_then_it_is_found() {
        // Given a group "Admins".
        let existing = ["Operators", "Admins", "Auditors"];
        for candidate in ADMINS_LOOK_ALIKES {
            // When a new name is checked against it...
            let found = LookAlike::find_among(candidate, existing);
            // ...then "Admins" is what it collides with.
            assert_eq!(found, Some("Admins"), "{candidate:?}");
        }
        assert_eq!(LookAlike::find_among("Admins team", existing), None);
        assert_eq!(LookAlike::find_among("Admin", existing), None);
    }

    #[test]
    fn given_any_admins_spelling_when_normalized_then_refused_or_folded_onto_admins() {
        for candidate in ADMINS_LOOK_ALIKES {
            match normalize_display_name(candidate, MAX) {
                // Accepted only by folding onto a name that is refused as
                // a look-alike of the existing one.
                Ok(name) => assert!(
                    LookAlike::of(name.as_str()).matches(&LookAlike::of("Admins")),
                    "{candidate:?} became {name:?}"
                ),
                Err(DisplayNameError::ForbiddenCharacter { .. })
                | Err(DisplayNameError::MixedScripts { .. }) => {}
                Err(other) => panic!("{candidate:?}: {other}"),
            }
        }
        assert_eq!(
            normalized("\u{FF21}\u{FF44}\u{FF4D}\u{FF49}\u{FF4E}\u{FF53}"),
            "Admins"
        );
        assert_eq!(normalized("Admins   "), "Admins");
    }

    #[test]
    fn given_old_names_with_invisible_characters_then_they_still_collide() {
        // Names recorded before the policy may hold anything; the skeleton
        // drops what is invisible, so a clean "Admins" collides with them.
        for old in [
            "Admins\u{202E}",
            "Ad\u{200D}mins",
            "\u{FEFF}Admins",
            "Admins\u{2067}",
        ] {
            assert_eq!(LookAlike::find_among("Admins", [old]), Some(old), "{old:?}");
        }
    }

    #[test]
    fn case_and_i_l_confusions_collide() {
        assert!(LookAlike::of("ADMINS").matches(&LookAlike::of("admins")));
        assert!(LookAlike::of("AdmIns").matches(&LookAlike::of("Admlns")));
        assert!(LookAlike::of("Ops  Team").matches(&LookAlike::of("Ops Team")));
        assert!(LookAlike::of("paypal").matches(&LookAlike::of("p\u{0430}yp\u{0430}l")));
        assert!(!LookAlike::of("Admins").matches(&LookAlike::of("Auditors")));
        assert!(!LookAlike::of("team a").matches(&LookAlike::of("team b")));
    }

    #[test]
    fn names_keep_their_case_and_inner_spaces() {
        assert_eq!(normalized("  Platform   Team "), "Platform Team");
        assert_eq!(normalized("R&D (EMEA) — Ops"), "R&D (EMEA) — Ops");
        assert_eq!(
            normalized("ops \"ev\"il CEF:0|x=y 'a'|b\\c ]"),
            "ops \"ev\"il CEF:0|x=y 'a'|b\\c ]"
        );
        assert_eq!(
            normalized("\u{00A0}Équipe\u{3000}Sécurité"),
            "Équipe Sécurité"
        );
    }

    #[test]
    fn other_scripts_and_cjk_mixes_are_accepted() {
        for name in [
            "Команда безопасности",
            "安全チーム",
            "보안팀",
            "فريق الأمن",
            "सुरक्षा दल",
            "Team Москва",
            "DevOps部門",
            "ᏣᎳᎩ",
        ] {
            assert_eq!(normalized(name), name);
        }
    }

    #[test]
    fn a_word_mixing_scripts_is_refused_naming_them() {
        assert_eq!(
            refusal("\u{0410}dmins"),
            DisplayNameError::MixedScripts {
                word: "\"\u{0410}dmins\"".to_owned(),
                scripts: "Cyrillic and Latin".to_owned(),
            }
        );
        assert!(matches!(
            refusal("Ops \u{03BF}ps"),
            DisplayNameError::MixedScripts { .. }
        ));
        assert_eq!(
            refusal("Adm\u{0456}ns").to_string(),
            "the word \"Adm\u{0456}ns\" mixes the Latin and Cyrillic scripts; write each word \
             in one script"
        );
    }

    #[test]
    fn invisible_bidi_and_format_characters_are_refused_with_their_position() {
        for (input, position, description) in [
            ("Ad\u{200B}mins", 3, "a zero-width character"),
            ("Admins\u{202E}", 7, "a bidirectional text control"),
            ("\u{2067}Admins", 1, "a bidirectional text control"),
            ("Ad\u{00AD}mins", 3, "an invisible character"),
            ("Ad\u{FE0F}mins", 3, "an invisible character"),
            ("Ad\u{FFF9}mins", 3, "a format character"),
            ("Ad\u{0600}mins", 3, "a format character"),
            ("Ad\tmins", 3, "a control character"),
            ("Ad\u{1B}[31mins", 3, "a control character"),
            ("Ad\u{2028}mins", 3, "a whitespace character"),
            (
                "Ad\u{E000}mins",
                3,
                "an unassigned or private-use character",
            ),
            ("Ad\u{FFFD}mins", 3, "the replacement character U+FFFD"),
        ] {
            assert_eq!(
                refusal(input),
                DisplayNameError::ForbiddenCharacter {
                    position,
                    description
                },
                "{input:?}"
            );
        }
    }

    #[test]
    fn symbols_outside_the_list_and_stray_marks_are_refused() {
        for input in [
            "Ops \u{1F600}",
            "Ops \u{2192} Dev",
            "Ops\u{2027}Dev",
            "Ops\u{A789}Dev",
            "Ops \u{2500}",
        ] {
            assert!(
                matches!(refusal(input), DisplayNameError::ForbiddenCharacter { .. }),
                "{input:?}"
            );
        }
        assert_eq!(
            refusal("Ops \u{0301}x"),
            DisplayNameError::ForbiddenCharacter {
                position: 5,
                description: "a combining mark with no letter or digit before it"
            }
        );
        let five_marks = format!("a{}", "\u{0360}".repeat(5));
        assert!(matches!(
            refusal(&five_marks),
            DisplayNameError::ForbiddenCharacter { position: 6, .. }
        ));
    }

    #[test]
    fn empty_and_long_names_are_refused_after_normalization() {
        for input in ["", "   ", "\u{3000}"] {
            assert_eq!(refusal(input), DisplayNameError::Empty);
        }
        assert_eq!(normalized(&"é".repeat(MAX)).chars().count(), MAX);
        assert_eq!(
            refusal(&"é".repeat(MAX + 1)),
            DisplayNameError::TooLong {
                max: MAX,
                len: MAX + 1
            }
        );
    }

    #[test]
    fn quoted_names_carry_no_invisible_character() {
        assert_eq!(quoted("Admins\u{202E}x"), "\"Admins\\u{202E}x\"");
        assert_eq!(quoted("a \"b\" \\ c"), "\"a \\\"b\\\" \\\\ c\"");
        assert_eq!(quoted("Ad\u{200B}\u{7}"), "\"Ad\\u{200B}\\u{0007}\"");
    }

    proptest! {
        #[test]
        fn normalization_never_panics_and_is_idempotent(input in any::<String>()) {
            if let Ok(once) = normalize_display_name(&input, MAX) {
                prop_assert_eq!(normalize_display_name(once.as_str(), MAX), Ok(once.clone()));
                prop_assert!(LookAlike::of(once.as_str()).matches(&LookAlike::of(&input)));
            }
        }

        #[test]
        fn look_alike_keys_ignore_surrounding_space_and_case(name in "[A-Za-z ]{1,20}") {
            let keys = LookAlike::of(&name);
            let shouted = format!("  {} ", name.to_uppercase());
            prop_assert!(keys.matches(&LookAlike::of(&shouted)));
        }
    }
}
