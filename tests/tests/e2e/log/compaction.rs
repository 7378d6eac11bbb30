//! Issue 15, item 7: retention left dropped payloads in sled's files (the
//! old page images of the records it rewrote). After a prune and its
//! compaction, no dropped payload may be found in any file under the data
//! dir: the server compacts after each prune, and `cairn compact` does it
//! on a stopped data dir (refusing while the server runs).
//!
//! Only the operational class can be pruned in a test run (the others
//! have floors of days; the secret ciphertexts of the security class are
//! covered below HTTP on a manual clock, `api/tests/compaction.rs`). The
//! payloads each test collects are those of refused requests to
//! `/api/v1/users/<a fresh id>`: the id appears nowhere but in the payload.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

use crate::server::api_client::{AdminServer, expect_status as ok};
use crate::support::{assert_one_error_line, cairn, events_dump, run, texts, wait_for};

const RETENTION: &str = "/api/v1/audit/retention";

/// Every file under `dir`, with its bytes.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).expect("metadata");
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).expect("list") {
                stack.push(entry.expect("entry").path());
            }
        } else if meta.is_file() {
            found.push((path.clone(), std::fs::read(&path).expect("read")));
        }
    }
    found
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Where the needles are found in the files under `dir`: (needle's seq,
/// file) pairs. Each needle is a 32-byte slice of one payload; one pass
/// over each file looks for all of them.
fn found_in_files(dir: &Path, needles: &BTreeMap<u64, [u8; 32]>) -> Vec<(u64, PathBuf)> {
    let by_bytes: HashMap<[u8; 32], u64> = needles
        .iter()
        .map(|(seq, needle)| (*needle, *seq))
        .collect();
    let mut found = BTreeSet::new();
    for (path, bytes) in files_under(dir) {
        for window in bytes.windows(32) {
            if let Ok(window) = <[u8; 32]>::try_from(window)
                && let Some(seq) = by_bytes.get(&window)
            {
                found.insert((*seq, path.clone()));
            }
        }
    }
    found.into_iter().collect()
}

/// A stopped server's data dir with 150 refused requests whose payloads a
/// count limit of 100 will drop in part. Returns, per seq, the stored
/// payload's bytes (from `cairn events dump --raw`) and the path it names.
fn log_with_requests(data: &Path, extra: &[(&str, &str)]) -> BTreeMap<u64, (Vec<u8>, String)> {
    let api = AdminServer::start(data, extra);
    let root = api.admin_token();
    let mut paths = Vec::new();
    for _ in 0..150 {
        let path = format!("/api/v1/users/{}", uuid::Uuid::now_v7());
        assert_eq!(api.call("GET", &path, Some(&root), None).status, 404);
        paths.push(path);
    }
    // A secret created, changed and deleted: security events the policy
    // keeps (their floor is 90 days), among the ones it prunes.
    let created = ok(
        &api,
        201,
        "POST",
        "/api/v1/secrets",
        &root,
        Some(json!({"name": "ROTATED", "value": "first-value-6c1d9e"})),
    )
    .json;
    let id = created["id"].as_str().expect("secret id").to_string();
    let key = api.key.clone();
    api.server.stop();

    let mut payloads = BTreeMap::new();
    for line in events_dump(data, &key, true).lines() {
        let event: Value = serde_json::from_str(line).expect("json line");
        if event["action"] != "http.request" {
            continue;
        }
        let Some(encoded) = event["raw"]["payload"].as_str() else {
            continue;
        };
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(encoded)
            .expect("base64 payload");
        if let Some(path) = paths.iter().find(|path| contains(&bytes, path.as_bytes())) {
            payloads.insert(event["seq"].as_u64().expect("seq"), (bytes, path.clone()));
        }
    }
    assert_eq!(payloads.len(), 150, "every request's payload was read");
    assert!(!id.is_empty());
    payloads
}

/// Restarts the server and sets a policy that keeps the newest 100
/// operational payloads; returns the running server and the operational
/// horizon once the prune is recorded.
fn prune(data: &Path, extra: &[(&str, &str)]) -> (AdminServer, u64) {
    let api = AdminServer::start(data, extra);
    let root = api.admin_token();
    let policy = json!({
        "security": {"cadence_secs": 86400, "max_age_days": 400, "max_count": null},
        "activity": {"cadence_secs": 86400, "max_age_days": 90, "max_count": null},
        "operational": {"cadence_secs": 60, "max_age_days": 1, "max_count": 100},
    });
    ok(&api, 200, "PUT", RETENTION, &root, Some(policy));
    let horizon = wait_for("the compaction", Duration::from_secs(60), || {
        let status = ok(&api, 200, "GET", RETENTION, &root, None).json;
        if status["last_prune"].is_null() {
            return None;
        }
        status["classes"]
            .as_array()
            .expect("classes")
            .iter()
            .find(|class| class["class"] == "operational")
            .and_then(|class| class["pruned_up_to_seq"].as_u64())
    });
    (api, horizon)
}

/// The 32 bytes that end the path each payload names (part of a fresh id,
/// found nowhere else), for the payloads with seq in `seqs`. The payload
/// read from the store holds them: finding them finds what is left of it.
fn needles(
    payloads: &BTreeMap<u64, (Vec<u8>, String)>,
    seqs: impl Fn(u64) -> bool,
) -> BTreeMap<u64, [u8; 32]> {
    payloads
        .iter()
        .filter(|(seq, _)| seqs(**seq))
        .map(|(seq, (bytes, path))| {
            let tail = &path.as_bytes()[path.len() - 32..];
            assert!(contains(bytes, tail), "the payload of {seq} names its path");
            (*seq, <[u8; 32]>::try_from(tail).expect("32 bytes"))
        })
        .collect()
}

/// The needles of the payloads the prune dropped (at least 50 of them).
fn dropped_needles(
    payloads: &BTreeMap<u64, (Vec<u8>, String)>,
    horizon: u64,
) -> BTreeMap<u64, [u8; 32]> {
    let dropped = needles(payloads, |seq| seq <= horizon);
    assert!(
        dropped.len() >= 50,
        "the prune dropped {} of the requests' payloads",
        dropped.len()
    );
    dropped
}

fn verify_chain(data: &Path, key: &str) {
    let mut command = cairn(data);
    command
        .args(["audit", "verify"])
        .env("CAIRN_MASTER_KEY", key);
    let output = run(command);
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
}

#[test]
fn retention_leaves_no_dropped_payload_in_the_store_files_after_its_compaction() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let payloads = log_with_requests(&data, &[]);
    let (api, horizon) = prune(&data, &[]);
    // The pass compacts after the prune, and says so in the server's log.
    wait_for("the compaction", Duration::from_secs(60), || {
        api.server
            .stderr_lines()
            .iter()
            .any(|line| line.contains("retention.compacted"))
            .then_some(())
    });
    let root = api.admin_token();
    let status = ok(&api, 200, "GET", RETENTION, &root, None).json;
    assert_eq!(status["compaction_pending"], false, "{status}");
    let key = api.key.clone();
    api.server.stop();

    let dropped = dropped_needles(&payloads, horizon);
    let found = found_in_files(&data, &dropped);
    assert!(
        found.is_empty(),
        "dropped payloads still in the store's files: {found:?}"
    );
    // What the policy kept is still there, found by the same search.
    let kept = needles(&payloads, |seq| seq > horizon);
    assert!(!kept.is_empty());
    let kept_found = found_in_files(&data, &kept);
    assert!(
        kept.keys()
            .all(|seq| kept_found.iter().any(|(found, _)| found == seq)),
        "a kept payload is missing from the store"
    );
    verify_chain(&data, &key);
}

#[test]
fn cairn_compact_removes_what_a_prune_dropped_from_a_stopped_data_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let off = [("CAIRN_RETENTION_COMPACT", "false")];
    let payloads = log_with_requests(&data, &off);
    let (api, horizon) = prune(&data, &off);
    wait_for("the compaction", Duration::from_secs(60), || {
        api.server
            .stderr_lines()
            .iter()
            .any(|line| line.contains("CAIRN_RETENTION_COMPACT is off"))
            .then_some(())
    });
    // The API says the dropped payloads are still in the files.
    let root = api.admin_token();
    let status = ok(&api, 200, "GET", RETENTION, &root, None).json;
    assert_eq!(status["compaction_pending"], true, "{status}");

    // While the server runs, the command refuses, in one line.
    let mut command = cairn(&data);
    command.arg("compact");
    let line = assert_one_error_line(&run(command), 1);
    assert!(line.contains("in use by a running cairn server"), "{line}");

    let key = api.key.clone();
    api.server.stop();
    let dropped = dropped_needles(&payloads, horizon);
    // Without a compaction the dropped payloads are still in sled's files:
    // the weakness, and proof that the search below can find them.
    assert!(
        !found_in_files(&data, &dropped).is_empty(),
        "the prune alone left nothing behind: the search cannot fail"
    );

    let mut command = cairn(&data);
    command.arg("compact");
    let output = run(command);
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    let report: Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(report["compacted"], true, "{report}");
    assert_eq!(report["dropped_payloads_were_pending"], true, "{report}");

    let found = found_in_files(&data, &dropped);
    assert!(
        found.is_empty(),
        "dropped payloads still in the store's files: {found:?}"
    );
    for leftover in ["db.compacting", "db.compact", "db.old"] {
        assert!(!data.join(leftover).exists(), "{leftover} left behind");
    }
    verify_chain(&data, &key);
    // The compacted store serves again, with its events.
    let api = AdminServer::start(&data, &off);
    let root = api.admin_token();
    let page = ok(
        &api,
        200,
        "GET",
        "/api/v1/audit/events?action=http.request&limit=5",
        &root,
        None,
    )
    .json;
    assert_eq!(page["items"][0]["details"], json!({"pruned": true}));
    let status = ok(&api, 200, "GET", RETENTION, &root, None).json;
    assert_eq!(status["compaction_pending"], false, "{status}");
}
