//! Facts about namespaces, flows, secrets and connections, for the
//! given/when/then tests of those commands.

use cairn_core::log::NewEvent;
use cairn_schemas::{
    Action, ActorRef, ConnectionCreated, ConnectionKind, EventPayload, FlowCreated, GrantCreated,
    GrantLevel, GranteeKind, NamespaceCreated, Outcome, ResourceKind, ResourceRef,
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

/// `namespace.created`: owned by `owner_id` (a system namespace when
/// `None`), under `parent_id` (the root when `None`).
pub fn namespace(
    namespace_id: Uuid,
    org_id: Uuid,
    parent_id: Option<Uuid>,
    owner_id: Option<Uuid>,
    name: &str,
) -> NewEvent {
    by_system(
        Action::NamespaceCreated,
        ResourceKind::Namespace,
        namespace_id,
        org_id,
        EventPayload::NamespaceCreated(NamespaceCreated {
            namespace_id,
            org_id,
            parent_id,
            name: name.into(),
            owner_id,
            system: owner_id.is_none(),
        }),
    )
}

/// A definition that passes the step schema.
pub const DEFINITION: &str = r#"{"steps":[{"type":"log","message":"hello"}]}"#;

/// `flow.created` in `namespace_id`, with [`DEFINITION`].
pub fn flow(
    flow_id: Uuid,
    org_id: Uuid,
    namespace_id: Uuid,
    owner_id: Uuid,
    name: &str,
) -> NewEvent {
    by_system(
        Action::FlowCreated,
        ResourceKind::Flow,
        flow_id,
        org_id,
        EventPayload::FlowCreated(FlowCreated {
            flow_id,
            org_id,
            namespace_id,
            name: name.into(),
            owner_id,
            definition: DEFINITION.into(),
        }),
    )
}

/// `connection.created`: an http connection to `url`.
pub fn connection(
    connection_id: Uuid,
    org_id: Uuid,
    owner_id: Uuid,
    name: &str,
    url: &str,
) -> NewEvent {
    by_system(
        Action::ConnectionCreated,
        ResourceKind::Connection,
        connection_id,
        org_id,
        EventPayload::ConnectionCreated(ConnectionCreated {
            connection_id,
            org_id,
            owner_id,
            name: name.into(),
            kind: ConnectionKind::Http,
            target: serde_json::json!({ "url": url }).to_string(),
            credentials: format!("$cairn$1${owner_id}$sealed"),
            fingerprint: [0; 32],
        }),
    )
}

/// `grant.created`: `level` on a resource to a user or a group, made by
/// `granted_by`.
pub fn grant(
    grant_id: Uuid,
    org_id: Uuid,
    (kind, resource_id): (ResourceKind, Uuid),
    (grantee_kind, grantee_id): (GranteeKind, Uuid),
    level: GrantLevel,
    granted_by: Uuid,
) -> NewEvent {
    by_system(
        Action::GrantCreated,
        ResourceKind::Grant,
        grant_id,
        org_id,
        EventPayload::GrantCreated(GrantCreated {
            grant_id,
            org_id,
            resource_kind: kind,
            resource_id,
            grantee_kind,
            grantee_id,
            level,
            granted_by,
        }),
    )
}
