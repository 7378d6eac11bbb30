//! Attacks on accounts (issue 14, items 1, 7, 10 and 11), each tried as
//! the attacker would against a running server: an admin of one org
//! taking over a member who also belongs to another, a burst of guesses
//! racing the lockout, credentials that outlive a password change, actions
//! by API key missing from the owner's activity, login answers that tell
//! an inactive account from a wrong password, and an admin's reset used to
//! log in as the member and reveal their secrets.

use std::sync::{Arc, Barrier};

use serde_json::{Value, json};

use crate::server::api_client::{AdminServer, Answer, expect_status, id_of};

/// The lockout threshold (projections' `LOCKOUT_THRESHOLD`).
const LOCKOUT_THRESHOLD: usize = 5;

/// A password that passes the policy, different each call.
fn password() -> String {
    format!("pw-{:016x}-Qz#7", rand::random::<u64>())
}

/// Creates an org (as the superuser); its id.
fn create_org(api: &AdminServer, root: &str, name: &str) -> String {
    id_of(&expect_status(
        api,
        201,
        "POST",
        "/api/v1/orgs",
        root,
        Some(json!({"name": name})),
    ))
}

/// Creates an active user in `org` with `role` (as the superuser); its id.
fn create_in(
    api: &AdminServer,
    root: &str,
    org: &str,
    username: &str,
    password: &str,
    role: &str,
) -> String {
    id_of(&expect_status(
        api,
        201,
        "POST",
        "/api/v1/users",
        root,
        Some(
            json!({"username": username, "password": password, "role": role,
                    "is_active": true, "org_id": org}),
        ),
    ))
}

fn add_member(api: &AdminServer, root: &str, org: &str, user: &str, role: &str) {
    expect_status(
        api,
        201,
        "POST",
        &format!("/api/v1/orgs/{org}/members"),
        root,
        Some(json!({"user_id": user, "role": role})),
    );
}

fn login(api: &AdminServer, username: &str, password: &str, org: Option<&str>) -> Answer {
    let mut body = json!({"username": username, "password": password});
    if let Some(org) = org {
        body["org"] = json!(org);
    }
    api.call("POST", "/api/v1/auth/login", None, Some(&body))
}

fn token_of(answer: &Answer) -> String {
    assert_eq!(answer.status, 200, "login: {}", answer.text);
    answer.json["access_token"]
        .as_str()
        .expect("token")
        .to_string()
}

/// The audit events `token`'s org may read that match `query`.
fn audit_events(api: &AdminServer, token: &str, query: &str) -> Vec<Value> {
    let answer = expect_status(
        api,
        200,
        "GET",
        &format!("/api/v1/audit/events?{query}&limit=500"),
        token,
        None,
    );
    answer.json["items"].as_array().expect("items").clone()
}

/// The answer without what differs between any two requests.
fn refusal_shape(answer: &Answer) -> (u16, Value) {
    let mut json = answer.json.clone();
    if let Some(object) = json.as_object_mut() {
        object.remove("request_id");
        object.remove("instance");
    }
    (answer.status, json)
}

/// Two orgs, A and B; alice administers A only; dave administers B and is
/// a viewer in A; bea reads B's audit log.
struct TwoOrgs {
    api: AdminServer,
    root: String,
    org_a: String,
    org_b: String,
    dave: String,
    dave_password: String,
    alice: String,
    bea: String,
}

fn two_orgs(data_dir: &std::path::Path) -> TwoOrgs {
    let api = AdminServer::start(data_dir, &[]);
    let root = api.admin_token();
    let org_a = create_org(&api, &root, "org-a");
    let org_b = create_org(&api, &root, "org-b");
    let alice_password = password();
    create_in(&api, &root, &org_a, "alice", &alice_password, "admin");
    let dave_password = password();
    let dave = create_in(&api, &root, &org_b, "dave", &dave_password, "admin");
    add_member(&api, &root, &org_a, &dave, "viewer");
    let bea_password = password();
    create_in(&api, &root, &org_b, "bea", &bea_password, "audit_viewer");
    let alice = token_of(&login(&api, "alice", &alice_password, None));
    let bea = token_of(&login(&api, "bea", &bea_password, None));
    TwoOrgs {
        api,
        root,
        org_a,
        org_b,
        dave,
        dave_password,
        alice,
        bea,
    }
}

#[test]
fn an_admin_of_one_org_cannot_take_over_a_member_who_administers_another() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = two_orgs(&dir.path().join("data"));
    let dave_path = format!("/api/v1/users/{}", s.dave);
    let taken_over = password();

    // Every account-wide change alice tries is refused, each with its
    // `authz.denied` event.
    let attempts = [
        ("PATCH", Some(json!({"password": taken_over}))),
        ("PATCH", Some(json!({"is_active": false}))),
        (
            "PATCH",
            Some(json!({"password": taken_over, "role": "viewer"})),
        ),
        ("DELETE", None),
    ];
    for (method, body) in &attempts {
        let before = s.api.seq();
        let answer = s
            .api
            .call(method, &dave_path, Some(&s.alice), body.as_ref());
        assert_eq!(answer.status, 403, "{method} {body:?}: {}", answer.text);
        assert_eq!(s.api.seq(), before + 1, "exactly the refusal is recorded");
    }
    let denied = audit_events(
        &s.api,
        &s.root,
        &format!("action=authz.denied&resource_id={}", s.dave),
    );
    assert_eq!(denied.len(), attempts.len(), "{denied:?}");

    // Dave's account is untouched: the new password does not work, his
    // own still opens org B.
    assert_eq!(login(&s.api, "dave", &taken_over, None).status, 401);
    let dave = token_of(&login(&s.api, "dave", &s.dave_password, Some(&s.org_b)));
    let me = expect_status(&s.api, 200, "GET", "/api/v1/auth/me", &dave, None);
    assert_eq!(me.json["role"], "admin", "{}", me.text);

    // What is alice's alone stays hers: his role in A, and removing him
    // from A.
    expect_status(
        &s.api,
        200,
        "PATCH",
        &dave_path,
        &s.alice,
        Some(json!({"role": "flow_executor"})),
    );
    expect_status(
        &s.api,
        204,
        "DELETE",
        &format!("/api/v1/orgs/{}/members/{}", s.org_a, s.dave),
        &s.alice,
        None,
    );
    // Now he is not hers to see at all: 404, like a missing user.
    let gone = s.api.call(
        "PATCH",
        &dave_path,
        Some(&s.alice),
        Some(&json!({"password": taken_over})),
    );
    assert_eq!(gone.status, 404, "{}", gone.text);

    // A superuser may still change the account.
    expect_status(
        &s.api,
        200,
        "PATCH",
        &dave_path,
        &s.root,
        Some(json!({"is_active": false})),
    );
}

#[test]
fn an_account_wide_change_is_in_the_audit_trail_of_every_org_of_the_account() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = two_orgs(&dir.path().join("data"));
    // A third org, whose reader must see nothing of dave.
    let org_c = create_org(&s.api, &s.root, "org-c");
    let cleo_password = password();
    create_in(
        &s.api,
        &s.root,
        &org_c,
        "cleo",
        &cleo_password,
        "audit_viewer",
    );
    let cleo = token_of(&login(&s.api, "cleo", &cleo_password, None));

    // Alice (in A) tries to reset dave's password; the superuser (acting
    // in the bootstrap org, neither A nor B) deactivates him.
    let refused = s.api.call(
        "PATCH",
        &format!("/api/v1/users/{}", s.dave),
        Some(&s.alice),
        Some(&json!({"password": password()})),
    );
    assert_eq!(refused.status, 403, "{}", refused.text);
    let root_org =
        expect_status(&s.api, 200, "GET", "/api/v1/auth/me", &s.root, None).json["org_id"].clone();
    assert_ne!(root_org, json!(s.org_b));
    expect_status(
        &s.api,
        200,
        "PATCH",
        &format!("/api/v1/users/{}", s.dave),
        &s.root,
        Some(json!({"is_active": false})),
    );

    // B's audit viewer sees both: dave belongs to B.
    let about_dave = format!("resource_id={}", s.dave);
    let seen_by_b = audit_events(&s.api, &s.bea, &about_dave);
    let actions: Vec<&str> = seen_by_b
        .iter()
        .filter_map(|event| event["action"].as_str())
        .collect();
    for action in ["authz.denied", "user.deactivated"] {
        assert!(
            actions.contains(&action),
            "org B's audit viewer does not see {action} about its member dave: {actions:?}"
        );
    }
    // So does A's admin (dave is a member of A too).
    let seen_by_a = audit_events(&s.api, &s.alice, &about_dave);
    assert!(
        seen_by_a
            .iter()
            .any(|event| event["action"] == "user.deactivated"),
        "{seen_by_a:?}"
    );
    // C's reader sees nothing about him.
    let seen_by_c = audit_events(&s.api, &cleo, &about_dave);
    assert!(seen_by_c.is_empty(), "{seen_by_c:?}");

    // The exports agree with the events query: B's export holds the
    // deactivation of its member, C's holds nothing of him.
    let export = |token: &str| {
        let answer = s.api.call(
            "GET",
            &format!("/api/v1/audit/export?format=jsonl&{about_dave}"),
            Some(token),
            None,
        );
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.text
    };
    let exported_by_b = export(&s.bea);
    assert!(
        exported_by_b.contains("\"user.deactivated\""),
        "org B's export lacks dave's deactivation: {exported_by_b}"
    );
    let exported_by_c = export(&cleo);
    assert!(
        !exported_by_c.contains(s.dave.as_str()),
        "org C's export holds dave: {exported_by_c}"
    );
}

#[test]
fn concurrent_guesses_cannot_outrun_the_lockout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api = Arc::new(AdminServer::start(&dir.path().join("data"), &[]));
    let root = api.admin_token();
    let right = password();
    api.create_user(&root, "target", &right, "viewer");

    // 30 wrong guesses and the right password, all at once.
    let guesses: Vec<String> = (0..30).map(|_| password()).chain([right.clone()]).collect();
    let barrier = Arc::new(Barrier::new(guesses.len()));
    let handles: Vec<_> = guesses
        .into_iter()
        .map(|guess| {
            let api = Arc::clone(&api);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                login(&api, "target", &guess, None).status
            })
        })
        .collect();
    let statuses: Vec<u16> = handles
        .into_iter()
        .map(|handle| handle.join().expect("thread"))
        .collect();
    let count = |status: u16| statuses.iter().filter(|s| **s == status).count();
    let (ok, wrong, locked) = (count(200), count(401), count(429));
    assert_eq!(ok + wrong + locked, statuses.len(), "{statuses:?}");
    assert!(
        ok + wrong <= LOCKOUT_THRESHOLD,
        "{} passwords were verified for one name at once (lockout at {LOCKOUT_THRESHOLD}): \
         {statuses:?}",
        ok + wrong
    );
    if ok == 0 {
        // The right password was refused with the burst; the name is
        // locked, so it stays refused.
        assert_eq!(login(&api, "target", &right, None).status, 429);
    }

    // Once the threshold is reached, the right password does not help.
    let fresh = password();
    api.create_user(&root, "target-two", &fresh, "viewer");
    let barrier = Arc::new(Barrier::new(30));
    let handles: Vec<_> = (0..30)
        .map(|_| {
            let api = Arc::clone(&api);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                login(&api, "target-two", &password(), None).status
            })
        })
        .collect();
    let statuses: Vec<u16> = handles
        .into_iter()
        .map(|handle| handle.join().expect("thread"))
        .collect();
    let wrong = statuses.iter().filter(|s| **s == 401).count();
    assert!(wrong <= LOCKOUT_THRESHOLD, "{statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        30 - wrong,
        "{statuses:?}"
    );
    assert_eq!(login(&api, "target-two", &fresh, None).status, 429);
}

/// Creates an integration manager in the superuser's org, logs them in;
/// (id, password, token).
fn integration_manager(api: &AdminServer, root: &str, name: &str) -> (String, String, String) {
    let secret = password();
    let id = api.create_user(root, name, &secret, "integration_manager");
    let token = api.login(name, &secret);
    (id, secret, token)
}

fn create_key(api: &AdminServer, token: &str) -> (String, String) {
    let created = expect_status(
        api,
        201,
        "POST",
        "/api/v1/auth/api-keys",
        token,
        Some(json!({"name": "ci"})),
    );
    (
        id_of(&created),
        created.json["key"].as_str().expect("key").to_string(),
    )
}

#[test]
fn api_keys_do_not_survive_a_password_change_or_an_admin_reset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api = AdminServer::start(&dir.path().join("data"), &[]);
    let root = api.admin_token();
    let (kim, kim_password, token) = integration_manager(&api, &root, "kim");

    // Her own change ends her key.
    let (first_id, first) = create_key(&api, &token);
    expect_status(&api, 200, "GET", "/api/v1/auth/me", &first, None);
    let new_password = password();
    expect_status(
        &api,
        204,
        "PUT",
        "/api/v1/users/me/password",
        &token,
        Some(json!({"current_password": kim_password, "new_password": new_password})),
    );
    assert_eq!(
        api.call("GET", "/api/v1/auth/me", Some(&first), None)
            .status,
        401
    );

    // So does an admin's reset.
    let token = api.login("kim", &new_password);
    let (second_id, second) = create_key(&api, &token);
    expect_status(
        &api,
        200,
        "PATCH",
        &format!("/api/v1/users/{kim}"),
        &root,
        Some(json!({"password": password()})),
    );
    assert_eq!(
        api.call("GET", "/api/v1/auth/me", Some(&second), None)
            .status,
        401
    );

    // Each with its `api_key.revoked` event.
    for key in [first_id, second_id] {
        let revoked = audit_events(
            &api,
            &root,
            &format!("action=api_key.revoked&resource_id={key}"),
        );
        assert_eq!(revoked.len(), 1, "key {key}: {revoked:?}");
    }
}

#[test]
fn actions_done_with_an_api_key_are_in_the_owners_activity_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api = AdminServer::start(&dir.path().join("data"), &[]);
    let root = api.admin_token();
    let (lea, _, token) = integration_manager(&api, &root, "lea");
    let (key_id, key) = create_key(&api, &token);
    let secret = id_of(&expect_status(
        &api,
        201,
        "POST",
        "/api/v1/secrets",
        &key,
        Some(json!({"name": "DEPLOY_TOKEN", "value": password()})),
    ));

    let report = expect_status(
        &api,
        200,
        "GET",
        &format!("/api/v1/reports/activity?user_id={lea}&limit=500"),
        &root,
        None,
    );
    let items = report.json["items"].as_array().expect("items");
    let by_key = items.iter().find(|event| {
        event["action"] == "secret.created" && event["resource"]["id"] == json!(secret)
    });
    let by_key = by_key.unwrap_or_else(|| {
        panic!("the secret lea created with her key is missing from her activity: {items:?}")
    });
    assert_eq!(by_key["actor"]["type"], "api_key", "{by_key}");
    assert_eq!(by_key["actor"]["id"], json!(key_id), "{by_key}");
    assert!(
        items
            .iter()
            .any(|event| event["action"] == "api_key.created"),
        "her own session's actions are there too: {items:?}"
    );
}

#[test]
fn login_answers_a_right_password_of_an_inactive_or_non_member_account_like_a_wrong_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api = AdminServer::start(&dir.path().join("data"), &[]);
    let root = api.admin_token();
    let other_org = create_org(&api, &root, "elsewhere");
    let dana_password = password();
    api.create_user(&root, "dana", &dana_password, "viewer");
    let eve_password = password();
    expect_status(
        &api,
        201,
        "POST",
        "/api/v1/users",
        &root,
        Some(
            json!({"username": "eve", "password": eve_password, "role": "viewer",
                    "is_active": false}),
        ),
    );

    let wrong = login(&api, "dana", &password(), None);
    assert_eq!(wrong.status, 401, "{}", wrong.text);
    let inactive = login(&api, "eve", &eve_password, None);
    let not_member = login(&api, "dana", &dana_password, Some(&other_org));
    let unknown = login(&api, "nobody-at-all", &password(), None);
    for (what, answer) in [
        ("the right password of an inactive account", &inactive),
        (
            "the right password for an org the user is not in",
            &not_member,
        ),
        ("an unknown user", &unknown),
    ] {
        assert_eq!(
            refusal_shape(answer),
            refusal_shape(&wrong),
            "{what} is answered differently from a wrong password"
        );
    }
}

#[test]
fn an_admin_reset_password_must_be_changed_before_revealing_secrets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api = AdminServer::start(&dir.path().join("data"), &[]);
    let root = api.admin_token();
    let (mia, _, token) = integration_manager(&api, &root, "mia");
    let secret = id_of(&expect_status(
        &api,
        201,
        "POST",
        "/api/v1/secrets",
        &token,
        Some(json!({"name": "MIA_TOKEN", "value": password()})),
    ));
    let reveal = format!("/api/v1/secrets/{secret}/reveal");

    // The admin resets her password and logs in with it.
    let temporary = password();
    expect_status(
        &api,
        200,
        "PATCH",
        &format!("/api/v1/users/{mia}"),
        &root,
        Some(json!({"password": temporary})),
    );
    let answer = login(&api, "mia", &temporary, None);
    assert_eq!(
        answer.json["password_change_required"], true,
        "{}",
        answer.text
    );
    let session = token_of(&answer);
    let me = expect_status(&api, 200, "GET", "/api/v1/auth/me", &session, None);
    assert_eq!(me.json["password_change_required"], true, "{}", me.text);

    // Nothing but changing it is allowed; above all, no reveal.
    for (method, path) in [
        ("POST", reveal.as_str()),
        ("GET", "/api/v1/secrets"),
        ("POST", "/api/v1/auth/api-keys"),
    ] {
        let body = (method == "POST").then(|| json!({"name": "k"}));
        let refused = api.call(method, path, Some(&session), body.as_ref());
        assert_eq!(refused.status, 403, "{method} {path}: {}", refused.text);
        assert!(
            refused.text.contains("password change required"),
            "{method} {path}: {}",
            refused.text
        );
    }

    // Her own change clears it.
    let chosen = password();
    expect_status(
        &api,
        204,
        "PUT",
        "/api/v1/users/me/password",
        &session,
        Some(json!({"current_password": temporary, "new_password": chosen})),
    );
    let answer = login(&api, "mia", &chosen, None);
    assert_eq!(
        answer.json["password_change_required"], false,
        "{}",
        answer.text
    );
    let session = token_of(&answer);
    expect_status(&api, 200, "POST", &reveal, &session, None);
}
