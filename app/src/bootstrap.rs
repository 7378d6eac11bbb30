//! The first superuser: from the environment at start (FerrFlow's rules)
//! or from `cairn admin create-superuser`. Either creates the superuser and
//! a personal org for them; the bootstrap is a no-op once any superuser
//! exists. The username is logged, the password never.

use cairn_core::log::NewEvent;
use cairn_core::rules::{check_password, normalize_username};
use cairn_schemas::{
    Action, ActorRef, BootstrapAdmin, EventPayload, OrgRole, Outcome, Password, PersonalData,
    ResourceKind, ResourceRef, UserCreated,
};
use uuid::Uuid;

use super::namespaces::system_namespaces;
use super::orgs::org_created;
use super::principal::with_request;
use super::{App, CommandError, Origin};

/// What the environment asks for.
#[derive(Debug)]
pub enum BootstrapRequest {
    /// No bootstrap (`CAIRN_DISABLE_AUTO_ADMIN` is not exactly `false`).
    Disabled,
    /// Create this superuser if none exists.
    Admin {
        /// `CAIRN_ADMIN_USER`.
        username: String,
        /// `CAIRN_ADMIN_PASSWORD`.
        password: Password,
    },
}

/// Reads the bootstrap settings. `CAIRN_ADMIN_USER` and
/// `CAIRN_ADMIN_PASSWORD` must be set together or not at all, whatever
/// `CAIRN_DISABLE_AUTO_ADMIN` says: one alone is a misconfiguration.
pub fn request_from(
    disable_auto_admin: Option<&str>,
    admin_user: Option<String>,
    admin_password: Option<Password>,
) -> Result<BootstrapRequest, String> {
    match (admin_user, admin_password) {
        (Some(_), None) => Err(
            "CAIRN_ADMIN_USER is set but CAIRN_ADMIN_PASSWORD is not: set both or neither".into(),
        ),
        (None, Some(_)) => Err(
            "CAIRN_ADMIN_PASSWORD is set but CAIRN_ADMIN_USER is not: set both or neither".into(),
        ),
        (Some(username), Some(password)) if disable_auto_admin == Some("false") => {
            Ok(BootstrapRequest::Admin { username, password })
        }
        _ => Ok(BootstrapRequest::Disabled),
    }
}

/// Creates a superuser with a personal org. `bootstrap` marks the
/// environment bootstrap (`system.bootstrap_admin`), which is skipped when
/// a superuser already exists. Returns the new user's id, or `None` when
/// skipped.
pub async fn create_superuser(
    app: &App,
    username: &str,
    password: &Password,
    bootstrap: bool,
    origin: &Origin,
) -> Result<Option<Uuid>, CommandError> {
    if bootstrap && app.views().users.has_superuser() {
        return Ok(None);
    }
    let username = normalize_username(username)
        .map_err(|error| CommandError::invalid("username", error.to_string()))?;
    check_password(password.expose(), &[username.as_ref()])
        .map_err(|error| CommandError::invalid("password", error.to_string()))?;
    if app.views().users.by_name(username.as_ref()).is_some() {
        return Err(CommandError::Conflict("that username is taken".into()));
    }
    let phc = app.passwords().hash(password, app.entropy_arc()).await?;
    let user_id = app.new_id();
    let org_id = app.new_id();
    let credential = app.log().seal_for_subject(user_id, phc.as_bytes())?;
    // Not derived from the username: an org's name is never sealed, so a
    // name made of the person's would outlive their erasure in clear. The
    // org id (random) keeps it unique.
    let org_name = personal_org_name(org_id);
    let mut created = None;
    app.execute(|views| {
        if bootstrap && views.users.has_superuser() {
            return Ok(Vec::new());
        }
        if views.users.by_name(username.as_ref()).is_some() {
            return Err(CommandError::Conflict("that username is taken".into()));
        }
        if views.orgs.by_name(&org_name).is_some() {
            return Err(CommandError::Conflict(
                "an organization with that name exists".into(),
            ));
        }
        created = Some(user_id);
        let event = |action, kind, id, payload| {
            with_request(
                NewEvent::new(
                    action,
                    ActorRef::SYSTEM,
                    ResourceRef { kind, id: Some(id) },
                    Outcome::Success,
                )
                .in_org(org_id)
                .with_payload(payload),
                origin,
            )
        };
        let mut events = vec![
            event(
                Action::OrgCreated,
                ResourceKind::Org,
                org_id,
                org_created(org_name.clone(), org_id),
            ),
            event(
                Action::UserCreated,
                ResourceKind::User,
                user_id,
                EventPayload::UserCreated(UserCreated {
                    user_id,
                    org_id,
                    role: OrgRole::Admin,
                    is_active: true,
                    is_superuser: true,
                    credential: credential.clone(),
                }),
            )
            .with_personal(
                user_id,
                PersonalData {
                    name: Some(username.to_string()),
                    ..PersonalData::default()
                },
            ),
        ];
        events.extend(system_namespaces(app.ids(), org_id, origin));
        if bootstrap {
            events.push(event(
                Action::SystemBootstrapAdmin,
                ResourceKind::User,
                user_id,
                EventPayload::BootstrapAdmin(BootstrapAdmin { user_id, org_id }),
            ));
        }
        Ok::<_, CommandError>(events)
    })
    .await?;
    Ok(created)
}

/// The name of a superuser's personal org: "Personal (<org id>)", with
/// nothing of the person in it.
fn personal_org_name(org_id: Uuid) -> String {
    format!("Personal ({})", org_id.hyphenated())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_personal_org_name_holds_nothing_of_the_person() {
        let org_id = Uuid::from_u128(0x018f_2f4e_7b1c_7a3d_9e4f_0123_4567_89ab);
        let name = personal_org_name(org_id);
        assert_eq!(name, "Personal (018f2f4e-7b1c-7a3d-9e4f-0123456789ab)");
        assert!(super::super::orgs::check_org_name(&name).is_ok());
    }

    #[test]
    fn both_or_neither() {
        let password = || Some(Password::new("x"));
        assert!(request_from(Some("false"), Some("admin".into()), None).is_err());
        assert!(request_from(None, None, password()).is_err());
        assert!(
            request_from(Some("true"), Some("admin".into()), None).is_err(),
            "checked whatever the switch says"
        );
        assert!(matches!(
            request_from(Some("false"), None, None),
            Ok(BootstrapRequest::Disabled)
        ));
        assert!(matches!(
            request_from(Some("FALSE"), Some("a".into()), password()),
            Ok(BootstrapRequest::Disabled)
        ));
        assert!(matches!(
            request_from(None, Some("a".into()), password()),
            Ok(BootstrapRequest::Disabled)
        ));
        assert!(matches!(
            request_from(Some("false"), Some("a".into()), password()),
            Ok(BootstrapRequest::Admin { .. })
        ));
    }
}
