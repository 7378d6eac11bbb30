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

/// The cast of the catalog tests: two orgs, a member of each role, a user
/// in both orgs with different roles, a deactivated user, a superuser,
/// and resources of each kind.
pub mod cast {
    use cairn_schemas::{GrantLevel, GranteeKind, GroupRole, OrgRole, ResourceKind};
    use uuid::Uuid;

    use crate::principal::{Credential, Principal};
    use crate::testing::{Given, facts, id, identity_facts};

    /// Acme, where most of the cast works.
    pub const ORG: u128 = 0x0a;
    /// Another tenant.
    pub const OTHER: u128 = 0x0b;
    /// Admin of Acme.
    pub const ADA: u128 = 1;
    /// Flow editor of Acme; owns TEAM and FLOW.
    pub const EDNA: u128 = 2;
    /// Viewer of Acme.
    pub const VIC: u128 = 3;
    /// Integration manager of Acme; owns SECRET and CONN.
    pub const IVY: u128 = 4;
    /// Flow executor of Acme, in GROUP.
    pub const XAVIER: u128 = 5;
    /// Admin of the other tenant; owns EVE_NS.
    pub const EVE: u128 = 6;
    /// Viewer in Acme, admin in the other tenant.
    pub const MIA: u128 = 7;
    /// A deactivated flow editor of Acme.
    pub const DAN: u128 = 8;
    /// A superuser (admin of the other tenant).
    pub const ROOT: u128 = 9;
    /// Acme's public system namespace.
    pub const GENERAL: u128 = 0x100;
    /// The other tenant's system namespace.
    pub const OTHER_GENERAL: u128 = 0x101;
    /// Edna's private namespace (shared at use with GROUP).
    pub const TEAM: u128 = 0x110;
    /// Eve's namespace in the other tenant.
    pub const EVE_NS: u128 = 0x111;
    /// Edna's flow in TEAM.
    pub const FLOW: u128 = 0x120;
    /// Ivy's secret.
    pub const SECRET: u128 = 0x130;
    /// Ivy's connection (shared at manage with Edna).
    pub const CONN: u128 = 0x140;
    /// Ada's group; Xavier is a member.
    pub const GROUP: u128 = 0x150;

    /// The cast, folded.
    pub fn given() -> Given {
        Given::new().events([
            facts::org(id(ORG), "Acme"),
            facts::org(id(OTHER), "Other"),
            facts::user(id(ADA), "ada", id(ORG), OrgRole::Admin),
            facts::user(id(EDNA), "edna", id(ORG), OrgRole::FlowEditor),
            facts::user(id(VIC), "vic", id(ORG), OrgRole::Viewer),
            facts::user(id(IVY), "ivy", id(ORG), OrgRole::IntegrationManager),
            facts::user(id(XAVIER), "xavier", id(ORG), OrgRole::FlowExecutor),
            facts::user(id(EVE), "eve", id(OTHER), OrgRole::Admin),
            facts::user(id(MIA), "mia", id(ORG), OrgRole::Viewer),
            facts::member(id(OTHER), id(MIA), OrgRole::Admin),
            facts::user(id(DAN), "dan", id(ORG), OrgRole::FlowEditor),
            identity_facts::deactivated(id(DAN), id(ORG)),
            identity_facts::superuser(id(ROOT), "root", id(OTHER)),
            super::namespace(id(GENERAL), id(ORG), None, None, "General"),
            super::namespace(id(OTHER_GENERAL), id(OTHER), None, None, "General"),
            super::namespace(id(TEAM), id(ORG), None, Some(id(EDNA)), "Team"),
            super::namespace(id(EVE_NS), id(OTHER), None, Some(id(EVE)), "Eve's"),
            super::flow(id(FLOW), id(ORG), id(TEAM), id(EDNA), "nightly"),
            facts::secret(id(SECRET), id(ORG), id(IVY), "API_TOKEN"),
            super::connection(
                id(CONN),
                id(ORG),
                id(IVY),
                "billing",
                "https://billing.example",
            ),
            facts::group(id(GROUP), id(ORG), id(ADA), "ops"),
            facts::group_member(id(GROUP), id(ORG), id(XAVIER), GroupRole::Member),
            super::grant(
                id(0x160),
                id(ORG),
                (ResourceKind::Namespace, id(TEAM)),
                (GranteeKind::Group, id(GROUP)),
                GrantLevel::Use,
                id(EDNA),
            ),
            super::grant(
                id(0x161),
                id(ORG),
                (ResourceKind::Connection, id(CONN)),
                (GranteeKind::User, id(EDNA)),
                GrantLevel::Manage,
                id(IVY),
            ),
        ])
    }

    /// `user` acting in `org` through a session, with the role they hold
    /// there (none for a deactivated user's membership is not special:
    /// the views refuse them).
    pub fn session(given: &Given, user: u128, org: u128) -> Principal {
        crate::testing::principal(given.views(), id(user), id(org))
    }

    /// `user` acting in `org` through an API key.
    pub fn api_key(given: &Given, user: u128, org: u128) -> Principal {
        Principal {
            credential: Credential::ApiKey(id(0x4b)),
            ..session(given, user, org)
        }
    }

    /// The superuser acting in `org`, where they may not be a member.
    pub fn root_in(org: u128) -> Principal {
        Principal {
            user_id: id(ROOT),
            org_id: id(org),
            role: OrgRole::Admin,
            is_superuser: true,
            credential: Credential::Session(id(0x5e56)),
        }
    }

    /// The kind of refusal, for comparisons: 404, 403, 409, 422 on a
    /// field, or something else.
    pub fn kind_of(error: &crate::CommandError) -> String {
        use crate::CommandError;
        match error {
            CommandError::NotFound => "404".into(),
            CommandError::Denied(denial) if !denial.visible => "404".into(),
            CommandError::Denied(_) | CommandError::Forbidden(_) => "403".into(),
            CommandError::Conflict(_) => "409".into(),
            CommandError::Invalid { field, .. } => format!("422 {field}"),
            other => format!("{other:?}"),
        }
    }

    /// The user id of a constant.
    pub fn user_id(user: u128) -> Uuid {
        id(user)
    }
}

/// `schedule.created`: `owner_id` runs `flow_id` hourly.
pub fn schedule(schedule_id: Uuid, org_id: Uuid, flow_id: Uuid, owner_id: Uuid) -> NewEvent {
    by_system(
        Action::ScheduleCreated,
        ResourceKind::Schedule,
        schedule_id,
        org_id,
        EventPayload::ScheduleCreated(cairn_schemas::ScheduleCreated {
            schedule_id,
            org_id,
            flow_id,
            owner_id,
            cron: "0 * * * *".into(),
        }),
    )
}
