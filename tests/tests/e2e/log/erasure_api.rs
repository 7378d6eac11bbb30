//! Erasure through the API (issue 7): `POST /api/v1/users/{id}/erase`, a
//! superuser's, after the user was deleted. The person's personal data then
//! reads as erased in the audit query, in every export and in the dump, the
//! exported file and the log still verify, and it stays erased after a
//! restart; everyone else's data stays readable.

use std::path::Path;

use serde_json::{Value, json};

use crate::server::api_client::{AdminServer, expect_status as ok, id_of};
use crate::support::{cairn, py_dir, python, run, texts};

const PASSWORD: &str = "erase-test-Pw#64kd";
const EMAIL: &str = "erin.erasable@example.test";

fn export_text(api: &AdminServer, token: &str, format: &str) -> String {
    ok(
        api,
        200,
        "GET",
        &format!("/api/v1/audit/export?format={format}"),
        token,
        None,
    )
    .text
}

/// The personal items about `subject` in a jsonl export.
fn items_about(export: &str, subject: &str) -> Vec<Value> {
    export
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("json"))
        .flat_map(|line| line["personal"].as_array().cloned().unwrap_or_default())
        .filter(|item| item["subject"] == subject)
        .collect()
}

#[test]
fn an_erased_user_reads_as_erased_everywhere_and_the_chain_still_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let api = AdminServer::start(&data, &[]);
    let root = api.admin_token();
    let created = ok(
        &api,
        201,
        "POST",
        "/api/v1/users",
        &root,
        Some(json!({"username": "erin", "password": PASSWORD, "email": EMAIL, "is_active": true})),
    );
    let erin = id_of(&created);
    api.login("erin", PASSWORD);
    api.create_user(&root, "olga", PASSWORD, "admin");
    let olga = api.login("olga", PASSWORD);
    let erase = format!("/api/v1/users/{erin}/erase");

    // Before: erin's items are readable.
    let before = export_text(&api, &root, "jsonl");
    assert!(
        before.contains(EMAIL),
        "erin's email is in the export before the erasure"
    );
    assert!(
        items_about(&before, &erin)
            .iter()
            .all(|item| item.get("erased").is_none())
    );

    // Only a superuser erases, only a deleted user, only once.
    assert_eq!(api.call("POST", &erase, Some(&olga), None).status, 403);
    let still_there = api.call("POST", &erase, Some(&root), None);
    assert_eq!(still_there.status, 409, "{}", still_there.text);
    assert!(
        still_there.text.contains("delete the user"),
        "{}",
        still_there.text
    );
    let unknown = uuid::Uuid::now_v7();
    assert_eq!(
        api.call(
            "POST",
            &format!("/api/v1/users/{unknown}/erase"),
            Some(&root),
            None
        )
        .status,
        404
    );
    ok(
        &api,
        204,
        "DELETE",
        &format!("/api/v1/users/{erin}"),
        &root,
        None,
    );
    let seq = api.seq();
    ok(&api, 204, "POST", &erase, &root, None);
    assert_eq!(api.seq(), seq + 1, "one event: user.erased");
    let again = api.call("POST", &erase, Some(&root), None);
    assert_eq!(again.status, 409, "{}", again.text);

    // After: erased in the query and in every export; others readable.
    let events = ok(
        &api,
        200,
        "GET",
        "/api/v1/audit/events?limit=500",
        &root,
        None,
    );
    assert!(
        !events.text.contains(EMAIL),
        "the query shows erin's email after the erasure"
    );
    let after = export_text(&api, &root, "jsonl");
    assert!(!after.contains(EMAIL));
    let about = items_about(&after, &erin);
    assert!(
        !about.is_empty() && about.iter().all(|item| item["erased"] == true),
        "{about:?}"
    );
    let olga_items: Vec<Value> = after
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("json"))
        .filter(|line| line["action"] == "auth.login_succeeded" && line["actor"]["name"] == "olga")
        .collect();
    assert!(
        !olga_items.is_empty(),
        "another person's data stays readable"
    );
    let erased_event = after
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("json"))
        .find(|line| line["action"] == "user.erased")
        .expect("a user.erased event");
    assert_eq!(erased_event["resource"]["id"], erin.as_str());
    for format in ["ocsf", "cef"] {
        assert!(
            !export_text(&api, &root, format).contains(EMAIL),
            "{format}"
        );
    }
    let ocsf = dir.path().join("after.ocsf.jsonl");
    std::fs::write(&ocsf, export_text(&api, &root, "ocsf")).expect("write");
    let validated = std::process::Command::new(python())
        .arg(py_dir().join("ocsf_validate.py"))
        .arg(&ocsf)
        .output()
        .expect("python");
    assert!(
        validated.status.success(),
        "{}",
        String::from_utf8_lossy(&validated.stderr)
    );

    // The exported file verifies offline; the log verifies; restart.
    let public_key =
        ok(&api, 200, "GET", "/api/v1/audit/public-key", &root, None).json["public_key"]
            .as_str()
            .expect("key")
            .to_string();
    let file = dir.path().join("after.jsonl");
    std::fs::write(&file, &after).expect("write");
    let mut command = cairn(&file.with_file_name("no-data-dir"));
    command
        .args(["audit", "verify", "--export"])
        .arg(&file)
        .args(["--public-key", &public_key]);
    let verified = run(command);
    assert_eq!(verified.status.code(), Some(0), "{:?}", texts(&verified));
    let key = api.key.clone();
    drop(api);
    let mut command = cairn(&data);
    command
        .env("CAIRN_MASTER_KEY", &key)
        .args(["audit", "verify"]);
    let verified = run(command);
    assert_eq!(verified.status.code(), Some(0), "{:?}", texts(&verified));
    let dump = crate::support::events_dump(&data, &key, false);
    assert!(!dump.contains(EMAIL), "the dump shows erin's email");
    let api = AdminServer::start(Path::new(&data), &[]);
    let root = api.admin_token();
    assert!(
        !export_text(&api, &root, "jsonl").contains(EMAIL),
        "erased after a restart too"
    );
}
