//! Requests made by flow runs never reach Cairn's own API. Every request
//! of an http step carries [`RUN_MARKER_HEADER`]; the edge answers any
//! request that has it with 403 before a handler runs (the refusal is
//! recorded like any other). The egress policy already refuses the
//! server's own listen address; this closes the other ways back in (a
//! public name, a reverse proxy, a port forward), through which a `use`
//! grantee could otherwise have a run store a shared secret's plaintext as
//! a secret of their own and reveal it.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use cairn_app::runs::steps::RUN_MARKER_HEADER;

use super::problem::ApiError;

/// What a refused request is told.
pub const REFUSAL: &str = "a request made by a flow run may not call Cairn's own API";

/// The middleware.
pub async fn refuse_requests_from_runs(request: Request, next: Next) -> Response {
    if is_from_a_run(request.headers()) {
        return ApiError::forbidden(REFUSAL).into_response();
    }
    next.run(request).await
}

/// Whether the request was made by a run's http step.
fn is_from_a_run(headers: &axum::http::HeaderMap) -> bool {
    headers.contains_key(RUN_MARKER_HEADER)
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue};

    use super::*;

    #[test]
    fn given_the_marker_in_any_case_or_value_when_checked_then_the_request_is_a_runs() {
        for (name, value) in [("cairn-run", "1"), ("Cairn-Run", ""), ("CAIRN-RUN", "x")] {
            let mut headers = HeaderMap::new();
            headers.insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
            assert!(is_from_a_run(&headers), "{name}");
        }
        assert!(!is_from_a_run(&HeaderMap::new()));
    }
}
