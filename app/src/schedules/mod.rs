//! Schedules: a flow run by cron (UTC) as the member who scheduled it,
//! pinned to the definition they scheduled ([`pinning`]). Creating one
//! needs the right to run the flow and a role that may create schedules,
//! a cron no more frequent than `CAIRN_SCHEDULE_MIN_INTERVAL`, and fewer
//! than `CAIRN_SCHEDULES_PER_USER` schedules of one's own; the owner or an
//! admin deletes it; only the owner pauses or re-enables it. The
//! scheduler job fires due schedules ([`fire`]).

pub mod due;
pub mod fire;
pub mod pinning;

#[cfg(test)]
mod decisions_tests;

use cairn_core::log::NewEvent;
use cairn_core::time_format::rfc3339_micros;
use cairn_projections::Views;
use cairn_projections::access::authorize_create;
use cairn_projections::activity::ScheduleRecord;
use cairn_projections::sharing::CatalogEntry;
use cairn_schemas::api::{CreateScheduleRequest, ScheduleBody, UpdateScheduleRequest};
use cairn_schemas::{
    AccessAction, Action, EventPayload, ResourceKind, ResourceRef, ScheduleCreated,
    ScheduleDeleted, SchedulePinned, ScheduleSuspended,
};
use uuid::Uuid;

use super::access::{ActOn, decide_act_on, require, role_denied, who};
use super::namespaces::list_kind;
use super::{App, CommandError, Decided, Origin, Principal};
use cairn_core::IdSource;

pub use fire::fire_due;

/// A schedule as a resource of events.
pub fn schedule_ref(id: Uuid) -> ResourceRef {
    ResourceRef {
        kind: ResourceKind::Schedule,
        id: Some(id),
    }
}

/// A schedule as the API shows it; `next_at` is its next due time after
/// `now` and after the last one accounted for.
pub fn schedule_body(record: &ScheduleRecord, now: i64) -> ScheduleBody {
    let after = record.last_due.map_or(now, |last| last.max(now));
    let next_at = due::parse_cron(&record.cron)
        .ok()
        .and_then(|cron| due::next_after(&cron, after))
        .map(rfc3339_micros);
    ScheduleBody {
        id: record.id,
        org_id: record.org_id,
        flow_id: record.flow_id,
        owner_id: record.owner_id,
        cron: record.cron.clone(),
        next_at,
        created_at: rfc3339_micros(record.created_at),
        enabled: record.enabled(),
        suspended_reason: record
            .suspension
            .as_ref()
            .map(|suspension| suspension.reason.clone()),
        suspended_by: record
            .suspension
            .as_ref()
            .map(|suspension| suspension.by_id),
        pinned_digest: record.pinned_digest.clone(),
    }
}

fn body_of(views: &Views, entry: &CatalogEntry, now: i64) -> Result<ScheduleBody, CommandError> {
    views
        .schedules
        .get(&entry.id)
        .map(|record| schedule_body(record, now))
        .ok_or_else(|| CommandError::internal(format!("schedule {} is not in the views", entry.id)))
}

/// What creating a schedule is held to: `CAIRN_SCHEDULE_MIN_INTERVAL`
/// and `CAIRN_SCHEDULES_PER_USER`.
#[derive(Clone, Copy, Debug)]
pub struct ScheduleLimits {
    /// The shortest interval between due times, in seconds.
    pub min_interval_secs: u64,
    /// Schedules one member may own.
    pub per_user: usize,
}

/// `POST /api/v1/schedules`.
pub async fn create_schedule(
    app: &App,
    principal: &Principal,
    request: CreateScheduleRequest,
    origin: &Origin,
) -> Result<ScheduleBody, CommandError> {
    let limits = ScheduleLimits {
        min_interval_secs: app.settings().schedule_min_interval_secs,
        per_user: app.settings().schedules_per_user,
    };
    let now = app.now();
    let schedule_id = app
        .decide(|views, ids| decide_create(views, ids, principal, &request, origin, (now, limits)))
        .await?;
    let views = app.views();
    let entry = views
        .catalog
        .get_kind(ResourceKind::Schedule, &schedule_id)
        .ok_or_else(|| CommandError::internal("a created schedule is missing"))?;
    body_of(&views, entry, app.now())
}

/// Whether `principal` may schedule the flow with this cron at `now`:
/// `schedule.created` and `schedule.pinned` (the definition it will run)
/// and the new schedule's id, or why not.
pub fn decide_create(
    views: &Views,
    ids: &IdSource,
    principal: &Principal,
    request: &CreateScheduleRequest,
    origin: &Origin,
    (now, limits): (i64, ScheduleLimits),
) -> Result<Decided<Uuid>, CommandError> {
    let cron_text = request.cron.trim().to_string();
    let cron =
        due::parse_cron(&cron_text).map_err(|message| CommandError::invalid("cron", message))?;
    if due::next_after(&cron, now).is_none() {
        return Err(CommandError::invalid("cron", "never comes due"));
    }
    if let Some(refusal) = due::interval_refusal(&cron, now, limits.min_interval_secs) {
        return Err(CommandError::invalid("cron", refusal));
    }
    let flow_id = request.flow_id;
    let flow = require(
        views,
        principal,
        AccessAction::Run,
        ResourceKind::Flow,
        flow_id,
    )?;
    let org_id = flow.org_id;
    if !authorize_create(views, who(principal), ResourceKind::Schedule, None).allowed {
        return Err(role_denied(
            ResourceRef {
                kind: ResourceKind::Schedule,
                id: None,
            },
            format!(
                "org role {} does not allow creating a schedule",
                principal.role
            ),
        ));
    }
    let owned = views.schedules.owned_by(principal.user_id);
    let cap = limits.per_user;
    if owned >= cap {
        return Err(CommandError::Conflict(format!(
            "you own {owned} schedules; at most {cap} are allowed (CAIRN_SCHEDULES_PER_USER)"
        )));
    }
    let version = crate::runs::current_version(views, flow_id)?;
    let schedule_id = ids.new_id();
    let events = vec![
        principal.event(
            Action::ScheduleCreated,
            schedule_ref(schedule_id),
            org_id,
            origin,
            EventPayload::ScheduleCreated(ScheduleCreated {
                schedule_id,
                org_id,
                flow_id,
                owner_id: principal.user_id,
                cron: cron_text,
            }),
        ),
        principal.event(
            Action::SchedulePinned,
            schedule_ref(schedule_id),
            org_id,
            origin,
            EventPayload::SchedulePinned(SchedulePinned {
                schedule_id,
                flow_id,
                digest: version.digest,
                author_id: version.author_id,
            }),
        ),
    ];
    Ok(Decided::new(events, schedule_id))
}

/// `GET /api/v1/schedules`: the caller's own, and for admins their org's.
pub fn list_schedules(
    app: &App,
    principal: &Principal,
    after: Option<Uuid>,
    limit: usize,
) -> (Vec<ScheduleBody>, Option<Uuid>) {
    let now = app.now();
    let (items, next) = list_kind(
        app,
        principal,
        ResourceKind::Schedule,
        after,
        limit,
        |views, entry| body_of(views, entry, now).ok(),
    );
    (items.into_iter().flatten().collect(), next)
}

/// `DELETE /api/v1/schedules/{id}`: by its owner or an admin.
pub async fn delete_schedule(
    app: &App,
    principal: &Principal,
    id: Uuid,
    origin: &Origin,
) -> Result<(), CommandError> {
    app.decide(|views, _| decide_delete(views, principal, id, origin))
        .await
}

/// Whether `principal` may delete schedule `id` (its owner or an admin):
/// `schedule.deleted`, or why not.
pub fn decide_delete(
    views: &Views,
    principal: &Principal,
    id: Uuid,
    origin: &Origin,
) -> Result<Decided<()>, CommandError> {
    let act = ActOn::delete(
        principal,
        (ResourceKind::Schedule, id),
        Action::ScheduleDeleted,
        origin,
    );
    decide_act_on(views, &act, |_, _| {
        Ok(EventPayload::ScheduleDeleted(ScheduleDeleted {
            schedule_id: id,
        }))
    })
}

/// `PATCH /api/v1/schedules/{id}`: only its owner may pause it or
/// re-enable it, because a re-enable makes the flow's current definition
/// run as them; re-enabling pins it to that definition.
pub async fn update_schedule(
    app: &App,
    principal: &Principal,
    id: Uuid,
    request: UpdateScheduleRequest,
    origin: &Origin,
) -> Result<ScheduleBody, CommandError> {
    app.decide(|views, _| decide_update(views, principal, id, &request, origin))
        .await?;
    let views = app.views();
    views
        .schedules
        .get(&id)
        .map(|record| schedule_body(record, app.now()))
        .ok_or_else(|| CommandError::internal(format!("schedule {id} is not in the views")))
}

/// Whether `principal` may pause or re-enable schedule `id` as asked:
/// `schedule.suspended` (paused by its owner) or `schedule.resumed`
/// (pinned to the flow's definition now), nothing when it is already
/// paused, or why not.
pub fn decide_update(
    views: &Views,
    principal: &Principal,
    id: Uuid,
    request: &UpdateScheduleRequest,
    origin: &Origin,
) -> Result<Decided<()>, CommandError> {
    let entry = require(
        views,
        principal,
        AccessAction::Read,
        ResourceKind::Schedule,
        id,
    )?;
    let org_id = entry.org_id;
    let record = views
        .schedules
        .get(&id)
        .ok_or_else(|| CommandError::internal(format!("schedule {id} is not in the views")))?;
    if record.owner_id != principal.user_id {
        return Err(role_denied(
            schedule_ref(id),
            "only the schedule's owner may pause or re-enable it: it runs as them",
        ));
    }
    if !request.enabled {
        if !record.enabled() {
            return Ok(Decided::nothing(()));
        }
        let pinned = record.pinned_digest.clone().unwrap_or_default();
        return Ok(Decided::new(
            vec![principal.event(
                Action::ScheduleSuspended,
                schedule_ref(id),
                org_id,
                origin,
                EventPayload::ScheduleSuspended(ScheduleSuspended {
                    schedule_id: id,
                    flow_id: record.flow_id,
                    by_id: principal.user_id,
                    old_digest: pinned.clone(),
                    new_digest: pinned,
                    reason: pinning::PAUSED_BY_OWNER.into(),
                }),
            )],
            (),
        ));
    }
    // The owner must still be able to run the flow to take it on.
    require(
        views,
        principal,
        AccessAction::Run,
        ResourceKind::Flow,
        record.flow_id,
    )?;
    let version = crate::runs::current_version(views, record.flow_id)?;
    Ok(Decided::new(
        vec![principal.event(
            Action::ScheduleResumed,
            schedule_ref(id),
            org_id,
            origin,
            EventPayload::ScheduleResumed(SchedulePinned {
                schedule_id: id,
                flow_id: record.flow_id,
                digest: version.digest,
                author_id: version.author_id,
            }),
        )],
        (),
    ))
}

/// The events a change of `flow`'s definition from `old_digest` to
/// `new_digest` by `principal` brings to its schedules, decided in the
/// same command as the change: the owner's own schedules are re-pinned,
/// everyone else's suspended, naming the editor and both digests.
pub fn on_flow_change(
    views: &Views,
    principal: &Principal,
    origin: &Origin,
    flow_id: Uuid,
    org_id: Uuid,
    old_digest: Option<&str>,
    new_digest: &str,
) -> Vec<NewEvent> {
    views
        .schedules
        .of_flow(flow_id)
        .filter_map(|schedule| {
            let payload = match pinning::effect_of_flow_change(
                schedule,
                principal.user_id,
                old_digest,
                new_digest,
            ) {
                pinning::FlowChangeEffect::Nothing => return None,
                pinning::FlowChangeEffect::Repin => (
                    Action::SchedulePinned,
                    EventPayload::SchedulePinned(SchedulePinned {
                        schedule_id: schedule.id,
                        flow_id,
                        digest: new_digest.to_string(),
                        author_id: principal.user_id,
                    }),
                ),
                pinning::FlowChangeEffect::Suspend => (
                    Action::ScheduleSuspended,
                    EventPayload::ScheduleSuspended(ScheduleSuspended {
                        schedule_id: schedule.id,
                        flow_id,
                        by_id: principal.user_id,
                        old_digest: schedule
                            .pinned_digest
                            .clone()
                            .or_else(|| old_digest.map(str::to_string))
                            .unwrap_or_default(),
                        new_digest: new_digest.to_string(),
                        reason: pinning::suspended_by_change_reason(),
                    }),
                ),
            };
            let (action, payload) = payload;
            Some(principal.event(action, schedule_ref(schedule.id), org_id, origin, payload))
        })
        .collect()
}
