//! A run reads its secrets under the grants in force when it resolves
//! them (issue 16): a grant revoked after the run was requested, before
//! its step is resolved, leaves the secret unread, and the use is never
//! recorded. The commands are the real ones on a real log; only the
//! network and the environment are the test's (the app's ports).

// A test file: its helpers fail loudly, like its tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use cairn_app::principal::{Credential, Principal};
use cairn_app::runs::steps::{StepFuture, StepRequest, StepResponse, StepRunner};
use cairn_app::runs::{Env, execute_run};
use cairn_app::{
    App, AppSettings, Origin, bootstrap, flows, grants, namespaces, runs, secrets, users,
};
use cairn_core::crypto::MasterKey;
use cairn_core::log::{EventLog, LogConfig};
use cairn_core::{OsEntropy, SystemClock};
use cairn_schemas::api::{
    CreateFlowRequest, CreateGrantRequest, CreateNamespaceRequest, CreateSecretRequest,
    CreateUserRequest,
};
use cairn_schemas::{Action, OrgRole, Password, RunStatus};
use serde_json::json;
use uuid::Uuid;

const CANARY: &str = "canary-7f3a-resolution";

/// The network: every request answered 200, and kept.
#[derive(Debug, Default)]
struct Network {
    sent: Mutex<Vec<StepRequest>>,
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
struct NoEnv;

impl Env for NoEnv {
    fn var(&self, _: &str) -> Option<String> {
        None
    }
}

fn start(dir: &std::path::Path) -> App {
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

fn principal(app: &App, user_id: Uuid, is_superuser: bool) -> Principal {
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

/// The actions recorded so far.
fn actions(app: &App) -> Vec<(Action, Vec<u8>)> {
    let head = app.log().head().seq;
    (1..=head)
        .map(|seq| {
            let record = app.log().reader().read(seq).unwrap().expect("record");
            (record.header.action, record.payload.unwrap_or_default())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_revoked_between_a_runs_request_and_its_resolution_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(dir.path());
    let origin = Origin::local("test");
    // Given ada, an admin, who owns a flow that reads her secret, and bob,
    // a flow executor she granted the namespace and the secret to
    let ada = bootstrap::create_superuser(
        &app,
        "ada",
        &Password::new("correct horse battery staple 1"),
        true,
        &origin,
    )
    .await
    .unwrap()
    .expect("created");
    let ada = principal(&app, ada, true);
    let bob = users::create_user(
        &app,
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
    let bob = principal(&app, bob.id, false);
    let namespace = namespaces::create_namespace(
        &app,
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
        &app,
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
        &app,
        &ada,
        CreateSecretRequest {
            name: "API_TOKEN".into(),
            value: Password::new(CANARY),
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
    grants::create_grant(&app, &ada, grant("namespace", namespace.id), &origin)
        .await
        .unwrap();
    let secret_grant = grants::create_grant(&app, &ada, grant("secret", secret.id), &origin)
        .await
        .unwrap();
    // And two runs bob requested while both grants held
    let first = runs::request_run(&app, &bob, flow.id, &origin)
        .await
        .unwrap();
    let second = runs::request_run(&app, &bob, flow.id, &origin)
        .await
        .unwrap();
    let network = Network::default();

    // When the first runs with the grant in place
    execute_run(&app, &network, &NoEnv, first.id).await;
    // Then the secret was resolved, its use recorded, and sent
    let resolved = |app: &App| {
        actions(app)
            .iter()
            .filter(|(action, _)| *action == Action::SecretResolved)
            .count()
    };
    assert_eq!(resolved(&app), 1, "the control run resolves the secret");
    assert_eq!(
        app.views().runs.get(&first.id).unwrap().status,
        RunStatus::Succeeded
    );
    assert_eq!(
        network.sent.lock().unwrap()[0].headers,
        vec![("Authorization".to_string(), format!("Bearer {CANARY}"))]
    );

    // When ada revokes the secret's grant after the second run was
    // requested, before its step is resolved
    grants::revoke_grant(&app, &ada, secret_grant.id, &origin)
        .await
        .unwrap();
    execute_run(&app, &network, &NoEnv, second.id).await;

    // Then the second run failed at that step, nothing more was sent,
    // and no use of the secret was recorded
    let run = app.views().runs.get(&second.id).unwrap().clone();
    assert_eq!(run.status, RunStatus::Failed, "{run:?}");
    assert_eq!(network.sent.lock().unwrap().len(), 1, "nothing sent");
    assert_eq!(resolved(&app), 1, "no second secret.resolved");
    // And the value is in no recorded payload
    for (action, payload) in actions(&app) {
        assert!(
            !payload
                .windows(CANARY.len())
                .any(|w| w == CANARY.as_bytes()),
            "{action:?} holds the secret's value"
        );
    }
}
