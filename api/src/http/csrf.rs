//! CSRF protection for the web console: a double-submit token.
//!
//! Login sets, next to the HttpOnly session cookie, a random `cairn_csrf`
//! cookie that the console's script can read (it is not HttpOnly; it is
//! SameSite=Strict and worthless without the session cookie). Every write
//! authenticated by the session cookie must send the same value in the
//! `X-CSRF-Token` header; another site can make a browser send the cookie,
//! but can neither read it nor add that header (a cross-origin custom
//! header needs a CORS preflight we never grant). This comes on top of the
//! Origin check in `caller.rs`. Bearer and API-key requests carry no
//! ambient credential and are not concerned.

use axum::http::{HeaderMap, HeaderValue};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cairn_core::crypto::constant_time_eq;
use cairn_core::entropy::Entropy;

use super::cookies::cookie;
use super::problem::ApiError;

/// The cookie that holds the token.
pub const CSRF_COOKIE: &str = "cairn_csrf";

/// The header a cookie-authenticated write repeats it in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A fresh token: 32 random bytes, URL-safe base64.
pub fn new_token(entropy: &dyn Entropy) -> String {
    let mut bytes = [0u8; 32];
    entropy.fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The `Set-Cookie` value for `token` (an empty token with `max_age` 0
/// clears it).
pub fn csrf_cookie(token: &str, max_age: u64, secure: bool) -> Option<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{CSRF_COOKIE}={token}; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
    ))
    .ok()
}

/// Checks a cookie-authenticated write: the header must repeat the cookie
/// (compared in constant time). A refusal is a 403 that says what is
/// missing, never the expected value.
pub fn check(headers: &HeaderMap) -> Result<(), ApiError> {
    let refuse = |why: &str| {
        ApiError::forbidden(format!(
            "a cookie-authenticated write needs the {CSRF_COOKIE} cookie's value in the X-CSRF-Token header: {why}"
        ))
    };
    let expected = cookie(headers, CSRF_COOKIE)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| refuse("the cookie is missing (log in again)"))?;
    let sent = headers
        .get(CSRF_HEADER)
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| refuse("the header is missing"))?;
    if constant_time_eq(sent.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(refuse("the header does not match the cookie"))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use axum::http::header::COOKIE;
    use cairn_core::entropy::SeededEntropy;

    use super::*;

    fn headers(cookie: Option<&str>, header: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(cookie) = cookie {
            headers.insert(COOKIE, HeaderValue::from_str(cookie).expect("cookie"));
        }
        if let Some(header) = header {
            headers.insert(CSRF_HEADER, HeaderValue::from_str(header).expect("header"));
        }
        headers
    }

    #[test]
    fn the_header_must_repeat_the_cookie() {
        let token = new_token(&SeededEntropy::new(7));
        assert_eq!(token.len(), 43);
        let cookie = format!("cairn_session=s; {CSRF_COOKIE}={token}");
        assert!(check(&headers(Some(&cookie), Some(&token))).is_ok());
        for (cookie, header) in [
            (Some(cookie.as_str()), None),
            (Some(cookie.as_str()), Some("wrong")),
            (Some(cookie.as_str()), Some("")),
            (Some("cairn_session=s"), Some(token.as_str())),
            (Some("cairn_session=s; cairn_csrf="), Some("")),
            (None, Some(token.as_str())),
        ] {
            let error = check(&headers(cookie, header)).expect_err("refused");
            assert_eq!(error.status(), StatusCode::FORBIDDEN);
            assert!(
                error.detail().contains("X-CSRF-Token"),
                "{}",
                error.detail()
            );
            assert!(!error.detail().contains(&token), "{}", error.detail());
        }
    }

    #[test]
    fn tokens_differ() {
        let entropy = SeededEntropy::new(1);
        assert_ne!(new_token(&entropy), new_token(&entropy));
    }

    #[test]
    fn the_cookie_is_readable_by_script_but_strict() {
        let cookie = csrf_cookie("abc", 60, true).expect("cookie");
        let cookie = cookie.to_str().expect("text");
        assert!(cookie.starts_with("cairn_csrf=abc;"), "{cookie}");
        assert!(cookie.contains("SameSite=Strict"), "{cookie}");
        assert!(cookie.contains("Secure"), "{cookie}");
        assert!(!cookie.contains("HttpOnly"), "{cookie}");
    }
}
