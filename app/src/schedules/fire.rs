//! One scheduler tick: every enabled schedule with due times since the
//! last one accounted for gets its `schedule.fired` events. A recent due
//! time fires a run of the pinned definition as the schedule's member
//! (actor: the schedule), or, when the member may no longer run the flow,
//! a run recorded as denied with `authorize`'s explanation; older due
//! times are recorded once as missed. A due time that finds the flow's
//! definition no longer the pinned one runs nothing: the schedule is
//! suspended (`schedule.suspended`). Due times come at most once every
//! `CAIRN_SCHEDULE_MIN_INTERVAL`, whatever the cron says (a schedule
//! created before the minimum). Only this job appends `schedule.fired`,
//! so a plan made from a snapshot of the views stays valid until it is
//! appended.

use cairn_core::log::NewEvent;
use cairn_projections::Views;
use cairn_projections::access::{Target, Who, authorize};
use cairn_projections::activity::ScheduleRecord;
use std::collections::HashMap;

use cairn_schemas::{
    AccessAction, Action, ActorKind, ActorRef, EventPayload, FireOutcome, Outcome, ResourceKind,
    RunDefinitionPinned, RunRequested, RunStatus, ScheduleFired, ScheduleSuspended,
};
use uuid::Uuid;

use super::due::{DuePlan, parse_cron, plan};
use super::pinning::fire_refusal;
use super::schedule_ref;
use crate::runs::queue::Place;
use crate::runs::{finished_event, run_ref, unfinished_cap_reached};
use crate::{App, CommandError, Decided};
use cairn_core::IdSource;

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

fn definition_event(schedule: &ScheduleRecord, run_id: Uuid) -> NewEvent {
    NewEvent::new(
        Action::RunDefinitionPinned,
        schedule_actor(schedule.id),
        run_ref(run_id),
        Outcome::Success,
    )
    .in_org(schedule.org_id)
    .with_payload(EventPayload::RunDefinitionPinned(RunDefinitionPinned {
        run_id,
        flow_id: schedule.flow_id,
        digest: schedule.pinned_digest.clone().unwrap_or_default(),
        invoker_id: schedule.owner_id,
        author_id: schedule.pinned_author_id.unwrap_or_default(),
    }))
}

/// `schedule.suspended` by the scheduler: a due time found the flow's
/// definition not the pinned one. The one who made it so is named (the
/// current definition's author), or the system when the flow is gone.
fn suspended_event(views: &Views, schedule: &ScheduleRecord, reason: String) -> NewEvent {
    let current = views.flow_versions.get(&schedule.flow_id);
    NewEvent::new(
        Action::ScheduleSuspended,
        schedule_actor(schedule.id),
        schedule_ref(schedule.id),
        Outcome::Failure,
    )
    .in_org(schedule.org_id)
    .with_payload(EventPayload::ScheduleSuspended(ScheduleSuspended {
        schedule_id: schedule.id,
        flow_id: schedule.flow_id,
        by_id: current.map(|version| version.author_id).unwrap_or_default(),
        old_digest: schedule.pinned_digest.clone().unwrap_or_default(),
        new_digest: current
            .map(|version| version.digest.clone())
            .unwrap_or_default(),
        reason,
    }))
}

/// What firing is held to and may use: `CAIRN_RUNS_QUEUED_PER_USER`, and
/// whether a place in the run queue was reserved for the schedule.
#[derive(Clone, Copy, Debug)]
pub struct FireLimits {
    /// Runs one member may have queued or running.
    pub queued_per_user: usize,
    /// A place in the run queue is held for this schedule's run.
    pub room: bool,
}

/// The events of one schedule's plan, and the id of the run it queued (if
/// any); `pending` counts the runs this batch queued per member (not in
/// the views yet).
fn decide_one(
    views: &Views,
    ids: &IdSource,
    schedule: &ScheduleRecord,
    due: DuePlan,
    limits: FireLimits,
    pending: &mut HashMap<Uuid, usize>,
) -> (Vec<NewEvent>, Option<Uuid>) {
    let mut events = Vec::new();
    // A flow that is gone is the authorization's business (denied, below).
    let current = views
        .flow_versions
        .get(&schedule.flow_id)
        .map(|version| version.digest.as_str());
    if due.fire.is_some()
        && current.is_some()
        && let Some(reason) = fire_refusal(schedule, current)
    {
        tracing::warn!(schedule_id = %schedule.id, "a due time found the flow's definition not the pinned one: the schedule is suspended");
        events.push(suspended_event(views, schedule, reason));
        return (events, None);
    }
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
        return (events, None);
    };
    let (fired, run) = fire_run(views, ids, schedule, due_at, limits, pending);
    events.extend(fired);
    (events, run)
}

/// A due time that fires: the run it requests as the schedule's member,
/// denied when they may no longer run the flow, failed past the cap or
/// without a place in the queue; its id when it is queued.
fn fire_run(
    views: &Views,
    ids: &IdSource,
    schedule: &ScheduleRecord,
    due_at: i64,
    limits: FireLimits,
    pending: &mut HashMap<Uuid, usize>,
) -> (Vec<NewEvent>, Option<Uuid>) {
    let mut events = Vec::new();
    let run_id = ids.new_id();
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
        return (events, None);
    }
    events.push(fired_event(
        schedule,
        due_at,
        FireOutcome::Fired,
        Some(run_id),
        0,
    ));
    events.push(requested_event(schedule, run_id));
    events.push(definition_event(schedule, run_id));
    let queued = pending.entry(schedule.owner_id).or_default();
    if let Some(refusal) = unfinished_cap_reached(
        views.runs.unfinished_of(schedule.owner_id),
        *queued,
        limits.queued_per_user,
    ) {
        events.push(finished_event(
            schedule_actor(schedule.id),
            run_id,
            schedule.org_id,
            RunStatus::Failed,
            Some(refusal),
        ));
        return (events, None);
    }
    if !limits.room {
        events.push(finished_event(
            schedule_actor(schedule.id),
            run_id,
            schedule.org_id,
            RunStatus::Failed,
            Some("the run queue was full".into()),
        ));
        return (events, None);
    }
    *queued += 1;
    (events, Some(run_id))
}

/// Decides a batch of due schedules (as planned from a snapshot of the
/// views) on the views now: their events, and for each schedule (by its
/// place in `batch`) the run it queued. `room[i]` says whether a place in
/// the run queue is held for `batch[i]`. A schedule deleted or suspended
/// since the snapshot fires nothing; its pin is read again too.
pub fn decide_fire(
    views: &Views,
    ids: &IdSource,
    batch: &[(ScheduleRecord, DuePlan)],
    room: &[bool],
    queued_per_user: usize,
) -> Decided<Vec<(usize, Uuid)>> {
    let mut events = Vec::new();
    let mut queued = Vec::new();
    let mut pending = HashMap::new();
    for (index, (snapshot, plan)) in batch.iter().enumerate() {
        let Some(schedule) = views
            .schedules
            .get(&snapshot.id)
            .filter(|schedule| schedule.enabled())
        else {
            continue;
        };
        let limits = FireLimits {
            queued_per_user,
            room: room.get(index).copied().unwrap_or(false),
        };
        let (more, run) = decide_one(views, ids, schedule, *plan, limits, &mut pending);
        events.extend(more);
        if let Some(run_id) = run {
            queued.push((index, run_id));
        }
    }
    Decided::new(events, queued)
}

/// Due times after this (micros) are looked at: after its creation or
/// re-enabling, after the last one accounted for, and at least
/// `min_interval` after that one.
fn looks_after(schedule: &ScheduleRecord, min_interval_secs: u64) -> i64 {
    let min = i64::try_from(min_interval_secs)
        .unwrap_or(i64::MAX)
        .saturating_mul(1_000_000);
    let counts_from = schedule.counts_from();
    schedule.last_due.map_or(counts_from, |last| {
        last.saturating_add(min).saturating_sub(1).max(counts_from)
    })
}

/// Fires what is due now; returns how many schedules had something due.
pub async fn fire_due(app: &App) -> Result<usize, CommandError> {
    let now = app.now();
    let due: Vec<(ScheduleRecord, DuePlan)> = {
        let schedules: Vec<ScheduleRecord> = app.views().schedules.all().cloned().collect();
        let min_interval = app.settings().schedule_min_interval_secs;
        schedules
            .into_iter()
            .filter(ScheduleRecord::enabled)
            .filter_map(|schedule| {
                let cron = parse_cron(&schedule.cron).ok()?;
                let after = looks_after(&schedule, min_interval);
                let due = plan(&cron, after, now);
                (due != DuePlan::default()).then_some((schedule, due))
            })
            .collect()
    };
    let cap = app.settings().runs_queued_per_user;
    for batch in due.chunks(SCHEDULES_PER_BATCH) {
        // Places are reserved before deciding, outside the lock, for the
        // schedules with a due time to fire; those the decision does not
        // use go back when they drop.
        let mut places: Vec<Option<Place<'_>>> = batch
            .iter()
            .map(|(schedule, plan)| {
                plan.fire
                    .and_then(|_| app.run_queue().reserve(schedule.owner_id).ok())
            })
            .collect();
        let room: Vec<bool> = places.iter().map(Option::is_some).collect();
        let queued = app
            .decide(|views, ids| Ok::<_, CommandError>(decide_fire(views, ids, batch, &room, cap)))
            .await?;
        // Durable now: the runs may start.
        for (index, run_id) in queued {
            if let Some(place) = places.get_mut(index).and_then(Option::take) {
                place.send(run_id);
            }
        }
    }
    Ok(due.len())
}
