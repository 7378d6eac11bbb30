//! Issue 14, items 3 and 4: where a run's http step may connect.
//!
//! By default a step reaches public unicast addresses only: every loopback,
//! private, link-local, CGNAT, unique-local, multicast, unspecified,
//! broadcast and reserved address, in its IPv4, IPv6, IPv4-mapped and
//! embedded forms and behind a host name, is refused before anything is
//! sent, with the rule and the address named; listeners on loopback count
//! no connection. No traffic goes to a non-loopback address: those are
//! refused before any connect, so they fail at once with the egress
//! reason, never with a connect timeout. `CAIRN_RUN_EGRESS_ALLOW` opens an
//! exception, but never for the server's own listen address: a run can
//! not copy a shared secret into a secret of its invoker through Cairn's
//! own API.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::server::api_client::{AdminServer, expect_status, id_of};

/// How long a test waits for a run.
const PATIENCE: Duration = Duration::from_secs(60);

/// A loopback listener that counts the connections it accepts and answers
/// each with a small 200.
struct Counter {
    port: u16,
    accepted: Arc<AtomicUsize>,
}

impl Counter {
    fn bind(address: &str) -> Option<Counter> {
        let listener = TcpListener::bind(address).ok()?;
        let port = listener.local_addr().ok()?.port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&accepted);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                counted.fetch_add(1, Ordering::SeqCst);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buffer = [0u8; 4096];
                let _ = stream.read(&mut buffer);
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\nconnection: close\r\n\r\nreached",
                );
            }
        });
        Some(Counter { port, accepted })
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Creates a flow of one http step to `url` in `namespace`, runs it as
/// `token`'s user and returns the finished run.
fn run_one_step(api: &AdminServer, token: &str, namespace: &str, step: Value) -> Value {
    let definition = json!({"steps": [step]});
    let flow = id_of(&expect_status(
        api,
        201,
        "POST",
        "/api/v1/flows",
        token,
        Some(
            json!({"name": format!("egress-{}", uuid::Uuid::now_v7().simple()),
                    "namespace_id": namespace, "definition": definition}),
        ),
    ));
    let run = id_of(&expect_status(
        api,
        202,
        "POST",
        &format!("/api/v1/flows/{flow}/runs"),
        token,
        None,
    ));
    wait_for(api, token, &run)
}

fn wait_for(api: &AdminServer, token: &str, run: &str) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let answer = api.call("GET", &format!("/api/v1/runs/{run}"), Some(token), None);
        assert_eq!(answer.status, 200, "GET run: {}", answer.text);
        if matches!(
            answer.json["status"].as_str(),
            Some("succeeded" | "failed" | "denied")
        ) {
            return answer.json;
        }
        assert!(
            Instant::now() < deadline,
            "the run never finished: {}",
            answer.text
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn namespace(api: &AdminServer, token: &str) -> String {
    id_of(&expect_status(
        api,
        201,
        "POST",
        "/api/v1/namespaces",
        token,
        Some(json!({"name": format!("egress-{}", uuid::Uuid::now_v7().simple())})),
    ))
}

fn get_step(url: &str) -> Value {
    // A long timeout: a refusal must come from the policy at once, not
    // from a connection that never completes.
    json!({"id": "call", "type": "http", "method": "GET", "url": url, "timeout_ms": 30000})
}

/// Asserts the run failed with an egress refusal naming `rule` and
/// `address`, in the run's error and in the step's recorded failure.
fn assert_refused(run: &Value, url: &str, rule: &str, address: &str) {
    assert_eq!(run["status"], "failed", "{url}: {run}");
    let error = run["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("egress refused") && error.contains(rule) && error.contains(address),
        "{url}: the error names the rule {rule:?} and {address}: {error}"
    );
    let step = &run["steps"][0];
    assert_eq!(step["status"], "failed", "{url}: {run}");
    let recorded = step["output"]["error"].as_str().unwrap_or_default();
    assert!(
        recorded.contains("egress refused") && recorded.contains(rule),
        "{url}: the step's failure names the rule: {run}"
    );
    assert!(
        step["output"].get("status").is_none(),
        "{url}: nothing was answered because nothing was sent: {run}"
    );
}

/// Must-show 3: the egress table, against the real binary with the
/// default policy, then an allowlisted exception.
#[test]
fn ssrf_http_steps_reach_no_loopback_private_or_link_local_address_by_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api = AdminServer::start(&dir.path().join("data"), &[]);
    let admin = api.admin_token();
    let namespace = namespace(&api, &admin);

    let v4 = Counter::bind("127.0.0.1:0").expect("a loopback listener");
    let second = Counter::bind("127.0.0.2:0");
    let v6 = Counter::bind("[::1]:0");
    let p = v4.port;
    let p6 = v6.as_ref().map_or(p, |counter| counter.port);
    let p2 = second.as_ref().map_or(p, |counter| counter.port);

    // (url, the rule named, the address named)
    let table: Vec<(String, &str, &str)> = vec![
        // Loopback, in every spelling that lands on a listener of ours.
        (format!("http://127.0.0.1:{p}/"), "loopback", "127.0.0.1"),
        (format!("http://127.0.0.2:{p2}/"), "loopback", "127.0.0.2"),
        (format!("http://[::1]:{p6}/"), "loopback", "::1"),
        (
            format!("http://[::ffff:127.0.0.1]:{p}/"),
            "loopback",
            "::ffff:127.0.0.1",
        ),
        (
            format!("http://[::127.0.0.1]:{p}/"),
            "loopback",
            "127.0.0.1",
        ),
        // A name: whichever of its loopback addresses comes first is named.
        (format!("http://localhost:{p}/"), "loopback", ""),
        (format!("http://LocalHost:{p6}/x"), "loopback", ""),
        (format!("http://2130706433:{p}/"), "loopback", "127.0.0.1"),
        (format!("http://0x7f.1:{p}/"), "loopback", "127.0.0.1"),
        (format!("http://0.0.0.0:{p}/"), "unspecified", "0.0.0.0"),
        (format!("http://[::]:{p6}/"), "unspecified", "::"),
        (
            format!("http://[::ffff:0.0.0.0]:{p}/"),
            "unspecified",
            "::ffff:0.0.0.0",
        ),
        // Unroutable here: refused before any connect.
        (
            "http://10.0.0.5/".into(),
            "private range (RFC 1918)",
            "10.0.0.5",
        ),
        (
            "http://172.16.0.1/".into(),
            "private range (RFC 1918)",
            "172.16.0.1",
        ),
        (
            "http://192.168.0.1/".into(),
            "private range (RFC 1918)",
            "192.168.0.1",
        ),
        (
            "http://[::ffff:10.0.0.5]/".into(),
            "private range (RFC 1918)",
            "::ffff:10.0.0.5",
        ),
        ("http://100.64.0.1/".into(), "CGNAT", "100.64.0.1"),
        (
            "http://169.254.169.254/latest/meta-data/".into(),
            "link-local",
            "169.254.169.254",
        ),
        (
            "http://[::ffff:169.254.169.254]/".into(),
            "link-local",
            "::ffff:169.254.169.254",
        ),
        (
            "http://[64:ff9b::a9fe:a9fe]/".into(),
            "link-local",
            "64:ff9b::a9fe:a9fe",
        ),
        ("http://[fe80::1]/".into(), "link-local", "fe80::1"),
        ("http://[fd00::1]/".into(), "unique local", "fd00::1"),
        ("http://[fc00::1]/".into(), "unique local", "fc00::1"),
        ("http://224.0.0.1/".into(), "multicast", "224.0.0.1"),
        ("http://[ff02::1]/".into(), "multicast", "ff02::1"),
        (
            "http://255.255.255.255/".into(),
            "broadcast",
            "255.255.255.255",
        ),
        ("http://192.0.2.1/".into(), "documentation", "192.0.2.1"),
        ("http://240.0.0.1/".into(), "reserved", "240.0.0.1"),
        (
            "https://10.1.2.3:8443/".into(),
            "private range (RFC 1918)",
            "10.1.2.3",
        ),
    ];
    for (url, rule, address) in &table {
        let started = Instant::now();
        let run = run_one_step(&api, &admin, &namespace, get_step(url));
        assert_refused(&run, url, rule, address);
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{url}: refused at once, not after a connect timeout"
        );
    }
    assert_eq!(v4.accepted(), 0, "a refused step reached 127.0.0.1");
    if let Some(second) = &second {
        assert_eq!(second.accepted(), 0, "a refused step reached 127.0.0.2");
    }
    if let Some(v6) = &v6 {
        assert_eq!(v6.accepted(), 0, "a refused step reached ::1");
    }
    drop(api);

    // An exception: 127.0.0.1/32 and the name `localhost` reach the
    // listener; 127.0.0.2 stays refused (outside the /32).
    let dir = tempfile::tempdir().expect("tempdir");
    let api = AdminServer::start(
        &dir.path().join("data"),
        &[("CAIRN_RUN_EGRESS_ALLOW", "127.0.0.1/32, localhost")],
    );
    let admin = api.admin_token();
    let namespace = self::namespace(&api, &admin);
    for url in [
        format!("http://127.0.0.1:{p}/allowed"),
        format!("http://[::ffff:127.0.0.1]:{p}/allowed"),
        format!("http://localhost:{p}/allowed"),
    ] {
        let before = v4.accepted();
        let run = run_one_step(&api, &admin, &namespace, get_step(&url));
        assert_eq!(run["status"], "succeeded", "{url}: {run}");
        assert_eq!(run["steps"][0]["output"]["body"], "reached", "{url}: {run}");
        assert_eq!(v4.accepted(), before + 1, "{url} reached the listener once");
    }
    if let Some(second) = &second {
        let url = format!("http://127.0.0.2:{p2}/");
        let run = run_one_step(&api, &admin, &namespace, get_step(&url));
        assert_refused(&run, &url, "loopback", "127.0.0.2");
        assert_eq!(second.accepted(), 0, "127.0.0.2 is outside the /32");
    }
}

/// Alice's secret `TOKEN` (a fresh canary value), shared with bob at
/// `use`, and a namespace of bob's to run his flows in.
struct SharedSecret {
    bob: String,
    bob_token: String,
    canary: String,
    namespace: String,
}

fn share_a_secret_with_bob(api: &AdminServer) -> SharedSecret {
    let admin = api.admin_token();
    let alice_password = "egress-alice-Pw#7731-quartz";
    let bob_password = "egress-bob-Pw#7731-quartz";
    api.create_user(&admin, "alice", alice_password, "flow_editor");
    let bob = api.create_user(&admin, "bob", bob_password, "flow_editor");
    let alice_token = api.login("alice", alice_password);
    let bob_token = api.login("bob", bob_password);
    let canary = format!("copy-canary-{}", uuid::Uuid::now_v7().simple());
    let secret = id_of(&expect_status(
        api,
        201,
        "POST",
        "/api/v1/secrets",
        &alice_token,
        Some(json!({"name": "TOKEN", "value": canary})),
    ));
    expect_status(
        api,
        201,
        "POST",
        "/api/v1/grants",
        &alice_token,
        Some(json!({"resource_type": "secret", "resource_id": secret,
                    "grantee_type": "user", "grantee_id": bob, "level": "use"})),
    );
    let namespace = namespace(api, &bob_token);
    SharedSecret {
        bob,
        bob_token,
        canary,
        namespace,
    }
}

/// Item 4: a `use` grantee cannot copy a shared secret into a secret of
/// their own by having a run POST it to Cairn's own API: the server's own
/// listen address is refused, even when the allowlist covers loopback.
#[test]
fn a_use_grantee_cannot_copy_a_shared_secret_through_cairns_own_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api = AdminServer::start(
        &dir.path().join("data"),
        &[("CAIRN_RUN_EGRESS_ALLOW", "127.0.0.0/8,::1,localhost")],
    );
    let SharedSecret {
        bob,
        bob_token,
        canary: _,
        namespace,
    } = share_a_secret_with_bob(&api);
    let own = api
        .server
        .base_url
        .trim_start_matches("http://")
        .to_string();
    let port = own.rsplit(':').next().expect("a port").to_string();
    for (index, base) in [
        format!("http://{own}"),
        format!("http://localhost:{port}"),
        format!("http://[::ffff:127.0.0.1]:{port}"),
    ]
    .iter()
    .enumerate()
    {
        let step = json!({"id": "copy", "type": "http", "method": "POST",
            "url": format!("{base}/api/v1/secrets"),
            "headers": {"Authorization": format!("Bearer {bob_token}")},
            "body": {"name": format!("COPY_{index}"), "value": "$secret.TOKEN"},
            "timeout_ms": 10000});
        let run = run_one_step(&api, &bob_token, &namespace, step);
        assert_refused(
            &run,
            base,
            "own listen address",
            &format!("127.0.0.1:{port}"),
        );
    }
    // No copy exists: bob owns no secret at all.
    let listed = expect_status(&api, 200, "GET", "/api/v1/secrets", &bob_token, None);
    let names: Vec<&str> = listed.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|item| item["owner_id"] == bob.as_str())
        .filter_map(|item| item["name"].as_str())
        .collect();
    assert!(names.is_empty(), "bob's secrets: {}", listed.text);
    assert!(
        !listed.text.contains("COPY_"),
        "a copy was created: {}",
        listed.text
    );
}

/// A bad `CAIRN_RUN_EGRESS_ALLOW` entry stops the start with one line
/// naming it (a typo never silently opens or closes anything).
#[test]
fn a_bad_egress_allowlist_entry_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    for bad in ["10.0.0.0/33", "exa mple.com", "300.1.1.1"] {
        let mut command = crate::support::cairn(&dir.path().join("data"));
        command
            .arg("serve")
            .env("CAIRN_BIND", "127.0.0.1:0")
            .env("CAIRN_RUN_EGRESS_ALLOW", format!("127.0.0.1,{bad}"));
        let line = crate::support::assert_one_error_line(&crate::support::run(command), 2);
        assert!(
            line.contains("CAIRN_RUN_EGRESS_ALLOW") && line.contains(bad),
            "{bad}: {line}"
        );
    }
}

/// A plain TCP forwarder on loopback to `target` (what a reverse proxy or
/// a public name in front of Cairn is to a run): every connection it
/// accepts is relayed both ways, unchanged.
fn forwarder(target: String) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the forwarder");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let Ok(upstream) = std::net::TcpStream::connect(&target) else {
                continue;
            };
            let (Ok(mut client_reader), Ok(mut upstream_writer)) =
                (client.try_clone(), upstream.try_clone())
            else {
                continue;
            };
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut client_reader, &mut upstream_writer);
                let _ = upstream_writer.shutdown(std::net::Shutdown::Write);
            });
            let (mut upstream_reader, mut client_writer) = (upstream, client);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut upstream_reader, &mut client_writer);
                let _ = client_writer.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    port
}

/// Item 4, the way the listen-address rule cannot see: Cairn reached
/// through something in front of it (here a forwarder on another loopback
/// port, allowlisted as a proxy on a public name would be). The request
/// arrives, but every request of a run carries the run marker and Cairn's
/// edge refuses it: no copy of the secret is stored.
#[test]
fn a_use_grantee_cannot_copy_a_shared_secret_through_a_proxy_in_front_of_cairn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let api = AdminServer::start(
        &dir.path().join("data"),
        &[("CAIRN_RUN_EGRESS_ALLOW", "127.0.0.1")],
    );
    let SharedSecret {
        bob: _,
        bob_token,
        canary,
        namespace,
    } = share_a_secret_with_bob(&api);
    let own = api
        .server
        .base_url
        .trim_start_matches("http://")
        .to_string();
    let port = forwarder(own);
    let step = json!({"id": "copy", "type": "http", "method": "POST",
        "url": format!("http://127.0.0.1:{port}/api/v1/secrets"),
        "headers": {"Authorization": format!("Bearer {bob_token}"), "Cairn-Run": ""},
        "body": {"name": "COPY", "value": "$secret.TOKEN"},
        "timeout_ms": 10000});
    let run = run_one_step(&api, &bob_token, &namespace, step);
    // The request went through the forwarder and Cairn answered it: 403.
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["steps"][0]["output"]["status"], 403, "{run}");
    let body = run["steps"][0]["output"]["body"].to_string();
    assert!(body.contains("flow run may not call"), "{run}");
    assert!(!run.to_string().contains(&canary), "{run}");
    let listed = expect_status(&api, 200, "GET", "/api/v1/secrets", &bob_token, None);
    assert!(
        !listed.text.contains("COPY"),
        "a copy was created: {}",
        listed.text
    );
    // And a plain client through the same forwarder is served as usual:
    // the refusal is the marker's, not the forwarder's.
    let through = crate::server::api_client::call(
        &api.client,
        "GET",
        &format!("http://127.0.0.1:{port}/api/v1/secrets"),
        Some(&bob_token),
        None,
    );
    assert_eq!(through.status, 200, "{}", through.text);
}
