//! Issue 15, item 8 (file modes): under a umask of 022 the data dir was
//! 0755 and `db`, snapshots and backups 0644, readable by every account on
//! the host. Everything Cairn writes must be its owner's alone: every
//! directory 0700, every file 0600, whatever the umask; a data dir left
//! open by an earlier version is narrowed at open, with a log line.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use crate::server::api_client::AdminServer;
use crate::support::{cairn, run, texts, wait_until};

/// Every entry under `root` (itself included) whose mode is not 0700 for
/// a directory or 0600 for a file, with its mode.
fn loose_entries(root: &Path) -> Vec<String> {
    let mut loose = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).expect("metadata");
        let mode = meta.permissions().mode() & 0o777;
        let wanted = if meta.is_dir() { 0o700 } else { 0o600 };
        if mode != wanted {
            loose.push(format!("{} {mode:o}", path.display()));
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).expect("list") {
                stack.push(entry.expect("entry").path());
            }
        }
    }
    loose
}

/// The umask every `cairn` this test starts inherits: the common default,
/// which left group and others able to read.
fn use_umask_022() {
    #[allow(unsafe_code)]
    // SAFETY: umask(2) has no memory-safety preconditions; 022 is the
    // default the other tests run under as well.
    unsafe {
        libc::umask(0o022);
    }
}

fn succeed(command: std::process::Command, what: &str) {
    let output = run(command);
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "{what}: {stdout}\n{stderr}");
}

#[test]
fn the_data_dir_snapshots_and_backups_are_private_whatever_the_umask() {
    use_umask_022();
    let temp = tempfile::tempdir().expect("tempdir");
    let data = temp.path().join("data");
    // A data dir as an earlier version left it: open to every account.
    std::fs::create_dir_all(data.join("snapshots")).expect("mkdir");
    for dir in [&data, &data.join("snapshots")] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    let api = AdminServer::start(&data, &[("CAIRN_SNAPSHOT_EVERY", "100")]);
    assert!(
        api.server
            .stderr_lines()
            .iter()
            .any(|line| line.contains("restricted it to its owner")),
        "no log line says the data dir was narrowed: {:?}",
        api.server.stderr_lines()
    );
    let root = api.admin_token();
    for _ in 0..120 {
        let missing = format!("/api/v1/users/{}", uuid::Uuid::now_v7());
        assert_eq!(api.call("GET", &missing, Some(&root), None).status, 404);
    }
    // A snapshot of the views is written every 100 events.
    wait_until("the data dir to settle", Duration::from_secs(60), || {
        std::fs::read_dir(data.join("snapshots"))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .any(|entry| entry.file_name().to_string_lossy().ends_with(".bin"))
            })
            .unwrap_or(false)
    });

    // A backup through the running server.
    let online = temp.path().join("backup-online");
    let address = api
        .server
        .base_url
        .trim_start_matches("http://")
        .to_string();
    let mut command = cairn(&data);
    command
        .arg("backup")
        .arg(&online)
        .env("CAIRN_MASTER_KEY", &api.key)
        .env("CAIRN_TOKEN", &root)
        .env("CAIRN_BIND", &address);
    succeed(command, "backup through the server");
    let key = api.key.clone();
    api.server.stop();

    // A backup of the stopped data dir, into an empty directory given by
    // the caller (created 0755 under this umask).
    let offline = temp.path().join("backup-offline");
    std::fs::create_dir(&offline).expect("mkdir");
    let mut command = cairn(&data);
    command
        .arg("backup")
        .arg(&offline)
        .env("CAIRN_MASTER_KEY", &key);
    succeed(command, "backup of the stopped data dir");

    // And a restore of it into a new data dir.
    let restored = temp.path().join("restored");
    let mut command = cairn(&restored);
    command
        .arg("restore")
        .arg(&offline)
        .env("CAIRN_MASTER_KEY", &key);
    succeed(command, "restore");

    for root in [&data, &online, &offline, &restored] {
        let loose = loose_entries(root);
        assert!(loose.is_empty(), "readable by others: {loose:?}");
    }
    assert!(data.join("db").exists() && restored.join("db").exists());
}
