//! `/api/v1/flows`: flow definitions in namespaces.

use axum::Json;
use axum::http::StatusCode;
use cairn_schemas::api::{CreateFlowRequest, FlowBody, Page, UpdateFlowRequest};

use cairn_app::flows;

use super::caller::Caller;
use super::json_body::JsonBody;
use super::params::{ListParams, PathIds};
use super::problem::{ApiError, Problem};

/// `POST /api/v1/flows`.
#[utoipa::path(post, path = "/api/v1/flows", tag = "catalog", security(("bearer" = []), ("cookie" = [])), request_body = CreateFlowRequest, responses((status = 201, body = FlowBody), (status = 401, description = "no valid credentials", body = Problem, content_type = "application/problem+json"), (status = 403, description = "not allowed", body = Problem, content_type = "application/problem+json"), (status = 409, description = "conflicts with the current state", body = Problem, content_type = "application/problem+json"), (status = 422, description = "a field is invalid", body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    caller: Caller,
    JsonBody(request): JsonBody<CreateFlowRequest>,
) -> Result<(StatusCode, Json<FlowBody>), ApiError> {
    let flow = flows::create_flow(&caller.app, &caller.principal, request, &caller.origin).await?;
    Ok((StatusCode::CREATED, Json(flow)))
}

/// `GET /api/v1/flows`.
#[utoipa::path(get, path = "/api/v1/flows", tag = "catalog", security(("bearer" = []), ("cookie" = [])), params(("limit" = Option<usize>, Query), ("after" = Option<uuid::Uuid>, Query)), responses((status = 200, body = Page<FlowBody>), (status = 401, description = "no valid credentials", body = Problem, content_type = "application/problem+json"), (status = 422, description = "a field is invalid", body = Problem, content_type = "application/problem+json")))]
pub async fn list(caller: Caller, params: ListParams) -> Json<Page<FlowBody>> {
    let (items, next) =
        flows::list_flows(&caller.app, &caller.principal, params.after, params.limit);
    Json(Page {
        items,
        next: next.map(|id| id.to_string()),
    })
}

/// `GET /api/v1/flows/{id}`.
#[utoipa::path(get, path = "/api/v1/flows/{id}", tag = "catalog", security(("bearer" = []), ("cookie" = [])), params(("id" = uuid::Uuid, Path)), responses((status = 200, body = FlowBody), (status = 401, description = "no valid credentials", body = Problem, content_type = "application/problem+json"), (status = 403, description = "not allowed", body = Problem, content_type = "application/problem+json"), (status = 404, description = "not found or not visible", body = Problem, content_type = "application/problem+json"), (status = 422, description = "a field is invalid", body = Problem, content_type = "application/problem+json")))]
pub async fn get(caller: Caller, PathIds(ids): PathIds) -> Result<Json<FlowBody>, ApiError> {
    let id = super::params::first(&ids)?;
    Ok(Json(flows::get_flow(&caller.app, &caller.principal, id)?))
}

/// `PUT /api/v1/flows/{id}`.
#[utoipa::path(put, path = "/api/v1/flows/{id}", tag = "catalog", security(("bearer" = []), ("cookie" = [])), params(("id" = uuid::Uuid, Path)), request_body = UpdateFlowRequest, responses((status = 200, body = FlowBody), (status = 401, description = "no valid credentials", body = Problem, content_type = "application/problem+json"), (status = 403, description = "not allowed", body = Problem, content_type = "application/problem+json"), (status = 404, description = "not found or not visible", body = Problem, content_type = "application/problem+json"), (status = 409, description = "conflicts with the current state", body = Problem, content_type = "application/problem+json"), (status = 422, description = "a field is invalid", body = Problem, content_type = "application/problem+json")))]
pub async fn update(
    caller: Caller,
    PathIds(ids): PathIds,
    JsonBody(request): JsonBody<UpdateFlowRequest>,
) -> Result<Json<FlowBody>, ApiError> {
    let id = super::params::first(&ids)?;
    Ok(Json(
        flows::update_flow(&caller.app, &caller.principal, id, request, &caller.origin).await?,
    ))
}

/// `DELETE /api/v1/flows/{id}`.
#[utoipa::path(delete, path = "/api/v1/flows/{id}", tag = "catalog", security(("bearer" = []), ("cookie" = [])), params(("id" = uuid::Uuid, Path)), responses((status = 204, description = "deleted; its grants ended"), (status = 401, description = "no valid credentials", body = Problem, content_type = "application/problem+json"), (status = 403, description = "not allowed", body = Problem, content_type = "application/problem+json"), (status = 404, description = "not found or not visible", body = Problem, content_type = "application/problem+json"), (status = 422, description = "a field is invalid", body = Problem, content_type = "application/problem+json")))]
pub async fn delete(caller: Caller, PathIds(ids): PathIds) -> Result<StatusCode, ApiError> {
    let id = super::params::first(&ids)?;
    flows::delete_flow(&caller.app, &caller.principal, id, &caller.origin).await?;
    Ok(StatusCode::NO_CONTENT)
}
