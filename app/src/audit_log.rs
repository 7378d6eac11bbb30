//! Reading the audit trail through the API: the events of the caller's
//! org (every org for a superuser), and those about an account that
//! belonged to it ([`org_sees`]), with filters and a seq cursor, the
//! chain's verification, the signed checkpoints and the public key that
//! checks them. Readers are audit viewers and admins of the org, and
//! superusers; every query of the events is itself an `audit.queried`
//! event, durable before the answer.

use cairn_audit::record_json::open_personal;
use cairn_audit::{RecordView, render_record};
use cairn_core::time_format::rfc3339_micros;
use cairn_schemas::api::{
    AuditEventsPage, ChainHeadBody, CheckpointBody, PublicKeyBody, VerifyBody,
};
use cairn_schemas::{
    Action, ActorKind, AuditQueried, EventPayload, OrgRole, Outcome, Record, ResourceKind,
    ResourceRef,
};
use uuid::Uuid;

use super::principal::Principal;
use super::{App, CommandError, Origin};

/// At most this many records are read for one page; a page that has not
/// filled by then ends early, and `next` continues the scan.
pub const MAX_SCANNED: u64 = 50_000;

/// The filters of `GET /api/v1/audit/events` (docs/api.md, "The audit trail").
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    /// The actor's id.
    pub actor: Option<Uuid>,
    /// The action.
    pub action: Option<Action>,
    /// The resource's kind.
    pub resource_type: Option<ResourceKind>,
    /// The resource's id.
    pub resource_id: Option<Uuid>,
    /// The outcome.
    pub outcome: Option<Outcome>,
    /// At or after this time (micros).
    pub since: Option<i64>,
    /// Before this time (micros).
    pub until: Option<i64>,
    /// Continue after this seq.
    pub after: u64,
    /// Page size.
    pub limit: usize,
    /// The query string as sent, for the `audit.queried` event.
    pub text: String,
    /// API keys whose actions count as `actor`'s (the activity report:
    /// what a user did with their keys is what they did).
    pub actor_keys: Vec<Uuid>,
}

impl AuditQuery {
    /// Whether a record passes every filter (the seq cursor aside).
    pub fn matches(&self, record: &Record) -> bool {
        let header = &record.header;
        self.actor.is_none_or(|actor| {
            header.actor.id == Some(actor)
                || (header.actor.kind == ActorKind::ApiKey
                    && header
                        .actor
                        .id
                        .is_some_and(|key| self.actor_keys.contains(&key)))
        }) && self.action.is_none_or(|action| header.action == action)
            && self
                .resource_type
                .is_none_or(|kind| header.resource.kind == kind)
            && self
                .resource_id
                .is_none_or(|id| header.resource.id == Some(id))
            && self.outcome.is_none_or(|outcome| header.outcome == outcome)
            && self.since.is_none_or(|since| header.at >= since)
            && self.until.is_none_or(|until| header.at < until)
    }
}

/// Whether the audit readers of `org` see a record: the records made in
/// `org`, and the records about an account (their resource is a user)
/// that belonged to `org` when they were made. An account-wide change (a
/// password reset, a deactivation, a deletion, a refused attempt at one)
/// is recorded in the org it was made from, but concerns every org the
/// account belongs to; `belonged` answers for the record's seq, so an org
/// the user joined later, or had left, does not see it.
pub fn org_sees(
    record_org: Option<Uuid>,
    about_user: Option<Uuid>,
    org: Uuid,
    belonged: impl FnOnce(Uuid) -> bool,
) -> bool {
    record_org == Some(org) || about_user.is_some_and(belonged)
}

/// Whether org `org`'s audit readers see `record` ([`org_sees`] against
/// the membership history): the events query and exports agree.
pub(crate) fn in_org_scope(app: &App, org: Uuid, record: &Record) -> bool {
    org_sees(record.header.org, about_user(record), org, |user| {
        app.views()
            .membership_history
            .belonged_at(&user, &org, record.header.seq)
    })
}

/// The user a record is about, when its resource is one.
fn about_user(record: &Record) -> Option<Uuid> {
    let resource = &record.header.resource;
    (resource.kind == ResourceKind::User)
        .then_some(resource.id)
        .flatten()
}

/// Audit viewers and admins of their org, and superusers.
pub(crate) fn require_audit_reader(principal: &Principal) -> Result<(), CommandError> {
    if principal.is_admin_of(principal.org_id) || principal.role == OrgRole::AuditViewer {
        Ok(())
    } else {
        Err(CommandError::Forbidden(
            "reading the audit log requires the audit_viewer or admin role".into(),
        ))
    }
}

/// `GET /api/v1/audit/events` (blocking: it reads the log; run it off the
/// async runtime, then record the query with [`record_query`]).
pub fn query_events(
    app: &App,
    principal: &Principal,
    query: &AuditQuery,
) -> Result<(Vec<serde_json::Value>, Option<u64>), CommandError> {
    require_audit_reader(principal)?;
    let reader = app.log().reader();
    let head = app.log().head().seq;
    let from = query.after.saturating_add(1);
    let to = head.min(query.after.saturating_add(MAX_SCANNED));
    let mut items = Vec::new();
    let mut last = query.after;
    for record in reader.records(from, to) {
        let record = record.map_err(CommandError::internal)?;
        last = record.header.seq;
        let in_scope = principal.is_superuser || in_org_scope(app, principal.org_id, &record);
        if !in_scope || !query.matches(&record) {
            continue;
        }
        let personal = open_personal(reader, &record).map_err(CommandError::internal)?;
        items.push(render_record(
            &RecordView {
                record: &record,
                personal,
            },
            false,
        ));
        if items.len() == query.limit {
            break;
        }
    }
    let next = (last < head).then_some(last);
    Ok((items, next))
}

/// Records that the audit log was read (durable before the answer).
pub async fn record_query(
    app: &App,
    principal: &Principal,
    query: &AuditQuery,
    returned: usize,
    next: Option<u64>,
    origin: &Origin,
) -> Result<(), CommandError> {
    let event = principal.event(
        Action::AuditQueried,
        ResourceRef::AUDIT_LOG,
        principal.org_id,
        origin,
        EventPayload::AuditQueried(AuditQueried {
            query: query.text.chars().take(512).collect(),
            returned: u32::try_from(returned).unwrap_or(u32::MAX),
            next,
        }),
    );
    app.commit(vec![event]).await?;
    Ok(())
}

/// The page as the API shows it.
pub fn events_page(items: Vec<serde_json::Value>, next: Option<u64>) -> AuditEventsPage {
    AuditEventsPage {
        items,
        next: next.map(|seq| seq.to_string()),
    }
}

/// `GET /api/v1/audit/verify` (blocking: it reads the whole log).
pub fn verify(app: &App, principal: &Principal) -> Result<VerifyBody, CommandError> {
    require_audit_reader(principal)?;
    let report = app
        .log()
        .reader()
        .verify(&cairn_core::log::VerifyOptions {
            public_key: Some(app.signer().public_key()),
            cadence: app.settings().cadence,
            ..Default::default()
        })
        .map_err(CommandError::internal)?;
    Ok(VerifyBody {
        ok: report.first_bad.is_none(),
        checked: report.checked,
        head: ChainHeadBody {
            seq: report.head.seq,
            hash: hex::encode(report.head.hash),
        },
        first_bad: report.first_bad.map(|bad| bad.seq),
        checkpoints_verified: report.checkpoints_verified,
    })
}

/// `GET /api/v1/audit/checkpoints`: after a seq, oldest first, at most
/// `limit`.
pub fn checkpoints(
    app: &App,
    principal: &Principal,
    after: u64,
    limit: usize,
) -> Result<(Vec<CheckpointBody>, Option<u64>), CommandError> {
    require_audit_reader(principal)?;
    let all = app
        .log()
        .reader()
        .checkpoints(after.saturating_add(1))
        .map_err(CommandError::internal)?;
    let more = all.len() > limit;
    let page: Vec<CheckpointBody> = all
        .into_iter()
        .take(limit)
        .map(|checkpoint| CheckpointBody {
            seq: checkpoint.seq,
            hash: hex::encode(checkpoint.hash),
            at: rfc3339_micros(checkpoint.at),
            key_id: checkpoint.key_id,
            signature: hex::encode(&checkpoint.signature),
        })
        .collect();
    let next = if more {
        page.last().map(|last| last.seq)
    } else {
        None
    };
    Ok((page, next))
}

/// `GET /api/v1/audit/public-key`: what checks the checkpoints (and an
/// exported file, offline).
pub fn public_key(app: &App, principal: &Principal) -> Result<PublicKeyBody, CommandError> {
    require_audit_reader(principal)?;
    Ok(PublicKeyBody {
        algorithm: "Ed25519".into(),
        key_id: app.signer().key_id(),
        public_key: hex::encode(app.signer().public_key()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORG_A: Uuid = Uuid::from_u128(1);
    const ORG_B: Uuid = Uuid::from_u128(2);
    const DAVE: Uuid = Uuid::from_u128(10);

    #[test]
    fn an_account_wide_event_made_in_one_org_is_seen_by_every_org_of_the_account() {
        // Given alice, in org A, reset dave's password, and dave belonged
        // to A and B then
        let belonged = |user: Uuid| user == DAVE;
        // Then the readers of A see it (it was made there) and so do B's
        assert!(org_sees(Some(ORG_A), Some(DAVE), ORG_A, |_| false));
        assert!(org_sees(Some(ORG_A), Some(DAVE), ORG_B, belonged));
    }

    fn record_by(actor: cairn_schemas::ActorRef) -> Record {
        Record {
            format: 1,
            header: cairn_schemas::Header {
                seq: 1,
                id: Uuid::from_u128(99),
                at: 0,
                org: Some(ORG_A),
                actor,
                action: Action::SecretCreated,
                resource: ResourceRef::SYSTEM,
                outcome: Outcome::Success,
                request_id: None,
                personal: Vec::new(),
                payload_digest: [0; 32],
                prev_hash: [0; 32],
            },
            payload: None,
            hash: [0; 32],
        }
    }

    #[test]
    fn a_users_activity_includes_what_their_api_keys_did() {
        // Given dave's key K, and another key
        let key = Uuid::from_u128(20);
        let query = AuditQuery {
            actor: Some(DAVE),
            actor_keys: vec![key],
            ..AuditQuery::default()
        };
        let by = |kind, id| record_by(cairn_schemas::ActorRef { kind, id: Some(id) });
        // Then what dave did, himself or with K, matches; not another key's
        assert!(query.matches(&by(ActorKind::User, DAVE)));
        assert!(query.matches(&by(ActorKind::ApiKey, key)));
        assert!(!query.matches(&by(ActorKind::ApiKey, Uuid::from_u128(21))));
        // And a user whose id equals a key's is not taken for it
        assert!(!query.matches(&by(ActorKind::User, key)));
    }

    #[test]
    fn an_org_the_account_did_not_belong_to_sees_nothing_of_it() {
        // Given an event in A about dave, who did not belong to B then
        // Then B's readers do not see it
        assert!(!org_sees(Some(ORG_A), Some(DAVE), ORG_B, |_| false));
        // And an event about no user is seen only where it was made
        assert!(!org_sees(Some(ORG_A), None, ORG_B, |_| true));
        assert!(!org_sees(None, None, ORG_B, |_| true));
    }
}
