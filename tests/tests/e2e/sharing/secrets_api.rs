//! Secrets and connections through the real `cairn` binary (issue 5,
//! Must show 2 and part of 5). What is proven:
//!
//! - A secret's value goes in once and comes out only through its owner's
//!   reveal, which is audited; lists and reads show metadata only.
//! - Shared with a group at `use` (never `manage`: 422), a member sees the
//!   metadata but cannot reveal, rotate or delete it; a non-member gets 404.
//! - The stored value from `cairn events dump --raw` opens with PyNaCl under
//!   a key derived independently (HKDF-SHA256 of the master key and the
//!   owner id); moved to another owner's id it does not open.
//! - Rotation makes a new version; the old ciphertext is superseded.
//! - A connection's credentials are sealed and never returned; someone
//!   other than the owner who changes its target without new credentials
//!   gets a 422 naming the rule.
//! - Canaries: the values appear in no event (plain dump), no server log
//!   line, no data file in clear, and no response but the owner's reveal.

use serde_json::{Value, json};

use crate::identity::identity_api::files_as_text;
use crate::server::api_client::{AdminServer, Answer};
use crate::support::{events, events_dump, run_python_peer};

const PASSWORD: &str = "secrets-test-Pw#71xq";

fn canary(label: &str) -> String {
    format!("canary-{label}-{:016x}", rand::random::<u64>())
}

fn id(answer: &Answer) -> String {
    answer.json["id"].as_str().expect("id").to_string()
}

/// Every answer of the session, to scan for canaries afterwards.
struct Recorder<'a> {
    server: &'a AdminServer,
    answers: Vec<String>,
}

impl Recorder<'_> {
    fn call(&mut self, method: &str, path: &str, token: &str, body: Option<Value>) -> Answer {
        let answer = self.server.call(method, path, Some(token), body.as_ref());
        self.answers.push(format!(
            "{method} {path} -> {}\n{}",
            answer.status, answer.text
        ));
        answer
    }

    fn expect(
        &mut self,
        status: u16,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Answer {
        let answer = self.call(method, path, token, body);
        assert_eq!(answer.status, status, "{method} {path}: {}", answer.text);
        answer
    }
}

#[test]
fn secrets_are_used_but_never_seen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let server = AdminServer::start(&data, &[]);
    let admin = server.admin_token();
    let alice_id = server.create_user(&admin, "alice", PASSWORD, "flow_editor");
    let bob_id = server.create_user(&admin, "bob", PASSWORD, "flow_executor");
    server.create_user(&admin, "carol", PASSWORD, "flow_editor");
    let dave_id = server.create_user(&admin, "dave", PASSWORD, "integration_manager");
    let alice = server.login("alice", PASSWORD);
    let bob = server.login("bob", PASSWORD);
    let carol = server.login("carol", PASSWORD);
    let dave = server.login("dave", PASSWORD);
    let mut api = Recorder {
        server: &server,
        answers: Vec::new(),
    };

    let group = api.expect(
        201,
        "POST",
        "/api/v1/groups",
        &admin,
        Some(json!({"name": "team"})),
    );
    let group_id = id(&group);
    for member in [&bob_id, &dave_id] {
        api.expect(
            201,
            "POST",
            &format!("/api/v1/groups/{group_id}/members"),
            &admin,
            Some(json!({"user_id": member, "role": "member"})),
        );
    }

    // Create: the answer holds no value.
    let first_value = canary("secret-v1");
    let created = api.expect(
        201,
        "POST",
        "/api/v1/secrets",
        &alice,
        Some(json!({"name": "API_TOKEN", "value": first_value})),
    );
    let secret_id = id(&created);
    assert_eq!(created.json["owner_id"], alice_id.as_str());
    assert_eq!(created.json["version"], 1);
    let secret_path = format!("/api/v1/secrets/{secret_id}");
    api.expect(
        409,
        "POST",
        "/api/v1/secrets",
        &alice,
        Some(json!({"name": "API_TOKEN", "value": "other"})),
    );
    let bad = api.expect(
        422,
        "POST",
        "/api/v1/secrets",
        &alice,
        Some(json!({"name": "9 lives", "value": "x"})),
    );
    assert_eq!(bad.json["field"], "name", "{}", bad.text);

    // Share: use only.
    let share = |level: &str| {
        json!({"resource_type": "secret", "resource_id": secret_id, "grantee_type": "group",
               "grantee_id": group_id, "level": level})
    };
    let manage = api.expect(422, "POST", "/api/v1/grants", &alice, Some(share("manage")));
    assert_eq!(manage.json["field"], "level", "{}", manage.text);
    api.expect(201, "POST", "/api/v1/grants", &alice, Some(share("use")));

    // The grantee sees the metadata, never the value; a stranger nothing.
    let listed = api.expect(200, "GET", "/api/v1/secrets", &bob, None);
    assert_eq!(
        listed.json["items"][0]["id"],
        secret_id.as_str(),
        "{}",
        listed.text
    );
    api.expect(200, "GET", &secret_path, &bob, None);
    api.expect(403, "POST", &format!("{secret_path}/reveal"), &bob, None);
    api.expect(
        403,
        "PUT",
        &secret_path,
        &bob,
        Some(json!({"value": "hijack"})),
    );
    api.expect(403, "DELETE", &secret_path, &bob, None);
    let hidden = api.expect(404, "GET", &secret_path, &carol, None);
    let missing = api.expect(
        404,
        "GET",
        &format!("/api/v1/secrets/{}", uuid::Uuid::now_v7()),
        &carol,
        None,
    );
    assert_eq!(hidden.json["detail"], missing.json["detail"]);
    api.expect(404, "POST", &format!("{secret_path}/reveal"), &carol, None);
    let admin_reveal = api.expect(403, "POST", &format!("{secret_path}/reveal"), &admin, None);
    assert!(admin_reveal.text.contains("owner"), "{}", admin_reveal.text);

    // The owner reveals (audited), and rotates.
    let revealed = api.expect(200, "POST", &format!("{secret_path}/reveal"), &alice, None);
    assert_eq!(revealed.json["value"], first_value.as_str());
    let reveal_index = api.answers.len() - 1;
    let second_value = canary("secret-v2");
    let rotated = api.expect(
        200,
        "PUT",
        &secret_path,
        &alice,
        Some(json!({"value": second_value})),
    );
    assert_eq!(rotated.json["version"], 2);
    let revealed = api.expect(200, "POST", &format!("{secret_path}/reveal"), &alice, None);
    assert_eq!(revealed.json["value"], second_value.as_str());
    assert_eq!(revealed.json["version"], 2);
    let second_reveal_index = api.answers.len() - 1;

    // A connection: credentials sealed, never returned; the target rule.
    let db_password = canary("db-password");
    let connection = api.expect(
        201,
        "POST",
        "/api/v1/connections",
        &alice,
        Some(json!({"name": "warehouse", "kind": "postgres",
                    "target": {"host": "db.internal", "port": 5432, "database": "dw"},
                    "credentials": {"user": "etl", "password": db_password}})),
    );
    let connection_path = format!("/api/v1/connections/{}", id(&connection));
    assert_eq!(connection.json["target"]["host"], "db.internal");
    api.expect(
        201,
        "POST",
        "/api/v1/grants",
        &alice,
        Some(
            json!({"resource_type": "connection", "resource_id": id(&connection),
                    "grantee_type": "user", "grantee_id": dave_id, "level": "manage"}),
        ),
    );
    let moved = api.expect(
        422,
        "PATCH",
        &connection_path,
        &dave,
        Some(json!({"target": {"host": "attacker.example", "port": 5432, "database": "dw"}})),
    );
    assert_eq!(moved.json["field"], "credentials", "{}", moved.text);
    assert!(
        moved.text.contains("target"),
        "the rule is named: {}",
        moved.text
    );
    api.expect(
        200,
        "PATCH",
        &connection_path,
        &dave,
        Some(json!({"name": "warehouse-renamed"})),
    );
    let own_password = canary("dave-password");
    api.expect(
        200,
        "PATCH",
        &connection_path,
        &dave,
        Some(
            json!({"target": {"host": "replica.internal", "port": 5432, "database": "dw"},
                    "credentials": {"user": "dave", "password": own_password}}),
        ),
    );
    api.expect(
        200,
        "PATCH",
        &connection_path,
        &alice,
        Some(json!({"target": {"host": "db.internal", "port": 5433, "database": "dw"}})),
    );
    let bad_kind = api.expect(
        422,
        "POST",
        "/api/v1/connections",
        &alice,
        Some(
            json!({"name": "x", "kind": "ftp", "target": {"host": "h"}, "credentials": {"u": "p"}}),
        ),
    );
    assert_eq!(bad_kind.json["field"], "kind");

    // The grantee lists and reads the connection (target only); the owner
    // deletes it and the secret, and their grants end with them.
    let listed = api.expect(200, "GET", "/api/v1/connections", &dave, None);
    assert_eq!(
        listed.json["items"][0]["name"], "warehouse-renamed",
        "{}",
        listed.text
    );
    let read = api.expect(200, "GET", &connection_path, &dave, None);
    assert_eq!(read.json["target"]["port"], 5433, "{}", read.text);
    assert!(read.json.get("credentials").is_none(), "{}", read.text);
    api.expect(204, "DELETE", &connection_path, &alice, None);
    api.expect(404, "GET", &connection_path, &dave, None);
    api.expect(404, "GET", &connection_path, &alice, None);
    api.expect(204, "DELETE", &secret_path, &alice, None);
    api.expect(404, "GET", &secret_path, &bob, None);
    let grants = api.expect(200, "GET", "/api/v1/grants", &alice, None);
    assert_eq!(grants.json["items"], json!([]), "{}", grants.text);

    let answers = std::mem::take(&mut api.answers);
    let stderr = server.server.stderr_lines().join("\n");
    let key = server.key.clone();
    server.server.stop();

    // The events: who did what, with fingerprints and never a value.
    let all = events(&data, &key);
    let find = |action: &str| -> Vec<&Value> {
        all.iter()
            .filter(|event| event["action"] == action)
            .collect()
    };
    let created_event = find("secret.created")[0];
    assert_eq!(created_event["actor"]["id"], alice_id.as_str());
    assert_eq!(created_event["resource"]["id"], secret_id.as_str());
    assert!(
        created_event["details"]["fingerprint"].is_string(),
        "{created_event}"
    );
    let reveals = find("secret.revealed");
    assert_eq!(reveals.len(), 2, "each reveal is an event");
    assert!(
        reveals
            .iter()
            .all(|event| event["actor"]["id"] == alice_id.as_str())
    );
    assert_eq!(find("secret.rotated").len(), 1);
    let denied: Vec<&Value> = find("authz.denied")
        .into_iter()
        .filter(|event| event["resource"]["id"] == secret_id.as_str())
        .collect();
    assert!(
        denied.len() >= 5,
        "refusals on the secret are authz.denied: {denied:?}"
    );

    // Must show 2: the stored value opens with PyNaCl under an independently
    // derived key, and not under another owner's.
    let raw = events_dump(&data, &key, true);
    let stored: Vec<String> = raw
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("json"))
        .filter(|event| event["action"] == "secret.created")
        .map(|event| {
            event["raw"]["sealed_values"][0]
                .as_str()
                .expect("sealed")
                .to_string()
        })
        .collect();
    assert_eq!(stored.len(), 1);
    assert!(
        stored[0].starts_with(&format!("$cairn$1${alice_id}$")),
        "{}",
        stored[0]
    );
    let answer = run_python_peer(
        "secret_open.py",
        &json!({"master_key": key, "sealed": {"stored": stored[0], "owner_id": alice_id,
                "plaintext_hex": hex::encode(&first_value)}}),
    );
    let checks: Vec<&str> = answer["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(checks.contains(&"sealed.opens_with_pynacl"), "{answer}");
    assert!(
        checks.contains(&"sealed.moved_to_other_owner_does_not_open"),
        "{answer}"
    );

    // Canaries.
    let plain = events_dump(&data, &key, false);
    let files = files_as_text(&data);
    for value in [&first_value, &second_value, &db_password, &own_password] {
        assert!(!plain.contains(value.as_str()), "{value} in events dump");
        assert!(
            !raw.contains(value.as_str()),
            "{value} in events dump --raw"
        );
        assert!(
            !stderr.contains(value.as_str()),
            "{value} in the server's log"
        );
        for (file, text) in &files {
            assert!(!text.contains(value.as_str()), "{value} in {file}");
        }
        for (index, answer) in answers.iter().enumerate() {
            let allowed = (index == reveal_index && value == &first_value)
                || (index == second_reveal_index && value == &second_value);
            assert_eq!(
                answer.contains(value.as_str()),
                allowed,
                "{value} in answer {index}: {answer}"
            );
        }
    }
}

/// Must show 4 and 6 (at save time): `$env` reads only allowlisted names,
/// never Cairn's own variables whatever the allowlist says; an unknown step
/// type and a malformed URL are 422s naming the member.
#[test]
fn env_references_are_refused_unless_allowlisted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");

    // An allowlist naming a Cairn variable stops the start, clearly.
    let mut command = crate::support::cairn(&data);
    command
        .arg("serve")
        .env("CAIRN_MASTER_KEY", crate::support::test_master_key(0x44))
        .env("CAIRN_FLOW_ENV_ALLOW", "REGION,CAIRN_MASTER_KEY");
    let output = crate::support::run(command);
    let (_, stderr) = crate::support::texts(&output);
    assert_ne!(output.status.code(), Some(0));
    assert!(stderr.contains("CAIRN_MASTER_KEY"), "{stderr}");
    assert!(stderr.contains("never read"), "{stderr}");

    let server = AdminServer::start(&data, &[("CAIRN_FLOW_ENV_ALLOW", "REGION, STAGE")]);
    let admin = server.admin_token();
    let namespaces = server.call("GET", "/api/v1/namespaces", Some(&admin), None);
    let general = namespaces.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|namespace| namespace["name"] == "General")
        .expect("General")["id"]
        .clone();
    let flow = |name: &str, message: &str| {
        json!({"name": name, "namespace_id": general,
               "definition": {"steps": [{"type": "log", "message": message}]}})
    };
    let allowed = server.call(
        "POST",
        "/api/v1/flows",
        Some(&admin),
        Some(&flow("ok", "in $env.REGION and $env.STAGE")),
    );
    assert_eq!(allowed.status, 201, "{}", allowed.text);
    for (name, message) in [
        ("master", "$env.CAIRN_MASTER_KEY"),
        ("home", "home is $env.HOME"),
        ("jwt", "x$env.CAIRN_JWT_SECRET"),
    ] {
        let refused = server.call(
            "POST",
            "/api/v1/flows",
            Some(&admin),
            Some(&flow(name, message)),
        );
        assert_eq!(refused.status, 422, "{message}: {}", refused.text);
        assert_eq!(refused.json["field"], "definition");
        let variable = message.split("$env.").nth(1).expect("a reference");
        let variable = variable.trim();
        assert!(
            refused.json["detail"]
                .as_str()
                .expect("detail")
                .contains(variable),
            "the detail names {variable}: {}",
            refused.text
        );
    }

    for (steps, member) in [
        (
            json!([{"type": "shell", "command": "id"}]),
            "definition.steps[0].type",
        ),
        (
            json!([{"type": "log", "message": "a"},
                   {"type": "http", "method": "GET", "url": "htp:/broken"}]),
            "definition.steps[1].url",
        ),
        (
            json!([{"type": "http", "method": "GET", "url": "http://exa mple.com/"}]),
            "definition.steps[0].url",
        ),
    ] {
        let refused = server.call(
            "POST",
            "/api/v1/flows",
            Some(&admin),
            Some(&json!({"name": "bad", "namespace_id": general, "definition": {"steps": steps}})),
        );
        assert_eq!(refused.status, 422, "{member}: {}", refused.text);
        assert_eq!(refused.json["field"], "definition");
        assert!(
            refused.json["detail"]
                .as_str()
                .expect("detail")
                .contains(member),
            "the detail names {member}: {}",
            refused.text
        );
    }
}
