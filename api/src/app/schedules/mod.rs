//! Schedules: a flow run by cron (UTC) as the member who scheduled it.
//! Creating one needs the right to run the flow and a role that may create
//! schedules; the owner or an admin deletes it. The scheduler job fires
//! due schedules ([`fire`]).

pub mod due;
pub mod fire;

use cairn_audit::time_format::rfc3339_micros;
use cairn_projections::Views;
use cairn_projections::access::authorize_create;
use cairn_projections::activity::ScheduleRecord;
use cairn_projections::sharing::CatalogEntry;
use cairn_schemas::api::{CreateScheduleRequest, ScheduleBody};
use cairn_schemas::{
    AccessAction, Action, EventPayload, ResourceKind, ResourceRef, ScheduleCreated, ScheduleDeleted,
};
use uuid::Uuid;

use super::access::{act_on, require, role_denied, who};
use super::namespaces::list_kind;
use super::{App, CommandError, Origin, Principal};

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
    }
}

fn body_of(views: &Views, entry: &CatalogEntry, now: i64) -> Result<ScheduleBody, CommandError> {
    views
        .schedules
        .get(&entry.id)
        .map(|record| schedule_body(record, now))
        .ok_or_else(|| CommandError::Internal(format!("schedule {} is not in the views", entry.id)))
}

/// `POST /api/v1/schedules`.
pub async fn create_schedule(
    app: &App,
    principal: &Principal,
    request: CreateScheduleRequest,
    origin: &Origin,
) -> Result<ScheduleBody, CommandError> {
    let cron_text = request.cron.trim().to_string();
    let cron =
        due::parse_cron(&cron_text).map_err(|message| CommandError::invalid("cron", message))?;
    if due::next_after(&cron, app.now()).is_none() {
        return Err(CommandError::invalid("cron", "never comes due"));
    }
    let schedule_id = Uuid::now_v7();
    let flow_id = request.flow_id;
    app.execute(|views| {
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
        Ok(vec![principal.event(
            Action::ScheduleCreated,
            schedule_ref(schedule_id),
            org_id,
            origin,
            EventPayload::ScheduleCreated(ScheduleCreated {
                schedule_id,
                org_id,
                flow_id,
                owner_id: principal.user_id,
                cron: cron_text.clone(),
            }),
        )])
    })
    .await?;
    let views = app.views();
    let entry = views
        .catalog
        .get_kind(ResourceKind::Schedule, &schedule_id)
        .ok_or_else(|| CommandError::Internal("a created schedule is missing".into()))?;
    body_of(&views, entry, app.now())
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
    let kind = ResourceKind::Schedule;
    let action = Action::ScheduleDeleted;
    act_on(
        app,
        principal,
        AccessAction::Delete,
        kind,
        id,
        action,
        origin,
        |_, _| {
            Ok(EventPayload::ScheduleDeleted(ScheduleDeleted {
                schedule_id: id,
            }))
        },
    )
    .await
}
