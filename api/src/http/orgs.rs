//! `/api/v1/orgs`: organizations and their members.

use axum::Json;
use axum::http::StatusCode;
use cairn_schemas::api::{AddMemberRequest, CreateOrgRequest, MemberBody, OrgBody, Page};

use cairn_app::orgs;

use super::caller::Caller;
use super::json_body::JsonBody;
use super::params::PathIds;
use super::problem::ApiError;

/// `POST /api/v1/orgs`.
#[utoipa::path(post, path = "/api/v1/orgs", tag = "orgs", request_body = CreateOrgRequest, responses((status = 201, body = OrgBody)))]
pub async fn create(
    caller: Caller,
    JsonBody(request): JsonBody<CreateOrgRequest>,
) -> Result<(StatusCode, Json<OrgBody>), ApiError> {
    let org = orgs::create_org(&caller.app, &caller.principal, request, &caller.origin).await?;
    Ok((StatusCode::CREATED, Json(org)))
}

/// `GET /api/v1/orgs`.
#[utoipa::path(get, path = "/api/v1/orgs", tag = "orgs", responses((status = 200, body = Page<OrgBody>)))]
pub async fn list(caller: Caller) -> Json<Page<OrgBody>> {
    Json(Page {
        items: orgs::list_orgs(&caller.app, &caller.principal),
        next: None,
    })
}

/// `POST /api/v1/orgs/{id}/members`.
#[utoipa::path(post, path = "/api/v1/orgs/{id}/members", tag = "orgs", params(("id" = uuid::Uuid, Path)), request_body = AddMemberRequest, responses((status = 201, body = MemberBody)))]
pub async fn add_member(
    caller: Caller,
    PathIds(ids): PathIds,
    JsonBody(request): JsonBody<AddMemberRequest>,
) -> Result<(StatusCode, Json<MemberBody>), ApiError> {
    let org = ids.first().copied().ok_or_else(ApiError::not_found)?;
    let member =
        orgs::add_member(&caller.app, &caller.principal, org, request, &caller.origin).await?;
    Ok((StatusCode::CREATED, Json(member)))
}

/// `DELETE /api/v1/orgs/{id}/members/{user_id}`.
#[utoipa::path(delete, path = "/api/v1/orgs/{id}/members/{user_id}", tag = "orgs", params(("id" = uuid::Uuid, Path), ("user_id" = uuid::Uuid, Path)), responses((status = 204, description = "removed")))]
pub async fn remove_member(caller: Caller, PathIds(ids): PathIds) -> Result<StatusCode, ApiError> {
    let (Some(org), Some(user)) = (ids.first().copied(), ids.get(1).copied()) else {
        return Err(ApiError::not_found());
    };
    orgs::remove_member(&caller.app, &caller.principal, org, user, &caller.origin).await?;
    Ok(StatusCode::NO_CONTENT)
}
