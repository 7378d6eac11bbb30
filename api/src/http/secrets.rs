//! `/api/v1/secrets`: values go in, and come out only to their owner's
//! reveal.

use axum::Json;
use axum::http::StatusCode;
use cairn_schemas::api::{
    CreateSecretRequest, Page, RevealSecretRequest, RevealedSecretBody, RotateSecretRequest,
    SecretBody,
};

use cairn_app::secrets;

use super::caller::Caller;
use super::json_body::{JsonBody, OptionalJsonBody};
use super::params::{ListParams, PathIds};
use super::problem::ApiError;

/// `POST /api/v1/secrets`.
#[utoipa::path(post, path = "/api/v1/secrets", tag = "secrets", request_body = CreateSecretRequest, responses((status = 201, body = SecretBody)))]
pub async fn create(
    caller: Caller,
    JsonBody(request): JsonBody<CreateSecretRequest>,
) -> Result<(StatusCode, Json<SecretBody>), ApiError> {
    let secret =
        secrets::create_secret(&caller.app, &caller.principal, request, &caller.origin).await?;
    Ok((StatusCode::CREATED, Json(secret)))
}

/// `GET /api/v1/secrets`.
#[utoipa::path(get, path = "/api/v1/secrets", tag = "secrets", params(("limit" = Option<usize>, Query), ("after" = Option<uuid::Uuid>, Query)), responses((status = 200, body = Page<SecretBody>)))]
pub async fn list(caller: Caller, params: ListParams) -> Json<Page<SecretBody>> {
    let (items, next) =
        secrets::list_secrets(&caller.app, &caller.principal, params.after, params.limit);
    Json(Page {
        items,
        next: next.map(|id| id.to_string()),
    })
}

/// `GET /api/v1/secrets/{id}`.
#[utoipa::path(get, path = "/api/v1/secrets/{id}", tag = "secrets", params(("id" = uuid::Uuid, Path)), responses((status = 200, body = SecretBody)))]
pub async fn get(caller: Caller, PathIds(ids): PathIds) -> Result<Json<SecretBody>, ApiError> {
    let id = super::params::first(&ids)?;
    Ok(Json(secrets::get_secret(
        &caller.app,
        &caller.principal,
        id,
    )?))
}

/// `PUT /api/v1/secrets/{id}`: rotate.
#[utoipa::path(put, path = "/api/v1/secrets/{id}", tag = "secrets", params(("id" = uuid::Uuid, Path)), request_body = RotateSecretRequest, responses((status = 200, body = SecretBody)))]
pub async fn rotate(
    caller: Caller,
    PathIds(ids): PathIds,
    JsonBody(request): JsonBody<RotateSecretRequest>,
) -> Result<Json<SecretBody>, ApiError> {
    let id = super::params::first(&ids)?;
    Ok(Json(
        secrets::rotate_secret(&caller.app, &caller.principal, id, request, &caller.origin).await?,
    ))
}

/// `DELETE /api/v1/secrets/{id}`.
#[utoipa::path(delete, path = "/api/v1/secrets/{id}", tag = "secrets", params(("id" = uuid::Uuid, Path)), responses((status = 204, description = "deleted; its grants ended")))]
pub async fn delete(caller: Caller, PathIds(ids): PathIds) -> Result<StatusCode, ApiError> {
    let id = super::params::first(&ids)?;
    secrets::delete_secret(&caller.app, &caller.principal, id, &caller.origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/secrets/{id}/reveal`: the owner's alone, audited.
#[utoipa::path(post, path = "/api/v1/secrets/{id}/reveal", tag = "secrets", params(("id" = uuid::Uuid, Path)), request_body(content = Option<RevealSecretRequest>, description = "no body, or `{}`"), responses((status = 200, body = RevealedSecretBody)))]
pub async fn reveal(
    caller: Caller,
    PathIds(ids): PathIds,
    OptionalJsonBody(_none): OptionalJsonBody<RevealSecretRequest>,
) -> Result<Json<RevealedSecretBody>, ApiError> {
    let id = super::params::first(&ids)?;
    Ok(Json(
        secrets::reveal_secret(&caller.app, &caller.principal, id, &caller.origin).await?,
    ))
}
