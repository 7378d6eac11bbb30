//! The access-review report (issue 7): who can reach what in the org and
//! through which path, now and as of a seq, as JSON and as CSV. It must
//! equal a brute-force evaluation of `authorize` — asked here through
//! `GET /api/v1/access/explain` for every user × resource × action.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::server::api_client::{AdminServer, Answer, expect_status as ok, id_of as id};

const PASSWORD: &str = "report-test-Pw#38vd";

fn items(answer: &Answer) -> Vec<Value> {
    answer.json["items"].as_array().expect("items").clone()
}

/// (user, resource) → (actions, path, reason), as the report says it.
type Reach = BTreeMap<(String, String), (BTreeSet<String>, String, String)>;

fn report_reach(review: &Value) -> Reach {
    review["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|row| {
            let actions = row["actions"]
                .as_array()
                .expect("actions")
                .iter()
                .map(|a| a.as_str().expect("action").to_string())
                .collect();
            (
                (
                    row["user_id"].as_str().expect("user").to_string(),
                    row["resource_id"].as_str().expect("resource").to_string(),
                ),
                (
                    actions,
                    row["path"].as_str().expect("path").to_string(),
                    row["reason"].as_str().expect("reason").to_string(),
                ),
            )
        })
        .collect()
}

/// The same, one explain call per user × resource × action.
fn brute_force(
    api: &AdminServer,
    root: &str,
    users: &[String],
    resources: &[(String, String)],
    at_seq: Option<u64>,
) -> Reach {
    let at = at_seq
        .map(|seq| format!("&at_seq={seq}"))
        .unwrap_or_default();
    let mut reach = Reach::new();
    for user in users {
        for (kind, resource) in resources {
            let mut allowed = BTreeSet::new();
            let mut read = None;
            for action in ["read", "run", "edit", "delete", "share", "reveal"] {
                let answer = ok(
                    api,
                    200,
                    "GET",
                    &format!(
                        "/api/v1/access/explain?user_id={user}&resource_type={kind}&resource_id={resource}&action={action}{at}"
                    ),
                    root,
                    None,
                );
                if answer.json["allowed"] == true {
                    allowed.insert(action.to_string());
                }
                if action == "read" {
                    read = Some(answer.json.clone());
                }
            }
            let read = read.expect("read asked");
            if read["allowed"] == true {
                reach.insert(
                    (user.clone(), resource.clone()),
                    (
                        allowed,
                        read["path"].as_str().expect("path").to_string(),
                        read["reason"].as_str().expect("reason").to_string(),
                    ),
                );
            }
        }
    }
    reach
}

#[test]
fn the_access_review_equals_authorize_over_every_user_and_resource() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api = AdminServer::start(&dir.path().join("data"), &[]);
    let root = api.admin_token();
    let bob = api.create_user(&root, "bob", PASSWORD, "flow_editor");
    let carol = api.create_user(&root, "carol", PASSWORD, "viewer");
    let dave = api.create_user(&root, "dave", PASSWORD, "audit_viewer");
    let group = ok(
        &api,
        201,
        "POST",
        "/api/v1/groups",
        &root,
        Some(json!({"name": "ops"})),
    );
    ok(
        &api,
        201,
        "POST",
        &format!("/api/v1/groups/{}/members", id(&group)),
        &root,
        Some(json!({"user_id": bob, "role": "member"})),
    );
    let namespace = ok(
        &api,
        201,
        "POST",
        "/api/v1/namespaces",
        &root,
        Some(json!({"name": "team"})),
    );
    let definition = json!({"steps": [{"type": "log", "message": "hi"}]});
    let flow = ok(
        &api,
        201,
        "POST",
        "/api/v1/flows",
        &root,
        Some(json!({"name": "etl", "namespace_id": id(&namespace), "definition": definition})),
    );
    let secret = ok(
        &api,
        201,
        "POST",
        "/api/v1/secrets",
        &root,
        Some(json!({"name": "TOKEN", "value": "report-secret-value"})),
    );
    let before_grants = api.seq();
    let to_group = ok(
        &api,
        201,
        "POST",
        "/api/v1/grants",
        &root,
        Some(
            json!({"resource_type": "flow", "resource_id": id(&flow), "grantee_type": "group", "grantee_id": id(&group), "level": "use"}),
        ),
    );
    ok(
        &api,
        201,
        "POST",
        "/api/v1/grants",
        &root,
        Some(
            json!({"resource_type": "namespace", "resource_id": id(&namespace), "grantee_type": "user", "grantee_id": carol, "level": "manage"}),
        ),
    );
    ok(
        &api,
        201,
        "POST",
        "/api/v1/grants",
        &root,
        Some(
            json!({"resource_type": "secret", "resource_id": id(&secret), "grantee_type": "user", "grantee_id": bob, "level": "use"}),
        ),
    );
    let bob_token = api.login("bob", PASSWORD);
    let general = items(&ok(&api, 200, "GET", "/api/v1/namespaces", &root, None))
        .into_iter()
        .find(|namespace| namespace["name"] == "General")
        .expect("General");
    ok(
        &api,
        201,
        "POST",
        "/api/v1/flows",
        &bob_token,
        Some(json!({"name": "bobs", "namespace_id": general["id"], "definition": definition})),
    );
    // Bob runs a flow that resolves the shared secret.
    let resolving = json!({"steps": [{"type": "log", "message": "token $secret.TOKEN"}]});
    let runner = ok(
        &api,
        201,
        "POST",
        "/api/v1/flows",
        &bob_token,
        Some(json!({"name": "uses-token", "namespace_id": general["id"], "definition": resolving})),
    );
    let run = ok(
        &api,
        202,
        "POST",
        &format!("/api/v1/flows/{}/runs", id(&runner)),
        &bob_token,
        None,
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while ok(
        &api,
        200,
        "GET",
        &format!("/api/v1/runs/{}", id(&run)),
        &bob_token,
        None,
    )
    .json["status"]
        != "succeeded"
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the run did not succeed"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    ok(
        &api,
        204,
        "DELETE",
        &format!("/api/v1/grants/{}", id(&to_group)),
        &root,
        None,
    );
    let head = api.seq();

    // Every user who can reach the org's resources, and every resource.
    let mut users: Vec<String> = items(&ok(
        &api,
        200,
        "GET",
        "/api/v1/users?limit=100",
        &root,
        None,
    ))
    .iter()
    .map(|user| user["id"].as_str().expect("id").to_string())
    .collect();
    users.sort();
    let mut resources = Vec::new();
    for (kind, path) in [
        ("namespace", "/api/v1/namespaces"),
        ("flow", "/api/v1/flows"),
        ("secret", "/api/v1/secrets"),
    ] {
        for resource in items(&ok(
            &api,
            200,
            "GET",
            &format!("{path}?limit=100"),
            &root,
            None,
        )) {
            resources.push((
                kind.to_string(),
                resource["id"].as_str().expect("id").to_string(),
            ));
        }
    }
    assert!(
        users.len() >= 4 && resources.len() >= 6,
        "{users:?} {resources:?}"
    );

    // Readers: audit viewers and admins; not a flow editor.
    let dave_token = api.login("dave", PASSWORD);
    assert_eq!(
        api.call(
            "GET",
            "/api/v1/reports/access-review",
            Some(&bob_token),
            None
        )
        .status,
        403
    );
    let now = ok(
        &api,
        200,
        "GET",
        "/api/v1/reports/access-review",
        &dave_token,
        None,
    );
    assert!(now.json["at_seq"].as_u64() >= Some(head), "{}", now.text);
    let expected = brute_force(&api, &root, &users, &resources, None);
    assert_eq!(
        report_reach(&now.json),
        expected,
        "the report equals authorize, now"
    );
    let reach = report_reach(&now.json);
    let carol_team = &reach[&(carol.clone(), id(&namespace))];
    assert_eq!(
        carol_team.1, "grant",
        "carol reaches team through her grant"
    );
    assert_eq!(
        carol_team.0,
        BTreeSet::from(["read".to_string()]),
        "a viewer's role caps a manage grant at read"
    );
    assert!(
        !reach.contains_key(&(bob.clone(), id(&flow))),
        "the group's grant was revoked"
    );
    assert!(
        reach.contains_key(&(bob.clone(), id(&secret))),
        "bob uses the shared secret"
    );
    assert!(
        !reach.contains_key(&(dave.clone(), id(&secret))),
        "an auditor reaches no secret"
    );

    // As of a seq before the grants, and before the revocation.
    for seq in [before_grants, head - 1] {
        let then = ok(
            &api,
            200,
            "GET",
            &format!("/api/v1/reports/access-review?at_seq={seq}"),
            &dave_token,
            None,
        );
        assert_eq!(then.json["at_seq"], seq);
        assert_eq!(
            report_reach(&then.json),
            brute_force(&api, &root, &users, &resources, Some(seq)),
            "as of seq {seq}"
        );
    }
    let before = report_reach(
        &ok(
            &api,
            200,
            "GET",
            &format!("/api/v1/reports/access-review?at_seq={}", head - 1),
            &dave_token,
            None,
        )
        .json,
    );
    assert_eq!(
        before[&(bob.clone(), id(&flow))].1,
        "grant",
        "before the revocation bob reached etl through the group"
    );

    // CSV: a header and one quoted record per row.
    let csv = api
        .client
        .get(api.url("/api/v1/reports/access-review"))
        .bearer_auth(&dave_token)
        .header("accept", "text/csv")
        .send()
        .expect("csv");
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().expect("text");
    let lines: Vec<&str> = text.split("\r\n").filter(|line| !line.is_empty()).collect();
    assert_eq!(
        lines[0],
        "user_id,username,resource_type,resource_id,resource_name,actions,path,grant_id,via_group,reason"
    );
    assert_eq!(
        lines.len() - 1,
        now.json["items"].as_array().expect("items").len()
    );
    assert!(
        lines[1..].iter().all(|line| line.starts_with('"')),
        "{text}"
    );

    // Secret usage: who resolved it, in which run.
    let usage = ok(
        &api,
        200,
        "GET",
        &format!("/api/v1/reports/secret-usage?secret_id={}", id(&secret)),
        &dave_token,
        None,
    );
    let uses = usage.json["items"].as_array().expect("items");
    assert_eq!(uses.len(), 1, "{}", usage.text);
    assert_eq!(uses[0]["run_id"], id(&run).as_str());
    assert_eq!(uses[0]["invoker_id"], bob.as_str());
    assert_eq!(uses[0]["invoker"], "bob");
    assert!(!usage.text.contains("report-secret-value"));

    // Activity: what bob did, and nothing in a window after it.
    let activity = ok(
        &api,
        200,
        "GET",
        &format!("/api/v1/reports/activity?user_id={bob}&limit=500"),
        &dave_token,
        None,
    );
    let actions: BTreeSet<&str> = activity.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|event| {
            assert_eq!(event["actor"]["id"], bob.as_str(), "{event}");
            event["action"].as_str().expect("action")
        })
        .collect();
    for expected in ["auth.login_succeeded", "flow.created", "run.requested"] {
        assert!(actions.contains(expected), "{expected} in {actions:?}");
    }
    let later = ok(
        &api,
        200,
        "GET",
        &format!("/api/v1/reports/activity?user_id={bob}&since=2999-01-01T00:00:00Z"),
        &dave_token,
        None,
    );
    assert_eq!(later.json["items"], json!([]));
    for (path, field) in [
        ("/api/v1/reports/activity", "user_id"),
        ("/api/v1/reports/activity?user_id=nope", "user_id"),
        ("/api/v1/reports/secret-usage", "secret_id"),
    ] {
        let refused = api.call("GET", path, Some(&dave_token), None);
        assert_eq!(refused.status, 422, "{path}: {}", refused.text);
        assert!(refused.text.contains(field), "{path}: {}", refused.text);
    }
    for path in [
        format!("/api/v1/reports/activity?user_id={bob}"),
        format!("/api/v1/reports/secret-usage?secret_id={}", id(&secret)),
    ] {
        assert_eq!(
            api.call("GET", &path, Some(&bob_token), None).status,
            403,
            "{path}"
        );
    }

    // Bad input: nothing beyond the head, no unknown parameter, no other org.
    for (query, field) in [
        ("at_seq=99999999", "at_seq"),
        ("at_seq=0", "at_seq"),
        ("at_seq=x", "at_seq"),
        ("since=1", "query"),
    ] {
        let refused = api.call(
            "GET",
            &format!("/api/v1/reports/access-review?{query}"),
            Some(&dave_token),
            None,
        );
        assert_eq!(refused.status, 422, "{query}: {}", refused.text);
        assert!(refused.text.contains(field), "{query}: {}", refused.text);
    }
    let elsewhere = uuid::Uuid::now_v7();
    assert_eq!(
        api.call(
            "GET",
            &format!("/api/v1/reports/access-review?org_id={elsewhere}"),
            Some(&dave_token),
            None
        )
        .status,
        403
    );
}
