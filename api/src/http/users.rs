//! `/api/v1/users`: administration, and changing one's own password.

use axum::Json;
use axum::http::StatusCode;
use cairn_schemas::api::{
    ChangePasswordRequest, CreateUserRequest, EraseUserRequest, Page, UpdateUserRequest, UserBody,
};

use cairn_app::users;

use super::caller::Caller;
use super::json_body::{JsonBody, OptionalJsonBody};
use super::params::{ListParams, PathIds};
use super::problem::{ApiError, Problem};

fn first(ids: &[uuid::Uuid]) -> Result<uuid::Uuid, ApiError> {
    ids.first().copied().ok_or_else(ApiError::not_found)
}

/// `POST /api/v1/users`.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUserRequest, responses((status = 201, body = UserBody)))]
pub async fn create(
    caller: Caller,
    JsonBody(request): JsonBody<CreateUserRequest>,
) -> Result<(StatusCode, Json<UserBody>), ApiError> {
    let user = users::create_user(&caller.app, &caller.principal, request, &caller.origin).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// `GET /api/v1/users`.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(("limit" = Option<usize>, Query), ("after" = Option<uuid::Uuid>, Query)), responses((status = 200, body = Page<UserBody>)))]
pub async fn list(caller: Caller, params: ListParams) -> Result<Json<Page<UserBody>>, ApiError> {
    let (items, next) =
        users::list_users(&caller.app, &caller.principal, params.after, params.limit)?;
    Ok(Json(Page {
        items,
        next: next.map(|id| id.to_string()),
    }))
}

/// `GET /api/v1/users/{id}`.
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", params(("id" = uuid::Uuid, Path)), responses((status = 200, body = UserBody)))]
pub async fn get(caller: Caller, PathIds(ids): PathIds) -> Result<Json<UserBody>, ApiError> {
    Ok(Json(users::get_user(
        &caller.app,
        &caller.principal,
        first(&ids)?,
    )?))
}

/// `PATCH /api/v1/users/{id}`.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", params(("id" = uuid::Uuid, Path)), request_body = UpdateUserRequest, responses((status = 200, body = UserBody)))]
pub async fn update(
    caller: Caller,
    PathIds(ids): PathIds,
    JsonBody(request): JsonBody<UpdateUserRequest>,
) -> Result<Json<UserBody>, ApiError> {
    Ok(Json(
        users::update_user(
            &caller.app,
            &caller.principal,
            first(&ids)?,
            request,
            &caller.origin,
        )
        .await?,
    ))
}

/// `DELETE /api/v1/users/{id}`.
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", params(("id" = uuid::Uuid, Path)), responses((status = 204, description = "deleted")))]
pub async fn delete(caller: Caller, PathIds(ids): PathIds) -> Result<StatusCode, ApiError> {
    users::delete_user(&caller.app, &caller.principal, first(&ids)?, &caller.origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/users/{id}/erase`.
#[utoipa::path(post, path = "/api/v1/users/{id}/erase", tag = "users", params(("id" = uuid::Uuid, Path)), request_body(content = Option<EraseUserRequest>, description = "no body, or `{}`"), responses((status = 204, description = "erased: the user's personal data reads as erased everywhere; the chain still verifies"), (status = 403, description = "not a superuser", body = Problem, content_type = "application/problem+json"), (status = 404, description = "no deleted user with this id", body = Problem, content_type = "application/problem+json"), (status = 409, description = "the user still exists, or was already erased", body = Problem, content_type = "application/problem+json")))]
pub async fn erase(
    caller: Caller,
    PathIds(ids): PathIds,
    OptionalJsonBody(_none): OptionalJsonBody<EraseUserRequest>,
) -> Result<StatusCode, ApiError> {
    users::erase_user(&caller.app, &caller.principal, first(&ids)?, &caller.origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/users/me/password`.
#[utoipa::path(put, path = "/api/v1/users/me/password", tag = "users", request_body = ChangePasswordRequest, responses((status = 204, description = "changed; every session of the user ended")))]
pub async fn change_own_password(
    caller: Caller,
    JsonBody(request): JsonBody<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    users::change_own_password(&caller.app, &caller.principal, request, &caller.origin).await?;
    Ok(StatusCode::NO_CONTENT)
}
