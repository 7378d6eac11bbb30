//! Retention and snapshots through the binary (issue 7): the policy's
//! readers and its one writer, floors refused with the floor named and
//! nothing changed, a count limit that prunes the operational class, the
//! audit trail still listing who did what and when for pruned events,
//! `at_seq` questions and `cairn replay` refusing a point that can no
//! longer be rebuilt (4xx, exit 2), `cairn audit verify` passing, and a
//! restart that rebuilds the same state from the snapshot.

use std::time::Duration;

use serde_json::{Value, json};

use crate::server::api_client::{ADMIN_PASSWORD, AdminServer, expect_status as ok};
use crate::support::{assert_one_error_line, cairn, run, texts, wait_for};

const PASSWORD: &str = "retention-Pw#84hq";
const SECRET_CANARY: &str = "canary-snapshot-3f9d1c7ab2e4";

fn policy(operational: Value) -> Value {
    json!({
        "security": {"cadence_secs": 86400, "max_age_days": 400, "max_count": null},
        "activity": {"cadence_secs": 86400, "max_age_days": 90, "max_count": null},
        "operational": operational,
    })
}

#[test]
fn a_count_limit_prunes_requests_and_the_restart_rebuilds_from_the_snapshot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let api = AdminServer::start(&data, &[("CAIRN_SNAPSHOT_EVERY", "100")]);
    let root = api.admin_token();
    api.create_user(&root, "vera", PASSWORD, "viewer");
    api.create_user(&root, "audrey", PASSWORD, "audit_viewer");
    api.create_user(&root, "adam", PASSWORD, "admin");
    let vera = api.login("vera", PASSWORD);
    let audrey = api.login("audrey", PASSWORD);
    let adam = api.login("adam", PASSWORD);

    // Readers: audit viewers, admins and superusers; the writer: superusers.
    let path = "/api/v1/audit/retention";
    assert_eq!(api.call("GET", path, Some(&vera), None).status, 403);
    let initial = ok(&api, 200, "GET", path, &audrey, None).json;
    assert_eq!(initial["default"], true);
    assert_eq!(initial["policy"]["security"]["max_age_days"], 400);
    assert_eq!(initial["last_prune"], Value::Null);
    ok(&api, 200, "GET", path, &adam, None);
    let wanted = policy(json!({"cadence_secs": 60, "max_age_days": 1, "max_count": 100}));
    for token in [&vera, &audrey, &adam] {
        assert_eq!(
            api.call("PUT", path, Some(token), Some(&wanted)).status,
            403
        );
    }

    // A policy below a floor is a 422 that names the member and the floor,
    // and changes nothing.
    let mut below = wanted.clone();
    below["security"]["max_age_days"] = json!(89);
    let refused = api.call("PUT", path, Some(&root), Some(&below));
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(
        refused.text.contains("security.max_age_days"),
        "{}",
        refused.text
    );
    assert!(
        refused.text.contains("floor of 90 days"),
        "{}",
        refused.text
    );
    for (member, value, floor) in [
        ("max_count", json!(99), "floor of 100"),
        ("max_age_days", json!(0), "floor of 1 days"),
        ("cadence_secs", json!(59), "60 (the floor)"),
    ] {
        let mut below = wanted.clone();
        below["operational"][member] = value;
        let refused = api.call("PUT", path, Some(&root), Some(&below));
        assert_eq!(refused.status, 422, "{member}: {}", refused.text);
        assert!(
            refused.text.contains(&format!("operational.{member}")),
            "{}",
            refused.text
        );
        assert!(refused.text.contains(floor), "{member}: {}", refused.text);
    }
    let mut unknown = wanted.clone();
    unknown["operational"]["keep_forever"] = json!(true);
    assert_eq!(
        api.call("PUT", path, Some(&root), Some(&unknown)).status,
        422
    );
    // Every refusal is itself an event, but the policy did not move.
    let unchanged = ok(&api, 200, "GET", path, &root, None).json;
    for member in ["policy", "default", "last_prune"] {
        assert_eq!(unchanged[member], initial[member], "{member}");
    }

    // A secret and a named person: neither may reach a snapshot in clear.
    ok(
        &api,
        201,
        "POST",
        "/api/v1/secrets",
        &root,
        Some(json!({"name": "DEPLOY_TOKEN", "value": SECRET_CANARY})),
    );

    // 250 refused requests: operational events, one each.
    for _ in 0..250 {
        let missing = uuid::Uuid::now_v7();
        let answer = api.call(
            "GET",
            &format!("/api/v1/users/{missing}"),
            Some(&root),
            None,
        );
        assert_eq!(answer.status, 404);
    }
    // A snapshot is written every 100 events.
    let snapshots = data.join("snapshots");
    wait_for("the prune pass", Duration::from_secs(30), || {
        std::fs::read_dir(&snapshots)
            .ok()
            .and_then(|mut entries| entries.next())
            .map(|_| ())
    });
    let users_before = ok(&api, 200, "GET", "/api/v1/users", &root, None).json;
    for entry in std::fs::read_dir(&snapshots).expect("snapshots") {
        let bytes = std::fs::read(entry.expect("entry").path()).expect("read");
        for canary in [SECRET_CANARY, PASSWORD, ADMIN_PASSWORD, "audrey"] {
            assert!(
                !bytes
                    .windows(canary.len())
                    .any(|window| window == canary.as_bytes()),
                "a snapshot holds {canary:?} in clear"
            );
        }
    }

    // The count limit keeps the newest 100 requests' payloads.
    let set = ok(&api, 200, "PUT", path, &root, Some(wanted.clone())).json;
    assert_eq!(set["default"], false);
    assert_eq!(set["policy"]["operational"]["max_count"], 100);
    let after = wait_for("the prune pass", Duration::from_secs(30), || {
        let answer = ok(&api, 200, "GET", path, &audrey, None).json;
        (!answer["last_prune"].is_null()).then_some(answer)
    });
    let pruned = after["last_prune"]["pruned"]["operational"]
        .as_u64()
        .expect("pruned count");
    assert!(pruned >= 150, "{after}");
    assert_eq!(after["last_prune"]["pruned"]["security"], 0);
    let operational = after["classes"]
        .as_array()
        .expect("classes")
        .iter()
        .find(|class| class["class"] == "operational")
        .expect("operational")
        .clone();
    let horizon = operational["pruned_up_to_seq"].as_u64().expect("horizon");
    assert!(horizon > 0);

    // Who did what, and when, is still there for a pruned request.
    let page = ok(
        &api,
        200,
        "GET",
        "/api/v1/audit/events?action=http.request&limit=5",
        &audrey,
        None,
    )
    .json;
    let first = &page["items"][0];
    assert_eq!(first["details"], json!({"pruned": true}), "{first}");
    assert_eq!(first["action"], "http.request");
    assert!(
        first["actor"]["id"].is_string() && first["time"].is_string(),
        "{first}"
    );
    let pruned_seq = first["seq"].as_u64().expect("seq");
    assert!(pruned_seq <= horizon);

    // A point inside the pruned stretch can no longer be rebuilt: a 422
    // naming at_seq; a point after the snapshot still can.
    let me = ok(&api, 200, "GET", "/api/v1/auth/me", &root, None).json;
    let root_id = me["user"]["id"].as_str().expect("id").to_string();
    let explain = |seq: u64| {
        api.call(
            "GET",
            &format!(
                "/api/v1/access/explain?user_id={root_id}&resource_type=namespace&resource_id={}&action=read&at_seq={seq}",
                uuid::Uuid::now_v7()
            ),
            Some(&root),
            None,
        )
    };
    let refused = explain(pruned_seq + 1);
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(refused.text.contains("at_seq"), "{}", refused.text);
    assert!(
        refused.text.contains("retention pruned"),
        "{}",
        refused.text
    );
    let head = api.seq();
    assert_eq!(explain(head).status, 200);

    let retention_before = ok(&api, 200, "GET", path, &root, None).json;
    let key = api.key.clone();
    assert_eq!(api.server.stop(), Some(0));

    // The chain verifies; retention's drops are accounted for.
    let verified = run({
        let mut command = cairn(&data);
        command
            .env("CAIRN_MASTER_KEY", &key)
            .args(["audit", "verify", "--json"]);
        command
    });
    let (stdout, stderr) = texts(&verified);
    assert_eq!(verified.status.code(), Some(0), "{stdout}{stderr}");
    let report: Value = serde_json::from_str(stdout.trim()).expect("json");
    assert_eq!(report["ok"], true);
    assert_eq!(report["payloads_pruned"].as_u64(), Some(pruned), "{report}");

    // Replay refuses a point it cannot rebuild (exit 2, one line) and
    // answers one after the snapshot.
    let replay = |seq: u64| {
        run({
            let mut command = cairn(&data);
            command
                .env("CAIRN_MASTER_KEY", &key)
                .args(["replay", "--at-seq", &seq.to_string()]);
            command
        })
    };
    let line = assert_one_error_line(&replay(pruned_seq + 1), 2);
    assert!(line.contains("retention pruned"), "{line}");
    let later = replay(head);
    assert_eq!(later.status.code(), Some(0), "{:?}", texts(&later));

    // The restart rebuilds from the snapshot and comes back the same.
    let api = AdminServer::start(&data, &[("CAIRN_SNAPSHOT_EVERY", "100")]);
    let rebuilt = api
        .server
        .stderr_lines()
        .into_iter()
        .find(|line| line.contains("views rebuilt"))
        .expect("the start logs how the views were rebuilt");
    assert!(rebuilt.contains(" snapshot="), "{rebuilt}");
    let root = api.admin_token();
    assert_eq!(
        ok(&api, 200, "GET", "/api/v1/users", &root, None).json,
        users_before
    );
    // The policy survives; the pass at start may prune the requests made
    // since (the refused explain above), never fewer.
    let retention_after = ok(&api, 200, "GET", path, &root, None).json;
    for member in ["policy", "default"] {
        assert_eq!(
            retention_after[member], retention_before[member],
            "{member}"
        );
    }
    assert!(
        retention_after["last_prune"]["seq"].as_u64()
            >= retention_before["last_prune"]["seq"].as_u64(),
        "{retention_after}"
    );
}
