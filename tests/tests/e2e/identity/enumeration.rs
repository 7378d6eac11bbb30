//! Login answers never tell whether a username exists: an unknown user and a
//! wrong password get the same status and body at the same cost, and the
//! failed-login lock treats unknown names and every spelling of a name
//! exactly like the name itself, across restarts.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::server::api_client::{AdminServer, Answer};

const PASSWORD: &str = "enumeration-e2e-Pw-4Rt9#k";
const WRONG_PASSWORD: &str = "enumeration-e2e-Pw-4Rt9#K";

/// Failed logins that lock a username (docs/contract.md section 7).
const LOCK_AFTER: usize = 5;

fn login(server: &AdminServer, username: &str, password: &str) -> Answer {
    server.call(
        "POST",
        "/api/v1/auth/login",
        None,
        Some(&json!({"username": username, "password": password})),
    )
}

/// What a client can compare between two answers: the status, the body
/// without its per-request id, and the headers that are not per-request.
fn observable(answer: &Answer) -> (u16, Value, Vec<(String, String)>) {
    let mut body = answer.json.clone();
    if let Some(object) = body.as_object_mut() {
        assert!(
            object.remove("request_id").is_some(),
            "a problem carries a request_id: {}",
            answer.text
        );
    }
    let mut headers: Vec<(String, String)> = answer
        .headers
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "x-request-id" | "date" | "retry-after"))
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                value.to_str().unwrap_or("<binary>").to_string(),
            )
        })
        .collect();
    headers.sort();
    (answer.status, body, headers)
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    let middle = samples.len() / 2;
    if samples.len().is_multiple_of(2) {
        (samples[middle - 1] + samples[middle]) / 2
    } else {
        samples[middle]
    }
}

/// A fresh random username that no one has.
fn ghost_name() -> String {
    let id = uuid::Uuid::now_v7().simple().to_string();
    // The random tail of a UUIDv7, so names made in the same millisecond differ.
    format!("ghost-{}", &id[16..])
}

#[test]
fn unknown_users_and_wrong_passwords_look_and_cost_the_same() {
    const KNOWN_USERS: usize = 50;
    const TRIES: usize = 200;
    // Below the lock threshold, so no answer is a 429.
    const TRIES_PER_USER: usize = 4;
    const _: () = assert!(KNOWN_USERS * TRIES_PER_USER >= TRIES && TRIES_PER_USER < LOCK_AFTER);

    let dir = tempfile::tempdir().expect("tempdir");
    let server = AdminServer::start(&dir.path().join("data"), &[]);
    let admin = server.admin_token();
    let started = Instant::now();
    let known: Vec<String> = (0..KNOWN_USERS)
        .map(|index| {
            let name = format!("enum-known-{index:02}");
            server.create_user(&admin, &name, PASSWORD, "flow_executor");
            name
        })
        .collect();
    println!("created {KNOWN_USERS} users in {:?}", started.elapsed());

    // The shape of the two answers: identical but for the request id.
    server.create_user(&admin, "enum-shape", PASSWORD, "flow_executor");
    let unknown = login(&server, &ghost_name(), WRONG_PASSWORD);
    let wrong = login(&server, "enum-shape", WRONG_PASSWORD);
    assert_eq!(unknown.status, 401, "{}", unknown.text);
    assert_eq!(
        observable(&unknown),
        observable(&wrong),
        "an unknown user and a wrong password must look the same:\n{}\n{}",
        unknown.text,
        wrong.text
    );
    let expected = observable(&wrong);

    // The two tries above warmed the connection and both code paths.
    let mut uses = [0usize; KNOWN_USERS];
    let mut next_known = 0usize;
    let mut known_name = || {
        let index = next_known % KNOWN_USERS;
        next_known += 1;
        uses[index] += 1;
        assert!(uses[index] <= TRIES_PER_USER, "user {index} used too often");
        known[index].clone()
    };

    let mut unknown_times = Vec::with_capacity(TRIES);
    let mut wrong_times = Vec::with_capacity(TRIES);
    let time = |username: &str| {
        let begin = Instant::now();
        let answer = login(&server, username, WRONG_PASSWORD);
        let elapsed = begin.elapsed();
        assert_eq!(
            observable(&answer),
            expected,
            "login as {username:?} answered differently: {}",
            answer.text
        );
        elapsed
    };
    let started = Instant::now();
    for round in 0..TRIES {
        // Alternate which arm goes first, so drift and warm-up cancel out.
        let ghost = ghost_name();
        let user = known_name();
        if round % 2 == 0 {
            unknown_times.push(time(&ghost));
            wrong_times.push(time(&user));
        } else {
            wrong_times.push(time(&user));
            unknown_times.push(time(&ghost));
        }
    }
    let unknown_median = median(&mut unknown_times);
    let wrong_median = median(&mut wrong_times);
    let ratio = unknown_median.as_secs_f64() / wrong_median.as_secs_f64();
    println!(
        "{TRIES} tries each in {:?}: median unknown user {unknown_median:?}, median wrong password \
         {wrong_median:?}, ratio unknown/wrong {ratio:.4}",
        started.elapsed()
    );
    assert!(
        (ratio - 1.0).abs() < 0.10,
        "the median latencies of unknown users ({unknown_median:?}) and wrong passwords \
         ({wrong_median:?}) differ by {:.1}% (bound: 10%)",
        (ratio - 1.0).abs() * 100.0
    );
}

fn retry_after(answer: &Answer) -> u64 {
    answer
        .headers
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("a 429 carries Retry-After in seconds: {:?}", answer.headers))
}

/// Asserts a login was refused by the lock; its Retry-After.
fn assert_locked(answer: &Answer, what: &str) -> u64 {
    assert_eq!(answer.status, 429, "{what} must be locked: {}", answer.text);
    assert_eq!(
        answer.json["type"], "urn:cairn:problem:rate-limited",
        "{what}"
    );
    retry_after(answer)
}

fn dump(data: &Path, key: &str) -> Vec<Value> {
    crate::support::events(data, key)
}

#[test]
fn five_failures_lock_a_name_in_every_spelling_known_or_not_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let server = AdminServer::start(&data, &[]);
    let admin = server.admin_token();
    let carol_id = server.create_user(&admin, "carol", PASSWORD, "flow_executor");
    server.create_user(&admin, "dave", PASSWORD, "flow_executor");
    let ghost = "ghost-lock";

    // Five failures each, interleaved: a known name and an unknown one.
    for attempt in 1..=LOCK_AFTER {
        let carol = login(&server, "carol", WRONG_PASSWORD);
        let nobody = login(&server, ghost, WRONG_PASSWORD);
        assert_eq!(carol.status, 401, "failure {attempt}: {}", carol.text);
        assert_eq!(observable(&carol), observable(&nobody), "failure {attempt}");
    }

    // The sixth try is refused even with the right password.
    let carol_locked = login(&server, "carol", PASSWORD);
    let seconds = assert_locked(&carol_locked, "carol with the right password");
    assert!(
        (890..=901).contains(&seconds),
        "the lock lasts 15 minutes: Retry-After {seconds}"
    );
    let ghost_locked = login(&server, ghost, PASSWORD);
    let ghost_seconds = assert_locked(&ghost_locked, "an unknown name");
    assert!(
        ghost_seconds.abs_diff(seconds) <= 5,
        "{ghost_seconds} vs {seconds}"
    );
    assert_eq!(
        observable(&carol_locked),
        observable(&ghost_locked),
        "a locked unknown name looks like a locked user"
    );

    let variants = [
        "CAROL",
        " Carol ",
        "ｃａｒｏｌ",
        "Ｃarol",
        "\u{3000}carol\t",
        "ca\u{1D3F}ol",
        "\u{212D}arol",
        "cARoL",
    ];
    for variant in variants {
        assert_locked(&login(&server, variant, PASSWORD), &format!("{variant:?}"));
    }
    for variant in ["GHOST-LOCK", "ｇｈｏｓｔ-ｌｏｃｋ"] {
        assert_locked(&login(&server, variant, PASSWORD), &format!("{variant:?}"));
    }
    let mut locked_answers = 2 + variants.len() + 2;

    // Another user is not affected, and a wrong password for them is an
    // ordinary failure.
    assert_eq!(login(&server, "dave", PASSWORD).status, 200);
    assert_eq!(login(&server, "Dave", WRONG_PASSWORD).status, 401);
    assert_eq!(login(&server, "dave", PASSWORD).status, 200);

    // The lock is folded from the log: it survives a restart.
    let AdminServer {
        server: running,
        key,
        ..
    } = server;
    assert_eq!(running.stop(), Some(0));
    let server = AdminServer::start(&data, &[]);
    let after = login(&server, "carol", PASSWORD);
    let seconds_after = assert_locked(&after, "carol after a restart");
    assert!(
        seconds_after <= seconds && seconds_after > 800,
        "the lock keeps its end after a restart: {seconds_after} (was {seconds})"
    );
    assert_locked(&login(&server, "CAROL", PASSWORD), "CAROL after a restart");
    assert_locked(
        &login(&server, ghost, PASSWORD),
        "the unknown name after a restart",
    );
    locked_answers += 3;
    assert_eq!(
        login(&server, "dave", PASSWORD).status,
        200,
        "dave after a restart"
    );
    assert_eq!(server.server.stop(), Some(0));

    // Every refusal by the lock is an auth.login_failed event with reason
    // locked, keyed by the one fingerprint of the name.
    let events = dump(&data, &key);
    let failed: Vec<&Value> = events
        .iter()
        .filter(|event| event["action"] == "auth.login_failed")
        .collect();
    let reason = |event: &Value| {
        event["details"]["reason"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let fingerprint = |event: &Value| {
        event["details"]["username_fingerprint"]
            .as_str()
            .expect("fingerprint")
            .to_string()
    };
    let locked: Vec<&&Value> = failed
        .iter()
        .filter(|event| reason(event) == "locked")
        .collect();
    assert_eq!(
        locked.len(),
        locked_answers,
        "one locked event per 429: {locked:#?}"
    );
    for event in &locked {
        assert_eq!(event["outcome"], "denied", "{event}");
    }
    let carol_wrong: Vec<&&Value> = failed
        .iter()
        .filter(|event| event["details"]["user_id"] == json!(carol_id))
        .collect();
    let carol_fingerprint = fingerprint(carol_wrong[0]);
    assert_eq!(
        carol_wrong
            .iter()
            .filter(|event| reason(event) == "wrong_password")
            .count(),
        LOCK_AFTER
    );
    let carol_locked_events = carol_wrong
        .iter()
        .filter(|event| reason(event) == "locked")
        .count();
    assert_eq!(
        carol_locked_events,
        1 + variants.len() + 2,
        "carol's locked events"
    );
    assert!(
        carol_wrong
            .iter()
            .all(|event| fingerprint(event) == carol_fingerprint
                && event["actor"]["id"] == json!(carol_id)),
        "every spelling of carol is one name: {carol_wrong:#?}"
    );
    let ghost_events: Vec<&&Value> = failed
        .iter()
        .filter(|event| event["details"]["user_id"].is_null())
        .collect();
    let ghost_fingerprint = fingerprint(ghost_events[0]);
    assert!(
        ghost_events
            .iter()
            .all(|event| fingerprint(event) == ghost_fingerprint
                && event["actor"]["type"] == "anonymous")
    );
    assert_eq!(
        ghost_events
            .iter()
            .filter(|event| reason(event) == "unknown_user")
            .count(),
        LOCK_AFTER
    );
    assert_eq!(
        ghost_events
            .iter()
            .filter(|event| reason(event) == "locked")
            .count(),
        1 + 2 + 1
    );
}
