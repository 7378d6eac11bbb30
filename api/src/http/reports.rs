//! `/api/v1/reports`: reports for compliance reviewers.

use axum::Json;
use axum::extract::RawQuery;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use cairn_schemas::api::AuditEventsPage;

use cairn_app::edge_records;
use cairn_app::reports::{self, AccessReview, SecretUsage};

use super::audit::audit_query_with;
use super::caller::Caller;
use super::params::{query_pairs, seq_param, uuid_param};
use super::problem::{ApiError, Problem};

/// `GET /api/v1/reports/access-review`: who can reach what in the org, and
/// through which path; JSON, or CSV with `Accept: text/csv`.
#[utoipa::path(get, path = "/api/v1/reports/access-review", tag = "reports", params(("at_seq" = Option<u64>, Query, description = "as of this seq (now when absent)"), ("org_id" = Option<uuid::Uuid>, Query, description = "another org (superusers)")), responses((status = 200, body = AccessReview, description = "JSON, or text/csv when asked"), (status = 503, description = "too many past states being rebuilt; retry after the time given", body = Problem, content_type = "application/problem+json")))]
pub async fn access_review(
    caller: Caller,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (mut at_seq, mut org) = (None, None);
    for pair in query_pairs(query.as_deref()) {
        match pair {
            ("at_seq", value) => at_seq = Some(seq_param("at_seq", value)?),
            ("org_id", value) => org = Some(uuid_param("org_id", value)?),
            _ => {
                return Err(ApiError::validation(
                    "query",
                    "unknown parameter; expected at_seq and org_id",
                ));
            }
        }
    }
    let review = reports::access_review(&caller.app, &caller.principal, at_seq, org).await?;
    let wants_csv = headers
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/csv"));
    Ok(if wants_csv {
        (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            reports::review_csv(&review),
        )
            .into_response()
    } else {
        Json(review).into_response()
    })
}

/// `GET /api/v1/reports/activity`: the events a user is the actor of, in
/// the caller's org, filtered by time and paged like the audit events.
#[utoipa::path(get, path = "/api/v1/reports/activity", tag = "reports", params(("user_id" = uuid::Uuid, Query), ("since" = Option<String>, Query, description = "RFC 3339"), ("until" = Option<String>, Query, description = "RFC 3339"), ("after" = Option<u64>, Query, description = "a seq: the `next` of the previous page"), ("limit" = Option<usize>, Query)), responses((status = 200, body = AuditEventsPage)))]
pub async fn activity(
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<AuditEventsPage>, ApiError> {
    let mut user = None;
    let mut query = audit_query_with(query.as_deref(), &mut |key, value| match key {
        "user_id" => {
            user = Some(uuid_param("user_id", value)?);
            Ok(true)
        }
        "actor" => Err(ApiError::validation(
            "actor",
            "the activity report takes user_id",
        )),
        _ => Ok(false),
    })?;
    query.actor = Some(user.ok_or_else(|| ApiError::validation("user_id", "is required"))?);
    Ok(Json(
        edge_records::activity(&caller.app, &caller.principal, query, &caller.origin).await?,
    ))
}

/// `GET /api/v1/reports/secret-usage`: who resolved a secret, in which run,
/// when (every `secret.resolved` event of it).
#[utoipa::path(get, path = "/api/v1/reports/secret-usage", tag = "reports", params(("secret_id" = uuid::Uuid, Query), ("after" = Option<u64>, Query, description = "a seq: the `next` of the previous page")), responses((status = 200, body = SecretUsage)))]
pub async fn secret_usage(
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<SecretUsage>, ApiError> {
    let (mut secret, mut after) = (None, 0);
    for pair in query_pairs(query.as_deref()) {
        match pair {
            ("secret_id", value) => secret = Some(uuid_param("secret_id", value)?),
            ("after", value) => after = seq_param("after", value)?,
            _ => {
                return Err(ApiError::validation(
                    "query",
                    "unknown parameter; expected secret_id and after",
                ));
            }
        }
    }
    let secret = secret.ok_or_else(|| ApiError::validation("secret_id", "is required"))?;
    Ok(Json(
        edge_records::secret_usage(
            &caller.app,
            &caller.principal,
            secret,
            after,
            &caller.origin,
        )
        .await?,
    ))
}
