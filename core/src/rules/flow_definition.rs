//! The step schema of a flow definition (docs/contract.md section 6), checked when
//! a flow is saved so that a bad definition is a 422 naming the offending
//! member, never a failure at run time.
//!
//! ```text
//! {"steps":[{"id":"fetch","type":"http","method":"GET","url":"https://…",
//!            "headers":{…},"body":…,"timeout_ms":5000},
//!           {"id":"note","type":"log","message":"fetched $secret.NAME"}]}
//! ```
//! String values may hold references, `$secret.NAME` and `$env.NAME`, whose
//! names are checked here; whether they resolve is decided at run time.

use std::collections::HashSet;

use serde_json::{Map, Value};

/// The most steps a flow may have.
pub const MAX_STEPS: usize = 100;
/// The largest definition, as JSON text (it travels in one log record).
pub const MAX_DEFINITION_BYTES: usize = 32 * 1024;
/// The longest an http step may wait, in milliseconds.
pub const MAX_TIMEOUT_MS: u64 = 300_000;
/// The step types a flow may use.
pub const STEP_TYPES: &[&str] = &["http", "log"];
/// The methods an http step may use.
pub const HTTP_METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];

/// What is wrong with a definition, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct FlowDefinitionError {
    /// The member to blame, as `definition.steps[1].url`.
    pub path: String,
    /// What is wrong (never the value itself: it may hold a secret).
    pub message: String,
}

fn error(path: impl Into<String>, message: impl Into<String>) -> FlowDefinitionError {
    FlowDefinitionError {
        path: path.into(),
        message: message.into(),
    }
}

/// A reference found in a string value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reference {
    /// `$secret.NAME`.
    Secret(String),
    /// `$env.NAME`.
    Env(String),
}

/// The references in `text`, or why one is malformed.
pub fn references(text: &str) -> Result<Vec<Reference>, String> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices('$') {
        let rest = &text[at + 1..];
        let (kind, rest) = if let Some(rest) = rest.strip_prefix("secret.") {
            ("secret", rest)
        } else if let Some(rest) = rest.strip_prefix("env.") {
            ("env", rest)
        } else {
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let valid = name.len() <= 128
            && name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        if !valid {
            return Err(format!(
                "${kind}. must be followed by a name of letters, digits and underscores \
                 (not starting with a digit, at most 128)"
            ));
        }
        found.push(match kind {
            "secret" => Reference::Secret(name),
            _ => Reference::Env(name),
        });
    }
    Ok(found)
}

/// Every reference in a JSON value, with the path of the string it is in.
fn check_references(path: &str, value: &Value) -> Result<(), FlowDefinitionError> {
    match value {
        Value::String(text) => references(text).map(|_| ()).map_err(|m| error(path, m)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| check_references(&format!("{path}[{i}]"), item)),
        Value::Object(members) => members
            .iter()
            .try_for_each(|(key, item)| check_references(&format!("{path}.{key}"), item)),
        _ => Ok(()),
    }
}

fn string<'v>(
    step: &'v Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<Option<&'v str>, FlowDefinitionError> {
    match step.get(key) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(error(format!("{path}.{key}"), "must be a string")),
    }
}

fn required<'v>(
    step: &'v Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<&'v str, FlowDefinitionError> {
    string(step, path, key)?.ok_or_else(|| error(format!("{path}.{key}"), "is required"))
}

fn check_url(path: &str, url: &str) -> Result<(), FlowDefinitionError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let host_starts = rest.and_then(|rest| rest.chars().next());
    let well_formed = match host_starts {
        // A reference may supply the host; the rest is checked at run time.
        Some('$') => true,
        Some(c) => !matches!(c, '/' | '?' | '#' | ':') && !url.chars().any(char::is_whitespace),
        None => false,
    };
    if well_formed {
        Ok(())
    } else {
        Err(error(
            format!("{path}.url"),
            "must be an absolute http:// or https:// URL with a host",
        ))
    }
}

fn check_http(step: &Map<String, Value>, path: &str) -> Result<(), FlowDefinitionError> {
    let method = required(step, path, "method")?;
    if !HTTP_METHODS.contains(&method) {
        return Err(error(
            format!("{path}.method"),
            format!("must be one of {}", HTTP_METHODS.join(", ")),
        ));
    }
    check_url(path, required(step, path, "url")?)?;
    if let Some(headers) = step.get("headers") {
        let Value::Object(headers) = headers else {
            return Err(error(format!("{path}.headers"), "must be an object"));
        };
        for (name, value) in headers {
            let token = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
            if !token {
                return Err(error(
                    format!("{path}.headers"),
                    "a header name must be a non-empty HTTP token",
                ));
            }
            if !value.is_string() {
                return Err(error(format!("{path}.headers.{name}"), "must be a string"));
            }
        }
    }
    if let Some(timeout) = step.get("timeout_ms") {
        let valid = timeout
            .as_u64()
            .is_some_and(|ms| (1..=MAX_TIMEOUT_MS).contains(&ms));
        if !valid {
            return Err(error(
                format!("{path}.timeout_ms"),
                format!("must be a whole number of milliseconds from 1 to {MAX_TIMEOUT_MS}"),
            ));
        }
    }
    Ok(())
}

fn check_step(
    index: usize,
    step: &Value,
    ids: &mut HashSet<String>,
) -> Result<(), FlowDefinitionError> {
    let path = format!("definition.steps[{index}]");
    let Value::Object(step) = step else {
        return Err(error(path, "must be an object"));
    };
    let kind = required(step, &path, "type")?;
    let allowed: &[&str] = match kind {
        "http" => &[
            "id",
            "type",
            "method",
            "url",
            "headers",
            "body",
            "timeout_ms",
        ],
        "log" => &["id", "type", "message"],
        _ => {
            return Err(error(
                format!("{path}.type"),
                format!(
                    "unknown step type; expected one of {}",
                    STEP_TYPES.join(", ")
                ),
            ));
        }
    };
    if let Some(unknown) = step.keys().find(|key| !allowed.contains(&key.as_str())) {
        return Err(error(
            format!("{path}.{unknown}"),
            format!("is not a member of a {kind} step"),
        ));
    }
    if let Some(id) = string(step, &path, "id")? {
        let valid = (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid {
            return Err(error(
                format!("{path}.id"),
                "must be 1 to 64 letters, digits, '_' or '-'",
            ));
        }
        if !ids.insert(id.to_string()) {
            return Err(error(format!("{path}.id"), "is used by an earlier step"));
        }
    }
    match kind {
        "http" => check_http(step, &path)?,
        _ => {
            required(step, &path, "message")?;
        }
    }
    check_references(&path, &Value::Object(step.clone()))
}

/// Checks a definition and returns it as compact JSON text (members in the
/// order given).
pub fn check_flow_definition(definition: &Value) -> Result<String, FlowDefinitionError> {
    let Value::Object(members) = definition else {
        return Err(error("definition", "must be an object with a steps array"));
    };
    if let Some(unknown) = members
        .keys()
        .find(|key| !["steps", "description"].contains(&key.as_str()))
    {
        return Err(error(
            format!("definition.{unknown}"),
            "is not a member of a definition (steps, description)",
        ));
    }
    if let Some(description) = members.get("description")
        && !description.is_string()
    {
        return Err(error("definition.description", "must be a string"));
    }
    let Some(Value::Array(steps)) = members.get("steps") else {
        return Err(error(
            "definition.steps",
            "is required and must be an array",
        ));
    };
    if steps.is_empty() || steps.len() > MAX_STEPS {
        return Err(error(
            "definition.steps",
            format!("must hold 1 to {MAX_STEPS} steps"),
        ));
    }
    let mut ids = HashSet::new();
    for (index, step) in steps.iter().enumerate() {
        check_step(index, step, &mut ids)?;
    }
    let text = definition.to_string();
    if text.len() > MAX_DEFINITION_BYTES {
        return Err(error(
            "definition",
            format!("must be at most {MAX_DEFINITION_BYTES} bytes as JSON"),
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn path_of(definition: Value) -> String {
        check_flow_definition(&definition)
            .expect_err("refused")
            .path
    }

    #[test]
    fn a_good_definition_passes_in_order() {
        let definition = json!({"steps": [
            {"id": "fetch", "type": "http", "method": "POST", "url": "https://example.com/x",
             "headers": {"Authorization": "Bearer $secret.API_TOKEN"}, "body": {"a": 1},
             "timeout_ms": 5000},
            {"type": "log", "message": "done with $env.REGION"},
        ]});
        let text = check_flow_definition(&definition).expect("valid");
        assert!(text.starts_with(r#"{"steps":[{"id":"fetch","type":"http""#));
    }

    #[test]
    fn each_mistake_is_named() {
        assert_eq!(path_of(json!([])), "definition");
        assert_eq!(path_of(json!({})), "definition.steps");
        assert_eq!(path_of(json!({"steps": []})), "definition.steps");
        assert_eq!(path_of(json!({"steps": [], "x": 1})), "definition.x");
        assert_eq!(
            path_of(json!({"steps": [{"type": "shell", "cmd": "rm"}]})),
            "definition.steps[0].type"
        );
        assert_eq!(
            path_of(json!({"steps": [{"type": "log"}]})),
            "definition.steps[0].message"
        );
        assert_eq!(
            path_of(json!({"steps": [{"type": "http", "method": "GET", "url": "ftp://x"}]})),
            "definition.steps[0].url"
        );
        assert_eq!(
            path_of(json!({"steps": [{"type": "http", "method": "GET", "url": "http:// x"}]})),
            "definition.steps[0].url"
        );
        assert_eq!(
            path_of(json!({"steps": [{"type": "http", "method": "BREW", "url": "http://x"}]})),
            "definition.steps[0].method"
        );
        assert_eq!(
            path_of(json!({"steps": [{"type": "log", "message": "m", "extra": 1}]})),
            "definition.steps[0].extra"
        );
        assert_eq!(
            path_of(json!({"steps": [
                {"id": "a", "type": "log", "message": "m"},
                {"id": "a", "type": "log", "message": "m"}]})),
            "definition.steps[1].id"
        );
        assert_eq!(
            path_of(json!({"steps": [{"type": "log", "message": "$secret.9bad"}]})),
            "definition.steps[0].message"
        );
        assert_eq!(
            path_of(
                json!({"steps": [{"type": "http", "method": "GET", "url": "http://x",
                "timeout_ms": 0}]})
            ),
            "definition.steps[0].timeout_ms"
        );
    }

    #[test]
    fn references_are_found() {
        assert_eq!(
            references("a $secret.A_1 b $env.HOME $other").expect("valid"),
            vec![
                Reference::Secret("A_1".into()),
                Reference::Env("HOME".into())
            ]
        );
        assert!(references("$secret.").is_err());
    }
}
