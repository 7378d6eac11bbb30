//! `/api/v1/users`: administration, and changing one's own password.

use axum::Json;
use axum::http::StatusCode;
use cairn_schemas::api::{
    ChangePasswordRequest, CreateUserRequest, Page, UpdateUserRequest, UserBody,
};

use crate::app::users;

use super::caller::Caller;
use super::json_body::JsonBody;
use super::params::{ListParams, PathIds};
use super::problem::ApiError;

fn first(ids: &[uuid::Uuid]) -> Result<uuid::Uuid, ApiError> {
    ids.first().copied().ok_or_else(ApiError::not_found)
}

/// `POST /api/v1/users`.
pub async fn create(
    caller: Caller,
    JsonBody(request): JsonBody<CreateUserRequest>,
) -> Result<(StatusCode, Json<UserBody>), ApiError> {
    let user = users::create_user(&caller.app, &caller.principal, request, &caller.origin).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// `GET /api/v1/users`.
pub async fn list(caller: Caller, params: ListParams) -> Result<Json<Page<UserBody>>, ApiError> {
    let (items, next) =
        users::list_users(&caller.app, &caller.principal, params.after, params.limit)?;
    Ok(Json(Page {
        items,
        next: next.map(|id| id.to_string()),
    }))
}

/// `GET /api/v1/users/{id}`.
pub async fn get(caller: Caller, PathIds(ids): PathIds) -> Result<Json<UserBody>, ApiError> {
    Ok(Json(users::get_user(
        &caller.app,
        &caller.principal,
        first(&ids)?,
    )?))
}

/// `PATCH /api/v1/users/{id}`.
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
pub async fn delete(caller: Caller, PathIds(ids): PathIds) -> Result<StatusCode, ApiError> {
    users::delete_user(&caller.app, &caller.principal, first(&ids)?, &caller.origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/users/me/password`.
pub async fn change_own_password(
    caller: Caller,
    JsonBody(request): JsonBody<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    users::change_own_password(&caller.app, &caller.principal, request, &caller.origin).await?;
    Ok(StatusCode::NO_CONTENT)
}
