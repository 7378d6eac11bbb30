//! The checks beyond the matrix: what each caller's lists hold, what
//! `GET /api/v1/access/explain` says about each caller (and that it agrees
//! with the matrix), and the sharing rules that need a sequence of
//! requests (revocation, the last owner of a group, duplicates, secrets).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use uuid::Uuid;

use super::world::{Actor, USERS, World, definition};

/// Each user's lists hold exactly what they may see.
pub fn check_lists(world: &World, mismatches: &mut Vec<String>) {
    let set =
        |ids: &[&String]| -> BTreeSet<String> { ids.iter().map(|id| (*id).clone()).collect() };
    let system = world.system_namespaces.clone();
    let mut ours = system.clone();
    ours.insert(world.namespace.clone());
    let theirs = world.other_system_namespaces.clone();
    let everything: BTreeSet<String> = ours.union(&theirs).cloned().collect();
    let flow = set(&[&world.flow]);
    let group = set(&[&world.group]);
    let both_groups = set(&[&world.group, &world.outsiders]);
    let both_grants = set(&[&world.manage_grant, &world.use_grant]);
    let readers_grant = set(&[&world.use_grant]);
    let none = BTreeSet::new();
    // Columns: namespaces, flows, groups, grants.
    let expected: [(Actor, [&BTreeSet<String>; 4]); 7] = [
        (Actor::Owner, [&ours, &flow, &group, &both_grants]),
        (Actor::Manager, [&ours, &flow, &group, &both_grants]),
        (Actor::Reader, [&system, &flow, &none, &readers_grant]),
        (Actor::Member, [&system, &none, &none, &none]),
        (Actor::Admin, [&ours, &flow, &both_groups, &both_grants]),
        (Actor::OtherAdmin, [&theirs, &none, &none, &none]),
        (
            Actor::Superuser,
            [&everything, &flow, &both_groups, &both_grants],
        ),
    ];
    let lists = [
        "/api/v1/namespaces",
        "/api/v1/flows",
        "/api/v1/groups",
        "/api/v1/grants",
    ];
    for (actor, sets) in expected {
        for (path, want) in lists.into_iter().zip(sets) {
            let got = world.list(actor, path);
            if &got != want {
                mismatches.push(format!(
                    "GET {path} as {actor:?}: expected {want:?}, got {got:?}"
                ));
            }
        }
    }
}

/// `GET /api/v1/access/explain` about the flow names each user's path,
/// and agrees with what the matrix observed (allowed exactly when the
/// matrix saw a 2xx).
pub fn check_explanations(
    world: &World,
    statuses: &BTreeMap<(&'static str, Actor), u16>,
    mismatches: &mut Vec<String>,
) {
    for actor in USERS {
        for (action, row) in [
            ("read", "GET /flows/{id}"),
            ("edit", "PUT /flows/{id} (unchanged)"),
        ] {
            let answer = world.explain(world.user(actor), action, None);
            let what = format!("explain {action} as {actor:?}: {answer}");
            let allowed = answer["allowed"].as_bool();
            let path = answer["path"].as_str();
            let reason = answer["reason"].as_str().unwrap_or_default();
            let status = statuses.get(&(row, actor)).copied().unwrap_or(0);
            if allowed != Some((200..300).contains(&status)) {
                mismatches.push(format!(
                    "{what}: disagrees with the matrix's {status} for {row}"
                ));
            }
            let right = match actor {
                Actor::Owner => path == Some("owner") && reason.contains("owner"),
                // The grant is on the namespace; the flow inherits it.
                Actor::Manager => {
                    path == Some("grant")
                        && answer["via_group"] == world.group.as_str()
                        && answer["grant_id"] == world.manage_grant.as_str()
                        && reason.contains(&world.manage_grant)
                        && reason.contains(&world.group_name)
                        && reason.contains("manage")
                        && reason.contains(&world.namespace_name)
                        && reason.contains(&world.namespace)
                }
                Actor::Reader => {
                    path == Some("grant")
                        && answer["via_group"].is_null()
                        && answer["grant_id"] == world.use_grant.as_str()
                        && reason.contains(&world.use_grant)
                        && allowed == Some(action == "read")
                }
                Actor::Admin => path == Some("org_admin"),
                Actor::Superuser => path == Some("superuser") && reason.contains("superuser"),
                Actor::Member | Actor::OtherAdmin => {
                    allowed == Some(false) && path.is_none() && reason == "denied: not visible"
                }
                Actor::Deactivated => {
                    allowed == Some(false) && path.is_none() && reason.contains("deactivated")
                }
                Actor::Anonymous | Actor::RevokedKey => true,
            };
            if !right {
                mismatches.push(format!("{what}: not the expected path"));
            }
        }
    }
    // As of a seq: before the reader's grant existed the flow was not
    // visible to them; right after, it was.
    let reader = world.user(Actor::Reader);
    let before = world.explain(reader, "read", Some(world.before_use_grant));
    if before["allowed"] != false || before["reason"] != "denied: not visible" {
        let seq = world.before_use_grant;
        mismatches.push(format!("explain at seq {seq} (before the grant): {before}"));
    }
    let after = world.explain(reader, "read", Some(world.after_use_grant));
    if after["allowed"] != true || after["grant_id"] != world.use_grant.as_str() {
        let seq = world.after_use_grant;
        mismatches.push(format!("explain at seq {seq} (after the grant): {after}"));
    }
}

/// Revocation, the last owner of a group, duplicates, and secrets.
pub fn check_rules(world: &World, mismatches: &mut Vec<String>) {
    let mut expect = |actor: Actor, method: &str, path: &str, body: Option<Value>, status: u16| {
        let answer = world.call(actor, method, path, body.as_ref());
        if answer.status != status {
            mismatches.push(format!(
                "{method} {path} as {actor:?}: expected {status}, got {}: {}",
                answer.status, answer.text
            ));
        }
        answer
    };

    // A revoked grant stops working on the very next request: a direct
    // one...
    let (flow, grant) = world.fresh_flow();
    let flow_path = format!("/api/v1/flows/{flow}");
    expect(Actor::Reader, "GET", &flow_path, None, 200);
    expect(
        Actor::Owner,
        "DELETE",
        &format!("/api/v1/grants/{grant}"),
        None,
        204,
    );
    expect(Actor::Reader, "GET", &flow_path, None, 404);
    // ...and one to a group on the namespace around the flow.
    let body = json!({"name": "revoked-space"});
    let namespace = world.create(Actor::Owner, "/api/v1/namespaces", body);
    let edit = json!({"name": "inner", "namespace_id": namespace, "definition": definition()});
    let inner = world.create(Actor::Owner, "/api/v1/flows", edit.clone());
    let on = ("namespace", namespace.as_str());
    let grant = world.grant(Actor::Owner, on, ("group", &world.group), "manage");
    let inner_path = format!("/api/v1/flows/{inner}");
    expect(Actor::Manager, "PUT", &inner_path, Some(edit.clone()), 200);
    expect(
        Actor::Owner,
        "DELETE",
        &format!("/api/v1/grants/{grant}"),
        None,
        204,
    );
    expect(Actor::Manager, "PUT", &inner_path, Some(edit), 404);
    expect(Actor::Manager, "GET", &inner_path, None, 404);

    // The last owner of a group can be neither removed nor demoted, by
    // themselves, an admin or a superuser; an owner who is not the last
    // can leave.
    let owner = world.user(Actor::Owner);
    let last = format!("/api/v1/groups/{}/members/{owner}", world.group);
    for actor in [Actor::Owner, Actor::Admin, Actor::Superuser] {
        expect(actor, "DELETE", &last, None, 409);
        expect(actor, "PATCH", &last, Some(json!({"role": "manager"})), 409);
        expect(actor, "PATCH", &last, Some(json!({"role": "member"})), 409);
    }
    let shared = world.fresh_group(false);
    let owner_leaves = format!("/api/v1/groups/{shared}/members/{owner}");
    expect(Actor::Owner, "DELETE", &owner_leaves, None, 204);
    let admin = world.user(Actor::Admin);
    let admin_member = format!("/api/v1/groups/{shared}/members/{admin}");
    expect(Actor::Admin, "DELETE", &admin_member, None, 409);
    expect(
        Actor::Admin,
        "PATCH",
        &admin_member,
        Some(json!({"role": "member"})),
        409,
    );

    // A duplicate grant is a conflict, whoever makes it.
    let reader = world.user(Actor::Reader);
    let again = json!({"resource_type": "flow", "resource_id": world.flow, "grantee_type": "user", "grantee_id": reader, "level": "use"});
    expect(
        Actor::Owner,
        "POST",
        "/api/v1/grants",
        Some(again.clone()),
        409,
    );
    expect(Actor::Admin, "POST", "/api/v1/grants", Some(again), 409);
    let again = json!({"resource_type": "namespace", "resource_id": world.namespace, "grantee_type": "group", "grantee_id": world.group, "level": "manage"});
    expect(Actor::Superuser, "POST", "/api/v1/grants", Some(again), 409);

    // Secrets are shared at `use` only: a rule about the request alone,
    // so it is a 422 naming the level whether or not the secret exists.
    let secret = json!({"resource_type": "secret", "resource_id": Uuid::now_v7(), "grantee_type": "user", "grantee_id": reader, "level": "manage"});
    let refused = expect(Actor::Owner, "POST", "/api/v1/grants", Some(secret), 422);
    if refused.json["field"] != "level" {
        mismatches.push(format!(
            "a manage grant on a secret must name the level: {}",
            refused.text
        ));
    }
}
