//! The runs' way out: [`RunClient`], the edge's [`StepRunner`], sends an
//! http step's request with reqwest under the egress policy. Names are
//! resolved by [`resolver::PolicyResolver`], which keeps only the
//! addresses the policy allows; IP literals are checked before anything is
//! sent; no redirect is followed and no proxy is taken from the
//! environment.

mod resolver;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use cairn_app::runs::egress::{EgressPolicy, EgressRefusal, Host};
use cairn_app::runs::steps::{
    READ_LIMIT, RUN_MARKER_HEADER, StepFuture, StepRequest, StepResponse, StepRunner,
};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use resolver::PolicyResolver;

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

impl StepRunner for RunClient {
    fn send(&self, request: StepRequest) -> StepFuture<'_> {
        Box::pin(send(self, request))
    }
}

/// Sends one step's request and reads at most [`READ_LIMIT`] bytes of
/// its answer.
async fn send(client: &RunClient, request: StepRequest) -> Result<StepResponse, String> {
    let Ok(method) = reqwest::Method::from_bytes(request.method.as_bytes()) else {
        return Err("method: not an HTTP method".into());
    };
    let url = match reqwest::Url::parse(&request.url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => url,
        _ => {
            return Err(
                "url: not an absolute http:// or https:// URL once its references are resolved"
                    .into(),
            );
        }
    };
    // The port is known for http and https.
    let port = url.port_or_known_default().unwrap_or(80);
    // An IP literal never reaches the resolver: it is checked here, before
    // anything is sent.
    if let Some(address) = literal_address(&url) {
        client
            .egress
            .decide(&Host::Literal, SocketAddr::new(address, port))
            .map_err(|refusal| refusal.to_string())?;
    }
    let http = client
        .for_port(port)
        .map_err(|error| request_error(&error))?;
    let headers = headers(&request.headers)?;
    let mut outgoing = http
        .request(method, url)
        .headers(headers)
        .timeout(request.timeout);
    match request.body {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::String(text)) => outgoing = outgoing.body(text),
        Some(other) => outgoing = outgoing.json(&other),
    }
    let mut response = outgoing
        .send()
        .await
        .map_err(|error| request_error(&error))?;
    let status = response.status().as_u16();
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
            Err(error) => return Err(request_error(&error)),
        }
    }
    Ok(StepResponse { status, body, cut })
}

/// The step's headers, each marked sensitive, and [`RUN_MARKER_HEADER`]
/// last, so a definition cannot remove or change it: Cairn's own edge
/// refuses every request that carries it, however the run reached it (a
/// public name, a proxy in front), so a resolved value never comes back in
/// as stored data the invoker could read.
fn headers(given: &[(String, String)]) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    for (name, text) in given {
        let Ok(header) = HeaderName::from_bytes(name.as_bytes()) else {
            return Err(format!("headers.{name}: not a header name"));
        };
        let Ok(mut value) = HeaderValue::from_str(text) else {
            return Err(format!(
                "headers.{name}: not a valid header value once resolved"
            ));
        };
        value.set_sensitive(true);
        headers.insert(header, value);
    }
    headers.insert(
        HeaderName::from_static(RUN_MARKER_HEADER),
        HeaderValue::from_static("1"),
    );
    Ok(headers)
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
