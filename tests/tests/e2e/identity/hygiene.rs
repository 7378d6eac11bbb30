//! Issue 15 item 8, against the real binary: look-alike names, a request
//! id chosen by the client, a syslog receiver that floods the sink, a HEC
//! token over plain http://, and account-wide events of a user in two
//! orgs.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::server::api_client::{AdminServer, Answer, expect_status as ok, id_of};
use crate::support;

const PASSWORD: &str = "hygiene-test-Pw#83kd";

fn items(answer: &Answer) -> Vec<Value> {
    answer.json["items"].as_array().expect("items").clone()
}

/// Eight ways to write a group name that reads "Admins": each is refused,
/// either for its characters (422 on `name`) or as a look-alike of the
/// existing group (409 naming it). Orgs and namespaces follow the same
/// rule in their scope.
#[test]
fn eight_look_alike_admins_groups_are_refused_and_the_first_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api = AdminServer::start(&dir.path().join("data"), &[]);
    let root = api.admin_token();
    ok(
        &api,
        201,
        "POST",
        "/api/v1/groups",
        &root,
        Some(json!({"name": "Admins"})),
    );
    for (name, status, needle) in [
        ("\u{0410}dmins", 422, "mixes the Cyrillic and Latin scripts"),
        ("Ad\u{200B}mins", 422, "a zero-width character"),
        ("Admins\u{202E}", 422, "a bidirectional text control"),
        (
            "\u{FF21}\u{FF44}\u{FF4D}\u{FF49}\u{FF4E}\u{FF53}",
            409,
            "a group named \"Admins\" exists in this organization",
        ),
        (
            "Admins   ",
            409,
            "a group named \"Admins\" exists in this organization",
        ),
        (
            "ADMINS",
            409,
            "a group named \"Admins\" exists in this organization, and \"ADMINS\" looks the same",
        ),
        ("Adm\u{0456}ns", 422, "mixes the Latin and Cyrillic scripts"),
        ("\u{0391}dmins", 422, "mixes the Greek and Latin scripts"),
    ] {
        let answer = api.call(
            "POST",
            "/api/v1/groups",
            Some(&root),
            Some(&json!({ "name": name })),
        );
        assert_eq!(answer.status, status, "{name:?}: {}", answer.text);
        let detail = answer.json["detail"].as_str().expect("detail");
        assert!(detail.contains(needle), "{name:?}: {}", answer.text);
        if status == 422 {
            assert_eq!(answer.json["field"], "name", "{}", answer.text);
        }
        assert!(!answer.text.contains('\u{202E}'), "{}", answer.text);
    }
    let groups = ok(&api, 200, "GET", "/api/v1/groups", &root, None);
    assert_eq!(items(&groups).len(), 1, "{}", groups.text);

    // Orgs: unique across the server, look-alikes included.
    ok(
        &api,
        201,
        "POST",
        "/api/v1/orgs",
        &root,
        Some(json!({"name": "Beta Corp"})),
    );
    let twin = api.call(
        "POST",
        "/api/v1/orgs",
        Some(&root),
        Some(&json!({"name": "BETA  corp"})),
    );
    assert_eq!(twin.status, 409, "{}", twin.text);
    assert!(
        twin.json["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("an organization named \"Beta Corp\" exists")),
        "{}",
        twin.text
    );

    // Namespaces: unique among siblings, on create and on rename.
    let finance = ok(
        &api,
        201,
        "POST",
        "/api/v1/namespaces",
        &root,
        Some(json!({"name": "Finance"})),
    );
    let look_alike = api.call(
        "POST",
        "/api/v1/namespaces",
        Some(&root),
        Some(&json!({"name": "\u{FF26}inance"})),
    );
    assert_eq!(look_alike.status, 409, "{}", look_alike.text);
    let other = ok(
        &api,
        201,
        "POST",
        "/api/v1/namespaces",
        &root,
        Some(json!({"name": "Payroll"})),
    );
    let rename = api.call(
        "PATCH",
        &format!("/api/v1/namespaces/{}", id_of(&other)),
        Some(&root),
        Some(&json!({"name": "FINANCE"})),
    );
    assert_eq!(rename.status, 409, "{}", rename.text);
    assert!(
        rename.json["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("named \"Finance\" exists there")),
        "{}",
        rename.text
    );
    let bidi = api.call(
        "PATCH",
        &format!("/api/v1/namespaces/{}", id_of(&other)),
        Some(&root),
        Some(&json!({"name": "Pay\u{2067}roll"})),
    );
    assert_eq!(bidi.status, 422, "{}", bidi.text);
    // The same name under another parent is another path.
    ok(
        &api,
        201,
        "POST",
        "/api/v1/namespaces",
        &root,
        Some(json!({"name": "Finance", "parent_id": id_of(&finance)})),
    );
    // A namespace may be renamed to another spelling of its own name.
    ok(
        &api,
        200,
        "PATCH",
        &format!("/api/v1/namespaces/{}", id_of(&other)),
        &root,
        Some(json!({"name": "PAYROLL"})),
    );
}

/// The request id of an event, whether the item is an events-query item or
/// an export line.
fn request_id_of(event: &Value) -> Option<&str> {
    event["request_id"]
        .as_str()
        .or_else(|| event["origin"]["request_id"].as_str())
}

#[test]
fn a_client_sending_x_request_id_bootstrap_finds_a_server_generated_id_in_the_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api = AdminServer::start(&dir.path().join("data"), &[]);
    let root = api.admin_token();
    let response = api
        .client
        .post(api.url("/api/v1/groups"))
        .bearer_auth(&root)
        .header("X-Request-Id", "bootstrap")
        .json(&json!({"name": "Operators"}))
        .send()
        .expect("send");
    assert_eq!(response.status().as_u16(), 201);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let server_id = header("x-request-id").expect("the server's id");
    assert_eq!(header("x-client-request-id").as_deref(), Some("bootstrap"));
    let parsed = uuid::Uuid::parse_str(&server_id).expect("a UUID");
    assert_eq!(parsed.get_version_num(), 7, "{server_id}");

    let events = items(&ok(
        &api,
        200,
        "GET",
        "/api/v1/audit/events?action=group.created&limit=500",
        &root,
        None,
    ));
    let created = events
        .iter()
        .find(|event| event["action"] == "group.created")
        .expect("the group.created event");
    assert_eq!(
        request_id_of(created),
        Some(server_id.as_str()),
        "{created}"
    );

    // No event a person's request made records the client's choice (the
    // server's own bootstrap, recorded by the system, is `bootstrap`).
    let export = ok(
        &api,
        200,
        "GET",
        "/api/v1/audit/export?format=jsonl",
        &root,
        None,
    );
    for line in export.text.lines() {
        let line: Value = serde_json::from_str(line).expect("json line");
        if line["actor"]["type"] != "system" {
            assert_ne!(request_id_of(&line), Some("bootstrap"), "{line}");
        }
    }
}

/// User and system CPU time of a process, in seconds (/proc/<pid>/stat).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // The command name may hold spaces: fields count from after its `)`.
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, so 11 and
    // 12 after the state (field 3).
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    ticks as f64 / per_second as f64
}

/// A "receiver" that accepts connections and writes bytes back without
/// end, until stopped or a minute has passed.
struct Flood {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Flood {
    fn start() -> Flood {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !flag.load(Ordering::SeqCst) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((socket, _)) => {
                        let flag = Arc::clone(&flag);
                        std::thread::spawn(move || flood(socket, &flag, deadline));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Flood { port, stop }
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn flood(mut socket: TcpStream, stop: &AtomicBool, deadline: Instant) {
    let _ = socket.set_nonblocking(false);
    let _ = socket.set_write_timeout(Some(Duration::from_millis(500)));
    let chunk = vec![b'x'; 64 * 1024];
    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
        match socket.write(&chunk) {
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(error) if error.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return,
        }
    }
}

#[test]
fn a_syslog_receiver_that_floods_back_neither_spins_the_sink_nor_hides_from_health() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = Flood::start();
    let url = format!("syslog+tcp://127.0.0.1:{}", receiver.port);
    let api = AdminServer::start(
        &dir.path().join("data"),
        &[
            ("CAIRN_SINKS", "flood"),
            ("CAIRN_SINK_FLOOD_URL", &url),
            ("CAIRN_SINK_FLOOD_CONFIRM_AFTER_MS", "1000"),
        ],
    );
    // Events to send: the bootstrap's, and a login.
    api.admin_token();

    // /health names the problem.
    let deadline = Instant::now() + Duration::from_secs(30);
    let sink = loop {
        let (status, body) = api.server.get_json("/health");
        assert_eq!(status, 200);
        let sink = body["sinks"][0].clone();
        if sink["failing"] == true {
            break sink;
        }
        assert!(Instant::now() < deadline, "never reported failing: {sink}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        sink["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("the receiver sends data")),
        "{sink}"
    );
    assert!(
        !sink.to_string().contains(&receiver.port.to_string()),
        "/health names no target: {sink}"
    );

    // The server stays nearly idle while the receiver keeps flooding.
    let pid = api.server.pid();
    let before = cpu_seconds(pid);
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(4));
    let used = cpu_seconds(pid) - before;
    let share = used / started.elapsed().as_secs_f64();
    assert!(
        share < 0.25,
        "the server used {used:.2} s of CPU in {:?} ({:.0}% of a core)",
        started.elapsed(),
        share * 100.0
    );
    let (_, body) = api.server.get_json("/health");
    assert_eq!(body["sinks"][0]["failing"], true, "{body}");
    assert!(
        body["sinks"][0]["delivered"].as_u64() < body["seq"].as_u64(),
        "nothing counts as delivered to a receiver that misbehaves: {body}"
    );
    let log = api.server.stderr_lines().join("\n");
    assert!(log.contains("the receiver sends data"), "the log says why");
}

#[test]
fn a_hec_token_over_plain_http_is_refused_at_start_unless_marked_insecure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let token = "hec-token-canary-71f0c2";
    let sink = [
        ("CAIRN_SINKS", "splunk"),
        (
            "CAIRN_SINK_SPLUNK_URL",
            "http://127.0.0.1:9/services/collector/event",
        ),
        ("CAIRN_SINK_SPLUNK_HEC_TOKEN", token),
    ];
    let mut command = support::cairn(&data);
    command
        .env("CAIRN_MASTER_KEY", support::test_master_key(0x45))
        .arg("serve")
        .args(["--bind", "127.0.0.1:0"]);
    for (name, value) in sink {
        command.env(name, value);
    }
    let output = support::run(command);
    let line = support::assert_one_error_line(&output, 2);
    assert!(
        line.contains("plain http://") && line.contains("CAIRN_SINK_SPLUNK_INSECURE=true"),
        "{line}"
    );
    assert!(!line.contains(token), "{line}");

    // Marked insecure, it starts, and says so once.
    let mut marked = sink.to_vec();
    marked.push(("CAIRN_SINK_SPLUNK_INSECURE", "true"));
    let api = AdminServer::start(&dir.path().join("marked"), &marked);
    let log = api.server.stderr_lines().join("\n");
    assert_eq!(
        log.matches("sends its HEC token over plain http://")
            .count(),
        1,
        "{log}"
    );
    assert!(!log.contains(token));
}

/// Whether `events` hold `action` about `user`.
fn has_event(events: &[Value], action: &str, user: &str) -> bool {
    events
        .iter()
        .any(|event| event["action"] == action && event["resource"]["id"] == user)
}

#[test]
fn a_deleted_then_erased_user_of_two_orgs_is_seen_by_the_audit_readers_of_both() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api = AdminServer::start(&dir.path().join("data"), &[]);
    let root = api.admin_token();
    let beta = id_of(&ok(
        &api,
        201,
        "POST",
        "/api/v1/orgs",
        &root,
        Some(json!({"name": "Beta"})),
    ));
    // ula belongs to the root's org and to Beta; an auditor in each.
    let ula = api.create_user(&root, "ula", PASSWORD, "viewer");
    api.create_user(&root, "auditor-a", PASSWORD, "audit_viewer");
    ok(
        &api,
        201,
        "POST",
        "/api/v1/users",
        &root,
        Some(
            json!({"username": "auditor-b", "password": PASSWORD, "role": "audit_viewer",
                    "is_active": true, "org_id": beta}),
        ),
    );
    ok(
        &api,
        201,
        "POST",
        &format!("/api/v1/orgs/{beta}/members"),
        &root,
        Some(json!({"user_id": ula, "role": "viewer"})),
    );
    ok(
        &api,
        204,
        "DELETE",
        &format!("/api/v1/users/{ula}"),
        &root,
        None,
    );
    ok(
        &api,
        204,
        "POST",
        &format!("/api/v1/users/{ula}/erase"),
        &root,
        None,
    );

    for (auditor, org) in [("auditor-a", None), ("auditor-b", Some(beta.as_str()))] {
        let login = api.call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(&json!({"username": auditor, "password": PASSWORD, "org": org})),
        );
        assert_eq!(login.status, 200, "{}", login.text);
        let token = login.json["access_token"].as_str().expect("token");
        let events = items(&ok(
            &api,
            200,
            "GET",
            "/api/v1/audit/events?limit=500",
            token,
            None,
        ));
        let export = ok(
            &api,
            200,
            "GET",
            "/api/v1/audit/export?format=jsonl",
            token,
            None,
        );
        let exported: Vec<Value> = export
            .text
            .lines()
            .map(|line| serde_json::from_str(line).expect("json line"))
            .collect();
        for action in ["user.deleted", "user.erased"] {
            assert!(
                has_event(&events, action, &ula),
                "{auditor}: {action} in the query"
            );
            assert!(
                has_event(&exported, action, &ula),
                "{auditor}: {action} in the export"
            );
        }
    }
}

/// Look-alike names sent at the same moment: the look-alike check and the
/// write are one decision under the log's lock, so exactly one of them is
/// created and every other is refused as a look-alike of it.
#[test]
fn look_alike_groups_created_at_once_leave_exactly_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api = Arc::new(AdminServer::start(&dir.path().join("data"), &[]));
    let root = api.admin_token();
    let names = [
        "Operators",
        "OPERATORS",
        "operators",
        "OpErAtOrS",
        "\u{FF2F}perators",
        "Operators ",
        " operators",
        "oPERATORS",
    ];
    let barrier = Arc::new(std::sync::Barrier::new(names.len()));
    let handles: Vec<_> = names
        .iter()
        .map(|name| {
            let (api, root, barrier) = (Arc::clone(&api), root.clone(), Arc::clone(&barrier));
            let body = json!({ "name": name });
            std::thread::spawn(move || {
                barrier.wait();
                api.call("POST", "/api/v1/groups", Some(&root), Some(&body))
                    .status
            })
        })
        .collect();
    let mut statuses: Vec<u16> = handles
        .into_iter()
        .map(|handle| handle.join().expect("thread"))
        .collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409, 409, 409, 409, 409, 409, 409]);
    let groups = api.call("GET", "/api/v1/groups", Some(&root), None);
    let created: Vec<Value> = items(&groups)
        .into_iter()
        .filter(|group| {
            group["name"]
                .as_str()
                .is_some_and(|name| name.trim().eq_ignore_ascii_case("operators"))
        })
        .collect();
    assert_eq!(created.len(), 1, "{}", groups.text);
}
