//! `/api/v1/flows`: flow definitions in namespaces.

use axum::Json;
use axum::http::StatusCode;
use cairn_schemas::api::{CreateFlowRequest, FlowBody, Page, UpdateFlowRequest};

use cairn_app::flows;

use super::caller::Caller;
use super::json_body::JsonBody;
use super::params::{ListParams, PathIds};
use super::problem::ApiError;

/// `POST /api/v1/flows`.
#[utoipa::path(post, path = "/api/v1/flows", tag = "catalog", request_body = CreateFlowRequest, responses((status = 201, body = FlowBody)))]
pub async fn create(
    caller: Caller,
    JsonBody(request): JsonBody<CreateFlowRequest>,
) -> Result<(StatusCode, Json<FlowBody>), ApiError> {
    let flow = flows::create_flow(&caller.app, &caller.principal, request, &caller.origin).await?;
    Ok((StatusCode::CREATED, Json(flow)))
}

/// `GET /api/v1/flows`.
#[utoipa::path(get, path = "/api/v1/flows", tag = "catalog", params(("limit" = Option<usize>, Query), ("after" = Option<uuid::Uuid>, Query)), responses((status = 200, body = Page<FlowBody>)))]
pub async fn list(caller: Caller, params: ListParams) -> Json<Page<FlowBody>> {
    let (items, next) =
        flows::list_flows(&caller.app, &caller.principal, params.after, params.limit);
    Json(Page {
        items,
        next: next.map(|id| id.to_string()),
    })
}

/// `GET /api/v1/flows/{id}`.
#[utoipa::path(get, path = "/api/v1/flows/{id}", tag = "catalog", params(("id" = uuid::Uuid, Path)), responses((status = 200, body = FlowBody)))]
pub async fn get(caller: Caller, PathIds(ids): PathIds) -> Result<Json<FlowBody>, ApiError> {
    let id = super::params::first(&ids)?;
    Ok(Json(flows::get_flow(&caller.app, &caller.principal, id)?))
}

/// `PUT /api/v1/flows/{id}`.
#[utoipa::path(put, path = "/api/v1/flows/{id}", tag = "catalog", params(("id" = uuid::Uuid, Path)), request_body = UpdateFlowRequest, responses((status = 200, body = FlowBody)))]
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
#[utoipa::path(delete, path = "/api/v1/flows/{id}", tag = "catalog", params(("id" = uuid::Uuid, Path)), responses((status = 204, description = "deleted; its grants ended")))]
pub async fn delete(caller: Caller, PathIds(ids): PathIds) -> Result<StatusCode, ApiError> {
    let id = super::params::first(&ids)?;
    flows::delete_flow(&caller.app, &caller.principal, id, &caller.origin).await?;
    Ok(StatusCode::NO_CONTENT)
}
