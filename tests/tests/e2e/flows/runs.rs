//! Issue 5's runs and schedules, end to end through the real binary: a
//! member runs a flow shared with their group, whose http step reaches a
//! test server on loopback with a shared secret in a header; the value is
//! sent, but every stored and returned output shows `***`, no endpoint
//! gives it to the member, and the events name the member as actor and the
//! owner's secret by id. Revoking the grant makes the next run refused and
//! the member's schedule record a denied run. A run in flight when the
//! server is killed is failed after the restart; a full run queue is a 503.
//! References that do not resolve and bad cron expressions are 422s
//! naming them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::server::api_client::{ADMIN_PASSWORD, ADMIN_USER, AdminServer, Answer};
use crate::support::{events, events_dump};

/// How long a test waits for a run or a fire before it gives up.
const PATIENCE: Duration = Duration::from_secs(60);

// ------------------------------------------------------------ the echo server

/// A small HTTP server on loopback: it answers every request with a JSON
/// body echoing the request's method, path and headers. A request to
/// `/slow` first reports itself on `slow` and then waits until the test
/// drops `release` (at most two minutes).
pub(crate) struct Echo {
    pub(crate) url: String,
    /// The head of every request received, as text.
    seen: Receiver<String>,
    /// One message per `/slow` request received.
    slow: Receiver<()>,
    /// Dropped to let the `/slow` requests finish.
    release: Option<Sender<()>>,
}

impl Echo {
    pub(crate) fn start() -> Echo {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the echo server");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let (seen_tx, seen) = channel();
        let (slow_tx, slow) = channel();
        let (release, release_rx) = channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let seen_tx = seen_tx.clone();
                let slow_tx = slow_tx.clone();
                let release_rx = Arc::clone(&release_rx);
                std::thread::spawn(move || {
                    let _ = answer(stream, &seen_tx, &slow_tx, &release_rx);
                });
            }
        });
        Echo {
            url,
            seen,
            slow,
            release: Some(release),
        }
    }

    /// Every request head received so far.
    pub(crate) fn heads(&self) -> Vec<String> {
        self.seen.try_iter().collect()
    }

    /// Lets every `/slow` request finish.
    fn release(&mut self) {
        self.release.take();
    }
}

fn answer(
    stream: TcpStream,
    seen: &Sender<String>,
    slow: &Sender<()>,
    release: &Mutex<Receiver<()>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut head = String::new();
    let mut headers = serde_json::Map::new();
    let mut length = 0usize;
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    head.push_str(&request_line);
    for _ in 0..200 {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
        if let Some((name, value)) = line.trim_end().split_once(':') {
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim().to_string();
            if name == "content-length" {
                length = value.parse().unwrap_or(0);
            }
            headers.insert(name, Value::String(value));
        }
    }
    let mut body = vec![0; length.min(1 << 20)];
    reader.read_exact(&mut body)?;
    let _ = seen.send(head);
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    if path.starts_with("/slow") {
        let _ = slow.send(());
        let receiver = release.lock().expect("release");
        let _ = receiver.recv_timeout(Duration::from_secs(120));
    }
    let echoed = json!({
        "method": method,
        "path": path,
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    })
    .to_string();
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{echoed}",
        echoed.len()
    )?;
    stream.flush()
}

// ------------------------------------------------------------------ helpers

pub(crate) fn ok(
    api: &AdminServer,
    token: &str,
    status: u16,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Value {
    let answer = api.call(method, path, Some(token), body.as_ref());
    assert_eq!(answer.status, status, "{method} {path}: {}", answer.text);
    answer.json
}

pub(crate) fn id_of(value: &Value) -> String {
    value["id"]
        .as_str()
        .unwrap_or_else(|| panic!("an id: {value}"))
        .to_string()
}

/// Polls the run until `done` holds (finished, by default), and returns it.
fn wait_for_run(api: &AdminServer, token: &str, run: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let answer = api.call("GET", &format!("/api/v1/runs/{run}"), Some(token), None);
        assert_eq!(answer.status, 200, "GET run: {}", answer.text);
        if done(&answer.json) {
            return answer.json;
        }
        assert!(
            Instant::now() < deadline,
            "the run never got there: {}",
            answer.text
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

pub(crate) fn finished(run: &Value) -> bool {
    matches!(
        run["status"].as_str(),
        Some("succeeded" | "failed" | "denied")
    )
}

/// Polls the caller's runs until one satisfies `wanted`, and returns it.
pub(crate) fn wait_for_listed_run(
    api: &AdminServer,
    token: &str,
    wanted: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let answer = api.call("GET", "/api/v1/runs?limit=500", Some(token), None);
        assert_eq!(answer.status, 200, "GET runs: {}", answer.text);
        let items = answer.json["items"].as_array().cloned().unwrap_or_default();
        if let Some(run) = items.into_iter().find(|run| wanted(run)) {
            return run;
        }
        assert!(
            Instant::now() < deadline,
            "no such run appeared: {}",
            answer.text
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn assert_problem(answer: &Answer, status: u16, field: &str, mentions: &[&str]) {
    assert_eq!(answer.status, status, "{}", answer.text);
    assert_eq!(answer.json["field"], field, "{}", answer.text);
    let detail = answer.json["detail"].as_str().unwrap_or_default();
    for mention in mentions {
        assert!(detail.contains(mention), "{mention} in {detail}");
    }
}

/// A user of the admin's org with `role`, logged in: (id, token).
pub(crate) fn user(api: &AdminServer, admin: &str, name: &str, role: &str) -> (String, String) {
    let password = format!("runs-{name}-Pw#7731-quartz");
    let id = api.create_user(admin, name, &password, role);
    (id, api.login(name, &password))
}

// -------------------------------------------------------------------- tests

/// Must-shows 1 and 3: sharing, masking, events; revocation and the denied
/// scheduled run.
#[test]
fn a_member_runs_a_shared_flow_and_the_shared_secret_is_used_never_seen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    let canary = format!("canary-{}-\"quoted\"", uuid::Uuid::now_v7().simple());
    let api = AdminServer::start(
        &data_dir,
        &[
            ("CAIRN_FLOW_ENV_ALLOW", "RUN_REGION"),
            ("RUN_REGION", "eu-canary-region-7"),
            // The schedule below fires every second.
            ("CAIRN_SCHEDULE_MIN_INTERVAL", "1"),
            crate::support::LOOPBACK_EGRESS,
        ],
    );
    let echo = Echo::start();
    let admin = api.admin_token();
    let (alice, alice_token) = user(&api, &admin, "alice", "flow_editor");
    let (bob, bob_token) = user(&api, &admin, "bob", "flow_executor");
    let (_carol, carol_token) = user(&api, &admin, "carol", "flow_executor");

    let group = id_of(&ok(
        &api,
        &admin,
        201,
        "POST",
        "/api/v1/groups",
        Some(json!({"name": "ops"})),
    ));
    ok(
        &api,
        &admin,
        201,
        "POST",
        &format!("/api/v1/groups/{group}/members"),
        Some(json!({"user_id": bob, "role": "member"})),
    );
    let namespace = id_of(&ok(
        &api,
        &alice_token,
        201,
        "POST",
        "/api/v1/namespaces",
        Some(json!({"name": "pipelines"})),
    ));
    let definition = json!({"steps": [
        {"id": "call", "type": "http", "method": "POST", "url": format!("{}/echo", echo.url),
         "headers": {"Authorization": "Bearer $secret.API_TOKEN", "X-Region": "$env.RUN_REGION"},
         "body": {"token": "$secret.API_TOKEN"}, "timeout_ms": 10000},
        {"id": "note", "type": "log", "message": "called with $secret.API_TOKEN in $env.RUN_REGION"},
    ]});
    let flow = id_of(&ok(
        &api,
        &alice_token,
        201,
        "POST",
        "/api/v1/flows",
        Some(json!({"name": "sync", "namespace_id": namespace, "definition": definition})),
    ));
    let secret = id_of(&ok(
        &api,
        &alice_token,
        201,
        "POST",
        "/api/v1/secrets",
        Some(json!({"name": "API_TOKEN", "value": canary})),
    ));
    let grant = |resource_type: &str, resource: &str| {
        id_of(&ok(
            &api,
            &alice_token,
            201,
            "POST",
            "/api/v1/grants",
            Some(
                json!({"resource_type": resource_type, "resource_id": resource,
                        "grantee_type": "group", "grantee_id": group, "level": "use"}),
            ),
        ))
    };
    let namespace_grant = grant("namespace", &namespace);
    grant("secret", &secret);

    // Bob runs it: queued at once, executed off the request path.
    let runs_path = format!("/api/v1/flows/{flow}/runs");
    let queued = ok(&api, &bob_token, 202, "POST", &runs_path, None);
    assert_eq!(queued["status"], "queued", "{queued}");
    assert_eq!(queued["actor"]["type"], "user");
    assert_eq!(queued["actor"]["user_id"], bob.as_str());
    let run = id_of(&queued);
    let done = wait_for_run(&api, &bob_token, &run, finished);
    assert_eq!(done["status"], "succeeded", "{done}");
    let call = &done["steps"][0];
    assert_eq!(call["id"], "call");
    assert_eq!(call["status"], "succeeded", "{done}");
    assert_eq!(call["output"]["status"], 200, "{done}");
    let echoed = &call["output"]["body"];
    assert_eq!(echoed["headers"]["authorization"], "Bearer ***", "{done}");
    assert_eq!(echoed["headers"]["x-region"], "***", "{done}");
    assert_eq!(
        echoed["body"], r#"{"token":"***"}"#,
        "the JSON-escaped value too: {done}"
    );
    assert_eq!(
        done["steps"][1]["output"]["message"],
        "called with *** in ***"
    );
    assert!(!done.to_string().contains("canary-"), "{done}");
    assert!(!done.to_string().contains("eu-canary-region"), "{done}");
    // The value really went out, in the header.
    let heads = echo.heads();
    assert!(
        heads
            .iter()
            .any(|head| head.contains(&format!("Bearer {canary}"))),
        "the test server saw the secret: {heads:?}"
    );

    // No endpoint gives bob the value.
    let secret_path = format!("/api/v1/secrets/{secret}");
    for (method, path) in [
        ("GET", secret_path.clone()),
        ("GET", "/api/v1/secrets".to_string()),
        ("POST", format!("{secret_path}/reveal")),
        ("GET", "/api/v1/runs".to_string()),
        ("GET", format!("/api/v1/runs/{run}")),
        ("GET", format!("/api/v1/flows/{flow}")),
    ] {
        let answer = api.call(method, &path, Some(&bob_token), None);
        assert!(
            !answer.text.contains("canary-"),
            "{method} {path}: {}",
            answer.text
        );
        if path.ends_with("/reveal") {
            assert_eq!(answer.status, 403, "{}", answer.text);
        }
    }
    // Alice (the flow's owner, whose role reads runs) sees bob's run; carol
    // (no access to the flow) does not.
    ok(
        &api,
        &alice_token,
        200,
        "GET",
        &format!("/api/v1/runs/{run}"),
        None,
    );
    let hidden = api.call(
        "GET",
        &format!("/api/v1/runs/{run}"),
        Some(&carol_token),
        None,
    );
    assert_eq!(hidden.status, 404, "{}", hidden.text);
    let carol_runs = ok(&api, &carol_token, 200, "GET", "/api/v1/runs", None);
    assert_eq!(carol_runs["items"], json!([]), "{carol_runs}");

    // Bob schedules it every second: it fires, as bob, by the schedule.
    let schedule = ok(
        &api,
        &bob_token,
        201,
        "POST",
        "/api/v1/schedules",
        Some(json!({"flow_id": flow, "cron": "* * * * * *"})),
    );
    let schedule_id = id_of(&schedule);
    assert_eq!(schedule["owner_id"], bob.as_str());
    assert!(schedule["next_at"].is_string(), "{schedule}");
    let listed = ok(&api, &bob_token, 200, "GET", "/api/v1/schedules", None);
    assert_eq!(listed["items"][0]["id"], schedule_id.as_str(), "{listed}");
    let scheduled = wait_for_listed_run(&api, &bob_token, |run| {
        run["actor"]["schedule_id"] == schedule_id.as_str() && run["status"] == "succeeded"
    });
    assert_eq!(scheduled["actor"]["type"], "schedule");
    assert_eq!(scheduled["actor"]["user_id"], bob.as_str());
    assert!(!scheduled.to_string().contains("canary-"), "{scheduled}");

    // Revoking the group's grant: bob's next run is refused (the flow is no
    // longer visible to him: 404), and his schedule records a denied run.
    ok(
        &api,
        &alice_token,
        204,
        "DELETE",
        &format!("/api/v1/grants/{namespace_grant}"),
        None,
    );
    let refused = api.call("POST", &runs_path, Some(&bob_token), None);
    assert_eq!(refused.status, 404, "{}", refused.text);
    let denied = wait_for_listed_run(&api, &bob_token, |run| {
        run["actor"]["schedule_id"] == schedule_id.as_str() && run["status"] == "denied"
    });
    assert!(
        denied["error"]
            .as_str()
            .is_some_and(|error| !error.is_empty()),
        "the denial says why: {denied}"
    );
    assert_eq!(denied["steps"], json!([]), "a denied run runs nothing");
    ok(
        &api,
        &bob_token,
        204,
        "DELETE",
        &format!("/api/v1/schedules/{schedule_id}"),
        None,
    );

    let stderr = api.server.stderr_lines().join("\n");
    let key = api.key.clone();
    api.server.stop();
    assert!(
        !stderr.contains("canary-"),
        "the server's log holds the value"
    );

    // The events: bob requested the run; each use of alice's secret is a
    // secret.resolved by the run, naming the secret, its owner and bob.
    let all = events(&data_dir, &key);
    let requested = all
        .iter()
        .find(|event| event["action"] == "run.requested" && event["resource"]["id"] == run.as_str())
        .expect("run.requested");
    assert_eq!(requested["actor"]["type"], "user", "{requested}");
    assert_eq!(requested["actor"]["id"], bob.as_str(), "{requested}");
    let resolved: Vec<&Value> = all
        .iter()
        .filter(|event| {
            event["action"] == "secret.resolved" && event["details"]["run_id"] == run.as_str()
        })
        .collect();
    assert_eq!(resolved.len(), 2, "one per step that used it: {resolved:?}");
    for event in resolved {
        assert_eq!(event["resource"]["type"], "secret", "{event}");
        assert_eq!(event["resource"]["id"], secret.as_str(), "{event}");
        assert_eq!(event["actor"]["type"], "run", "{event}");
        assert_eq!(event["details"]["owner_id"], alice.as_str(), "{event}");
        assert_eq!(event["details"]["invoker_id"], bob.as_str(), "{event}");
    }
    for action in ["run.started", "run.step_finished", "run.finished"] {
        assert!(
            all.iter().any(
                |event| event["action"] == action && event["details"]["run_id"] == run.as_str()
            ),
            "{action}"
        );
    }
    let fired: Vec<&str> = all
        .iter()
        .filter(|event| event["action"] == "schedule.fired")
        .filter_map(|event| event["details"]["outcome"].as_str())
        .collect();
    assert!(
        fired.contains(&"fired") && fired.contains(&"denied"),
        "{fired:?}"
    );
    let denied_fire = all
        .iter()
        .find(|event| {
            event["action"] == "schedule.fired" && event["details"]["outcome"] == "denied"
        })
        .expect("a denied fire");
    assert_eq!(denied_fire["actor"]["type"], "schedule", "{denied_fire}");
    assert_eq!(denied_fire["outcome"], "denied", "{denied_fire}");
    // The value is in no event, not even in the raw dump (only sealed).
    let raw = events_dump(&data_dir, &key, true);
    assert!(
        !raw.contains("canary-"),
        "a raw event holds the value in clear"
    );
    assert!(
        !raw.contains("eu-canary-region"),
        "a raw event holds the env value"
    );
}

/// A run in flight when the server is killed is failed after the restart,
/// and so is every run still queued; a full queue is a 503 with
/// Retry-After.
#[test]
fn runs_in_flight_when_the_server_is_killed_are_failed_after_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    let mut echo = Echo::start();
    // The queue's own bound is what is shown here, not the per-member cap.
    let env = [
        ("CAIRN_RUN_WORKERS", "1"),
        ("CAIRN_RUNS_QUEUED_PER_USER", "64"),
        crate::support::LOOPBACK_EGRESS,
    ];
    let api = AdminServer::start(&data_dir, &env);
    let admin = api.admin_token();
    let namespace = id_of(&ok(
        &api,
        &admin,
        201,
        "POST",
        "/api/v1/namespaces",
        Some(json!({"name": "slow"})),
    ));
    let definition = json!({"steps": [
        {"id": "wait", "type": "http", "method": "GET", "url": format!("{}/slow", echo.url), "timeout_ms": 120000},
    ]});
    let flow = id_of(&ok(
        &api,
        &admin,
        201,
        "POST",
        "/api/v1/flows",
        Some(json!({"name": "slow", "namespace_id": namespace, "definition": definition})),
    ));
    let runs_path = format!("/api/v1/flows/{flow}/runs");
    let first = id_of(&ok(&api, &admin, 202, "POST", &runs_path, Some(json!({}))));
    // The one worker is inside the step: the test server has the request.
    echo.slow
        .recv_timeout(PATIENCE)
        .expect("the run's request reached the test server");
    let running = wait_for_run(&api, &admin, &first, |run| run["status"] == "running");
    assert!(running["started_at"].is_string(), "{running}");
    // The queue holds 16 per worker; the next is shed, with nothing written.
    let queued: Vec<String> = (0..16)
        .map(|_| id_of(&ok(&api, &admin, 202, "POST", &runs_path, None)))
        .collect();
    let before = api.seq();
    let shed = api.call("POST", &runs_path, Some(&admin), None);
    assert_eq!(shed.status, 503, "{}", shed.text);
    assert!(
        shed.headers.get("retry-after").is_some(),
        "{:?}",
        shed.headers
    );
    assert_eq!(api.seq(), before, "a shed request appends nothing");

    drop(api); // SIGKILL
    echo.release();
    let api = AdminServer::start(&data_dir, &env);
    let admin = api.login(ADMIN_USER, ADMIN_PASSWORD);
    for run in std::iter::once(&first).chain(&queued) {
        let answer = ok(
            &api,
            &admin,
            200,
            "GET",
            &format!("/api/v1/runs/{run}"),
            None,
        );
        assert_eq!(answer["status"], "failed", "{answer}");
        assert_eq!(
            answer["error"], "the server stopped during the run",
            "{answer}"
        );
    }
    // The restarted server runs new runs as usual.
    let again = id_of(&ok(&api, &admin, 202, "POST", &runs_path, None));
    let done = wait_for_run(&api, &admin, &again, finished);
    assert_eq!(done["status"], "succeeded", "{done}");
    let key = api.key.clone();
    api.server.stop();
    let all = events(&data_dir, &key);
    let failed = all
        .iter()
        .find(|event| {
            event["action"] == "run.finished" && event["details"]["run_id"] == first.as_str()
        })
        .expect("run.finished of the interrupted run");
    assert_eq!(failed["actor"]["type"], "system", "{failed}");
    assert_eq!(failed["outcome"], "failure", "{failed}");
}

/// Must-shows 4 and 6: `$env` outside the allowlist (never a `CAIRN_`
/// variable), a secret that does not resolve, and an invalid cron are 422s
/// naming them; nothing runs.
#[test]
fn references_that_do_not_resolve_and_bad_cron_expressions_are_422() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    let api = AdminServer::start(&data_dir, &[("CAIRN_FLOW_ENV_ALLOW", "RUN_REGION")]);
    let admin = api.admin_token();
    let namespace = id_of(&ok(
        &api,
        &admin,
        201,
        "POST",
        "/api/v1/namespaces",
        Some(json!({"name": "refs"})),
    ));
    let flow = |name: &str, message: &str| {
        let body = json!({"name": name, "namespace_id": namespace,
                          "definition": {"steps": [{"type": "log", "message": message}]}});
        api.call("POST", "/api/v1/flows", Some(&admin), Some(&body))
    };
    // Saved flows cannot read Cairn's own variables, whatever the list says.
    let refused = flow("master", "$env.CAIRN_MASTER_KEY");
    assert_problem(
        &refused,
        422,
        "definition",
        &["$env.CAIRN_MASTER_KEY", "CAIRN_FLOW_ENV_ALLOW"],
    );
    let region = id_of(&flow("region", "in $env.RUN_REGION").json);
    let missing = id_of(&flow("missing", "uses $secret.NOPE").json);
    let answer = api.call(
        "POST",
        &format!("/api/v1/flows/{missing}/runs"),
        Some(&admin),
        None,
    );
    assert_problem(&answer, 422, "definition", &["$secret.NOPE"]);
    // An array is not a body.
    let answer = api.call(
        "POST",
        &format!("/api/v1/flows/{missing}/runs"),
        Some(&admin),
        Some(&json!([])),
    );
    assert_eq!(answer.status, 400, "{}", answer.text);
    let answer = api.call(
        "POST",
        &format!("/api/v1/flows/{missing}/runs"),
        Some(&admin),
        Some(&json!({"x": 1})),
    );
    assert_eq!(answer.status, 422, "{}", answer.text);
    for cron in ["61 * * * *", "every minute", "", "* * * * * * 2030"] {
        let answer = api.call(
            "POST",
            "/api/v1/schedules",
            Some(&admin),
            Some(&json!({"flow_id": region, "cron": cron})),
        );
        assert_problem(&answer, 422, "cron", &[]);
    }
    let answer = api.call(
        "POST",
        "/api/v1/schedules",
        Some(&admin),
        Some(&json!({"flow_id": uuid::Uuid::now_v7(), "cron": "* * * * *"})),
    );
    assert_eq!(answer.status, 404, "an unknown flow: {}", answer.text);
    let runs = ok(&api, &admin, 200, "GET", "/api/v1/runs", None);
    assert_eq!(runs["items"], json!([]), "nothing ran: {runs}");

    // The allowlist shrinks at a restart: the saved flow's `$env` is now
    // refused when run.
    drop(api);
    let api = AdminServer::start(&data_dir, &[]);
    let admin = api.login(ADMIN_USER, ADMIN_PASSWORD);
    let answer = api.call(
        "POST",
        &format!("/api/v1/flows/{region}/runs"),
        Some(&admin),
        None,
    );
    assert_problem(
        &answer,
        422,
        "definition",
        &["$env.RUN_REGION", "CAIRN_FLOW_ENV_ALLOW"],
    );
    let unknown = api.call(
        "GET",
        &format!("/api/v1/runs/{}", uuid::Uuid::now_v7()),
        Some(&admin),
        None,
    );
    assert_eq!(unknown.status, 404, "{}", unknown.text);
}
