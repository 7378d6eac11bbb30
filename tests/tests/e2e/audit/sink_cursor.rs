//! A sink's cursor beyond the head of the log (issue 15, item 3): a
//! crafted backup or an edited store that sets a sink's cursor to 10^12
//! used to silence the sink for good while `/health` showed `lag: 0`. The
//! server sets it back to the head when the sink starts, says so in its
//! log and in `/health` (`cursor_beyond_head`), and delivers new events.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::server::api_client::AdminServer;
use crate::support;

const BEYOND: u64 = 1_000_000_000_000;

/// The bodies an HTTP receiver accepted (it answers 200 to every request).
type Bodies = Arc<Mutex<Vec<String>>>;

fn start_receiver() -> (u16, Bodies) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let bodies: Bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&bodies);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let kept = Arc::clone(&kept);
            std::thread::spawn(move || serve(stream, &kept));
        }
    });
    (port, bodies)
}

fn serve(stream: TcpStream, kept: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().expect("length");
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("body");
        kept.lock()
            .expect("lock")
            .push(String::from_utf8(body).expect("utf-8"));
        let answer =
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: application/json\r\n\r\n{}";
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

#[test]
fn a_sink_cursor_beyond_the_head_is_set_back_on_start_and_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let head_before = {
        let api = AdminServer::start(&data, &[]);
        api.seq()
    };
    // The server is stopped: give the sink a cursor far beyond the head,
    // as a crafted backup would.
    {
        let db = support::open_sled(&data);
        let cursors = db.open_tree("export_cursors").expect("tree");
        cursors
            .insert("siem", &BEYOND.to_be_bytes())
            .expect("insert");
        db.flush().expect("flush");
    }

    let (port, bodies) = start_receiver();
    let url = format!("http://127.0.0.1:{port}/ingest");
    let api = AdminServer::start(
        &data,
        &[
            ("CAIRN_SINKS", "siem"),
            ("CAIRN_SINK_SIEM_URL", &url),
            ("CAIRN_SINK_SIEM_FORMAT", "jsonl"),
        ],
    );
    let admin = api.admin_token();
    let created = api.call(
        "POST",
        "/api/v1/users",
        Some(&admin),
        Some(&json!({"username": "after-restore", "password": "sink-cursor-Pw#41zq"})),
    );
    assert_eq!(created.status, 201, "{}", created.text);

    // The sink delivers what came after the head it was set back to.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (sink, seqs) = loop {
        let health = api.call("GET", "/health", None, None).json;
        let sink = health["sinks"][0].clone();
        let head = health["seq"].as_u64().expect("seq");
        let seqs: Vec<u64> = bodies
            .lock()
            .expect("lock")
            .iter()
            .flat_map(|body| body.lines().map(str::to_string).collect::<Vec<_>>())
            .map(|line| {
                serde_json::from_str::<Value>(&line).expect("a jsonl line")["seq"]
                    .as_u64()
                    .expect("seq")
            })
            .collect();
        if sink["delivered"].as_u64() == Some(head) && seqs.contains(&head) {
            break (sink, seqs);
        }
        assert!(
            Instant::now() < deadline,
            "the sink never delivered the new events (it stays silent with a cursor beyond the head): {health}, received {seqs:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        sink["cursor_beyond_head"], BEYOND,
        "/health says the cursor was beyond the head: {sink}"
    );
    assert!(
        seqs.iter().all(|seq| *seq > head_before),
        "delivery resumed after the head the cursor was set back to ({head_before}): {seqs:?}"
    );
    let log = api.server.stderr_lines().join("\n");
    assert!(
        log.contains("cursor is beyond the head"),
        "the server's log warns: {log}"
    );
}
