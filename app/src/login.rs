//! Logging in and out. An unknown user, a wrong password, and the right
//! password of an inactive account or for an org the user is not in all get
//! the same answer (401) at the same cost (argon2id, against a dummy hash
//! for an unknown user); only the event says which. A username is locked
//! after repeated failures, keyed by its normalized form, whether or not it
//! exists, and no more verifications than the lockout allows run for one
//! name at once (`login_attempts`). Every attempt is an event.

use cairn_core::log::NewEvent;
use cairn_core::rules::{MAX_PASSWORD_CHARS, normalize_username};
use cairn_projections::identity::LOCKOUT_THRESHOLD;
use cairn_schemas::api::LoginRequest;
use cairn_schemas::{
    Action, ActorKind, ActorRef, EventPayload, LoginFailed, LoginFailure, LoginSucceeded, Logout,
    Outcome, ResourceKind, ResourceRef,
};
use uuid::Uuid;

use super::origin::anonymous_subject;
use super::principal::{Credential, Principal};
use super::tokens::{AUDIENCE, Claims, ISSUER};
use super::users::{UserSummary, user_body};
use super::{App, CommandError, Origin};

/// A successful login.
#[derive(Debug)]
pub struct LoginOutcome {
    /// What the session token says; the edge signs it.
    pub claims: Claims,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// The user, in the session's org.
    pub user: UserSummary,
    /// The password was set by someone else: the session may only change
    /// it (or log out) until it has been.
    pub password_change_required: bool,
}

fn failure_event(
    now: i64,
    fingerprint: [u8; 32],
    user: Option<(Uuid, Option<Uuid>)>,
    reason: LoginFailure,
    origin: &Origin,
) -> NewEvent {
    let outcome = match reason {
        LoginFailure::UnknownUser | LoginFailure::WrongPassword => Outcome::Failure,
        LoginFailure::Inactive | LoginFailure::Locked | LoginFailure::NoMembership => {
            Outcome::Denied
        }
    };
    // The origin is personal data of whoever tried: the named user, or, for
    // a name that matches nobody, the day's anonymous subject (the payload's
    // fingerprint still correlates attempts on one name).
    let (actor, subject, org) = match user {
        Some((user_id, org)) => (
            ActorRef {
                kind: ActorKind::User,
                id: Some(user_id),
            },
            user_id,
            org,
        ),
        None => (
            ActorRef {
                kind: ActorKind::Anonymous,
                id: None,
            },
            anonymous_subject(now),
            None,
        ),
    };
    let mut event = NewEvent::new(
        Action::AuthLoginFailed,
        actor,
        ResourceRef {
            kind: ResourceKind::User,
            id: user.map(|(id, _)| id),
        },
        outcome,
    )
    .with_personal(subject, origin.personal())
    .with_payload(EventPayload::LoginFailed(LoginFailed {
        username_fingerprint: fingerprint,
        user_id: user.map(|(id, _)| id),
        reason,
    }));
    if let Some(org) = org {
        event = event.in_org(org);
    }
    with_request(event, origin)
}

/// Attaches the request id, when there is one.
pub(crate) fn with_request(event: NewEvent, origin: &Origin) -> NewEvent {
    match &origin.request_id {
        Some(id) => event.with_request_id(id.clone()),
        None => event,
    }
}

/// Logs in with a username and password.
pub async fn login(
    app: &App,
    request: LoginRequest,
    origin: &Origin,
) -> Result<LoginOutcome, CommandError> {
    let username = normalize_username(&request.username)
        .map_err(|error| CommandError::invalid("username", error.to_string()))?;
    if request.password.expose().chars().count() > MAX_PASSWORD_CHARS {
        return Err(CommandError::invalid(
            "password",
            format!("must be at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    let fingerprint = app.username_fingerprint(username.as_ref())?;
    let now = app.now();

    // A slot for this name's verification, reserved atomically with reading
    // its recorded failures: a burst of guesses gets no more verifications
    // than the lockout allows.
    let slot = app
        .login_attempts()
        .reserve(fingerprint, LOCKOUT_THRESHOLD, || {
            app.views()
                .login_failures
                .counted_failures(&fingerprint, now)
        });
    let Some(slot) = slot else {
        let (user, until) = {
            let views = app.views();
            (
                views.users.by_name(username.as_ref()).map(|user| user.id),
                views.login_failures.locked_until(&fingerprint, now),
            )
        };
        app.commit(vec![failure_event(
            now,
            fingerprint,
            user.map(|id| (id, None)),
            LoginFailure::Locked,
            origin,
        )])
        .await
        .map_err(CommandError::internal)?;
        // Not locked yet (the room is taken by attempts in flight): try
        // again in a second, when they will have been decided.
        return Err(CommandError::Locked {
            retry_after_secs: retry_after(until, now),
        });
    };

    // Verify outside any lock (argon2id is slow); the decision below reads
    // the views again, so a deactivation in between still wins.
    let candidate = app
        .views()
        .users
        .by_name(username.as_ref())
        .map(|user| (user.id, user.credential.clone()));
    let phc = match &candidate {
        Some((_, sealed)) => app
            .log()
            .reader()
            .open_sealed(sealed)?
            .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok()),
        None => None,
    };
    let matched = app.passwords().verify(&request.password, phc).await?;

    let decided_at = app.now();
    let session_id = app.new_id();
    let ttl_micros = i64::try_from(app.settings().session_ttl_secs).unwrap_or(3600) * 1_000_000;
    let mut decided: Result<(Uuid, Uuid, i64), CommandError> =
        Err(CommandError::InvalidCredentials);
    app.execute(|views| {
        // Decided under the same rule as the reservation: a name locked
        // while this attempt was verified is refused, whatever the hash
        // said.
        if let Some(until) = views.login_failures.locked_until(&fingerprint, decided_at) {
            decided = Err(CommandError::Locked {
                retry_after_secs: retry_after(Some(until), decided_at),
            });
            return Ok::<_, CommandError>(vec![failure_event(
                now,
                fingerprint,
                candidate.as_ref().map(|(id, _)| (*id, None)),
                LoginFailure::Locked,
                origin,
            )]);
        }
        let user = candidate.as_ref().and_then(|(id, _)| views.users.get(id));
        let Some(user) = user.filter(|_| matched) else {
            let reason = if user.is_some() || candidate.is_some() {
                LoginFailure::WrongPassword
            } else {
                LoginFailure::UnknownUser
            };
            let who = candidate.as_ref().map(|(id, _)| {
                (
                    *id,
                    views.orgs.memberships_of(id).map(|(org, _)| *org).next(),
                )
            });
            decided = Err(CommandError::InvalidCredentials);
            return Ok(vec![failure_event(now, fingerprint, who, reason, origin)]);
        };
        let first_org = views
            .orgs
            .memberships_of(&user.id)
            .map(|(org, _)| *org)
            .next();
        if !user.is_active {
            // The same answer as a wrong password: only the event says why.
            decided = Err(CommandError::InvalidCredentials);
            return Ok(vec![failure_event(
                now,
                fingerprint,
                Some((user.id, first_org)),
                LoginFailure::Inactive,
                origin,
            )]);
        }
        let org = match request.org {
            Some(org) if views.orgs.role_of(&user.id, &org).is_some() => Some(org),
            Some(org) if user.is_superuser && views.orgs.get(&org).is_some() => Some(org),
            Some(_) => None,
            None => first_org,
        };
        let Some(org) = org else {
            decided = Err(CommandError::InvalidCredentials);
            return Ok(vec![failure_event(
                now,
                fingerprint,
                Some((user.id, first_org)),
                LoginFailure::NoMembership,
                origin,
            )]);
        };
        let expires_at = now + ttl_micros;
        decided = Ok((user.id, org, expires_at));
        let mut personal = origin.personal();
        personal.name = Some(user.username.clone());
        Ok(vec![with_request(
            NewEvent::new(
                Action::AuthLoginSucceeded,
                ActorRef {
                    kind: ActorKind::User,
                    id: Some(user.id),
                },
                ResourceRef {
                    kind: ResourceKind::Session,
                    id: Some(session_id),
                },
                Outcome::Success,
            )
            .in_org(org)
            .with_personal(user.id, personal)
            .with_payload(EventPayload::LoginSucceeded(LoginSucceeded {
                user_id: user.id,
                org_id: org,
                session_id,
                expires_at,
                username_fingerprint: fingerprint,
            })),
            origin,
        )])
    })
    .await?;
    // The outcome is in the views (a failure counted, or the count reset):
    // the slot may go.
    drop(slot);
    let (user_id, org_id, expires_at) = decided?;

    let issued = u64::try_from(now / 1_000_000).unwrap_or(0);
    let expires = u64::try_from(expires_at / 1_000_000).unwrap_or(0);
    let claims = Claims {
        sub: user_id,
        sid: session_id,
        org: org_id,
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        exp: expires,
        iat: issued,
        nbf: issued,
    };
    let views = app.views();
    let user = views
        .users
        .get(&user_id)
        .ok_or(CommandError::InvalidCredentials)?;
    Ok(LoginOutcome {
        claims,
        expires_in: expires.saturating_sub(issued),
        user: user_body(&views, user, Some(org_id)),
        password_change_required: user.password_change_required,
    })
}

/// Seconds to wait before trying again: until the lock ends, or a second
/// when the name is not locked but its room is taken by attempts in
/// flight.
fn retry_after(until: Option<i64>, now: i64) -> u64 {
    match until {
        Some(until) => u64::try_from((until - now).max(0) / 1_000_000).unwrap_or(0) + 1,
        None => 1,
    }
}

/// Ends the caller's session. API keys have no session to end.
pub async fn logout(app: &App, principal: &Principal, origin: &Origin) -> Result<(), CommandError> {
    let Credential::Session(session_id) = principal.credential else {
        return Err(CommandError::BadRequest(
            "an API key has no session to log out of; revoke the key instead".into(),
        ));
    };
    app.execute(|_| {
        Ok::<_, CommandError>(vec![with_request(
            NewEvent::new(
                Action::AuthLogout,
                principal.actor(),
                ResourceRef {
                    kind: ResourceKind::Session,
                    id: Some(session_id),
                },
                Outcome::Success,
            )
            .in_org(principal.org_id)
            .with_personal(principal.user_id, origin.personal())
            .with_payload(EventPayload::Logout(Logout { session_id })),
            origin,
        )])
    })
    .await?;
    Ok(())
}
