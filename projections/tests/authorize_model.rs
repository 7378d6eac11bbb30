//! `authorize` against a reference model of docs/contract.md section 4 (as
//! implemented), and the rules of `check_grant`.
//!
//! The model below is written from the rules, not from the code: it keeps
//! plain lists of users, resources, groups and grants, ends memberships and
//! grants eagerly when the rules say they end, and answers "allowed?" and
//! "visible?" by walking the rules in the order the contract states them. The
//! property applies random sequences of sharing events (groups, members,
//! grants, users leaving orgs or being deleted, resources deleted) to both
//! the real `Views` and the model, and after every event compares their
//! answers for every (user, org acted in, resource, action), and checks that
//! the path a decision names exists in the model (the grant, its grantee,
//! the namespace it is on).
//!
//! Proptest prints the shrunk failing case and persists its seed in
//! `tests/authorize_model.proptest-regressions`, replayed first on the next
//! run; a failure message lists the events applied after the fixture,
//! which is the reproduction.

// The helpers outside `#[test]` functions build fixtures: a failure there
// should stop the test loudly, so expect and panic are the right tools.
#![allow(clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use cairn_core::log::codec;
use cairn_projections::Views;
use cairn_projections::access::{
    AccessPath, GrantRefusal, Reason, Target, Who, authorize, check_grant,
};
use cairn_projections::personal_source::NoPersonalData;
use cairn_schemas::{
    AccessAction, Action, ActorRef, EventPayload, FlowCreated, FlowDeleted, GrantCreated,
    GrantLevel, GrantRevoked, GranteeKind, GroupCreated, GroupDeleted, GroupMemberAdded,
    GroupMemberRemoved, GroupMemberRoleChanged, GroupRole, Header, NamespaceCreated,
    NamespaceDeleted, OrgCreated, OrgMemberAdded, OrgMemberRemoved, OrgRole, Outcome,
    RECORD_FORMAT, Record, ResourceKind, ResourceRef, Sealed, UserCreated, UserRef,
};
use proptest::prelude::*;
use proptest::sample::Index;
use uuid::Uuid;

const ACTIONS: [AccessAction; 6] = [
    AccessAction::Read,
    AccessAction::Run,
    AccessAction::Edit,
    AccessAction::Delete,
    AccessAction::Share,
    AccessAction::Reveal,
];

// ---------------------------------------------------------------------------
// Records: the views apply encoded records with gapless seqs from 1.
// ---------------------------------------------------------------------------

/// The views, fed one event at a time as the log would.
struct Log {
    views: Views,
    seq: u64,
}

impl Log {
    fn new() -> Log {
        Log {
            views: Views::new(),
            seq: 0,
        }
    }

    fn apply(&mut self, payload: &EventPayload) {
        self.seq += 1;
        let record = record(self.seq, payload);
        self.views
            .apply(&record, &NoPersonalData)
            .expect("the views apply the record");
    }
}

/// The header fields the views do not read, filled in as the log would.
fn header_of(payload: &EventPayload) -> (Action, ResourceKind, Uuid) {
    match payload {
        EventPayload::OrgCreated(e) => (Action::OrgCreated, ResourceKind::Org, e.org_id),
        EventPayload::UserCreated(e) => (Action::UserCreated, ResourceKind::User, e.user_id),
        EventPayload::UserDeactivated(e) => {
            (Action::UserDeactivated, ResourceKind::User, e.user_id)
        }
        EventPayload::UserDeleted(e) => (Action::UserDeleted, ResourceKind::User, e.user_id),
        EventPayload::OrgMemberAdded(e) => (Action::OrgMemberAdded, ResourceKind::Org, e.org_id),
        EventPayload::OrgMemberRemoved(e) => {
            (Action::OrgMemberRemoved, ResourceKind::Org, e.org_id)
        }
        EventPayload::GroupCreated(e) => (Action::GroupCreated, ResourceKind::Group, e.group_id),
        EventPayload::GroupDeleted(e) => (Action::GroupDeleted, ResourceKind::Group, e.group_id),
        EventPayload::GroupMemberAdded(e) => {
            (Action::GroupMemberAdded, ResourceKind::Group, e.group_id)
        }
        EventPayload::GroupMemberRemoved(e) => {
            (Action::GroupMemberRemoved, ResourceKind::Group, e.group_id)
        }
        EventPayload::GroupMemberRoleChanged(e) => (
            Action::GroupMemberRoleChanged,
            ResourceKind::Group,
            e.group_id,
        ),
        EventPayload::NamespaceCreated(e) => (
            Action::NamespaceCreated,
            ResourceKind::Namespace,
            e.namespace_id,
        ),
        EventPayload::NamespaceDeleted(e) => (
            Action::NamespaceDeleted,
            ResourceKind::Namespace,
            e.namespace_id,
        ),
        EventPayload::FlowCreated(e) => (Action::FlowCreated, ResourceKind::Flow, e.flow_id),
        EventPayload::FlowDeleted(e) => (Action::FlowDeleted, ResourceKind::Flow, e.flow_id),
        EventPayload::GrantCreated(e) => (Action::GrantCreated, ResourceKind::Grant, e.grant_id),
        EventPayload::GrantRevoked(e) => (Action::GrantRevoked, ResourceKind::Grant, e.grant_id),
        other => panic!("this test does not emit {other:?}"),
    }
}

fn record(seq: u64, payload: &EventPayload) -> Record {
    let (action, kind, id) = header_of(payload);
    Record {
        format: RECORD_FORMAT,
        header: Header {
            seq,
            id: Uuid::from_u128(u128::from(seq)),
            at: 1_700_000_000_000_000 + seq as i64,
            org: None,
            actor: ActorRef::SYSTEM,
            action,
            resource: ResourceRef { kind, id: Some(id) },
            outcome: Outcome::Success,
            request_id: None,
            personal: vec![],
            payload_digest: [0; 32],
            prev_hash: [0; 32],
        },
        payload: Some(codec::encode_payload(payload).expect("encode")),
        hash: [0; 32],
    }
}

fn user_created(user_id: Uuid, org_id: Uuid, role: OrgRole, is_superuser: bool) -> EventPayload {
    EventPayload::UserCreated(UserCreated {
        user_id,
        org_id,
        role,
        is_active: true,
        is_superuser,
        // The views keep the sealed hash without opening it.
        credential: Sealed {
            subject: user_id,
            nonce: [0; 24],
            ciphertext: vec![1, 2, 3],
        },
    })
}

fn namespace_created(
    namespace_id: Uuid,
    org_id: Uuid,
    parent_id: Option<Uuid>,
    name: &str,
    owner_id: Option<Uuid>,
) -> EventPayload {
    EventPayload::NamespaceCreated(NamespaceCreated {
        namespace_id,
        org_id,
        parent_id,
        name: name.to_string(),
        owner_id,
        system: owner_id.is_none(),
    })
}

fn flow_created(
    flow_id: Uuid,
    org_id: Uuid,
    namespace_id: Uuid,
    name: &str,
    owner_id: Uuid,
) -> EventPayload {
    EventPayload::FlowCreated(FlowCreated {
        flow_id,
        org_id,
        namespace_id,
        name: name.to_string(),
        owner_id,
        definition: "{}".to_string(),
    })
}

// ---------------------------------------------------------------------------
// The reference model.
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct ModelUser {
    id: Uuid,
    superuser: bool,
    active: bool,
    deleted: bool,
    /// org index -> role.
    orgs: BTreeMap<usize, OrgRole>,
}

#[derive(Clone, Debug)]
struct ModelResource {
    id: Uuid,
    kind: ResourceKind,
    org: usize,
    owner: Option<usize>,
    /// The namespace it sits in (index into resources).
    parent: Option<usize>,
    system: bool,
    deleted: bool,
}

#[derive(Clone, Debug)]
struct ModelGroup {
    id: Uuid,
    org: usize,
    deleted: bool,
    members: BTreeMap<usize, GroupRole>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ModelGrantee {
    User(usize),
    Group(usize),
}

#[derive(Clone, Debug)]
struct ModelGrant {
    id: Uuid,
    resource: usize,
    grantee: ModelGrantee,
    level: GrantLevel,
    live: bool,
}

/// How much access a user has to a resource, best first wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Use,
    Manage,
    Full,
}

/// The model's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Expected {
    allowed: bool,
    visible: bool,
}

const DENIED_HIDDEN: Expected = Expected {
    allowed: false,
    visible: false,
};
const DENIED_VISIBLE: Expected = Expected {
    allowed: false,
    visible: true,
};
const ALLOWED: Expected = Expected {
    allowed: true,
    visible: true,
};

/// The role table for namespaces and flows, restated from docs/contract.md
/// section 4 (and the brief of issue 4), not read from `roles.rs`.
fn model_role_allows(role: OrgRole, action: AccessAction) -> bool {
    use AccessAction::{Read, Run};
    match role {
        OrgRole::Admin | OrgRole::FlowEditor => true,
        OrgRole::FlowExecutor => matches!(action, Read | Run),
        OrgRole::AnalyticsViewer | OrgRole::Viewer => action == Read,
        OrgRole::IntegrationManager | OrgRole::AuditViewer | OrgRole::None => false,
    }
}

#[derive(Clone, Debug)]
struct Model {
    orgs: Vec<Uuid>,
    users: Vec<ModelUser>,
    resources: Vec<ModelResource>,
    groups: Vec<ModelGroup>,
    grants: Vec<ModelGrant>,
}

impl Model {
    fn ancestors(&self, resource: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut next = self.resources[resource].parent;
        while let Some(parent) = next {
            out.push(parent);
            next = self.resources[parent].parent;
        }
        out
    }

    fn covers(&self, grant: &ModelGrant, user: usize) -> bool {
        match grant.grantee {
            ModelGrantee::User(grantee) => grantee == user,
            ModelGrantee::Group(group) => self.groups[group].members.contains_key(&user),
        }
    }

    /// The rules, in the contract's order.
    fn expect(&self, user: usize, org: usize, resource: usize, action: AccessAction) -> Expected {
        let who = &self.users[user];
        if who.deleted || !who.active {
            return DENIED_HIDDEN;
        }
        let role = match who.orgs.get(&org) {
            Some(role) => *role,
            None if who.superuser => OrgRole::Admin,
            None => return DENIED_HIDDEN,
        };
        let target = &self.resources[resource];
        if target.deleted {
            return DENIED_HIDDEN;
        }
        if who.superuser {
            return if action == AccessAction::Reveal {
                DENIED_VISIBLE
            } else {
                ALLOWED
            };
        }
        if target.org != org {
            return DENIED_HIDDEN;
        }
        let mut level: Option<Level> = None;
        let mut offer = |offered: Level| level = level.max(Some(offered));
        if target.owner == Some(user) || role == OrgRole::Admin {
            offer(Level::Full);
        }
        let ancestors = self.ancestors(resource);
        for namespace in &ancestors {
            if self.resources[*namespace].owner == Some(user) {
                offer(Level::Manage);
            }
        }
        for grant in &self.grants {
            let on_path = grant.resource == resource || ancestors.contains(&grant.resource);
            if grant.live && on_path && self.covers(grant, user) {
                offer(match grant.level {
                    GrantLevel::Use => Level::Use,
                    GrantLevel::Manage => Level::Manage,
                });
            }
        }
        if target.system && target.kind == ResourceKind::Namespace {
            offer(Level::Use);
        }
        let Some(level) = level else {
            return DENIED_HIDDEN;
        };
        // Only secrets are revealed, and there are none yet.
        if action == AccessAction::Reveal {
            return DENIED_VISIBLE;
        }
        let needs = match action {
            AccessAction::Read | AccessAction::Run => Level::Use,
            _ => Level::Manage,
        };
        if level < needs {
            return DENIED_VISIBLE;
        }
        if role != OrgRole::Admin && !model_role_allows(role, action) {
            return DENIED_VISIBLE;
        }
        ALLOWED
    }

    /// Whether the path a decision names is one the model knows for this
    /// user and resource.
    fn check_path(
        &self,
        user: usize,
        org: usize,
        resource: usize,
        action: AccessAction,
        allowed: bool,
        path: AccessPath,
    ) -> Result<(), String> {
        let who = &self.users[user];
        let target = &self.resources[resource];
        let ancestors = self.ancestors(resource);
        match path {
            AccessPath::Owner if target.owner == Some(user) && target.org == org => Ok(()),
            AccessPath::Superuser if who.superuser => Ok(()),
            AccessPath::OrgAdmin { org_id }
                if org_id == self.orgs[org]
                    && target.org == org
                    && who.orgs.get(&org) == Some(&OrgRole::Admin) =>
            {
                Ok(())
            }
            AccessPath::NamespaceOwner { namespace_id }
                if ancestors.iter().any(|namespace| {
                    let namespace = &self.resources[*namespace];
                    namespace.id == namespace_id && namespace.owner == Some(user)
                }) =>
            {
                Ok(())
            }
            AccessPath::PublicNamespace { namespace_id }
                if namespace_id == target.id
                    && target.system
                    && target.kind == ResourceKind::Namespace =>
            {
                Ok(())
            }
            AccessPath::Grant {
                grant_id,
                via_group,
                level,
                on_kind,
                on_id,
            } => {
                let Some(grant) = self.grants.iter().find(|grant| grant.id == grant_id) else {
                    return Err(format!("grant {grant_id} is unknown to the model"));
                };
                if !grant.live {
                    return Err(format!("grant {grant_id} has ended in the model"));
                }
                let on = &self.resources[grant.resource];
                if on.id != on_id || on.kind != on_kind || grant.level != level {
                    return Err(format!("grant {grant_id} is {grant:?} in the model"));
                }
                if grant.resource != resource && !ancestors.contains(&grant.resource) {
                    return Err(format!(
                        "grant {grant_id} is on neither the resource nor a namespace above it"
                    ));
                }
                let grantee_matches = match (via_group, grant.grantee) {
                    (None, ModelGrantee::User(grantee)) => grantee == user,
                    (Some(group_id), ModelGrantee::Group(group)) => {
                        self.groups[group].id == group_id
                            && self.groups[group].members.contains_key(&user)
                    }
                    _ => false,
                };
                if !grantee_matches {
                    return Err(format!(
                        "grant {grant_id} (via {via_group:?}) does not cover the user in the model"
                    ));
                }
                let enough = match action {
                    AccessAction::Read | AccessAction::Run => true,
                    _ => level == GrantLevel::Manage,
                };
                if allowed && !enough {
                    return Err(format!("grant {grant_id} at {level} allowed {action}"));
                }
                Ok(())
            }
            other => Err(format!("the model knows no path {other:?}")),
        }
    }
}

// ---------------------------------------------------------------------------
// The fixture: two orgs, users of every kind, a namespace tree and flows.
// ---------------------------------------------------------------------------

const ORG_A: usize = 0;
const ORG_B: usize = 1;

// Users (indexes into `Model::users`).
const ADMIN: usize = 0;
const EDITOR: usize = 1; // flow_editor in A, viewer in B
const EXECUTOR: usize = 2;
const VIEWER: usize = 3;
const NOBODY: usize = 4; // role none
const ANALYST: usize = 5;
const INTEGRATOR: usize = 6;
const SUPERUSER: usize = 7; // a member of A with role none, a non-member of B
const DEACTIVATED: usize = 8;
const OUTSIDER: usize = 9; // flow_editor in B only

/// (user, org they act in): everyone in A, and a few in B (members,
/// a superuser who is not one, and an admin of A who is not one).
const ACTORS: [(usize, usize); 14] = [
    (ADMIN, ORG_A),
    (EDITOR, ORG_A),
    (EXECUTOR, ORG_A),
    (VIEWER, ORG_A),
    (NOBODY, ORG_A),
    (ANALYST, ORG_A),
    (INTEGRATOR, ORG_A),
    (SUPERUSER, ORG_A),
    (DEACTIVATED, ORG_A),
    (OUTSIDER, ORG_A),
    (EDITOR, ORG_B),
    (SUPERUSER, ORG_B),
    (OUTSIDER, ORG_B),
    (ADMIN, ORG_B),
];

fn org_id(index: usize) -> Uuid {
    Uuid::from_u128(0xA000 + index as u128)
}

fn user_id(index: usize) -> Uuid {
    Uuid::from_u128(0x1000 + index as u128)
}

fn resource_id(index: usize) -> Uuid {
    Uuid::from_u128(0x3000 + index as u128)
}

fn group_id(index: usize) -> Uuid {
    Uuid::from_u128(0x4000 + index as u128)
}

fn grant_id(index: usize) -> Uuid {
    Uuid::from_u128(0x5000 + index as u128)
}

/// Builds the fixture in the model and in the views.
fn fixture() -> (Model, Log) {
    let mut model = Model {
        orgs: vec![org_id(ORG_A), org_id(ORG_B)],
        users: Vec::new(),
        resources: Vec::new(),
        groups: Vec::new(),
        grants: Vec::new(),
    };
    let mut log = Log::new();
    for (index, name) in ["a", "b"].into_iter().enumerate() {
        log.apply(&EventPayload::OrgCreated(OrgCreated {
            org_id: org_id(index),
            name: name.to_string(),
        }));
    }
    let users: [(usize, OrgRole, bool); 10] = [
        (ORG_A, OrgRole::Admin, false),
        (ORG_A, OrgRole::FlowEditor, false),
        (ORG_A, OrgRole::FlowExecutor, false),
        (ORG_A, OrgRole::Viewer, false),
        (ORG_A, OrgRole::None, false),
        (ORG_A, OrgRole::AnalyticsViewer, false),
        (ORG_A, OrgRole::IntegrationManager, false),
        (ORG_A, OrgRole::None, true),
        (ORG_A, OrgRole::FlowEditor, false),
        (ORG_B, OrgRole::FlowEditor, false),
    ];
    for (index, (org, role, superuser)) in users.into_iter().enumerate() {
        log.apply(&user_created(user_id(index), org_id(org), role, superuser));
        model.users.push(ModelUser {
            id: user_id(index),
            superuser,
            active: true,
            deleted: false,
            orgs: BTreeMap::from([(org, role)]),
        });
    }
    log.apply(&EventPayload::OrgMemberAdded(OrgMemberAdded {
        org_id: org_id(ORG_B),
        user_id: user_id(EDITOR),
        role: OrgRole::Viewer,
    }));
    model.users[EDITOR].orgs.insert(ORG_B, OrgRole::Viewer);
    log.apply(&EventPayload::UserDeactivated(UserRef {
        user_id: user_id(DEACTIVATED),
    }));
    model.users[DEACTIVATED].active = false;

    // (kind, org, parent, name, owner); a namespace without owner is a
    // public system namespace.
    type Row = (
        ResourceKind,
        usize,
        Option<usize>,
        &'static str,
        Option<usize>,
    );
    let resources: [Row; 14] = [
        (ResourceKind::Namespace, ORG_A, None, "General", None), // 0
        (ResourceKind::Namespace, ORG_A, None, "eng", Some(EDITOR)), // 1
        (
            ResourceKind::Namespace,
            ORG_A,
            Some(1),
            "etl",
            Some(EXECUTOR),
        ), // 2
        (
            ResourceKind::Namespace,
            ORG_A,
            Some(2),
            "daily",
            Some(VIEWER),
        ), // 3
        (ResourceKind::Namespace, ORG_A, None, "ops", Some(SUPERUSER)), // 4
        (ResourceKind::Flow, ORG_A, Some(2), "load", Some(EDITOR)), // 5
        (ResourceKind::Flow, ORG_A, Some(3), "report", Some(NOBODY)), // 6
        (ResourceKind::Flow, ORG_A, Some(0), "hello", Some(EXECUTOR)), // 7
        (ResourceKind::Flow, ORG_A, Some(4), "sync", Some(INTEGRATOR)), // 8
        (ResourceKind::Flow, ORG_A, Some(1), "old", Some(DEACTIVATED)), // 9
        (ResourceKind::Namespace, ORG_B, None, "General", None), // 10
        (ResourceKind::Namespace, ORG_B, None, "b", Some(OUTSIDER)), // 11
        (ResourceKind::Flow, ORG_B, Some(11), "bflow", Some(OUTSIDER)), // 12
        (ResourceKind::Flow, ORG_B, Some(10), "bgen", Some(EDITOR)), // 13
    ];
    for (index, (kind, org, parent, name, owner)) in resources.into_iter().enumerate() {
        let payload = match kind {
            ResourceKind::Namespace => namespace_created(
                resource_id(index),
                org_id(org),
                parent.map(resource_id),
                name,
                owner.map(user_id),
            ),
            _ => flow_created(
                resource_id(index),
                org_id(org),
                resource_id(parent.expect("a flow sits in a namespace")),
                name,
                user_id(owner.expect("a flow has an owner")),
            ),
        };
        log.apply(&payload);
        model.resources.push(ModelResource {
            id: resource_id(index),
            kind,
            org,
            owner,
            parent,
            system: owner.is_none(),
            deleted: false,
        });
    }
    (model, log)
}

// ---------------------------------------------------------------------------
// Commands: picked with `Index`es, resolved against the model's state, so
// that every event is one the command handlers could have made.
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Command {
    CreateGroup {
        org: usize,
        owner: Index,
    },
    DeleteGroup {
        group: Index,
    },
    AddMember {
        group: Index,
        user: Index,
        role: GroupRole,
    },
    RemoveMember {
        group: Index,
        member: Index,
    },
    ChangeMemberRole {
        group: Index,
        member: Index,
        role: GroupRole,
    },
    Grant {
        resource: Index,
        to_group: bool,
        grantee: Index,
        level: GrantLevel,
    },
    Revoke {
        grant: Index,
    },
    LeaveOrg {
        org: usize,
        user: Index,
    },
    JoinOrg {
        org: usize,
        user: Index,
        role: OrgRole,
    },
    DeleteUser {
        user: Index,
    },
    DeleteResource {
        resource: Index,
    },
}

fn group_role() -> impl Strategy<Value = GroupRole> {
    proptest::sample::select(GroupRole::ALL)
}

fn org_role() -> impl Strategy<Value = OrgRole> {
    proptest::sample::select(OrgRole::ALL)
}

fn level() -> impl Strategy<Value = GrantLevel> {
    proptest::sample::select(GrantLevel::ALL)
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        3 => (0..2usize, any::<Index>()).prop_map(|(org, owner)| Command::CreateGroup { org, owner }),
        1 => any::<Index>().prop_map(|group| Command::DeleteGroup { group }),
        6 => (any::<Index>(), any::<Index>(), group_role())
            .prop_map(|(group, user, role)| Command::AddMember { group, user, role }),
        2 => (any::<Index>(), any::<Index>())
            .prop_map(|(group, member)| Command::RemoveMember { group, member }),
        1 => (any::<Index>(), any::<Index>(), group_role())
            .prop_map(|(group, member, role)| Command::ChangeMemberRole { group, member, role }),
        8 => (any::<Index>(), any::<bool>(), any::<Index>(), level()).prop_map(
            |(resource, to_group, grantee, level)| Command::Grant { resource, to_group, grantee, level }
        ),
        2 => any::<Index>().prop_map(|grant| Command::Revoke { grant }),
        1 => (0..2usize, any::<Index>()).prop_map(|(org, user)| Command::LeaveOrg { org, user }),
        1 => (0..2usize, any::<Index>(), org_role())
            .prop_map(|(org, user, role)| Command::JoinOrg { org, user, role }),
        1 => any::<Index>().prop_map(|user| Command::DeleteUser { user }),
        1 => any::<Index>().prop_map(|resource| Command::DeleteResource { resource }),
    ]
}

/// `index` into `candidates`, or `None` when there are none.
fn pick<T: Copy>(candidates: &[T], index: &Index) -> Option<T> {
    (!candidates.is_empty()).then(|| candidates[index.index(candidates.len())])
}

impl Model {
    fn live_users_in(&self, org: usize) -> Vec<usize> {
        (0..self.users.len())
            .filter(|user| !self.users[*user].deleted && self.users[*user].orgs.contains_key(&org))
            .collect()
    }

    fn live_groups_in(&self, org: Option<usize>) -> Vec<usize> {
        (0..self.groups.len())
            .filter(|group| {
                let group = &self.groups[*group];
                !group.deleted && org.is_none_or(|org| group.org == org)
            })
            .collect()
    }

    /// Ends the grants the predicate selects.
    fn end_grants(&mut self, ends: impl Fn(&ModelGrant) -> bool) {
        for grant in &mut self.grants {
            if ends(grant) {
                grant.live = false;
            }
        }
    }

    /// Mirrors the command into the model and returns its event, or
    /// `None` when the command has nothing to act on.
    fn step(&mut self, command: &Command) -> Option<EventPayload> {
        match command {
            Command::CreateGroup { org, owner } => {
                let owner = pick(&self.live_users_in(*org), owner)?;
                let index = self.groups.len();
                self.groups.push(ModelGroup {
                    id: group_id(index),
                    org: *org,
                    deleted: false,
                    members: BTreeMap::from([(owner, GroupRole::Owner)]),
                });
                Some(EventPayload::GroupCreated(GroupCreated {
                    group_id: group_id(index),
                    org_id: self.orgs[*org],
                    name: format!("group {index}"),
                    owner_id: self.users[owner].id,
                }))
            }
            Command::DeleteGroup { group } => {
                let group = pick(&self.live_groups_in(None), group)?;
                self.groups[group].deleted = true;
                self.groups[group].members.clear();
                self.end_grants(|grant| grant.grantee == ModelGrantee::Group(group));
                Some(EventPayload::GroupDeleted(GroupDeleted {
                    group_id: self.groups[group].id,
                }))
            }
            Command::AddMember { group, user, role } => {
                let group = pick(&self.live_groups_in(None), group)?;
                let candidates: Vec<usize> = self
                    .live_users_in(self.groups[group].org)
                    .into_iter()
                    .filter(|user| !self.groups[group].members.contains_key(user))
                    .collect();
                let user = pick(&candidates, user)?;
                self.groups[group].members.insert(user, *role);
                Some(EventPayload::GroupMemberAdded(GroupMemberAdded {
                    group_id: self.groups[group].id,
                    user_id: self.users[user].id,
                    role: *role,
                }))
            }
            Command::RemoveMember { group, member } => {
                let group = pick(&self.live_groups_in(None), group)?;
                let members: Vec<usize> = self.groups[group].members.keys().copied().collect();
                let member = pick(&members, member)?;
                self.groups[group].members.remove(&member);
                Some(EventPayload::GroupMemberRemoved(GroupMemberRemoved {
                    group_id: self.groups[group].id,
                    user_id: self.users[member].id,
                }))
            }
            Command::ChangeMemberRole {
                group,
                member,
                role,
            } => {
                let group = pick(&self.live_groups_in(None), group)?;
                let members: Vec<usize> = self.groups[group].members.keys().copied().collect();
                let member = pick(&members, member)?;
                let previous = self.groups[group].members.insert(member, *role)?;
                Some(EventPayload::GroupMemberRoleChanged(
                    GroupMemberRoleChanged {
                        group_id: self.groups[group].id,
                        user_id: self.users[member].id,
                        previous,
                        role: *role,
                    },
                ))
            }
            Command::Grant {
                resource,
                to_group,
                grantee,
                level,
            } => {
                let live: Vec<usize> = (0..self.resources.len())
                    .filter(|resource| !self.resources[*resource].deleted)
                    .collect();
                let resource = pick(&live, resource)?;
                let org = self.resources[resource].org;
                let (grantee, grantee_kind, grantee_id) = if *to_group {
                    let group = pick(&self.live_groups_in(Some(org)), grantee)?;
                    (
                        ModelGrantee::Group(group),
                        GranteeKind::Group,
                        self.groups[group].id,
                    )
                } else {
                    let user = pick(&self.live_users_in(org), grantee)?;
                    (
                        ModelGrantee::User(user),
                        GranteeKind::User,
                        self.users[user].id,
                    )
                };
                let index = self.grants.len();
                self.grants.push(ModelGrant {
                    id: grant_id(index),
                    resource,
                    grantee,
                    level: *level,
                    live: true,
                });
                let target = &self.resources[resource];
                Some(EventPayload::GrantCreated(GrantCreated {
                    grant_id: grant_id(index),
                    org_id: self.orgs[org],
                    resource_kind: target.kind,
                    resource_id: target.id,
                    grantee_kind,
                    grantee_id,
                    level: *level,
                    granted_by: self.users[ADMIN].id,
                }))
            }
            Command::Revoke { grant } => {
                let live: Vec<usize> = (0..self.grants.len())
                    .filter(|grant| self.grants[*grant].live)
                    .collect();
                let grant = pick(&live, grant)?;
                self.grants[grant].live = false;
                Some(EventPayload::GrantRevoked(GrantRevoked {
                    grant_id: self.grants[grant].id,
                }))
            }
            Command::LeaveOrg { org, user } => {
                let user = pick(&self.live_users_in(*org), user)?;
                self.users[user].orgs.remove(org);
                // Leaving an org leaves its groups.
                for group in &mut self.groups {
                    if group.org == *org {
                        group.members.remove(&user);
                    }
                }
                Some(EventPayload::OrgMemberRemoved(OrgMemberRemoved {
                    org_id: self.orgs[*org],
                    user_id: self.users[user].id,
                }))
            }
            Command::JoinOrg { org, user, role } => {
                let candidates: Vec<usize> = (0..self.users.len())
                    .filter(|user| {
                        !self.users[*user].deleted && !self.users[*user].orgs.contains_key(org)
                    })
                    .collect();
                let user = pick(&candidates, user)?;
                self.users[user].orgs.insert(*org, *role);
                Some(EventPayload::OrgMemberAdded(OrgMemberAdded {
                    org_id: self.orgs[*org],
                    user_id: self.users[user].id,
                    role: *role,
                }))
            }
            Command::DeleteUser { user } => {
                let live: Vec<usize> = (0..self.users.len())
                    .filter(|user| !self.users[*user].deleted)
                    .collect();
                let user = pick(&live, user)?;
                self.users[user].deleted = true;
                self.users[user].orgs.clear();
                for group in &mut self.groups {
                    group.members.remove(&user);
                }
                self.end_grants(|grant| grant.grantee == ModelGrantee::User(user));
                Some(EventPayload::UserDeleted(UserRef {
                    user_id: self.users[user].id,
                }))
            }
            Command::DeleteResource { resource } => {
                // Flows, and empty namespaces other than the system ones.
                let deletable: Vec<usize> = (0..self.resources.len())
                    .filter(|index| {
                        let entry = &self.resources[*index];
                        !entry.deleted
                            && !entry.system
                            && !self
                                .resources
                                .iter()
                                .any(|other| !other.deleted && other.parent == Some(*index))
                    })
                    .collect();
                let resource = pick(&deletable, resource)?;
                self.resources[resource].deleted = true;
                self.end_grants(|grant| grant.resource == resource);
                let entry = &self.resources[resource];
                Some(match entry.kind {
                    ResourceKind::Namespace => EventPayload::NamespaceDeleted(NamespaceDeleted {
                        namespace_id: entry.id,
                    }),
                    _ => EventPayload::FlowDeleted(FlowDeleted { flow_id: entry.id }),
                })
            }
        }
    }
}

/// Compares every answer of `authorize` with the model's.
fn compare(model: &Model, views: &Views, history: &[EventPayload]) -> Result<(), TestCaseError> {
    for (user, org) in ACTORS {
        let who = Who {
            user_id: model.users[user].id,
            org_id: model.orgs[org],
        };
        for (resource, entry) in model.resources.iter().enumerate() {
            let target = Target {
                kind: entry.kind,
                id: entry.id,
            };
            for action in ACTIONS {
                let decision = authorize(views, who, action, target);
                let expected = model.expect(user, org, resource, action);
                let context = || {
                    format!(
                        "user {user} acting in org {org}, {action} on resource {resource} \
                         ({:?} {}): got {decision:?}, the model expects {expected:?}; \
                         events after the fixture: {history:#?}",
                        entry.kind, entry.id
                    )
                };
                prop_assert_eq!(decision.allowed, expected.allowed, "{}", context());
                prop_assert_eq!(decision.visible(), expected.visible, "{}", context());
                if let Some(path) = decision.path()
                    && let Err(why) =
                        model.check_path(user, org, resource, action, decision.allowed, path)
                {
                    prop_assert!(false, "{why}: {}", context());
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn authorize_agrees_with_the_model(commands in prop::collection::vec(command(), 0..40)) {
        let (mut model, mut log) = fixture();
        let mut history = Vec::new();
        compare(&model, &log.views, &history)?;
        for command in &commands {
            let Some(event) = model.step(command) else {
                continue;
            };
            log.apply(&event);
            history.push(event);
            compare(&model, &log.views, &history)?;
        }
    }
}

// ---------------------------------------------------------------------------
// check_grant: who may grant what to whom.
// ---------------------------------------------------------------------------

/// A namespace `shared` owned by `OWNER`, a flow in it, a `manage` grant on
/// it to `MANAGER`, a group `MANAGER` is in and one they are not in, and
/// users and a group in another org.
mod grants {
    use super::*;

    const OWNER: usize = 0;
    const ADMIN: usize = 1;
    const MANAGER: usize = 2;
    const OTHER: usize = 3;
    const STRANGER: usize = 4; // in org B only
    const USER: usize = 5; // a use grantee

    const NAMESPACE: usize = 0;
    const FLOW: usize = 1;

    const MANAGERS_GROUP: usize = 0;
    const OTHERS_GROUP: usize = 1;
    const FOREIGN_GROUP: usize = 2;

    const MANAGE_GRANT: usize = 0;

    fn views() -> Views {
        let mut log = Log::new();
        for org in [ORG_A, ORG_B] {
            log.apply(&EventPayload::OrgCreated(OrgCreated {
                org_id: org_id(org),
                name: format!("org {org}"),
            }));
        }
        for (user, org, role) in [
            (OWNER, ORG_A, OrgRole::FlowEditor),
            (ADMIN, ORG_A, OrgRole::Admin),
            (MANAGER, ORG_A, OrgRole::FlowEditor),
            (OTHER, ORG_A, OrgRole::FlowEditor),
            (STRANGER, ORG_B, OrgRole::FlowEditor),
            (USER, ORG_A, OrgRole::FlowEditor),
        ] {
            log.apply(&user_created(user_id(user), org_id(org), role, false));
        }
        log.apply(&namespace_created(
            resource_id(NAMESPACE),
            org_id(ORG_A),
            None,
            "shared",
            Some(user_id(OWNER)),
        ));
        log.apply(&flow_created(
            resource_id(FLOW),
            org_id(ORG_A),
            resource_id(NAMESPACE),
            "load",
            user_id(OWNER),
        ));
        for (group, org, owner) in [
            (MANAGERS_GROUP, ORG_A, MANAGER),
            (OTHERS_GROUP, ORG_A, OTHER),
            (FOREIGN_GROUP, ORG_B, STRANGER),
        ] {
            log.apply(&EventPayload::GroupCreated(GroupCreated {
                group_id: group_id(group),
                org_id: org_id(org),
                name: format!("group {group}"),
                owner_id: user_id(owner),
            }));
        }
        for (index, (grantee, level)) in [(MANAGER, GrantLevel::Manage), (USER, GrantLevel::Use)]
            .into_iter()
            .enumerate()
        {
            log.apply(&EventPayload::GrantCreated(GrantCreated {
                grant_id: grant_id(MANAGE_GRANT + index),
                org_id: org_id(ORG_A),
                resource_kind: ResourceKind::Namespace,
                resource_id: resource_id(NAMESPACE),
                grantee_kind: GranteeKind::User,
                grantee_id: user_id(grantee),
                level,
                granted_by: user_id(OWNER),
            }));
        }
        log.views
    }

    fn who(user: usize) -> Who {
        Who {
            user_id: user_id(user),
            org_id: org_id(if user == STRANGER { ORG_B } else { ORG_A }),
        }
    }

    fn namespace() -> Target {
        Target {
            kind: ResourceKind::Namespace,
            id: resource_id(NAMESPACE),
        }
    }

    fn flow() -> Target {
        Target {
            kind: ResourceKind::Flow,
            id: resource_id(FLOW),
        }
    }

    fn to_user(user: usize) -> (GranteeKind, Uuid) {
        (GranteeKind::User, user_id(user))
    }

    fn to_group(group: usize) -> (GranteeKind, Uuid) {
        (GranteeKind::Group, group_id(group))
    }

    fn grant(
        views: &Views,
        by: usize,
        target: Target,
        (kind, grantee): (GranteeKind, Uuid),
        level: GrantLevel,
    ) -> Result<AccessPath, GrantRefusal> {
        check_grant(views, who(by), target, kind, grantee, level)
    }

    #[test]
    fn a_manage_grantee_cannot_grant_manage() {
        let views = views();
        for (target, grantee) in [
            (namespace(), to_user(OTHER)),
            (flow(), to_group(MANAGERS_GROUP)),
        ] {
            assert_eq!(
                grant(&views, MANAGER, target, grantee, GrantLevel::Manage),
                Err(GrantRefusal::ManageNeedsOwner)
            );
        }
    }

    #[test]
    fn a_manage_grantee_reshares_at_use_to_their_own_groups_only() {
        let views = views();
        for grantee in [to_user(OTHER), to_user(MANAGER), to_group(OTHERS_GROUP)] {
            assert_eq!(
                grant(&views, MANAGER, flow(), grantee, GrantLevel::Use),
                Err(GrantRefusal::ReshareToOwnGroupsOnly),
                "{grantee:?}"
            );
        }
        // The flow inherits the namespace's grant.
        let path = grant(
            &views,
            MANAGER,
            flow(),
            to_group(MANAGERS_GROUP),
            GrantLevel::Use,
        );
        assert!(
            matches!(
                path,
                Ok(AccessPath::Grant { grant_id: id, via_group: None, level: GrantLevel::Manage, .. })
                    if id == grant_id(MANAGE_GRANT)
            ),
            "{path:?}"
        );
    }

    #[test]
    fn a_use_grantee_cannot_share_at_all() {
        let views = views();
        let refusal = grant(&views, USER, namespace(), to_user(OTHER), GrantLevel::Use);
        assert!(
            matches!(
                refusal,
                Err(GrantRefusal::Denied(decision))
                    if matches!(decision.reason, Reason::LevelTooLow { .. })
            ),
            "{refusal:?}"
        );
    }

    #[test]
    fn a_duplicate_grant_is_refused_with_the_existing_one() {
        let views = views();
        assert_eq!(
            grant(
                &views,
                OWNER,
                namespace(),
                to_user(MANAGER),
                GrantLevel::Manage
            ),
            Err(GrantRefusal::Duplicate(grant_id(MANAGE_GRANT)))
        );
        // The same grantee at the other level is another grant.
        assert_eq!(
            grant(
                &views,
                OWNER,
                namespace(),
                to_user(MANAGER),
                GrantLevel::Use
            ),
            Ok(AccessPath::Owner)
        );
    }

    #[test]
    fn a_grantee_of_another_org_does_not_exist() {
        let views = views();
        for by in [OWNER, ADMIN, MANAGER] {
            for grantee in [to_user(STRANGER), to_group(FOREIGN_GROUP)] {
                assert_eq!(
                    grant(&views, by, namespace(), grantee, GrantLevel::Use),
                    Err(GrantRefusal::NoSuchGrantee),
                    "by {by} to {grantee:?}"
                );
            }
        }
    }

    #[test]
    fn the_owner_and_an_admin_grant_manage_to_anyone_in_the_org() {
        let views = views();
        for grantee in [
            to_user(OTHER),
            to_user(ADMIN),
            to_group(OTHERS_GROUP),
            to_group(MANAGERS_GROUP),
        ] {
            for target in [namespace(), flow()] {
                assert_eq!(
                    grant(&views, OWNER, target, grantee, GrantLevel::Manage),
                    Ok(AccessPath::Owner),
                    "{grantee:?}"
                );
                assert_eq!(
                    grant(&views, ADMIN, target, grantee, GrantLevel::Manage),
                    Ok(AccessPath::OrgAdmin {
                        org_id: org_id(ORG_A)
                    }),
                    "{grantee:?}"
                );
            }
        }
    }
}

/// docs/contract.md section 4: "A superuser (global admin) sees and manages
/// everything", whatever their role in the org and whether or not they own
/// the resource.
mod superuser {
    use super::*;

    const SUPERUSER: usize = 0;
    const NAMESPACE: usize = 0;
    const OWN_FLOW: usize = 1;
    const OTHER_FLOW: usize = 2;
    const SOMEONE: usize = 1;

    #[test]
    fn a_superuser_may_do_everything_but_reveal_on_what_they_own_too() {
        let mut log = Log::new();
        log.apply(&EventPayload::OrgCreated(OrgCreated {
            org_id: org_id(ORG_A),
            name: "a".to_string(),
        }));
        log.apply(&user_created(
            user_id(SUPERUSER),
            org_id(ORG_A),
            OrgRole::Viewer,
            true,
        ));
        log.apply(&user_created(
            user_id(SOMEONE),
            org_id(ORG_A),
            OrgRole::FlowEditor,
            false,
        ));
        log.apply(&namespace_created(
            resource_id(NAMESPACE),
            org_id(ORG_A),
            None,
            "mine",
            Some(user_id(SUPERUSER)),
        ));
        for (flow, owner) in [(OWN_FLOW, SUPERUSER), (OTHER_FLOW, SOMEONE)] {
            log.apply(&flow_created(
                resource_id(flow),
                org_id(ORG_A),
                resource_id(NAMESPACE),
                &format!("flow {flow}"),
                user_id(owner),
            ));
        }
        let who = Who {
            user_id: user_id(SUPERUSER),
            org_id: org_id(ORG_A),
        };
        for (kind, resource) in [
            (ResourceKind::Namespace, NAMESPACE),
            (ResourceKind::Flow, OWN_FLOW),
            (ResourceKind::Flow, OTHER_FLOW),
        ] {
            let target = Target {
                kind,
                id: resource_id(resource),
            };
            for action in ACTIONS {
                let decision = authorize(&log.views, who, action, target);
                assert_eq!(
                    decision.allowed,
                    action != AccessAction::Reveal,
                    "{action} on {kind} {resource}: {decision:?}"
                );
                assert!(decision.visible());
            }
        }
    }
}
