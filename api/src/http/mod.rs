//! The HTTP edge: the router and its handlers. Handlers parse, call the
//! app, and map the result; they hold no logic of their own.
//!
//! Every route is written once, in [`routes::ROUTES`], with its access:
//! `Public` routes take no credentials; the others extract a
//! [`caller::Caller`] first, so without credentials they answer 401 before
//! the handler runs. The router below and the OpenAPI document are built
//! from that table.

mod admin;
mod api_document;
mod audit;
mod auth;
pub mod caller;
pub mod client_ip;
mod command_error;
mod connections;
mod console;
mod cookies;
pub mod cors;
pub mod csrf;
mod flows;
mod grants;
mod groups;
mod health;
pub mod json_body;
mod namespaces;
pub mod openapi;
mod orgs;
mod params;
pub mod problem;
pub mod rate_limit;
pub mod refusals;
mod reports;
pub mod request_id;
pub mod routes;
mod run_marker;
mod runs;
mod schedules;
mod secrets;
pub mod security_headers;
pub mod throttled;
mod users;

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};

use cairn_app::App;

use problem::ApiError;
pub use routes::{Access, ROUTES};

/// The largest request body the API accepts.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How the edge behaves (from the configuration).
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Mark the session cookie `Secure` (everywhere but development).
    pub secure_cookies: bool,
    /// Origins allowed to call from a browser (`CAIRN_CORS_ORIGINS`).
    pub allowed_origins: Vec<String>,
    /// `CAIRN_RATE_LIMIT_REQUESTS`.
    pub rate_limit_requests: u32,
    /// Add HSTS (TLS is terminated in front of Cairn).
    pub tls_terminated: bool,
    /// Reverse proxies whose X-Forwarded-For is believed.
    pub trusted_proxies: client_ip::TrustedProxies,
    /// The export sinks' statuses, shown by `GET /health`.
    pub sinks: Arc<crate::jobs::sinks::SinkBoard>,
    /// Signs and checks session tokens.
    pub session_tokens: Arc<crate::session_tokens::TokenKeys>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            secure_cookies: false,
            allowed_origins: Vec::new(),
            rate_limit_requests: rate_limit::DEFAULT_AUTH_REQUESTS_PER_MINUTE,
            tls_terminated: false,
            trusted_proxies: client_ip::TrustedProxies::default(),
            sinks: Arc::default(),
            // A key nobody else holds: tokens live as long as this state.
            session_tokens: Arc::new(crate::session_tokens::TokenKeys::new(
                &cairn_core::crypto::MasterKey::from_bytes(cairn_core::entropy::random_array(
                    &cairn_core::OsEntropy,
                )),
                None,
            )),
        }
    }
}

/// What handlers share: the app, once the log is open and the views have
/// caught up (until then, only /health answers, with 503), and the edge's
/// configuration.
#[derive(Clone, Debug)]
pub struct ServerState {
    app: Arc<OnceLock<Arc<App>>>,
    config: Arc<HttpConfig>,
    throttled: throttled::Throttled,
}

impl Default for ServerState {
    fn default() -> Self {
        ServerState::starting(HttpConfig::default())
    }
}

impl ServerState {
    /// State of a server that is still starting.
    pub fn starting(config: HttpConfig) -> ServerState {
        let app = Arc::default();
        ServerState {
            throttled: throttled::Throttled::new(Arc::clone(&app)),
            app,
            config: Arc::new(config),
        }
    }

    /// The rate limits' refusals, counted per client and recorded as
    /// summaries (its flush job and the flush at shutdown need it).
    pub fn throttled(&self) -> &throttled::Throttled {
        &self.throttled
    }

    /// Marks the server ready.
    pub fn set_ready(&self, app: Arc<App>) {
        let _ = self.app.set(app);
    }

    /// The app, when ready.
    pub fn app(&self) -> Option<&Arc<App>> {
        self.app.get()
    }

    /// Signs and checks session tokens.
    pub fn session_tokens(&self) -> &crate::session_tokens::TokenKeys {
        &self.config.session_tokens
    }

    /// The export sinks' statuses.
    pub fn sinks(&self) -> &crate::jobs::sinks::SinkBoard {
        &self.config.sinks
    }

    /// Whether the session cookie is `Secure`.
    pub fn secure_cookies(&self) -> bool {
        self.config.secure_cookies
    }

    /// Origins allowed besides our own.
    pub fn allowed_origins(&self) -> &[String] {
        &self.config.allowed_origins
    }
}

/// Why the router could not be built (a configuration error).
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// `CAIRN_CORS_ORIGINS` is not acceptable.
    #[error(transparent)]
    Cors(#[from] cors::CorsConfigError),
}

/// The router, without a socket, so tests can drive it directly.
pub fn router(state: ServerState) -> Result<Router, RouterError> {
    let config = Arc::clone(&state.config);
    // Every request passes the general limit (in front of the refusal
    // recorder, below); the sign-in routes also pass the stricter one.
    let auth_limit =
        rate_limit::auth_limiter(config.rate_limit_requests).reporting_to(state.throttled.clone());
    let general_limit = rate_limit::general_limiter(config.rate_limit_requests)
        .reporting_to(state.throttled.clone());

    let mut router = Router::new();
    for route in ROUTES {
        let handler = (route.handler)();
        let handler = match route.limit {
            routes::Limit::General => handler,
            routes::Limit::SignIn => {
                handler.layer(from_fn_with_state(auth_limit.clone(), rate_limit::limit))
            }
        };
        router = router.route(route.path, handler);
    }
    let mut router = router
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(json_body::body_limit(MAX_BODY_BYTES))
        .layer(from_fn(run_marker::refuse_requests_from_runs))
        .layer(from_fn_with_state(state.clone(), refusals::record_refusals))
        // Outside everything that can append: a client past its limit is
        // answered 429 before any handler, fallback or refusal recorder
        // runs (inside the trusted proxies, which name the client).
        .layer(from_fn_with_state(general_limit, rate_limit::limit))
        .layer(axum::Extension(config.trusted_proxies.clone()))
        .layer(axum::Extension(api_document::ApiDocument::new(
            &openapi::document(),
        )))
        .layer(security_headers::api_security_headers(
            config.tls_terminated,
        ));
    if let Some(cors) = cors::cors_layer(&config.allowed_origins)? {
        router = router.layer(cors);
    }
    Ok(router
        .layer(from_fn(request_id::request_id))
        .with_state(state))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::*;

    fn from_peer(request: Request<Body>, peer: [u8; 4]) -> Request<Body> {
        let mut request = request;
        let peer = std::net::SocketAddr::from((peer, 40_000));
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        request
    }

    #[tokio::test]
    async fn health_is_503_until_the_app_is_ready() {
        let response = router(ServerState::starting(HttpConfig::default()))
            .expect("router")
            .oneshot(from_peer(
                Request::get("/health")
                    .body(Body::empty())
                    .expect("request"),
                [127, 0, 0, 1],
            ))
            .await
            .expect("response");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .expect("body");
        assert_eq!(&body[..], br#"{"status":"starting"}"#);
    }

    #[tokio::test]
    async fn every_path_passes_the_general_limit_and_its_refusals_are_counted() {
        // Given a limit of 1 a minute on sign-in, so 20 on everything,
        let state = ServerState::starting(HttpConfig {
            rate_limit_requests: 1,
            ..HttpConfig::default()
        });
        let app = router(state.clone()).expect("router");
        // when one client sends unknown paths, 405s and the public routes,
        let requests = [
            ("GET", "/no/such/path"),
            ("DELETE", "/health"),
            ("GET", "/health"),
            ("POST", "/api/v1/auth/login"),
        ];
        let mut statuses = Vec::new();
        for n in 0..30 {
            let (method, path) = requests[n % requests.len()];
            let request = Request::builder()
                .method(method)
                .uri(path)
                .body(Body::empty())
                .expect("request");
            let response = app
                .clone()
                .oneshot(from_peer(request, [192, 0, 2, 1]))
                .await
                .expect("response");
            statuses.push(response.status());
        }
        // then past the 20 every answer is a 429, whatever the path,
        assert!(
            statuses[20..]
                .iter()
                .all(|status| *status == StatusCode::TOO_MANY_REQUESTS),
            "{statuses:?}"
        );
        // another client is not affected,
        let other = app
            .clone()
            .oneshot(from_peer(
                Request::get("/no/such/path")
                    .body(Body::empty())
                    .expect("request"),
                [192, 0, 2, 2],
            ))
            .await
            .expect("response");
        assert_eq!(other.status(), StatusCode::NOT_FOUND);
        // and the client's refusals await one summary.
        let throttled = statuses
            .iter()
            .filter(|status| **status == StatusCode::TOO_MANY_REQUESTS)
            .count();
        let summaries = state.throttled().take_all_for_test();
        assert_eq!(summaries.len(), 1);
        assert_eq!(
            summaries[0].client,
            Some(std::net::IpAddr::from([192, 0, 2, 1]))
        );
        assert_eq!(
            usize::try_from(summaries[0].counts.rate_limited).expect("small"),
            throttled
        );
    }
}
