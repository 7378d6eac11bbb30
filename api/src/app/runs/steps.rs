//! Executing one step whose references are already resolved: `http` (a
//! real request with reqwest) and `log`. What a step returns is masked
//! here, before anyone stores or shows it, and bounded: a response body is
//! read up to [`READ_LIMIT`] and the output kept to [`OUTPUT_LIMIT`].

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use cairn_schemas::StepStatus;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};

use super::egress::{EgressPolicy, EgressRefusal, Host, PolicyResolver};
use super::masking::{Masker, truncate_utf8};

/// The header every request of an http step carries; Cairn's own API
/// refuses any request that has it (`http::run_marker`).
pub const RUN_MARKER_HEADER: &str = "cairn-run";

/// The most of a response body read.
pub const READ_LIMIT: usize = 256 * 1024;
/// The largest step output stored, as JSON text.
pub const OUTPUT_LIMIT: usize = 16 * 1024;
/// How long an http step waits when its definition does not say.
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;

/// How a step ended: its status, its masked output, and (when it failed)
/// why, masked too.
#[derive(Clone, Debug, PartialEq)]
pub struct StepOutcome {
    /// Succeeded or failed.
    pub status: StepStatus,
    /// The masked output.
    pub output: Value,
    /// Why it failed.
    pub error: Option<String>,
}

impl StepOutcome {
    fn failed(masker: &Masker, error: impl Into<String>) -> StepOutcome {
        let error = masker.mask(&error.into());
        StepOutcome {
            status: StepStatus::Failed,
            output: json!({ "error": error }),
            error: Some(error),
        }
    }
}

/// What the runs reach the network with: the egress policy, and one HTTP
/// client per destination port (a client's resolver knows its port, so the
/// server's own address can be told from another service on the same
/// host). Clients are built once per port and shared by every step, so a
/// step neither rebuilds the TLS setup nor loses the connection pool.
#[derive(Clone, Debug)]
pub struct RunClient {
    egress: Arc<EgressPolicy>,
    by_port: Arc<Mutex<HashMap<u16, reqwest::Client>>>,
}

/// The most ports a [`RunClient`] keeps a client for; past it the cache
/// starts again (a flow may name any port, so the cache is bounded).
pub const MAX_CACHED_PORTS: usize = 64;

/// The runs' client under `egress`. One client is built here already, so
/// a TLS setup that cannot work stops the start rather than every step.
pub fn http_client(egress: EgressPolicy) -> Result<RunClient, reqwest::Error> {
    let client = RunClient {
        egress: Arc::new(egress),
        by_port: Arc::default(),
    };
    client.for_port(443)?;
    Ok(client)
}

impl RunClient {
    /// The client for steps to `port`, built on first use.
    fn for_port(&self, port: u16) -> Result<reqwest::Client, reqwest::Error> {
        let mut by_port = match self.by_port.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(client) = by_port.get(&port) {
            return Ok(client.clone());
        }
        let client = self.build(port)?;
        if by_port.len() >= MAX_CACHED_PORTS {
            by_port.clear();
        }
        by_port.insert(port, client.clone());
        Ok(client)
    }

    /// An HTTP client for steps to `port`: no redirects (a redirect would
    /// carry the step's headers, secrets included, to wherever the server
    /// points, past the egress check), no proxy from the environment, and
    /// names resolved through the egress policy. A pooled connection goes
    /// to an address that was checked when it was opened.
    fn build(&self, port: u16) -> Result<reqwest::Client, reqwest::Error> {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(PolicyResolver::new(
                Arc::clone(&self.egress),
                port,
            )))
            .user_agent(concat!("cairn/", env!("CARGO_PKG_VERSION")))
            .build()
    }
}

/// Executes a resolved step.
pub async fn execute_step(client: &RunClient, step: &Value, masker: &Masker) -> StepOutcome {
    match step.get("type").and_then(Value::as_str) {
        Some("http") => http_step(client, step, masker).await,
        Some("log") => {
            let message = step.get("message").and_then(Value::as_str).unwrap_or("");
            StepOutcome {
                status: StepStatus::Succeeded,
                output: bounded(json!({ "message": masker.mask(message) })),
                error: None,
            }
        }
        _ => StepOutcome::failed(masker, "unknown step type"),
    }
}

async fn http_step(client: &RunClient, step: &Value, masker: &Masker) -> StepOutcome {
    let method = step.get("method").and_then(Value::as_str).unwrap_or("GET");
    let Ok(method) = reqwest::Method::from_bytes(method.as_bytes()) else {
        return StepOutcome::failed(masker, "method: not an HTTP method");
    };
    let url = step.get("url").and_then(Value::as_str).unwrap_or("");
    let url = match reqwest::Url::parse(url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => url,
        _ => {
            return StepOutcome::failed(
                masker,
                "url: not an absolute http:// or https:// URL once its references are resolved",
            );
        }
    };
    // The port is known for http and https.
    let port = url.port_or_known_default().unwrap_or(80);
    // An IP literal never reaches the resolver: it is checked here, before
    // anything is sent.
    if let Some(address) = literal_address(&url)
        && let Err(refusal) = client
            .egress
            .decide(&Host::Literal, SocketAddr::new(address, port))
    {
        return StepOutcome::failed(masker, refusal.to_string());
    }
    let http = match client.for_port(port) {
        Ok(http) => http,
        Err(error) => return StepOutcome::failed(masker, request_error(&error)),
    };
    let mut headers = HeaderMap::new();
    if let Some(Value::Object(members)) = step.get("headers") {
        for (name, value) in members {
            let Ok(header) = HeaderName::from_bytes(name.as_bytes()) else {
                return StepOutcome::failed(masker, format!("headers.{name}: not a header name"));
            };
            let text = value.as_str().unwrap_or_default();
            let Ok(mut value) = HeaderValue::from_str(text) else {
                return StepOutcome::failed(
                    masker,
                    format!("headers.{name}: not a valid header value once resolved"),
                );
            };
            value.set_sensitive(true);
            headers.insert(header, value);
        }
    }
    // Last, so a definition cannot remove or change it: Cairn's own edge
    // refuses every request that carries it, however the run reached it
    // (a public name, a proxy in front), so a resolved value never comes
    // back in as stored data the invoker could read.
    headers.insert(
        HeaderName::from_static(RUN_MARKER_HEADER),
        HeaderValue::from_static("1"),
    );
    let timeout = step
        .get("timeout_ms")
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_TIMEOUT_MS);
    let mut request = http
        .request(method, url)
        .headers(headers)
        .timeout(Duration::from_millis(timeout));
    match step.get("body") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => request = request.body(text.clone()),
        Some(other) => request = request.json(other),
    }
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(error) => return StepOutcome::failed(masker, request_error(&error)),
    };
    let status = response.status();
    let mut body = Vec::new();
    let mut cut = false;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = READ_LIMIT - body.len();
                if chunk.len() > room {
                    body.extend_from_slice(&chunk[..room]);
                    cut = true;
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(error) => return StepOutcome::failed(masker, request_error(&error)),
        }
    }
    let body = render_body(&body, cut, masker);
    let output = bounded(json!({ "status": status.as_u16(), "body": body }));
    if status.is_client_error() || status.is_server_error() {
        StepOutcome {
            status: StepStatus::Failed,
            output,
            error: Some(format!("the server answered {}", status.as_u16())),
        }
    } else {
        StepOutcome {
            status: StepStatus::Succeeded,
            output,
            error: None,
        }
    }
}

/// The host of `url` when it is an IP literal.
fn literal_address(url: &reqwest::Url) -> Option<IpAddr> {
    let host = url.host_str()?;
    let host = host
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(host);
    host.parse().ok()
}

/// A request error without its URL (which may hold a resolved value); the
/// caller masks it all the same. An egress refusal from the resolver is
/// given as it is: it names the rule and the address.
fn request_error(error: &reqwest::Error) -> String {
    let mut source = std::error::Error::source(error);
    for _ in 0..8 {
        let Some(cause) = source else { break };
        if let Some(refusal) = cause.downcast_ref::<EgressRefusal>() {
            return refusal.to_string();
        }
        source = cause.source();
    }
    let kind = if error.is_timeout() {
        "the request timed out"
    } else if error.is_connect() {
        "the connection failed"
    } else if error.is_body() || error.is_decode() {
        "reading the response failed"
    } else {
        "the request failed"
    };
    let mut detail = String::new();
    let mut source = std::error::Error::source(error);
    // The innermost cause says most ("connection refused"); at most a few
    // levels are walked.
    for _ in 0..8 {
        let Some(cause) = source else { break };
        detail = cause.to_string();
        source = cause.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {detail}")
    }
}

/// A response body as JSON when it is JSON, else as text; masked either
/// way. A body cut at the read limit loses the bytes that could be the
/// start of a value, so no prefix of a value survives the cut.
fn render_body(bytes: &[u8], cut: bool, masker: &Masker) -> Value {
    let keep = if cut {
        bytes.len().saturating_sub(masker.longest())
    } else {
        bytes.len()
    };
    let bytes = &bytes[..keep];
    if !cut && let Ok(value) = serde_json::from_slice::<Value>(bytes) {
        return masker.mask_json(value);
    }
    let text = String::from_utf8_lossy(bytes);
    Value::String(masker.mask(&text))
}

/// [`render_body`], for the masking tests.
#[cfg(test)]
pub(super) fn render_body_for_tests(bytes: &[u8], cut: bool, masker: &Masker) -> Value {
    render_body(bytes, cut, masker)
}

/// The output, within [`OUTPUT_LIMIT`] as JSON text: an oversized body is
/// replaced by the start of its text and `"truncated": true`.
fn bounded(output: Value) -> Value {
    let text = output.to_string();
    if text.len() <= OUTPUT_LIMIT {
        return output;
    }
    let mut output = output;
    if let Value::Object(members) = &mut output {
        for key in ["body", "message"] {
            if let Some(value) = members.get_mut(key) {
                let as_text = match &*value {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                // Leave room for the rest of the object and for escaping.
                *value = Value::String(truncate_utf8(&as_text, OUTPUT_LIMIT / 2).to_string());
            }
        }
        members.insert("truncated".into(), Value::Bool(true));
    }
    let text = output.to_string();
    if text.len() <= OUTPUT_LIMIT {
        output
    } else {
        json!({ "truncated": true })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_body_is_masked_as_json_and_text_as_text() {
        let mut masker = Masker::new();
        masker.add("k3y\"x");
        let body = br#"{"echo":"Bearer k3y\"x"}"#;
        assert_eq!(
            render_body(body, false, &masker),
            json!({"echo": "Bearer ***"})
        );
        let text = b"header: Bearer k3y\"x";
        assert_eq!(
            render_body(text, false, &masker),
            json!("header: Bearer ***")
        );
    }

    #[test]
    fn a_cut_body_never_ends_with_the_start_of_a_value() {
        let mut masker = Masker::new();
        masker.add("abcdef");
        // The read stopped in the middle of the value.
        let body = b"prefix abc";
        let rendered = render_body(body, true, &masker);
        let text = rendered.as_str().expect("text");
        assert!(!text.contains("abc"), "{text}");
    }

    #[test]
    fn outputs_are_bounded() {
        let big = json!({"status": 200, "body": "x".repeat(OUTPUT_LIMIT * 2)});
        let bounded = bounded(big);
        assert!(bounded.to_string().len() <= OUTPUT_LIMIT);
        assert_eq!(bounded["truncated"], true);
        assert_eq!(bounded["status"], 200);
        let small = json!({"message": "hi"});
        assert_eq!(super::bounded(small.clone()), small);
    }

    #[tokio::test]
    async fn a_log_step_masks_its_message() {
        let mut masker = Masker::new();
        masker.add("hunter2");
        let client = http_client(EgressPolicy::default()).expect("client");
        let outcome = execute_step(
            &client,
            &json!({"type": "log", "message": "pw=hunter2"}),
            &masker,
        )
        .await;
        assert_eq!(outcome.status, StepStatus::Succeeded);
        assert_eq!(outcome.output, json!({"message": "pw=***"}));
    }
}
