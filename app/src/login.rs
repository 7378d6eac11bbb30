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
use super::principal::{Credential, Principal, with_request};
use super::tokens::{AUDIENCE, Claims, ISSUER};
use super::users::{UserSummary, user_body};
use super::{App, CommandError, Decided, Origin};
use cairn_core::IdSource;
use cairn_projections::Views;

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

/// A login request's fields, checked: the normalized username (422 on
/// `username` or `password` otherwise).
pub fn check_login_request(request: &LoginRequest) -> Result<String, CommandError> {
    let username = normalize_username(&request.username)
        .map_err(|error| CommandError::invalid("username", error.to_string()))?;
    if request.password.expose().chars().count() > MAX_PASSWORD_CHARS {
        return Err(CommandError::invalid(
            "password",
            format!("must be at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(username.as_ref().to_string())
}

/// A login attempt once its password was verified (outside any lock): what
/// the decision needs.
#[derive(Clone, Copy, Debug)]
pub struct Attempt {
    /// The username's fingerprint (the lockout key).
    pub fingerprint: [u8; 32],
    /// The user the name matched when the password was verified.
    pub candidate: Option<Uuid>,
    /// Whether the password matched that user's hash.
    pub matched: bool,
    /// The org asked for (the first membership when none).
    pub org: Option<Uuid>,
    /// When the attempt started: the events' time and the session's start.
    pub started_at: i64,
    /// When it is decided: the lockout is judged as of then.
    pub decided_at: i64,
    /// How long a session lasts, in micros.
    pub ttl_micros: i64,
}

/// A login's verdict: the session granted, or the refusal (recorded all
/// the same, as `auth.login_failed`).
pub type Verdict = Result<Granted, CommandError>;

/// A session granted by a login.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Granted {
    /// The user.
    pub user_id: Uuid,
    /// The org the session acts in.
    pub org_id: Uuid,
    /// The session.
    pub session_id: Uuid,
    /// When it ends (micros).
    pub expires_at: i64,
}

/// Logs in with a username and password.
pub async fn login(
    app: &App,
    request: LoginRequest,
    origin: &Origin,
) -> Result<LoginOutcome, CommandError> {
    let username = check_login_request(&request)?;
    let fingerprint = app.username_fingerprint(&username)?;
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
        let refusal = app
            .decide(|views, _| decide_busy(views, &username, fingerprint, now, origin))
            .await?;
        return Err(refusal);
    };

    // Verify outside any lock (argon2id is slow); the decision reads the
    // views again, so a deactivation in between still wins.
    let (candidate, phc) = stored_hash(app, &username)?;
    let matched = app.passwords().verify(&request.password, phc).await?;
    let attempt = Attempt {
        fingerprint,
        candidate,
        matched,
        org: request.org,
        started_at: now,
        decided_at: app.now(),
        ttl_micros: i64::try_from(app.settings().session_ttl_secs).unwrap_or(3600) * 1_000_000,
    };
    let verdict = app
        .decide(|views, ids| decide_login(views, ids, &attempt, origin))
        .await?;
    // The outcome is in the views (a failure counted, or the count reset):
    // the slot may go.
    drop(slot);
    outcome(app, verdict?, now)
}

/// The user `username` names and their password hash (PHC string), read
/// before the verification; none for a name that matches nobody.
fn stored_hash(app: &App, username: &str) -> Result<(Option<Uuid>, Option<String>), CommandError> {
    let candidate = app
        .views()
        .users
        .by_name(username)
        .map(|user| (user.id, user.credential.clone()));
    let Some((user_id, sealed)) = candidate else {
        return Ok((None, None));
    };
    let phc = app
        .log()
        .reader()
        .open_sealed(&sealed)?
        .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok());
    Ok((Some(user_id), phc))
}

/// What a granted login hands the edge: the claims to sign and the user.
fn outcome(app: &App, granted: Granted, now: i64) -> Result<LoginOutcome, CommandError> {
    let issued = u64::try_from(now / 1_000_000).unwrap_or(0);
    let expires = u64::try_from(granted.expires_at / 1_000_000).unwrap_or(0);
    let claims = Claims {
        sub: granted.user_id,
        sid: granted.session_id,
        org: granted.org_id,
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        exp: expires,
        iat: issued,
        nbf: issued,
    };
    let views = app.views();
    let user = views
        .users
        .get(&granted.user_id)
        .ok_or(CommandError::InvalidCredentials)?;
    Ok(LoginOutcome {
        claims,
        expires_in: expires.saturating_sub(issued),
        user: user_body(&views, user, Some(granted.org_id)),
        password_change_required: user.password_change_required,
    })
}

/// The refusal of an attempt that found no room to verify (the name is
/// locked, or its room is taken by attempts in flight), recorded as a
/// locked failure. The reply is the refusal to return: when the name is
/// not locked yet, try again in a second, when those attempts will have
/// been decided.
pub fn decide_busy(
    views: &Views,
    username: &str,
    fingerprint: [u8; 32],
    now: i64,
    origin: &Origin,
) -> Result<Decided<CommandError>, CommandError> {
    let user = views.users.by_name(username).map(|user| (user.id, None));
    let until = views.login_failures.locked_until(&fingerprint, now);
    let event = failure_event(now, fingerprint, user, LoginFailure::Locked, origin);
    let refusal = CommandError::Locked {
        retry_after_secs: retry_after(until, now),
    };
    Ok(Decided::new(vec![event], refusal))
}

/// Decides a verified login attempt: a name locked while it was verified
/// is refused whatever the hash said; then an unknown user, a wrong
/// password, an inactive account and an org the user is not in all get
/// the same answer (401), the event alone saying which. A granted session
/// is recorded as `auth.login_succeeded`.
pub fn decide_login(
    views: &Views,
    ids: &IdSource,
    attempt: &Attempt,
    origin: &Origin,
) -> Result<Decided<Verdict>, CommandError> {
    let refuse = |who: Option<(Uuid, Option<Uuid>)>, reason: LoginFailure, refusal| {
        let event = failure_event(attempt.started_at, attempt.fingerprint, who, reason, origin);
        Ok(Decided::new(vec![event], Err(refusal)))
    };
    if let Some(until) = views
        .login_failures
        .locked_until(&attempt.fingerprint, attempt.decided_at)
    {
        let refusal = CommandError::Locked {
            retry_after_secs: retry_after(Some(until), attempt.decided_at),
        };
        let who = attempt.candidate.map(|id| (id, None));
        return refuse(who, LoginFailure::Locked, refusal);
    }
    let first_org = |user: &Uuid| views.orgs.memberships_of(user).map(|(org, _)| *org).next();
    let user = attempt.candidate.and_then(|id| views.users.get(&id));
    let Some(user) = user.filter(|_| attempt.matched) else {
        let reason = match attempt.candidate {
            Some(_) => LoginFailure::WrongPassword,
            None => LoginFailure::UnknownUser,
        };
        let who = attempt.candidate.map(|id| (id, first_org(&id)));
        return refuse(who, reason, CommandError::InvalidCredentials);
    };
    let who = Some((user.id, first_org(&user.id)));
    if !user.is_active {
        return refuse(
            who,
            LoginFailure::Inactive,
            CommandError::InvalidCredentials,
        );
    }
    let org = match attempt.org {
        Some(org) if views.orgs.role_of(&user.id, &org).is_some() => Some(org),
        Some(org) if user.is_superuser && views.orgs.get(&org).is_some() => Some(org),
        Some(_) => None,
        None => first_org(&user.id),
    };
    let Some(org) = org else {
        return refuse(
            who,
            LoginFailure::NoMembership,
            CommandError::InvalidCredentials,
        );
    };
    let granted = Granted {
        user_id: user.id,
        org_id: org,
        session_id: ids.new_id(),
        expires_at: attempt.started_at + attempt.ttl_micros,
    };
    let event = session_event(&user.username, &granted, attempt.fingerprint, origin);
    Ok(Decided::new(vec![event], Ok(granted)))
}

/// `auth.login_succeeded`: the session granted to `username`, the name
/// sealed as the user's personal data with the origin.
fn session_event(
    username: &str,
    granted: &Granted,
    fingerprint: [u8; 32],
    origin: &Origin,
) -> NewEvent {
    let mut personal = origin.personal();
    personal.name = Some(username.to_string());
    with_request(
        NewEvent::new(
            Action::AuthLoginSucceeded,
            ActorRef {
                kind: ActorKind::User,
                id: Some(granted.user_id),
            },
            ResourceRef {
                kind: ResourceKind::Session,
                id: Some(granted.session_id),
            },
            Outcome::Success,
        )
        .in_org(granted.org_id)
        .with_personal(granted.user_id, personal)
        .with_payload(EventPayload::LoginSucceeded(LoginSucceeded {
            user_id: granted.user_id,
            org_id: granted.org_id,
            session_id: granted.session_id,
            expires_at: granted.expires_at,
            username_fingerprint: fingerprint,
        })),
        origin,
    )
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
    app.decide(|_, _| decide_logout(principal, origin)).await
}

/// The `auth.logout` event of the caller's session; an API key has none.
pub fn decide_logout(principal: &Principal, origin: &Origin) -> Result<Decided<()>, CommandError> {
    let Credential::Session(session_id) = principal.credential else {
        return Err(CommandError::BadRequest(
            "an API key has no session to log out of; revoke the key instead".into(),
        ));
    };
    let event = with_request(
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
    );
    Ok(Decided::new(vec![event], ()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::identity_facts::cast::*;
    use crate::testing::{Given, id};
    use cairn_projections::identity::LOCKOUT_MICROS;
    use cairn_schemas::Password;

    const TTL: i64 = 3600 * 1_000_000;

    fn origin() -> Origin {
        Origin::local("t")
    }

    fn fingerprint(n: u8) -> [u8; 32] {
        [n; 32]
    }

    fn attempt(given: &Given, user: Option<u128>, matched: bool, org: Option<u128>) -> Attempt {
        Attempt {
            fingerprint: fingerprint(user.map(|user| user as u8).unwrap_or(0xff)),
            candidate: user.map(id),
            matched,
            org: org.map(id),
            started_at: given.now(),
            decided_at: given.now(),
            ttl_micros: TTL,
        }
    }

    fn decide(given: &Given, attempt: &Attempt) -> Decided<Verdict> {
        given
            .when(|views, ids| decide_login(views, ids, attempt, &origin()))
            .decided()
    }

    /// The failure the event records, and the refusal returned.
    fn failed(decided: Decided<Verdict>) -> (LoginFailure, Outcome, Option<Uuid>, CommandError) {
        let event = &decided.events[0];
        let Some(EventPayload::LoginFailed(failed)) = &event.payload else {
            panic!("not a failure: {event:?}");
        };
        let refusal = decided.reply.expect_err("refused");
        (failed.reason, event.outcome, event.org, refusal)
    }

    #[test]
    fn given_the_right_password_when_logging_in_without_an_org_then_a_session_in_the_first_org() {
        let given = given();
        let decided = decide(&given, &attempt(&given, Some(MIA), true, None));
        let granted = *decided.reply.as_ref().expect("granted");
        assert_eq!(
            (granted.user_id, granted.org_id, granted.expires_at),
            (id(MIA), id(ORG), given.now() + TTL)
        );
        let event = &decided.events[0];
        assert_eq!(event.action, Action::AuthLoginSucceeded);
        assert_eq!(event.org, Some(id(ORG)));
        assert_eq!(event.resource.id, Some(granted.session_id));
        assert_eq!(
            event.personal[0].1.name.as_deref(),
            Some("mia"),
            "the login names its user"
        );
    }

    #[test]
    fn given_a_user_in_two_orgs_when_asking_for_each_then_each_session_acts_there() {
        let given = given();
        for org in [ORG, OTHER] {
            let decided = decide(&given, &attempt(&given, Some(MIA), true, Some(org)));
            assert_eq!(decided.reply.expect("granted").org_id, id(org));
        }
    }

    #[test]
    fn given_an_org_the_user_is_not_in_when_logging_in_then_401_recorded_as_no_membership() {
        let given = given();
        for org in [THIRD, 0x999] {
            let (reason, outcome, org_recorded, refusal) =
                failed(decide(&given, &attempt(&given, Some(MIA), true, Some(org))));
            assert_eq!(
                (reason, outcome),
                (LoginFailure::NoMembership, Outcome::Denied)
            );
            assert_eq!(org_recorded, Some(id(ORG)));
            assert!(matches!(refusal, CommandError::InvalidCredentials));
        }
    }

    #[test]
    fn given_a_superuser_when_asking_for_any_existing_org_then_granted_and_an_unknown_one_refused()
    {
        let given = given();
        let decided = decide(&given, &attempt(&given, Some(ROOT), true, Some(THIRD)));
        assert_eq!(decided.reply.expect("granted").org_id, id(THIRD));
        let (reason, ..) = failed(decide(
            &given,
            &attempt(&given, Some(ROOT), true, Some(0x999)),
        ));
        assert_eq!(reason, LoginFailure::NoMembership);
    }

    #[test]
    fn given_each_failure_when_logging_in_then_the_answer_is_the_same_and_only_the_event_says_why()
    {
        let given = given();
        let cases = [
            (
                Some(ADA),
                false,
                LoginFailure::WrongPassword,
                Outcome::Failure,
                Some(id(ORG)),
            ),
            (
                None,
                false,
                LoginFailure::UnknownUser,
                Outcome::Failure,
                None,
            ),
            (
                None,
                true,
                LoginFailure::UnknownUser,
                Outcome::Failure,
                None,
            ),
            (
                Some(DAN),
                true,
                LoginFailure::Inactive,
                Outcome::Denied,
                Some(id(ORG)),
            ),
            (
                Some(DAN),
                false,
                LoginFailure::WrongPassword,
                Outcome::Failure,
                Some(id(ORG)),
            ),
        ];
        for (user, matched, reason, outcome, org) in cases {
            let decided = decide(&given, &attempt(&given, user, matched, None));
            let actor = decided.events[0].actor;
            let (recorded, recorded_outcome, recorded_org, refusal) = failed(decided);
            assert_eq!(
                (recorded, recorded_outcome, recorded_org),
                (reason, outcome, org)
            );
            assert_eq!(refusal.to_string(), "invalid username or password");
            match user {
                Some(user) => assert_eq!(actor.id, Some(id(user))),
                None => assert_eq!(actor.kind, ActorKind::Anonymous),
            }
        }
    }

    #[test]
    fn given_repeated_failures_when_the_right_password_comes_then_it_is_locked_until_the_lock_ends()
    {
        for user in [Some(ADA), None] {
            let mut given = given();
            let wrong = attempt(&given, user, false, None);
            for _ in 0..LOCKOUT_THRESHOLD {
                let verdict = given.after(|views, ids| decide_login(views, ids, &wrong, &origin()));
                assert!(verdict.is_err());
            }
            // Even the right password (or any for an unknown name) is refused
            let right = attempt(&given, user, true, None);
            let (reason, outcome, _, refusal) = failed(decide(&given, &right));
            assert_eq!((reason, outcome), (LoginFailure::Locked, Outcome::Denied));
            let CommandError::Locked { retry_after_secs } = refusal else {
                panic!("{refusal:?}");
            };
            assert_eq!(retry_after_secs, (LOCKOUT_MICROS / 1_000_000) as u64 + 1);
            // A busy refusal says the same while it lasts
            let busy = given
                .when(|views, _| {
                    decide_busy(views, "ada", right.fingerprint, given.now(), &origin())
                })
                .decided();
            assert!(
                matches!(busy.reply, CommandError::Locked { retry_after_secs: s } if s == retry_after_secs)
            );
            // Once the lock ends, the right password logs in
            let given = given.later(LOCKOUT_MICROS);
            let right = attempt(&given, user, true, None);
            let verdict = decide(&given, &right).reply;
            match user {
                Some(_) => assert!(verdict.is_ok(), "{verdict:?}"),
                None => assert!(matches!(verdict, Err(CommandError::InvalidCredentials))),
            }
        }
    }

    #[test]
    fn given_no_lock_when_the_room_is_busy_then_try_again_in_a_second_recorded_as_locked() {
        let given = given();
        let decided = given
            .when(|views, _| decide_busy(views, "ada", fingerprint(1), given.now(), &origin()))
            .decided();
        assert!(matches!(
            decided.reply,
            CommandError::Locked {
                retry_after_secs: 1
            }
        ));
        let Some(EventPayload::LoginFailed(failed)) = &decided.events[0].payload else {
            panic!("not a failure");
        };
        assert_eq!(
            (failed.reason, failed.user_id),
            (LoginFailure::Locked, Some(id(ADA)))
        );
        // A name that matches nobody is recorded without a user
        let decided = given
            .when(|views, _| decide_busy(views, "nobody", fingerprint(2), given.now(), &origin()))
            .decided();
        assert_eq!(decided.events[0].resource.id, None);
    }

    #[test]
    fn given_bad_fields_when_logging_in_then_422_names_each() {
        let request = |username: &str, password: String| LoginRequest {
            username: username.into(),
            password: Password::new(password),
            org: None,
        };
        assert_eq!(
            check_login_request(&request("ADA", "pw".into())).expect("valid"),
            "ada"
        );
        for (ask, field) in [
            (request("", "pw".into()), "username"),
            (request("a\u{202e}b", "pw".into()), "username"),
            (
                request("ada", "p".repeat(MAX_PASSWORD_CHARS + 1)),
                "password",
            ),
        ] {
            assert!(
                matches!(check_login_request(&ask), Err(CommandError::Invalid { field: named, .. }) if named == field),
                "{field}"
            );
        }
    }

    #[test]
    fn given_a_session_when_logging_out_then_it_ends_and_an_api_key_cannot() {
        let mut given = given();
        let granted = given
            .after(|views, ids| {
                decide_login(
                    views,
                    ids,
                    &attempt(&Given::new(), Some(ADA), true, None),
                    &origin(),
                )
            })
            .expect("granted");
        let session = Principal {
            user_id: id(ADA),
            org_id: id(ORG),
            role: cairn_schemas::OrgRole::Admin,
            is_superuser: false,
            credential: Credential::Session(granted.session_id),
        };
        assert!(
            given
                .views()
                .sessions
                .get(&granted.session_id)
                .is_some_and(|s| s.is_live(given.now()))
        );
        given.after(|_, _| decide_logout(&session, &origin()));
        assert!(
            !given
                .views()
                .sessions
                .get(&granted.session_id)
                .is_some_and(|s| s.is_live(given.now()))
        );
        let key = Principal {
            credential: Credential::ApiKey(id(0x4b)),
            ..session
        };
        assert!(matches!(
            decide_logout(&key, &origin()),
            Err(CommandError::BadRequest(_))
        ));
    }

    #[test]
    fn given_lock_ends_when_retry_after_is_computed_then_it_rounds_up_and_never_goes_below_one() {
        assert_eq!(retry_after(None, 10), 1);
        assert_eq!(retry_after(Some(10), 20), 1);
        assert_eq!(retry_after(Some(2_500_000), 0), 3);
    }
}
