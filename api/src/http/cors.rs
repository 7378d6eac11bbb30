//! CORS: which other web origins may call the API from a browser, from
//! `CAIRN_CORS_ORIGINS`.
//!
//! By default none may (no CORS headers at all: same-origin only). When
//! origins are listed, each must be an exact `scheme://host[:port]`, and
//! only those get `Access-Control-Allow-Origin`, with credentials allowed.
//! `*` is refused outright rather than quietly narrowed: a wildcard together
//! with credentials is the classic way to hand every website a logged-in
//! user's API, so Cairn never emits `Access-Control-Allow-Origin: *`.

use std::net::Ipv6Addr;
use std::time::Duration;

use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::request_id::X_REQUEST_ID;

/// How long a browser may cache a preflight answer.
pub const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// Why `CAIRN_CORS_ORIGINS` cannot be used; the server refuses to start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorsConfigError {
    /// `*` was listed.
    #[error(
        "CAIRN_CORS_ORIGINS: `*` is refused: credentials are allowed, and a wildcard origin \
         would let any website act with a signed-in user's session; list each origin exactly, \
         such as https://app.example.com"
    )]
    Wildcard,
    /// An entry is not a bare `scheme://host[:port]` origin.
    #[error(
        "CAIRN_CORS_ORIGINS: {entry:?} is not an origin: {reason} \
         (expected scheme://host[:port], such as https://app.example.com)"
    )]
    InvalidOrigin {
        /// The entry as configured.
        entry: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// The CORS layer for `origins` (the comma-separated entries of
/// `CAIRN_CORS_ORIGINS`; blank entries are skipped), or `None` when there are
/// none, in which case no CORS header is ever sent. Apply it with
/// `Router::layer(tower::util::option_layer(..))` or only when `Some`.
pub fn cors_layer(origins: &[String]) -> Result<Option<CorsLayer>, CorsConfigError> {
    let mut allowed = Vec::new();
    for entry in origins {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let origin = normalize_origin(entry)?;
        let value = HeaderValue::from_str(&origin).map_err(|_| CorsConfigError::InvalidOrigin {
            entry: entry.to_owned(),
            reason: "it is not a valid header value",
        })?;
        if !allowed.contains(&value) {
            allowed.push(value);
        }
    }
    if allowed.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(allowed))
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([AUTHORIZATION, CONTENT_TYPE, X_REQUEST_ID])
            .allow_credentials(true)
            .expose_headers([X_REQUEST_ID])
            .max_age(PREFLIGHT_MAX_AGE),
    ))
}

/// The origin as a browser serializes it in the `Origin` header (lowercase
/// scheme and host, no default port), so that the exact comparison the CORS
/// layer makes matches what browsers send.
fn normalize_origin(entry: &str) -> Result<String, CorsConfigError> {
    if entry == "*" {
        return Err(CorsConfigError::Wildcard);
    }
    let invalid = |reason| CorsConfigError::InvalidOrigin {
        entry: entry.to_owned(),
        reason,
    };
    let (scheme, authority) = entry
        .split_once("://")
        .ok_or_else(|| invalid("it does not start with http:// or https://"))?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return Err(invalid("the scheme must be http or https")),
    };
    if authority.contains(['/', '?', '#']) {
        return Err(invalid(
            "an origin has no path, query or fragment (not even a trailing '/')",
        ));
    }
    if authority.contains('@') {
        return Err(invalid("an origin has no user name or password"));
    }
    if authority.contains('*') {
        return Err(invalid("wildcards are not supported; list each origin"));
    }
    let (host, port) = split_host_port(authority).map_err(invalid)?;
    let host = normalize_host(host).map_err(invalid)?;
    let port = match port {
        None => None,
        Some(port) => {
            let number: u16 = port
                .parse()
                .ok()
                .filter(|number| *number != 0 && port.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| invalid("the port must be a number from 1 to 65535"))?;
            (number != default_port).then_some(number)
        }
    };
    Ok(match port {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    })
}

fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), &'static str> {
    if authority.starts_with('[') {
        let end = authority
            .find(']')
            .ok_or("an IPv6 address must be closed with ']'")?;
        let (host, rest) = authority.split_at(end + 1);
        return match rest {
            "" => Ok((host, None)),
            _ => match rest.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err("unexpected text after the IPv6 address"),
            },
        };
    }
    match authority.split_once(':') {
        Some((host, port)) => Ok((host, Some(port))),
        None => Ok((authority, None)),
    }
}

fn normalize_host(host: &str) -> Result<String, &'static str> {
    if let Some(inside) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let address: Ipv6Addr = inside.parse().map_err(|_| "not a valid IPv6 address")?;
        return Ok(format!("[{address}]"));
    }
    if host.is_empty() {
        return Err("the host is missing");
    }
    if !host.is_ascii() {
        return Err("write an international domain name in its xn-- (punycode) form");
    }
    let host = host.to_ascii_lowercase();
    let labels_ok = host.split('.').all(|label| {
        !label.is_empty()
            && label
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
    });
    if !labels_ok {
        return Err("the host may hold only letters, digits, '-' and '.' between labels");
    }
    Ok(host)
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::header::{
        ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS,
        ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS,
        ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD,
        ORIGIN,
    };
    use axum::http::{HeaderMap, Request};
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    fn origins(list: &[&str]) -> Vec<String> {
        list.iter().map(|origin| origin.to_string()).collect()
    }

    fn app() -> Router {
        let layer = cors_layer(&origins(&[
            "https://app.example.com",
            "http://localhost:3000",
        ]))
        .expect("valid")
        .expect("some origins");
        Router::new()
            .route("/api/v1/thing", get(|| async { "thing" }))
            .layer(layer)
    }

    async fn send(request: Request<Body>) -> HeaderMap {
        app()
            .oneshot(request)
            .await
            .expect("response")
            .headers()
            .clone()
    }

    fn preflight(origin: &str) -> Request<Body> {
        Request::options("/api/v1/thing")
            .header(ORIGIN, origin)
            .header(ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(ACCESS_CONTROL_REQUEST_HEADERS, "authorization,content-type")
            .body(Body::empty())
            .expect("request")
    }

    #[tokio::test]
    async fn an_allowed_origin_passes_preflight() {
        let headers = send(preflight("https://app.example.com")).await;
        assert_eq!(
            headers[ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://app.example.com"
        );
        assert_eq!(headers[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert_eq!(headers[ACCESS_CONTROL_MAX_AGE], "600");
        let methods = headers[ACCESS_CONTROL_ALLOW_METHODS]
            .to_str()
            .expect("ascii");
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            assert!(methods.contains(method), "{method} missing from {methods}");
        }
        let allowed = headers[ACCESS_CONTROL_ALLOW_HEADERS]
            .to_str()
            .expect("ascii");
        for header in ["authorization", "content-type", "x-request-id"] {
            assert!(allowed.contains(header), "{header} missing from {allowed}");
        }
    }

    #[tokio::test]
    async fn an_allowed_origin_sees_the_request_id() {
        let headers = send(
            Request::get("/api/v1/thing")
                .header(ORIGIN, "http://localhost:3000")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
        assert_eq!(
            headers[ACCESS_CONTROL_ALLOW_ORIGIN],
            "http://localhost:3000"
        );
        assert_eq!(headers[ACCESS_CONTROL_EXPOSE_HEADERS], "x-request-id");
    }

    #[tokio::test]
    async fn a_foreign_origin_gets_no_allow_origin() {
        for origin in [
            "https://evil.example.com",
            "https://app.example.com.evil.net",
            "null",
        ] {
            let headers = send(preflight(origin)).await;
            assert!(
                !headers.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN),
                "{origin} was allowed"
            );
        }
    }

    #[test]
    fn no_origins_means_no_cors_layer() {
        assert!(cors_layer(&[]).expect("valid").is_none());
        assert!(cors_layer(&origins(&["", "  "])).expect("valid").is_none());
    }

    #[test]
    fn a_wildcard_is_refused() {
        assert_eq!(
            cors_layer(&origins(&["https://app.example.com", " * "])).err(),
            Some(CorsConfigError::Wildcard)
        );
        let message = CorsConfigError::Wildcard.to_string();
        assert!(message.contains("CAIRN_CORS_ORIGINS"), "{message}");
    }

    #[test]
    fn malformed_origins_are_refused_by_name() {
        for bad in [
            "app.example.com",
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://app.example.com?x=1",
            "ftp://app.example.com",
            "https://user@app.example.com",
            "https://*.example.com",
            "https://",
            "https://app..example.com",
            "https://app.example.com:0",
            "https://app.example.com:99999",
            "https://app.example.com:8a",
            "https://[::1",
            "https://bücher.example",
            "null",
        ] {
            match cors_layer(&origins(&[bad])) {
                Err(CorsConfigError::InvalidOrigin { entry, .. }) => assert_eq!(entry, bad),
                other => panic!("{bad}: {other:?}"),
            }
        }
        let message = cors_layer(&origins(&["https://app.example.com/"]))
            .expect_err("refused")
            .to_string();
        assert!(
            message.contains("\"https://app.example.com/\""),
            "{message}"
        );
        assert!(message.contains("trailing '/'"), "{message}");
    }

    #[test]
    fn origins_are_written_as_browsers_send_them() {
        let normalize = |entry| normalize_origin(entry).expect("valid");
        assert_eq!(
            normalize("HTTPS://App.Example.COM"),
            "https://app.example.com"
        );
        assert_eq!(
            normalize("https://app.example.com:443"),
            "https://app.example.com"
        );
        assert_eq!(normalize("http://localhost:80"), "http://localhost");
        assert_eq!(normalize("http://localhost:8080"), "http://localhost:8080");
        assert_eq!(normalize("http://[::1]:3000"), "http://[::1]:3000");
        assert_eq!(normalize("http://127.0.0.1:3000"), "http://127.0.0.1:3000");
    }
}
