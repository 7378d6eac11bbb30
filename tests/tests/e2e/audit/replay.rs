//! `cairn replay` end to end (issue 7): a sharing history scripted through
//! the API, then replayed on the stopped server's data dir. At every
//! recorded point `--explain` must give the answer and the very sentence
//! `GET /api/v1/access/explain?at_seq=` gave while the server ran; `--at
//! TIME` must land on the last event at or before that time; `--diff` must
//! list the grants created and revoked between two points; the summary
//! must count what was there; every bad input is exit 2 with one error
//! line; and the data dir is left exactly as it was.

use std::path::Path;

use serde_json::{Value, json};

use crate::server::api_client::{AdminServer, Answer};
use crate::support::{self, assert_one_error_line, cairn, run, texts};

const PASSWORD: &str = "replay-test-Pw#58qz";

fn ok(
    api: &AdminServer,
    status: u16,
    method: &str,
    path: &str,
    token: &str,
    body: Value,
) -> Answer {
    let answer = api.call(method, path, Some(token), Some(&body));
    assert_eq!(answer.status, status, "{method} {path}: {}", answer.text);
    answer
}

fn id(answer: &Answer) -> String {
    answer.json["id"].as_str().expect("id").to_string()
}

/// `cairn replay ARGS` on a stopped server's data dir.
fn replay(data: &Path, key: &str, args: &[&str]) -> std::process::Output {
    let mut command = cairn(data);
    command
        .arg("replay")
        .args(args)
        .env("CAIRN_MASTER_KEY", key);
    run(command)
}

/// A replay that must succeed, its stdout.
fn replay_ok(data: &Path, key: &str, args: &[&str]) -> String {
    let output = replay(data, key, args);
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "replay {args:?}: {stderr}");
    stdout
}

/// A replay with `--json` that must succeed, its one JSON object.
fn replay_json(data: &Path, key: &str, args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.push("--json");
    let stdout = replay_ok(data, key, &args);
    assert_eq!(stdout.lines().count(), 1, "one line: {stdout}");
    serde_json::from_str(&stdout).expect("json")
}

/// The head `cairn audit verify --json` reports (the chain must verify).
fn verified_head(data: &Path, key: &str) -> Value {
    let mut command = cairn(data);
    command
        .args(["audit", "verify", "--json"])
        .env("CAIRN_MASTER_KEY", key);
    let output = run(command);
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "verify: {stdout} {stderr}");
    let report: Value = serde_json::from_str(stdout.trim()).expect("verify json");
    assert_eq!(report["ok"], true, "{report}");
    report["head"].clone()
}

#[test]
fn replay_answers_as_the_server_did_at_every_point() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let api = AdminServer::start(&data, &[]);
    let key = api.key.clone();
    let admin = api.admin_token();

    // The history: users, a group with bob in it, a namespace with a flow.
    let bob_id = api.create_user(&admin, "bob", PASSWORD, "flow_executor");
    let carol_id = api.create_user(&admin, "carol", PASSWORD, "flow_executor");
    // A user whose name is carol's id: `--explain <carol's id>` is ambiguous.
    api.create_user(&admin, &carol_id, PASSWORD, "viewer");
    let group_id = id(&ok(
        &api,
        201,
        "POST",
        "/api/v1/groups",
        &admin,
        json!({"name": "ops"}),
    ));
    ok(
        &api,
        201,
        "POST",
        &format!("/api/v1/groups/{group_id}/members"),
        &admin,
        json!({"user_id": bob_id, "role": "member"}),
    );
    let namespace_id = id(&ok(
        &api,
        201,
        "POST",
        "/api/v1/namespaces",
        &admin,
        json!({"name": "team"}),
    ));
    let definition = json!({"steps": [{"id": "note", "type": "log", "message": "hello"}]});
    let flow_id = id(&ok(
        &api,
        201,
        "POST",
        "/api/v1/flows",
        &admin,
        json!({"name": "etl", "namespace_id": namespace_id, "definition": definition}),
    ));
    let unshared = api.seq();

    // Shared with the group: bob may run it through the group.
    let group_grant = id(&ok(
        &api,
        201,
        "POST",
        "/api/v1/grants",
        &admin,
        json!({"resource_type": "flow", "resource_id": flow_id, "grantee_type": "group", "grantee_id": group_id, "level": "use"}),
    ));
    let via_group = api.seq();

    // Revoked: bob may not.
    let revoked = api.call(
        "DELETE",
        &format!("/api/v1/grants/{group_grant}"),
        Some(&admin),
        None,
    );
    assert_eq!(revoked.status, 204, "{}", revoked.text);
    let after_revoke = api.seq();

    // Shared with bob directly: he may again.
    let user_grant = id(&ok(
        &api,
        201,
        "POST",
        "/api/v1/grants",
        &admin,
        json!({"resource_type": "flow", "resource_id": flow_id, "grantee_type": "user", "grantee_id": bob_id, "level": "use"}),
    ));
    let direct = api.seq();
    let points = [unshared, via_group, after_revoke, direct];
    assert!(
        points.windows(2).all(|pair| pair[0] < pair[1]),
        "{points:?}"
    );

    // What the server answered at each point, for bob and for carol.
    let ask = |user: &str, seq: u64| -> (bool, String) {
        let answer = api.call(
            "GET",
            &format!(
                "/api/v1/access/explain?user_id={user}&resource_type=flow&resource_id={flow_id}&action=run&at_seq={seq}"
            ),
            Some(&admin),
            None,
        );
        assert_eq!(answer.status, 200, "{}", answer.text);
        let reason = answer.json["reason"].as_str().expect("reason").to_string();
        (answer.json["allowed"].as_bool().expect("allowed"), reason)
    };
    let bob_answers: Vec<(bool, String)> = points.iter().map(|seq| ask(&bob_id, *seq)).collect();
    let carol_answers: Vec<(bool, String)> =
        points.iter().map(|seq| ask(&carol_id, *seq)).collect();
    let allowed: Vec<bool> = bob_answers.iter().map(|(allowed, _)| *allowed).collect();
    assert_eq!(allowed, [false, true, false, true], "{bob_answers:?}");
    assert_eq!(bob_answers[0].1, "denied: not visible");
    assert!(
        bob_answers[1].1.contains(&format!(
            "grant {group_grant} via group \"ops\" ({group_id}) at level use on flow \"etl\""
        )),
        "{}",
        bob_answers[1].1
    );
    assert_eq!(bob_answers[2].1, "denied: not visible");
    assert!(
        bob_answers[3]
            .1
            .contains(&format!("grant {user_grant} to the user at level use")),
        "{}",
        bob_answers[3].1
    );
    assert!(
        carol_answers.iter().all(|(allowed, _)| !allowed),
        "{carol_answers:?}"
    );

    // While the server runs, replay says so in one line.
    let busy = replay(&data, &key, &["--at-seq", "1"]);
    let line = assert_one_error_line(&busy, 1);
    assert!(line.contains("in use by a running cairn server"), "{line}");

    let stopped = api.server.stop();
    assert_eq!(stopped, Some(0));
    let head_before = verified_head(&data, &key);
    let head = head_before["seq"].as_u64().expect("head seq");
    let resource = format!("flow:{flow_id}");

    // --explain at each point: the server's answer, word for word, by
    // username and by id.
    for (index, seq) in points.iter().enumerate() {
        let seq_text = seq.to_string();
        for (user, answers) in [
            ("bob", &bob_answers),
            (bob_id.as_str(), &bob_answers),
            ("carol", &carol_answers),
        ] {
            let answer = replay_json(
                &data,
                &key,
                &["--at-seq", &seq_text, "--explain", user, &resource, "run"],
            );
            let (allowed, reason) = &answers[index];
            assert_eq!(
                answer,
                json!({"at_seq": seq, "allowed": allowed, "reason": reason}),
                "{user} at seq {seq}"
            );
        }
    }
    let text = replay_ok(
        &data,
        &key,
        &[
            "--at-seq",
            &via_group.to_string(),
            "--explain",
            "BOB",
            &resource,
            "run",
        ],
    );
    assert!(text.lines().any(|line| line == "allowed"), "{text}");
    assert!(text.contains(&bob_answers[1].1), "{text}");
    let text = replay_ok(
        &data,
        &key,
        &[
            "--at-seq",
            &after_revoke.to_string(),
            "--explain",
            "bob",
            &resource,
            "run",
        ],
    );
    assert!(text.lines().any(|line| line == "denied"), "{text}");

    // --at TIME lands on the last event at or before it.
    let events = support::events(&data, &key);
    let time_of = |seq: u64| {
        events[usize::try_from(seq - 1).expect("index")]["time"]
            .as_str()
            .expect("time")
            .to_string()
    };
    for (index, seq) in points.iter().enumerate() {
        let time = time_of(*seq);
        let last = events
            .iter()
            .filter(|event| event["time"].as_str().expect("time") <= time.as_str())
            .map(|event| event["seq"].as_u64().expect("seq"))
            .max()
            .expect("an event");
        let by_time = replay_json(
            &data,
            &key,
            &["--at", &time, "--explain", "bob", &resource, "run"],
        );
        let by_seq = replay_json(
            &data,
            &key,
            &[
                "--at-seq",
                &last.to_string(),
                "--explain",
                "bob",
                &resource,
                "run",
            ],
        );
        assert_eq!(by_time, by_seq, "--at {time}");
        assert_eq!(by_time["at_seq"], last);
        assert_eq!(by_time["allowed"], bob_answers[index].0, "--at {time}");
    }

    // --diff: the group grant created, then revoked and the direct one created.
    let diff = replay_json(
        &data,
        &key,
        &["--diff", &unshared.to_string(), &via_group.to_string()],
    );
    assert_eq!(diff["from"], unshared);
    assert_eq!(diff["to"], via_group);
    assert_eq!(
        diff["grants"],
        json!([{
            "change": "created", "grant_id": group_grant, "resource_type": "flow", "resource_id": flow_id,
            "resource": "etl", "grantee_type": "group", "grantee_id": group_id, "grantee": "ops", "level": "use",
        }])
    );
    for section in ["users", "memberships", "group_members"] {
        assert_eq!(diff[section], json!([]), "{section}: {diff}");
    }
    let text = replay_ok(
        &data,
        &key,
        &["--diff", &via_group.to_string(), &direct.to_string()],
    );
    let changes: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(
        changes,
        [
            format!(
                "- grant {group_grant}: flow \"etl\" ({flow_id}) to group \"ops\" ({group_id}) at use"
            ),
            format!(
                "+ grant {user_grant}: flow \"etl\" ({flow_id}) to user \"bob\" ({bob_id}) at use"
            ),
        ],
        "{text}"
    );
    let from_start = replay_json(&data, &key, &["--diff", "1", &unshared.to_string()]);
    let created: Vec<&str> = from_start["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter(|change| change["change"] == "created")
        .map(|change| change["username"].as_str().expect("username"))
        .collect();
    assert!(
        created.contains(&"bob") && created.contains(&"carol"),
        "{from_start}"
    );
    assert!(
        from_start["group_members"]
            .as_array()
            .expect("members")
            .iter()
            .any(|change| {
                change["change"] == "added"
                    && change["username"] == "bob"
                    && change["group"] == "ops"
                    && change["role"] == "member"
            }),
        "{from_start}"
    );

    // The summary as of a point.
    let summary = replay_json(&data, &key, &["--at-seq", &direct.to_string()]);
    assert_eq!(summary["at_seq"], direct);
    assert_eq!(summary["time"], time_of(direct));
    assert_eq!(
        summary["users"],
        json!({"total": 4, "active": 4, "inactive": 0, "superusers": 1})
    );
    assert_eq!(summary["groups"], 1);
    assert_eq!(
        summary["group_members"], 2,
        "the admin owns it, bob is a member"
    );
    assert_eq!(summary["flows"], 1);
    assert_eq!(summary["grants"], 1);
    assert_eq!(
        replay_json(&data, &key, &["--at-seq", &after_revoke.to_string()])["grants"],
        0
    );
    let text = replay_ok(&data, &key, &["--at-seq", &direct.to_string()]);
    assert!(
        text.contains("users:") && text.contains("flows:") && text.contains("grants:"),
        "{text}"
    );

    // Bad input: exit 2, one error line naming the problem.
    let first_time = time_of(1);
    let past_head = (head + 1).to_string();
    let ambiguous = carol_id.clone();
    let direct_text = direct.to_string();
    let wrong_kind = format!("user:{bob_id}");
    let bad: Vec<(Vec<&str>, String)> = vec![
        (vec!["--at-seq", "0"], "seqs start at 1".into()),
        (
            vec!["--at-seq", &past_head],
            format!("beyond the head of the log (seq {head})"),
        ),
        (
            vec!["--at", "2001-01-01T00:00:00Z"],
            format!("before the first event of the log (seq 1 at {first_time})"),
        ),
        (vec!["--at", "yesterday"], "not an RFC 3339 time".into()),
        (
            vec!["--at-seq", "3", "--explain", "dave", &resource, "run"],
            "no such user".into(),
        ),
        (
            vec![
                "--at-seq",
                &direct_text,
                "--explain",
                &ambiguous,
                &resource,
                "run",
            ],
            "ambiguous".into(),
        ),
        (
            vec!["--at-seq", "3", "--explain", "bob", &flow_id, "run"],
            "RESOURCE".into(),
        ),
        (
            vec!["--at-seq", "3", "--explain", "bob", "user:0190", "run"],
            "RESOURCE".into(),
        ),
        (
            vec!["--at-seq", "3", "--explain", "bob", &wrong_kind, "run"],
            "RESOURCE".into(),
        ),
        (
            vec!["--at-seq", "3", "--explain", "bob", &resource, "fly"],
            "ACTION".into(),
        ),
        (
            vec!["--diff", "5", "3"],
            "A must be an earlier seq than B".into(),
        ),
        (
            vec!["--diff", "3", "3"],
            "A must be an earlier seq than B".into(),
        ),
        (
            vec!["--diff", "1", &past_head],
            format!("beyond the head of the log (seq {head})"),
        ),
        (vec!["--diff", "0", "3"], "seqs start at 1".into()),
        (
            vec!["--diff", "1", "3", "--explain", "bob", &resource, "run"],
            "--explain".into(),
        ),
        (vec![], "say which point".into()),
        (
            vec!["--at-seq", "3", "--at", &first_time],
            "only one".into(),
        ),
    ];
    for (args, problem) in &bad {
        let line = assert_one_error_line(&replay(&data, &key, args), 2);
        assert!(
            line.contains(problem.as_str()),
            "{args:?}: {line} (expected {problem:?})"
        );
    }

    // Nothing was written: the same verified head.
    assert_eq!(verified_head(&data, &key), head_before);

    // A replay rests on checked records: one changed record (rehashed or
    // not) stops it with exit 3 naming where the chain breaks, while the
    // points before it still replay.
    for rehash in [false, true] {
        let copy = tampered(&data, via_group, rehash);
        let bad_seq = if rehash { via_group + 1 } else { via_group };
        let output = replay(copy.path(), &key, &["--at-seq", &direct.to_string()]);
        let line = assert_one_error_line(&output, 3);
        assert!(
            line.contains(&format!("integrity violation at seq {bad_seq}")),
            "rehash={rehash}: {line}"
        );
        replay_ok(copy.path(), &key, &["--at-seq", &unshared.to_string()]);
    }
}

/// A copy of a stopped server's data dir with the record at `seq` changed
/// (and, with `rehash`, its own hash made to match again).
fn tampered(data: &Path, seq: u64, rehash: bool) -> tempfile::TempDir {
    use cairn_core::log::{chain, codec};
    let copy = support::copy_data_dir(data);
    let events = support::Records::open(copy.path());
    let stored = events
        .get(seq.to_be_bytes())
        .expect("get")
        .expect("present");
    let mut record = codec::decode_record(&stored).expect("decode");
    record.header.outcome = cairn_schemas::Outcome::Denied;
    if rehash {
        record.hash = chain::record_hash(
            &record.header.prev_hash,
            &codec::encode_header(&record.header).expect("header"),
        );
    }
    events
        .insert(seq.to_be_bytes(), codec::encode(&record).expect("encode"))
        .expect("insert");
    drop(events);
    copy
}
