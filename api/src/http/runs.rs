//! `/api/v1/flows/{id}/runs` and `/api/v1/runs`: starting runs and reading
//! their status, steps and masked outputs.

use axum::Json;
use axum::http::StatusCode;
use cairn_schemas::api::{Page, RunBody, StartRunRequest};

use cairn_app::runs;

use super::caller::Caller;
use super::json_body::OptionalJsonBody;
use super::params::{ListParams, PathIds};
use super::problem::{ApiError, Problem};

/// `POST /api/v1/flows/{id}/runs`: queued; it executes off the request
/// path, so the answer is 202 with the run as queued.
#[utoipa::path(post, path = "/api/v1/flows/{id}/runs", tag = "runs", params(("id" = uuid::Uuid, Path)), request_body(content = Option<StartRunRequest>, description = "no body, or `{}`"), responses((status = 202, description = "queued", body = RunBody), (status = 400, description = "the body is not a JSON object", body = Problem, content_type = "application/problem+json"), (status = 422, description = "a reference does not resolve, or a field is invalid", body = Problem, content_type = "application/problem+json"), (status = 429, description = "the caller has as many runs queued or running as `CAIRN_RUNS_QUEUED_PER_USER` allows", body = Problem, content_type = "application/problem+json"), (status = 503, description = "the run queue is full; retry after the Retry-After seconds", body = Problem, content_type = "application/problem+json")))]
pub async fn start(
    caller: Caller,
    PathIds(ids): PathIds,
    OptionalJsonBody(_options): OptionalJsonBody<StartRunRequest>,
) -> Result<(StatusCode, Json<RunBody>), ApiError> {
    let flow_id = super::params::first(&ids)?;
    let run = runs::request_run(&caller.app, &caller.principal, flow_id, &caller.origin).await?;
    Ok((StatusCode::ACCEPTED, Json(run)))
}

/// `GET /api/v1/runs`.
#[utoipa::path(get, path = "/api/v1/runs", tag = "runs", params(("limit" = Option<usize>, Query), ("after" = Option<uuid::Uuid>, Query)), responses((status = 200, body = Page<RunBody>)))]
pub async fn list(caller: Caller, params: ListParams) -> Json<Page<RunBody>> {
    let (items, next) = runs::list_runs(&caller.app, &caller.principal, params.after, params.limit);
    Json(Page {
        items,
        next: next.map(|id| id.to_string()),
    })
}

/// `GET /api/v1/runs/{id}`.
#[utoipa::path(get, path = "/api/v1/runs/{id}", tag = "runs", params(("id" = uuid::Uuid, Path)), responses((status = 200, body = RunBody)))]
pub async fn get(caller: Caller, PathIds(ids): PathIds) -> Result<Json<RunBody>, ApiError> {
    let id = super::params::first(&ids)?;
    Ok(Json(runs::get_run(&caller.app, &caller.principal, id)?))
}
