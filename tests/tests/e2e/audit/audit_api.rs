//! The audit trail through the API (issue 6, the read side): the events of
//! the caller's org with filters and a seq cursor, readable by audit
//! viewers and admins only, each query itself an `audit.queried` event;
//! the chain's verification; the checkpoints and the key that signs them.

use serde_json::Value;

use crate::server::api_client::{AdminServer, Answer};

const PASSWORD: &str = "audit-test-Pw#93kq";

fn items(answer: &Answer) -> Vec<Value> {
    answer.json["items"].as_array().expect("items").clone()
}

fn seqs(events: &[Value]) -> Vec<u64> {
    events
        .iter()
        .map(|event| event["seq"].as_u64().expect("seq"))
        .collect()
}

#[test]
fn the_audit_trail_reads_filters_pages_and_records_its_readers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = AdminServer::start(&dir.path().join("data"), &[("CAIRN_CHECKPOINT_EVERY", "5")]);
    let admin = server.admin_token();
    server.create_user(&admin, "auditor", PASSWORD, "audit_viewer");
    let vera_id = server.create_user(&admin, "vera", PASSWORD, "viewer");
    let auditor = server.login("auditor", PASSWORD);
    let vera = server.login("vera", PASSWORD);
    let get = |token: &str, path: &str| server.call("GET", path, Some(token), None);

    // Another org's events stay there.
    let other = server.call(
        "POST",
        "/api/v1/orgs",
        Some(&admin),
        Some(&serde_json::json!({"name": "elsewhere"})),
    );
    assert_eq!(other.status, 201, "{}", other.text);
    let other_org = other.json["id"].as_str().expect("id").to_string();

    // Only audit viewers and admins read it.
    for path in [
        "/api/v1/audit/events",
        "/api/v1/audit/verify",
        "/api/v1/audit/checkpoints",
        "/api/v1/audit/public-key",
    ] {
        assert_eq!(get(&vera, path).status, 403, "{path}");
        assert_eq!(get(&auditor, path).status, 200, "{path}");
    }

    // Pages follow the cursor without gaps or repeats, all in the org.
    let mut seen = Vec::new();
    let mut after = None::<String>;
    for _ in 0..100 {
        let path = match &after {
            Some(seq) => format!("/api/v1/audit/events?limit=3&after={seq}"),
            None => "/api/v1/audit/events?limit=3".to_string(),
        };
        let page = get(&auditor, &path);
        assert_eq!(page.status, 200, "{}", page.text);
        let events = items(&page);
        assert!(events.len() <= 3);
        for event in &events {
            assert_ne!(event["org"], other_org.as_str(), "{event}");
            assert!(event["hash"].is_string() && event["prev_hash"].is_string());
        }
        seen.extend(seqs(&events));
        match page.json["next"].as_str() {
            Some(next) => after = Some(next.to_string()),
            None => break,
        }
    }
    assert!(seen.len() > 5, "{seen:?}");
    assert!(seen.windows(2).all(|pair| pair[0] < pair[1]), "{seen:?}");

    // Filters.
    let logins = items(&get(
        &auditor,
        "/api/v1/audit/events?action=auth.login_succeeded&limit=500",
    ));
    assert_eq!(logins.len(), 3, "admin, auditor, vera logged in");
    assert!(
        logins
            .iter()
            .all(|event| event["action"] == "auth.login_succeeded")
    );
    let denied = items(&get(
        &auditor,
        "/api/v1/audit/events?outcome=denied&limit=500",
    ));
    assert!(!denied.is_empty(), "vera's refusals");
    assert!(denied.iter().all(|event| event["outcome"] == "denied"));
    // Vera's login and her four refusals are hers; nothing else is.
    let by_vera = items(&get(
        &auditor,
        &format!("/api/v1/audit/events?actor={vera_id}&limit=500"),
    ));
    let actions: Vec<&str> = by_vera
        .iter()
        .map(|event| event["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "auth.login_succeeded")
            .count(),
        1,
        "{actions:?}"
    );
    assert_eq!(
        actions.iter().filter(|a| **a == "authz.denied").count(),
        4,
        "{actions:?}"
    );
    assert!(
        by_vera
            .iter()
            .all(|event| event["actor"]["id"] == vera_id.as_str())
    );
    let future = items(&get(
        &auditor,
        "/api/v1/audit/events?since=2999-01-01T00:00:00Z",
    ));
    assert!(future.is_empty());
    let past = items(&get(
        &auditor,
        "/api/v1/audit/events?until=2000-01-01T00:00:00Z",
    ));
    assert!(past.is_empty());
    for (query, field) in [
        ("action=user.exploded", "action"),
        ("limit=0", "limit"),
        ("since=yesterday", "since"),
        ("after=-1", "after"),
        ("outcome=maybe", "outcome"),
        ("colour=red", "query"),
    ] {
        let refused = get(&auditor, &format!("/api/v1/audit/events?{query}"));
        assert_eq!(refused.status, 422, "{query}: {}", refused.text);
        assert_eq!(refused.json["field"], field, "{query}");
    }

    // Every query is an event, durable before its answer.
    let queried = items(&get(
        &auditor,
        "/api/v1/audit/events?action=audit.queried&limit=500",
    ));
    assert!(queried.len() >= 8, "{}", queried.len());
    assert!(
        queried
            .iter()
            .any(|event| event["details"]["query"] == "action=auth.login_succeeded&limit=500")
    );

    // Verification, checkpoints, the public key.
    let verified = get(&auditor, "/api/v1/audit/verify");
    assert_eq!(verified.json["ok"], true, "{}", verified.text);
    assert_eq!(verified.json["first_bad"], Value::Null);
    assert!(verified.json["checked"].as_u64().expect("checked") >= seen.len() as u64);
    assert!(
        verified.json["checkpoints_verified"]
            .as_u64()
            .expect("verified")
            >= 1
    );
    let key = get(&auditor, "/api/v1/audit/public-key");
    assert_eq!(key.json["algorithm"], "Ed25519");
    assert_eq!(key.json["public_key"].as_str().expect("key").len(), 64);
    let checkpoints = get(&auditor, "/api/v1/audit/checkpoints?limit=2");
    let first_two = items(&checkpoints);
    assert_eq!(first_two.len(), 2, "{}", checkpoints.text);
    assert!(first_two.iter().all(|checkpoint| {
        checkpoint["key_id"] == key.json["key_id"]
            && checkpoint["signature"]
                .as_str()
                .is_some_and(|s| s.len() == 128)
    }));
    let next = checkpoints.json["next"].as_str().expect("more checkpoints");
    let rest = items(&get(
        &auditor,
        &format!("/api/v1/audit/checkpoints?after={next}"),
    ));
    assert!(
        rest.iter()
            .all(|checkpoint| checkpoint["seq"].as_u64() > first_two[1]["seq"].as_u64())
    );
}
