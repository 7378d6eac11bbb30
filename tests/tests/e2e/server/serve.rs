//! `cairn serve` and the offline commands through the real binary: health,
//! restarts, the master key rules, and bad input (one clear error line and
//! exit 1, never a panic).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use base64::Engine;

use crate::support::{self, Server, assert_one_error_line, cairn, run, test_master_key, texts};

fn dump(dir: &Path, key: &str) -> Vec<serde_json::Value> {
    support::events(dir, key)
}

#[test]
fn serves_health_and_records_each_start_with_a_final_checkpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let key = test_master_key(1);
    let server = Server::start(&data, &[("CAIRN_MASTER_KEY", &key)]);
    let (status, first) = server.get_json("/health");
    assert_eq!(status, 200);
    assert_eq!(first["status"], "ok");
    assert!(first["seq"].as_u64().expect("seq") >= 1);
    assert_eq!(server.stop(), Some(0));

    let server = Server::start(&data, &[("CAIRN_MASTER_KEY", &key)]);
    let (_, second) = server.get_json("/health");
    assert!(
        second["seq"].as_u64() > first["seq"].as_u64(),
        "{first} then {second}"
    );
    assert_eq!(server.stop(), Some(0));

    let events = dump(&data, &key);
    let actions: Vec<&str> = events
        .iter()
        .map(|event| event["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions
            .iter()
            .filter(|action| **action == "system.started")
            .count(),
        2,
        "{actions:?}"
    );
    assert_eq!(
        actions.last(),
        Some(&"checkpoint.signed"),
        "a clean stop ends with a checkpoint: {actions:?}"
    );
    let seqs: Vec<u64> = events
        .iter()
        .map(|event| event["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());

    let mut command = cairn(&data);
    command
        .args(["audit", "verify", "--json"])
        .env("CAIRN_MASTER_KEY", &key);
    let output = run(command);
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("json");
    assert_eq!(report["ok"], true);
    assert_eq!(report["first_bad"], serde_json::Value::Null);
    assert!(
        report["checkpoints_verified"].as_u64() >= Some(2),
        "{report}"
    );
}

#[test]
fn development_generates_a_private_key_once_and_warns_at_every_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let server = Server::start(&data, &[]);
    let key_file = data.join("master.key");
    let mode = std::fs::metadata(&key_file)
        .expect("master.key")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let key = std::fs::read_to_string(&key_file).expect("read");
    let warned = |server: &Server| {
        server
            .stderr_lines()
            .iter()
            .any(|line| line.contains("WARN") && line.contains("DEVELOPMENT MASTER KEY IN USE"))
    };
    assert!(warned(&server));
    assert!(
        !server
            .stderr_lines()
            .iter()
            .any(|line| line.contains(key.trim())),
        "the key itself is never logged"
    );
    assert_eq!(server.stop(), Some(0));

    let server = Server::start(&data, &[]);
    assert!(warned(&server), "the warning repeats at every start");
    assert_eq!(server.stop(), Some(0));
    assert_eq!(
        std::fs::read_to_string(&key_file).expect("read"),
        key,
        "generated once"
    );
}

#[test]
fn production_without_a_master_key_refuses_to_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut command = cairn(&data);
    command
        .arg("serve")
        .env("CAIRN_ENV", "production")
        .env("CAIRN_BIND", "127.0.0.1:0");
    let line = assert_one_error_line(&run(command), 1);
    assert!(
        line.contains("CAIRN_MASTER_KEY is not set") && line.contains("production"),
        "{line}"
    );
    assert!(!data.join("master.key").exists());
}

#[test]
fn a_malformed_master_key_is_one_clear_line_and_never_echoed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let short = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([7u8; 16]);
    let long = base64::engine::general_purpose::URL_SAFE.encode([7u8; 33]);
    for bad in [
        "not base64 at all!!",
        short.as_str(),
        long.as_str(),
        "AAAA*AAAA",
    ] {
        for args in [
            &["serve"][..],
            &["audit", "verify"][..],
            &["events", "dump"][..],
        ] {
            let mut command = cairn(&data);
            command
                .args(args)
                .env("CAIRN_MASTER_KEY", bad)
                .env("CAIRN_BIND", "127.0.0.1:0");
            let line = assert_one_error_line(&run(command), 1);
            assert!(
                line.contains("CAIRN_MASTER_KEY is malformed"),
                "{args:?} {bad}: {line}"
            );
            assert!(!line.contains(bad), "the key text is never echoed: {line}");
        }
    }
}

#[test]
fn a_wrong_master_key_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let server = Server::start(&data, &[("CAIRN_MASTER_KEY", &test_master_key(1))]);
    assert_eq!(server.stop(), Some(0));
    let other = test_master_key(2);
    for args in [
        &["serve"][..],
        &["audit", "verify"][..],
        &["events", "dump"][..],
    ] {
        let mut command = cairn(&data);
        command
            .args(args)
            .env("CAIRN_MASTER_KEY", &other)
            .env("CAIRN_BIND", "127.0.0.1:0");
        let line = assert_one_error_line(&run(command), 1);
        assert!(
            line.contains("not the one this data dir was created with"),
            "{args:?}: {line}"
        );
    }
}

fn assert_unusable(data: &Path, expected: &str) {
    for args in [
        &["serve"][..],
        &["audit", "verify"][..],
        &["events", "dump"][..],
    ] {
        let mut command = cairn(data);
        command
            .args(args)
            .env("CAIRN_MASTER_KEY", test_master_key(1))
            .env("CAIRN_BIND", "127.0.0.1:0");
        let line = assert_one_error_line(&run(command), 1);
        assert!(
            line.contains(expected),
            "{args:?}: expected {expected:?} in {line}"
        );
    }
}

#[test]
fn an_unusable_data_dir_is_one_clear_line() {
    let dir = tempfile::tempdir().expect("tempdir");

    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").expect("write");
    assert_unusable(&file, "is not a directory");

    let garbage = dir.path().join("garbage");
    std::fs::create_dir(&garbage).expect("mkdir");
    std::fs::write(garbage.join("conf"), b"segment_size: banana\n").expect("write");
    std::fs::write(garbage.join("db"), vec![0xA5u8; 64 * 1024]).expect("write");
    assert_unusable(&garbage, "cannot be read");

    let newer = dir.path().join("newer");
    let server = Server::start(&newer, &[("CAIRN_MASTER_KEY", &test_master_key(1))]);
    assert_eq!(server.stop(), Some(0));
    {
        let db = support::open_sled(&newer);
        db.open_tree("meta")
            .expect("meta")
            .insert(
                "format_version",
                &(cairn_core::log::store::STORE_FORMAT_VERSION + 1).to_be_bytes(),
            )
            .expect("insert");
        db.flush().expect("flush");
    }
    assert_unusable(&newer, "written by a newer Cairn");

    // Permissions do not stop root, so this case only means something for
    // other users.
    if unsafe_free_euid() != 0 {
        let locked = dir.path().join("locked");
        std::fs::create_dir(&locked).expect("mkdir");
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).expect("chmod");
        assert_unusable(&locked, "cannot be read");
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    }
}

fn unsafe_free_euid() -> u32 {
    std::fs::metadata("/proc/self")
        .map(|meta| std::os::unix::fs::MetadataExt::uid(&meta))
        .unwrap_or(0)
}

#[test]
fn offline_commands_say_so_while_the_server_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let key = test_master_key(3);
    let server = Server::start(&data, &[("CAIRN_MASTER_KEY", &key)]);
    for args in [
        &["audit", "verify"][..],
        &["events", "dump"][..],
        &["events", "tail"][..],
    ] {
        let mut command = cairn(&data);
        command.args(args).env("CAIRN_MASTER_KEY", &key);
        let line = assert_one_error_line(&run(command), 1);
        assert!(
            line.contains("in use by a running cairn server"),
            "{args:?}: {line}"
        );
    }
    assert_eq!(server.stop(), Some(0));
}

#[test]
fn keygen_prints_fresh_valid_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut keys = Vec::new();
    for _ in 0..2 {
        let mut command = cairn(dir.path());
        command.arg("keygen");
        let output = run(command);
        assert_eq!(output.status.code(), Some(0));
        let key = texts(&output).0.trim().to_string();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&key)
            .expect("url-safe base64");
        assert_eq!(bytes.len(), 32);
        keys.push(key);
    }
    assert_ne!(keys[0], keys[1]);
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = cairn(dir.path());
    command.args(["events", "dump", "--from", "minus-one"]);
    assert_eq!(run(command).status.code(), Some(2));
    let mut command = cairn(dir.path());
    command.arg("no-such-command");
    assert_eq!(run(command).status.code(), Some(2));
}
