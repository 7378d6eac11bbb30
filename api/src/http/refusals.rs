//! Every refusal is an event, recorded by the app's
//! `edge_records::record_refusal` (this middleware only notices it). A request answered with a 4xx appends one
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
use cairn_schemas::ActorRef;
use uuid::Uuid;

use cairn_app::Origin;
use cairn_app::edge_records::{self, RefusedRequest, RequestCaller};
use cairn_app::error::Denial;

use super::ServerState;
use super::request_id::RequestId;

/// Who made the request, filled in by the `Caller` extractor once it has
/// authenticated them.
#[derive(Clone, Debug, Default)]
pub struct CallerSlot(Arc<Mutex<Option<RequestCaller>>>);

impl CallerSlot {
    /// Records the authenticated actor, their user id and their org.
    pub fn fill(&self, actor: ActorRef, user: Uuid, org: Uuid) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(RequestCaller { actor, user, org });
        }
    }

    fn take(&self) -> Option<RequestCaller> {
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
    let refused = RefusedRequest {
        method,
        path,
        status,
        duration_micros: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        caller: slot.take(),
        origin: Origin {
            ip,
            user_agent,
            request_id,
        },
        denial: response.extensions().get::<Denial>().cloned(),
    };
    // Like every answer, the refusal waits for its event to be on disk
    // (group commit shares the sync with everything else in flight).
    match edge_records::record_refusal(app, &refused).await {
        Ok(()) => response,
        Err(error) => {
            tracing::error!(%error, "recording a refused request failed");
            super::problem::ApiError::internal().into_response()
        }
    }
}
