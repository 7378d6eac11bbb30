//! Given/when/then tests of the runs' decisions: requesting a run, a
//! worker starting it, and each step's resolution recorded with its
//! secrets' use, tried as another tenant, a member without a grant, a
//! grant revoked in between, an edited definition, a full queue.

use cairn_core::crypto::MasterKey;
use cairn_core::entropy::SeededEntropy;
use cairn_core::log::NewEvent;
use cairn_projections::access::Who;
use cairn_schemas::{
    Action, ActorRef, EventPayload, GrantLevel, OrgRole, Outcome, ResourceKind, ResourceRef,
    RunStatus, SecretCreated,
};
use serde_json::{Value, json};

use super::execute::{Plan, decide_start};
use super::masking::Masker;
use super::references::Resolver;
use super::{RunLimits, decide_request};
use crate::testing::{Given, facts, id, principal, run_facts};
use crate::vault::Vault;
use crate::{CommandError, Origin};

const ORG: u128 = 0x0a;
const OTHER_ORG: u128 = 0x0b;
const ADA: u128 = 1; // admin
const BOB: u128 = 2; // flow executor, granted the namespace and the secret
const CARL: u128 = 3; // flow editor, owns the namespace, the flow and the secret
const DAN: u128 = 4; // flow executor, granted nothing
const EVE: u128 = 5; // admin of the other org
const NAMESPACE: u128 = 0x40;
const FLOW: u128 = 0x41;
const SECRET: u128 = 0x50;
const NAMESPACE_GRANT: u128 = 0x60;
const SECRET_GRANT: u128 = 0x61;
const CANARY: &str = "canary-run-decisions";

fn definition() -> String {
    json!({"steps": [
        {"id": "call", "type": "http", "method": "POST", "url": "https://example.com/$env.REGION",
         "headers": {"Authorization": "Bearer $secret.API_TOKEN"}},
        {"id": "note", "type": "log", "message": "done"}
    ]})
    .to_string()
}

fn master() -> MasterKey {
    MasterKey::from_bytes([9; 32])
}

fn secret_created() -> NewEvent {
    let sealed = Vault::new(&master()).seal(id(CARL), CANARY.as_bytes(), &SeededEntropy::new(1));
    NewEvent::new(
        Action::SecretCreated,
        ActorRef::SYSTEM,
        ResourceRef {
            kind: ResourceKind::Secret,
            id: Some(id(SECRET)),
        },
        Outcome::Success,
    )
    .in_org(id(ORG))
    .with_payload(EventPayload::SecretCreated(SecretCreated {
        secret_id: id(SECRET),
        org_id: id(ORG),
        owner_id: id(CARL),
        name: "API_TOKEN".into(),
        value: sealed,
        fingerprint: [0; 32],
    }))
}

fn given() -> Given {
    Given::new().events([
        facts::org(id(ORG), "Acme"),
        facts::org(id(OTHER_ORG), "Other"),
        facts::user(id(ADA), "ada", id(ORG), OrgRole::Admin),
        facts::user(id(BOB), "bob", id(ORG), OrgRole::FlowExecutor),
        facts::user(id(CARL), "carl", id(ORG), OrgRole::FlowEditor),
        facts::user(id(DAN), "dan", id(ORG), OrgRole::FlowExecutor),
        facts::user(id(EVE), "eve", id(OTHER_ORG), OrgRole::Admin),
        run_facts::namespace(id(NAMESPACE), id(ORG), id(CARL), "pipelines"),
        run_facts::flow(id(FLOW), (id(ORG), id(NAMESPACE)), id(CARL), &definition()),
        secret_created(),
        run_facts::grant(
            id(NAMESPACE_GRANT),
            id(ORG),
            (ResourceKind::Namespace, id(NAMESPACE)),
            id(BOB),
            (GrantLevel::Use, id(CARL)),
        ),
        run_facts::grant(
            id(SECRET_GRANT),
            id(ORG),
            (ResourceKind::Secret, id(SECRET)),
            id(BOB),
            (GrantLevel::Use, id(CARL)),
        ),
    ])
}

fn revoked(grant: u128) -> NewEvent {
    run_facts::grant_revoked(id(grant), id(ORG))
}

const ENV_ALLOW: &[&str] = &["REGION"];

fn allow() -> Vec<String> {
    ENV_ALLOW.iter().map(|name| (*name).to_string()).collect()
}

fn request(
    given: &Given,
    (by, org): (u128, u128),
    limits: RunLimits<'_>,
    room: bool,
) -> crate::testing::Then<uuid::Uuid> {
    let caller = principal(given.views(), id(by), id(org));
    given.when_repeated(|views, ids| {
        decide_request(
            views,
            ids,
            &caller,
            id(FLOW),
            &Origin::local("t"),
            limits,
            room,
        )
    })
}

fn limits(env_allow: &[String]) -> RunLimits<'_> {
    RunLimits {
        env_allow,
        queued_per_user: 8,
    }
}

#[test]
fn given_a_granted_member_when_requesting_a_run_then_it_is_queued_pinned_to_the_definition_and_its_author()
 {
    let given = given();
    let allow = allow();
    let decided = request(&given, (BOB, ORG), limits(&allow), true).decided();
    let actions: Vec<Action> = decided.events.iter().map(|event| event.action).collect();
    assert_eq!(
        actions,
        vec![Action::RunRequested, Action::RunDefinitionPinned]
    );
    let EventPayload::RunDefinitionPinned(pinned) =
        decided.events[1].payload.clone().expect("payload")
    else {
        panic!("not a pin");
    };
    assert_eq!(pinned.run_id, decided.reply);
    assert_eq!(pinned.author_id, id(CARL));
    assert_eq!(pinned.invoker_id, id(BOB));
    assert_eq!(
        Some(pinned.digest.as_str()),
        given
            .views()
            .flow_versions
            .get(&id(FLOW))
            .map(|v| v.digest.as_str())
    );
}

#[test]
fn given_no_reach_when_requesting_a_run_then_it_is_refused_before_anything_is_recorded() {
    let given = given();
    let allow = allow();
    // Another tenant's admin, and a member of the org with no grant
    for caller in [(EVE, OTHER_ORG), (DAN, ORG)] {
        let refused = request(&given, caller, limits(&allow), true).refused();
        assert!(
            matches!(refused, CommandError::Denied(_) | CommandError::NotFound),
            "{caller:?}: {refused:?}"
        );
    }
}

#[test]
fn given_a_reference_the_invoker_may_not_resolve_when_requesting_then_it_is_refused_naming_it() {
    // $env.REGION is not allowlisted
    let refused = request(&given(), (BOB, ORG), limits(&[]), true).refused();
    assert!(refused.to_string().contains("REGION"), "{refused}");
    // The secret's grant was revoked
    let given = given().events([revoked(SECRET_GRANT)]);
    let allow = allow();
    let refused = request(&given, (BOB, ORG), limits(&allow), true).refused();
    assert!(refused.to_string().contains("API_TOKEN"), "{refused}");
}

#[test]
fn given_limits_when_requesting_then_the_cap_is_429_and_a_full_queue_503_but_only_to_who_may_run() {
    let given = given();
    let allow = allow();
    let capped = RunLimits {
        env_allow: &allow,
        queued_per_user: 0,
    };
    let refused = request(&given, (BOB, ORG), capped, true).refused();
    assert!(
        matches!(refused, CommandError::Limited { .. }),
        "{refused:?}"
    );
    let refused = request(&given, (BOB, ORG), limits(&allow), false).refused();
    assert!(matches!(refused, CommandError::Overloaded), "{refused:?}");
    // A stranger hears what they would hear with room in the queue
    let refused = request(&given, (EVE, OTHER_ORG), limits(&allow), false).refused();
    assert!(
        matches!(refused, CommandError::Denied(_) | CommandError::NotFound),
        "{refused:?}"
    );
}

/// Bob's run requested, its events folded; the run's id.
fn requested(given: &mut Given) -> uuid::Uuid {
    let allow = allow();
    let bob = principal(given.views(), id(BOB), id(ORG));
    given.after(|views, ids| {
        decide_request(
            views,
            ids,
            &bob,
            id(FLOW),
            &Origin::local("t"),
            limits(&allow),
            true,
        )
    })
}

fn finished(decided: &crate::Decided<Option<Plan>>) -> (RunStatus, String) {
    match decided.events[0].payload.clone() {
        Some(EventPayload::RunFinished(finished)) => {
            (finished.status, finished.error.unwrap_or_default())
        }
        other => panic!("not a finish: {other:?}"),
    }
}

#[test]
fn given_a_queued_run_when_a_worker_starts_it_then_it_runs_the_pinned_steps_as_the_invoker() {
    let mut given = given();
    let run = requested(&mut given);
    let decided = given.when(|views, _| decide_start(views, run)).decided();
    assert_eq!(decided.events[0].action, Action::RunStarted);
    let plan = decided.reply.expect("a plan");
    assert_eq!(
        plan.invoker,
        Who {
            user_id: id(BOB),
            org_id: id(ORG)
        }
    );
    let steps: Value = serde_json::from_str(&definition()).expect("json");
    assert_eq!(Value::Array(plan.steps), steps["steps"]);
    // Started once: a second start records nothing
    given.after(|views, _| decide_start(views, run));
    let again = given.when(|views, _| decide_start(views, run)).decided();
    assert!(again.events.is_empty() && again.reply.is_none());
}

#[test]
fn given_access_lost_after_the_request_when_a_worker_starts_it_then_it_is_denied_and_runs_nothing()
{
    let mut given = given();
    let run = requested(&mut given);
    given.fold(revoked(NAMESPACE_GRANT));
    let decided = given.when(|views, _| decide_start(views, run)).decided();
    assert_eq!(decided.reply, None);
    assert_eq!(finished(&decided).0, RunStatus::Denied);
}

#[test]
fn given_the_definition_edited_after_the_request_when_a_worker_starts_it_then_nothing_runs() {
    let mut given = given();
    let run = requested(&mut given);
    given.fold(run_facts::flow_edited(
        id(FLOW),
        (id(ORG), id(NAMESPACE)),
        id(ADA),
        r#"{"steps":[{"id":"x","type":"log","message":"$secret.API_TOKEN"}]}"#,
    ));
    let decided = given.when(|views, _| decide_start(views, run)).decided();
    let (status, reason) = finished(&decided);
    assert_eq!(status, RunStatus::Failed);
    assert!(reason.contains("nothing ran"), "{reason}");
}

fn resolve(
    given: &Given,
    run: uuid::Uuid,
) -> crate::Decided<Result<super::references::ResolvedStep, String>> {
    let vault = Vault::new(&master());
    let allow = allow();
    let env = |name: &str| (name == "REGION").then(|| "eu-1".to_string());
    let resolver = Resolver {
        vault: &vault,
        invoker: Who {
            user_id: id(BOB),
            org_id: id(ORG),
        },
        env_allow: &allow,
        env: &env,
    };
    let steps: Value = serde_json::from_str(&definition()).expect("json");
    let mut masker = Masker::new();
    given
        .when(|views, _| {
            Ok(super::execute::resolve_and_record(
                &resolver,
                views,
                &steps["steps"][0],
                &mut masker,
                (run, id(ORG), id(BOB)),
            ))
        })
        .decided()
}

#[test]
fn given_a_step_when_resolved_then_its_values_are_read_and_each_secrets_use_recorded_in_the_same_decision()
 {
    let mut given = given();
    let run = requested(&mut given);
    let decided = resolve(&given, run);
    let resolved = decided.reply.expect("resolved");
    assert_eq!(resolved.step["url"], "https://example.com/eu-1");
    assert_eq!(
        resolved.step["headers"]["Authorization"],
        format!("Bearer {CANARY}")
    );
    let recorded: Vec<Action> = decided.events.iter().map(|event| event.action).collect();
    assert_eq!(recorded, vec![Action::SecretResolved]);
    // The record names the secret and the invoker, never the value
    let text = format!("{:?}", decided.events);
    assert!(!text.contains(CANARY));
}

#[test]
fn given_the_secrets_grant_revoked_when_the_step_is_resolved_then_nothing_is_read_or_recorded() {
    let mut given = given();
    let run = requested(&mut given);
    given.fold(revoked(SECRET_GRANT));
    let decided = resolve(&given, run);
    assert!(decided.events.is_empty(), "{:?}", decided.events);
    let error = decided.reply.expect_err("not resolved");
    assert!(error.contains("API_TOKEN"), "{error}");
    assert!(!error.contains(CANARY));
}

#[test]
fn given_a_resolved_step_when_shown_for_debugging_then_the_secrets_value_is_not_in_it() {
    let mut given = given();
    let run = requested(&mut given);
    let decided = resolve(&given, run);
    let shown = format!("{decided:?}");
    assert!(!shown.contains(CANARY), "{shown}");
    assert!(
        shown.contains("secret_id") || shown.contains("SecretUse"),
        "{shown}"
    );
}
