//! User administration (admins in their org, superusers everywhere) and
//! changing one's own password. Every change is an event; a new or reset
//! password passes the policy and is stored only as an argon2id hash sealed
//! under the user's subject key.

use cairn_audit::time_format::rfc3339_micros;
use cairn_core::log::NewEvent;
use cairn_core::rules::{check_password, normalize_username};
use cairn_projections::Views;
use cairn_projections::identity::UserRecord;
use cairn_schemas::api::{ChangePasswordRequest, CreateUserRequest, UpdateUserRequest, UserBody};
use cairn_schemas::{
    Action, EventPayload, OrgRole, Password, PersonalData, ResourceKind, ResourceRef, UserCreated,
    UserPasswordChanged, UserRef, UserRoleChanged,
};
use uuid::Uuid;

use super::access::role_denied;
use super::api_keys::revoke_every_key_of;
use super::principal::{Credential, Principal};
use super::{App, CommandError, Origin};

/// A user as the API shows it.
pub type UserSummary = UserBody;

/// The longest email kept.
const MAX_EMAIL_CHARS: usize = 254;

/// Renders a user within one org (their role there).
pub fn user_body(views: &Views, user: &UserRecord, org: Option<Uuid>) -> UserBody {
    let org = org.or_else(|| {
        views
            .orgs
            .memberships_of(&user.id)
            .map(|(org, _)| *org)
            .next()
    });
    let role = org.and_then(|org| views.orgs.role_of(&user.id, &org));
    UserBody {
        id: user.id,
        username: user.username.clone(),
        email: user.email.clone(),
        is_active: user.is_active,
        is_superuser: user.is_superuser,
        org_id: org,
        role: role.map(|role| role.as_str().to_string()),
        created_at: rfc3339_micros(user.created_at),
    }
}

/// Parses a role name for field `field`.
pub fn parse_role(field: &'static str, text: &str) -> Result<OrgRole, CommandError> {
    OrgRole::parse(text).ok_or_else(|| {
        let known: Vec<&str> = OrgRole::ALL.iter().map(|role| role.as_str()).collect();
        CommandError::invalid(
            field,
            format!("unknown role; expected one of {}", known.join(", ")),
        )
    })
}

fn check_email(email: &str) -> Result<(), CommandError> {
    let valid = email.chars().count() <= MAX_EMAIL_CHARS
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
    if valid {
        Ok(())
    } else {
        Err(CommandError::invalid("email", "is not an email address"))
    }
}

fn check_new_password(
    field: &'static str,
    password: &Password,
    context: &[&str],
) -> Result<(), CommandError> {
    check_password(password.expose(), context)
        .map_err(|error| CommandError::invalid(field, error.to_string()))
}

/// The event every command about a user shares: actor, org, origin.
fn user_event(
    principal: &Principal,
    action: Action,
    user_id: Uuid,
    org: Uuid,
    origin: &Origin,
    payload: EventPayload,
) -> NewEvent {
    principal.event(
        action,
        ResourceRef {
            kind: ResourceKind::User,
            id: Some(user_id),
        },
        org,
        origin,
        payload,
    )
}

/// The org a command about users acts in: the caller's, unless a superuser
/// names another. A client-supplied org id is never trusted otherwise.
fn target_org(
    views: &Views,
    principal: &Principal,
    requested: Option<Uuid>,
) -> Result<Uuid, CommandError> {
    match requested {
        None => Ok(principal.org_id),
        Some(org) if org == principal.org_id => Ok(org),
        Some(org) if principal.is_superuser => views
            .orgs
            .get(&org)
            .map(|_| org)
            .ok_or_else(|| CommandError::invalid("org_id", "no such organization")),
        Some(_) => Err(CommandError::Forbidden(
            "only a superuser may act in another organization".into(),
        )),
    }
}

/// `POST /api/v1/users`.
pub async fn create_user(
    app: &App,
    principal: &Principal,
    request: CreateUserRequest,
    origin: &Origin,
) -> Result<UserBody, CommandError> {
    principal.require_admin()?;
    let username = normalize_username(&request.username)
        .map_err(|error| CommandError::invalid("username", error.to_string()))?;
    if let Some(email) = &request.email {
        check_email(email)?;
    }
    let mut context = vec![username.as_ref()];
    context.extend(request.email.as_deref());
    check_new_password("password", &request.password, &context)?;
    let role = match &request.role {
        Some(role) => parse_role("role", role)?,
        None => OrgRole::None,
    };
    let is_superuser = request.is_superuser.unwrap_or(false);
    if is_superuser {
        principal.require_superuser()?;
    }
    let org = target_org(&app.views(), principal, request.org_id)?;
    if app.views().users.by_name(username.as_ref()).is_some() {
        return Err(CommandError::Conflict("that username is taken".into()));
    }
    let phc = app
        .passwords()
        .hash(&request.password, app.entropy_arc())
        .await?;
    let user_id = app.new_id();
    let credential = app.log().seal_for_subject(user_id, phc.as_bytes())?;
    let is_active = request
        .is_active
        .unwrap_or(app.settings().new_user_is_active);
    app.execute(|views| {
        // Decided again under the lock: a concurrent create may have won.
        if views.users.by_name(username.as_ref()).is_some() {
            return Err(CommandError::Conflict("that username is taken".into()));
        }
        Ok(vec![
            user_event(
                principal,
                Action::UserCreated,
                user_id,
                org,
                origin,
                EventPayload::UserCreated(UserCreated {
                    user_id,
                    org_id: org,
                    role,
                    is_active,
                    is_superuser,
                    credential,
                }),
            )
            .with_personal(
                user_id,
                PersonalData {
                    name: Some(username.to_string()),
                    email: request.email.clone(),
                    ..PersonalData::default()
                },
            ),
        ])
    })
    .await?;
    let views = app.views();
    let user = views
        .users
        .get(&user_id)
        .ok_or_else(|| CommandError::Internal("the new user is not in the view".into()))?;
    Ok(user_body(&views, user, Some(org)))
}

/// Whether `principal` may see user `id` (admins: members of their org).
fn visible<'v>(views: &'v Views, principal: &Principal, id: Uuid) -> Option<&'v UserRecord> {
    let user = views.users.get(&id)?;
    let allowed = principal.is_superuser
        || principal.user_id == id
        || (principal.is_admin_of(principal.org_id)
            && views.orgs.role_of(&id, &principal.org_id).is_some());
    allowed.then_some(user)
}

/// Whether a caller may make an account-wide change (password, activation,
/// deletion) to a user who belongs to `target_orgs`: a superuser may, and
/// an org admin only when they administer every one of those orgs. An
/// admin of one org must not take over what the account can do in
/// another; removing the member from their own org is always theirs
/// (`DELETE /api/v1/orgs/{id}/members/{user_id}`).
pub fn may_change_account(
    is_superuser: bool,
    target_orgs: &[Uuid],
    administers: impl Fn(&Uuid) -> bool,
) -> bool {
    is_superuser || target_orgs.iter().all(administers)
}

/// Refuses an account-wide change to `id` that [`may_change_account`]
/// does not allow (403, recorded as `authz.denied`). One's own account is
/// no exception: an admin of one org may not reset, deactivate or delete
/// their own account through the admin route while it is also a member of
/// another org (their own password changes through
/// `PUT /api/v1/users/me/password`, which asks for the current one).
fn require_account_change(
    views: &Views,
    principal: &Principal,
    id: Uuid,
) -> Result<(), CommandError> {
    let orgs: Vec<Uuid> = views
        .orgs
        .memberships_of(&id)
        .map(|(org, _)| *org)
        .collect();
    let administers =
        |org: &Uuid| views.orgs.role_of(&principal.user_id, org) == Some(OrgRole::Admin);
    if may_change_account(principal.is_superuser, &orgs, administers) {
        Ok(())
    } else {
        Err(role_denied(
            ResourceRef {
                kind: ResourceKind::User,
                id: Some(id),
            },
            "this user also belongs to an organization you do not administer: changing their \
             account (password, activation, deletion) requires an admin of every organization \
             they belong to, or a superuser; you may remove them from yours",
        ))
    }
}

/// `GET /api/v1/users`: the members of the caller's org (all users for a
/// superuser), by id, paginated.
pub fn list_users(
    app: &App,
    principal: &Principal,
    after: Option<Uuid>,
    limit: usize,
) -> Result<(Vec<UserBody>, Option<Uuid>), CommandError> {
    principal.require_admin()?;
    let views = app.views();
    let mut ids: Vec<Uuid> = if principal.is_superuser {
        views.users.all().map(|user| user.id).collect()
    } else {
        views.orgs.members_of(&principal.org_id).copied().collect()
    };
    ids.sort_unstable();
    let page: Vec<Uuid> = ids
        .into_iter()
        .filter(|id| after.is_none_or(|after| *id > after))
        .take(limit + 1)
        .collect();
    let next = (page.len() > limit).then(|| page[limit - 1]);
    let items = page
        .iter()
        .take(limit)
        .filter_map(|id| views.users.get(id))
        .map(|user| {
            let org = if views.orgs.role_of(&user.id, &principal.org_id).is_some() {
                Some(principal.org_id)
            } else {
                None
            };
            user_body(&views, user, org)
        })
        .collect();
    Ok((items, next))
}

/// `GET /api/v1/users/{id}`.
pub fn get_user(app: &App, principal: &Principal, id: Uuid) -> Result<UserBody, CommandError> {
    let views = app.views();
    let user = visible(&views, principal, id).ok_or(CommandError::NotFound)?;
    if principal.user_id != id {
        principal.require_admin()?;
    }
    let org = views
        .orgs
        .role_of(&id, &principal.org_id)
        .map(|_| principal.org_id);
    Ok(user_body(&views, user, org))
}

/// `PATCH /api/v1/users/{id}`: activate/deactivate, role, password reset.
/// Activation and password are account-wide: for a member of several orgs
/// they need an admin of every one ([`may_change_account`]). A password
/// set for someone else is temporary (they must change it at their next
/// login), and ends every session and API key of the user.
pub async fn update_user(
    app: &App,
    principal: &Principal,
    id: Uuid,
    request: UpdateUserRequest,
    origin: &Origin,
) -> Result<UserBody, CommandError> {
    principal.require_admin()?;
    let (username, email) = {
        let views = app.views();
        let user = visible(&views, principal, id).ok_or(CommandError::NotFound)?;
        (user.username.clone(), user.email.clone())
    };
    principal.require_may_change(&app.views(), id)?;
    let account_wide = request.is_active.is_some() || request.password.is_some();
    if account_wide {
        require_account_change(&app.views(), principal, id)?;
    }
    if request.is_active.is_none() && request.role.is_none() && request.password.is_none() {
        return Err(CommandError::BadRequest(
            "nothing to change: give is_active, role or password".into(),
        ));
    }
    if id == principal.user_id && request.is_active == Some(false) {
        return Err(CommandError::Conflict(
            "you cannot deactivate your own account".into(),
        ));
    }
    let role = request
        .role
        .as_deref()
        .map(|role| parse_role("role", role))
        .transpose()?;
    let credential = match &request.password {
        Some(password) => {
            let mut context = vec![username.as_str()];
            context.extend(email.as_deref());
            check_new_password("password", password, &context)?;
            let phc = app.passwords().hash(password, app.entropy_arc()).await?;
            Some(app.log().seal_for_subject(id, phc.as_bytes())?)
        }
        None => None,
    };
    let org = principal.org_id;
    // Someone else's new password is temporary: the user must change it
    // before anything else (the one who set it knows it).
    let reset_by_admin = id != principal.user_id;
    app.execute(|views| {
        let user = views.users.get(&id).ok_or(CommandError::NotFound)?;
        // Decided again under the lock: the user may have joined an org
        // since.
        if account_wide {
            require_account_change(views, principal, id)?;
        }
        let mut events = Vec::new();
        match request.is_active {
            Some(true) if !user.is_active => events.push(user_event(
                principal,
                Action::UserActivated,
                id,
                org,
                origin,
                EventPayload::UserActivated(UserRef { user_id: id }),
            )),
            Some(false) if user.is_active => events.push(user_event(
                principal,
                Action::UserDeactivated,
                id,
                org,
                origin,
                EventPayload::UserDeactivated(UserRef { user_id: id }),
            )),
            _ => {}
        }
        if let Some(role) = role {
            let previous = views.orgs.role_of(&id, &org).ok_or_else(|| {
                CommandError::Conflict(
                    "that user is not a member of your organization; add them first".into(),
                )
            })?;
            if previous != role {
                events.push(user_event(
                    principal,
                    Action::UserRoleChanged,
                    id,
                    org,
                    origin,
                    EventPayload::UserRoleChanged(UserRoleChanged {
                        user_id: id,
                        org_id: org,
                        previous,
                        role,
                    }),
                ));
            }
        }
        if let Some(credential) = credential.clone() {
            events.push(user_event(
                principal,
                Action::UserPasswordChanged,
                id,
                org,
                origin,
                EventPayload::UserPasswordChanged(UserPasswordChanged {
                    user_id: id,
                    credential,
                    reset_by_admin,
                }),
            ));
            events.extend(revoke_every_key_of(views, principal, id, origin));
        }
        Ok::<_, CommandError>(events)
    })
    .await?;
    let views = app.views();
    let user = views.users.get(&id).ok_or(CommandError::NotFound)?;
    Ok(user_body(&views, user, Some(org)))
}

/// `DELETE /api/v1/users/{id}`.
pub async fn delete_user(
    app: &App,
    principal: &Principal,
    id: Uuid,
    origin: &Origin,
) -> Result<(), CommandError> {
    principal.require_admin()?;
    if id == principal.user_id {
        return Err(CommandError::Conflict(
            "you cannot delete your own account".into(),
        ));
    }
    if visible(&app.views(), principal, id).is_none() {
        return Err(CommandError::NotFound);
    }
    principal.require_may_change(&app.views(), id)?;
    require_account_change(&app.views(), principal, id)?;
    app.execute(|views| {
        if views.users.get(&id).is_none() {
            return Err(CommandError::NotFound);
        }
        require_account_change(views, principal, id)?;
        Ok(vec![user_event(
            principal,
            Action::UserDeleted,
            id,
            principal.org_id,
            origin,
            EventPayload::UserDeleted(UserRef { user_id: id }),
        )])
    })
    .await?;
    Ok(())
}

/// `POST /api/v1/users/{id}/erase` (superusers, after the user was
/// deleted): `user.erased` is recorded (durable), then the user's subject
/// key is deleted, so their personal data reads as erased in every record,
/// dump, query and export while the chain still verifies. A key left by a
/// crash between the two is deleted at the next start
/// ([`erase_recorded_subjects`]).
pub async fn erase_user(
    app: &App,
    principal: &Principal,
    id: Uuid,
    origin: &Origin,
) -> Result<(), CommandError> {
    principal.require_superuser()?;
    app.execute(|views| {
        if views.users.get(&id).is_some() {
            return Err(CommandError::Conflict(
                "the user still exists: delete the user before erasing their personal data".into(),
            ));
        }
        match views.users.deleted(&id) {
            None => Err(CommandError::NotFound),
            Some(true) => Err(CommandError::Conflict(
                "the user's personal data is already erased".into(),
            )),
            Some(false) => Ok(vec![user_event(
                principal,
                Action::UserErased,
                id,
                principal.org_id,
                origin,
                EventPayload::UserErased(UserRef { user_id: id }),
            )]),
        }
    })
    .await?;
    erase_subjects(app, vec![id]).await
}

/// Deletes the subject keys of users whose erasure the log recorded
/// (at start-up: a crash may have come between the event and the key).
pub async fn erase_recorded_subjects(app: &App) -> Result<(), CommandError> {
    let erased: Vec<Uuid> = app.views().users.erased().copied().collect();
    erase_subjects(app, erased).await
}

async fn erase_subjects(app: &App, subjects: Vec<Uuid>) -> Result<(), CommandError> {
    if subjects.is_empty() {
        return Ok(());
    }
    let log = app.log_handle();
    tokio::task::spawn_blocking(move || {
        subjects
            .into_iter()
            .try_for_each(|subject| log.erase_subject(subject).map(|_| ()))
    })
    .await
    .map_err(CommandError::internal)?
    .map_err(CommandError::internal)
}

/// `PUT /api/v1/users/me/password`: needs the current password; ends every
/// session of the user, this one included, and revokes every API key of
/// theirs (`api_key.revoked` each). It clears a temporary password (an
/// admin's reset).
pub async fn change_own_password(
    app: &App,
    principal: &Principal,
    request: ChangePasswordRequest,
    origin: &Origin,
) -> Result<(), CommandError> {
    if matches!(principal.credential, Credential::ApiKey(_)) {
        return Err(CommandError::Forbidden(
            "an API key cannot change its owner's password".into(),
        ));
    }
    let (username, email, sealed) = {
        let views = app.views();
        let user = views
            .users
            .get(&principal.user_id)
            .ok_or(CommandError::Unauthenticated)?;
        (
            user.username.clone(),
            user.email.clone(),
            user.credential.clone(),
        )
    };
    let phc = app
        .log()
        .reader()
        .open_sealed(&sealed)?
        .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok());
    if !app
        .passwords()
        .verify(&request.current_password, phc)
        .await?
    {
        return Err(CommandError::invalid("current_password", "does not match"));
    }
    let mut context = vec![username.as_str()];
    context.extend(email.as_deref());
    check_new_password("new_password", &request.new_password, &context)?;
    let phc = app
        .passwords()
        .hash(&request.new_password, app.entropy_arc())
        .await?;
    let credential = app
        .log()
        .seal_for_subject(principal.user_id, phc.as_bytes())?;
    let id = principal.user_id;
    app.execute(|views| {
        let mut events = vec![user_event(
            principal,
            Action::UserPasswordChanged,
            id,
            principal.org_id,
            origin,
            EventPayload::UserPasswordChanged(UserPasswordChanged {
                user_id: id,
                credential,
                reset_by_admin: false,
            }),
        )];
        events.extend(revoke_every_key_of(views, principal, id, origin));
        Ok::<_, CommandError>(events)
    })
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORG_A: Uuid = Uuid::from_u128(1);
    const ORG_B: Uuid = Uuid::from_u128(2);

    #[test]
    fn an_admin_of_one_org_cannot_change_an_account_that_also_belongs_to_another() {
        // Given dave belongs to A and B, and alice administers A only
        let dave_orgs = [ORG_A, ORG_B];
        let alice_administers = |org: &Uuid| *org == ORG_A;
        // Then alice may not change dave's account
        assert!(!may_change_account(false, &dave_orgs, alice_administers));
        // But an admin of both, or a superuser, may
        assert!(may_change_account(false, &dave_orgs, |_| true));
        assert!(may_change_account(true, &dave_orgs, alice_administers));
    }

    #[test]
    fn an_admin_may_change_an_account_that_belongs_only_to_their_org() {
        // Given erin belongs to A alone
        // Then an admin of A may change her account, an admin of B not
        assert!(may_change_account(false, &[ORG_A], |org| *org == ORG_A));
        assert!(!may_change_account(false, &[ORG_A], |org| *org == ORG_B));
    }
}
