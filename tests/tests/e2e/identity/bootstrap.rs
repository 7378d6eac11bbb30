//! The first superuser: the bootstrap variables by FerrFlow's rules, and
//! `cairn admin create-superuser` with the password on stdin.

use std::io::Write;
use std::process::Stdio;

use crate::server::api_client::{ADMIN_PASSWORD, ADMIN_USER, AdminServer};
use crate::support::{Server, assert_one_error_line, cairn, run, test_master_key, texts};

fn login_status(server: &AdminServer, username: &str, password: &str) -> u16 {
    server
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(&serde_json::json!({"username": username, "password": password})),
        )
        .status
}

fn dump_actions(data: &std::path::Path, key: &str) -> Vec<String> {
    crate::support::events(data, key)
        .iter()
        .map(|event| event["action"].as_str().expect("action").to_string())
        .collect()
}

#[test]
fn the_bootstrap_admin_is_created_once_and_never_logged_with_its_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let server = AdminServer::start(&data, &[]);
    assert_eq!(login_status(&server, ADMIN_USER, ADMIN_PASSWORD), 200);
    let stderr = server.server.stderr_lines().join("\n");
    assert!(stderr.contains(ADMIN_USER), "the username is logged");
    assert!(!stderr.contains(ADMIN_PASSWORD), "the password never is");
    let key = server.key.clone();
    assert_eq!(server.server.stop(), Some(0));

    // A second start with other bootstrap credentials is a no-op.
    let other_password = "another-vN7#qL2!xR9p";
    let server = Server::start(
        &data,
        &[
            ("CAIRN_MASTER_KEY", key.as_str()),
            ("CAIRN_DISABLE_AUTO_ADMIN", "false"),
            ("CAIRN_ADMIN_USER", "second-admin"),
            ("CAIRN_ADMIN_PASSWORD", other_password),
        ],
    );
    assert_eq!(server.stop(), Some(0));
    let actions = dump_actions(&data, &key);
    assert_eq!(
        actions
            .iter()
            .filter(|action| *action == "system.bootstrap_admin")
            .count(),
        1,
        "{actions:?}"
    );
    assert_eq!(
        actions
            .iter()
            .filter(|action| *action == "user.created")
            .count(),
        1
    );
}

#[test]
fn bootstrap_needs_both_variables_and_exactly_false() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = test_master_key(5);
    for (name, value) in [
        ("CAIRN_ADMIN_USER", "admin"),
        ("CAIRN_ADMIN_PASSWORD", ADMIN_PASSWORD),
    ] {
        let mut command = cairn(&dir.path().join("one-alone"));
        command
            .arg("serve")
            .env("CAIRN_BIND", "127.0.0.1:0")
            .env("CAIRN_MASTER_KEY", &key)
            .env(name, value);
        let line = assert_one_error_line(&run(command), 1);
        assert!(line.contains("set both or neither"), "{line}");
        assert!(!line.contains(ADMIN_PASSWORD));
    }
    // Anything but exactly `false` leaves the bootstrap off.
    let data = dir.path().join("off");
    let server = Server::start(
        &data,
        &[
            ("CAIRN_MASTER_KEY", key.as_str()),
            ("CAIRN_DISABLE_AUTO_ADMIN", "False"),
            ("CAIRN_ADMIN_USER", "admin"),
            ("CAIRN_ADMIN_PASSWORD", ADMIN_PASSWORD),
        ],
    );
    assert_eq!(server.stop(), Some(0));
    assert!(
        !dump_actions(&data, &key)
            .iter()
            .any(|action| action == "user.created")
    );
}

#[test]
fn a_weak_bootstrap_password_stops_the_start_without_echoing_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut command = cairn(&dir.path().join("data"));
    command
        .arg("serve")
        .env("CAIRN_BIND", "127.0.0.1:0")
        .env("CAIRN_MASTER_KEY", test_master_key(6))
        .env("CAIRN_DISABLE_AUTO_ADMIN", "false")
        .env("CAIRN_ADMIN_USER", "admin")
        .env("CAIRN_ADMIN_PASSWORD", "password1");
    let output = run(command);
    let line = assert_one_error_line(&output, 1);
    assert!(
        line.contains("CAIRN_ADMIN_PASSWORD does not meet the password policy"),
        "{line}"
    );
    assert!(!texts(&output).1.contains("password1"));
}

#[test]
fn create_superuser_reads_the_password_from_stdin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let key = test_master_key(7);
    // A data dir with a log (a first start, no bootstrap).
    let server = Server::start(&data, &[("CAIRN_MASTER_KEY", key.as_str())]);
    assert_eq!(server.stop(), Some(0));

    let create = |password: &str| {
        let mut command = cairn(&data);
        command
            .args(["admin", "create-superuser", "--username", "Operator"])
            .env("CAIRN_MASTER_KEY", &key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{password}\n").as_bytes())
            .expect("write");
        child.wait_with_output().expect("wait")
    };
    let weak = create("12345678");
    let line = assert_one_error_line(&weak, 1);
    assert!(line.contains("password"), "{line}");
    let strong = "operator-vN7#qL2!xR9p";
    let output = create(strong);
    assert_eq!(output.status.code(), Some(0), "{:?}", texts(&output));
    assert!(texts(&output).0.contains("created superuser Operator"));

    let server = AdminServer::start(&data, &[("CAIRN_MASTER_KEY", key.as_str())]);
    assert_eq!(login_status(&server, "operator", strong), 200);
    let token = server.login("operator", strong);
    let me = server.call("GET", "/api/v1/auth/me", Some(&token), None);
    assert_eq!(me.json["user"]["is_superuser"], true, "{}", me.text);
}
