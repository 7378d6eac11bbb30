//! What the HTTP edge records, as app commands: a refused request
//! (`authz.denied` or `http.request`), and the audit reads that record
//! themselves (`audit.queried`). The edge parses and answers; the events
//! are built and appended here, so no edge code appends.

use std::sync::Arc;

use cairn_core::log::NewEvent;
use cairn_schemas::api::AuditEventsPage;
use cairn_schemas::{
    AccessDenied, Action, ActorKind, ActorRef, EventPayload, HttpRequest, Outcome, ResourceRef,
};
use uuid::Uuid;

use crate::audit_log::{self, AuditQuery};
use crate::error::Denial;
use crate::origin::anonymous_subject;
use crate::reports::{self, SecretUsage};
use crate::{App, CommandError, Decided, Origin, Principal};

/// The authenticated caller of a request: their actor, user and org.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestCaller {
    /// The actor (a user, or an API key of one).
    pub actor: ActorRef,
    /// The user.
    pub user: Uuid,
    /// Their org.
    pub org: Uuid,
}

/// A request the edge answered with a 4xx that nothing recorded yet.
#[derive(Clone, Debug)]
pub struct RefusedRequest {
    /// The method.
    pub method: String,
    /// The path (already bounded by the edge).
    pub path: String,
    /// The status answered.
    pub status: u16,
    /// How long the answer took.
    pub duration_micros: u64,
    /// Who asked, when they authenticated.
    pub caller: Option<RequestCaller>,
    /// Where the request came from.
    pub origin: Origin,
    /// Why `authorize` refused, when it did (also behind a 404).
    pub denial: Option<Denial>,
}

/// The event of a refused request: `authz.denied` (outcome denied) for a
/// 401, a 403 or any answer `authorize` refused, naming the resource and
/// the reason; `http.request` (outcome failure) for the rest. An anonymous
/// caller's address is sealed under the day's anonymous subject (`now`
/// picks the day).
pub fn refusal_event(refused: &RefusedRequest, now: i64) -> NewEvent {
    let (action, outcome) = match (refused.status, &refused.denial) {
        (_, Some(_)) | (401 | 403, None) => (Action::AuthzDenied, Outcome::Denied),
        _ => (Action::HttpRequest, Outcome::Failure),
    };
    let (actor, subject) = match &refused.caller {
        Some(caller) => (caller.actor, caller.user),
        None => (
            ActorRef {
                kind: ActorKind::Anonymous,
                id: None,
            },
            anonymous_subject(now),
        ),
    };
    let (resource, payload) = match &refused.denial {
        Some(denial) => (
            denial.resource,
            EventPayload::AccessDenied(AccessDenied {
                method: refused.method.clone(),
                path: refused.path.clone(),
                status: refused.status,
                action: denial.action,
                reason: denial.reason.clone(),
            }),
        ),
        None => (
            ResourceRef::SYSTEM,
            EventPayload::HttpRequest(HttpRequest {
                method: refused.method.clone(),
                path: refused.path.clone(),
                status: refused.status,
                duration_micros: refused.duration_micros,
            }),
        ),
    };
    let mut event = NewEvent::new(action, actor, resource, outcome)
        .with_personal(subject, refused.origin.personal())
        .with_payload(payload);
    if let Some(caller) = &refused.caller {
        event = event.in_org(caller.org);
    }
    if let Some(id) = &refused.origin.request_id {
        event = event.with_request_id(id.clone());
    }
    event
}

/// Records a refused request; returns once its event is durable (a
/// refusal is answered only then, like every answer).
pub async fn record_refusal(app: &App, refused: &RefusedRequest) -> Result<(), CommandError> {
    let now = app.now();
    app.decide(|_, _| Ok::<_, CommandError>(Decided::new(vec![refusal_event(refused, now)], ())))
        .await
}

/// `GET /api/v1/audit/events`: the page, once the read is recorded.
pub async fn audit_events(
    app: &Arc<App>,
    principal: &Principal,
    query: AuditQuery,
    origin: &Origin,
) -> Result<AuditEventsPage, CommandError> {
    let (items, next) =
        read_recorded(app, principal, query, origin, audit_log::query_events).await?;
    Ok(audit_log::events_page(items, next))
}

/// `GET /api/v1/reports/activity`: the page of the user's events (the
/// query's actor), once the read is recorded.
pub async fn activity(
    app: &Arc<App>,
    principal: &Principal,
    query: AuditQuery,
    origin: &Origin,
) -> Result<AuditEventsPage, CommandError> {
    let (items, next) = read_recorded(app, principal, query, origin, reports::activity).await?;
    Ok(audit_log::events_page(items, next))
}

/// `GET /api/v1/reports/secret-usage`: the uses of a secret, once the
/// read is recorded.
pub async fn secret_usage(
    app: &Arc<App>,
    principal: &Principal,
    secret: Uuid,
    after: u64,
    origin: &Origin,
) -> Result<SecretUsage, CommandError> {
    let usage = off_runtime(app, principal, move |app, principal| {
        reports::secret_usage(app, principal, secret, after)
    })
    .await?;
    let recorded = AuditQuery {
        text: format!("secret-usage secret_id={secret} after={after}"),
        ..AuditQuery::default()
    };
    let next = usage.next.as_deref().and_then(|next| next.parse().ok());
    audit_log::record_query(app, principal, &recorded, usage.items.len(), next, origin).await?;
    Ok(usage)
}

/// A page of events as JSON, and the seq to continue after.
type EventsRead = (Vec<serde_json::Value>, Option<u64>);

/// A blocking read of the log's events that answers a query.
type ReadEvents = fn(&App, &Principal, &AuditQuery) -> Result<EventsRead, CommandError>;

/// Reads events with `read` (off the async runtime: it reads the log),
/// then records the read.
async fn read_recorded(
    app: &Arc<App>,
    principal: &Principal,
    query: AuditQuery,
    origin: &Origin,
    read: ReadEvents,
) -> Result<EventsRead, CommandError> {
    let scan = query.clone();
    let (items, next) = off_runtime(app, principal, move |app, principal| {
        read(app, principal, &scan)
    })
    .await?;
    audit_log::record_query(app, principal, &query, items.len(), next, origin).await?;
    Ok((items, next))
}

/// Runs blocking work (reading the log) off the async runtime.
async fn off_runtime<T: Send + 'static>(
    app: &Arc<App>,
    principal: &Principal,
    work: impl FnOnce(&App, &Principal) -> Result<T, CommandError> + Send + 'static,
) -> Result<T, CommandError> {
    let app = Arc::clone(app);
    let principal = principal.clone();
    tokio::task::spawn_blocking(move || work(&app, &principal))
        .await
        .map_err(CommandError::internal)?
}

#[cfg(test)]
mod tests {
    use cairn_schemas::{AccessAction, ResourceKind};

    use super::*;

    fn refused(status: u16) -> RefusedRequest {
        RefusedRequest {
            method: "GET".into(),
            path: "/api/v1/secrets/x".into(),
            status,
            duration_micros: 7,
            caller: None,
            origin: Origin {
                ip: Some(std::net::IpAddr::from([192, 0, 2, 9])),
                user_agent: None,
                request_id: Some("req-1".into()),
            },
            denial: None,
        }
    }

    const DAY: i64 = 86_400_000_000;

    #[test]
    fn a_401_without_a_caller_is_an_anonymous_authz_denied() {
        // Given a request refused 401 before anyone authenticated,
        // when its refusal is decided,
        let event = refusal_event(&refused(401), 3 * DAY + 5);
        // then it is authz.denied, denied, anonymous, about the system,
        // sealed under the day's anonymous subject, with the request id.
        assert_eq!(event.action, Action::AuthzDenied);
        assert_eq!(event.outcome, Outcome::Denied);
        assert_eq!(event.actor.kind, ActorKind::Anonymous);
        assert_eq!(event.resource, ResourceRef::SYSTEM);
        assert_eq!(event.org, None);
        assert_eq!(event.request_id.as_deref(), Some("req-1"));
        assert_eq!(
            event.personal.first().map(|(subject, _)| *subject),
            Some(anonymous_subject(3 * DAY))
        );
        assert!(matches!(
            event.payload,
            Some(EventPayload::HttpRequest(HttpRequest {
                status: 401,
                duration_micros: 7,
                ..
            }))
        ));
    }

    #[test]
    fn other_refusals_are_http_request_failures() {
        for status in [400, 404, 405, 409, 413, 415, 422] {
            let event = refusal_event(&refused(status), DAY);
            assert_eq!(event.action, Action::HttpRequest, "{status}");
            assert_eq!(event.outcome, Outcome::Failure, "{status}");
        }
        assert_eq!(
            refusal_event(&refused(403), DAY).action,
            Action::AuthzDenied
        );
    }

    #[test]
    fn an_authorization_refusal_names_the_resource_and_reason_even_behind_a_404() {
        // Given a caller refused by authorize, answered "not found",
        let user = Uuid::from_u128(1);
        let org = Uuid::from_u128(2);
        let secret = ResourceRef {
            kind: ResourceKind::Secret,
            id: Some(Uuid::from_u128(3)),
        };
        let mut request = refused(404);
        request.caller = Some(RequestCaller {
            actor: ActorRef {
                kind: ActorKind::User,
                id: Some(user),
            },
            user,
            org,
        });
        request.denial = Some(Denial {
            action: Some(AccessAction::Read),
            resource: secret,
            visible: false,
            reason: "no grant".into(),
        });
        // when its refusal is decided,
        let event = refusal_event(&request, DAY);
        // then the event names the resource, the reason and the caller's org.
        assert_eq!(event.action, Action::AuthzDenied);
        assert_eq!(event.outcome, Outcome::Denied);
        assert_eq!(event.resource, secret);
        assert_eq!(event.org, Some(org));
        assert_eq!(
            event.personal.first().map(|(subject, _)| *subject),
            Some(user)
        );
        let Some(EventPayload::AccessDenied(denied)) = &event.payload else {
            panic!("{:?}", event.payload);
        };
        assert_eq!(denied.status, 404);
        assert_eq!(denied.reason, "no grant");
        assert_eq!(denied.action, Some(AccessAction::Read));
    }

    /// A real App on a fresh log in `dir`.
    fn start(dir: &std::path::Path) -> Arc<App> {
        use cairn_core::crypto::MasterKey;
        use cairn_core::log::{EventLog, LogConfig};
        use cairn_core::{OsEntropy, SystemClock};
        let master = MasterKey::from_bytes([9; 32]);
        let config = LogConfig {
            dir: dir.to_path_buf(),
            create: true,
            cadence: Default::default(),
        };
        let (log, _) = EventLog::open(&config, &master, Arc::new(SystemClock), Arc::new(OsEntropy))
            .expect("open the log");
        Arc::new(
            App::start(
                Arc::new(log),
                &master,
                crate::AppSettings::default(),
                Arc::new(SystemClock),
                Arc::new(OsEntropy),
            )
            .expect("start"),
        )
    }

    fn last_action(app: &App) -> Action {
        let head = app.log().head().seq;
        app.log()
            .reader()
            .read(head)
            .expect("read")
            .expect("a record")
            .header
            .action
    }

    fn reader(org_id: Uuid, role: cairn_schemas::OrgRole) -> Principal {
        Principal {
            user_id: Uuid::from_u128(11),
            org_id,
            role,
            is_superuser: false,
            credential: crate::principal::Credential::Session(Uuid::from_u128(12)),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refusal_and_a_recorded_read_each_append_one_event() {
        // Given a running app,
        let dir = tempfile::tempdir().expect("tempdir");
        let app = start(dir.path());
        let origin = Origin::local("edge-records");
        let before = app.log().head().seq;
        // when a refused request is recorded,
        record_refusal(&app, &refused(422)).await.expect("recorded");
        // then exactly one event is appended (and durable): its refusal.
        assert_eq!(app.log().head().seq, before + 1);
        assert!(app.log().durable_seq() > before);
        assert_eq!(last_action(&app), Action::HttpRequest);

        // When an audit viewer reads the audit events,
        let viewer = reader(Uuid::from_u128(21), cairn_schemas::OrgRole::AuditViewer);
        let query = AuditQuery {
            limit: 50,
            text: "limit=50".into(),
            ..AuditQuery::default()
        };
        let page = audit_events(&app, &viewer, query, &origin)
            .await
            .expect("a page");
        // then the read is recorded after the page was read: one
        // audit.queried more, which the page does not hold.
        assert_eq!(app.log().head().seq, before + 2);
        assert_eq!(last_action(&app), Action::AuditQueried);
        assert!(
            page.items
                .iter()
                .all(|item| item["action"] != "audit.queried"),
            "{:?}",
            page.items
        );

        // And a caller who may not read the audit log is refused, and
        // nothing is recorded here (the edge records the refusal).
        let outsider = reader(Uuid::from_u128(21), cairn_schemas::OrgRole::Viewer);
        let refused = activity(
            &app,
            &outsider,
            AuditQuery {
                actor: Some(Uuid::from_u128(11)),
                limit: 10,
                ..AuditQuery::default()
            },
            &origin,
        )
        .await;
        assert!(
            matches!(refused, Err(CommandError::Forbidden(_))),
            "{refused:?}"
        );
        let usage = secret_usage(&app, &outsider, Uuid::from_u128(5), 0, &origin).await;
        assert!(usage.is_err(), "{usage:?}");
        assert_eq!(app.log().head().seq, before + 2);
    }
}
