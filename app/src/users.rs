//! User administration (admins in their org, superusers everywhere) and
//! changing one's own password. Every change is an event; a new or reset
//! password passes the policy and is stored only as an argon2id hash sealed
//! under the user's subject key.

use cairn_core::log::NewEvent;
use cairn_core::rules::{check_password, normalize_username};
use cairn_core::time_format::rfc3339_micros;
use cairn_projections::Views;
use cairn_projections::identity::UserRecord;
use cairn_schemas::api::{ChangePasswordRequest, CreateUserRequest, UpdateUserRequest, UserBody};
use cairn_schemas::{
    Action, EventPayload, OrgRole, Password, PersonalData, ResourceKind, ResourceRef, Sealed,
    UserCreated, UserPasswordChanged, UserRef, UserRoleChanged,
};
use uuid::Uuid;

use super::access::role_denied;
use super::api_keys::revoke_every_key_of;
use super::listing::paginate;
use super::principal::{Credential, Principal};
use super::{App, CommandError, Decided, Origin};

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

/// A new user's fields, checked (all but what depends on the state).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewUser {
    /// The normalized username.
    pub username: String,
    /// The email, checked.
    pub email: Option<String>,
    /// The role in the org.
    pub role: OrgRole,
    /// Whether the account starts active.
    pub is_active: bool,
    /// Whether it is a superuser.
    pub is_superuser: bool,
    /// The org asked for (the caller's when none).
    pub org_id: Option<Uuid>,
}

/// Checks a create request's fields, in order: the caller an admin, the
/// username, the email, the password's policy, the role, and a superuser
/// asking for a superuser. `new_user_is_active` is the default activation.
pub fn check_new_user(
    principal: &Principal,
    request: &CreateUserRequest,
    new_user_is_active: bool,
) -> Result<NewUser, CommandError> {
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
    Ok(NewUser {
        username: username.as_ref().to_string(),
        email: request.email.clone(),
        role,
        is_active: request.is_active.unwrap_or(new_user_is_active),
        is_superuser,
        org_id: request.org_id,
    })
}

/// What the state decides about a new user: the org it goes in (the
/// caller's unless a superuser names another) and a free username.
fn may_create(views: &Views, principal: &Principal, user: &NewUser) -> Result<Uuid, CommandError> {
    principal.require_admin()?;
    if user.is_superuser {
        principal.require_superuser()?;
    }
    let org = target_org(views, principal, user.org_id)?;
    if views.users.by_name(&user.username).is_some() {
        return Err(CommandError::Conflict("that username is taken".into()));
    }
    Ok(org)
}

/// `POST /api/v1/users`.
pub async fn create_user(
    app: &App,
    principal: &Principal,
    request: CreateUserRequest,
    origin: &Origin,
) -> Result<UserBody, CommandError> {
    let user = check_new_user(principal, &request, app.settings().new_user_is_active)?;
    // Refused before the costly hash when the state already says no.
    may_create(&app.views(), principal, &user)?;
    let phc = app
        .passwords()
        .hash(&request.password, app.entropy_arc())
        .await?;
    // The id comes first: the hash is sealed under the user's own key.
    let user_id = app.new_id();
    let credential = app.log().seal_for_subject(user_id, phc.as_bytes())?;
    let org = app
        .decide(|views, _| decide_create(views, principal, user_id, &user, credential, origin))
        .await?;
    let views = app.views();
    let user = views
        .users
        .get(&user_id)
        .ok_or_else(|| CommandError::internal("the new user is not in the view"))?;
    Ok(user_body(&views, user, Some(org)))
}

/// Whether `principal` may create `user` as `user_id`, whose password hash
/// is `credential` (sealed under that id's key): decided again under the
/// lock, since a concurrent create may have taken the name. The
/// `user.created` event and the org it went in.
pub fn decide_create(
    views: &Views,
    principal: &Principal,
    user_id: Uuid,
    user: &NewUser,
    credential: Sealed,
    origin: &Origin,
) -> Result<Decided<Uuid>, CommandError> {
    let org = may_create(views, principal, user)?;
    let event = user_event(
        principal,
        Action::UserCreated,
        user_id,
        org,
        origin,
        EventPayload::UserCreated(UserCreated {
            user_id,
            org_id: org,
            role: user.role,
            is_active: user.is_active,
            is_superuser: user.is_superuser,
            credential,
        }),
    )
    .with_personal(
        user_id,
        PersonalData {
            name: Some(user.username.clone()),
            email: user.email.clone(),
            ..PersonalData::default()
        },
    );
    Ok(Decided::new(vec![event], org))
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
    let (page, next) = paginate(ids.into_iter().map(|id| (id, id)), after, limit);
    let items = page
        .iter()
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

/// A change to a user, its password already hashed and sealed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserChange {
    /// Activate or deactivate.
    pub is_active: Option<bool>,
    /// A new role in the caller's org.
    pub role: Option<OrgRole>,
    /// A new password's hash, sealed under the user's key.
    pub credential: Option<Sealed>,
}

/// The rules of `PATCH /api/v1/users/{id}` that do not need the new
/// password: an admin, a user they may see and change (a superuser only by
/// a superuser; account-wide changes by an admin of every org of the
/// user), something to change, and not deactivating oneself. The user.
fn may_update<'v>(
    views: &'v Views,
    principal: &Principal,
    id: Uuid,
    is_active: Option<bool>,
    role: bool,
    password: bool,
) -> Result<&'v UserRecord, CommandError> {
    principal.require_admin()?;
    let user = visible(views, principal, id).ok_or(CommandError::NotFound)?;
    principal.require_may_change(views, id)?;
    if is_active.is_some() || password {
        require_account_change(views, principal, id)?;
    }
    if is_active.is_none() && !role && !password {
        return Err(CommandError::BadRequest(
            "nothing to change: give is_active, role or password".into(),
        ));
    }
    if id == principal.user_id && is_active == Some(false) {
        return Err(CommandError::Conflict(
            "you cannot deactivate your own account".into(),
        ));
    }
    Ok(user)
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
    let (username, email) = {
        let views = app.views();
        let user = may_update(
            &views,
            principal,
            id,
            request.is_active,
            request.role.is_some(),
            request.password.is_some(),
        )?;
        (user.username.clone(), user.email.clone())
    };
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
    let change = UserChange {
        is_active: request.is_active,
        role,
        credential,
    };
    app.decide(|views, _| decide_update(views, principal, id, &change, origin))
        .await?;
    let views = app.views();
    let user = views.users.get(&id).ok_or(CommandError::NotFound)?;
    Ok(user_body(&views, user, Some(principal.org_id)))
}

/// Whether `principal` may make `change` to user `id` (every rule again,
/// under the lock: the user may have joined an org since). The events: an
/// activation change when it changes something, a role change in the
/// caller's org, and a password reset with every API key of the user
/// revoked.
pub fn decide_update(
    views: &Views,
    principal: &Principal,
    id: Uuid,
    change: &UserChange,
    origin: &Origin,
) -> Result<Decided<()>, CommandError> {
    let user = may_update(
        views,
        principal,
        id,
        change.is_active,
        change.role.is_some(),
        change.credential.is_some(),
    )?;
    let org = principal.org_id;
    let event = |action, payload| user_event(principal, action, id, org, origin, payload);
    let mut events = Vec::new();
    match change.is_active {
        Some(true) if !user.is_active => events.push(event(
            Action::UserActivated,
            EventPayload::UserActivated(UserRef { user_id: id }),
        )),
        Some(false) if user.is_active => events.push(event(
            Action::UserDeactivated,
            EventPayload::UserDeactivated(UserRef { user_id: id }),
        )),
        _ => {}
    }
    if let Some(role) = change.role {
        let previous = views.orgs.role_of(&id, &org).ok_or_else(|| {
            CommandError::Conflict(
                "that user is not a member of your organization; add them first".into(),
            )
        })?;
        if previous != role {
            events.push(event(
                Action::UserRoleChanged,
                EventPayload::UserRoleChanged(UserRoleChanged {
                    user_id: id,
                    org_id: org,
                    previous,
                    role,
                }),
            ));
        }
    }
    if let Some(credential) = change.credential.clone() {
        // Someone else's new password is temporary: the user must change
        // it before anything else (the one who set it knows it).
        events.push(event(
            Action::UserPasswordChanged,
            EventPayload::UserPasswordChanged(UserPasswordChanged {
                user_id: id,
                credential,
                reset_by_admin: id != principal.user_id,
            }),
        ));
        events.extend(revoke_every_key_of(views, principal, id, origin));
    }
    Ok(Decided::new(events, ()))
}

/// `DELETE /api/v1/users/{id}`.
pub async fn delete_user(
    app: &App,
    principal: &Principal,
    id: Uuid,
    origin: &Origin,
) -> Result<(), CommandError> {
    app.decide(|views, _| decide_delete(views, principal, id, origin))
        .await
}

/// Whether `principal` may delete user `id`: an admin, not themselves, a
/// user they may see and change.
pub fn decide_delete(
    views: &Views,
    principal: &Principal,
    id: Uuid,
    origin: &Origin,
) -> Result<Decided<()>, CommandError> {
    principal.require_admin()?;
    if id == principal.user_id {
        return Err(CommandError::Conflict(
            "you cannot delete your own account".into(),
        ));
    }
    if visible(views, principal, id).is_none() {
        return Err(CommandError::NotFound);
    }
    principal.require_may_change(views, id)?;
    require_account_change(views, principal, id)?;
    let event = user_event(
        principal,
        Action::UserDeleted,
        id,
        principal.org_id,
        origin,
        EventPayload::UserDeleted(UserRef { user_id: id }),
    );
    Ok(Decided::new(vec![event], ()))
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
    app.decide(|views, _| decide_erase(views, principal, id, origin))
        .await?;
    erase_subjects(app, vec![id]).await
}

/// Whether `principal` may erase user `id`'s personal data: a superuser,
/// a user already deleted and not yet erased.
pub fn decide_erase(
    views: &Views,
    principal: &Principal,
    id: Uuid,
    origin: &Origin,
) -> Result<Decided<()>, CommandError> {
    principal.require_superuser()?;
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
        Some(false) => Ok(Decided::new(
            vec![user_event(
                principal,
                Action::UserErased,
                id,
                principal.org_id,
                origin,
                EventPayload::UserErased(UserRef { user_id: id }),
            )],
            (),
        )),
    }
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

/// An API key cannot change its owner's password.
fn refuse_api_key(principal: &Principal) -> Result<(), CommandError> {
    if matches!(principal.credential, Credential::ApiKey(_)) {
        return Err(CommandError::Forbidden(
            "an API key cannot change its owner's password".into(),
        ));
    }
    Ok(())
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
    refuse_api_key(principal)?;
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
    app.decide(|views, _| decide_own_password(views, principal, credential, origin))
        .await
}

/// The caller's own new password (checked against the current one and the
/// policy, hashed and sealed before): `user.password_changed`, not a
/// reset, and every API key of theirs revoked.
pub fn decide_own_password(
    views: &Views,
    principal: &Principal,
    credential: Sealed,
    origin: &Origin,
) -> Result<Decided<()>, CommandError> {
    refuse_api_key(principal)?;
    let id = principal.user_id;
    if views.users.get(&id).is_none() {
        return Err(CommandError::Unauthenticated);
    }
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
    Ok(Decided::new(events, ()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::identity_facts::cast::*;
    use crate::testing::identity_facts::{api_key, superuser};
    use crate::testing::{Given, id, payload_of};

    fn origin() -> Origin {
        Origin::local("t")
    }

    fn as_user(given: &Given, user: u128, org: u128) -> Principal {
        crate::testing::principal(given.views(), id(user), id(org))
    }

    fn root(org: u128) -> Principal {
        Principal {
            user_id: id(ROOT),
            org_id: id(org),
            role: OrgRole::Admin,
            is_superuser: true,
            credential: Credential::Session(id(0x5e56)),
        }
    }

    fn sealed(user: Uuid) -> Sealed {
        Sealed {
            subject: user,
            nonce: [9; 24],
            ciphertext: vec![1, 2, 3],
        }
    }

    fn kind_of(error: &CommandError) -> String {
        crate::testing::catalog_facts::cast::kind_of(error)
    }

    fn new_user(username: &str) -> CreateUserRequest {
        CreateUserRequest {
            username: username.into(),
            password: Password::new("correct horse battery staple"),
            email: Some("frank@example.com".into()),
            role: Some("flow_editor".into()),
            is_active: None,
            is_superuser: None,
            org_id: None,
        }
    }

    fn create(
        given: &Given,
        principal: &Principal,
        request: &CreateUserRequest,
    ) -> crate::testing::Then<Uuid> {
        given.when(|views, _| {
            let user = check_new_user(principal, request, false)?;
            decide_create(
                views,
                principal,
                id(0x77),
                &user,
                sealed(id(0x77)),
                &origin(),
            )
        })
    }

    #[test]
    fn given_an_admin_when_creating_a_user_then_it_is_in_their_org_with_the_role_asked() {
        let given = given();
        let ada = as_user(&given, ADA, ORG);
        let decided = create(&given, &ada, &new_user("Frank")).decided();
        assert_eq!(decided.reply, id(ORG));
        assert_eq!(
            payload_of(&decided, Action::UserCreated),
            &EventPayload::UserCreated(UserCreated {
                user_id: id(0x77),
                org_id: id(ORG),
                role: OrgRole::FlowEditor,
                is_active: false,
                is_superuser: false,
                credential: sealed(id(0x77)),
            })
        );
        let personal = &decided.events[0].personal;
        let data = &personal
            .iter()
            .find(|(subject, _)| *subject == id(0x77))
            .expect("named")
            .1;
        assert_eq!(data.name.as_deref(), Some("frank"));
        assert_eq!(data.email.as_deref(), Some("frank@example.com"));
    }

    #[test]
    fn given_each_bad_field_when_creating_a_user_then_422_names_it() {
        let given = given();
        let ada = as_user(&given, ADA, ORG);
        let mut bad_email = new_user("frank");
        bad_email.email = Some("not an email".into());
        let mut weak = new_user("frank");
        weak.password = Password::new("frank123");
        let mut bad_role = new_user("frank");
        bad_role.role = Some("owner".into());
        for (request, field) in [
            (new_user(""), "username"),
            (new_user("fr\u{200b}ank"), "username"),
            (bad_email, "email"),
            (weak, "password"),
            (bad_role, "role"),
        ] {
            assert_eq!(
                kind_of(&create(&given, &ada, &request).refused()),
                format!("422 {field}")
            );
        }
    }

    #[test]
    fn given_each_refusal_when_creating_a_user_then_it_is_named() {
        let given = given();
        let ada = as_user(&given, ADA, ORG);
        let edna = as_user(&given, EDNA, ORG);
        let mia = as_user(&given, MIA, ORG);
        // Not an admin where they act (Mia is admin elsewhere)
        for caller in [&edna, &mia] {
            assert_eq!(
                kind_of(&create(&given, caller, &new_user("frank")).refused()),
                "403"
            );
        }
        // Taken, whatever the case
        for name in ["ada", "ADA", "Ada"] {
            assert_eq!(
                kind_of(&create(&given, &ada, &new_user(name)).refused()),
                "409",
                "{name}"
            );
        }
        // A superuser only by a superuser
        let mut superuser_request = new_user("frank");
        superuser_request.is_superuser = Some(true);
        assert_eq!(
            kind_of(&create(&given, &ada, &superuser_request).refused()),
            "403"
        );
        assert!(
            create(&given, &root(ORG), &superuser_request)
                .decided()
                .events
                .len()
                == 1
        );
        // Another org only by a superuser, and only one that exists
        let mut elsewhere = new_user("frank");
        elsewhere.org_id = Some(id(OTHER));
        assert_eq!(kind_of(&create(&given, &ada, &elsewhere).refused()), "403");
        assert_eq!(
            create(&given, &root(ORG), &elsewhere).decided().reply,
            id(OTHER)
        );
        elsewhere.org_id = Some(id(0x999));
        assert_eq!(
            kind_of(&create(&given, &root(ORG), &elsewhere).refused()),
            "422 org_id"
        );
        // Naming one's own org is fine
        elsewhere.org_id = Some(id(ORG));
        assert_eq!(create(&given, &ada, &elsewhere).decided().reply, id(ORG));
    }

    fn update(
        given: &Given,
        principal: &Principal,
        user: u128,
        change: &UserChange,
    ) -> crate::testing::Then<()> {
        given.when(|views, _| decide_update(views, principal, id(user), change, &origin()))
    }

    fn change(is_active: Option<bool>, role: Option<OrgRole>, password: bool) -> UserChange {
        UserChange {
            is_active,
            role,
            credential: password.then(|| sealed(id(0x99))),
        }
    }

    #[test]
    fn given_an_admin_when_changing_a_member_then_only_what_changes_is_recorded() {
        let given = given();
        let ada = as_user(&given, ADA, ORG);
        for (user, request, actions) in [
            (
                EDNA,
                change(Some(false), None, false),
                vec![Action::UserDeactivated],
            ),
            (EDNA, change(Some(true), None, false), vec![]),
            (
                DAN,
                change(Some(true), None, false),
                vec![Action::UserActivated],
            ),
            (DAN, change(Some(false), None, false), vec![]),
            (
                EDNA,
                change(None, Some(OrgRole::Viewer), false),
                vec![Action::UserRoleChanged],
            ),
            (EDNA, change(None, Some(OrgRole::FlowEditor), false), vec![]),
            // Mia is in two orgs: her role here is Ada's to change
            (
                MIA,
                change(None, Some(OrgRole::FlowEditor), false),
                vec![Action::UserRoleChanged],
            ),
        ] {
            assert_eq!(
                update(&given, &ada, user, &request).actions(),
                actions,
                "{user} {request:?}"
            );
        }
    }

    #[test]
    fn given_a_password_reset_when_decided_then_it_is_temporary_and_every_key_of_the_user_goes() {
        let given = given().events([api_key(id(0x4b), id(EDNA), id(ORG), [4; 32])]);
        let ada = as_user(&given, ADA, ORG);
        let decided = update(&given, &ada, EDNA, &change(None, None, true)).decided();
        let actions: Vec<Action> = decided.events.iter().map(|event| event.action).collect();
        assert_eq!(
            actions,
            vec![Action::UserPasswordChanged, Action::ApiKeyRevoked]
        );
        let EventPayload::UserPasswordChanged(changed) =
            payload_of(&decided, Action::UserPasswordChanged)
        else {
            panic!("not a password change");
        };
        assert!(changed.reset_by_admin);
        // Her own, through the admin route, is not a reset
        let decided = update(&given, &ada, ADA, &change(None, None, true)).decided();
        let EventPayload::UserPasswordChanged(changed) =
            payload_of(&decided, Action::UserPasswordChanged)
        else {
            panic!("not a password change");
        };
        assert!(!changed.reset_by_admin);
    }

    #[test]
    fn given_each_refusal_when_changing_a_user_then_it_is_named() {
        let given = given();
        let ada = as_user(&given, ADA, ORG);
        let edna = as_user(&given, EDNA, ORG);
        let eve = as_user(&given, EVE, OTHER);
        for (caller, user, request, expected) in [
            // Not an admin
            (&edna, DAN, change(Some(true), None, false), "403"),
            // Another tenant's user: not found
            (&ada, EVE, change(Some(false), None, false), "NotFound"),
            (
                &eve,
                EDNA,
                change(None, Some(OrgRole::Viewer), false),
                "NotFound",
            ),
            (&ada, 0x999, change(Some(false), None, false), "NotFound"),
            // Nothing to change
            (&ada, EDNA, change(None, None, false), "BadRequest"),
            // Deactivating oneself
            (&ada, ADA, change(Some(false), None, false), "409"),
            // Account-wide changes to a member of an org Ada does not administer
            (&ada, MIA, change(Some(false), None, false), "403"),
            (&ada, MIA, change(None, None, true), "403"),
        ] {
            let refused = update(&given, caller, user, &request).refused();
            let kind = match &refused {
                CommandError::NotFound => "NotFound".to_string(),
                CommandError::BadRequest(_) => "BadRequest".to_string(),
                other => kind_of(other),
            };
            assert_eq!(kind, expected, "{user} {request:?}: {refused:?}");
        }
        // An org admin may not change a superuser who is in their org
        let given = given.events([superuser(id(0x0d), "boss", id(ORG))]);
        let ada = as_user(&given, ADA, ORG);
        assert_eq!(
            kind_of(&update(&given, &ada, 0x0d, &change(None, None, true)).refused()),
            "403"
        );
        // A superuser changing the role of someone not in the org they act in
        assert_eq!(
            kind_of(
                &update(
                    &given,
                    &root(ORG),
                    EVE,
                    &change(None, Some(OrgRole::Viewer), false)
                )
                .refused()
            ),
            "409"
        );
    }

    fn delete(given: &Given, principal: &Principal, user: u128) -> crate::testing::Then<()> {
        given.when(|views, _| decide_delete(views, principal, id(user), &origin()))
    }

    #[test]
    fn given_each_caller_when_deleting_a_user_then_only_an_admin_of_all_their_orgs_may() {
        let given = given().events([superuser(id(0x0d), "boss", id(ORG))]);
        let ada = as_user(&given, ADA, ORG);
        let edna = as_user(&given, EDNA, ORG);
        let eve = as_user(&given, EVE, OTHER);
        assert_eq!(
            delete(&given, &ada, EDNA).actions(),
            vec![Action::UserDeleted]
        );
        assert_eq!(
            delete(&given, &root(ORG), MIA).actions(),
            vec![Action::UserDeleted]
        );
        assert_eq!(kind_of(&delete(&given, &ada, ADA).refused()), "409");
        assert_eq!(kind_of(&delete(&given, &edna, DAN).refused()), "403");
        assert!(matches!(
            delete(&given, &eve, EDNA).refused(),
            CommandError::NotFound
        ));
        assert_eq!(kind_of(&delete(&given, &ada, MIA).refused()), "403");
        assert_eq!(kind_of(&delete(&given, &ada, 0x0d).refused()), "403");
    }

    #[test]
    fn given_a_deleted_user_when_a_superuser_erases_them_then_once_only() {
        let mut given = given();
        let ada = as_user(&given, ADA, ORG);
        let erase = |given: &Given, principal: &Principal, user: u128| {
            given.when(|views, _| decide_erase(views, principal, id(user), &origin()))
        };
        // Still there
        assert_eq!(kind_of(&erase(&given, &root(ORG), EDNA).refused()), "409");
        // Never there
        assert!(matches!(
            erase(&given, &root(ORG), 0x999).refused(),
            CommandError::NotFound
        ));
        given.after(|views, _| decide_delete(views, &ada, id(EDNA), &origin()));
        // Not a superuser
        assert_eq!(kind_of(&erase(&given, &ada, EDNA).refused()), "403");
        assert_eq!(
            erase(&given, &root(ORG), EDNA).actions(),
            vec![Action::UserErased]
        );
        given.after(|views, _| decide_erase(views, &root(ORG), id(EDNA), &origin()));
        assert_eq!(kind_of(&erase(&given, &root(ORG), EDNA).refused()), "409");
    }

    #[test]
    fn given_a_session_when_changing_ones_own_password_then_not_a_reset_and_keys_go_but_not_by_key()
    {
        let given = given().events([api_key(id(0x4b), id(EDNA), id(ORG), [4; 32])]);
        let edna = as_user(&given, EDNA, ORG);
        let decided = given
            .when(|views, _| decide_own_password(views, &edna, sealed(id(EDNA)), &origin()))
            .decided();
        let actions: Vec<Action> = decided.events.iter().map(|event| event.action).collect();
        assert_eq!(
            actions,
            vec![Action::UserPasswordChanged, Action::ApiKeyRevoked]
        );
        let EventPayload::UserPasswordChanged(changed) =
            payload_of(&decided, Action::UserPasswordChanged)
        else {
            panic!("not a password change");
        };
        assert!(!changed.reset_by_admin);
        let key = Principal {
            credential: Credential::ApiKey(id(0x4b)),
            ..edna.clone()
        };
        let refused = given
            .when(|views, _| decide_own_password(views, &key, sealed(id(EDNA)), &origin()))
            .refused();
        assert_eq!(kind_of(&refused), "403");
        let ghost = Principal {
            user_id: id(0x999),
            ..edna
        };
        assert!(matches!(
            given
                .when(|views, _| decide_own_password(views, &ghost, sealed(id(0x999)), &origin()))
                .refused(),
            CommandError::Unauthenticated
        ));
    }

    #[test]
    fn given_emails_when_checked_then_only_addresses_pass() {
        assert!(check_email("a@b.co").is_ok());
        let long = format!("{}@example.com", "a".repeat(MAX_EMAIL_CHARS));
        for email in ["", "a@b", "@b.co", "a b@c.co", "ab.co", long.as_str()] {
            assert!(check_email(email).is_err(), "{email}");
        }
    }

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

    /// The identity commands end to end through a real App: each wrapper
    /// hashes, seals and decides, and the reply follows the durable state.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn given_a_fresh_server_when_the_identity_commands_run_in_turn_then_each_reply_matches_the_state()
     {
        use crate::{api_keys, bootstrap, groups, login, orgs};
        use cairn_schemas::api::{
            AddGroupMemberRequest, AddMemberRequest, CreateApiKeyRequest, CreateGroupRequest,
            CreateOrgRequest, LoginRequest, UpdateGroupMemberRequest,
        };
        let dir = tempfile::tempdir().expect("a temp dir");
        let app = crate::testing::identity_facts::start_app(dir.path());
        let origin = Origin::local("t");
        let root_id = bootstrap::create_superuser(
            &app,
            "ursula",
            &Password::new("correct horse battery staple 1"),
            true,
            &origin,
        )
        .await
        .expect("bootstrapped")
        .expect("created");
        // A second bootstrap is a no-op
        let again = bootstrap::create_superuser(
            &app,
            "x",
            &Password::new("another long one 2"),
            true,
            &origin,
        )
        .await
        .expect("no-op");
        assert_eq!(again, None);
        let org0 = app
            .views()
            .orgs
            .memberships_of(&root_id)
            .next()
            .map(|(org, _)| *org)
            .expect("org");
        let root = Principal {
            user_id: root_id,
            org_id: org0,
            role: OrgRole::Admin,
            is_superuser: true,
            credential: Credential::Session(Uuid::from_u128(1)),
        };
        let acme = orgs::create_org(
            &app,
            &root,
            CreateOrgRequest {
                name: "Acme".into(),
            },
            &origin,
        )
        .await
        .expect("org");
        assert!(
            orgs::list_orgs(&app, &root)
                .iter()
                .any(|org| org.id == acme.id)
        );
        let mut request = CreateUserRequest {
            username: "Frank".into(),
            password: Password::new("purple monkey dishwasher 9"),
            email: Some("frank@example.com".into()),
            role: Some("admin".into()),
            is_active: Some(true),
            is_superuser: None,
            org_id: Some(acme.id),
        };
        let frank = create_user(&app, &root, request.clone(), &origin)
            .await
            .expect("user");
        assert_eq!(
            (frank.username.as_str(), frank.org_id),
            ("frank", Some(acme.id))
        );
        request.username = "FRANK".into();
        assert!(matches!(
            create_user(&app, &root, request, &origin).await,
            Err(CommandError::Conflict(_))
        ));
        // Frank logs in and acts as the admin of Acme
        let outcome = login::login(
            &app,
            LoginRequest {
                username: "frank".into(),
                password: Password::new("purple monkey dishwasher 9"),
                org: None,
            },
            &origin,
        )
        .await
        .expect("logged in");
        assert_eq!(
            (outcome.claims.sub, outcome.claims.org),
            (frank.id, acme.id)
        );
        let wrong = login::login(
            &app,
            LoginRequest {
                username: "frank".into(),
                password: Password::new("not the password at all"),
                org: None,
            },
            &origin,
        )
        .await;
        assert!(matches!(wrong, Err(CommandError::InvalidCredentials)));
        let frank_p = crate::principal::from_claims(&app, &outcome.claims).expect("live");
        assert_eq!(frank_p.role, OrgRole::Admin);
        // He mints a key, lists and revokes it
        let key = api_keys::create_api_key(
            &app,
            &frank_p,
            CreateApiKeyRequest {
                name: "ci".into(),
                expires_in_days: Some(1),
            },
            &origin,
        )
        .await
        .expect("key");
        let by_key = crate::principal::from_api_key(&app, &key.key).expect("live key");
        assert_eq!(by_key.user_id, frank.id);
        assert_eq!(api_keys::list_api_keys(&app, &frank_p).len(), 1);
        api_keys::revoke_api_key(&app, &frank_p, key.meta.id, &origin)
            .await
            .expect("revoked");
        assert!(crate::principal::from_api_key(&app, &key.key).is_err());
        // A colleague, a group, a member role
        let gina = create_user(
            &app,
            &frank_p,
            CreateUserRequest {
                username: "gina".into(),
                password: Password::new("seventeen quiet lanterns 4"),
                email: None,
                role: Some("flow_editor".into()),
                is_active: Some(true),
                is_superuser: None,
                org_id: None,
            },
            &origin,
        )
        .await
        .expect("gina");
        assert_eq!(
            list_users(&app, &frank_p, None, 10)
                .expect("listed")
                .0
                .len(),
            2
        );
        assert_eq!(get_user(&app, &frank_p, gina.id).expect("seen").id, gina.id);
        let group = groups::create_group(
            &app,
            &frank_p,
            CreateGroupRequest { name: "ops".into() },
            &origin,
        )
        .await
        .expect("group");
        groups::add_member(
            &app,
            &frank_p,
            group.id,
            AddGroupMemberRequest {
                user_id: gina.id,
                role: "member".into(),
            },
            &origin,
        )
        .await
        .expect("added");
        groups::change_member_role(
            &app,
            &frank_p,
            group.id,
            gina.id,
            UpdateGroupMemberRequest {
                role: "manager".into(),
            },
            &origin,
        )
        .await
        .expect("promoted");
        assert_eq!(
            groups::get_group(&app, &frank_p, group.id)
                .expect("seen")
                .members
                .len(),
            2
        );
        assert_eq!(groups::list_groups(&app, &frank_p, None, 10).0.len(), 1);
        groups::remove_member(&app, &frank_p, group.id, gina.id, &origin)
            .await
            .expect("removed");
        groups::delete_group(&app, &frank_p, group.id, &origin)
            .await
            .expect("deleted");
        // Gina joins the superuser's org too, then leaves it
        orgs::add_member(
            &app,
            &root,
            org0,
            AddMemberRequest {
                user_id: gina.id,
                role: "viewer".into(),
            },
            &origin,
        )
        .await
        .expect("joined");
        orgs::remove_member(&app, &root, org0, gina.id, &origin)
            .await
            .expect("left");
        // Frank resets her password, changes his own, deletes and erases her
        let reset = UpdateUserRequest {
            is_active: None,
            role: Some("viewer".into()),
            password: Some(Password::new("a temporary phrase of words 5")),
        };
        assert_eq!(
            update_user(&app, &frank_p, gina.id, reset, &origin)
                .await
                .expect("reset")
                .role
                .as_deref(),
            Some("viewer")
        );
        assert!(
            app.views()
                .users
                .get(&gina.id)
                .is_some_and(|user| user.password_change_required)
        );
        change_own_password(
            &app,
            &frank_p,
            ChangePasswordRequest {
                current_password: Password::new("purple monkey dishwasher 9"),
                new_password: Password::new("an entirely new passphrase 6"),
            },
            &origin,
        )
        .await
        .expect("changed");
        assert!(
            crate::principal::from_claims(&app, &outcome.claims).is_err(),
            "the session ended"
        );
        delete_user(&app, &frank_p, gina.id, &origin)
            .await
            .expect("deleted");
        erase_user(&app, &root, gina.id, &origin)
            .await
            .expect("erased");
        erase_recorded_subjects(&app)
            .await
            .expect("nothing left to erase");
        login::logout(&app, &root, &origin)
            .await
            .expect("logged out");
    }
}
