//! `/api/v1/audit`: the audit trail, its verification, its checkpoints and
//! the key that signs them.

use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::RawQuery;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use cairn_audit::export_stream::ExportFormat;
use cairn_audit::time_format::parse_rfc3339_micros;
use cairn_schemas::api::{
    AuditEventsPage, CheckpointBody, Page, PublicKeyBody, RetentionBody, RetentionPolicyBody,
    VerifyBody,
};
use cairn_schemas::{Action, Outcome, ResourceKind};

use cairn_app::audit_export;
use cairn_app::audit_log::{self, AuditQuery};
use cairn_app::edge_records;
use cairn_app::retention as app_retention;
use cairn_app::{App, CommandError, Principal};

use super::caller::Caller;
use super::json_body::JsonBody;
use super::params::{DEFAULT_LIMIT, MAX_LIMIT, query_pairs, seq_param, uuid_param};
use super::problem::{ApiError, Problem};

/// Runs blocking work (reading the log) off the async runtime.
async fn off_runtime<T: Send + 'static>(
    app: &Arc<App>,
    principal: &Principal,
    work: impl FnOnce(&App, &Principal) -> Result<T, CommandError> + Send + 'static,
) -> Result<T, ApiError> {
    let app = Arc::clone(app);
    let principal = principal.clone();
    tokio::task::spawn_blocking(move || work(&app, &principal))
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(ApiError::from)
}

fn limit(value: &str) -> Result<usize, ApiError> {
    value
        .parse()
        .ok()
        .filter(|limit| (1..=MAX_LIMIT).contains(limit))
        .ok_or_else(|| {
            ApiError::validation("limit", format!("must be a number from 1 to {MAX_LIMIT}"))
        })
}

fn time(field: &'static str, value: &str) -> Result<i64, ApiError> {
    parse_rfc3339_micros(&value.replace("%3A", ":").replace("%2B", "+"))
        .ok_or_else(|| ApiError::validation(field, "must be an RFC 3339 time"))
}

/// Parses the filters of `GET /api/v1/audit/events`.
fn audit_query(query: Option<&str>) -> Result<AuditQuery, ApiError> {
    audit_query_with(query, &mut |_, _| Ok(false))
}

/// Parses the filters; `extra` takes the parameters of one endpoint (it
/// answers whether it took the key).
pub(super) fn audit_query_with(
    query: Option<&str>,
    extra: &mut dyn FnMut(&str, &str) -> Result<bool, ApiError>,
) -> Result<AuditQuery, ApiError> {
    let mut parsed = AuditQuery {
        limit: DEFAULT_LIMIT,
        text: query.unwrap_or("").to_string(),
        ..AuditQuery::default()
    };
    for (key, value) in query_pairs(query) {
        if extra(key, value)? {
            continue;
        }
        match key {
            "actor" => parsed.actor = Some(uuid_param("actor", value)?),
            "action" => {
                parsed.action = Some(Action::parse(value).ok_or_else(|| {
                    ApiError::validation("action", "is not an action (noun.past_tense)")
                })?)
            }
            "resource_type" => {
                parsed.resource_type = Some(ResourceKind::parse(value).ok_or_else(|| {
                    ApiError::validation("resource_type", "is not a resource type")
                })?)
            }
            "resource_id" => parsed.resource_id = Some(uuid_param("resource_id", value)?),
            "outcome" => {
                parsed.outcome = Some(Outcome::parse(value).ok_or_else(|| {
                    ApiError::validation("outcome", "must be success, denied or failure")
                })?)
            }
            "since" => parsed.since = Some(time("since", value)?),
            "until" => parsed.until = Some(time("until", value)?),
            "after" => parsed.after = seq_param("after", value)?,
            "limit" => parsed.limit = limit(value)?,
            _ => {
                return Err(ApiError::validation(
                    "query",
                    "unknown parameter; expected actor, action, resource_type, resource_id, outcome, since, until, after, limit",
                ));
            }
        }
    }
    Ok(parsed)
}

/// `GET /api/v1/audit/events`.
#[utoipa::path(get, path = "/api/v1/audit/events", tag = "audit", params(("actor" = Option<uuid::Uuid>, Query), ("action" = Option<String>, Query), ("resource_type" = Option<String>, Query), ("resource_id" = Option<uuid::Uuid>, Query), ("outcome" = Option<String>, Query), ("since" = Option<String>, Query, description = "RFC 3339"), ("until" = Option<String>, Query, description = "RFC 3339"), ("after" = Option<u64>, Query, description = "a seq: the `next` of the previous page"), ("limit" = Option<usize>, Query)), responses((status = 200, body = AuditEventsPage)))]
pub async fn events(
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<AuditEventsPage>, ApiError> {
    let query = audit_query(query.as_deref())?;
    Ok(Json(
        edge_records::audit_events(&caller.app, &caller.principal, query, &caller.origin).await?,
    ))
}

/// Feeds an HTTP body from a blocking writer, chunk by chunk: the channel
/// is bounded, so a slow client slows the export instead of growing memory.
pub(super) struct BodyWriter(pub(super) tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>);

impl std::io::Write for BodyWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(bytes)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client left"))?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `GET /api/v1/audit/export`: the audit trail as `jsonl`, `ocsf` or `cef`,
/// streamed.
#[utoipa::path(get, path = "/api/v1/audit/export", tag = "audit", params(("format" = String, Query, description = "jsonl, ocsf or cef"), ("actor" = Option<uuid::Uuid>, Query), ("action" = Option<String>, Query), ("resource_type" = Option<String>, Query), ("resource_id" = Option<uuid::Uuid>, Query), ("outcome" = Option<String>, Query), ("since" = Option<String>, Query, description = "RFC 3339"), ("until" = Option<String>, Query, description = "RFC 3339")), responses((status = 200, description = "one event per line", content_type = "application/x-ndjson", body = String)))]
pub async fn export(caller: Caller, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let mut format = None;
    let query = audit_query_with(query.as_deref(), &mut |key, value| match key {
        "format" => {
            format = Some(
                ExportFormat::parse(value)
                    .ok_or_else(|| ApiError::validation("format", "must be jsonl, ocsf or cef"))?,
            );
            Ok(true)
        }
        "after" | "limit" => Err(ApiError::validation(
            key,
            "an export takes no cursor: filter with since and until",
        )),
        _ => Ok(false),
    })?;
    let format =
        format.ok_or_else(|| ApiError::validation("format", "is required: jsonl, ocsf or cef"))?;
    let plan = audit_export::begin_export(
        &caller.app,
        &caller.principal,
        format,
        query,
        &caller.origin,
    )
    .await?;
    let (sender, receiver) = tokio::sync::mpsc::channel(8);
    let app = Arc::clone(&caller.app);
    let filename = format!("cairn-audit-{}.{}", plan.to_seq, format.extension());
    tokio::task::spawn_blocking(move || {
        let failure = sender.clone();
        if let Err(error) = audit_export::write_planned(&app, &plan, &mut BodyWriter(sender)) {
            tracing::warn!(%error, "an audit export stopped before its end");
            // The body ends with an error: the client sees a cut transfer,
            // never a short file that looks complete.
            let _ = failure.blocking_send(Err(std::io::Error::other(error)));
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// `GET /api/v1/audit/verify`.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit", responses((status = 200, body = VerifyBody)))]
pub async fn verify(caller: Caller) -> Result<Json<VerifyBody>, ApiError> {
    Ok(Json(
        off_runtime(&caller.app, &caller.principal, audit_log::verify).await?,
    ))
}

/// `GET /api/v1/audit/checkpoints`.
#[utoipa::path(get, path = "/api/v1/audit/checkpoints", tag = "audit", params(("after" = Option<u64>, Query, description = "a seq"), ("limit" = Option<usize>, Query)), responses((status = 200, body = Page<CheckpointBody>)))]
pub async fn checkpoints(
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Page<CheckpointBody>>, ApiError> {
    let (mut after, mut size) = (0, DEFAULT_LIMIT);
    for pair in query_pairs(query.as_deref()) {
        match pair {
            ("after", value) => after = seq_param("after", value)?,
            ("limit", value) => size = limit(value)?,
            _ => {
                return Err(ApiError::validation(
                    "query",
                    "unknown parameter; expected after and limit",
                ));
            }
        }
    }
    let (items, next) = off_runtime(&caller.app, &caller.principal, move |app, principal| {
        audit_log::checkpoints(app, principal, after, size)
    })
    .await?;
    Ok(Json(Page {
        items,
        next: next.map(|seq| seq.to_string()),
    }))
}

/// `GET /api/v1/audit/public-key`.
#[utoipa::path(get, path = "/api/v1/audit/public-key", tag = "audit", responses((status = 200, body = PublicKeyBody)))]
pub async fn public_key(caller: Caller) -> Result<Json<PublicKeyBody>, ApiError> {
    Ok(Json(audit_log::public_key(&caller.app, &caller.principal)?))
}

/// `GET /api/v1/audit/retention`: the policy in force and the last prune.
#[utoipa::path(get, path = "/api/v1/audit/retention", tag = "audit", responses((status = 200, body = RetentionBody)))]
pub async fn retention(caller: Caller) -> Result<Json<RetentionBody>, ApiError> {
    Ok(Json(app_retention::get(&caller.app, &caller.principal)?))
}

/// `PUT /api/v1/audit/retention`: sets the whole policy (superusers; a
/// class below its floor is a 422 naming the member and the floor).
#[utoipa::path(put, path = "/api/v1/audit/retention", tag = "audit", request_body = RetentionPolicyBody, responses((status = 200, body = RetentionBody), (status = 422, description = "a field is invalid or below its floor", body = Problem, content_type = "application/problem+json")))]
pub async fn set_retention(
    caller: Caller,
    JsonBody(request): JsonBody<RetentionPolicyBody>,
) -> Result<Json<RetentionBody>, ApiError> {
    Ok(Json(
        app_retention::set(&caller.app, &caller.principal, request, &caller.origin).await?,
    ))
}
