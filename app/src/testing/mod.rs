//! Given/when/then for decisions, below the log: given events folded into
//! [`Views`] without a store (each one made into the record the log would
//! append: seq, id, time, chain, payload bytes; personal data kept in clear
//! by this harness instead of sealed), when a decision runs on those views
//! with a deterministic [`IdSource`], then its events, its reply or its
//! refusal. The events a decision returns can be folded in again, so a
//! test goes on from the state its command left.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use cairn_core::clock::ManualClock;
use cairn_core::entropy::SeededEntropy;
use cairn_core::log::{NewEvent, chain, codec};
use cairn_core::{Clock, IdSource};
use cairn_projections::{PersonalSource, Views};
use cairn_schemas::{
    Action, ActorKind, ActorRef, EventPayload, Header, PersonalData, RECORD_FORMAT, Record, Sealed,
};
use uuid::Uuid;

use crate::{CommandError, Decided};

/// 2026-01-01T00:00:00Z, when every given history starts.
pub const START: i64 = 1_767_225_600_000_000;

/// Personal data kept in clear, found by the nonce the harness gave it.
#[derive(Debug, Default)]
struct ClearPersonal {
    items: RefCell<HashMap<[u8; 24], PersonalData>>,
}

impl PersonalSource for ClearPersonal {
    fn open(&self, sealed: &Sealed) -> Option<PersonalData> {
        self.items.borrow().get(&sealed.nonce).cloned()
    }
}

/// A history, folded: the views, the clock and the ids decisions see.
#[derive(Debug)]
pub struct Given {
    views: Views,
    clock: Arc<ManualClock>,
    ids: IdSource,
    personal: ClearPersonal,
    prev_hash: [u8; 32],
    sealed: u64,
}

impl Default for Given {
    fn default() -> Self {
        Given::new()
    }
}

impl Given {
    /// An empty history at [`START`], with ids from a fixed seed.
    pub fn new() -> Given {
        let clock = Arc::new(ManualClock::new(START));
        let ids = IdSource::new(clock.clone(), Arc::new(SeededEntropy::new(16)));
        Given {
            views: Views::default(),
            clock,
            ids,
            personal: ClearPersonal::default(),
            prev_hash: chain::GENESIS_HASH,
            sealed: 0,
        }
    }

    /// Folds `events` in, in order, as the log would record them now.
    pub fn events(mut self, events: impl IntoIterator<Item = NewEvent>) -> Given {
        for event in events {
            self.fold(event);
        }
        self
    }

    /// Folds one event in.
    pub fn fold(&mut self, event: NewEvent) {
        let record = self.record(event);
        let payload = Views::decode_payload(&record).expect("the payload decodes");
        self.views
            .apply_decoded(&record, payload.as_ref(), &self.personal)
            .expect("the event applies");
    }

    /// Moves the clock on by `micros`.
    pub fn later(self, micros: i64) -> Given {
        self.clock.advance(micros);
        self
    }

    /// The views folded so far.
    pub fn views(&self) -> &Views {
        &self.views
    }

    /// The clock's time.
    pub fn now(&self) -> i64 {
        self.clock.now_micros()
    }

    /// Where the decisions' new ids come from.
    pub fn ids(&self) -> &IdSource {
        &self.ids
    }

    /// Runs a decision on the views so far.
    pub fn when<R>(
        &self,
        decide: impl FnOnce(&Views, &IdSource) -> Result<Decided<R>, CommandError>,
    ) -> Then<R> {
        Then(decide(&self.views, &self.ids))
    }

    /// Runs a decision twice on the same views, each time with ids from
    /// the same fresh source, and checks it answers the same both times:
    /// what a later multi-instance store relies on when it decides again
    /// after catching up. Returns the answer.
    pub fn when_repeated<R: std::fmt::Debug>(
        &self,
        decide: impl Fn(&Views, &IdSource) -> Result<Decided<R>, CommandError>,
    ) -> Then<R> {
        let fresh = || IdSource::new(self.clock.clone(), Arc::new(SeededEntropy::new(61)));
        let first = decide(&self.views, &fresh());
        let second = decide(&self.views, &fresh());
        assert_eq!(
            format!("{first:?}"),
            format!("{second:?}"),
            "the same decision on the same state answered differently"
        );
        Then(first)
    }

    /// Runs a decision and folds the events it returns (it must succeed).
    pub fn after<R>(
        &mut self,
        decide: impl FnOnce(&Views, &IdSource) -> Result<Decided<R>, CommandError>,
    ) -> R {
        let decided = decide(&self.views, &self.ids).expect("the decision succeeds");
        for event in decided.events {
            self.fold(event);
        }
        decided.reply
    }

    fn record(&mut self, event: NewEvent) -> Record {
        let seq = self.views.applied_seq() + 1;
        let personal = event
            .personal
            .into_iter()
            .map(|(subject, data)| {
                self.sealed += 1;
                let mut nonce = [0u8; 24];
                nonce[..8].copy_from_slice(&self.sealed.to_be_bytes());
                self.personal.items.borrow_mut().insert(nonce, data);
                Sealed {
                    subject,
                    nonce,
                    ciphertext: Vec::new(),
                }
            })
            .collect();
        let payload = event
            .payload
            .map(|payload| codec::encode_payload(&payload).expect("the payload encodes"));
        let header = Header {
            seq,
            id: self.ids.new_id(),
            at: self.clock.now_micros(),
            org: event.org,
            actor: event.actor,
            action: event.action,
            resource: event.resource,
            outcome: event.outcome,
            request_id: event.request_id,
            personal,
            payload_digest: chain::payload_digest(payload.as_deref()),
            prev_hash: self.prev_hash,
        };
        let hash = chain::record_hash(
            &self.prev_hash,
            &codec::encode_header(&header).expect("the header encodes"),
        );
        self.prev_hash = hash;
        Record {
            format: RECORD_FORMAT,
            header,
            payload,
            hash,
        }
    }
}

/// What a decision gave.
#[derive(Debug)]
pub struct Then<R>(pub Result<Decided<R>, CommandError>);

impl<R: std::fmt::Debug> Then<R> {
    /// The decision succeeded: its events and reply.
    pub fn decided(self) -> Decided<R> {
        match self.0 {
            Ok(decided) => decided,
            Err(error) => panic!("expected a decision, got {error:?}"),
        }
    }

    /// The actions of the events it would append.
    pub fn actions(self) -> Vec<Action> {
        self.decided()
            .events
            .iter()
            .map(|event| event.action)
            .collect()
    }

    /// The decision refused: why.
    pub fn refused(self) -> CommandError {
        match self.0 {
            Ok(decided) => panic!("expected a refusal, got {decided:?}"),
            Err(error) => error,
        }
    }
}

/// A user actor.
pub fn user(id: Uuid) -> ActorRef {
    ActorRef {
        kind: ActorKind::User,
        id: Some(id),
    }
}

/// The payload of the first event of `action` in `decided`.
pub fn payload_of<R>(decided: &Decided<R>, action: Action) -> &EventPayload {
    decided
        .events
        .iter()
        .find(|event| event.action == action)
        .and_then(|event| event.payload.as_ref())
        .unwrap_or_else(|| panic!("no {action:?} with a payload"))
}

/// An id that reads well in a failing test: `n` in its last digits.
pub fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | n)
}

pub mod catalog_facts;
pub mod facts;
pub mod identity_facts;
pub mod run_facts;

/// The principal `user_id` acting in `org_id` with their role there now.
pub fn principal(views: &Views, user_id: Uuid, org_id: Uuid) -> crate::Principal {
    let role = views.orgs.role_of(&user_id, &org_id).expect("a member");
    crate::Principal {
        user_id,
        org_id,
        role,
        is_superuser: false,
        credential: crate::principal::Credential::Session(id(0x5e55)),
    }
}
