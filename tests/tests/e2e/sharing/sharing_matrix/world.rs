//! The callers of the sharing matrix and the fixtures they share: two
//! orgs, a group, a namespace with a flow in it, and two grants.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::server::api_client::{ADMIN_PASSWORD, ADMIN_USER, AdminServer, Answer};

/// Every test user's password (passes the policy).
const PASSWORD: &str = "Qv7#mT2!wZ9k-sharing";

/// The callers of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Actor {
    /// A flow_editor who owns the namespace and the flow, and the group.
    Owner,
    /// A flow_editor in the group, which has a `manage` grant on the
    /// namespace (so on the flow in it).
    Manager,
    /// A viewer with a direct `use` grant on the flow.
    Reader,
    /// A flow_editor of the org without any grant.
    Member,
    /// An admin of the org.
    Admin,
    /// An admin of another org.
    OtherAdmin,
    /// The bootstrap superuser.
    Superuser,
    /// No credentials.
    Anonymous,
    /// A member of the group, deactivated after logging in.
    Deactivated,
    /// An org admin's API key, revoked.
    RevokedKey,
}

/// The columns of every row's expectations, in this order.
pub const ACTORS: [Actor; 10] = [
    Actor::Owner,
    Actor::Manager,
    Actor::Reader,
    Actor::Member,
    Actor::Admin,
    Actor::OtherAdmin,
    Actor::Superuser,
    Actor::Anonymous,
    Actor::Deactivated,
    Actor::RevokedKey,
];

/// The actors that are users, for explanations.
pub const USERS: [Actor; 8] = [
    Actor::Owner,
    Actor::Manager,
    Actor::Reader,
    Actor::Member,
    Actor::Admin,
    Actor::OtherAdmin,
    Actor::Superuser,
    Actor::Deactivated,
];

/// A valid flow definition.
pub fn definition() -> Value {
    json!({"steps": [{"type": "log", "message": "hi"}]})
}

/// The `id` of a created resource or a list item.
pub fn id_of(value: &Value) -> String {
    value["id"]
        .as_str()
        .unwrap_or_else(|| panic!("an id: {value}"))
        .to_string()
}

/// The server, the callers' credentials, and the fixtures they share.
pub struct World {
    pub api: AdminServer,
    pub data_dir: PathBuf,
    pub user_ids: BTreeMap<Actor, String>,
    credentials: BTreeMap<Actor, String>,
    /// A viewer of the org: the grantee and new member of the rows.
    pub spare: String,
    /// Owned by `owner` (its only owner); `manager` and the deactivated
    /// user are members.
    pub group: String,
    pub group_name: String,
    /// A group of the admin's that `manager` is not in.
    pub outsiders: String,
    /// Owned by `owner`; the group has `manage` on it.
    pub namespace: String,
    pub namespace_name: String,
    /// In `namespace`, owned by `owner`; `reader` has `use` on it.
    pub flow: String,
    /// `manage` on the namespace to the group.
    pub manage_grant: String,
    /// `use` on the flow to `reader`.
    pub use_grant: String,
    /// The org's system namespace `General`, and both of each org's.
    pub general: String,
    pub system_namespaces: BTreeSet<String>,
    pub other_system_namespaces: BTreeSet<String>,
    /// The head just before and just after the `use` grant was made.
    pub before_use_grant: u64,
    pub after_use_grant: u64,
    counter: Cell<u32>,
}

impl World {
    pub fn user(&self, actor: Actor) -> &str {
        &self.user_ids[&actor]
    }

    pub fn call(&self, actor: Actor, method: &str, path: &str, body: Option<&Value>) -> Answer {
        let credential = self.credentials.get(&actor).map(String::as_str);
        self.api.call(method, path, credential, body)
    }

    /// A setup step: the call must answer `status`.
    pub fn ok(
        &self,
        actor: Actor,
        status: u16,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let answer = self.call(actor, method, path, body.as_ref());
        assert_eq!(
            answer.status, status,
            "setup {method} {path} as {actor:?}: {}",
            answer.text
        );
        answer.json
    }

    /// A setup step that creates something; its id.
    pub fn create(&self, actor: Actor, path: &str, body: Value) -> String {
        id_of(&self.ok(actor, 201, "POST", path, Some(body)))
    }

    /// A name no other row used.
    pub fn unique(&self, prefix: &str) -> String {
        let next = self.counter.get() + 1;
        self.counter.set(next);
        format!("{prefix}-{next}")
    }

    /// Grants `level` on `(kind, id)` to `(grantee_type, grantee)`.
    pub fn grant(&self, by: Actor, on: (&str, &str), to: (&str, &str), level: &str) -> String {
        let body = json!({
            "resource_type": on.0,
            "resource_id": on.1,
            "grantee_type": to.0,
            "grantee_id": to.1,
            "level": level,
        });
        self.create(by, "/api/v1/grants", body)
    }

    /// A new group of the admin's with `owner` as a second owner,
    /// `manager` as a member, and `spare` as a member when asked.
    pub fn fresh_group(&self, with_spare: bool) -> String {
        let name = self.unique("row-group");
        let group = self.create(Actor::Admin, "/api/v1/groups", json!({"name": name}));
        let members = format!("/api/v1/groups/{group}/members");
        let mut add = vec![
            (self.user(Actor::Owner), "owner"),
            (self.user(Actor::Manager), "member"),
        ];
        if with_spare {
            add.push((self.spare.as_str(), "member"));
        }
        for (user, role) in add {
            let body = json!({"user_id": user, "role": role});
            self.ok(Actor::Admin, 201, "POST", &members, Some(body));
        }
        group
    }

    /// A new flow of `owner`'s in the namespace, with a `use` grant to
    /// `reader` (so that they see it); the flow and that grant.
    pub fn fresh_flow(&self) -> (String, String) {
        let body = json!({
            "name": self.unique("row-flow"),
            "namespace_id": self.namespace,
            "definition": definition(),
        });
        let flow = self.create(Actor::Owner, "/api/v1/flows", body);
        let reader = ("user", self.user(Actor::Reader));
        let grant = self.grant(Actor::Owner, ("flow", &flow), reader, "use");
        (flow, grant)
    }

    /// The ids a list answers `actor` (one page of up to 500).
    pub fn list(&self, actor: Actor, path: &str) -> BTreeSet<String> {
        let answer = self.call(actor, "GET", &format!("{path}?limit=500"), None);
        assert_eq!(answer.status, 200, "{path} as {actor:?}: {}", answer.text);
        assert!(answer.json["next"].is_null(), "one page: {}", answer.text);
        answer.json["items"]
            .as_array()
            .unwrap_or_else(|| panic!("a list: {}", answer.text))
            .iter()
            .map(id_of)
            .collect()
    }

    /// The superuser asks why `user` may or may not do `action` to the
    /// flow (as of `at_seq`).
    pub fn explain(&self, user: &str, action: &str, at_seq: Option<u64>) -> Value {
        let mut path = format!(
            "/api/v1/access/explain?user_id={user}&resource_type=flow&resource_id={}&action={action}",
            self.flow
        );
        if let Some(seq) = at_seq {
            path.push_str(&format!("&at_seq={seq}"));
        }
        self.ok(Actor::Superuser, 200, "GET", &path, None)
    }
}

fn login(api: &AdminServer, username: &str) -> (String, Value) {
    let body = json!({"username": username, "password": PASSWORD});
    let answer = api.call("POST", "/api/v1/auth/login", None, Some(&body));
    assert_eq!(answer.status, 200, "login as {username}: {}", answer.text);
    let token = answer.json["access_token"].as_str().expect("token");
    (token.to_string(), answer.json["user"].clone())
}

/// Starts the server and builds the fixtures.
pub fn world() -> (tempfile::TempDir, World) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().join("data");
    // No checkpoint may land between a request and the head read after it.
    let api = AdminServer::start(
        &data_dir,
        &[
            ("CAIRN_CHECKPOINT_EVERY", "1000000"),
            ("CAIRN_CHECKPOINT_INTERVAL", "86400"),
        ],
    );
    let root = api.login(ADMIN_USER, ADMIN_PASSWORD);
    let me = api.call("GET", "/api/v1/auth/me", Some(&root), None);
    assert_eq!(me.status, 200, "{}", me.text);
    let org = me.json["org_id"].as_str().expect("org").to_string();

    let mut user_ids = BTreeMap::from([(Actor::Superuser, id_of(&me.json["user"]))]);
    let mut credentials = BTreeMap::from([(Actor::Superuser, root.clone())]);
    for (actor, username, role) in [
        (Actor::Admin, "org-admin", "admin"),
        (Actor::Owner, "owner", "flow_editor"),
        (Actor::Manager, "manager", "flow_editor"),
        (Actor::Reader, "reader", "viewer"),
        (Actor::Member, "member", "flow_editor"),
        (Actor::Deactivated, "leaver", "flow_editor"),
    ] {
        user_ids.insert(actor, api.create_user(&root, username, PASSWORD, role));
        let (token, user) = login(&api, username);
        assert_eq!(user["org_id"], org.as_str(), "{username} acts in our org");
        credentials.insert(actor, token);
    }
    let spare = api.create_user(&root, "spare", PASSWORD, "viewer");

    // Another org, with its own admin.
    let body = json!({"name": "other-org"});
    let other = api.call("POST", "/api/v1/orgs", Some(&root), Some(&body));
    assert_eq!(other.status, 201, "{}", other.text);
    let other_org = id_of(&other.json);
    let body = json!({"username": "other-admin", "password": PASSWORD, "role": "admin", "is_active": true, "org_id": other_org});
    let other_admin = api.call("POST", "/api/v1/users", Some(&root), Some(&body));
    assert_eq!(other_admin.status, 201, "{}", other_admin.text);
    let (token, user) = login(&api, "other-admin");
    assert_eq!(user["org_id"], other_org.as_str(), "acts in the other org");
    user_ids.insert(Actor::OtherAdmin, id_of(&other_admin.json));
    credentials.insert(Actor::OtherAdmin, token);

    let mut world = World {
        api,
        data_dir,
        user_ids,
        credentials,
        spare,
        group: String::new(),
        group_name: "editors".into(),
        outsiders: String::new(),
        namespace: String::new(),
        namespace_name: "team-space".into(),
        flow: String::new(),
        manage_grant: String::new(),
        use_grant: String::new(),
        general: String::new(),
        system_namespaces: BTreeSet::new(),
        other_system_namespaces: BTreeSet::new(),
        before_use_grant: 0,
        after_use_grant: 0,
        counter: Cell::new(0),
    };

    // The org admin's API key, revoked at once.
    let keys = "/api/v1/auth/api-keys";
    let key = world.ok(
        Actor::Admin,
        201,
        "POST",
        keys,
        Some(json!({"name": "gone"})),
    );
    let revoke = format!("{keys}/{}", id_of(&key));
    world.ok(Actor::Admin, 204, "DELETE", &revoke, None);
    let key = key["key"].as_str().expect("key").to_string();
    world.credentials.insert(Actor::RevokedKey, key);

    // The system namespaces, as the superuser sees them before anything
    // else exists.
    let all = world.ok(Actor::Superuser, 200, "GET", "/api/v1/namespaces", None);
    for item in all["items"].as_array().expect("items") {
        assert_eq!(item["system"], true, "only system namespaces yet: {item}");
        let id = id_of(item);
        if item["org_id"] == org.as_str() {
            if item["name"] == "General" {
                world.general = id.clone();
            }
            world.system_namespaces.insert(id);
        } else if item["org_id"] == other_org.as_str() {
            world.other_system_namespaces.insert(id);
        }
    }
    assert_eq!(world.system_namespaces.len(), 2, "General and default");
    assert_eq!(world.other_system_namespaces.len(), 2, "theirs too");
    assert!(!world.general.is_empty(), "General exists");

    // The group: the admin makes it, hands it to `owner`, and leaves.
    let name = json!({"name": world.group_name});
    world.group = world.create(Actor::Admin, "/api/v1/groups", name);
    let members = format!("/api/v1/groups/{}/members", world.group);
    for (who, role) in [
        (Actor::Owner, "owner"),
        (Actor::Manager, "member"),
        (Actor::Deactivated, "member"),
    ] {
        let body = json!({"user_id": world.user(who), "role": role});
        world.ok(Actor::Admin, 201, "POST", &members, Some(body));
    }
    let admin_leaves = format!("{members}/{}", world.user(Actor::Admin));
    world.ok(Actor::Admin, 204, "DELETE", &admin_leaves, None);
    let name = json!({"name": "outsiders"});
    world.outsiders = world.create(Actor::Admin, "/api/v1/groups", name);

    // The namespace and the flow, and their grants.
    let name = json!({"name": world.namespace_name});
    world.namespace = world.create(Actor::Owner, "/api/v1/namespaces", name);
    let body =
        json!({"name": "deploy", "namespace_id": world.namespace, "definition": definition()});
    world.flow = world.create(Actor::Owner, "/api/v1/flows", body);
    world.manage_grant = world.grant(
        Actor::Owner,
        ("namespace", &world.namespace),
        ("group", &world.group),
        "manage",
    );
    world.before_use_grant = world.api.seq();
    world.use_grant = world.grant(
        Actor::Owner,
        ("flow", &world.flow),
        ("user", world.user(Actor::Reader)),
        "use",
    );
    world.after_use_grant = world.api.seq();

    // Deactivated after logging in: the session it holds is now worthless.
    let leaver = format!("/api/v1/users/{}", world.user(Actor::Deactivated));
    let body = json!({"is_active": false});
    world.ok(Actor::Admin, 200, "PATCH", &leaver, Some(body));
    (dir, world)
}
