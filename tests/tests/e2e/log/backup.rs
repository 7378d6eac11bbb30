//! `cairn backup DIR` and `cairn restore DIR`: a backup taken through a
//! running server while writers append restores to a log whose chain
//! verifies, whose head is at or after the moment the backup began, and
//! which `cairn serve` opens at the same head; a stopped server's data dir
//! is backed up directly; bad input is refused with one clear line.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::server::api_client::{ADMIN_PASSWORD, ADMIN_USER, AdminServer, call};
use crate::support::{Server, assert_one_error_line, cairn, events, run, texts, wait_until};

fn backup_command(data_dir: &Path, dir: &Path, key: &str) -> std::process::Command {
    let mut command = cairn(data_dir);
    command.arg("backup").arg(dir).env("CAIRN_MASTER_KEY", key);
    command
}

fn restore_command(target: &Path, dir: &Path, key: &str) -> std::process::Command {
    let mut command = cairn(target);
    command.arg("restore").arg(dir).env("CAIRN_MASTER_KEY", key);
    command
}

fn manifest(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("manifest.json")).expect("manifest.json");
    serde_json::from_str(&text).expect("manifest is JSON")
}

/// The hash of the record at `seq` in a stopped server's data dir.
fn hash_at(data_dir: &Path, key: &str, seq: u64) -> String {
    events(data_dir, key)
        .into_iter()
        .find(|event| event["seq"] == seq)
        .and_then(|event| event["hash"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no record {seq} in {}", data_dir.display()))
}

#[test]
fn a_backup_under_write_load_restores_verifies_and_serves_from_its_head() {
    let temp = tempfile::tempdir().expect("tempdir");
    let data = temp.path().join("data");
    let api = AdminServer::start(&data, &[("CAIRN_CHECKPOINT_EVERY", "25")]);
    let token = api.admin_token();

    // Writers: secret writes in a loop until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let stop = Arc::clone(&stop);
            let acknowledged = Arc::clone(&acknowledged);
            let url = api.url("/api/v1/secrets");
            let token = token.clone();
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let body = json!({"name": format!("w{writer}_{n}"), "value": format!("value-{writer}-{n}")});
                    let answer = call(&client, "POST", &url, Some(&token), Some(&body));
                    assert_eq!(answer.status, 201, "secret write: {}", answer.text);
                    acknowledged.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                }
                n
            })
        })
        .collect();
    wait_until("the writers to get going", Duration::from_secs(60), || {
        assert!(
            !writers.iter().any(|writer| writer.is_finished()),
            "a writer stopped early"
        );
        acknowledged.load(Ordering::Relaxed) >= 40
    });

    // The moment the backup begins: the durable head, and the writes so far.
    let head_before = api.seq();
    let writes_before = acknowledged.load(Ordering::Relaxed);
    let backup_dir = temp.path().join("backup");
    let address = api
        .server
        .base_url
        .trim_start_matches("http://")
        .to_string();
    let mut command = backup_command(&data, &backup_dir, &api.key);
    command
        .env("CAIRN_TOKEN", &token)
        .env("CAIRN_BIND", &address);
    let output = run(command);
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "backup: {stdout}\n{stderr}");
    assert!(
        !stdout.contains(&token) && !stderr.contains(&token),
        "the token leaked"
    );
    let writes_during = acknowledged.load(Ordering::Relaxed) - writes_before;
    stop.store(true, Ordering::Relaxed);
    let written: u64 = writers
        .into_iter()
        .map(|writer| writer.join().expect("writer"))
        .sum();
    assert!(
        writes_during > 0,
        "no write was acknowledged while the backup ran: it was not taken under load"
    );

    let manifest = manifest(&backup_dir);
    assert_eq!(manifest["format"], "cairn-backup/2");
    let backup_head = manifest["head"]["seq"].as_u64().expect("head seq");
    assert!(
        backup_head >= head_before,
        "the backup's head {backup_head} is before the moment it began ({head_before})"
    );
    assert!(manifest["entries"]["checkpoints"].as_u64().unwrap_or(0) > 0);
    let printed: Value = serde_json::from_str(stdout.trim()).expect("backup prints its manifest");
    assert_eq!(printed, manifest);

    // The backup is itself an event, after its head; then stop the source.
    let head_after = api.seq();
    assert!(head_after > backup_head);
    let key = api.key.clone();
    assert_eq!(api.server.stop(), Some(0));
    let source_events = events(&data, &key);
    let recorded = source_events
        .iter()
        .find(|event| event["action"] == "audit.exported" && event["details"]["format"] == "backup")
        .unwrap_or_else(|| panic!("no audit.exported event for the backup"));
    assert_eq!(recorded["details"]["to_seq"], backup_head);
    assert!(recorded["seq"].as_u64().expect("seq") > backup_head);
    assert_eq!(
        hash_at(&data, &key, backup_head),
        manifest["head"]["hash"].as_str().expect("hash")
    );

    // Restore into a fresh data dir: it verifies itself.
    let restored = temp.path().join("restored");
    let output = run(restore_command(&restored, &backup_dir, &key));
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "restore: {stdout}\n{stderr}");
    let report: Value = serde_json::from_str(stdout.trim()).expect("restore prints JSON");
    assert_eq!(report["ok"], true);
    assert_eq!(report["head"], manifest["head"]);
    assert_eq!(report["checked"], backup_head);

    // `cairn audit verify` agrees, independently.
    let mut verify = cairn(&restored);
    verify
        .args(["audit", "verify", "--json"])
        .env("CAIRN_MASTER_KEY", &key);
    let output = run(verify);
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "verify: {stdout}\n{stderr}");
    let verified: Value = serde_json::from_str(stdout.trim()).expect("verify json");
    assert_eq!(verified["ok"], true);
    assert_eq!(verified["head"], manifest["head"]);

    // `cairn serve` starts on it, at the same head plus its own
    // `system.started`, with the same record at the backup's head.
    let server = Server::start(&restored, &[("CAIRN_MASTER_KEY", key.as_str())]);
    let (status, health) = server.get_json("/health");
    assert_eq!(status, 200);
    let served = health["seq"].as_u64().expect("seq");
    assert!(
        served > backup_head,
        "served head {served} <= {backup_head}"
    );
    let client = reqwest::blocking::Client::new();
    let login = call(
        &client,
        "POST",
        &format!("{}/api/v1/auth/login", server.base_url),
        None,
        Some(&json!({"username": ADMIN_USER, "password": ADMIN_PASSWORD})),
    );
    assert_eq!(login.status, 200, "{}", login.text);
    let restored_token = login.json["access_token"].as_str().expect("token");
    let secrets = call(
        &client,
        "GET",
        &format!("{}/api/v1/secrets?limit=1", server.base_url),
        Some(restored_token),
        None,
    );
    assert_eq!(secrets.status, 200, "{}", secrets.text);
    assert_eq!(server.stop(), Some(0));
    assert_eq!(
        hash_at(&restored, &key, backup_head),
        manifest["head"]["hash"].as_str().expect("hash")
    );
    let restored_events = events(&restored, &key);
    assert_eq!(
        restored_events[backup_head as usize]["action"], "system.started",
        "the first record after the backup's head is the restored server's start"
    );
    assert!(written >= writes_before);
}

#[test]
fn a_stopped_servers_data_dir_is_backed_up_directly() {
    let temp = tempfile::tempdir().expect("tempdir");
    let data = temp.path().join("data");
    let api = AdminServer::start(&data, &[]);
    let token = api.admin_token();
    for n in 0..5 {
        let answer = api.call(
            "POST",
            "/api/v1/secrets",
            Some(&token),
            Some(&json!({"name": format!("s{n}"), "value": "v"})),
        );
        assert_eq!(answer.status, 201, "{}", answer.text);
    }
    let key = api.key.clone();
    assert_eq!(api.server.stop(), Some(0));
    let head = events(&data, &key).len() as u64;

    let backup_dir = temp.path().join("backup");
    let output = run(backup_command(&data, &backup_dir, &key));
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "backup: {stdout}\n{stderr}");
    let manifest = manifest(&backup_dir);
    assert_eq!(manifest["head"]["seq"], head);
    let after = events(&data, &key);
    assert_eq!(after.len() as u64, head + 1, "the backup is recorded");
    assert_eq!(after[head as usize]["action"], "audit.exported");

    let restored = temp.path().join("restored");
    let output = run(restore_command(&restored, &backup_dir, &key));
    assert_eq!(output.status.code(), Some(0), "{:?}", texts(&output));
    assert_eq!(
        hash_at(&restored, &key, head),
        manifest["head"]["hash"].as_str().expect("hash")
    );
}

#[test]
fn bad_backups_targets_keys_and_callers_are_refused_with_one_line() {
    let temp = tempfile::tempdir().expect("tempdir");
    let data = temp.path().join("data");
    let api = AdminServer::start(&data, &[]);
    let admin = api.admin_token();
    api.create_user(&admin, "plain-member", "member-pass-8Kq2#vW", "admin");
    let member = api.login("plain-member", "member-pass-8Kq2#vW");
    let address = api
        .server
        .base_url
        .trim_start_matches("http://")
        .to_string();

    // A caller who is not a superuser is refused by the server.
    let refused_dir = temp.path().join("refused");
    let mut command = backup_command(&data, &refused_dir, &api.key);
    command
        .env("CAIRN_TOKEN", &member)
        .env("CAIRN_BIND", &address);
    let line = assert_one_error_line(&run(command), 1);
    assert!(line.contains("403") && line.contains("superuser"), "{line}");
    assert_eq!(
        std::fs::read_dir(&refused_dir)
            .expect("refused dir")
            .count(),
        0,
        "a refused backup leaves nothing that could pass for one"
    );
    let direct = api.call("GET", "/api/v1/admin/backup", Some(&member), None);
    assert_eq!(direct.status, 403, "{}", direct.text);
    let anonymous = api.call("GET", "/api/v1/admin/backup", None, None);
    assert_eq!(anonymous.status, 401, "{}", anonymous.text);

    // Without a token, a running server's data dir cannot be copied.
    let line = assert_one_error_line(
        &run(backup_command(
            &data,
            &temp.path().join("no-token"),
            &api.key,
        )),
        1,
    );
    assert!(line.contains("CAIRN_TOKEN"), "{line}");

    // A good backup, for the restore cases.
    let backup_dir = temp.path().join("backup");
    let mut command = backup_command(&data, &backup_dir, &api.key);
    command
        .env("CAIRN_TOKEN", &admin)
        .env("CAIRN_BIND", &address);
    let output = run(command);
    assert_eq!(output.status.code(), Some(0), "{:?}", texts(&output));

    // A backup never goes into a non-empty directory.
    let line = assert_one_error_line(&run(backup_command(&data, &backup_dir, &api.key)), 2);
    assert!(line.contains("not empty"), "{line}");
    let key = api.key.clone();
    drop(api);

    // A restore never goes into a non-empty data dir.
    let line = assert_one_error_line(&run(restore_command(&data, &backup_dir, &key)), 2);
    assert!(line.contains("not empty"), "{line}");

    // Not a backup directory.
    let line = assert_one_error_line(
        &run(restore_command(&temp.path().join("r0"), temp.path(), &key)),
        2,
    );
    assert!(line.contains("manifest.json"), "{line}");

    // The wrong master key: refused, and nothing is left behind.
    let target = temp.path().join("r1");
    let wrong = crate::support::test_master_key(0x44);
    let output = run(restore_command(&target, &backup_dir, &wrong));
    let line = assert_one_error_line(&output, 1);
    assert!(line.contains("CAIRN_MASTER_KEY"), "{line}");
    assert!(
        !line.contains(&wrong) && !line.contains(&key),
        "a key leaked: {line}"
    );
    assert_eq!(std::fs::read_dir(&target).expect("r1").count(), 0);

    // A damaged stream: the digest gives it away.
    let damaged_dir = temp.path().join("damaged");
    std::fs::create_dir(&damaged_dir).expect("mkdir");
    std::fs::copy(
        backup_dir.join("manifest.json"),
        damaged_dir.join("manifest.json"),
    )
    .expect("copy");
    let mut bytes = std::fs::read(backup_dir.join("cairn-backup.bin")).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(damaged_dir.join("cairn-backup.bin"), &bytes).expect("write");
    let target = temp.path().join("r2");
    let line = assert_one_error_line(&run(restore_command(&target, &damaged_dir, &key)), 1);
    assert!(line.contains("not a valid Cairn backup"), "{line}");
    assert_eq!(std::fs::read_dir(&target).expect("r2").count(), 0);

    // The intact one restores.
    let output = run(restore_command(&temp.path().join("r3"), &backup_dir, &key));
    assert_eq!(output.status.code(), Some(0), "{:?}", texts(&output));
}
