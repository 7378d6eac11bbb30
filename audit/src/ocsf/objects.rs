//! The OCSF objects built from parts of the line: users, the actor,
//! resources, the source endpoint, the HTTP request and response.

use std::net::IpAddr;

use super::PRODUCT;
use super::classification::http_method;
use super::json::{Json, Object, put_enum, put_str};
use super::line::{Line, Party};

/// An OCSF `user` with the id as `uid` and the name as `name`, each only
/// when known; `None` when neither is (the object needs one of them).
pub(super) fn user_object<'a>(uid: Option<&'a str>, name: Option<&'a str>) -> Option<Object<'a>> {
    if uid.is_none() && name.is_none() {
        return None;
    }
    let mut user = Vec::with_capacity(5);
    put_str(&mut user, "name", name);
    put_str(&mut user, "uid", uid);
    Some(user)
}

/// A `user` the class requires: the known id and name, or else the
/// placeholder `unknown` for a record that no longer says who (a pruned
/// payload).
pub(super) fn required_user<'a>(uid: Option<&'a str>, name: Option<&'a str>) -> Json<'a> {
    Json::Object(user_object(uid, name).unwrap_or_else(|| placeholder_user("unknown")))
}

/// A user without id or name: one of the two fixed placeholders, of type
/// Unknown.
pub(super) fn placeholder_user(name: &str) -> Object<'_> {
    let mut user = Vec::with_capacity(5);
    user.push(("name", Json::Str(name)));
    put_enum(&mut user, "type_id", 0, "type", "Unknown");
    user
}

/// The OCSF `actor` of the line's actor. People are `actor.user` (uid,
/// and the name when it could be opened); an API key is the credential of
/// `actor.session`; schedules and runs are Service users acting inside
/// Cairn; the system is the application itself; anonymous callers are the
/// placeholder user `anonymous`.
pub(super) fn actor_object<'a>(actor: &Party<'a>) -> Json<'a> {
    let mut out = Vec::with_capacity(2);
    match actor.kind {
        "api_key" => {
            if let Some(user) = user_object(None, actor.name) {
                out.push(("user", Json::Object(user)));
            }
            if let Some(key) = actor.id {
                let session = vec![("credential_uid", Json::Str(key))];
                out.push(("session", Json::Object(session)));
            }
        }
        "schedule" | "run" => {
            if let Some(mut user) = user_object(actor.id, actor.name) {
                put_enum(&mut user, "type_id", 4, "type", "Service");
                out.push(("user", Json::Object(user)));
            }
            out.push(("app_name", Json::Str(PRODUCT)));
        }
        "system" => out.push(("app_name", Json::Str(PRODUCT))),
        "anonymous" => out.push(("user", Json::Object(placeholder_user("anonymous")))),
        _ => {
            if let Some(user) = user_object(actor.id, actor.name) {
                out.push(("user", Json::Object(user)));
            }
        }
    }
    if out.is_empty() {
        // An actor needs one of its identifying attributes; the line's
        // actor type is what is known.
        out.push(("invoked_by", Json::Str(actor.kind)));
    }
    Json::Object(out)
}

/// A `resource_details` (also the shape of `web_resource`): uid, name and
/// the Cairn resource type.
pub(super) fn resource_object<'a>(
    kind: &'a str,
    uid: Option<&'a str>,
    name: Option<&'a str>,
) -> Json<'a> {
    let mut resource = Vec::with_capacity(3);
    put_str(&mut resource, "name", name);
    put_str(&mut resource, "uid", uid);
    resource.push(("type", Json::Str(kind)));
    Json::Object(resource)
}

/// The line's resource as a `resource_details`.
pub(super) fn line_resource<'a>(line: &Line<'a>) -> Json<'a> {
    let (uid, name) = line.resource.label();
    resource_object(line.resource.kind, uid, name)
}

/// `src_endpoint`: the client's address, only when it is an IP address
/// OCSF accepts. API Activity requires one even without an address:
/// Cairn itself for its own actors (system, schedules, runs), otherwise
/// the placeholder name `unknown`.
pub(super) fn src_endpoint<'a>(line: &Line<'a>, required: bool) -> Option<Json<'a>> {
    let ip = line
        .ip
        .filter(|ip| ip.len() <= 40 && ip.parse::<IpAddr>().is_ok());
    let member = match ip {
        Some(ip) => ("ip", Json::Str(ip)),
        None if !required => return None,
        None if matches!(line.actor.kind, "system" | "schedule" | "run") => {
            ("name", Json::Str(PRODUCT))
        }
        None => ("name", Json::Str("unknown")),
    };
    Some(Json::Object(vec![member]))
}

/// `http_request`: the request id and user agent, and for HTTP-shaped
/// details the method and path. `None` when there is nothing to say.
pub(super) fn http_request<'a>(line: &Line<'a>, with_details: bool) -> Option<Json<'a>> {
    let mut request = Vec::with_capacity(4);
    if with_details {
        if let Some(method) = line.detail("method").and_then(http_method) {
            request.push(("http_method", Json::Str(method)));
        }
        if let Some(path) = line.detail("path") {
            request.push(("url", Json::Object(vec![("path", Json::Str(path))])));
        }
    }
    put_str(&mut request, "uid", line.request_id);
    put_str(&mut request, "user_agent", line.user_agent);
    (!request.is_empty()).then_some(Json::Object(request))
}

/// `http_response` from an HTTP status in the details.
pub(super) fn http_response<'a>(line: &Line<'a>) -> Option<Json<'a>> {
    let code = line.detail_u64("status")?;
    Some(Json::Object(vec![("code", Json::Uint(code))]))
}

/// A one-element `privileges` array from a detail (empty when pruned:
/// User Access Management requires the attribute).
pub(super) fn privileges(value: Option<&str>) -> Json<'_> {
    Json::Array(value.map(Json::Str).into_iter().collect())
}

/// `{"name": "Cairn"}`: Cairn as a service.
pub(super) fn cairn_service() -> Json<'static> {
    Json::Object(vec![("name", Json::Str(PRODUCT))])
}
