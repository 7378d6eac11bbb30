//! Who is calling: a user acting through a session token or an API key, in
//! one org, with the role they hold there *now* (read from the views on
//! every request, so revocations and role changes take effect at once).

use cairn_core::log::NewEvent;
use cairn_projections::Views;
use cairn_schemas::{Action, ActorKind, ActorRef, EventPayload, OrgRole, Outcome, ResourceRef};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::tokens::Claims;
use super::{App, CommandError, Origin};

/// The prefix of every API key.
pub const API_KEY_PREFIX: &str = "cairn_";

/// The refusal of any request but the few [`allowed_before_password_change`]
/// while the caller's password must be changed.
pub const PASSWORD_CHANGE_REQUIRED: &str = "password change required: this password was set by \
     someone else; change it with PUT /api/v1/users/me/password before doing anything else";

/// The requests a caller whose password must be changed may still make:
/// change it, see who they are, and log out. Everything else (revealing a
/// secret above all) waits, so whoever reset the password cannot use it.
pub fn allowed_before_password_change(method: &str, path: &str) -> bool {
    matches!(
        (method, path.trim_end_matches('/')),
        ("PUT", "/api/v1/users/me/password")
            | ("GET" | "HEAD", "/api/v1/auth/me")
            | ("POST", "/api/v1/auth/logout")
    )
}

/// Attaches the request id, when there is one, to an event the request
/// causes.
pub fn with_request(event: NewEvent, origin: &Origin) -> NewEvent {
    match &origin.request_id {
        Some(id) => event.with_request_id(id.clone()),
        None => event,
    }
}

/// How the caller authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    /// A login session.
    Session(Uuid),
    /// An API key.
    ApiKey(Uuid),
}

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The user.
    pub user_id: Uuid,
    /// The org they act in.
    pub org_id: Uuid,
    /// Their role there now.
    pub role: OrgRole,
    /// A global admin.
    pub is_superuser: bool,
    /// How they authenticated.
    pub credential: Credential,
}

impl Principal {
    /// The actor recorded in events this principal causes.
    pub fn actor(&self) -> ActorRef {
        match self.credential {
            Credential::Session(_) => ActorRef {
                kind: ActorKind::User,
                id: Some(self.user_id),
            },
            Credential::ApiKey(key) => ActorRef {
                kind: ActorKind::ApiKey,
                id: Some(key),
            },
        }
    }

    /// The event of a successful command by this principal on `resource`,
    /// in `org`, with the request's origin sealed as the principal's
    /// personal data.
    pub fn event(
        &self,
        action: Action,
        resource: ResourceRef,
        org: Uuid,
        origin: &Origin,
        payload: EventPayload,
    ) -> NewEvent {
        with_request(
            NewEvent::new(action, self.actor(), resource, Outcome::Success)
                .in_org(org)
                .with_personal(self.user_id, origin.personal())
                .with_payload(payload),
            origin,
        )
    }

    /// Admin of `org` (or superuser).
    pub fn is_admin_of(&self, org: Uuid) -> bool {
        self.is_superuser || (self.role == OrgRole::Admin && self.org_id == org)
    }

    /// Refuses unless admin of the caller's own org (or superuser).
    pub fn require_admin(&self) -> Result<(), CommandError> {
        if self.is_admin_of(self.org_id) {
            Ok(())
        } else {
            Err(CommandError::Forbidden(
                "this requires the admin role".into(),
            ))
        }
    }

    /// Only a superuser may change another superuser (an org admin who
    /// could reset a superuser's password would own the whole instance).
    pub fn require_may_change(&self, views: &Views, target: Uuid) -> Result<(), CommandError> {
        if target != self.user_id
            && views
                .users
                .get(&target)
                .is_some_and(|user| user.is_superuser)
        {
            self.require_superuser()?;
        }
        Ok(())
    }

    /// Whether this caller's password was set by someone else and must be
    /// changed before anything else is allowed (an admin's reset).
    pub fn password_change_required(&self, views: &Views) -> bool {
        views
            .users
            .get(&self.user_id)
            .is_some_and(|user| user.password_change_required)
    }

    /// Refuses while the caller's password must be changed (see
    /// [`Principal::password_change_required`]): whoever set it knows it.
    pub fn require_own_password(&self, views: &Views) -> Result<(), CommandError> {
        if self.password_change_required(views) {
            Err(CommandError::Forbidden(PASSWORD_CHANGE_REQUIRED.into()))
        } else {
            Ok(())
        }
    }

    /// Refuses unless superuser.
    pub fn require_superuser(&self) -> Result<(), CommandError> {
        if self.is_superuser {
            Ok(())
        } else {
            Err(CommandError::Forbidden("this requires a superuser".into()))
        }
    }
}

/// The role a user has in an org: their membership, or admin for a
/// superuser acting in any org.
fn current_role(views: &Views, user: Uuid, org: Uuid, is_superuser: bool) -> Option<OrgRole> {
    match views.orgs.role_of(&user, &org) {
        Some(role) => Some(role),
        None if is_superuser && views.orgs.get(&org).is_some() => Some(OrgRole::Admin),
        None => None,
    }
}

/// Authenticates a session token's claims, once the edge has checked its
/// signature: a valid signature is not enough; the session must be live,
/// its user active and still a member of its org.
pub fn from_claims(app: &App, claims: &Claims) -> Result<Principal, CommandError> {
    authenticate_session(&app.views(), app.now(), claims)
}

/// The principal a session token's checked `claims` name at `now`, or
/// 401: see [`from_claims`].
pub fn authenticate_session(
    views: &Views,
    now: i64,
    claims: &Claims,
) -> Result<Principal, CommandError> {
    let session = views
        .sessions
        .get(&claims.sid)
        .ok_or(CommandError::Unauthenticated)?;
    if !session.is_live(now) || session.user_id != claims.sub || session.org_id != claims.org {
        return Err(CommandError::Unauthenticated);
    }
    let user = views
        .users
        .get(&claims.sub)
        .filter(|user| user.is_active)
        .ok_or(CommandError::Unauthenticated)?;
    let role = current_role(views, user.id, claims.org, user.is_superuser)
        .ok_or(CommandError::Unauthenticated)?;
    Ok(Principal {
        user_id: user.id,
        org_id: claims.org,
        role,
        is_superuser: user.is_superuser,
        credential: Credential::Session(claims.sid),
    })
}

/// SHA-256 of an API key: what the log and the views keep.
pub fn api_key_digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Authenticates an API key: it acts as its owner, in its org, with the
/// owner's current role and no more.
pub fn from_api_key(app: &App, key: &str) -> Result<Principal, CommandError> {
    authenticate_key(&app.views(), app.now(), key)
}

/// The principal API key `key` acts as at `now`, or 401: see
/// [`from_api_key`].
pub fn authenticate_key(views: &Views, now: i64, key: &str) -> Result<Principal, CommandError> {
    if !key.starts_with(API_KEY_PREFIX) {
        return Err(CommandError::Unauthenticated);
    }
    // Looking up by digest compares digests, not keys: a timing difference
    // reveals nothing about the key.
    let digest = api_key_digest(key);
    let record = views
        .api_keys
        .by_digest(&digest)
        .filter(|record| record.is_live(now));
    let record = record.ok_or(CommandError::Unauthenticated)?;
    let user = views
        .users
        .get(&record.user_id)
        .filter(|user| user.is_active)
        .ok_or(CommandError::Unauthenticated)?;
    let role = current_role(views, user.id, record.org_id, user.is_superuser)
        .ok_or(CommandError::Unauthenticated)?;
    Ok(Principal {
        user_id: user.id,
        org_id: record.org_id,
        role,
        is_superuser: user.is_superuser,
        credential: Credential::ApiKey(record.id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::identity_facts::cast::*;
    use crate::testing::identity_facts::{
        api_key, api_key_revoked, deactivated, member_removed, session,
    };
    use crate::testing::{Given, facts, id};

    const SESSION: u128 = 0x5e;
    const KEY: u128 = 0x4b;
    const KEY_TEXT: &str = "cairn_0123456789abcdef";
    const HOUR: i64 = 3_600_000_000;

    fn claims(user: u128, session: u128, org: u128) -> Claims {
        Claims {
            sub: id(user),
            sid: id(session),
            org: id(org),
            iss: crate::tokens::ISSUER.into(),
            aud: crate::tokens::AUDIENCE.into(),
            exp: 0,
            iat: 0,
            nbf: 0,
        }
    }

    fn with_session(user: u128, org: u128) -> Given {
        let given = given();
        let until = given.now() + HOUR;
        given.events([session(id(SESSION), id(user), id(org), until)])
    }

    fn by_session(given: &Given, claims: &Claims) -> Result<Principal, CommandError> {
        authenticate_session(given.views(), given.now(), claims)
    }

    #[test]
    fn given_a_live_session_when_its_claims_come_then_the_principal_has_the_role_held_now() {
        let mut given = with_session(MIA, OTHER);
        let principal = by_session(&given, &claims(MIA, SESSION, OTHER)).expect("live");
        assert_eq!(
            (
                principal.user_id,
                principal.org_id,
                principal.role,
                principal.credential
            ),
            (
                id(MIA),
                id(OTHER),
                OrgRole::Admin,
                Credential::Session(id(SESSION))
            )
        );
        assert_eq!(principal.actor().kind, ActorKind::User);
        // A role change takes effect on the next request
        given.fold(facts::member(id(OTHER), id(MIA), OrgRole::Viewer));
        let principal = by_session(&given, &claims(MIA, SESSION, OTHER)).expect("live");
        assert_eq!(principal.role, OrgRole::Viewer);
    }

    #[test]
    fn given_claims_that_do_not_match_the_session_when_presented_then_401() {
        let given = with_session(MIA, OTHER);
        for forged in [
            // Another user, another org, another session
            claims(ADA, SESSION, OTHER),
            claims(MIA, SESSION, ORG),
            claims(MIA, 0x999, OTHER),
        ] {
            assert!(
                matches!(
                    by_session(&given, &forged),
                    Err(CommandError::Unauthenticated)
                ),
                "{forged:?}"
            );
        }
    }

    #[test]
    fn given_a_session_when_it_expires_or_its_user_is_deactivated_or_removed_then_401() {
        let expired = with_session(MIA, OTHER).later(HOUR);
        let deactivated_user = with_session(MIA, OTHER).events([deactivated(id(MIA), id(ORG))]);
        let removed = with_session(MIA, OTHER).events([member_removed(id(OTHER), id(MIA))]);
        for given in [expired, deactivated_user, removed] {
            assert!(matches!(
                by_session(&given, &claims(MIA, SESSION, OTHER)),
                Err(CommandError::Unauthenticated)
            ));
        }
    }

    #[test]
    fn given_a_superuser_session_in_an_org_they_are_not_in_then_they_act_there_as_admin() {
        let given = with_session(ROOT, THIRD);
        let principal = by_session(&given, &claims(ROOT, SESSION, THIRD)).expect("live");
        assert_eq!(
            (principal.role, principal.is_superuser),
            (OrgRole::Admin, true)
        );
        // Not so for an org that does not exist
        let given = with_session(ROOT, 0x999);
        assert!(by_session(&given, &claims(ROOT, SESSION, 0x999)).is_err());
    }

    fn with_key(user: u128, org: u128) -> Given {
        given().events([api_key(
            id(KEY),
            id(user),
            id(org),
            api_key_digest(KEY_TEXT),
        )])
    }

    #[test]
    fn given_a_live_key_when_presented_then_it_acts_as_its_owner_with_their_role_now() {
        let given = with_key(MIA, OTHER);
        let principal = authenticate_key(given.views(), given.now(), KEY_TEXT).expect("live");
        assert_eq!(
            (
                principal.user_id,
                principal.org_id,
                principal.role,
                principal.credential
            ),
            (
                id(MIA),
                id(OTHER),
                OrgRole::Admin,
                Credential::ApiKey(id(KEY))
            )
        );
        assert_eq!(principal.actor().kind, ActorKind::ApiKey);
        assert_eq!(principal.actor().id, Some(id(KEY)));
    }

    #[test]
    fn given_each_dead_key_when_presented_then_401() {
        let revoked = with_key(MIA, OTHER).events([api_key_revoked(id(KEY), id(OTHER))]);
        let owner_gone = with_key(MIA, OTHER).events([deactivated(id(MIA), id(ORG))]);
        let removed = with_key(MIA, OTHER).events([member_removed(id(OTHER), id(MIA))]);
        for given in [revoked, owner_gone, removed] {
            assert!(matches!(
                authenticate_key(given.views(), given.now(), KEY_TEXT),
                Err(CommandError::Unauthenticated)
            ));
        }
        let given = with_key(MIA, OTHER);
        for text in [
            "0123456789abcdef",
            "cairn_0123456789abcdee",
            "",
            "CAIRN_0123456789abcdef",
        ] {
            assert!(
                matches!(
                    authenticate_key(given.views(), given.now(), text),
                    Err(CommandError::Unauthenticated)
                ),
                "{text}"
            );
        }
    }

    fn principal(role: OrgRole, is_superuser: bool) -> Principal {
        Principal {
            user_id: id(ADA),
            org_id: id(ORG),
            role,
            is_superuser,
            credential: Credential::Session(id(SESSION)),
        }
    }

    #[test]
    fn given_each_role_when_admin_rights_are_required_then_only_an_admin_of_that_org_or_a_superuser()
     {
        assert!(principal(OrgRole::Admin, false).require_admin().is_ok());
        assert!(principal(OrgRole::Admin, false).is_admin_of(id(ORG)));
        assert!(!principal(OrgRole::Admin, false).is_admin_of(id(OTHER)));
        assert!(principal(OrgRole::Viewer, true).is_admin_of(id(OTHER)));
        for role in OrgRole::ALL.iter().filter(|role| **role != OrgRole::Admin) {
            assert!(matches!(
                principal(*role, false).require_admin(),
                Err(CommandError::Forbidden(_))
            ));
        }
        assert!(
            principal(OrgRole::Admin, false)
                .require_superuser()
                .is_err()
        );
        assert!(principal(OrgRole::Viewer, true).require_superuser().is_ok());
    }

    #[test]
    fn given_a_superuser_target_when_an_org_admin_changes_them_then_403_and_themselves_is_fine() {
        let given = given();
        let ada = principal(OrgRole::Admin, false);
        assert!(matches!(
            ada.require_may_change(given.views(), id(ROOT)),
            Err(CommandError::Forbidden(_))
        ));
        assert!(ada.require_may_change(given.views(), id(EDNA)).is_ok());
        assert!(
            principal(OrgRole::Viewer, true)
                .require_may_change(given.views(), id(ROOT))
                .is_ok()
        );
        let root = Principal {
            user_id: id(ROOT),
            ..principal(OrgRole::Admin, true)
        };
        assert!(root.require_may_change(given.views(), id(ROOT)).is_ok());
    }

    #[test]
    fn given_an_origin_with_a_request_id_when_an_event_is_made_then_it_carries_it() {
        let ada = principal(OrgRole::Admin, false);
        let event = ada.event(
            Action::OrgCreated,
            ResourceRef::AUDIT_LOG,
            id(ORG),
            &Origin::local("req-1"),
            EventPayload::UserDeleted(cairn_schemas::UserRef { user_id: id(ADA) }),
        );
        assert_eq!(event.request_id.as_deref(), Some("req-1"));
        assert_eq!(event.org, Some(id(ORG)));
        let bare = with_request(event.clone(), &Origin::default());
        assert_eq!(bare.request_id.as_deref(), Some("req-1"));
    }

    #[test]
    fn a_temporary_password_allows_only_changing_it_seeing_oneself_and_logging_out() {
        // Given a caller whose password must be changed
        // Then these go ahead
        for (method, path) in [
            ("PUT", "/api/v1/users/me/password"),
            ("GET", "/api/v1/auth/me"),
            ("POST", "/api/v1/auth/logout"),
            ("POST", "/api/v1/auth/logout/"),
        ] {
            assert!(
                allowed_before_password_change(method, path),
                "{method} {path}"
            );
        }
        // And everything else is refused, revealing a secret first of all
        for (method, path) in [
            (
                "POST",
                "/api/v1/secrets/0190a000-0000-7000-8000-000000000000/reveal",
            ),
            ("GET", "/api/v1/secrets"),
            ("POST", "/api/v1/auth/api-keys"),
            ("GET", "/api/v1/users/me/password"),
            ("DELETE", "/api/v1/auth/me"),
            (
                "PATCH",
                "/api/v1/users/0190a000-0000-7000-8000-000000000000",
            ),
            ("GET", "/api/v1/auth/me/../../secrets"),
        ] {
            assert!(
                !allowed_before_password_change(method, path),
                "{method} {path}"
            );
        }
    }
}
