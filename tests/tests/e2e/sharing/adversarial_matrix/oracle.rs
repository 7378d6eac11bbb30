//! What the matrix expects, as pure functions of (route, caller, target):
//! the operation a route performs, and whether a caller must be refused
//! it. Only refusals are asserted ("no unexpected 2xx"); a cell the rules
//! allow is counted but not sent, so the world stays intact.
//!
//! The rules are docs/contract.md section 4's (and issue 14's): nothing crosses
//! orgs; an org role allows a kind of action and a resource needs
//! ownership or a grant (admins need none inside their org); `use` reads
//! and runs, `manage` adds edit, delete and re-sharing at `use` to groups;
//! a secret's value is revealed to its owner alone; an account-wide change
//! of a user in several orgs needs a superuser or an admin of every one;
//! questions about other users need an admin or audit viewer.

use super::world::{Caller, Kind, Target};

/// What a route does, as far as the rules care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Anyone may call it.
    Public,
    /// About the caller alone (me, logout, their API keys, their password).
    SelfOnly,
    /// A list or an org-scoped read: any member may call it; the answer
    /// must not hold another org's ids.
    Listing,
    /// Reads one resource.
    Read(Kind),
    /// Changes or deletes one catalog resource.
    Edit(Kind),
    /// A secret's value.
    Reveal,
    /// Runs a flow.
    Run,
    /// Reads a user.
    ReadUser,
    /// Password, activation, deletion, erasure of a user.
    AccountWide,
    /// Adds or removes org members.
    OrgMembers,
    /// Reads a group.
    ReadGroup,
    /// Deletes a group or changes its members.
    GroupAdmin,
    /// Grants on the target flow (to the caller, at `manage`).
    GrantOn,
    /// Revokes a grant.
    RevokeGrant,
    /// Creates a flow in the target namespace.
    CreateFlowIn,
    /// Creates a namespace under the target namespace.
    CreateNamespaceUnder,
    /// Schedules the target flow.
    ScheduleFlow,
    /// Asks about another user's access to the target flow, or the past.
    ExplainAbout,
    /// Creates a user in the target org.
    CreateUserIn,
    /// Creates a group (admins only).
    CreateGroup,
    /// Creates a secret (roles that may own secrets).
    CreateSecret,
    /// Creates a connection (editors, integration managers, admins).
    CreateConnection,
    /// The org's audit trail and reports (admins, audit viewers).
    AuditRead,
    /// Instance-wide: superusers only.
    SuperuserOnly,
    /// Revokes an API key (its owner's or an admin's).
    RevokeApiKey,
}

/// The operation of a route of the table. `None` for a route the matrix
/// does not know yet: the test fails and names it, so a new route gets
/// its rule.
pub fn op_of(method: &str, path: &str) -> Option<Op> {
    let kind_of = |path: &str| -> Option<Kind> {
        let segment = path.trim_start_matches("/api/v1/").split('/').next()?;
        Some(match segment {
            "namespaces" => Kind::Namespace,
            "flows" => Kind::Flow,
            "secrets" => Kind::Secret,
            "connections" => Kind::Connection,
            "runs" => Kind::Run,
            "schedules" => Kind::Schedule,
            _ => return None,
        })
    };
    Some(match (method, path) {
        (_, "/health" | "/openapi.json" | "/" | "/console/{asset}" | "/api/v1/auth/login") => {
            Op::Public
        }
        (
            _,
            "/api/v1/auth/logout"
            | "/api/v1/auth/me"
            | "/api/v1/auth/api-keys"
            | "/api/v1/users/me/password",
        ) => Op::SelfOnly,
        ("DELETE", "/api/v1/auth/api-keys/{id}") => Op::RevokeApiKey,
        ("POST", "/api/v1/users") => Op::CreateUserIn,
        ("GET", "/api/v1/users/{id}") => Op::ReadUser,
        ("PATCH" | "DELETE", "/api/v1/users/{id}") | ("POST", "/api/v1/users/{id}/erase") => {
            Op::AccountWide
        }
        ("POST", "/api/v1/orgs") => Op::SuperuserOnly,
        (_, "/api/v1/orgs/{id}/members" | "/api/v1/orgs/{id}/members/{user_id}") => Op::OrgMembers,
        ("POST", "/api/v1/groups") => Op::CreateGroup,
        ("GET", "/api/v1/groups/{id}") => Op::ReadGroup,
        (_, "/api/v1/groups/{id}" | "/api/v1/groups/{id}/members")
        | (_, "/api/v1/groups/{id}/members/{user_id}") => Op::GroupAdmin,
        ("POST", "/api/v1/namespaces") => Op::CreateNamespaceUnder,
        ("POST", "/api/v1/flows") => Op::CreateFlowIn,
        ("POST", "/api/v1/grants") => Op::GrantOn,
        ("DELETE", "/api/v1/grants/{id}") => Op::RevokeGrant,
        ("GET", "/api/v1/access/explain") => Op::ExplainAbout,
        ("GET", "/api/v1/audit/events" | "/api/v1/audit/export" | "/api/v1/audit/verify")
        | ("GET", "/api/v1/audit/retention" | "/api/v1/reports/access-review") => Op::AuditRead,
        ("PUT", "/api/v1/audit/retention") | ("GET", "/api/v1/admin/backup") => Op::SuperuserOnly,
        ("POST", "/api/v1/secrets") => Op::CreateSecret,
        ("POST", "/api/v1/connections") => Op::CreateConnection,
        ("POST", "/api/v1/secrets/{id}/reveal") => Op::Reveal,
        ("POST", "/api/v1/flows/{id}/runs") => Op::Run,
        ("POST", "/api/v1/schedules") => Op::ScheduleFlow,
        ("GET", path) if !path.contains('{') => Op::Listing,
        ("GET", path) => Op::Read(kind_of(path)?),
        ("PUT" | "PATCH" | "DELETE", path) if path.ends_with("/{id}") => Op::Edit(kind_of(path)?),
        _ => return None,
    })
}

/// The kind a route's `{id}` names, or the kind its body's target is.
pub fn target_kind(op: Op, path: &str) -> Option<Kind> {
    Some(match op {
        Op::Read(kind) | Op::Edit(kind) => kind,
        Op::Reveal => Kind::Secret,
        Op::Run | Op::GrantOn | Op::ScheduleFlow | Op::ExplainAbout => Kind::Flow,
        Op::ReadUser | Op::AccountWide => Kind::User,
        Op::OrgMembers | Op::CreateUserIn => Kind::Org,
        Op::ReadGroup | Op::GroupAdmin => Kind::Group,
        Op::RevokeGrant => Kind::Grant,
        Op::CreateFlowIn | Op::CreateNamespaceUnder => Kind::Namespace,
        Op::RevokeApiKey => Kind::ApiKey,
        Op::Public
        | Op::SelfOnly
        | Op::Listing
        | Op::CreateGroup
        | Op::CreateSecret
        | Op::CreateConnection
        | Op::AuditRead
        | Op::SuperuserOnly => {
            let _ = path;
            return None;
        }
    })
}

/// The targets a route is tried on.
pub fn targets(op: Op, path: &str) -> Vec<Target> {
    match target_kind(op, path) {
        None => vec![Target::Nothing],
        Some(Kind::User) => vec![
            Target::OwnOrg,
            Target::OtherOrg,
            Target::TwoOrgUser,
            Target::Missing,
        ],
        Some(_) => vec![Target::OwnOrg, Target::OtherOrg, Target::Missing],
    }
}

/// A caller's standing in org A (where [`Target::OwnOrg`] fixtures live).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InA {
    Admin,
    Owner,
    Viewer,
    RoleNone,
    Auditor,
    UseGrantee,
    ManageGrantee,
    Stranger,
    Superuser,
    Anonymous,
}

fn standing_in_a(caller: Caller) -> InA {
    match caller {
        Caller::Anonymous => InA::Anonymous,
        Caller::AdminA => InA::Admin,
        Caller::OwnerA => InA::Owner,
        // The two-org user is a viewer of A whichever org they logged into.
        Caller::ViewerA | Caller::DualInA | Caller::DualInB => InA::Viewer,
        Caller::NoneA => InA::RoleNone,
        Caller::AuditorA => InA::Auditor,
        Caller::UseGrantee | Caller::UseGranteeKey => InA::UseGrantee,
        Caller::ManageGrantee => InA::ManageGrantee,
        Caller::AdminB => InA::Stranger,
        Caller::Superuser => InA::Superuser,
    }
}

/// Whether the caller belongs to org A only (so org B is foreign to them
/// in every way).
pub fn only_in_a(caller: Caller) -> bool {
    matches!(
        standing_in_a(caller),
        InA::Admin
            | InA::Owner
            | InA::Viewer
            | InA::RoleNone
            | InA::Auditor
            | InA::UseGrantee
            | InA::ManageGrantee
    ) && !matches!(caller, Caller::DualInA | Caller::DualInB)
}

/// The rule that forbids `caller` this cell, or `None` when the rules
/// allow it (or do not say).
pub fn forbidden(op: Op, caller: Caller, target: Target) -> Option<&'static str> {
    if op == Op::Public {
        return None;
    }
    if caller == Caller::Anonymous {
        return Some("no credentials, no access");
    }
    if target == Target::Missing {
        return Some("nothing acts on what does not exist");
    }
    match target {
        Target::OtherOrg if only_in_a(caller) => {
            return Some("nothing crosses orgs");
        }
        // B's fixtures, for B's admins and the two-org user (an admin of
        // B) and the superuser: theirs to use.
        Target::OtherOrg => {
            return if op == Op::Reveal && caller != Caller::AdminB {
                Some("a secret's value is its owner's alone")
            } else {
                None
            };
        }
        _ => {}
    }
    // Nothing named: the caller acts in the org of their session, where
    // B's admins (and the two-org user logged into B) are admins.
    let standing = match (target, caller) {
        (Target::Nothing, Caller::AdminB | Caller::DualInB) => InA::Admin,
        _ => standing_in_a(caller),
    };
    // The two-org user is a member of B: B's admins may read them, and
    // only an account-wide change needs an admin of A too.
    if target == Target::TwoOrgUser && caller == Caller::AdminB && op == Op::ReadUser {
        return None;
    }
    if standing == InA::Superuser {
        return (op == Op::Reveal).then_some("a secret's value is its owner's alone");
    }
    if standing == InA::Stranger && target != Target::Nothing {
        return Some("nothing crosses orgs");
    }
    let admin = standing == InA::Admin;
    let owner = standing == InA::Owner;
    let auditor = standing == InA::Auditor;
    let grantee = matches!(standing, InA::UseGrantee | InA::ManageGrantee);
    let manager = standing == InA::ManageGrantee;
    let refuse = |allowed: bool, rule: &'static str| (!allowed).then_some(rule);
    match op {
        Op::Public | Op::SelfOnly | Op::Listing => None,
        Op::ReadUser => None,
        Op::AccountWide => match target {
            Target::TwoOrgUser => {
                Some("an account-wide change to a user of several orgs needs an admin of every one")
            }
            _ => refuse(admin, "only an org admin changes a member's account"),
        },
        Op::OrgMembers => refuse(
            admin && matches!(target, Target::OwnOrg),
            "only the org's admins change its members",
        ),
        Op::CreateUserIn => refuse(
            admin && target == Target::OwnOrg,
            "only an org's admins create its users",
        ),
        Op::ReadGroup | Op::GroupAdmin => refuse(
            admin,
            "a group is its admins', owners' and managers' to read and change",
        ),
        Op::CreateGroup => refuse(admin, "only admins create groups"),
        Op::CreateSecret => refuse(
            admin || owner || grantee,
            "viewers, audit viewers and role none own no secrets",
        ),
        Op::CreateConnection => refuse(
            admin || owner || manager || caller == Caller::UseGranteeKey,
            "connections are editors', integration managers' and admins'",
        ),
        Op::AuditRead => refuse(
            admin || auditor,
            "the audit trail is admins' and audit viewers'",
        ),
        Op::ExplainAbout => refuse(
            admin || auditor,
            "questions about other users need an admin or audit viewer",
        ),
        Op::SuperuserOnly => Some("instance-wide: superusers only"),
        // The fixture key is org A's admin's.
        Op::RevokeApiKey => refuse(admin, "an API key is its owner's"),
        Op::Reveal => refuse(owner, "a secret's value is its owner's alone"),
        Op::Read(kind) => match kind {
            // Whether a grantee sees the namespace of a flow it uses,
            // the flow's schedules and runs is not for this matrix.
            Kind::Namespace | Kind::Schedule | Kind::Run if grantee => None,
            Kind::Flow | Kind::Secret if grantee => None,
            _ => refuse(admin || owner, "private unless owned or granted"),
        },
        Op::Edit(kind) => match kind {
            Kind::Flow | Kind::Schedule | Kind::Run if manager => None,
            _ => refuse(
                admin || owner,
                "only the owner, a manage grantee or an admin edits",
            ),
        },
        Op::Run => refuse(
            admin || owner || grantee,
            "a flow runs for whom it is granted",
        ),
        Op::ScheduleFlow => refuse(
            admin || owner || grantee,
            "a flow is scheduled by whom it is granted",
        ),
        Op::GrantOn => refuse(
            admin || owner,
            "only the owner or an admin grants manage; use grantees never share",
        ),
        Op::RevokeGrant => refuse(
            admin || owner || manager,
            "only the owner, a manage grantee or an admin revokes",
        ),
        Op::CreateFlowIn | Op::CreateNamespaceUnder => refuse(
            admin || owner,
            "creating inside a namespace needs it to be owned or managed",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_the_route_shapes_when_classified_then_each_gets_its_operation() {
        assert_eq!(
            op_of("GET", "/api/v1/flows/{id}"),
            Some(Op::Read(Kind::Flow))
        );
        assert_eq!(op_of("PATCH", "/api/v1/users/{id}"), Some(Op::AccountWide));
        assert_eq!(op_of("GET", "/api/v1/runs"), Some(Op::Listing));
        assert_eq!(op_of("POST", "/api/v1/unknown"), None);
    }

    #[test]
    fn given_a_two_org_user_when_an_admin_of_one_org_resets_them_then_it_is_forbidden() {
        assert!(forbidden(Op::AccountWide, Caller::AdminA, Target::TwoOrgUser).is_some());
        assert!(forbidden(Op::AccountWide, Caller::AdminA, Target::OwnOrg).is_none());
        assert!(forbidden(Op::AccountWide, Caller::Superuser, Target::TwoOrgUser).is_none());
    }

    #[test]
    fn given_another_orgs_resource_when_any_member_of_a_acts_then_it_is_forbidden() {
        for caller in [Caller::AdminA, Caller::OwnerA, Caller::UseGranteeKey] {
            assert_eq!(
                forbidden(Op::Read(Kind::Flow), caller, Target::OtherOrg),
                Some("nothing crosses orgs")
            );
        }
        assert_eq!(
            forbidden(Op::Read(Kind::Flow), Caller::AdminB, Target::OtherOrg),
            None
        );
    }
}
