//! The first superuser: from the environment at start (FerrFlow's rules)
//! or from `cairn admin create-superuser`. Either creates the superuser and
//! a personal org for them; the bootstrap is a no-op once any superuser
//! exists. The username is logged, the password never.

use cairn_core::log::NewEvent;
use cairn_core::rules::{check_password, normalize_username};
use cairn_schemas::{
    Action, ActorRef, BootstrapAdmin, EventPayload, OrgRole, Outcome, Password, PersonalData,
    ResourceKind, ResourceRef, Sealed, UserCreated,
};
use uuid::Uuid;

use super::namespaces::system_namespaces;
use super::orgs::org_created;
use super::principal::with_request;
use super::{App, CommandError, Decided, Origin};
use cairn_core::IdSource;
use cairn_projections::Views;

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
    // The id comes first: the hash is sealed under the user's own key.
    let user_id = app.new_id();
    let credential = app.log().seal_for_subject(user_id, phc.as_bytes())?;
    let superuser = NewSuperuser {
        user_id,
        username: username.as_ref().to_string(),
        credential,
        bootstrap,
    };
    app.decide(|views, ids| decide_create(views, ids, &superuser, origin))
        .await
}

/// A superuser to create, their password hashed and sealed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSuperuser {
    /// Their id (the credential is sealed under its key).
    pub user_id: Uuid,
    /// The normalized username.
    pub username: String,
    /// The password's hash, sealed.
    pub credential: Sealed,
    /// The environment's bootstrap: skipped once any superuser exists,
    /// and marked `system.bootstrap_admin`.
    pub bootstrap: bool,
}

/// Whether the system may create `superuser` with a personal org: a free
/// username (and org name). The events (the org, the user, the org's
/// system namespaces, the bootstrap mark) and the new user's id; nothing
/// and `None` for a bootstrap when a superuser exists.
pub fn decide_create(
    views: &Views,
    ids: &IdSource,
    superuser: &NewSuperuser,
    origin: &Origin,
) -> Result<Decided<Option<Uuid>>, CommandError> {
    if superuser.bootstrap && views.users.has_superuser() {
        return Ok(Decided::nothing(None));
    }
    if views.users.by_name(&superuser.username).is_some() {
        return Err(CommandError::Conflict("that username is taken".into()));
    }
    let user_id = superuser.user_id;
    let org_id = ids.new_id();
    // Not derived from the username: an org's name is never sealed, so a
    // name made of the person's would outlive their erasure in clear. The
    // org id (random) keeps it unique.
    let org_name = personal_org_name(org_id);
    if views.orgs.by_name(&org_name).is_some() {
        return Err(CommandError::Conflict(
            "an organization with that name exists".into(),
        ));
    }
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
            org_created(org_name, org_id),
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
                credential: superuser.credential.clone(),
            }),
        )
        .with_personal(
            user_id,
            PersonalData {
                name: Some(superuser.username.clone()),
                ..PersonalData::default()
            },
        ),
    ];
    events.extend(system_namespaces(ids, org_id, origin));
    if superuser.bootstrap {
        events.push(event(
            Action::SystemBootstrapAdmin,
            ResourceKind::User,
            user_id,
            EventPayload::BootstrapAdmin(BootstrapAdmin { user_id, org_id }),
        ));
    }
    Ok(Decided::new(events, Some(user_id)))
}

/// The name of a superuser's personal org: "Personal (<org id>)", with
/// nothing of the person in it.
fn personal_org_name(org_id: Uuid) -> String {
    format!("Personal ({})", org_id.hyphenated())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::identity_facts::cast;
    use crate::testing::{Given, id};

    fn superuser(name: &str, bootstrap: bool) -> NewSuperuser {
        NewSuperuser {
            user_id: id(0x51),
            username: name.into(),
            credential: Sealed {
                subject: id(0x51),
                nonce: [1; 24],
                ciphertext: vec![1],
            },
            bootstrap,
        }
    }

    fn decide(given: &Given, superuser: &NewSuperuser) -> crate::testing::Then<Option<Uuid>> {
        given.when(|views, ids| decide_create(views, ids, superuser, &Origin::local("boot")))
    }

    #[test]
    fn given_an_empty_log_when_bootstrapping_then_a_superuser_with_a_personal_org_and_its_namespaces()
     {
        let mut given = Given::new();
        let then = decide(&given, &superuser("admin", true));
        let decided = then.decided();
        assert_eq!(decided.reply, Some(id(0x51)));
        let actions: Vec<Action> = decided.events.iter().map(|event| event.action).collect();
        assert_eq!(
            actions,
            vec![
                Action::OrgCreated,
                Action::UserCreated,
                Action::NamespaceCreated,
                Action::NamespaceCreated,
                Action::SystemBootstrapAdmin
            ]
        );
        assert!(
            decided
                .events
                .iter()
                .all(|event| event.actor == ActorRef::SYSTEM)
        );
        assert!(
            decided
                .events
                .iter()
                .all(|event| event.request_id.as_deref() == Some("boot"))
        );
        given.after(|views, ids| {
            decide_create(
                views,
                ids,
                &superuser("admin", true),
                &Origin::local("boot"),
            )
        });
        let user = given.views().users.get(&id(0x51)).expect("created");
        assert!(user.is_superuser && user.is_active);
        // Once a superuser exists, the bootstrap is a no-op
        let again = decide(&given, &superuser("other", true)).decided();
        assert!(again.events.is_empty());
        assert_eq!(again.reply, None);
    }

    #[test]
    fn given_a_superuser_when_the_cli_creates_another_then_no_bootstrap_mark_and_names_stay_unique()
    {
        let given = cast::given();
        let decided = decide(&given, &superuser("boss", false)).decided();
        assert!(
            !decided
                .events
                .iter()
                .any(|event| event.action == Action::SystemBootstrapAdmin)
        );
        // A taken username, whatever the mode
        for bootstrap in [false, true] {
            let given = Given::new().events([crate::testing::facts::user(
                id(1),
                "admin",
                id(0x0a),
                OrgRole::Admin,
            )]);
            assert!(matches!(
                decide(&given, &superuser("admin", bootstrap)).refused(),
                CommandError::Conflict(_)
            ));
        }
    }

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
