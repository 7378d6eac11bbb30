//! Session tokens against an independent JWT implementation (PyJWT, in
//! tests/py/jwt_forge.py): Cairn's tokens verify there, PyJWT's tokens with
//! the right claims and a live session verify here, and every forged,
//! tampered, expired or dead token is answered 401 with one problem type and
//! never a 500.

use serde_json::{Value, json};

use crate::server::api_client::{ADMIN_PASSWORD, ADMIN_USER, AdminServer, Answer};
use crate::support;

/// The server's `CAIRN_JWT_SECRET` (64 bytes: long enough for HS512 too, so
/// PyJWT has nothing to warn about).
const SECRET: &str = "e2e-jwt-secret-3f9c1a7be0d24c58a6b1e9f07d3c2b4a-do-not-use-8841";

/// The problem type of every refused credential on an authenticated route.
const UNAUTHORIZED: &str = "urn:cairn:problem:unauthorized";

const PASSWORD: &str = "tokens-e2e-Pw-7Hq2#mZ";
const NEW_PASSWORD: &str = "tokens-e2e-Pw-changed-9Lx!";

fn start(dir: &std::path::Path) -> AdminServer {
    AdminServer::start(&dir.join("data"), &[("CAIRN_JWT_SECRET", SECRET)])
}

/// Runs tests/py/jwt_forge.py with `request` on stdin; its JSON answer.
fn forge(request: &Value) -> Value {
    support::run_python_peer("jwt_forge.py", request)
}

fn login_answer(server: &AdminServer, username: &str, password: &str, org: Option<&str>) -> Value {
    let mut body = json!({"username": username, "password": password});
    if let Some(org) = org {
        body["org"] = json!(org);
    }
    let answer = server.call("POST", "/api/v1/auth/login", None, Some(&body));
    assert_eq!(answer.status, 200, "login as {username}: {}", answer.text);
    answer.json
}

fn me(server: &AdminServer, token: &str) -> Answer {
    server.call("GET", "/api/v1/auth/me", Some(token), None)
}

fn assert_accepted(server: &AdminServer, name: &str, token: &str) -> Value {
    let answer = me(server, token);
    assert_eq!(
        answer.status, 200,
        "{name} must be accepted: {}",
        answer.text
    );
    answer.json
}

fn assert_refused(server: &AdminServer, name: &str, token: &str) {
    let answer = me(server, token);
    assert_eq!(
        answer.status, 401,
        "{name} must be refused with 401, got {}: {}",
        answer.status, answer.text
    );
    assert_eq!(
        answer.json["type"], UNAUTHORIZED,
        "{name}: every refused token gets the same problem type: {}",
        answer.text
    );
    assert_eq!(
        answer
            .headers
            .get("content-type")
            .and_then(|value| value.to_str().ok()),
        Some("application/problem+json"),
        "{name}"
    );
}

fn expect_status(answer: &Answer, status: u16, what: &str) {
    assert_eq!(answer.status, status, "{what}: {}", answer.text);
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("missing string {pointer} in {value}"))
}

#[test]
fn cairn_tokens_verify_with_pyjwt_and_pyjwt_tokens_with_a_live_session_verify_here() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path());
    let login = login_answer(&server, ADMIN_USER, ADMIN_PASSWORD, None);
    let token = text(&login, "/access_token");

    let answer = forge(&json!({
        "secret": SECRET,
        "sources": {"cairn": token},
        "verify": ["cairn"],
        "mint": [
            {"name": "pyjwt_live_sid", "from": "cairn"},
            {"name": "pyjwt_random_sid", "from": "cairn",
             "set": {"sid": uuid::Uuid::now_v7().to_string()}},
        ],
    }));

    // PyJWT accepts Cairn's token under the documented rules, and not under
    // another secret (so the acceptance means something).
    let claims = &answer["verified"]["cairn"];
    assert_eq!(answer["rejected_with_wrong_secret"], json!(["cairn"]));
    assert_eq!(claims["sub"], login["user"]["id"], "{claims}");
    assert_eq!(claims["org"], login["user"]["org_id"], "{claims}");
    assert_eq!(claims["iss"], "cairn");
    assert_eq!(claims["aud"], "cairn-api");
    assert!(
        uuid::Uuid::parse_str(text(claims, "/sid")).is_ok(),
        "{claims}"
    );
    let iat = claims["iat"].as_u64().expect("iat");
    assert_eq!(claims["nbf"].as_u64(), Some(iat));
    assert_eq!(
        claims["exp"].as_u64().expect("exp") - iat,
        login["expires_in"].as_u64().expect("expires_in")
    );

    // Cairn accepts PyJWT's token for the live session, as that session.
    let body = assert_accepted(
        &server,
        "a PyJWT token for a live session",
        text(&answer, "/tokens/pyjwt_live_sid"),
    );
    assert_eq!(body["user"]["id"], login["user"]["id"]);
    assert_eq!(body["org_id"], login["user"]["org_id"]);
    assert_eq!(body["credential"], "session");
    // The same token with a session id nobody was given is refused.
    assert_refused(
        &server,
        "a PyJWT token for a random sid",
        text(&answer, "/tokens/pyjwt_random_sid"),
    );
}

#[test]
fn forged_tampered_expired_and_dead_tokens_are_all_refused_alike() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path());
    let admin = server.admin_token();

    // A live session: the claims every forgery starts from.
    let live_id = server.create_user(&admin, "tok-live", PASSWORD, "flow_executor");
    let live = server.login("tok-live", PASSWORD);

    // Sessions that are about to die, one way each.
    server.create_user(&admin, "tok-logout", PASSWORD, "flow_executor");
    server.create_user(&admin, "tok-password", PASSWORD, "flow_executor");
    let deactivated_id = server.create_user(&admin, "tok-deactivated", PASSWORD, "flow_executor");
    let deleted_id = server.create_user(&admin, "tok-deleted", PASSWORD, "flow_executor");
    let moved_id = server.create_user(&admin, "tok-moved", PASSWORD, "flow_executor");
    let logged_out = server.login("tok-logout", PASSWORD);
    let password_changed = server.login("tok-password", PASSWORD);
    let deactivated = server.login("tok-deactivated", PASSWORD);
    let deleted = server.login("tok-deleted", PASSWORD);

    let org = server.call(
        "POST",
        "/api/v1/orgs",
        Some(&admin),
        Some(&json!({"name": "tokens-other-org"})),
    );
    expect_status(&org, 201, "create an org");
    let other_org = text(&org.json, "/id").to_string();
    let added = server.call(
        "POST",
        &format!("/api/v1/orgs/{other_org}/members"),
        Some(&admin),
        Some(&json!({"user_id": moved_id, "role": "flow_executor"})),
    );
    expect_status(&added, 201, "add a member");
    let moved = login_answer(&server, "tok-moved", PASSWORD, Some(&other_org));
    assert_eq!(moved["user"]["org_id"], json!(other_org));
    let moved = text(&moved, "/access_token").to_string();
    let moved_home = server.login("tok-moved", PASSWORD);

    let key = server.call(
        "POST",
        "/api/v1/auth/api-keys",
        Some(&admin),
        Some(&json!({"name": "soon revoked"})),
    );
    expect_status(&key, 201, "create an API key");
    let api_key = text(&key.json, "/key").to_string();
    let api_key_id = text(&key.json, "/id").to_string();

    for (name, token) in [
        ("live", live.as_str()),
        ("logged out", logged_out.as_str()),
        ("password changed", password_changed.as_str()),
        ("deactivated", deactivated.as_str()),
        ("deleted", deleted.as_str()),
        ("moved", moved.as_str()),
        ("moved, home org", moved_home.as_str()),
        ("api key", api_key.as_str()),
    ] {
        assert_accepted(&server, &format!("before: {name}"), token);
    }

    // Mint every forgery before anything dies: a signature cannot know what
    // happens to its session later.
    let wrong_sub = uuid::Uuid::now_v7().to_string();
    let forged = forge(&json!({
        "secret": SECRET,
        "sources": {"live": live, "logged_out": logged_out},
        "mint": [
            // The control: the same claims, correctly signed, are accepted.
            {"name": "control", "from": "live"},
            {"name": "alg none", "from": "live", "key": "none"},
            {"name": "alg none without the trailing dot", "from": "live", "key": "none_no_dot"},
            {"name": "HS512 with the right secret", "from": "live", "alg": "HS512"},
            {"name": "RS256 with a fresh RSA key", "from": "live", "key": "rsa"},
            {"name": "HS256 keyed with an RSA public key PEM", "from": "live", "key": "rsa_public_pem_as_hmac"},
            {"name": "wrong secret", "from": "live", "key": "wrong"},
            {"name": "expired beyond the leeway", "from": "live", "iat": -3600, "nbf": -3600, "exp": -60},
            {"name": "expired 10 s ago (leeway is 5 s)", "from": "live", "iat": -3600, "nbf": -3600, "exp": -10},
            {"name": "nbf 60 s ahead", "from": "live", "nbf": 60},
            {"name": "exp as a string", "from": "live", "set": {"exp": "9999999999"}},
            {"name": "exp as a float string", "from": "live", "set": {"exp": "9999999999.0"}},
            {"name": "exp null", "from": "live", "set": {"exp": null}},
            {"name": "missing exp", "from": "live", "drop": ["exp"]},
            {"name": "missing nbf", "from": "live", "drop": ["nbf"]},
            {"name": "wrong aud", "from": "live", "set": {"aud": "someone-else"}},
            {"name": "aud as a list with another audience", "from": "live", "set": {"aud": ["someone-else"]}},
            {"name": "wrong iss", "from": "live", "set": {"iss": "not-cairn"}},
            {"name": "missing iss", "from": "live", "drop": ["iss"]},
            {"name": "missing sid", "from": "live", "drop": ["sid"]},
            {"name": "sid not a uuid", "from": "live", "set": {"sid": "session-1"}},
            {"name": "missing org", "from": "live", "drop": ["org"]},
            {"name": "live sid, another sub", "from": "live", "set": {"sub": wrong_sub}},
            {"name": "live sid, another org", "from": "live", "set": {"org": other_org}},
            {"name": "logged-out session, re-signed fresh", "from": "logged_out"},
        ],
    }));
    let forged: Vec<(String, String)> = forged["tokens"]
        .as_object()
        .expect("tokens")
        .iter()
        .map(|(name, token)| (name.clone(), token.as_str().expect("token").to_string()))
        .collect();
    assert_eq!(forged.len(), 25, "every case was minted");

    // Now end the doomed sessions and credentials.
    expect_status(
        &server.call("POST", "/api/v1/auth/logout", Some(&logged_out), None),
        204,
        "logout",
    );
    expect_status(
        &server.call(
            "PUT",
            "/api/v1/users/me/password",
            Some(&password_changed),
            Some(&json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD})),
        ),
        204,
        "change password",
    );
    expect_status(
        &server.call(
            "PATCH",
            &format!("/api/v1/users/{deactivated_id}"),
            Some(&admin),
            Some(&json!({"is_active": false})),
        ),
        200,
        "deactivate",
    );
    expect_status(
        &server.call(
            "DELETE",
            &format!("/api/v1/users/{deleted_id}"),
            Some(&admin),
            None,
        ),
        204,
        "delete",
    );
    expect_status(
        &server.call(
            "DELETE",
            &format!("/api/v1/orgs/{other_org}/members/{moved_id}"),
            Some(&admin),
            None,
        ),
        204,
        "remove from the org",
    );
    expect_status(
        &server.call(
            "DELETE",
            &format!("/api/v1/auth/api-keys/{api_key_id}"),
            Some(&admin),
            None,
        ),
        204,
        "revoke the API key",
    );

    let (control, forged): (Vec<_>, Vec<_>) =
        forged.into_iter().partition(|(name, _)| name == "control");
    assert_accepted(&server, "the correctly signed control", &control[0].1);
    let body = assert_accepted(&server, "live, still", &live);
    assert_eq!(body["user"]["id"], json!(live_id));
    // Removal from one org leaves the session in the user's other org alone.
    assert_accepted(&server, "moved, home org, still", &moved_home);

    let (header, rest) = live.split_once('.').expect("a JWT");
    let (payload, signature) = rest.split_once('.').expect("a JWT");
    let other_signature = admin.rsplit('.').next().expect("a JWT");
    let mut refused: Vec<(String, String)> = forged;
    refused.extend(
        [
            ("after logout", logged_out.clone()),
            ("after a password change", password_changed.clone()),
            ("after deactivation", deactivated.clone()),
            ("after deletion", deleted.clone()),
            ("for an org the user was removed from", moved.clone()),
            ("a revoked API key", api_key.clone()),
            (
                "an API key that was never issued",
                format!("cairn_{}", "A".repeat(43)),
            ),
            ("garbage", "not-a-token".to_string()),
            ("three garbage segments", "a.b.c".to_string()),
            ("truncated", live[..live.len() - 7].to_string()),
            ("header and payload only", format!("{header}.{payload}")),
            (
                "header and payload and an empty signature",
                format!("{header}.{payload}."),
            ),
            (
                "a signature from another token",
                format!("{header}.{payload}.{other_signature}"),
            ),
            ("a flipped signature character", flip_last(&live)),
            (
                "four segments",
                format!("{header}.{payload}.{signature}.{signature}"),
            ),
            ("just dots", "..".to_string()),
        ]
        .map(|(name, token)| (name.to_string(), token)),
    );
    for (name, token) in &refused {
        assert_refused(&server, name, token);
    }

    // Reactivating a user does not bring their ended sessions back.
    expect_status(
        &server.call(
            "PATCH",
            &format!("/api/v1/users/{deactivated_id}"),
            Some(&admin),
            Some(&json!({"is_active": true})),
        ),
        200,
        "reactivate",
    );
    assert_refused(&server, "after reactivation, the old session", &deactivated);
    // The new password works, the old sessions of that user do not.
    server.login("tok-password", NEW_PASSWORD);
    assert_refused(
        &server,
        "after a password change and a new login",
        &password_changed,
    );

    let stderr = server.server.stderr_lines();
    assert!(
        !stderr
            .iter()
            .any(|line| line.contains("panicked") || line.contains(" ERROR ")),
        "the server logged an error or a panic: {stderr:#?}"
    );
    println!(
        "{} forged or dead credentials refused with 401",
        refused.len() + 2
    );
}

/// The token with the last character of its signature changed.
///
/// The last base64url character of a 32-byte signature carries only 4
/// significant bits, so flip one of those, not just any bit.
fn flip_last(token: &str) -> String {
    let (head, last) = token.split_at(token.len() - 1);
    let replacement = if last == "A" { "Q" } else { "A" };
    format!("{head}{replacement}")
}
