//! Test fixtures: valid sample records and arbitrary ones for properties.

use cairn_schemas::{
    Action, ActorKind, ActorRef, AuditExported, CheckpointSigned, EventPayload, Header,
    HttpRequest, Outcome, PersonalData, RECORD_FORMAT, Record, ResourceKind, ResourceRef, Sealed,
    SystemStarted,
};
use proptest::prelude::*;
use uuid::Uuid;

use super::chain;
use super::codec;

/// A self-consistent record at `seq` (chained to an arbitrary predecessor).
pub(crate) fn sample_record(seq: u64) -> Record {
    let payload = codec::encode_payload(&EventPayload::HttpRequest(HttpRequest {
        method: "GET".into(),
        path: "/health".into(),
        status: 200,
        duration_micros: 42,
    }))
    .expect("encode payload");
    let header = Header {
        seq,
        id: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | u128::from(seq)),
        at: 1_780_000_000_000_000 + i64::try_from(seq).expect("seq"),
        org: Some(Uuid::from_u128(7)),
        actor: ActorRef {
            kind: ActorKind::User,
            id: Some(Uuid::from_u128(9)),
        },
        action: Action::HttpRequest,
        resource: ResourceRef::SYSTEM,
        outcome: Outcome::Success,
        request_id: Some("req-1".into()),
        personal: vec![Sealed {
            subject: Uuid::from_u128(9),
            nonce: [3; 24],
            ciphertext: vec![1, 2, 3],
        }],
        payload_digest: chain::payload_digest(Some(&payload)),
        prev_hash: [seq as u8; 32],
    };
    let hash = chain::record_hash(
        &header.prev_hash,
        &codec::encode_header(&header).expect("header"),
    );
    Record {
        format: RECORD_FORMAT,
        header,
        payload: Some(payload),
        hash,
    }
}

fn arbitrary_uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

prop_compose! {
    fn arbitrary_sealed()(subject in arbitrary_uuid(), nonce in any::<[u8; 24]>(),
                          ciphertext in proptest::collection::vec(any::<u8>(), 0..64)) -> Sealed {
        Sealed { subject, nonce, ciphertext }
    }
}

prop_compose! {
    /// Any record (not necessarily self-consistent): for codec properties.
    pub(crate) fn arbitrary_record()(
        seq in any::<u64>(),
        id in arbitrary_uuid(),
        at in any::<i64>(),
        org in proptest::option::of(arbitrary_uuid()),
        actor_kind in proptest::sample::select(ActorKind::ALL),
        actor_id in proptest::option::of(arbitrary_uuid()),
        action in proptest::sample::select(Action::ALL),
        resource_kind in proptest::sample::select(ResourceKind::ALL),
        resource_id in proptest::option::of(arbitrary_uuid()),
        outcome in proptest::sample::select(Outcome::ALL),
        request_id in proptest::option::of("[ -~]{0,40}"),
        personal in proptest::collection::vec(arbitrary_sealed(), 0..3),
        payload_digest in any::<[u8; 32]>(),
        prev_hash in any::<[u8; 32]>(),
        payload in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..256)),
        hash in any::<[u8; 32]>(),
    ) -> Record {
        Record {
            format: RECORD_FORMAT,
            header: Header {
                seq, id, at, org,
                actor: ActorRef { kind: actor_kind, id: actor_id },
                action,
                resource: ResourceRef { kind: resource_kind, id: resource_id },
                outcome, request_id, personal, payload_digest, prev_hash,
            },
            payload,
            hash,
        }
    }
}

prop_compose! {
    /// Any personal data.
    pub(crate) fn arbitrary_personal()(
        name in proptest::option::of(".{0,40}"),
        email in proptest::option::of("[a-z]{1,10}@[a-z]{1,10}\\.org"),
        ip in proptest::option::of("[0-9.:a-f]{2,39}"),
        user_agent in proptest::option::of(".{0,80}"),
    ) -> PersonalData {
        PersonalData { name, email, ip, user_agent }
    }
}

prop_compose! {
    fn arbitrary_checkpoint()(key_id in "[0-9a-f]{16}", seq in any::<u64>(), hash in any::<[u8; 32]>(),
                              at in any::<i64>(), signature in proptest::collection::vec(any::<u8>(), 64)) -> CheckpointSigned {
        CheckpointSigned { key_id, seq, hash, at, signature }
    }
}

/// Any event payload, of every variant.
pub(crate) fn arbitrary_payload() -> impl Strategy<Value = EventPayload> {
    prop_oneof![
        (".{0,20}", any::<u8>(), any::<u64>(), any::<u64>()).prop_map(
            |(version, record_format, recovered_head, torn)| {
                EventPayload::SystemStarted(SystemStarted {
                    version,
                    record_format,
                    recovered_head,
                    torn_records_dropped: torn,
                })
            }
        ),
        arbitrary_checkpoint().prop_map(EventPayload::CheckpointSigned),
        ("[A-Z]{3,7}", ".{0,100}", any::<u16>(), any::<u64>()).prop_map(
            |(method, path, status, duration_micros)| {
                EventPayload::HttpRequest(HttpRequest {
                    method,
                    path,
                    status,
                    duration_micros,
                })
            }
        ),
        (".{0,40}", ".{0,100}", any::<u64>(), any::<u64>()).prop_map(
            |(format, query, from_seq, to_seq)| {
                EventPayload::AuditExported(AuditExported {
                    format,
                    query,
                    from_seq,
                    to_seq,
                })
            }
        ),
    ]
}

/// An `http.request` event numbered `n` (its path and duration), by user 1.
pub(crate) fn request_event(n: u64) -> super::NewEvent {
    super::NewEvent::new(
        Action::HttpRequest,
        ActorRef {
            kind: ActorKind::User,
            id: Some(Uuid::from_u128(1)),
        },
        ResourceRef::SYSTEM,
        Outcome::Success,
    )
    .with_payload(EventPayload::HttpRequest(HttpRequest {
        method: "GET".into(),
        path: format!("/n/{n}"),
        status: 200,
        duration_micros: n,
    }))
}
