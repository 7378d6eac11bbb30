//! Facts about users, orgs, groups, sessions and API keys, for the
//! given/when/then tests of those commands.

use cairn_core::log::NewEvent;
use cairn_schemas::{
    Action, ActorRef, ApiKeyCreated, EventPayload, LoginSucceeded, OrgRole, Outcome, PersonalData,
    ResourceKind, ResourceRef, Sealed, UserCreated, UserPasswordChanged, UserRef,
};
use uuid::Uuid;

fn by_system(
    action: Action,
    kind: ResourceKind,
    id: Uuid,
    org: Uuid,
    payload: EventPayload,
) -> NewEvent {
    NewEvent::new(
        action,
        ActorRef::SYSTEM,
        ResourceRef { kind, id: Some(id) },
        Outcome::Success,
    )
    .in_org(org)
    .with_payload(payload)
}

fn credential(user_id: Uuid) -> Sealed {
    Sealed {
        subject: user_id,
        nonce: [0; 24],
        ciphertext: Vec::new(),
    }
}

/// `user.created`: an active superuser named `name`, an admin of `org_id`.
pub fn superuser(user_id: Uuid, name: &str, org_id: Uuid) -> NewEvent {
    by_system(
        Action::UserCreated,
        ResourceKind::User,
        user_id,
        org_id,
        EventPayload::UserCreated(UserCreated {
            user_id,
            org_id,
            role: OrgRole::Admin,
            is_active: true,
            is_superuser: true,
            credential: credential(user_id),
        }),
    )
    .with_personal(
        user_id,
        PersonalData {
            name: Some(name.into()),
            ..PersonalData::default()
        },
    )
}

/// `user.deactivated`.
pub fn deactivated(user_id: Uuid, org_id: Uuid) -> NewEvent {
    by_system(
        Action::UserDeactivated,
        ResourceKind::User,
        user_id,
        org_id,
        EventPayload::UserDeactivated(UserRef { user_id }),
    )
}

/// `user.password_changed` by an admin's reset: the user must choose
/// their own before anything else.
pub fn password_reset(user_id: Uuid, org_id: Uuid) -> NewEvent {
    by_system(
        Action::UserPasswordChanged,
        ResourceKind::User,
        user_id,
        org_id,
        EventPayload::UserPasswordChanged(UserPasswordChanged {
            user_id,
            credential: credential(user_id),
            reset_by_admin: true,
        }),
    )
}

/// `auth.login_succeeded`: a session of `user_id` in `org_id` until
/// `expires_at`.
pub fn session(session_id: Uuid, user_id: Uuid, org_id: Uuid, expires_at: i64) -> NewEvent {
    by_system(
        Action::AuthLoginSucceeded,
        ResourceKind::Session,
        session_id,
        org_id,
        EventPayload::LoginSucceeded(LoginSucceeded {
            user_id,
            org_id,
            session_id,
            expires_at,
            username_fingerprint: [0; 32],
        }),
    )
}

/// `api_key.created`: a key of `user_id` in `org_id` whose SHA-256 is
/// `digest`.
pub fn api_key(key_id: Uuid, user_id: Uuid, org_id: Uuid, digest: [u8; 32]) -> NewEvent {
    by_system(
        Action::ApiKeyCreated,
        ResourceKind::ApiKey,
        key_id,
        org_id,
        EventPayload::ApiKeyCreated(ApiKeyCreated {
            key_id,
            user_id,
            org_id,
            name: "ci".into(),
            digest,
            prefix: "cairn_abcd".into(),
            expires_at: None,
        }),
    )
}
