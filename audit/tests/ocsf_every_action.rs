//! Every action, rendered as OCSF, validates against the official OCSF
//! 1.8.0 JSON schema of its class (docs/contract.md section 3), and lands in the
//! class and activity `schemas/ocsf-mapping.md` gives it.
//!
//! One synthetic record per `Action` (with a representative payload where
//! one exists), plus the awkward cases: pruned payloads, erased personal
//! data, anonymous callers, denied and failed outcomes, and names full of
//! CR, LF, ANSI escapes, quotes, `=` and `|`. The schema check is the
//! independent validator `tests/py/ocsf_validate.py` (the `jsonschema` and
//! `ocsf-json-schema` packages), run with `$CAIRN_TEST_PYTHON`.

// The fixtures below are test code too: a failed expectation is a failed test.
#![allow(clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output};

use cairn_audit::RecordView;
use cairn_audit::export_line::{ExportedLine, export_line};
use cairn_audit::ocsf::{OCSF_VERSION, OcsfEvent, ocsf_event};
use cairn_core::log::{Personal, codec};
use cairn_core::rules::DEFAULT_POLICY;
use cairn_schemas::*;
use serde_json::Value;
use uuid::Uuid;

/// A name no exporter should trust: CR, LF, an ANSI colour, quotes, `=`,
/// `|`, a backslash and a Unicode line separator.
const HOSTILE: &str = "ev\"il\r\nname\u{1b}[31m=red|pipe\\ \u{2028}end";
/// A sealed value as payloads store it: must never reach an export.
const SEALED: &str = "$cairn$1$00000000-0000-0000-0000-0000000000a1$c2VhbGVkLXNlY3JldA";

const ALICE: Uuid = Uuid::from_u128(0xa1);
const BOB: Uuid = Uuid::from_u128(0xb0);
const ORG: Uuid = Uuid::from_u128(0x0e);
const GROUP: Uuid = Uuid::from_u128(0x60);
const NAMESPACE: Uuid = Uuid::from_u128(0x75);
const FLOW: Uuid = Uuid::from_u128(0xf1);
const SECRET: Uuid = Uuid::from_u128(0x5e);
const CONNECTION: Uuid = Uuid::from_u128(0xc0);
const GRANT: Uuid = Uuid::from_u128(0x6a);
const RUN: Uuid = Uuid::from_u128(0x40);
const SCHEDULE: Uuid = Uuid::from_u128(0x5c);
const API_KEY: Uuid = Uuid::from_u128(0xae);
const SESSION: Uuid = Uuid::from_u128(0x55);
const ANONYMOUS_SUBJECT: Uuid = Uuid::from_u128(0xa0);

const ALICE_ACTS: ActorRef = ActorRef {
    kind: ActorKind::User,
    id: Some(ALICE),
};
const BOB_ACTS: ActorRef = ActorRef {
    kind: ActorKind::User,
    id: Some(BOB),
};
const NOBODY_ACTS: ActorRef = ActorRef {
    kind: ActorKind::Anonymous,
    id: None,
};
const RUN_ACTS: ActorRef = ActorRef {
    kind: ActorKind::Run,
    id: Some(RUN),
};
const SCHEDULE_ACTS: ActorRef = ActorRef {
    kind: ActorKind::Schedule,
    id: Some(SCHEDULE),
};
const API_KEY_ACTS: ActorRef = ActorRef {
    kind: ActorKind::ApiKey,
    id: Some(API_KEY),
};
const AUDIT_LOG: ResourceRef = ResourceRef {
    kind: ResourceKind::AuditLog,
    id: None,
};
const NO_USER: ResourceRef = ResourceRef {
    kind: ResourceKind::User,
    id: None,
};

/// What a case's record holds as its payload.
enum Payload {
    /// The action has no payload.
    Never,
    /// Retention dropped it.
    Pruned,
    /// This payload.
    Some(EventPayload),
}

/// One synthetic record: who did what to what, and the personal data the
/// export sees (already opened, or erased).
struct Case {
    action: Action,
    actor: ActorRef,
    resource: ResourceRef,
    outcome: Outcome,
    payload: Payload,
    personal: Vec<(Uuid, Personal)>,
}

/// `action` by `actor` on `resource`: a success without payload. People
/// come with their (hostile) name, address and user agent.
fn case(action: Action, actor: ActorRef, resource: ResourceRef) -> Case {
    let personal = match actor.kind {
        ActorKind::User => vec![(ALICE, person(Some(HOSTILE), "192.0.2.10"))],
        ActorKind::ApiKey => vec![(ALICE, person(None, "2001:db8::7"))],
        _ => Vec::new(),
    };
    Case {
        action,
        actor,
        resource,
        outcome: Outcome::Success,
        payload: Payload::Never,
        personal,
    }
}

/// `action` by Alice on the resource `kind` `id`.
fn by_alice(action: Action, kind: ResourceKind, id: Uuid) -> Case {
    case(action, ALICE_ACTS, on(kind, id))
}

impl Case {
    fn with(self, payload: EventPayload) -> Case {
        Case {
            payload: Payload::Some(payload),
            ..self
        }
    }

    fn outcome(self, outcome: Outcome) -> Case {
        Case { outcome, ..self }
    }

    fn pruned(self) -> Case {
        Case {
            payload: Payload::Pruned,
            ..self
        }
    }

    fn personal(self, personal: Vec<(Uuid, Personal)>) -> Case {
        Case { personal, ..self }
    }

    /// Every personal item of the record erased.
    fn erased(mut self) -> Case {
        for (_, personal) in &mut self.personal {
            *personal = Personal::Erased;
        }
        self
    }
}

fn on(kind: ResourceKind, id: Uuid) -> ResourceRef {
    ResourceRef { kind, id: Some(id) }
}

/// What a person's request reveals: a name, an email, an address and a
/// hostile user agent.
fn person(name: Option<&str>, ip: &str) -> Personal {
    Personal::Data(PersonalData {
        name: name.map(str::to_string),
        email: Some("alice@example.com".into()),
        ip: Some(ip.into()),
        user_agent: Some(format!("agent {HOSTILE}")),
    })
}

fn sealed(subject: Uuid) -> Sealed {
    Sealed {
        subject,
        nonce: [7; 24],
        ciphertext: vec![1, 2, 3],
    }
}

fn grant(grantee_kind: GranteeKind, grantee_id: Uuid) -> EventPayload {
    EventPayload::GrantCreated(GrantCreated {
        grant_id: GRANT,
        org_id: ORG,
        resource_kind: ResourceKind::Flow,
        resource_id: FLOW,
        grantee_kind,
        grantee_id,
        level: GrantLevel::Manage,
        granted_by: ALICE,
    })
}

fn request(method: &str, status: u16) -> EventPayload {
    EventPayload::HttpRequest(HttpRequest {
        method: method.into(),
        path: "/api/v1/flows".into(),
        status,
        duration_micros: 1234,
    })
}

/// One case per action, in `Action::ALL` order.
fn every_action() -> Vec<Case> {
    use Action as A;
    use EventPayload as P;
    use ResourceKind as R;
    let system = ActorRef::SYSTEM;
    let bob = on(R::User, BOB);
    let user_ref = UserRef { user_id: BOB };
    vec![
        case(A::UserCreated, system, bob).with(P::UserCreated(UserCreated {
            user_id: BOB,
            org_id: ORG,
            role: OrgRole::Viewer,
            is_active: true,
            is_superuser: false,
            credential: sealed(BOB),
        })),
        case(A::UserActivated, ALICE_ACTS, bob).with(P::UserActivated(user_ref)),
        case(A::UserDeactivated, ALICE_ACTS, bob).with(P::UserDeactivated(user_ref)),
        case(A::UserDeleted, ALICE_ACTS, bob).with(P::UserDeleted(user_ref)),
        case(A::UserPasswordChanged, ALICE_ACTS, bob).with(P::UserPasswordChanged(
            UserPasswordChanged {
                user_id: BOB,
                credential: sealed(BOB),
                reset_by_admin: true,
            },
        )),
        case(A::UserRoleChanged, ALICE_ACTS, bob).with(P::UserRoleChanged(UserRoleChanged {
            user_id: BOB,
            org_id: ORG,
            previous: OrgRole::Viewer,
            role: OrgRole::Admin,
        })),
        by_alice(A::AuthLoginSucceeded, R::Session, SESSION).with(P::LoginSucceeded(
            LoginSucceeded {
                user_id: ALICE,
                org_id: ORG,
                session_id: SESSION,
                expires_at: 1_795_345_200_000_000,
                username_fingerprint: [0x11; 32],
            },
        )),
        case(A::AuthLoginFailed, NOBODY_ACTS, NO_USER)
            .with(P::LoginFailed(LoginFailed {
                username_fingerprint: [0x22; 32],
                user_id: None,
                reason: LoginFailure::UnknownUser,
            }))
            .outcome(Outcome::Failure)
            .personal(vec![(ANONYMOUS_SUBJECT, person(None, "198.51.100.1"))]),
        by_alice(A::AuthLogout, R::Session, SESSION).with(P::Logout(Logout {
            session_id: SESSION,
        })),
        by_alice(A::SessionRevoked, R::Session, SESSION),
        by_alice(A::ApiKeyCreated, R::ApiKey, API_KEY).with(P::ApiKeyCreated(ApiKeyCreated {
            key_id: API_KEY,
            user_id: ALICE,
            org_id: ORG,
            name: HOSTILE.into(),
            digest: [0x33; 32],
            prefix: "cairn_ab".into(),
            expires_at: None,
        })),
        case(A::ApiKeyRevoked, API_KEY_ACTS, on(R::ApiKey, API_KEY))
            .with(P::ApiKeyRevoked(ApiKeyRevoked { key_id: API_KEY })),
        case(A::OrgCreated, system, on(R::Org, ORG)).with(P::OrgCreated(OrgCreated {
            org_id: ORG,
            name: HOSTILE.into(),
        })),
        by_alice(A::OrgMemberAdded, R::Org, ORG).with(P::OrgMemberAdded(OrgMemberAdded {
            org_id: ORG,
            user_id: BOB,
            role: OrgRole::FlowEditor,
        })),
        by_alice(A::OrgMemberRemoved, R::Org, ORG).with(P::OrgMemberRemoved(OrgMemberRemoved {
            org_id: ORG,
            user_id: BOB,
        })),
        by_alice(A::GroupCreated, R::Group, GROUP).with(P::GroupCreated(GroupCreated {
            group_id: GROUP,
            org_id: ORG,
            name: HOSTILE.into(),
            owner_id: ALICE,
        })),
        by_alice(A::GroupDeleted, R::Group, GROUP)
            .with(P::GroupDeleted(GroupDeleted { group_id: GROUP })),
        by_alice(A::GroupMemberAdded, R::Group, GROUP).with(P::GroupMemberAdded(
            GroupMemberAdded {
                group_id: GROUP,
                user_id: BOB,
                role: GroupRole::Member,
            },
        )),
        by_alice(A::GroupMemberRemoved, R::Group, GROUP).with(P::GroupMemberRemoved(
            GroupMemberRemoved {
                group_id: GROUP,
                user_id: BOB,
            },
        )),
        by_alice(A::GroupMemberRoleChanged, R::Group, GROUP).with(P::GroupMemberRoleChanged(
            GroupMemberRoleChanged {
                group_id: GROUP,
                user_id: BOB,
                previous: GroupRole::Member,
                role: GroupRole::Manager,
            },
        )),
        by_alice(A::NamespaceCreated, R::Namespace, NAMESPACE).with(P::NamespaceCreated(
            NamespaceCreated {
                namespace_id: NAMESPACE,
                org_id: ORG,
                parent_id: None,
                name: HOSTILE.into(),
                owner_id: Some(ALICE),
                system: false,
            },
        )),
        by_alice(A::FlowCreated, R::Flow, FLOW).with(P::FlowCreated(FlowCreated {
            flow_id: FLOW,
            org_id: ORG,
            namespace_id: NAMESPACE,
            name: HOSTILE.into(),
            owner_id: ALICE,
            definition: r#"{"steps":[{"id":"a","run":"echo \"x\"\n"}]}"#.into(),
        })),
        by_alice(A::FlowUpdated, R::Flow, FLOW).with(P::FlowUpdated(FlowUpdated {
            flow_id: FLOW,
            namespace_id: NAMESPACE,
            name: "etl".into(),
            definition: "not json \u{1b}[0m".into(),
        })),
        by_alice(A::FlowDeleted, R::Flow, FLOW).with(P::FlowDeleted(FlowDeleted { flow_id: FLOW })),
        by_alice(A::SecretCreated, R::Secret, SECRET).with(P::SecretCreated(SecretCreated {
            secret_id: SECRET,
            org_id: ORG,
            owner_id: ALICE,
            name: HOSTILE.into(),
            value: SEALED.into(),
            fingerprint: [0x44; 32],
        })),
        by_alice(A::SecretRotated, R::Secret, SECRET).with(P::SecretRotated(SecretRotated {
            secret_id: SECRET,
            version: 2,
            value: SEALED.into(),
            fingerprint: [0x45; 32],
        })),
        by_alice(A::SecretDeleted, R::Secret, SECRET)
            .with(P::SecretDeleted(SecretRef { secret_id: SECRET })),
        by_alice(A::SecretRevealed, R::Secret, SECRET).with(P::SecretRevealed(SecretRevealed {
            secret_id: SECRET,
            version: 2,
        })),
        case(A::SecretResolved, RUN_ACTS, on(R::Secret, SECRET)).with(P::SecretResolved(
            SecretResolved {
                secret_id: SECRET,
                owner_id: ALICE,
                version: 2,
                run_id: RUN,
                invoker_id: ALICE,
            },
        )),
        by_alice(A::ConnectionCreated, R::Connection, CONNECTION).with(P::ConnectionCreated(
            ConnectionCreated {
                connection_id: CONNECTION,
                org_id: ORG,
                owner_id: ALICE,
                name: HOSTILE.into(),
                kind: ConnectionKind::Postgres,
                target: r#"{"host":"db","port":5432}"#.into(),
                credentials: SEALED.into(),
                fingerprint: [0x46; 32],
            },
        )),
        by_alice(A::ConnectionUpdated, R::Connection, CONNECTION).with(P::ConnectionUpdated(
            ConnectionUpdated {
                connection_id: CONNECTION,
                name: "db".into(),
                target: r#"{"host":"db2"}"#.into(),
                credentials: Some(SEALED.into()),
                fingerprint: Some([0x47; 32]),
            },
        )),
        by_alice(A::ConnectionDeleted, R::Connection, CONNECTION).with(P::ConnectionDeleted(
            SecretRef {
                secret_id: CONNECTION,
            },
        )),
        by_alice(A::GrantCreated, R::Grant, GRANT).with(grant(GranteeKind::User, BOB)),
        by_alice(A::GrantRevoked, R::Grant, GRANT)
            .with(P::GrantRevoked(GrantRevoked { grant_id: GRANT })),
        by_alice(A::RunRequested, R::Run, RUN).with(P::RunRequested(RunRequested {
            run_id: RUN,
            flow_id: FLOW,
            org_id: ORG,
            invoker_id: ALICE,
            schedule_id: Some(SCHEDULE),
        })),
        case(A::RunStarted, RUN_ACTS, on(R::Run, RUN)).with(P::RunStarted(RunRef { run_id: RUN })),
        case(A::RunStepFinished, RUN_ACTS, on(R::Run, RUN)).with(P::RunStepFinished(
            RunStepFinished {
                run_id: RUN,
                index: 0,
                step_id: HOSTILE.into(),
                status: StepStatus::Succeeded,
                output: r#"{"stdout":"***\r\n"}"#.into(),
            },
        )),
        case(A::RunFinished, RUN_ACTS, on(R::Run, RUN))
            .with(P::RunFinished(RunFinished {
                run_id: RUN,
                status: RunStatus::Failed,
                error: Some(HOSTILE.into()),
            }))
            .outcome(Outcome::Failure),
        by_alice(A::ScheduleCreated, R::Schedule, SCHEDULE).with(P::ScheduleCreated(
            ScheduleCreated {
                schedule_id: SCHEDULE,
                org_id: ORG,
                flow_id: FLOW,
                owner_id: ALICE,
                cron: "*/5 * * * *".into(),
            },
        )),
        by_alice(A::ScheduleDeleted, R::Schedule, SCHEDULE).with(P::ScheduleDeleted(
            ScheduleDeleted {
                schedule_id: SCHEDULE,
            },
        )),
        case(A::ScheduleFired, SCHEDULE_ACTS, on(R::Schedule, SCHEDULE)).with(P::ScheduleFired(
            ScheduleFired {
                schedule_id: SCHEDULE,
                due_at: 1_795_341_600_000_000,
                outcome: FireOutcome::Fired,
                run_id: Some(RUN),
                missed: 1,
            },
        )),
        by_alice(A::AuthzDenied, R::Flow, FLOW)
            .with(P::AccessDenied(AccessDenied {
                method: "DELETE".into(),
                path: format!("/api/v1/flows/{FLOW}?{HOSTILE}"),
                status: 404,
                action: Some(AccessAction::Delete),
                reason: format!("not visible {HOSTILE}"),
            }))
            .outcome(Outcome::Denied),
        case(A::HttpRequest, ALICE_ACTS, ResourceRef::SYSTEM)
            .with(request("GET", 422))
            .outcome(Outcome::Failure),
        case(A::AuditQueried, ALICE_ACTS, AUDIT_LOG).with(P::AuditQueried(AuditQueried {
            query: format!("actor={HOSTILE}"),
            returned: 3,
            next: Some(42),
        })),
        case(A::AuditExported, ALICE_ACTS, AUDIT_LOG).with(P::AuditExported(AuditExported {
            format: "ocsf".into(),
            query: "action=grant.created|x".into(),
            from_seq: 1,
            to_seq: 99,
        })),
        case(A::RetentionPruned, system, AUDIT_LOG).with(P::RetentionPruned(RetentionPruned {
            snapshot_seq: 40,
            horizons: vec![ClassHorizon {
                class: RetentionClass::Operational,
                up_to_seq: 30,
                up_to_at: 1_795_341_600_000_000,
                pruned: 12,
            }],
            policy: DEFAULT_POLICY,
        })),
        case(A::CheckpointSigned, system, AUDIT_LOG).with(P::CheckpointSigned(CheckpointSigned {
            key_id: "0123456789abcdef".into(),
            seq: 41,
            hash: [0x55; 32],
            at: 1_795_341_600_000_000,
            signature: vec![0x66; 64],
        })),
        case(A::SystemStarted, system, ResourceRef::SYSTEM).with(P::SystemStarted(SystemStarted {
            version: "0.1.0".into(),
            record_format: 1,
            recovered_head: 41,
            torn_records_dropped: 0,
        })),
        case(A::SystemBootstrapAdmin, system, bob).with(P::BootstrapAdmin(BootstrapAdmin {
            user_id: BOB,
            org_id: ORG,
        })),
        case(A::ConfigChanged, ALICE_ACTS, AUDIT_LOG).with(P::RetentionPolicySet(
            RetentionPolicySet {
                policy: DEFAULT_POLICY,
                previous: None,
            },
        )),
        by_alice(A::NamespaceUpdated, R::Namespace, NAMESPACE).with(P::NamespaceUpdated(
            NamespaceUpdated {
                namespace_id: NAMESPACE,
                name: HOSTILE.into(),
            },
        )),
        by_alice(A::NamespaceDeleted, R::Namespace, NAMESPACE).with(P::NamespaceDeleted(
            NamespaceDeleted {
                namespace_id: NAMESPACE,
            },
        )),
        case(A::UserErased, ALICE_ACTS, bob).with(P::UserErased(user_ref)),
        case(A::HttpThrottled, NOBODY_ACTS, ResourceRef::SYSTEM)
            .with(P::HttpThrottled(HttpThrottled {
                rate_limited: 1300,
                shed: 2,
                first_at: 1_795_341_600_000_000,
                last_at: 1_795_341_601_500_000,
                window_secs: 60,
                overflow: false,
            }))
            .outcome(Outcome::Denied)
            .personal(vec![(ANONYMOUS_SUBJECT, person(None, "192.0.2.9"))]),
        by_alice(A::SchedulePinned, R::Schedule, SCHEDULE).with(P::SchedulePinned(
            SchedulePinned {
                schedule_id: SCHEDULE,
                flow_id: FLOW,
                digest: format!("sha256:{}", "ab".repeat(32)),
                author_id: ALICE,
            },
        )),
        case(A::ScheduleSuspended, BOB_ACTS, on(R::Schedule, SCHEDULE)).with(P::ScheduleSuspended(
            ScheduleSuspended {
                schedule_id: SCHEDULE,
                flow_id: FLOW,
                by_id: BOB,
                old_digest: format!("sha256:{}", "ab".repeat(32)),
                new_digest: format!("sha256:{}", "cd".repeat(32)),
                reason: HOSTILE.into(),
            },
        )),
        by_alice(A::ScheduleResumed, R::Schedule, SCHEDULE).with(P::ScheduleResumed(
            SchedulePinned {
                schedule_id: SCHEDULE,
                flow_id: FLOW,
                digest: format!("sha256:{}", "cd".repeat(32)),
                author_id: BOB,
            },
        )),
        case(A::RunDefinitionPinned, SCHEDULE_ACTS, on(R::Run, RUN)).with(P::RunDefinitionPinned(
            RunDefinitionPinned {
                run_id: RUN,
                flow_id: FLOW,
                digest: format!("sha256:{}", "cd".repeat(32)),
                invoker_id: ALICE,
                author_id: BOB,
            },
        )),
    ]
}

/// The records whose mapping is hardest: erased, refused, pruned.
fn awkward_cases() -> Vec<Case> {
    use Action as A;
    use EventPayload as P;
    use ResourceKind as R;
    vec![
        // Bob's own data erased: the target keeps its id, gains no name.
        case(A::UserActivated, ActorRef::SYSTEM, on(R::User, BOB))
            .with(P::UserActivated(UserRef { user_id: BOB }))
            .personal(vec![(BOB, Personal::Erased)]),
        // An erased actor: no name, no address (API Activity still needs
        // a source endpoint).
        by_alice(A::SecretRevealed, R::Secret, SECRET)
            .with(P::SecretRevealed(SecretRevealed {
                secret_id: SECRET,
                version: 1,
            }))
            .erased(),
        // A refused login of a known, locked user.
        by_alice(A::AuthLoginFailed, R::User, ALICE)
            .with(P::LoginFailed(LoginFailed {
                username_fingerprint: [0x23; 32],
                user_id: Some(ALICE),
                reason: LoginFailure::Locked,
            }))
            .outcome(Outcome::Denied),
        // A 401 of an anonymous caller: authz.denied with request details.
        case(A::AuthzDenied, NOBODY_ACTS, ResourceRef::SYSTEM)
            .with(request("POST", 401))
            .outcome(Outcome::Denied)
            .personal(vec![(ANONYMOUS_SUBJECT, person(None, "::ffff:192.0.2.1"))]),
        // A grant to a group.
        by_alice(A::GrantCreated, R::Grant, GRANT).with(grant(GranteeKind::Group, GROUP)),
        // Pruned payloads: the class needs what only the details said.
        by_alice(A::GrantCreated, R::Grant, GRANT).pruned(),
        by_alice(A::GroupMemberRoleChanged, R::Group, GROUP).pruned(),
        case(A::AuthLoginFailed, NOBODY_ACTS, NO_USER).pruned(),
        case(A::HttpRequest, NOBODY_ACTS, ResourceRef::SYSTEM)
            .pruned()
            .outcome(Outcome::Failure),
        case(A::ScheduleFired, SCHEDULE_ACTS, on(R::Schedule, SCHEDULE)).pruned(),
        // An HTTP method OCSF does not enumerate.
        case(A::HttpRequest, ALICE_ACTS, ResourceRef::SYSTEM)
            .with(request("PROPFIND", 405))
            .outcome(Outcome::Failure),
    ]
}

/// Builds the record of a case at `seq` and renders its exported line.
fn exported_line(case: Case, seq: u64) -> Value {
    let (payload, payload_digest) = match &case.payload {
        Payload::Never => (None, [0; 32]),
        Payload::Pruned => (None, [9; 32]),
        Payload::Some(payload) => (
            Some(codec::encode_payload(payload).expect("encodes")),
            [9; 32],
        ),
    };
    let personal = case
        .personal
        .iter()
        .map(|(subject, _)| sealed(*subject))
        .collect();
    let record = Record {
        format: RECORD_FORMAT,
        header: Header {
            seq,
            id: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | u128::from(seq)),
            at: 1_795_341_600_123_456 + i64::try_from(seq).expect("small") * 1_000_001,
            org: Some(ORG),
            actor: case.actor,
            action: case.action,
            resource: case.resource,
            outcome: case.outcome,
            request_id: Some(format!("req-{seq}")),
            personal,
            payload_digest,
            prev_hash: [0xcd; 32],
        },
        payload,
        hash: [0xab; 32],
    };
    let opened = case
        .personal
        .into_iter()
        .map(|(_, personal)| personal)
        .collect();
    let view = RecordView {
        record: &record,
        personal: opened,
    };
    let line = export_line(&view);
    // What exports write, from the typed line, is the same JSON: the line
    // itself and its OCSF event.
    let typed = ExportedLine::of(&view);
    assert_eq!(
        serde_json::to_string(&typed).expect("serializes"),
        serde_json::to_string(&line).expect("serializes"),
        "the typed line of seq {seq}"
    );
    assert_eq!(
        serde_json::to_string(&OcsfEvent::of_exported(&typed)).expect("serializes"),
        serde_json::to_string(&OcsfEvent::of(&line)).expect("serializes"),
        "the OCSF event of the typed line of seq {seq}"
    );
    line
}

/// The class and activity `schemas/ocsf-mapping.md` gives a line.
fn mapped(line: &Value) -> (u64, u64) {
    let action = line["action"].as_str().expect("action");
    let details = &line["details"];
    match action {
        "user.created" => (3001, 1),
        "user.activated" => (3001, 2),
        "user.deactivated" => (3001, 5),
        "user.deleted" => (3001, 6),
        "user.erased" => (3001, 99),
        "user.password_changed" => (3001, 3),
        "user.role_changed" | "group.member_role_changed" | "system.bootstrap_admin" => (3005, 1),
        "auth.login_succeeded" | "auth.login_failed" => (3002, 1),
        "auth.logout" | "session.revoked" => (3002, 2),
        "api_key.created" | "org.created" | "namespace.created" | "flow.created" => (3004, 1),
        "flow.updated" | "config.changed" => (3004, 3),
        "namespace.updated" => (3004, 5),
        "api_key.revoked" | "namespace.deleted" | "flow.deleted" => (3004, 4),
        "org.member_added" | "group.member_added" => (3006, 3),
        "org.member_removed" | "group.member_removed" => (3006, 4),
        "group.created" => (3006, 6),
        "group.deleted" => (3006, 5),
        "grant.created" | "grant.revoked" => {
            let created = action == "grant.created";
            match (details["grantee_type"].as_str(), created) {
                (Some("user"), true) => (3005, 1),
                (Some("user"), false) => (3005, 2),
                (Some("group"), true) => (3006, 1),
                (Some("group"), false) => (3006, 2),
                (_, true) => (3004, 1),
                (_, false) => (3004, 4),
            }
        }
        "secret.created" | "connection.created" => (6003, 1),
        "secret.revealed" | "secret.resolved" | "audit.queried" => (6003, 2),
        "secret.rotated" | "connection.updated" => (6003, 3),
        "secret.deleted" | "connection.deleted" => (6003, 4),
        "run.requested" | "schedule.created" => (1006, 1),
        "schedule.deleted" => (1006, 3),
        "schedule.pinned" | "run.definition_pinned" => (1006, 2),
        "schedule.resumed" => (1006, 4),
        "schedule.suspended" => (1006, 5),
        "run.started" | "schedule.fired" => (1006, 6),
        "run.step_finished" | "run.finished" => (1006, 99),
        "authz.denied" => (6004, 2),
        "http.request" => match details["method"].as_str() {
            None => (4002, 0),
            Some("GET") => (4002, 3),
            Some("POST") => (4002, 6),
            Some(_) => (4002, 99),
        },
        "http.throttled" => (4002, 99),
        "audit.exported" => (1008, 3),
        "retention.pruned" => (1008, 1),
        "checkpoint.signed" => (1008, 99),
        "system.started" => (6002, 3),
        "user.exploded" => (0, 99),
        other => panic!("{other} is missing from this table and schemas/ocsf-mapping.md"),
    }
}

fn python() -> OsString {
    std::env::var_os("CAIRN_TEST_PYTHON").unwrap_or_else(|| {
        panic!(
            "CAIRN_TEST_PYTHON is not set: run the tests with `bash scripts/test.sh`, \
             which prepares the Python peers (ocsf-json-schema, jsonschema)"
        )
    })
}

/// Runs `tests/py/ocsf_validate.py` on a file of OCSF lines.
fn validate(path: &std::path::Path) -> Output {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/py/ocsf_validate.py");
    Command::new(python())
        .arg(script)
        .arg(path)
        .output()
        .expect("run the OCSF validator")
}

#[test]
fn every_action_renders_a_valid_ocsf_event_of_its_mapped_class() {
    let python = python();
    let cases = every_action();
    assert_eq!(
        cases.iter().map(|case| case.action).collect::<Vec<_>>(),
        Action::ALL,
        "one case per action, in Action::ALL order"
    );
    let mut lines: Vec<Value> = cases
        .into_iter()
        .chain(awkward_cases())
        .zip(1..)
        .map(|(case, seq)| exported_line(case, seq))
        .collect();
    // An action a newer Cairn knows and this one does not.
    let mut unknown = lines[0].clone();
    unknown["action"] = Value::from("user.exploded");
    unknown["seq"] = Value::from(lines.len() + 1);
    lines.push(unknown);

    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    let mut seen = BTreeSet::new();
    for line in &lines {
        let event = ocsf_event(line);
        let action = line["action"].as_str().expect("action");
        let seq = &line["seq"];

        let (class_uid, activity_id) = mapped(line);
        assert_eq!(
            event["class_uid"], class_uid,
            "{action} (seq {seq}): {event}"
        );
        assert_eq!(
            event["activity_id"], activity_id,
            "{action} (seq {seq}): {event}"
        );
        assert_eq!(event["type_uid"], class_uid * 100 + activity_id, "{action}");
        assert_eq!(event["metadata"]["version"], OCSF_VERSION);
        assert_eq!(&event["metadata"]["sequence"], seq);
        assert_eq!(event["metadata"]["uid"], line["id"]);
        assert_eq!(event["metadata"]["event_code"], action);
        assert_eq!(event["unmapped"]["details"], line["details"]);

        let text = serde_json::to_string(&event).expect("serializes");
        // What exports write (straight from the line) is the same JSON.
        let written = serde_json::to_string(&OcsfEvent::of(line)).expect("serializes");
        assert_eq!(written, text, "{action}");
        assert_eq!(text.lines().count(), 1, "{action}: {text}");
        assert!(
            !text.contains(['\n', '\r', '\u{1b}']),
            "{action}: raw control character in {text}"
        );
        assert!(!text.contains(SEALED), "{action}: a sealed value leaked");
        assert!(
            !text.contains("hmac-sha256:3333"),
            "{action}: an API key digest leaked"
        );
        writeln!(file, "{text}").expect("write");
        seen.insert(action.to_string());
    }
    file.flush().expect("flush");
    assert!(
        Action::ALL
            .iter()
            .all(|action| seen.contains(action.as_str()))
    );

    let output = validate(file.path());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "OCSF validation failed ({}) with {python:?}:\n{stderr}\n{stdout}",
        output.status
    );
    let summary: Value = serde_json::from_str(stdout.trim()).expect("summary line");
    assert_eq!(summary["valid"], lines.len(), "{summary}");
    assert_eq!(summary["invalid"], 0, "{summary}");
    assert_eq!(
        summary["actions"].as_array().map(Vec::len),
        Some(seen.len()),
        "{summary}"
    );
}

#[test]
fn the_validator_rejects_what_the_schema_does_not_allow() {
    let line = exported_line(every_action().remove(0), 1);
    let good = ocsf_event(&line);
    let mut extra = good.clone();
    extra["user"]["nickname"] = Value::from("x");
    let mut wrong_type = good.clone();
    wrong_type["type_uid"] = Value::from(300_102);
    let mut wrong_caption = good.clone();
    wrong_caption["activity_name"] = Value::from("Delete");
    let mut missing = good.clone();
    missing.as_object_mut().expect("object").remove("user");

    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    for event in [&good, &extra, &wrong_type, &wrong_caption, &missing] {
        writeln!(file, "{event}").expect("write");
    }
    writeln!(file, "not json").expect("write");
    file.flush().expect("flush");
    let output = validate(file.path());
    assert_eq!(output.status.code(), Some(1));
    let summary: Value =
        serde_json::from_str(String::from_utf8_lossy(&output.stdout).trim()).expect("summary");
    assert_eq!(summary["valid"], 1, "{summary}");
    assert_eq!(summary["invalid"], 5, "{summary}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    for number in 2..=6 {
        assert!(stderr.contains(&format!("line {number} ")), "{stderr}");
    }

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/py/ocsf_validate.py");
    let usage = Command::new(python())
        .arg(script)
        .args(["a", "b"])
        .output()
        .expect("run the OCSF validator");
    assert_eq!(usage.status.code(), Some(2));
}
