//! Floods and expensive questions (issue 14, items 6, 8 and 10): an
//! anonymous client flooding the server gets 429s, not durable writes (one
//! summary event per client per window instead); `GET
//! /api/v1/access/explain` about other users or about the past needs an
//! admin or audit viewer, refuses everyone else with the same 404 whoever
//! they ask about, and answers parallel questions about one past point
//! alike.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::server::api_client::{AdminServer, Answer, expect_status as ok, id_of as id};
use crate::support::{Server, events, test_master_key};

const PASSWORD: &str = "floods-test-Pw#52kq";

/// `CAIRN_RATE_LIMIT_REQUESTS` for the flood: 10 a minute on sign-in, so
/// 200 a minute on everything.
const SIGN_IN_LIMIT: u64 = 10;
const GENERAL_LIMIT: u64 = SIGN_IN_LIMIT * 20;
/// The flood: requests, and the threads that send them.
const FLOOD: usize = 1500;
const THREADS: usize = 6;

/// One request of the flood: unknown paths mostly, and the other ways an
/// anonymous request used to reach the refusal recorder (a 405, a bad body
/// on a public route) and a public route that appends nothing.
fn flood_request(client: &reqwest::blocking::Client, base: &str, n: usize) -> (u16, bool) {
    let request = match n % 5 {
        0 => client.delete(format!("{base}/health")),
        1 => client
            .post(format!("{base}/api/v1/auth/login"))
            .header("content-type", "application/json")
            .body("{not json"),
        2 => client.get(format!("{base}/health")),
        _ => client.get(format!("{base}/no/such/path/{n}")),
    };
    let response = request.send().expect("send");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok())
        .is_some_and(|seconds| seconds >= 1);
    (status, retry_after)
}

#[test]
fn an_anonymous_flood_appends_at_most_the_limit_and_one_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let key = test_master_key(0x61);
    let limit = SIGN_IN_LIMIT.to_string();
    let server = Server::start(
        &data,
        &[
            ("CAIRN_MASTER_KEY", key.as_str()),
            ("CAIRN_RATE_LIMIT_REQUESTS", limit.as_str()),
            ("CAIRN_CHECKPOINT_INTERVAL", "86400"),
        ],
    );
    let (status, health) = server.get_json("/health");
    assert_eq!(status, 200, "{health}");
    let before = health["seq"].as_u64().expect("seq");

    // The flood: 1,500 anonymous requests from one address, in parallel.
    let started = Instant::now();
    let base = server.base_url.clone();
    let threads: Vec<_> = (0..THREADS)
        .map(|thread| {
            let base = base.clone();
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                (thread..FLOOD)
                    .step_by(THREADS)
                    .map(|n| flood_request(&client, &base, n))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let answers: Vec<(u16, bool)> = threads
        .into_iter()
        .flat_map(|thread| thread.join().expect("flood thread"))
        .collect();
    let elapsed = started.elapsed();
    assert_eq!(answers.len(), FLOOD);
    assert!(
        elapsed < Duration::from_secs(60),
        "the flood took {elapsed:?}: refusing must stay cheap"
    );
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    for (status, _) in &answers {
        *statuses.entry(*status).or_default() += 1;
    }
    let throttled = statuses.get(&429).copied().unwrap_or(0);
    let refused = answers
        .iter()
        .filter(|(status, _)| (400..500).contains(status) && *status != 429)
        .count() as u64;
    assert!(
        answers.iter().all(|(status, _)| *status < 500),
        "{statuses:?}"
    );
    assert!(
        answers
            .iter()
            .filter(|(status, _)| *status == 429)
            .all(|(_, retry_after)| *retry_after),
        "every 429 carries Retry-After"
    );
    // The general limit's allowance: its burst, what replenished during
    // the flood, and one for rounding.
    let replenished = GENERAL_LIMIT * elapsed.as_millis() as u64 / 60_000;
    let allowance = GENERAL_LIMIT + replenished + 1;
    assert!(
        (FLOOD as u64) - throttled <= allowance,
        "{statuses:?} in {elapsed:?}: at most {allowance} may pass"
    );
    assert!(throttled >= FLOOD as u64 - allowance, "{statuses:?}");

    // A clean stop records what the limits counted.
    assert_eq!(server.stop(), Some(0));
    let all = events(&data, &key);
    let new: Vec<&Value> = all
        .iter()
        .filter(|event| event["seq"].as_u64().is_some_and(|seq| seq > before))
        .filter(|event| event["action"] != "checkpoint.signed")
        .collect();
    let summaries: Vec<&&Value> = new
        .iter()
        .filter(|event| event["action"] == "http.throttled")
        .collect();
    let per_request = new.len() - summaries.len();
    // Every refusal that got through is recorded, and nothing else: the
    // number of new events is bounded by the limit, not by the flood.
    assert_eq!(
        per_request as u64, refused,
        "one event per refusal let through: {statuses:?}"
    );
    assert!(
        new.len() as u64 <= allowance + 1,
        "{} new events for {FLOOD} requests ({statuses:?}); the limit allows {allowance}",
        new.len()
    );
    println!(
        "flood of {FLOOD} in {elapsed:?}: {statuses:?}; {} new events ({per_request} refusals let through)",
        new.len()
    );
    // One summary for the client, with the right count.
    assert_eq!(summaries.len(), 1, "{summaries:#?}");
    let summary = summaries[0];
    assert_eq!(summary["actor"]["type"], "anonymous", "{summary}");
    assert_eq!(summary["outcome"], "denied", "{summary}");
    assert_eq!(summary["details"]["rate_limited"], throttled, "{summary}");
    assert_eq!(summary["details"]["shed"], 0, "{summary}");
    assert_eq!(summary["details"]["overflow"], false, "{summary}");
    assert!(
        summary.to_string().contains("127.0.0.1"),
        "the summary names the client: {summary}"
    );
}

#[test]
fn explain_about_others_or_the_past_needs_a_reviewer_and_refuses_alike() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api = AdminServer::start(&dir.path().join("data"), &[]);
    let root = api.admin_token();
    let nobody = api.create_user(&root, "nobody", PASSWORD, "none");
    let carol = api.create_user(&root, "carol", PASSWORD, "viewer");
    let dave = api.create_user(&root, "dave", PASSWORD, "audit_viewer");
    let namespace = ok(
        &api,
        201,
        "POST",
        "/api/v1/namespaces",
        &root,
        Some(json!({"name": "team"})),
    );
    let namespace = id(&namespace);
    let point = api.seq();
    let explain = |token: &str, user: Option<&str>, at_seq: Option<u64>| -> Answer {
        let mut path = format!(
            "/api/v1/access/explain?resource_type=namespace&resource_id={namespace}&action=read"
        );
        if let Some(user) = user {
            path.push_str(&format!("&user_id={user}"));
        }
        if let Some(seq) = at_seq {
            path.push_str(&format!("&at_seq={seq}"));
        }
        api.call("GET", &path, Some(token), None)
    };

    let missing = uuid::Uuid::now_v7().to_string();
    for (name, role_holder) in [("nobody", &nobody), ("carol", &carol)] {
        let token = api.login(name, PASSWORD);
        // About themselves, now: anyone may ask.
        let own = explain(&token, None, None);
        assert_eq!(own.status, 200, "{name}: {}", own.text);
        let own = explain(&token, Some(role_holder), None);
        assert_eq!(own.status, 200, "{name}: {}", own.text);
        // About another member, someone who does not exist, or the past:
        // one answer, a 404 like a missing resource, each one recorded.
        let refusals = [
            ("another member", explain(&token, Some(&dave), None)),
            ("a missing user", explain(&token, Some(&missing), None)),
            ("the past", explain(&token, None, Some(point))),
            (
                "another member in the past",
                explain(&token, Some(&dave), Some(point)),
            ),
            // Even a seq beyond the head: refused before it is looked at.
            (
                "a seq beyond the head",
                explain(&token, None, Some(u64::MAX)),
            ),
        ];
        let first = &refusals[0].1;
        for (what, answer) in &refusals {
            assert_eq!(answer.status, 404, "{name} about {what}: {}", answer.text);
            assert_eq!(
                answer.without_request_id(),
                first.without_request_id(),
                "{name} about {what}"
            );
            assert_eq!(
                answer.headers.get("content-type"),
                first.headers.get("content-type")
            );
        }
    }
    // The refusals are in the trail, naming whom they asked about.
    let denied = ok(
        &api,
        200,
        "GET",
        "/api/v1/audit/events?action=authz.denied&limit=500",
        &root,
        None,
    );
    let denied = denied.json["items"].as_array().expect("items").clone();
    let about = |user: &str| {
        denied
            .iter()
            .filter(|event| {
                event["resource"]["type"] == "user"
                    && event["resource"]["id"] == user
                    && event["details"]["status"] == 404
                    && event["details"]["path"] == "/api/v1/access/explain"
            })
            .count()
    };
    // nobody and carol each asked about dave twice and a missing user once.
    assert_eq!(about(&dave), 4, "{denied:#?}");
    assert_eq!(about(&missing), 2, "{denied:#?}");
    let about_the_past = denied
        .iter()
        .filter(|event| {
            event["resource"]["type"] == "audit_log"
                && event["details"]["path"] == "/api/v1/access/explain"
        })
        .count();
    assert_eq!(about_the_past, 4, "{denied:#?}");

    // An audit viewer may ask about members, now and in the past.
    let reviewer = api.login("dave", PASSWORD);
    for at_seq in [None, Some(point)] {
        let answer = explain(&reviewer, Some(&nobody), at_seq);
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert!(answer.json["allowed"].is_boolean(), "{}", answer.text);
    }
    // But not about a user who is not a member: the same 404.
    let stranger = explain(&reviewer, Some(&missing), None);
    assert_eq!(stranger.status, 404, "{}", stranger.text);

    // Twenty parallel questions about one past point: every answer the
    // same (one rebuild serves them; the pool's unit tests count it).
    let answers: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let asks: Vec<_> = (0..20)
            .map(|_| {
                let (root, carol) = (root.clone(), carol.as_str());
                let explain = &explain;
                scope.spawn(move || {
                    let answer = explain(&root, Some(carol), Some(point));
                    (answer.status, answer.json)
                })
            })
            .collect();
        asks.into_iter()
            .map(|ask| ask.join().expect("ask"))
            .collect()
    });
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body, &answers[0].1);
    }
    assert!(answers[0].1["reason"].is_string(), "{}", answers[0].1);
}
