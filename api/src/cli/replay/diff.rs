//! `cairn replay --diff A B`: what changed between two points of the log in
//! who exists, who belongs where with which role, and who was granted
//! what. It compares the views folded to A with the views folded on to B,
//! not the events in between: a user created and deleted between the two
//! points left no trace in either state, so none here.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use cairn_audit::time_format::rfc3339_micros;
use cairn_projections::sharing::GrantRecord;
use cairn_schemas::{GroupRole, OrgRole};
use serde_json::{Value, json};
use uuid::Uuid;

use super::Replay;

/// The parts of the views a diff compares, as of one point.
#[derive(Debug, Default)]
pub(super) struct Snapshot {
    seq: u64,
    at: i64,
    /// user -> (username, active).
    users: BTreeMap<Uuid, (String, bool)>,
    /// (user, org) -> org role.
    roles: BTreeMap<(Uuid, Uuid), OrgRole>,
    /// (group, user) -> group role.
    members: BTreeMap<(Uuid, Uuid), GroupRole>,
    grants: BTreeMap<Uuid, GrantRecord>,
    /// The names of orgs, groups and granted resources, to label lines.
    names: HashMap<Uuid, String>,
}

impl Snapshot {
    /// Copies what a diff compares out of the replayed views.
    pub(super) fn take(replay: &Replay<'_>) -> Snapshot {
        let views = &replay.views;
        let mut snapshot = Snapshot {
            seq: replay.seq(),
            at: replay.last_at,
            ..Snapshot::default()
        };
        for user in views.users.all() {
            snapshot
                .users
                .insert(user.id, (user.username.clone(), user.is_active));
            for (org, role) in views.orgs.memberships_of(&user.id) {
                snapshot.roles.insert((user.id, *org), *role);
            }
        }
        for org in views.orgs.all() {
            snapshot.names.insert(org.id, org.name.clone());
            for group in views.groups.in_org(&org.id) {
                snapshot.names.insert(group.id, group.name.clone());
                for (user, role) in &group.members {
                    snapshot.members.insert((group.id, *user), *role);
                }
            }
            for grant in views.grants.in_org(&org.id) {
                if let Some(entry) = views.catalog.get(&grant.resource_id) {
                    snapshot.names.insert(entry.id, entry.name.clone());
                }
                snapshot.grants.insert(grant.id, *grant);
            }
        }
        snapshot
    }
}

/// Names as of either point: the later one first, the earlier one for
/// what is gone.
struct Names<'s> {
    before: &'s Snapshot,
    after: &'s Snapshot,
}

impl<'s> Names<'s> {
    fn name(&self, id: Uuid) -> Option<&'s str> {
        fn user(snapshot: &Snapshot, id: Uuid) -> Option<&str> {
            snapshot
                .users
                .get(&id)
                .map(|(name, _)| name.as_str())
                .filter(|name| !name.is_empty())
        }
        fn other(snapshot: &Snapshot, id: Uuid) -> Option<&str> {
            snapshot.names.get(&id).map(String::as_str)
        }
        user(self.after, id)
            .or_else(|| user(self.before, id))
            .or_else(|| other(self.after, id))
            .or_else(|| other(self.before, id))
    }

    /// `user "bob" (0190…)`, or without the name when it is unknown.
    fn label(&self, kind: &str, id: Uuid) -> String {
        match self.name(id) {
            Some(name) => format!("{kind} {name:?} ({id})"),
            None => format!("{kind} {id}"),
        }
    }
}

/// The keys whose values differ, with the value before and after.
fn changes<'a, K: Ord, V: PartialEq>(
    before: &'a BTreeMap<K, V>,
    after: &'a BTreeMap<K, V>,
) -> impl Iterator<Item = (&'a K, Option<&'a V>, Option<&'a V>)> {
    let keys: BTreeSet<&K> = before.keys().chain(after.keys()).collect();
    keys.into_iter().filter_map(|key| {
        let (was, is) = (before.get(key), after.get(key));
        (was != is).then_some((key, was, is))
    })
}

/// One change: its line and its JSON.
type Change = (String, Value);

/// The diff as lines of text, or as one JSON object.
pub(super) fn render(before: &Snapshot, after: &Snapshot, as_json: bool) -> String {
    let names = Names { before, after };
    let sections = [
        ("users", user_changes(&names)),
        ("memberships", membership_changes(&names)),
        ("group_members", group_member_changes(&names)),
        ("grants", grant_changes(&names)),
    ];
    if as_json {
        let mut object = json!({"from": before.seq, "to": after.seq});
        for (section, changes) in sections {
            object[section] = Value::Array(changes.into_iter().map(|(_, json)| json).collect());
        }
        return object.to_string();
    }
    let mut lines = vec![format!(
        "from seq {} ({}) to seq {} ({})",
        before.seq,
        rfc3339_micros(before.at),
        after.seq,
        rfc3339_micros(after.at)
    )];
    let header = lines.len();
    for (_, changes) in sections {
        lines.extend(changes.into_iter().map(|(line, _)| line));
    }
    if lines.len() == header {
        lines.push("no change to users, memberships, group members or grants".into());
    }
    lines.join("\n")
}

fn user_changes(names: &Names<'_>) -> Vec<Change> {
    let mut out = Vec::new();
    for (id, was, is) in changes(&names.before.users, &names.after.users) {
        let user = names.label("user", *id);
        let username = names.name(*id);
        let (line, change) = match (was, is) {
            (None, Some((_, active))) => {
                let state = if *active { "active" } else { "inactive" };
                (format!("+ {user} created ({state})"), "created")
            }
            (Some(_), None) => (format!("- {user} deleted"), "deleted"),
            (Some(_), Some((_, true))) => (format!("~ {user} activated"), "activated"),
            _ => (format!("~ {user} deactivated"), "deactivated"),
        };
        out.push((
            line,
            json!({"change": change, "user_id": id, "username": username}),
        ));
    }
    for ((user_id, org_id), was, is) in changes(&names.before.roles, &names.after.roles) {
        let (Some(was), Some(is)) = (was, is) else {
            continue;
        };
        out.push((
            format!(
                "~ {} role in {}: {was} -> {is}",
                names.label("user", *user_id),
                names.label("org", *org_id)
            ),
            json!({
                "change": "role_changed", "user_id": user_id, "username": names.name(*user_id),
                "org_id": org_id, "org": names.name(*org_id), "from": was.as_str(), "to": is.as_str(),
            }),
        ));
    }
    out
}

fn membership_changes(names: &Names<'_>) -> Vec<Change> {
    let mut out = Vec::new();
    for ((user_id, org_id), was, is) in changes(&names.before.roles, &names.after.roles) {
        let place = format!(
            "{} in {}",
            names.label("user", *user_id),
            names.label("org", *org_id)
        );
        let (line, change, role) = match (was, is) {
            (None, Some(role)) => (format!("+ membership: {place} as {role}"), "added", role),
            (Some(role), None) => (
                format!("- membership: {place} (was {role})"),
                "removed",
                role,
            ),
            _ => continue,
        };
        out.push((
            line,
            json!({
                "change": change, "user_id": user_id, "username": names.name(*user_id),
                "org_id": org_id, "org": names.name(*org_id), "role": role.as_str(),
            }),
        ));
    }
    out
}

fn group_member_changes(names: &Names<'_>) -> Vec<Change> {
    let mut out = Vec::new();
    for ((group_id, user_id), was, is) in changes(&names.before.members, &names.after.members) {
        let place = format!(
            "{} in {}",
            names.label("user", *user_id),
            names.label("group", *group_id)
        );
        let (line, mut json) = match (was, is) {
            (None, Some(role)) => (
                format!("+ group member: {place} as {role}"),
                json!({"change": "added", "role": role.as_str()}),
            ),
            (Some(role), None) => (
                format!("- group member: {place} (was {role})"),
                json!({"change": "removed", "role": role.as_str()}),
            ),
            (Some(was), Some(is)) => (
                format!("~ group member: {place}: {was} -> {is}"),
                json!({"change": "role_changed", "from": was.as_str(), "to": is.as_str()}),
            ),
            (None, None) => continue,
        };
        json["group_id"] = json!(group_id);
        json["group"] = json!(names.name(*group_id));
        json["user_id"] = json!(user_id);
        json["username"] = json!(names.name(*user_id));
        out.push((line, json));
    }
    out
}

fn grant_changes(names: &Names<'_>) -> Vec<Change> {
    let mut out = Vec::new();
    for (id, was, is) in changes(&names.before.grants, &names.after.grants) {
        let (sign, change, grant) = match (was, is) {
            (None, Some(grant)) => ('+', "created", grant),
            (Some(grant), None) => ('-', "revoked", grant),
            _ => continue,
        };
        let resource_kind = grant.resource_kind.as_str();
        let grantee_kind = grant.grantee_kind.as_str();
        out.push((
            format!(
                "{sign} grant {id}: {} to {} at {}",
                names.label(resource_kind, grant.resource_id),
                names.label(grantee_kind, grant.grantee_id),
                grant.level
            ),
            json!({
                "change": change, "grant_id": id,
                "resource_type": resource_kind, "resource_id": grant.resource_id,
                "resource": names.name(grant.resource_id),
                "grantee_type": grantee_kind, "grantee_id": grant.grantee_id,
                "grantee": names.name(grant.grantee_id), "level": grant.level.as_str(),
            }),
        ));
    }
    out
}
