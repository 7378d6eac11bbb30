//! The web console's session cookie: HttpOnly, SameSite=Strict (Secure
//! outside development), it authenticates reads, and a write authenticated
//! by the cookie alone must come from this site (Origin check) and repeat
//! the `cairn_csrf` cookie in `X-CSRF-Token` (double-submit CSRF token);
//! each refusal is an `authz.denied` event. Bearer requests need neither.

use crate::server::api_client::{ADMIN_PASSWORD, ADMIN_USER, AdminServer};

/// Logs in by the API and returns the `name=value` pairs of the cookies it
/// set, session first, and the full Set-Cookie lines.
fn login_cookies(
    server: &AdminServer,
    username: &str,
    password: &str,
) -> (String, String, Vec<String>) {
    let login = reqwest::blocking::Client::new()
        .post(server.url("/api/v1/auth/login"))
        .json(&serde_json::json!({"username": username, "password": password}))
        .send()
        .expect("login");
    assert_eq!(login.status(), 200);
    let lines: Vec<String> = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .map(str::to_string)
        .collect();
    let pair = |name: &str| {
        lines
            .iter()
            .find(|line| line.starts_with(&format!("{name}=")))
            .and_then(|line| line.split(';').next())
            .unwrap_or_else(|| panic!("no {name} cookie in {lines:?}"))
            .to_string()
    };
    (pair("cairn_session"), pair("cairn_csrf"), lines)
}

#[test]
fn the_cookie_authenticates_and_cross_site_writes_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = AdminServer::start(&dir.path().join("data"), &[]);
    let client = reqwest::blocking::Client::new();
    let login = client
        .post(server.url("/api/v1/auth/login"))
        .json(&serde_json::json!({"username": ADMIN_USER, "password": ADMIN_PASSWORD}))
        .send()
        .expect("login");
    assert_eq!(login.status(), 200);
    let set_cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("set-cookie")
        .to_string();
    assert!(set_cookie.starts_with("cairn_session="), "{set_cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(
            set_cookie.contains(attribute),
            "{attribute} missing: {set_cookie}"
        );
    }
    assert!(
        !set_cookie.contains("Secure"),
        "development serves plain HTTP on loopback: {set_cookie}"
    );
    let cookie = set_cookie.split(';').next().expect("pair").to_string();

    // A read with the cookie alone works.
    let me = client
        .get(server.url("/api/v1/auth/me"))
        .header("cookie", &cookie)
        .send()
        .expect("me");
    assert_eq!(me.status(), 200);

    // A write with the cookie and no Origin, or a foreign one, is refused
    // and changes nothing.
    let host = server.url("").trim_start_matches("http://").to_string();
    for origin in [None, Some("https://evil.example"), Some("null")] {
        let mut request = client
            .post(server.url("/api/v1/orgs"))
            .header("cookie", &cookie)
            .json(&serde_json::json!({"name": "csrf-org"}));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let answer = request.send().expect("post");
        assert_eq!(answer.status(), 403, "origin {origin:?}");
        let body: serde_json::Value = answer.json().expect("problem");
        assert!(
            body["detail"].as_str().expect("detail").contains("Origin"),
            "{body}"
        );
    }
    let orgs = client
        .get(server.url("/api/v1/orgs"))
        .header("cookie", &cookie)
        .send()
        .expect("orgs");
    let orgs: serde_json::Value = orgs.json().expect("json");
    assert!(
        !orgs.to_string().contains("csrf-org"),
        "nothing was created: {orgs}"
    );

    // The same write from this site's own origin, with the CSRF token,
    // goes through.
    let csrf = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|line| line.starts_with("cairn_csrf="))
        .and_then(|line| line.split(';').next())
        .expect("the csrf cookie")
        .to_string();
    let token = csrf.trim_start_matches("cairn_csrf=").to_string();
    let cookie = format!("{cookie}; {csrf}");
    let answer = client
        .post(server.url("/api/v1/orgs"))
        .header("cookie", &cookie)
        .header("origin", format!("http://{host}"))
        .header("x-csrf-token", &token)
        .json(&serde_json::json!({"name": "same-site-org"}))
        .send()
        .expect("post");
    assert_eq!(answer.status(), 201, "{:?}", answer.text());

    // Logout through the cookie clears it, and the cookie stops working.
    let logout = client
        .post(server.url("/api/v1/auth/logout"))
        .header("cookie", &cookie)
        .header("origin", format!("http://{host}"))
        .header("x-csrf-token", &token)
        .send()
        .expect("logout");
    assert_eq!(logout.status(), 204);
    let cleared = logout
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("set-cookie");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let me = client
        .get(server.url("/api/v1/auth/me"))
        .header("cookie", &cookie)
        .send()
        .expect("me");
    assert_eq!(me.status(), 401);
}

#[test]
fn cookie_writes_without_the_csrf_token_are_refused_and_recorded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = AdminServer::start(&dir.path().join("data"), &[]);
    let client = reqwest::blocking::Client::new();
    let (session, csrf, lines) = login_cookies(&server, ADMIN_USER, ADMIN_PASSWORD);
    let csrf_line = lines
        .iter()
        .find(|line| line.starts_with("cairn_csrf="))
        .expect("csrf line");
    // Readable by the console's script, but strict and site-wide.
    assert!(!csrf_line.contains("HttpOnly"), "{csrf_line}");
    for attribute in ["SameSite=Strict", "Path=/", "Max-Age="] {
        assert!(csrf_line.contains(attribute), "{attribute}: {csrf_line}");
    }
    let token = csrf.trim_start_matches("cairn_csrf=").to_string();
    assert!(token.len() >= 43, "a 256-bit token: {token}");
    let (_, other_csrf, _) = login_cookies(&server, ADMIN_USER, ADMIN_PASSWORD);
    assert_ne!(csrf, other_csrf, "a fresh token per login");

    let origin = server.url("");
    let both = format!("{session}; {csrf}");
    let write = |cookie: &str, header: Option<&str>, name: &str| {
        let mut request = client
            .post(server.url("/api/v1/orgs"))
            .header("cookie", cookie)
            .header("origin", &origin)
            .json(&serde_json::json!({"name": name}));
        if let Some(header) = header {
            request = request.header("x-csrf-token", header);
        }
        request.send().expect("post")
    };
    let refusals = [
        (both.as_str(), None, "no header"),
        (both.as_str(), Some("wrong-token"), "a wrong header"),
        (both.as_str(), Some(""), "an empty header"),
        (session.as_str(), Some(token.as_str()), "no csrf cookie"),
    ];
    for (cookie, header, why) in refusals {
        let answer = write(cookie, header, "csrf-refused-org");
        assert_eq!(answer.status(), 403, "{why}");
        assert!(
            answer
                .headers()
                .get("content-type")
                .and_then(|value| value.to_str().ok())
                .is_some_and(|value| value.starts_with("application/problem+json")),
            "{why}"
        );
        let body: serde_json::Value = answer.json().expect("problem");
        let detail = body["detail"].as_str().expect("detail");
        assert!(detail.contains("X-CSRF-Token"), "{why}: {body}");
        assert!(!detail.contains(&token), "{why}: the token is not echoed");
    }

    // Reads need no token; bearer writes are not concerned.
    let admin = server.admin_token();
    let orgs = client
        .get(server.url("/api/v1/orgs"))
        .header("cookie", &both)
        .send()
        .expect("orgs");
    assert_eq!(orgs.status(), 200);
    let orgs: serde_json::Value = orgs.json().expect("json");
    assert!(
        !orgs.to_string().contains("csrf-refused-org"),
        "nothing was created: {orgs}"
    );
    let bearer = server.call(
        "POST",
        "/api/v1/orgs",
        Some(&admin),
        Some(&serde_json::json!({"name": "bearer-org"})),
    );
    assert_eq!(bearer.status, 201, "{}", bearer.text);

    // With the token, the cookie write goes through.
    let answer = write(&both, Some(&token), "csrf-accepted-org");
    assert_eq!(answer.status(), 201, "{:?}", answer.text());

    // Each refusal is an authz.denied event naming the request.
    let events = server.call(
        "GET",
        "/api/v1/audit/events?action=authz.denied&limit=500",
        Some(&admin),
        None,
    );
    assert_eq!(events.status, 200, "{}", events.text);
    let denied: Vec<&serde_json::Value> = events.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|event| {
            event["details"]["path"] == "/api/v1/orgs" && event["details"]["status"] == 403
        })
        .collect();
    assert_eq!(denied.len(), refusals.len(), "{}", events.text);
    for event in denied {
        assert_eq!(event["outcome"], "denied", "{event}");
        assert_eq!(
            event["actor"]["type"], "user",
            "the caller is named: {event}"
        );
    }

    // Logout needs the token too, and clears both cookies.
    let logout = client
        .post(server.url("/api/v1/auth/logout"))
        .header("cookie", &both)
        .header("origin", &origin)
        .send()
        .expect("logout");
    assert_eq!(logout.status(), 403);
    let logout = client
        .post(server.url("/api/v1/auth/logout"))
        .header("cookie", &both)
        .header("origin", &origin)
        .header("x-csrf-token", &token)
        .send()
        .expect("logout");
    assert_eq!(logout.status(), 204);
    let cleared: Vec<&str> = logout
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    for name in ["cairn_session=;", "cairn_csrf=;"] {
        assert!(
            cleared
                .iter()
                .any(|line| line.starts_with(name) && line.contains("Max-Age=0")),
            "{name} cleared: {cleared:?}"
        );
    }
}
