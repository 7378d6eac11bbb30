//! The matrix: every group, catalog and grant endpoint (in the situations
//! that matter) and the status each caller must get. A row prepares its
//! request afresh for each caller, on fresh resources when it changes
//! something, so that no row depends on another.

use serde_json::{Value, json};
use uuid::Uuid;

use super::world::{Actor, World, definition};

/// One request of a row.
pub struct Request {
    pub method: &'static str,
    pub path: String,
    pub body: Option<Value>,
    /// The resource the request is about (empty for none): replaced by a
    /// random id to ask about a missing one, and named by the refusal's
    /// event.
    pub target: String,
    /// Its kind, as events name it.
    pub target_kind: &'static str,
}

impl Request {
    fn to(method: &'static str, path: impl Into<String>) -> Request {
        Request {
            method,
            path: path.into(),
            body: None,
            target: String::new(),
            target_kind: "",
        }
    }

    fn about(mut self, kind: &'static str, id: &str) -> Request {
        self.target_kind = kind;
        self.target = id.to_string();
        self
    }

    fn with(mut self, body: Value) -> Request {
        self.body = Some(body);
        self
    }

    /// The same request about a resource that does not exist.
    pub fn about_a_missing_one(&self) -> Request {
        let missing = Uuid::now_v7().to_string();
        let body = self.body.as_ref().map(|body| {
            let text = body.to_string().replace(&self.target, &missing);
            serde_json::from_str(&text).expect("json")
        });
        Request {
            method: self.method,
            path: self.path.replace(&self.target, &missing),
            body,
            target: missing,
            target_kind: self.target_kind,
        }
    }
}

/// One endpoint in one situation, and the status each caller must get,
/// in the order of [`super::world::ACTORS`].
pub struct Row {
    pub what: &'static str,
    pub prepare: fn(&World) -> Request,
    pub expect: [u16; 10],
}

/// `POST /api/v1/grants` on a fresh flow of `owner`'s (which `reader` may
/// use, so that they see it).
fn grant_request(w: &World, grantee_type: &str, grantee: &str, level: &str) -> Request {
    let (flow, _) = w.fresh_flow();
    let body = json!({
        "resource_type": "flow",
        "resource_id": flow,
        "grantee_type": grantee_type,
        "grantee_id": grantee,
        "level": level,
    });
    Request::to("POST", "/api/v1/grants")
        .with(body)
        .about("flow", &flow)
}

// Columns:   owner manager reader member admin other-org-admin superuser
//            anonymous deactivated revoked-key
pub const ROWS: &[Row] = &[
    // Groups: admins create and delete them; owners and managers (and
    // admins) manage members; only members and admins see them.
    Row {
        what: "POST /groups",
        prepare: |w| Request::to("POST", "/api/v1/groups").with(json!({"name": w.unique("new")})),
        expect: [403, 403, 403, 403, 201, 201, 201, 401, 401, 401],
    },
    Row {
        what: "GET /groups",
        prepare: |_| Request::to("GET", "/api/v1/groups"),
        expect: [200, 200, 200, 200, 200, 200, 200, 401, 401, 401],
    },
    Row {
        what: "GET /groups/{id}",
        prepare: |w| {
            Request::to("GET", format!("/api/v1/groups/{}", w.group)).about("group", &w.group)
        },
        expect: [200, 200, 404, 404, 200, 404, 200, 401, 401, 401],
    },
    Row {
        what: "POST /groups/{id}/members as member",
        prepare: |w| {
            let group = w.fresh_group(false);
            Request::to("POST", format!("/api/v1/groups/{group}/members"))
                .with(json!({"user_id": w.spare, "role": "member"}))
                .about("group", &group)
        },
        expect: [201, 403, 404, 404, 201, 404, 201, 401, 401, 401],
    },
    Row {
        what: "POST /groups/{id}/members as owner",
        prepare: |w| {
            let group = w.fresh_group(false);
            Request::to("POST", format!("/api/v1/groups/{group}/members"))
                .with(json!({"user_id": w.spare, "role": "owner"}))
                .about("group", &group)
        },
        expect: [201, 403, 404, 404, 201, 404, 201, 401, 401, 401],
    },
    Row {
        what: "PATCH /groups/{id}/members/{user_id}",
        prepare: |w| {
            let group = w.fresh_group(true);
            Request::to(
                "PATCH",
                format!("/api/v1/groups/{group}/members/{}", w.spare),
            )
            .with(json!({"role": "manager"}))
            .about("group", &group)
        },
        expect: [200, 403, 404, 404, 200, 404, 200, 401, 401, 401],
    },
    Row {
        what: "DELETE /groups/{id}/members/{user_id}",
        prepare: |w| {
            let group = w.fresh_group(true);
            Request::to(
                "DELETE",
                format!("/api/v1/groups/{group}/members/{}", w.spare),
            )
            .about("group", &group)
        },
        expect: [204, 403, 404, 404, 204, 404, 204, 401, 401, 401],
    },
    Row {
        what: "DELETE /groups/{id}",
        prepare: |w| {
            let group = w.fresh_group(true);
            Request::to("DELETE", format!("/api/v1/groups/{group}")).about("group", &group)
        },
        expect: [403, 403, 404, 404, 204, 404, 204, 401, 401, 401],
    },
    // Namespaces: private to their owner until shared; a namespace named
    // in a body that the caller cannot see is a 422, as a missing one.
    Row {
        what: "POST /namespaces at the root",
        prepare: |w| {
            Request::to("POST", "/api/v1/namespaces").with(json!({"name": w.unique("root-ns")}))
        },
        expect: [201, 201, 403, 201, 201, 201, 201, 401, 401, 401],
    },
    Row {
        what: "POST /namespaces in the shared namespace",
        prepare: |w| {
            Request::to("POST", "/api/v1/namespaces")
                .with(json!({"name": w.unique("child-ns"), "parent_id": w.namespace}))
                .about("namespace", &w.namespace)
        },
        expect: [201, 201, 422, 422, 201, 422, 201, 401, 401, 401],
    },
    Row {
        what: "GET /namespaces",
        prepare: |_| Request::to("GET", "/api/v1/namespaces"),
        expect: [200, 200, 200, 200, 200, 200, 200, 401, 401, 401],
    },
    Row {
        what: "GET /namespaces/{id}",
        prepare: |w| {
            Request::to("GET", format!("/api/v1/namespaces/{}", w.namespace))
                .about("namespace", &w.namespace)
        },
        expect: [200, 200, 404, 404, 200, 404, 200, 401, 401, 401],
    },
    Row {
        what: "PATCH /namespaces/{id} (same name)",
        prepare: |w| {
            Request::to("PATCH", format!("/api/v1/namespaces/{}", w.namespace))
                .with(json!({"name": w.namespace_name}))
                .about("namespace", &w.namespace)
        },
        expect: [200, 200, 404, 404, 200, 404, 200, 401, 401, 401],
    },
    Row {
        what: "DELETE /namespaces/{id} (an empty child of the shared one)",
        prepare: |w| {
            let body = json!({"name": w.unique("doomed-ns"), "parent_id": w.namespace});
            let child = w.create(Actor::Owner, "/api/v1/namespaces", body);
            Request::to("DELETE", format!("/api/v1/namespaces/{child}")).about("namespace", &child)
        },
        expect: [204, 204, 404, 404, 204, 404, 204, 401, 401, 401],
    },
    // Flows: they inherit their namespace's grants; the public system
    // namespaces take anyone's flows whose role may create them.
    Row {
        what: "POST /flows in the shared namespace",
        prepare: |w| {
            let name = w.unique("new-flow");
            Request::to("POST", "/api/v1/flows")
                .with(
                    json!({"name": name, "namespace_id": w.namespace, "definition": definition()}),
                )
                .about("namespace", &w.namespace)
        },
        expect: [201, 201, 422, 422, 201, 422, 201, 401, 401, 401],
    },
    Row {
        what: "POST /flows in General",
        prepare: |w| {
            let name = w.unique("public-flow");
            Request::to("POST", "/api/v1/flows")
                .with(json!({"name": name, "namespace_id": w.general, "definition": definition()}))
                .about("namespace", &w.general)
        },
        expect: [201, 201, 403, 201, 201, 422, 201, 401, 401, 401],
    },
    Row {
        what: "GET /flows",
        prepare: |_| Request::to("GET", "/api/v1/flows"),
        expect: [200, 200, 200, 200, 200, 200, 200, 401, 401, 401],
    },
    Row {
        what: "GET /flows/{id}",
        prepare: |w| Request::to("GET", format!("/api/v1/flows/{}", w.flow)).about("flow", &w.flow),
        expect: [200, 200, 200, 404, 200, 404, 200, 401, 401, 401],
    },
    Row {
        what: "PUT /flows/{id} (unchanged)",
        prepare: |w| {
            Request::to("PUT", format!("/api/v1/flows/{}", w.flow))
                .with(json!({"name": "deploy", "namespace_id": w.namespace, "definition": definition()}))
                .about("flow", &w.flow)
        },
        expect: [200, 200, 403, 404, 200, 404, 200, 401, 401, 401],
    },
    Row {
        what: "DELETE /flows/{id}",
        prepare: |w| {
            let (flow, _) = w.fresh_flow();
            Request::to("DELETE", format!("/api/v1/flows/{flow}")).about("flow", &flow)
        },
        expect: [204, 204, 403, 404, 204, 404, 204, 401, 401, 401],
    },
    // Grants: only the owner or an admin grants manage; a manage grantee
    // re-shares at use only, to groups they belong to.
    Row {
        what: "POST /grants use to a user",
        prepare: |w| grant_request(w, "user", &w.spare, "use"),
        expect: [201, 403, 403, 404, 201, 404, 201, 401, 401, 401],
    },
    Row {
        what: "POST /grants use to the manager's group",
        prepare: |w| grant_request(w, "group", &w.group, "use"),
        expect: [201, 201, 403, 404, 201, 404, 201, 401, 401, 401],
    },
    Row {
        what: "POST /grants use to a group the manager is not in",
        prepare: |w| grant_request(w, "group", &w.outsiders, "use"),
        expect: [201, 403, 403, 404, 201, 404, 201, 401, 401, 401],
    },
    Row {
        what: "POST /grants manage to the manager's group",
        prepare: |w| grant_request(w, "group", &w.group, "manage"),
        expect: [201, 403, 403, 404, 201, 404, 201, 401, 401, 401],
    },
    Row {
        what: "GET /grants",
        prepare: |_| Request::to("GET", "/api/v1/grants"),
        expect: [200, 200, 200, 200, 200, 200, 200, 401, 401, 401],
    },
    Row {
        what: "DELETE /grants/{id} (the owner's, to another user)",
        prepare: |w| {
            let (flow, _) = w.fresh_flow();
            let grant = w.grant(Actor::Owner, ("flow", &flow), ("user", &w.spare), "use");
            Request::to("DELETE", format!("/api/v1/grants/{grant}")).about("grant", &grant)
        },
        expect: [204, 403, 404, 404, 204, 404, 204, 401, 401, 401],
    },
    Row {
        what: "DELETE /grants/{id} (the reader's own)",
        prepare: |w| {
            let (_, grant) = w.fresh_flow();
            Request::to("DELETE", format!("/api/v1/grants/{grant}")).about("grant", &grant)
        },
        expect: [204, 403, 403, 404, 204, 404, 204, 401, 401, 401],
    },
    Row {
        what: "DELETE /grants/{id} (made by the manager)",
        prepare: |w| {
            let (flow, _) = w.fresh_flow();
            let grant = w.grant(Actor::Manager, ("flow", &flow), ("group", &w.group), "use");
            Request::to("DELETE", format!("/api/v1/grants/{grant}")).about("grant", &grant)
        },
        expect: [204, 204, 404, 404, 204, 404, 204, 401, 401, 401],
    },
    // Explanations: anyone about themselves; admins and audit viewers
    // about their org's members; superusers about anyone.
    Row {
        what: "GET /access/explain (about oneself)",
        prepare: |w| {
            Request::to(
                "GET",
                format!(
                    "/api/v1/access/explain?resource_type=flow&resource_id={}&action=read",
                    w.flow
                ),
            )
        },
        expect: [200, 200, 200, 200, 200, 200, 200, 401, 401, 401],
    },
    Row {
        what: "GET /access/explain (about the owner)",
        prepare: |w| {
            let owner = w.user(Actor::Owner);
            let query = format!(
                "user_id={owner}&resource_type=flow&resource_id={}&action=read",
                w.flow
            );
            Request::to("GET", format!("/api/v1/access/explain?{query}")).about("user", owner)
        },
        // Asking about another user needs an admin or audit viewer of
        // the org; everyone else gets the 404 of a missing user (issue
        // 14: it used to be a 403 for a member of the org).
        expect: [200, 404, 404, 404, 200, 404, 200, 401, 401, 401],
    },
];
