//! The HTTP edge: the router and its handlers. Handlers parse, call the
//! app, and map the result; they hold no logic of their own.

mod health;

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::routing::get;

use crate::app::App;

/// What handlers share: the app, once the log is open and the views have
/// caught up (until then, only /health answers, with 503).
#[derive(Clone, Debug, Default)]
pub struct ServerState {
    app: Arc<OnceLock<Arc<App>>>,
}

impl ServerState {
    /// State of a server that is still starting.
    pub fn starting() -> ServerState {
        ServerState::default()
    }

    /// Marks the server ready.
    pub fn set_ready(&self, app: Arc<App>) {
        let _ = self.app.set(app);
    }

    /// The app, when ready.
    pub fn app(&self) -> Option<&Arc<App>> {
        self.app.get()
    }
}

/// The router, without a socket, so tests can drive it directly.
pub fn router(state: ServerState) -> Router {
    Router::new()
        .route("/health", get(health::health))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn health_is_503_until_the_app_is_ready() {
        let response = router(ServerState::starting())
            .oneshot(
                Request::get("/health")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("response");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .expect("body");
        assert_eq!(&body[..], br#"{"status":"starting"}"#);
    }
}
