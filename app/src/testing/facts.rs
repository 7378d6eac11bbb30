//! Facts a history is made of, as the commands record them: the events
//! most tests start from.

use cairn_core::log::NewEvent;
use cairn_schemas::{
    Action, ActorRef, EventPayload, GroupCreated, GroupMemberAdded, GroupRole, OrgCreated,
    OrgMemberAdded, OrgRole, Outcome, PersonalData, ResourceKind, ResourceRef, Sealed,
    SecretCreated, UserCreated,
};
use uuid::Uuid;

fn on(kind: ResourceKind, id: Uuid) -> ResourceRef {
    ResourceRef { kind, id: Some(id) }
}

fn by_system(action: Action, resource: ResourceRef, org: Uuid, payload: EventPayload) -> NewEvent {
    NewEvent::new(action, ActorRef::SYSTEM, resource, Outcome::Success)
        .in_org(org)
        .with_payload(payload)
}

/// `org.created`.
pub fn org(org_id: Uuid, name: &str) -> NewEvent {
    by_system(
        Action::OrgCreated,
        on(ResourceKind::Org, org_id),
        org_id,
        EventPayload::OrgCreated(OrgCreated {
            org_id,
            name: name.into(),
        }),
    )
}

/// `user.created`: an active user named `name`, a member of `org_id`
/// with `role`.
pub fn user(user_id: Uuid, name: &str, org_id: Uuid, role: OrgRole) -> NewEvent {
    by_system(
        Action::UserCreated,
        on(ResourceKind::User, user_id),
        org_id,
        EventPayload::UserCreated(UserCreated {
            user_id,
            org_id,
            role,
            is_active: true,
            is_superuser: false,
            credential: Sealed {
                subject: user_id,
                nonce: [0; 24],
                ciphertext: Vec::new(),
            },
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

/// `org.member_added`.
pub fn member(org_id: Uuid, user_id: Uuid, role: OrgRole) -> NewEvent {
    by_system(
        Action::OrgMemberAdded,
        on(ResourceKind::Org, org_id),
        org_id,
        EventPayload::OrgMemberAdded(OrgMemberAdded {
            org_id,
            user_id,
            role,
        }),
    )
}

/// `secret.created`, owned by `owner_id`.
pub fn secret(secret_id: Uuid, org_id: Uuid, owner_id: Uuid, name: &str) -> NewEvent {
    by_system(
        Action::SecretCreated,
        on(ResourceKind::Secret, secret_id),
        org_id,
        EventPayload::SecretCreated(SecretCreated {
            secret_id,
            org_id,
            owner_id,
            name: name.into(),
            value: "$cairn$1$sealed".into(),
            fingerprint: [0; 32],
        }),
    )
}

/// `group.created`, owned by `owner_id`.
pub fn group(group_id: Uuid, org_id: Uuid, owner_id: Uuid, name: &str) -> NewEvent {
    by_system(
        Action::GroupCreated,
        on(ResourceKind::Group, group_id),
        org_id,
        EventPayload::GroupCreated(GroupCreated {
            group_id,
            org_id,
            name: name.into(),
            owner_id,
        }),
    )
}

/// `group.member_added`.
pub fn group_member(group_id: Uuid, org_id: Uuid, user_id: Uuid, role: GroupRole) -> NewEvent {
    by_system(
        Action::GroupMemberAdded,
        on(ResourceKind::Group, group_id),
        org_id,
        EventPayload::GroupMemberAdded(GroupMemberAdded {
            group_id,
            user_id,
            role,
        }),
    )
}
