//! The web console: a single-page app served on the API's own origin from
//! files embedded in the binary (`assets.rs`; the sources are in
//! `api/console/`). These routes only hand out static files; everything
//! the console does, it does through the REST API with the session cookie,
//! so it can do nothing a caller of the API could not.
//!
//! The console's pages are addressed by the fragment (`/#/users`), so
//! the server needs the shell at `/` and one route for the files.
//! Its Content-Security-Policy allows scripts, styles and images from this
//! origin only: no inline script or style, nothing from a CDN, no framing.
//! Files are revalidated on every load (`no-cache` with a strong `ETag`),
//! so an upgraded binary is never hidden behind a stale cache.

pub mod assets;

use axum::extract::RawPathParams;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::problem::ApiError;
use assets::Asset;

/// The console's Content-Security-Policy.
pub const CONSOLE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

/// A strong validator for a file: the start of its SHA-256.
fn etag(asset: &Asset) -> String {
    let digest = Sha256::digest(asset.body);
    format!("\"{}\"", hex::encode(&digest[..12]))
}

fn serve(asset: &'static Asset, request_headers: &HeaderMap) -> Response {
    let tag = etag(asset);
    let fresh = request_headers
        .get(IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|candidate| candidate.trim() == tag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.body.into_response()
    };
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONSOLE_CSP),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(tag) = HeaderValue::from_str(&tag) {
        headers.insert(ETAG, tag);
    }
    response
}

/// `GET /`: the console's shell.
#[utoipa::path(get, path = "/", tag = "console", responses((status = 200, description = "the web console (HTML)", content_type = "text/html"), (status = 304, description = "not modified (If-None-Match)")))]
pub async fn index(headers: HeaderMap) -> Response {
    serve(&assets::INDEX, &headers)
}

/// `GET /console/{asset}`: one of the console's files.
#[utoipa::path(get, path = "/console/{asset}", tag = "console", params(("asset" = String, Path, description = "a file of the console, e.g. app.js")), responses((status = 200, description = "the file (JavaScript, CSS or SVG)"), (status = 304, description = "not modified (If-None-Match)"), (status = 404, description = "no such file", body = super::problem::Problem, content_type = "application/problem+json")))]
pub async fn asset(params: RawPathParams, headers: HeaderMap) -> Result<Response, ApiError> {
    let name = params
        .iter()
        .find(|(key, _)| *key == "asset")
        .map(|(_, value)| value)
        .ok_or_else(ApiError::not_found)?;
    let asset = assets::find(name).ok_or_else(ApiError::not_found)?;
    Ok(serve(asset, &headers))
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    fn app() -> Router {
        Router::new()
            .route("/", get(index))
            .route("/console/{asset}", get(asset))
    }

    async fn get_path(path: &str, if_none_match: Option<&str>) -> Response {
        let mut request = Request::get(path);
        if let Some(tag) = if_none_match {
            request = request.header(IF_NONE_MATCH, tag);
        }
        app()
            .oneshot(request.body(Body::empty()).expect("request"))
            .await
            .expect("response")
    }

    #[tokio::test]
    async fn the_shell_and_files_come_with_their_type_and_policy() {
        for (path, kind) in [
            ("/", "text/html"),
            ("/console/app.js", "text/javascript"),
            ("/console/console.css", "text/css"),
            ("/console/favicon.svg", "image/svg+xml"),
        ] {
            let response = get_path(path, None).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            let headers = response.headers();
            assert!(
                headers[CONTENT_TYPE]
                    .to_str()
                    .is_ok_and(|value| value.starts_with(kind)),
                "{path}: {:?}",
                headers[CONTENT_TYPE]
            );
            assert_eq!(headers[CONTENT_SECURITY_POLICY], CONSOLE_CSP, "{path}");
            assert_eq!(headers[CACHE_CONTROL], "no-cache", "{path}");
            assert!(headers.contains_key(ETAG), "{path}");
        }
    }

    #[tokio::test]
    async fn a_known_version_is_not_sent_again() {
        let first = get_path("/console/app.js", None).await;
        let tag = first.headers()[ETAG].to_str().expect("etag").to_string();
        let again = get_path("/console/app.js", Some(&tag)).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        let other = get_path("/console/app.js", Some("\"something-else\"")).await;
        assert_eq!(other.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn unknown_files_are_problems() {
        for path in ["/console/nope.js", "/console/..%2Fmain.rs", "/console/"] {
            let response = get_path(path, None).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        }
    }

    #[test]
    fn the_policy_allows_nothing_inline_and_nothing_foreign() {
        assert!(!CONSOLE_CSP.contains("unsafe"));
        assert!(!CONSOLE_CSP.contains("http"));
        assert!(!CONSOLE_CSP.contains('*'));
    }
}
