//! A real rsyslog receiver on loopback, for the tests of the syslog sink:
//! `Rsyslog::start(dir, tls)` runs `/usr/sbin/rsyslogd` in the foreground
//! with a configuration that uses nothing but `dir`, listening with `imtcp`
//! (octet-counted framing, RFC 6587) on a free loopback port, in plain TCP
//! or in TLS (RFC 5425, the `ossl` driver, a server certificate for
//! `localhost` and 127.0.0.1 signed by a CA made for the test). It writes
//! every message it receives exactly as sent, one per line, to
//! `dir/received.log`; `tests/py/syslog_check.py` then checks them with a
//! strict RFC 5424 parser.
//!
//! ```ignore
//! let dir = tempfile::tempdir().expect("tempdir");
//! let mut receiver = Rsyslog::start(dir.path(), true);
//! // point the sink at 127.0.0.1:receiver.port(), trusting receiver.ca_file()
//! receiver.wait_for_lines(3, Duration::from_secs(10));
//! receiver.kill(); // an outage: SIGKILL, nothing flushed
//! receiver.restart(); // same port, received.log appended
//! let summary = receiver.syslog_check(); // {"messages", "invalid", "seqs", "ids", "timestamps_match"}
//! ```
//!
//! What the configuration has to say, and why:
//! - `maxMessageSize` (global, default 8 KiB) and imtcp's `maxFrameSize`:
//!   OCSF messages run to a few KiB, and rsyslog truncates silently.
//! - `processInternalMessages="on"`: otherwise rsyslog sends its own
//!   messages (start, TLS handshake errors, bind errors) to the host's
//!   syslog socket; here they go to `dir/rsyslogd-internal.log`.
//! - the input is bound to its own ruleset, so rsyslog's own messages never
//!   land in `received.log`.
//! - `parser.escapeControlCharactersOnReceive="off"`: rsyslog would
//!   otherwise rewrite a raw control character as `#ooo` in `%rawmsg%` too,
//!   hiding exactly what the check looks for. (NUL is escaped regardless,
//!   and a trailing LF inside a frame is dropped regardless.)
//! - the main queue is `Direct`: a message is written to the file by the
//!   thread that received it, so a SIGKILL loses only what was in flight in
//!   the socket, as it would with a real receiver crash.
//! - imtcp's rate limit is off (`ratelimit.interval="0"`).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support;

/// The rsyslog binary (Debian packages `rsyslog` and `rsyslog-openssl`).
const RSYSLOGD: &str = "/usr/sbin/rsyslogd";

/// How long rsyslog may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A running rsyslog receiver; killed (SIGKILL) on drop.
#[derive(Debug)]
pub struct Rsyslog {
    dir: PathBuf,
    port: u16,
    tls: bool,
    child: Option<Child>,
}

/// Why a launch did not give a listening receiver.
enum LaunchError {
    /// Another process took the port between choosing it and binding it.
    PortTaken,
    /// Anything else: rsyslog's own words.
    Failed(String),
}

impl Rsyslog {
    /// Starts rsyslog in `dir` (which must exist) on a free loopback port,
    /// in TLS when `tls`, and waits until it accepts connections. Fails the
    /// test with rsyslog's output when it does not start within ~10 s.
    pub fn start(dir: &Path, tls: bool) -> Rsyslog {
        let path_text = dir.to_str().expect("a UTF-8 directory");
        assert!(
            !path_text.contains(['"', '\\', '\n']),
            "{path_text:?} cannot be quoted in rsyslog.conf"
        );
        std::fs::create_dir_all(dir.join("rsyslog-work")).expect("rsyslog work dir");
        if tls {
            make_certificates(&dir.join("tls"));
        }
        let mut receiver = Rsyslog {
            dir: dir.to_path_buf(),
            port: 0,
            tls,
            child: None,
        };
        for _ in 0..5 {
            receiver.port = free_port();
            std::fs::write(receiver.dir.join("rsyslog.conf"), receiver.config())
                .expect("write rsyslog.conf");
            match receiver.launch() {
                Ok(()) => return receiver,
                Err(LaunchError::PortTaken) => receiver.kill(),
                Err(LaunchError::Failed(why)) => panic!("rsyslogd did not start: {why}"),
            }
        }
        panic!(
            "rsyslogd found every chosen port taken: {}",
            receiver.diagnostics()
        );
    }

    /// The loopback port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The CA certificate (PEM) that signed the receiver's certificate, for
    /// the client to trust. TLS receivers only.
    pub fn ca_file(&self) -> PathBuf {
        assert!(self.tls, "a plain TCP receiver has no certificate");
        self.dir.join("tls").join("ca.pem")
    }

    /// The file where every received message is written, one per line.
    pub fn received_file(&self) -> PathBuf {
        self.dir.join("received.log")
    }

    /// Kills rsyslog with SIGKILL (a crash: nothing is flushed or closed
    /// gracefully) and waits for it. Does nothing when it is not running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            child.wait().expect("wait for rsyslogd");
        }
    }

    /// Starts rsyslog again (killing it first if it runs) on the same port,
    /// appending to the same `received.log`, and waits until it accepts
    /// connections.
    pub fn restart(&mut self) {
        self.kill();
        match self.launch() {
            Ok(()) => {}
            Err(LaunchError::PortTaken) => panic!(
                "port {} was taken while rsyslogd was down: {}",
                self.port,
                self.diagnostics()
            ),
            Err(LaunchError::Failed(why)) => panic!("rsyslogd did not restart: {why}"),
        }
    }

    /// The complete lines of `received.log` so far (a line still being
    /// written is left out), without their newline.
    pub fn received_lines(&self) -> Vec<String> {
        let bytes = match std::fs::read(self.received_file()) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
            Err(error) => panic!("read received.log: {error}"),
        };
        let complete = match bytes.iter().rposition(|&byte| byte == b'\n') {
            Some(last) => &bytes[..last],
            None => return Vec::new(),
        };
        complete
            .split(|&byte| byte == b'\n')
            .map(|line| String::from_utf8_lossy(line).into_owned())
            .collect()
    }

    /// Waits until `received.log` holds at least `n` complete lines and
    /// returns them all; fails the test with what it holds and rsyslog's
    /// output after `timeout`.
    pub fn wait_for_lines(&self, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let lines = self.received_lines();
            if lines.len() >= n {
                return lines;
            }
            if Instant::now() > deadline {
                panic!(
                    "rsyslogd received {} of {n} messages within {timeout:?}: {lines:#?}\n{}",
                    lines.len(),
                    self.diagnostics()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs `tests/py/syslog_check.py` on `received.log` and returns its
    /// summary (`messages`, `invalid`, `seqs`, `ids`, `timestamps_match`);
    /// the reasons for invalid lines go to the test's stderr. The caller
    /// asserts on the summary.
    pub fn syslog_check(&self) -> serde_json::Value {
        let output = Command::new(support::python())
            .arg(support::py_dir().join("syslog_check.py"))
            .arg(self.received_file())
            .stdin(Stdio::null())
            .output()
            .expect("run syslog_check.py");
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !stderr.is_empty() {
            eprintln!("syslog_check.py: {stderr}");
        }
        serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
            panic!(
                "syslog_check.py printed no JSON ({error}, {}): {}\n{stderr}",
                output.status,
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }

    /// rsyslog's stderr and internal messages, for failure reports.
    pub fn diagnostics(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        format!(
            "rsyslogd stderr:\n{}\nrsyslogd internal log:\n{}",
            read("rsyslogd.stderr"),
            read("rsyslogd-internal.log")
        )
    }

    /// Spawns rsyslogd on `self.port` and waits until it has started and
    /// the port accepts connections.
    fn launch(&mut self) -> Result<(), LaunchError> {
        // A pid file left by a killed rsyslogd makes the next one refuse
        // to start when that pid is alive again (or not yet reaped).
        let _ = std::fs::remove_file(self.dir.join("rsyslogd.pid"));
        let internal_log = self.dir.join("rsyslogd-internal.log");
        let seen = std::fs::metadata(&internal_log).map_or(0, |meta| meta.len());
        let output = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("rsyslogd.stderr"))
            .expect("open rsyslogd.stderr");
        let child = Command::new(RSYSLOGD)
            .arg("-n")
            .arg("-f")
            .arg(self.dir.join("rsyslog.conf"))
            .arg("-i")
            .arg(self.dir.join("rsyslogd.pid"))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(output.try_clone().expect("clone the stderr file"))
            .stderr(output)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run {RSYSLOGD}: {error}"));
        self.child = Some(child);

        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|child| child.try_wait().expect("poll rsyslogd"))
            {
                self.child = None;
                return Err(LaunchError::Failed(format!(
                    "exited with {status}\n{}",
                    self.diagnostics()
                )));
            }
            let new_internal = read_from(&internal_log, seen);
            if new_internal.contains("Could not create tcp listener") {
                return Err(LaunchError::PortTaken);
            }
            // rsyslog says "start" once its listeners are set up.
            if new_internal.contains("\"] start")
                && TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.kill();
                return Err(LaunchError::Failed(format!(
                    "not listening on {address} after {START_TIMEOUT:?}\n{}",
                    self.diagnostics()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The rsyslog.conf for this receiver: every path inside `self.dir`.
    fn config(&self) -> String {
        let dir = self.dir.display();
        let tls_globals = if self.tls {
            format!(
                "  defaultNetstreamDriver=\"ossl\"\n  \
                 defaultNetstreamDriverCAFile=\"{dir}/tls/ca.pem\"\n  \
                 defaultNetstreamDriverCertFile=\"{dir}/tls/server.pem\"\n  \
                 defaultNetstreamDriverKeyFile=\"{dir}/tls/server.key\"\n"
            )
        } else {
            String::new()
        };
        let tls_module = if self.tls {
            " streamDriver.name=\"ossl\" streamDriver.mode=\"1\" streamDriver.authMode=\"anon\""
        } else {
            ""
        };
        let port = self.port;
        format!(
            "# Written by the Cairn e2e tests (tests/tests/e2e/audit/rsyslog.rs).\n\
             global(\n  \
               workDirectory=\"{dir}/rsyslog-work\"\n  \
               maxMessageSize=\"256k\"\n  \
               processInternalMessages=\"on\"\n  \
               parser.escapeControlCharactersOnReceive=\"off\"\n  \
               net.enableDNS=\"off\"\n\
             {tls_globals})\n\
             main_queue(queue.type=\"Direct\")\n\
             module(load=\"imtcp\" maxFrameSize=\"200000\"{tls_module})\n\
             template(name=\"cairn_raw\" type=\"string\" string=\"%rawmsg%\\n\")\n\
             ruleset(name=\"cairn_received\") {{\n  \
               action(type=\"omfile\" file=\"{dir}/received.log\" template=\"cairn_raw\")\n\
             }}\n\
             input(type=\"imtcp\" address=\"127.0.0.1\" port=\"{port}\" \
                   ruleset=\"cairn_received\" ratelimit.interval=\"0\")\n\
             *.* action(type=\"omfile\" file=\"{dir}/rsyslogd-internal.log\")\n"
        )
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A loopback port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A file's text from byte `offset` on; empty when it does not exist.
fn read_from(path: &Path, offset: u64) -> String {
    let Ok(bytes) = std::fs::read(path) else {
        return String::new();
    };
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// Makes, with the `openssl` CLI, a CA (`ca.pem`) and a server key and
/// certificate (`server.key`, `server.pem`) for `localhost` and 127.0.0.1
/// in `tls_dir`. The extensions are spelled out in a configuration of our
/// own, so the system's openssl.cnf does not matter, and they are what
/// rustls (webpki) requires: a CA with basicConstraints and keyCertSign,
/// a leaf with subjectAltName and serverAuth.
fn make_certificates(tls_dir: &Path) {
    std::fs::create_dir_all(tls_dir).expect("tls dir");
    std::fs::write(
        tls_dir.join("openssl.cnf"),
        "[req]\n\
         distinguished_name = dn\n\
         prompt = no\n\
         [dn]\n\
         CN = Cairn test CA\n\
         [ca_ext]\n\
         basicConstraints = critical,CA:TRUE\n\
         keyUsage = critical,keyCertSign,cRLSign\n\
         subjectKeyIdentifier = hash\n\
         [server_ext]\n\
         basicConstraints = critical,CA:FALSE\n\
         keyUsage = critical,digitalSignature\n\
         extendedKeyUsage = serverAuth\n\
         subjectAltName = DNS:localhost,IP:127.0.0.1\n\
         subjectKeyIdentifier = hash\n\
         authorityKeyIdentifier = keyid\n",
    )
    .expect("write openssl.cnf");
    let ec_key = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let steps: [&[&str]; 3] = [
        &[
            &[
                "req",
                "-x509",
                "-config",
                "openssl.cnf",
                "-extensions",
                "ca_ext",
            ][..],
            &ec_key,
            &["-keyout", "ca.key", "-out", "ca.pem", "-days", "7"],
            &["-subj", "/CN=Cairn test CA"],
        ]
        .concat(),
        &[
            &["req", "-new", "-config", "openssl.cnf"][..],
            &ec_key,
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ],
        ]
        .concat(),
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "7",
            "-extfile",
            "openssl.cnf",
            "-extensions",
            "server_ext",
        ],
    ];
    for args in steps {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(tls_dir)
            .stdin(Stdio::null())
            .output()
            .expect("run openssl");
        assert!(
            output.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// An RFC 5424 message as Cairn sends it (built by hand: this crate does
/// not depend on cairn-audit), for event `seq` at 10:00:`seq`.123456 UTC,
/// with `padding` bytes of filler in the OCSF-like JSON.
fn sample_message(seq: u64, padding: usize) -> String {
    let id = format!("0190a5b0-0000-7000-8000-{seq:012}");
    let body = serde_json::json!({
        "time": 1_795_341_600_123 + seq * 1000,
        "metadata": {"uid": id, "sequence": seq},
        "actor": {"user": {"name": "Zoë \"q\" ] k=v"}},
        "padding": "x".repeat(padding),
    });
    format!(
        "<110>1 2026-11-22T10:00:{seq:02}.123456Z cairn-test cairn 4242 grant.created \
         [cairn@32473 seq=\"{seq}\" id=\"{id}\"] \u{feff}{body}"
    )
}

/// Octet-counted frames (RFC 6587 3.4.1) of the sample messages `seqs`;
/// the second one is larger than rsyslog's default 8 KiB limit.
fn sample_frames(seqs: &[u64]) -> Vec<u8> {
    let mut frames = Vec::new();
    for (index, &seq) in seqs.iter().enumerate() {
        let message = sample_message(seq, if index == 1 { 20_000 } else { 10 });
        frames.extend_from_slice(format!("{} ", message.len()).as_bytes());
        frames.extend_from_slice(message.as_bytes());
    }
    frames
}

/// Sends `frames` to the receiver: over a plain socket, or through
/// `openssl s_client` verifying the certificate against the test CA and
/// 127.0.0.1.
fn send(receiver: &Rsyslog, frames: &[u8]) {
    if !receiver.tls {
        let mut stream =
            TcpStream::connect((Ipv4Addr::LOCALHOST, receiver.port())).expect("connect");
        stream.write_all(frames).expect("send frames");
        return;
    }
    let mut client = Command::new("openssl")
        .args(["s_client", "-quiet", "-no_ign_eof", "-verify_return_error"])
        .arg("-connect")
        .arg(format!("127.0.0.1:{}", receiver.port()))
        .arg("-CAfile")
        .arg(receiver.ca_file())
        .args(["-verify_ip", "127.0.0.1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run openssl s_client");
    // s_client sends what it reads and closes the session at end of input.
    let mut stdin = client.stdin.take().expect("s_client stdin");
    stdin.write_all(frames).expect("write to s_client");
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = client.try_wait().expect("poll s_client") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = client.kill();
            panic!("openssl s_client did not finish");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = client.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    assert!(status.success(), "openssl s_client failed: {stderr}");
}

#[test]
fn rsyslog_receives_octet_counted_messages_over_tcp_and_tls() {
    for tls in [false, true] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut receiver = Rsyslog::start(dir.path(), tls);

        send(&receiver, &sample_frames(&[1, 2, 3]));
        let lines = receiver.wait_for_lines(3, Duration::from_secs(10));
        assert_eq!(lines.len(), 3, "tls={tls}");
        assert_eq!(
            lines[0],
            sample_message(1, 10),
            "tls={tls}: received as sent"
        );
        assert_eq!(
            lines[1],
            sample_message(2, 20_000),
            "tls={tls}: not truncated"
        );

        // An outage: the receiver comes back on the same port and appends.
        receiver.kill();
        assert!(
            TcpStream::connect((Ipv4Addr::LOCALHOST, receiver.port())).is_err(),
            "tls={tls}: still listening after kill"
        );
        receiver.restart();
        send(&receiver, &sample_frames(&[3, 4]));
        let lines = receiver.wait_for_lines(5, Duration::from_secs(10));
        assert_eq!(lines.len(), 5, "tls={tls}: {lines:#?}");

        let summary = receiver.syslog_check();
        assert_eq!(summary["messages"], 5, "tls={tls}: {summary}");
        assert_eq!(
            summary["invalid"],
            serde_json::json!([]),
            "tls={tls}: {summary}"
        );
        assert_eq!(
            summary["seqs"],
            serde_json::json!([1, 2, 3, 3, 4]),
            "tls={tls}: {summary}"
        );
        assert_eq!(summary["timestamps_match"], true, "tls={tls}: {summary}");
        assert!(
            !receiver
                .received_lines()
                .iter()
                .any(|line| line.contains("rsyslogd")),
            "tls={tls}: rsyslog's own messages leaked into received.log"
        );
    }
}

#[test]
fn syslog_check_rejects_what_a_strict_parser_rejects() {
    let dir = tempfile::tempdir().expect("tempdir");
    let receiver = Rsyslog {
        dir: dir.path().to_path_buf(),
        port: 0,
        tls: false,
        child: None,
    };
    let good = sample_message(7, 10);
    // Line by line: valid; no version; MSG not JSON; no seq; valid but
    // its timestamp is 1 ms off the event's time; timestamp not RFC 3339.
    let lines = [
        good.clone(),
        good.replacen("<110>1 ", "<110> ", 1),
        good.replacen("\u{feff}{", "\u{feff}[", 1),
        good.replacen(" seq=\"7\"", "", 1),
        good.replacen(".123456Z", ".124456Z", 1),
        good.replacen("2026-11-22T", "2026-11-22 ", 1),
    ];
    std::fs::write(receiver.received_file(), lines.join("\n") + "\n").expect("write");
    let summary = receiver.syslog_check();
    assert_eq!(summary["messages"], 6, "{summary}");
    assert_eq!(
        summary["invalid"],
        serde_json::json!([2, 3, 4, 6]),
        "{summary}"
    );
    assert_eq!(summary["seqs"], serde_json::json!([7, 7]), "{summary}");
    assert_eq!(summary["timestamps_match"], false, "{summary}");
}
