//! Issue 14, items 2 and 9, end to end through the real binary.
//!
//! Item 2 (a confused deputy): whoever may edit a flow must not act as
//! the member who scheduled it. Alice schedules her flow and gives bob
//! `manage`; bob rewrites the definition. Alice's schedule is suspended in
//! the same command (a `schedule.suspended` event names bob and both
//! digests), and her next due times run nothing; only alice may re-enable
//! it, and then bob's definition runs with alice as invoker and bob as the
//! author named in the run and its events.
//!
//! Item 9 (a flood): one member queueing runs at a stuck target can
//! neither queue without bound nor hold every worker: another member's
//! run finishes while the flood's runs still hang, the flood's runs end
//! at `CAIRN_RUN_TIMEOUT`, and too-frequent or too many schedules are
//! refused naming the limit.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::flows::runs::{Echo, finished, id_of, ok, user, wait_for_listed_run};
use crate::server::api_client::{AdminServer, Answer};
use crate::support::events;

/// How long a test waits for something to happen before it gives up.
const PATIENCE: Duration = Duration::from_secs(60);

/// Every run `token` may see.
fn runs(api: &AdminServer, token: &str) -> Vec<Value> {
    let answer = ok(api, token, 200, "GET", "/api/v1/runs?limit=500", None);
    answer["items"].as_array().cloned().unwrap_or_default()
}

/// The path the run's first (http) step reached on the echo server.
fn echoed_path(run: &Value) -> Option<&str> {
    run["steps"][0]["output"]["body"]["path"].as_str()
}

fn echo_flow(echo: &Echo, path: &str) -> Value {
    json!({"steps": [
        {"id": "call", "type": "http", "method": "GET", "url": format!("{}{path}", echo.url),
         "timeout_ms": 10000},
    ]})
}

/// Item 2: bob, with `manage` on alice's scheduled flow, rewrites it; the
/// schedule must not run bob's definition as alice until alice says so.
#[test]
fn whoever_can_edit_a_flow_cannot_act_as_the_member_who_scheduled_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    let api = AdminServer::start(
        &data_dir,
        &[
            ("CAIRN_SCHEDULE_MIN_INTERVAL", "1"),
            ("CAIRN_RUN_EGRESS_ALLOW", "127.0.0.1"),
        ],
    );
    let echo = Echo::start();
    let admin = api.admin_token();
    let (alice, alice_token) = user(&api, &admin, "alice", "flow_editor");
    let (bob, bob_token) = user(&api, &admin, "bob", "flow_editor");

    let namespace = id_of(&ok(
        &api,
        &alice_token,
        201,
        "POST",
        "/api/v1/namespaces",
        Some(json!({"name": "alices"})),
    ));
    let flow = id_of(&ok(
        &api,
        &alice_token,
        201,
        "POST",
        "/api/v1/flows",
        Some(json!({"name": "sync", "namespace_id": namespace,
                     "definition": echo_flow(&echo, "/alice")})),
    ));
    let schedule = ok(
        &api,
        &alice_token,
        201,
        "POST",
        "/api/v1/schedules",
        Some(json!({"flow_id": flow, "cron": "* * * * * *"})),
    );
    let schedule_id = id_of(&schedule);
    assert_eq!(schedule["enabled"], true, "{schedule}");
    let alices_digest = schedule["pinned_digest"]
        .as_str()
        .unwrap_or_else(|| panic!("a pinned digest: {schedule}"))
        .to_string();
    assert!(alices_digest.starts_with("sha256:"), "{schedule}");
    let of_schedule = |run: &Value| run["actor"]["schedule_id"] == schedule_id.as_str();
    let first = wait_for_listed_run(&api, &alice_token, |run| {
        of_schedule(run) && run["status"] == "succeeded"
    });
    assert_eq!(
        first["definition_digest"],
        alices_digest.as_str(),
        "{first}"
    );
    assert_eq!(first["definition_author_id"], alice.as_str(), "{first}");
    assert_eq!(echoed_path(&first), Some("/alice"), "{first}");

    // Alice gives bob manage; bob rewrites what the flow does.
    ok(
        &api,
        &alice_token,
        201,
        "POST",
        "/api/v1/grants",
        Some(json!({"resource_type": "flow", "resource_id": flow,
                     "grantee_type": "user", "grantee_id": bob, "level": "manage"})),
    );
    let rewritten = ok(
        &api,
        &bob_token,
        200,
        "PUT",
        &format!("/api/v1/flows/{flow}"),
        Some(json!({"name": "sync", "namespace_id": namespace,
                     "definition": echo_flow(&echo, "/bob")})),
    );
    let bobs_digest = rewritten["definition_digest"]
        .as_str()
        .unwrap_or_else(|| panic!("a digest: {rewritten}"))
        .to_string();
    assert_ne!(bobs_digest, alices_digest);
    assert_eq!(
        rewritten["definition_author_id"],
        bob.as_str(),
        "{rewritten}"
    );

    // Suspended in the same command: the answer to the next read says so.
    let listed = ok(&api, &alice_token, 200, "GET", "/api/v1/schedules", None);
    let suspended = listed["items"]
        .as_array()
        .and_then(|items| items.iter().find(|item| item["id"] == schedule_id.as_str()))
        .unwrap_or_else(|| panic!("alice's schedule: {listed}"))
        .clone();
    assert_eq!(suspended["enabled"], false, "{suspended}");
    assert_eq!(suspended["suspended_by"], bob.as_str(), "{suspended}");
    assert_eq!(suspended["pinned_digest"], alices_digest.as_str());
    assert!(suspended["suspended_reason"].is_string(), "{suspended}");

    // Bob schedules the flow himself (his own definition, as himself): once
    // his schedule has run twice, due times have passed for alice's too.
    let bobs = id_of(&ok(
        &api,
        &bob_token,
        201,
        "POST",
        "/api/v1/schedules",
        Some(json!({"flow_id": flow, "cron": "* * * * * *"})),
    ));
    let deadline = Instant::now() + PATIENCE;
    loop {
        let done = runs(&api, &bob_token)
            .into_iter()
            .filter(|run| run["actor"]["schedule_id"] == bobs.as_str() && finished(run))
            .count();
        if done >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "bob's schedule never ran twice");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Nothing of alice's schedule ran bob's definition as alice.
    for run in runs(&api, &alice_token)
        .iter()
        .filter(|run| of_schedule(run))
    {
        assert_ne!(run["definition_digest"], bobs_digest.as_str(), "{run}");
        assert_ne!(echoed_path(run), Some("/bob"), "{run}");
    }
    ok(
        &api,
        &bob_token,
        204,
        "DELETE",
        &format!("/api/v1/schedules/{bobs}"),
        None,
    );

    // Only alice may re-enable it: bob (who can see it? no: 404, or 403
    // when he can) cannot.
    let by_bob = api.call(
        "PATCH",
        &format!("/api/v1/schedules/{schedule_id}"),
        Some(&bob_token),
        Some(&json!({"enabled": true})),
    );
    assert!(
        by_bob.status == 403 || by_bob.status == 404,
        "{}",
        by_bob.text
    );
    let by_admin = api.call(
        "PATCH",
        &format!("/api/v1/schedules/{schedule_id}"),
        Some(&admin),
        Some(&json!({"enabled": true})),
    );
    assert_eq!(by_admin.status, 403, "not even an admin: {}", by_admin.text);
    let resumed = ok(
        &api,
        &alice_token,
        200,
        "PATCH",
        &format!("/api/v1/schedules/{schedule_id}"),
        Some(json!({"enabled": true})),
    );
    assert_eq!(resumed["enabled"], true, "{resumed}");
    assert_eq!(resumed["pinned_digest"], bobs_digest.as_str(), "{resumed}");
    let now_bobs = wait_for_listed_run(&api, &alice_token, |run| {
        of_schedule(run)
            && run["status"] == "succeeded"
            && run["definition_digest"] == bobs_digest.as_str()
    });
    assert_eq!(now_bobs["actor"]["user_id"], alice.as_str(), "{now_bobs}");
    assert_eq!(now_bobs["definition_author_id"], bob.as_str(), "{now_bobs}");
    assert_eq!(echoed_path(&now_bobs), Some("/bob"), "{now_bobs}");
    let now_bobs_id = id_of(&now_bobs);
    // Paused by its owner: it says so.
    let paused = ok(
        &api,
        &alice_token,
        200,
        "PATCH",
        &format!("/api/v1/schedules/{schedule_id}"),
        Some(json!({"enabled": false})),
    );
    assert_eq!(paused["enabled"], false, "{paused}");
    assert_eq!(paused["suspended_by"], alice.as_str(), "{paused}");

    let key = api.key.clone();
    api.server.stop();
    let all = events(&data_dir, &key);
    let suspension = all
        .iter()
        .find(|event| {
            event["action"] == "schedule.suspended"
                && event["details"]["schedule_id"] == schedule_id.as_str()
        })
        .expect("schedule.suspended");
    assert_eq!(suspension["actor"]["id"], bob.as_str(), "{suspension}");
    assert_eq!(suspension["details"]["by_id"], bob.as_str(), "{suspension}");
    assert_eq!(
        suspension["details"]["flow_id"],
        flow.as_str(),
        "{suspension}"
    );
    assert_eq!(
        suspension["details"]["old_digest"],
        alices_digest.as_str(),
        "{suspension}"
    );
    assert_eq!(
        suspension["details"]["new_digest"],
        bobs_digest.as_str(),
        "{suspension}"
    );
    // In the same command as the flow change: the very next event.
    let update_seq = all
        .iter()
        .rev()
        .find(|event| {
            event["action"] == "flow.updated"
                && event["actor"]["id"] == bob.as_str()
                && event["seq"].as_u64() < suspension["seq"].as_u64()
        })
        .and_then(|event| event["seq"].as_u64())
        .expect("bob's flow.updated");
    assert_eq!(suspension["seq"].as_u64(), Some(update_seq + 1));
    let pinned = all
        .iter()
        .find(|event| {
            event["action"] == "run.definition_pinned"
                && event["details"]["run_id"] == now_bobs_id.as_str()
        })
        .expect("run.definition_pinned of the run of bob's definition");
    assert_eq!(pinned["details"]["invoker_id"], alice.as_str(), "{pinned}");
    assert_eq!(pinned["details"]["author_id"], bob.as_str(), "{pinned}");
    assert_eq!(
        pinned["details"]["digest"],
        bobs_digest.as_str(),
        "{pinned}"
    );
    assert!(
        all.iter().any(|event| event["action"] == "schedule.resumed"
            && event["actor"]["id"] == alice.as_str()
            && event["details"]["digest"] == bobs_digest.as_str()),
        "alice's schedule.resumed"
    );
}

/// A loopback listener that accepts connections and never answers.
struct Stuck {
    url: String,
    held: Arc<Mutex<Vec<TcpStream>>>,
}

impl Stuck {
    fn start() -> Stuck {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/stuck", listener.local_addr().expect("address"));
        let held = Arc::new(Mutex::new(Vec::new()));
        let keep = Arc::clone(&held);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reading = stream.try_clone().expect("clone");
                keep.lock().expect("held").push(stream);
                // Read the request so the client is not refused; never answer.
                std::thread::spawn(move || {
                    let mut buffer = [0u8; 1024];
                    while matches!(reading.read(&mut buffer), Ok(n) if n > 0) {}
                });
            }
        });
        Stuck { url, held }
    }

    fn connections(&self) -> usize {
        self.held.lock().expect("held").len()
    }
}

fn assert_limited(answer: &Answer, status: u16, mention: &str) {
    assert_eq!(answer.status, status, "{}", answer.text);
    let detail = answer.json["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(mention), "{mention} in {detail}");
}

/// Item 9: a member floods runs at a stuck target; another member's run
/// still finishes while the flood's runs hang.
#[test]
fn a_member_flooding_runs_at_a_stuck_target_does_not_starve_another_members_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    let api = AdminServer::start(
        &data_dir,
        &[
            ("CAIRN_RUN_WORKERS", "2"),
            ("CAIRN_RUN_TIMEOUT", "15"),
            ("CAIRN_SCHEDULES_PER_USER", "2"),
            ("CAIRN_RUN_EGRESS_ALLOW", "127.0.0.1"),
        ],
    );
    let stuck = Stuck::start();
    let admin = api.admin_token();
    let (_mallory, mallory_token) = user(&api, &admin, "mallory", "flow_editor");
    let (_bea, bea_token) = user(&api, &admin, "bea", "flow_editor");
    let namespace = |token: &str, name: &str| {
        id_of(&ok(
            &api,
            token,
            201,
            "POST",
            "/api/v1/namespaces",
            Some(json!({"name": name})),
        ))
    };
    let mallorys = namespace(&mallory_token, "flood");
    let flood = id_of(&ok(
        &api,
        &mallory_token,
        201,
        "POST",
        "/api/v1/flows",
        Some(
            json!({"name": "flood", "namespace_id": mallorys, "definition": {"steps": [
                {"id": "hang", "type": "http", "method": "GET", "url": stuck.url, "timeout_ms": 120000},
            ]}}),
        ),
    ));

    // Schedules: per-second is refused (the default minimum is a minute),
    // and a member owns at most CAIRN_SCHEDULES_PER_USER.
    let per_second = api.call(
        "POST",
        "/api/v1/schedules",
        Some(&mallory_token),
        Some(&json!({"flow_id": flood, "cron": "* * * * * *"})),
    );
    assert_limited(&per_second, 422, "CAIRN_SCHEDULE_MIN_INTERVAL");
    assert_eq!(per_second.json["field"], "cron", "{}", per_second.text);
    for _ in 0..2 {
        ok(
            &api,
            &mallory_token,
            201,
            "POST",
            "/api/v1/schedules",
            Some(json!({"flow_id": flood, "cron": "0 0 1 1 *"})),
        );
    }
    let third = api.call(
        "POST",
        "/api/v1/schedules",
        Some(&mallory_token),
        Some(&json!({"flow_id": flood, "cron": "0 0 1 1 *"})),
    );
    assert_limited(&third, 409, "CAIRN_SCHEDULES_PER_USER");

    // The flood: runs until the per-member cap answers 429.
    let path = format!("/api/v1/flows/{flood}/runs");
    let mut flooded = Vec::new();
    let refused = loop {
        let answer = api.call("POST", &path, Some(&mallory_token), None);
        if answer.status != 202 {
            break answer;
        }
        flooded.push(id_of(&answer.json));
        assert!(flooded.len() <= 64, "the flood was never capped");
    };
    assert_limited(&refused, 429, "CAIRN_RUNS_QUEUED_PER_USER");
    assert_eq!(flooded.len(), 8, "the default cap");
    // The flood's first run hangs on the stuck target.
    let deadline = Instant::now() + PATIENCE;
    while stuck.connections() == 0 {
        assert!(
            Instant::now() < deadline,
            "the flood never reached the target"
        );
        std::thread::sleep(Duration::from_millis(25));
    }

    // Bea's one run finishes while the flood's first still hangs.
    let beas = namespace(&bea_token, "mine");
    let flow = id_of(&ok(
        &api,
        &bea_token,
        201,
        "POST",
        "/api/v1/flows",
        Some(
            json!({"name": "note", "namespace_id": beas, "definition": {"steps": [
                {"id": "note", "type": "log", "message": "hello"},
            ]}}),
        ),
    ));
    let run = id_of(&ok(
        &api,
        &bea_token,
        202,
        "POST",
        &format!("/api/v1/flows/{flow}/runs"),
        None,
    ));
    let done = wait_for_listed_run(&api, &bea_token, |item| {
        item["id"] == run.as_str() && finished(item)
    });
    assert_eq!(done["status"], "succeeded", "{done}");
    let first = ok(
        &api,
        &mallory_token,
        200,
        "GET",
        &format!("/api/v1/runs/{}", flooded[0]),
        None,
    );
    assert_eq!(
        first["status"], "running",
        "bea's run finished while the flood's first still hung: {first}"
    );

    // The flood's runs end at CAIRN_RUN_TIMEOUT, with the reason.
    let timed_out = wait_for_listed_run(&api, &mallory_token, |item| {
        item["id"] == flooded[0].as_str() && finished(item)
    });
    assert_eq!(timed_out["status"], "failed", "{timed_out}");
    let error = timed_out["error"].as_str().unwrap_or_default();
    assert!(error.contains("CAIRN_RUN_TIMEOUT"), "{timed_out}");
}
