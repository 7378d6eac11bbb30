//! Request ids: one per request, so a client's error report, the server's
//! log lines and the problem body can be matched up.
//!
//! The id is the client's `X-Request-Id` when it is a plausible one (1 to 128
//! visible ASCII characters: a proxy in front may already have assigned it),
//! otherwise a fresh UUIDv7. The middleware stores it as a [`RequestId`]
//! request extension, opens a tracing span carrying it (so every log line of
//! the request has it), echoes it in the response's `X-Request-Id`, and adds
//! it to problem bodies (see [`super::problem`]). It must be the outermost
//! layer, so that every response, even a rejection by another layer, gets it.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::problem;

/// The header that carries the id, in both directions.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest client-supplied id accepted; longer ones are replaced.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// The id of the current request. Extract it in a handler to log it or pass
/// it on; extraction never fails.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// A fresh id: a UUIDv7, so ids sort by time in the logs.
    pub fn generate() -> RequestId {
        RequestId(uuid::Uuid::now_v7().to_string())
    }

    /// The client's id, when it is 1 to [`MAX_REQUEST_ID_LEN`] visible ASCII
    /// characters (no space, no control character).
    pub fn from_header(value: &HeaderValue) -> Option<RequestId> {
        let bytes = value.as_bytes();
        let acceptable = (1..=MAX_REQUEST_ID_LEN).contains(&bytes.len())
            && bytes.iter().all(|byte| byte.is_ascii_graphic());
        if !acceptable {
            return None;
        }
        // All visible ASCII, so this is valid UTF-8.
        std::str::from_utf8(bytes)
            .ok()
            .map(|id| RequestId(id.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = Infallible;

    /// The id the middleware assigned; a fresh one when the middleware is not
    /// in the stack (tests that build a bare router), so it never fails.
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(RequestId::generate))
    }
}

/// The middleware, for `axum::middleware::from_fn(request_id)`.
pub async fn request_id(mut request: Request, next: Next) -> Response {
    let mut supplied = request.headers().get_all(&X_REQUEST_ID).iter();
    // Two ids are as good as none: there is no telling which one is right.
    let id = match (supplied.next(), supplied.next()) {
        (Some(value), None) => RequestId::from_header(value),
        _ => None,
    }
    .unwrap_or_else(RequestId::generate);
    let header = HeaderValue::from_str(id.as_str()).ok();
    if let Some(header) = &header {
        request.headers_mut().insert(X_REQUEST_ID, header.clone());
    }
    request.extensions_mut().insert(id.clone());

    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let mut response = next.run(request).instrument(span).await;

    problem::attach_request_id(&mut response, id.as_str());
    if let Some(header) = header {
        response.headers_mut().insert(X_REQUEST_ID, header);
    }
    response
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::super::problem::ApiError;
    use super::*;

    fn app() -> Router {
        Router::new()
            .route(
                "/echo",
                get(|id: RequestId| async move { id.as_str().to_owned() }),
            )
            .route(
                "/fail",
                get(|| async { Err::<(), _>(ApiError::not_found()) }),
            )
            .layer(axum::middleware::from_fn(request_id))
    }

    async fn call(path: &str, id: Option<&[u8]>) -> (StatusCode, Option<String>, String) {
        let mut request = Request::get(path);
        if let Some(id) = id {
            request = request.header(X_REQUEST_ID, HeaderValue::from_bytes(id).expect("header"));
        }
        let response = app()
            .oneshot(request.body(Body::empty()).expect("request"))
            .await
            .expect("response");
        let status = response.status();
        let header = response
            .headers()
            .get(X_REQUEST_ID)
            .map(|value| value.to_str().expect("ascii").to_owned());
        let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
            .await
            .expect("body");
        (
            status,
            header,
            String::from_utf8(body.to_vec()).expect("utf-8"),
        )
    }

    #[tokio::test]
    async fn a_plausible_client_id_is_kept_and_echoed() {
        let (status, header, body) = call("/echo", Some(b"abc-123_XYZ")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(header.as_deref(), Some("abc-123_XYZ"));
        assert_eq!(body, "abc-123_XYZ");
    }

    #[tokio::test]
    async fn without_a_client_id_a_uuid_v7_is_generated() {
        let (_, header, body) = call("/echo", None).await;
        let header = header.expect("echoed");
        assert_eq!(header, body);
        let parsed = uuid::Uuid::parse_str(&header).expect("a uuid");
        assert_eq!(parsed.get_version_num(), 7);
    }

    #[tokio::test]
    async fn implausible_client_ids_are_replaced() {
        let too_long = vec![b'a'; MAX_REQUEST_ID_LEN + 1];
        for bad in [&b"has space"[..], b"tab\there", &too_long, b"caf\xc3\xa9"] {
            let (_, header, _) = call("/echo", Some(bad)).await;
            let header = header.expect("echoed");
            assert!(uuid::Uuid::parse_str(&header).is_ok(), "{bad:?} was kept");
        }
        let longest = "b".repeat(MAX_REQUEST_ID_LEN);
        let (_, header, _) = call("/echo", Some(longest.as_bytes())).await;
        assert_eq!(header.as_deref(), Some(longest.as_str()));
    }

    #[tokio::test]
    async fn problem_bodies_carry_the_request_id() {
        let (status, header, body) = call("/fail", Some(b"trace-me")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(header.as_deref(), Some("trace-me"));
        let body: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(body["request_id"], "trace-me");
        assert_eq!(body["status"], 404);
    }

    #[tokio::test]
    async fn the_extractor_works_without_the_middleware() {
        let app = Router::new().route(
            "/echo",
            get(|id: RequestId| async move { id.as_str().to_owned() }),
        );
        let response = app
            .oneshot(Request::get("/echo").body(Body::empty()).expect("request"))
            .await
            .expect("response");
        assert_eq!(response.status(), StatusCode::OK);
    }
}
