//! Sharing events: groups and their members, the catalog (namespaces and
//! flows) and grants (docs/contract.md section 4). Names of groups, namespaces and
//! flows are not personal data; who did it is in the header.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::event::ResourceKind;

crate::named_enum! {
    /// A member's role in a group.
    GroupRole {
        /// Manages membership, including owners; at least one per group.
        Owner => "owner",
        /// Manages membership, except owners.
        Manager => "manager",
        /// Belongs to the group, and so holds its grants.
        Member => "member",
    }
}

crate::named_enum! {
    /// How much a grant allows. Ordered: `Use < Manage`.
    GrantLevel {
        /// Read and run.
        Use => "use",
        /// Read, run, edit, delete and re-share at `use`.
        Manage => "manage",
    }
}

crate::named_enum! {
    /// Who a grant is for.
    GranteeKind {
        /// One user.
        User => "user",
        /// Every member of a group.
        Group => "group",
    }
}

crate::named_enum! {
    /// What a caller wants to do with a resource (docs/contract.md section 4).
    AccessAction {
        /// See it and its metadata.
        Read => "read",
        /// Execute it (or resolve it in a run).
        Run => "run",
        /// Change it.
        Edit => "edit",
        /// Delete it.
        Delete => "delete",
        /// Grant others access to it.
        Share => "share",
        /// Read a secret's value: its owner's alone.
        Reveal => "reveal",
    }
}

/// `group.created`: the creating admin is the group's first owner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupCreated {
    /// The group.
    pub group_id: Uuid,
    /// Its org.
    pub org_id: Uuid,
    /// Its name, unique in the org.
    pub name: String,
    /// The first owner.
    pub owner_id: Uuid,
}

/// `group.deleted`: its memberships and the grants to it end with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupDeleted {
    /// The group.
    pub group_id: Uuid,
}

/// `group.member_added`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMemberAdded {
    /// The group.
    pub group_id: Uuid,
    /// The new member.
    pub user_id: Uuid,
    /// Their role in the group.
    pub role: GroupRole,
}

/// `group.member_removed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMemberRemoved {
    /// The group.
    pub group_id: Uuid,
    /// The former member.
    pub user_id: Uuid,
}

/// `group.member_role_changed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMemberRoleChanged {
    /// The group.
    pub group_id: Uuid,
    /// The member.
    pub user_id: Uuid,
    /// The role before.
    pub previous: GroupRole,
    /// The role now.
    pub role: GroupRole,
}

/// `namespace.created`. System namespaces (`General`, `default`) are
/// created with their org, have no owner, and every member of the org may
/// read them and create in them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceCreated {
    /// The namespace.
    pub namespace_id: Uuid,
    /// Its org.
    pub org_id: Uuid,
    /// Its parent, if not a root.
    pub parent_id: Option<Uuid>,
    /// Its name, unique among its siblings.
    pub name: String,
    /// Its owner (none for a system namespace).
    pub owner_id: Option<Uuid>,
    /// A public system namespace.
    pub system: bool,
}

/// `namespace.updated`: renamed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceUpdated {
    /// The namespace.
    pub namespace_id: Uuid,
    /// Its new name.
    pub name: String,
}

/// `namespace.deleted` (only an empty one): the grants on it end with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceDeleted {
    /// The namespace.
    pub namespace_id: Uuid,
}

/// `flow.created`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowCreated {
    /// The flow.
    pub flow_id: Uuid,
    /// Its org.
    pub org_id: Uuid,
    /// The namespace it lives in (and inherits grants from).
    pub namespace_id: Uuid,
    /// Its name, unique in its namespace.
    pub name: String,
    /// Its owner.
    pub owner_id: Uuid,
    /// The definition, as validated JSON text. It names secrets
    /// (`$secret.NAME`) but never holds their values.
    pub definition: String,
}

/// `flow.updated`: the whole new state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowUpdated {
    /// The flow.
    pub flow_id: Uuid,
    /// Its namespace now.
    pub namespace_id: Uuid,
    /// Its name now.
    pub name: String,
    /// Its definition now.
    pub definition: String,
}

/// `flow.deleted`: the grants on it end with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowDeleted {
    /// The flow.
    pub flow_id: Uuid,
}

/// `grant.created`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantCreated {
    /// The grant.
    pub grant_id: Uuid,
    /// The org of the resource.
    pub org_id: Uuid,
    /// The kind of resource shared.
    pub resource_kind: ResourceKind,
    /// The resource shared.
    pub resource_id: Uuid,
    /// A user or a group.
    pub grantee_kind: GranteeKind,
    /// The user or group.
    pub grantee_id: Uuid,
    /// How much it allows.
    pub level: GrantLevel,
    /// Who granted it.
    pub granted_by: Uuid,
}

/// `grant.revoked`: effective on the next request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRevoked {
    /// The grant.
    pub grant_id: Uuid,
}

/// `authz.denied`: a request refused by authorization, with the reason.
/// The caller saw a 401, a 403, or a 404 indistinguishable from a missing
/// resource; the reason is for the audit trail only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessDenied {
    /// The HTTP method.
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// The status answered.
    pub status: u16,
    /// What was attempted, when an authorization check refused it.
    pub action: Option<AccessAction>,
    /// Why, as `authorize` explained it.
    pub reason: String,
}
