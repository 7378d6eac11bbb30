//! The attributes particular to each class: the account, the logon, the
//! privileges, the group, the entity, the API call, the job, the log.

use cairn_schemas::Action;

use super::classification::Class;
use super::event_time::epoch_millis;
use super::json::{Json, Object, has, put_enum, put_str};
use super::line::Line;
use super::objects::{
    cairn_service, http_response, line_resource, placeholder_user, privileges, required_user,
    resource_object, user_object,
};
use super::{LOG_NAME, PRODUCT};

/// The attributes particular to the class.
pub(super) fn put_class_attributes<'a>(event: &mut Object<'a>, line: &Line<'a>, class: Class) {
    match class {
        Class::AccountChange => {
            let uid = line.detail("user_id").or(line.resource_id_if("user"));
            event.push(("user", required_user(uid, line.resource_name_if("user"))));
        }
        Class::Authentication => put_authentication(event, line),
        Class::EntityManagement => {
            let (uid, name) = line.resource.label();
            let mut entity = Vec::with_capacity(4);
            put_str(&mut entity, "name", name);
            put_str(&mut entity, "uid", uid);
            if line.resource.kind == "org" {
                put_enum(&mut entity, "type_id", 4, "type", "Organization");
            } else {
                put_enum(&mut entity, "type_id", 99, "type", line.resource.kind);
            }
            event.push(("entity", Json::Object(entity)));
        }
        Class::UserAccessManagement => put_user_access(event, line),
        Class::GroupManagement => put_group_management(event, line),
        Class::ApiActivity => {
            let mut api = Vec::with_capacity(3);
            api.push(("operation", Json::Str(line.action_name)));
            if let Some(request_id) = line.request_id {
                api.push((
                    "request",
                    Json::Object(vec![("uid", Json::Str(request_id))]),
                ));
            }
            api.push(("service", cairn_service()));
            event.push(("api", Json::Object(api)));
            event.push(("resources", Json::Array(vec![line_resource(line)])));
        }
        Class::WebResourceAccessActivity => {
            if !has(event, "http_request") {
                event.push(("http_request", Json::Object(Vec::new())));
            }
            if let Some(response) = http_response(line) {
                event.push(("http_response", response));
            }
            let (uid, name) = match (line.resource.id, line.resource.name) {
                (None, None) => (None, line.detail("path").or(Some(line.resource.kind))),
                label => label,
            };
            let resource = resource_object(line.resource.kind, uid, name);
            event.push(("web_resources", Json::Array(vec![resource])));
        }
        Class::HttpActivity => {
            if let Some(response) = http_response(line) {
                event.push(("http_response", response));
            }
            if !has(event, "http_request") && !has(event, "http_response") {
                event.push(("http_request", Json::Object(Vec::new())));
            }
            if let Some(micros) = line.detail_u64("duration_micros") {
                event.push(("duration", Json::Uint(micros / 1000)));
            }
        }
        Class::ScheduledJobActivity => put_scheduled_job(event, line),
        Class::EventLogActivity => {
            event.push(("log_name", Json::Str(LOG_NAME)));
            event.push(("log_provider", Json::Str(PRODUCT)));
            put_enum(event, "log_type_id", 2, "log_type", "Application");
        }
        Class::ApplicationLifecycle => {
            let mut app = Vec::with_capacity(3);
            app.push(("name", Json::Str(PRODUCT)));
            app.push(("vendor_name", Json::Str(PRODUCT)));
            put_str(&mut app, "version", line.detail("version"));
            event.push(("app", Json::Object(app)));
        }
        Class::BaseEvent => {}
    }
}

/// Authentication: the user who logs on or off (by id, name and username
/// fingerprint; the placeholder `anonymous` when nobody is known), the
/// session, and Cairn as the service.
fn put_authentication<'a>(event: &mut Object<'a>, line: &Line<'a>) {
    // A revoked session's user is the session's, not the revoking actor's.
    let actor_is_subject = line.actor.kind == "user" && line.action != Some(Action::SessionRevoked);
    let uid = line
        .detail("user_id")
        .or(line.resource_id_if("user"))
        .or(line.actor.id.filter(|_| actor_is_subject));
    let name = line.actor.name.filter(|_| actor_is_subject);
    let mut user = user_object(uid, name).unwrap_or_else(|| {
        placeholder_user(if line.actor.kind == "anonymous" {
            "anonymous"
        } else {
            "unknown"
        })
    });
    put_str(&mut user, "uid_alt", line.detail("username_fingerprint"));
    event.push(("user", Json::Object(user)));

    let session_id = line.detail("session_id").or(line.resource_id_if("session"));
    let expires = line.detail("expires_at").and_then(epoch_millis);
    if session_id.is_some() || expires.is_some() {
        let mut session = Vec::with_capacity(2);
        put_str(&mut session, "uid", session_id);
        if let Some(expires) = expires {
            session.push(("expiration_time", Json::Int(expires)));
        }
        event.push(("session", Json::Object(session)));
    }
    event.push(("service", cairn_service()));
    if matches!(
        line.action,
        Some(Action::AuthLoginSucceeded | Action::AuthLoginFailed)
    ) {
        put_enum(event, "auth_protocol_id", 99, "auth_protocol", "Password");
    }
}

/// User Access Management: whose privileges changed, to what, and on what.
fn put_user_access<'a>(event: &mut Object<'a>, line: &Line<'a>) {
    let (uid, name, privilege, resource) = match line.action {
        Some(Action::GrantCreated | Action::GrantRevoked) => (
            line.detail("grantee_id"),
            None,
            line.detail("level"),
            line.detail("resource_type")
                .map(|kind| resource_object(kind, line.detail("resource_id"), None)),
        ),
        Some(Action::GroupMemberRoleChanged) => (
            line.detail("user_id"),
            None,
            line.detail("role"),
            Some(line_resource(line)),
        ),
        Some(Action::SystemBootstrapAdmin) => (
            line.detail("user_id").or(line.resource_id_if("user")),
            line.resource_name_if("user"),
            Some("superuser"),
            None,
        ),
        // user.role_changed: a role in the org.
        _ => (
            line.detail("user_id").or(line.resource_id_if("user")),
            line.resource_name_if("user"),
            line.detail("role"),
            line.detail("org_id")
                .or(line.org)
                .map(|org| resource_object("org", Some(org), None)),
        ),
    };
    event.push(("user", required_user(uid, name)));
    event.push(("privileges", privileges(privilege)));
    if let Some(resource) = resource {
        event.push(("resource", resource));
    }
}

/// Group Management: the group (a Cairn group, or an org for org
/// memberships), the member and the role or grant level.
fn put_group_management<'a>(event: &mut Object<'a>, line: &Line<'a>) {
    let grant = matches!(
        line.action,
        Some(Action::GrantCreated | Action::GrantRevoked)
    );
    let mut group = Vec::with_capacity(3);
    if grant {
        let uid = line.detail("grantee_id");
        put_str(&mut group, "name", uid.is_none().then_some("unknown"));
        put_str(&mut group, "uid", uid);
        group.push(("type", Json::Str("group")));
    } else {
        let (uid, name) = line.resource.label();
        put_str(&mut group, "name", name);
        put_str(&mut group, "uid", uid);
        group.push(("type", Json::Str(line.resource.kind)));
    }
    event.push(("group", Json::Object(group)));
    if grant {
        event.push(("privileges", privileges(line.detail("level"))));
        if let Some(kind) = line.detail("resource_type") {
            let resource = resource_object(kind, line.detail("resource_id"), None);
            event.push(("resource", resource));
        }
    } else {
        if let Some(user) = user_object(line.detail("user_id"), None) {
            event.push(("user", Json::Object(user)));
        }
        if let Some(role) = line.detail("role") {
            event.push(("privileges", privileges(Some(role))));
        }
    }
}

/// Scheduled Job Activity: the schedule or run as the job, its state, and
/// the person it runs for; the Cairn server as the `device` the class
/// requires (the line does not know its host name).
fn put_scheduled_job<'a>(event: &mut Object<'a>, line: &Line<'a>) {
    let mut job = Vec::with_capacity(4);
    let (uid, name) = line.resource.label();
    // A job has a name and no id: the schedule's or run's id names it.
    let name = name.or(uid).unwrap_or(line.resource.kind);
    job.push(("name", Json::Str(name)));
    let state = match line.action {
        Some(Action::RunRequested) => Some((2, "Queued")),
        Some(Action::RunStarted | Action::RunStepFinished) => Some((3, "Running")),
        Some(Action::RunFinished) => Some((4, "Stopped")),
        Some(Action::ScheduleCreated | Action::ScheduleResumed) => Some((1, "Ready")),
        _ => None,
    };
    if let Some((id, caption)) = state {
        put_enum(&mut job, "run_state_id", id, "run_state", caption);
    }
    let owner = line.detail("owner_id").or(line.detail("invoker_id"));
    if let Some(owner) = user_object(owner, None) {
        job.push(("user", Json::Object(owner)));
    }
    event.push(("job", Json::Object(job)));
    let mut device = Vec::with_capacity(3);
    device.push(("name", Json::Str(PRODUCT)));
    put_enum(&mut device, "type_id", 1, "type", "Server");
    event.push(("device", Json::Object(device)));
}
