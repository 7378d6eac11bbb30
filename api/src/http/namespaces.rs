//! `/api/v1/namespaces`: the catalog's tree.

use axum::Json;
use axum::http::StatusCode;
use cairn_schemas::api::{CreateNamespaceRequest, NamespaceBody, Page, UpdateNamespaceRequest};

use cairn_app::namespaces;

use super::caller::Caller;
use super::json_body::JsonBody;
use super::params::{ListParams, PathIds};
use super::problem::ApiError;

/// `POST /api/v1/namespaces`.
#[utoipa::path(post, path = "/api/v1/namespaces", tag = "catalog", request_body = CreateNamespaceRequest, responses((status = 201, body = NamespaceBody)))]
pub async fn create(
    caller: Caller,
    JsonBody(request): JsonBody<CreateNamespaceRequest>,
) -> Result<(StatusCode, Json<NamespaceBody>), ApiError> {
    let namespace =
        namespaces::create_namespace(&caller.app, &caller.principal, request, &caller.origin)
            .await?;
    Ok((StatusCode::CREATED, Json(namespace)))
}

/// `GET /api/v1/namespaces`.
#[utoipa::path(get, path = "/api/v1/namespaces", tag = "catalog", params(("limit" = Option<usize>, Query), ("after" = Option<uuid::Uuid>, Query)), responses((status = 200, body = Page<NamespaceBody>)))]
pub async fn list(caller: Caller, params: ListParams) -> Json<Page<NamespaceBody>> {
    let (items, next) =
        namespaces::list_namespaces(&caller.app, &caller.principal, params.after, params.limit);
    Json(Page {
        items,
        next: next.map(|id| id.to_string()),
    })
}

/// `GET /api/v1/namespaces/{id}`.
#[utoipa::path(get, path = "/api/v1/namespaces/{id}", tag = "catalog", params(("id" = uuid::Uuid, Path)), responses((status = 200, body = NamespaceBody)))]
pub async fn get(caller: Caller, PathIds(ids): PathIds) -> Result<Json<NamespaceBody>, ApiError> {
    let id = super::params::first(&ids)?;
    Ok(Json(namespaces::get_namespace(
        &caller.app,
        &caller.principal,
        id,
    )?))
}

/// `PATCH /api/v1/namespaces/{id}`.
#[utoipa::path(patch, path = "/api/v1/namespaces/{id}", tag = "catalog", params(("id" = uuid::Uuid, Path)), request_body = UpdateNamespaceRequest, responses((status = 200, body = NamespaceBody)))]
pub async fn update(
    caller: Caller,
    PathIds(ids): PathIds,
    JsonBody(request): JsonBody<UpdateNamespaceRequest>,
) -> Result<Json<NamespaceBody>, ApiError> {
    let id = super::params::first(&ids)?;
    Ok(Json(
        namespaces::update_namespace(&caller.app, &caller.principal, id, request, &caller.origin)
            .await?,
    ))
}

/// `DELETE /api/v1/namespaces/{id}`.
#[utoipa::path(delete, path = "/api/v1/namespaces/{id}", tag = "catalog", params(("id" = uuid::Uuid, Path)), responses((status = 204, description = "deleted; its grants ended")))]
pub async fn delete(caller: Caller, PathIds(ids): PathIds) -> Result<StatusCode, ApiError> {
    let id = super::params::first(&ids)?;
    namespaces::delete_namespace(&caller.app, &caller.principal, id, &caller.origin).await?;
    Ok(StatusCode::NO_CONTENT)
}
