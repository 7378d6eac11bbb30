//! `/api/v1/connections`: targets and sealed credentials.

use axum::Json;
use axum::http::StatusCode;
use cairn_schemas::api::{ConnectionBody, CreateConnectionRequest, Page, UpdateConnectionRequest};

use cairn_app::connections;

use super::caller::Caller;
use super::json_body::JsonBody;
use super::params::{ListParams, PathIds};
use super::problem::ApiError;

/// `POST /api/v1/connections`.
#[utoipa::path(post, path = "/api/v1/connections", tag = "secrets", request_body = CreateConnectionRequest, responses((status = 201, body = ConnectionBody)))]
pub async fn create(
    caller: Caller,
    JsonBody(request): JsonBody<CreateConnectionRequest>,
) -> Result<(StatusCode, Json<ConnectionBody>), ApiError> {
    let connection =
        connections::create_connection(&caller.app, &caller.principal, request, &caller.origin)
            .await?;
    Ok((StatusCode::CREATED, Json(connection)))
}

/// `GET /api/v1/connections`.
#[utoipa::path(get, path = "/api/v1/connections", tag = "secrets", params(("limit" = Option<usize>, Query), ("after" = Option<uuid::Uuid>, Query)), responses((status = 200, body = Page<ConnectionBody>)))]
pub async fn list(caller: Caller, params: ListParams) -> Json<Page<ConnectionBody>> {
    let (items, next) =
        connections::list_connections(&caller.app, &caller.principal, params.after, params.limit);
    Json(Page {
        items,
        next: next.map(|id| id.to_string()),
    })
}

/// `GET /api/v1/connections/{id}`.
#[utoipa::path(get, path = "/api/v1/connections/{id}", tag = "secrets", params(("id" = uuid::Uuid, Path)), responses((status = 200, body = ConnectionBody)))]
pub async fn get(caller: Caller, PathIds(ids): PathIds) -> Result<Json<ConnectionBody>, ApiError> {
    let id = super::params::first(&ids)?;
    Ok(Json(connections::get_connection(
        &caller.app,
        &caller.principal,
        id,
    )?))
}

/// `PATCH /api/v1/connections/{id}`.
#[utoipa::path(patch, path = "/api/v1/connections/{id}", tag = "secrets", params(("id" = uuid::Uuid, Path)), request_body = UpdateConnectionRequest, responses((status = 200, body = ConnectionBody)))]
pub async fn update(
    caller: Caller,
    PathIds(ids): PathIds,
    JsonBody(request): JsonBody<UpdateConnectionRequest>,
) -> Result<Json<ConnectionBody>, ApiError> {
    let id = super::params::first(&ids)?;
    Ok(Json(
        connections::update_connection(&caller.app, &caller.principal, id, request, &caller.origin)
            .await?,
    ))
}

/// `DELETE /api/v1/connections/{id}`.
#[utoipa::path(delete, path = "/api/v1/connections/{id}", tag = "secrets", params(("id" = uuid::Uuid, Path)), responses((status = 204, description = "deleted; its grants ended")))]
pub async fn delete(caller: Caller, PathIds(ids): PathIds) -> Result<StatusCode, ApiError> {
    let id = super::params::first(&ids)?;
    connections::delete_connection(&caller.app, &caller.principal, id, &caller.origin).await?;
    Ok(StatusCode::NO_CONTENT)
}
