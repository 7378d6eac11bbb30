//! Continuous export sinks (issue 6): every event reaches the receiver at
//! least once, in order of seq, through receiver outages and a killed
//! Cairn; lag shows in GET /health.
//! - HTTP: batches in the Splunk HEC envelope, the token sent and never
//!   logged; a receiver that answers 503 is retried with backoff.
//! - Syslog: a real rsyslog over TCP and over TLS; every message passes a
//!   strict RFC 5424 parser and carries the event's own time.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::audit::rsyslog::Rsyslog;
use crate::server::api_client::{AdminServer, Answer};

const PASSWORD: &str = "sink-test-Pw#52mz";
const HEC_TOKEN: &str = "hec-token-canary-0b9e71c3";

/// Accepted requests: the Authorization header and the body.
type Accepted = Arc<Mutex<Vec<(Option<String>, String)>>>;

/// A small HTTP/1.1 receiver: answers 503 to the first `fail_first`
/// requests, 200 after; keeps every accepted body and Authorization header.
struct HttpReceiver {
    port: u16,
    accepted: Accepted,
    requests: Arc<AtomicUsize>,
}

impl HttpReceiver {
    fn start(fail_first: usize) -> HttpReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(AtomicUsize::new(0));
        let (kept, counter) = (Arc::clone(&accepted), Arc::clone(&requests));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (kept, counter) = (Arc::clone(&kept), Arc::clone(&counter));
                std::thread::spawn(move || serve_connection(stream, fail_first, &kept, &counter));
            }
        });
        HttpReceiver {
            port,
            accepted,
            requests,
        }
    }
}

fn serve_connection(
    stream: TcpStream,
    fail_first: usize,
    kept: &Mutex<Vec<(Option<String>, String)>>,
    counter: &AtomicUsize,
) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let (mut length, mut authorization) = (0usize, None);
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').expect("a header");
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().expect("length"),
                "authorization" => authorization = Some(value.trim().to_string()),
                _ => {}
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("body");
        let number = counter.fetch_add(1, Ordering::SeqCst);
        let status = if number < fail_first {
            "503 Service Unavailable"
        } else {
            kept.lock()
                .expect("lock")
                .push((authorization, String::from_utf8(body).expect("utf-8")));
            "200 OK"
        };
        let answer = format!(
            "HTTP/1.1 {status}\r\ncontent-length: 2\r\ncontent-type: application/json\r\n\r\n{{}}"
        );
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

fn health(api: &AdminServer) -> Value {
    let answer = api.call("GET", "/health", None, None);
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.json
}

/// Waits until every sink delivered everything durable (lag 0).
fn wait_for_delivery(api: &AdminServer, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let body = health(api);
        let sinks = body["sinks"].as_array().expect("sinks in /health").clone();
        if sinks.iter().all(|sink| sink["lag"] == 0) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "the sinks did not catch up: {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn make_users(api: &AdminServer, admin: &str, prefix: &str, count: usize) {
    for index in 0..count {
        let answer: Answer = api.call(
            "POST",
            "/api/v1/users",
            Some(admin),
            Some(&json!({"username": format!("{prefix}{index}"), "password": PASSWORD})),
        );
        assert_eq!(answer.status, 201, "{}", answer.text);
    }
}

#[test]
fn an_http_sink_delivers_every_event_in_the_hec_envelope_through_failures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = HttpReceiver::start(3);
    let url = format!(
        "http://127.0.0.1:{}/services/collector/event",
        receiver.port
    );
    let api = AdminServer::start(
        &dir.path().join("data"),
        &[
            ("CAIRN_SINKS", "splunk"),
            ("CAIRN_SINK_SPLUNK_URL", &url),
            ("CAIRN_SINK_SPLUNK_HEC_TOKEN", HEC_TOKEN),
            // A receiver on loopback: plain http:// with a token is
            // refused unless marked insecure (issue 15).
            ("CAIRN_SINK_SPLUNK_INSECURE", "true"),
            ("CAIRN_SINK_SPLUNK_FORMAT", "jsonl"),
            ("CAIRN_SINK_SPLUNK_BATCH", "7"),
        ],
    );
    let admin = api.admin_token();
    make_users(&api, &admin, "hec", 5);
    let body = wait_for_delivery(&api, Duration::from_secs(30));
    let sink = &body["sinks"][0];
    assert_eq!(sink["name"], "splunk");
    assert!(
        sink["retries"].as_u64() >= Some(3),
        "the 503s were retried: {sink}"
    );
    assert_eq!(sink["delivered"], body["seq"], "{body}");
    assert!(!body.to_string().contains(HEC_TOKEN));
    assert!(
        !body.to_string().contains(&receiver.port.to_string()),
        "/health answers anyone: it names no sink target: {body}"
    );
    assert_eq!(sink["failing"], false, "{sink}");

    let accepted = receiver.accepted.lock().expect("lock").clone();
    assert_eq!(
        receiver.requests.load(Ordering::SeqCst),
        accepted.len() + 3,
        "three refused requests, then every batch accepted once"
    );
    let mut seqs = Vec::new();
    for (authorization, text) in &accepted {
        assert_eq!(
            authorization.as_deref(),
            Some(format!("Splunk {HEC_TOKEN}").as_str())
        );
        for line in text.lines() {
            let envelope: Value = serde_json::from_str(line).expect("one HEC event per line");
            assert_eq!(envelope["source"], "cairn");
            assert_eq!(envelope["sourcetype"], "cairn:jsonl");
            assert!(envelope["time"].as_f64().is_some(), "{envelope}");
            seqs.push(envelope["event"]["seq"].as_u64().expect("seq"));
        }
    }
    let head = body["seq"].as_u64().expect("seq");
    let unique: BTreeSet<u64> = seqs.iter().copied().collect();
    assert_eq!(
        unique,
        (1..=head).collect::<BTreeSet<_>>(),
        "every event, none missing"
    );
    assert!(
        seqs.windows(2).all(|pair| pair[0] < pair[1]),
        "in order, and HTTP needs no resend: {seqs:?}"
    );
    let log = api.server.stderr_lines().join("\n");
    assert!(!log.contains(HEC_TOKEN), "the token is never logged");
    assert!(log.contains("sink delivery failed"), "failures are logged");
    assert_eq!(
        log.matches("sends its HEC token over plain http://")
            .count(),
        1,
        "the insecure sink is warned about once"
    );
}

#[test]
fn a_bad_sink_configuration_stops_the_start_naming_the_variable() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (vars, needle) in [
        (vec![("CAIRN_SINKS", "siem")], "CAIRN_SINK_SIEM_URL"),
        (
            vec![
                ("CAIRN_SINKS", "siem"),
                ("CAIRN_SINK_SIEM_URL", "gopher://x:1"),
            ],
            "scheme",
        ),
        (
            vec![
                ("CAIRN_SINKS", "siem"),
                ("CAIRN_SINK_SIEM_URL", "syslog+tls://127.0.0.1:6514"),
                ("CAIRN_SINK_SIEM_CA_FILE", "/nonexistent/ca.pem"),
            ],
            "CAIRN_SINK_SIEM_CA_FILE",
        ),
    ] {
        let data = dir.path().join("data");
        let mut command = crate::support::cairn(&data);
        command
            .env("CAIRN_MASTER_KEY", crate::support::test_master_key(0x44))
            .arg("serve")
            .args(["--bind", "127.0.0.1:0"]);
        for (name, value) in &vars {
            command.env(name, value);
        }
        let line = crate::support::assert_one_error_line(&crate::support::run(command), 2);
        assert!(line.contains(needle), "{line} lacks {needle}");
    }
}

fn syslog_sink_env<'a>(name: &'a str, url: &'a str, ca: Option<&'a str>) -> Vec<(String, String)> {
    let upper = name.to_ascii_uppercase();
    let mut vars = vec![
        (format!("CAIRN_SINK_{upper}_URL"), url.to_string()),
        (
            format!("CAIRN_SINK_{upper}_CONFIRM_AFTER_MS"),
            "1000".to_string(),
        ),
        (format!("CAIRN_SINK_{upper}_BATCH"), "25".to_string()),
    ];
    if let Some(ca) = ca {
        vars.push((format!("CAIRN_SINK_{upper}_CA_FILE"), ca.to_string()));
    }
    vars
}

fn start_with(data: &Path, sinks: &str, vars: &[(String, String)]) -> AdminServer {
    let mut env: Vec<(&str, &str)> = vec![("CAIRN_SINKS", sinks)];
    env.extend(
        vars.iter()
            .map(|(key, value)| (key.as_str(), value.as_str())),
    );
    AdminServer::start(data, &env)
}

/// The seqs a receiver got, checked by the strict RFC 5424 parser.
fn received_seqs(receiver: &Rsyslog) -> Vec<u64> {
    let summary = receiver.syslog_check();
    assert_eq!(
        summary["invalid"],
        json!([]),
        "every message is RFC 5424: {summary}"
    );
    assert_eq!(
        summary["timestamps_match"], true,
        "syslog times are the events' own: {summary}"
    );
    summary["seqs"]
        .as_array()
        .expect("seqs")
        .iter()
        .map(|seq| seq.as_u64().expect("seq"))
        .collect()
}

fn assert_every_seq(what: &str, seqs: &[u64], head: u64) {
    let unique: BTreeSet<u64> = seqs.iter().copied().collect();
    let missing: Vec<u64> = (1..=head).filter(|seq| !unique.contains(seq)).collect();
    assert!(
        missing.is_empty(),
        "{what}: missing seqs {missing:?} of 1..={head}"
    );
}

#[test]
fn syslog_sinks_over_tcp_and_tls_deliver_every_event_to_a_real_rsyslog() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("tcp")).expect("dir");
    std::fs::create_dir_all(dir.path().join("tls")).expect("dir");
    let tcp = Rsyslog::start(&dir.path().join("tcp"), false);
    let tls = Rsyslog::start(&dir.path().join("tls"), true);
    let tcp_url = format!("syslog+tcp://127.0.0.1:{}", tcp.port());
    // The TLS receiver's certificate names localhost: the name is checked.
    let tls_url = format!("syslog+tls://localhost:{}", tls.port());
    let ca = tls.ca_file();
    let mut vars = syslog_sink_env("plain", &tcp_url, None);
    vars.extend(syslog_sink_env("secure", &tls_url, ca.to_str()));
    let api = start_with(&dir.path().join("data"), "plain,secure", &vars);
    let admin = api.admin_token();
    make_users(&api, &admin, "syslog", 4);
    // A name with quotes, `=`, `]` and `|` (control characters are refused
    // by the API; the unit tests of the formats cover them).
    let group = api.call(
        "POST",
        "/api/v1/groups",
        Some(&admin),
        Some(&json!({"name": "ops \"q\" x=y ] |"})),
    );
    assert_eq!(group.status, 201, "{}", group.text);
    let body = wait_for_delivery(&api, Duration::from_secs(30));
    let head = body["seq"].as_u64().expect("seq");
    for sink in body["sinks"].as_array().expect("sinks") {
        assert_eq!(sink["connected"], true, "{sink}");
        assert_eq!(sink["delivered"], head, "{sink}");
    }
    for (what, receiver) in [("tcp", &tcp), ("tls", &tls)] {
        receiver.wait_for_lines(head as usize, Duration::from_secs(10));
        let seqs = received_seqs(receiver);
        assert_every_seq(what, &seqs, head);
        let unique: BTreeSet<u64> = seqs.iter().copied().collect();
        assert_eq!(unique.len(), seqs.len(), "{what}: no outage, no resend");
        // Each message is one line whose MSG is the event's OCSF JSON.
        for line in receiver.received_lines() {
            let message = line.split_once("] ").expect("structured data then MSG").1;
            let ocsf: Value =
                serde_json::from_str(message.trim_start_matches('\u{feff}')).expect("OCSF JSON");
            assert_eq!(ocsf["metadata"]["version"], "1.8.0", "{ocsf}");
        }
    }
}

/// Appends events as fast as one client can (each audit query is an
/// `audit.queried` event) until `stop`; errors (a killed server) end it.
fn hammer(
    base_url: String,
    token: String,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let client = reqwest::blocking::Client::new();
        let mut appended = 0;
        while !stop.load(Ordering::SeqCst) {
            let answer = client
                .get(format!("{base_url}/api/v1/audit/events?limit=1"))
                .bearer_auth(&token)
                .send();
            match answer {
                Ok(response) if response.status().is_success() => appended += 1,
                _ => break,
            }
        }
        appended
    })
}

#[test]
fn a_syslog_sink_resumes_after_the_receiver_and_cairn_are_killed_mid_stream() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("rsyslog")).expect("dir");
    let mut receiver = Rsyslog::start(&dir.path().join("rsyslog"), false);
    let url = format!("syslog+tcp://127.0.0.1:{}", receiver.port());
    let vars = syslog_sink_env("siem", &url, None);
    let data = dir.path().join("data");
    let api = start_with(&data, "siem", &vars);
    let admin = api.admin_token();

    // Events keep coming while the receiver is killed and comes back.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = hammer(
        api.server.base_url.clone(),
        admin.clone(),
        Arc::clone(&stop),
    );
    std::thread::sleep(Duration::from_millis(700));
    receiver.kill();
    // The outage shows as lag.
    crate::support::wait_until("the outage to show as lag", Duration::from_secs(30), || {
        health(&api)["sinks"][0]["lag"].as_u64() > Some(0)
    });
    receiver.restart();
    std::thread::sleep(Duration::from_millis(1500));

    // Cairn is killed while it streams, then restarted on the same data.
    drop(api);
    stop.store(true, Ordering::SeqCst);
    let before_kill = writer.join().expect("writer");
    let api = start_with(&data, "siem", &vars);
    let admin = api.admin_token();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = hammer(
        api.server.base_url.clone(),
        admin.clone(),
        Arc::clone(&stop),
    );
    std::thread::sleep(Duration::from_millis(700));
    stop.store(true, Ordering::SeqCst);
    let after_restart = writer.join().expect("writer");
    assert!(
        before_kill > 100 && after_restart > 20,
        "a stream, not a trickle: {before_kill} then {after_restart}"
    );

    let body = wait_for_delivery(&api, Duration::from_secs(60));
    let head = body["seq"].as_u64().expect("seq");
    receiver.wait_for_lines(head as usize, Duration::from_secs(10));
    let seqs = received_seqs(&receiver);
    assert_every_seq("after the outages", &seqs, head);
    assert!(
        seqs.iter().all(|seq| *seq <= head),
        "nothing beyond the log"
    );
    let resent = seqs.len() - seqs.iter().collect::<BTreeSet<_>>().len();
    assert!(
        resent > 0,
        "the outages made the sink send some events again"
    );
}
