//! Facts about runs and schedules (and the flows they run), for the
//! given/when/then tests of those commands.

use cairn_core::log::NewEvent;
use cairn_schemas::{
    Action, ActorRef, EventPayload, FlowCreated, FlowUpdated, GrantCreated, GrantLevel,
    GranteeKind, NamespaceCreated, Outcome, ResourceKind, ResourceRef,
};
use uuid::Uuid;

use super::user;

fn on(kind: ResourceKind, id: Uuid) -> ResourceRef {
    ResourceRef { kind, id: Some(id) }
}

/// `namespace.created`, owned by `owner_id`.
pub fn namespace(namespace_id: Uuid, org_id: Uuid, owner_id: Uuid, name: &str) -> NewEvent {
    NewEvent::new(
        Action::NamespaceCreated,
        user(owner_id),
        on(ResourceKind::Namespace, namespace_id),
        Outcome::Success,
    )
    .in_org(org_id)
    .with_payload(EventPayload::NamespaceCreated(NamespaceCreated {
        namespace_id,
        org_id,
        parent_id: None,
        name: name.into(),
        owner_id: Some(owner_id),
        system: false,
    }))
}

/// `flow.created`: `definition` (JSON text) in a namespace, by its owner.
pub fn flow(
    flow_id: Uuid,
    (org_id, namespace_id): (Uuid, Uuid),
    owner_id: Uuid,
    definition: &str,
) -> NewEvent {
    NewEvent::new(
        Action::FlowCreated,
        user(owner_id),
        on(ResourceKind::Flow, flow_id),
        Outcome::Success,
    )
    .in_org(org_id)
    .with_payload(EventPayload::FlowCreated(FlowCreated {
        flow_id,
        org_id,
        namespace_id,
        name: format!("flow-{}", flow_id.as_u128() & 0xffff),
        owner_id,
        definition: definition.into(),
    }))
}

/// `flow.updated` by `editor`: a new definition.
pub fn flow_edited(
    flow_id: Uuid,
    (org_id, namespace_id): (Uuid, Uuid),
    editor: Uuid,
    definition: &str,
) -> NewEvent {
    NewEvent::new(
        Action::FlowUpdated,
        user(editor),
        on(ResourceKind::Flow, flow_id),
        Outcome::Success,
    )
    .in_org(org_id)
    .with_payload(EventPayload::FlowUpdated(FlowUpdated {
        flow_id,
        namespace_id,
        name: format!("flow-{}", flow_id.as_u128() & 0xffff),
        definition: definition.into(),
    }))
}

/// `grant.created`: `resource` shared with a user at `level`.
pub fn grant(
    grant_id: Uuid,
    org_id: Uuid,
    (resource_kind, resource_id): (ResourceKind, Uuid),
    grantee_id: Uuid,
    (level, granted_by): (GrantLevel, Uuid),
) -> NewEvent {
    NewEvent::new(
        Action::GrantCreated,
        ActorRef::SYSTEM,
        on(ResourceKind::Grant, grant_id),
        Outcome::Success,
    )
    .in_org(org_id)
    .with_payload(EventPayload::GrantCreated(GrantCreated {
        grant_id,
        org_id,
        resource_kind,
        resource_id,
        grantee_kind: GranteeKind::User,
        grantee_id,
        level,
        granted_by,
    }))
}

/// `grant.revoked`.
pub fn grant_revoked(grant_id: Uuid, org_id: Uuid) -> NewEvent {
    NewEvent::new(
        Action::GrantRevoked,
        ActorRef::SYSTEM,
        on(ResourceKind::Grant, grant_id),
        Outcome::Success,
    )
    .in_org(org_id)
    .with_payload(EventPayload::GrantRevoked(cairn_schemas::GrantRevoked {
        grant_id,
    }))
}
