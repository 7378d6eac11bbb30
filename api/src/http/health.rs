//! GET /health: 503 until the log is open and the views caught up, then 200
//! with the durable head seq (a reply never gets ahead of the disk).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::ServerState;

/// `GET /health`.
#[utoipa::path(get, path = "/health", tag = "system", responses((status = 200, description = "the log is open and the views caught up: `{\"status\":\"ok\",\"seq\":N}` with the durable head, and `sinks` (each export sink's `delivered` cursor, `lag`, `connected`, `retries`, `failing` and a fixed `reason` when failing; targets and errors only in the server log) when sinks are configured"), (status = 503, description = "starting")))]
pub(super) async fn health(State(state): State<ServerState>) -> Response {
    match state.app() {
        Some(app) => {
            let seq = app.log().durable_seq();
            let mut body = json!({"status": "ok", "seq": seq});
            if !state.sinks().is_empty() {
                body["sinks"] = state.sinks().json(seq);
            }
            (StatusCode::OK, Json(body)).into_response()
        }
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "starting"})),
        )
            .into_response(),
    }
}
