//! Who is calling, and from where: the extractors every handler starts
//! with. [`Caller`] is an authenticated principal (Bearer token, API key,
//! or the web console's session cookie); [`Visitor`] is anyone (login).
//!
//! A cookie rides along with every browser request, so a write
//! authenticated by the cookie alone must also come from this site: its
//! `Origin` must be the server's own origin or an allowed one, and it must
//! repeat the CSRF cookie in `X-CSRF-Token` (`csrf.rs`).
//!
//! A caller whose password was set by someone else (an admin's reset) may
//! only change it, read `GET /api/v1/auth/me` and log out: everything else
//! is 403 naming the reason until the password has been changed.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, HOST, ORIGIN, USER_AGENT};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};

use cairn_app::principal::{self, Principal};
use cairn_app::{App, CommandError, Origin};

use super::ServerState;
use super::client_ip::ClientIp;
use super::cookies::cookie;
use super::problem::ApiError;
use super::request_id::RequestId;

/// The session cookie of the web console.
pub const SESSION_COOKIE: &str = "cairn_session";

/// An authenticated caller.
#[derive(Debug)]
pub struct Caller {
    /// The application.
    pub app: Arc<App>,
    /// Who.
    pub principal: Principal,
    /// From where.
    pub origin: Origin,
}

/// Any caller, authenticated or not.
#[derive(Debug)]
pub struct Visitor {
    /// The application.
    pub app: Arc<App>,
    /// From where.
    pub origin: Origin,
}

async fn visitor(parts: &mut Parts, state: &ServerState) -> Result<Visitor, ApiError> {
    let app = state
        .app()
        .cloned()
        .ok_or_else(|| ApiError::overloaded(1))?;
    let ClientIp(ip) = ClientIp::from_request_parts(parts, state).await?;
    let request_id = match RequestId::from_request_parts(parts, state).await {
        Ok(id) => id,
        Err(never) => match never {},
    };
    let user_agent = parts
        .headers
        .get(USER_AGENT)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    Ok(Visitor {
        app,
        origin: Origin {
            ip: Some(ip),
            user_agent,
            request_id: Some(request_id.as_str().to_string()),
        },
    })
}

impl FromRequestParts<ServerState> for Visitor {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ServerState,
    ) -> Result<Self, Self::Rejection> {
        visitor(parts, state).await
    }
}

/// Whether a cookie-authenticated write comes from an origin we serve.
fn same_site(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(ORIGIN).and_then(|value| value.to_str().ok()) else {
        return false;
    };
    let own = headers
        .get(HOST)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|host| {
            origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"))
                == Some(host)
        });
    own || allowed.iter().any(|allowed| allowed == origin)
}

impl FromRequestParts<ServerState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ServerState,
    ) -> Result<Self, Self::Rejection> {
        let Visitor { app, origin } = visitor(parts, state).await?;
        let (principal, by_cookie) = match parts.headers.get(AUTHORIZATION) {
            Some(value) => {
                let value = value.to_str().map_err(|_| ApiError::unauthorized())?;
                let (scheme, credential) =
                    value.split_once(' ').ok_or_else(ApiError::unauthorized)?;
                if !scheme.eq_ignore_ascii_case("bearer") {
                    return Err(ApiError::unauthorized());
                }
                (bearer(&app, state, credential.trim())?, false)
            }
            None => {
                let token =
                    cookie(&parts.headers, SESSION_COOKIE).ok_or_else(ApiError::unauthorized)?;
                (session(&app, state, &token)?, true)
            }
        };
        // The refusal recorder names the caller in the event of any 4xx
        // this request ends with (a failed CSRF check below included).
        if let Some(slot) = parts.extensions.get::<super::refusals::CallerSlot>() {
            slot.fill(principal.actor(), principal.user_id, principal.org_id);
        }
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if by_cookie && !safe {
            if !same_site(&parts.headers, state.allowed_origins()) {
                return Err(ApiError::forbidden(
                    "a cookie-authenticated write must come from this site (Origin check failed)",
                ));
            }
            super::csrf::check(&parts.headers)?;
        }
        // A password someone else set (an admin's reset) is good for one
        // thing: changing it.
        if !principal::allowed_before_password_change(parts.method.as_str(), parts.uri.path())
            && principal.password_change_required(&app.views())
        {
            return Err(ApiError::forbidden(principal::PASSWORD_CHANGE_REQUIRED));
        }
        Ok(Caller {
            app,
            principal,
            origin,
        })
    }
}

/// Authenticates a bearer credential of either kind.
fn bearer(app: &App, state: &ServerState, credential: &str) -> Result<Principal, CommandError> {
    if credential.starts_with(principal::API_KEY_PREFIX) {
        principal::from_api_key(app, credential)
    } else {
        session(app, state, credential)
    }
}

/// Authenticates a session token: its signature and claims here, the
/// session it names by the app.
fn session(app: &App, state: &ServerState, token: &str) -> Result<Principal, CommandError> {
    let claims = state
        .session_tokens()
        .verify(token)
        .ok_or(CommandError::Unauthenticated)?;
    principal::from_claims(app, &claims)
}
