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

/// `org.member_removed`.
pub fn member_removed(org_id: Uuid, user_id: Uuid) -> NewEvent {
    by_system(
        Action::OrgMemberRemoved,
        ResourceKind::Org,
        org_id,
        org_id,
        EventPayload::OrgMemberRemoved(cairn_schemas::OrgMemberRemoved { org_id, user_id }),
    )
}

/// `api_key.revoked`.
pub fn api_key_revoked(key_id: Uuid, org_id: Uuid) -> NewEvent {
    by_system(
        Action::ApiKeyRevoked,
        ResourceKind::ApiKey,
        key_id,
        org_id,
        EventPayload::ApiKeyRevoked(cairn_schemas::ApiKeyRevoked { key_id }),
    )
}

/// The cast of the identity tests: two orgs, an admin, a user in both
/// orgs with different roles, a deactivated user and a superuser.
pub mod cast {
    use cairn_schemas::OrgRole;

    use crate::testing::{Given, facts, id};

    /// Acme.
    pub const ORG: u128 = 0x0a;
    /// Another tenant.
    pub const OTHER: u128 = 0x0b;
    /// A third org, where none of the cast is a member.
    pub const THIRD: u128 = 0x0c;
    /// Admin of Acme.
    pub const ADA: u128 = 1;
    /// Viewer in Acme, admin in the other tenant.
    pub const MIA: u128 = 7;
    /// A deactivated flow editor of Acme.
    pub const DAN: u128 = 8;
    /// A superuser (admin of the other tenant).
    pub const ROOT: u128 = 9;
    /// Admin of the other tenant.
    pub const EVE: u128 = 6;
    /// A flow editor of Acme.
    pub const EDNA: u128 = 2;

    /// The cast, folded.
    pub fn given() -> Given {
        Given::new().events([
            facts::org(id(ORG), "Acme"),
            facts::org(id(OTHER), "Other"),
            facts::org(id(THIRD), "Third"),
            facts::user(id(ADA), "ada", id(ORG), OrgRole::Admin),
            facts::user(id(EDNA), "edna", id(ORG), OrgRole::FlowEditor),
            facts::user(id(EVE), "eve", id(OTHER), OrgRole::Admin),
            facts::user(id(MIA), "mia", id(ORG), OrgRole::Viewer),
            facts::member(id(OTHER), id(MIA), OrgRole::Admin),
            facts::user(id(DAN), "dan", id(ORG), OrgRole::FlowEditor),
            super::deactivated(id(DAN), id(ORG)),
            super::superuser(id(ROOT), "root", id(OTHER)),
        ])
    }
}

/// A real App over a fresh log in `dir` (for the tests that drive the
/// commands' async wrappers: hashing, sealing, durability).
pub fn start_app(dir: &std::path::Path) -> crate::App {
    use std::sync::Arc;

    use cairn_core::crypto::MasterKey;
    use cairn_core::log::{EventLog, LogConfig};
    use cairn_core::{OsEntropy, SystemClock};

    let master = MasterKey::from_bytes([5; 32]);
    let config = LogConfig {
        dir: dir.to_path_buf(),
        create: true,
        cadence: Default::default(),
    };
    let (log, _) = EventLog::open(&config, &master, Arc::new(SystemClock), Arc::new(OsEntropy))
        .expect("open the log");
    crate::App::start(
        Arc::new(log),
        &master,
        crate::AppSettings::default(),
        Arc::new(SystemClock),
        Arc::new(OsEntropy),
    )
    .expect("start")
}
