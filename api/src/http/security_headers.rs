//! Browser-facing hardening headers on every response.
//!
//! The API serves JSON only, so its policy is as tight as it gets: nothing
//! may be loaded, framed or sniffed, no referrer leaks, and nothing under
//! `/api/` is cached (responses carry tokens, secrets revealed once, and
//! personal data). HSTS is sent only when TLS is terminated in front of
//! Cairn: over plain HTTP on a developer's machine it would pin `localhost`
//! to HTTPS in the browser.
//!
//! Each header is added only when the response does not already carry it,
//! so a route with other needs (the web console's own CSP, say) sets its
//! own in an inner layer or handler and keeps it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, Response};
use tower::{Layer, Service};

/// The API's Content-Security-Policy: a JSON API loads nothing and is framed
/// by no one.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// The HSTS policy when TLS is terminated in front: two years, subdomains
/// included (no `preload`: that is a decision for the domain's owner).
pub const HSTS: &str = "max-age=63072000; includeSubDomains";

/// The layer for the API: the headers above, HSTS when `tls_terminated`
/// says HTTPS is terminated in front of Cairn.
pub fn api_security_headers(tls_terminated: bool) -> SecurityHeadersLayer {
    SecurityHeadersLayer::new(HeaderValue::from_static(API_CSP), tls_terminated)
}

/// Adds the hardening headers; see the module comment.
#[derive(Clone, Debug)]
pub struct SecurityHeadersLayer {
    policy: Arc<Policy>,
}

#[derive(Debug)]
struct Policy {
    always: Vec<(HeaderName, HeaderValue)>,
}

impl SecurityHeadersLayer {
    /// A layer with the given Content-Security-Policy (the web console will
    /// need a different one from the API's) and HSTS when `tls_terminated`.
    pub fn new(content_security_policy: HeaderValue, tls_terminated: bool) -> Self {
        let mut always = vec![
            (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
            (CONTENT_SECURITY_POLICY, content_security_policy),
        ];
        if tls_terminated {
            always.push((STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS)));
        }
        SecurityHeadersLayer {
            policy: Arc::new(Policy { always }),
        }
    }
}

impl<S> Layer<S> for SecurityHeadersLayer {
    type Service = SecurityHeaders<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SecurityHeaders {
            inner,
            policy: Arc::clone(&self.policy),
        }
    }
}

/// The service [`SecurityHeadersLayer`] wraps around the router.
#[derive(Clone, Debug)]
pub struct SecurityHeaders<S> {
    inner: S,
    policy: Arc<Policy>,
}

/// Whether responses to `path` must never be stored by a cache.
fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

fn add_missing(headers: &mut HeaderMap, policy: &Policy, no_store: bool) {
    for (name, value) in &policy.always {
        if !headers.contains_key(name) {
            headers.insert(name.clone(), value.clone());
        }
    }
    if no_store && !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

impl<S, RequestBody, ResponseBody> Service<Request<RequestBody>> for SecurityHeaders<S>
where
    S: Service<Request<RequestBody>, Response = Response<ResponseBody>>,
    S::Future: Send + 'static,
{
    type Response = Response<ResponseBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: Request<RequestBody>) -> Self::Future {
        let no_store = is_api_path(request.uri().path());
        let policy = Arc::clone(&self.policy);
        let response = self.inner.call(request);
        Box::pin(async move {
            let mut response = response.await?;
            add_missing(response.headers_mut(), &policy, no_store);
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    fn app(tls_terminated: bool) -> Router {
        Router::new()
            .route("/api/v1/thing", get(|| async { "thing" }))
            .route("/health", get(|| async { "ok" }))
            .route(
                "/console",
                get(|| async { ([(CONTENT_SECURITY_POLICY, "default-src 'self'")], "console") }),
            )
            .layer(api_security_headers(tls_terminated))
    }

    async fn headers(tls_terminated: bool, path: &str) -> HeaderMap {
        app(tls_terminated)
            .oneshot(Request::get(path).body(Body::empty()).expect("request"))
            .await
            .expect("response")
            .headers()
            .clone()
    }

    #[tokio::test]
    async fn api_responses_are_hardened_and_never_cached() {
        let headers = headers(false, "/api/v1/thing").await;
        assert_eq!(headers[X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[X_FRAME_OPTIONS], "DENY");
        assert_eq!(headers[REFERRER_POLICY], "no-referrer");
        assert_eq!(headers[CONTENT_SECURITY_POLICY], API_CSP);
        assert_eq!(headers[CACHE_CONTROL], "no-store");
        assert!(!headers.contains_key(STRICT_TRANSPORT_SECURITY));
    }

    #[tokio::test]
    async fn unknown_api_paths_are_not_cached_either() {
        let headers = headers(false, "/api/v1/nothing-here").await;
        assert_eq!(headers[CACHE_CONTROL], "no-store");
    }

    #[tokio::test]
    async fn paths_outside_the_api_may_be_cached() {
        let headers = headers(false, "/health").await;
        assert_eq!(headers[X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(!headers.contains_key(CACHE_CONTROL));
        assert!(!is_api_path("/apix"));
    }

    #[tokio::test]
    async fn hsts_only_behind_tls() {
        let headers = headers(true, "/health").await;
        assert_eq!(headers[STRICT_TRANSPORT_SECURITY], HSTS);
    }

    #[tokio::test]
    async fn a_route_keeps_its_own_policy() {
        let headers = headers(false, "/console").await;
        assert_eq!(headers[CONTENT_SECURITY_POLICY], "default-src 'self'");
    }
}
