//! One scheduler tick: every schedule with due times since the last one
//! accounted for gets its `schedule.fired` events. A recent due time fires
//! a run as the schedule's member (actor: the schedule), or, when the
//! member may no longer run the flow, a run recorded as denied with
//! `authorize`'s explanation; older due times are recorded once as missed.
//! Only this job appends `schedule.fired`, so a plan made from a snapshot
//! of the views stays valid until it is appended.

use cairn_core::log::NewEvent;
use cairn_projections::Views;
use cairn_projections::access::{Target, Who, authorize};
use cairn_projections::activity::ScheduleRecord;
use cairn_schemas::{
    AccessAction, Action, ActorKind, ActorRef, EventPayload, FireOutcome, Outcome, ResourceKind,
    RunRequested, RunStatus, ScheduleFired,
};
use tokio::sync::mpsc::Permit;
use uuid::Uuid;

use super::due::{DuePlan, parse_cron, plan};
use super::schedule_ref;
use crate::app::runs::{finished_event, run_ref};
use crate::app::{App, CommandError};

/// Schedules decided in one append (each adds at most four events).
const SCHEDULES_PER_BATCH: usize = 200;

fn schedule_actor(id: Uuid) -> ActorRef {
    ActorRef {
        kind: ActorKind::Schedule,
        id: Some(id),
    }
}

fn fired_event(
    schedule: &ScheduleRecord,
    due_at: i64,
    outcome: FireOutcome,
    run_id: Option<Uuid>,
    missed: u32,
) -> NewEvent {
    NewEvent::new(
        Action::ScheduleFired,
        schedule_actor(schedule.id),
        schedule_ref(schedule.id),
        match outcome {
            FireOutcome::Fired => Outcome::Success,
            FireOutcome::Missed => Outcome::Failure,
            FireOutcome::Denied => Outcome::Denied,
        },
    )
    .in_org(schedule.org_id)
    .with_payload(EventPayload::ScheduleFired(ScheduleFired {
        schedule_id: schedule.id,
        due_at,
        outcome,
        run_id,
        missed,
    }))
}

fn requested_event(schedule: &ScheduleRecord, run_id: Uuid) -> NewEvent {
    NewEvent::new(
        Action::RunRequested,
        schedule_actor(schedule.id),
        run_ref(run_id),
        Outcome::Success,
    )
    .in_org(schedule.org_id)
    .with_payload(EventPayload::RunRequested(RunRequested {
        run_id,
        flow_id: schedule.flow_id,
        org_id: schedule.org_id,
        invoker_id: schedule.owner_id,
        schedule_id: Some(schedule.id),
    }))
}

/// The events of one schedule's plan; a fired run's place in the queue
/// goes to `places`.
fn decide<'q>(
    app: &'q App,
    views: &Views,
    schedule: &ScheduleRecord,
    due: DuePlan,
    places: &mut Vec<(Permit<'q, Uuid>, Uuid)>,
) -> Vec<NewEvent> {
    let mut events = Vec::new();
    if let Some(missed) = due.missed {
        tracing::warn!(schedule_id = %schedule.id, count = missed.count, "due times missed while the server was down");
        events.push(fired_event(
            schedule,
            missed.last,
            FireOutcome::Missed,
            None,
            missed.count,
        ));
    }
    let Some(due_at) = due.fire else {
        return events;
    };
    let run_id = Uuid::now_v7();
    let member = Who {
        user_id: schedule.owner_id,
        org_id: schedule.org_id,
    };
    let decision = authorize(
        views,
        member,
        AccessAction::Run,
        Target {
            kind: ResourceKind::Flow,
            id: schedule.flow_id,
        },
    );
    if !decision.allowed {
        let reason = decision.explain(views, AccessAction::Run, ResourceKind::Flow);
        tracing::info!(schedule_id = %schedule.id, %run_id, "a schedule's member may no longer run its flow: the run is denied");
        events.push(fired_event(
            schedule,
            due_at,
            FireOutcome::Denied,
            Some(run_id),
            0,
        ));
        events.push(requested_event(schedule, run_id));
        events.push(finished_event(
            schedule_actor(schedule.id),
            run_id,
            schedule.org_id,
            RunStatus::Denied,
            Some(reason),
        ));
        return events;
    }
    events.push(fired_event(
        schedule,
        due_at,
        FireOutcome::Fired,
        Some(run_id),
        0,
    ));
    events.push(requested_event(schedule, run_id));
    match app.run_queue().reserve() {
        Ok(place) => places.push((place, run_id)),
        Err(_) => events.push(finished_event(
            schedule_actor(schedule.id),
            run_id,
            schedule.org_id,
            RunStatus::Failed,
            Some("the run queue was full".into()),
        )),
    }
    events
}

/// Fires what is due now; returns how many schedules had something due.
pub async fn fire_due(app: &App) -> Result<usize, CommandError> {
    let now = app.now();
    let due: Vec<(ScheduleRecord, DuePlan)> = {
        let schedules: Vec<ScheduleRecord> = app.views().schedules.all().cloned().collect();
        schedules
            .into_iter()
            .filter_map(|schedule| {
                let cron = parse_cron(&schedule.cron).ok()?;
                let after = schedule
                    .last_due
                    .map_or(schedule.created_at, |last| last.max(schedule.created_at));
                let due = plan(&cron, after, now);
                (due != DuePlan::default()).then_some((schedule, due))
            })
            .collect()
    };
    for batch in due.chunks(SCHEDULES_PER_BATCH) {
        let mut places = Vec::new();
        app.execute(|views| {
            let mut events = Vec::new();
            for (schedule, plan) in batch {
                // Deleted since the snapshot: nothing to fire.
                if views.schedules.get(&schedule.id).is_none() {
                    continue;
                }
                events.extend(decide(app, views, schedule, *plan, &mut places));
            }
            Ok::<_, CommandError>(events)
        })
        .await?;
        // Durable now: the runs may start.
        for (place, run_id) in places {
            place.send(run_id);
        }
    }
    Ok(due.len())
}
