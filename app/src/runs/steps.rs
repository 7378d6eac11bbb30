//! Executing one step whose references are already resolved: `http`
//! (through the [`StepRunner`] port: the edge sends the request, under the
//! egress policy) and `log`. What a step returns is masked here, before
//! anyone stores or shows it, and bounded: a response body is read up to
//! [`READ_LIMIT`] and the output kept to [`OUTPUT_LIMIT`].

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use cairn_schemas::StepStatus;
use serde_json::{Value, json};

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

/// An http step's request, its references resolved: what the
/// [`StepRunner`] sends. It holds resolved values in clear, so its debug
/// form names only the method and the header names.
#[derive(Clone, PartialEq)]
pub struct StepRequest {
    /// The method as the definition spells it (`GET` when it says none).
    pub method: String,
    /// The URL as the definition spells it.
    pub url: String,
    /// The headers, in the definition's order (a non-string value is sent
    /// empty).
    pub headers: Vec<(String, String)>,
    /// How long the whole request may take.
    pub timeout: Duration,
    /// The body: none, text as it is, or anything else as JSON.
    pub body: Option<Value>,
}

impl std::fmt::Debug for StepRequest {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        formatter
            .debug_struct("StepRequest")
            .field("method", &self.method)
            .field("headers", &names)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// What came back: the status and at most [`READ_LIMIT`] bytes of body.
#[derive(Clone, Debug, PartialEq)]
pub struct StepResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The body read, at most [`READ_LIMIT`] bytes.
    pub body: Vec<u8>,
    /// Whether the body went on past [`READ_LIMIT`].
    pub cut: bool,
}

/// A boxed future of a [`StepRunner`].
pub type StepFuture<'a> = Pin<Box<dyn Future<Output = Result<StepResponse, String>> + Send + 'a>>;

/// The port through which runs reach the network. The edge's
/// implementation checks the egress policy on every address (IP literals
/// and resolved names), follows no redirect, uses no proxy from the
/// environment, adds [`RUN_MARKER_HEADER`] last, and reads at most
/// [`READ_LIMIT`] bytes. Its error is a sentence for the run's output
/// (without the URL; it is masked all the same).
pub trait StepRunner: Send + Sync + std::fmt::Debug {
    /// Sends one request and reads its answer.
    fn send(&self, request: StepRequest) -> StepFuture<'_>;
}

/// Executes a resolved step.
pub async fn execute_step(runner: &dyn StepRunner, step: &Value, masker: &Masker) -> StepOutcome {
    match step.get("type").and_then(Value::as_str) {
        Some("http") => http_step(runner, step, masker).await,
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

/// The request an http step's definition asks for.
fn step_request(step: &Value) -> StepRequest {
    let method = step.get("method").and_then(Value::as_str).unwrap_or("GET");
    let url = step.get("url").and_then(Value::as_str).unwrap_or("");
    let headers = match step.get("headers") {
        Some(Value::Object(members)) => members
            .iter()
            .map(|(name, value)| (name.clone(), value.as_str().unwrap_or_default().to_string()))
            .collect(),
        _ => Vec::new(),
    };
    let timeout = step
        .get("timeout_ms")
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_TIMEOUT_MS);
    StepRequest {
        method: method.to_string(),
        url: url.to_string(),
        headers,
        timeout: Duration::from_millis(timeout),
        body: step.get("body").filter(|body| !body.is_null()).cloned(),
    }
}

async fn http_step(runner: &dyn StepRunner, step: &Value, masker: &Masker) -> StepOutcome {
    let response = match runner.send(step_request(step)).await {
        Ok(response) => response,
        Err(error) => return StepOutcome::failed(masker, error),
    };
    let body = render_body(&response.body, response.cut, masker);
    let output = bounded(json!({ "status": response.status, "body": body }));
    if response.status >= 400 {
        StepOutcome {
            status: StepStatus::Failed,
            output,
            error: Some(format!("the server answered {}", response.status)),
        }
    } else {
        StepOutcome {
            status: StepStatus::Succeeded,
            output,
            error: None,
        }
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

    /// The network, answering every request with one response, and
    /// keeping what it was asked.
    #[derive(Debug, Default)]
    struct Network {
        answer: Option<StepResponse>,
        asked: std::sync::Mutex<Vec<StepRequest>>,
    }

    impl StepRunner for Network {
        fn send(&self, request: StepRequest) -> StepFuture<'_> {
            self.asked.lock().expect("lock").push(request);
            let answer = self
                .answer
                .clone()
                .ok_or_else(|| "the connection failed".to_string());
            Box::pin(async move { answer })
        }
    }

    #[tokio::test]
    async fn given_an_http_step_when_executed_then_the_request_is_the_definition_and_the_answer_is_masked()
     {
        let mut masker = Masker::new();
        masker.add("hunter2");
        let network = Network {
            answer: Some(StepResponse {
                status: 503,
                body: br#"{"echo":"hunter2"}"#.to_vec(),
                cut: false,
            }),
            ..Network::default()
        };
        let step = json!({"type": "http", "method": "POST", "url": "https://example.com/x",
            "headers": {"authorization": "Bearer hunter2", "n": 3}, "body": {"a": 1}, "timeout_ms": 50});
        let outcome = execute_step(&network, &step, &masker).await;
        assert_eq!(outcome.status, StepStatus::Failed);
        assert_eq!(
            outcome.output,
            json!({"status": 503, "body": {"echo": "***"}})
        );
        assert_eq!(outcome.error.as_deref(), Some("the server answered 503"));
        let asked = network.asked.lock().expect("lock");
        assert_eq!(
            asked[0],
            StepRequest {
                method: "POST".into(),
                url: "https://example.com/x".into(),
                headers: vec![
                    ("authorization".into(), "Bearer hunter2".into()),
                    ("n".into(), String::new())
                ],
                timeout: Duration::from_millis(50),
                body: Some(json!({"a": 1})),
            }
        );
    }

    #[tokio::test]
    async fn given_a_failed_request_when_executed_then_its_error_is_masked() {
        let mut masker = Masker::new();
        masker.add("refused");
        let outcome = execute_step(&Network::default(), &json!({"type": "http"}), &masker).await;
        assert_eq!(outcome.status, StepStatus::Failed);
        assert_eq!(outcome.error.as_deref(), Some("the connection failed"));
        let mut masker = Masker::new();
        masker.add("connection");
        let outcome = execute_step(&Network::default(), &json!({"type": "http"}), &masker).await;
        assert_eq!(outcome.error.as_deref(), Some("the *** failed"));
    }

    #[test]
    fn a_requests_debug_form_holds_no_resolved_value() {
        let request = StepRequest {
            method: "POST".into(),
            url: "https://example.com/k3y-in-url".into(),
            headers: vec![("authorization".into(), "Bearer k3y-in-header".into())],
            timeout: Duration::from_millis(5),
            body: Some(json!({"token": "k3y-in-body"})),
        };
        let shown = format!("{request:?}");
        assert!(!shown.contains("k3y"), "{shown}");
        assert!(shown.contains("authorization"), "{shown}");
    }

    #[tokio::test]
    async fn a_log_step_masks_its_message() {
        let mut masker = Masker::new();
        masker.add("hunter2");
        let network = Network::default();
        let outcome = execute_step(
            &network,
            &json!({"type": "log", "message": "pw=hunter2"}),
            &masker,
        )
        .await;
        assert_eq!(outcome.status, StepStatus::Succeeded);
        assert_eq!(outcome.output, json!({"message": "pw=***"}));
    }
}
