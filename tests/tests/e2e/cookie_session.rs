//! The web console's session cookie: HttpOnly, SameSite=Strict (Secure
//! outside development), it authenticates reads, and a write authenticated
//! by the cookie alone must come from this site (Origin check, CSRF).

use crate::api_client::{ADMIN_PASSWORD, ADMIN_USER, AdminServer};

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

    // The same write from this site's own origin goes through.
    let answer = client
        .post(server.url("/api/v1/orgs"))
        .header("cookie", &cookie)
        .header("origin", format!("http://{host}"))
        .json(&serde_json::json!({"name": "same-site-org"}))
        .send()
        .expect("post");
    assert_eq!(answer.status(), 201, "{:?}", answer.text());

    // Logout through the cookie clears it, and the cookie stops working.
    let logout = client
        .post(server.url("/api/v1/auth/logout"))
        .header("cookie", &cookie)
        .header("origin", format!("http://{host}"))
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
