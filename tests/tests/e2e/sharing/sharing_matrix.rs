//! Issue 4's must-shows, end to end on one server: the sharing matrix
//! (every group, catalog and grant endpoint for every kind of caller, with
//! zero unexpected allows and invisible resources answered exactly like
//! missing ones), what each caller's lists hold, the sharing rules
//! (revocation on the next request, the last owner of a group, duplicate
//! grants, re-sharing by a `manage` grantee), `GET /api/v1/access/explain`
//! naming the path for each caller and agreeing with the matrix, and the
//! event behind every refusal.
//!
//! One server serves all the checks, so they run in one test, in an order
//! that keeps the fixtures intact: rows that change something work on
//! fresh resources made for them (or change nothing, like a rename to the
//! same name), and the events are read once the server has stopped. Every
//! mismatch is collected and reported together.

mod rows;
mod rules;
mod world;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::support::events;

use rows::ROWS;
use world::{ACTORS, Actor, World};

/// A refusal the matrix saw, to find its event once the server stopped.
struct Refusal {
    row: &'static str,
    actor: Actor,
    seq: u64,
    status: u16,
    path: String,
    target: String,
    target_kind: &'static str,
    /// The caller's user id, when they authenticated.
    caller: Option<String>,
}

/// What the matrix observed: the mismatches, the refusals, and the status
/// of every (row, actor).
#[derive(Default)]
struct Observed {
    mismatches: Vec<String>,
    refusals: Vec<Refusal>,
    statuses: BTreeMap<(&'static str, Actor), u16>,
}

/// Asks every row of every caller, and checks each answer: its status,
/// the number of events it appended (one per refusal, none per read), and
/// for a resource the caller may not see, that the answer is the same as
/// for one that does not exist.
fn run_matrix(world: &World) -> Observed {
    let mut observed = Observed::default();
    for row in ROWS {
        for (column, actor) in ACTORS.iter().copied().enumerate() {
            let expected = row.expect[column];
            let request = (row.prepare)(world);
            let before = world.api.seq();
            let answer = world.call(actor, request.method, &request.path, request.body.as_ref());
            let after = world.api.seq();
            let what = format!("{} as {actor:?}", row.what);
            observed.statuses.insert((row.what, actor), answer.status);
            if answer.status != expected {
                observed.mismatches.push(format!(
                    "{what}: expected {expected}, got {}: {}",
                    answer.status, answer.text
                ));
                continue;
            }
            let appended = after - before;
            if answer.status >= 400 {
                if appended != 1 {
                    observed.mismatches.push(format!(
                        "{what}: a refusal must append exactly one event, appended {appended}"
                    ));
                }
                observed.refusals.push(Refusal {
                    row: row.what,
                    actor,
                    seq: after,
                    status: answer.status,
                    path: request.path.split('?').next().unwrap_or_default().into(),
                    target: request.target.clone(),
                    target_kind: request.target_kind,
                    caller: (answer.status != 401)
                        .then(|| world.user_ids.get(&actor).cloned())
                        .flatten(),
                });
            } else if request.method == "GET" && appended != 0 {
                observed
                    .mismatches
                    .push(format!("{what}: a read appended {appended} events"));
            } else if request.method != "GET" && appended == 0 {
                observed
                    .mismatches
                    .push(format!("{what}: a change appended nothing"));
            }
            // Not visible is answered exactly like missing: 404 (and 422
            // for a namespace named in a body).
            if matches!(expected, 404 | 422) && !request.target.is_empty() {
                let missing = request.about_a_missing_one();
                let absent =
                    world.call(actor, missing.method, &missing.path, missing.body.as_ref());
                let same = absent.status == answer.status
                    && absent.without_request_id() == answer.without_request_id()
                    && absent.headers.get("content-type") == answer.headers.get("content-type");
                if !same {
                    observed.mismatches.push(format!(
                        "{what}: hidden and missing differ: {} vs {} {}",
                        answer.text, absent.status, absent.text
                    ));
                }
            }
        }
    }
    observed
}

/// Every refusal of the matrix appended an event naming who was refused
/// and what: `authz.denied` with the method, path, status and (for 403 and
/// 404) the resource and a reason; a 422 is an `http.request` failure.
/// And the must-show: the foreign flow's 404 is in the trail.
fn check_refusal_events(
    all: &[Value],
    refusals: &[Refusal],
    flow: &str,
    mismatches: &mut Vec<String>,
) {
    let by_seq: BTreeMap<u64, &Value> = all
        .iter()
        .filter_map(|event| event["seq"].as_u64().map(|seq| (seq, event)))
        .collect();
    let mut anonymous = Vec::new();
    for refusal in refusals {
        let what = format!("the event of {} as {:?}", refusal.row, refusal.actor);
        let Some(event) = by_seq.get(&refusal.seq) else {
            mismatches.push(format!("{what}: no event at seq {}", refusal.seq));
            continue;
        };
        let details = &event["details"];
        let expected_action = if refusal.status == 422 {
            "http.request"
        } else {
            "authz.denied"
        };
        let mut right = event["action"] == expected_action
            && details["status"] == refusal.status
            && details["path"] == refusal.path.as_str();
        if matches!(refusal.status, 403 | 404) {
            right &= details["reason"]
                .as_str()
                .is_some_and(|reason| !reason.is_empty());
            if !refusal.target.is_empty() {
                right &= event["resource"]["type"] == refusal.target_kind
                    && event["resource"]["id"] == refusal.target.as_str();
            }
        }
        if !right {
            mismatches.push(format!(
                "{what}: {} {} {} {}",
                event["action"], event["actor"], event["resource"], details
            ));
        }
        if let Some(caller) = &refusal.caller
            && event["actor"]["id"] != caller.as_str()
        {
            anonymous.push(format!("{what}: actor {}", event["actor"]));
        }
    }
    // One line for them all: a refusal must name the caller who was refused.
    if let Some(first) = anonymous.first() {
        mismatches.push(format!(
            "{} of {} refusals of authenticated callers were recorded without their caller, e.g. {first}",
            anonymous.len(),
            refusals.iter().filter(|refusal| refusal.caller.is_some()).count()
        ));
    }

    // Must show: another org's admin asking for our flow got a 404, and
    // the trail says which flow and why.
    let flow_path = format!("/api/v1/flows/{flow}");
    let found = all.iter().any(|event| {
        event["action"] == "authz.denied"
            && event["outcome"] == "denied"
            && event["resource"]["type"] == "flow"
            && event["resource"]["id"] == flow
            && event["details"]["method"] == "GET"
            && event["details"]["path"] == flow_path.as_str()
            && event["details"]["status"] == 404
            && event["details"]["action"] == "read"
            && event["details"]["reason"]
                .as_str()
                .is_some_and(|reason| reason.contains("not visible"))
    });
    if !found {
        mismatches.push(format!(
            "no authz.denied event names the foreign flow {flow} with a reason"
        ));
    }
}

#[test]
fn every_sharing_endpoint_answers_every_caller_as_the_rules_say() {
    let (_dir, world) = world::world();
    let mut mismatches = Vec::new();
    rules::check_lists(&world, &mut mismatches);
    let observed = run_matrix(&world);
    let cases = ROWS.len() * ACTORS.len();
    mismatches.extend(observed.mismatches.iter().cloned());
    rules::check_explanations(&world, &observed.statuses, &mut mismatches);
    rules::check_rules(&world, &mut mismatches);
    // The events are read from the stopped server's data dir.
    let World {
        api,
        data_dir,
        flow,
        ..
    } = world;
    let key = api.key.clone();
    assert_eq!(api.server.stop(), Some(0), "a clean stop");
    check_refusal_events(
        &events(&data_dir, &key),
        &observed.refusals,
        &flow,
        &mut mismatches,
    );
    assert!(
        mismatches.is_empty(),
        "{} mismatches (the matrix has {cases} cases):\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
