//! Given/when/then tests of creating, pausing and re-enabling schedules,
//! tried as another tenant, a member without a grant, someone other than
//! the owner, past the per-member cap and with crons that are too
//! frequent or never due.

use cairn_schemas::api::{CreateScheduleRequest, UpdateScheduleRequest};
use cairn_schemas::{Action, EventPayload, GrantLevel, OrgRole, ResourceKind};
use uuid::Uuid;

use super::{ScheduleLimits, decide_create, decide_update};
use crate::testing::{Given, Then, facts, id, principal, run_facts};
use crate::{CommandError, Decided, Origin};
use cairn_core::IdSource;
use cairn_projections::Views;

const ORG: u128 = 0x0a;
const OTHER_ORG: u128 = 0x0b;
const ADA: u128 = 1; // admin
const BOB: u128 = 2; // flow executor, granted the namespace
const CARL: u128 = 3; // flow editor, owns the namespace and the flow
const DAN: u128 = 4; // flow executor, granted nothing
const EVE: u128 = 5; // admin of the other org
const NAMESPACE: u128 = 0x40;
const FLOW: u128 = 0x41;
const GRANT: u128 = 0x60;
const DEFINITION: &str = r#"{"steps":[{"id":"note","type":"log","message":"hi"}]}"#;
const LIMITS: ScheduleLimits = ScheduleLimits {
    min_interval_secs: 300,
    per_user: 2,
};

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
        run_facts::flow(id(FLOW), (id(ORG), id(NAMESPACE)), id(CARL), DEFINITION),
        run_facts::grant(
            id(GRANT),
            id(ORG),
            (ResourceKind::Namespace, id(NAMESPACE)),
            id(BOB),
            (GrantLevel::Use, id(CARL)),
        ),
    ])
}

/// The decision of `by` (in `org`) scheduling the flow with `cron`.
fn creating(
    given: &Given,
    (by, org): (u128, u128),
    cron: &str,
    limits: ScheduleLimits,
) -> impl Fn(&Views, &IdSource) -> Result<Decided<Uuid>, CommandError> + use<> {
    let caller = principal(given.views(), id(by), id(org));
    let request = CreateScheduleRequest {
        flow_id: id(FLOW),
        cron: cron.into(),
    };
    let now = given.now();
    move |views, ids| {
        decide_create(
            views,
            ids,
            &caller,
            &request,
            &Origin::local("t"),
            (now, limits),
        )
    }
}

fn create(given: &Given, by: (u128, u128), cron: &str, limits: ScheduleLimits) -> Then<Uuid> {
    given.when_repeated(creating(given, by, cron, limits))
}

#[test]
fn given_a_member_who_may_run_the_flow_when_scheduling_it_then_it_is_created_and_pinned_to_its_definition()
 {
    let given = given();
    let decided = create(&given, (BOB, ORG), " */5 * * * * ", LIMITS).decided();
    let actions: Vec<Action> = decided.events.iter().map(|event| event.action).collect();
    assert_eq!(
        actions,
        vec![Action::ScheduleCreated, Action::SchedulePinned]
    );
    let Some(EventPayload::ScheduleCreated(created)) = decided.events[0].payload.clone() else {
        panic!("not a schedule");
    };
    assert_eq!(
        (created.schedule_id, created.owner_id, created.cron.as_str()),
        (decided.reply, id(BOB), "*/5 * * * *")
    );
    let Some(EventPayload::SchedulePinned(pinned)) = decided.events[1].payload.clone() else {
        panic!("not a pin");
    };
    assert_eq!(pinned.author_id, id(CARL));
}

#[test]
fn given_bad_crons_when_scheduling_then_each_is_refused_naming_the_cron() {
    for cron in ["not a cron", "* * * * *", "0 0 30 2 *", &"1 ".repeat(200)] {
        let refused = create(&given(), (BOB, ORG), cron, LIMITS).refused();
        assert!(
            matches!(refused, CommandError::Invalid { field: "cron", .. }),
            "{cron}: {refused:?}"
        );
    }
}

#[test]
fn given_no_reach_when_scheduling_then_it_is_refused() {
    for caller in [(EVE, OTHER_ORG), (DAN, ORG)] {
        let refused = create(&given(), caller, "0 * * * *", LIMITS).refused();
        assert!(
            matches!(refused, CommandError::Denied(_) | CommandError::NotFound),
            "{caller:?}: {refused:?}"
        );
    }
}

#[test]
fn given_the_cap_reached_when_scheduling_again_then_it_is_a_conflict_naming_the_variable() {
    let mut given = given();
    for cron in ["0 * * * *", "30 * * * *"] {
        let decision = creating(&given, (BOB, ORG), cron, LIMITS);
        given.after(decision);
    }
    let refused = create(&given, (BOB, ORG), "15 * * * *", LIMITS).refused();
    assert!(
        matches!(&refused, CommandError::Conflict(message) if message.contains("CAIRN_SCHEDULES_PER_USER")),
        "{refused:?}"
    );
}

fn update(given: &Given, by: u128, schedule: Uuid, enabled: bool) -> Then<()> {
    let caller = principal(given.views(), id(by), id(ORG));
    let request = UpdateScheduleRequest { enabled };
    given.when(|views, _| decide_update(views, &caller, schedule, &request, &Origin::local("t")))
}

fn scheduled(given: &mut Given) -> Uuid {
    let decision = creating(given, (BOB, ORG), "0 * * * *", LIMITS);
    given.after(decision)
}

#[test]
fn given_a_schedule_when_someone_other_than_its_owner_pauses_it_then_it_is_refused() {
    let mut given = given();
    let schedule = scheduled(&mut given);
    // Even an admin: a re-enable would make the flow run as the owner
    let refused = update(&given, ADA, schedule, false).refused();
    assert!(matches!(refused, CommandError::Denied(_)), "{refused:?}");
    // A member who cannot see it hears it does not exist
    let refused = update(&given, DAN, schedule, true).refused();
    assert!(
        matches!(refused, CommandError::Denied(_) | CommandError::NotFound),
        "{refused:?}"
    );
}

#[test]
fn given_its_owner_when_pausing_and_re_enabling_then_suspended_once_and_resumed_on_the_current_definition()
 {
    let mut given = given();
    let schedule = scheduled(&mut given);
    assert_eq!(
        update(&given, BOB, schedule, false).actions(),
        vec![Action::ScheduleSuspended]
    );
    let bob = principal(given.views(), id(BOB), id(ORG));
    given.after(|views, _| {
        decide_update(
            views,
            &bob,
            schedule,
            &UpdateScheduleRequest { enabled: false },
            &Origin::local("t"),
        )
    });
    // Paused already: nothing more is recorded
    assert_eq!(update(&given, BOB, schedule, false).actions(), vec![]);
    // Carl edits the flow; bob re-enables: pinned to what runs now
    given.fold(run_facts::flow_edited(
        id(FLOW),
        (id(ORG), id(NAMESPACE)),
        id(CARL),
        r#"{"steps":[{"id":"two","type":"log","message":"v2"}]}"#,
    ));
    let decided = update(&given, BOB, schedule, true).decided();
    let Some(EventPayload::ScheduleResumed(pinned)) = decided.events[0].payload.clone() else {
        panic!("not resumed: {:?}", decided.events);
    };
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
fn given_its_owner_lost_access_when_re_enabling_then_it_is_refused() {
    let mut given = given();
    let schedule = scheduled(&mut given);
    let bob = principal(given.views(), id(BOB), id(ORG));
    given.after(|views, _| {
        decide_update(
            views,
            &bob,
            schedule,
            &UpdateScheduleRequest { enabled: false },
            &Origin::local("t"),
        )
    });
    given.fold(crate::testing::run_facts::grant_revoked(id(GRANT), id(ORG)));
    let refused = update(&given, BOB, schedule, true).refused();
    assert!(
        matches!(refused, CommandError::Denied(_) | CommandError::NotFound),
        "{refused:?}"
    );
}

mod firing {
    use super::*;
    use crate::schedules::due::{DuePlan, Missed};
    use crate::schedules::fire::decide_fire;
    use cairn_schemas::RunStatus;

    const AN_HOUR: i64 = 3_600_000_000;

    fn batch(
        given: &Given,
        schedule: Uuid,
        plan: DuePlan,
    ) -> Vec<(cairn_projections::activity::ScheduleRecord, DuePlan)> {
        vec![(
            given
                .views()
                .schedules
                .get(&schedule)
                .expect("scheduled")
                .clone(),
            plan,
        )]
    }

    fn fire_now(given: &Given) -> DuePlan {
        DuePlan {
            missed: None,
            fire: Some(given.now()),
        }
    }

    fn outcomes(decided: &crate::Decided<Vec<(usize, Uuid)>>) -> Vec<String> {
        decided
            .events
            .iter()
            .map(|event| match &event.payload {
                Some(EventPayload::ScheduleFired(fired)) => format!("fired:{:?}", fired.outcome),
                Some(EventPayload::RunFinished(finished)) => {
                    format!("finished:{:?}", finished.status)
                }
                _ => format!("{:?}", event.action),
            })
            .collect()
    }

    #[test]
    fn given_a_due_schedule_with_room_when_fired_then_a_run_of_its_pin_is_queued_as_its_member() {
        let mut given = given();
        let schedule = scheduled(&mut given);
        let due = batch(&given, schedule, fire_now(&given));
        let decided = given
            .when(|views, ids| Ok(decide_fire(views, ids, &due, &[true], 8)))
            .decided();
        assert_eq!(
            outcomes(&decided),
            vec!["fired:Fired", "RunRequested", "RunDefinitionPinned"]
        );
        assert_eq!(decided.reply.len(), 1);
        let Some(EventPayload::RunRequested(requested)) = decided.events[1].payload.clone() else {
            panic!("no request");
        };
        assert_eq!(
            (requested.invoker_id, requested.schedule_id),
            (id(BOB), Some(schedule))
        );
        assert_eq!(decided.reply[0], (0, requested.run_id));
    }

    #[test]
    fn given_missed_due_times_when_fired_then_they_are_recorded_once_as_missed() {
        let mut given = given();
        let schedule = scheduled(&mut given);
        let plan = DuePlan {
            missed: Some(Missed {
                count: 3,
                last: given.now() - AN_HOUR,
            }),
            fire: None,
        };
        let due = batch(&given, schedule, plan);
        let decided = given
            .when(|views, ids| Ok(decide_fire(views, ids, &due, &[false], 8)))
            .decided();
        assert_eq!(outcomes(&decided), vec!["fired:Missed"]);
        assert!(decided.reply.is_empty());
    }

    #[test]
    fn given_the_member_lost_access_when_fired_then_the_run_is_recorded_denied_and_nothing_queued()
    {
        let mut given = given();
        let schedule = scheduled(&mut given);
        given.fold(run_facts::grant_revoked(id(GRANT), id(ORG)));
        let due = batch(&given, schedule, fire_now(&given));
        let decided = given
            .when(|views, ids| Ok(decide_fire(views, ids, &due, &[true], 8)))
            .decided();
        assert_eq!(
            outcomes(&decided),
            vec!["fired:Denied", "RunRequested", "finished:Denied"]
        );
        assert!(decided.reply.is_empty());
    }

    #[test]
    fn given_someone_else_edited_the_flow_when_fired_then_the_schedule_is_suspended_and_runs_nothing()
     {
        let mut given = given();
        let schedule = scheduled(&mut given);
        given.fold(run_facts::flow_edited(
            id(FLOW),
            (id(ORG), id(NAMESPACE)),
            id(CARL),
            r#"{"steps":[{"id":"evil","type":"log","message":"$secret.X"}]}"#,
        ));
        let due = batch(&given, schedule, fire_now(&given));
        let decided = given
            .when(|views, ids| Ok(decide_fire(views, ids, &due, &[true], 8)))
            .decided();
        assert_eq!(decided.events.len(), 1);
        let Some(EventPayload::ScheduleSuspended(suspended)) = decided.events[0].payload.clone()
        else {
            panic!("not suspended: {:?}", decided.events);
        };
        assert_eq!(suspended.by_id, id(CARL));
        assert!(decided.reply.is_empty());
    }

    #[test]
    fn given_the_cap_or_a_full_queue_when_fired_then_the_run_is_recorded_failed_naming_why() {
        let mut given = given();
        let schedule = scheduled(&mut given);
        let due = batch(&given, schedule, fire_now(&given));
        let capped = given
            .when(|views, ids| Ok(decide_fire(views, ids, &due, &[true], 0)))
            .decided();
        assert_eq!(
            outcomes(&capped),
            vec![
                "fired:Fired",
                "RunRequested",
                "RunDefinitionPinned",
                "finished:Failed"
            ]
        );
        let full = given
            .when(|views, ids| Ok(decide_fire(views, ids, &due, &[false], 8)))
            .decided();
        let Some(EventPayload::RunFinished(finished)) = full.events[3].payload.clone() else {
            panic!("not finished");
        };
        assert_eq!(finished.status, RunStatus::Failed);
        assert_eq!(finished.error.as_deref(), Some("the run queue was full"));
        assert!(capped.reply.is_empty() && full.reply.is_empty());
    }

    #[test]
    fn given_a_schedule_paused_since_the_plan_when_fired_then_nothing_is_recorded() {
        let mut given = given();
        let schedule = scheduled(&mut given);
        let due = batch(&given, schedule, fire_now(&given));
        let bob = principal(given.views(), id(BOB), id(ORG));
        given.after(|views, _| {
            decide_update(
                views,
                &bob,
                schedule,
                &UpdateScheduleRequest { enabled: false },
                &Origin::local("t"),
            )
        });
        let decided = given
            .when(|views, ids| Ok(decide_fire(views, ids, &due, &[true], 8)))
            .decided();
        assert!(decided.events.is_empty());
    }
}

#[test]
fn given_a_schedule_when_deleted_then_its_owner_or_an_admin_may_and_nobody_else() {
    let mut given = given();
    let schedule = scheduled(&mut given);
    for (by, allowed) in [(DAN, false), (BOB, true), (ADA, true)] {
        let caller = principal(given.views(), id(by), id(ORG));
        let then = given
            .when(|views, _| super::decide_delete(views, &caller, schedule, &Origin::local("t")));
        if allowed {
            assert_eq!(then.actions(), vec![Action::ScheduleDeleted], "{by}");
        } else {
            let refused = then.refused();
            assert!(
                matches!(refused, CommandError::Denied(_) | CommandError::NotFound),
                "{refused:?}"
            );
        }
    }
}
