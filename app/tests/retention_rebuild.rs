//! Retention below HTTP (issue 7): 500 days of history of every retention
//! class, on a manual clock; a prune pass under a strict policy; then the
//! views rebuilt from the snapshot and the remaining events must equal the
//! views before, the chain must verify, and every header (who did what to
//! what, when) must still be there. A fold from seq 1 must refuse to build
//! different views, a payload removed by anyone else must be found, and a
//! restart must come back to the same views.

// A test file: its helpers fail loudly, like its tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use cairn_app::{App, AppSettings, retention, snapshots};
use cairn_core::clock::ManualClock;
use cairn_core::crypto::MasterKey;
use cairn_core::entropy::SeededEntropy;
use cairn_core::log::{EventLog, LogConfig, NewEvent};
use cairn_projections::Views;
use cairn_schemas::*;
use uuid::Uuid;

const DAY: i64 = 86_400 * 1_000_000;
/// 2025-01-01T00:00:00Z.
const START: i64 = 1_735_689_600_000_000;

fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | n)
}

fn user(n: u128) -> ActorRef {
    ActorRef {
        kind: ActorKind::User,
        id: Some(id(n)),
    }
}

fn on(kind: ResourceKind, n: u128) -> ResourceRef {
    ResourceRef {
        kind,
        id: Some(id(n)),
    }
}

fn event(action: Action, actor: u128, resource: ResourceRef, payload: EventPayload) -> NewEvent {
    NewEvent::new(action, user(actor), resource, Outcome::Success)
        .in_org(id(1))
        .with_payload(payload)
}

fn open(dir: &std::path::Path, clock: Arc<ManualClock>) -> App {
    let master = MasterKey::from_bytes([3; 32]);
    let config = LogConfig {
        dir: dir.to_path_buf(),
        create: true,
        cadence: Default::default(),
    };
    let (log, _) = EventLog::open(
        &config,
        &master,
        clock.clone(),
        Arc::new(SeededEntropy::new(7)),
    )
    .expect("open the log");
    App::start(
        Arc::new(log),
        &master,
        AppSettings::default(),
        clock,
        Arc::new(SeededEntropy::new(8)),
    )
    .expect("start")
}

/// One day of a small organization: people join, groups and grants come
/// and go, a secret is rotated, flows run, requests are refused.
fn day(day: u128) -> Vec<NewEvent> {
    let base = 1000 + day * 100;
    let mut events = Vec::new();
    if day == 0 {
        events.push(event(
            Action::OrgCreated,
            2,
            on(ResourceKind::Org, 1),
            EventPayload::OrgCreated(OrgCreated {
                org_id: id(1),
                name: "acme".into(),
            }),
        ));
        events.push(event(
            Action::SecretCreated,
            2,
            on(ResourceKind::Secret, 9),
            EventPayload::SecretCreated(SecretCreated {
                secret_id: id(9),
                org_id: id(1),
                owner_id: id(2),
                name: "token".into(),
                value: "$cairn$1$sealed-v1".into(),
                fingerprint: [1; 32],
            }),
        ));
    }
    // A new person, with their name sealed as personal data.
    let person = base + 1;
    events.push(
        event(
            Action::UserCreated,
            2,
            on(ResourceKind::User, person),
            EventPayload::UserCreated(UserCreated {
                user_id: id(person),
                org_id: id(1),
                role: OrgRole::Viewer,
                is_active: true,
                is_superuser: false,
                credential: Sealed {
                    subject: id(person),
                    nonce: [4; 24],
                    ciphertext: vec![5; 40],
                },
            }),
        )
        .with_personal(
            id(person),
            PersonalData {
                name: Some(format!("person{day}")),
                email: Some(format!("person{day}@example.com")),
                ip: None,
                user_agent: None,
            },
        ),
    );
    let group = base + 2;
    events.push(event(
        Action::GroupCreated,
        2,
        on(ResourceKind::Group, group),
        EventPayload::GroupCreated(GroupCreated {
            group_id: id(group),
            org_id: id(1),
            name: format!("team{day}"),
            owner_id: id(2),
        }),
    ));
    events.push(event(
        Action::GroupMemberAdded,
        2,
        on(ResourceKind::Group, group),
        EventPayload::GroupMemberAdded(GroupMemberAdded {
            group_id: id(group),
            user_id: id(person),
            role: GroupRole::Member,
        }),
    ));
    events.push(event(
        Action::GrantCreated,
        2,
        on(ResourceKind::Grant, base + 3),
        EventPayload::GrantCreated(GrantCreated {
            grant_id: id(base + 3),
            org_id: id(1),
            resource_kind: ResourceKind::Secret,
            resource_id: id(9),
            grantee_kind: GranteeKind::Group,
            grantee_id: id(group),
            level: GrantLevel::Use,
            granted_by: id(2),
        }),
    ));
    if day.is_multiple_of(3) {
        events.push(event(
            Action::GrantRevoked,
            2,
            on(ResourceKind::Grant, base + 3),
            EventPayload::GrantRevoked(GrantRevoked {
                grant_id: id(base + 3),
            }),
        ));
    }
    events.push(event(
        Action::SecretRotated,
        2,
        on(ResourceKind::Secret, 9),
        EventPayload::SecretRotated(SecretRotated {
            secret_id: id(9),
            version: u32::try_from(day).expect("day") + 2,
            value: format!("$cairn$1$sealed-v{}", day + 2),
            fingerprint: [2; 32],
        }),
    ));
    let run = base + 4;
    let runs = on(ResourceKind::Run, run);
    let run_ref = RunRef { run_id: id(run) };
    events.push(event(
        Action::RunRequested,
        person,
        runs,
        EventPayload::RunRequested(RunRequested {
            run_id: id(run),
            flow_id: id(8),
            org_id: id(1),
            invoker_id: id(person),
            schedule_id: None,
        }),
    ));
    events.push(event(
        Action::RunStarted,
        person,
        runs,
        EventPayload::RunStarted(run_ref),
    ));
    events.push(event(
        Action::RunStepFinished,
        person,
        runs,
        EventPayload::RunStepFinished(RunStepFinished {
            run_id: id(run),
            index: 0,
            step_id: "fetch".into(),
            status: StepStatus::Succeeded,
            output: "Bearer ***".into(),
        }),
    ));
    events.push(event(
        Action::RunFinished,
        person,
        runs,
        EventPayload::RunFinished(RunFinished {
            run_id: id(run),
            status: RunStatus::Succeeded,
            error: None,
        }),
    ));
    for status in [401u16, 404, 422] {
        events.push(event(
            Action::HttpRequest,
            person,
            ResourceRef::SYSTEM,
            EventPayload::HttpRequest(HttpRequest {
                method: "GET".into(),
                path: "/api/v1/flows".into(),
                status,
                duration_micros: 120,
            }),
        ));
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruned_views_rebuild_equal_and_the_chain_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock::new(START));
    let app = Arc::new(open(dir.path(), clock.clone()));

    // 500 days of history, a day every 5 days.
    for number in 0..100u128 {
        app.commit(day(number)).await.expect("commit a day");
        // as the server's checkpoint job does at least every interval
        app.checkpoint().await.expect("checkpoint");
        clock.advance(5 * DAY);
    }
    // A burst of refused requests in the last hour: younger than every
    // age limit, so only the count limit can prune them.
    let burst: Vec<NewEvent> = (0..150)
        .map(|_| {
            event(
                Action::HttpRequest,
                2,
                ResourceRef::SYSTEM,
                EventPayload::HttpRequest(HttpRequest {
                    method: "POST".into(),
                    path: "/api/v1/grants".into(),
                    status: 409,
                    duration_micros: 80,
                }),
            )
        })
        .collect();
    app.commit(burst).await.expect("commit the burst");
    clock.advance(DAY / 24);
    // The strictest policy the floors allow.
    let policy = RetentionPolicy {
        security: ClassPolicy {
            cadence_secs: 60,
            max_age_days: 90,
            max_count: None,
        },
        activity: ClassPolicy {
            cadence_secs: 60,
            max_age_days: 7,
            max_count: None,
        },
        operational: ClassPolicy {
            cadence_secs: 60,
            max_age_days: 1,
            max_count: Some(100),
        },
    };
    app.commit(vec![
        NewEvent::new(
            Action::ConfigChanged,
            user(2),
            ResourceRef {
                kind: ResourceKind::AuditLog,
                id: None,
            },
            Outcome::Success,
        )
        .with_payload(EventPayload::RetentionPolicySet(RetentionPolicySet {
            policy,
            previous: None,
        })),
    ])
    .await
    .expect("set the policy");
    let superseded_before = app
        .views()
        .secrets
        .get(&id(9))
        .expect("secret")
        .superseded
        .len();
    let runs_before = app.views().runs.in_org(&id(1)).count();

    let worker = Arc::clone(&app);
    let (pruned_seq, pruned) =
        tokio::task::spawn_blocking(move || retention::prune_pass(&worker, [true; 3]))
            .await
            .expect("task")
            .expect("prune pass")
            .expect("something to prune");
    let head = app.log().head().seq;
    let now = START + 500 * DAY + DAY / 24;

    // Each class was pruned up to its limit, and no further.
    let reader = app.log().reader();
    let horizon = |class: RetentionClass| {
        *pruned
            .horizons
            .iter()
            .find(|h| h.class == class)
            .expect("every class has a horizon")
    };
    let security = horizon(RetentionClass::Security);
    let activity = horizon(RetentionClass::Activity);
    let operational = horizon(RetentionClass::Operational);
    assert!(security.pruned > 0 && activity.pruned > 0 && operational.pruned > 0);
    assert!(security.up_to_at < now - 90 * DAY, "security kept 90 days");
    assert!(activity.up_to_at < now - 7 * DAY, "activity kept 7 days");
    let mut kept_operational = 0;
    let mut dropped = 0;
    for seq in 1..=head {
        let record = reader.read(seq).expect("read").expect("every header stays");
        let class = record.header.action.retention_class();
        let up_to = horizon(class).up_to_seq;
        let prunable = cairn_core::log::retention::prunable(record.header.action);
        if seq <= up_to && prunable && record.header.payload_digest != [0; 32] {
            assert!(record.payload.is_none(), "seq {seq} should be pruned");
            dropped += 1;
        } else {
            assert!(record.payload.is_some() || record.header.payload_digest == [0; 32]);
        }
        if class == RetentionClass::Operational && record.payload.is_some() {
            kept_operational += 1;
        }
        // Who did what to what, and when, stays for every record.
        assert_eq!(record.header.seq, seq);
    }
    assert_eq!(
        dropped,
        security.pruned + activity.pruned + operational.pruned
    );
    assert_eq!(
        kept_operational, 100,
        "the operational count limit keeps the newest 100"
    );

    // The views rebuilt from the snapshot and the remaining events equal
    // the views the server holds.
    let views_now: Views = app.views().clone();
    assert_eq!(views_now.applied_seq(), head);
    let (rebuilt, from_snapshot) =
        snapshots::rebuild(reader, app.snapshots(), head).expect("rebuild");
    assert!(from_snapshot.is_some_and(|seq| seq >= pruned_seq));
    assert!(rebuilt == views_now, "the rebuilt views differ");
    assert_eq!(app.snapshots().list().expect("list").len(), 1);
    // The prune let go of what lived only in pruned payloads.
    let superseded_after = views_now
        .secrets
        .get(&id(9))
        .expect("secret")
        .superseded
        .len();
    assert!(superseded_after < superseded_before);
    assert!(views_now.runs.in_org(&id(1)).count() < runs_before);
    // A fold from seq 1 cannot silently build other views.
    let mut from_scratch = Views::new();
    assert!(matches!(
        snapshots::fold(reader, &mut from_scratch, 1, head),
        Err(snapshots::RebuildError::Pruned { .. })
    ));

    // The chain verifies, and knows what retention pruned.
    let report = reader
        .verify(&cairn_core::log::VerifyOptions::default())
        .expect("verify");
    assert!(report.ok(), "{:?}", report.first_bad);
    assert_eq!(report.payloads_pruned, dropped);

    // A payload dropped by anyone but retention is found, at its seq.
    let victim = (operational.up_to_seq + 1..=head)
        .find(|seq| {
            let record = reader.read(*seq).expect("read").expect("record");
            record.payload.is_some() && record.header.action == Action::HttpRequest
        })
        .expect("an unpruned request");
    let mut record = reader.read(victim).expect("read").expect("record");
    let original = cairn_core::log::codec::encode_record(&record).expect("encode");
    record.payload = None;
    reader
        .store()
        .replace(
            victim,
            &cairn_core::log::codec::encode_record(&record).expect("encode"),
        )
        .expect("replace");
    let report = reader
        .verify(&cairn_core::log::VerifyOptions::default())
        .expect("verify");
    assert_eq!(report.first_bad.map(|bad| bad.seq), Some(victim));
    reader.store().replace(victim, &original).expect("restore");

    // A restart comes back to the same views, from the snapshot.
    drop(app);
    let app = open(dir.path(), clock);
    let restarted: Views = app.views().clone();
    assert!(restarted == views_now, "the views after a restart differ");
    assert_eq!(
        restarted.users.by_name("person99").map(|u| u.id),
        Some(id(1000 + 9900 + 1))
    );
}
