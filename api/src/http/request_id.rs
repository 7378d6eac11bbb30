//! Request ids: one per request, so a client's error report, the server's
//! log lines, the problem body and the events the request recorded can be
//! matched up.
//!
//! The id is always the server's own, a fresh UUIDv7: it is what the signed
//! log records as an event's `request_id`, so a client must not choose it
//! (a client sending `X-Request-Id: bootstrap` would otherwise have its
//! requests recorded under a name of its choosing). A client's
//! `X-Request-Id` (a proxy in front may already have assigned one) is kept
//! apart as a [`ClientRequestId`] when it is 1 to [`MAX_REQUEST_ID_LEN`]
//! visible ASCII characters, and ignored otherwise (a tracing header is
//! no reason to refuse a request): it is echoed in the response's
//! `X-Client-Request-Id` and carried by the request's log lines, never
//! recorded in an event.
//!
//! The middleware stores both as request extensions, opens a tracing span
//! carrying them (so every log line of the request has them), echoes the
//! server's id in the response's `X-Request-Id`, and adds it to problem
//! bodies (see [`super::problem`]). It must be the outermost layer, so that
//! every response, even a rejection by another layer, gets it.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::problem;

/// The header that carries the server's id in responses, and a client's
/// own id in requests.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The response header that echoes a client's own `X-Request-Id`.
pub const X_CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("x-client-request-id");

/// The longest client-supplied id kept; longer ones are ignored.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// The server's id of the current request, the one events record. Extract
/// it in a handler to log it or pass it on; extraction never fails.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// A fresh id: a UUIDv7, so ids sort by time in the logs.
    pub fn generate() -> RequestId {
        // One source per thread: every request makes an id, and a source
        // shared by all of them would serialize them on its lock. Ids
        // need to be unique, not ordered across threads.
        thread_local! {
            static IDS: cairn_core::IdSource = cairn_core::IdSource::new(
                std::sync::Arc::new(cairn_core::SystemClock),
                std::sync::Arc::new(cairn_core::OsEntropy),
            );
        }
        RequestId(IDS.with(|ids| ids.new_id().to_string()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The id a client (or a proxy in front) sent in `X-Request-Id`, kept apart
/// from the server's [`RequestId`]: for the logs and the echo only.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientRequestId(String);

impl ClientRequestId {
    /// The client's id, when it is 1 to [`MAX_REQUEST_ID_LEN`] visible ASCII
    /// characters (no space, no control character).
    pub fn from_header(value: &HeaderValue) -> Option<ClientRequestId> {
        let bytes = value.as_bytes();
        let acceptable = (1..=MAX_REQUEST_ID_LEN).contains(&bytes.len())
            && bytes.iter().all(|byte| byte.is_ascii_graphic());
        if !acceptable {
            return None;
        }
        // All visible ASCII, so this is valid UTF-8.
        std::str::from_utf8(bytes)
            .ok()
            .map(|id| ClientRequestId(id.to_owned()))
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
    let client = match (supplied.next(), supplied.next()) {
        (Some(value), None) => ClientRequestId::from_header(value),
        _ => None,
    };
    let id = RequestId::generate();
    let header = HeaderValue::from_str(id.as_str()).ok();
    // Whatever reads the request's header further in sees the server's id.
    request.headers_mut().remove(X_REQUEST_ID);
    if let Some(header) = &header {
        request.headers_mut().insert(X_REQUEST_ID, header.clone());
    }
    request.extensions_mut().insert(id.clone());
    if let Some(client) = &client {
        request.extensions_mut().insert(client.clone());
    }

    let span = tracing::info_span!(
        "request",
        request_id = %id,
        client_request_id = client.as_ref().map(ClientRequestId::as_str),
        method = %request.method(),
        path = %request.uri().path(),
    );
    let mut response = next.run(request).instrument(span).await;

    problem::attach_request_id(&mut response, id.as_str());
    if let Some(header) = header {
        response.headers_mut().insert(X_REQUEST_ID, header);
    }
    if let Some(echo) = client.and_then(|client| HeaderValue::from_str(client.as_str()).ok()) {
        response.headers_mut().insert(X_CLIENT_REQUEST_ID, echo);
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

    #[test]
    fn ids_made_at_once_on_many_threads_are_all_distinct() {
        let made: Vec<String> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        (0..2000)
                            .map(|_| RequestId::generate().as_str().to_string())
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            threads
                .into_iter()
                .flat_map(|thread| thread.join().expect("thread"))
                .collect()
        });
        let distinct: std::collections::HashSet<&String> = made.iter().collect();
        assert_eq!(distinct.len(), made.len());
    }

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

    /// The status, the `X-Request-Id` and `X-Client-Request-Id` answered,
    /// and the body.
    struct Reply {
        status: StatusCode,
        server_id: Option<String>,
        client_id: Option<String>,
        body: String,
    }

    async fn call(path: &str, ids: &[&[u8]]) -> Reply {
        let mut request = Request::get(path);
        for id in ids {
            request = request.header(X_REQUEST_ID, HeaderValue::from_bytes(id).expect("header"));
        }
        let response = app()
            .oneshot(request.body(Body::empty()).expect("request"))
            .await
            .expect("response");
        let status = response.status();
        let header = |name: &HeaderName| {
            response
                .headers()
                .get(name)
                .map(|value| value.to_str().expect("ascii").to_owned())
        };
        let server_id = header(&X_REQUEST_ID);
        let client_id = header(&X_CLIENT_REQUEST_ID);
        let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
            .await
            .expect("body");
        Reply {
            status,
            server_id,
            client_id,
            body: String::from_utf8(body.to_vec()).expect("utf-8"),
        }
    }

    fn is_uuid_v7(id: &str) -> bool {
        uuid::Uuid::parse_str(id).is_ok_and(|parsed| parsed.get_version_num() == 7)
    }

    #[tokio::test]
    async fn a_client_cannot_choose_the_request_id_only_have_its_own_echoed() {
        for chosen in [&b"bootstrap"[..], b"abc-123_XYZ"] {
            let reply = call("/echo", &[chosen]).await;
            assert_eq!(reply.status, StatusCode::OK);
            let server_id = reply.server_id.expect("echoed");
            assert!(is_uuid_v7(&server_id), "{server_id}");
            // What the handler (and so every event) sees is the server's.
            assert_eq!(reply.body, server_id);
            assert_eq!(reply.client_id.as_deref().map(str::as_bytes), Some(chosen));
        }
    }

    #[tokio::test]
    async fn without_a_client_id_a_uuid_v7_is_generated_and_nothing_is_echoed() {
        let reply = call("/echo", &[]).await;
        let header = reply.server_id.expect("echoed");
        assert_eq!(header, reply.body);
        assert!(is_uuid_v7(&header));
        assert_eq!(reply.client_id, None);
    }

    #[tokio::test]
    async fn implausible_or_repeated_client_ids_are_ignored() {
        let too_long = vec![b'a'; MAX_REQUEST_ID_LEN + 1];
        for bad in [&b"has space"[..], b"tab\there", &too_long, b"caf\xc3\xa9"] {
            let reply = call("/echo", &[bad]).await;
            assert!(is_uuid_v7(&reply.server_id.expect("echoed")));
            assert_eq!(reply.client_id, None, "{bad:?} was kept");
        }
        let reply = call("/echo", &[b"one", b"two"]).await;
        assert_eq!(reply.client_id, None);
        let longest = "b".repeat(MAX_REQUEST_ID_LEN);
        let reply = call("/echo", &[longest.as_bytes()]).await;
        assert_eq!(reply.client_id.as_deref(), Some(longest.as_str()));
        assert_ne!(reply.server_id.as_deref(), Some(longest.as_str()));
    }

    #[tokio::test]
    async fn problem_bodies_carry_the_servers_request_id() {
        let reply = call("/fail", &[b"trace-me"]).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        let server_id = reply.server_id.expect("echoed");
        assert!(is_uuid_v7(&server_id));
        assert_eq!(reply.client_id.as_deref(), Some("trace-me"));
        let body: serde_json::Value = serde_json::from_str(&reply.body).expect("json");
        assert_eq!(body["request_id"], server_id.as_str());
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
