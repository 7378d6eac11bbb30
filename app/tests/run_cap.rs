//! The per-member cap on queued runs holds against requests sent at once:
//! the cap is read and the run recorded in one decision, and the queue's
//! place is reserved outside it, so a burst of one member's requests can
//! neither pass the cap nor leave a place held.

// A test file: its helpers fail loudly, like its tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use cairn_app::{CommandError, Origin, runs};
use support::{World, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_one_members_run_requests_queues_exactly_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let app = Arc::new(start(dir.path()));
    let World { bob, flow, .. } = World::build(&app, "canary-run-cap").await;
    let cap = app.settings().runs_queued_per_user;
    // When twenty of bob's requests arrive at once (no worker takes any)
    let requests: Vec<_> = (0..20)
        .map(|_| {
            let (app, bob) = (Arc::clone(&app), bob.clone());
            tokio::spawn(async move {
                runs::request_run(&app, &bob, flow, &Origin::local("burst")).await
            })
        })
        .collect();
    let mut queued = 0;
    for request in requests {
        match request.await.unwrap() {
            Ok(_) => queued += 1,
            Err(CommandError::Limited { message, .. }) => {
                assert!(message.contains("CAIRN_RUNS_QUEUED_PER_USER"), "{message}");
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    // Then exactly the cap was queued, and the views agree
    assert_eq!(queued, cap);
    assert_eq!(app.views().runs.unfinished_of(bob.user_id), cap);
    // And the refused ones left no place held: all the room but the
    // queued runs can still be reserved, and not one place more
    let room = app.settings().run_workers * runs::QUEUE_PER_WORKER - cap;
    let held: Vec<_> = (0..room)
        .map(|_| app.run_queue().reserve(bob.user_id).expect("a free place"))
        .collect();
    assert!(matches!(
        app.run_queue().reserve(bob.user_id),
        Err(CommandError::Overloaded)
    ));
    drop(held);
}
