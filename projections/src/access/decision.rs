//! The answer of an authorization check and the path that led to it, so
//! every allow and every deny can be explained (to the API, to replay, and
//! in `authz.denied` events).

use std::fmt::Write as _;

use cairn_schemas::{AccessAction, GrantLevel, OrgRole, ResourceKind};
use uuid::Uuid;

use crate::Views;

/// How much access a path gives. Ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AccessLevel {
    /// Read and run.
    Use,
    /// Also edit, delete and share at `use`.
    Manage,
    /// Everything the role allows (owner, org admin, superuser).
    Full,
}

impl From<GrantLevel> for AccessLevel {
    fn from(level: GrantLevel) -> Self {
        match level {
            GrantLevel::Use => AccessLevel::Use,
            GrantLevel::Manage => AccessLevel::Manage,
        }
    }
}

/// Why the caller has access to a resource at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessPath {
    /// They own it.
    Owner,
    /// A global admin.
    Superuser,
    /// The admin role in the resource's org.
    OrgAdmin {
        /// The org.
        org_id: Uuid,
    },
    /// Their org role lets them create at the root of the org.
    OrgRole {
        /// The role.
        role: OrgRole,
    },
    /// They own a namespace the resource sits in.
    NamespaceOwner {
        /// That namespace.
        namespace_id: Uuid,
    },
    /// A grant to them or to a group they are in.
    Grant {
        /// The grant.
        grant_id: Uuid,
        /// The group it was made to, if not to the user.
        via_group: Option<Uuid>,
        /// Its level.
        level: GrantLevel,
        /// The kind of the resource it is on (the resource itself or a
        /// namespace it sits in).
        on_kind: ResourceKind,
        /// The resource it is on.
        on_id: Uuid,
    },
    /// A public system namespace of their org.
    PublicNamespace {
        /// The namespace.
        namespace_id: Uuid,
    },
}

impl AccessPath {
    /// How much access this path gives.
    pub fn level(&self) -> AccessLevel {
        match self {
            AccessPath::Owner
            | AccessPath::Superuser
            | AccessPath::OrgAdmin { .. }
            | AccessPath::OrgRole { .. } => AccessLevel::Full,
            AccessPath::NamespaceOwner { .. } => AccessLevel::Manage,
            AccessPath::Grant { level, .. } => (*level).into(),
            AccessPath::PublicNamespace { .. } => AccessLevel::Use,
        }
    }

    /// Owner, org admin or superuser: may grant `manage` and share with
    /// anyone in the org.
    pub fn is_authority(&self) -> bool {
        matches!(
            self,
            AccessPath::Owner | AccessPath::Superuser | AccessPath::OrgAdmin { .. }
        )
    }
}

/// Why a request is allowed or denied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Allowed along this path.
    Allowed(AccessPath),
    /// The resource does not exist, is in another org, or the caller has
    /// no access to it at all: answered exactly like a missing resource.
    NotVisible,
    /// The user is deactivated or unknown.
    Inactive,
    /// The caller can reach the resource, but their org role does not
    /// allow this kind of action.
    RoleForbids {
        /// The role.
        role: OrgRole,
        /// The access they do have.
        path: AccessPath,
    },
    /// The caller's best access is too little for the action.
    LevelTooLow {
        /// The best access they have.
        path: AccessPath,
    },
    /// Revealing a secret's value is its owner's alone.
    OwnerOnly {
        /// The access they do have.
        path: AccessPath,
    },
    /// The action does not apply to this kind of resource.
    NotApplicable,
}

/// The answer of `authorize`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whether the action may go ahead.
    pub allowed: bool,
    /// Why.
    pub reason: Reason,
}

impl Decision {
    pub(crate) fn allow(path: AccessPath) -> Decision {
        Decision {
            allowed: true,
            reason: Reason::Allowed(path),
        }
    }

    pub(crate) fn deny(reason: Reason) -> Decision {
        Decision {
            allowed: false,
            reason,
        }
    }

    /// Whether the caller may know the resource exists: a denial that
    /// hides it must be answered like a missing resource (404).
    pub fn visible(&self) -> bool {
        !matches!(self.reason, Reason::NotVisible | Reason::Inactive)
    }

    /// The access the caller has, allowed or not.
    pub fn path(&self) -> Option<AccessPath> {
        match self.reason {
            Reason::Allowed(path)
            | Reason::RoleForbids { path, .. }
            | Reason::LevelTooLow { path }
            | Reason::OwnerOnly { path } => Some(path),
            _ => None,
        }
    }

    /// One sentence naming the path, with ids and (where the views know
    /// them) names: `grant 0190… via group "ops" (0190…) at level use on
    /// namespace "team" (0190…)`.
    pub fn explain(&self, views: &Views, action: AccessAction, kind: ResourceKind) -> String {
        let mut text = String::new();
        match self.reason {
            Reason::Allowed(path) => {
                text.push_str("allowed: ");
                describe_path(&mut text, views, path, kind);
            }
            Reason::NotVisible => text.push_str("denied: not visible"),
            Reason::Inactive => text.push_str("denied: the user is deactivated or unknown"),
            Reason::RoleForbids { role, path } => {
                let _ = write!(
                    text,
                    "denied: org role {role} does not allow {action} on a {kind}; access is through "
                );
                describe_path(&mut text, views, path, kind);
            }
            Reason::LevelTooLow { path } => {
                let _ = write!(text, "denied: {action} needs manage; the best access is ");
                describe_path(&mut text, views, path, kind);
            }
            Reason::OwnerOnly { path } => {
                text.push_str(
                    "denied: only the owner reveals a secret's value; access is through ",
                );
                describe_path(&mut text, views, path, kind);
            }
            Reason::NotApplicable => {
                let _ = write!(text, "denied: {action} does not apply to a {kind}");
            }
        }
        text
    }
}

/// `namespace "team" (0190…)`, or the bare id when the views do not know it.
fn describe_resource(text: &mut String, views: &Views, kind: ResourceKind, id: Uuid) {
    match views.catalog.get(&id) {
        Some(entry) => {
            let _ = write!(text, "{kind} {:?} ({id})", entry.name);
        }
        None => {
            let _ = write!(text, "{kind} {id}");
        }
    }
}

fn describe_path(text: &mut String, views: &Views, path: AccessPath, kind: ResourceKind) {
    match path {
        AccessPath::Owner => {
            let _ = write!(text, "owner of the {kind}");
        }
        AccessPath::Superuser => text.push_str("superuser"),
        AccessPath::OrgAdmin { org_id } => {
            let _ = write!(text, "org role admin in org {org_id}");
        }
        AccessPath::OrgRole { role } => {
            let _ = write!(text, "org role {role}");
        }
        AccessPath::NamespaceOwner { namespace_id } => {
            text.push_str("owner of ");
            describe_resource(text, views, ResourceKind::Namespace, namespace_id);
            text.push_str(", which contains it");
        }
        AccessPath::Grant {
            grant_id,
            via_group,
            level,
            on_kind,
            on_id,
        } => {
            let _ = write!(text, "grant {grant_id} ");
            match via_group {
                Some(group) => match views.groups.get(&group) {
                    Some(record) => {
                        let _ = write!(text, "via group {:?} ({group})", record.name);
                    }
                    None => {
                        let _ = write!(text, "via group {group}");
                    }
                },
                None => text.push_str("to the user"),
            }
            let _ = write!(text, " at level {level} on ");
            describe_resource(text, views, on_kind, on_id);
        }
        AccessPath::PublicNamespace { namespace_id } => {
            text.push_str("public system ");
            describe_resource(text, views, ResourceKind::Namespace, namespace_id);
        }
    }
}
