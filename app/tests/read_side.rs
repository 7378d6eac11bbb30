//! The read side below HTTP: the audit query and its filters, the chain's
//! verification, checkpoints and the public key, the access review (now
//! and as of a past seq, JSON and CSV), a secret's usage, activity, the
//! retention status, snapshots and past states, and an export, each as a
//! reader may ask and as someone who may not. The commands are the real
//! ones on a real log.

// A test file: its helpers fail loudly, like its tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use cairn_app::audit_log::{self, AuditQuery};
use cairn_app::runs::execute_run;
use cairn_app::{CommandError, Origin, audit_export, reports, retention, runs};
use cairn_audit::export_stream::ExportFormat;
use cairn_schemas::Action;
use support::{Network, NoEnv, World, start};

const CANARY: &str = "canary-read-side-5c1e";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_side_answers_readers_and_refuses_everyone_else() {
    let dir = tempfile::tempdir().unwrap();
    let app = Arc::new(start(dir.path()));
    let world = World::build(&app, CANARY).await;
    let origin = Origin::local("test");
    let run = runs::request_run(&app, &world.bob, world.flow, &origin)
        .await
        .unwrap();
    execute_run(&app, &Network::default(), &NoEnv, run.id).await;

    // The audit query: everything, then filtered by action and by actor
    let all = AuditQuery {
        limit: 500,
        ..AuditQuery::default()
    };
    let (items, next) = audit_log::query_events(&app, &world.ada, &all).unwrap();
    assert!(items.len() > 10, "{}", items.len());
    assert_eq!(next, None);
    let resolved = AuditQuery {
        action: Some(Action::SecretResolved),
        ..all.clone()
    };
    let (items, _) = audit_log::query_events(&app, &world.ada, &resolved).unwrap();
    assert_eq!(items.len(), 1);
    let page = AuditQuery {
        limit: 2,
        ..all.clone()
    };
    let (items, next) = audit_log::query_events(&app, &world.ada, &page).unwrap();
    assert_eq!(items.len(), 2);
    assert!(next.is_some());
    let text = serde_json::to_string(&audit_log::events_page(items, next)).unwrap();
    assert!(!text.contains(CANARY));
    audit_log::record_query(&app, &world.ada, &page, 2, next, &origin)
        .await
        .unwrap();
    // A flow executor is no audit reader, for any of it
    assert!(matches!(
        audit_log::query_events(&app, &world.bob, &all),
        Err(CommandError::Forbidden(_))
    ));
    assert!(audit_log::verify(&app, &world.bob).is_err());
    assert!(audit_log::public_key(&app, &world.bob).is_err());
    assert!(audit_log::checkpoints(&app, &world.bob, 0, 10).is_err());

    // The chain verifies; a checkpoint signed now is listed, under the key
    let checkpointed = app.checkpoint().await.unwrap().expect("a checkpoint");
    let verified = audit_log::verify(&app, &world.ada).unwrap();
    assert!(verified.ok, "{verified:?}");
    assert_eq!(verified.first_bad, None);
    let (checkpoints, _) = audit_log::checkpoints(&app, &world.ada, 0, 10).unwrap();
    assert_eq!(checkpoints.last().map(|c| c.seq), Some(checkpointed));
    let key = audit_log::public_key(&app, &world.ada).unwrap();
    assert_eq!(key.algorithm, "Ed25519");

    // The access review: bob reaches the flow through his grant
    let review = reports::access_review(&app, &world.ada, None, None)
        .await
        .unwrap();
    assert!(
        review
            .items
            .iter()
            .any(|row| row.user_id == world.bob.user_id)
    );
    let csv = reports::review_csv(&review);
    assert!(csv.lines().count() > review.items.len());
    // As of the seq before bob's grants: he reached nothing then
    let before = reports::access_review(&app, &world.ada, Some(5), None)
        .await
        .unwrap();
    assert!(
        !before
            .items
            .iter()
            .any(|row| row.user_id == world.bob.user_id)
    );
    assert!(
        reports::access_review(&app, &world.bob, None, None)
            .await
            .is_err()
    );
    // A seq beyond the head is refused naming at_seq
    let beyond = reports::access_review(&app, &world.ada, Some(u64::MAX), None).await;
    assert!(matches!(
        beyond,
        Err(CommandError::Invalid {
            field: "at_seq",
            ..
        })
    ));

    // Who used the secret: the run, as bob
    let usage = reports::secret_usage(&app, &world.ada, world.secret, 0).unwrap();
    assert_eq!(usage.items.len(), 1);
    let (activity, _) = reports::activity(
        &app,
        &world.ada,
        &AuditQuery {
            actor: Some(world.bob.user_id),
            ..all.clone()
        },
    )
    .unwrap();
    assert!(!activity.is_empty());

    // Retention: readable by readers, the default policy in force
    let status = retention::get(&app, &world.ada).unwrap();
    assert!(status.default, "no policy was set: the default is in force");
    assert_eq!(status.classes.len(), 3);
    assert!(status.last_prune.is_none() && !status.compaction_pending);
    assert!(retention::get(&app, &world.bob).is_err());

    // A snapshot, then a past state rebuilt from it and the log
    let snapshot = app.write_snapshot().unwrap();
    assert_eq!(app.last_snapshot_seq(), snapshot.seq);
    let past = app.views_at(snapshot.seq - 1).await.unwrap();
    assert_eq!(past.applied_seq(), snapshot.seq - 1);
    assert!(app.past_rebuilds() >= 1);

    // An export: every record up to the head, no value in it
    let plan =
        audit_export::begin_export(&app, &world.ada, ExportFormat::Jsonl, all.clone(), &origin)
            .await
            .unwrap();
    let mut out = Vec::new();
    let written = audit_export::write_planned(&app, &plan, &mut out).unwrap();
    assert!(written > 10);
    assert!(!String::from_utf8_lossy(&out).contains(CANARY));
    assert!(
        audit_export::begin_export(&app, &world.bob, ExportFormat::Ocsf, all, &origin)
            .await
            .is_err()
    );
}
