//! The sinks an operator configures, from the environment (never through
//! the API):
//!
//! ```text
//! CAIRN_SINKS=siem,splunk                       names: [a-z0-9_], 1-32 chars
//! CAIRN_SINK_SIEM_URL=syslog+tls://collector.example:6514
//! CAIRN_SINK_SIEM_CA_FILE=/etc/cairn/collector-ca.pem   optional (PEM)
//! CAIRN_SINK_SPLUNK_URL=https://splunk.example:8088/services/collector/event
//! CAIRN_SINK_SPLUNK_HEC_TOKEN=…                 optional: the Splunk HEC envelope
//! CAIRN_SINK_<NAME>_INSECURE=true               a HEC token over plain http:// (refused without)
//! CAIRN_SINK_<NAME>_FORMAT=ocsf|jsonl|cef       default: ocsf (syslog), jsonl (http)
//! CAIRN_SINK_<NAME>_BATCH=500                   events per write or request
//! CAIRN_SINK_<NAME>_CONFIRM_AFTER_MS=2000       syslog: see below
//! ```
//!
//! URL schemes: `syslog+tcp://host:port`, `syslog+tls://host:port` (RFC
//! 5424 messages with RFC 6587 octet counting; RFC 5425 over TLS), and
//! `http://` or `https://` (POSTed batches of JSON lines). Plain syslog has
//! no acknowledgements, so a syslog sink counts events as delivered only
//! after the connection stayed open `CONFIRM_AFTER_MS` past their write;
//! when the connection breaks it resends from the last confirmed event.
//!
//! A HEC token is a credential: sending it over plain `http://` hands it to
//! anyone on the path, so that configuration is refused unless the sink is
//! marked `INSECURE=true` (a forwarder on the same host, say), and then
//! the server warns once at start-up. The flag says nothing anywhere else,
//! so it is refused on any other sink.

use std::path::PathBuf;
use std::time::Duration;

use cairn_audit::export_stream::ExportFormat;
use reqwest::Url;
use zeroize::Zeroizing;

/// Where a sink delivers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SinkTarget {
    /// Syslog over TCP, or over TLS when `tls`.
    Syslog {
        /// The host name or address.
        host: String,
        /// The port.
        port: u16,
        /// RFC 5425.
        tls: bool,
    },
    /// HTTP(S) POSTs of JSON lines.
    Http {
        /// The endpoint.
        url: Url,
    },
}

/// One configured sink.
#[derive(Clone)]
pub struct SinkSpec {
    /// Its name: the key of its cursor in the store.
    pub name: String,
    /// Where it delivers.
    pub target: SinkTarget,
    /// What each event is rendered as.
    pub format: ExportFormat,
    /// A PEM file of trusted roots (TLS), instead of the webpki roots.
    pub ca_file: Option<PathBuf>,
    /// The Splunk HEC token: batches are sent in the HEC envelope.
    pub hec_token: Option<Zeroizing<String>>,
    /// Events per write or request.
    pub batch: usize,
    /// How long a syslog connection must stay open after a write for the
    /// events written to count as delivered.
    pub confirm_after: Duration,
    /// The operator accepted sending the HEC token over plain `http://`.
    pub insecure: bool,
}

impl std::fmt::Debug for SinkSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SinkSpec")
            .field("name", &self.name)
            .field("target", &self.target_text())
            .field("format", &self.format)
            .field("hec_token", &self.hec_token.as_ref().map(|_| "<set>"))
            .finish_non_exhaustive()
    }
}

impl SinkSpec {
    /// Whether the sink sends its HEC token unencrypted (plain `http://`);
    /// only ever true for a sink marked insecure.
    pub fn sends_token_in_clear(&self) -> bool {
        self.hec_token.is_some()
            && matches!(&self.target, SinkTarget::Http { url } if url.scheme() == "http")
    }

    /// The target for logs and /health: never a credential.
    pub fn target_text(&self) -> String {
        match &self.target {
            SinkTarget::Syslog { host, port, tls } => {
                format!(
                    "syslog+{}://{host}:{port}",
                    if *tls { "tls" } else { "tcp" }
                )
            }
            SinkTarget::Http { url } => {
                let mut shown = url.clone();
                let _ = shown.set_username("");
                let _ = shown.set_password(None);
                shown.set_query(None);
                shown.to_string()
            }
        }
    }
}

const DEFAULT_BATCH: usize = 500;
const MAX_BATCH: usize = 10_000;
const DEFAULT_CONFIRM_AFTER: Duration = Duration::from_millis(2000);

/// Reads the sinks from the environment (`read` looks a variable up).
pub fn sinks_from(read: impl Fn(&str) -> Option<String>) -> Result<Vec<SinkSpec>, String> {
    let Some(names) = read("CAIRN_SINKS") else {
        return Ok(Vec::new());
    };
    let mut specs: Vec<SinkSpec> = Vec::new();
    for name in names
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
    {
        let valid = name.len() <= 32
            && name
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_');
        if !valid {
            return Err(format!(
                "CAIRN_SINKS: {name:?} is not a sink name (lowercase letters, digits and _, at most 32)"
            ));
        }
        if specs.iter().any(|spec| spec.name == name) {
            return Err(format!("CAIRN_SINKS: {name:?} is named twice"));
        }
        specs.push(sink(name, &read)?);
    }
    Ok(specs)
}

fn sink(name: &str, read: &impl Fn(&str) -> Option<String>) -> Result<SinkSpec, String> {
    let vars = SinkVars {
        name,
        prefix: format!("CAIRN_SINK_{}_", name.to_ascii_uppercase()),
        read,
    };
    let target = target(&vars)?;
    let format = match vars.get("FORMAT") {
        Some(text) => ExportFormat::parse(text.trim())
            .ok_or_else(|| format!("{}: must be ocsf, jsonl or cef", vars.var("FORMAT")))?,
        None => match target {
            SinkTarget::Syslog { .. } => ExportFormat::Ocsf,
            SinkTarget::Http { .. } => ExportFormat::Jsonl,
        },
    };
    let (hec_token, insecure) = hec_token(&vars, &target, format)?;
    let ca_file = vars.get("CA_FILE").map(PathBuf::from);
    if let Some(path) = &ca_file
        && !path.is_file()
    {
        return Err(format!(
            "{}: {} is not a readable file",
            vars.var("CA_FILE"),
            path.display()
        ));
    }
    let (batch, confirm_after) = pacing(&vars)?;
    Ok(SinkSpec {
        name: name.to_string(),
        target,
        format,
        ca_file,
        hec_token,
        batch,
        confirm_after,
        insecure,
    })
}

/// The variables of one sink (`CAIRN_SINK_<NAME>_*`).
struct SinkVars<'a, R: Fn(&str) -> Option<String>> {
    name: &'a str,
    prefix: String,
    read: &'a R,
}

impl<R: Fn(&str) -> Option<String>> SinkVars<'_, R> {
    /// The full name of the variable `suffix`.
    fn var(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }

    /// Its value, when set and not blank.
    fn get(&self, suffix: &str) -> Option<String> {
        (self.read)(&self.var(suffix)).filter(|value| !value.trim().is_empty())
    }
}

/// Where the sink delivers (`_URL`). The URL may hold credentials: errors
/// never repeat it.
fn target<R: Fn(&str) -> Option<String>>(vars: &SinkVars<'_, R>) -> Result<SinkTarget, String> {
    let url_var = vars.var("URL");
    let text = vars
        .get("URL")
        .ok_or_else(|| format!("{url_var} is required for sink {:?}", vars.name))?;
    let url =
        Url::parse(text.trim()).map_err(|error| format!("{url_var} is not a URL: {error}"))?;
    match url.scheme() {
        "syslog+tcp" | "syslog+tls" => {
            let host = url
                .host_str()
                .filter(|host| !host.is_empty())
                .ok_or_else(|| format!("{url_var} has no host"))?;
            let port = url.port().ok_or_else(|| {
                format!("{url_var} needs a port (e.g. :6514 for syslog over TLS)")
            })?;
            Ok(SinkTarget::Syslog {
                host: host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string(),
                port,
                tls: url.scheme() == "syslog+tls",
            })
        }
        "http" | "https" => {
            if url.host_str().is_none() {
                return Err(format!("{url_var} has no host"));
            }
            Ok(SinkTarget::Http { url })
        }
        other => Err(format!(
            "{url_var}: scheme {other:?} is not one of syslog+tcp, syslog+tls, http, https"
        )),
    }
}

/// The HEC token (`_HEC_TOKEN`) and whether sending it in clear was
/// accepted (`_INSECURE`).
fn hec_token<R: Fn(&str) -> Option<String>>(
    vars: &SinkVars<'_, R>,
    target: &SinkTarget,
    format: ExportFormat,
) -> Result<(Option<Zeroizing<String>>, bool), String> {
    let hec_token = vars.get("HEC_TOKEN").map(Zeroizing::new);
    if hec_token.is_some() && !matches!(target, SinkTarget::Http { .. }) {
        return Err(format!(
            "{}: only an http(s) sink takes a HEC token",
            vars.var("HEC_TOKEN")
        ));
    }
    if hec_token.is_some() && format == ExportFormat::Cef {
        return Err(format!(
            "{}: the HEC envelope carries JSON: use ocsf or jsonl",
            vars.var("FORMAT")
        ));
    }
    let insecure = match vars.get("INSECURE").as_deref().map(str::trim) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(format!("{}: must be true or false", vars.var("INSECURE"))),
    };
    let token_in_clear =
        hec_token.is_some() && matches!(target, SinkTarget::Http { url } if url.scheme() == "http");
    if token_in_clear && !insecure {
        return Err(format!(
            "{} is plain http:// and {} is set: the token would cross the network \
             unencrypted; use https://, or set {}=true to accept that",
            vars.var("URL"),
            vars.var("HEC_TOKEN"),
            vars.var("INSECURE")
        ));
    }
    if insecure && !token_in_clear {
        return Err(format!(
            "{}: only an http:// sink with a HEC token is marked insecure",
            vars.var("INSECURE")
        ));
    }
    Ok((hec_token, insecure))
}

/// How many events a batch holds (`_BATCH`) and how long delivery waits
/// for a confirmation (`_CONFIRM_AFTER_MS`).
fn pacing<R: Fn(&str) -> Option<String>>(
    vars: &SinkVars<'_, R>,
) -> Result<(usize, Duration), String> {
    let batch = match vars.get("BATCH") {
        Some(text) => text
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|batch| (1..=MAX_BATCH).contains(batch))
            .ok_or_else(|| {
                format!(
                    "{}: must be a number from 1 to {MAX_BATCH}",
                    vars.var("BATCH")
                )
            })?,
        None => DEFAULT_BATCH,
    };
    let confirm_after = match vars.get("CONFIRM_AFTER_MS") {
        Some(text) => text
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|ms| *ms <= 600_000)
            .map(Duration::from_millis)
            .ok_or_else(|| {
                format!(
                    "{}: must be milliseconds from 0 to 600000",
                    vars.var("CONFIRM_AFTER_MS")
                )
            })?,
        None => DEFAULT_CONFIRM_AFTER,
    };
    Ok((batch, confirm_after))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<Vec<SinkSpec>, String> {
        sinks_from(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        })
    }

    #[test]
    fn none_configured() {
        assert!(parse(&[]).unwrap().is_empty());
    }

    #[test]
    fn syslog_and_http_sinks() {
        let specs = parse(&[
            ("CAIRN_SINKS", "siem, splunk"),
            ("CAIRN_SINK_SIEM_URL", "syslog+tls://127.0.0.1:6514"),
            (
                "CAIRN_SINK_SPLUNK_URL",
                "https://user:pw@splunk.example:8088/services/collector/event?x=1",
            ),
            ("CAIRN_SINK_SPLUNK_HEC_TOKEN", "token-value"),
            ("CAIRN_SINK_SPLUNK_BATCH", "50"),
        ])
        .unwrap();
        assert!(!specs[1].insecure && !specs[1].sends_token_in_clear());
        assert_eq!(specs.len(), 2);
        assert_eq!(
            specs[0].target,
            SinkTarget::Syslog {
                host: "127.0.0.1".into(),
                port: 6514,
                tls: true
            }
        );
        assert_eq!(specs[0].format, ExportFormat::Ocsf);
        assert_eq!(specs[1].format, ExportFormat::Jsonl);
        assert_eq!(specs[1].batch, 50);
        let shown = format!("{:?} {}", specs[1], specs[1].target_text());
        assert!(
            !shown.contains("token-value") && !shown.contains("pw"),
            "{shown}"
        );
    }

    #[test]
    fn bad_configurations_name_the_variable() {
        for (vars, needle) in [
            (vec![("CAIRN_SINKS", "Bad-Name")], "CAIRN_SINKS"),
            (vec![("CAIRN_SINKS", "a")], "CAIRN_SINK_A_URL is required"),
            (
                vec![("CAIRN_SINKS", "a"), ("CAIRN_SINK_A_URL", "ftp://x:1")],
                "scheme",
            ),
            (
                vec![
                    ("CAIRN_SINKS", "a"),
                    ("CAIRN_SINK_A_URL", "syslog+tcp://host"),
                ],
                "port",
            ),
            (
                vec![
                    ("CAIRN_SINKS", "a"),
                    ("CAIRN_SINK_A_URL", "syslog+tcp://h:1"),
                    ("CAIRN_SINK_A_FORMAT", "xml"),
                ],
                "CAIRN_SINK_A_FORMAT",
            ),
            (
                vec![
                    ("CAIRN_SINKS", "a"),
                    ("CAIRN_SINK_A_URL", "syslog+tcp://h:1"),
                    ("CAIRN_SINK_A_HEC_TOKEN", "t"),
                ],
                "HEC",
            ),
            (
                vec![
                    ("CAIRN_SINKS", "a"),
                    ("CAIRN_SINK_A_URL", "syslog+tcp://h:1"),
                    ("CAIRN_SINK_A_BATCH", "0"),
                ],
                "CAIRN_SINK_A_BATCH",
            ),
            (
                vec![
                    ("CAIRN_SINKS", "a,a"),
                    ("CAIRN_SINK_A_URL", "syslog+tcp://h:1"),
                ],
                "twice",
            ),
        ] {
            let error = parse(&vars).unwrap_err();
            assert!(error.contains(needle), "{error} lacks {needle}");
        }
    }

    /// Issue 15: a HEC token went over plain http:// without a word.
    #[test]
    fn a_hec_token_over_plain_http_is_refused_unless_marked_insecure() {
        let clear = [
            ("CAIRN_SINKS", "splunk"),
            (
                "CAIRN_SINK_SPLUNK_URL",
                "http://splunk.example:8088/services/collector/event",
            ),
            ("CAIRN_SINK_SPLUNK_HEC_TOKEN", "token-value"),
        ];
        let error = parse(&clear).unwrap_err();
        assert!(
            error.contains("CAIRN_SINK_SPLUNK_URL is plain http://")
                && error.contains("CAIRN_SINK_SPLUNK_INSECURE=true"),
            "{error}"
        );
        assert!(!error.contains("token-value"), "{error}");

        let mut marked = clear.to_vec();
        marked.push(("CAIRN_SINK_SPLUNK_INSECURE", "true"));
        let specs = parse(&marked).unwrap();
        assert!(specs[0].insecure && specs[0].sends_token_in_clear());

        let mut wrong = clear.to_vec();
        wrong.push(("CAIRN_SINK_SPLUNK_INSECURE", "yes"));
        assert!(parse(&wrong).unwrap_err().contains("must be true or false"));

        // Plain http without a token, and https with one, need no flag.
        for url in ["https://splunk.example/x", "http://collector.example/x"] {
            let token = url.starts_with("https");
            let mut vars = vec![("CAIRN_SINKS", "a"), ("CAIRN_SINK_A_URL", url)];
            if token {
                vars.push(("CAIRN_SINK_A_HEC_TOKEN", "t"));
            }
            assert!(!parse(&vars).unwrap()[0].sends_token_in_clear(), "{url}");
            vars.push(("CAIRN_SINK_A_INSECURE", "true"));
            assert!(
                parse(&vars)
                    .unwrap_err()
                    .contains("only an http:// sink with a HEC token"),
                "{url}"
            );
        }
    }
}
