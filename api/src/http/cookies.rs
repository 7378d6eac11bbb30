//! Reading the cookies a request carries (the session and CSRF cookies).
//! Its own module so that the caller extractor and the CSRF check both use
//! it without importing each other.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

/// The value of the cookie `name`, from any of the request's `Cookie`
/// headers.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn a_cookie_is_found_in_any_header_and_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1; b=2"));
        headers.append(COOKIE, HeaderValue::from_static("cairn_csrf=xyz"));
        assert_eq!(cookie(&headers, "b").as_deref(), Some("2"));
        assert_eq!(cookie(&headers, "cairn_csrf").as_deref(), Some("xyz"));
        assert_eq!(cookie(&headers, "missing"), None);
        assert_eq!(cookie(&headers, "a=1"), None);
    }
}
