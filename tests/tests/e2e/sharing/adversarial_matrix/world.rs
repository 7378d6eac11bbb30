//! The world the adversarial matrix attacks: two tenants with the same
//! fixtures, the callers of every kind the issue names, and the targets
//! (own org, other org, shared, missing) each route's `{id}` takes.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use crate::server::api_client::{ADMIN_PASSWORD, ADMIN_USER, AdminServer, Answer};

/// Every test user's password (passes the policy).
pub const PASSWORD: &str = "Qv7#mT2!wZ9k-adversary";

/// The callers of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Caller {
    /// No credentials.
    Anonymous,
    /// Admin of org A only.
    AdminA,
    /// `flow_editor` of A who owns every A fixture.
    OwnerA,
    /// `viewer` of A without any grant.
    ViewerA,
    /// Role `none` in A.
    NoneA,
    /// `audit_viewer` of A.
    AuditorA,
    /// `flow_executor` of A with `use` grants on the owner's flow and
    /// secret.
    UseGrantee,
    /// `flow_editor` of A with a `manage` grant on the owner's flow and
    /// `use` on the secret (secrets are shared at `use` only).
    ManageGrantee,
    /// The API key of an `integration_manager` of A (API keys are theirs
    /// and admins') who has `use` grants on the owner's flow and secret.
    UseGranteeKey,
    /// `viewer` in A and `admin` of B, logged into A.
    DualInA,
    /// The same user, logged into B.
    DualInB,
    /// Admin of B only: an admin of another org.
    AdminB,
    /// The bootstrap superuser.
    Superuser,
}

/// Every caller, in the matrix's column order.
pub const CALLERS: [Caller; 13] = [
    Caller::Anonymous,
    Caller::AdminA,
    Caller::OwnerA,
    Caller::ViewerA,
    Caller::NoneA,
    Caller::AuditorA,
    Caller::UseGrantee,
    Caller::ManageGrantee,
    Caller::UseGranteeKey,
    Caller::DualInA,
    Caller::DualInB,
    Caller::AdminB,
    Caller::Superuser,
];

/// Whose fixture a target is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// The route names no resource.
    Nothing,
    /// Org A's fixture (owned by [`Caller::OwnerA`], shared with the
    /// grantees where the kind is shareable).
    OwnOrg,
    /// Org B's fixture.
    OtherOrg,
    /// The user who is in both orgs (for user routes), or org A itself
    /// reached through B's session (for org routes).
    TwoOrgUser,
    /// An id nothing has.
    Missing,
}

/// The kinds of resource a path's `{id}` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    User,
    Org,
    Group,
    Namespace,
    Flow,
    Secret,
    Connection,
    Grant,
    Run,
    Schedule,
    ApiKey,
}

/// One tenant's fixtures, by kind.
#[derive(Clone, Debug, Default)]
pub struct Fixtures {
    pub ids: BTreeMap<Kind, String>,
    /// A member of the fixture group (for group member routes).
    pub group_member: String,
    /// A member of the org with no other org (for member routes).
    pub plain_member: String,
}

/// The server, the callers' credentials and both tenants' fixtures.
pub struct World {
    pub api: AdminServer,
    credentials: BTreeMap<Caller, String>,
    pub user_ids: BTreeMap<Caller, String>,
    pub org_a: Fixtures,
    pub org_b: Fixtures,
    /// The user in both orgs.
    pub dual: String,
    /// An id nothing has.
    pub missing: String,
    /// The retention policy as the superuser reads it (a valid PUT body).
    pub retention_policy: Value,
    counter: std::cell::Cell<u32>,
}

impl World {
    /// Calls as `caller`.
    pub fn call(&self, caller: Caller, method: &str, path: &str, body: Option<&Value>) -> Answer {
        let credential = self.credentials.get(&caller).map(String::as_str);
        self.api.call(method, path, credential, body)
    }

    fn ok(&self, caller: Caller, status: u16, method: &str, path: &str, body: Value) -> Value {
        let answer = self.call(caller, method, path, Some(&body));
        assert_eq!(
            answer.status, status,
            "setup {method} {path} as {caller:?}: {}",
            answer.text
        );
        answer.json
    }

    fn create(&self, caller: Caller, path: &str, body: Value) -> String {
        let created = self.ok(caller, 201, "POST", path, body);
        created["id"]
            .as_str()
            .unwrap_or_else(|| panic!("an id from {path}: {created}"))
            .to_string()
    }

    /// A name no other call used.
    pub fn unique(&self, prefix: &str) -> String {
        let next = self.counter.get() + 1;
        self.counter.set(next);
        format!("{prefix}-{next}")
    }

    /// The fixtures of the org a target names (none for `Nothing`).
    pub fn fixtures(&self, target: Target) -> Option<&Fixtures> {
        match target {
            Target::OwnOrg | Target::TwoOrgUser => Some(&self.org_a),
            Target::OtherOrg => Some(&self.org_b),
            Target::Nothing | Target::Missing => None,
        }
    }

    /// The id a `{id}` of `kind` takes for `target`.
    pub fn id(&self, kind: Kind, target: Target) -> String {
        match (kind, target) {
            (Kind::User, Target::TwoOrgUser) => self.dual.clone(),
            (_, Target::Missing) | (_, Target::Nothing) => self.missing.clone(),
            (kind, target) => self.fixtures(target).expect("fixtures").ids[&kind].clone(),
        }
    }

    /// Starts the server and builds both tenants.
    pub fn build(data_dir: &Path) -> World {
        let api = AdminServer::start(data_dir, &[]);
        let mut world = World {
            api,
            credentials: BTreeMap::new(),
            user_ids: BTreeMap::new(),
            org_a: Fixtures::default(),
            org_b: Fixtures::default(),
            dual: String::new(),
            missing: "0190f2a4-0000-7000-8000-00000000dead".into(),
            retention_policy: Value::Null,
            counter: std::cell::Cell::new(0),
        };
        let root = world.api.login(ADMIN_USER, ADMIN_PASSWORD);
        world.credentials.insert(Caller::Superuser, root.clone());
        let org_a = world.create(
            Caller::Superuser,
            "/api/v1/orgs",
            json!({"name": "tenant-a"}),
        );
        let org_b = world.create(
            Caller::Superuser,
            "/api/v1/orgs",
            json!({"name": "tenant-b"}),
        );
        world.org_a.ids.insert(Kind::Org, org_a.clone());
        world.org_b.ids.insert(Kind::Org, org_b.clone());

        let user = |world: &World, name: &str, org: &str, role: &str| -> String {
            world.create(
                Caller::Superuser,
                "/api/v1/users",
                json!({"username": name, "password": PASSWORD, "role": role,
                       "is_active": true, "org_id": org}),
            )
        };
        let people = [
            (Caller::AdminA, "adm-a", &org_a, "admin"),
            (Caller::OwnerA, "owner-a", &org_a, "flow_editor"),
            (Caller::ViewerA, "viewer-a", &org_a, "viewer"),
            (Caller::NoneA, "none-a", &org_a, "none"),
            (Caller::AuditorA, "auditor-a", &org_a, "audit_viewer"),
            (Caller::UseGrantee, "user-a", &org_a, "flow_executor"),
            (Caller::ManageGrantee, "manager-a", &org_a, "flow_editor"),
            (Caller::DualInA, "dual", &org_a, "viewer"),
            (
                Caller::UseGranteeKey,
                "integ-a",
                &org_a,
                "integration_manager",
            ),
            (Caller::AdminB, "adm-b", &org_b, "admin"),
        ];
        for (caller, name, org, role) in people {
            let id = user(&world, name, org, role);
            world.user_ids.insert(caller, id);
        }
        world.dual = world.user_ids[&Caller::DualInA].clone();
        world.user_ids.insert(Caller::DualInB, world.dual.clone());
        world.ok(
            Caller::Superuser,
            201,
            "POST",
            &format!("/api/v1/orgs/{org_b}/members"),
            json!({"user_id": world.dual, "role": "admin"}),
        );
        world.org_a.plain_member = user(&world, "plain-a", &org_a, "viewer");
        world.org_b.plain_member = user(&world, "plain-b", &org_b, "viewer");
        world
            .org_a
            .ids
            .insert(Kind::User, world.org_a.plain_member.clone());
        world
            .org_b
            .ids
            .insert(Kind::User, world.org_b.plain_member.clone());

        for caller in CALLERS {
            if matches!(
                caller,
                Caller::Anonymous | Caller::Superuser | Caller::UseGranteeKey
            ) {
                continue;
            }
            let (name, org) = match caller {
                Caller::AdminA => ("adm-a", &org_a),
                Caller::OwnerA => ("owner-a", &org_a),
                Caller::ViewerA => ("viewer-a", &org_a),
                Caller::NoneA => ("none-a", &org_a),
                Caller::AuditorA => ("auditor-a", &org_a),
                Caller::UseGrantee => ("user-a", &org_a),
                Caller::ManageGrantee => ("manager-a", &org_a),
                Caller::DualInA => ("dual", &org_a),
                Caller::DualInB => ("dual", &org_b),
                _ => ("adm-b", &org_b),
            };
            let login = world.ok(
                Caller::Anonymous,
                200,
                "POST",
                "/api/v1/auth/login",
                json!({"username": name, "password": PASSWORD, "org": org}),
            );
            let token = login["access_token"].as_str().expect("token").to_string();
            world.credentials.insert(caller, token);
        }
        let integration = world.ok(
            Caller::Anonymous,
            200,
            "POST",
            "/api/v1/auth/login",
            json!({"username": "integ-a", "password": PASSWORD, "org": org_a}),
        );
        let integration = integration["access_token"]
            .as_str()
            .expect("token")
            .to_string();
        world.credentials.insert(Caller::UseGranteeKey, integration);
        let key = world.ok(
            Caller::UseGranteeKey,
            201,
            "POST",
            "/api/v1/auth/api-keys",
            json!({"name": "integration-key"}),
        );
        // From here on the caller is the key, not the session.
        world.credentials.insert(
            Caller::UseGranteeKey,
            key["key"].as_str().expect("key").to_string(),
        );

        world.org_a = world.tenant(
            world.org_a.clone(),
            Caller::AdminA,
            Caller::OwnerA,
            &[
                (Caller::UseGrantee, "use"),
                (Caller::UseGranteeKey, "use"),
                (Caller::ManageGrantee, "manage"),
            ],
        );
        world.org_b = world.tenant(world.org_b.clone(), Caller::AdminB, Caller::AdminB, &[]);
        world.retention_policy = world
            .call(Caller::Superuser, "GET", "/api/v1/audit/retention", None)
            .json["policy"]
            .clone();
        world
    }

    /// One tenant's fixtures: a group (with its plain member), a namespace,
    /// a flow in it, a secret, a connection, a schedule, a run, grants on
    /// the flow and secret to the grantees (or to the plain member), and an
    /// API key of the admin's.
    fn tenant(
        &self,
        mut fixtures: Fixtures,
        admin: Caller,
        owner: Caller,
        grantees: &[(Caller, &str)],
    ) -> Fixtures {
        let group = self.create(
            admin,
            "/api/v1/groups",
            json!({"name": self.unique("group")}),
        );
        self.ok(
            admin,
            201,
            "POST",
            &format!("/api/v1/groups/{group}/members"),
            json!({"user_id": fixtures.plain_member, "role": "member"}),
        );
        fixtures.group_member = fixtures.plain_member.clone();
        let namespace = self.create(
            owner,
            "/api/v1/namespaces",
            json!({"name": self.unique("ns")}),
        );
        let flow = self.create(
            owner,
            "/api/v1/flows",
            json!({"name": self.unique("flow"), "namespace_id": namespace,
                   "definition": {"steps": [{"type": "log", "message": "hi"}]}}),
        );
        let secret = self.create(
            owner,
            "/api/v1/secrets",
            json!({"name": self.unique("SECRET").replace('-', "_"), "value": "matrix-s3cret-value"}),
        );
        let connection = self.create(
            owner,
            "/api/v1/connections",
            json!({"name": self.unique("conn"), "kind": "postgres",
                   "target": {"host": "db.example", "port": 5432, "database": "dw"},
                   "credentials": {"user": "etl", "password": "matrix-db-pass"}}),
        );
        let schedule = self.create(
            owner,
            "/api/v1/schedules",
            json!({"flow_id": flow, "cron": "0 0 1 1 *"}),
        );
        let run = self.ok(
            owner,
            202,
            "POST",
            &format!("/api/v1/flows/{flow}/runs"),
            json!({}),
        )["id"]
            .as_str()
            .expect("run id")
            .to_string();
        let mut grant = String::new();
        let grantee_list: Vec<(String, &str)> = if grantees.is_empty() {
            vec![(fixtures.plain_member.clone(), "use")]
        } else {
            grantees
                .iter()
                .map(|(caller, level)| (self.user_ids[caller].clone(), *level))
                .collect()
        };
        for (grantee, level) in grantee_list {
            // A secret is shared at `use` only, whatever the flow's level.
            for (kind, id, level) in [("flow", &flow, level), ("secret", &secret, "use")] {
                let made = self.create(
                    owner,
                    "/api/v1/grants",
                    json!({"resource_type": kind, "resource_id": id, "grantee_type": "user",
                           "grantee_id": grantee, "level": level}),
                );
                if grant.is_empty() {
                    grant = made;
                }
            }
        }
        let key = self.ok(
            admin,
            201,
            "POST",
            "/api/v1/auth/api-keys",
            json!({"name": self.unique("key")}),
        );
        let key = key["meta"]["id"]
            .as_str()
            .or_else(|| key["id"].as_str())
            .expect("key id")
            .to_string();
        for (kind, id) in [
            (Kind::Group, group),
            (Kind::Namespace, namespace),
            (Kind::Flow, flow),
            (Kind::Secret, secret),
            (Kind::Connection, connection),
            (Kind::Schedule, schedule),
            (Kind::Run, run),
            (Kind::Grant, grant),
            (Kind::ApiKey, key),
        ] {
            fixtures.ids.insert(kind, id);
        }
        fixtures
    }
}
