//! The one error type of the HTTP edge: [`ApiError`], rendered as an RFC 9457
//! problem details document (`application/problem+json`).
//!
//! Every refusal the API sends goes through here, so every one has the same
//! shape: `type`, `title`, `status`, `detail`, `request_id`, and `field` when
//! a request member is to blame. The detail is written for the client and
//! never carries a secret, a submitted value or an internal cause: a 500 says
//! "internal error" and the caller logs the real cause.
//!
//! How `request_id` gets in: rendering happens deep inside the handler, which
//! does not know the request id, so [`ApiError::into_response`] renders the
//! body without it and also leaves the [`Problem`] itself in the response's
//! extensions. The request-id middleware (the outermost layer) sees that
//! extension on the way out and renders the body again with the id. This
//! works wherever the error was produced (a handler, an extractor's
//! rejection, an inner layer, a spawned task) because it travels with the
//! response rather than with the task, unlike a task-local; and without that
//! middleware the body is still a valid problem, just without `request_id`.

use std::fmt;

use axum::body::Body;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use cairn_app::error::Denial;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The prefix of every problem `type`; the kind follows it.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:cairn:problem:";

/// An API failure as the client sees it. Build one with the constructors
/// below; handlers return `Result<_, ApiError>` and use `?`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    title: &'static str,
    detail: String,
    field: Option<String>,
    /// Seconds (a u32 keeps the error small: clippy's large-error bound).
    retry_after: Option<u32>,
    challenge: Option<&'static str>,
    denial: Option<Box<Denial>>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, title: &'static str, detail: String) -> Self {
        ApiError {
            status,
            kind,
            title,
            detail,
            field: None,
            retry_after: None,
            challenge: None,
            denial: None,
        }
    }

    /// Carries the authorization refusal behind this answer to the refusal
    /// recorder (in the response's extensions; never in the body).
    pub fn with_denial(mut self, denial: Denial) -> Self {
        self.denial = Some(Box::new(denial));
        self
    }

    /// 400: the request cannot be understood (malformed JSON, a bad query).
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "bad request",
            detail.into(),
        )
    }

    /// 422: the request is well-formed but `field` (a member name or path
    /// such as `password` or `steps[2].name`) is missing, of the wrong type or
    /// not acceptable. The detail must not quote the submitted value.
    pub fn validation(field: impl Into<String>, detail: impl Into<String>) -> Self {
        let mut error = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "invalid request",
            detail.into(),
        );
        error.field = Some(field.into());
        error
    }

    /// 401: no credentials came with a request that needs them.
    pub fn unauthorized() -> Self {
        let mut error = Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "authentication required",
            "this request needs a valid bearer token or session".into(),
        );
        error.challenge = Some("Bearer");
        error
    }

    /// 401: the credentials were not accepted. The same body for every
    /// reason (unknown user, wrong password, expired or revoked token,
    /// inactive account), so a response never tells which part was wrong.
    pub fn invalid_credentials() -> Self {
        let mut error = Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid-credentials",
            "invalid credentials",
            "the credentials were not accepted".into(),
        );
        error.challenge = Some("Bearer");
        error
    }

    /// 403: authenticated, but not allowed. Where even the existence of the
    /// resource must stay hidden, use [`ApiError::not_found`] instead.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "forbidden",
            detail.into(),
        )
    }

    /// 404, with a generic detail: it never says whether the resource exists
    /// elsewhere or was merely invisible to the caller.
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "not found",
            "no such resource".into(),
        )
    }

    /// 409: the request conflicts with the current state (a name in use, a
    /// stale version).
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "conflict", detail.into())
    }

    /// 413: the body is larger than `limit_bytes`.
    pub fn payload_too_large(limit_bytes: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "payload too large",
            format!("the request body is larger than the limit of {limit_bytes} bytes"),
        )
    }

    /// 405: the path exists, the method does not.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "method not allowed",
            "this path does not accept that method".into(),
        )
    }

    /// 415: the body is not `application/json`.
    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "unsupported media type",
            "the request body must be sent with Content-Type: application/json".into(),
        )
    }

    /// 429 with `Retry-After: retry_after_secs` (at least 1).
    pub fn too_many_requests(retry_after_secs: u64, detail: impl Into<String>) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "too many requests",
            detail.into(),
        );
        error.retry_after = Some(u32::try_from(retry_after_secs.max(1)).unwrap_or(u32::MAX));
        error
    }

    /// 503 with `Retry-After: retry_after_secs` (at least 1): the server is
    /// shedding load and the client should come back later.
    pub fn overloaded(retry_after_secs: u64) -> Self {
        let mut error = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "service overloaded",
            "the server is busy; retry later".into(),
        );
        error.retry_after = Some(u32::try_from(retry_after_secs.max(1)).unwrap_or(u32::MAX));
        error
    }

    /// A 500 whose detail is always "internal error": the caller logs the
    /// real cause (with the request id, which the request span carries).
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
            "internal error".into(),
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The short machine-readable kind, the last part of the problem `type`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The human-readable explanation of this occurrence.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The request member to blame, for validation errors.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// The `Retry-After` seconds, for 429 and 503.
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after.map(u64::from)
    }

    /// The problem document, without a request id.
    pub fn problem(&self) -> Problem {
        Problem {
            problem_type: format!("{PROBLEM_TYPE_PREFIX}{}", self.kind),
            title: self.title,
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            request_id: None,
            field: self.field.clone(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{} {}: {}",
            self.status.as_u16(),
            self.title,
            self.detail
        )
    }
}

impl std::error::Error for ApiError {}

/// The RFC 9457 document, as serialized. It also rides in the response's
/// extensions so the request-id middleware can add `request_id` (see the
/// module comment).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `urn:cairn:problem:<kind>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary that is the same for every occurrence of the kind.
    pub title: &'static str,
    /// The HTTP status code, repeated for clients that only see the body.
    pub status: u16,
    /// What went wrong this time, safe to show to the client.
    pub detail: String,
    /// The id of the request, to quote when asking for help.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The request member to blame, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Problem {
    fn body(&self) -> Body {
        // Serializing a struct of strings and integers cannot fail; should
        // it ever, a fixed document is still a valid problem.
        match serde_json::to_vec(self) {
            Ok(bytes) => Body::from(bytes),
            Err(_) => Body::from(
                r#"{"type":"urn:cairn:problem:internal","title":"internal error","status":500,"detail":"internal error"}"#,
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.problem();
        let mut response = Response::new(problem.body());
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(seconds) = self.retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(challenge) = self.challenge {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response.extensions_mut().insert(problem);
        if let Some(denial) = self.denial {
            response.extensions_mut().insert(*denial);
        }
        response
    }
}

/// Renders the body of a problem response again, now with `request_id`.
/// Responses that are not problems (no [`Problem`] extension) and bodies an
/// outer layer has already re-encoded are left alone.
pub fn attach_request_id(response: &mut Response, request_id: &str) {
    if response
        .headers()
        .contains_key(axum::http::header::CONTENT_ENCODING)
    {
        return;
    }
    let Some(mut problem) = response.extensions_mut().remove::<Problem>() else {
        return;
    };
    problem.request_id = Some(request_id.to_owned());
    *response.body_mut() = problem.body();
    response.headers_mut().remove(CONTENT_LENGTH);
    response.extensions_mut().insert(problem);
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    async fn render(error: ApiError) -> (StatusCode, axum::http::HeaderMap, Value) {
        let response = error.into_response();
        body_of(response).await
    }

    async fn body_of(response: Response) -> (StatusCode, axum::http::HeaderMap, Value) {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
            .await
            .expect("body");
        (
            status,
            headers,
            serde_json::from_slice(&bytes).expect("json"),
        )
    }

    #[tokio::test]
    async fn validation_names_the_field() {
        let (status, headers, body) = render(ApiError::validation(
            "password",
            "must be at least 12 characters",
        ))
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(headers[CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(
            body,
            json!({
                "type": "urn:cairn:problem:validation",
                "title": "invalid request",
                "status": 422,
                "detail": "must be at least 12 characters",
                "field": "password",
            })
        );
    }

    #[tokio::test]
    async fn unauthorized_challenges_for_a_bearer_token() {
        let (status, headers, body) = render(ApiError::unauthorized()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(headers[WWW_AUTHENTICATE], "Bearer");
        assert_eq!(body["title"], "authentication required");
        assert!(body.get("field").is_none());
    }

    #[tokio::test]
    async fn every_credential_failure_looks_the_same() {
        let first = render(ApiError::invalid_credentials()).await;
        let second = render(ApiError::invalid_credentials()).await;
        assert_eq!(first.0, StatusCode::UNAUTHORIZED);
        assert_eq!(first.2, second.2);
        assert_eq!(first.1[WWW_AUTHENTICATE], "Bearer");
    }

    #[tokio::test]
    async fn internal_errors_say_nothing_more() {
        let (status, _, body) = render(ApiError::internal()).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["detail"], "internal error");
        assert_eq!(body["type"], "urn:cairn:problem:internal");
    }

    #[tokio::test]
    async fn throttling_carries_retry_after_of_at_least_one_second() {
        let (status, headers, body) = render(ApiError::too_many_requests(0, "slow down")).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(headers[RETRY_AFTER], "1");
        assert_eq!(body["status"], 429);

        let (status, headers, _) = render(ApiError::overloaded(30)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(headers[RETRY_AFTER], "30");
    }

    #[tokio::test]
    async fn payload_too_large_states_the_limit() {
        let (status, _, body) = render(ApiError::payload_too_large(65_536)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(
            body["detail"]
                .as_str()
                .expect("detail")
                .contains("65536 bytes")
        );
    }

    #[tokio::test]
    async fn the_request_id_is_added_on_the_way_out() {
        let mut response = ApiError::not_found().into_response();
        attach_request_id(&mut response, "req-123");
        let (status, headers, body) = body_of(response).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(headers[CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(
            body,
            json!({
                "type": "urn:cairn:problem:not-found",
                "title": "not found",
                "status": 404,
                "detail": "no such resource",
                "request_id": "req-123",
            })
        );
    }

    #[tokio::test]
    async fn responses_that_are_not_problems_are_left_alone() {
        let mut response = (StatusCode::OK, "plain").into_response();
        attach_request_id(&mut response, "req-123");
        let bytes = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .expect("body");
        assert_eq!(&bytes[..], b"plain");
    }
}
