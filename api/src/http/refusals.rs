//! Every refusal is an event. A request answered with a 4xx appends one
//! event (and nothing else): `authz.denied` (outcome denied) for 401, 403
//! and any answer `authorize` refused (a 404 for a resource the caller may
//! not see included: the event names the resource and the reason, the
//! caller sees only "not found"), `http.request` (outcome failure) for the
//! rest, with the method,
//! path and status, the caller when known, and the client's address sealed
//! as personal data. Commands that record their own refusal (a failed
//! login) mark their response so it is not recorded twice. Rate-limited
//! (429) and shed (503) requests are not recorded one by one: refusing
//! them must stay cheap, and a flood must not become a flood of durable
//! writes. The general rate limit sits outside this recorder (see the
//! layer order in `http::router`), so a client past its limit never
//! reaches it; the limiters count their refusals into one
//! `http.throttled` summary per client per window
//! (`http::throttled`).
//!
//! Like every answer, a refusal is sent only once its event is durable, so
//! `/health`'s seq moves by exactly one per refusal; group commit shares the
//! sync with everything else in flight.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::USER_AGENT;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cairn_core::log::NewEvent;
use cairn_schemas::{
    AccessDenied, Action, ActorKind, ActorRef, EventPayload, HttpRequest, Outcome, ResourceRef,
};
use uuid::Uuid;

use cairn_app::error::Denial;
use cairn_app::origin::anonymous_subject;
use cairn_app::{CommandError, Origin};

use super::ServerState;
use super::request_id::RequestId;

/// Who made the request, filled in by the `Caller` extractor once it has
/// authenticated them.
#[derive(Clone, Debug, Default)]
pub struct CallerSlot(Arc<Mutex<Option<(ActorRef, Uuid, Uuid)>>>);

impl CallerSlot {
    /// Records the authenticated actor, their user id and their org.
    pub fn fill(&self, actor: ActorRef, user: Uuid, org: Uuid) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some((actor, user, org));
        }
    }

    fn take(&self) -> Option<(ActorRef, Uuid, Uuid)> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// Marks a response whose refusal the command already recorded.
#[derive(Clone, Copy, Debug)]
pub struct RefusalRecorded;

/// The middleware: `from_fn_with_state(state, record_refusals)`.
pub async fn record_refusals(
    State(state): State<ServerState>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let slot = CallerSlot::default();
    request.extensions_mut().insert(slot.clone());
    let method = request.method().to_string();
    let path = request.uri().path().chars().take(256).collect::<String>();
    let ip = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip());
    let user_agent = request
        .headers()
        .get(USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|id| id.as_str().to_string());
    let response = next.run(request).await;

    let status = response.status().as_u16();
    let refused = (400..500).contains(&status) && status != 429;
    if !refused || response.extensions().get::<RefusalRecorded>().is_some() {
        return response;
    }
    let Some(app) = state.app() else {
        return response;
    };
    let caller = slot.take();
    let origin = Origin {
        ip,
        user_agent,
        request_id,
    };
    let denial = response.extensions().get::<Denial>().cloned();
    let (action, outcome) = match (status, &denial) {
        (_, Some(_)) | (401 | 403, None) => (Action::AuthzDenied, Outcome::Denied),
        _ => (Action::HttpRequest, Outcome::Failure),
    };
    let (actor, subject) = match caller {
        Some((actor, user, _)) => (actor, user),
        None => (
            ActorRef {
                kind: ActorKind::Anonymous,
                id: None,
            },
            anonymous_subject(app.now()),
        ),
    };
    let (resource, payload) = match denial {
        // An authorization refusal names the resource and the reason, also
        // when the caller was answered 404.
        Some(denial) => (
            denial.resource,
            EventPayload::AccessDenied(AccessDenied {
                method,
                path,
                status,
                action: denial.action,
                reason: denial.reason,
            }),
        ),
        None => (
            ResourceRef::SYSTEM,
            EventPayload::HttpRequest(HttpRequest {
                method,
                path,
                status,
                duration_micros: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            }),
        ),
    };
    let mut event = NewEvent::new(action, actor, resource, outcome)
        .with_personal(subject, origin.personal())
        .with_payload(payload);
    if let Some((_, _, org)) = caller {
        event = event.in_org(org);
    }
    if let Some(id) = &origin.request_id {
        event = event.with_request_id(id.clone());
    }
    // Like every answer, the refusal waits for its event to be on disk
    // (group commit shares the sync with everything else in flight).
    match app.execute(|_| Ok::<_, CommandError>(vec![event])).await {
        Ok(_) => response,
        Err(error) => {
            tracing::error!(%error, "recording a refused request failed");
            super::problem::ApiError::internal().into_response()
        }
    }
}
