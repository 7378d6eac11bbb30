//! Shared helpers for the end-to-end tests: finding the binaries, running
//! `cairn` commands, starting and stopping a server, and reaching into a
//! stopped server's store to tamper with it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The `cairn` binary built by `cargo test --workspace`.
pub fn cairn_binary() -> PathBuf {
    // target/debug/deps/e2e-<hash> -> target/debug/cairn
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let bin = dir.join("cairn");
    let built = std::fs::metadata(&bin).and_then(|meta| meta.modified()).unwrap_or_else(|_| {
        panic!("{} is missing: run the tests with `bash scripts/test.sh` (cargo test --workspace builds it)", bin.display())
    });
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    for krate in ["schemas", "core", "projections", "audit", "app", "api"] {
        if let Some(newer) = newer_source(&root.join(krate).join("src"), built) {
            panic!(
                "{} is older than {}: `cargo test -p cairn-tests` does not rebuild it; run `bash scripts/test.sh` \
                 (or `cargo build -p cairn-api` first)",
                bin.display(),
                newer.display()
            );
        }
    }
    bin
}

fn newer_source(dir: &Path, than: std::time::SystemTime) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if let Some(found) = newer_source(&path, than) {
                return Some(found);
            }
        } else if entry
            .metadata()
            .and_then(|meta| meta.modified())
            .is_ok_and(|modified| modified > than)
        {
            return Some(path);
        }
    }
    None
}

/// The crash-safety harness binary.
pub fn harness_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cairn-log-harness"))
}

/// The Python interpreter that has the independent peers installed
/// (PyNaCl, cryptography, argon2-cffi, ...): `$CAIRN_TEST_PYTHON`, set by
/// scripts/test.sh.
pub fn python() -> PathBuf {
    match std::env::var_os("CAIRN_TEST_PYTHON") {
        Some(path) => PathBuf::from(path),
        None => panic!(
            "CAIRN_TEST_PYTHON is not set: run the tests with `bash scripts/test.sh`, which prepares the Python peers"
        ),
    }
}

/// The directory of the Python helper scripts.
pub fn py_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("py")
}

/// A fixed, valid master key for a test (URL-safe base64 of 32 bytes).
pub fn test_master_key(fill: u8) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([fill; 32])
}

/// A `cairn` command with a clean environment: only what the test sets.
pub fn cairn(data_dir: &Path) -> Command {
    let mut command = Command::new(cairn_binary());
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CAIRN_DATA_DIR", data_dir)
        .env("RUST_LOG", "info")
        .current_dir(data_dir.parent().unwrap_or(data_dir));
    command
}

/// Runs a `cairn` command to completion.
pub fn run(mut command: Command) -> Output {
    command.stdin(Stdio::null()).output().expect("run cairn")
}

/// stdout and stderr of an output, as text.
pub fn texts(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Asserts a failed command said exactly one `error:` line, did not panic,
/// and exited with `code`. Returns that line.
pub fn assert_one_error_line(output: &Output, code: i32) -> String {
    let (stdout, stderr) = texts(output);
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(!stderr.contains("panick"), "panicked: {stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "expected one error line, got: {stderr}");
    assert!(
        !stderr.lines().any(|line| line.contains(" ERROR ")),
        "extra error output: {stderr}"
    );
    errors[0].to_string()
}

/// The environment a server needs for runs whose http steps call a test
/// server on 127.0.0.1 (runs reach only public addresses by default).
pub const LOOPBACK_EGRESS: (&str, &str) = ("CAIRN_RUN_EGRESS_ALLOW", "127.0.0.1");

/// A running `cairn serve`, stopped (SIGTERM) on drop.
pub struct Server {
    child: Option<Child>,
    pub base_url: String,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `cairn serve` on a free loopback port and waits for /health 200.
    pub fn start(data_dir: &Path, envs: &[(&str, &str)]) -> Server {
        let mut command = cairn(data_dir);
        command.arg("serve").env("CAIRN_BIND", "127.0.0.1:0");
        for (key, value) in envs {
            command.env(key, value);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let stderr = child.stderr.take().expect("stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (address_tx, address_rx) = channel();
        {
            let lines = Arc::clone(&lines);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(rest) = line.split("listening on http://").nth(1) {
                        let _ = address_tx.send(
                            rest.split_whitespace()
                                .next()
                                .unwrap_or_default()
                                .to_string(),
                        );
                    }
                    lines.lock().expect("lines").push(line);
                }
            });
        }
        let address = match address_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "cairn serve did not start listening: {:?}",
                    lines.lock().expect("lines")
                );
            }
        };
        let server = Server {
            child: Some(child),
            base_url: format!("http://{address}"),
            stderr: lines,
        };
        server.wait_healthy();
        server
    }

    fn wait_healthy(&self) {
        let client = reqwest::blocking::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(response) = client.get(format!("{}/health", self.base_url)).send()
                && response.status() == 200
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "cairn serve never became healthy: {:?}",
            self.stderr_lines()
        );
    }

    /// GET a path, as JSON.
    pub fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = reqwest::blocking::get(format!("{}{path}", self.base_url)).expect("GET");
        let status = response.status().as_u16();
        (status, response.json().expect("json body"))
    }

    /// The server's process id (to read its CPU time in /proc).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).expect("running")
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lock().expect("lines").clone()
    }

    /// Stops the server with SIGTERM and returns its exit code.
    pub fn stop(mut self) -> Option<i32> {
        self.terminate()
    }

    fn terminate(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let pid = libc::pid_t::try_from(child.id()).expect("pid");
        send_signal(pid, libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("cairn serve did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sends a signal to a process.
pub fn send_signal(pid: libc::pid_t, signal: libc::c_int) {
    #[allow(unsafe_code)]
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe {
        libc::kill(pid, signal);
    }
}

/// Reads lines of a child's stdout on a thread, with their arrival time.
pub fn line_reader(stdout: std::process::ChildStdout) -> Receiver<(Instant, String)> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    rx
}

/// The sled database of a stopped server's data dir, opened with the same
/// configuration Cairn uses (sled refuses a different segment size).
pub fn open_sled(data_dir: &Path) -> sled::Db {
    sled::Config::new()
        .path(data_dir)
        .segment_size(8 * 1024 * 1024)
        .open()
        .expect("open sled")
}

/// Copies a data dir (a stopped server's) to a new temporary directory.
pub fn copy_data_dir(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().expect("tempdir");
    copy_tree(from, to.path());
    to
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// `cairn events dump` (plain or `--raw`) of a stopped server's data dir,
/// as text; the command must succeed.
pub fn events_dump(data_dir: &Path, key: &str, raw: bool) -> String {
    let mut command = cairn(data_dir);
    command
        .args(["events", "dump"])
        .env("CAIRN_MASTER_KEY", key);
    if raw {
        command.arg("--raw");
    }
    let output = run(command);
    let (stdout, stderr) = texts(&output);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    stdout
}

/// The events of a stopped server's data dir, one JSON value each.
pub fn events(data_dir: &Path, key: &str) -> Vec<serde_json::Value> {
    events_dump(data_dir, key, false)
        .lines()
        .map(|line| serde_json::from_str(line).expect("json line"))
        .collect()
}

/// Runs `tests/py/<script>` with `request` as JSON on stdin and returns its
/// JSON answer; the script must succeed.
pub fn run_python_peer(script: &str, request: &serde_json::Value) -> serde_json::Value {
    use std::io::Write;
    let path = py_dir().join(script);
    let mut child = Command::new(python())
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot start {}: {error}", python().display()));
    // The peers read all of stdin before writing anything, so writing first
    // cannot deadlock; dropping the handle closes their stdin.
    let mut stdin = child.stdin.take().expect("child stdin");
    stdin
        .write_all(request.to_string().as_bytes())
        .expect("write the request");
    drop(stdin);
    let output = child.wait_with_output().expect("wait for the python peer");
    assert!(
        output.status.success(),
        "{script} failed ({}):\nstderr:\n{}\nstdout:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout),
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "{script} printed invalid JSON ({error}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// Polls `probe` every 20 ms until it answers, for at most `limit`; the
/// panic names `what` was awaited. Tests wait with this, never with a
/// bare sleep.
pub fn wait_for<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// [`wait_for`] a condition.
pub fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    wait_for(what, limit, || done().then_some(()));
}
