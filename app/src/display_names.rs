//! The names people tell groups, orgs and namespaces apart by: every new
//! one (create or rename) passes the display-name policy of
//! `cairn_core::rules::display_name` and must not look like a name already
//! taken in its scope. Names already in the log are never re-checked (the
//! log folds as written); they only take part in the look-alike comparison.

use cairn_core::rules::display_name::{LookAlike, normalize_display_name, quoted};

use super::CommandError;

/// Normalizes a new name and checks its characters: 422 on `name` naming
/// the rule otherwise.
pub fn check_display_name(name: &str, max_chars: usize) -> Result<String, CommandError> {
    normalize_display_name(name, max_chars)
        .map(|name| name.into_string())
        .map_err(|error| CommandError::invalid("name", error.to_string()))
}

/// Where a name is unique, for the refusal's wording: "a group named X
/// exists {scope}".
#[derive(Debug)]
pub struct Scope {
    /// What is named: "a group", "an organization", "a namespace".
    pub what: &'static str,
    /// Where: "in this organization", "there", "".
    pub place: &'static str,
}

/// A taken name the new one was compared with: its text, and whether the
/// caller may be told it (a namespace they cannot read is not named).
#[derive(Debug)]
pub struct Taken<'a> {
    /// The name as recorded.
    pub name: &'a str,
    /// Whether the refusal may quote it.
    pub visible: bool,
}

/// Refuses `name` (already normalized) with 409 when it looks like one of
/// `taken`: same text, same text in another case or width, or the same
/// confusable skeleton. The refusal names the existing name when the
/// caller may see it, quoted so that an old name's invisible characters
/// show as escapes.
pub fn refuse_look_alike<'a>(
    name: &str,
    scope: &Scope,
    taken: impl IntoIterator<Item = Taken<'a>>,
) -> Result<(), CommandError> {
    let keys = LookAlike::of(name);
    let Some(existing) = taken
        .into_iter()
        .find(|taken| keys.matches(&LookAlike::of(taken.name)))
    else {
        return Ok(());
    };
    let Scope { what, place } = scope;
    let place = if place.is_empty() {
        String::new()
    } else {
        format!(" {place}")
    };
    let message = if !existing.visible {
        format!(
            "{what} with a name that looks the same as {} exists{place}",
            quoted(name)
        )
    } else if existing.name == name {
        format!("{what} named {} exists{place}", quoted(name))
    } else {
        format!(
            "{what} named {} exists{place}, and {} looks the same",
            quoted(existing.name),
            quoted(name)
        )
    };
    Err(CommandError::Conflict(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUPS: Scope = Scope {
        what: "a group",
        place: "in this organization",
    };

    fn taken(names: &[&'static str]) -> Vec<Taken<'static>> {
        names
            .iter()
            .map(|name| Taken {
                name,
                visible: true,
            })
            .collect()
    }

    fn conflict(result: Result<(), CommandError>) -> String {
        match result {
            Err(CommandError::Conflict(message)) => message,
            other => panic!("expected a conflict, got {other:?}"),
        }
    }

    #[test]
    fn given_admins_when_a_look_alike_is_created_then_409_names_admins() {
        let message = conflict(refuse_look_alike(
            "ADMINS",
            &GROUPS,
            taken(&["Ops", "Admins"]),
        ));
        assert_eq!(
            message,
            "a group named \"Admins\" exists in this organization, and \"ADMINS\" looks the same"
        );
        let message = conflict(refuse_look_alike("Admins", &GROUPS, taken(&["Admins"])));
        assert_eq!(
            message,
            "a group named \"Admins\" exists in this organization"
        );
    }

    #[test]
    fn given_an_old_name_with_a_bidi_control_then_the_refusal_escapes_it() {
        let message = conflict(refuse_look_alike(
            "Admins",
            &GROUPS,
            taken(&["Admins\u{202E}"]),
        ));
        assert!(message.contains("\"Admins\\u{202E}\""), "{message}");
        assert!(!message.contains('\u{202E}'));
    }

    #[test]
    fn a_name_the_caller_cannot_see_is_not_quoted() {
        let hidden = [Taken {
            name: "Payroll",
            visible: false,
        }];
        let scope = Scope {
            what: "a namespace",
            place: "there",
        };
        let message = conflict(refuse_look_alike("PAYROLL", &scope, hidden));
        assert_eq!(
            message,
            "a namespace with a name that looks the same as \"PAYROLL\" exists there"
        );
    }

    #[test]
    fn different_names_pass() {
        assert!(refuse_look_alike("Auditors", &GROUPS, taken(&["Admins", "Ops"])).is_ok());
    }

    #[test]
    fn bad_characters_are_a_422_on_name() {
        match check_display_name("Ad\u{200B}mins", 100) {
            Err(CommandError::Invalid { field, message }) => {
                assert_eq!(field, "name");
                assert!(message.contains("zero-width"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            check_display_name(" \u{FF21}dmins ", 100).ok().as_deref(),
            Some("Admins")
        );
    }
}
