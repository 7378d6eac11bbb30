//! Issue 15, item 7, below HTTP on a manual clock: the ciphertexts of
//! superseded and deleted secrets live in their events' payloads until
//! retention drops them, and then (before compaction) still in sled's
//! files. After a prune pass that compacts, no file under the data dir
//! holds any of them; with compaction off they are found (the weakness),
//! and `compact_store` (what `cairn compact` runs) removes them.

// A test file: its helpers fail loudly, like its tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_app::{App, AppSettings, retention};
use cairn_core::clock::ManualClock;
use cairn_core::crypto::MasterKey;
use cairn_core::entropy::SeededEntropy;
use cairn_core::log::{EventLog, LogConfig, NewEvent};
use cairn_schemas::*;
use uuid::Uuid;

const DAY: i64 = 86_400 * 1_000_000;
/// 2025-01-01T00:00:00Z.
const START: i64 = 1_735_689_600_000_000;

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | n)
}

fn event(action: Action, resource: u128, payload: EventPayload) -> NewEvent {
    NewEvent::new(
        action,
        ActorRef {
            kind: ActorKind::User,
            id: Some(id(2)),
        },
        ResourceRef {
            kind: ResourceKind::Secret,
            id: Some(id(resource)),
        },
        Outcome::Success,
    )
    .in_org(id(1))
    .with_payload(payload)
}

/// A sealed value no other byte string in the store resembles.
fn sealed(secret: u128, version: u32) -> String {
    format!("$cairn$1${secret:04}-v{version:03}$ciphertext-3c9f0e7a5b21d4c8e6f1a0b9")
}

fn open(dir: &Path, clock: Arc<ManualClock>, compact: bool) -> App {
    let master = MasterKey::from_bytes([5; 32]);
    let config = LogConfig {
        dir: dir.to_path_buf(),
        create: true,
        cadence: Default::default(),
    };
    let (log, _) = EventLog::open(
        &config,
        &master,
        clock.clone(),
        Arc::new(SeededEntropy::new(11)),
    )
    .expect("open the log");
    let settings = AppSettings {
        retention_compact: compact,
        ..AppSettings::default()
    };
    App::start(
        Arc::new(log),
        &master,
        settings,
        clock,
        Arc::new(SeededEntropy::new(12)),
    )
    .expect("start")
}

/// Every file under `dir`, with its bytes.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).expect("list") {
                stack.push(entry.expect("entry").path());
            }
        } else {
            found.push((path.clone(), std::fs::read(&path).expect("read")));
        }
    }
    found
}

/// Which of `values` some file under `dir` holds.
fn found(dir: &Path, values: &[String]) -> Vec<(String, PathBuf)> {
    let mut hits = Vec::new();
    for (path, bytes) in files_under(dir) {
        for value in values {
            if bytes
                .windows(value.len())
                .any(|window| window == value.as_bytes())
            {
                hits.push((value.clone(), path.clone()));
            }
        }
    }
    hits
}

/// A secret set and rotated five times 120 days ago and once today, and
/// another created and deleted 120 days ago; a policy that keeps 90 days
/// of security payloads; one prune pass. Returns the app, the values the
/// prune dropped, and today's value.
async fn pruned_secrets(dir: &Path, compact: bool) -> (Arc<App>, Vec<String>, String) {
    let clock = Arc::new(ManualClock::new(START));
    let app = Arc::new(open(dir, clock.clone(), compact));
    let mut events = vec![event(
        Action::SecretCreated,
        9,
        EventPayload::SecretCreated(SecretCreated {
            secret_id: id(9),
            org_id: id(1),
            owner_id: id(2),
            name: "rotated".into(),
            value: sealed(9, 1),
            fingerprint: [1; 32],
        }),
    )];
    for version in 2..=6 {
        events.push(event(
            Action::SecretRotated,
            9,
            EventPayload::SecretRotated(SecretRotated {
                secret_id: id(9),
                version,
                value: sealed(9, version),
                fingerprint: [2; 32],
            }),
        ));
    }
    events.push(event(
        Action::SecretCreated,
        10,
        EventPayload::SecretCreated(SecretCreated {
            secret_id: id(10),
            org_id: id(1),
            owner_id: id(2),
            name: "deleted".into(),
            value: sealed(10, 1),
            fingerprint: [3; 32],
        }),
    ));
    events.push(event(
        Action::SecretDeleted,
        10,
        EventPayload::SecretDeleted(SecretRef { secret_id: id(10) }),
    ));
    app.commit(events).await.expect("commit the history");
    // A snapshot now holds every value of the history in its views.
    let worker = Arc::clone(&app);
    tokio::task::spawn_blocking(move || worker.write_snapshot())
        .await
        .expect("task")
        .expect("snapshot");
    clock.advance(120 * DAY);
    app.commit(vec![event(
        Action::SecretRotated,
        9,
        EventPayload::SecretRotated(SecretRotated {
            secret_id: id(9),
            version: 7,
            value: sealed(9, 7),
            fingerprint: [4; 32],
        }),
    )])
    .await
    .expect("rotate today");
    let floor = ClassPolicy {
        cadence_secs: 60,
        max_age_days: 90,
        max_count: None,
    };
    let policy = RetentionPolicy {
        security: floor,
        activity: ClassPolicy {
            max_age_days: 7,
            ..floor
        },
        operational: ClassPolicy {
            max_age_days: 1,
            ..floor
        },
    };
    app.commit(vec![
        NewEvent::new(
            Action::ConfigChanged,
            ActorRef::SYSTEM,
            ResourceRef::AUDIT_LOG,
            Outcome::Success,
        )
        .with_payload(EventPayload::RetentionPolicySet(RetentionPolicySet {
            policy,
            previous: None,
        })),
    ])
    .await
    .expect("set the policy");
    let values_before: Vec<String> = (1..=7)
        .map(|version| sealed(9, version))
        .chain([sealed(10, 1)])
        .collect();
    assert!(
        found(dir, &values_before).len() >= values_before.len(),
        "every value is in the store before the prune"
    );

    let worker = Arc::clone(&app);
    tokio::task::spawn_blocking(move || retention::prune_pass(&worker, [true; 3]))
        .await
        .expect("task")
        .expect("prune pass")
        .expect("something to prune");
    let dropped: Vec<String> = (1..=6)
        .map(|version| sealed(9, version))
        .chain([sealed(10, 1)])
        .collect();
    (app, dropped, sealed(9, 7))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn superseded_and_deleted_secret_ciphertexts_leave_the_files_with_the_prune() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (app, dropped, current) = pruned_secrets(dir.path(), true).await;
    let left = found(dir.path(), &dropped);
    assert!(
        left.is_empty(),
        "dropped ciphertexts still on disk: {left:?}"
    );
    // Today's value is kept, and still found by the same search.
    assert!(!found(dir.path(), std::slice::from_ref(&current)).is_empty());
    // The log goes on after the swap, and the chain verifies.
    let head = app.log().head().seq;
    let report = app
        .log()
        .reader()
        .verify(&cairn_core::log::VerifyOptions::default())
        .expect("verify");
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.head.seq, head, "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_compaction_the_prune_leaves_them_and_compact_store_removes_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (app, dropped, _) = pruned_secrets(dir.path(), false).await;
    let store = app.log().reader().store();
    assert!(retention::compaction_owed(store).expect("owed"));
    assert!(
        !found(dir.path(), &dropped).is_empty(),
        "the prune alone left no ciphertext behind: the search cannot fail"
    );
    let compaction = retention::compact_store(store).expect("compact");
    assert!(compaction.entries > 0);
    assert!(!retention::compaction_owed(store).expect("owed"));
    let left = found(dir.path(), &dropped);
    assert!(
        left.is_empty(),
        "dropped ciphertexts still on disk: {left:?}"
    );
}
