//! A run reads its secrets under the grants in force when it resolves
//! them (issue 16): a grant revoked after the run was requested, before
//! its step is resolved, leaves the secret unread, and the use is never
//! recorded. The commands are the real ones on a real log; only the
//! network and the environment are the test's (the app's ports).

// A test file: its helpers fail loudly, like its tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::{Network, NoEnv, World, start};

use cairn_app::runs::execute_run;
use cairn_app::{App, Origin, grants, runs};
use cairn_schemas::{Action, RunStatus};

const CANARY: &str = "canary-7f3a-resolution";

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
    let World {
        ada,
        bob,
        flow,
        secret_grant,
        ..
    } = World::build(&app, CANARY).await;
    // And two runs bob requested while both grants held
    let first = runs::request_run(&app, &bob, flow, &origin).await.unwrap();
    let second = runs::request_run(&app, &bob, flow, &origin).await.unwrap();
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
    grants::revoke_grant(&app, &ada, secret_grant, &origin)
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
