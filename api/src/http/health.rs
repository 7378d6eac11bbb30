//! GET /health: 503 until the log is open and the views caught up, then 200
//! with the durable head seq (a reply never gets ahead of the disk).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::ServerState;

/// `GET /health`.
#[utoipa::path(get, path = "/health", tag = "system", responses((status = 200, description = "the log is open and the views caught up: `{\"status\":\"ok\",\"seq\":N}` with the durable head"), (status = 503, description = "starting")))]
pub(super) async fn health(State(state): State<ServerState>) -> Response {
    match state.app() {
        Some(app) => (
            StatusCode::OK,
            Json(json!({"status": "ok", "seq": app.log().durable_seq()})),
        )
            .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "starting"})),
        )
            .into_response(),
    }
}
