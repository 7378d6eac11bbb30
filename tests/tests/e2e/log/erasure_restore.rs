//! Erasure that holds after a restore (issue 15, items 4, 5 and 8).
//!
//! - A backup taken before an erasure, restored into a data dir that kept
//!   its `erasures` ledger, does not bring the person back: `cairn
//!   restore` re-applies the ledger and says so, and nothing of the person
//!   is in the dump, an export or the console's API afterwards.
//! - A data dir rolled back by hand (the ledger kept) is erased again at
//!   start, with a warning.
//! - A ledger cut or edited is refused, naming the entry.
//! - A superuser's username is not left in clear in their personal org's
//!   name after their erasure.
//! - A guessed username no longer matches an erased user's login
//!   fingerprints.

use std::path::Path;

use serde_json::{Value, json};

use crate::server::api_client::{
    ADMIN_PASSWORD, ADMIN_USER, AdminServer, expect_status as ok, id_of,
};
use crate::support::{assert_one_error_line, cairn, events, events_dump, run, texts};

const PASSWORD: &str = "erase-restore-Pw#64kd";
const USERNAME: &str = "erin-canary-7d3f";
const EMAIL: &str = "erin.canary.7d3f@example.test";

/// Every answer the console reads that could show a person, as text.
fn console_answers(api: &AdminServer, token: &str, user: &str) -> String {
    let mut text = String::new();
    for path in [
        "/api/v1/users".to_string(),
        format!("/api/v1/users/{user}"),
        "/api/v1/orgs".to_string(),
        "/api/v1/groups".to_string(),
        "/api/v1/audit/events?limit=500".to_string(),
        "/api/v1/reports/activity".to_string(),
        "/api/v1/audit/export?format=jsonl".to_string(),
        "/api/v1/audit/export?format=ocsf".to_string(),
        "/api/v1/audit/export?format=cef".to_string(),
    ] {
        let answer = api.call("GET", &path, Some(token), None);
        text.push_str(&format!("{path} -> {}: {}\n", answer.status, answer.text));
    }
    text
}

/// The bytes of every file under `dir`, concatenated.
fn raw_files(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            bytes.extend(raw_files(&path));
        } else {
            bytes.extend(std::fs::read(&path).expect("read"));
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// Removes everything from a data dir but the files kept on restore.
fn wipe_except_kept(data: &Path) {
    for entry in std::fs::read_dir(data).expect("read_dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        if name == "erasures" || name == "anchor" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path).expect("remove dir");
        } else {
            std::fs::remove_file(&path).expect("remove file");
        }
    }
}

fn backup(api: &AdminServer, data: &Path, dir: &Path, token: &str) {
    let address = api
        .server
        .base_url
        .trim_start_matches("http://")
        .to_string();
    let mut command = cairn(data);
    command
        .arg("backup")
        .arg(dir)
        .env("CAIRN_MASTER_KEY", &api.key)
        .env("CAIRN_TOKEN", token)
        .env("CAIRN_BIND", &address);
    let output = run(command);
    assert_eq!(output.status.code(), Some(0), "{:?}", texts(&output));
}

fn restore(data: &Path, dir: &Path, key: &str, extra: &[&std::ffi::OsStr]) -> std::process::Output {
    let mut command = cairn(data);
    command
        .arg("restore")
        .arg(dir)
        .args(extra)
        .env("CAIRN_MASTER_KEY", key);
    run(command)
}

/// Creates erin (with an email), who logs in once; returns her id.
fn create_erin(api: &AdminServer, root: &str) -> String {
    let created = ok(
        api,
        201,
        "POST",
        "/api/v1/users",
        root,
        Some(
            json!({"username": USERNAME, "password": PASSWORD, "email": EMAIL, "is_active": true}),
        ),
    );
    api.login(USERNAME, PASSWORD);
    id_of(&created)
}

fn delete_and_erase(api: &AdminServer, root: &str, user: &str) {
    ok(
        api,
        204,
        "DELETE",
        &format!("/api/v1/users/{user}"),
        root,
        None,
    );
    ok(
        api,
        204,
        "POST",
        &format!("/api/v1/users/{user}/erase"),
        root,
        None,
    );
}

fn assert_nothing_of_erin(what: &str, text: &str) {
    for canary in [USERNAME, EMAIL] {
        assert!(!text.contains(canary), "{what} shows {canary:?}:\n{text}");
    }
}

#[test]
fn restoring_a_backup_taken_before_an_erasure_reapplies_the_erasure() {
    let temp = tempfile::tempdir().expect("tempdir");
    let data = temp.path().join("data");
    let backup_dir = temp.path().join("backup");
    let api = AdminServer::start(&data, &[]);
    let root = api.admin_token();
    let erin = create_erin(&api, &root);
    backup(&api, &data, &backup_dir, &root);

    delete_and_erase(&api, &root, &erin);
    let ledger = data.join("erasures");
    let bytes = std::fs::read(&ledger).expect("the erasure is in the ledger");
    assert_eq!(bytes.len(), 16 + 48, "one entry");
    assert!(
        !contains(&bytes, &erin) && !contains(&bytes, USERNAME),
        "ids only, in binary"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&ledger)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let key = api.key.clone();
    assert_eq!(api.server.stop(), Some(0));

    // The data dir is lost; its ledger was kept.
    wipe_except_kept(&data);

    // A ledger kept elsewhere that was cut short is refused, naming the
    // entry, and leaves the target as it found it.
    let cut = temp.path().join("cut-erasures");
    std::fs::write(&cut, &bytes[..bytes.len() - 1]).expect("write");
    // (The backup is older than the kept anchor: restoring it is a
    // rollback, which must be said.)
    let refused = restore(
        &data,
        &backup_dir,
        &key,
        &[
            "--allow-rollback".as_ref(),
            "--erasures".as_ref(),
            cut.as_os_str(),
        ],
    );
    let line = assert_one_error_line(&refused, 3);
    assert!(line.contains("entry 1"), "{line}");
    let mut left: Vec<_> = std::fs::read_dir(&data)
        .expect("read_dir")
        .map(|entry| entry.expect("entry").file_name())
        .collect();
    left.sort();
    assert_eq!(
        left,
        vec![
            std::ffi::OsString::from("anchor"),
            std::ffi::OsString::from("erasures")
        ]
    );

    // Anything else in the target is refused.
    std::fs::write(data.join("db"), b"stale").expect("write");
    let refused = restore(&data, &backup_dir, &key, &[]);
    let line = assert_one_error_line(&refused, 2);
    assert!(line.contains("\"db\""), "{line}");
    std::fs::remove_file(data.join("db")).expect("remove");

    let rollback = restore(&data, &backup_dir, &key, &[]);
    let line = assert_one_error_line(&rollback, 3);
    assert!(line.contains("--allow-rollback"), "{line}");
    let restored = restore(&data, &backup_dir, &key, &["--allow-rollback".as_ref()]);
    let (stdout, stderr) = texts(&restored);
    assert_eq!(restored.status.code(), Some(0), "{stdout}{stderr}");
    let line: Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert!(line["rolled_back_from"].as_u64().is_some(), "{line}");
    assert_eq!(line["erasures_reapplied"], 1, "{line}");
    assert_eq!(line["erasures_in_ledger"], 1, "{line}");

    assert_nothing_of_erin("the dump", &events_dump(&data, &key, false));
    assert_nothing_of_erin("the raw dump", &events_dump(&data, &key, true));
    let stored = raw_files(&data);
    assert!(
        !contains(&stored, USERNAME) && !contains(&stored, EMAIL),
        "the store's files hold erin in clear"
    );

    let api = AdminServer::start(&data, &[]);
    let root = api.admin_token();
    assert_nothing_of_erin("the console", &console_answers(&api, &root, &erin));
    // She cannot log in either: her credential died with her key.
    let login = api.call(
        "POST",
        "/api/v1/auth/login",
        None,
        Some(&json!({"username": USERNAME, "password": PASSWORD})),
    );
    assert_eq!(login.status, 401, "{}", login.text);
    assert!(
        !api.server
            .stderr_lines()
            .iter()
            .any(|line| line.contains("erasure ledger re-applied")),
        "restore already re-applied it: the start finds nothing to do"
    );
}

#[test]
fn a_rolled_back_data_dir_with_its_kept_ledger_is_erased_again_at_start() {
    let temp = tempfile::tempdir().expect("tempdir");
    let data = temp.path().join("data");
    let api = AdminServer::start(&data, &[]);
    let root = api.admin_token();
    let erin = create_erin(&api, &root);
    let key = api.key.clone();
    assert_eq!(api.server.stop(), Some(0));
    let before = crate::support::copy_data_dir(&data);

    let api = AdminServer::start(&data, &[]);
    let root = api.admin_token();
    delete_and_erase(&api, &root, &erin);
    assert_eq!(api.server.stop(), Some(0));

    // Roll the data dir back by hand, keeping the newer ledger.
    let kept = std::fs::read(data.join("erasures")).expect("ledger");
    std::fs::remove_dir_all(&data).expect("remove");
    let rolled_back = crate::support::copy_data_dir(before.path());
    std::fs::rename(rolled_back.keep(), &data).expect("move");
    std::fs::write(data.join("erasures"), kept).expect("write");

    let api = AdminServer::start(&data, &[]);
    assert!(
        api.server
            .stderr_lines()
            .iter()
            .any(|line| line.contains("erasure ledger re-applied")),
        "{:?}",
        api.server.stderr_lines()
    );
    let root = api.admin_token();
    assert_nothing_of_erin("the console", &console_answers(&api, &root, &erin));
    assert_eq!(api.server.stop(), Some(0));
    assert_nothing_of_erin("the dump", &events_dump(&data, &key, false));

    // A ledger edited on disk stops the start, naming the entry.
    let mut edited = std::fs::read(data.join("erasures")).expect("ledger");
    edited[20] ^= 1;
    std::fs::write(data.join("erasures"), edited).expect("write");
    let mut command = cairn(&data);
    command
        .arg("serve")
        .env("CAIRN_MASTER_KEY", &key)
        .env("CAIRN_BIND", "127.0.0.1:0");
    let line = assert_one_error_line(&run(command), 1);
    assert!(line.contains("entry 1"), "{line}");
}

#[test]
fn a_superusers_username_is_not_left_in_clear_after_erasure() {
    let temp = tempfile::tempdir().expect("tempdir");
    let data = temp.path().join("data");
    let api = AdminServer::start(&data, &[]);
    let root = api.admin_token();
    let orgs = ok(&api, 200, "GET", "/api/v1/orgs", &root, None);
    assert!(
        !orgs.text.contains(ADMIN_USER),
        "a personal org is named after its superuser: {}",
        orgs.text
    );
    assert_eq!(api.server.stop(), Some(0));

    // A second superuser, with their own personal org.
    let operator = "operator-canary-91c2";
    let strong = "operator-vN7#qL2!xR9p";
    let mut command = cairn(&data);
    command
        .args(["admin", "create-superuser", "--username", operator])
        .env("CAIRN_MASTER_KEY", test_key())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("spawn");
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{strong}\n").as_bytes())
            .expect("write");
    }
    let output = child.wait_with_output().expect("wait");
    assert_eq!(output.status.code(), Some(0), "{:?}", texts(&output));

    let api = AdminServer::start(&data, &[]);
    let root = api.login(ADMIN_USER, ADMIN_PASSWORD);
    let token = api.login(operator, strong);
    let me = ok(&api, 200, "GET", "/api/v1/auth/me", &token, None);
    let id = me.json["user"]["id"].as_str().expect("id").to_string();
    delete_and_erase(&api, &root, &id);
    assert_eq!(api.server.stop(), Some(0));

    let dump = events_dump(&data, &test_key(), false);
    assert!(!dump.contains(operator), "the dump shows {operator:?}");
    let raw = events_dump(&data, &test_key(), true);
    assert!(!raw.contains(operator), "the raw dump shows {operator:?}");
    assert!(
        !contains(&raw_files(&data), operator),
        "the store's files hold {operator:?} in clear"
    );
}

fn test_key() -> String {
    crate::support::test_master_key(0x33)
}

#[test]
fn a_guessed_username_no_longer_matches_an_erased_users_login_fingerprint() {
    let temp = tempfile::tempdir().expect("tempdir");
    let data = temp.path().join("data");
    let api = AdminServer::start(&data, &[]);
    let root = api.admin_token();
    let erin = create_erin(&api, &root);
    let wrong = json!({"username": USERNAME, "password": "not-her-password-1!"});
    let failed = api.call("POST", "/api/v1/auth/login", None, Some(&wrong));
    assert_eq!(failed.status, 401);
    delete_and_erase(&api, &root, &erin);
    // An attacker's guess at the erased person's name.
    let guess = api.call("POST", "/api/v1/auth/login", None, Some(&wrong));
    assert_eq!(guess.status, 401);
    let key = api.key.clone();
    assert_eq!(api.server.stop(), Some(0));

    let logins: Vec<(Value, String)> = events(&data, &key)
        .into_iter()
        .filter(|event| {
            event["action"] == "auth.login_failed" || event["action"] == "auth.login_succeeded"
        })
        .filter_map(|event| {
            let fingerprint = find_key(&event, "username_fingerprint")?;
            let user = find_key(&event, "user_id").unwrap_or_default();
            Some((json!(user), fingerprint))
        })
        .collect();
    let hers: Vec<&String> = logins
        .iter()
        .filter(|(user, _)| user == &json!(erin))
        .map(|(_, fingerprint)| fingerprint)
        .collect();
    assert_eq!(hers.len(), 2, "her success and her failure: {logins:?}");
    assert_eq!(hers[0], hers[1], "her logins correlate while she exists");
    let guessed = &logins.last().expect("the guess").1;
    assert_ne!(logins.last().expect("guess").0, json!(erin));
    assert!(
        !hers.contains(&guessed),
        "the guess's fingerprint matches the erased user's: {logins:?}"
    );
}

/// The first string value under `key` anywhere in `value`.
fn find_key(value: &Value, key: &str) -> Option<String> {
    match value {
        Value::Object(map) => map
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| map.values().find_map(|inner| find_key(inner, key))),
        Value::Array(items) => items.iter().find_map(|inner| find_key(inner, key)),
        _ => None,
    }
}
