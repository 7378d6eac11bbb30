//! `/api/v1/groups`: groups of an org and their members.

use axum::Json;
use axum::http::StatusCode;
use cairn_schemas::api::{
    AddGroupMemberRequest, CreateGroupRequest, GroupBody, GroupMemberBody, Page,
    UpdateGroupMemberRequest,
};

use cairn_app::groups;

use super::caller::Caller;
use super::json_body::JsonBody;
use super::params::{ListParams, PathIds};
use super::problem::ApiError;

/// `POST /api/v1/groups`.
#[utoipa::path(post, path = "/api/v1/groups", tag = "groups", request_body = CreateGroupRequest, responses((status = 201, body = GroupBody)))]
pub async fn create(
    caller: Caller,
    JsonBody(request): JsonBody<CreateGroupRequest>,
) -> Result<(StatusCode, Json<GroupBody>), ApiError> {
    let group =
        groups::create_group(&caller.app, &caller.principal, request, &caller.origin).await?;
    Ok((StatusCode::CREATED, Json(group)))
}

/// `GET /api/v1/groups`.
#[utoipa::path(get, path = "/api/v1/groups", tag = "groups", params(("limit" = Option<usize>, Query), ("after" = Option<uuid::Uuid>, Query)), responses((status = 200, body = Page<GroupBody>)))]
pub async fn list(caller: Caller, params: ListParams) -> Json<Page<GroupBody>> {
    let (items, next) =
        groups::list_groups(&caller.app, &caller.principal, params.after, params.limit);
    Json(Page {
        items,
        next: next.map(|id| id.to_string()),
    })
}

/// `GET /api/v1/groups/{id}`.
#[utoipa::path(get, path = "/api/v1/groups/{id}", tag = "groups", params(("id" = uuid::Uuid, Path)), responses((status = 200, body = GroupBody)))]
pub async fn get(caller: Caller, PathIds(ids): PathIds) -> Result<Json<GroupBody>, ApiError> {
    let id = super::params::first(&ids)?;
    Ok(Json(groups::get_group(&caller.app, &caller.principal, id)?))
}

/// `DELETE /api/v1/groups/{id}`.
#[utoipa::path(delete, path = "/api/v1/groups/{id}", tag = "groups", params(("id" = uuid::Uuid, Path)), responses((status = 204, description = "deleted; its memberships and grants ended")))]
pub async fn delete(caller: Caller, PathIds(ids): PathIds) -> Result<StatusCode, ApiError> {
    let id = super::params::first(&ids)?;
    groups::delete_group(&caller.app, &caller.principal, id, &caller.origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/groups/{id}/members`.
#[utoipa::path(post, path = "/api/v1/groups/{id}/members", tag = "groups", params(("id" = uuid::Uuid, Path)), request_body = AddGroupMemberRequest, responses((status = 201, body = GroupMemberBody)))]
pub async fn add_member(
    caller: Caller,
    PathIds(ids): PathIds,
    JsonBody(request): JsonBody<AddGroupMemberRequest>,
) -> Result<(StatusCode, Json<GroupMemberBody>), ApiError> {
    let id = super::params::first(&ids)?;
    let member =
        groups::add_member(&caller.app, &caller.principal, id, request, &caller.origin).await?;
    Ok((StatusCode::CREATED, Json(member)))
}

/// `PATCH /api/v1/groups/{id}/members/{user_id}`.
#[utoipa::path(patch, path = "/api/v1/groups/{id}/members/{user_id}", tag = "groups", params(("id" = uuid::Uuid, Path), ("user_id" = uuid::Uuid, Path)), request_body = UpdateGroupMemberRequest, responses((status = 200, body = GroupMemberBody)))]
pub async fn update_member(
    caller: Caller,
    PathIds(ids): PathIds,
    JsonBody(request): JsonBody<UpdateGroupMemberRequest>,
) -> Result<Json<GroupMemberBody>, ApiError> {
    let (id, user) = super::params::two(&ids)?;
    Ok(Json(
        groups::change_member_role(
            &caller.app,
            &caller.principal,
            id,
            user,
            request,
            &caller.origin,
        )
        .await?,
    ))
}

/// `DELETE /api/v1/groups/{id}/members/{user_id}`.
#[utoipa::path(delete, path = "/api/v1/groups/{id}/members/{user_id}", tag = "groups", params(("id" = uuid::Uuid, Path), ("user_id" = uuid::Uuid, Path)), responses((status = 204, description = "removed")))]
pub async fn remove_member(caller: Caller, PathIds(ids): PathIds) -> Result<StatusCode, ApiError> {
    let (id, user) = super::params::two(&ids)?;
    groups::remove_member(&caller.app, &caller.principal, id, user, &caller.origin).await?;
    Ok(StatusCode::NO_CONTENT)
}
