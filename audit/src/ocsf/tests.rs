//! Tests of whole events: one exported line in, its OCSF event out.

use serde_json::{Value, json};

use super::{OCSF_VERSION, OcsfEvent, ocsf_event};

fn line(action: &str, outcome: &str, actor: Value, resource: Value, details: Value) -> Value {
    json!({
        "seq": 7,
        "id": "0190a000-0000-7000-8000-000000000007",
        "time": "2026-11-22T10:00:00.123456Z",
        "org": "00000000-0000-0000-0000-000000000001",
        "actor": actor,
        "action": action,
        "resource": resource,
        "outcome": outcome,
        "origin": {"ip": "192.0.2.7", "user_agent": "curl/8", "request_id": "req-7"},
        "personal": [],
        "details": details,
        "prev_hash": "00",
        "hash": "11",
        "chain": {"header": "AA==", "payload": null},
    })
}

fn user_actor() -> Value {
    json!({"type": "user", "id": "00000000-0000-0000-0000-0000000000aa", "name": "alice"})
}

#[test]
fn identity_and_classification() {
    let event = ocsf_event(&line(
        "user.deactivated",
        "success",
        user_actor(),
        json!({"type": "user", "id": "00000000-0000-0000-0000-0000000000bb", "name": "bob"}),
        json!({"user_id": "00000000-0000-0000-0000-0000000000bb"}),
    ));
    assert_eq!(event["class_uid"], 3001);
    assert_eq!(event["activity_id"], 5);
    assert_eq!(event["type_uid"], 300_105);
    assert_eq!(event["type_name"], "Account Change: Disable");
    assert_eq!(event["time"], 1_795_341_600_123_i64);
    assert_eq!(event["metadata"]["version"], OCSF_VERSION);
    assert_eq!(event["metadata"]["sequence"], 7);
    assert_eq!(
        event["metadata"]["uid"],
        "0190a000-0000-7000-8000-000000000007"
    );
    assert_eq!(event["metadata"]["correlation_uid"], "req-7");
    assert_eq!(
        event["user"],
        json!({"name": "bob", "uid": "00000000-0000-0000-0000-0000000000bb"})
    );
    assert_eq!(event["actor"]["user"]["name"], "alice");
    assert_eq!(event["src_endpoint"], json!({"ip": "192.0.2.7"}));
    assert_eq!(event["status_id"], 1);
    assert!(event.get("status_detail").is_none());
    assert_eq!(event["unmapped"]["hash"], "11");
    assert!(event["unmapped"].get("chain").is_none());
}

#[test]
fn an_erased_actor_keeps_its_id_and_gets_no_name() {
    let actor = json!({"type": "user", "id": "00000000-0000-0000-0000-0000000000aa"});
    let event = ocsf_event(&line(
        "flow.deleted",
        "success",
        actor,
        json!({"type": "flow", "id": "00000000-0000-0000-0000-0000000000cc"}),
        json!({"pruned": true}),
    ));
    assert_eq!(
        event["actor"],
        json!({"user": {"uid": "00000000-0000-0000-0000-0000000000aa"}})
    );
    assert_eq!(
        event["entity"]["uid"],
        "00000000-0000-0000-0000-0000000000cc"
    );
    assert!(event["entity"].get("name").is_none());
}

#[test]
fn an_anonymous_failed_login_is_correlated_by_fingerprint() {
    let event = ocsf_event(&line(
        "auth.login_failed",
        "failure",
        json!({"type": "anonymous", "id": null}),
        json!({"type": "user", "id": null}),
        json!({"username_fingerprint": "hmac:ab", "user_id": null, "reason": "unknown_user"}),
    ));
    assert_eq!(event["class_uid"], 3002);
    assert_eq!(event["user"]["name"], "anonymous");
    assert_eq!(event["user"]["uid_alt"], "hmac:ab");
    assert_eq!(event["status_id"], 2);
    assert_eq!(event["status_detail"], "unknown_user");
    assert_eq!(event["actor"]["user"]["name"], "anonymous");
}

#[test]
fn refusals_use_the_security_control_profile() {
    let event = ocsf_event(&line(
        "authz.denied",
        "denied",
        user_actor(),
        json!({"type": "flow", "id": null}),
        json!({"method": "delete", "path": "/api/v1/flows/x", "status": 404,
               "action": "delete", "reason": "not visible"}),
    ));
    assert_eq!(event["class_uid"], 6004);
    assert_eq!(event["type_uid"], 600_402);
    assert_eq!(
        event["metadata"]["profiles"],
        json!(["host", "security_control"])
    );
    assert_eq!(event["action_id"], 2);
    assert_eq!(event["disposition"], "Blocked");
    assert_eq!(event["http_request"]["http_method"], "DELETE");
    assert_eq!(event["http_response"]["code"], 404);
    assert_eq!(event["status_code"], "404");
    assert_eq!(event["web_resources"][0]["name"], "/api/v1/flows/x");
}

#[test]
fn grants_follow_the_grantee() {
    let grant = |details: Value, action: &str| {
        let event = ocsf_event(&line(
            action,
            "success",
            user_actor(),
            json!({"type": "grant", "id": "00000000-0000-0000-0000-0000000000dd"}),
            details,
        ));
        (event["class_uid"].clone(), event["activity_id"].clone())
    };
    let to = |kind: &str| {
        json!({"grantee_type": kind, "grantee_id": "g", "level": "use",
                                 "resource_type": "flow", "resource_id": "f"})
    };
    assert_eq!(grant(to("user"), "grant.created"), (json!(3005), json!(1)));
    assert_eq!(grant(to("group"), "grant.created"), (json!(3006), json!(1)));
    assert_eq!(grant(to("group"), "grant.revoked"), (json!(3006), json!(2)));
    assert_eq!(
        grant(json!({"grant_id": "x"}), "grant.revoked"),
        (json!(3004), json!(4))
    );
    assert_eq!(
        grant(json!({"pruned": true}), "grant.created"),
        (json!(3004), json!(1))
    );
}

#[test]
fn http_requests_map_their_method_and_unknown_actions_are_base_events() {
    let request = |details: Value| {
        ocsf_event(&line(
            "http.request",
            "failure",
            user_actor(),
            json!({"type": "system", "id": null}),
            details,
        ))
    };
    let event =
        request(json!({"method": "PATCH", "path": "/x", "status": 400, "duration_micros": 2500}));
    assert_eq!(
        (event["class_uid"].clone(), event["activity_id"].clone()),
        (json!(4002), json!(9))
    );
    assert_eq!(event["duration"], 2);
    let event =
        request(json!({"method": "PROPFIND", "path": "/x", "status": 405, "duration_micros": 1}));
    assert_eq!(event["activity_id"], 99);
    assert!(event["http_request"].get("http_method").is_none());
    assert_eq!(request(json!({"pruned": true}))["activity_id"], 0);

    let event = ocsf_event(&line(
        "user.exploded",
        "success",
        user_actor(),
        json!({"type": "user", "id": null}),
        Value::Null,
    ));
    assert_eq!(event["class_uid"], 0);
    assert_eq!(event["type_uid"], 99);
    assert_eq!(event["metadata"]["event_code"], "user.exploded");
}

#[test]
fn hostile_strings_stay_on_one_line() {
    let actor = json!({"type": "user", "id": "u", "name": "ev\"il\r\n\u{1b}[31m=|"});
    let exported = line(
        "auth.logout",
        "success",
        actor,
        json!({"type": "session", "id": "s"}),
        json!({"session_id": "s"}),
    );
    let event = ocsf_event(&exported);
    let text = serde_json::to_string(&event).expect("serializes");
    let written = serde_json::to_string(&OcsfEvent::of(&exported)).expect("serializes");
    assert_eq!(written, text);
    assert_eq!(text.lines().count(), 1);
    assert!(!text.contains('\u{1b}') && !text.contains('\r'));
    assert_eq!(event["user"]["name"], "ev\"il\r\n\u{1b}[31m=|");
}
