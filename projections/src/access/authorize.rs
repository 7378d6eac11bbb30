//! `authorize(views, who, action, resource) -> Decision`: the one answer to
//! "may this user do this to that, and why?", used by every handler, by
//! `GET /api/v1/access/explain` and by replay. It reads only the views, so
//! a decision at seq N is the same whenever it is asked.

use cairn_schemas::{AccessAction, GrantLevel, GranteeKind, OrgRole, ResourceKind};
use uuid::Uuid;

use super::decision::{AccessLevel, AccessPath, Decision, Reason};
use super::roles::{role_allows, role_may_create};
use crate::Views;
use crate::sharing::CatalogEntry;

/// A user acting in an org (the org of their session or API key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Who {
    /// The user.
    pub user_id: Uuid,
    /// The org they act in.
    pub org_id: Uuid,
}

/// A resource of the catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    /// Its kind.
    pub kind: ResourceKind,
    /// Its id.
    pub id: Uuid,
}

/// The user's role in the org, or admin for a superuser anywhere; `None`
/// for an unknown, deactivated or non-member user.
pub fn acting_role(views: &Views, who: Who) -> Option<(OrgRole, bool)> {
    let user = views
        .users
        .get(&who.user_id)
        .filter(|user| user.is_active)?;
    match views.orgs.role_of(&who.user_id, &who.org_id) {
        Some(role) => Some((role, user.is_superuser)),
        None if user.is_superuser => Some((OrgRole::Admin, true)),
        None => None,
    }
}

/// The level an action needs.
fn needed(action: AccessAction) -> AccessLevel {
    match action {
        AccessAction::Read | AccessAction::Run => AccessLevel::Use,
        AccessAction::Edit | AccessAction::Delete | AccessAction::Share => AccessLevel::Manage,
        AccessAction::Reveal => AccessLevel::Full,
    }
}

/// The best way `who` reaches `entry`, ignoring roles; `None` when they do
/// not reach it at all. Ties go to the more specific path: ownership, then
/// superuser, org admin, a namespace's ownership, a grant to the user
/// before one to a group, a grant on the resource before one on a
/// namespace further up, and last the public system namespaces.
pub fn best_path(
    views: &Views,
    who: Who,
    is_superuser: bool,
    role: OrgRole,
    entry: &CatalogEntry,
) -> Option<AccessPath> {
    let same_org = entry.org_id == who.org_id;
    if same_org && entry.owner_id == Some(who.user_id) {
        return Some(AccessPath::Owner);
    }
    if is_superuser {
        return Some(AccessPath::Superuser);
    }
    if !same_org {
        return None;
    }
    if role == OrgRole::Admin {
        return Some(AccessPath::OrgAdmin {
            org_id: entry.org_id,
        });
    }
    let groups = views.groups.groups_of(&who.user_id);
    // (level, direct, -distance) ranks the candidates; the first best wins.
    let mut best: Option<((AccessLevel, bool, i64), AccessPath)> = None;
    let mut offer = |rank: (AccessLevel, bool, i64), path: AccessPath| {
        if best.as_ref().is_none_or(|(have, _)| rank > *have) {
            best = Some((rank, path));
        }
    };
    for (distance, on) in std::iter::once(entry)
        .chain(views.catalog.ancestors(entry))
        .enumerate()
    {
        let distance = -(distance as i64);
        if distance < 0 && on.owner_id == Some(who.user_id) {
            offer(
                (AccessLevel::Manage, true, i64::MAX),
                AccessPath::NamespaceOwner {
                    namespace_id: on.id,
                },
            );
        }
        for grant in views.grants.on_resource(&on.id) {
            let via_group = match grant.grantee_kind {
                GranteeKind::User if grant.grantee_id == who.user_id => None,
                GranteeKind::Group if groups.binary_search(&grant.grantee_id).is_ok() => {
                    Some(grant.grantee_id)
                }
                _ => continue,
            };
            offer(
                (grant.level.into(), via_group.is_none(), distance),
                AccessPath::Grant {
                    grant_id: grant.id,
                    via_group,
                    level: grant.level,
                    on_kind: on.kind,
                    on_id: on.id,
                },
            );
        }
    }
    if let Some((_, path)) = best {
        return Some(path);
    }
    (entry.system && entry.kind == ResourceKind::Namespace).then_some(AccessPath::PublicNamespace {
        namespace_id: entry.id,
    })
}

/// May `who` do `action` to `target`, and why?
pub fn authorize(views: &Views, who: Who, action: AccessAction, target: Target) -> Decision {
    let Some((role, is_superuser)) = acting_role(views, who) else {
        return Decision::deny(
            if views.users.get(&who.user_id).is_some_and(|u| u.is_active) {
                Reason::NotVisible
            } else {
                Reason::Inactive
            },
        );
    };
    let Some(entry) = views.catalog.get_kind(target.kind, &target.id) else {
        return Decision::deny(Reason::NotVisible);
    };
    authorize_entry(views, who, (role, is_superuser), action, entry)
}

/// `authorize` for an entry in hand and a role already looked up with
/// [`acting_role`]: what a list does for each of its entries, without
/// looking the caller and the entry up again each time.
pub fn authorize_entry(
    views: &Views,
    who: Who,
    (role, is_superuser): (OrgRole, bool),
    action: AccessAction,
    entry: &CatalogEntry,
) -> Decision {
    let Some(path) = best_path(views, who, is_superuser, role, entry) else {
        return Decision::deny(Reason::NotVisible);
    };
    decide(role, is_superuser, action, entry.kind, path)
}

/// The decision once the path is known: the action's level, the reveal
/// rule, then the role.
fn decide(
    role: OrgRole,
    is_superuser: bool,
    action: AccessAction,
    kind: ResourceKind,
    path: AccessPath,
) -> Decision {
    if action == AccessAction::Reveal {
        if kind != ResourceKind::Secret {
            return Decision::deny(Reason::NotApplicable);
        }
        if path != AccessPath::Owner {
            return Decision::deny(Reason::OwnerOnly { path });
        }
    } else if path.level() < needed(action) {
        return Decision::deny(Reason::LevelTooLow { path });
    }
    // A superuser's org role never limits them (also on what they own); an
    // org admin's role is the admin role.
    let exempt = is_superuser || matches!(path, AccessPath::OrgAdmin { .. });
    if !exempt && !role_allows(role, kind, action) {
        return Decision::deny(Reason::RoleForbids { role, path });
    }
    Decision::allow(path)
}

/// May `who` create a resource of `kind` in `namespace` (or at the root of
/// their org when `None`)? Their role must allow creating that kind, and
/// they must be able to edit the namespace, unless it is a public system
/// namespace they can see.
pub fn authorize_create(
    views: &Views,
    who: Who,
    kind: ResourceKind,
    namespace: Option<Uuid>,
) -> Decision {
    let Some((role, is_superuser)) = acting_role(views, who) else {
        return Decision::deny(Reason::Inactive);
    };
    let path = match namespace {
        None => AccessPath::OrgRole { role },
        Some(namespace) => {
            let Some(entry) = views.catalog.get_kind(ResourceKind::Namespace, &namespace) else {
                return Decision::deny(Reason::NotVisible);
            };
            let Some(path) = best_path(views, who, is_superuser, role, entry) else {
                return Decision::deny(Reason::NotVisible);
            };
            let public = matches!(path, AccessPath::PublicNamespace { .. });
            if !public && path.level() < AccessLevel::Manage {
                return Decision::deny(Reason::LevelTooLow { path });
            }
            path
        }
    };
    if !is_superuser && !role_may_create(role, kind) {
        return Decision::deny(Reason::RoleForbids { role, path });
    }
    Decision::allow(path)
}

/// Why a grant may not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantRefusal {
    /// The caller may not share the resource (not visible: 404; else 403).
    Denied(Decision),
    /// Secrets are shared at `use` only.
    SecretsAreUseOnly,
    /// Only the owner or an admin grants `manage`.
    ManageNeedsOwner,
    /// A `manage` grantee re-shares only to groups they belong to.
    ReshareToOwnGroupsOnly,
    /// The grantee is not a user or group of the resource's org.
    NoSuchGrantee,
    /// The same grant exists.
    Duplicate(Uuid),
}

/// May `who` grant `level` on `target` to the grantee? The rules of
/// docs/contract.md section 4, in the order a caller should hear them.
pub fn check_grant(
    views: &Views,
    who: Who,
    target: Target,
    grantee_kind: GranteeKind,
    grantee: Uuid,
    level: GrantLevel,
) -> Result<AccessPath, GrantRefusal> {
    // A rule about the request alone, so it goes first: it reveals
    // nothing about whether the secret exists.
    if target.kind == ResourceKind::Secret && level == GrantLevel::Manage {
        return Err(GrantRefusal::SecretsAreUseOnly);
    }
    let decision = authorize(views, who, AccessAction::Share, target);
    let Reason::Allowed(path) = decision.reason else {
        return Err(GrantRefusal::Denied(decision));
    };
    let org = views
        .catalog
        .get(&target.id)
        .map(|entry| entry.org_id)
        .unwrap_or(who.org_id);
    let grantee_known = match grantee_kind {
        GranteeKind::User => views.orgs.role_of(&grantee, &org).is_some(),
        GranteeKind::Group => views
            .groups
            .get(&grantee)
            .is_some_and(|group| group.org_id == org),
    };
    if !grantee_known {
        return Err(GrantRefusal::NoSuchGrantee);
    }
    if !path.is_authority() {
        if level == GrantLevel::Manage {
            return Err(GrantRefusal::ManageNeedsOwner);
        }
        let own_group =
            grantee_kind == GranteeKind::Group && views.groups.is_member(&grantee, &who.user_id);
        if !own_group {
            return Err(GrantRefusal::ReshareToOwnGroupsOnly);
        }
    }
    if let Some(existing) = views.grants.find(&target.id, grantee_kind, &grantee, level) {
        return Err(GrantRefusal::Duplicate(existing.id));
    }
    Ok(path)
}
