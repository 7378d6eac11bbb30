//! Issue 14's adversarial matrix, generated from the route table: every
//! route of the API (read from schemas/openapi.json, which cairn-api builds
//! from its route table, so a new route joins
//! the matrix or fails it) × every kind of caller (anonymous, each org
//! role, a member of two orgs with different roles logged into either, an
//! admin of another org, an API key, a grantee at `use` and at `manage`,
//! the superuser) × the resource its `{id}` or body names, in the caller's
//! own org, in the other org, the two-org user, and one that is missing.
//!
//! Asserted: no 2xx where the rules refuse ([`oracle::forbidden`]), never a
//! 5xx, 401 for every protected route without credentials, a resource of
//! another org answers exactly like a missing one (same status and body,
//! ids aside), and no list or read answered to a member of one org holds an
//! id of the other's. The matrix prints its size.

mod oracle;
mod world;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::server::api_client::Answer;

use oracle::{Op, forbidden, only_in_a, op_of, targets};
use world::{CALLERS, Caller, Kind, PASSWORD, Target, World};

/// The API's routes (method, path), as its OpenAPI document lists them.
fn route_table() -> Vec<(String, String)> {
    crate::identity::identity_api::ROUTES
        .iter()
        .map(|(method, path, _)| (method.to_string(), path.to_string()))
        .collect()
}

/// One request of the matrix.
struct Cell {
    method: String,
    path: String,
    body: Option<Value>,
    /// The ids the request names (replaced before answers are compared).
    named: Vec<String>,
}

fn kind_of_id(path: &str) -> Option<Kind> {
    let segment = path.trim_start_matches("/api/v1/").split('/').next()?;
    Some(match segment {
        "users" => Kind::User,
        "orgs" => Kind::Org,
        "groups" => Kind::Group,
        "namespaces" => Kind::Namespace,
        "flows" => Kind::Flow,
        "secrets" => Kind::Secret,
        "connections" => Kind::Connection,
        "grants" => Kind::Grant,
        "runs" => Kind::Run,
        "schedules" => Kind::Schedule,
        "auth" => Kind::ApiKey,
        _ => return None,
    })
}

/// The request of (route, caller, target): ids filled in, and a body valid
/// enough to reach the authorization (names are per route and caller, so
/// the own/other/missing answers can be compared).
fn cell(world: &World, method: &str, path: &str, op: Op, caller: Caller, target: Target) -> Cell {
    let name = format!("mx-{}-{:?}", path.len() * 31 + method.len(), caller).to_lowercase();
    let me = world
        .user_ids
        .get(&caller)
        .cloned()
        .unwrap_or_else(|| world.missing.clone());
    let fixtures = world.fixtures(target);
    let member = fixtures.map_or(world.missing.clone(), |f| f.plain_member.clone());
    let mut named = Vec::new();
    let mut concrete = path.to_string();
    if path.contains("{id}") {
        let kind = kind_of_id(path).expect("a kind for {id}");
        let id = world.id(kind, target);
        concrete = concrete.replace("{id}", &id);
        named.push(id);
    }
    if path.contains("{user_id}") {
        let user = if path.starts_with("/api/v1/groups") {
            fixtures.map_or(world.missing.clone(), |f| f.group_member.clone())
        } else {
            member.clone()
        };
        concrete = concrete.replace("{user_id}", &user);
        named.push(user);
    }
    let body_target = |kind: Kind| world.id(kind, target);
    let flow_definition = json!({"steps": [{"type": "log", "message": "mx"}]});
    let body = match (op, method) {
        (Op::AccountWide, "PATCH") => Some(json!({"password": "Zx9!new-adversary-pw"})),
        (Op::OrgMembers, "POST") => {
            let outsider = if target == Target::OwnOrg {
                world.org_b.plain_member.clone()
            } else {
                world.org_a.plain_member.clone()
            };
            Some(json!({"user_id": outsider, "role": "admin"}))
        }
        (Op::GroupAdmin, "POST") => Some(json!({"user_id": me, "role": "owner"})),
        (Op::GroupAdmin, "PATCH") => Some(json!({"role": "owner"})),
        (Op::Edit(Kind::Flow), "PUT") => {
            let namespace =
                world.fixtures(target).unwrap_or(&world.org_a).ids[&Kind::Namespace].clone();
            Some(json!({"name": name, "namespace_id": namespace, "definition": flow_definition}))
        }
        (Op::Edit(Kind::Namespace), "PATCH") => Some(json!({"name": name})),
        (Op::Edit(Kind::Secret), "PUT") => Some(json!({"value": "rotated-by-the-matrix"})),
        (Op::Edit(Kind::Connection), "PATCH") => Some(json!({"name": name})),
        (Op::Edit(Kind::Schedule), "PATCH") => Some(json!({"enabled": true})),
        (Op::GrantOn, _) => {
            let flow = body_target(Kind::Flow);
            named.push(flow.clone());
            Some(
                json!({"resource_type": "flow", "resource_id": flow, "grantee_type": "user",
                        "grantee_id": me, "level": "manage"}),
            )
        }
        (Op::CreateFlowIn, _) => {
            let namespace = body_target(Kind::Namespace);
            named.push(namespace.clone());
            Some(json!({"name": name, "namespace_id": namespace, "definition": flow_definition}))
        }
        (Op::CreateNamespaceUnder, _) => {
            let namespace = body_target(Kind::Namespace);
            named.push(namespace.clone());
            Some(json!({"name": name, "parent_id": namespace}))
        }
        (Op::ScheduleFlow, _) => {
            let flow = body_target(Kind::Flow);
            named.push(flow.clone());
            Some(json!({"flow_id": flow, "cron": "0 0 1 1 *"}))
        }
        (Op::CreateUserIn, _) => {
            let org = body_target(Kind::Org);
            named.push(org.clone());
            Some(
                json!({"username": name, "password": PASSWORD, "role": "admin",
                        "is_active": true, "org_id": org}),
            )
        }
        (Op::ExplainAbout, _) => {
            let flow = body_target(Kind::Flow);
            concrete = format!(
                "{concrete}?user_id={member}&resource_type=flow&resource_id={flow}&action=read"
            );
            named.push(flow);
            named.push(member.clone());
            None
        }
        (Op::CreateGroup, _) => Some(json!({"name": name})),
        (Op::CreateSecret, _) => Some(json!({"name": name.replace('-', "_").to_uppercase(),
                                             "value": "matrix-created"})),
        (Op::CreateConnection, _) => Some(json!({"name": name, "kind": "postgres",
            "target": {"host": "db.example", "port": 5432, "database": "x"},
            "credentials": {"user": "u", "password": "matrix-conn-pass"}})),
        (Op::SuperuserOnly, "PUT") => Some(world.retention_policy.clone()),
        (Op::SuperuserOnly, "POST") => Some(json!({"name": name})),
        (Op::SelfOnly, "PUT") => Some(json!({"current_password": PASSWORD,
                                             "new_password": "Zx9!new-adversary-pw"})),
        (Op::SelfOnly, "POST") if path.ends_with("api-keys") => Some(json!({"name": name})),
        _ => None,
    };
    Cell {
        method: method.to_string(),
        path: concrete,
        body,
        named,
    }
}

/// An answer with the ids the request named replaced and the request id
/// dropped: what must be equal for a hidden and a missing resource.
fn comparable(answer: &Answer, named: &[String]) -> (u16, String) {
    let mut text = answer.text.clone();
    for id in named {
        text = text.replace(id.as_str(), "<id>");
    }
    let mut json: Value = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
    if let Some(object) = json.as_object_mut() {
        object.remove("request_id");
    }
    (answer.status, json.to_string())
}

/// The ids of one tenant (for the leak check).
fn tenant_ids(world: &World, target: Target) -> Vec<String> {
    let fixtures = world.fixtures(target).expect("tenant");
    let mut ids: Vec<String> = fixtures.ids.values().cloned().collect();
    ids.push(fixtures.plain_member.clone());
    ids
}

#[test]
fn no_caller_gets_an_unexpected_2xx_on_any_route_and_hidden_answers_like_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let world = World::build(&dir.path().join("data"));
    let routes = route_table();
    let mut problems: Vec<String> = Vec::new();
    let mut answers: BTreeMap<(usize, Caller, Target), (u16, String)> = BTreeMap::new();
    let (mut cells, mut sent, mut compared, mut leak_checked) = (0usize, 0usize, 0usize, 0usize);
    let b_ids = tenant_ids(&world, Target::OtherOrg);
    let a_ids = tenant_ids(&world, Target::OwnOrg);

    for (index, (method, path)) in routes.iter().enumerate() {
        let Some(op) = op_of(method, path) else {
            problems.push(format!(
                "{method} {path}: the matrix has no rule for this route"
            ));
            continue;
        };
        if op == Op::Public {
            cells += CALLERS.len();
            continue;
        }
        // Missing first, so the hidden cells compare against it.
        let mut route_targets = targets(op, path);
        route_targets.sort_by_key(|target| *target != Target::Missing);
        for caller in CALLERS {
            for &target in &route_targets {
                cells += 1;
                let rule = forbidden(op, caller, target);
                let listing =
                    matches!(op, Op::Listing | Op::ReadUser) && caller != Caller::Anonymous;
                if rule.is_none() && !listing {
                    continue;
                }
                let request = cell(&world, method, path, op, caller, target);
                let answer = world.call(
                    caller,
                    &request.method,
                    &request.path,
                    request.body.as_ref(),
                );
                sent += 1;
                let what = format!(
                    "{method} {path} as {caller:?} on {target:?} ({})",
                    request.path
                );
                if answer.status >= 500 {
                    problems.push(format!("{what}: {} {}", answer.status, answer.text));
                }
                if let Some(rule) = rule {
                    if (200..300).contains(&answer.status) {
                        problems.push(format!(
                            "{what}: unexpected {} (rule: {rule}): {}",
                            answer.status, answer.text
                        ));
                    }
                    if caller == Caller::Anonymous && answer.status != 401 {
                        problems.push(format!(
                            "{what}: {} without credentials, not 401",
                            answer.status
                        ));
                    }
                    let hidden = rule == "nothing crosses orgs"
                        && matches!(target, Target::OwnOrg | Target::OtherOrg);
                    let seen = comparable(&answer, &request.named);
                    if target == Target::Missing {
                        answers.insert((index, caller, target), seen);
                    } else if hidden {
                        compared += 1;
                        match answers.get(&(index, caller, Target::Missing)) {
                            Some(missing) if *missing == seen => {}
                            Some(missing) => problems.push(format!(
                                "{what}: a hidden resource answers {seen:?}, a missing one {missing:?}"
                            )),
                            None => problems.push(format!("{what}: no missing-resource answer to compare")),
                        }
                    }
                }
                if (200..300).contains(&answer.status) {
                    leak_checked += 1;
                    let foreign: &[String] = if only_in_a(caller) {
                        &b_ids
                    } else if caller == Caller::AdminB {
                        &a_ids
                    } else {
                        &[]
                    };
                    for id in foreign {
                        if let Some(at) = answer.text.find(id.as_str()) {
                            let around = &answer.text
                                [at.saturating_sub(300)..(at + 100).min(answer.text.len())];
                            problems.push(format!(
                                "{what}: the answer holds the other org's {id}: …{around}…"
                            ));
                        }
                    }
                }
            }
        }
    }
    println!(
        "adversarial matrix: {} routes x {} callers x their targets = {cells} cells; \
         {sent} requests sent (every refusal the rules require, and every list), \
         {compared} hidden-vs-missing comparisons, {leak_checked} 2xx answers scanned for the other org's ids",
        routes.len(),
        CALLERS.len(),
    );
    assert!(sent > 500, "the matrix sent only {sent} requests");
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
