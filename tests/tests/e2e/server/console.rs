//! Issue 8, the web console, end to end. The real `cairn` serves the
//! console on its own origin with a strict policy, and a real headless
//! Chromium (Debian's `/usr/bin/chromium`, driven by playwright-core from
//! `tests/browser/console.spec.mjs`) goes through it: the bootstrap admin
//! logs in, creates a user and a group, administers another user
//! (activation, role, password reset), shares a secret and a flow with the
//! group (and revokes a grant); an audit viewer, whose password the admin
//! reset, must first choose a new one (nothing else opens until then), then
//! sees the audit pages but not the users page; the user logs in, is sent away from the admin pages (and the API
//! refuses their calls), runs the flow and sees its output masked; the
//! admin finds the run in the audit log, exports it, and reads the access
//! review now and as of an earlier seq. Every page is checked for console
//! errors and at 390 px wide, and each step leaves screenshots in
//! `test-artifacts/console/`. This test then checks what the browser did
//! through the API: the run is the member's, masked, and the flow's http
//! step really sent the secret to the loopback server.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::flows::runs::Echo;
use crate::server::api_client::{ADMIN_PASSWORD, ADMIN_USER, AdminServer};

/// How long the browser may take for the whole walk-through.
const BROWSER_PATIENCE: Duration = Duration::from_secs(300);

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The browser test's directory, with its node modules installed (`npm ci`,
/// which scripts/test.sh runs).
fn browser_dir() -> PathBuf {
    let dir = repo_root().join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "tests/browser/node_modules is missing: run the tests with `bash scripts/test.sh` (it runs `npm ci` there)"
    );
    dir
}

fn chromium() -> String {
    let path = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&path).exists(),
        "{path} is missing: install Debian's chromium (`apt-get install chromium`; .ci/run does)"
    );
    path
}

/// Runs the browser walk-through against `base_url`; returns its summary.
fn walk_through(base_url: &str, echo_url: &str, secret: &str, artifacts: &Path) -> Value {
    let mut child = Command::new("node")
        .arg(browser_dir().join("console.spec.mjs"))
        .arg(base_url)
        .env("CAIRN_ADMIN_USER", ADMIN_USER)
        .env("CAIRN_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("CONSOLE_ECHO_URL", echo_url)
        .env("CONSOLE_SECRET_VALUE", secret)
        .env("CONSOLE_ARTIFACTS", artifacts)
        .env("CHROMIUM", chromium())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node (is Node.js installed?)");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + BROWSER_PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the browser walk-through took longer than {BROWSER_PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    assert!(
        status.success(),
        "the browser walk-through failed ({status}):\n{stderr}\n{stdout}"
    );
    let last = stdout.lines().last().unwrap_or_default();
    let summary: Value = serde_json::from_str(last)
        .unwrap_or_else(|_| panic!("no summary line from the browser: {stdout}\n{stderr}"));
    assert_eq!(summary["ok"], true, "{summary}\n{stderr}");
    summary
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {value}"))
}

#[test]
fn the_console_walks_through_admin_member_and_audit_in_chromium() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A checkpoint every second, so the audit page has a signed one.
    let api = AdminServer::start(
        &dir.path().join("data"),
        &[
            ("CAIRN_CHECKPOINT_INTERVAL", "1"),
            crate::support::LOOPBACK_EGRESS,
        ],
    );
    let echo = Echo::start();
    let secret = format!("console-canary-{:016x}", rand::random::<u64>());
    let artifacts = repo_root().join("test-artifacts/console");
    let _ = std::fs::remove_dir_all(&artifacts);

    let summary = walk_through(&api.server.base_url, &echo.url, &secret, &artifacts);

    // Every step left its screenshots, wide and narrow.
    let shots = summary["screenshots"].as_array().expect("screenshots");
    assert!(shots.len() >= 15, "{summary}");
    for stem in shots {
        let stem = stem.as_str().expect("stem");
        for suffix in ["", "-390"] {
            let file = artifacts.join(format!("{stem}{suffix}.png"));
            let size = std::fs::metadata(&file).map(|meta| meta.len()).unwrap_or(0);
            assert!(size > 1000, "{} is missing or empty", file.display());
        }
    }

    // What the browser did, seen through the API.
    let admin = api.admin_token();
    let users = api.call("GET", "/api/v1/users?limit=500", Some(&admin), None);
    let casey = users.json["items"]
        .as_array()
        .expect("users")
        .iter()
        .find(|user| user["username"] == "casey")
        .unwrap_or_else(|| panic!("the console created casey: {}", users.text));
    assert_eq!(casey["role"], "flow_executor", "{casey}");
    assert_eq!(casey["is_active"], true, "{casey}");
    let casey_id = text(casey, "id");
    let dana = users.json["items"]
        .as_array()
        .expect("users")
        .iter()
        .find(|user| user["username"] == "dana")
        .unwrap_or_else(|| panic!("the console created dana: {}", users.text));
    assert_eq!(
        dana["role"], "audit_viewer",
        "role set in the console: {dana}"
    );
    assert_eq!(dana["is_active"], true, "activated in the console: {dana}");
    // dana replaced the admin's temporary password in the console: the new
    // one is hers and final, the temporary one is gone.
    let chosen = text(&summary, "dana_password");
    let login = api.call(
        "POST",
        "/api/v1/auth/login",
        None,
        Some(&json!({"username": "dana", "password": chosen})),
    );
    assert_eq!(login.status, 200, "{}", login.text);
    assert_eq!(
        login.json["password_change_required"], false,
        "{}",
        login.text
    );
    let temporary = api.call(
        "POST",
        "/api/v1/auth/login",
        None,
        Some(&json!({"username": "dana", "password": "Granite-Fjord-27!mw"})),
    );
    assert_eq!(temporary.status, 401, "{}", temporary.text);

    let group = api.call(
        "GET",
        &format!("/api/v1/groups/{}", text(&summary, "group_id")),
        Some(&admin),
        None,
    );
    assert_eq!(group.json["name"], "operators", "{}", group.text);
    assert!(
        group.json["members"]
            .as_array()
            .expect("members")
            .iter()
            .any(|member| member["user_id"] == casey_id),
        "{}",
        group.text
    );

    let grants = api.call("GET", "/api/v1/grants?limit=500", Some(&admin), None);
    let flow_id = text(&summary, "flow_id");
    assert!(
        grants.json["items"]
            .as_array()
            .expect("grants")
            .iter()
            .any(|grant| grant["resource_id"] == flow_id
                && grant["grantee_id"] == group.json["id"]
                && grant["level"] == "use"),
        "the flow is shared with the group: {}",
        grants.text
    );
    assert!(
        !grants.text.contains(text(dana, "id")),
        "the grant to dana was revoked in the console: {}",
        grants.text
    );

    let run_id = text(&summary, "run_id");
    let run = api.call("GET", &format!("/api/v1/runs/{run_id}"), Some(&admin), None);
    assert_eq!(run.status, 200, "{}", run.text);
    assert_eq!(run.json["status"], "succeeded", "{}", run.text);
    assert_eq!(run.json["flow_id"], flow_id, "{}", run.text);
    assert_eq!(run.json["actor"]["user_id"], casey_id, "run as the member");
    assert!(run.text.contains("Bearer ***"), "{}", run.text);
    assert!(!run.text.contains(&secret), "stored masked: {}", run.text);
    assert_eq!(
        summary["run_event_actor"], casey_id,
        "the audit event found is theirs"
    );

    // The http step really sent the secret: the mask hides a real value.
    let heads = echo.heads().join("\n");
    assert!(
        heads.contains(&format!("Bearer {secret}")),
        "the echo server saw the secret: {heads}"
    );
}

#[test]
fn the_console_is_served_on_the_same_origin_with_a_strict_policy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api = AdminServer::start(&dir.path().join("data"), &[]);
    let client = reqwest::blocking::Client::new();
    let get = |path: &str| client.get(api.url(path)).send().expect("get");

    let shell = get("/");
    assert_eq!(shell.status(), 200);
    let csp = shell.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_string();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive}: {csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert!(
        shell.headers()["content-type"]
            .to_str()
            .is_ok_and(|value| value.starts_with("text/html")),
        "{:?}",
        shell.headers()
    );
    let html = shell.text().expect("html");
    assert!(
        !html.contains("<script>") && !html.contains("style="),
        "nothing inline"
    );

    // Everything the shell loads is served from /console/, with its type,
    // and revalidated by ETag.
    let references: Vec<&str> = html
        .split("\"/console/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert_eq!(references.len(), 3, "icon, stylesheet, app: {html}");
    for name in references {
        let answer = get(&format!("/console/{name}"));
        assert_eq!(answer.status(), 200, "{name}");
        let kind = answer.headers()["content-type"]
            .to_str()
            .expect("type")
            .to_string();
        let expected = match name.rsplit('.').next() {
            Some("js") => "text/javascript",
            Some("css") => "text/css",
            Some("svg") => "image/svg+xml",
            other => panic!("unexpected file type {other:?}"),
        };
        assert!(kind.starts_with(expected), "{name}: {kind}");
        assert_eq!(answer.headers()["cache-control"], "no-cache", "{name}");
        let etag = answer.headers()["etag"].clone();
        let again = client
            .get(api.url(&format!("/console/{name}")))
            .header("if-none-match", etag)
            .send()
            .expect("get");
        assert_eq!(again.status(), 304, "{name}");
        let body = answer.text().expect("body");
        assert!(
            !body.contains("https://") && !body.contains("//cdn"),
            "{name} fetches nothing from elsewhere"
        );
    }

    // An unknown file is a problem, like any unknown path.
    for path in ["/console/nope.js", "/console/app.js.map", "/console"] {
        let answer = get(path);
        assert_eq!(answer.status(), 404, "{path}");
        assert!(
            answer.headers()["content-type"]
                .to_str()
                .is_ok_and(|value| value.starts_with("application/problem+json")),
            "{path}"
        );
    }
}

#[test]
fn a_member_is_refused_admin_calls_made_with_the_console_cookie() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api = AdminServer::start(&dir.path().join("data"), &[]);
    let admin = api.admin_token();
    let password = "Velvet-Harbor-93!kq";
    api.create_user(&admin, "casey", password, "flow_executor");
    let login = reqwest::blocking::Client::new()
        .post(api.url("/api/v1/auth/login"))
        .json(&json!({"username": "casey", "password": password}))
        .send()
        .expect("login");
    assert_eq!(login.status(), 200);
    let cookies: Vec<String> = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|line| line.split(';').next())
        .map(str::to_string)
        .collect();
    let token = cookies
        .iter()
        .find_map(|pair| pair.strip_prefix("cairn_csrf="))
        .expect("csrf")
        .to_string();
    let cookie = cookies.join("; ");
    let client = reqwest::blocking::Client::new();
    let origin = api.url("");
    let send = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut request = client
            .request(method, api.url(path))
            .header("cookie", &cookie)
            .header("origin", &origin)
            .header("x-csrf-token", &token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().expect("send").status().as_u16()
    };
    // What the console's admin pages call, as the member.
    let refused = [
        (reqwest::Method::GET, "/api/v1/users", None),
        (
            reqwest::Method::POST,
            "/api/v1/users",
            Some(json!({"username": "mallory", "password": "Quartz-Lantern-61!x"})),
        ),
        (
            reqwest::Method::POST,
            "/api/v1/groups",
            Some(json!({"name": "mine"})),
        ),
        (reqwest::Method::GET, "/api/v1/audit/events", None),
        (reqwest::Method::GET, "/api/v1/audit/verify", None),
        (reqwest::Method::GET, "/api/v1/reports/access-review", None),
    ];
    for (method, path, body) in refused {
        let status = send(method.clone(), path, body);
        assert_eq!(status, 403, "{method} {path}");
    }
    // Their own session still works for what they may do.
    assert_eq!(send(reqwest::Method::GET, "/api/v1/auth/me", None), 200);
    assert_eq!(send(reqwest::Method::GET, "/api/v1/flows", None), 200);
}
