//! Issue 14, item 5 (must-show 4): a resolved value that comes back
//! encoded is masked too. A loopback server (allowlisted) answers a run's
//! http steps with every encoded form of the secret the run sent it
//! (percent-encoded in both cases and as a form, base64 in both alphabets
//! with and without padding and inside longer base64 strings, JSON
//! `\uXXXX`, HTML entities named, decimal and hex, hex in both cases), as
//! text and as JSON; the run's output, its events and the audit export
//! hold none of them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::server::api_client::{AdminServer, expect_status, id_of};
use crate::support::{LOOPBACK_EGRESS, events_dump};

/// The secret: every kind of character an encoding treats apart.
fn canary() -> String {
    format!(
        "mask-canary-{} T\u{f6}k\u{20ac}n/+&<\"'=?%\u{1f600}~",
        uuid::Uuid::now_v7().simple()
    )
}

fn percent(value: &str, literal: impl Fn(u8) -> bool, upper: bool, plus: bool) -> String {
    value
        .bytes()
        .map(|byte| {
            if plus && byte == b' ' {
                "+".to_string()
            } else if literal(byte) {
                (byte as char).to_string()
            } else if upper {
                format!("%{byte:02X}")
            } else {
                format!("%{byte:02x}")
            }
        })
        .collect()
}

/// Every encoded form of `value`, named; the base64 of the value inside
/// longer strings at the three alignments is given with its borders.
fn encodings(value: &str) -> Vec<(String, String)> {
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
    let form = |b: u8| b.is_ascii_alphanumeric() || b"*-._".contains(&b);
    let each = |f: &dyn Fn(char) -> String| value.chars().map(f).collect::<String>();
    let utf16 = |upper: bool| {
        value
            .encode_utf16()
            .map(|unit| {
                if upper {
                    format!("\\u{unit:04X}")
                } else {
                    format!("\\u{unit:04x}")
                }
            })
            .collect::<String>()
    };
    let mut forms = vec![
        ("raw".to_string(), value.to_string()),
        ("json \\u lower".into(), utf16(false)),
        ("json \\u upper".into(), utf16(true)),
        (
            "percent upper".into(),
            percent(value, |_| false, true, false),
        ),
        (
            "percent lower".into(),
            percent(value, |_| false, false, false),
        ),
        (
            "percent rfc 3986".into(),
            percent(value, unreserved, false, false),
        ),
        ("form-urlencoded".into(), percent(value, form, true, true)),
        (
            "html named".into(),
            each(&|c| match c {
                '&' => "&amp;".into(),
                '<' => "&lt;".into(),
                '"' => "&quot;".into(),
                '\'' => "&#x27;".into(),
                other => other.to_string(),
            }),
        ),
        (
            "html decimal".into(),
            each(&|c| format!("&#{};", u32::from(c))),
        ),
        (
            "html hex".into(),
            each(&|c| format!("&#x{:X};", u32::from(c))),
        ),
        ("hex lower".into(), hex::encode(value)),
        ("hex upper".into(), hex::encode_upper(value)),
    ];
    for (name, engine) in [
        ("base64", &STANDARD),
        ("base64 no pad", &STANDARD_NO_PAD),
        ("base64url", &URL_SAFE),
        ("base64url no pad", &URL_SAFE_NO_PAD),
    ] {
        forms.push((name.to_string(), engine.encode(value)));
        for prefix in ["a", "ab"] {
            forms.push((
                format!("{name} after {prefix:?}"),
                engine.encode(format!("{prefix}{value}!")),
            ));
        }
    }
    forms
}

/// The stretch of an encoded form that must not survive: the whole form,
/// except for a value inside a longer base64 string, whose 3 border
/// characters on each side also encode its neighbours.
fn must_not_survive(name: &str, form: &str) -> String {
    if name.contains(" after ") {
        let end = form.trim_end_matches('=').len();
        form[4..end - 4].to_string()
    } else {
        form.to_string()
    }
}

/// A loopback server: reads the `token` of a JSON request body and answers
/// every encoded form of it, one a line (`/text`) or as a JSON object
/// (`/json`).
fn start_encoder() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            std::thread::spawn(move || {
                let _ = answer(stream);
            });
        }
    });
    url
}

fn answer(stream: std::net::TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut length = 0usize;
    for _ in 0..200 {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.trim_end().split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length.min(1 << 20)];
    reader.read_exact(&mut body)?;
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let token = request["token"].as_str().unwrap_or_default();
    let forms = encodings(token);
    let (content_type, answer) = if request_line.contains("/json") {
        let object: serde_json::Map<String, Value> = forms
            .into_iter()
            .map(|(name, form)| (name, Value::String(form)))
            .collect();
        ("application/json", Value::Object(object).to_string())
    } else {
        let lines: Vec<String> = forms
            .into_iter()
            .map(|(name, form)| format!("{name}: {form}"))
            .collect();
        ("text/plain", lines.join("\n"))
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
        answer.len()
    )?;
    stream.flush()
}

/// The forms found in `text`, as such or JSON-escaped.
fn leaks(text: &str, forms: &[(String, String)]) -> Vec<String> {
    forms
        .iter()
        .filter(|(name, form)| {
            let kept = must_not_survive(name, form);
            let escaped = serde_json::to_string(&kept).expect("json");
            text.contains(&kept) || text.contains(&escaped[1..escaped.len() - 1])
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// Every string in a JSON value, keys too.
fn strings(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::String(text) => into.push(text.clone()),
        Value::Array(items) => items.iter().for_each(|item| strings(item, into)),
        Value::Object(members) => {
            for (key, item) in members {
                into.push(key.clone());
                strings(item, into);
            }
        }
        _ => {}
    }
}

#[test]
fn encoded_forms_of_a_resolved_secret_are_masked_in_outputs_events_and_exports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    let api = AdminServer::start(&data_dir, &[LOOPBACK_EGRESS]);
    let admin = api.admin_token();
    let encoder = start_encoder();
    let value = canary();
    let forms = encodings(&value);

    expect_status(
        &api,
        201,
        "POST",
        "/api/v1/secrets",
        &admin,
        Some(json!({"name": "CANARY", "value": value})),
    );
    let namespace = id_of(&expect_status(
        &api,
        201,
        "POST",
        "/api/v1/namespaces",
        &admin,
        Some(json!({"name": "masking"})),
    ));
    let step = |id: &str, path: &str| {
        json!({"id": id, "type": "http", "method": "POST", "url": format!("{encoder}{path}"),
               "body": {"token": "$secret.CANARY"}, "timeout_ms": 10000})
    };
    let flow = id_of(&expect_status(
        &api,
        201,
        "POST",
        "/api/v1/flows",
        &admin,
        Some(json!({"name": "encodings", "namespace_id": namespace,
                    "definition": {"steps": [step("text", "/text"), step("json", "/json")]}})),
    ));
    let run = id_of(&expect_status(
        &api,
        202,
        "POST",
        &format!("/api/v1/flows/{flow}/runs"),
        &admin,
        None,
    ));
    let deadline = Instant::now() + Duration::from_secs(60);
    let done = loop {
        let answer = api.call("GET", &format!("/api/v1/runs/{run}"), Some(&admin), None);
        if matches!(answer.json["status"].as_str(), Some("succeeded" | "failed")) {
            break answer.json;
        }
        assert!(
            Instant::now() < deadline,
            "the run never finished: {}",
            answer.text
        );
        std::thread::sleep(Duration::from_millis(25));
    };
    assert_eq!(done["status"], "succeeded", "{done}");

    // The answers came back whole (not truncated), one mask per form.
    let text = done["steps"][0]["output"]["body"]
        .as_str()
        .expect("a text body");
    assert!(
        done["steps"][0]["output"].get("truncated").is_none(),
        "{done}"
    );
    assert_eq!(text.lines().count(), forms.len(), "{text}");
    for line in text.lines() {
        assert!(line.contains("***"), "every form is masked: {line}");
    }
    let object = done["steps"][1]["output"]["body"]
        .as_object()
        .expect("a JSON body");
    assert_eq!(object.len(), forms.len(), "{done}");
    for (name, masked) in object {
        let masked = masked.as_str().unwrap_or_default();
        assert!(masked.contains("***"), "{name}: {masked}");
    }
    let mut seen = Vec::new();
    strings(&done, &mut seen);
    let leaked: Vec<String> = seen.iter().flat_map(|text| leaks(text, &forms)).collect();
    assert!(leaked.is_empty(), "the run shows {leaked:?}: {done}");

    // The audit export, as the admin.
    let export = api.call(
        "GET",
        "/api/v1/audit/export?format=jsonl",
        Some(&admin),
        None,
    );
    assert_eq!(export.status, 200, "{}", export.text);
    assert!(
        export.text.contains("run.step_finished"),
        "the export holds the run"
    );
    let leaked = leaks(&export.text, &forms);
    assert!(leaked.is_empty(), "the audit export holds {leaked:?}");

    // The events, decoded and raw.
    let key = api.key.clone();
    api.server.stop();
    for raw in [false, true] {
        let dump = events_dump(&data_dir, &key, raw);
        assert!(
            dump.contains("run.step_finished") || raw,
            "the dump holds the run"
        );
        let leaked = leaks(&dump, &forms);
        assert!(leaked.is_empty(), "the events (raw: {raw}) hold {leaked:?}");
    }
}
