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
