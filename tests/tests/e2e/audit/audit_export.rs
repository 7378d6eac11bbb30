//! Exporting the audit trail (issue 6): a session that produces nearly
//! every action, exported through the API as JSONL, OCSF and CEF:
//! - every OCSF event validates against the official OCSF 1.8.0 schema
//!   (PyPI `ocsf-json-schema` with `jsonschema`);
//! - every CEF record parses (pycef, and a strict parser);
//! - names with CR/LF, ANSI escapes, quotes, `=` and `|` still give one
//!   line per event in every format;
//! - the JSONL file verifies offline with only the public key, and one
//!   changed line fails naming that line;
//! - no secret value or password appears in any export;
//! - each export is an `audit.exported` event; only audit readers export;
//! - `cairn audit export` does the same on a stopped server's data dir.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::server::api_client::{
    ADMIN_PASSWORD, AdminServer, Answer, expect_status as ok, id_of as id,
};
use crate::support::{self, cairn, py_dir, python, run, texts};

const PASSWORD: &str = "export-test-Pw#71xq";
const SECRET_CANARY: &str = "canary-secret-5c1f0d7e9ab34f22";
const ROTATED_CANARY: &str = "canary-rotated-77e2b1c4d09a";
const DB_PASSWORD_CANARY: &str = "canary-dbpass-a8f3e61c2b";
/// Control characters, an ANSI escape, quotes, `=`, `|` and `\`: names
/// refuse control characters at the API, so these reach the log through a
/// flow's definition (a log step's message) and a request's path.
const HOSTILE: &str = "ev\u{1b}[31mil\r\nCEF:0|x=y \"q\" 'a'|b\\c";
/// What names may hold: quotes, `=`, `|`, `\`, a fake CEF header.
const HOSTILE_NAME: &str = "ev\"il CEF:0|x=y 'a'|b\\c ]";

/// Drives the API through nearly every action Cairn records.
fn rich_session(api: &AdminServer) -> String {
    let admin = api.admin_token();
    let bob_id = api.create_user(&admin, "bob", PASSWORD, "flow_editor");
    let carol_id = api.create_user(&admin, "carol", PASSWORD, "viewer");
    api.create_user(&admin, "auditor", PASSWORD, "audit_viewer");
    let bob = api.login("bob", PASSWORD);

    // Failed login, password change, role change, deactivate/activate.
    let failed = api.call(
        "POST",
        "/api/v1/auth/login",
        None,
        Some(&json!({"username": "bob", "password": "wrong-password-1"})),
    );
    assert_eq!(failed.status, 401, "{}", failed.text);
    ok(
        api,
        204,
        "PUT",
        "/api/v1/users/me/password",
        &bob,
        Some(json!({"current_password": PASSWORD, "new_password": "export-test-Pw#71xq-2"})),
    );
    let bob = api.login("bob", "export-test-Pw#71xq-2");
    ok(
        api,
        200,
        "PATCH",
        &format!("/api/v1/users/{carol_id}"),
        &admin,
        Some(json!({"role": "flow_editor"})),
    );
    ok(
        api,
        200,
        "PATCH",
        &format!("/api/v1/users/{carol_id}"),
        &admin,
        Some(json!({"is_active": false})),
    );
    ok(
        api,
        200,
        "PATCH",
        &format!("/api/v1/users/{carol_id}"),
        &admin,
        Some(json!({"is_active": true})),
    );

    // API keys.
    let key = ok(
        api,
        201,
        "POST",
        "/api/v1/auth/api-keys",
        &admin,
        Some(json!({"name": "ci key"})),
    );
    ok(
        api,
        204,
        "DELETE",
        &format!("/api/v1/auth/api-keys/{}", id(&key)),
        &admin,
        None,
    );

    // Orgs and members.
    let org = ok(
        api,
        201,
        "POST",
        "/api/v1/orgs",
        &admin,
        Some(json!({"name": "elsewhere"})),
    );
    let org_id = id(&org);
    ok(
        api,
        201,
        "POST",
        &format!("/api/v1/orgs/{org_id}/members"),
        &admin,
        Some(json!({"user_id": bob_id, "role": "viewer"})),
    );
    ok(
        api,
        204,
        "DELETE",
        &format!("/api/v1/orgs/{org_id}/members/{bob_id}"),
        &admin,
        None,
    );

    // Groups with a hostile name.
    let group = ok(
        api,
        201,
        "POST",
        "/api/v1/groups",
        &admin,
        Some(json!({"name": format!("ops {HOSTILE_NAME}")})),
    );
    let group_id = id(&group);
    ok(
        api,
        201,
        "POST",
        &format!("/api/v1/groups/{group_id}/members"),
        &admin,
        Some(json!({"user_id": bob_id, "role": "member"})),
    );
    ok(
        api,
        200,
        "PATCH",
        &format!("/api/v1/groups/{group_id}/members/{bob_id}"),
        &admin,
        Some(json!({"role": "manager"})),
    );
    ok(
        api,
        201,
        "POST",
        &format!("/api/v1/groups/{group_id}/members"),
        &admin,
        Some(json!({"user_id": carol_id, "role": "member"})),
    );
    ok(
        api,
        204,
        "DELETE",
        &format!("/api/v1/groups/{group_id}/members/{carol_id}"),
        &admin,
        None,
    );
    let spare = ok(
        api,
        201,
        "POST",
        "/api/v1/groups",
        &admin,
        Some(json!({"name": "spare"})),
    );
    ok(
        api,
        204,
        "DELETE",
        &format!("/api/v1/groups/{}", id(&spare)),
        &admin,
        None,
    );

    // Namespaces, flows, grants.
    let namespace = ok(
        api,
        201,
        "POST",
        "/api/v1/namespaces",
        &admin,
        Some(json!({"name": format!("team {HOSTILE_NAME}")})),
    );
    let namespace_id = id(&namespace);
    let scratch = ok(
        api,
        201,
        "POST",
        "/api/v1/namespaces",
        &admin,
        Some(json!({"name": "scratch"})),
    );
    ok(
        api,
        200,
        "PATCH",
        &format!("/api/v1/namespaces/{}", id(&scratch)),
        &admin,
        Some(json!({"name": "scratch-2"})),
    );
    ok(
        api,
        204,
        "DELETE",
        &format!("/api/v1/namespaces/{}", id(&scratch)),
        &admin,
        None,
    );
    let definition =
        json!({"steps": [{"id": "note", "type": "log", "message": format!("hello {HOSTILE}")}]});
    let flow = ok(
        api,
        201,
        "POST",
        "/api/v1/flows",
        &admin,
        Some(
            json!({"name": format!("etl {HOSTILE_NAME}"), "namespace_id": namespace_id, "definition": definition}),
        ),
    );
    let flow_id = id(&flow);
    ok(
        api,
        200,
        "PUT",
        &format!("/api/v1/flows/{flow_id}"),
        &admin,
        Some(json!({"name": "etl", "namespace_id": namespace_id, "definition": definition})),
    );
    let grant = ok(
        api,
        201,
        "POST",
        "/api/v1/grants",
        &admin,
        Some(
            json!({"resource_type": "flow", "resource_id": flow_id, "grantee_type": "group", "grantee_id": group_id, "level": "use"}),
        ),
    );
    let user_grant = ok(
        api,
        201,
        "POST",
        "/api/v1/grants",
        &admin,
        Some(
            json!({"resource_type": "namespace", "resource_id": namespace_id, "grantee_type": "user", "grantee_id": carol_id, "level": "use"}),
        ),
    );
    ok(
        api,
        204,
        "DELETE",
        &format!("/api/v1/grants/{}", id(&user_grant)),
        &admin,
        None,
    );

    // Secrets and connections (values are canaries: they must appear nowhere).
    let secret = ok(
        api,
        201,
        "POST",
        "/api/v1/secrets",
        &admin,
        Some(json!({"name": "API_TOKEN", "value": SECRET_CANARY})),
    );
    let secret_id = id(&secret);
    ok(
        api,
        200,
        "PUT",
        &format!("/api/v1/secrets/{secret_id}"),
        &admin,
        Some(json!({"value": ROTATED_CANARY})),
    );
    ok(
        api,
        200,
        "POST",
        &format!("/api/v1/secrets/{secret_id}/reveal"),
        &admin,
        None,
    );
    let connection = ok(
        api,
        201,
        "POST",
        "/api/v1/connections",
        &admin,
        Some(
            json!({"name": "warehouse", "kind": "postgres", "target": {"host": "db.internal", "port": 5432, "database": "dw"}, "credentials": {"user": "etl", "password": DB_PASSWORD_CANARY}}),
        ),
    );
    ok(
        api,
        200,
        "PATCH",
        &format!("/api/v1/connections/{}", id(&connection)),
        &admin,
        Some(json!({"name": "warehouse-2"})),
    );
    ok(
        api,
        204,
        "DELETE",
        &format!("/api/v1/connections/{}", id(&connection)),
        &admin,
        None,
    );

    // A run that resolves the secret, and a schedule that fires.
    let resolving =
        json!({"steps": [{"id": "use", "type": "log", "message": "token $secret.API_TOKEN"}]});
    let runner = ok(
        api,
        201,
        "POST",
        "/api/v1/flows",
        &admin,
        Some(json!({"name": "runner", "namespace_id": namespace_id, "definition": resolving})),
    );
    let run = ok(
        api,
        202,
        "POST",
        &format!("/api/v1/flows/{}/runs", id(&runner)),
        &admin,
        None,
    );
    let run_path = format!("/api/v1/runs/{}", id(&run));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = ok(api, 200, "GET", &run_path, &admin, None);
        if matches!(status.json["status"].as_str(), Some("succeeded" | "failed")) {
            assert_eq!(status.json["status"], "succeeded", "{}", status.text);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the run did not finish: {}",
            status.text
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let schedule = ok(
        api,
        201,
        "POST",
        "/api/v1/schedules",
        &admin,
        Some(json!({"flow_id": flow_id, "cron": "* * * * * *"})),
    );
    let fired_by = Instant::now() + Duration::from_secs(20);
    while !events_of(api, &admin, "schedule.fired") {
        assert!(Instant::now() < fired_by, "the schedule never fired");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Its owner pauses it and re-enables it (schedule.suspended, .resumed).
    for enabled in [false, true] {
        ok(
            api,
            200,
            "PATCH",
            &format!("/api/v1/schedules/{}", id(&schedule)),
            &admin,
            Some(json!({"enabled": enabled})),
        );
    }
    ok(
        api,
        204,
        "DELETE",
        &format!("/api/v1/schedules/{}", id(&schedule)),
        &admin,
        None,
    );

    // A denial (a flow carol may not see), a refusal without credentials,
    // the grant revoked, the flow and a user deleted, a logout.
    let carol = api.login("carol", PASSWORD);
    let hidden = api.call(
        "GET",
        &format!("/api/v1/flows/{}", id(&runner)),
        Some(&carol),
        None,
    );
    assert_eq!(hidden.status, 404, "{}", hidden.text);
    let anonymous = api.call("GET", "/api/v1/users", None, None);
    assert_eq!(anonymous.status, 401);
    let hostile_path = api.call(
        "GET",
        "/api/v1/users/%1b%5b31m%0d%0aCEF:0%7cx=y%22",
        None,
        None,
    );
    assert_eq!(hostile_path.status, 401);
    ok(
        api,
        204,
        "DELETE",
        &format!("/api/v1/grants/{}", id(&grant)),
        &admin,
        None,
    );
    ok(
        api,
        204,
        "DELETE",
        &format!("/api/v1/flows/{flow_id}"),
        &admin,
        None,
    );
    let doomed = api.create_user(&admin, "doomed", PASSWORD, "viewer");
    ok(
        api,
        204,
        "DELETE",
        &format!("/api/v1/users/{doomed}"),
        &admin,
        None,
    );
    ok(
        api,
        204,
        "POST",
        &format!("/api/v1/users/{doomed}/erase"),
        &admin,
        None,
    );
    ok(
        api,
        204,
        "DELETE",
        &format!("/api/v1/secrets/{secret_id}"),
        &admin,
        None,
    );
    ok(api, 204, "POST", "/api/v1/auth/logout", &bob, None);
    admin
}

fn events_of(api: &AdminServer, token: &str, action: &str) -> bool {
    let page = ok(
        api,
        200,
        "GET",
        &format!("/api/v1/audit/events?action={action}&limit=1"),
        token,
        None,
    );
    page.json["items"]
        .as_array()
        .is_some_and(|items| !items.is_empty())
}

/// Downloads an export; returns its lines.
fn export(api: &AdminServer, token: &str, query: &str) -> (Answer, Vec<String>) {
    let answer = ok(
        api,
        200,
        "GET",
        &format!("/api/v1/audit/export?{query}"),
        token,
        None,
    );
    let lines: Vec<String> = answer.text.lines().map(str::to_string).collect();
    assert!(answer.text.ends_with('\n'), "an export ends with a newline");
    (answer, lines)
}

fn python_check(script: &str, file: &Path) -> Value {
    let output = std::process::Command::new(python())
        .arg(py_dir().join(script))
        .arg(file)
        .output()
        .expect("python");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(
        output.status.success(),
        "{script} failed:\n{stdout}\n{stderr}"
    );
    serde_json::from_str(stdout.lines().last().expect("a summary line")).expect("summary JSON")
}

fn assert_no_canary(what: &str, text: &str) {
    for canary in [
        SECRET_CANARY,
        ROTATED_CANARY,
        DB_PASSWORD_CANARY,
        PASSWORD,
        ADMIN_PASSWORD,
    ] {
        assert!(
            !text.contains(canary),
            "{what} holds a secret value or a password"
        );
    }
}

fn verify_file(file: &Path, public_key: &str) -> std::process::Output {
    // No data dir is read: only the file and the key.
    let mut command = cairn(&file.with_file_name("no-data-dir"));
    command
        .args(["audit", "verify", "--export"])
        .arg(file)
        .args(["--public-key", public_key]);
    run(command)
}

/// A change made to one exported line.
type Tampering = Box<dyn Fn(&mut Value)>;

/// Actions no session can produce yet: retention (issue 7), configuration
/// changes and session revocation have no producer. The cairn-audit test
/// `ocsf_every_action` renders and validates those too, synthetically.
/// A throttling summary (`http.throttled`) is written when its client's
/// 60-second window closes or at a clean shutdown, after this session's
/// export: `floods` produces one end to end, and `ocsf_every_action`
/// renders and validates it.
const NOT_PRODUCED: [&str; 4] = [
    "retention.pruned",
    "config.changed",
    "session.revoked",
    "http.throttled",
];

#[test]
fn exports_validate_verify_offline_and_never_hold_secrets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api = AdminServer::start(
        &dir.path().join("data"),
        &[
            ("CAIRN_CHECKPOINT_EVERY", "20"),
            ("CAIRN_FLOW_ENV_ALLOW", ""),
            // The session's schedule fires every second.
            ("CAIRN_SCHEDULE_MIN_INTERVAL", "1"),
            ("CAIRN_RUN_EGRESS_ALLOW", "127.0.0.1"),
        ],
    );
    let admin = rich_session(&api);
    let auditor = api.login("auditor", PASSWORD);
    let public_key =
        ok(&api, 200, "GET", "/api/v1/audit/public-key", &auditor, None).json["public_key"]
            .as_str()
            .expect("public key")
            .to_string();

    // Who may export, and bad parameters.
    let carol = api.login("carol", PASSWORD);
    assert_eq!(
        api.call(
            "GET",
            "/api/v1/audit/export?format=jsonl",
            Some(&carol),
            None
        )
        .status,
        403
    );
    for (query, field) in [
        ("", "format"),
        ("format=xml", "format"),
        ("format=jsonl&after=3", "after"),
        ("format=ocsf&since=yesterday", "since"),
    ] {
        let refused = api.call(
            "GET",
            &format!("/api/v1/audit/export?{query}"),
            Some(&admin),
            None,
        );
        assert_eq!(refused.status, 422, "{query}: {}", refused.text);
        assert!(refused.text.contains(field), "{query}: {}", refused.text);
    }

    // JSONL, every event of every org (superuser): one JSON object a line.
    let before = api.seq();
    let (answer, jsonl) = export(&api, &admin, "format=jsonl");
    assert_eq!(answer.headers["content-type"], "application/x-ndjson");
    assert!(
        answer.headers["content-disposition"]
            .to_str()
            .expect("ascii")
            .contains("attachment")
    );
    let lines: Vec<Value> = jsonl
        .iter()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    let seqs: Vec<u64> = lines
        .iter()
        .map(|line| line["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(
        seqs,
        (1..=before).collect::<Vec<_>>(),
        "the export covers the log up to its start, in order"
    );
    assert_no_canary("the JSONL export", &answer.text);
    let actions: BTreeSet<&str> = lines
        .iter()
        .map(|line| line["action"].as_str().expect("action"))
        .collect();
    let vocabulary: Vec<&str> = cairn_schemas::Action::ALL
        .iter()
        .map(|action| action.as_str())
        .collect();
    let missing: Vec<&&str> = vocabulary
        .iter()
        .filter(|action| {
            !actions.contains(**action)
                && !NOT_PRODUCED.contains(action)
                && **action != "audit.exported"
        })
        .collect();
    assert!(
        missing.is_empty(),
        "the session did not produce {missing:?}"
    );
    // Names with control characters are exported escaped, never raw.
    assert!(
        answer.text.contains("\\u001b[31m") && answer.text.contains("\\r\\n"),
        "the hostile names are escaped"
    );

    // Every line follows schemas/events.schema.json.
    let file = dir.path().join("export.jsonl");
    std::fs::write(&file, &answer.text).expect("write");
    let schema = py_dir().join("../../schemas/events.schema.json");
    let checked = std::process::Command::new(python())
        .arg(py_dir().join("events_validate.py"))
        .arg(&schema)
        .arg(&file)
        .output()
        .expect("python");
    assert!(
        checked.status.success(),
        "events.schema.json: {}",
        String::from_utf8_lossy(&checked.stderr)
    );

    // Offline verification: the untouched file passes with the key alone.
    let verified = verify_file(&file, &public_key);
    let (stdout, stderr) = texts(&verified);
    assert_eq!(verified.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("checkpoint signatures verified"),
        "{stdout}"
    );
    // The key may also be given as the JSON of GET /api/v1/audit/public-key.
    let key_file = dir.path().join("public-key.json");
    std::fs::write(
        &key_file,
        ok(&api, 200, "GET", "/api/v1/audit/public-key", &auditor, None).text,
    )
    .expect("write");
    assert_eq!(
        verify_file(&file, key_file.to_str().expect("utf-8"))
            .status
            .code(),
        Some(0)
    );

    // One changed line fails, naming that line: an outcome, an actor, a
    // detail, a hash; a removed line and a wrong key too.
    let denied_line = lines
        .iter()
        .position(|line| line["outcome"] == "denied")
        .expect("a denied event");
    let grant_line = lines
        .iter()
        .position(|line| line["action"] == "grant.created")
        .expect("a grant");
    let tamperings: Vec<(usize, Tampering)> = vec![
        (
            denied_line,
            Box::new(|line: &mut Value| line["outcome"] = json!("success")),
        ),
        (
            grant_line,
            Box::new(|line: &mut Value| line["details"]["level"] = json!("manage")),
        ),
        (
            grant_line,
            Box::new(|line: &mut Value| line["actor"]["id"] = json!(uuid::Uuid::nil().to_string())),
        ),
        (
            10,
            Box::new(|line: &mut Value| line["time"] = json!("2020-01-01T00:00:00.000000Z")),
        ),
    ];
    for (index, tamper) in tamperings {
        let mut changed = lines[index].clone();
        tamper(&mut changed);
        let mut text: Vec<String> = jsonl.clone();
        text[index] = changed.to_string();
        let tampered = dir.path().join("tampered.jsonl");
        std::fs::write(&tampered, text.join("\n") + "\n").expect("write");
        let refused = verify_file(&tampered, &public_key);
        let (_, stderr) = texts(&refused);
        assert_eq!(refused.status.code(), Some(3), "{stderr}");
        assert!(
            stderr.contains(&format!("line {}", index + 1)),
            "names line {}: {stderr}",
            index + 1
        );
    }
    let mut without = jsonl.clone();
    without.remove(30);
    let gapped = dir.path().join("gapped.jsonl");
    std::fs::write(&gapped, without.join("\n") + "\n").expect("write");
    let refused = verify_file(&gapped, &public_key);
    assert_eq!(refused.status.code(), Some(3));
    assert!(
        texts(&refused).1.contains("line 31"),
        "{}",
        texts(&refused).1
    );
    let mut command = cairn(&file.with_file_name("no-data-dir"));
    command.args(["audit", "verify", "--public-key", &public_key]);
    assert_eq!(
        run(command).status.code(),
        Some(2),
        "a key without --export is a usage error"
    );
    let mut command = cairn(&file.with_file_name("no-data-dir"));
    command
        .args(["audit", "verify", "--export"])
        .arg(&file)
        .args(["--public-key", "abc"]);
    let line = support::assert_one_error_line(&run(command), 2);
    assert!(line.contains("--public-key"), "{line}");
    let wrong_key = hex::encode([7u8; 32]);
    assert_eq!(
        verify_file(&file, &wrong_key).status.code(),
        Some(3),
        "another key does not verify the checkpoints"
    );

    // An org-scoped export (the auditor's org) verifies with --allow-gaps.
    let (scoped, _) = export(&api, &auditor, "format=jsonl");
    let scoped_file = dir.path().join("scoped.jsonl");
    std::fs::write(&scoped_file, &scoped.text).expect("write");
    let mut command = cairn(&scoped_file.with_file_name("no-data-dir"));
    command
        .args(["audit", "verify", "--allow-gaps", "--export"])
        .arg(&scoped_file)
        .args(["--public-key", &public_key]);
    let scoped_check = run(command);
    assert_eq!(
        scoped_check.status.code(),
        Some(0),
        "{:?}",
        texts(&scoped_check)
    );

    // OCSF: every event validates against the official 1.8.0 schema.
    let (ocsf, ocsf_lines) = export(&api, &admin, "format=ocsf");
    assert_no_canary("the OCSF export", &ocsf.text);
    let ocsf_file = dir.path().join("export.ocsf.jsonl");
    std::fs::write(&ocsf_file, &ocsf.text).expect("write");
    let summary = python_check("ocsf_validate.py", &ocsf_file);
    assert_eq!(summary["invalid"], 0, "{summary}");
    assert!(
        ocsf_lines.len() as u64 > before,
        "the OCSF export covers the JSONL export and its event"
    );

    // CEF: one record per event, parsed by pycef and a strict parser.
    let (cef, cef_lines) = export(&api, &admin, "format=cef");
    assert_no_canary("the CEF export", &cef.text);
    assert!(
        cef_lines.iter().all(|line| line.starts_with("CEF:0|")),
        "one record per line"
    );
    let cef_file = dir.path().join("export.cef");
    std::fs::write(&cef_file, &cef.text).expect("write");
    let summary = python_check("cef_check.py", &cef_file);
    assert_eq!(
        summary["records"].as_u64(),
        Some(cef_lines.len() as u64),
        "{summary}"
    );
    assert_eq!(summary["invalid"], json!([]), "{summary}");

    // Every export is an event, naming its format and its range.
    let exported = ok(
        &api,
        200,
        "GET",
        "/api/v1/audit/events?action=audit.exported&limit=100",
        &auditor,
        None,
    );
    let formats: Vec<&str> = exported.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|event| event["details"]["format"].as_str().expect("format"))
        .collect();
    assert!(formats.contains(&"jsonl"), "{}", exported.text);
    let all = ok(
        &api,
        200,
        "GET",
        "/api/v1/audit/events?action=audit.exported&limit=100",
        &admin,
        None,
    );
    let all_formats: BTreeSet<&str> = all.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|event| event["details"]["format"].as_str().expect("format"))
        .collect();
    assert_eq!(
        all_formats,
        BTreeSet::from(["cef", "jsonl", "ocsf"]),
        "{}",
        all.text
    );

    // The server's own log never held a value either.
    let key = api.key.clone();
    let stderr = api.server.stderr_lines().join("\n");
    assert_no_canary("the server log", &stderr);
    drop(api);

    // `cairn audit export` on the stopped server's data dir.
    let data = dir.path().join("data");
    let out = dir.path().join("cli.ocsf.jsonl");
    let mut command = cairn(&data);
    command
        .env("CAIRN_MASTER_KEY", &key)
        .args(["audit", "export", "--format", "ocsf", "--out"])
        .arg(&out);
    let exported = run(command);
    assert_eq!(exported.status.code(), Some(0), "{:?}", texts(&exported));
    let summary = python_check("ocsf_validate.py", &out);
    assert_eq!(summary["invalid"], 0, "{summary}");
    let mut command = cairn(&data);
    command
        .env("CAIRN_MASTER_KEY", &key)
        .args(["audit", "export", "--format", "jsonl"]);
    let cli_jsonl = run(command);
    assert_eq!(cli_jsonl.status.code(), Some(0));
    let text = String::from_utf8(cli_jsonl.stdout.clone()).expect("utf-8");
    assert_no_canary("the CLI export", &text);
    let last: Value = serde_json::from_str(text.lines().last().expect("lines")).expect("json");
    let events = support::events(&data, &key);
    let cli_events: Vec<&Value> = events
        .iter()
        .filter(|event| event["action"] == "audit.exported" && event["actor"]["type"] == "system")
        .collect();
    assert_eq!(cli_events.len(), 2, "each CLI export is recorded");
    assert!(
        last["seq"].as_u64() < cli_events[1]["seq"].as_u64(),
        "an export ends before its own event"
    );
    let mut command = cairn(&data);
    command
        .env("CAIRN_MASTER_KEY", &key)
        .args(["audit", "export", "--format", "yaml"]);
    assert_eq!(
        run(command).status.code(),
        Some(2),
        "an unknown format is a usage error"
    );
}
