//! `/api/v1/schedules`: flows run by cron as the member who scheduled them.

use axum::Json;
use axum::http::StatusCode;
use cairn_schemas::api::{CreateScheduleRequest, Page, ScheduleBody, UpdateScheduleRequest};

use cairn_app::schedules;

use super::caller::Caller;
use super::json_body::JsonBody;
use super::params::{ListParams, PathIds};
use super::problem::{ApiError, Problem};

/// `POST /api/v1/schedules`.
#[utoipa::path(post, path = "/api/v1/schedules", tag = "runs", request_body = CreateScheduleRequest, responses((status = 201, body = ScheduleBody), (status = 404, description = "the flow is not found or not visible", body = Problem, content_type = "application/problem+json"), (status = 409, description = "the caller owns as many schedules as `CAIRN_SCHEDULES_PER_USER` allows", body = Problem, content_type = "application/problem+json"), (status = 422, description = "a field is invalid (an invalid cron expression, or one that comes due more often than `CAIRN_SCHEDULE_MIN_INTERVAL` allows, names `cron`)", body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    caller: Caller,
    JsonBody(request): JsonBody<CreateScheduleRequest>,
) -> Result<(StatusCode, Json<ScheduleBody>), ApiError> {
    let schedule =
        schedules::create_schedule(&caller.app, &caller.principal, request, &caller.origin).await?;
    Ok((StatusCode::CREATED, Json(schedule)))
}

/// `GET /api/v1/schedules`.
#[utoipa::path(get, path = "/api/v1/schedules", tag = "runs", params(("limit" = Option<usize>, Query), ("after" = Option<uuid::Uuid>, Query)), responses((status = 200, body = Page<ScheduleBody>)))]
pub async fn list(caller: Caller, params: ListParams) -> Json<Page<ScheduleBody>> {
    let (items, next) =
        schedules::list_schedules(&caller.app, &caller.principal, params.after, params.limit);
    Json(Page {
        items,
        next: next.map(|id| id.to_string()),
    })
}

/// `DELETE /api/v1/schedules/{id}`.
#[utoipa::path(delete, path = "/api/v1/schedules/{id}", tag = "runs", params(("id" = uuid::Uuid, Path)), responses((status = 204, description = "deleted")))]
pub async fn delete(caller: Caller, PathIds(ids): PathIds) -> Result<StatusCode, ApiError> {
    let id = super::params::first(&ids)?;
    schedules::delete_schedule(&caller.app, &caller.principal, id, &caller.origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PATCH /api/v1/schedules/{id}`: `{"enabled":true}` re-enables it pinned
/// to the flow's current definition, `{"enabled":false}` pauses it; only
/// its owner may (it runs as them).
#[utoipa::path(patch, path = "/api/v1/schedules/{id}", tag = "runs", params(("id" = uuid::Uuid, Path)), request_body = UpdateScheduleRequest, responses((status = 200, body = ScheduleBody), (status = 400, description = "the body is not valid JSON", body = Problem, content_type = "application/problem+json"), (status = 403, description = "not its owner", body = Problem, content_type = "application/problem+json")))]
pub async fn update(
    caller: Caller,
    PathIds(ids): PathIds,
    JsonBody(request): JsonBody<UpdateScheduleRequest>,
) -> Result<Json<ScheduleBody>, ApiError> {
    let id = super::params::first(&ids)?;
    let schedule =
        schedules::update_schedule(&caller.app, &caller.principal, id, request, &caller.origin)
            .await?;
    Ok(Json(schedule))
}
