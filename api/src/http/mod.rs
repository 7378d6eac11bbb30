//! The HTTP edge: the router and its handlers. Handlers parse, call the
//! app, and map the result; they hold no logic of their own.
//!
//! Every route declares its access in [`ROUTES`]: `Public` routes take no
//! credentials; `Authenticated` routes extract a [`caller::Caller`] first,
//! so without credentials they answer 401 before the handler runs. A test
//! checks the table against the router.

mod admin;
mod audit;
mod auth;
pub mod caller;
pub mod client_ip;
mod command_error;
mod connections;
mod console;
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
use axum::routing::{delete, get, patch, post, put};

use cairn_app::App;

use problem::ApiError;

/// The largest request body the API accepts.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health, login, the web console's static files).
    Public,
    /// An authenticated caller; the command checks the caller's role (and
    /// answers only about the caller, their org, or what a superuser may
    /// see).
    Authenticated,
    /// An authenticated caller, and the command asks `authorize` (or the
    /// group rules) about the resource the request names: 404 when the
    /// caller may not see it, 403 when they may see it but not do this.
    Authorized,
}

/// Every route, with its access. The router below must match it.
pub const ROUTES: &[(&str, &str, Access)] = &[
    ("GET", "/health", Access::Public),
    ("GET", "/openapi.json", Access::Public),
    ("GET", "/", Access::Public),
    ("GET", "/console/{asset}", Access::Public),
    ("POST", "/api/v1/auth/login", Access::Public),
    ("POST", "/api/v1/auth/logout", Access::Authenticated),
    ("GET", "/api/v1/auth/me", Access::Authenticated),
    ("POST", "/api/v1/auth/api-keys", Access::Authenticated),
    ("GET", "/api/v1/auth/api-keys", Access::Authenticated),
    (
        "DELETE",
        "/api/v1/auth/api-keys/{id}",
        Access::Authenticated,
    ),
    ("POST", "/api/v1/users", Access::Authenticated),
    ("GET", "/api/v1/users", Access::Authenticated),
    ("GET", "/api/v1/users/{id}", Access::Authenticated),
    ("PATCH", "/api/v1/users/{id}", Access::Authenticated),
    ("DELETE", "/api/v1/users/{id}", Access::Authenticated),
    ("POST", "/api/v1/users/{id}/erase", Access::Authenticated),
    ("PUT", "/api/v1/users/me/password", Access::Authenticated),
    ("POST", "/api/v1/orgs", Access::Authenticated),
    ("GET", "/api/v1/orgs", Access::Authenticated),
    ("POST", "/api/v1/orgs/{id}/members", Access::Authenticated),
    (
        "DELETE",
        "/api/v1/orgs/{id}/members/{user_id}",
        Access::Authenticated,
    ),
    ("POST", "/api/v1/groups", Access::Authenticated),
    ("GET", "/api/v1/groups", Access::Authenticated),
    ("GET", "/api/v1/groups/{id}", Access::Authorized),
    ("DELETE", "/api/v1/groups/{id}", Access::Authorized),
    ("POST", "/api/v1/groups/{id}/members", Access::Authorized),
    (
        "PATCH",
        "/api/v1/groups/{id}/members/{user_id}",
        Access::Authorized,
    ),
    (
        "DELETE",
        "/api/v1/groups/{id}/members/{user_id}",
        Access::Authorized,
    ),
    ("POST", "/api/v1/namespaces", Access::Authorized),
    ("GET", "/api/v1/namespaces", Access::Authorized),
    ("GET", "/api/v1/namespaces/{id}", Access::Authorized),
    ("PATCH", "/api/v1/namespaces/{id}", Access::Authorized),
    ("DELETE", "/api/v1/namespaces/{id}", Access::Authorized),
    ("POST", "/api/v1/flows", Access::Authorized),
    ("GET", "/api/v1/flows", Access::Authorized),
    ("GET", "/api/v1/flows/{id}", Access::Authorized),
    ("PUT", "/api/v1/flows/{id}", Access::Authorized),
    ("DELETE", "/api/v1/flows/{id}", Access::Authorized),
    ("POST", "/api/v1/grants", Access::Authorized),
    ("GET", "/api/v1/grants", Access::Authorized),
    ("DELETE", "/api/v1/grants/{id}", Access::Authorized),
    ("GET", "/api/v1/access/explain", Access::Authorized),
    ("GET", "/api/v1/audit/events", Access::Authenticated),
    ("GET", "/api/v1/audit/export", Access::Authenticated),
    ("GET", "/api/v1/audit/verify", Access::Authenticated),
    ("GET", "/api/v1/audit/checkpoints", Access::Authenticated),
    ("GET", "/api/v1/audit/public-key", Access::Authenticated),
    ("GET", "/api/v1/audit/retention", Access::Authenticated),
    ("PUT", "/api/v1/audit/retention", Access::Authenticated),
    (
        "GET",
        "/api/v1/reports/access-review",
        Access::Authenticated,
    ),
    ("GET", "/api/v1/reports/activity", Access::Authenticated),
    ("GET", "/api/v1/reports/secret-usage", Access::Authenticated),
    ("GET", "/api/v1/admin/backup", Access::Authenticated),
    ("POST", "/api/v1/secrets", Access::Authorized),
    ("GET", "/api/v1/secrets", Access::Authorized),
    ("GET", "/api/v1/secrets/{id}", Access::Authorized),
    ("PUT", "/api/v1/secrets/{id}", Access::Authorized),
    ("DELETE", "/api/v1/secrets/{id}", Access::Authorized),
    ("POST", "/api/v1/secrets/{id}/reveal", Access::Authorized),
    ("POST", "/api/v1/connections", Access::Authorized),
    ("GET", "/api/v1/connections", Access::Authorized),
    ("GET", "/api/v1/connections/{id}", Access::Authorized),
    ("PATCH", "/api/v1/connections/{id}", Access::Authorized),
    ("DELETE", "/api/v1/connections/{id}", Access::Authorized),
    ("POST", "/api/v1/flows/{id}/runs", Access::Authorized),
    ("GET", "/api/v1/runs", Access::Authorized),
    ("GET", "/api/v1/runs/{id}", Access::Authorized),
    ("POST", "/api/v1/schedules", Access::Authorized),
    ("GET", "/api/v1/schedules", Access::Authorized),
    ("DELETE", "/api/v1/schedules/{id}", Access::Authorized),
    ("PATCH", "/api/v1/schedules/{id}", Access::Authorized),
];

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

    let auth = Router::new()
        .route("/api/v1/auth/login", post(auth::login))
        .route_layer(from_fn_with_state(auth_limit, rate_limit::limit));
    let api = Router::new()
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/auth/me", get(auth::me))
        .route(
            "/api/v1/auth/api-keys",
            post(auth::create_api_key).get(auth::list_api_keys),
        )
        .route("/api/v1/auth/api-keys/{id}", delete(auth::revoke_api_key))
        .route("/api/v1/users", post(users::create).get(users::list))
        .route("/api/v1/users/me/password", put(users::change_own_password))
        .route(
            "/api/v1/users/{id}",
            get(users::get).patch(users::update).delete(users::delete),
        )
        .route("/api/v1/users/{id}/erase", post(users::erase))
        .route("/api/v1/orgs", post(orgs::create).get(orgs::list))
        .route("/api/v1/orgs/{id}/members", post(orgs::add_member))
        .route(
            "/api/v1/orgs/{id}/members/{user_id}",
            delete(orgs::remove_member),
        )
        .route("/api/v1/groups", post(groups::create).get(groups::list))
        .route(
            "/api/v1/groups/{id}",
            get(groups::get).delete(groups::delete),
        )
        .route("/api/v1/groups/{id}/members", post(groups::add_member))
        .route(
            "/api/v1/groups/{id}/members/{user_id}",
            patch(groups::update_member).delete(groups::remove_member),
        )
        .route(
            "/api/v1/namespaces",
            post(namespaces::create).get(namespaces::list),
        )
        .route(
            "/api/v1/namespaces/{id}",
            get(namespaces::get)
                .patch(namespaces::update)
                .delete(namespaces::delete),
        )
        .route("/api/v1/flows", post(flows::create).get(flows::list))
        .route(
            "/api/v1/flows/{id}",
            get(flows::get).put(flows::update).delete(flows::delete),
        )
        .route("/api/v1/grants", post(grants::create).get(grants::list))
        .route("/api/v1/grants/{id}", delete(grants::revoke))
        .route("/api/v1/access/explain", get(grants::explain))
        .route("/api/v1/audit/events", get(audit::events))
        .route("/api/v1/audit/export", get(audit::export))
        .route("/api/v1/audit/verify", get(audit::verify))
        .route("/api/v1/audit/checkpoints", get(audit::checkpoints))
        .route("/api/v1/audit/public-key", get(audit::public_key))
        .route(
            "/api/v1/audit/retention",
            get(audit::retention).put(audit::set_retention),
        )
        .route("/api/v1/reports/access-review", get(reports::access_review))
        .route("/api/v1/reports/activity", get(reports::activity))
        .route("/api/v1/reports/secret-usage", get(reports::secret_usage))
        .route("/api/v1/admin/backup", get(admin::backup))
        .route("/api/v1/secrets", post(secrets::create).get(secrets::list))
        .route(
            "/api/v1/secrets/{id}",
            get(secrets::get)
                .put(secrets::rotate)
                .delete(secrets::delete),
        )
        .route("/api/v1/secrets/{id}/reveal", post(secrets::reveal))
        .route(
            "/api/v1/connections",
            post(connections::create).get(connections::list),
        )
        .route(
            "/api/v1/connections/{id}",
            get(connections::get)
                .patch(connections::update)
                .delete(connections::delete),
        )
        .route("/api/v1/flows/{id}/runs", post(runs::start))
        .route("/api/v1/runs", get(runs::list))
        .route("/api/v1/runs/{id}", get(runs::get))
        .route(
            "/api/v1/schedules",
            post(schedules::create).get(schedules::list),
        )
        .route(
            "/api/v1/schedules/{id}",
            delete(schedules::delete).patch(schedules::update),
        );

    let mut router = Router::new()
        .route("/health", get(health::health))
        .route("/openapi.json", get(openapi::serve))
        .route("/", get(console::index))
        .route("/console/{asset}", get(console::asset))
        .merge(auth)
        .merge(api)
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
