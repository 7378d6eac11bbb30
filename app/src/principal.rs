//! Who is calling: a user acting through a session token or an API key, in
//! one org, with the role they hold there *now* (read from the views on
//! every request, so revocations and role changes take effect at once).

use cairn_core::log::NewEvent;
use cairn_projections::Views;
use cairn_schemas::{Action, ActorKind, ActorRef, EventPayload, OrgRole, Outcome, ResourceRef};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::login::with_request;
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
    let views = app.views();
    let now = app.now();
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
    let role = current_role(&views, user.id, claims.org, user.is_superuser)
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
    if !key.starts_with(API_KEY_PREFIX) {
        return Err(CommandError::Unauthenticated);
    }
    // Looking up by digest compares digests, not keys: a timing difference
    // reveals nothing about the key.
    let digest = api_key_digest(key);
    let views = app.views();
    let record = views
        .api_keys
        .by_digest(&digest)
        .filter(|record| record.is_live(app.now()));
    let record = record.ok_or(CommandError::Unauthenticated)?;
    let user = views
        .users
        .get(&record.user_id)
        .filter(|user| user.is_active)
        .ok_or(CommandError::Unauthenticated)?;
    let role = current_role(&views, user.id, record.org_id, user.is_superuser)
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
