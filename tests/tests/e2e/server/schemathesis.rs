//! schemathesis (PyPI, pinned in tests/py/requirements.txt) fuzzes the
//! live API from its own `/openapi.json`, authenticated as a superuser:
//! no 5xx, and every response's status, content type and body conform to
//! the document. Its JUnit report is kept in
//! `test-artifacts/schemathesis/` (CI keeps that directory).

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::server::api_client::{ADMIN_PASSWORD, AdminServer};
use crate::support::python;

/// Examples per operation and phase: with ~65 operations this keeps the
/// run to about a minute on two cores (debug build).
const MAX_EXAMPLES: &str = "20";
/// A hard bound on the whole run.
const DEADLINE: Duration = Duration::from_secs(300);

fn artifacts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("test-artifacts")
        .join("schemathesis")
}

fn seed() -> u64 {
    match std::env::var("CAIRN_TEST_SEED") {
        Ok(text) => text.parse().expect("CAIRN_TEST_SEED is a number"),
        Err(_) => rand::random::<u32>().into(),
    }
}

#[test]
fn schemathesis_finds_no_failure_against_the_live_api() {
    let temp = tempfile::tempdir().expect("tempdir");
    let api = AdminServer::start(&temp.path().join("data"), &[]);
    let token = api.admin_token();
    // An API key, not the session token: the fuzzer calls logout, which
    // would end the session it authenticates with.
    let created = api.call(
        "POST",
        "/api/v1/auth/api-keys",
        Some(&token),
        Some(&json!({"name": "schemathesis"})),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let key = created.json["key"].as_str().expect("key").to_string();

    // Real resources for the operations that take an id, so the fuzzer
    // reaches the handlers and not only their 404s (it may delete them on
    // the way: later cases then see 404s, which conform too).
    let config = seeded_operations(&api, &key);
    std::fs::write(temp.path().join("schemathesis.toml"), config).expect("schemathesis.toml");

    let reports = artifacts_dir();
    std::fs::create_dir_all(&reports).expect("test-artifacts/schemathesis");
    let junit = reports.join("junit.xml");
    let _ = std::fs::remove_file(&junit);
    let seed = seed();
    eprintln!("schemathesis seed: {seed} (CAIRN_TEST_SEED={seed} replays it)");

    let mut child = Command::new(python())
        .arg("-c")
        .arg("import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())")
        .arg("run")
        .arg(api.url("/openapi.json"))
        .args(["--header", &format!("Authorization: Bearer {key}")])
        .args([
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", MAX_EXAMPLES])
        // One worker: hypothesis describes strategies with `ast.parse`,
        // which CPython 3.11 does not make thread-safe.
        .args(["--workers", "1"])
        .args(["--seed", &seed.to_string()])
        .args(["--request-timeout", "10"])
        .args(["--report", "junit"])
        .arg("--report-junit-path")
        .arg(&junit)
        // Its cache (crashes seen, hypothesis' database) stays out of the tree.
        .current_dir(temp.path())
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {}: {error}", python().display()));
    // Drain the pipes on threads so a chatty run cannot block on them.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_thread = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err_thread = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("schemathesis ran past {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = out_thread.join().expect("stdout");
    let stderr = err_thread.join().expect("stderr");
    std::fs::write(reports.join("output.txt"), &stdout).expect("keep the output");

    // The run's own summary, then the report it leaves behind.
    assert!(
        status.success(),
        "schemathesis found failures (exit {status}):\n{stdout}\n{stderr}"
    );
    let report = std::fs::read_to_string(&junit).expect("the JUnit report");
    let tests = attribute(&report, "tests");
    assert!(
        tests >= 60,
        "only {tests} operations were tested:\n{stdout}"
    );
    assert_eq!(attribute(&report, "failures"), 0, "{report}");
    assert_eq!(attribute(&report, "errors"), 0, "{report}");
    assert!(
        stdout.contains("generated") && !stdout.contains("Runtime Error"),
        "{stdout}"
    );

    // Nothing secret in what is kept as an artifact.
    for secret in [
        key.as_str(),
        token.as_str(),
        ADMIN_PASSWORD,
        api.key.as_str(),
    ] {
        assert!(!report.contains(secret), "a secret is in the JUnit report");
        assert!(!stdout.contains(secret), "a secret is in the output");
    }
    let server_log = api.server.stderr_lines().join("\n");
    assert!(!server_log.contains("panick"), "{server_log}");
    assert_eq!(api.server.stop(), Some(0));
}

/// Creates one resource of each kind and returns a schemathesis config
/// that uses their ids for the `{id}` (and `{user_id}`) path parameters.
fn seeded_operations(api: &AdminServer, key: &str) -> String {
    let create = |path: &str, body: serde_json::Value| -> String {
        let answer = api.call("POST", path, Some(key), Some(&body));
        assert!(
            answer.status == 201 || answer.status == 202,
            "{path}: {}",
            answer.text
        );
        answer.json["id"].as_str().expect("id").to_string()
    };
    let namespace = create("/api/v1/namespaces", json!({"name": "fuzzed"}));
    let flow = create(
        "/api/v1/flows",
        json!({"name": "fuzzed", "namespace_id": namespace,
               "definition": {"steps": [{"id": "a", "type": "log", "message": "x"}]}}),
    );
    let secret = create("/api/v1/secrets", json!({"name": "fuzzed", "value": "v"}));
    let group = create("/api/v1/groups", json!({"name": "fuzzed"}));
    let user = create(
        "/api/v1/users",
        json!({"username": "fuzzed", "password": "correct-horse-battery-7",
               "role": "viewer", "is_active": true}),
    );
    let connection = create(
        "/api/v1/connections",
        json!({"name": "fuzzed", "kind": "http", "target": {"url": "https://example.com"},
               "credentials": {"token": "t"}}),
    );
    let run = create(&format!("/api/v1/flows/{flow}/runs"), json!({}));
    [
        ("namespaces", namespace.as_str(), None),
        ("flows", flow.as_str(), None),
        ("secrets", secret.as_str(), None),
        ("groups", group.as_str(), Some(user.as_str())),
        ("users", user.as_str(), None),
        ("connections", connection.as_str(), None),
        ("runs", run.as_str(), None),
    ]
    .iter()
    .map(|(area, id, user_id)| {
        let user_part = user_id
            .map(|user| format!(", \"path.user_id\" = \"{user}\""))
            .unwrap_or_default();
        format!(
            "[[operations]]\ninclude-path-regex = \"^/api/v1/{area}/\"\nparameters = {{ \"path.id\" = \"{id}\"{user_part} }}\n"
        )
    })
    .collect()
}

/// A numeric attribute of the report's first `<testsuites>` or
/// `<testsuite>` element.
fn attribute(report: &str, name: &str) -> u64 {
    let needle = format!(" {name}=\"");
    let start = report
        .find(&needle)
        .unwrap_or_else(|| panic!("no {name} in the report"))
        + needle.len();
    let end = report[start..].find('"').expect("closing quote") + start;
    report[start..end]
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a number"))
}
