//! `/api/v1/grants` (sharing) and `/api/v1/access/explain` (why a user may
//! or may not do something).

use axum::Json;
use axum::extract::RawQuery;
use axum::http::StatusCode;
use cairn_schemas::api::{CreateGrantRequest, ExplainBody, GrantBody, Page};
use cairn_schemas::{AccessAction, ResourceKind};
use uuid::Uuid;

use cairn_app::access::{self, ExplainQuery};
use cairn_app::grants;

use super::caller::Caller;
use super::json_body::JsonBody;
use super::params::{ListParams, PathIds};
use super::problem::{ApiError, Problem};

/// `POST /api/v1/grants`.
#[utoipa::path(post, path = "/api/v1/grants", tag = "sharing", request_body = CreateGrantRequest, responses((status = 201, body = GrantBody)))]
pub async fn create(
    caller: Caller,
    JsonBody(request): JsonBody<CreateGrantRequest>,
) -> Result<(StatusCode, Json<GrantBody>), ApiError> {
    let grant =
        grants::create_grant(&caller.app, &caller.principal, request, &caller.origin).await?;
    Ok((StatusCode::CREATED, Json(grant)))
}

/// `GET /api/v1/grants`.
#[utoipa::path(get, path = "/api/v1/grants", tag = "sharing", params(("limit" = Option<usize>, Query), ("after" = Option<uuid::Uuid>, Query)), responses((status = 200, body = Page<GrantBody>)))]
pub async fn list(caller: Caller, params: ListParams) -> Json<Page<GrantBody>> {
    let (items, next) =
        grants::list_grants(&caller.app, &caller.principal, params.after, params.limit);
    Json(Page {
        items,
        next: next.map(|id| id.to_string()),
    })
}

/// `DELETE /api/v1/grants/{id}`.
#[utoipa::path(delete, path = "/api/v1/grants/{id}", tag = "sharing", params(("id" = uuid::Uuid, Path)), responses((status = 204, description = "revoked; effective on the next request")))]
pub async fn revoke(caller: Caller, PathIds(ids): PathIds) -> Result<StatusCode, ApiError> {
    let id = super::params::first(&ids)?;
    grants::revoke_grant(&caller.app, &caller.principal, id, &caller.origin).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Parses `?user_id=&resource_type=&resource_id=&action=[&at_seq=]`.
fn explain_query(query: Option<&str>) -> Result<ExplainQuery, ApiError> {
    let (mut user_id, mut kind, mut id, mut action, mut at_seq) = (None, None, None, None, None);
    for pair in query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let uuid = |field: &'static str| {
            Uuid::parse_str(value).map_err(|_| ApiError::validation(field, "is not a UUID"))
        };
        match key {
            "user_id" => user_id = Some(uuid("user_id")?),
            "resource_id" => id = Some(uuid("resource_id")?),
            "resource_type" => {
                kind = Some(
                    ResourceKind::parse(value)
                        .filter(|kind| grants::SHAREABLE.contains(kind))
                        .ok_or_else(|| {
                            ApiError::validation(
                                "resource_type",
                                "must be one of namespace, flow, secret, connection, schedule",
                            )
                        })?,
                )
            }
            "action" => {
                action = Some(AccessAction::parse(value).ok_or_else(|| {
                    ApiError::validation(
                        "action",
                        "must be one of read, run, edit, delete, share, reveal",
                    )
                })?)
            }
            "at_seq" => {
                at_seq = Some(
                    value
                        .parse::<u64>()
                        .map_err(|_| ApiError::validation("at_seq", "is not a seq"))?,
                )
            }
            _ => {
                return Err(ApiError::validation(
                    "query",
                    "unknown parameter; expected user_id, resource_type, resource_id, action, at_seq",
                ));
            }
        }
    }
    Ok(ExplainQuery {
        user_id,
        kind: kind.ok_or_else(|| ApiError::validation("resource_type", "is required"))?,
        id: id.ok_or_else(|| ApiError::validation("resource_id", "is required"))?,
        action: action.ok_or_else(|| ApiError::validation("action", "is required"))?,
        at_seq,
    })
}

/// `GET /api/v1/access/explain`.
#[utoipa::path(get, path = "/api/v1/access/explain", tag = "sharing", params(("user_id" = Option<uuid::Uuid>, Query, description = "whose access (the caller when absent)"), ("resource_type" = String, Query), ("resource_id" = uuid::Uuid, Query), ("action" = String, Query, description = "read, run, edit, delete, share or reveal"), ("at_seq" = Option<u64>, Query, description = "as of this seq of the log")), responses((status = 200, body = ExplainBody), (status = 404, description = "not found, not visible, or a question the caller may not ask", body = Problem, content_type = "application/problem+json"), (status = 503, description = "too many past states being rebuilt; retry after the time given", body = Problem, content_type = "application/problem+json")))]
pub async fn explain(
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<ExplainBody>, ApiError> {
    let query = explain_query(query.as_deref())?;
    // As of a seq, the views come from the bounded pool of past states,
    // which rebuilds them off the runtime.
    let body = access::explain(&caller.app, &caller.principal, query).await?;
    Ok(Json(body))
}
