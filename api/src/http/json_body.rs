//! [`JsonBody`]: the request-body extractor every handler uses instead of
//! `axum::Json`, so that bad input is a problem+json 4xx that names the
//! field, never a plain-text rejection, and never echoes what was sent.
//!
//! Request bodies carry passwords, secret values and connection
//! credentials. serde's messages quote the offending value ("invalid type:
//! string \"hunter2\", expected u32"), so they are never passed through:
//! the detail is rebuilt from the parts that come from our own types (the
//! field path, the expected type, the accepted field names).
//!
//! Statuses: 415 when the body is not `application/json`; 413 over the
//! body limit; 400 for malformed JSON (with line and column); 422 when the
//! JSON is well-formed but a field is missing, unknown, duplicated or of the
//! wrong type, with `field` naming it.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FailedToBufferBody};
use axum::extract::{DefaultBodyLimit, FromRequest, Request};
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;

use super::problem::ApiError;

/// axum's own body limit when no [`DefaultBodyLimit`] is set: 2 MiB.
pub const AXUM_DEFAULT_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// The longest field path quoted back to the client, in characters; a
/// client-chosen key (an unknown field, a map key) is cut to this.
const MAX_FIELD_CHARS: usize = 128;

/// A JSON request body, deserialized into `T`. Use it as the last handler
/// argument, as with `axum::Json`; types should use
/// `#[serde(deny_unknown_fields)]`.
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonBody<T>(pub T);

/// The body limit in force, so a 413 can state it. Set by [`body_limit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyLimit(pub usize);

/// The layer that limits request bodies to `max_bytes` and lets
/// [`JsonBody`] say so in its 413. Apply it to the router (and again, with a
/// different size, to a route that needs one):
/// `Router::layer(json_body::body_limit(64 * 1024))`.
pub fn body_limit(max_bytes: usize) -> (DefaultBodyLimit, Extension<BodyLimit>) {
    (
        DefaultBodyLimit::max(max_bytes),
        Extension(BodyLimit(max_bytes)),
    )
}

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(ApiError::unsupported_media_type());
        }
        let bytes = read_body(request, state).await?;
        parse(&bytes).map(JsonBody)
    }
}

/// A request body that may be left out: no body (or only whitespace), and
/// a JSON `null`, are `None`; anything else is judged exactly as
/// [`JsonBody`] judges it.
#[derive(Clone, Copy, Debug, Default)]
pub struct OptionalJsonBody<T>(pub Option<T>);

impl<T, S> FromRequest<S> for OptionalJsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = is_json(request.headers());
        let bytes = read_body(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJsonBody(None));
        }
        if !json {
            return Err(ApiError::unsupported_media_type());
        }
        // The document describes the body as the object or null.
        if bytes.trim_ascii() == b"null" {
            return Ok(OptionalJsonBody(None));
        }
        parse(&bytes).map(|value| OptionalJsonBody(Some(value)))
    }
}

/// The body's bytes, within the limit in force (413 stating it).
async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    let limit = request
        .extensions()
        .get::<BodyLimit>()
        .map_or(AXUM_DEFAULT_BODY_LIMIT, |limit| limit.0);
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| match rejection {
            BytesRejection::FailedToBufferBody(FailedToBufferBody::LengthLimitError(_)) => {
                ApiError::payload_too_large(limit)
            }
            _ => ApiError::bad_request("the request body could not be read"),
        })
}

/// `application/json`, parameters (such as `charset=utf-8`) allowed.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// Deserializes a JSON body, mapping every failure to a problem that names
/// the field and quotes nothing of the input. Public so that handlers with a
/// body in hand (a multipart part, say) report the same way.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // serde's derived struct deserializers also accept a JSON array, filling
    // the fields by position: `["admin","password"]` would be a login. A
    // request body is an object or nothing.
    match bytes.iter().find(|byte| !byte.is_ascii_whitespace()) {
        Some(b'{') => {}
        Some(_) => {
            return Err(ApiError::bad_request(
                "the request body has the wrong shape: expected a JSON object",
            ));
        }
        None => {
            return Err(ApiError::bad_request(
                "the request body is empty: expected a JSON object",
            ));
        }
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(describe)?;
    deserializer.end().map_err(|error| malformed(&error))?;
    Ok(value)
}

fn describe(error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = render_path(error.path());
    let error = error.into_inner();
    match error.classify() {
        serde_json::error::Category::Data => data_error(path, message_of(&error)),
        _ => malformed(&error),
    }
}

/// serde_json's message without its " at line L column C" suffix.
fn message_of(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    match text.strip_suffix(&suffix) {
        Some(message) => message.to_owned(),
        None => text,
    }
}

/// 400 for JSON that does not parse. serde_json's syntax messages are fixed
/// phrases ("expected `,` or `}`", "EOF while parsing a string"), never
/// parts of the input, so they are safe to pass on.
fn malformed(error: &serde_json::Error) -> ApiError {
    ApiError::bad_request(format!(
        "malformed JSON at line {} column {}: {}",
        error.line(),
        error.column(),
        message_of(error)
    ))
}

/// 422 (400 for the body as a whole) for JSON that parses but does not fit
/// the type. Only parts that come from our own types are kept: the field
/// path, field names between backticks, and what was expected.
fn data_error(path: String, message: String) -> ApiError {
    let join = |name: &str| {
        let name = truncate(name);
        if path.is_empty() {
            name
        } else {
            format!("{path}.{name}")
        }
    };
    if let Some(name) = between(&message, "missing field `", "`") {
        let field = join(name);
        let detail = format!("`{field}` is required");
        return ApiError::validation(field, detail);
    }
    if let Some(name) = between(&message, "duplicate field `", "`") {
        let field = join(name);
        let detail = format!("`{field}` appears more than once");
        return ApiError::validation(field, detail);
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        // "unknown field `NAME`, expected one of `a`, `b`" or "…, there are
        // no fields": NAME is the client's own key, the rest is ours.
        let (name, known) = match rest.rsplit_once("`, expected ") {
            Some((name, expected)) => (name, format!("; expected {expected}")),
            None => (
                rest.rsplit_once("`, there are no fields")
                    .map_or(rest, |(name, _)| name),
                "; this object takes no fields".to_owned(),
            ),
        };
        // serde_path_to_error has already stepped into the unknown key, so
        // the path ends with it.
        let field = if path.is_empty() { join(name) } else { path };
        let detail = format!("`{field}` is not a field of this request{known}");
        return ApiError::validation(field, detail);
    }
    // "invalid type: string \"…\", expected u32", "invalid value: …",
    // "invalid length 3, expected …", "unknown variant `…`, expected one of
    // …": the expected part comes last and from our types; everything
    // before it may quote the client's value and is dropped.
    let expected = [
        "invalid type: ",
        "invalid value: ",
        "invalid length ",
        "unknown variant `",
    ]
    .iter()
    .any(|prefix| message.starts_with(prefix))
    .then(|| {
        message
            .rsplit_once(", expected ")
            .map(|(_, expected)| expected)
    })
    .flatten();
    if path.is_empty() {
        return ApiError::bad_request(match expected {
            Some(expected) => format!("the request body has the wrong shape: expected {expected}"),
            None => "the request body has the wrong shape".to_owned(),
        });
    }
    let detail = match expected {
        Some(expected) => format!("`{path}` is invalid: expected {expected}"),
        // A type's own message (a UUID that does not parse, a custom check)
        // may quote the input: say only which field.
        None => format!("`{path}` is invalid"),
    };
    ApiError::validation(path, detail)
}

/// The text between `prefix` (at the start) and the last `end`.
fn between<'a>(message: &'a str, prefix: &str, end: &str) -> Option<&'a str> {
    message
        .strip_prefix(prefix)
        .and_then(|rest| rest.rsplit_once(end))
        .map(|(inside, _)| inside)
}

/// `steps[2].name`; empty for the body itself. Keys are cut to a bounded
/// length since a map key is the client's own text.
fn render_path(path: &serde_path_to_error::Path) -> String {
    let mut rendered = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => rendered.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !rendered.is_empty() {
                    rendered.push('.');
                }
                rendered.push_str(&truncate(key));
            }
            Segment::Unknown => {
                if !rendered.is_empty() {
                    rendered.push('.');
                }
                rendered.push('?');
            }
        }
        if rendered.chars().count() > 4 * MAX_FIELD_CHARS {
            rendered = truncate(&rendered);
            break;
        }
    }
    rendered
}

fn truncate(text: &str) -> String {
    if text.chars().count() <= MAX_FIELD_CHARS {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(MAX_FIELD_CHARS).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod array_tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Login {
        username: String,
        #[serde(default)]
        password: Option<String>,
    }

    #[test]
    fn an_array_is_never_taken_for_an_object() {
        let error = parse::<Login>(br#"["admin","secret-pw"]"#).expect_err("array");
        assert_eq!(error.status(), axum::http::StatusCode::BAD_REQUEST);
        assert!(!error.detail().contains("secret-pw"));
        assert!(parse::<Login>(b"  \n").is_err());
        assert!(parse::<Login>(br#" {"username":"a"}"#).is_ok());
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::post;
    use serde::Deserialize;
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct CreateUser {
        username: String,
        password: String,
        role: Option<Role>,
        #[serde(default)]
        tags: Vec<Tag>,
        #[serde(default)]
        pin: Option<u32>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Role {
        Admin,
        Member,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Tag {
        name: String,
    }

    async fn create(JsonBody(user): JsonBody<CreateUser>) -> String {
        user.username
    }

    fn app() -> Router {
        Router::new()
            .route("/users", post(create))
            .layer(body_limit(256))
    }

    async fn send(content_type: Option<&str>, body: &str) -> (StatusCode, String) {
        let mut request = Request::post("/users");
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        let response = app()
            .oneshot(request.body(Body::from(body.to_owned())).expect("request"))
            .await
            .expect("response");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
            .await
            .expect("body");
        (status, String::from_utf8(bytes.to_vec()).expect("utf-8"))
    }

    async fn problem(body: &str) -> (StatusCode, Value, String) {
        let (status, text) = send(Some("application/json"), body).await;
        let value = serde_json::from_str(&text).expect("problem json");
        (status, value, text)
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Options {}

    async fn optional(OptionalJsonBody(options): OptionalJsonBody<Options>) -> String {
        format!("{}", options.is_some())
    }

    #[tokio::test]
    async fn an_optional_body_may_be_left_out_but_is_judged_when_sent() {
        let send = |content_type: Option<&'static str>, body: &'static str| async move {
            let mut request = Request::post("/options");
            if let Some(content_type) = content_type {
                request = request.header(CONTENT_TYPE, content_type);
            }
            let response = Router::new()
                .route("/options", post(optional))
                .oneshot(request.body(Body::from(body)).expect("request"))
                .await
                .expect("response");
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
                .await
                .expect("body");
            (status, String::from_utf8(bytes.to_vec()).expect("utf-8"))
        };
        assert_eq!(send(None, "").await, (StatusCode::OK, "false".into()));
        assert_eq!(
            send(Some("application/json"), " null ").await,
            (StatusCode::OK, "false".into())
        );
        assert_eq!(
            send(Some("application/json"), "{}").await,
            (StatusCode::OK, "true".into())
        );
        assert_eq!(
            send(Some("text/plain"), "{}").await.0,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert_eq!(
            send(Some("application/json"), "[]").await.0,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            send(Some("application/json"), r#"{"x":1}"#).await.0,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }

    #[tokio::test]
    async fn a_valid_body_is_deserialized() {
        let (status, body) = send(
            Some("application/json; charset=utf-8"),
            r#"{"username":"alice","password":"pw","role":"admin"}"#,
        )
        .await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "alice"));
    }

    #[tokio::test]
    async fn other_media_types_are_415() {
        for content_type in [None, Some("text/plain"), Some("application/jsonx")] {
            let (status, body) = send(content_type, r#"{"username":"a","password":"b"}"#).await;
            assert_eq!(
                status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{content_type:?}"
            );
            assert!(body.contains("urn:cairn:problem:unsupported-media-type"));
        }
    }

    #[tokio::test]
    async fn an_oversized_body_is_413_and_states_the_limit() {
        let password = "p".repeat(300);
        let (status, body, _) =
            problem(&format!(r#"{{"username":"a","password":"{password}"}}"#)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(
            body["detail"]
                .as_str()
                .expect("detail")
                .contains("256 bytes"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn malformed_json_is_400_with_line_and_column() {
        let (status, body, text) = problem("{\"username\": \"a\",\n \"password\": hunter2}").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let detail = body["detail"].as_str().expect("detail");
        assert!(
            detail.starts_with("malformed JSON at line 2 column "),
            "{detail}"
        );
        assert!(!text.contains("hunter2"), "{text}");

        let (status, body, _) = problem("").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body["detail"].as_str().expect("detail").contains("empty"),
            "{body}"
        );

        let (status, _, _) = problem(r#"{"username":"a","password":"b"} trailing"#).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn a_missing_field_is_422_naming_it() {
        let (status, body, _) = problem(r#"{"username":"alice"}"#).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["field"], "password");
        assert_eq!(body["detail"], "`password` is required");

        let (status, body, _) =
            problem(r#"{"username":"a","password":"b","tags":[{"name":"x"},{}]}"#).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["field"], "tags[1].name");
    }

    #[tokio::test]
    async fn a_wrong_type_is_422_naming_the_path_and_never_the_value() {
        let secret = "correct horse, expected battery staple";
        let (status, body, text) = problem(&format!(
            r#"{{"username":"a","password":"b","pin":"{secret}"}}"#
        ))
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["field"], "pin");
        assert_eq!(body["detail"], "`pin` is invalid: expected u32");
        assert!(!text.contains("horse"), "{text}");
        assert!(!text.contains("battery"), "{text}");

        let (status, body, text) =
            problem(r#"{"username":"a","password":"b","role":"superuser-hunter2"}"#).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["field"], "role");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(
            body["detail"].as_str().expect("detail").contains("`admin`"),
            "{body}"
        );

        let (status, body, text) = problem(r#"{"username":"a","password":12345678901234}"#).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["field"], "password");
        assert!(!text.contains("12345678901234"), "{text}");
    }

    #[tokio::test]
    async fn an_unknown_field_is_422_naming_it() {
        let (status, body, text) =
            problem(r#"{"username":"a","password":"b","is_superuser":true}"#).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["field"], "is_superuser");
        let detail = body["detail"].as_str().expect("detail");
        assert!(
            detail.starts_with("`is_superuser` is not a field"),
            "{detail}"
        );
        assert!(detail.contains("`username`"), "{detail}");
        assert!(!text.contains("true"), "{text}");
    }

    #[tokio::test]
    async fn a_duplicate_field_is_422() {
        let (status, body, text) =
            problem(r#"{"username":"a","password":"first","password":"second"}"#).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["field"], "password");
        assert!(
            !text.contains("first") && !text.contains("second"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn the_wrong_shape_altogether_is_400() {
        let (status, body, _) = problem(r#"["alice","hunter2"]"#).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.get("field").is_none());
        assert!(!body.to_string().contains("hunter2"));
    }

    #[test]
    fn long_client_keys_are_cut() {
        let key = "k".repeat(1000);
        let error = parse::<CreateUser>(
            format!(r#"{{"username":"a","password":"b","{key}":1}}"#).as_bytes(),
        )
        .expect_err("unknown field");
        let field = error.field().expect("field");
        assert!(field.chars().count() <= MAX_FIELD_CHARS + 1, "{field}");
    }
}
