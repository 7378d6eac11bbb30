//! What a command hands the log: an event before it has a seq, an id, a
//! time or a place in the chain.

use cairn_schemas::{Action, ActorRef, EventPayload, Outcome, PersonalData, ResourceRef};
use uuid::Uuid;

/// The longest request id the log stores.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// An event to append. The log assigns its seq, id, time and hashes, and
/// seals its personal data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    /// The tenant, or `None` for system-wide events.
    pub org: Option<Uuid>,
    /// Who acted.
    pub actor: ActorRef,
    /// What happened.
    pub action: Action,
    /// What it happened to.
    pub resource: ResourceRef,
    /// Whether it was allowed and succeeded.
    pub outcome: Outcome,
    /// The request that caused it.
    pub request_id: Option<String>,
    /// Personal data, per subject; sealed before the record is hashed.
    pub personal: Vec<(Uuid, PersonalData)>,
    /// The details.
    pub payload: Option<EventPayload>,
}

impl NewEvent {
    /// An event with no org, request, personal data or payload yet.
    pub fn new(
        action: Action,
        actor: ActorRef,
        resource: ResourceRef,
        outcome: Outcome,
    ) -> NewEvent {
        NewEvent {
            org: None,
            actor,
            action,
            resource,
            outcome,
            request_id: None,
            personal: Vec::new(),
            payload: None,
        }
    }

    /// A successful action of Cairn itself on itself.
    pub fn system(action: Action, payload: EventPayload) -> NewEvent {
        NewEvent::new(
            action,
            ActorRef::SYSTEM,
            ResourceRef::SYSTEM,
            Outcome::Success,
        )
        .with_payload(payload)
    }

    /// Sets the tenant.
    pub fn in_org(mut self, org: Uuid) -> NewEvent {
        self.org = Some(org);
        self
    }

    /// Sets the request id.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> NewEvent {
        self.request_id = Some(request_id.into());
        self
    }

    /// Adds personal data about `subject`.
    pub fn with_personal(mut self, subject: Uuid, data: PersonalData) -> NewEvent {
        if !data.is_empty() {
            self.personal.push((subject, data));
        }
        self
    }

    /// Sets the payload.
    pub fn with_payload(mut self, payload: EventPayload) -> NewEvent {
        self.payload = Some(payload);
        self
    }
}
