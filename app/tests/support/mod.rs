//! What the app crate's integration tests share: an App on a temp dir (the
//! real log, the real commands), the principal a user acts as, and the
//! test's side of the ports (the network and the environment).

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use cairn_app::principal::{Credential, Principal};
use cairn_app::runs::Env;
use cairn_app::runs::steps::{StepFuture, StepRequest, StepResponse, StepRunner};
use cairn_app::{App, AppSettings, Origin, bootstrap, flows, grants, namespaces, secrets, users};
use cairn_core::crypto::MasterKey;
use cairn_core::log::{EventLog, LogConfig};
use cairn_core::{OsEntropy, SystemClock};
use cairn_schemas::api::{
    CreateFlowRequest, CreateGrantRequest, CreateNamespaceRequest, CreateSecretRequest,
    CreateUserRequest,
};
use cairn_schemas::{OrgRole, Password};
use serde_json::json;
use uuid::Uuid;

/// The network: every request answered 200, and kept.
#[derive(Debug, Default)]
pub struct Network {
    pub sent: Mutex<Vec<StepRequest>>,
}

impl StepRunner for Network {
    fn send(&self, request: StepRequest) -> StepFuture<'_> {
        self.sent.lock().unwrap().push(request);
        Box::pin(async {
            Ok(StepResponse {
                status: 200,
                body: b"{}".to_vec(),
                cut: false,
            })
        })
    }
}

/// An empty environment.
#[derive(Debug)]
pub struct NoEnv;

impl Env for NoEnv {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
}

pub fn start(dir: &std::path::Path) -> App {
    let master = MasterKey::from_bytes([5; 32]);
    let config = LogConfig {
        dir: dir.to_path_buf(),
        create: true,
        cadence: Default::default(),
    };
    let (log, _) = EventLog::open(&config, &master, Arc::new(SystemClock), Arc::new(OsEntropy))
        .expect("open the log");
    App::start(
        Arc::new(log),
        &master,
        AppSettings::default(),
        Arc::new(SystemClock),
        Arc::new(OsEntropy),
    )
    .expect("start")
}

pub fn principal(app: &App, user_id: Uuid, is_superuser: bool) -> Principal {
    let views = app.views();
    let (org_id, role) = views
        .orgs
        .memberships_of(&user_id)
        .next()
        .map(|(org, role)| (*org, *role))
        .expect("a member of an org");
    Principal {
        user_id,
        org_id,
        role,
        is_superuser,
        credential: Credential::Session(Uuid::from_u128(1)),
    }
}

/// A small org: ada (a superuser, admin of her org) owns a namespace, a
/// flow whose http step sends `$secret.API_TOKEN`, and that secret (its
/// value given); bob, a flow executor, is granted the namespace and the
/// secret at use.
pub struct World {
    /// Ada, acting in her org.
    pub ada: Principal,
    /// Bob, acting in ada's org.
    pub bob: Principal,
    /// The namespace.
    pub namespace: Uuid,
    /// The flow.
    pub flow: Uuid,
    /// The secret.
    pub secret: Uuid,
    /// Bob's grant on the secret.
    pub secret_grant: Uuid,
}

impl World {
    /// Builds it through the commands.
    pub async fn build(app: &App, value: &str) -> World {
        let origin = Origin::local("test");
        let ada = bootstrap::create_superuser(
            app,
            "ada",
            &Password::new("correct horse battery staple 1"),
            true,
            &origin,
        )
        .await
        .unwrap()
        .expect("created");
        let ada = principal(app, ada, true);
        let bob = users::create_user(
            app,
            &ada,
            CreateUserRequest {
                username: "bob".into(),
                password: Password::new("another long passphrase 2"),
                email: None,
                role: Some(OrgRole::FlowExecutor.as_str().into()),
                is_active: Some(true),
                is_superuser: None,
                org_id: None,
            },
            &origin,
        )
        .await
        .unwrap();
        let bob = principal(app, bob.id, false);
        let namespace = namespaces::create_namespace(
            app,
            &ada,
            CreateNamespaceRequest {
                name: "pipelines".into(),
                parent_id: None,
            },
            &origin,
        )
        .await
        .unwrap();
        let flow = flows::create_flow(
            app,
            &ada,
            CreateFlowRequest {
                name: "sync".into(),
                namespace_id: namespace.id,
                definition: json!({"steps": [{"id": "call", "type": "http", "method": "POST",
                    "url": "https://example.com/hook", "headers": {"Authorization": "Bearer $secret.API_TOKEN"}}]}),
            },
            &origin,
        )
        .await
        .unwrap();
        let secret = secrets::create_secret(
            app,
            &ada,
            CreateSecretRequest {
                name: "API_TOKEN".into(),
                value: Password::new(value),
            },
            &origin,
        )
        .await
        .unwrap();
        let grant = |resource_type: &str, resource_id: Uuid| CreateGrantRequest {
            resource_type: resource_type.into(),
            resource_id,
            grantee_type: "user".into(),
            grantee_id: bob.user_id,
            level: "use".into(),
        };
        grants::create_grant(app, &ada, grant("namespace", namespace.id), &origin)
            .await
            .unwrap();
        let secret_grant = grants::create_grant(app, &ada, grant("secret", secret.id), &origin)
            .await
            .unwrap();

        World {
            ada,
            bob,
            namespace: namespace.id,
            flow: flow.id,
            secret: secret.id,
            secret_grant: secret_grant.id,
        }
    }
}
